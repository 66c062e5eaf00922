"""`Optimizer`: an optax ``GradientTransformationExtraArgs`` typed by its state.

Every subopt optimizer returns one, so a type checker knows that ``opt.init(x)`` of
``so.fista(...)`` is a `subopt.FistaState` (pyright and mypy read the type parameter).
At run time it is exactly an optax transformation: ``optax.chain`` and every optax
utility accept it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import optax

S = TypeVar("S")


class Optimizer(optax.GradientTransformationExtraArgs, Generic[S]):
    """An ``optax.GradientTransformationExtraArgs`` whose ``init`` returns an ``S``.

    Attributes:
      init: ``params -> S``, the initial state.
      update: ``(updates, state, params=None, **extra_args) -> (updates, state)``.
    """

    init: Callable[[Any], S]  # pyright: ignore[reportIncompatibleVariableOverride]
    update: Callable[..., tuple[Any, S]]  # pyright: ignore[reportIncompatibleVariableOverride]

    def __new__(cls, init: Callable[[Any], S], update: Callable[..., Any]) -> Optimizer[S]:
        return super().__new__(cls, init, update)  # pyright: ignore[reportArgumentType]


__all__ = ["Optimizer"]
