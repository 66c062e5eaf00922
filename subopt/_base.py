"""Shared types and checks: the `Status` codes, the `Result` pytree, argument validation.

Everything here is used by more than one algorithm family. Validation follows one rule:
concrete values are checked and a bad one raises an exception naming the argument and the
value; traced values (inside `jit`/`vmap`) pass through, and the driver's status tells the
truth about what they did.
"""

from __future__ import annotations

import enum
import numbers
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.core
import jax.numpy as jnp
import numpy as np
import optax

PyTree = Any
Scalar = Any  # a Python number or a 0-d jax/numpy array, possibly traced
ScalarOrSchedule = Scalar | Callable[[jax.Array], jax.Array]


class Status(enum.IntEnum):
    """Why `subopt.run` stopped. `Result.status` is an int32 array comparable with these.

    Attributes:
      CONVERGED: the stationarity measure fell to ``tol`` or below.
      MAX_STEPS: ``max_steps`` steps were taken without meeting ``tol``.
      DIVERGED: the objective left the documented bound (see `subopt.run`), or became +-inf.
      NONFINITE: the objective or gradient became NaN (or a gradient became inf); the last
        finite iterate is returned.
      INVALID: a (traced) hyperparameter is invalid: a step that is not > 0 and finite, a
        negative or NaN weight, an empty constraint set. Concrete invalid values raise instead.
    """

    CONVERGED = 0
    MAX_STEPS = 1
    DIVERGED = 2
    NONFINITE = 3
    INVALID = 4


RUNNING = -1  # internal status of a lane still iterating


class History(NamedTuple):
    """Per-step records of `subopt.run(..., record=True)`.

    Entry k is measured at the iterate after step k (x_{k+1}); entries after the stop are NaN.
    """

    value: jax.Array
    stationarity: jax.Array


class RunState(NamedTuple):
    """Everything `subopt.run`'s loop carries from one step to the next: pass a result's
    ``state`` back as ``so.run(..., state=result.state)`` to resume the run exactly (N steps
    and N more equal 2N steps in one call, bitwise).

    Attributes:
      x: the loop's own point, the params the optimizer's ``update`` receives (FISTA's
        extrapolated point y_k, which differs from ``result.params`` = x_k).
      opt_state: the optimizer state (momentum, the accepted backtracking step, counters; its
        `subopt.StepInfo` record lives here).
      value: f(x), the objective at ``x``.
      grad: the gradient of f at ``x``.
      stationarity: the measure compared with ``tol`` at ``x``.
      f0: f at the start of the first run, which the divergence rule compares with.
      best_params: the best iterate seen (by F = f + h), or None when the run tracks none.
      best_value: F at ``best_params`` (None without tracking).
    """

    x: PyTree
    opt_state: PyTree
    value: Any
    grad: PyTree
    stationarity: Any
    f0: Any
    best_params: PyTree = None
    best_value: Any = None


class Result(NamedTuple):
    """What `subopt.run` returns; a pytree, so it can be vmapped, stacked and sharded.

    Attributes:
      params: the solution (the optimizer's iterate, e.g. the prox output of FISTA, or the
        best iterate where the run tracks it, e.g. for the subgradient methods).
      value: F at ``params``: the objective plus every regularizer the optimizer carries.
      num_steps: int32, the number of optimizer steps this call took.
      status: int32, a `Status` code.
      stationarity: the measure compared with ``tol`` at the stop.
      state: the `RunState` at the stop (``state.opt_state`` is the optimizer state); pass it
        back as ``state=`` to resume.
      history: a `History` when ``record=True``, else None.
    """

    params: PyTree
    value: jax.Array
    num_steps: jax.Array
    status: jax.Array
    stationarity: jax.Array
    state: RunState
    history: History | None = None

    @property
    def opt_state(self) -> PyTree:
        """The optimizer state at the stop, ``state.opt_state``."""
        return self.state.opt_state


# --------------------------------------------------------------------------- validation


def is_concrete(x: Any) -> bool:
    """True when ``x`` holds a value we can look at (not a tracer)."""
    return not isinstance(x, jax.core.Tracer)


def concrete_array(x: Any) -> np.ndarray | None:
    """``x`` as a numpy array when it is concrete and numeric, else None."""
    if isinstance(x, jax.core.Tracer):
        return None
    if isinstance(x, bool | numbers.Number) or hasattr(x, "__array__"):
        try:
            return np.asarray(x)
        except Exception:  # noqa: BLE001 - e.g. an abstract array that cannot be read
            return None
    return None


def check_scalar(
    name: str,
    value: Any,
    *,
    positive: bool = False,
    nonnegative: bool = False,
    allow_inf: bool = False,
) -> None:
    """Check a concrete real hyperparameter; traced values pass through unchecked.

    Raises:
      TypeError: ``value`` is not a real number (e.g. a string, complex or boolean).
      ValueError: ``value`` is NaN, infinite (unless ``allow_inf``), or breaks the sign rule.
    """
    if isinstance(value, jax.core.Tracer):
        return
    if isinstance(value, bool) or not (
        isinstance(value, numbers.Real) or hasattr(value, "__array__")
    ):
        raise TypeError(f"{name} must be a real number or array, got {value!r}")
    arr = concrete_array(value)
    if arr is None:
        return
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.number)) or np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real, got {value!r} of dtype {arr.dtype}")
    if np.any(np.isnan(arr)):
        raise ValueError(f"{name} must not be NaN, got {value!r}")
    if not allow_inf and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if positive and np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if nonnegative and np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0, got {value!r}")


def check_step_size(name: str, value: Any) -> None:
    """A step size is a positive finite number or a schedule (a callable ``count -> step``)."""
    if callable(value):
        return
    check_scalar(name, value, positive=True)


INT32_MAX = 2**31 - 1


def check_positive_int(name: str, value: Any, *, upper: int | None = None) -> int:
    """``value`` as a Python int in [1, upper], or a ValueError/TypeError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive Python int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    if upper is not None and int(value) > upper:
        raise ValueError(f"{name} must be <= {upper}, got {value!r}")
    return int(value)


def check_dtype(where: str, dtype: Any) -> None:
    """A params leaf's dtype must be real floating, at least 32 bits; else a TypeError."""
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(
            f"{where} must have a real floating dtype (float32/float64), got {dtype}; "
            "convert with jnp.asarray(x, jnp.float32)"
        )
    if jnp.finfo(dtype).bits < 32:
        raise TypeError(
            f"{where} has dtype {dtype}: half precision is not supported (stopping tests and "
            "norms lose too much precision); use float32 or float64"
        )


def check_params(name: str, tree: PyTree) -> None:
    """Params must be real floating arrays (no int, bool, complex); no NaN/inf when concrete."""
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        where = f"{name}{jax.tree_util.keystr(path)}"
        check_dtype(where, jnp.result_type(leaf) if not hasattr(leaf, "dtype") else leaf.dtype)
        arr = concrete_array(leaf)
        if arr is not None and not np.all(np.isfinite(arr.astype(np.float64))):
            raise ValueError(f"{where} contains NaN or inf")


# --------------------------------------------------------------------------- dtypes


def params_dtype(params: PyTree) -> Any:
    """The floating dtype an optimizer keeps its scalars in: the params' common dtype.

    Every optimizer's ``init`` calls it, so a hand-written loop that passes int, bool, complex
    or half-precision params gets the TypeError `subopt.run` gives (instead of a state whose
    step is cast to the params' dtype: 0.1 -> 0 for int32).
    """
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        check_dtype(f"params{jax.tree_util.keystr(path)}", jnp.result_type(leaf))
    leaves = jax.tree_util.tree_leaves(params)
    return jnp.result_type(*leaves) if leaves else jnp.zeros(()).dtype


def cast_hyperparams(tree: PyTree, dtype: Any, *, integers: bool = True) -> PyTree:
    """The real leaves of a hyperparameter pytree (a number, a schedule, a regularizer, a
    backtracking rule) in the params' floating ``dtype``; bool leaves are kept.

    Integers become floats too (``gradient_descent(1)`` on float32 params keeps a float32
    state, the program of ``gradient_descent(1.0)``), unless ``integers=False``: a
    regularizer's integer leaves are structure (group labels, indices), and its real
    hyperparameters are floating already (its constructor makes them so). Float64 values
    given to float32 params do not promote the loop state. Concrete leaves become numpy
    arrays, so building a state dispatches no device work (most of `subopt.run`'s fixed cost
    on small problems).
    """

    def cast(v):
        xp = np if is_concrete(v) else jnp
        v = np.asarray(v) if xp is np else v
        real = xp.issubdtype(v.dtype, xp.floating) or (
            integers and xp.issubdtype(v.dtype, xp.integer)
        )
        return v.astype(dtype) if real else v

    return jax.tree_util.tree_map(cast, tree)


def scalar_leaf(value: Any, dtype: Any) -> Any:
    """A 0-d state leaf of ``dtype``: numpy when ``value`` is concrete (no device dispatch
    while a state is built), a jax array when it is traced."""
    if is_concrete(value):
        return np.asarray(value, dtype)
    return jnp.asarray(value, dtype)


def next_count(count: Any) -> jax.Array:
    """count + 1, saturating at the int32 maximum."""
    return jnp.asarray(optax.safe_int32_increment(jnp.asarray(count)))


def valid_step(step: Any) -> jax.Array:
    """A 0-d bool: the step is > 0 and finite (False for NaN), the `StepInfo.valid` rule."""
    step = jnp.asarray(step)
    return (step > 0) & jnp.isfinite(step)


def check_same_structure(grads: PyTree, params: PyTree) -> None:
    """Raise a ValueError naming both structures unless grads and params match leaf for leaf."""
    gs, ps = jax.tree_util.tree_structure(grads), jax.tree_util.tree_structure(params)
    if gs != ps:
        raise ValueError(f"grads structure {gs} does not match params structure {ps}")
    for g, p in zip(jax.tree_util.tree_leaves(grads), jax.tree_util.tree_leaves(params)):
        if jnp.shape(g) != jnp.shape(p):
            raise ValueError(
                f"grads leaf shapes {[jnp.shape(x) for x in jax.tree_util.tree_leaves(grads)]} "
                f"do not match params leaf shapes "
                f"{[jnp.shape(x) for x in jax.tree_util.tree_leaves(params)]}"
            )


def require_extra_arg(extra_args: dict, name: str, who: str) -> Any:
    """Fetch an extra argument an optimizer needs, or raise a clear TypeError."""
    if name not in extra_args or extra_args[name] is None:
        raise TypeError(
            f"{who}.update needs the extra argument {name}=...; subopt.run passes it, "
            f"a hand-written loop must pass it too, e.g. update(grads, state, params, {name}=...)"
        )
    return extra_args[name]
