"""The subgradient method: fixed, diminishing, normalized and Polyak steps, best-iterate reports.

The subgradient method is not a descent method, so both optimizers here keep the best iterate
seen (the driver passes the objective value to ``update``) and report it to `subopt.run` as the
solution. Hyperparameters (step constants, f*, the Polyak cap) live in the state as array
leaves, and the update functions are module-level, so new values reuse the compiled program
and can be vmapped.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from subopt import schedules
from subopt._base import (
    PyTree,
    ScalarOrSchedule,
    cast_hyperparams,
    check_same_structure,
    check_scalar,
    check_step_size,
    params_dtype,
    require_extra_arg,
    tree_norm,
    tree_select,
)


def _best_of(best_x: PyTree, best_f: jax.Array, x: PyTree, fx: Any) -> tuple:
    """(x, fx) unless the stored best is at least as good (NaN fx is returned as is)."""
    keep = best_f <= fx
    return tree_select(keep, best_x, x), jnp.where(keep, best_f, fx)


def _params_and_value(grads: PyTree, params: PyTree, extra_args: dict, who: str) -> tuple:
    """(params, value), or a TypeError naming what a hand-written loop forgot to pass."""
    if params is None:
        raise TypeError(
            f"{who}.update needs params (it tracks the best iterate): "
            "call update(grads, state, params, value=f(params))"
        )
    check_same_structure(grads, params)
    return params, require_extra_arg(extra_args, "value", who)


def _track(best_x: PyTree, best_f: jax.Array, params: PyTree, value: Any) -> tuple:
    value = jnp.asarray(value).astype(best_f.dtype)
    better = value < best_f  # False for NaN: a NaN value never becomes the best
    return tree_select(better, params, best_x), jnp.where(better, value, best_f)


def _scaled(grads: PyTree, t: jax.Array) -> PyTree:
    return jax.tree_util.tree_map(lambda g: (-t * g).astype(g.dtype), grads)


def _safe_inverse(norm: jax.Array) -> jax.Array:
    """1/norm, and 0 where norm == 0 (a zero subgradient: no step, no NaN)."""
    pos = norm > 0
    return jnp.where(pos, 1.0 / jnp.where(pos, norm, 1.0), 0.0)


# --------------------------------------------------------------------------- subgradient_descent


class SubgradientState(NamedTuple):
    """State of `subgradient_descent`.

    Attributes:
      count: int32, the number of steps taken (k).
      step_size: the step rule a_k: a 0-d array or a `subopt.schedules` pytree, its
        constants cast to the params' dtype.
      best_params: the best iterate among those passed to ``update`` (x_0 ... x_{k-1}).
      best_value: its objective value (+inf before the first update).
      last: the latest iterate x_k = x_{k-1} + update (x_0 after ``init``).
      average: the ergodic average :math:`\\sum_i t_i x_i / \\sum_i t_i` over the iterates
        passed to ``update``, with t_i the multiplier of g_i in the step (a_i, or
        a_i/||g_i|| with ``normalize``); x_0 before the first step. None unless ``average``.
      weight_sum: :math:`\\sum_i t_i`.
    """

    count: jax.Array
    step_size: Any
    best_params: PyTree
    best_value: jax.Array
    last: PyTree
    average: PyTree | None
    weight_sum: jax.Array

    # No report_stationarity: the driver's default measure, the norm of the gradient autodiff
    # returned, is the one documented for this method (and the driver fuses it with its checks).

    def report_solution(self, x: PyTree, fx: Any) -> tuple:
        """The best of the tracked iterates and (x, fx): the final iterate and its value."""
        return _best_of(self.best_params, self.best_value, x, fx)


def _sg_init(params: PyTree, step_size: Any, average: bool) -> SubgradientState:
    dtype = params_dtype(params)
    copy = jax.tree_util.tree_map(jnp.asarray, params)
    return SubgradientState(
        count=jnp.zeros([], jnp.int32),
        step_size=cast_hyperparams(schedules.as_schedule(step_size), dtype),
        best_params=copy,
        best_value=jnp.full((), jnp.inf, dtype),
        last=copy,
        average=copy if average else None,
        weight_sum=jnp.zeros((), dtype),
    )


def _sg_step(grads, state: SubgradientState, params, extra_args, normalize: bool):
    who = "subgradient_descent"
    params, value = _params_and_value(grads, params, extra_args, who)
    a = schedules.evaluate(state.step_size, state.count)
    if normalize:
        norm = tree_norm(grads)
        pos = norm > 0
        safe = jnp.where(pos, norm, 1.0)
        # a * (g / ||g||): dividing first cannot overflow, even for a subnormal g.
        updates = jax.tree_util.tree_map(
            lambda g: jnp.where(pos, -a * (g / safe.astype(g.dtype)), 0.0).astype(g.dtype), grads
        )
        t = jnp.where(pos, a / safe, 0.0)
    else:
        updates, t = _scaled(grads, a), a
    best_params, best_value = _track(state.best_params, state.best_value, params, value)
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
        count=jnp.asarray(optax.safe_int32_increment(state.count)),
        step_size=state.step_size,
        best_params=best_params,
        best_value=best_value,
        last=optax.apply_updates(params, updates),
        average=average,
        weight_sum=weight_sum,
    )
    return updates, new_state


def _sg_update(grads, state, params=None, **extra_args):
    return _sg_step(grads, state, params, extra_args, normalize=False)


def _sg_update_normalized(grads, state, params=None, **extra_args):
    return _sg_step(grads, state, params, extra_args, normalize=True)


def subgradient_descent(
    step_size: ScalarOrSchedule, *, normalize: bool = False, average: bool = False
) -> optax.GradientTransformationExtraArgs:
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
      ``min(f(x_0), min(history.value))``). The last iterate is ``result.state.last`` and,
      with ``average=True``, the ergodic average is ``result.state.average``.
    * stationarity: the norm of the subgradient autodiff returned at the current iterate.
      It certifies near-optimality (:math:`\mathrm{dist}(0, \partial f(x)) \le` ``tol``) only
      when that subgradient is the minimum-norm one, which the chain rule does not guarantee
      (at a kink of a sum it rarely is). So ``CONVERGED`` is trustworthy, but the iterates of
      a nonsmooth problem seldom meet a small ``tol`` and the run usually ends ``MAX_STEPS``:
      judge the result by its value (e.g. against a known f*, or use `polyak_subgradient`).

    In a hand-written loop pass the objective value:
    ``update(g, state, x, value=f(x))``; ``state.report_solution(x, f(x))`` then gives the best
    iterate.

    Args:
      step_size: a_k > 0: a number (Python float or JAX array, may be traced and vmapped) or a
        schedule ``count -> step`` from `subopt.schedules` (any callable works, but only the
        pytree schedules reuse the compiled program for new constants).
      normalize: divide the subgradient by its norm, so step k has length a_k.
      average: also keep the ergodic average of the iterates (``state.average``).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose ``update`` needs ``params`` and the
      extra argument ``value`` (`subopt.run` passes both).

    Raises:
      ValueError: a concrete ``step_size`` that is <= 0, NaN or infinite.
      TypeError: ``normalize`` or ``average`` is not a bool; at update, ``params`` or
        ``value`` is missing.

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
    check_step_size("step_size", step_size)
    for name, flag in (("normalize", normalize), ("average", average)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be a bool, got {flag!r}")

    def init(params):
        return _sg_init(params, step_size, average)

    update = _sg_update_normalized if normalize else _sg_update
    return optax.GradientTransformationExtraArgs(init, update)  # pyright: ignore[reportArgumentType]


# --------------------------------------------------------------------------- polyak_subgradient


class PolyakState(NamedTuple):
    """State of `polyak_subgradient`.

    Attributes:
      count: int32, the number of steps taken.
      f_star: the optimal value f* the steps aim at (a 0-d array).
      max_step: the cap on the multiplier a_k (+inf for no cap).
      best_params: the best iterate among those passed to ``update`` (x_0 ... x_{k-1}).
      best_value: its objective value (+inf before the first update).
      last: the latest iterate x_k (x_0 after ``init``).
    """

    count: jax.Array
    f_star: jax.Array
    max_step: jax.Array
    best_params: PyTree
    best_value: jax.Array
    last: PyTree

    def report_stationarity(self, params: PyTree, value: Any, grad: PyTree) -> jax.Array:
        """|f_best - f*|: the best value over the tracked iterates and ``value``, less f*."""
        del params, grad
        value = jnp.asarray(value)
        return jnp.abs(jnp.minimum(self.best_value.astype(value.dtype), value) - self.f_star)

    def report_solution(self, x: PyTree, fx: Any) -> tuple:
        """The best of the tracked iterates and (x, fx): the final iterate and its value."""
        return _best_of(self.best_params, self.best_value, x, fx)


def _polyak_init(params: PyTree, f_star: Any, max_step: Any) -> PolyakState:
    dtype = params_dtype(params)
    copy = jax.tree_util.tree_map(jnp.asarray, params)
    return PolyakState(
        count=jnp.zeros([], jnp.int32),
        f_star=cast_hyperparams(f_star, dtype),
        max_step=cast_hyperparams(jnp.inf if max_step is None else max_step, dtype),
        best_params=copy,
        best_value=jnp.full((), jnp.inf, dtype),
        last=copy,
    )


def _polyak_update(grads, state: PolyakState, params=None, **extra_args):
    params, value = _params_and_value(grads, params, extra_args, "polyak_subgradient")
    value = jnp.asarray(value)
    inv = _safe_inverse(tree_norm(grads))
    # (f - f*) / ||g||^2 computed as ((f - f*)/||g||)/||g|| so that it does not overflow.
    t = (jnp.abs(value - state.f_star) * inv) * inv
    t = jnp.minimum(t, state.max_step)
    updates = _scaled(grads, t)
    best_params, best_value = _track(state.best_params, state.best_value, params, value)
    new_state = PolyakState(
        count=jnp.asarray(optax.safe_int32_increment(state.count)),
        f_star=state.f_star,
        max_step=state.max_step,
        best_params=best_params,
        best_value=best_value,
        last=optax.apply_updates(params, updates),
    )
    return updates, new_state


def polyak_subgradient(
    f_star: Any, *, max_step: Any = None
) -> optax.GradientTransformationExtraArgs:
    r"""The subgradient method with Polyak's step for a known optimal value f*.

    .. math::

      x_{k+1} = x_k - a_k g_k, \qquad
      a_k = \min\Big(\frac{|f(x_k) - f^\star|}{\|g_k\|^2}, a_{\max}\Big),
      \qquad g_k \in \partial f(x_k)

    A zero subgradient gives no step. With a correct f*, :math:`f(x_k) \ge f^\star` and the
    absolute value changes nothing; a value below ``f_star`` proves ``f_star`` wrong, and the
    method then keeps descending rather than stalling (an unbounded objective ends
    ``DIVERGED``, not stuck). For convex f each step
    brings x_k closer to every minimiser: :math:`\|x_{k+1} - x^\star\|^2 \le
    \|x_k - x^\star\|^2 - (f(x_k) - f^\star)^2 / \|g_k\|^2`, so
    :math:`f_{\mathrm{best}}(k) - f^\star \le G R / \sqrt{k}`, and on a sharp problem
    (:math:`f(x) - f^\star \ge \mu\,\mathrm{dist}(x, X^\star)`, e.g. LAD regression or a max
    of affine functions) the distance shrinks linearly, by :math:`\sqrt{1 - \mu^2/G^2}` per step.

    What `subopt.run` reports:

    * ``result.params``/``result.value``: the best iterate over x_0 ... x_N and f there, as for
      `subgradient_descent`; the last iterate is ``result.state.last``.
    * stationarity: :math:`|f_{\mathrm{best}} - f^\star|`, so ``CONVERGED`` means
      :math:`f_{\mathrm{best}}` is within ``tol`` of ``f_star``. That is an optimality
      certificate only if ``f_star`` is the optimal value. If ``f_star`` is below the
      optimum the gap never closes and the run ends ``MAX_STEPS``; if it is above, the
      iterates pass below it, the gap grows again, and the run never ends ``CONVERGED`` by
      overshooting.

    Args:
      f_star: the optimal value f* (finite; a number or a possibly traced array).
      max_step: the largest multiplier a_k, > 0; None (the default) for no cap.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose ``update`` needs ``params`` and the
      extra argument ``value`` (`subopt.run` passes both).

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

    return optax.GradientTransformationExtraArgs(init, _polyak_update)  # pyright: ignore[reportArgumentType]
