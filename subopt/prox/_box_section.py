r"""The box section :math:`\{x : l \le x \le u, \langle a, x\rangle = c\}` (the feasible set of
SVM duals): an exact projection by one sort. The projection is
:math:`\mathrm{clip}(x - \mu a, l, u)` with :math:`\mu` the root of the nonincreasing
piecewise-linear :math:`\varphi(\mu) = \langle a, \mathrm{clip}(x - \mu a, l, u)\rangle - c`;
its 2n breakpoints are sorted once, the coefficients of :math:`\varphi` on every piece are
prefix sums, and the root is read off the piece where :math:`\varphi` changes sign. The
minimum-norm subgradient is the same projection onto the tangent cone (infinite bounds).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from subopt.prox._base import (
    Regularizer,
    check_step,
    concrete,
    flatten,
    hyperparameter,
    hyperparameter_tree,
    indicator,
    nan_unless,
    per_leaf,
    register,
    rtol,
    tree_dtype,
)
from subopt.prox._sets import _check_order


def project_flat(x, lo, hi, a, c):
    """clip(x - mu a, lo, hi) with <a, .> = c, for 1-D arrays; bounds may be infinite."""
    dtype = x.dtype
    zero = jnp.zeros((), dtype)
    pos = a > 0
    p, q = jnp.where(pos, hi, lo), jnp.where(pos, lo, hi)  # z for mu -> -inf, mu -> +inf
    live = a != 0
    safe_a = jnp.where(live, a, jnp.ones((), dtype))
    s, e = (x - p) / safe_a, (x - q) / safe_a  # z is linear for mu in [s, e]
    s_fin = live & jnp.isfinite(s)
    e_fin = live & jnp.isfinite(e)
    c_minus = jnp.where(s_fin, a * p, zero)
    c_plus = jnp.where(e_fin, a * q, zero)
    ax, aa = a * x, a * a
    linear_at_start = live & ~s_fin
    k0 = jnp.sum(c_minus) + jnp.sum(jnp.where(linear_at_start, ax, zero))
    s0 = jnp.sum(jnp.where(linear_at_start, aa, zero))
    inf = jnp.full((), jnp.inf, dtype)
    keys = jnp.concatenate([jnp.where(s_fin, s, inf), jnp.where(e_fin, e, inf)])
    dk = jnp.concatenate(
        [jnp.where(s_fin, ax - c_minus, zero), jnp.where(e_fin, c_plus - ax, zero)]
    )
    ds = jnp.concatenate([jnp.where(s_fin, aa, zero), jnp.where(e_fin, -aa, zero)])
    order = jnp.argsort(keys)
    keys, dk, ds = keys[order], dk[order], ds[order]
    big_k = jnp.concatenate([k0[None], k0 + jnp.cumsum(dk)])
    big_s = jnp.concatenate([s0[None], s0 + jnp.cumsum(ds)])
    finite = jnp.isfinite(keys)
    phi = big_k[1:] - jnp.where(finite, keys, zero) * big_s[1:]
    j = jnp.sum(finite & (phi >= c))
    kj, sj = big_k[j], big_s[j]
    first = jnp.where(finite[0], keys[0], zero) if keys.size else zero
    fallback = jnp.where(j > 0, keys[jnp.maximum(j - 1, 0)], first)
    ok = sj > 0
    mu = jnp.where(ok, (kj - c) / jnp.where(ok, sj, jnp.ones((), dtype)), fallback)
    return jnp.clip(x - mu * a, lo, hi)


@register
class BoxSection(Regularizer):
    """The indicator of {lower <= x <= upper, <a, x> = c} (see `box_section`)."""

    lower: Any
    upper: Any
    a: Any
    c: Any

    def is_valid(self):
        return _valid(self.lower, self.upper, self.a, self.c, jnp)

    def _flat(self, x):
        flat, unravel = flatten(x)
        leaves = jax.tree_util.tree_leaves(x)

        def spread(name, param):
            parts = [
                jnp.broadcast_to(jnp.asarray(p).astype(flat.dtype), jnp.shape(v)).ravel()
                for p, v in zip(per_leaf(name, param, x), leaves)
            ]
            return jnp.concatenate(parts) if parts else flat

        lo, hi, a = spread("lower", self.lower), spread("upper", self.upper), spread("a", self.a)
        return flat, unravel, lo, hi, a, jnp.asarray(self.c).astype(flat.dtype)

    def _feasible(self, flat, lo, hi, a, c):
        # the rounding of <a, x> and of the projection's multiplier, which is found from
        # sums of a_i l_i and a_i u_i: relative to the box's own scale too
        box = jnp.sum(jnp.abs(a) * jnp.maximum(jnp.abs(lo), jnp.abs(hi)))
        tol = rtol(flat.dtype, flat.size) * (jnp.sum(jnp.abs(a * flat)) + jnp.abs(c) + box)
        inside = jnp.all((lo <= flat) & (flat <= hi))
        return inside & (jnp.abs(jnp.sum(a * flat) - c) <= tol)

    def value(self, x):
        flat, _, lo, hi, a, c = self._flat(x)
        return indicator(self._feasible(flat, lo, hi, a, c), tree_dtype(x))

    def prox(self, x, step):
        check_step(step)
        flat, unravel, lo, hi, a, c = self._flat(x)
        return unravel(project_flat(flat, lo, hi, a, c))

    def min_norm(self, x, g):
        # -P_T(-g): T = {d : d >= 0 at x = lower, d <= 0 at x = upper, <a, d> = 0}.
        flat, unravel, lo, hi, a, c = self._flat(x)
        gf = flatten(g)[0].astype(flat.dtype)
        inf = jnp.full((), jnp.inf, flat.dtype)
        t_lo = jnp.where(flat == lo, jnp.zeros_like(flat), -inf)
        t_hi = jnp.where(flat == hi, jnp.zeros_like(flat), inf)
        out = -project_flat(-gf, t_lo, t_hi, a, jnp.zeros((), flat.dtype))
        return unravel(nan_unless(self._feasible(flat, lo, hi, a, c), out))

    def directional(self, x, d):
        flat, _, lo, hi, a, c = self._flat(x)
        df = flatten(d)[0].astype(flat.dtype)
        tol = rtol(flat.dtype, flat.size) * jnp.sum(jnp.abs(a * df))
        blocked = (jnp.abs(jnp.sum(a * df)) > tol) | jnp.any(
            ((flat == lo) & (df < 0)) | ((flat == hi) & (df > 0))
        )
        dtype = tree_dtype(x)
        ok = self._feasible(flat, lo, hi, a, c)
        return jnp.where(ok, jnp.where(blocked, jnp.inf, 0.0), jnp.nan).astype(dtype)


def _valid(lower, upper, a, c, xp):
    """Finite bounds with lower <= upper, finite a and c, and c within the range of <a, x>
    over the box (to 16 eps sqrt(n) relative): the set is not empty. ``xp``: numpy or
    jax.numpy; the parameters must broadcast against a's leaves."""
    ok, low, high, size = xp.array(True), 0.0, 0.0, 0
    for av, lo, hi in zip(
        jax.tree_util.tree_leaves(a), per_leaf("lower", lower, a), per_leaf("upper", upper, a)
    ):
        av, lo, hi = xp.broadcast_arrays(xp.asarray(av), xp.asarray(lo), xp.asarray(hi))
        ok = ok & xp.all(xp.isfinite(av) & xp.isfinite(lo) & xp.isfinite(hi) & (lo <= hi))
        low = low + xp.sum(xp.minimum(av * lo, av * hi))
        high = high + xp.sum(xp.maximum(av * lo, av * hi))
        size += int(np.size(av))
    eps = 16 * float(jnp.finfo(jnp.result_type(*jax.tree_util.tree_leaves(a))).eps)
    slack = eps * max(size, 1) ** 0.5 * (xp.abs(low) + xp.abs(high) + xp.abs(c))
    return ok & xp.isfinite(c) & (low - slack <= c) & (c <= high + slack)


def box_section(lower: Any, upper: Any, a: Any, c: Any) -> BoxSection:
    r"""The indicator of the box section :math:`\{x : l \le x \le u,\ \langle a, x\rangle = c\}`.

    Its projection, exact by one sort of 2n breakpoints, is

    .. math::

      \mathrm{prox}_{t h}(x) = \mathrm{clip}(x - \mu a, l, u), \qquad
      \langle a, \mathrm{clip}(x - \mu a, l, u)\rangle = c

    ``min_norm`` is exact: :math:`-\Pi_{T(x)}(-g)`, T the tangent cone
    :math:`\{d : d_i \ge 0 \text{ at } x_i = l_i,\ d_i \le 0 \text{ at } x_i = u_i,\
    \langle a, d\rangle = 0\}`, by the same projection. ``directional`` is 0 along directions
    of T (``<a, d> = 0`` to 16 eps sqrt(n) relative), +inf otherwise. Membership allows
    16 eps sqrt(n) (sum |a_i x_i| + |c| + sum |a_i| max(|l_i|, |u_i|)) of rounding in
    ``<a, x> = c``; the box is exact.

    Args:
      lower: l, finite: a scalar, or a pytree like x (or a prefix of its structure).
      upper: u, finite, the same forms, with l <= u.
      a: the normal, the same forms.
      c: a finite scalar within the range of <a, x> over the box.

    Returns:
      A `BoxSection` regularizer.

    Raises:
      TypeError: a parameter that is not real.
      ValueError: concrete values with ``lower > upper``, a NaN or infinite entry, or a ``c``
        that no point of the box reaches (the set would be empty).

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> reg = so.prox.box_section(0.0, 1.0, jnp.ones(3), 1.0)
      >>> reg.prox(jnp.array([2.0, 0.5, -1.0]), 1.0).tolist()
      [1.0, 0.0, 0.0]

    References:
      Kiwiel, *Breakpoint searching algorithms for the continuous quadratic knapsack
      problem*, Math. Program., 2008.
    """
    lower = hyperparameter_tree("lower", lower, nonnegative=False)
    upper = hyperparameter_tree("upper", upper, nonnegative=False)
    a = hyperparameter_tree("a", a, nonnegative=False)
    c = hyperparameter("c", c, nonnegative=False)
    if jnp.ndim(c):
        raise ValueError(f"c must be a scalar, got shape {jnp.shape(c)}")
    _check_order(lower, upper)
    values = [concrete(v) for v in jax.tree_util.tree_leaves((lower, upper, a, c))]
    if all(v is not None for v in values):
        try:
            lo_np, hi_np, a_np = (jax.tree_util.tree_map(np.asarray, t) for t in (lower, upper, a))
            ok = bool(_valid(lo_np, hi_np, a_np, np.asarray(c), np))
        except ValueError:
            ok = True  # bounds structured finer than a: checked against x at the first call
        if not ok:
            raise ValueError(
                f"box_section is empty: no x with lower <= x <= upper has <a, x> = c = {c!r}"
            )
    return BoxSection(lower, upper, a, c)
