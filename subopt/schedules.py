"""Step-size schedules ``count -> step`` with k = count = 0, 1, 2, ...

Each schedule is a small immutable pytree (a NamedTuple) whose constants are array leaves,
so a schedule can live in an optimizer state, be traced, and be vmapped over without a
recompile: ``jax.vmap(lambda a: so.run(so.gradient_descent(inverse_sqrt(a)), f, x0))``.

Which rules make the subgradient method converge (Boyd, *Subgradient Methods*, 2003):

* `constant`: f_best converges to within G^2 a / 2 of the optimum, not to it.
* `inverse_time` (square summable, not summable): f_best -> f*.
* `inverse_sqrt` (nonsummable diminishing): f_best -> f*, at the O(1/sqrt(k)) rate.
* `polynomial` with 0 < p <= 1: f_best -> f* (square summable when p > 1/2).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from subopt._base import check_scalar

__all__ = ["constant", "inverse_time", "inverse_sqrt", "polynomial", "as_schedule"]


def _k(count: Any, like: jax.Array) -> jax.Array:
    """The step counter as a float: the hyperparameter's dtype, at least the default float."""
    return jnp.asarray(count).astype(jnp.result_type(like, float))


class Constant(NamedTuple):
    """a, for every k."""

    a: jax.Array

    def __call__(self, count: Any) -> jax.Array:
        del count
        return jnp.asarray(self.a)


class InverseTime(NamedTuple):
    """a / (b + k)."""

    a: jax.Array
    b: jax.Array

    def __call__(self, count: Any) -> jax.Array:
        return self.a / (self.b + _k(count, self.a))


class InverseSqrt(NamedTuple):
    """a / sqrt(b + k)."""

    a: jax.Array
    b: jax.Array

    def __call__(self, count: Any) -> jax.Array:
        return self.a / jnp.sqrt(self.b + _k(count, self.a))


class Polynomial(NamedTuple):
    """a / (b + k)^p."""

    a: jax.Array
    p: jax.Array
    b: jax.Array

    def __call__(self, count: Any) -> jax.Array:
        return self.a / (self.b + _k(count, self.a)) ** self.p


def _const(name: str, value: Any) -> jax.Array:
    check_scalar(name, value, positive=True)
    return jnp.asarray(value)


def constant(a: Any) -> Constant:
    """The constant schedule a_k = a.

    Args:
      a: the step, > 0 (a number or a possibly traced array).

    Example:
      >>> import subopt as so
      >>> float(so.schedules.constant(0.5)(10))
      0.5
    """
    return Constant(_const("a", a))


def inverse_time(a: Any, b: Any = 1.0) -> InverseTime:
    """The square-summable, not summable schedule a_k = a / (b + k).

    Args:
      a: numerator, > 0.
      b: offset, > 0 (so a_0 = a / b is finite).

    Example:
      >>> import subopt as so
      >>> float(so.schedules.inverse_time(1.0)(3))
      0.25
    """
    return InverseTime(_const("a", a), _const("b", b))


def inverse_sqrt(a: Any, b: Any = 1.0) -> InverseSqrt:
    """The nonsummable diminishing schedule a_k = a / sqrt(b + k).

    Args:
      a: numerator, > 0.
      b: offset, > 0.

    Example:
      >>> import subopt as so
      >>> float(so.schedules.inverse_sqrt(2.0)(3))
      1.0
    """
    return InverseSqrt(_const("a", a), _const("b", b))


def polynomial(a: Any, p: Any, b: Any = 1.0) -> Polynomial:
    """The polynomial decay a_k = a / (b + k)^p.

    Args:
      a: numerator, > 0.
      p: power, > 0 (p = 1 is `inverse_time`, p = 1/2 is `inverse_sqrt`).
      b: offset, > 0.

    Example:
      >>> import subopt as so
      >>> float(so.schedules.polynomial(1.0, 2.0)(1))
      0.25
    """
    return Polynomial(_const("a", a), _const("p", p), _const("b", b))


class _Static:
    """A pytree node with no leaves that carries a callable as static data.

    Lets a user's schedule that is not itself a pytree (a lambda, an optax schedule) sit in an
    optimizer state; a different callable object is a different tree structure (a recompile).
    """

    __slots__ = ("fn",)

    def __init__(self, fn: Any):
        self.fn = fn

    def __call__(self, count: Any) -> jax.Array:
        return jnp.asarray(self.fn(count))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Static) and other.fn is self.fn

    def __hash__(self) -> int:
        return id(self.fn)

    def __repr__(self) -> str:
        return f"schedule({self.fn!r})"


jax.tree_util.register_pytree_node(_Static, lambda s: ((), s.fn), lambda fn, _: _Static(fn))

_PYTREE_SCHEDULES = (Constant, InverseTime, InverseSqrt, Polynomial, _Static)


def as_schedule(value: Any) -> Any:
    """A step hyperparameter in the form an optimizer state keeps it.

    Numbers become 0-d arrays (traced and vmapped as leaves); subopt schedules stay as they are
    (their constants are leaves); any other callable ``count -> step`` is kept as static data.
    """
    if isinstance(value, _PYTREE_SCHEDULES):
        return value
    if callable(value):
        return _Static(value)
    return jnp.asarray(value)


def evaluate(step: Any, count: Any) -> jax.Array:
    """The step at ``count`` of a value produced by `as_schedule`."""
    return jnp.asarray(step(count) if callable(step) else step)
