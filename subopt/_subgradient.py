"""The subgradient method: fixed, diminishing, normalized and Polyak steps.

The subgradient method is not a descent method, so both optimizers here set ``best`` in their
`subopt.StepInfo`: `subopt.run` then tracks the best iterate seen and returns it.
Hyperparameters (step constants, f*, the Polyak cap) live in the state as array leaves, and
the update functions are module-level, so new values reuse the compiled program and can be
vmapped.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

from subopt import schedules
from subopt._base import (
    PyTree,
    cast_hyperparams,
    check_same_structure,
    check_scalar,
    check_step_size,
    next_count,
    params_dtype,
    require_extra_arg,
    valid_step,
)
from subopt._info import StepInfo
from subopt._transform import Optimizer
from subopt._tree import tree_norm, tree_scale


def _params_and_value(grads: PyTree, params: PyTree, extra_args: dict, who: str) -> tuple:
    """(params, value), or a TypeError naming what a hand-written loop forgot to pass."""
    if params is None:
        raise TypeError(
            f"{who}.update needs params: call update(grads, state, params, value=f(params))"
        )
    check_same_structure(grads, params)
    return params, require_extra_arg(extra_args, "value", who)


def _safe_inverse(norm: jax.Array) -> jax.Array:
    """1/norm, and 0 where norm == 0 (a zero subgradient: no step, no NaN)."""
    pos = norm > 0
    return jnp.where(pos, 1.0 / jnp.where(pos, norm, 1.0), 0.0)


# --------------------------------------------------------------------------- subgradient_descent


class SubgradientState(NamedTuple):
    """State of `subgradient_descent`.

    Attributes:
      count: int32, the number of steps taken (k).
      learning_rate: the step rule a_k: a 0-d array or a `subopt.schedules` pytree, its
        constants cast to the params' dtype.
      average: the ergodic average :math:`\\sum_i t_i x_i / \\sum_i t_i` over the iterates
        passed to ``update``, with t_i the multiplier of g_i in the step (a_i, or
        a_i/||g_i|| with ``normalize``); x_0 before the first step. None unless ``average``.
      weight_sum: :math:`\\sum_i t_i`.
      info: the `subopt.StepInfo` for `subopt.run`: ``best`` is set (the run reports the
        best iterate), ``step`` is a_k, ``valid`` says a_k > 0 and finite.
    """

    count: chex.Array
    learning_rate: Any
    average: PyTree | None
    weight_sum: chex.Array
    info: StepInfo


def _sg_info(step: Any) -> StepInfo:
    return StepInfo(step=step, valid=valid_step(step), best=True)


def _sg_init(params: PyTree, learning_rate: Any, average: bool) -> SubgradientState:
    dtype = params_dtype(params)
    lr = cast_hyperparams(schedules.as_schedule(learning_rate), dtype)
    count = np.zeros([], np.int32)
    return SubgradientState(
        count=count,
        learning_rate=lr,
        average=jax.tree_util.tree_map(jnp.asarray, params) if average else None,
        weight_sum=np.zeros((), dtype),
        info=_sg_info(schedules.evaluate(lr, count)),
    )


def _sg_step(grads, state: SubgradientState, params, normalize: bool):
    if params is None:
        raise TypeError("subgradient_descent.update needs params: update(grads, state, params)")
    check_same_structure(grads, params)
    a = schedules.evaluate(state.learning_rate, state.count)
    if normalize:
        # a * (g / ||g||): dividing first cannot overflow, even for a subnormal g.
        inv = _safe_inverse(tree_norm(grads))
        updates = tree_scale(-a, tree_scale(inv, grads))
        t = a * inv
    else:
        updates, t = tree_scale(-a, grads), a
    average, weight_sum = state.average, state.weight_sum
    if average is not None:
        t_w = jnp.asarray(t).astype(weight_sum.dtype)
        # the new point's share t / (W + t), written so that t = inf or W = inf gives no NaN
        pos = t_w > 0
        frac = jnp.where(pos, 1.0 / (1.0 + weight_sum / jnp.where(pos, t_w, 1.0)), 0.0)
        weight_sum = weight_sum + t_w
        average = jax.tree_util.tree_map(
            lambda m, x: (m + frac * (x - m)).astype(m.dtype), average, params
        )
    new_state = SubgradientState(
        count=next_count(state.count),
        learning_rate=state.learning_rate,
        average=average,
        weight_sum=weight_sum,
        info=_sg_info(a),
    )
    return updates, new_state


def _sg_update(grads, state, params=None, **extra_args):
    del extra_args
    return _sg_step(grads, state, params, normalize=False)


def _sg_update_normalized(grads, state, params=None, **extra_args):
    del extra_args
    return _sg_step(grads, state, params, normalize=True)


_NO_STEP = object()


def subgradient_descent(
    learning_rate: Any = _NO_STEP,
    *,
    normalize: bool = False,
    average: bool = False,
    step_size: Any = _NO_STEP,
) -> Optimizer[SubgradientState]:
    r"""The subgradient method, reporting the best iterate.

    .. math::

      x_{k+1} = x_k - a_k g_k \quad\text{or, with normalize,}\quad
      x_{k+1} = x_k - a_k \frac{g_k}{\|g_k\|}, \qquad g_k \in \partial f(x_k)

    g_k is what ``jax.grad`` returns: write the objective with `subopt.nonsmooth` to get the
    minimum-norm subgradient of each primitive at its kinks. With ``normalize`` every step has
    length a_k, and a zero subgradient (x_k is optimal) gives no step. The method is not a
    descent method; for convex f with subgradients bounded by G and
    :math:`R = \|x_0 - x^\star\|`,

    .. math::

      f_{\mathrm{best}}(k) - f^\star \le \frac{R^2 + G^2 \sum_{i<k} a_i^2}{2 \sum_{i<k} a_i}

    (with ``normalize``, :math:`(R^2 + \sum a_i^2) / (2 \sum a_i / G)`). So a `constant` step
    gets within :math:`G^2 a / 2` of f* but not to it; square-summable, not summable steps
    (`subopt.schedules.inverse_time`, a/(b + k)) and nonsummable diminishing steps
    (`subopt.schedules.inverse_sqrt`, a/sqrt(b + k)) converge, the latter at the
    :math:`O(1/\sqrt{k})` rate, which no step rule beats on this class.

    What `subopt.run` reports:

    * ``result.params``/``result.value``: the best iterate over x_0 ... x_N and f there
      (``result.value == fun(result.params)``; with ``record=True`` it equals
      ``min(f(x_0), min(history.value))``): the state's `subopt.StepInfo` sets ``best``, and
      `subopt.run` tracks the best iterate. The last iterate is ``result.state.x`` and,
      with ``average=True``, the ergodic average is ``result.opt_state.average``.
    * stationarity: the norm of the subgradient autodiff returned at the current iterate.
      It certifies near-optimality (:math:`\mathrm{dist}(0, \partial f(x)) \le` ``tol``) only
      when that subgradient is the minimum-norm one, which the chain rule does not guarantee
      (at a kink of a sum it rarely is). So ``CONVERGED`` is trustworthy, but the iterates of
      a nonsmooth problem seldom meet a small ``tol`` and the run usually ends ``MAX_STEPS``:
      judge the result by its value (e.g. against a known f*, or use `polyak_subgradient`).

    A hand-written loop keeps the best iterate itself (the optimizer state does not).

    Args:
      learning_rate: a_k > 0: a number (Python float or JAX array, may be traced and vmapped)
        or a schedule ``count -> step`` from `subopt.schedules` (any callable works, but only
        the pytree schedules reuse the compiled program for new constants). A traced a_k that
        is not > 0 and finite ends the run ``Status.INVALID``.
      normalize: divide the subgradient by its norm, so step k has length a_k.
      average: also keep the ergodic average of the iterates (``state.average``).
      step_size: the old name of ``learning_rate``, deprecated (a DeprecationWarning).

    Returns:
      An `subopt.Optimizer` whose ``update`` needs ``params``.

    Raises:
      ValueError: a concrete ``learning_rate`` that is <= 0, NaN or infinite.
      TypeError: ``normalize`` or ``average`` is not a bool; no step or both names given;
        at update, ``params`` is missing.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> f = lambda x: jnp.sum(so.nonsmooth.abs(x - 1.0))
      >>> opt = so.subgradient_descent(so.schedules.inverse_time(1.0), normalize=True)
      >>> res = so.run(opt, f, jnp.zeros(2), max_steps=500, tol=0.0)
      >>> bool(res.value < 1e-2)
      True

    References:
      Shor, *Minimization Methods for Non-Differentiable Functions*, 1985.
      Boyd, Xiao and Mutapcic, *Subgradient Methods*, lecture notes, Stanford, 2003.
      Nesterov, *Lectures on Convex Optimization*, 2018, section 3.2.3.
    """
    if step_size is not _NO_STEP:
        if learning_rate is not _NO_STEP:
            raise TypeError("give learning_rate or its deprecated name step_size, not both")
        warnings.warn(
            "subgradient_descent(step_size=...) is deprecated: use learning_rate=... (the "
            "name every subopt optimizer uses)",
            DeprecationWarning,
            stacklevel=2,
        )
        learning_rate = step_size
    if learning_rate is _NO_STEP:
        raise TypeError("subgradient_descent needs learning_rate")
    check_step_size("learning_rate", learning_rate)
    for name, flag in (("normalize", normalize), ("average", average)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be a bool, got {flag!r}")

    def init(params):
        return _sg_init(params, learning_rate, average)

    update = _sg_update_normalized if normalize else _sg_update
    return Optimizer(init, update)


# --------------------------------------------------------------------------- polyak_subgradient


class PolyakState(NamedTuple):
    """State of `polyak_subgradient`.

    Attributes:
      count: int32, the number of steps taken.
      f_star: the optimal value f* the steps aim at (a 0-d array).
      max_step: the cap on the multiplier a_k (+inf for no cap).
      lowest: the lowest objective value passed to ``update`` (+inf before the first).
      info: the `subopt.StepInfo` for `subopt.run`: ``best`` is set; ``stationarity`` is
        the gap :math:`f_{\\mathrm{low}} - f^\\star` of ``lowest`` (+inf before the first
        update, and +inf once a value below f* proved ``f_star`` wrong); ``valid`` says f*
        is finite and the cap > 0.
    """

    count: chex.Array
    f_star: chex.Array
    max_step: chex.Array
    lowest: chex.Array
    info: StepInfo


def _polyak_info(f_star: Any, max_step: Any, gap: Any) -> StepInfo:
    valid = jnp.isfinite(f_star) & (jnp.asarray(max_step) > 0)
    return StepInfo(stationarity=gap, valid=valid, best=True)


def _polyak_init(params: PyTree, f_star: Any, max_step: Any) -> PolyakState:
    dtype = params_dtype(params)
    f_star = cast_hyperparams(f_star, dtype)
    max_step = cast_hyperparams(np.inf if max_step is None else max_step, dtype)
    inf = np.asarray(np.inf, dtype)
    info = _polyak_info(f_star, max_step, inf)
    return PolyakState(np.zeros([], np.int32), f_star, max_step, inf, info)


def _polyak_update(grads, state: PolyakState, params=None, **extra_args):
    params, value = _params_and_value(grads, params, extra_args, "polyak_subgradient")
    value = jnp.asarray(value)
    inv = _safe_inverse(tree_norm(grads))
    # (f - f*) / ||g||^2 computed as ((f - f*)/||g||)/||g|| so that it does not overflow.
    t = (jnp.abs(value - state.f_star) * inv) * inv
    t = jnp.minimum(t, state.max_step)
    lowest = jnp.minimum(state.lowest, value.astype(state.lowest.dtype))  # NaN stays NaN
    above = lowest >= state.f_star
    gap = jnp.where(above, lowest - state.f_star, jnp.inf).astype(state.lowest.dtype)
    new_state = PolyakState(
        count=next_count(state.count),
        f_star=state.f_star,
        max_step=state.max_step,
        lowest=lowest,
        info=_polyak_info(state.f_star, state.max_step, gap),
    )
    return tree_scale(-t, grads), new_state


def polyak_subgradient(f_star: Any, *, max_step: Any = None) -> Optimizer[PolyakState]:
    r"""The subgradient method with Polyak's step for a known optimal value f*.

    .. math::

      x_{k+1} = x_k - a_k g_k, \qquad
      a_k = \min\Big(\frac{|f(x_k) - f^\star|}{\|g_k\|^2}, a_{\max}\Big),
      \qquad g_k \in \partial f(x_k)

    A zero subgradient gives no step. With a correct f*, :math:`f(x_k) \ge f^\star` and the
    absolute value changes nothing; a value below ``f_star`` proves ``f_star`` wrong, and the
    method then keeps descending rather than stalling. For convex f each step
    brings x_k closer to every minimiser: :math:`\|x_{k+1} - x^\star\|^2 \le
    \|x_k - x^\star\|^2 - (f(x_k) - f^\star)^2 / \|g_k\|^2`, so
    :math:`f_{\mathrm{best}}(k) - f^\star \le G R / \sqrt{k}`, and on a sharp problem
    (:math:`f(x) - f^\star \ge \mu\,\mathrm{dist}(x, X^\star)`, e.g. LAD regression or a max
    of affine functions) the distance shrinks linearly, by :math:`\sqrt{1 - \mu^2/G^2}` per step.

    What `subopt.run` reports:

    * ``result.params``/``result.value``: the best iterate over x_0 ... x_N and f there, as for
      `subgradient_descent`; the last iterate is ``result.state.x``.
    * stationarity: the gap :math:`f_{\mathrm{low}} - f^\star`, with
      :math:`f_{\mathrm{low}}` the lowest value over the points the updates stepped from
      (x_0 ... x_{k-1}), and +inf once a value fell below f*. So ``CONVERGED`` means some
      iterate has :math:`f^\star \le f(x_i) \le f^\star +` ``tol`` (the best iterate is
      then that one or better), one step after it was reached. That is an optimality
      certificate only if ``f_star`` is the optimal value: the method cannot tell a wrong
      ``f_star``. If it is
      below the optimum the gap never closes and the run ends ``MAX_STEPS``. If it is above,
      the iterates aim at f*: a step can land within ``tol`` of it (then ``CONVERGED`` at a
      point that is not optimal; on a linear f, Polyak's step reaches f* exactly in one
      step, so an unbounded linear objective ends ``CONVERGED`` at f = f*), and a point
      below f* never counts as converged: from there the steps keep descending.
    * A traced ``f_star`` that is not finite, or a cap ``max_step`` that is not > 0, ends
      the run ``Status.INVALID``.

    Args:
      f_star: the optimal value f* (finite; a number or a possibly traced array).
      max_step: the largest multiplier a_k, > 0; None (the default) for no cap.

    Returns:
      An `subopt.Optimizer` whose ``update`` needs ``params`` and the extra argument
      ``value`` (`subopt.run` passes both).

    Raises:
      ValueError: a concrete ``f_star`` that is NaN or infinite, or a concrete ``max_step``
        that is <= 0 or NaN.
      TypeError: at update, ``params`` or ``value`` is missing (e.g. a hand-written loop that
        calls ``update(g, state, x)``: pass ``value=f(x)``).

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> f = lambda x: so.nonsmooth.linf_norm(x - 1.0)
      >>> res = so.run(so.polyak_subgradient(0.0), f, jnp.zeros(3), max_steps=200, tol=1e-6)
      >>> so.Status(int(res.status)).name
      'CONVERGED'

    References:
      Polyak, *Minimization of unsmooth functionals*, USSR Computational Mathematics and
      Mathematical Physics 9(3), 1969.
      Boyd, Xiao and Mutapcic, *Subgradient Methods*, lecture notes, Stanford, 2003, section 3.
    """
    check_scalar("f_star", f_star)
    if max_step is not None:
        check_scalar("max_step", max_step, positive=True, allow_inf=True)

    def init(params):
        return _polyak_init(params, f_star, max_step)

    return Optimizer(init, _polyak_update)
