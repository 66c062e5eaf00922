r"""Proximal-gradient methods for min f(x) + h(x): ISTA, FISTA with restart, and `apply_prox`.

f is smooth (the objective handed to `subopt.run`), h a `subopt.prox` regularizer given once
to the optimizer. The regularizer and the step hyperparameters live in the optimizer STATE as
array leaves and the update functions are module-level, so `subopt.run` compiles once and
new weights or steps (even traced or vmapped ones) reuse the program. Each step computes the
gradient mapping :math:`\|y - \mathrm{prox}_{th}(y - t\nabla f(y))\| / t` anyway; the state
keeps it and reports it to `subopt.run` as the stationarity measure, so the stopping test
costs no extra gradient.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from subopt._apply_prox import ApplyProxState, apply_prox
from subopt._backtracking import (
    as_learning_rate,
    backtracking,
    cast_hyperparams,
    check_learning_rate,
    check_params_given,
    composite_value,
    first_step,
    mapping_norm,
    next_count,
    prox_step,
    stack_scalars,
    tree_axpy,
    tree_diff,
    tree_dot,
)
from subopt._base import params_dtype, tree_select
from subopt.prox._base import Regularizer, check_regularizer


def _all_equal(a: Any, b: Any) -> jax.Array:
    leaves = [
        jnp.all(u == v) for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b))
    ]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


class ProximalGradientState(NamedTuple):
    r"""State of `proximal_gradient`.

    The per-step scalars are packed into one small vector (on CPU every separately updated
    scalar of a loop costs a few microseconds per step); read them through the properties.

    Attributes:
      x: the last prox output (the iterate, with exact zeros).
      scalars: ``[step, gradient_mapping]`` in the params' dtype (see the properties).
      count: int32 step counter.
      reg: the regularizer h.
      learning_rate: an array, a schedule or a `subopt._backtracking.Backtracking` record.

    Properties:
      step: the step of the last iteration (the current one for backtracking).
      gradient_mapping: :math:`\|x_{k-1} - x_k\| / t` of the last step, +inf before the first.
    """

    x: Any
    scalars: Any
    count: Any
    reg: Any
    learning_rate: Any

    @property
    def step(self) -> Any:
        return self.scalars[..., 0]

    @property
    def gradient_mapping(self) -> Any:
        return self.scalars[..., 1]

    def report_stationarity(self, params, value, grad):
        del params, value, grad
        return self.gradient_mapping

    def report_iterate(self, params, value, fun):
        # params = x up to rounding of params + (x - params); report x itself, re-evaluating
        # f only when the two differ.
        same = _all_equal(params, self.x)
        fx = jax.lax.cond(
            same, lambda: jnp.asarray(value), lambda: jnp.asarray(fun(self.x), value.dtype)
        )
        return self.x, composite_value(self.reg, self.x, fx)


class FistaState(NamedTuple):
    r"""State of `fista`. The driver's params are the extrapolated points y_k.

    The per-step scalars are packed into two small vectors (on CPU every separately updated
    scalar of a loop costs a few microseconds per step); read them through the properties.

    Attributes:
      x: the prox output x_k (the reported iterate).
      scalars: ``[momentum, step, gradient_mapping]`` in the params' dtype.
      counters: int32 ``[count, restarts]``.
      reg: the regularizer h.
      learning_rate: an array, a schedule or a `subopt._backtracking.Backtracking` record.

    Properties:
      momentum: Nesterov's t_k (1 at the start and after each restart).
      step: the step of the last iteration (the current one for backtracking).
      gradient_mapping: :math:`\|y_{k-1} - x_k\| / t` of the last step, +inf before the first.
      count: the number of steps taken.
      restarts: how many times the momentum was reset.
    """

    x: Any
    scalars: Any
    counters: Any
    reg: Any
    learning_rate: Any

    @property
    def momentum(self) -> Any:
        return self.scalars[..., 0]

    @property
    def step(self) -> Any:
        return self.scalars[..., 1]

    @property
    def gradient_mapping(self) -> Any:
        return self.scalars[..., 2]

    @property
    def count(self) -> Any:
        return self.counters[..., 0]

    @property
    def restarts(self) -> Any:
        return self.counters[..., 1]

    def report_stationarity(self, params, value, grad):
        del params, value, grad
        return self.gradient_mapping

    def report_iterate(self, params, value, fun):
        fx = composite_value(self.reg, self.x, jnp.asarray(fun(self.x), value.dtype))
        # x_k is never evaluated by the driver; should F(x_k) be NaN where F(y_k) is not,
        # report y_k instead so that a result is never NaN for a finite run.
        fy = composite_value(self.reg, params, value)
        ok = ~jnp.isnan(fx)
        return tree_select(ok, self.x, params), jnp.where(ok, fx, fy)


def _ista_update(grads, state: ProximalGradientState, params=None, **extra_args):
    check_params_given(grads, params, "so.proximal_gradient")
    dtype = state.scalars.dtype
    x_new, step = prox_step(
        state.reg,
        state.learning_rate,
        state.step,
        state.count,
        params,
        grads,
        extra_args,
        "so.proximal_gradient",
    )
    step = step.astype(dtype)
    gm = mapping_norm(params, x_new, step)
    new_state = ProximalGradientState(
        x_new,
        jnp.stack([step, gm]).astype(dtype),
        next_count(state.count),
        state.reg,
        state.learning_rate,
    )
    return tree_diff(x_new, params), new_state


def _fista_step(grads, state: FistaState, params, extra_args, restart: bool):
    check_params_given(grads, params, "so.fista")
    y = params
    dtype = state.scalars.dtype
    count, restarts = state.count, state.restarts
    x_new, step = prox_step(
        state.reg, state.learning_rate, state.step, count, y, grads, extra_args, "so.fista"
    )
    step = step.astype(dtype)
    gm = mapping_norm(y, x_new, step)
    t = state.momentum
    t_next = (1 + jnp.sqrt(1 + 4 * t * t)) / 2
    beta = (t - 1) / t_next
    dx = tree_diff(x_new, state.x)
    if restart:
        # O'Donoghue-Candes gradient scheme: the step -(y - x_new) and the momentum dx point
        # apart, i.e. the prox-gradient step undoes the extrapolation.
        reset = tree_dot(tree_diff(y, x_new), dx) > 0
        t_next = jnp.where(reset, jnp.ones_like(t_next), t_next)
        beta = jnp.where(reset, jnp.zeros_like(beta), beta)
        restarts = restarts + reset.astype(restarts.dtype)
    y_new = tree_axpy(beta.astype(dtype), dx, x_new)
    new_state = FistaState(
        x_new,
        jnp.stack([t_next, step, gm]).astype(dtype),
        jnp.stack([next_count(count), restarts]).astype(jnp.int32),
        state.reg,
        state.learning_rate,
    )
    return tree_diff(y_new, y), new_state


def _fista_update_restart(grads, state, params=None, **extra_args):
    return _fista_step(grads, state, params, extra_args, True)


def _fista_update_plain(grads, state, params=None, **extra_args):
    return _fista_step(grads, state, params, extra_args, False)


def _prepare(reg: Any, learning_rate: Any) -> Any:
    check_regularizer("reg", reg)
    check_learning_rate(learning_rate)
    return as_learning_rate(learning_rate)


def proximal_gradient(
    reg: Regularizer, *, learning_rate: Any
) -> optax.GradientTransformationExtraArgs:
    r"""The proximal-gradient method (ISTA, forward-backward splitting) for min f + h.

    .. math::

      x_{k+1} = \mathrm{prox}_{t_k h}\bigl(x_k - t_k \nabla f(x_k)\bigr)

    With t = 1/L (L the Lipschitz constant of grad f), F = f + h decreases at every step and
    :math:`F(x_k) - F^\star \le L\|x_0 - x^\star\|^2 / (2k)`. In `subopt.run`, ``result.value``
    is f + h at ``result.params`` (the prox output: exact zeros stay zero) and the
    stationarity measure is the gradient mapping
    :math:`\|x_k - \mathrm{prox}_{t h}(x_k - t \nabla f(x_k))\| / t` of the last step, which the
    step computes anyway (+inf before the first step).

    Args:
      reg: the nonsmooth term h, a `subopt.prox` regularizer (e.g. ``so.prox.l1(0.1)``).
      learning_rate: the step t: a number > 0 (possibly traced), a schedule
        ``count -> t`` (`subopt.schedules`), or `subopt.backtracking` ``(...)``.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose update needs ``params`` (and, with
      backtracking, the ``value_fn`` extra argument, which `subopt.run` passes).

    Raises:
      TypeError: ``reg`` is not a regularizer, or ``learning_rate`` is not numeric.
      ValueError: a concrete ``learning_rate`` that is <= 0, NaN or infinite.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> f = lambda x: 0.5 * jnp.sum((x - jnp.array([2.0, 0.3])) ** 2)
      >>> res = so.run(so.proximal_gradient(so.prox.l1(0.5), learning_rate=1.0), f, jnp.zeros(2))
      >>> res.params.tolist(), round(float(res.value), 4)
      ([1.5, 0.0], 0.92)

    References:
      Combettes and Wajs, *Signal recovery by proximal forward-backward splitting*, Multiscale
      Model. Simul., 2005. Beck, *First-Order Methods in Optimization*, SIAM, 2017, ch. 10.
    """
    lr = _prepare(reg, learning_rate)

    def init(params):
        dtype = params_dtype(params)
        scalars = stack_scalars([first_step(lr, dtype), np.asarray(np.inf, dtype)], dtype)
        return ProximalGradientState(
            params,
            scalars,
            np.zeros([], np.int32),
            cast_hyperparams(reg, dtype),
            cast_hyperparams(lr, dtype),
        )

    return optax.GradientTransformationExtraArgs(init, _ista_update)  # pyright: ignore[reportArgumentType]


def fista(
    reg: Regularizer, *, learning_rate: Any, restart: bool = True
) -> optax.GradientTransformationExtraArgs:
    r"""FISTA (accelerated proximal gradient) with adaptive restart, for min f + h.

    .. math::

      x_{k+1} &= \mathrm{prox}_{t h}\bigl(y_k - t \nabla f(y_k)\bigr), \qquad
      t_{k+1} = \tfrac{1}{2}\bigl(1 + \sqrt{1 + 4 t_k^2}\bigr), \\
      y_{k+1} &= x_{k+1} + \frac{t_k - 1}{t_{k+1}} (x_{k+1} - x_k),
      \qquad x_0 = y_0,\ t_0 = 1.

    With ``restart=True`` (O'Donoghue-Candes gradient scheme) the momentum is reset
    (:math:`t_{k+1} = 1`, :math:`y_{k+1} = x_{k+1}`) whenever
    :math:`\langle y_k - x_{k+1}, x_{k+1} - x_k \rangle > 0`; the test reuses vectors the step
    has already formed, so it costs no evaluation. Restart removes FISTA's oscillations and
    recovers linear convergence on strongly convex (or locally well-conditioned) problems.
    Without restart and with t = 1/L,
    :math:`F(x_k) - F^\star \le 2L\|x_0 - x^\star\|^2 / (k+1)^2`.

    The driver's params are the extrapolated points y_k; the state keeps x_k, and
    `subopt.run` reports ``result.params`` = x_k (the prox output, exact zeros preserved),
    ``result.value`` = f(x_k) + h(x_k), and as stationarity the gradient mapping
    :math:`\|y_{k-1} - x_k\| / t` computed by the last step (+inf before the first).
    The driver evaluates f at y_k only, so reporting F(x_k) costs one evaluation of f at the
    end of the run (and one per step with ``record=True``).

    Args:
      reg: the nonsmooth term h, a `subopt.prox` regularizer.
      learning_rate: the step t: a number > 0 (possibly traced), a schedule, or
        `subopt.backtracking` ``(...)``.
      restart: whether to use the gradient restart scheme (a Python bool).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose update needs ``params``.

    Raises:
      TypeError: ``reg`` is not a regularizer, ``restart`` is not a bool, or
        ``learning_rate`` is not numeric.
      ValueError: a concrete ``learning_rate`` that is <= 0, NaN or infinite.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> p = so.problems.lasso(50, 20, seed=0)
      >>> res = so.run(so.fista(p.reg, learning_rate=1 / p.lipschitz), p.fun, p.x0, tol=1e-8)
      >>> so.Status(int(res.status)).name
      'CONVERGED'

    References:
      Beck and Teboulle, *A fast iterative shrinkage-thresholding algorithm for linear inverse
      problems*, SIAM J. Imaging Sciences, 2009. O'Donoghue and Candes, *Adaptive restart for
      accelerated gradient schemes*, Found. Comput. Math., 2015.
    """
    if not isinstance(restart, bool):
        raise TypeError(f"restart must be a Python bool, got {restart!r}")
    lr = _prepare(reg, learning_rate)

    def init(params):
        dtype = params_dtype(params)
        scalars = stack_scalars(
            [np.ones([], dtype), first_step(lr, dtype), np.asarray(np.inf, dtype)], dtype
        )
        return FistaState(
            params,
            scalars,
            np.zeros(2, np.int32),
            cast_hyperparams(reg, dtype),
            cast_hyperparams(lr, dtype),
        )

    update = _fista_update_restart if restart else _fista_update_plain
    return optax.GradientTransformationExtraArgs(init, update)  # pyright: ignore[reportArgumentType]


__all__ = [
    "ApplyProxState",
    "FistaState",
    "ProximalGradientState",
    "apply_prox",
    "backtracking",
    "fista",
    "proximal_gradient",
]
