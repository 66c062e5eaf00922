r"""The forward-backward step :math:`z = \mathrm{prox}_{th}(y - t \nabla f(y))`, shared by
`subopt.proximal_gradient`, `subopt.fista` and (its residual) `subopt.apply_prox`."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from subopt import schedules
from subopt._base import PyTree, check_same_structure, require_extra_arg
from subopt._linesearch import Backtracking, search
from subopt._tree import tree_add_scale, tree_norm


def check_params_given(grads: PyTree, params: PyTree, who: str) -> None:
    """The proximal updates need params, of the gradient's structure."""
    if params is None:
        raise TypeError(f"{who}.update needs params: update(grads, state, params, ...)")
    check_same_structure(grads, params)


def mapping_norm(y: PyTree, z: PyTree, step: jax.Array, direction: PyTree) -> jax.Array:
    """The gradient-mapping norm ||(y - z) / t||; +inf where it is not measurable.

    The norm of (y - z) / t, the gradient mapping itself: squaring y - z first would
    underflow to 0 for a tiny step (t = 1e-300 makes y - z ~ 1e-300) and claim CONVERGED.
    An entry whose forward step was lost to rounding (``y_i - t d_i == y_i`` although
    ``d_i != 0``, with d the gradient or the direction a chain proposed) says nothing about
    stationarity: it counts as ``d_i``, so a step that collapsed (e.g. a backtracking search
    at the edge of f's domain) cannot claim CONVERGED. +inf for a step that is not > 0 or a
    NaN.
    """
    pos = step > 0
    safe = jnp.where(pos, step, 1)

    def entry(u, v, d):
        lost = ((u - safe * d).astype(u.dtype) == u) & (d != 0)
        return jnp.where(lost, d, (u - v) / safe.astype(u.dtype)).astype(u.dtype)

    gap = tree_norm(jax.tree_util.tree_map(entry, y, z, direction))
    return jnp.where(pos & ~jnp.isnan(gap), gap, jnp.inf)


def forward_backward(reg: Any, y: PyTree, grads: PyTree, step: jax.Array) -> PyTree:
    r""":math:`\mathrm{prox}_{t h}(y - t \nabla f(y))`, each leaf in y's dtype."""
    out = reg.prox(tree_add_scale(y, -step, grads), step)
    return jax.tree_util.tree_map(lambda u, v: jnp.asarray(u).astype(v.dtype), out, y)


def prox_step(
    reg: Any,
    learning_rate: Any,
    step: jax.Array,
    count: jax.Array,
    y: PyTree,
    grads: PyTree,
    extra_args: dict,
    who: str,
) -> tuple[PyTree, jax.Array]:
    """One forward-backward step from y: (prox output, the step used).

    ``step`` is the state's current step: used as is by backtracking (which may shrink it);
    fixed steps and schedules are read from ``learning_rate`` at ``count``.
    """
    if isinstance(learning_rate, Backtracking):
        fun = require_extra_arg(extra_args, "value_fn", who)
        fy = extra_args.get("value")
        fy = jnp.asarray(fun(y) if fy is None else fy)
        return search(
            learning_rate, step, y, grads, fy, fun, lambda t: forward_backward(reg, y, grads, t)
        )
    t = jnp.asarray(schedules.evaluate(learning_rate, count), step.dtype)
    return forward_backward(reg, y, grads, t), t
