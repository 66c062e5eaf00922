"""The weighted L1 norm and the nonnegative L1 norm: soft-thresholding (exact zeros)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from subopt._base import check_scalar
from subopt._tree import tree_sum
from subopt.prox._base import (
    Regularizer,
    cast,
    check_step,
    hyperparameter_tree,
    leaf_params,
    nan_unless,
    rebuild,
    register,
    tree_dtype,
    valid_weights,
)


def soft_threshold(x: jax.Array, t: Any) -> jax.Array:
    r"""Elementwise soft-thresholding, the prox of :math:`t|\cdot|`; exact zeros in [-t, t].

    .. math::

      S_t(x) = \mathrm{sign}(x) \max(|x| - t, 0)

    Its derivative in x is 0 on :math:`|x| < t` and 1 elsewhere; in particular 1 at
    x = t = 0, where the map is the identity.

    Args:
      x: an array.
      t: a threshold >= 0, a scalar or an array broadcastable to ``x``; a floating ``x`` keeps
        its dtype whatever the dtype of ``t``.

    Returns:
      An array like ``x``.

    Raises:
      ValueError: a concrete ``t`` that is negative or NaN.
      TypeError: ``t`` is not real.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> so.prox.soft_threshold(jnp.array([3.0, -0.5, -2.0]), 1.0).tolist()
      [2.0, 0.0, -1.0]

    References:
      Donoho, *De-noising by soft-thresholding*, IEEE Trans. Inf. Theory, 1995.
    """
    check_scalar("t", t, nonnegative=True, allow_inf=True)
    return shrink(x, t)


def shrink(x: jax.Array, t: Any) -> jax.Array:
    """`soft_threshold` without the check of ``t``, for the terms' own (checked) weights.

    Written ``x - sign(x) t`` outside ``|x| < t`` (not ``sign(x) max(|x| - t, 0)``), so the
    derivative is exact where the map is locally linear, including x = t = 0 (identity);
    a NaN x or t gives NaN.
    """
    x = jnp.asarray(x)
    if jnp.issubdtype(x.dtype, jnp.floating):
        t = cast(t, x.dtype)
    return jnp.where(jnp.abs(x) < t, jnp.zeros_like(x), x - jnp.sign(x) * t)


def _map(lam, fn, *trees):
    ws = leaf_params("lam", lam, trees[0])
    leaves = [jax.tree_util.tree_leaves(t) for t in trees]
    return rebuild(trees[0], [fn(w, *ls) for w, ls in zip(ws, zip(*leaves))])


def _total(x, parts):
    return tree_sum(parts).astype(tree_dtype(x))


@register
class L1(Regularizer):
    """h(x) = sum_i lam_i |x_i| over every leaf of x (see `l1`)."""

    lam: Any

    def is_valid(self):
        return valid_weights(self.lam)

    def value(self, x):
        return _total(x, _map(self.lam, lambda w, v: jnp.sum(w * jnp.abs(v)), x))

    def prox(self, x, step):
        check_step(step)
        return _map(self.lam, lambda w, v: shrink(v, cast(step, v.dtype) * w), x)

    def min_norm(self, x, g):
        def leaf(w, v, gv):
            gv = gv.astype(v.dtype)
            return jnp.where(v != 0, gv + w * jnp.sign(v), shrink(gv, w))

        return _map(self.lam, leaf, x, g)

    def directional(self, x, d):
        def leaf(w, v, dv):
            dv = dv.astype(v.dtype)
            return jnp.sum(w * jnp.where(v != 0, jnp.sign(v) * dv, jnp.abs(dv)))

        return _total(x, _map(self.lam, leaf, x, d))


def l1(lam: Any) -> L1:
    r"""The weighted L1 norm :math:`h(x) = \sum_i \lambda_i |x_i|`; its prox soft-thresholds.

    .. math::

      \mathrm{prox}_{t h}(x)_i = \mathrm{sign}(x_i) \max(|x_i| - t\lambda_i, 0)

    ``min_norm`` is exact: :math:`g_i + \lambda_i \mathrm{sign}(x_i)` where :math:`x_i \ne 0`,
    :math:`S_{\lambda_i}(g_i)` where :math:`x_i = 0`. ``directional`` is exact:
    :math:`\sum_{x_i \ne 0} \lambda_i \mathrm{sign}(x_i) d_i + \sum_{x_i = 0} \lambda_i |d_i|`.

    Args:
      lam: lambda >= 0: a scalar, an array of the shape of every leaf of x (per-coordinate
        weights), or a pytree whose structure is x's or a prefix of it (see
        `subopt.prox` for the structure rule). Arrays may be traced and vmapped.

    Returns:
      An `L1` regularizer (a pytree whose leaves are the weights).

    Raises:
      TypeError: ``lam`` is not real (a string, None, complex, boolean).
      ValueError: a concrete weight is negative, NaN or infinite; at the first call, a weight
        shape or structure that does not match x.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> so.prox.l1(1.0).prox(jnp.array([3.0, -0.5]), 1.0).tolist()
      [2.0, 0.0]

    References:
      Donoho, *De-noising by soft-thresholding*, IEEE Trans. Inf. Theory, 1995.
      Tibshirani, *Regression shrinkage and selection via the lasso*, JRSS B, 1996.
    """
    return L1(hyperparameter_tree("lam", lam))


@register
class NonNegativeL1(Regularizer):
    """h(x) = sum_i lam_i x_i + indicator(x >= 0) (see `nonnegative_l1`)."""

    lam: Any

    def is_valid(self):
        return valid_weights(self.lam)

    def _feasible(self, x):
        flags = [jnp.all(v >= 0) for v in jax.tree_util.tree_leaves(x)]
        return jnp.all(jnp.stack(flags)) if flags else jnp.array(True)

    def value(self, x):
        total = _total(x, _map(self.lam, lambda w, v: jnp.sum(w * v), x))
        return jnp.where(self._feasible(x), total, jnp.inf).astype(total.dtype)

    def prox(self, x, step):
        check_step(step)

        def leaf(w, v):
            z = v - cast(step, v.dtype) * w
            return jnp.where(z > 0, z, jnp.where(jnp.isnan(z), z, 0))

        return _map(self.lam, leaf, x)

    def min_norm(self, x, g):
        def leaf(w, v, gv):
            s = gv.astype(v.dtype) + w
            return jnp.where(v > 0, s, jnp.minimum(s, 0))

        return nan_unless(self._feasible(x), _map(self.lam, leaf, x, g))

    def directional(self, x, d):
        def leaf(w, v, dv):
            dv = dv.astype(v.dtype)
            return jnp.sum(jnp.where((v == 0) & (dv < 0), jnp.inf, w * dv))

        total = _total(x, _map(self.lam, leaf, x, d))
        return jnp.where(self._feasible(x), total, jnp.nan).astype(total.dtype)


def nonnegative_l1(lam: Any) -> NonNegativeL1:
    r"""The nonnegative lasso penalty :math:`h(x) = \sum_i \lambda_i x_i + \iota_{x \ge 0}(x)`.

    .. math::

      \mathrm{prox}_{t h}(x)_i = \max(x_i - t\lambda_i, 0)

    (jaxopt's ``prox_non_negative_lasso``). ``min_norm`` is exact: :math:`g_i + \lambda_i`
    where :math:`x_i > 0`, :math:`\min(g_i + \lambda_i, 0)` where :math:`x_i = 0`; NaN at an
    infeasible x. ``directional`` is :math:`\sum_i \lambda_i d_i`, +inf if some
    :math:`x_i = 0` has :math:`d_i < 0`.

    Args:
      lam: lambda >= 0, the forms of `l1`.

    Returns:
      A `NonNegativeL1` regularizer.

    Raises:
      TypeError: ``lam`` is not real.
      ValueError: a concrete weight that is negative, NaN or infinite.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> so.prox.nonnegative_l1(1.0).prox(jnp.array([3.0, -0.5]), 1.0).tolist()
      [2.0, 0.0]

    References:
      Slawski and Hein, *Non-negative least squares for high-dimensional linear models*,
      Electron. J. Statist., 2013.
    """
    return NonNegativeL1(hyperparameter_tree("lam", lam))
