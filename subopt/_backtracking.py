r"""Step sizes of the proximal-gradient family: fixed, scheduled, or found by backtracking.

One forward-backward step :math:`z = \mathrm{prox}_{th}(y - t \nabla f(y))` needs a step t.
This module holds the three ways to get it, behind one function, `prox_step`, shared by
`subopt.proximal_gradient` and `subopt.fista`: a fixed number, a schedule ``count -> t``
(`subopt.schedules`), or `backtracking` (Beck-Teboulle's sufficient-decrease search on the
smooth part, a ``jax.lax.while_loop`` inside the optimizer's update). The small tree helpers
keep every leaf in its own dtype, so float32 problems stay float32.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from subopt import schedules
from subopt._base import (
    PyTree,
    check_positive_int,
    check_same_structure,
    check_scalar,
    check_step_size,
    concrete_array,
    is_concrete,
    require_extra_arg,
)

# --------------------------------------------------------------------------- tree helpers


def next_count(count: jax.Array) -> jax.Array:
    """count + 1, saturating at the int32 maximum."""
    return jnp.asarray(optax.safe_int32_increment(count))


def check_params_given(grads: PyTree, params: PyTree, who: str) -> None:
    """The proximal updates need params, of the gradient's structure."""
    if params is None:
        raise TypeError(f"{who}.update needs params: update(grads, state, params, ...)")
    check_same_structure(grads, params)


def composite_value(reg: Any, x: PyTree, fx: jax.Array) -> jax.Array:
    """f(x) + h(x) in f's dtype."""
    return (fx + reg.value(x)).astype(jnp.result_type(fx))


def tree_axpy(a: jax.Array, x: PyTree, y: PyTree) -> PyTree:
    """``a * x + y`` leafwise, each leaf in y's dtype."""
    return jax.tree_util.tree_map(lambda u, v: (a * u + v).astype(v.dtype), x, y)


def tree_diff(x: PyTree, y: PyTree) -> PyTree:
    """``x - y`` leafwise, each leaf in y's dtype."""
    return jax.tree_util.tree_map(lambda u, v: (u - v).astype(v.dtype), x, y)


def tree_dot(x: PyTree, y: PyTree) -> jax.Array:
    """The real inner product summed over leaves, in the leaves' dtype (0 for an empty tree)."""
    parts = [
        jnp.sum(u * v) for u, v in zip(jax.tree_util.tree_leaves(x), jax.tree_util.tree_leaves(y))
    ]
    if not parts:
        return jnp.zeros(())
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    return total


def mapping_norm(y: PyTree, z: PyTree, step: jax.Array) -> jax.Array:
    """The gradient-mapping norm ||(y - z) / t||; +inf for a step that is not > 0.

    One pass, a plain sum of squares (it runs every step, and on CPU every extra pass costs),
    but of (y - z) / t, the gradient mapping itself: squaring y - z first would underflow to 0
    for a tiny step (t = 1e-300 makes y - z ~ 1e-300) and claim CONVERGED. Should the squares
    overflow, the measure is +inf, which only delays the stop. Never NaN for finite input (a
    0/0 from a step the hardware flushes to zero reads as +inf, "not measurable").
    """
    pos = step > 0
    safe = jnp.where(pos, step, 1)
    d = jax.tree_util.tree_map(lambda u, v: (u - v).astype(v.dtype) / safe.astype(v.dtype), y, z)
    gap = jnp.sqrt(tree_dot(d, d))
    return jnp.where(pos & ~jnp.isnan(gap), gap, jnp.inf)


def forward_backward(reg: Any, y: PyTree, grads: PyTree, step: jax.Array) -> PyTree:
    r""":math:`\mathrm{prox}_{t h}(y - t \nabla f(y))`, each leaf in y's dtype."""
    moved = tree_axpy(-step, grads, y)
    out = reg.prox(moved, step)
    return jax.tree_util.tree_map(lambda u, v: jnp.asarray(u).astype(v.dtype), out, y)


# --------------------------------------------------------------------------- backtracking


class Backtracking(NamedTuple):
    """The hyperparameters of `backtracking`, as array leaves (traceable, vmappable)."""

    initial: jax.Array
    shrink: jax.Array
    max_shrinks: jax.Array


def backtracking(initial: Any = 1.0, shrink: Any = 0.5, *, max_shrinks: int = 50) -> Backtracking:
    r"""Beck-Teboulle backtracking: the step of a proximal-gradient method when L is unknown.

    Pass it as ``learning_rate`` of `subopt.proximal_gradient` or `subopt.fista`. At the point
    y with gradient g = grad f(y), starting from the previous step t (``initial`` at the first
    step), the step shrinks, t <- ``shrink`` * t, until z = prox_{t h}(y - t g) satisfies

    .. math::

      f(z) \le f(y) + \langle \nabla f(y), z - y \rangle + \frac{1}{2t}\|z - y\|^2
      + 8\,\varepsilon\,(|f(y)| + |f(z)|)

    (the last term, with :math:`\varepsilon` the dtype's machine epsilon, only absorbs
    rounding, so that the search does not collapse the step near the solution). A NaN or
    +inf ``f(z)`` (outside f's domain) fails the test, so the search also keeps iterates in
    the domain. The accepted step carries over to the next iteration, so steps never grow and
    FISTA keeps its O(1/k^2) guarantee; once t <= 1/L every test passes at the first try,
    which costs one evaluation of f per iteration. After ``max_shrinks`` shrinks in one
    iteration the last trial is taken as it is. The search runs in a ``jax.lax.while_loop``
    inside the optimizer's update and needs the ``value_fn`` extra argument (`subopt.run`
    passes it, with ``value``).

    Args:
      initial: the first step tried, > 0.
      shrink: the factor in (0, 1) a failing step is multiplied by.
      max_shrinks: the most shrinks per iteration, a Python int >= 1.

    Returns:
      A `Backtracking` record (a pytree of array leaves).

    Raises:
      ValueError: ``initial`` <= 0, ``shrink`` outside (0, 1), or ``max_shrinks`` < 1.
      TypeError: a non-numeric argument.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> f = lambda x: 10.0 * jnp.sum((x - 1.0) ** 2)
      >>> opt = so.fista(so.prox.l1(1.0), learning_rate=so.backtracking(1.0))
      >>> x = so.run(opt, f, jnp.zeros(2), tol=1e-6).params
      >>> [round(v, 4) for v in x.tolist()]
      [0.95, 0.95]

    References:
      Beck and Teboulle, *A fast iterative shrinkage-thresholding algorithm for linear inverse
      problems*, SIAM J. Imaging Sciences, 2009, section 3 (backtracking).
    """
    check_scalar("initial", initial, positive=True)
    check_scalar("shrink", shrink, positive=True)
    arr = concrete_array(shrink)
    if arr is not None and not bool(np.all(arr < 1)):
        raise ValueError(f"shrink must be in (0, 1), got {shrink!r}")
    max_shrinks = check_positive_int("max_shrinks", max_shrinks)
    return Backtracking(
        jnp.asarray(initial), jnp.asarray(shrink), jnp.asarray(max_shrinks, jnp.int32)
    )


def check_learning_rate(learning_rate: Any, *, allow_backtracking: bool = True) -> None:
    """A number > 0, a schedule, or (where allowed) a `backtracking` record."""
    if isinstance(learning_rate, Backtracking):
        if not allow_backtracking:
            raise TypeError(
                "learning_rate=so.backtracking(...) needs the objective; apply_prox takes a "
                "number or a schedule"
            )
        return
    check_step_size("learning_rate", learning_rate)


def as_learning_rate(learning_rate: Any) -> Any:
    """The learning rate in the form a state keeps: a Backtracking record, an array, a schedule."""
    if isinstance(learning_rate, Backtracking):
        return learning_rate
    return schedules.as_schedule(learning_rate)


def cast_hyperparams(tree: PyTree, dtype: Any) -> PyTree:
    """Floating leaves of a hyperparameter pytree (a regularizer, a step, a schedule) in the
    params' dtype, so a float32 problem keeps a float32 state (subopt's dtype policy, as
    `subopt._base.cast_hyperparams`); concrete leaves become numpy arrays, so no device work
    is dispatched while a state is built."""

    def cast(v):
        if is_concrete(v):
            v = np.asarray(v)
            return v.astype(dtype) if np.issubdtype(v.dtype, np.floating) else v
        return v.astype(dtype) if jnp.issubdtype(v.dtype, jnp.floating) else v

    return jax.tree_util.tree_map(cast, tree)


def scalar_leaf(value: Any, dtype: Any) -> Any:
    """A 0-d state leaf of ``dtype``: a numpy array when ``value`` is concrete (building a state
    then dispatches nothing to the device, which is most of `subopt.run`'s fixed cost on small
    problems), a jax array when it is traced."""
    if is_concrete(value):
        return np.asarray(value, dtype)
    return jnp.asarray(value, dtype)


def stack_scalars(values: list, dtype: Any) -> Any:
    """0-d values as one vector of ``dtype``: numpy when all are concrete, else jax."""
    if all(is_concrete(v) for v in values):
        return np.stack([np.asarray(v, dtype) for v in values])
    return jnp.stack([jnp.asarray(v, dtype) for v in values])


def first_step(learning_rate: Any, dtype: Any) -> Any:
    """The step a state starts with (``initial`` for backtracking, else the step at count 0)."""
    if isinstance(learning_rate, Backtracking):
        return scalar_leaf(learning_rate.initial, dtype)
    if callable(learning_rate):
        return jnp.asarray(schedules.evaluate(learning_rate, jnp.zeros([], jnp.int32)), dtype)
    return scalar_leaf(learning_rate, dtype)


def _search(reg, rule: Backtracking, step, y, grads, fy, fun):
    """The backtracking loop: (z, accepted step)."""
    eps = jnp.finfo(step.dtype).eps

    def trial(t):
        z = forward_backward(reg, y, grads, t)
        d = tree_diff(z, y)
        fz = jnp.asarray(fun(z))
        model = fy + tree_dot(grads, d) + tree_dot(d, d) / (2 * t)
        slack = 8 * eps * (jnp.abs(fy) + jnp.abs(fz))
        return z, jnp.isfinite(fz) & (fz <= model + slack)  # False for a NaN or +inf f(z)

    def cond(carry):
        i, _, _, ok = carry
        return ~ok & (i < rule.max_shrinks)

    def body(carry):
        i, t, _, _ = carry
        t = (t * rule.shrink).astype(step.dtype)
        z, ok = trial(t)
        return i + 1, t, z, ok

    z0, ok0 = trial(step)
    _, t, z, _ = jax.lax.while_loop(cond, body, (jnp.zeros([], jnp.int32), step, z0, ok0))
    return z, t


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
        return _search(reg, learning_rate, step, y, grads, fy, fun)
    t = jnp.asarray(schedules.evaluate(learning_rate, count), step.dtype)
    return forward_backward(reg, y, grads, t), t
