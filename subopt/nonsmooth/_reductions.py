"""Reductions with ties: ``max`` and ``min`` over axes, derivatives split evenly over ties.

The subdifferential of :math:`\\max_i x_i` is the convex hull of the unit vectors
:math:`e_i` of the entries attaining the maximum; they are orthonormal, so its minimum-norm
point is their average. ``min`` is the concave mirror (minimum-norm supergradient). The
tangent rules are built from equality masks, whose derivatives are 0, so second derivatives
are 0 (finite) everywhere. A NaN entry makes the value and the derivative NaN.
"""

from __future__ import annotations

import builtins
import functools
import operator
from typing import Any

import jax
import jax.numpy as jnp

from subopt.nonsmooth._elementwise import as_real, nan_where

Axis = int | tuple[int, ...] | None


def normalize_axis(axis: Any) -> Axis:
    """``axis`` as None, an int or a tuple of ints (hashable, for ``nondiff_argnums``)."""
    if axis is None:
        return None
    items = axis if isinstance(axis, list | tuple) else [axis]
    if any(isinstance(a, bool) for a in items):
        raise TypeError(f"axis must be None, an int or a tuple of ints, got {axis!r}")
    try:
        ints = tuple(operator.index(a) for a in items)
    except TypeError:
        raise TypeError(f"axis must be None, an int or a tuple of ints, got {axis!r}") from None
    return ints if isinstance(axis, list | tuple) else ints[0]


def _even_split(x: jax.Array, extreme: jax.Array, axis: Axis) -> jax.Array:
    """Weights 1/count on the entries equal to ``extreme`` (kept dims), 0 elsewhere."""
    mask = (x == extreme).astype(x.dtype)
    count = jnp.sum(mask, axis=axis, keepdims=True)
    safe = jnp.maximum(count, jnp.ones((), count.dtype))
    return nan_where(extreme, mask / safe)  # a slice holding a NaN: NaN weights, honestly


@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2))
def _max(x: jax.Array, axis: Axis, keepdims: bool) -> jax.Array:
    return jnp.max(x, axis=axis, keepdims=keepdims)


@_max.defjvp
def _max_jvp(axis, keepdims, primals, tangents):
    (x,), (t,) = primals, tangents
    w = _even_split(x, jnp.max(x, axis=axis, keepdims=True), axis)
    return _max(x, axis, keepdims), jnp.sum(w.astype(t.dtype) * t, axis=axis, keepdims=keepdims)


def _min(x: jax.Array, axis: Axis, keepdims: bool) -> jax.Array:
    """min x = -max(-x): negation is linear, so ``_max``'s rule gives the even split here too."""
    return -_max(-x, axis, keepdims)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> jax.Array:  # noqa: A001
    r"""The largest entry along ``axis``, with the derivative split evenly over ties.

    .. math::

      \partial \max_i x_i = \operatorname{conv}\{e_i : x_i = \max_j x_j\}, \qquad
      g^\star = \frac{1}{|I|} \sum_{i \in I} e_i, \quad I = \{i : x_i = \max_j x_j\}

    Args:
      x: a real array.
      axis: None (all entries), an int or a tuple of ints, as for ``jnp.max``.
      keepdims: keep the reduced axes with size 1.

    Returns:
      ``jnp.max(x, axis, keepdims=keepdims)``.

    Raises:
      TypeError: ``x`` is complex or ``axis`` is not an int, tuple of ints or None.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from subopt import nonsmooth as ns
      >>> jax.grad(ns.max)(jnp.array([2.0, 2.0, 1.0])).tolist()
      [0.5, 0.5, 0.0]
    """
    return _max(as_real("x", x), normalize_axis(axis), builtins.bool(keepdims))


def min(x: Any, axis: Any = None, keepdims: bool = False) -> jax.Array:  # noqa: A001
    r"""The smallest entry along ``axis``, with the derivative split evenly over ties.

    .. math::

      g^\star = \frac{1}{|I|} \sum_{i \in I} e_i, \quad I = \{i : x_i = \min_j x_j\}

    (the minimum-norm supergradient of the concave :math:`\min_i x_i`).

    Args:
      x: a real array.
      axis: None (all entries), an int or a tuple of ints, as for ``jnp.min``.
      keepdims: keep the reduced axes with size 1.

    Returns:
      ``jnp.min(x, axis, keepdims=keepdims)``.

    Raises:
      TypeError: ``x`` is complex or ``axis`` is not an int, tuple of ints or None.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from subopt import nonsmooth as ns
      >>> jax.grad(ns.min)(jnp.array([0.0, 3.0, 0.0])).tolist()
      [0.5, 0.0, 0.5]
    """
    return _min(as_real("x", x), normalize_axis(axis), builtins.bool(keepdims))
