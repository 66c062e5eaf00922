r"""Restarted GMRES that stops at the first Krylov step meeting its tolerance.

``jax.scipy.sparse.linalg.gmres`` (its default ``solve_method="batched"``) tests the
residual once per restart cycle, so a system that converges in 5 steps still pays for a
whole cycle of ``restart`` matrix-vector products, and each product is a Hessian-vector
product of the objective here. This one works on the flattened vector: Arnoldi with
classical Gram-Schmidt applied twice (numerically as good as modified Gram-Schmidt, and two
products with the basis instead of a loop), and Givens rotations that keep the residual norm
:math:`|g_{k+1}|` known at every step, so the inner loop stops as soon as

.. math::

  \|M x_k - b\| \le \mathrm{tol}\,\|b\|,

and one triangular solve per cycle.

References:
  Saad and Schultz, *GMRES: a generalized minimal residual algorithm for solving
  nonsymmetric linear systems*, SIAM J. Sci. Stat. Comput., 1986. Giraud, Langou and
  Rozloznik, *The loss of orthogonality in the Gram-Schmidt orthogonalization process*,
  Comput. Math. Appl., 2005.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

PyTree = Any


def _givens(a: jax.Array, b: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(c, s, r) with [[c, s], [-s, c]] @ [a, b] = [r, 0]."""
    r = jnp.hypot(a, b)
    safe = jnp.where(r > 0, r, 1)
    return jnp.where(r > 0, a / safe, 1), jnp.where(r > 0, b / safe, 0), r


def _cycle(mv, x, b, atol, restart):
    """One GMRES(restart) cycle from x; returns the new x and its residual norm estimate."""
    n, dtype = b.shape[0], b.dtype
    r = b - mv(x)
    beta = jnp.linalg.norm(r)
    basis = jnp.zeros((restart + 1, n), dtype).at[0].set(r / jnp.where(beta > 0, beta, 1))
    h = jnp.eye(restart, dtype=dtype)  # R of the rotated Hessenberg matrix (identity padding)
    g = jnp.zeros(restart + 1, dtype).at[0].set(beta)
    cs, sn = jnp.ones(restart, dtype), jnp.zeros(restart, dtype)

    def cond(c):
        k, _, _, g, _, _ = c
        return (k < restart) & (jnp.abs(g[k]) > atol)

    def body(c):
        k, basis, h, g, cs, sn = c
        w = mv(basis[k])
        col = basis @ w  # rows beyond k are zero
        w = w - col @ basis
        again = basis @ w  # second pass: orthogonal to working precision
        w, col = w - again @ basis, col + again
        norm = jnp.linalg.norm(w)
        basis = basis.at[k + 1].set(w / jnp.where(norm > 0, norm, 1))

        def rotate(i, col):  # apply the earlier rotations to the new column
            a, b = col[i], col[i + 1]
            live = i < k
            ca, sa = jnp.where(live, cs[i], 1), jnp.where(live, sn[i], 0)
            return col.at[i].set(ca * a + sa * b).at[i + 1].set(-sa * a + ca * b)

        col = jax.lax.fori_loop(0, restart - 1, rotate, col[:restart])
        c, s, rk = _givens(col[k], norm)
        col = col.at[k].set(jnp.where(rk > 0, rk, 1))  # singular M: no NaN, no progress
        h = h.at[:, k].set(jnp.where(jnp.arange(restart) <= k, col, h[:, k]))
        g = g.at[k + 1].set(-s * g[k]).at[k].set(c * g[k])
        return k + 1, basis, h, g, cs.at[k].set(c), sn.at[k].set(s)

    c0 = (jnp.zeros((), jnp.int32), basis, h, g, cs, sn)
    k, basis, h, g, _, _ = jax.lax.while_loop(cond, body, c0)
    rhs = jnp.where(jnp.arange(restart) < k, g[:restart], 0)

    def back(j, y):  # back substitution, row i = restart - 1 - j of the triangle h
        i = restart - 1 - j
        return y.at[i].set((rhs[i] - h[i] @ y) / h[i, i])

    y = jax.lax.fori_loop(0, restart, back, jnp.zeros(restart, dtype))
    return x + y @ basis[:restart], jnp.abs(g[k])


def gmres(
    matvec: Callable[[PyTree], PyTree],
    b: PyTree,
    *,
    tol: float = 1e-6,
    restart: int = 20,
    maxiter: int = 200,
) -> PyTree:
    r"""Solve :math:`M x = b` for an invertible linear ``matvec`` by restarted GMRES from 0.

    Args:
      matvec: ``v -> M v`` over pytrees like ``b``.
      b: the right-hand side, a pytree of floating arrays.
      tol: stop when :math:`\|M x - b\| \le \mathrm{tol}\,\|b\|` (at once for b = 0).
      restart: the Krylov dimension of a cycle.
      maxiter: the most matrix-vector products, over all cycles.

    Returns:
      x, a pytree like ``b`` (the last iterate when ``maxiter`` runs out).

    Example:
      >>> import jax.numpy as jnp
      >>> from subopt._gmres import gmres
      >>> m = jnp.array([[2.0, 1.0], [0.0, 3.0]])
      >>> gmres(lambda v: m @ v, jnp.array([3.0, 3.0]), tol=1e-7).round(5).tolist()
      [1.0, 1.0]
    """
    flat, unravel = ravel_pytree(b)
    restart = max(1, min(restart, flat.shape[0]))
    cycles = max(1, -(-maxiter // restart))

    def mv(v):
        return ravel_pytree(matvec(unravel(v)))[0].astype(flat.dtype)

    atol = tol * jnp.linalg.norm(flat)

    def cond(c):
        i, _, res = c
        return (i < cycles) & (res > atol)

    def body(c):
        i, x, _ = c
        x, res = _cycle(mv, x, flat, atol, restart)
        return i + 1, x, res

    inf = jnp.full((), jnp.inf, flat.dtype)
    _, x, _ = jax.lax.while_loop(cond, body, (0, jnp.zeros_like(flat), inf))
    return unravel(x)


__all__ = ["gmres"]
