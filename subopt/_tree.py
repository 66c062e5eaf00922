r"""Tree math: the one implementation of each pytree helper subopt uses.

Every helper works over any pytree of real arrays, keeps each leaf in its own dtype, and is
safe for an empty tree. The plain ones defer to ``optax.tree_utils``; what optax does not
have is written here once:

* `tree_norm`: the Euclidean norm over all leaves, scaled by the largest entry so that
  1e200 or 1e-200 entries neither overflow nor underflow, with the derivative
  :math:`x / \|x\|` (and 0 at 0, the minimum-norm subgradient), NaN for a NaN entry and
  +inf for an infinite one;
* `tree_where`: a leafwise select that skips leaves passed through unchanged (no select
  runs for them inside a loop);
* `tree_max_abs` and `tree_all_finite`, the checks the driver and the regularizers share.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import optax.tree_utils as otu

PyTree = Any


def _leaves(tree: PyTree) -> list:
    return jax.tree_util.tree_leaves(tree)


def _default_float() -> Any:
    return jnp.zeros(()).dtype


def tree_dtype(tree: PyTree) -> Any:
    """The promoted dtype of the leaves (the default float dtype for an empty tree)."""
    leaves = _leaves(tree)
    return jnp.result_type(*leaves) if leaves else _default_float()


def tree_vdot(x: PyTree, y: PyTree) -> jax.Array:
    r"""The real inner product :math:`\sum_i \langle x_i, y_i \rangle` over leaves (0 if empty)."""
    if not _leaves(x):
        return jnp.zeros((), _default_float())
    return jnp.asarray(otu.tree_vdot(x, y))


def tree_sum(tree: PyTree) -> jax.Array:
    """The sum of every entry of every leaf (0 for an empty tree)."""
    if not _leaves(tree):
        return jnp.zeros((), _default_float())
    return jnp.asarray(otu.tree_sum(tree))


def tree_add_scale(x: PyTree, a: Any, y: PyTree) -> PyTree:
    """``x + a * y`` leafwise, each leaf in x's dtype."""
    return jax.tree_util.tree_map(lambda u, v: (u + a * v).astype(jnp.result_type(u)), x, y)


def tree_sub(x: PyTree, y: PyTree) -> PyTree:
    """``x - y`` leafwise, each leaf in y's dtype."""
    return jax.tree_util.tree_map(lambda u, v: (u - v).astype(jnp.result_type(v)), x, y)


def tree_scale(a: Any, x: PyTree) -> PyTree:
    """``a * x`` leafwise, each leaf in its own dtype."""
    return jax.tree_util.tree_map(lambda v: (a * v).astype(jnp.result_type(v)), x)


def tree_where(pred: jax.Array, on_true: PyTree, on_false: PyTree) -> PyTree:
    """Leafwise ``where(pred, a, b)`` for a scalar ``pred``, each leaf in b's dtype.

    A leaf that is the same object on both sides (a hyperparameter passed through a step
    unchanged) is returned as it is, so no select runs for it inside a loop.
    """

    def pick(a, b):
        return b if a is b else jnp.where(pred, a, b).astype(jnp.result_type(b))

    return jax.tree_util.tree_map(pick, on_true, on_false)


def tree_max_abs(tree: PyTree) -> jax.Array:
    """:math:`\\max_i |x_i|` over all entries (0 for an empty tree; NaN if any entry is NaN)."""
    leaves = _leaves(tree)
    if not leaves:
        return jnp.zeros((), _default_float())
    dtype = tree_dtype(tree)
    parts = [jnp.max(jnp.abs(jnp.asarray(v)), initial=0).astype(dtype) for v in leaves]
    return functools.reduce(jnp.maximum, parts)


def tree_all_finite(tree: PyTree) -> jax.Array:
    """Scalar bool: every entry of every leaf is finite (True for an empty tree)."""
    leaves = _leaves(tree)
    if not leaves:
        return jnp.array(True)
    return functools.reduce(jnp.logical_and, [jnp.all(jnp.isfinite(v)) for v in leaves])


@jax.custom_jvp
def _norm(leaves: tuple) -> jax.Array:
    scale = functools.reduce(jnp.maximum, [jnp.max(jnp.abs(v), initial=0) for v in leaves])
    ok = (scale > 0) & jnp.isfinite(scale)
    safe = jnp.where(ok, scale, jnp.ones((), scale.dtype))
    sq = functools.reduce(jnp.add, [jnp.sum(jnp.square(v / safe)) for v in leaves])
    return jnp.where(ok, safe * jnp.sqrt(sq), scale)  # 0 at 0, inf for inf, NaN for NaN


@_norm.defjvp
def _norm_jvp(primals, tangents):
    (leaves,), (ts,) = primals, tangents
    n = _norm(leaves)
    at_zero = n == 0  # a NaN norm gives a NaN derivative
    safe = jnp.where(at_zero, jnp.ones((), n.dtype), n)
    zero = jnp.zeros((), n.dtype)
    dots = [jnp.sum(jnp.where(at_zero, zero, v / safe) * t) for v, t in zip(leaves, ts)]
    return n, functools.reduce(jnp.add, dots)


def tree_norm(tree: PyTree) -> jax.Array:
    r"""The global Euclidean norm, overflow-safe, with derivative 0 at 0.

    .. math::

      \|x\|_2 = s \sqrt{\textstyle\sum_i (x_i / s)^2}, \quad s = \max_i |x_i|, \qquad
      \nabla \|x\|_2 = \begin{cases} x / \|x\|_2 & x \ne 0 \\ 0 & x = 0 \end{cases}

    Args:
      tree: a pytree of real arrays.

    Returns:
      A scalar in the leaves' promoted dtype: 0 for an empty tree or a zero tree, +inf when an
      entry is infinite, NaN when an entry is NaN.

    Example:
      >>> import jax.numpy as jnp
      >>> from subopt._tree import tree_norm
      >>> big = {"a": jnp.array([3e30]), "b": jnp.array([4e30])}  # squares overflow float32
      >>> round(float(tree_norm(big)) / 1e30, 5)
      5.0
    """
    leaves = _leaves(tree)
    if not leaves:
        return jnp.zeros((), _default_float())
    dtype = tree_dtype(tree)
    return _norm(tuple(jnp.asarray(v).astype(dtype) for v in leaves))


def register_dataclass(cls: type, data_fields: list[str], meta_fields: list[str]) -> type:
    """Register a (frozen) dataclass as a pytree node whose structure includes its class.

    ``jax.tree_util.register_dataclass`` (JAX 0.10) builds tree structures that compare
    equal across classes with the same fields (``l1`` and ``ridge``, ``hyperplane`` and
    ``halfspace``, the field-less datafits), although their hashes differ. A jit cache probe
    that meets an entry of the other class then takes it for a hit and runs that class's
    program: a silently wrong result, seen as rare test failures. Custom nodes registered
    per class compare their classes, so this registers one. Unflattening bypasses
    ``__init__`` (leaves may be tracers or placeholders), as dataclass registration does.

    Returns ``cls``.
    """
    data, meta = tuple(data_fields), tuple(meta_fields)

    def flatten_with_keys(obj):
        keys = [(jax.tree_util.GetAttrKey(n), getattr(obj, n)) for n in data]
        return keys, tuple(getattr(obj, n) for n in meta)

    def flatten(obj):
        return [getattr(obj, n) for n in data], tuple(getattr(obj, n) for n in meta)

    def unflatten(aux, children):
        obj = object.__new__(cls)
        for name, value in zip(data + meta, (*children, *aux)):
            object.__setattr__(obj, name, value)
        return obj

    jax.tree_util.register_pytree_with_keys(cls, flatten_with_keys, unflatten, flatten)
    return cls


__all__ = [
    "register_dataclass",
    "tree_add_scale",
    "tree_all_finite",
    "tree_dtype",
    "tree_max_abs",
    "tree_norm",
    "tree_scale",
    "tree_sub",
    "tree_sum",
    "tree_vdot",
    "tree_where",
]
