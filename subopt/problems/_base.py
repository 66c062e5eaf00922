"""The `Problem` record and the data helpers shared by the problem constructors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np


class Problem(NamedTuple):
    """A test problem: minimize ``fun(x) + reg.value(x)`` from ``x0``.

    Attributes:
      name: a short label for tables.
      fun: the (smooth part of the) objective.
      x0: the start point, a pytree of float arrays in the requested dtype.
      data: the arrays the objective was built from (a dict).
      reg: a `subopt.prox` regularizer for composite problems, else None.
      lipschitz: the Lipschitz constant of ``grad fun`` when known, else None.
    """

    name: str
    fun: Callable[[Any], Any]
    x0: Any
    data: dict
    reg: Any = None
    lipschitz: float | None = None


def as_float(x: np.ndarray, dtype: Any = None) -> jnp.ndarray:
    """``x`` as a jax array of ``dtype`` (default: jax's default float, float64 under x64)."""
    return jnp.asarray(x, dtype=dtype if dtype is not None else jnp.zeros(()).dtype)
