"""Euclidean-norm penalties: the global L2 norm (block soft-thresholding), the group L2 norm
with one group per pytree leaf, the elastic net and ridge. Norms are `subopt._tree.tree_norm`
(overflow-safe, derivative 0 at 0), so value, prox and their jacobians are finite at 0.
Groups given by integer labels live in `subopt.prox._groups`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from subopt._tree import tree_norm, tree_sum, tree_vdot
from subopt.prox._base import (
    Regularizer,
    cast,
    check_step,
    hyperparameter_tree,
    leaf_params,
    rebuild,
    register,
    scalar_radius,
    tree_dtype,
    valid_weights,
)
from subopt.prox._l1 import shrink

# ----------------------------------------------------------------- one block: lam * ||leaves||_2


def block_factor(n: jax.Array, tl: jax.Array) -> jax.Array:
    """max(1 - tl / n, 0), the block soft-threshold's scale, exact at the kinks: 1 when
    tl = 0 (the identity, also at n = 0), 0 on n <= tl, NaN for a NaN n or tl."""
    tl = tl.astype(n.dtype)
    keep = (n > tl) | (tl == 0)
    safe = jnp.where(n > 0, n, jnp.ones((), n.dtype))
    factor = jnp.where(keep, 1 - tl / safe, jnp.zeros((), n.dtype))
    return jnp.where(jnp.isnan(n) | jnp.isnan(tl), jnp.full((), jnp.nan, n.dtype), factor)


def block_prox(tl: jax.Array, leaves: list) -> list:
    """x * max(1 - tl / ||x||, 0) over the leaves as one vector."""
    factor = block_factor(tree_norm(leaves), tl)
    return [v * factor.astype(v.dtype) for v in leaves]


def block_min_norm(lam: jax.Array, xs: list, gs: list) -> list:
    """g + lam x / ||x|| when x != 0; block soft-threshold of g at lam when x = 0."""
    gs = [g.astype(x.dtype) for g, x in zip(gs, xs)]
    n = tree_norm(xs)
    lam = lam.astype(n.dtype)
    nonzero = n > 0
    safe_n = jnp.where(nonzero, n, jnp.ones((), n.dtype))
    shrunk = block_prox(lam, gs)
    return [
        jnp.where(nonzero, g + (lam * (x / safe_n.astype(x.dtype))).astype(x.dtype), s)
        for x, g, s in zip(xs, gs, shrunk)
    ]


def block_directional(lam: jax.Array, xs: list, ds: list) -> jax.Array:
    """lam <x, d> / ||x|| when x != 0; lam ||d|| when x = 0."""
    n = tree_norm(xs)
    lam = lam.astype(n.dtype)
    safe_n = jnp.where(n > 0, n, jnp.ones((), n.dtype))
    ds = [d.astype(x.dtype) for d, x in zip(ds, xs)]
    slope = tree_vdot([x / safe_n.astype(x.dtype) for x in xs], ds).astype(n.dtype)
    return jnp.where(n > 0, lam * slope, lam * tree_norm(ds).astype(n.dtype))


def _leaves(x):
    return jax.tree_util.tree_leaves(x)


@register
class L2(Regularizer):
    """h(x) = lam ||x||_2, the global Euclidean norm of the pytree (see `l2`)."""

    lam: Any

    def is_valid(self):
        return valid_weights(self.lam)

    def _lam(self, x):
        return scalar_radius(self.lam, tree_dtype(x), "lam")

    def value(self, x):
        return self._lam(x) * tree_norm(_leaves(x))

    def prox(self, x, step):
        check_step(step)
        return rebuild(x, block_prox(cast(step, tree_dtype(x)) * self._lam(x), _leaves(x)))

    def min_norm(self, x, g):
        return rebuild(x, block_min_norm(self._lam(x), _leaves(x), _leaves(g)))

    def directional(self, x, d):
        return block_directional(self._lam(x), _leaves(x), _leaves(d))


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
      >>> [round(v, 5) for v in so.prox.l2(1.0).prox(jnp.array([3.0, 4.0]), 1.0).tolist()]
      [2.4, 3.2]

    References:
      Yuan and Lin, *Model selection and estimation in regression with grouped variables*,
      JRSS B, 2006. Parikh and Boyd, *Proximal Algorithms*, 2014, section 6.5.1.
    """
    return L2(hyperparameter_tree("lam", lam))


@register
class GroupL2(Regularizer):
    """h(x) = sum over leaves of lam_leaf ||leaf||_2 (see `group_l2`)."""

    lam: Any

    def is_valid(self):
        return valid_weights(self.lam)

    def _lams(self, x):
        return leaf_params("lam", self.lam, x, scalar_only=True)

    def value(self, x):
        parts = [w * tree_norm(v) for w, v in zip(self._lams(x), _leaves(x))]
        return tree_sum(parts).astype(tree_dtype(x))

    def prox(self, x, step):
        check_step(step)
        out = [
            block_prox(cast(step, v.dtype) * w, [v])[0] for w, v in zip(self._lams(x), _leaves(x))
        ]
        return rebuild(x, out)

    def min_norm(self, x, g):
        out = [
            block_min_norm(w, [v], [gv])[0]
            for w, v, gv in zip(self._lams(x), _leaves(x), _leaves(g))
        ]
        return rebuild(x, out)

    def directional(self, x, d):
        parts = [
            block_directional(w, [v], [dv])
            for w, v, dv in zip(self._lams(x), _leaves(x), _leaves(d))
        ]
        return tree_sum(parts).astype(tree_dtype(x))


@register
class ElasticNet(Regularizer):
    """h(x) = sum l1_i |x_i| + (1/2) sum l2_i x_i^2 (see `elastic_net`)."""

    l1: Any
    l2: Any

    def is_valid(self):
        return valid_weights(self.l1, self.l2)

    def _map(self, fn, *trees):
        l1s = leaf_params("l1", self.l1, trees[0])
        l2s = leaf_params("l2", self.l2, trees[0])
        cols = zip(l1s, l2s, *[_leaves(t) for t in trees])
        return rebuild(trees[0], [fn(a, b, *vs) for a, b, *vs in cols])

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
    soft-threshold of g at :math:`\lambda_1` on zeros) and ``directional`` are exact. The
    prox's jacobian is :math:`1/(1 + t\lambda_2)` where it is linear, also at 0 when
    :math:`\lambda_1 = 0`.

    Args:
      l1: lambda_1 >= 0: a scalar, an array of the shape of every leaf of x, or a pytree like x
        (or a prefix of x's structure).
      l2: lambda_2 >= 0, the same forms.

    Returns:
      An `ElasticNet` regularizer.

    Raises:
      TypeError: a weight that is not real.
      ValueError: a concrete weight that is negative, NaN or infinite; at the first call, a
        weight shape or structure that does not match x.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> so.prox.elastic_net(1.0, 1.0).prox(jnp.array([3.0, -0.5]), 1.0).tolist()
      [1.0, 0.0]

    References:
      Zou and Hastie, *Regularization and variable selection via the elastic net*, JRSS B,
      2005.
    """
    return ElasticNet(hyperparameter_tree("l1", l1), hyperparameter_tree("l2", l2))


def ridge(lam: Any) -> ElasticNet:
    r"""Ridge, the squared Euclidean norm :math:`h(x) = \frac{\lambda}{2} \|x\|_2^2`.

    .. math::

      \mathrm{prox}_{t h}(x) = \frac{x}{1 + t\lambda}, \qquad
      \text{min\_norm}(x, g) = g + \lambda x

    (jaxopt's ``prox_ridge``). It is ``elastic_net(0, lam)``, the elastic net with no L1 part.

    Args:
      lam: lambda >= 0, the forms of `l1`.

    Returns:
      An `ElasticNet` regularizer with ``l1 = 0``.

    Raises:
      TypeError: ``lam`` is not real.
      ValueError: a concrete ``lam`` that is negative, NaN or infinite.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> so.prox.ridge(1.0).prox(jnp.array([3.0, -0.5]), 1.0).tolist()
      [1.5, -0.25]

    References:
      Hoerl and Kennard, *Ridge regression*, Technometrics, 1970.
    """
    lam = hyperparameter_tree("lam", lam)
    return ElasticNet(jax.tree_util.tree_map(jnp.zeros_like, lam), lam)
