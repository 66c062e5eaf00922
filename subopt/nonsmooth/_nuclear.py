"""The nuclear norm of a matrix, with gradient U_r V_r^T over the numerically nonzero
singular values, and a second derivative that stays finite at repeated singular values.

With the thin SVD :math:`X = U \\Sigma V^T` and r the numerical rank, the subdifferential is
:math:`\\{U_r V_r^T + W : U_r^T W = 0,\\ W V_r = 0,\\ \\|W\\|_2 \\le 1\\}`; W is Frobenius-
orthogonal to :math:`U_r V_r^T`, so the minimum-norm element is :math:`U_r V_r^T` (0 at
X = 0). Singular values :math:`\\le \\max(m, n)\\, \\varepsilon\\, \\sigma_{\\max}` count as
zero (numpy's ``matrix_rank`` rule, eps of the dtype). The gradient map
:math:`G(X) = U_r V_r^T` has its own derivative rule (below), so second derivatives are exact
where X has full rank and finite everywhere; third and higher derivatives are 0 (the singular
factors are held fixed in G's rule).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from subopt.nonsmooth._elementwise import as_real


def _factors(x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Thin SVD of ``x`` (held fixed under differentiation) and the mask of kept values."""
    u, s, vt = jnp.linalg.svd(jax.lax.stop_gradient(x), full_matrices=False)
    m, n = x.shape
    cutoff = max(m, n) * jnp.finfo(x.dtype).eps * jnp.max(s, initial=0)
    keep = s > cutoff
    return u * keep.astype(u.dtype), s, vt.T * keep.astype(u.dtype), keep


@jax.custom_jvp
def _polar(x: jax.Array) -> jax.Array:
    """G(X) = U_r V_r^T, the minimum-norm subgradient of the nuclear norm."""
    ur, _, vr, _ = _factors(x)
    return ur @ vr.T


@_polar.defjvp
def _polar_jvp(primals, tangents):
    # With A = U_r^T T V_r, the derivative of U_r V_r^T along T on the rank-r manifold is
    #   U_r K V_r^T + (I - U_r U_r^T) T V_r S^-1 V_r^T + U_r S^-1 U_r^T T (I - V_r V_r^T),
    # K_ij = (A_ij - A_ji) / (s_i + s_j): finite at repeated singular values.
    (x,), (t,) = primals, tangents
    ur, s, vr, keep = _factors(x)
    one = jnp.ones((), s.dtype)
    inv = jnp.where(keep, one / jnp.where(keep, s, one), 0)
    both = keep[:, None] & keep[None, :]
    a = ur.T @ t @ vr
    k = jnp.where(both, (a - a.T) / jnp.where(both, s[:, None] + s[None, :], one), 0)
    tv = t @ vr
    ut = ur.T @ t
    d_rot = ur @ k @ vr.T
    d_left = ((tv - ur @ (ur.T @ tv)) * inv) @ vr.T
    d_right = ur @ (inv[:, None] * (ut - (ut @ vr) @ vr.T))
    return ur @ vr.T, d_rot + d_left + d_right


@jax.custom_jvp
def _nuclear(x: jax.Array) -> jax.Array:
    return jnp.sum(jnp.linalg.svd(x, compute_uv=False))


@_nuclear.defjvp
def _nuclear_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return _nuclear(x), jnp.sum(_polar(x) * t)


def nuclear_norm(X: Any) -> jax.Array:
    r"""The nuclear norm (sum of singular values) with the minimum-norm subgradient.

    .. math::

      \|X\|_* = \sum_i \sigma_i(X), \qquad
      g^\star = U_r V_r^T, \quad r = \#\{i : \sigma_i > \max(m, n)\, \varepsilon\,
      \sigma_{\max}\}

    ``jax.grad`` of the sum of ``jnp.linalg.svd`` values gives the full :math:`U V^T` (the
    identity at X = 0, and a non-minimal subgradient at rank-deficient X); this rule drops
    the directions of zero singular values, so the gradient is 0 at X = 0.

    Args:
      X: a real 2-D array (use ``jax.vmap`` for a batch).

    Returns:
      A scalar of ``X``'s dtype.

    Raises:
      TypeError: ``X`` is complex.
      ValueError: ``X`` is not 2-D.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from subopt import nonsmooth as ns
      >>> jax.grad(ns.nuclear_norm)(jnp.zeros((2, 2))).tolist()
      [[0.0, 0.0], [0.0, 0.0]]
      >>> jax.grad(ns.nuclear_norm)(jnp.diag(jnp.array([3.0, 0.0]))).tolist()
      [[1.0, 0.0], [0.0, 0.0]]

    References:
      G. A. Watson, "Characterization of the subdifferential of some matrix norms",
      Linear Algebra Appl. 170 (1992).
    """
    X = as_real("X", X)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D matrix, got shape {X.shape}")
    if not jnp.issubdtype(X.dtype, jnp.inexact):
        X = X.astype(jnp.result_type(float))
    return _nuclear(X)
