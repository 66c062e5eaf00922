r"""Proximal gradient with Anderson acceleration on one working set, stopped on its gap.

Plain proximal gradient steps (ISTA), :math:`x_{k+1} = T(x_k) = \mathrm{prox}_{t g}(x_k - t
\nabla F(x_k))`, converge linearly once the support is identified, at a rate set by the
conditioning of the working-set block, which correlated designs make poor. Anderson
acceleration uses the last ``memory + 1`` iterates to extrapolate: with
:math:`U = [x_1 - x_0, \dots, x_m - x_{m-1}]`, it finds the affine combination whose residual
is smallest,

.. math::

  c = \arg\min_{\mathbf 1^\top c = 1} \|U c\|_2
    = \frac{(U^\top U)^{-1}\mathbf 1}{\mathbf 1^\top (U^\top U)^{-1}\mathbf 1}, \qquad
  x_e = \sum_{i=1}^m c_i x_i,

and keeps :math:`x_e` only when it lowers the objective :math:`F + g` (the guard that makes
the extrapolation safe; on a fixed support T is affine and :math:`x_e` is close to its fixed
point). Each cycle costs ``memory`` steps, one objective value at :math:`x_e` and an
``memory x memory`` solve. The intercept, when fitted, is one more coordinate of x.

References:
  Anderson, *Iterative procedures for nonlinear integral equations*, J. ACM, 1965. Mai and
  Johansson, *Anderson acceleration of proximal gradient methods*, ICML, 2020. Bertrand and
  Massias, *Anderson acceleration of coordinate descent*, AISTATS, 2021.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from subopt.linear_model._inner import until_gap


class _State(NamedTuple):
    w: jax.Array
    b: jax.Array
    z: Any
    it: jax.Array
    gap: jax.Array


def extrapolation_weights(u: jax.Array) -> jax.Array:
    r"""The Anderson weights :math:`c` for the residual rows ``u`` (``m x d``): the minimizer
    of :math:`\|u^\top c\|` over :math:`\mathbf 1^\top c = 1`, from the normalized Gram
    matrix with a relative ridge of 1e-10 (rows are nearly dependent near convergence; a
    non-finite c is rejected by the caller's guard)."""
    m = u.shape[0]
    g = u @ u.T
    g = g / jnp.maximum(jnp.trace(g), jnp.finfo(u.dtype).tiny)
    c = jnp.linalg.solve(g + 1e-10 * jnp.eye(m, dtype=u.dtype), jnp.ones(m, u.dtype))
    return c / jnp.sum(c)


def anderson_pg(
    oracle: Any,
    penalty: Any,
    w: jax.Array,
    b: jax.Array,
    lipschitz: Any,
    tol: jax.Array,
    max_iter: jax.Array,
    *,
    fit_intercept: Any,
    memory: int = 5,
    cycles_per_check: int = 2,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    r"""Proximal gradient with guarded Anderson extrapolation until the gap is <= ``tol``.

    Args:
      oracle: `_inner.Dense` or `_inner.Gram` (gradient, value, gap and predictor ``aux``).
      penalty: the working set's penalty (its ``prox`` and ``value``).
      w, b: the start (weights and intercept).
      lipschitz: a Lipschitz constant of the gradient in (w, b) (the step is its inverse).
      tol: the gap target; max_iter: the most steps.
      fit_intercept: 1.0 to move b, 0.0 to keep it.
      memory: iterates per extrapolation (Bertrand and Massias use 5).
      cycles_per_check: extrapolation cycles between two gap evaluations.

    Returns:
      ``(w, b, n_steps, gap)``, as `_inner.fista_restart`.
    """
    dtype = w.dtype
    ib = jnp.asarray(fit_intercept, dtype)
    step = 1 / jnp.asarray(lipschitz, dtype)

    def objective(w, b, z):
        return oracle.value(w, b, z) + penalty.value(w)

    def one(c, _):
        w, b, z = c
        gw, gb = oracle.grad(w, b, z)
        x = penalty.prox(w - step * gw, step)
        bx = b - step * ib * gb
        zx = oracle.aux(x, bx)
        return (x, bx, zx), (x, bx)

    def cycle(st: _State, _):
        (w, b, z), (hw, hb) = jax.lax.scan(one, (st.w, st.b, st.z), None, length=memory)
        xs = jnp.concatenate([hw, hb[:, None]], axis=1)
        start = jnp.concatenate([st.w, st.b[None]])[None]
        c = extrapolation_weights(jnp.diff(jnp.concatenate([start, xs]), axis=0))
        we, be = c @ hw, c @ hb
        ze = oracle.aux(we, be)
        fe, f = objective(we, be, ze), objective(w, b, z)
        keep = jnp.isfinite(fe) & (fe < f)
        pick = lambda e, x: jnp.where(keep, e, x)  # noqa: E731
        w, b, z = jax.tree_util.tree_map(pick, (we, be, ze), (w, b, z))
        return _State(w, b, z, st.it + memory, st.gap), None

    def block(st: _State):
        return jax.lax.scan(cycle, st, None, length=cycles_per_check)[0]

    z0 = oracle.aux(w, b)
    st = _State(w, b, z0, jnp.zeros((), jnp.int32), oracle.gap(w, b, z0))
    st = until_gap(block, lambda st: oracle.gap(st.w, st.b, st.z), st, tol, max_iter)
    return st.w, st.b, st.it, st.gap


__all__ = ["anderson_pg", "extrapolation_weights"]
