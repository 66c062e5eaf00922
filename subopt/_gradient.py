"""Gradient descent with a fixed step or a schedule, as an optax transformation."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from subopt import schedules
from subopt._base import (
    ScalarOrSchedule,
    cast_hyperparams,
    check_same_structure,
    check_step_size,
    params_dtype,
)


class GradientDescentState(NamedTuple):
    """State of `gradient_descent`: the step counter and the step hyperparameter.

    The learning rate lives in the state (as an array, or a schedule pytree), so a new value is
    new data, not a new program: `subopt.run` does not recompile for it.
    """

    count: jax.Array
    learning_rate: Any


def _init(params: Any, learning_rate: Any) -> GradientDescentState:
    step = cast_hyperparams(schedules.as_schedule(learning_rate), params_dtype(params))
    return GradientDescentState(jnp.zeros([], jnp.int32), step)


def _update(grads, state: GradientDescentState, params=None, **extra_args):
    del extra_args
    if params is not None:
        check_same_structure(grads, params)
    step = schedules.evaluate(state.learning_rate, state.count)
    updates = jax.tree_util.tree_map(lambda g: (-step * g).astype(g.dtype), grads)
    count = jnp.asarray(optax.safe_int32_increment(state.count))
    return updates, GradientDescentState(count, state.learning_rate)


def gradient_descent(learning_rate: ScalarOrSchedule) -> optax.GradientTransformationExtraArgs:
    r"""Gradient descent: the textbook method, with a fixed step or a schedule.

    .. math::

      x_{k+1} = x_k - \eta_k \nabla f(x_k)

    Stop when :math:`\|\nabla f(x_k)\| \le \varepsilon` (`subopt.run`'s ``tol``). A step above
    2/L (L the Lipschitz constant of the gradient) makes f rise; a tiny step makes slow progress.

    Args:
      learning_rate: eta > 0, a number (Python float or JAX array, so it may be traced and
        vmapped) or a schedule ``count -> step`` such as `subopt.schedules.inverse_time`.

    Returns:
      An ``optax.GradientTransformationExtraArgs``; usable in `subopt.run`, in ``optax.chain``
      and in a hand-written optax loop. Extra args are accepted and ignored.

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

    return optax.GradientTransformationExtraArgs(init, _update)  # pyright: ignore[reportArgumentType]
