"""The `Regularizer` interface every term of `subopt.prox` implements, and the helpers the
terms share: hyperparameter validation (concrete values checked, traced values passed
through), dtype handling, an overflow-safe norm with a finite gradient at 0, flattening a
pytree into one vector, and the feasibility tolerance of the constraint sets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.core
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from subopt._base import PyTree, check_scalar, concrete_array

# Constraint sets accept points within RTOL_FACTOR * eps(dtype) (relative) of the set, so
# that the rounded output of their own projection counts as feasible.
RTOL_FACTOR = 16


class Regularizer:
    r"""A closed convex term h with a cheap proximal map.

    Subclasses are frozen dataclasses registered as pytrees: hyperparameters (weights, radii,
    bounds) are array leaves, so a regularizer can be traced, vmapped and stored in an
    optimizer state without a recompile for new values.

    Methods (all over pytrees ``x``, ``g`` and ``d`` of the same structure; outputs keep the
    dtype of each leaf of ``x``, whatever the dtype of ``step`` or of the hyperparameters):

    * ``value(x)``: h(x), a scalar.
    * ``prox(x, step)``: :math:`\arg\min_z h(z) + \|z - x\|^2 / (2\,\text{step})`, step >= 0.
    * ``min_norm(x, g)``: the minimum-norm element of :math:`g + \partial h(x)` (exact for
      every term of `subopt.prox`; `nuclear` up to the numerical rank of x).
    * ``directional(x, d)``: the one-sided directional derivative
      :math:`h'(x; d) = \lim_{s \downarrow 0} (h(x + s d) - h(x)) / s`.

    Constraint sets C (h the indicator of C): ``value`` is 0 on C and +inf off it, ``prox`` is
    the Euclidean projection (``step`` is ignored), ``min_norm(x, g)`` is
    :math:`g + \Pi_{N_C(x)}(-g) = -\Pi_{T_C(x)}(-g)` (the projected gradient; N and T the
    normal and tangent cones), and ``directional(x, d)`` is 0 when x + s d stays in C for small
    s > 0 and +inf otherwise. At a point outside C, h has no subgradient and no directional
    derivative: ``min_norm`` and ``directional`` return NaN. Membership is tested exactly for
    the box, the orthant and the L-inf ball (their projections are exact) and within a relative
    tolerance of 16 eps(dtype) for the L2 ball and 16 eps(dtype) sqrt(n) (n entries) for the
    L1 ball and the simplex, whose projections sum n rounded terms.
    """

    def value(self, x: PyTree) -> jax.Array:
        raise NotImplementedError

    def prox(self, x: PyTree, step: Any) -> PyTree:
        raise NotImplementedError

    def min_norm(self, x: PyTree, g: PyTree) -> PyTree:
        raise NotImplementedError

    def directional(self, x: PyTree, d: PyTree) -> jax.Array:
        raise NotImplementedError

    def is_valid(self) -> jax.Array:
        """A 0-d bool: False when a (possibly traced) hyperparameter makes the term improper
        (a negative or NaN weight, an empty constraint set). Optimizers report it to
        `subopt.run`, which then ends the run ``Status.INVALID``. Default: True."""
        return jnp.array(True)


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


# --------------------------------------------------------------------------- hyperparameters


def hyperparameter(
    name: str, value: Any, *, nonnegative: bool = True, allow_inf: bool = False
) -> jax.Array:
    """A real hyperparameter as an array leaf; concrete values are checked.

    Python numbers and integer arrays become arrays of the default float dtype (not weakly
    typed, so ``l1(0.1)`` and ``l1(jnp.array(0.1))`` share one compiled program); floating
    arrays keep their dtype. Traced values pass through unchecked.
    """
    check_scalar(name, value, nonnegative=nonnegative, allow_inf=allow_inf)
    if isinstance(value, jax.core.Tracer):
        return value
    arr = jnp.asarray(value)
    dtype = arr.dtype if jnp.issubdtype(arr.dtype, jnp.floating) else jnp.result_type(float)
    return jnp.asarray(arr, dtype=dtype)


def hyperparameter_tree(name: str, tree: Any, **kwargs: Any) -> Any:
    """`hyperparameter` on every leaf of a pytree; errors name the leaf's path."""
    if tree is None or not jax.tree_util.tree_leaves(tree):
        raise TypeError(f"{name} must be a number, an array or a pytree of arrays, got {tree!r}")
    return jax.tree_util.tree_map_with_path(
        lambda path, v: hyperparameter(f"{name}{jax.tree_util.keystr(path)}", v, **kwargs), tree
    )


def weight(name: str, value: Any) -> jax.Array:
    """A nonnegative finite weight as an array leaf; concrete values are checked."""
    return hyperparameter(name, value)


def leaf_params(name: str, param: Any, x: PyTree, *, scalar_only: bool = False) -> list:
    """One array per leaf of ``x``, cast to that leaf's dtype.

    ``param`` is a single array (shared by every leaf: a scalar, or an array of the leaf's
    shape) or a pytree with ``x``'s structure. Shapes that would silently broadcast raise.
    """
    leaves = jax.tree_util.tree_leaves(x)
    p_leaves = jax.tree_util.tree_leaves(param)
    if jax.tree_util.tree_structure(param) == jax.tree_util.tree_structure(x):
        pairs = list(zip(p_leaves, leaves))
    elif len(p_leaves) == 1:
        pairs = [(p_leaves[0], leaf) for leaf in leaves]
    else:
        raise ValueError(
            f"{name} structure {jax.tree_util.tree_structure(param)} matches neither a single "
            f"array nor x's structure {jax.tree_util.tree_structure(x)}"
        )
    out = []
    for p, leaf in pairs:
        allowed = ((),) if scalar_only else ((), jnp.shape(leaf))
        if jnp.shape(p) not in allowed:
            what = "a scalar" if scalar_only else f"a scalar or shape {jnp.shape(leaf)}"
            raise ValueError(
                f"{name} has shape {jnp.shape(p)}, which does not match the leaf of x of shape "
                f"{jnp.shape(leaf)} (expected {what})"
            )
        out.append(jnp.asarray(p).astype(leaf.dtype))
    return out


def check_step(step: Any) -> None:
    """A concrete prox step must be a real number >= 0 (+inf allowed); traced steps pass."""
    check_scalar("step", step, nonnegative=True, allow_inf=True)


def cast(value: Any, dtype: Any) -> jax.Array:
    """``value`` as an array of ``dtype`` (so a float64 step never promotes float32 params)."""
    return jnp.asarray(value).astype(dtype)


def scalar_radius(radius: Any, dtype: Any) -> jax.Array:
    """A ball's radius as a 0-d array of ``dtype``; a non-scalar radius is a ValueError."""
    radius = jnp.asarray(radius)
    if radius.ndim:
        raise ValueError(f"radius must be a scalar here, got shape {radius.shape}")
    return radius.astype(dtype)


def tree_sum(values: list) -> jax.Array:
    """The sum of a list of scalars, in their dtype (a 0-d zero for an empty list)."""
    if not values:
        return jnp.zeros(())
    total = jnp.asarray(values[0])
    for v in values[1:]:
        total = total + v
    return total


def tree_dtype(x: PyTree) -> Any:
    """The promoted dtype of the leaves of ``x`` (the dtype of h(x))."""
    leaves = jax.tree_util.tree_leaves(x)
    return jnp.result_type(*leaves) if leaves else jnp.result_type(float)


# --------------------------------------------------------------------------- norms and vectors


def safe_norm(leaves: list) -> jax.Array:
    """Euclidean norm of the concatenated ``leaves``, in their promoted dtype.

    Scaled by the largest entry, so 1e200 or 1e-200 entries neither overflow nor underflow,
    and its gradient at 0 is 0 (finite), so jacobians of terms built on it stay finite. NaN
    entries give NaN, inf entries give inf.
    """
    if not leaves:
        return jnp.zeros(())
    dtype = jnp.result_type(*leaves)
    leaves = [jnp.asarray(v).astype(dtype) for v in leaves]
    top = jnp.max(jnp.stack([jnp.max(jnp.abs(v), initial=0.0) for v in leaves]))
    # The norm is homogeneous, so a constant scale leaves its derivative unchanged.
    top = jax.lax.stop_gradient(top)
    scale = jnp.where((top > 0) & jnp.isfinite(top), top, jnp.ones((), dtype))
    sq = tree_sum([jnp.sum(jnp.square(v / scale)) for v in leaves])
    zero = sq == 0
    return jnp.where(zero, jnp.zeros((), dtype), scale * jnp.sqrt(jnp.where(zero, 1, sq)))


def flatten(x: PyTree) -> tuple[jax.Array, Callable[[jax.Array], PyTree]]:
    """All entries of ``x`` as one vector (promoted dtype) and the inverse (leaf dtypes kept)."""
    flat, unravel = ravel_pytree(x)
    return flat, unravel


def rtol(dtype: Any, size: int = 1) -> jax.Array:
    """The relative feasibility tolerance of the constraint sets: 16 eps(dtype) sqrt(size),
    ``size`` the number of entries a constraint sums over (rounding in a sum of n terms grows
    like sqrt(n) eps)."""
    return jnp.asarray(RTOL_FACTOR * jnp.finfo(dtype).eps * max(size, 1) ** 0.5, dtype)


def indicator(feasible: jax.Array, dtype: Any) -> jax.Array:
    """0 where ``feasible`` else +inf, in ``dtype``."""
    return jnp.where(feasible, jnp.zeros((), dtype), jnp.full((), jnp.inf, dtype))


def nan_unless(feasible: jax.Array, tree: PyTree) -> PyTree:
    """``tree`` where ``feasible`` (a scalar or per-leaf-broadcastable mask), else NaN."""
    return jax.tree_util.tree_map(
        lambda v: jnp.where(feasible, v, jnp.full_like(v, jnp.nan)), tree
    )


def concrete(value: Any) -> np.ndarray | None:
    """A concrete hyperparameter as a numpy array (None when traced)."""
    return concrete_array(value)


# --------------------------------------------------------------------------- h = 0


@regularizer
class Zero(Regularizer):
    """h = 0: the prox is the identity; composite methods reduce to gradient descent."""

    def value(self, x):
        return jnp.zeros((), tree_dtype(x))

    def prox(self, x, step):
        check_step(step)
        return x

    def min_norm(self, x, g):
        del x
        return g

    def directional(self, x, d):
        del d
        return jnp.zeros((), tree_dtype(x))


def zero() -> Zero:
    r"""The zero regularizer :math:`h(x) = 0`; its prox is the identity.

    .. math::

      \mathrm{prox}_{t h}(x) = x, \qquad \text{min\_norm}(x, g) = g

    Returns:
      A `Regularizer` with no hyperparameters.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> so.prox.zero().prox(jnp.ones(2), 1.0).tolist()
      [1.0, 1.0]

    References:
      Parikh and Boyd, *Proximal Algorithms*, Found. Trends Optim., 2014, section 1.
    """
    return Zero()
