"""The weighted L1 norm: soft-thresholding."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from subopt._base import PyTree
from subopt.prox._base import Regularizer, regularizer, tree_sum, weight


def leaf_weights(lam: Any, x: PyTree) -> list:
    """One weight array per leaf of ``x``: a scalar for all, a pytree like ``x``, or one array
    of the shape of a single-leaf ``x``. Shapes that would silently broadcast raise."""
    leaves = jax.tree_util.tree_leaves(x)
    lam_leaves = jax.tree_util.tree_leaves(lam)
    if jax.tree_util.tree_structure(lam) == jax.tree_util.tree_structure(x):
        pairs = list(zip(lam_leaves, leaves))
    elif len(lam_leaves) == 1:
        pairs = [(lam_leaves[0], leaf) for leaf in leaves]
    else:
        raise ValueError(
            f"weights structure {jax.tree_util.tree_structure(lam)} matches neither a scalar "
            f"nor x's structure {jax.tree_util.tree_structure(x)}"
        )
    out = []
    for w, leaf in pairs:
        if jnp.shape(w) not in ((), jnp.shape(leaf)):
            raise ValueError(
                f"weight shape {jnp.shape(w)} does not match x shape {jnp.shape(leaf)}"
            )
        out.append(jnp.asarray(w, leaf.dtype))
    return out


def soft_threshold(x: jax.Array, t: jax.Array) -> jax.Array:
    """sign(x) * max(|x| - t, 0), elementwise; exact zeros inside [-t, t]."""
    return jnp.sign(x) * jnp.maximum(jnp.abs(x) - t, 0)


@regularizer
class L1(Regularizer):
    """h(x) = sum_i lam_i |x_i| over every leaf of x."""

    lam: Any

    def _map(self, fn, *trees):
        leaves = [jax.tree_util.tree_leaves(t) for t in trees]
        ws = leaf_weights(self.lam, trees[0])
        out = [fn(w, *ls) for w, ls in zip(ws, zip(*leaves))]
        return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(trees[0]), out)

    def value(self, x):
        parts = self._map(lambda w, v: jnp.sum(w * jnp.abs(v)), x)
        return tree_sum(jax.tree_util.tree_leaves(parts))

    def prox(self, x, step):
        return self._map(lambda w, v: soft_threshold(v, step * w).astype(v.dtype), x)

    def min_norm(self, x, g):
        def leaf(w, v, gv):
            return jnp.where(v != 0, gv + w * jnp.sign(v), soft_threshold(gv, w)).astype(gv.dtype)

        return self._map(leaf, x, g)

    def directional(self, x, d):
        def leaf(w, v, dv):
            return jnp.sum(w * jnp.where(v != 0, jnp.sign(v) * dv, jnp.abs(dv)))

        return tree_sum(jax.tree_util.tree_leaves(self._map(leaf, x, d)))


def l1(lam: Any) -> L1:
    r"""The weighted L1 norm :math:`h(x) = \sum_i \lambda_i |x_i|`; its prox soft-thresholds.

    .. math::

      \mathrm{prox}_{t h}(x)_i = \mathrm{sign}(x_i) \max(|x_i| - t\lambda_i, 0)

    Args:
      lam: lambda >= 0: a scalar, an array of x's shape (single-array x), or a pytree like x.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> so.prox.l1(1.0).prox(jnp.array([3.0, -0.5]), 1.0).tolist()
      [2.0, -0.0]

    References:
      Donoho, *De-noising by soft-thresholding*, IEEE Trans. Inf. Theory, 1995.
    """
    return L1(jax.tree_util.tree_map(lambda w: weight("lam", w), lam))
