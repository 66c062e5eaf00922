"""The weighted L1 norm and its prox, soft-thresholding (exact zeros)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from subopt._base import PyTree, check_scalar
from subopt.prox._base import (
    Regularizer,
    cast,
    check_step,
    hyperparameter_tree,
    leaf_params,
    regularizer,
    tree_dtype,
    tree_sum,
)


def leaf_weights(lam: Any, x: PyTree) -> list:
    """One weight array per leaf of ``x`` (see `subopt.prox._base.leaf_params`)."""
    return leaf_params("lam", lam, x)


def soft_threshold(x: jax.Array, t: Any) -> jax.Array:
    r"""Elementwise soft-thresholding, the prox of :math:`t|\cdot|`; exact zeros in [-t, t].

    .. math::

      S_t(x) = \mathrm{sign}(x) \max(|x| - t, 0)

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
      [2.0, -0.0, -1.0]

    References:
      Donoho, *De-noising by soft-thresholding*, IEEE Trans. Inf. Theory, 1995.
    """
    check_scalar("t", t, nonnegative=True, allow_inf=True)
    return shrink(x, t)


def shrink(x: jax.Array, t: Any) -> jax.Array:
    """`soft_threshold` without the check of ``t``, for the terms' own (checked) weights."""
    x = jnp.asarray(x)
    if jnp.issubdtype(x.dtype, jnp.floating):
        t = cast(t, x.dtype)
    return jnp.sign(x) * jnp.maximum(jnp.abs(x) - t, 0)


@regularizer
class L1(Regularizer):
    """h(x) = sum_i lam_i |x_i| over every leaf of x (see `l1`)."""

    lam: Any

    def _map(self, fn, *trees):
        ws = leaf_weights(self.lam, trees[0])
        leaves = [jax.tree_util.tree_leaves(t) for t in trees]
        out = [fn(w, *ls) for w, ls in zip(ws, zip(*leaves))]
        return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(trees[0]), out)

    def value(self, x):
        parts = self._map(lambda w, v: jnp.sum(w * jnp.abs(v)), x)
        return tree_sum(jax.tree_util.tree_leaves(parts)).astype(tree_dtype(x))

    def prox(self, x, step):
        check_step(step)
        return self._map(lambda w, v: shrink(v, cast(step, v.dtype) * w), x)

    def min_norm(self, x, g):
        def leaf(w, v, gv):
            gv = gv.astype(v.dtype)
            return jnp.where(v != 0, gv + w * jnp.sign(v), shrink(gv, w))

        return self._map(leaf, x, g)

    def directional(self, x, d):
        def leaf(w, v, dv):
            dv = dv.astype(v.dtype)
            return jnp.sum(w * jnp.where(v != 0, jnp.sign(v) * dv, jnp.abs(dv)))

        return tree_sum(jax.tree_util.tree_leaves(self._map(leaf, x, d))).astype(tree_dtype(x))


def l1(lam: Any) -> L1:
    r"""The weighted L1 norm :math:`h(x) = \sum_i \lambda_i |x_i|`; its prox soft-thresholds.

    .. math::

      \mathrm{prox}_{t h}(x)_i = \mathrm{sign}(x_i) \max(|x_i| - t\lambda_i, 0)

    ``min_norm`` is exact: :math:`g_i + \lambda_i \mathrm{sign}(x_i)` where :math:`x_i \ne 0`,
    :math:`S_{\lambda_i}(g_i)` where :math:`x_i = 0`. ``directional`` is exact:
    :math:`\sum_{x_i \ne 0} \lambda_i \mathrm{sign}(x_i) d_i + \sum_{x_i = 0} \lambda_i |d_i|`.

    Args:
      lam: lambda >= 0: a scalar, an array of the shape of every leaf of x (per-coordinate
        weights), or a pytree like x. Arrays may be traced and vmapped.

    Returns:
      An `L1` regularizer (a pytree whose leaves are the weights).

    Raises:
      TypeError: ``lam`` is not real (a string, None, complex, boolean).
      ValueError: a concrete weight is negative, NaN or infinite; at the first call, a weight
        shape that does not match x.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> so.prox.l1(1.0).prox(jnp.array([3.0, -0.5]), 1.0).tolist()
      [2.0, -0.0]

    References:
      Donoho, *De-noising by soft-thresholding*, IEEE Trans. Inf. Theory, 1995.
      Tibshirani, *Regression shrinkage and selection via the lasso*, JRSS B, 1996.
    """
    return L1(hyperparameter_tree("lam", lam))
