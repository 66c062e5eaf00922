r"""The step-info contract: what an optimizer tells `subopt.run`, as data in its state.

optax's protocol carries only ``(updates, state)`` out of an update, so everything the driver
needs beyond the updates travels in the state, as a typed `StepInfo` record. The driver never
looks up methods on states: it reads the `StepInfo` records of the state (a field named
``info`` of each subopt state; inside ``optax.chain`` the chain's tuple of states holds one
record per subopt member) and combines them by the fixed rules of `combine`.

A user's own optimizer implements the protocol by keeping a ``StepInfo`` in its state
(written by ``init`` and by every ``update``); an optimizer without one (any optax
optimizer) gets the defaults, which describe plain smooth minimization of ``fun``. The
record must have the same pytree structure after ``init`` and after every ``update`` (set
the same fields, with arrays of fixed shapes and dtypes), since it is part of the loop's
carry. For example, a gradient step that reports its own step and validity::

    class MyState(NamedTuple):
        lr: jax.Array
        info: so.StepInfo

    def init(params):
        lr = jnp.asarray(0.1)
        return MyState(lr, so.StepInfo(step=lr, valid=lr > 0))

    def update(grads, state, params=None, **extra_args):
        updates = jax.tree.map(lambda g: -state.lr * g, grads)
        return updates, MyState(state.lr, so.StepInfo(step=state.lr, valid=state.lr > 0))

    opt = optax.GradientTransformationExtraArgs(init, update)

`subopt.run` passes every update the extra args ``value`` (f at the params), ``value_fn``
(``x -> f(x)``, the objective with the run's data bound) and ``grad`` (the gradient at the
params).

Fields (``None`` means "the default"):

* ``iterate``: the point the optimizer vouches for after this update (default: the params
  the driver holds). FISTA reports its prox output :math:`x_k` while the driver's params
  are the extrapolated points :math:`y_k`.
* ``reg``: the nonsmooth term :math:`h` the optimizer adds to the objective, a
  `subopt.prox` regularizer (default: none). The objective a run minimizes is
  :math:`F = f + \sum_i h_i` over the records, and ``result.value`` is F at
  ``result.params``.
* ``step``: the step :math:`t` of the optimizer's fixed-point map (see ``fixed_point``).
* ``stationarity``: the measure compared with ``tol`` after this update (default: the
  gradient norm at the new params, which the driver computes with its finiteness check).
  +inf means "not measurable yet"; it is never NaN for a finite state.
* ``valid``: a 0-d bool, False when a (possibly traced) hyperparameter is invalid: a step
  that is not > 0 and finite, or a regularizer whose ``is_valid()`` is False (a negative or
  NaN weight, an empty constraint set). The driver then ends the run ``Status.INVALID``.
* ``best`` (static): report the best iterate seen (by F) instead of the last; the
  subgradient methods set it, since they do not descend.
* ``fixed_point`` (static): the solution satisfies
  :math:`x^\star = \mathrm{prox}_{t h}(x^\star - t \nabla f(x^\star))` (h = 0 without a
  ``reg``: :math:`\nabla f(x^\star) = 0`), which implicit differentiation of `subopt.run`
  uses. False for methods without such a map (the subgradient methods).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from subopt._tree import register_dataclass

PyTree = Any


@dataclasses.dataclass(frozen=True)
class StepInfo:
    """What an optimizer reports to `subopt.run` after ``init`` and after every ``update``.

    See the module docstring for the meaning of each field; array fields are pytree leaves,
    ``best`` and ``fixed_point`` are static.
    """

    iterate: PyTree = None
    reg: Any = None
    step: Any = None
    stationarity: Any = None
    valid: Any = None
    best: bool = False
    fixed_point: bool = False


register_dataclass(
    StepInfo, ["iterate", "reg", "step", "stationarity", "valid"], ["best", "fixed_point"]
)


def is_info(node: Any) -> bool:
    return isinstance(node, StepInfo)


def infos_of(state: PyTree) -> list[StepInfo]:
    """The `StepInfo` records of an optimizer state, in pytree (chain) order."""
    return [n for n in jax.tree_util.tree_leaves(state, is_leaf=is_info) if is_info(n)]


def combine(infos: list[StepInfo]) -> StepInfo:
    """One record for a whole optimizer, from the records of its members (chain order).

    Rules: ``iterate``, ``stationarity`` and ``step`` come from the last record that sets
    them (the last transform of a chain produces the params); the regularizers of all
    records add up (a tuple of terms); ``valid`` is the conjunction; ``best`` is set when any
    record sets it; ``fixed_point`` holds when some record declares it and none has
    ``best`` (a method that does not descend has no fixed-point map).
    """

    def last(name):
        values = [getattr(i, name) for i in infos if getattr(i, name) is not None]
        return values[-1] if values else None

    regs = tuple(i.reg for i in infos if i.reg is not None)
    valids = [jnp.asarray(i.valid) for i in infos if i.valid is not None]
    valid = None
    if valids:
        valid = valids[0]
        for v in valids[1:]:
            valid = valid & v
    best = any(i.best for i in infos)
    return StepInfo(
        iterate=last("iterate"),
        reg=regs if regs else None,
        step=last("step"),
        stationarity=last("stationarity"),
        valid=valid,
        best=best,
        fixed_point=any(i.fixed_point for i in infos) and not best,
    )
