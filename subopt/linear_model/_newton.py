r"""Proximal Newton on one working set, for datafits with a second derivative (logistic).

Each Newton iteration replaces the datafit by its second-order model at the predictor
:math:`z = X_W w + b`,

.. math::

  F(z + \Delta) \approx F(z) + u^\top \Delta + \tfrac12 \Delta^\top H \Delta, \quad
  u = \nabla F(z),\ H = \mathrm{diag}(s_i \ell''(z_i, y_i)),

which is a weighted least-squares problem in the new predictor :math:`z' = z + \Delta`:
:math:`\tfrac12 \sum_i h_i (r_i - z'_i)^2` with the working response
:math:`h_i r_i = h_i z_i - u_i`. Its penalized minimizer is found by FISTA in Gram space
(`_inner.Gram` with weights h, :math:`|W|^2` per step) to a gap that shrinks with the
outer one, and the Newton direction :math:`d = w' - w` is damped by backtracking
:math:`\tau \in \{1, 1/2, \dots\}` until the true objective decreases enough (Armijo's rule
on :math:`F + g`). The loop stops when the working-set gap (`_inner.Dense`) is below the
target. This is the inner solver of Massias, Vaiter, Gramfort and Salmon (2020) and of
glmnet, with FISTA in place of coordinate descent for the quadratic model.

References:
  Lee, Sun and Saunders, *Proximal Newton-type methods for minimizing composite functions*,
  SIAM J. Optim., 2014. Friedman, Hastie and Tibshirani, *Regularization paths for
  generalized linear models via coordinate descent*, J. Stat. Softw., 2010. Massias, Vaiter,
  Gramfort and Salmon, *Dual extrapolation for sparse generalized linear models*, JMLR, 2020.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from subopt.linear_model._inner import Dense, Gram, fista_restart, power_sq_norm


class _Newton(NamedTuple):
    w: jax.Array
    b: jax.Array
    z: jax.Array  # the predictor X_W w + b
    gap: jax.Array
    it: jax.Array
    steps: jax.Array
    eig: jax.Array


def _quadratic_model(dense: Dense, z: jax.Array) -> Gram:
    """The Gram oracle of the second-order model at z (weights h, working response)."""
    h = dense.datafit.hess(z, dense.y, dense.s)
    u = dense.datafit.grad(z, dense.y, dense.s)
    hr = h * z - u  # h * working response
    tiny = jnp.finfo(z.dtype).tiny
    r = jnp.where(h > tiny, hr / jnp.where(h > tiny, h, 1), 0)
    return Gram.build(dense.penalty, dense.at, r, h, dense.intercept)


def prox_newton(
    dense: Any,
    penalty: Any,
    w: jax.Array,
    b: jax.Array,
    eig: jax.Array,
    tol: jax.Array,
    max_iter: jax.Array,
    *,
    fit_intercept: Any,
    max_newton: int = 50,
    inner_ratio: float = 0.1,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array, jax.Array]:
    r"""Proximal Newton on a working-set subproblem until its gap is <= ``tol``.

    Args:
      dense: the `Dense` oracle of the working set (its datafit has ``hess``).
      penalty: the penalty on the working set.
      w, b: the start.
      eig: the power-iteration vector of the last estimate (a warm start).
      tol: the gap to reach on the working set.
      max_iter: a bound on the FISTA steps over all Newton iterations.
      fit_intercept: whether b is fitted (1.0 or 0.0, possibly traced).
      max_newton: Newton iterations at most.
      inner_ratio: each quadratic model is solved to this fraction of the current gap.

    Returns:
      ``(w, b, n_steps, gap, eig)``: the solution, the FISTA steps taken, the last gap and
      the power-iteration vector.
    """
    dtype = w.dtype
    ib = jnp.asarray(fit_intercept, dtype)

    def objective(w, b):
        return dense.value(w, b, dense.aux(w, b)) + penalty.value(w)

    def cond(st: _Newton):
        return (st.gap > tol) & (st.it < max_newton) & (st.steps < max_iter)

    def body(st: _Newton):
        z = st.z
        f0 = dense.value(st.w, st.b, z) + penalty.value(st.w)
        model = _quadratic_model(dense, z)
        sq, eig = power_sq_norm(lambda v: model.g @ v, st.eig)
        lip = sq + ib * model.moments[0]
        w_m, b_m, steps, _ = fista_restart(
            model,
            penalty,
            st.w,
            st.b,
            jnp.maximum(lip, jnp.finfo(dtype).tiny),
            inner_ratio * st.gap,
            max_iter - st.steps,
            fit_intercept=ib,
            backtrack=False,
        )
        dw, db = w_m - st.w, b_m - st.b
        # Armijo on F + g along the Newton direction: the model's decrease bounds the step
        gw, gb = dense.grad(st.w, st.b, z)
        decrease = gw @ dw + gb * db + penalty.value(w_m) - penalty.value(st.w)

        def too_long(c):
            tau, f = c
            return (f > f0 + 1e-4 * tau * jnp.minimum(decrease, 0)) & (tau > 1e-6)

        def halve(c):
            tau = c[0] / 2
            return tau, objective(st.w + tau * dw, st.b + tau * db)

        tau, _ = jax.lax.while_loop(too_long, halve, (jnp.ones((), dtype), objective(w_m, b_m)))
        w_new, b_new = st.w + tau * dw, st.b + tau * db
        z_new = dense.aux(w_new, b_new)
        gap = dense.gap(w_new, b_new, z_new)
        return _Newton(w_new, b_new, z_new, gap, st.it + 1, st.steps + steps, eig)

    z0 = dense.aux(w, b)
    zero = jnp.zeros((), jnp.int32)
    st = _Newton(w, b, z0, dense.gap(w, b, z0), zero, zero, eig)
    st = jax.lax.while_loop(cond, body, st)
    return st.w, st.b, st.steps, st.gap, st.eig


__all__ = ["prox_newton"]
