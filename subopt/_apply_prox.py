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
import optax

from subopt import schedules
from subopt._backtracking import (
    cast_hyperparams,
    check_learning_rate,
    check_params_given,
    composite_value,
    mapping_norm,
    next_count,
)
from subopt._base import ScalarOrSchedule, params_dtype
from subopt.prox._base import Regularizer, check_regularizer


class ApplyProxState(NamedTuple):
    r"""State of `apply_prox`.

    Attributes:
      count: int32 step counter (for a schedule).
      residual: :math:`\|u_k\| / t_k` of the last update it returned (the fixed-point residual;
        the gradient mapping when the chain is ``sgd(t)`` then ``apply_prox(reg, t)``), +inf
        before the first.
      reg: the regularizer h.
      learning_rate: an array or a schedule.
    """

    count: Any  # a 0-d array (numpy at init, jax after a step)
    residual: Any
    reg: Any
    learning_rate: Any

    def report_stationarity(self, params, value, grad):
        del params, value, grad
        return self.residual

    def report_iterate(self, params, value, fun):
        del fun
        return params, composite_value(self.reg, params, value)


def _apply_prox_update(updates, state: ApplyProxState, params=None, **extra_args):
    del extra_args
    check_params_given(updates, params, "so.apply_prox")
    t = jnp.asarray(schedules.evaluate(state.learning_rate, state.count), state.residual.dtype)
    moved = jax.tree_util.tree_map(lambda u, p: (p + u).astype(p.dtype), updates, params)
    new = state.reg.prox(moved, t)
    out = jax.tree_util.tree_map(lambda z, p, u: (z - p).astype(u.dtype), new, params, updates)
    residual = mapping_norm(params, new, t).astype(state.residual.dtype)
    return out, ApplyProxState(next_count(state.count), residual, state.reg, state.learning_rate)


def apply_prox(
    reg: Regularizer, learning_rate: ScalarOrSchedule
) -> optax.GradientTransformationExtraArgs:
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
      An ``optax.GradientTransformationExtraArgs``; its update needs ``params``.

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
        return ApplyProxState(
            np.zeros([], np.int32),
            np.asarray(np.inf, dtype),
            cast_hyperparams(reg, dtype),
            cast_hyperparams(lr, dtype),
        )

    return optax.GradientTransformationExtraArgs(init, _apply_prox_update)  # pyright: ignore[reportArgumentType]


__all__ = ["ApplyProxState", "apply_prox"]
