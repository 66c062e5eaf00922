"""What `subopt.run` checks and wraps before the compiled loop: the data ``args``, a resume
``state``, scalar options, a plain optax update and the user's callback.

``_checked`` wraps the objective with the trace-time check of what it returns. Each check
names the argument it rejects; the wrappers compare and hash like what they wrap,
so the compiled loop is reused without any global cache.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from subopt._base import PyTree, RunState, concrete_array


class _PlainUpdate:
    """A plain optax update (no ``**extra_args``) that accepts and drops the driver's extra
    args. Equal wrappers of the same update hash alike, so the compiled loop is reused
    without any global cache."""

    __slots__ = ("update",)

    def __init__(self, update: Callable):
        self.update = update

    def __call__(self, updates, state, params=None, **extra_args):
        del extra_args
        return self.update(updates, state, params)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _PlainUpdate) and other.update == self.update

    def __hash__(self) -> int:
        return hash(self.update)


class _HostCallback:
    """The user's callback as the loop calls it: an exception it raises is kept (per
    thread) so that `run` re-raises the original exception, not JAX's runtime error. Equal
    for equal callbacks, so the compiled loop is reused."""

    __slots__ = ("fn",)
    errors = threading.local()

    def __init__(self, fn: Callable):
        self.fn = fn

    def __call__(self, step, value, stationarity):
        try:
            self.fn(step, value, stationarity)
        except BaseException as e:
            _HostCallback.errors.last = e
            raise

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _HostCallback) and other.fn == self.fn

    def __hash__(self) -> int:
        return hash(self.fn)


def _check_args(args: tuple) -> None:
    for path, leaf in jax.tree_util.tree_leaves_with_path(args):
        if not isinstance(leaf, jax.Array | np.ndarray | np.generic):
            raise TypeError(
                f"args{jax.tree_util.keystr(path)} must be an array (jax or numpy), got "
                f"{type(leaf).__name__} {leaf!r}: args are traced data; put Python constants "
                "in fun itself (e.g. with functools.partial)"
            )


def _as_float(value: Any) -> Any:
    """A concrete 0-d number as a Python float, so that np.float64, int and float share one
    compiled program; traced and array values pass as they are."""
    arr = concrete_array(value)
    return float(arr) if arr is not None and arr.ndim == 0 else value


def _signature(tree: PyTree) -> tuple:
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return treedef, [(jnp.shape(v), jnp.result_type(v)) for v in leaves]


def _check_state(state: Any, optimizer: Any, x0: PyTree, track: bool | None) -> bool:
    """A resume state must come from `run` with this optimizer and x0's structure."""
    if not isinstance(state, RunState):
        raise TypeError(
            f"state must be the RunState of a previous result (result.state), got "
            f"{type(state).__name__}"
        )
    if _signature(state.x) != _signature(x0):
        raise TypeError(
            "state comes from a run whose params differ in structure, shapes or dtypes from "
            f"x0: {_signature(state.x)} vs {_signature(x0)}"
        )
    want = _signature(jax.eval_shape(optimizer.init, x0))
    if _signature(state.opt_state) != want:
        raise TypeError(
            "state comes from another optimizer (or one of another structure): its optimizer "
            f"state is {_signature(state.opt_state)[0]}, this optimizer's is {want[0]}"
        )
    tracked = state.best_params is not None
    if track is not None and track != tracked:
        raise TypeError(
            f"state {'tracks' if tracked else 'does not track'} the best iterate, but best="
            f"{track}: resume with the best= of the run that made it"
        )
    return tracked


def _checked(fun: Callable, args: tuple) -> Callable:
    """``x -> fun(x, *args)`` with a trace-time check that it returns a real floating scalar
    of at least 32 bits (the TypeError names ``fun``)."""

    def wrapped(x):
        value = fun(x, *args)
        if not isinstance(value, jax.Array | np.ndarray | np.generic):
            raise TypeError(
                "fun must return a real floating scalar JAX array, got a "
                f"{type(value).__name__} ({str(value)[:80]}); return e.g. jnp.sum(...), not a "
                "tuple or a Python number"
            )
        dtype = jnp.result_type(value)
        if jnp.shape(value) != ():
            raise TypeError(f"fun must return a scalar, got shape {jnp.shape(value)}")
        if not jnp.issubdtype(dtype, jnp.floating):
            raise TypeError(f"fun must return a real floating scalar, got dtype {dtype}")
        if jnp.finfo(dtype).bits < 32:
            raise TypeError(
                f"fun returns {dtype}: half precision is not supported (as for params); "
                "return float32 or float64"
            )
        return value

    return wrapped
