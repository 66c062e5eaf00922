"""Exact first-order calculus: directional derivatives and minimum-norm subgradients.

For a composite objective F = f + h (f smooth, h a `subopt.prox` regularizer) both are
exact: the chain rule through per-primitive rules cannot be (abs(x) + x at 0 has minimum-norm
subgradient 0, the chain rule gives 1), but the regularizer knows its own subdifferential.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from subopt._base import PyTree, check_same_structure
from subopt.prox._base import check_regularizer


def _method(reg: Any, name: str, caller: str) -> Callable:
    """``reg``'s method ``name``, or a NotImplementedError naming the term and the method."""
    method = getattr(reg, name, None)
    if not callable(method):
        raise NotImplementedError(
            f"{caller} needs the regularizer's {name}(x, ...) method, which "
            f"{type(reg).__name__} does not implement; add it to the class (see "
            "docs/prox.md, 'Writing your own term')"
        )
    return method


def directional_derivative(
    fun: Callable[[PyTree], jax.Array], x: PyTree, d: PyTree, reg: Any = None
) -> jax.Array:
    r"""The one-sided directional derivative of ``fun + reg`` at ``x`` along ``d``.

    .. math::

      F'(x; d) = \lim_{s \downarrow 0} \frac{F(x + s d) - F(x)}{s}
               = \langle \nabla f(x), d \rangle + h'(x; d)

    The smooth part is one forward-mode pass (``jax.jvp`` of g(s) = f(x + s d) at s = 0); the
    regularizer's part is its exact one-sided derivative. ``d`` is not normalised.

    Args:
      fun: the smooth part f, a scalar function of a pytree.
      x: the point.
      d: the direction, a pytree like ``x``.
      reg: an optional `subopt.prox` regularizer h.

    Returns:
      The scalar F'(x; d), in f's dtype.

    Raises:
      TypeError: ``fun`` is not callable or ``reg`` is not a regularizer.
      NotImplementedError: ``reg`` has no ``directional`` method (the message names it).
      ValueError: ``d`` does not have ``x``'s structure and shapes.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> f = lambda x: x[0] * x[1]
      >>> float(so.directional_derivative(f, jnp.array([1.0, 0.0]), jnp.array([-1.0, -1.0])))
      -1.0
    """
    if not callable(fun):
        raise TypeError(f"fun must be callable, got {fun!r}")
    method = None
    if reg is not None:
        check_regularizer("reg", reg)
        method = _method(reg, "directional", "directional_derivative")
    check_same_structure(d, x)
    d = jax.tree_util.tree_map(lambda u, v: jnp.asarray(u, jnp.result_type(v)), d, x)
    _, slope = jax.jvp(fun, (x,), (d,))
    if method is not None:
        slope = (slope + method(x, d)).astype(jnp.result_type(slope))
    return slope


def min_norm_subgradient(
    fun: Callable[[PyTree], jax.Array], reg: Any = None
) -> Callable[[PyTree], PyTree]:
    r"""A function returning the minimum-norm element of :math:`\nabla f(x) + \partial h(x)`.

    .. math::

      g^\star(x) = \arg\min \{\|g\| : g \in \nabla f(x) + \partial h(x)\}

    It is zero exactly at minimisers, and :math:`-g^\star/\|g^\star\|` is the steepest-descent
    direction, with :math:`F'(x; -g^\star/\|g^\star\|) = -\|g^\star\|`.

    Args:
      fun: the smooth part f.
      reg: an optional `subopt.prox` regularizer h (exact where its ``min_norm`` is).

    Returns:
      A function x -> g*(x), a pytree like x (jit- and vmap-able).

    Raises:
      TypeError: ``fun`` is not callable or ``reg`` is not a regularizer.
      NotImplementedError: ``reg`` has no ``min_norm`` method (the message names it).

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> g = so.min_norm_subgradient(lambda x: jnp.sum(x), so.prox.l1(2.0))
      >>> g(jnp.zeros(2)).tolist()
      [0.0, 0.0]
    """
    if not callable(fun):
        raise TypeError(f"fun must be callable, got {fun!r}")
    method = None
    if reg is not None:
        check_regularizer("reg", reg)
        method = _method(reg, "min_norm", "min_norm_subgradient")

    def g_star(x: PyTree) -> PyTree:
        g = jax.grad(fun)(x)
        return g if method is None else method(x, g)

    return g_star


__all__ = ["directional_derivative", "min_norm_subgradient"]
