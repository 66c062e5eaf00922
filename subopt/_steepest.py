r"""Steepest descent for convex nonsmooth objectives, by minimum-norm subgradients.

For convex f, :math:`-g^\star/\|g^\star\|` with :math:`g^\star` the minimum-norm subgradient
(`subopt.nonsmooth.clarke_min_norm`, exact and certified) is the steepest-descent direction,
with slope :math:`-\|g^\star\|`. Taken alone it stalls: iterates land next to kinks, not on
them, where :math:`g^\star` is one side's gradient. So the method keeps a bundle of
subgradients :math:`v_i` taken at nearby points, each with its linearization
:math:`\ell_i(z) = f(y_i) + \langle v_i, z - y_i\rangle \le f(z)`, and steps along the
minimum-norm point of the hull of those whose error :math:`f(x) - \ell_i(x)` is at most
:math:`\varepsilon`: an :math:`\varepsilon`-steepest descent
(Wolfe's conjugate-subgradient method, Lemarechal's bundle idea), with a backtracking Armijo
line search. A failed search is a null step: it adds the subgradient at the trial point.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from subopt._base import PyTree, check_positive_int, params_dtype, require_extra_arg
from subopt._info import StepInfo
from subopt.nonsmooth._clarke import clarke_min_norm, support_oracle
from subopt.nonsmooth._ld_derivative import lexicographic_gradient
from subopt.nonsmooth._min_norm_point import wolfe_weights


class SteepestDescentState(NamedTuple):
    """State of `steepest_descent`.

    Attributes:
      count: int32, the number of updates (serious and null steps).
      step: the last accepted step length t (the next search starts at 2t).
      bundle: (size, n) subgradients, flattened; ``offset``: their :math:`f(y_i) -
        \\langle v_i, y_i\\rangle`; ``filled``: which rows hold one; ``head``: the next row.
      eps: the linearization error allowed (+inf before the first update).
      info: the `subopt.StepInfo` (``stationarity``: the norm of the direction's
        :math:`\\varepsilon`-subgradient, +inf before the first update).
    """

    count: jax.Array
    step: jax.Array
    bundle: jax.Array
    offset: jax.Array
    filled: jax.Array
    head: jax.Array
    eps: jax.Array
    info: StepInfo


def _insert(bundle, offset, filled, head, v, fy, y):
    """The bundle with (v, f(y) - <v, y>) written at row ``head`` (a ring buffer)."""
    return (
        bundle.at[head].set(v),
        offset.at[head].set(fy - v @ y),
        filled.at[head].set(True),
        (head + 1) % bundle.shape[0],
    )


def steepest_descent(
    *, bundle_size: int | None = None, max_backtracks: int = 40, inner_iter: int = 20
) -> optax.GradientTransformationExtraArgs:
    r"""Steepest descent along minimum-norm (epsilon-)subgradients, for convex nonsmooth f.

    .. math::

      g_k = \arg\min\{\|g\| : g \in \operatorname{conv}\{v_i : f(x_k) - \ell_i(x_k) \le
      \varepsilon_k\}\}, \qquad x_{k+1} = x_k - t_k g_k,

    with :math:`v_i` the exact minimum-norm subgradient at each iterate
    (`subopt.nonsmooth.clarke_min_norm`) and the lexicographic subgradients at trial points
    past the step (at :math:`x_k - 2 t_k g_k`), :math:`\ell_i` their linearizations,
    :math:`\varepsilon_k` a tolerance on their errors (:math:`|f(x_0)|/10` at first, divided
    by 10 whenever :math:`\|g_k\|(1 + \|x_k\|) \le \varepsilon_k`, since then
    :math:`f(x_k) - f^\star \le \varepsilon_k + \|g_k\| \|x_k - x^\star\|` is dominated by
    it, and halved after a null step or a step that gains less than
    :math:`\varepsilon_k / 100`: the ball of gradients was too wide), and :math:`t_k` from
    :math:`t_{k-1}`, doubled while the step satisfies
    :math:`f(x_k - t g_k) \le f(x_k) - 10^{-4}\, t \|g_k\|^2` and the doubled one is lower
    still, then halved until it does. Where no such t is found the update is 0 (a null
    step). The stationarity it reports is :math:`\|g_k\|`: at most ``tol`` means that 0 is
    within ``tol`` of the :math:`\varepsilon_k`-subdifferential.

    The objective must be written with jax primitives that `lexicographic_derivative`
    supports (``subopt.nonsmooth`` or ``jax.numpy``'s abs, max, where, sort, ...).

    Args:
      bundle_size: how many subgradients the bundle keeps (a positive int; default 2n + 2
        for n parameters).
      max_backtracks: the most halvings of a line search (a positive int).
      inner_iter: ``max_iter`` of `clarke_min_norm` at each iterate (a positive int).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose ``update`` needs ``params`` and the
      extra arguments ``value`` and ``value_fn`` (`subopt.run` passes them). It ignores the
      gradient it is given.

    Raises:
      ValueError: a size argument that is not a positive int.
      TypeError: at update, ``params``, ``value`` or ``value_fn`` is missing.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> f = lambda x: so.nonsmooth.l1_norm(x - jnp.array([1.0, -2.0]))
      >>> res = so.run(so.steepest_descent(), f, jnp.zeros(2), max_steps=50)
      >>> [round(float(v), 6) for v in res.params]
      [1.0, -2.0]

    References:
      P. Wolfe, "A method of conjugate subgradients for minimizing nondifferentiable
      functions", Math. Programming Study 3 (1975).
      C. Lemarechal, "An extension of Davidon methods to nondifferentiable problems", Math.
      Programming Study 3 (1975).
    """
    if bundle_size is not None:
        check_positive_int("bundle_size", bundle_size)
    check_positive_int("max_backtracks", max_backtracks)
    check_positive_int("inner_iter", inner_iter)

    def init(params: PyTree) -> SteepestDescentState:
        flat, _ = ravel_pytree(params)
        dtype = params_dtype(params)
        n = flat.size
        size = 2 * n + 2 if bundle_size is None else bundle_size
        inf = jnp.asarray(jnp.inf, dtype)
        return SteepestDescentState(
            count=jnp.zeros((), jnp.int32),
            step=jnp.ones((), dtype),
            bundle=jnp.zeros((size + 1, n), dtype),
            offset=jnp.zeros((size + 1,), dtype),
            filled=jnp.zeros((size + 1,), bool),
            head=jnp.zeros((), jnp.int32),
            eps=inf,
            info=StepInfo(stationarity=inf, valid=jnp.array(True)),
        )

    def update(grads, state: SteepestDescentState, params=None, **extra_args):
        del grads
        if params is None:
            raise TypeError("steepest_descent.update needs params, value and value_fn")
        fx = jnp.asarray(require_extra_arg(extra_args, "value", "steepest_descent"))
        fun = require_extra_arg(extra_args, "value_fn", "steepest_descent")
        x, unravel = ravel_pytree(params)
        dtype = x.dtype
        f_flat = lambda z: jnp.asarray(fun(unravel(z))).astype(dtype)  # noqa: E731
        fx = fx.astype(dtype)
        g_x, _ = clarke_min_norm(f_flat, x, convex=True, max_iter=inner_iter)
        bundle, offset, filled, head = _insert(
            state.bundle, state.offset, state.filled, state.head, g_x, fx, x
        )
        eps = jnp.where(jnp.isinf(state.eps), 0.1 * jnp.abs(fx), state.eps)
        err = fx - offset - bundle @ x
        use = (filled & (err <= eps)).at[state.head].set(True)  # g_x itself: error 0
        lam = wolfe_weights(bundle @ bundle.T, use, max_iter=10 * bundle.shape[0] + 10)
        g = lam @ bundle
        gg = g @ g

        def armijo(t, ft):
            return ft <= fx - 1e-4 * t * gg

        # expand: double t while the step is accepted and the doubled one is lower still
        def grow_cond(c):
            t, ft, j, more = c
            return more & (j < max_backtracks)

        def grow(c):
            t, ft, j, _ = c
            f2 = f_flat(x - 2 * t * g)
            more = armijo(t, ft) & (f2 < ft)
            return jnp.where(more, 2 * t, t), jnp.where(more, f2, ft), j + 1, more

        t0 = state.step
        f0 = f_flat(x - t0 * g)
        t, ft, _, _ = jax.lax.while_loop(
            grow_cond, grow, (t0, f0, jnp.zeros((), jnp.int32), armijo(t0, f0))
        )

        # backtrack: halve t until the step is accepted
        def back_cond(c):
            t, ft, j = c
            return ~armijo(t, ft) & (j < max_backtracks)

        def back(c):
            t, _, j = c
            return t / 2, f_flat(x - (t / 2) * g), j + 1

        t, ft, _ = jax.lax.while_loop(back_cond, back, (t, ft, jnp.zeros((), jnp.int32)))
        ok = armijo(t, ft) & (gg > 0)
        # A serious step adds the subgradient past the step (beyond the kink the search
        # stopped at). A null step adds the subgradient at x that most opposes -g (exact for
        # convex f at an exact kink: Wolfe's method then progresses on the hull) and the one
        # at the first trial point x - t0 g (beyond a kink that x is only next to).

        def beyond(_):
            y = x - 2 * t * g
            v = ravel_pytree(lexicographic_gradient(f_flat, y))[0].astype(dtype)
            return (v, f_flat(y), y), (v, f_flat(y), y)

        def null(_):
            norm = jnp.sqrt(gg)
            d = -g / jnp.where(norm > 0, norm, 1)
            y = x - t0 * g
            v = ravel_pytree(lexicographic_gradient(f_flat, y))[0].astype(dtype)
            return (support_oracle(f_flat, x, d)[1], fx, x), (v, f0, y)

        first, second = jax.lax.cond(ok, beyond, null, None)
        for i, (v, fy, y) in enumerate((first, second)):
            keep = jnp.isfinite(fy) & jnp.all(jnp.isfinite(v)) & (~ok if i else True)
            new = _insert(bundle, offset, filled, head, v, fy, y)
            bundle, offset, filled, head = (
                jnp.where(keep, a, b) for a, b in zip(new, (bundle, offset, filled, head))
            )
        step = jnp.where(ok, t, state.step / 4).astype(dtype)  # a null step probes closer
        # 0 is nearly in the eps-subdifferential: f(x) <= f* + eps + |g| R; shrink eps
        radius = 1 + jnp.sqrt(x @ x)
        eps = jnp.where(jnp.sqrt(gg) * radius <= eps, eps / 10, eps)
        # a null step, or a step that gains far less than eps: a smaller ball
        eps = jnp.where(ok & (fx - ft >= 1e-2 * eps), eps, eps / 2).astype(dtype)
        updates = unravel(jnp.where(ok, -t * g, jnp.zeros_like(g)))
        norm = jnp.sqrt(gg)
        new_state = SteepestDescentState(
            count=jnp.asarray(optax.safe_int32_increment(state.count)),
            step=step,
            bundle=bundle,
            offset=offset,
            filled=filled,
            head=head,
            eps=eps,
            info=StepInfo(
                stationarity=jnp.where(jnp.isnan(norm), jnp.inf, norm).astype(dtype),
                valid=jnp.array(True),
            ),
        )
        return updates, new_state

    return optax.GradientTransformationExtraArgs(init, update)  # pyright: ignore[reportArgumentType]
