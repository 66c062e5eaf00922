"""The minimum-norm point of a convex hull of a few vectors, given their Gram matrix.

Solves the small QP :math:`\\min_\\lambda \\lambda^T Q \\lambda` over the simplex restricted to
an ``active`` subset, with :math:`Q_{ij} = \\langle g_i, g_j \\rangle`, so that
:math:`\\sum_i \\lambda_i g_i` is the minimum-norm point of :math:`\\operatorname{conv}\\{g_i\\}`.
Two points have a closed form; more use Wolfe's exact active-set method in a ``while_loop``
capped at a fixed number of iterations (it ends in finitely many steps; the cap only guards
rounding), written with masks so that it runs under ``jit`` and ``vmap``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def two_point_weights(q: jax.Array, active: jax.Array) -> jax.Array:
    r"""Weights of the minimum-norm point of the segment [g_0, g_1] (or of the active end).

    .. math::

      \lambda_0 = \operatorname{clip}\Big(\frac{Q_{11} - Q_{01}}{Q_{00} - 2 Q_{01} + Q_{11}},
      0, 1\Big), \qquad \lambda_1 = 1 - \lambda_0
    """
    dtype = q.dtype
    den = q[0, 0] - 2 * q[0, 1] + q[1, 1]
    tiny = jnp.finfo(dtype).tiny
    lam0 = jnp.where(den > tiny, (q[1, 1] - q[0, 1]) / jnp.where(den > tiny, den, 1), 0.5)
    lam0 = jnp.clip(lam0, 0, 1)
    lam0 = jnp.where(active[0] & active[1], lam0, jnp.where(active[0], 1.0, 0.0))
    return jnp.stack([lam0, 1 - lam0]).astype(dtype)


def _affine_min(q: jax.Array, support: jax.Array) -> jax.Array:
    """argmin mu^T Q mu subject to sum(mu) = 1 and mu = 0 off ``support``.

    With Q_S the (ridged, so positive definite) Gram block of the support,
    mu = Q_S^-1 1 / (1^T Q_S^-1 1); solved by Cholesky, the rest of Q replaced by I.
    """
    k = q.shape[0]
    eye = jnp.eye(k, dtype=q.dtype)
    ridge = 16 * jnp.finfo(q.dtype).eps
    qs = jnp.where(support[:, None] & support[None, :], q + ridge * eye, eye)
    chol = jax.lax.linalg.cholesky(qs)
    ones = support.astype(q.dtype)[:, None]
    z = jax.lax.linalg.triangular_solve(chol, ones, left_side=True, lower=True)
    z = jax.lax.linalg.triangular_solve(chol, z, left_side=True, lower=True, transpose_a=True)
    z = jnp.where(support, z[:, 0], 0)
    return z / jnp.sum(z)


def wolfe_weights(
    q: jax.Array, active: jax.Array, max_iter: int, start: jax.Array | None = None
) -> jax.Array:
    r"""Weights of the minimum-norm point of conv{g_i : active_i}, by Wolfe's method.

    .. math::

      \lambda^\star = \arg\min \{\lambda^T Q \lambda : \lambda \ge 0,\ \textstyle\sum_i
      \lambda_i = 1,\ \lambda_i = 0 \text{ for inactive } i\}

    Each step either moves to the affine minimiser of the current support (and, when that is
    optimal for the support, adds the active point most opposed to the current one, or stops
    when none improves by more than a relative tolerance), or moves toward it until a weight
    reaches 0 and drops that point. ``start`` (optional weights, e.g. the solution before
    more points became active) warm-starts the method from its support.

    References:
      P. Wolfe, "Finding the nearest point in a polytope", Math. Programming 11 (1976).
    """
    k = q.shape[0]
    dtype = q.dtype
    scale = jnp.max(jnp.where(active, jnp.diagonal(q), 0))
    q = q / jnp.where(scale > 0, scale, 1)
    tol = 8 * k * jnp.finfo(dtype).eps
    big = jnp.asarray(jnp.inf, dtype)
    first = jnp.argmin(jnp.where(active, jnp.diagonal(q), big))
    lam0 = jax.nn.one_hot(first, k, dtype=dtype)
    if start is not None:
        warm = jnp.where(active, jnp.maximum(start.astype(dtype), 0), 0)
        total = jnp.sum(warm)
        lam0 = jnp.where(total > 0, warm / jnp.where(total > 0, total, 1), lam0)

    def cond(state):
        _, _, done, it = state
        return (~done) & (it < max_iter)

    def body(state):
        lam, support, _, it = state
        mu = _affine_min(q, support)
        interior = jnp.all(jnp.where(support, mu > 0, True))
        # (a) mu is in the relative interior: move there, then add a point or stop.
        w = q @ mu
        val = mu @ w
        candidates = jnp.where(active & ~support, w, big)
        j = jnp.argmin(candidates)
        improves = candidates[j] < val - tol
        lam_a, support_a = mu, support.at[j].set(support[j] | improves)
        # (b) move from lam toward mu until a weight hits 0; drop the points that hit 0.
        shrinking = support & (mu < lam)
        ratio = jnp.where(shrinking, lam / jnp.where(shrinking, lam - mu, 1), big)
        theta = jnp.clip(jnp.min(ratio), 0, 1)
        lam_b = jnp.where(support, lam + theta * (mu - lam), 0)
        drop = support & (lam_b <= tol * jnp.max(lam_b))
        support_b = support & ~drop
        lam_b = jnp.where(support_b, lam_b, 0)
        lam = jnp.where(interior, lam_a, lam_b)
        support = jnp.where(interior, support_a, support_b)
        done = interior & ~improves
        return lam, support, done, it + 1

    state = (lam0, lam0 > 0, jnp.zeros((), bool), jnp.zeros((), jnp.int32))
    lam, *_ = jax.lax.while_loop(cond, body, state)
    lam = jnp.where(active, jnp.maximum(lam, 0), 0)
    return lam / jnp.sum(lam)


def min_norm_weights(q: jax.Array, active: jax.Array) -> jax.Array:
    """Weights of the minimum-norm point of conv{g_i : active_i}; closed form for k = 2."""
    k = q.shape[0]
    if k == 1:
        return jnp.ones((1,), q.dtype)
    if k == 2:
        return two_point_weights(q, active)
    return wolfe_weights(q, active, max_iter=10 * k + 10)
