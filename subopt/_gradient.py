"""Gradient descent with a fixed step or a schedule, as an optax transformation."""

from __future__ import annotations

from typing import Any, NamedTuple

import chex
import numpy as np

from subopt import schedules
from subopt._base import (
    ScalarOrSchedule,
    cast_hyperparams,
    check_same_structure,
    check_step_size,
    next_count,
    params_dtype,
    valid_step,
)
from subopt._info import StepInfo
from subopt._transform import Optimizer
from subopt._tree import tree_scale


class GradientDescentState(NamedTuple):
    """State of `gradient_descent`.

    The learning rate lives in the state (as an array, or a schedule pytree), so a new value is
    new data, not a new program: `subopt.run` does not recompile for it.

    Attributes:
      count: int32, the number of steps taken.
      learning_rate: the step rule: a 0-d array or a `subopt.schedules` pytree.
      info: the `subopt.StepInfo` for `subopt.run` (``step``: the step of the last update, the
        first one after ``init``; ``valid``: that step is > 0 and finite).
    """

    count: chex.Array
    learning_rate: Any
    info: StepInfo


def _info(step: Any) -> StepInfo:
    return StepInfo(step=step, valid=valid_step(step), fixed_point=True)


def _init(params: Any, learning_rate: Any) -> GradientDescentState:
    lr = cast_hyperparams(schedules.as_schedule(learning_rate), params_dtype(params))
    count = np.zeros([], np.int32)
    return GradientDescentState(count, lr, _info(schedules.evaluate(lr, count)))


def _update(grads, state: GradientDescentState, params=None, **extra_args):
    del extra_args
    if params is not None:
        check_same_structure(grads, params)
    step = schedules.evaluate(state.learning_rate, state.count)
    updates = tree_scale(-step, grads)
    return updates, GradientDescentState(next_count(state.count), state.learning_rate, _info(step))


def gradient_descent(learning_rate: ScalarOrSchedule) -> Optimizer[GradientDescentState]:
    r"""Gradient descent: the textbook method, with a fixed step or a schedule.

    .. math::

      x_{k+1} = x_k - \eta_k \nabla f(x_k)

    Stop when :math:`\|\nabla f(x_k)\| \le \varepsilon` (`subopt.run`'s ``tol``). A step above
    2/L (L the Lipschitz constant of the gradient) makes f rise; a tiny step makes slow progress.
    A traced step that is not > 0 and finite ends the run ``Status.INVALID``.

    Args:
      learning_rate: eta > 0, a number (Python float or JAX array, so it may be traced and
        vmapped) or a schedule ``count -> step`` such as `subopt.schedules.inverse_time`.

    Returns:
      An `subopt.Optimizer` (an ``optax.GradientTransformationExtraArgs``); usable in
      `subopt.run`, in ``optax.chain`` and in a hand-written optax loop. Extra args are
      accepted and ignored.

    Raises:
      ValueError: a concrete ``learning_rate`` that is <= 0, NaN or infinite.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> res = so.run(so.gradient_descent(0.1), lambda x: jnp.sum((x - 1.0) ** 2), jnp.zeros(3))
      >>> bool(res.status == so.Status.CONVERGED)
      True

    References:
      Cauchy, *Methode generale pour la resolution des systemes d'equations simultanees*, 1847.
      Nesterov, *Lectures on Convex Optimization*, 2018, section 2.1.5.
    """
    check_step_size("learning_rate", learning_rate)

    def init(params):
        return _init(params, learning_rate)

    return Optimizer(init, _update)
