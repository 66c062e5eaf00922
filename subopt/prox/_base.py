r"""The `Regularizer` interface every term of `subopt.prox` implements, the public `register`
decorator that turns a subclass into a pytree, and the helpers the terms share:
hyperparameter validation (concrete values checked, traced values passed through), the
structure rule for per-leaf hyperparameters, validity tests for traced hyperparameters, and
the feasibility tolerance of the constraint sets. Tree math lives in `subopt._tree`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.core
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from subopt._base import PyTree, check_scalar, concrete_array
from subopt._tree import register_dataclass

# Constraint sets accept points within RTOL_FACTOR * eps(dtype) (relative) of the set, so
# that the rounded output of their own projection counts as feasible.
RTOL_FACTOR = 16


class Regularizer:
    r"""A closed term h with a cheap proximal map (convex, except `l2_sphere`).

    Subclasses are frozen dataclasses registered as pytrees with `register`: hyperparameters
    (weights, radii, bounds) are array leaves, so a regularizer can be traced, vmapped and
    stored in an optimizer state without a recompile for new values.

    Methods (all over pytrees ``x``, ``g`` and ``d`` of the same structure; outputs keep the
    dtype of each leaf of ``x``, whatever the dtype of ``step`` or of the hyperparameters):

    * ``value(x)``: h(x), a scalar.
    * ``prox(x, step)``: :math:`\arg\min_z h(z) + \|z - x\|^2 / (2\,\text{step})`, step >= 0.
    * ``min_norm(x, g)``: the minimum-norm element of :math:`g + \partial h(x)`.
    * ``directional(x, d)``: the one-sided directional derivative
      :math:`h'(x; d) = \lim_{s \downarrow 0} (h(x + s d) - h(x)) / s`.
    * ``is_valid()``: a 0-d bool, False when a (traced) hyperparameter is one the constructor
      would reject if it were concrete (a negative, NaN or infinite weight, an empty set).
      When it is False, every method returns NaN (`register` adds that guard), and the
      optimizers end the run ``Status.INVALID``.

    ``value`` and ``prox`` are required; ``min_norm`` and ``directional`` are needed only by
    `subopt.min_norm_subgradient` and `subopt.directional_derivative`, which name the term
    and the missing method when it lacks them.

    Constraint sets C (h the indicator of C): ``value`` is 0 on C and +inf off it, ``prox`` is
    the Euclidean projection (``step`` is ignored), ``min_norm(x, g)`` is
    :math:`g + \Pi_{N_C(x)}(-g) = -\Pi_{T_C(x)}(-g)` (the projected gradient; N and T the
    normal and tangent cones), and ``directional(x, d)`` is 0 when x + s d stays in C for small
    s > 0 and +inf otherwise. At a point outside C, h has no subgradient and no directional
    derivative: ``min_norm`` and ``directional`` return NaN. Membership is tested exactly for
    the box, the orthant and the L-inf ball (their projections are exact) and within a relative
    tolerance of 16 eps(dtype) (times sqrt(n) for a constraint summing n entries) for the
    others, whose projections round.
    """

    def value(self, x: PyTree) -> jax.Array:
        raise NotImplementedError(f"{type(self).__name__} does not implement value")

    def prox(self, x: PyTree, step: Any) -> PyTree:
        raise NotImplementedError(f"{type(self).__name__} does not implement prox")

    def is_valid(self) -> jax.Array:
        """A 0-d bool: False when a (possibly traced) hyperparameter makes the term improper
        (one the constructor would reject: a negative, NaN or infinite weight, an empty
        constraint set). Optimizers report it to `subopt.run`, which then ends the run
        ``Status.INVALID``. Default: True."""
        return jnp.array(True)


def as_arrays(tree: PyTree) -> PyTree:
    """Every leaf as a jax array (Python floats become arrays of the default float dtype)."""
    return jax.tree_util.tree_map(jnp.asarray, tree)


def _guard(method: Callable, trees: int) -> Callable:
    """Wrap a method: its first ``trees`` arguments become array pytrees, and its output is
    NaN when ``is_valid()`` is False (skipped when validity is a concrete True)."""

    @functools.wraps(method)
    def guarded(self, *args):
        args = tuple(as_arrays(a) if i < trees else a for i, a in enumerate(args))
        out = method(self, *args)
        valid = self.is_valid()
        if not isinstance(valid, jax.core.Tracer) and bool(valid):
            return out
        return nan_unless(valid, out)

    guarded._subopt_guarded = True  # type: ignore[attr-defined]
    return guarded


_METHODS = {"value": 1, "prox": 1, "min_norm": 2, "directional": 2}


def register(cls: type) -> type:
    """Class decorator: make a `Regularizer` subclass a frozen dataclass pytree.

    Every field is a data leaf (a hyperparameter that may be traced or vmapped), unless it is
    declared ``dataclasses.field(metadata={"static": True})`` (structure: an axis, a number
    of groups), which is part of the compiled program. The decorator also wraps ``value``,
    ``prox``, ``min_norm`` and ``directional``: Python-number leaves of ``x``, ``g`` and ``d``
    become arrays, and outputs are NaN when ``is_valid()`` is False.

    Example:
      >>> import dataclasses, jax.numpy as jnp, subopt as so
      >>> @so.prox.register
      ... class Huber(so.prox.Regularizer):
      ...     lam: jnp.ndarray
      ...     def value(self, x):
      ...         a = jnp.abs(x)
      ...         return self.lam * jnp.sum(jnp.where(a <= 1, a * a / 2, a - 0.5))
      ...     def prox(self, x, step):
      ...         t = step * self.lam
      ...         return jnp.where(jnp.abs(x) <= 1 + t, x / (1 + t), x - t * jnp.sign(x))
      ...     def is_valid(self):
      ...         return (self.lam >= 0) & jnp.isfinite(self.lam)
      >>> Huber(jnp.array(1.0)).prox(jnp.array([0.5, 3.0]), 1.0).tolist()
      [0.25, 2.0]
    """
    if not (isinstance(cls, type) and issubclass(cls, Regularizer)):
        raise TypeError(f"register decorates subclasses of subopt.prox.Regularizer, got {cls!r}")
    cls = dataclasses.dataclass(frozen=True)(cls)
    fields = dataclasses.fields(cls)
    data = [f.name for f in fields if not f.metadata.get("static", False)]
    meta = [f.name for f in fields if f.metadata.get("static", False)]
    for name, trees in _METHODS.items():
        method = getattr(cls, name, None)
        if method is not None and not getattr(method, "_subopt_guarded", False):
            setattr(cls, name, _guard(method, trees))
    return register_dataclass(cls, data, meta)


# The name the terms of this package were written with.
regularizer = register


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


class _Spread:
    """One hyperparameter leaf repeated over a subtree of x (an opaque pytree leaf)."""

    def __init__(self, items: list):
        self.items = items


def per_leaf(name: str, param: Any, x: PyTree) -> list:
    """``param`` spread over the leaves of ``x``: one entry per leaf of x.

    The structure rule of every per-leaf hyperparameter: ``param`` is a single array (shared
    by every leaf), or a pytree whose structure is a prefix of x's (each of its leaves
    applies to every leaf of the matching subtree of x; x's own structure is the common
    case). Anything else, e.g. ``{"w": 0.5}`` for params ``{"w": ..., "b": ...}``, is a
    ValueError naming both structures.
    """
    pdef = jax.tree_util.tree_structure(param)
    if jax.tree_util.treedef_is_leaf(pdef):
        return [param] * len(jax.tree_util.tree_leaves(x))
    try:
        nested = jax.tree_util.tree_map(
            lambda p, sub: _Spread([p] * len(jax.tree_util.tree_leaves(sub))), param, x
        )
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"{name} has structure {pdef}, which is neither a single array nor a prefix of the "
            f"structure of x, {jax.tree_util.tree_structure(x)}"
        ) from err
    return [p for group in jax.tree_util.tree_leaves(nested) for p in group.items]


def leaf_params(name: str, param: Any, x: PyTree, *, scalar_only: bool = False) -> list:
    """One array per leaf of ``x``, cast to that leaf's dtype (structure rule: `per_leaf`).

    Each array is a scalar or has the shape of its leaf (``scalar_only``: a scalar); shapes
    that would silently broadcast raise.
    """
    out = []
    for p, leaf in zip(per_leaf(name, param, x), jax.tree_util.tree_leaves(x)):
        allowed = ((),) if scalar_only else ((), jnp.shape(leaf))
        if jnp.shape(p) not in allowed:
            what = "a scalar" if scalar_only else f"a scalar or shape {jnp.shape(leaf)}"
            raise ValueError(
                f"{name} has shape {jnp.shape(p)}, which does not match the leaf of x of shape "
                f"{jnp.shape(leaf)} (expected {what})"
            )
        out.append(jnp.asarray(p).astype(jnp.result_type(leaf)))
    return out


def all_true(flags: list) -> jax.Array:
    """The conjunction of a list of boolean arrays (True for an empty list)."""
    out = jnp.array(True)
    for f in flags:
        out = out & jnp.all(f)
    return out


def valid_weights(*trees: Any) -> jax.Array:
    """True when every entry of every tree is >= 0 and finite (the constructors' rule)."""
    return all_true(
        [(v >= 0) & jnp.isfinite(v) for t in trees for v in jax.tree_util.tree_leaves(t)]
    )


def check_step(step: Any) -> None:
    """A concrete prox step must be a real number >= 0 (+inf allowed); traced steps pass."""
    check_scalar("step", step, nonnegative=True, allow_inf=True)


def cast(value: Any, dtype: Any) -> jax.Array:
    """``value`` as an array of ``dtype`` (so a float64 step never promotes float32 params)."""
    return jnp.asarray(value).astype(dtype)


def scalar_radius(radius: Any, dtype: Any, name: str = "radius") -> jax.Array:
    """A scalar hyperparameter as a 0-d array of ``dtype``; a non-scalar is a ValueError."""
    radius = jnp.asarray(radius)
    if radius.ndim:
        raise ValueError(f"{name} must be a scalar here, got shape {radius.shape}")
    return radius.astype(dtype)


def tree_dtype(x: PyTree) -> Any:
    """The promoted dtype of the leaves of ``x`` (the dtype of h(x))."""
    leaves = jax.tree_util.tree_leaves(x)
    return jnp.result_type(*leaves) if leaves else jnp.result_type(float)


def flatten(x: PyTree) -> tuple[jax.Array, Callable[[jax.Array], PyTree]]:
    """All entries of ``x`` as one vector (promoted dtype) and the inverse (leaf dtypes kept)."""
    flat, unravel = ravel_pytree(x)
    return flat, unravel


def rebuild(x: PyTree, leaves: list) -> PyTree:
    """A pytree of x's structure with the given leaves."""
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(x), leaves)


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
    return jax.tree_util.tree_map(lambda v: jnp.where(feasible, v, jnp.full_like(v, jnp.nan)), tree)


def run_mean(values: jax.Array, runs: jax.Array) -> jax.Array:
    """Each entry replaced by the mean of its run (``runs``: nondecreasing ids from 0), the
    derivative of the piecewise-constant proxes (TV1D, isotonic regression)."""
    n = values.shape[0]
    total = jax.ops.segment_sum(values, runs, n)
    count = jax.ops.segment_sum(jnp.ones_like(values), runs, n)
    return (total / jnp.where(count > 0, count, 1))[runs]


def concrete(value: Any) -> np.ndarray | None:
    """A concrete hyperparameter as a numpy array (None when traced)."""
    return concrete_array(value)


# --------------------------------------------------------------------------- h = 0


@register
class Zero(Regularizer):
    """h = 0: the prox is the identity; composite methods reduce to gradient descent."""

    def value(self, x):
        return jnp.zeros((), tree_dtype(x))

    def prox(self, x, step):
        check_step(step)
        return x

    def min_norm(self, x, g):
        return jax.tree_util.tree_map(lambda v, gv: gv.astype(v.dtype), x, g)

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
