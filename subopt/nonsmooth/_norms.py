"""Vector norms of whole pytrees: ``l1_norm``, ``l2_norm`` and ``linf_norm``.

Each norm treats all leaves of a pytree as one vector. Its derivative is the ordinary
gradient where the norm is differentiable and otherwise the minimum-norm element of the
subdifferential :math:`\\{g : \\|g\\|_* \\le 1, \\langle g, x\\rangle = \\|x\\|\\}`
(:math:`\\|\\cdot\\|_*` the dual norm): 0 at x = 0 for all three (never NaN), the sign with 0
at zero entries for L1, and for L-infinity the sign split evenly over the entries of largest
magnitude. ``l2_norm`` scales by the largest magnitude so entries like 1e150 or 1e-150 neither
overflow nor underflow. Second derivatives: ``l2_norm`` gives the exact Hessian
:math:`(I - uu^T)/\\|x\\|` for x != 0 and 0 at x = 0; ``l1_norm`` and ``linf_norm`` give 0.
"""

from __future__ import annotations

import functools
import operator
from typing import Any

import jax
import jax.numpy as jnp

from subopt._base import PyTree
from subopt._tree import _norm as _tree_norm_leaves
from subopt.nonsmooth._elementwise import abs as ns_abs
from subopt.nonsmooth._elementwise import as_real, nan_where


def real_leaves(name: str, tree: PyTree) -> tuple[jax.Array, ...]:
    """The leaves of ``tree`` as real jax arrays (TypeError naming ``name`` if complex)."""
    leaves = jax.tree_util.tree_leaves(tree)
    return tuple(as_real(f"{name} leaf {i}", x) for i, x in enumerate(leaves))


def _total(parts: list[jax.Array]) -> jax.Array:
    return functools.reduce(operator.add, parts)


def _inexact(leaves: tuple[jax.Array, ...]) -> Any:
    dtype = jnp.result_type(*leaves)
    return dtype if jnp.issubdtype(dtype, jnp.inexact) else jnp.result_type(float)


def l1_norm(tree: PyTree) -> jax.Array:
    r"""The L1 norm of all entries of a pytree, with derivative sign(x) (0 at zero entries).

    .. math::

      \|x\|_1 = \sum_i |x_i|, \qquad g^\star_i = \operatorname{sign}(x_i)

    (the subdifferential is a product of intervals [-1, 1] at zero entries, so the
    minimum-norm element is 0 there.)

    Args:
      tree: a pytree of real arrays.

    Returns:
      A scalar of the leaves' common dtype (0 for an empty tree).

    Raises:
      TypeError: a leaf is complex.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from subopt import nonsmooth as ns
      >>> jax.grad(ns.l1_norm)({"a": jnp.array([0.0, -2.0])})["a"].tolist()
      [0.0, -1.0]
    """
    leaves = real_leaves("tree", tree)
    if not leaves:
        return jnp.zeros(())
    return _total([jnp.sum(ns_abs(x)) for x in leaves])


# --------------------------------------------------------------------------- l2


# the one overflow-safe norm with derivative 0 at 0 (subopt/_tree.py); NaN in gives NaN out
_l2 = _tree_norm_leaves


def l2_norm(tree: PyTree) -> jax.Array:
    r"""The global Euclidean norm of a pytree, overflow-safe, with derivative 0 at 0.

    .. math::

      \|x\|_2 = s \sqrt{\textstyle\sum_i (x_i / s)^2}, \quad s = \max_i |x_i|, \qquad
      g^\star = \begin{cases} x / \|x\|_2 & x \ne 0 \\ 0 & x = 0 \end{cases}

    ``jax.grad(jnp.linalg.norm)`` is NaN at 0; the subdifferential there is the unit ball,
    whose minimum-norm element is 0.

    Args:
      tree: a pytree of real arrays.

    Returns:
      A scalar of the leaves' common floating dtype (0 for an empty tree).

    Raises:
      TypeError: a leaf is complex.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from subopt import nonsmooth as ns
      >>> jax.grad(ns.l2_norm)(jnp.zeros(3)).tolist()
      [0.0, 0.0, 0.0]
      >>> float(ns.l2_norm({"a": jnp.array([3e20]), "b": jnp.array(4e20)}) / 1e20)  # float32
      5.0
    """
    leaves = real_leaves("tree", tree)
    if not leaves:
        return jnp.zeros(())
    dtype = _inexact(leaves)
    return _l2(tuple(x.astype(dtype) for x in leaves))


# --------------------------------------------------------------------------- linf


@jax.custom_jvp
def _linf(leaves: tuple[jax.Array, ...]) -> jax.Array:
    return functools.reduce(jnp.maximum, [jnp.max(jnp.abs(x), initial=0) for x in leaves])


@_linf.defjvp
def _linf_jvp(primals, tangents):
    (leaves,), (ts,) = primals, tangents
    m = _linf(leaves)
    masks = [(jnp.abs(x) == m).astype(m.dtype) for x in leaves]
    count = _total([jnp.sum(mask) for mask in masks])
    if sum(x.size for x in leaves) == 0:  # static: no entries, no ties, derivative 0
        count = jnp.ones((), m.dtype)
    dots = [
        jnp.sum((jnp.sign(x).astype(m.dtype) * mask).astype(t.dtype) * t).astype(m.dtype)
        for x, mask, t in zip(leaves, masks, ts)
    ]
    safe = jnp.maximum(count, jnp.ones((), count.dtype))
    return m, nan_where(m, _total(dots) / safe)  # an entry is NaN: NaN (count 0 otherwise)


def linf_norm(tree: PyTree) -> jax.Array:
    r"""The largest magnitude over all entries of a pytree, with minimum-norm derivatives.

    .. math::

      \|x\|_\infty = \max_i |x_i|, \qquad
      g^\star = \frac{1}{|I|} \sum_{i \in I} \operatorname{sign}(x_i) e_i, \quad
      I = \{i : |x_i| = \|x\|_\infty\}

    At x = 0 every entry ties and sign(0) = 0, so g* = 0 (the subdifferential is the L1 unit
    ball). ``jax.grad`` of ``jnp.max(jnp.abs(x))`` gives 1/n per entry there.

    Args:
      tree: a pytree of real arrays.

    Returns:
      A scalar of the leaves' common dtype (0 for an empty tree).

    Raises:
      TypeError: a leaf is complex.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from subopt import nonsmooth as ns
      >>> jax.grad(ns.linf_norm)(jnp.array([2.0, -2.0, 1.0])).tolist()
      [0.5, -0.5, 0.0]
    """
    leaves = real_leaves("tree", tree)
    if not leaves:
        return jnp.zeros(())
    dtype = jnp.result_type(*leaves)
    return _linf(tuple(x.astype(dtype) for x in leaves))
