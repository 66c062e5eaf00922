r"""`lexicographic_derivative` and `lexicographic_gradient`: the public face of the LD
interpreter of `subopt.nonsmooth._lexicographic`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from subopt.nonsmooth._lexicographic import eval_ld

PyTree = Any


def flat_leaves(name: str, x: PyTree) -> tuple[list[jax.Array], Any, Any]:
    """The leaves of ``x`` as floating arrays, the treedef and their promoted dtype."""
    leaves, treedef = jax.tree_util.tree_flatten(x)
    leaves = [jnp.asarray(v) for v in leaves]
    for i, v in enumerate(leaves):
        if not jnp.issubdtype(v.dtype, jnp.floating):
            raise TypeError(f"{name} must hold real floating arrays, leaf {i} has dtype {v.dtype}")
    dtype = jnp.result_type(*leaves) if leaves else jnp.zeros(()).dtype
    return leaves, treedef, dtype


def _evaluate(fun, leaves, treedef, tans, k):
    """The interpreter's pass, compiled as one program (op by op it would be slow) when
    ``fun`` can be a static argument (hashable)."""
    try:
        hash(fun)
    except TypeError:
        return _evaluate_traced(fun, leaves, treedef, tans, k)
    return _evaluate_jit(fun, leaves, treedef, tans, k)


def _evaluate_traced(fun, leaves, treedef, tans, k):
    closed = jax.make_jaxpr(lambda *ls: fun(jax.tree_util.tree_unflatten(treedef, ls)))(*leaves)
    outs, touts = eval_ld(closed.jaxpr, closed.consts, leaves, tans, k)
    if len(outs) != 1:
        raise TypeError(f"fun must return one array, got {len(outs)} outputs")
    value = outs[0]
    if not jnp.issubdtype(jnp.result_type(value), jnp.inexact):
        raise TypeError(f"fun must return a floating array, got dtype {jnp.result_type(value)}")
    t = touts[0]
    if t is None or t.dtype == jnp.bool_:
        t = jnp.zeros((*jnp.shape(value), k), jnp.result_type(value))
    return value, t


_evaluate_jit = functools.partial(jax.jit, static_argnums=(0, 2, 4))(_evaluate_traced)


def lexicographic_derivative(
    fun: Callable[[PyTree], jax.Array], x: PyTree, directions: Any
) -> tuple[jax.Array, jax.Array]:
    r"""The lexicographic (LD) derivative :math:`f'(x; M)` of ``fun`` along k directions.

    .. math::

      f'(x; M) = \big[f^{(0)}(m_1), \dots, f^{(k-1)}(m_k)\big], \qquad
      f^{(0)} = f'(x; \cdot), \quad f^{(j)} = [f^{(j-1)}]'(m_j; \cdot)

    Each kink of the computation (``abs``, ``max``/``min``, their reductions, comparisons
    read by ``jnp.where``, ``sort``, ``cummax``, ``clip``, every `subopt.nonsmooth`
    primitive, the Euclidean and nuclear norms) picks its branch by the sign of the first
    nonzero of (value, tangent columns), so column 1 is the one-sided directional derivative
    :math:`f'(x; m_1)` and the whole matrix is exact for compositions, where the chain rule
    of per-primitive rules is not. Where f is smooth it is :math:`\nabla f(x)^T M`. Where a
    value is NaN its tangents are NaN.

    Args:
      fun: a function of the pytree ``x`` returning one floating array (any shape),
        written with jax primitives (``jit``, ``scan``, ``while_loop``, ``cond``,
        ``custom_jvp`` and ``custom_vjp`` are entered).
      x: the point, a pytree of floating arrays with n entries in all.
      directions: the direction matrix M, shape (n, k), rows in the order of
        ``jax.tree_util.tree_leaves(x)`` (each leaf flattened in C order).

    Returns:
      ``(value, derivative)``: ``fun(x)`` and :math:`f'(x; M)`, of shape
      ``value.shape + (k,)``.

    Raises:
      TypeError: ``fun`` is not callable, a leaf is not floating, or ``fun`` returns more
        than one array or a non-floating one.
      ValueError: ``directions`` is not an (n, k) matrix.
      NotImplementedError: ``fun`` uses a primitive without an LD rule (``eigh``, ``svd``
        outside `subopt.nonsmooth.nuclear_norm`, ``top_k``, ...), named in the message.

    Example:
      >>> import jax.numpy as jnp
      >>> from subopt import nonsmooth as ns
      >>> f = lambda x: ns.relu(x) - ns.relu(-x)  # = x; the chain rule gives 0 at 0
      >>> value, d = ns.lexicographic_derivative(f, 0.0, jnp.array([[1.0, -2.0]]))
      >>> d.tolist()
      [1.0, -2.0]

    References:
      Y. Nesterov, "Lexicographic differentiation of nonsmooth functions", Math. Program.
      104 (2005).
      K. A. Khan and P. I. Barton, "A vector forward mode of automatic differentiation for
      generalized derivative evaluation", Optim. Methods Softw. 30 (2015).
    """
    if not callable(fun):
        raise TypeError(f"fun must be callable, got {fun!r}")
    leaves, treedef, dtype = flat_leaves("x", x)
    n = sum(v.size for v in leaves)
    m = jnp.asarray(directions)
    if m.ndim != 2 or m.shape[0] != n:
        raise ValueError(f"directions must have shape (n, k) with n = {n}, got shape {m.shape}")
    if not jnp.issubdtype(m.dtype, jnp.floating):
        m = m.astype(dtype)
    k = m.shape[1]
    tans, start = [], 0
    for v in leaves:
        tans.append(m[start : start + v.size].reshape((*v.shape, k)).astype(v.dtype))
        start += v.size
    return _evaluate(fun, tuple(leaves), treedef, tuple(tans), k)


def lexicographic_gradient(
    fun: Callable[[PyTree], jax.Array], x: PyTree, directions: Any = None
) -> PyTree:
    r"""The lexicographic gradient :math:`J_L = f'(x; M)\, M^{-1}` of a scalar function.

    For a piecewise-differentiable f (compositions of smooth functions with abs, max, min,
    sorting, ...) :math:`J_L` lies in Clarke's generalized gradient :math:`\partial f(x)`;
    it is ``jax.grad`` where f is smooth and a subgradient where f is convex. Unlike the
    chain rule of per-primitive rules it is never outside :math:`\partial f(x)`:
    ``relu(x) - relu(-x)`` gets 1 at 0, not 0.

    Args:
      fun: a scalar function of the pytree ``x`` (see `lexicographic_derivative`).
      x: the point, a pytree of floating arrays (n entries).
      directions: a square nonsingular (n, n) matrix M; None (default) for the identity.

    Returns:
      :math:`J_L`, a pytree like ``x``.

    Raises:
      TypeError: as for `lexicographic_derivative`.
      ValueError: ``directions`` is not (n, n), or ``fun`` does not return a scalar.

    Example:
      >>> import jax.numpy as jnp
      >>> from subopt import nonsmooth as ns
      >>> f = lambda x: ns.relu(x[0] + x[1]) - ns.relu(-x[0] - x[1]) + ns.relu(x[0] - x[1])
      >>> ns.lexicographic_gradient(f, jnp.zeros(2)).tolist()  # in (1, 1) + conv{0, (1, -1)}
      [2.0, 0.0]
    """
    if not callable(fun):
        raise TypeError(f"fun must be callable, got {fun!r}")
    leaves, treedef, dtype = flat_leaves("x", x)
    n = sum(v.size for v in leaves)
    m = jnp.eye(n, dtype=dtype) if directions is None else jnp.asarray(directions, dtype)
    if m.shape != (n, n):
        raise ValueError(f"directions must be a square (n, n) matrix, n = {n}, got {m.shape}")
    value, d = lexicographic_derivative(fun, x, m)
    if jnp.shape(value) != ():
        raise ValueError(f"fun must return a scalar, got shape {jnp.shape(value)}")
    g = d if directions is None else jnp.linalg.solve(m.T, d.astype(dtype))
    return unflatten(g, leaves, treedef)


def unflatten(flat: jax.Array, leaves: list, treedef: Any) -> PyTree:
    """A flat vector as a pytree with the shapes and dtypes of ``leaves``."""
    out, start = [], 0
    for v in leaves:
        out.append(flat[start : start + v.size].reshape(v.shape).astype(v.dtype))
        start += v.size
    return jax.tree_util.tree_unflatten(treedef, out)
