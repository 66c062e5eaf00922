"""The `Regularizer` interface every term of `subopt.prox` implements, and small helpers."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from subopt._base import PyTree, check_scalar


class Regularizer:
    r"""A closed convex term h with a cheap proximal map.

    Subclasses are frozen dataclasses registered as pytrees: hyperparameters (weights, radii,
    bounds) are array leaves, so a regularizer can be traced, vmapped and stored in an
    optimizer state without a recompile for new values.

    Methods (all over pytrees ``x`` and ``g`` of the same structure):

    * ``value(x)``: h(x), a scalar (0 inside a constraint set, +inf outside).
    * ``prox(x, step)``: :math:`\arg\min_z h(z) + \|z - x\|^2 / (2\,\text{step})`.
    * ``min_norm(x, g)``: the minimum-norm element of :math:`g + \partial h(x)`.
    * ``directional(x, d)``: the one-sided directional derivative :math:`h'(x; d)`.
    """

    def value(self, x: PyTree) -> jax.Array:
        raise NotImplementedError

    def prox(self, x: PyTree, step: Any) -> PyTree:
        raise NotImplementedError

    def min_norm(self, x: PyTree, g: PyTree) -> PyTree:
        raise NotImplementedError

    def directional(self, x: PyTree, d: PyTree) -> jax.Array:
        raise NotImplementedError


def regularizer(cls: type) -> type:
    """Class decorator: a frozen dataclass pytree whose fields are all data leaves."""
    cls = dataclasses.dataclass(frozen=True)(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    return jax.tree_util.register_dataclass(cls, data_fields=names, meta_fields=[])


def check_regularizer(name: str, reg: Any) -> None:
    if not isinstance(reg, Regularizer):
        raise TypeError(
            f"{name} must be a subopt.prox regularizer (e.g. subopt.prox.l1(0.1)), got {reg!r}"
        )


def weight(name: str, value: Any) -> jax.Array:
    """A nonnegative weight as an array leaf; concrete values are checked."""
    check_scalar(name, value, nonnegative=True)
    return jnp.asarray(value)


def tree_sum(values: list) -> jax.Array:
    """The sum of a list of scalars, in their dtype (a 0-d zero for an empty list)."""
    if not values:
        return jnp.zeros(())
    total = jnp.asarray(values[0])
    for v in values[1:]:
        total = total + v
    return total


@regularizer
class Zero(Regularizer):
    """h = 0: the prox is the identity; composite methods reduce to gradient descent."""

    def value(self, x):
        return tree_sum([jnp.zeros((), leaf.dtype) for leaf in jax.tree_util.tree_leaves(x)])

    def prox(self, x, step):
        del step
        return x

    def min_norm(self, x, g):
        del x
        return g

    def directional(self, x, d):
        return self.value(x)


def zero() -> Zero:
    """The zero regularizer h(x) = 0.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> so.prox.zero().prox(jnp.ones(2), 1.0).tolist()
      [1.0, 1.0]
    """
    return Zero()
