r"""`run`: the jit-compiled optimization loop, its stopping rules and its report.

The loop is one ``jax.lax.while_loop``. Each step calls the optimizer's ``update`` with the
extra args ``value`` (the objective at the current params), ``value_fn`` (``x -> fun(x,
*args)``) and ``grad`` (the gradient at the params, the same as the first argument), applies
the updates, evaluates the objective and its gradient at the new point, and commits the step
(one ``lax.cond`` over the whole carry) only when everything it produced is finite and the
step was valid. So the carry always holds the last finite iterate.

What the driver reads from the optimizer: the `subopt.StepInfo` records in its state, combined
by `subopt._info.combine` (see that module for the protocol a user's optimizer implements).
The driver never looks up methods.

Compile-cache rule (the one place it is stated): the loop is compiled once per
(``optimizer.update``, ``fun``, ``callback``, the pytree structure, shapes and dtypes of
``x0``, of the optimizer state and of ``args``, ``max_steps``, ``record``, best-iterate
tracking, fresh start or resume). Data in ``args``, subopt's hyperparameters (which live in
the state), ``tol`` and ``divergence_threshold`` are traced values: new ones reuse the
program. ``fun`` and ``callback`` are static: a new function object (a new lambda, a new
closure) is a new program.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import optax
from jax.core import Tracer

from subopt._base import (
    INT32_MAX,
    RUNNING,
    History,
    PyTree,
    Result,
    RunState,
    Status,
    check_params,
    check_positive_int,
    check_scalar,
)
from subopt._implicit import LinearSolver, implicit_run
from subopt._info import StepInfo, combine, infos_of
from subopt._run_inputs import (
    _as_float,
    _check_args,
    _check_state,
    _checked,
    _HostCallback,
    _PlainUpdate,
)
from subopt._tree import tree_max_abs, tree_norm

DIVERGENCE_THRESHOLD = 1e10


def _reg_value(regs: Any, x: PyTree, dtype: Any) -> jax.Array:
    """The sum of the regularizers' values at x (0 without any)."""
    total = jnp.zeros((), dtype)
    for reg in regs or ():
        total = total + jnp.asarray(reg.value(x)).astype(dtype)
    return total


def _flat(tree: PyTree, dtype: Any) -> jax.Array:
    """All entries of a pytree as one vector (a reshape for a single leaf): the driver's
    checks then cost a few reductions whatever the number of leaves; a reduction per leaf
    made compile time grow much faster than the number of leaves."""
    leaves = jax.tree_util.tree_leaves(tree)
    if not leaves:
        return jnp.zeros((0,), dtype)
    if len(leaves) == 1:
        return jnp.ravel(leaves[0])
    return jnp.concatenate([jnp.ravel(v).astype(dtype) for v in leaves])


def _inspect(x: PyTree, g: PyTree, default_measure: bool, dtype: Any) -> tuple:
    """(finite, gradient norm or None) from ``g + 0 x``, which is g where x is finite and NaN
    where it is not: its norm (the default measure) or, when the optimizer reports a measure
    of its own, its largest entry is finite exactly when g and x are."""
    masked = _flat(g, dtype) + 0 * _flat(x, dtype)
    if default_measure:
        norm = tree_norm(masked).astype(dtype)
        return jnp.isfinite(norm), norm
    return jnp.isfinite(tree_max_abs(masked)), None


def _point_and_value(info: StepInfo, x: PyTree, f: jax.Array, value_fn: Callable, dtype: Any):
    """The optimizer's iterate (default: the loop's point x) and F = f + h there."""
    if info.iterate is None:
        return x, (f + _reg_value(info.reg, x, dtype)).astype(dtype)
    it = info.iterate
    return it, (jnp.asarray(value_fn(it)).astype(dtype) + _reg_value(info.reg, it, dtype))


@partial(
    jax.jit,
    static_argnames=("update", "fun", "max_steps", "record", "track", "callback", "every"),
)
def _run(update, fun, max_steps, record, track, callback, every, start, args, tol, threshold):
    value_fn = _checked(fun, args)
    value_and_grad = jax.value_and_grad(value_fn)
    x0, state0 = start.x, start.opt_state
    info0 = combine(infos_of(state0))
    if start.value is None:  # a fresh start: measure x0
        f0, g0 = value_and_grad(x0)
        dtype = f0.dtype
        finite0, gnorm0 = _inspect(x0, g0, info0.stationarity is None, dtype)
        s0 = jnp.asarray(gnorm0 if info0.stationarity is None else info0.stationarity, dtype)
        fstart = f0
        if track:
            bx, bf = _point_and_value(info0, x0, f0, value_fn, dtype)
        else:
            bx, bf = None, None
    else:  # a resume: everything the last run measured is in the state
        f0, g0, s0, fstart = start.value, start.grad, start.stationarity, start.f0
        dtype = f0.dtype
        finite0 = jnp.array(True)
        bx, bf = start.best_params, start.best_value
    tol = jnp.asarray(tol, dtype)
    bound = jnp.asarray(threshold, dtype) * (1 + jnp.abs(fstart))
    code = {status: jnp.int32(status) for status in (*Status, RUNNING)}  # no int64 under x64
    valid0 = jnp.array(True) if info0.valid is None else jnp.asarray(info0.valid)
    status0 = jnp.where(
        ~valid0,
        code[Status.INVALID],
        jnp.where(
            ~finite0 | jnp.isnan(s0) | ~jnp.isfinite(f0),
            code[Status.NONFINITE],
            jnp.where(s0 <= tol, code[Status.CONVERGED], code[RUNNING]),
        ),
    )
    history = None
    if record:
        nan = jnp.full((max_steps,), jnp.nan, dtype)
        history = History(nan, nan)
    carry0 = (jnp.zeros([], jnp.int32), status0, x0, state0, f0, s0, g0, bx, bf, history)

    def cond(carry):
        return carry[1] == RUNNING

    def body(carry):
        k, _, x, state, f, s, g, bx, bf, history = carry
        updates, new_state = update(g, state, x, value=f, value_fn=value_fn, grad=g)
        new_x = optax.apply_updates(x, updates)
        new_f, new_g = value_and_grad(new_x)
        info = combine(infos_of(new_state))
        finite, gnorm = _inspect(new_x, new_g, info.stationarity is None, dtype)
        new_s = jnp.asarray(gnorm if info.stationarity is None else info.stationarity, dtype)
        valid = jnp.array(True) if info.valid is None else jnp.asarray(info.valid)
        k = k + 1
        nonfinite = jnp.isnan(new_f) | ~finite | jnp.isnan(new_s)
        infinite = jnp.isinf(new_f)
        diverged = infinite | (jnp.abs(new_f - fstart) > bound)
        status = jnp.where(
            ~valid,
            code[Status.INVALID],
            jnp.where(
                nonfinite,
                code[Status.NONFINITE],
                jnp.where(
                    diverged,
                    code[Status.DIVERGED],
                    jnp.where(
                        new_s <= tol,
                        code[Status.CONVERGED],
                        jnp.where(k >= max_steps, code[Status.MAX_STEPS], code[RUNNING]),
                    ),
                ),
            ),
        )
        commit = valid & ~nonfinite & ~infinite
        if record or track:
            point, fx = _point_and_value(info, new_x, new_f, value_fn, dtype)
        if record:
            history = History(
                history.value.at[k - 1].set(jnp.where(commit, fx, jnp.nan).astype(dtype)),
                history.stationarity.at[k - 1].set(jnp.where(commit, new_s, jnp.nan)),
            )
        # one cond over the whole carry, not a select per leaf: the compile time of a select
        # per leaf grows much faster than the number of leaves
        x, state, f, s, g = jax.lax.cond(
            commit,
            lambda: (new_x, new_state, new_f, new_s, new_g),
            lambda: (x, state, f, s, g),
        )
        if track:
            better = commit & ~jnp.isnan(fx) & ~(fx >= bf)
            bx, bf = jax.lax.cond(better, lambda: (point, fx), lambda: (bx, bf))
        if callback is not None:

            def emit():
                _, fx_now = _point_and_value(info, x, f, value_fn, dtype)
                jax.debug.callback(callback, k, fx_now, s)

            jax.lax.cond((k % every == 0) | (status != RUNNING), emit, lambda: None)
        return (k, status, x, state, f, s, g, bx, bf, history)

    k, status, x, state, f, s, g, bx, bf, history = jax.lax.while_loop(cond, body, carry0)
    info = combine(infos_of(state))
    if track:
        params, value = bx, bf
    else:
        params, value = _point_and_value(info, x, f, value_fn, dtype)
        if info.iterate is not None:
            # should F be non-finite at the iterate where it is finite at the loop's point
            # (FISTA's x_k vs y_k), report the loop's point: a finite run never reports NaN
            at_x = (f + _reg_value(info.reg, x, dtype)).astype(dtype)
            keep = jnp.isfinite(value) | ~jnp.isfinite(at_x)
            params, value = jax.lax.cond(keep, lambda: (params, value), lambda: (x, at_x))
    # the first rule: never CONVERGED unless F is finite at the returned params
    value = jnp.asarray(value, dtype)
    bad = ~jnp.isfinite(value)
    verdict = jnp.where(value == -jnp.inf, code[Status.DIVERGED], code[Status.NONFINITE])
    status = jnp.where((status == code[Status.CONVERGED]) & bad, verdict, status)
    final = RunState(x, state, f, g, s, fstart, bx, bf)
    return Result(params, jnp.asarray(value, dtype), k, status, s, final, history)


def run(
    optimizer: optax.GradientTransformation,
    fun: Callable[..., jax.Array],
    x0: PyTree,
    *args: Any,
    max_steps: int = 1000,
    tol: Any = 1e-6,
    record: bool = False,
    state: RunState | None = None,
    divergence_threshold: Any = DIVERGENCE_THRESHOLD,
    callback: Callable[[Any, Any, Any], Any] | None = None,
    best: bool | None = None,
    linear_solver: LinearSolver | None = None,
) -> Result:
    r"""Minimize ``fun(x, *args)`` from ``x0`` with ``optimizer``, in one compiled loop.

    Each step is

    .. math::

      u_k, s_{k+1} = \mathrm{update}(\nabla f(x_k), s_k, x_k; f(x_k), f, \nabla f(x_k)),
      \qquad x_{k+1} = x_k + u_k

    and the loop stops at the first of:

    * ``CONVERGED``: the stationarity measure is <= ``tol``. For smooth problems it is the
      gradient norm :math:`\|\nabla f(x_k)\|` (checked at x_0 too, so a stationary start takes
      0 steps); optimizers may report another measure (see each optimizer's docstring). A run
      never ends ``CONVERGED`` unless F (f plus the optimizer's regularizers) is finite at the
      returned params: it then ends ``NONFINITE`` (``DIVERGED`` for F = -inf).
    * ``MAX_STEPS``: ``max_steps`` steps were taken.
    * ``INVALID``: a (traced) hyperparameter is invalid, at the start or at any step (a step
      that is not > 0 and finite, a regularizer whose ``is_valid()`` is False, e.g. a
      negative weight or an empty set). That step is not committed.
    * ``NONFINITE``: the objective became NaN, or the gradient, the iterate or the measure
      became NaN/inf. The step is not committed: ``params`` is the last finite iterate.
    * ``DIVERGED``: the objective became +-inf (the step is not committed), or
      :math:`|f(x_k) - f(x_0)| > \text{divergence\_threshold} \cdot (1 + |f(x_0)|)`. An
      objective unbounded below ends ``DIVERGED`` once it crosses that bound, or
      ``NONFINITE``; one that decreases too slowly to cross it within ``max_steps`` ends
      ``MAX_STEPS``.

    What comes back: ``result.params`` is the optimizer's iterate (its `subopt.StepInfo`
    ``iterate``, e.g. FISTA's prox output), or the best iterate seen (by F) when the run
    tracks it, and ``result.value`` is F at ``result.params``. ``result.state`` is a
    `subopt.RunState`, all the loop carries; ``so.run(opt, fun, result.params, *args,
    state=result.state)`` resumes where the run stopped (N steps then N more equal 2N steps
    in one call, bitwise): the loop continues from the state's own point, and ``x0`` only
    fixes the structure.

    Data: ``args`` are traced arguments of the compiled loop (pytrees of arrays), so a new
    dataset of the same shapes and dtypes reuses the program, ``jax.vmap`` over datasets
    works, and ``jax.grad`` can flow into them. ``fun`` itself is a static argument, compiled
    in: pass data through ``args``, not through a closure (a closure's arrays are constants
    of the program, compiled anew for each dataset). The compile-cache rule is stated in
    the module docstring of ``subopt._driver``.

    Progress: ``callback(step, value, stationarity)`` runs on the host (through
    ``jax.debug.callback``) every ``callback.every`` steps (every step for a callable without
    an ``every`` attribute) and at the last step; ``value`` is F at the optimizer's iterate.
    `subopt.progress` is a ready-made tqdm bar. With ``callback=None`` nothing is compiled
    in. Under ``jax.vmap`` the callback runs once per lane, every step (the step test becomes
    a select), with that lane's numbers. An exception the callback raises propagates (as
    itself when `run` is called outside ``jit``; inside ``jit``, as JAX's runtime error,
    whose message holds the original traceback); a run with a callback waits for its
    result.

    Args:
      optimizer: any optax ``GradientTransformation`` (subopt's, ``optax.adam(...)``,
        ``optax.lbfgs()``, chains).
      fun: the objective ``fun(x, *args)``, a real floating scalar (float32 or float64); a
        hashable callable.
      x0: the start, a pytree of real floating arrays.
      *args: data passed to ``fun`` after x: pytrees of jax or numpy arrays.
      max_steps: the most steps to take, a Python int in [1, 2**31 - 1].
      tol: the stationarity tolerance, >= 0.
      record: when True, ``result.history`` holds per-step ``value`` (F at the iterate) and
        ``stationarity`` arrays of length ``max_steps``: entry k is measured after step k+1,
        NaN after the stop.
      state: a previous ``result.state`` to resume from (same optimizer, same structure).
      divergence_threshold: the relative growth of the objective that counts as divergence.
      callback: a hashable host function ``(step, value, stationarity)``, or None.
      best: track the best iterate (by F) and return it: None (the default) follows the
        optimizer (the subgradient methods set it in their `subopt.StepInfo`); True for any
        optimizer (it costs one evaluation of f per step where the iterate is not the loop's
        point, e.g. FISTA); False never tracks.
      linear_solver: how derivatives of the solution solve their linear system, a
        `subopt.LinearSolver` (default: GMRES for prox maps, CG for gradient descent, 1e-6).

    Derivatives: ``jax.grad``, ``jax.vjp``, ``jax.jacrev``, ``jax.jvp`` and ``jax.jacfwd`` of
    ``params`` and ``value`` with respect to ``args`` and the regularizers' hyperparameters
    are computed by the implicit function theorem at the optimizer's fixed-point map, not by
    unrolling the loop; ``x0``, the step, ``tol`` and ``max_steps`` get zero derivatives, and
    a run that did not converge is differentiated at its point as if it were the solution
    (check ``result.status``). See docs/implicit.md.

    Returns:
      A `subopt.Result`.

    Raises:
      TypeError: ``fun`` is not callable, not hashable, or returns a non-scalar, tuple,
        Python number, non-real or half-precision value; ``x0`` has a leaf that is not real
        floating; an ``args`` leaf is not an array; ``state`` is not from a run of this
        optimizer on this structure; ``optimizer`` lacks ``init``/``update``.
      ValueError: ``x0`` holds NaN/inf; ``max_steps`` < 1 or > 2**31 - 1; ``tol`` < 0 or
        NaN.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> f = lambda x, c: jnp.sum((x - c) ** 2)
      >>> res = so.run(so.gradient_descent(0.25), f, jnp.zeros(2), jnp.array([3.0, 3.0]),
      ...              tol=1e-8)
      >>> res.params.round(4).tolist(), so.Status(int(res.status)).name
      ([3.0, 3.0], 'CONVERGED')
    """
    if not (
        callable(getattr(optimizer, "init", None)) and callable(getattr(optimizer, "update", None))
    ):
        raise TypeError(
            f"optimizer must have init and update (an optax transform), got {optimizer!r}"
        )
    if not callable(fun):
        raise TypeError(f"fun must be callable, got {fun!r}")
    try:
        hash(fun)
    except TypeError:
        raise TypeError(
            f"fun must be hashable (it is compiled into the loop), got {fun!r}; pass data as "
            "so.run(opt, fun, x0, *args) instead of binding it into fun"
        ) from None
    if not isinstance(record, bool):
        raise TypeError(f"record must be a bool, got {record!r}")
    if best is not None and not isinstance(best, bool):
        raise TypeError(f"best must be None or a bool, got {best!r}")
    every = 1
    if callback is not None:
        if not callable(callback):
            raise TypeError(f"callback must be callable or None, got {callback!r}")
        try:
            hash(callback)
        except TypeError:
            raise TypeError(f"callback must be hashable, got {callback!r}") from None
        every = check_positive_int("callback.every", getattr(callback, "every", 1))
    max_steps = check_positive_int("max_steps", max_steps, upper=INT32_MAX)
    check_scalar("tol", tol, nonnegative=True)
    check_scalar("divergence_threshold", divergence_threshold, positive=True, allow_inf=True)
    check_params("x0", x0)
    _check_args(args)
    x0 = jax.tree_util.tree_map(jnp.asarray, x0)
    if state is None:
        opt_state = optimizer.init(x0)
        track = combine(infos_of(opt_state)).best if best is None else best
        start = RunState(x0, opt_state, None, None, None, None)
    else:
        track = _check_state(state, optimizer, x0, best)
        start = state
    update = optimizer.update
    if not isinstance(optimizer, optax.GradientTransformationExtraArgs):
        update = _PlainUpdate(update)
    tol, threshold = _as_float(tol), _as_float(divergence_threshold)
    # the compiled loop, differentiable by the implicit function theorem (subopt._implicit)
    if callback is None:
        core = partial(_run, update, fun, max_steps, record, track, None, 1)
        return implicit_run(core, fun, start, args, tol, threshold, solver=linear_solver)
    host = _HostCallback(callback)
    _HostCallback.errors.last = None
    try:
        core = partial(_run, update, fun, max_steps, record, track, host, every)
        result = implicit_run(core, fun, start, args, tol, threshold, solver=linear_solver)
        if not isinstance(result.status, Tracer):
            jax.block_until_ready(result)
    except Exception as e:
        error, _HostCallback.errors.last = _HostCallback.errors.last, None
        if error is not None:
            raise error from e
        raise
    return result
