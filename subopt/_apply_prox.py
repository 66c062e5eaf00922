r"""`apply_prox`: the proximal step as an optax transform, to end any optax chain.

``optax.chain(optimizer, so.apply_prox(reg, t))`` replaces the chain's update u by
prox_{t h}(x + u) - x, so any optax optimizer (SGD, momentum, Adam, ...) handles a nonsmooth
term h from `subopt.prox` by its proximal map. The regularizer and the step live in the state.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from subopt import schedules
from subopt._base import (
    ScalarOrSchedule,
    cast_hyperparams,
    next_count,
    params_dtype,
    scalar_leaf,
    valid_step,
)
from subopt._info import StepInfo
from subopt._linesearch import check_learning_rate
from subopt._prox_step import check_params_given, mapping_norm
from subopt._transform import Optimizer
from subopt._tree import tree_add_scale, tree_scale
from subopt.prox._base import Regularizer, check_regularizer


class ApplyProxState(NamedTuple):
    r"""State of `apply_prox`.

    Attributes:
      count: int32 step counter (for a schedule).
      learning_rate: an array or a schedule.
      info: the `subopt.StepInfo` for `subopt.run`: ``reg`` h, ``step`` t_k, and as
        ``stationarity`` the fixed-point residual :math:`\|u_k\| / t_k` of the last update
        (the gradient mapping when the chain is ``sgd(t)`` then ``apply_prox(reg, t)``),
        +inf before the first. ``valid``: t_k > 0 and finite, and h's hyperparameters valid.

    Properties: ``reg``, ``residual`` read the record.
    """

    count: Any
    learning_rate: Any
    info: StepInfo

    @property
    def reg(self) -> Any:
        return self.info.reg

    @property
    def residual(self) -> Any:
        return self.info.stationarity


def _info(reg: Any, step: Any, residual: Any) -> StepInfo:
    valid = valid_step(step) & jnp.asarray(reg.is_valid())
    return StepInfo(reg=reg, step=step, stationarity=residual, valid=valid, fixed_point=True)


def _apply_prox_update(updates, state: ApplyProxState, params=None, **extra_args):
    del extra_args
    check_params_given(updates, params, "so.apply_prox")
    dtype = jnp.result_type(state.info.step)
    t = jnp.asarray(schedules.evaluate(state.learning_rate, state.count), dtype)
    new = state.reg.prox(tree_add_scale(params, 1, updates), t)
    out = jax.tree_util.tree_map(lambda z, p, u: (z - p).astype(u.dtype), new, params, updates)
    # the chain's update u is the step already: the direction u / t, moved by t
    direction = tree_scale(-1 / jnp.where(t > 0, t, 1), updates)
    residual = mapping_norm(params, new, t, direction).astype(dtype)
    new_state = ApplyProxState(
        next_count(state.count), state.learning_rate, _info(state.reg, t, residual)
    )
    return out, new_state


def apply_prox(reg: Regularizer, learning_rate: ScalarOrSchedule) -> Optimizer[ApplyProxState]:
    r"""An optax transform that turns the update it receives into a proximal step.

    Placed last in ``optax.chain``, it maps an update u (already scaled by the learning rate)
    to

    .. math::

      u \mapsto \mathrm{prox}_{t h}(x + u) - x,

    so ``optax.chain(optax.sgd(t), so.apply_prox(reg, t))`` is ISTA, and any optax optimizer
    (momentum, Adam, ...) gains the proximal treatment of h. In `subopt.run` it reports
    ``result.value`` = f + h and, as stationarity, the fixed-point residual
    :math:`\|\mathrm{prox}_{th}(x + u) - x\| / t` of the last step (for the sgd chain, the
    gradient mapping). After ``optax.apply_updates`` the params equal the prox output up to
    rounding of x + (z - x); coordinates the prox sets to zero are exactly zero.

    A fixed point x = prox_{th}(x + u) minimises f + h when the chain's update there is
    u = -t grad f(x): true of ``sgd(t)``; with heavy-ball momentum beta (``sgd(lr,
    momentum=beta)``) pass t = lr / (1 - beta). Optimizers that rescale coordinates (Adam,
    RMSProp) settle where -u / t, not grad f, balances the subdifferential of h, which is in
    general not the minimiser of f + h: use them for the iterates' sparsity, and
    `subopt.fista` when the exact solution matters.

    Args:
      reg: a `subopt.prox` regularizer.
      learning_rate: the t of the prox, a number > 0 or a schedule; use the same value as the
        optimizer before it.

    Returns:
      An `subopt.Optimizer`; its update needs ``params``.

    Raises:
      TypeError: ``reg`` is not a regularizer, or ``learning_rate`` is `subopt.backtracking`.
      ValueError: a concrete ``learning_rate`` that is <= 0, NaN or infinite.

    Example:
      >>> import jax, jax.numpy as jnp, optax, subopt as so
      >>> f = lambda x: 0.5 * jnp.sum((x - jnp.array([2.0, 0.3])) ** 2)
      >>> opt = optax.chain(optax.sgd(0.5), so.apply_prox(so.prox.l1(0.5), 0.5))
      >>> x = jnp.zeros(2); state = opt.init(x)
      >>> for _ in range(60):
      ...     u, state = opt.update(jax.grad(f)(x), state, x)
      ...     x = optax.apply_updates(x, u)
      >>> x.round(6).tolist()
      [1.5, 0.0]

    References:
      Parikh and Boyd, *Proximal Algorithms*, Found. Trends Optim., 2014, section 4.2.
    """
    check_regularizer("reg", reg)
    check_learning_rate(learning_rate, allow_backtracking=False)
    lr = schedules.as_schedule(learning_rate)

    def init(params):
        dtype = params_dtype(params)
        rule = cast_hyperparams(lr, dtype)
        count = np.zeros([], np.int32)
        step = jnp.asarray(schedules.evaluate(rule, count), dtype) if callable(rule) else rule
        info = _info(cast_hyperparams(reg, dtype, integers=False), step, scalar_leaf(np.inf, dtype))
        return ApplyProxState(count, rule, info)

    return Optimizer(init, _apply_prox_update)


__all__ = ["ApplyProxState", "apply_prox"]
