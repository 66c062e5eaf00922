r"""Step rules of the proximal-gradient family: a fixed step, a schedule, or `backtracking`.

`backtracking` is Beck-Teboulle's sufficient-decrease search on the smooth part, a
``jax.lax.while_loop`` inside the optimizer's update. The prox step it searches over lives in
`subopt._prox_step`; this module only knows how to shrink a step until a trial point passes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from subopt import schedules
from subopt._base import (
    PyTree,
    cast_hyperparams,
    check_positive_int,
    check_scalar,
    check_step_size,
    concrete_array,
    scalar_leaf,
)
from subopt._tree import tree_sub, tree_vdot


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
    +inf ``f(z)`` (outside f's domain) fails the test, so the search keeps iterates in the
    domain; FISTA also tests its extrapolated point and restarts (y = x) when f is not finite
    there. The accepted step carries over to the next iteration, so steps never grow and
    FISTA keeps its O(1/k^2) guarantee; once t <= 1/L every test passes at the first try,
    which costs one evaluation of f per iteration. After ``max_shrinks`` shrinks in one
    iteration the last trial is taken as it is. The search needs the ``value_fn`` extra
    argument (`subopt.run` passes it, with ``value``).

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
      >>> opt = so.fista(so.prox.l1(1.0), so.backtracking(1.0))
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


def cast_learning_rate(learning_rate: Any, dtype: Any) -> Any:
    """The state's learning rate in the params' dtype (a backtracking rule keeps its int
    ``max_shrinks``)."""
    if isinstance(learning_rate, Backtracking):
        initial, shrink = cast_hyperparams((learning_rate.initial, learning_rate.shrink), dtype)
        return Backtracking(initial, shrink, learning_rate.max_shrinks)
    return cast_hyperparams(learning_rate, dtype)


def rule_valid(learning_rate: Any) -> jax.Array:
    """A 0-d bool: the (possibly traced) constants of a backtracking rule are valid."""
    if not isinstance(learning_rate, Backtracking):
        return jnp.array(True)
    init, shrink = jnp.asarray(learning_rate.initial), jnp.asarray(learning_rate.shrink)
    return (init > 0) & jnp.isfinite(init) & (shrink > 0) & (shrink < 1)


def first_step(learning_rate: Any, dtype: Any) -> Any:
    """The step a state starts with (``initial`` for backtracking, else the step at count 0)."""
    if isinstance(learning_rate, Backtracking):
        return scalar_leaf(learning_rate.initial, dtype)
    if callable(learning_rate):
        return jnp.asarray(schedules.evaluate(learning_rate, jnp.zeros([], jnp.int32)), dtype)
    return scalar_leaf(learning_rate, dtype)


def search(
    rule: Backtracking,
    step: jax.Array,
    y: PyTree,
    grads: PyTree,
    fy: jax.Array,
    fun: Callable,
    point: Callable[[jax.Array], PyTree],
) -> tuple[PyTree, jax.Array]:
    """The backtracking loop from ``step``: (the accepted point ``point(t)``, t)."""
    eps = jnp.finfo(step.dtype).eps

    def trial(t):
        z = point(t)
        d = tree_sub(z, y)
        fz = jnp.asarray(fun(z))
        model = fy + tree_vdot(grads, d) + tree_vdot(d, d) / (2 * t)
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
