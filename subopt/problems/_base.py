"""The `Problem` record and the data helpers shared by the problem constructors."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np


def _no_objective(x: Any, *args: Any) -> Any:
    raise TypeError("this Problem was built without an objective(x, *args); use its fun")


class Problem(NamedTuple):
    """A test problem: minimize ``fun(x) + reg.value(x)`` from ``x0``.

    The data are also separate from the objective: ``objective(x, *args)`` is a module-level
    function of the params and the data arrays ``args``, so
    ``so.run(opt, p.objective, p.x0, *p.args)`` passes the data as traced arguments (a new
    dataset of the same shapes reuses the compiled program, and runs vmap over datasets);
    ``fun`` is the same objective with ``args`` bound, ``fun(x) == objective(x, *args)``.

    Attributes:
      name: a short label for tables.
      fun: the (smooth part of the) objective, ``x -> objective(x, *args)``.
      x0: the start point, a pytree of float arrays in the requested dtype.
      data: the arrays the objective was built from, and the reference quantities (a dict).
      reg: a `subopt.prox` regularizer for composite problems, else None.
      lipschitz: the Lipschitz constant of ``grad fun``; NaN where none is known (then
        ``1 / p.lipschitz`` is rejected as a step: use `subopt.backtracking`).
      objective: ``(x, *args) -> f``, the objective with the data as arguments.
      args: the data arrays ``objective`` takes after x (a tuple).
    """

    name: str
    fun: Callable[[Any], Any]
    x0: Any
    data: dict
    reg: Any = None
    lipschitz: float = math.nan
    objective: Callable[..., Any] = _no_objective
    args: tuple = ()


def make(
    name: str,
    objective: Callable[..., Any],
    args: tuple,
    x0: Any,
    data: dict,
    reg: Any = None,
    lipschitz: float = math.nan,
) -> Problem:
    """A `Problem` whose ``fun`` binds ``args`` into the module-level ``objective``."""
    fun = _bind(objective, tuple(args))
    return Problem(name, fun, x0, data, reg, float(lipschitz), objective, tuple(args))


def _bind(objective: Callable[..., Any], args: tuple) -> Callable[[Any], Any]:
    def fun(x):
        return objective(x, *args)

    return fun


def as_float(x: np.ndarray, dtype: Any = None) -> jnp.ndarray:
    """``x`` as a jax array of ``dtype`` (default: jax's default float, float64 under x64)."""
    return jnp.asarray(x, dtype=dtype if dtype is not None else jnp.zeros(()).dtype)
