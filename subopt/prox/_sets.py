"""Indicators of simple convex sets whose projection is a clip or a rescaling: the
nonnegative orthant, a box, the L-infinity ball (all coordinatewise intervals) and the
Euclidean ball of the whole pytree.

For an indicator, ``min_norm(x, g)`` is the projected gradient :math:`-\\Pi_{T_C(x)}(-g)` and
``directional(x, d)`` is 0 along feasible directions and +inf otherwise (see `Regularizer`).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from subopt._tree import tree_norm, tree_vdot
from subopt.prox._base import (
    Regularizer,
    all_true,
    check_step,
    concrete,
    hyperparameter_tree,
    indicator,
    leaf_params,
    nan_unless,
    per_leaf,
    rebuild,
    register,
    rtol,
    scalar_radius,
    tree_dtype,
    valid_weights,
)

_rebuild = rebuild
_all = all_true


def bound_pairs(lower: Any, upper: Any) -> list:
    """(lower, upper) leaf pairs: the trees share a structure, or one is a prefix of the
    other (a single array included); anything else is a ValueError naming both."""

    try:
        return list(zip(per_leaf("lower", lower, upper), jax.tree_util.tree_leaves(upper)))
    except ValueError:
        pass
    try:
        return list(zip(jax.tree_util.tree_leaves(lower), per_leaf("upper", upper, lower)))
    except ValueError:
        pass
    raise ValueError(
        f"lower and upper have incompatible structures: {jax.tree_util.tree_structure(lower)} "
        f"and {jax.tree_util.tree_structure(upper)} (one must be a prefix of the other)"
    )


def valid_bounds(lower: Any, upper: Any) -> jax.Array:
    """True when lower <= upper everywhere, lower < +inf and upper > -inf (no NaN): a
    nonempty box, the rule the constructors apply to concrete bounds."""
    return all_true(
        [(lo <= hi) & (lo < jnp.inf) & (hi > -jnp.inf) for lo, hi in bound_pairs(lower, upper)]
    )


class _Interval(Regularizer):
    """The indicator of {x : lower <= x <= upper} coordinatewise; subclasses give the bounds."""

    def _bounds(self, x) -> list:
        raise NotImplementedError

    def value(self, x):
        leaves = jax.tree_util.tree_leaves(x)
        ok = [(lo <= v) & (v <= hi) for (lo, hi), v in zip(self._bounds(x), leaves)]
        return indicator(_all(ok), tree_dtype(x))

    def prox(self, x, step):
        check_step(step)
        leaves = jax.tree_util.tree_leaves(x)
        return _rebuild(
            x, [jnp.minimum(jnp.maximum(v, lo), hi) for (lo, hi), v in zip(self._bounds(x), leaves)]
        )

    def min_norm(self, x, g):
        out, ok = [], []
        for (lo, hi), v, gv in zip(
            self._bounds(x), jax.tree_util.tree_leaves(x), jax.tree_util.tree_leaves(g)
        ):
            gv = gv.astype(v.dtype)
            r = jnp.where(v == lo, jnp.minimum(gv, 0), gv)
            out.append(jnp.where(v == hi, jnp.maximum(r, 0), r))
            ok.append((lo <= v) & (v <= hi))
        return nan_unless(_all(ok), _rebuild(x, out))

    def directional(self, x, d):
        ok, blocked = [], []
        for (lo, hi), v, dv in zip(
            self._bounds(x), jax.tree_util.tree_leaves(x), jax.tree_util.tree_leaves(d)
        ):
            ok.append((lo <= v) & (v <= hi))
            blocked.append(((v == lo) & (dv < 0)) | ((v == hi) & (dv > 0)))
        dtype = tree_dtype(x)
        slope = jnp.where(~_all([~b for b in blocked]), jnp.inf, 0.0).astype(dtype)
        return jnp.where(_all(ok), slope, jnp.full((), jnp.nan, dtype))


@register
class NonNegative(_Interval):
    """The indicator of {x >= 0} (see `nonnegative`)."""

    def _bounds(self, x):
        return [
            (jnp.zeros((), v.dtype), jnp.full((), jnp.inf, v.dtype))
            for v in jax.tree_util.tree_leaves(x)
        ]


def nonnegative() -> NonNegative:
    r"""The indicator of the nonnegative orthant :math:`\{x : x \ge 0\}` (every leaf).

    .. math::

      \mathrm{prox}_{t h}(x) = \max(x, 0)

    ``min_norm`` is exact: g where x > 0, min(g, 0) where x = 0.

    Returns:
      A `NonNegative` regularizer (no hyperparameters).

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> so.prox.nonnegative().prox(jnp.array([1.0, -2.0]), 1.0).tolist()
      [1.0, 0.0]

    References:
      Lawson and Hanson, *Solving Least Squares Problems*, 1974, chapter 23.
    """
    return NonNegative()


def _check_order(lower: Any, upper: Any) -> None:
    """Concrete bounds: lower <= upper wherever they are compared, no +inf lower/-inf upper."""
    for name, tree, bad in (("lower", lower, np.inf), ("upper", upper, -np.inf)):
        for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
            arr = concrete(leaf)
            if arr is not None and np.any(arr == bad):
                raise ValueError(
                    f"{name}{jax.tree_util.keystr(path)} must not be {bad}, got {leaf!r}"
                )
    for lo, hi in bound_pairs(lower, upper):
        a, b = concrete(lo), concrete(hi)
        if a is None or b is None:
            continue
        try:
            bad = np.any(a > b)
        except ValueError as err:
            raise ValueError(
                f"lower of shape {a.shape} and upper of shape {b.shape} do not broadcast"
            ) from err
        if bad:
            raise ValueError(f"lower must be <= upper, got lower={lo!r}, upper={hi!r}")


@register
class Box(_Interval):
    """The indicator of {lower <= x <= upper} (see `box`)."""

    lower: Any
    upper: Any

    def is_valid(self):
        return valid_bounds(self.lower, self.upper)

    def _bounds(self, x):
        return list(zip(leaf_params("lower", self.lower, x), leaf_params("upper", self.upper, x)))


def box(lower: Any, upper: Any) -> Box:
    r"""The indicator of the box :math:`\{x : l \le x \le u\}`; its prox clips.

    .. math::

      \mathrm{prox}_{t h}(x) = \min(\max(x, l), u)

    ``min_norm`` is exact: g inside, min(g, 0) at a lower bound, max(g, 0) at an upper bound,
    0 where l = u = x.

    Args:
      lower: l, a scalar, an array of the shape of every leaf of x, or a pytree like x;
        -inf allowed (no lower bound).
      upper: u, the same forms; +inf allowed.

    Returns:
      A `Box` regularizer.

    Raises:
      TypeError: a bound that is not real.
      ValueError: a concrete NaN bound, ``lower > upper`` anywhere, ``lower = +inf`` or
        ``upper = -inf``; at the first call, a bound shape that does not match x.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> so.prox.box(-1.0, 1.0).prox(jnp.array([3.0, -0.5]), 1.0).tolist()
      [1.0, -0.5]

    References:
      Bertsekas, *Nonlinear Programming*, 3rd ed., 2016, section 3.3 (projection on a box).
    """
    lower = hyperparameter_tree("lower", lower, nonnegative=False, allow_inf=True)
    upper = hyperparameter_tree("upper", upper, nonnegative=False, allow_inf=True)
    _check_order(lower, upper)
    return Box(lower, upper)


@register
class LinfBall(_Interval):
    """The indicator of {||x||_inf <= radius} (see `linf_ball`)."""

    radius: Any

    def is_valid(self):
        return valid_weights(self.radius)

    def _bounds(self, x):
        rs = leaf_params("radius", self.radius, x, scalar_only=True)
        return [(-r, r) for r in rs]


def linf_ball(radius: Any) -> LinfBall:
    r"""The indicator of the L-infinity ball :math:`\{x : \max_i |x_i| \le r\}` (all leaves).

    .. math::

      \mathrm{prox}_{t h}(x) = \min(\max(x, -r), r)

    It is the conjugate of :math:`r\|\cdot\|_1`. ``min_norm`` is exact (that of `box`).

    Args:
      radius: r >= 0, a scalar.

    Returns:
      A `LinfBall` regularizer.

    Raises:
      TypeError: ``radius`` is not real.
      ValueError: a concrete ``radius`` that is negative, NaN or infinite.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> so.prox.linf_ball(1.0).prox(jnp.array([3.0, -0.5]), 1.0).tolist()
      [1.0, -0.5]

    References:
      Parikh and Boyd, *Proximal Algorithms*, 2014, section 6.2.
    """
    return LinfBall(hyperparameter_tree("radius", radius))


@register
class L2Ball(Regularizer):
    """The indicator of {||x||_2 <= radius}, the global norm of the pytree (see `l2_ball`)."""

    radius: Any

    def is_valid(self):
        return valid_weights(self.radius)

    def _parts(self, x):
        leaves = jax.tree_util.tree_leaves(x)
        n = tree_norm(leaves)
        r = scalar_radius(self.radius, n.dtype)
        tol = rtol(n.dtype)
        return leaves, n, r, n <= r * (1 + tol), n >= r * (1 - tol)

    def value(self, x):
        _, _, _, feasible, _ = self._parts(x)
        return indicator(feasible, tree_dtype(x))

    def prox(self, x, step):
        check_step(step)
        leaves, n, r, _, _ = self._parts(x)
        outside = n > r
        factor = jnp.where(outside, r / jnp.where(outside, n, 1), 1)
        return _rebuild(x, [v * factor.astype(v.dtype) for v in leaves])

    def min_norm(self, x, g):
        leaves, n, r, feasible, boundary = self._parts(x)
        safe_n = jnp.where(n > 0, n, 1)
        us = [v / safe_n.astype(v.dtype) for v in leaves]
        gs = [gv.astype(v.dtype) for gv, v in zip(jax.tree_util.tree_leaves(g), leaves)]
        push = jnp.maximum(-tree_vdot(us, gs), 0)
        out = [jnp.where(boundary, gv + push.astype(gv.dtype) * u, gv) for u, gv in zip(us, gs)]
        out = [jnp.where(boundary & (n == 0), jnp.zeros_like(o), o) for o in out]  # r = 0
        return nan_unless(feasible, _rebuild(x, out))

    def directional(self, x, d):
        leaves, n, r, feasible, boundary = self._parts(x)
        safe_n = jnp.where(n > 0, n, 1)
        ds = jax.tree_util.tree_leaves(d)
        ds = [dv.astype(v.dtype) for v, dv in zip(leaves, ds)]
        inward = tree_vdot([v / safe_n.astype(v.dtype) for v in leaves], ds)
        dn = tree_norm(ds)
        # Along a tangent d != 0 the ball is left at second order: h'(x; d) = +inf.
        ok = (dn == 0) | (inward < -rtol(n.dtype) * dn) | ~boundary
        dtype = tree_dtype(x)
        slope = jnp.where(ok, 0.0, jnp.inf).astype(dtype)
        return jnp.where(feasible, slope, jnp.full((), jnp.nan, dtype))


def l2_ball(radius: Any) -> L2Ball:
    r"""The indicator of the Euclidean ball :math:`\{x : \|x\|_2 \le r\}` (global pytree norm).

    .. math::

      \mathrm{prox}_{t h}(x) = x \min\left(1, \frac{r}{\|x\|_2}\right)

    It is the conjugate of :math:`r\|\cdot\|_2`. ``min_norm`` is exact:
    :math:`g + \max(-\langle g, x\rangle, 0)\, x / \|x\|^2` on the sphere, g inside.
    ``directional`` is +inf along tangent directions (the ball is left at second order).

    Args:
      radius: r >= 0, a scalar.

    Returns:
      An `L2Ball` regularizer.

    Raises:
      TypeError: ``radius`` is not real.
      ValueError: a concrete ``radius`` that is negative, NaN or infinite.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> [round(v, 5) for v in so.prox.l2_ball(1.0).prox(jnp.array([3.0, 4.0]), 1.0).tolist()]
      [0.6, 0.8]

    References:
      Parikh and Boyd, *Proximal Algorithms*, 2014, section 6.2.
    """
    return L2Ball(hyperparameter_tree("radius", radius))
