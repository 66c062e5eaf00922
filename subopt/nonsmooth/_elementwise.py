"""Elementwise kinks: ``abs``, ``relu``, ``maximum``, ``minimum`` and ``hinge``.

Each is a `jax.custom_jvp` whose tangent rule is the ordinary derivative away from the kink
and, at the kink, the minimum-norm element of the primitive's own subdifferential (the
minimum-norm supergradient for the concave ``minimum``). ``maximum`` and ``minimum`` use
``symbolic_zeros=True`` so that their rule knows which argument carries a tangent: at a tie
between two differentiated arguments the derivative is split evenly, and at a tie with a
constant (``maximum(x, 0.)``) it is 0, the minimum-norm point of conv{1, 0}. The tangent
rules only use comparisons and signs, whose own derivatives are 0, so second derivatives are
0 (finite) at kinks as well as away from them. NaN rule: where the value is NaN (a NaN input),
the derivative is NaN, never a finite number.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero


def as_real(name: str, x: Any) -> jax.Array:
    """``x`` as a jax array, or a TypeError naming ``name`` when it is complex."""
    x = jnp.asarray(x)
    if jnp.iscomplexobj(x):
        raise TypeError(
            f"{name} must be real (subopt.nonsmooth rules are for real inputs), got dtype {x.dtype}"
        )
    return x


def nan_where(value: jax.Array, c: jax.Array) -> jax.Array:
    """``c``, NaN wherever ``value`` is NaN (NaN in gives NaN out).

    Rules apply it to the coefficient that multiplies the tangent, so that reverse mode
    (which transposes the multiplication) sees the NaN too. ``value`` broadcasts against ``c``
    from the left.
    """
    one = jnp.ones((), c.dtype)
    return c * jnp.where(jnp.isnan(value), jnp.asarray(jnp.nan, c.dtype), one)


# --------------------------------------------------------------------------- abs


@jax.custom_jvp
def _abs(x: jax.Array) -> jax.Array:
    return jnp.abs(x)


@_abs.defjvp
def _abs_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return _abs(x), jnp.sign(x).astype(t.dtype) * t


def abs(x: Any) -> jax.Array:  # noqa: A001 - a drop-in for jnp.abs
    r"""Elementwise :math:`|x|` whose derivative at 0 is 0.

    .. math::

      \frac{d}{dx}|x| = \operatorname{sign}(x), \qquad
      \partial|\cdot|(0) = [-1, 1] \ni 0 \text{ (its minimum-norm element)}

    ``jax.grad(jnp.abs)(0.)`` is 1; this rule gives 0.

    Args:
      x: a real array (or scalar).

    Returns:
      ``jnp.abs(x)``, same shape and dtype.

    Raises:
      TypeError: ``x`` is complex.

    Example:
      >>> import jax
      >>> from subopt import nonsmooth as ns
      >>> float(jax.grad(ns.abs)(0.0)), float(jax.grad(ns.abs)(-2.0))
      (0.0, -1.0)

    References:
      PyTorch autograd docs, "Gradients for non-differentiable functions".
    """
    return _abs(as_real("x", x))


# --------------------------------------------------------------------------- relu


@jax.custom_jvp
def _relu(x: jax.Array) -> jax.Array:
    return jnp.maximum(x, jnp.zeros((), x.dtype))


@_relu.defjvp
def _relu_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    slope = jnp.where(x > 0, jnp.ones((), t.dtype), jnp.zeros((), t.dtype))
    return _relu(x), nan_where(x, slope) * t


def relu(x: Any) -> jax.Array:
    r"""Elementwise :math:`\max(x, 0)` whose derivative at 0 is 0.

    .. math::

      \frac{d}{dx}\max(x, 0) = [x > 0], \qquad \partial \operatorname{relu}(0) = [0, 1] \ni 0

    Args:
      x: a real array (or scalar).

    Returns:
      ``jnp.maximum(x, 0)``, same shape and dtype.

    Raises:
      TypeError: ``x`` is complex.

    Example:
      >>> import jax
      >>> from subopt import nonsmooth as ns
      >>> float(jax.grad(ns.relu)(0.0))
      0.0
    """
    return _relu(as_real("x", x))


# --------------------------------------------------------------------------- maximum/minimum


def _is_zero(t: Any) -> bool:
    return isinstance(t, SymbolicZero)


def _tie_rule(sign: int):
    """The jvp rule of maximum (sign=+1) or minimum (sign=-1) with symbolic zeros."""

    def rule(primals, tangents):
        a, b = primals
        ta, tb = tangents
        out = _maximum(a, b) if sign > 0 else _minimum(a, b)
        a_wins = a > b if sign > 0 else a < b
        b_wins = b > a if sign > 0 else b < a
        zero = jnp.zeros(out.shape, out.dtype)
        if _is_zero(ta) and _is_zero(tb):
            return out, zero
        one, half = jnp.ones((), out.dtype), jnp.asarray(0.5, out.dtype)
        if _is_zero(tb):  # b is a constant: at a tie conv{ta-coefficient 1, 0} -> 0
            return out, nan_where(out, jnp.where(a_wins, one, zero)) * ta
        if _is_zero(ta):
            return out, nan_where(out, jnp.where(b_wins, one, zero)) * tb
        ca = nan_where(out, jnp.where(a_wins, one, jnp.where(b_wins, zero, half)))
        cb = nan_where(out, jnp.where(b_wins, one, jnp.where(a_wins, zero, half)))
        return out, ca * ta + cb * tb

    return rule


@jax.custom_jvp
def _maximum(a: jax.Array, b: jax.Array) -> jax.Array:
    return jnp.maximum(a, b)


@jax.custom_jvp
def _minimum(a: jax.Array, b: jax.Array) -> jax.Array:
    return jnp.minimum(a, b)


_maximum.defjvp(_tie_rule(+1), symbolic_zeros=True)
_minimum.defjvp(_tie_rule(-1), symbolic_zeros=True)


def _promote(a: Any, b: Any) -> tuple[jax.Array, jax.Array]:
    a, b = as_real("a", a), as_real("b", b)
    dtype = jnp.result_type(a, b)
    return a.astype(dtype), b.astype(dtype)


def maximum(a: Any, b: Any) -> jax.Array:
    r"""Elementwise :math:`\max(a, b)` with minimum-norm derivatives at ties.

    .. math::

      D\max(a, b) = \begin{cases} (1, 0) & a > b \\ (0, 1) & a < b \\
        \arg\min\{\|g\| : g \in \operatorname{conv}\{(1, 0), (0, 1)\}\} = (\tfrac12, \tfrac12)
        & a = b \end{cases}

    When only one argument is differentiated (the other is a constant, e.g.
    ``maximum(x, 0.)``), the derivative at a tie is the minimum-norm point of conv{1, 0},
    which is 0 (``jnp.maximum`` gives 0.5). Inputs broadcast and promote like
    ``jnp.maximum``.

    Args:
      a: a real array.
      b: a real array broadcastable with ``a``.

    Returns:
      ``jnp.maximum(a, b)``.

    Raises:
      TypeError: an input is complex.

    Example:
      >>> import jax
      >>> from subopt import nonsmooth as ns
      >>> float(jax.grad(lambda x: ns.maximum(x, 0.0))(0.0))
      0.0
      >>> [float(g) for g in jax.grad(ns.maximum, argnums=(0, 1))(1.0, 1.0)]
      [0.5, 0.5]
    """
    return _maximum(*_promote(a, b))


def minimum(a: Any, b: Any) -> jax.Array:
    r"""Elementwise :math:`\min(a, b)` with minimum-norm supergradients at ties.

    .. math::

      D\min(a, b) = \begin{cases} (1, 0) & a < b \\ (0, 1) & a > b \\
        (\tfrac12, \tfrac12) & a = b \text{ (both differentiated)} \end{cases}

    As for `maximum`, a tie with a constant argument gives 0.

    Args:
      a: a real array.
      b: a real array broadcastable with ``a``.

    Returns:
      ``jnp.minimum(a, b)``.

    Raises:
      TypeError: an input is complex.

    Example:
      >>> import jax
      >>> from subopt import nonsmooth as ns
      >>> float(jax.grad(lambda x: ns.minimum(x, 1.0))(1.0))
      0.0
    """
    return _minimum(*_promote(a, b))


# --------------------------------------------------------------------------- hinge


@jax.custom_jvp
def _hinge(z: jax.Array) -> jax.Array:
    return jnp.maximum(jnp.ones((), z.dtype) - z, jnp.zeros((), z.dtype))


@_hinge.defjvp
def _hinge_jvp(primals, tangents):
    (z,), (t,) = primals, tangents
    slope = jnp.where(z < 1, -jnp.ones((), t.dtype), jnp.zeros((), t.dtype))
    return _hinge(z), nan_where(z, slope) * t


def hinge(z: Any) -> jax.Array:
    r"""Elementwise hinge :math:`\max(0, 1 - z)` whose derivative at z = 1 is 0.

    .. math::

      \frac{d}{dz}\max(0, 1 - z) = -[z < 1], \qquad \partial(1) = [-1, 0] \ni 0

    ``jnp.maximum(0, 1 - z)`` gives -0.5 at z = 1.

    Args:
      z: a real array of margins (e.g. ``y * (X @ w)``).

    Returns:
      ``max(0, 1 - z)``, same shape and dtype.

    Raises:
      TypeError: ``z`` is complex.

    Example:
      >>> import jax
      >>> from subopt import nonsmooth as ns
      >>> float(jax.grad(ns.hinge)(1.0)), float(jax.grad(ns.hinge)(0.5))
      (0.0, -1.0)
    """
    return _hinge(as_real("z", z))
