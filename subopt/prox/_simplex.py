"""Sort-based exact projections onto the simplex, over the whole pytree as one vector or one
simplex per slice along an axis (Duchi et al. 2008): one sort and one cumulative sum, under
jit and vmap with static shapes; the same sort-and-maximise trick gives the exact
minimum-norm subgradients. The L1 ball, built on the same threshold, lives in `_l1_ball`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from subopt._base import check_scalar
from subopt.prox._base import (
    Regularizer,
    check_step,
    flatten,
    hyperparameter,
    indicator,
    nan_unless,
    rebuild,
    register,
    rtol,
    tree_dtype,
)


def _threshold(u: jax.Array, total: jax.Array) -> jax.Array:
    """The theta with sum(max(u - theta, 0)) = total: max_j (sum of the j largest - total) / j.

    Each candidate is a lower bound on theta (the sum over the j largest entries never exceeds
    the sum over all positive parts), and the candidate at the true active count equals it.
    """
    top = jnp.sort(u)[::-1]
    j = jnp.arange(1, u.size + 1, dtype=u.dtype)
    return jnp.max((jnp.cumsum(top) - total) / j, initial=-jnp.inf)


def project_simplex(v: jax.Array, total: Any = 1.0) -> jax.Array:
    r"""Euclidean projection of an array (all entries as one vector) onto the simplex.

    .. math::

      \Pi(v) = \max(v - \theta, 0), \quad \theta \text{ such that } \textstyle\sum_i
      \max(v_i - \theta, 0) = s

    Args:
      v: an array of any shape (its entries form one vector).
      total: s > 0, the sum of the result (1 for the probability simplex).

    Returns:
      An array like ``v``: nonnegative entries summing to ``total``, exact zeros off the support.

    Raises:
      ValueError: a concrete ``total`` that is <= 0, NaN or infinite.
      TypeError: ``total`` is not real.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> so.prox.project_simplex(jnp.array([2.0, 0.0, -1.0])).tolist()
      [1.0, 0.0, 0.0]

    References:
      Duchi, Shalev-Shwartz, Singer and Chandra, *Efficient projections onto the l1-ball for
      learning in high dimensions*, ICML 2008, figure 1.
    """
    check_scalar("total", total, positive=True)
    return project_simplex_unchecked(jnp.asarray(v), total)


def project_simplex_unchecked(v: jax.Array, total: Any) -> jax.Array:
    """`project_simplex` without the check of ``total`` (the simplex's own, checked total)."""
    total = jnp.asarray(total).astype(v.dtype)
    # The projection ignores a common shift; shifting the largest entry to 0 keeps v - theta
    # free of cancellation when the entries are large (theta then lies in [-total, 0)).
    v = v - jax.lax.stop_gradient(jnp.max(v, initial=-jnp.inf))
    out = jnp.maximum(v - _threshold(v.ravel(), total), 0)
    return out * _rounding_fix(jnp.sum(out), total, jnp.array(True))


def _rounding_fix(size: jax.Array, total: jax.Array, active: jax.Array) -> jax.Array:
    """A factor within rounding of 1 that brings the sum of the output to ``total`` (when the
    constraint is ``active``; else at most ``total``): |v_i| - theta loses digits when
    |v_i| >> the result (a large vector projected onto a small ball), and the set's own
    feasibility test must accept the projection. Not differentiated (1 up to rounding).

    The entries stay accurate only to eps * max|v| in absolute terms: a radius below that
    (e.g. 1e-135 for entries of size 1) can round the whole projection to 0."""
    over = jnp.where(active, size != total, size > total)
    factor = jnp.where(over & (size > 0), total / jnp.where(size > 0, size, 1), 1)
    return jax.lax.stop_gradient(factor)


def _masked_prefix(values: jax.Array, eligible: jax.Array):
    """Eligible values sorted in decreasing order, their prefix sums and 1-based counts; the
    ineligible slots sort last and are flagged invalid."""
    keyed = jnp.where(eligible, values, -jnp.inf)
    order = jnp.argsort(-keyed)
    top = values[order]
    valid = eligible[order]
    sums = jnp.cumsum(jnp.where(valid, top, 0))
    counts = jnp.arange(1, values.size + 1, dtype=values.dtype)
    return sums, counts, valid


def _simplex_min_norm(flat, gf):
    """The projected gradient at a point of the simplex (one row)."""
    # N(x) = {t 1 + w : w <= 0, w = 0 on the support}: the best w leaves g + t on the
    # support and min(g + t, 0) off it, and the best t is the root of a nondecreasing
    # function: the largest of the candidates (sum of the m largest -g_i off the support - c)
    # / (k + m).
    supp = flat > 0
    k = jnp.sum(supp).astype(flat.dtype)
    c = jnp.sum(jnp.where(supp, gf, 0))
    sums, counts, valid = _masked_prefix(-gf, ~supp)
    cand = jnp.where(valid, (sums - c) / (k + counts), -jnp.inf)
    cand0 = jnp.where(k > 0, -c / jnp.where(k > 0, k, 1), -jnp.inf)
    t = jnp.maximum(jnp.max(cand, initial=-jnp.inf), cand0)
    return jnp.where(supp, gf + t, jnp.minimum(gf + t, 0))


def _simplex_blocked(flat, df):
    """True when x + s d leaves the simplex for every small s > 0 (one row)."""
    balanced = jnp.abs(jnp.sum(df)) <= rtol(flat.dtype, flat.size) * jnp.sum(jnp.abs(df))
    return ~(balanced & jnp.all((flat > 0) | (df >= 0)))


@register
class Simplex(Regularizer):
    """The indicator of {x >= 0, sum x = total}: over all entries of the pytree (``axis``
    None) or along ``axis`` of every leaf, one simplex per slice (see `simplex`)."""

    total: Any
    axis: Any = dataclasses.field(metadata={"static": True}, default=None)

    def is_valid(self):
        return (self.total > 0) & jnp.isfinite(self.total)

    def _rows(self, x, *others):
        """Each tree as a list of (rows, n) matrices, one per leaf (one for axis=None), and
        the inverse map of the first."""
        if self.axis is None:
            flat, unravel = flatten(x)
            mats = [[flat[None]]] + [[flatten(o)[0].astype(flat.dtype)[None]] for o in others]
            return mats, lambda ms: unravel(ms[0][0])
        leaves = jax.tree_util.tree_leaves(x)
        ax = [self.axis % max(jnp.ndim(v), 1) for v in leaves]
        for v in leaves:
            if jnp.ndim(v) == 0:
                raise ValueError(f"simplex(axis={self.axis}) needs array leaves, got a scalar")

        def rows(tree, like):
            return [
                jnp.moveaxis(u.astype(v.dtype), a, -1).reshape(-1, v.shape[a])
                for u, v, a in zip(jax.tree_util.tree_leaves(tree), like, ax)
            ]

        def back(ms):
            out = [
                jnp.moveaxis(m.reshape(jnp.moveaxis(v, a, -1).shape), -1, a)
                for m, v, a in zip(ms, leaves, ax)
            ]
            return rebuild(x, out)

        return [rows(x, leaves)] + [rows(o, leaves) for o in others], back

    def _feasible(self, m):
        total = self.total.astype(m.dtype)
        tol = rtol(m.dtype, m.shape[-1])
        return jnp.all(m >= 0) & jnp.all(jnp.abs(jnp.sum(m, -1) - total) <= tol * total)

    def value(self, x):
        (ms,), _ = self._rows(x)
        ok = jnp.all(jnp.stack([self._feasible(m) for m in ms]))
        return indicator(ok, tree_dtype(x))

    def prox(self, x, step):
        check_step(step)
        (ms,), back = self._rows(x)
        proj = jax.vmap(project_simplex_unchecked, in_axes=(0, None))
        return back([proj(m, self.total.astype(m.dtype)) for m in ms])

    def min_norm(self, x, g):
        (ms, gs), back = self._rows(x, g)
        ok = jnp.all(jnp.stack([self._feasible(m) for m in ms]))
        return nan_unless(ok, back([jax.vmap(_simplex_min_norm)(m, gm) for m, gm in zip(ms, gs)]))

    def directional(self, x, d):
        (ms, ds), _ = self._rows(x, d)
        ok = jnp.all(jnp.stack([self._feasible(m) for m in ms]))
        blocked = jnp.any(
            jnp.stack([jnp.any(jax.vmap(_simplex_blocked)(m, dm)) for m, dm in zip(ms, ds)])
        )
        dtype = tree_dtype(x)
        return jnp.where(ok, jnp.where(blocked, jnp.inf, 0.0), jnp.nan).astype(dtype)


def simplex(total: Any = 1.0, axis: int | None = None) -> Simplex:
    r"""The indicator of the simplex :math:`\{x \ge 0 : \sum_i x_i = s\}` (s = ``total``).

    With ``axis=None`` the sum runs over every entry of every leaf: the whole pytree is one
    vector. With an integer ``axis``, every slice of every leaf along ``axis`` is its own
    simplex (``axis=-1`` on a matrix: one simplex per row). The prox is the exact
    sort-based projection (`project_simplex`):

    .. math::

      \mathrm{prox}_{t h}(x) = \max(x - \theta, 0), \quad \textstyle\sum_i
      \max(x_i - \theta, 0) = s

    ``min_norm`` is exact (the projected gradient, a one-dimensional search solved by one
    sort per simplex). ``directional`` is 0 iff, for every simplex, :math:`\sum_i d_i = 0`
    (to a relative tolerance of 16 eps sqrt(n)) and :math:`d_i \ge 0` wherever
    :math:`x_i = 0`, else +inf. Membership allows 16 eps sqrt(n) s of rounding in the sum.

    Args:
      total: s > 0, a scalar (may be traced).
      axis: None (one simplex over all entries) or the axis of every leaf along which each
        slice is a simplex (static: a new axis is a new program).

    Returns:
      A `Simplex` regularizer.

    Raises:
      TypeError: ``total`` is not real, or ``axis`` is not None or an int.
      ValueError: a concrete ``total`` that is <= 0, NaN or infinite; at the first call, a
        scalar leaf with an ``axis``.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> so.prox.simplex().prox(jnp.array([1.0, 0.5, -1.0]), 1.0).tolist()
      [0.75, 0.25, 0.0]
      >>> so.prox.simplex(axis=-1).prox(jnp.array([[1.0, 0.0], [0.0, 3.0]]), 1.0).tolist()
      [[1.0, 0.0], [0.0, 1.0]]

    References:
      Duchi, Shalev-Shwartz, Singer and Chandra, *Efficient projections onto the l1-ball for
      learning in high dimensions*, ICML 2008. Condat, *Fast projection onto the simplex and
      the l1 ball*, Math. Program., 2016.
    """
    check_scalar("total", total, positive=True)
    if axis is not None and (isinstance(axis, bool) or not isinstance(axis, int)):
        raise TypeError(f"axis must be None or an int, got {axis!r}")
    return Simplex(hyperparameter("total", total), axis)
