r"""Affine constraint sets: the hyperplane :math:`\{\langle a, x\rangle = b\}`, the halfspace
:math:`\{\langle a, x\rangle \le b\}` (``a`` a pytree like x) and the affine set
:math:`\{A x = b\}` (x flattened), whose projection uses a QR factorization computed once, at
construction. Normal cones are spanned by a (or the rows of A), so ``min_norm`` removes the
normal part of g.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from subopt._tree import tree_norm, tree_vdot
from subopt.prox._base import (
    Regularizer,
    all_true,
    check_step,
    concrete,
    flatten,
    hyperparameter,
    hyperparameter_tree,
    indicator,
    nan_unless,
    per_leaf,
    rebuild,
    register,
    rtol,
    tree_dtype,
)


def _normal(a: Any, x: Any) -> tuple[list, jax.Array]:
    """a as unit leaves like x (a's structure a prefix of x's), and ||a||."""
    leaves = jax.tree_util.tree_leaves(x)
    al = [
        jnp.broadcast_to(jnp.asarray(p).astype(v.dtype), jnp.shape(v))
        for p, v in zip(per_leaf("a", a, x), leaves)
    ]
    n = tree_norm(al)
    safe = jnp.where(n > 0, n, jnp.ones((), n.dtype))
    return [u / safe.astype(u.dtype) for u in al], n


@dataclasses.dataclass(frozen=True)
class _Affine(Regularizer):
    """{<a, x> = b} (``upper_only``: <= b) with a a pytree like x."""

    a: Any
    b: Any
    upper_only = False

    def is_valid(self):
        finite = all_true([jnp.isfinite(v) for v in jax.tree_util.tree_leaves(self.a)])
        return (tree_norm(self.a) > 0) & jnp.isfinite(self.b) & finite

    def _parts(self, x):
        us, n = _normal(self.a, x)
        dtype = tree_dtype(x)
        gap = tree_vdot(us, jax.tree_util.tree_leaves(x)).astype(dtype)
        level = (self.b / n).astype(dtype)  # the signed distance of the set from 0
        tol = rtol(dtype) * (tree_norm(x).astype(dtype) + jnp.abs(level))
        side = gap - level
        feasible = (side <= tol) if self.upper_only else (jnp.abs(side) <= tol)
        return us, side, feasible, jnp.abs(side) <= tol

    def value(self, x):
        _, _, feasible, _ = self._parts(x)
        return indicator(feasible, tree_dtype(x))

    def prox(self, x, step):
        check_step(step)
        us, side, _, _ = self._parts(x)
        if self.upper_only:
            side = jnp.where(side > 0, side, jnp.zeros_like(side))
        return rebuild(
            x, [v - side.astype(v.dtype) * u for v, u in zip(jax.tree_util.tree_leaves(x), us)]
        )

    def min_norm(self, x, g):
        us, _, feasible, active = self._parts(x)
        gs = [
            gv.astype(v.dtype)
            for gv, v in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(x))
        ]
        along = tree_vdot(us, gs)  # g + s a with the best s (s >= 0 for the halfspace)
        if self.upper_only:
            along = jnp.where(active, jnp.minimum(along, 0), jnp.zeros_like(along))
        return nan_unless(
            feasible, rebuild(x, [gv - along.astype(gv.dtype) * u for gv, u in zip(gs, us)])
        )

    def directional(self, x, d):
        us, _, feasible, active = self._parts(x)
        ds = jax.tree_util.tree_leaves(d)
        slope = tree_vdot(us, ds)
        tol = rtol(tree_dtype(x)) * tree_norm(ds)
        blocked = (slope > tol) if self.upper_only else (jnp.abs(slope) > tol)
        blocked = blocked & active
        dtype = tree_dtype(x)
        return jnp.where(feasible, jnp.where(blocked, jnp.inf, 0.0), jnp.nan).astype(dtype)


@register
class Hyperplane(_Affine):
    """The indicator of {<a, x> = b} (see `hyperplane`)."""


@register
class Halfspace(_Affine):
    """The indicator of {<a, x> <= b} (see `halfspace`)."""

    upper_only = True


def _check_normal(a: Any, b: Any) -> tuple[Any, jax.Array]:
    a = hyperparameter_tree("a", a, nonnegative=False)
    b = hyperparameter("b", b, nonnegative=False)
    leaves = [concrete(v) for v in jax.tree_util.tree_leaves(a)]
    if all(v is not None for v in leaves) and not any(np.any(v != 0) for v in leaves):
        raise ValueError(f"a must not be zero (the set would be empty or everything), got {a}")
    if jnp.ndim(b):
        raise ValueError(f"b must be a scalar, got shape {jnp.shape(b)}")
    return a, b


def hyperplane(a: Any, b: Any) -> Hyperplane:
    r"""The indicator of the hyperplane :math:`\{x : \langle a, x\rangle = b\}`.

    .. math::

      \mathrm{prox}_{t h}(x) = x - \frac{\langle a, x\rangle - b}{\|a\|^2} a

    computed with :math:`a / \|a\|` (no overflow of :math:`\|a\|^2`). ``min_norm`` is
    :math:`g - \langle g, a\rangle a / \|a\|^2`; ``directional`` is 0 when
    :math:`\langle a, d\rangle = 0` (to 16 eps relative), +inf otherwise. Membership allows
    16 eps (||x|| + |b| / ||a||) of rounding.

    Args:
      a: the normal, a pytree like x (or a prefix of x's structure, a scalar included), not
        zero.
      b: the offset, a finite scalar.

    Returns:
      A `Hyperplane` regularizer.

    Raises:
      TypeError: ``a`` or ``b`` is not real.
      ValueError: a concrete ``a`` that is zero, a NaN or infinite entry, a non-scalar ``b``.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> x = so.prox.hyperplane(jnp.array([1.0, 1.0]), 1.0).prox(jnp.array([1.0, 1.0]), 1.0)
      >>> [round(v, 5) for v in x.tolist()]
      [0.5, 0.5]

    References:
      Bauschke and Combettes, *Convex Analysis and Monotone Operator Theory in Hilbert
      Spaces*, 2nd ed., 2017, example 29.18.
    """
    return Hyperplane(*_check_normal(a, b))


def halfspace(a: Any, b: Any) -> Halfspace:
    r"""The indicator of the halfspace :math:`\{x : \langle a, x\rangle \le b\}`.

    .. math::

      \mathrm{prox}_{t h}(x) = x - \frac{\max(\langle a, x\rangle - b, 0)}{\|a\|^2} a

    ``min_norm`` is g inside, :math:`g - \min(\langle g, a\rangle, 0) a / \|a\|^2` on the
    boundary; ``directional`` is +inf on the boundary along :math:`\langle a, d\rangle > 0`,
    else 0.

    Args:
      a: the normal, a pytree like x (or a prefix of x's structure), not zero.
      b: the offset, a finite scalar.

    Returns:
      A `Halfspace` regularizer.

    Raises:
      TypeError: ``a`` or ``b`` is not real.
      ValueError: a concrete ``a`` that is zero, a NaN or infinite entry, a non-scalar ``b``.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> x = so.prox.halfspace(jnp.array([1.0, 1.0]), 1.0).prox(jnp.array([1.0, 1.0]), 1.0)
      >>> [round(v, 5) for v in x.tolist()]
      [0.5, 0.5]

    References:
      Bauschke and Combettes, *Convex Analysis and Monotone Operator Theory in Hilbert
      Spaces*, 2nd ed., 2017, example 29.20.
    """
    return Halfspace(*_check_normal(a, b))


@register
class AffineSet(Regularizer):
    """The indicator of {A x = b}, x flattened (see `affine_set`)."""

    a: Any
    b: Any
    q: Any  # an orthonormal basis of the row space of A (n x m)
    r: Any  # A^T = Q R
    c: Any  # Q^T x = c on the set

    def is_valid(self):
        d = jnp.abs(jnp.diagonal(self.r))
        tol = max(self.a.shape) * jnp.finfo(d.dtype).eps * jnp.max(d, initial=0)
        finite = jnp.all(jnp.isfinite(self.a)) & jnp.all(jnp.isfinite(self.b))
        return finite & jnp.all(d > tol)

    def _parts(self, x):
        flat, unravel = flatten(x)
        if flat.shape != (self.a.shape[1],):
            raise ValueError(
                f"affine_set: A has {self.a.shape[1]} columns but x has {flat.size} entries"
            )
        q, c = self.q.astype(flat.dtype), self.c.astype(flat.dtype)
        res = q.T @ flat - c
        tol = rtol(flat.dtype, flat.size) * (jnp.linalg.norm(flat) + jnp.linalg.norm(c))
        return flat, unravel, q, res, jnp.linalg.norm(res) <= tol

    def value(self, x):
        *_, feasible = self._parts(x)
        return indicator(feasible, tree_dtype(x))

    def prox(self, x, step):
        check_step(step)
        flat, unravel, q, res, _ = self._parts(x)
        return unravel(flat - q @ res)

    def min_norm(self, x, g):
        flat, unravel, q, _, feasible = self._parts(x)
        gf = flatten(g)[0].astype(flat.dtype)
        return unravel(nan_unless(feasible, gf - q @ (q.T @ gf)))

    def directional(self, x, d):
        flat, _, q, _, feasible = self._parts(x)
        df = flatten(d)[0].astype(flat.dtype)
        blocked = jnp.linalg.norm(q.T @ df) > rtol(flat.dtype, flat.size) * jnp.linalg.norm(df)
        dtype = tree_dtype(x)
        return jnp.where(feasible, jnp.where(blocked, jnp.inf, 0.0), jnp.nan).astype(dtype)


def affine_set(A: Any, b: Any) -> AffineSet:
    r"""The indicator of the affine set :math:`\{x : A x = b\}` (x's entries as one vector).

    With the thin QR factorization :math:`A^\top = Q R`, computed once here (A is m x n,
    m <= n, rows linearly independent), the set is :math:`\{Q^\top x = c\}`,
    :math:`c = R^{-\top} b`, and

    .. math::

      \mathrm{prox}_{t h}(x) = x - Q (Q^\top x - c), \qquad
      \text{min\_norm}(x, g) = g - Q Q^\top g

    ``directional`` is 0 when :math:`A d = 0` (to 16 eps sqrt(n) relative), +inf otherwise.
    Linearly dependent rows are rejected (a traced A with dependent rows makes ``is_valid``
    False): drop them, or use a least-squares formulation.

    Args:
      A: an (m, n) real matrix with linearly independent rows.
      b: an (m,) vector.

    Returns:
      An `AffineSet` regularizer.

    Raises:
      TypeError: ``A`` or ``b`` is not real.
      ValueError: a concrete ``A`` that is not 2-D, has more rows than columns or linearly
        dependent rows (numerical rank below m: a diagonal entry of R at most
        max(m, n) eps max|R_ii|), a NaN or infinite entry, a ``b`` of the wrong shape.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> reg = so.prox.affine_set(jnp.array([[1.0, 1.0, 0.0]]), jnp.array([1.0]))
      >>> [round(v, 5) for v in reg.prox(jnp.array([1.0, 1.0, 5.0]), 1.0).tolist()]
      [0.5, 0.5, 5.0]

    References:
      Golub and Van Loan, *Matrix Computations*, 4th ed., 2013, section 5.3 (QR and least
      squares).
    """
    A = hyperparameter("A", A, nonnegative=False)
    b = hyperparameter("b", b, nonnegative=False)
    if A.ndim != 2 or A.shape[0] > A.shape[1]:
        raise ValueError(f"A must be an (m, n) matrix with m <= n, got shape {A.shape}")
    if jnp.shape(b) != (A.shape[0],):
        raise ValueError(f"b must have shape ({A.shape[0]},), got {jnp.shape(b)}")
    q, r = jnp.linalg.qr(A.T)
    c = jax.scipy.linalg.solve_triangular(r, b, trans="T", lower=False)
    reg = AffineSet(A, b, q, r, c)
    valid = concrete(reg.is_valid())
    if valid is not None and not bool(valid):
        raise ValueError(
            f"A must have linearly independent rows; got numerical rank below {A.shape[0]} "
            "(drop dependent rows, or solve a least-squares problem instead)"
        )
    return reg
