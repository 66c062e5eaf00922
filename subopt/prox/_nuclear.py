"""The nuclear norm (sum of singular values) of every 2-D leaf: singular value thresholding,
and its exact subdifferential calculus through one full SVD per leaf."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from subopt._tree import tree_sum
from subopt.prox._base import (
    Regularizer,
    cast,
    check_step,
    hyperparameter_tree,
    leaf_params,
    register,
    tree_dtype,
    valid_weights,
)


def _matrix(v):
    if jnp.ndim(v) != 2:
        raise ValueError(
            f"nuclear acts on 2-D leaves (matrices), got a leaf of shape {jnp.shape(v)}; "
            "vmap over leading batch axes"
        )
    return v


def _svt(v, t):
    """U diag(max(s - t, 0)) V^T."""
    u, s, vt = jnp.linalg.svd(v, full_matrices=False)
    return (u * jnp.maximum(s - t, 0)) @ vt


def _rank_mask(s, shape):
    """Singular values counted as nonzero: above max(m, n) * eps * the largest one."""
    tol = max(shape) * jnp.finfo(s.dtype).eps * jnp.max(s, initial=0.0)
    return s > tol


def _split(v):
    """Singular vectors of the numerical range: U_r (m x k), V_r (n x k), k = min(m, n), with
    the columns of the zero singular values set to 0."""
    u, s, vt = jnp.linalg.svd(v, full_matrices=False)
    mask = _rank_mask(s, v.shape)
    return u * mask, vt.T * mask


def _off_range(a, ur, vr):
    """P a Q with P, Q the projectors onto the complements of range(ur) and range(vr)."""
    a = a - ur @ (ur.T @ a)
    return a - (a @ vr) @ vr.T


@register
class Nuclear(Regularizer):
    """h(X) = sum over 2-D leaves of lam ||X||_* (see `nuclear`)."""

    lam: Any

    def is_valid(self):
        return valid_weights(self.lam)

    def _lams(self, x):
        return leaf_params("lam", self.lam, x, scalar_only=True)

    def value(self, x):
        parts = [
            w * jnp.sum(jnp.linalg.svd(_matrix(v), compute_uv=False))
            for w, v in zip(self._lams(x), jax.tree_util.tree_leaves(x))
        ]
        return tree_sum(parts).astype(tree_dtype(x))

    def prox(self, x, step):
        check_step(step)
        out = [
            _svt(_matrix(v), cast(step, v.dtype) * w)
            for w, v in zip(self._lams(x), jax.tree_util.tree_leaves(x))
        ]
        return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(x), out)

    def min_norm(self, x, g):
        # G + lam (U_r V_r^T + W), U_r^T W = 0, W V_r = 0, ||W||_2 <= 1: the part of G in the
        # complement, P G Q, is orthogonal to the rest, and min ||P G Q + lam W||_F over the
        # spectral ball is its singular value thresholding at lam.
        out = []
        for w, v, gv in zip(
            self._lams(x), jax.tree_util.tree_leaves(x), jax.tree_util.tree_leaves(g)
        ):
            ur, vr = _split(_matrix(v))
            gv = gv.astype(v.dtype)
            off = _off_range(gv, ur, vr)
            out.append(gv + w * (ur @ vr.T) - off + _svt(off, w))
        return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(x), out)

    def directional(self, x, d):
        # h'(X; D) = lam (tr(U_r^T D V_r) + ||U_perp^T D V_perp||_*).
        parts = []
        for w, v, dv in zip(
            self._lams(x), jax.tree_util.tree_leaves(x), jax.tree_util.tree_leaves(d)
        ):
            ur, vr = _split(_matrix(v))
            dv = dv.astype(v.dtype)
            on = jnp.sum(ur * (dv @ vr))
            off = jnp.sum(jnp.linalg.svd(_off_range(dv, ur, vr), compute_uv=False))
            parts.append(w * (on + off))
        return tree_sum(parts).astype(tree_dtype(x))


def nuclear(lam: Any) -> Nuclear:
    r"""The nuclear norm :math:`h(X) = \lambda \|X\|_* = \lambda \sum_i \sigma_i(X)`, per 2-D leaf.

    Its prox is singular value thresholding:

    .. math::

      \mathrm{prox}_{t h}(X) = U \mathrm{diag}(\max(\sigma - t\lambda, 0)) V^\top,
      \qquad X = U \mathrm{diag}(\sigma) V^\top

    ``min_norm`` is exact up to the numerical rank (singular values above
    max(m, n) eps sigma_max count as nonzero):
    :math:`G + \lambda U_r V_r^\top - P G Q + \mathrm{SVT}_\lambda(P G Q)`, with P, Q the
    projectors onto the complements of the singular subspaces. ``directional`` is
    :math:`\lambda(\mathrm{tr}(U_r^\top D V_r) + \|U_\perp^\top D V_\perp\|_*)`. Every leaf
    must be a matrix (vmap over batch axes); jacobians through the SVD are undefined where
    singular values repeat (e.g. at 0).

    Args:
      lam: lambda >= 0: a scalar, or a pytree like x of scalars (one weight per matrix).

    Returns:
      A `Nuclear` regularizer.

    Raises:
      TypeError: ``lam`` is not real.
      ValueError: a concrete ``lam`` that is negative, NaN or infinite; at the first call, a
        leaf that is not 2-D.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> so.prox.nuclear(1.0).prox(jnp.diag(jnp.array([3.0, 0.5])), 1.0).tolist()
      [[2.0, 0.0], [0.0, 0.0]]

    References:
      Cai, Candes and Shen, *A singular value thresholding algorithm for matrix completion*,
      SIAM J. Optim., 2010. Watson, *Characterization of the subdifferential of some matrix
      norms*, Linear Algebra Appl., 1992.
    """
    return Nuclear(hyperparameter_tree("lam", lam))
