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

import jax.numpy as jnp
import numpy as np

from subopt._apply_prox import ApplyProxState, apply_prox
from subopt._base import cast_hyperparams, next_count, params_dtype, scalar_leaf, valid_step
from subopt._info import StepInfo
from subopt._linesearch import (
    Backtracking,
    as_learning_rate,
    backtracking,
    cast_learning_rate,
    check_learning_rate,
    first_step,
    rule_valid,
)
from subopt._prox_step import check_params_given, mapping_norm, prox_step
from subopt._transform import Optimizer
from subopt._tree import tree_add_scale, tree_all_finite, tree_sub, tree_vdot, tree_where
from subopt.prox._base import Regularizer, check_regularizer


def _info(x: Any, reg: Any, learning_rate: Any, step: Any, gm: Any) -> StepInfo:
    valid = valid_step(step) & rule_valid(learning_rate) & jnp.asarray(reg.is_valid())
    return StepInfo(iterate=x, reg=reg, step=step, stationarity=gm, valid=valid, fixed_point=True)


# the record's fields under their names in the proximal methods (shared by both states)
_ITERATE = property(lambda self: self.info.iterate, doc="the prox output x_k")
_REG = property(lambda self: self.info.reg, doc="the regularizer h")
_STEP = property(lambda self: self.info.step, doc="the step of the last iteration")
_MAPPING = property(lambda self: self.info.stationarity, doc="the gradient mapping")


class ProximalGradientState(NamedTuple):
    r"""State of `proximal_gradient`.

    Attributes:
      count: int32 step counter.
      learning_rate: an array, a schedule or a `subopt.backtracking` record.
      info: the `subopt.StepInfo` for `subopt.run`: ``iterate`` the last prox output x_k
        (exact zeros), ``reg`` h, ``step`` the step of the last iteration (the current one
        for backtracking), ``stationarity`` the gradient mapping
        :math:`\|x_{k-1} - x_k\| / t` (+inf before the first step).

    Properties: ``x``, ``reg``, ``step``, ``gradient_mapping`` read the record.
    """

    count: Any
    learning_rate: Any
    info: StepInfo

    x = _ITERATE
    reg = _REG
    step = _STEP
    gradient_mapping = _MAPPING


class FistaState(NamedTuple):
    r"""State of `fista`. The driver's params are the extrapolated points y_k.

    Attributes:
      count: int32, the number of steps taken.
      momentum: Nesterov's t_k (1 at the start and after each restart).
      restarts: int32, how many times the momentum was reset.
      learning_rate: an array, a schedule or a `subopt.backtracking` record.
      info: the `subopt.StepInfo` for `subopt.run`: ``iterate`` the prox output x_k,
        ``reg`` h, ``step`` the step of the last iteration, ``stationarity`` the gradient
        mapping :math:`\|y_{k-1} - x_k\| / t` (+inf before the first step).

    Properties: ``x``, ``reg``, ``step``, ``gradient_mapping`` read the record.
    """

    count: Any
    momentum: Any
    restarts: Any
    learning_rate: Any
    info: StepInfo

    x = _ITERATE
    reg = _REG
    step = _STEP
    gradient_mapping = _MAPPING


def _ista_update(grads, state: ProximalGradientState, params=None, **extra_args):
    check_params_given(grads, params, "so.proximal_gradient")
    dtype = jnp.result_type(state.step)
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
    gm = mapping_norm(params, x_new, step, grads).astype(dtype)
    new_state = ProximalGradientState(
        next_count(state.count),
        state.learning_rate,
        _info(x_new, state.reg, state.learning_rate, step, gm),
    )
    return tree_sub(x_new, params), new_state


def _fista_step(grads, state: FistaState, params, extra_args, restart: bool):
    check_params_given(grads, params, "so.fista")
    y = params
    dtype = jnp.result_type(state.step)
    x_new, step = prox_step(
        state.reg, state.learning_rate, state.step, state.count, y, grads, extra_args, "so.fista"
    )
    step = step.astype(dtype)
    gm = mapping_norm(y, x_new, step, grads).astype(dtype)
    t = state.momentum
    t_next = (1 + jnp.sqrt(1 + 4 * t * t)) / 2
    beta = (t - 1) / t_next
    dx = tree_sub(x_new, state.x)
    reset = jnp.array(False)
    if restart:
        # O'Donoghue-Candes gradient scheme: the step -(y - x_new) and the momentum dx point
        # apart, i.e. the prox-gradient step undoes the extrapolation.
        reset = tree_vdot(tree_sub(y, x_new), dx) > 0
    y_new = tree_add_scale(x_new, jnp.where(reset, 0, beta).astype(dtype), dx)
    fun = extra_args.get("value_fn")
    if isinstance(state.learning_rate, Backtracking) and fun is not None:
        # Backtracking promises iterates in f's domain: test the extrapolated point too, and
        # restart (y = x_new) where f is not finite there.
        outside = ~jnp.isfinite(jnp.asarray(fun(y_new))) & tree_all_finite(x_new)
        y_new = tree_where(outside, x_new, y_new)
        reset = reset | outside
    t_next = jnp.where(reset, jnp.ones_like(t_next), t_next)
    new_state = FistaState(
        next_count(state.count),
        t_next.astype(dtype),
        (state.restarts + reset.astype(jnp.int32)).astype(jnp.int32),
        state.learning_rate,
        _info(x_new, state.reg, state.learning_rate, step, gm),
    )
    return tree_sub(y_new, y), new_state


def _fista_update_restart(grads, state, params=None, **extra_args):
    return _fista_step(grads, state, params, extra_args, True)


def _fista_update_plain(grads, state, params=None, **extra_args):
    return _fista_step(grads, state, params, extra_args, False)


def inf(dtype: Any) -> Any:
    return np.asarray(np.inf, dtype)


def _prepare(reg: Any, learning_rate: Any) -> Any:
    check_regularizer("reg", reg)
    check_learning_rate(learning_rate)
    return as_learning_rate(learning_rate)


def proximal_gradient(reg: Regularizer, learning_rate: Any) -> Optimizer[ProximalGradientState]:
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
      >>> res = so.run(so.proximal_gradient(so.prox.l1(0.5), 1.0), f, jnp.zeros(2))
      >>> res.params.tolist(), round(float(res.value), 4)
      ([1.5, 0.0], 0.92)

    References:
      Combettes and Wajs, *Signal recovery by proximal forward-backward splitting*, Multiscale
      Model. Simul., 2005. Beck, *First-Order Methods in Optimization*, SIAM, 2017, ch. 10.
    """
    lr = _prepare(reg, learning_rate)

    def init(params):
        dtype = params_dtype(params)
        rule = cast_learning_rate(lr, dtype)
        info = _info(
            params,
            cast_hyperparams(reg, dtype, integers=False),
            rule,
            first_step(rule, dtype),
            inf(dtype),
        )
        return ProximalGradientState(np.zeros([], np.int32), rule, info)

    return Optimizer(init, _ista_update)


def fista(reg: Regularizer, learning_rate: Any, *, restart: bool = True) -> Optimizer[FistaState]:
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
      >>> res = so.run(so.fista(p.reg, 1 / p.lipschitz), p.fun, p.x0, tol=1e-8)
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
        rule = cast_learning_rate(lr, dtype)
        info = _info(
            params,
            cast_hyperparams(reg, dtype, integers=False),
            rule,
            first_step(rule, dtype),
            inf(dtype),
        )
        zero = np.zeros([], np.int32)
        return FistaState(zero, scalar_leaf(1.0, dtype), zero, rule, info)

    update = _fista_update_restart if restart else _fista_update_plain
    return Optimizer(init, update)


__all__ = [
    "ApplyProxState",
    "FistaState",
    "ProximalGradientState",
    "apply_prox",
    "backtracking",
    "fista",
    "proximal_gradient",
]
