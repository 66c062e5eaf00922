"""Euclidean-norm penalties: the global L2 norm (block soft-thresholding), the group L2 norm
(one group per pytree leaf) and the elastic net. Norms are scaled by the largest entry, so
1e200 and 1e-200 inputs neither overflow nor underflow, and their jacobians are finite at 0.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from subopt.prox._base import (
    Regularizer,
    cast,
    check_step,
    hyperparameter_tree,
    leaf_params,
    regularizer,
    safe_norm,
    tree_dtype,
    tree_sum,
)
from subopt.prox._l1 import shrink

# ----------------------------------------------------------------- one block: lam * ||leaves||_2


def _block_value(lam, leaves):
    return lam * safe_norm(leaves)


def _block_prox(tl, leaves):
    """x * max(1 - tl / ||x||, 0), with a finite jacobian at x = 0."""
    n = safe_norm(leaves)
    tl = tl.astype(n.dtype)
    keep = n >= tl  # n > tl, or n == tl == 0 (then x = 0 is returned either way)
    safe_n = jnp.where(keep & (n > 0), n, jnp.ones((), n.dtype))
    factor = jnp.where(keep, 1 - tl / safe_n, jnp.zeros((), n.dtype))
    return [v * factor.astype(v.dtype) for v in leaves]


def _block_min_norm(lam, xs, gs):
    """g + lam x / ||x|| when x != 0; block soft-threshold of g at lam when x = 0."""
    gs = [g.astype(x.dtype) for g, x in zip(gs, xs)]
    n = safe_norm(xs)
    lam = lam.astype(n.dtype)
    nonzero = n > 0
    safe_n = jnp.where(nonzero, n, jnp.ones((), n.dtype))
    shrunk = _block_prox(lam, gs)
    return [
        jnp.where(nonzero, g + (lam * (x / safe_n.astype(x.dtype))).astype(x.dtype), s)
        for x, g, s in zip(xs, gs, shrunk)
    ]


def _block_directional(lam, xs, ds):
    """lam <x, d> / ||x|| when x != 0; lam ||d|| when x = 0."""
    n = safe_norm(xs)
    lam = lam.astype(n.dtype)
    safe_n = jnp.where(n > 0, n, jnp.ones((), n.dtype))
    slope = tree_sum([jnp.vdot(x / safe_n.astype(x.dtype), d.astype(x.dtype)) for x, d in
                      zip(xs, ds)])
    return jnp.where(n > 0, lam * slope.astype(n.dtype), lam * safe_norm(ds).astype(n.dtype))


def _scalar(name, value, dtype):
    value = jnp.asarray(value)
    if value.ndim:
        raise ValueError(
            f"{name} must be a scalar here, got shape {value.shape} (vmap over it instead)"
        )
    return value.astype(dtype)


def _leaves(x):
    return jax.tree_util.tree_leaves(x)


def _rebuild(x, leaves):
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(x), leaves)


@regularizer
class L2(Regularizer):
    """h(x) = lam ||x||_2, the global Euclidean norm of the pytree (see `l2`)."""

    lam: Any

    def value(self, x):
        return _block_value(_scalar("lam", self.lam, tree_dtype(x)), _leaves(x))

    def prox(self, x, step):
        check_step(step)
        dt = tree_dtype(x)
        return _rebuild(x, _block_prox(cast(step, dt) * _scalar("lam", self.lam, dt), _leaves(x)))

    def min_norm(self, x, g):
        lam = _scalar("lam", self.lam, tree_dtype(x))
        return _rebuild(x, _block_min_norm(lam, _leaves(x), _leaves(g)))

    def directional(self, x, d):
        lam = _scalar("lam", self.lam, tree_dtype(x))
        return _block_directional(lam, _leaves(x), _leaves(d))


def l2(lam: Any) -> L2:
    r"""The Euclidean norm, not squared: :math:`h(x) = \lambda \|x\|_2` over all leaves of x.

    Its prox is block soft-thresholding, which sets the whole pytree to 0 at once:

    .. math::

      \mathrm{prox}_{t h}(x) = x \max\left(1 - \frac{t\lambda}{\|x\|_2}, 0\right)

    ``min_norm`` is exact (:math:`g + \lambda x/\|x\|` for x != 0, the block soft-threshold of
    g at :math:`\lambda` for x = 0), and so is ``directional``
    (:math:`\lambda\langle x, d\rangle/\|x\|`, or :math:`\lambda\|d\|` at 0). Value, prox and
    their jacobians are finite at x = 0.

    Args:
      lam: lambda >= 0, a scalar (an array may be traced or vmapped).

    Returns:
      An `L2` regularizer.

    Raises:
      TypeError: ``lam`` is not a real number.
      ValueError: a concrete ``lam`` that is negative, NaN or infinite.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> so.prox.l2(1.0).prox(jnp.array([3.0, 4.0]), 1.0).tolist()
      [2.4000000953674316, 3.200000047683716]

    References:
      Yuan and Lin, *Model selection and estimation in regression with grouped variables*,
      JRSS B, 2006. Parikh and Boyd, *Proximal Algorithms*, 2014, section 6.5.1.
    """
    return L2(hyperparameter_tree("lam", lam))


@regularizer
class GroupL2(Regularizer):
    """h(x) = sum over leaves of lam_leaf ||leaf||_2 (see `group_l2`)."""

    lam: Any

    def _lams(self, x):
        return leaf_params("lam", self.lam, x, scalar_only=True)

    def value(self, x):
        parts = [_block_value(w, [v]) for w, v in zip(self._lams(x), _leaves(x))]
        return tree_sum(parts).astype(tree_dtype(x))

    def prox(self, x, step):
        check_step(step)
        out = [_block_prox(cast(step, v.dtype) * w, [v])[0]
               for w, v in zip(self._lams(x), _leaves(x))]
        return _rebuild(x, out)

    def min_norm(self, x, g):
        out = [_block_min_norm(w, [v], [gv])[0]
               for w, v, gv in zip(self._lams(x), _leaves(x), _leaves(g))]
        return _rebuild(x, out)

    def directional(self, x, d):
        parts = [_block_directional(w, [v], [dv])
                 for w, v, dv in zip(self._lams(x), _leaves(x), _leaves(d))]
        return tree_sum(parts).astype(tree_dtype(x))


def group_l2(lam: Any) -> GroupL2:
    r"""The group norm :math:`h(x) = \sum_{\text{leaves } b} \lambda_b \|x_b\|_2`.

    Each leaf of the pytree is one group, block soft-thresholded on its own:

    .. math::

      \mathrm{prox}_{t h}(x)_b = x_b \max\left(1 - \frac{t\lambda_b}{\|x_b\|_2}, 0\right)

    ``min_norm`` and ``directional`` are exact (those of `l2`, leaf by leaf). For groups of a
    single array, pass a list or dict of its blocks.

    Args:
      lam: lambda >= 0: a scalar shared by every group, or a pytree like x of scalars (e.g.
        lambda times the square root of each group's size).

    Returns:
      A `GroupL2` regularizer.

    Raises:
      TypeError: ``lam`` is not real.
      ValueError: a concrete weight that is negative, NaN or infinite; at the first call, a
        structure or shape that does not match x.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> out = so.prox.group_l2(1.0).prox({"a": jnp.array([3.0, 4.0]), "b": jnp.full(2, 0.5)}, 1.0)
      >>> out["b"].tolist()
      [0.0, 0.0]

    References:
      Yuan and Lin, *Model selection and estimation in regression with grouped variables*,
      JRSS B, 2006.
    """
    return GroupL2(hyperparameter_tree("lam", lam))


@regularizer
class ElasticNet(Regularizer):
    """h(x) = sum l1_i |x_i| + (1/2) sum l2_i x_i^2 (see `elastic_net`)."""

    l1: Any
    l2: Any

    def _map(self, fn, *trees):
        l1s = leaf_params("l1", self.l1, trees[0])
        l2s = leaf_params("l2", self.l2, trees[0])
        cols = zip(l1s, l2s, *[_leaves(t) for t in trees])
        return _rebuild(trees[0], [fn(a, b, *vs) for a, b, *vs in cols])

    def value(self, x):
        def leaf(a, b, v):
            m = jnp.abs(v)
            return jnp.sum(a * m + 0.5 * (b * m) * m)  # (b m) m: no overflow of m^2 first

        return tree_sum(_leaves(self._map(leaf, x))).astype(tree_dtype(x))

    def prox(self, x, step):
        check_step(step)

        def leaf(a, b, v):
            t = cast(step, v.dtype)
            return shrink(v, t * a) / (1 + t * b)

        return self._map(leaf, x)

    def min_norm(self, x, g):
        def leaf(a, b, v, gv):
            gv = gv.astype(v.dtype) + b * v
            return jnp.where(v != 0, gv + a * jnp.sign(v), shrink(gv, a))

        return self._map(leaf, x, g)

    def directional(self, x, d):
        def leaf(a, b, v, dv):
            dv = dv.astype(v.dtype)
            return jnp.sum(a * jnp.where(v != 0, jnp.sign(v) * dv, jnp.abs(dv)) + b * v * dv)

        return tree_sum(_leaves(self._map(leaf, x, d))).astype(tree_dtype(x))


def elastic_net(l1: Any, l2: Any) -> ElasticNet:
    r"""The elastic net :math:`h(x) = \lambda_1 \|x\|_1 + \frac{\lambda_2}{2} \|x\|_2^2`.

    .. math::

      \mathrm{prox}_{t h}(x)_i = \frac{\mathrm{sign}(x_i) \max(|x_i| - t\lambda_1, 0)}
                                      {1 + t\lambda_2}

    ``min_norm`` (:math:`g + \lambda_2 x + \lambda_1 \mathrm{sign}(x)` off zero, the
    soft-threshold of g at :math:`\lambda_1` on zeros) and ``directional`` are exact.

    Args:
      l1: lambda_1 >= 0: a scalar, an array of the shape of every leaf of x, or a pytree like x.
      l2: lambda_2 >= 0, the same forms.

    Returns:
      An `ElasticNet` regularizer.

    Raises:
      TypeError: a weight that is not real.
      ValueError: a concrete weight that is negative, NaN or infinite; at the first call, a
        weight shape that does not match x.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> so.prox.elastic_net(1.0, 1.0).prox(jnp.array([3.0, -0.5]), 1.0).tolist()
      [1.0, -0.0]

    References:
      Zou and Hastie, *Regularization and variable selection via the elastic net*, JRSS B,
      2005.
    """
    return ElasticNet(hyperparameter_tree("l1", l1), hyperparameter_tree("l2", l2))
