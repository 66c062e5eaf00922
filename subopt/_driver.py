"""`run`: the jit-compiled optimization loop, its stopping rules and its report.

The loop is one ``jax.lax.while_loop``. Each step calls the optimizer's ``update`` with the
extra args ``value`` (the objective at the current params) and ``value_fn`` (the objective),
applies the updates, evaluates the objective and its gradient at the new point, and commits the
step only when everything it produced is finite. So the carry always holds the last finite
iterate, and a NaN can end the run only as ``Status.NONFINITE``.

Optimizers tell the driver more than optax's protocol carries through their state: any node of
the optimizer state (found anywhere in the state pytree, e.g. inside ``optax.chain``; the last
one wins) may define these methods:

* ``report_stationarity(params, value, grad) -> scalar``: the measure compared with ``tol``,
  given the new params, the objective and the gradient there (default: the gradient norm;
  proximal methods report the gradient mapping their step computed, the subgradient method
  with a known f* reports f_best - f*). It must not be NaN for a finite state: return +inf for
  "not measurable yet";
* ``report_iterate(params, value, fun) -> (x, F(x))``: the current iterate and its objective
  (default: ``(params, value)``; FISTA reports its prox output and f + h there);
* ``report_solution(x, fx) -> (x*, F(x*))``: what the result returns (default: the iterate;
  the subgradient method returns the best iterate seen).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import optax

from subopt._base import (
    RUNNING,
    History,
    PyTree,
    Result,
    Status,
    check_params,
    check_positive_int,
    check_scalar,
    tree_select,
)

DIVERGENCE_THRESHOLD = 1e10


def _find(state: PyTree, method: str) -> Any:
    """The last node of ``state`` that defines ``method``, or None."""
    has = lambda n: hasattr(type(n), method)  # noqa: E731
    nodes = [n for n in jax.tree_util.tree_leaves(state, is_leaf=has) if has(n)]
    return nodes[-1] if nodes else None


def _inspect(state: PyTree, params: PyTree, value: jax.Array, grad: PyTree) -> tuple:
    """``(finite, stationarity)`` at a point, in as few passes over the data as we can.

    One variadic reduction per leaf finds m = max |grad|, which turns NaN/inf if any entry of
    ``grad`` or ``params`` is not finite (``0 * x`` is 0 for finite x, NaN otherwise), and
    the sum of squares for the default measure, the gradient norm. Only when that sum
    overflowed or underflowed does a second pass rescale by m (under ``lax.cond``, so the
    common step pays for one pass). Every pass runs once per step: fewer is less overhead.
    """
    grads, ps = jax.tree_util.tree_leaves(grad), jax.tree_util.tree_leaves(params)
    node = _find(state, "report_stationarity")
    if not grads:
        finite = jnp.array(True)
        return finite, (jnp.zeros(()) if node is None else node.report_stationarity(
            params, value, grad))
    # one variadic reduction per leaf: max(|g| + 0 x) (NaN/inf anywhere shows here) and sum g^2
    parts = [
        jax.lax.reduce(
            (jnp.abs(g) + 0 * p, jnp.square(g)),
            (jnp.zeros((), g.dtype), jnp.zeros((), g.dtype)),
            lambda a, b: (jnp.maximum(a[0], b[0]), a[1] + b[1]),
            tuple(range(g.ndim)),
        )
        for g, p in zip(grads, ps)
    ]
    m = jnp.max(jnp.stack([mx for mx, _ in parts]))
    finite = jnp.isfinite(m)
    if node is not None:
        return finite, node.report_stationarity(params, value, grad)
    sq = sum((s for _, s in parts[1:]), parts[0][1])
    plain = jnp.sqrt(sq)
    tiny = jnp.finfo(jnp.result_type(sq)).tiny

    def scaled(_):  # the sum of squares over- or underflowed: rescale by m (rare)
        safe = jnp.where(m > 0, m, 1.0)
        total = sum(jnp.sum(jnp.square(g / safe.astype(g.dtype))) for g in grads)
        return (safe * jnp.sqrt(total)).astype(plain.dtype)

    rescale = finite & ((sq == jnp.inf) | ((sq < 1e3 * tiny) & (m > 0)))
    norm = jax.lax.cond(rescale, scaled, lambda _: plain, None)
    return finite, jnp.where(finite, norm, m)


def _iterate(state: PyTree, params: PyTree, value: jax.Array, fun: Callable) -> tuple:
    node = _find(state, "report_iterate")
    return (params, value) if node is None else node.report_iterate(params, value, fun)


def _solution(state: PyTree, x: PyTree, fx: jax.Array) -> tuple:
    node = _find(state, "report_solution")
    return (x, fx) if node is None else node.report_solution(x, fx)


def _checked(fun: Callable) -> Callable:
    """``fun`` with a trace-time check that it returns a real floating scalar."""

    def wrapped(x):
        value = fun(x)
        dtype = jnp.result_type(value)
        if jnp.shape(value) != ():
            raise TypeError(f"fun must return a scalar, got shape {jnp.shape(value)}")
        if not jnp.issubdtype(dtype, jnp.floating):
            raise TypeError(f"fun must return a real floating scalar, got dtype {dtype}")
        return value

    return wrapped


@partial(jax.jit, static_argnames=("update", "fun", "max_steps", "record"))
def _run(update, fun, max_steps, record, x0, state0, tol, divergence_threshold):
    value_and_grad = jax.value_and_grad(_checked(fun))
    f0, g0 = value_and_grad(x0)
    dtype = f0.dtype
    tol = jnp.asarray(tol, dtype)
    bound = jnp.asarray(divergence_threshold, dtype) * (1 + jnp.abs(f0))

    def inspect(state, x, f, g):
        finite, measure = _inspect(state, x, f, g)
        measure = jnp.asarray(measure, dtype)
        return jnp.isnan(f) | ~finite | jnp.isnan(measure), measure

    bad0, s0 = inspect(state0, x0, f0, g0)
    code = {status: jnp.int32(status) for status in (*Status, RUNNING)}  # no int64 under x64
    status0 = jnp.where(
        bad0 | jnp.isinf(f0),
        code[Status.NONFINITE],
        jnp.where(s0 <= tol, code[Status.CONVERGED], code[RUNNING]),
    )
    history = None
    if record:
        nan = jnp.full((max_steps,), jnp.nan, dtype)
        history = History(nan, nan)
    # Scalars that change every step travel packed, one int vector (k, status) and one float
    # vector (f, stationarity): each separate loop scalar costs its own kernels per step.
    ints0 = jnp.stack([jnp.zeros([], jnp.int32), status0])
    carry0 = (ints0, x0, state0, jnp.stack([f0, s0]), g0, history)

    def cond(carry):
        return carry[0][1] == RUNNING

    def body(carry):
        ints, x, state, fs, g, history = carry
        updates, new_state = update(g, state, x, value=fs[0], value_fn=fun)
        new_x = optax.apply_updates(x, updates)
        new_f, new_g = value_and_grad(new_x)
        nonfinite, new_s = inspect(new_state, new_x, new_f, new_g)
        k = ints[0] + 1
        infinite = jnp.isinf(new_f)
        diverged = infinite | (jnp.abs(new_f - f0) > bound)
        status = jnp.where(
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
        )
        commit = ~nonfinite & ~infinite
        if record:
            _, fx = _iterate(new_state, new_x, new_f, fun)
            history = History(
                history.value.at[k - 1].set(jnp.where(commit, fx, jnp.nan).astype(dtype)),
                history.stationarity.at[k - 1].set(jnp.where(commit, new_s, jnp.nan)),
            )
        # an uncommitted step always ends the loop (NONFINITE or DIVERGED), and the gradient is
        # not part of the result, so only what the result reports needs the select
        x, state, fs = tree_select(
            commit, (new_x, new_state, jnp.stack([new_f, new_s])), (x, state, fs)
        )
        return (jnp.stack([k, status]), x, state, fs, new_g, history)

    ints, x, state, fs, _, history = jax.lax.while_loop(cond, body, carry0)
    k, status, f, s = ints[0], ints[1], fs[0], fs[1]
    x_cur, f_cur = _iterate(state, x, f, fun)
    params, value = _solution(state, x_cur, f_cur)
    return Result(params, jnp.asarray(value, dtype), k, status, s, state, history)


def run(
    optimizer: optax.GradientTransformation,
    fun: Callable[[PyTree], jax.Array],
    x0: PyTree,
    *,
    max_steps: int = 1000,
    tol: Any = 1e-6,
    record: bool = False,
    divergence_threshold: Any = DIVERGENCE_THRESHOLD,
) -> Result:
    r"""Minimize ``fun`` from ``x0`` with ``optimizer``, inside one compiled ``while_loop``.

    Each step is

    .. math::

      u_k, s_{k+1} = \mathrm{update}(\nabla f(x_k), s_k, x_k; f(x_k), f), \qquad
      x_{k+1} = x_k + u_k

    and the loop stops at the first of:

    * ``CONVERGED``: the stationarity measure is <= ``tol``. For smooth problems it is the
      gradient norm :math:`\|\nabla f(x_{k})\|` (checked at x_0 too, so a stationary start takes
      0 steps); optimizers may report another measure (see each optimizer's docstring).
    * ``MAX_STEPS``: ``max_steps`` steps were taken.
    * ``NONFINITE``: the objective became NaN, or the gradient, the iterate or the measure
      became NaN/inf. The step is not committed: ``params`` is the last finite iterate.
    * ``DIVERGED``: the objective became +-inf (the step is not committed), or
      :math:`|f(x_k) - f(x_0)| > \text{divergence\_threshold} \cdot (1 + |f(x_0)|)`.

    Compilation: the loop is compiled once per (``optimizer.update`` function, ``fun``, pytree
    structure, shapes and dtypes of ``x0`` and of the optimizer state, ``max_steps``,
    ``record``). subopt's optimizers keep their hyperparameters in the state, so new step sizes
    or weights reuse the compiled program; an optax optimizer closes over its hyperparameters,
    so each new optax optimizer object compiles anew (wrap it in ``optax.inject_hyperparams``
    and build it once to avoid that). `run` can be called inside ``jax.jit`` and ``jax.vmap``
    with traced hyperparameters and ``tol``.

    Args:
      optimizer: any optax ``GradientTransformation`` (subopt's, ``optax.adam(...)``, chains).
      fun: the objective, mapping a pytree like ``x0`` to a real scalar.
      x0: the start, a pytree of real floating arrays.
      max_steps: the most steps to take, a Python int >= 1.
      tol: the stationarity tolerance, >= 0.
      record: when True, ``result.history`` holds per-step ``value`` and ``stationarity``
        arrays of length ``max_steps``: entry k is measured at x_{k+1}, NaN after the stop.
      divergence_threshold: the relative growth of the objective that counts as divergence.

    Returns:
      A `subopt.Result`.

    Raises:
      TypeError: ``fun`` is not callable or returns a non-scalar or non-real value; ``x0`` has
        a leaf that is not real floating; ``optimizer`` lacks ``init``/``update``.
      ValueError: ``x0`` holds NaN/inf; ``max_steps`` < 1; ``tol`` < 0 or NaN.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> f = lambda x: jnp.sum((x - 3.0) ** 2)
      >>> res = so.run(so.gradient_descent(0.25), f, jnp.zeros(2), tol=1e-8)
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
    if not isinstance(record, bool):
        raise TypeError(f"record must be a bool, got {record!r}")
    max_steps = check_positive_int("max_steps", max_steps)
    check_scalar("tol", tol, nonnegative=True)
    check_scalar("divergence_threshold", divergence_threshold, positive=True, allow_inf=True)
    check_params("x0", x0)
    x0 = jax.tree_util.tree_map(jnp.asarray, x0)
    state0 = optimizer.init(x0)
    update = optimizer.update
    if not isinstance(optimizer, optax.GradientTransformationExtraArgs):
        update = _drop_extra_args(update)
    return _run(update, fun, max_steps, record, x0, state0, tol, divergence_threshold)


_WRAPPED: dict = {}


def _drop_extra_args(update: Callable) -> Callable:
    """Wrap a plain optax update (no ``**extra_args``) once, so the wrapper is cached."""
    if update not in _WRAPPED:
        _WRAPPED[update] = lambda g, s, p, **_: update(g, s, p)
    return _WRAPPED[update]
