r"""`clarke_min_norm`: the minimum-norm element of the generalized gradient of a composition.

Lexicographic gradients are elements of Clarke's generalized gradient :math:`\partial f(x)`
(`lexicographic_gradient`); their convex hull is an inner approximation of it, and its
minimum-norm point g (Wolfe's method, `subopt.nonsmooth._min_norm_point`) is a candidate.
For convex f the LD derivative along :math:`d = -g/\|g\|` is an exact oracle:

.. math::

  f'(x; d) = \max_{v \in \partial f(x)} \langle v, d \rangle \ge \langle g, d \rangle = -\|g\|,

with equality exactly when g is the minimum-norm element (then
:math:`\langle v - g, g\rangle \ge 0` for all :math:`v \in \partial f(x)`). And the
lexicographic gradient for a direction matrix whose first column is d (a Householder
reflection H, so :math:`J_L = f'(x; H) H`) attains the maximum, so it is the point to add
when the test fails: column generation, one LD evaluation per step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from subopt._base import check_positive_int
from subopt.nonsmooth._ld_derivative import flat_leaves, lexicographic_derivative, unflatten
from subopt.nonsmooth._min_norm_point import wolfe_weights

PyTree = Any


class ClarkeInfo(NamedTuple):
    """What `clarke_min_norm` found.

    Attributes:
      certified: bool; True when g is proved to be the minimum-norm element (convex f:
        :math:`f'(x; d) \\le -\\|g\\| + \\text{tol}\\cdot s`, s the largest gradient norm
        collected; any f: :math:`\\|g\\| \\le \\text{tol}\\cdot s`, so 0 is in the set).
      gap: :math:`f'(x; d) + \\|g\\|` at the last test (0 at the minimum-norm element of a
        convex f; it bounds :math:`\\|g - g^\\star\\|^2 \\le \\|g\\|\\,\\text{gap}`).
      points: int32, the number of lexicographic gradients collected.
      scale: s, the largest norm among them.
    """

    certified: jax.Array
    gap: jax.Array
    points: jax.Array
    scale: jax.Array


def support_oracle(f_flat: Callable, x: jax.Array, d: jax.Array) -> tuple[jax.Array, jax.Array]:
    r"""``(f'(x; d), v)``: the LD derivative along a unit vector d and the lexicographic
    gradient v for the Householder reflection H with first column d (:math:`v = f'(x; H) H`,
    so :math:`\langle v, d\rangle = f'(x; d)`; for convex f, v attains
    :math:`\max_{v \in \partial f(x)} \langle v, d\rangle`)."""
    n = x.shape[0]
    e1 = jnp.zeros((n,), x.dtype).at[0].set(1)
    w = e1 - d
    ww = w @ w
    coef = jnp.where(ww > 0, 2 / jnp.where(ww > 0, ww, 1), 0)  # H = I when d = e1
    h = jnp.eye(n, dtype=x.dtype) - coef * (w[:, None] * w[None, :])
    _, r = lexicographic_derivative(f_flat, x, h)
    r = r.astype(x.dtype)
    return r[0], r - coef * (w @ r) * w


def clarke_min_norm(
    fun: Callable[[PyTree], jax.Array],
    x: PyTree,
    *,
    convex: bool = False,
    max_iter: int = 50,
    tol: Any = None,
) -> tuple[PyTree, ClarkeInfo]:
    r"""The minimum-norm element of the generalized gradient of ``fun`` at ``x``.

    .. math::

      g^\star = \arg\min\{\|g\| : g \in \partial f(x)\}

    Starting from the lexicographic gradient for the identity, it alternates Wolfe's
    minimum-norm point g of the hull of the gradients collected so far with one LD
    evaluation along :math:`d = -g/\|g\|`, which gives :math:`f'(x; d)` and a new
    lexicographic gradient v with :math:`\langle v, d\rangle = f'(x; d)`. It stops when
    :math:`f'(x; d) \le -\|g\| + \text{tol}\cdot s` (no gradient can shorten g), when
    :math:`\|g\| \le \text{tol}\cdot s`, or after ``max_iter`` evaluations.

    * ``convex=True``: :math:`f'(x; d)` is the support function of :math:`\partial f(x)`,
      so the first stop is a certificate: g is the minimum-norm subgradient (up to tol), and
      ``info.certified`` is True.
    * ``convex=False``: an inner estimate from the direction matrices tried (the hull of
      Clarke elements is inside the Clarke set, so :math:`\|g^\star\| \le \|g\|`); certified
      only when g = 0 (then 0 is in the Clarke set).

    Runs under ``jit`` and ``vmap`` (a ``while_loop`` with a bundle of ``max_iter + 1``
    gradients); costs one lexicographic gradient per iteration plus small QPs.

    Args:
      fun: a scalar function of the pytree ``x`` (see `lexicographic_derivative`).
      x: the point, a pytree of floating arrays.
      convex: f is convex, so the stop is a certificate.
      max_iter: the largest number of LD evaluations after the first (a positive int).
      tol: the relative tolerance of the tests (default ``1000 * eps`` of x's dtype).

    Returns:
      ``(g, info)``: g a pytree like ``x``, info a `ClarkeInfo`.

    Raises:
      TypeError: as for `lexicographic_derivative`, or ``convex`` is not a bool.
      ValueError: ``max_iter`` is not a positive int, or ``fun`` is not scalar.

    Example:
      >>> import jax.numpy as jnp
      >>> from subopt import nonsmooth as ns
      >>> f = lambda x: ns.abs(x[0] - x[1]) + ns.abs(x[0] + x[1]) + 0.5 * x[0]
      >>> g, info = ns.clarke_min_norm(f, jnp.zeros(2), convex=True)
      >>> [round(float(v), 4) for v in g], bool(info.certified)
      ([0.0, 0.0], True)

    References:
      P. Wolfe, "Finding the nearest point in a polytope", Math. Programming 11 (1976).
      Y. Nesterov, "Lexicographic differentiation of nonsmooth functions", Math. Program.
      104 (2005).
    """
    if not callable(fun):
        raise TypeError(f"fun must be callable, got {fun!r}")
    if not isinstance(convex, bool):
        raise TypeError(f"convex must be a bool, got {convex!r}")
    check_positive_int("max_iter", max_iter)
    leaves, treedef, dtype = flat_leaves("x", x)
    n = sum(v.size for v in leaves)
    flat = jnp.concatenate([jnp.ravel(v).astype(dtype) for v in leaves]) if leaves else None
    if flat is None or n == 0:
        return x, ClarkeInfo(jnp.array(True), jnp.zeros((), dtype), jnp.array(0), jnp.zeros(()))

    def f_flat(v):
        return fun(unflatten(v, leaves, treedef))

    tol = 1000 * jnp.finfo(dtype).eps if tol is None else jnp.asarray(tol, dtype)
    size = max_iter + 1
    value, d0 = lexicographic_derivative(f_flat, flat, jnp.eye(n, dtype=dtype))
    if jnp.shape(value) != ():
        raise ValueError(f"fun must return a scalar, got shape {jnp.shape(value)}")
    e1 = jnp.zeros((n,), dtype).at[0].set(1)
    bundle = jnp.zeros((size, n), dtype).at[0].set(d0.astype(dtype))
    active = jnp.zeros((size,), bool).at[0].set(True)

    def hull(bundle, active, lam):
        lam = wolfe_weights(bundle @ bundle.T, active, max_iter=10 * size + 10, start=lam)
        return lam @ bundle, lam

    def cond(state):
        it, _, _, _, _, done, _ = state
        return (~done) & (it < max_iter)

    def body(state):
        it, bundle, active, lam, g, _, _ = state
        ng = jnp.linalg.norm(g)
        scale = jnp.max(jnp.where(active, jnp.linalg.norm(bundle, axis=1), 0))
        d = jnp.where(ng > 0, -g / jnp.where(ng > 0, ng, 1), e1)
        slope, v = support_oracle(f_flat, flat, d)
        gap = slope + ng
        stop = (gap <= tol * scale) | (ng <= tol * scale) | ~jnp.isfinite(gap)
        bundle = jnp.where(stop, bundle, bundle.at[it + 1].set(v))
        active = jnp.where(stop, active, active.at[it + 1].set(True))
        g_new, lam_new = hull(bundle, active, lam)  # warm-started from the last weights
        g, lam = jnp.where(stop, g, g_new), jnp.where(stop, lam, lam_new)
        return it + 1, bundle, active, lam, g, stop, gap

    lam0 = jnp.zeros((size,), dtype).at[0].set(1)
    init = (jnp.zeros((), jnp.int32), bundle, active, lam0, d0.astype(dtype), jnp.array(False),
            jnp.asarray(jnp.inf, dtype))  # fmt: skip
    _, bundle, active, _, g, done, gap = jax.lax.while_loop(cond, body, init)
    ng = jnp.linalg.norm(g)
    scale = jnp.max(jnp.where(active, jnp.linalg.norm(bundle, axis=1), 0))
    zero = ng <= tol * scale
    certified = zero | (done & (gap <= tol * scale) & convex)
    info = ClarkeInfo(certified, gap, jnp.sum(active).astype(jnp.int32), scale)
    return unflatten(g, leaves, treedef), info
