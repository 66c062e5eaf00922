"""``pointwise_max``: the maximum of smooth functions, differentiated exactly.

The chain rule through per-primitive rules need not give the minimum-norm subgradient of a
composite (max(x, 2x) at 0 has subdifferential [1, 2]; an even split gives 1.5, not 1).
`pointwise_max` knows its pieces, so its derivative is the exact minimum-norm point of the
convex hull of the active pieces' gradients, found by a small QP over the simplex
(`subopt.nonsmooth._min_norm_point`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from subopt._base import PyTree, check_scalar
from subopt.nonsmooth._min_norm_point import min_norm_weights


def _tree_dot(a: PyTree, b: PyTree, dtype: Any) -> jax.Array:
    parts = [
        jnp.sum(u * v).astype(dtype)
        for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b))
    ]
    return sum(parts, jnp.zeros((), dtype))


def _gram(grads: PyTree, k: int, dtype: Any) -> jax.Array:
    """Q_ij = <g_i, g_j> for a pytree whose leaves stack the k gradients on axis 0."""
    q = jnp.zeros((k, k), dtype)
    for g in jax.tree_util.tree_leaves(grads):
        flat = g.reshape(k, -1).astype(dtype)
        q = q + flat @ flat.T
    return q


def pointwise_max(
    fns: Sequence[Callable[[PyTree], Any]], *, rtol: Any = None
) -> Callable[[PyTree], jax.Array]:
    r"""F(x) = max_i f_i(x), whose derivative is the minimum-norm subgradient, exactly.

    .. math::

      F(x) = \max_i f_i(x), \qquad
      g^\star(x) = \arg\min \Big\{ \Big\|\sum_{i \in A} \lambda_i \nabla f_i(x)\Big\| :
        \lambda \ge 0,\ \sum_{i \in A} \lambda_i = 1 \Big\},

    with the active set :math:`A = \{i : F(x) - f_i(x) \le \text{rtol}\cdot\max(|F(x)|,
    |f_i(x)|)\}`: pieces that tie up to the rounding of their own values (a purely relative
    tolerance, so a piece that is strictly larger beyond that rounding, however close to a
    kink, gives its own gradient: :math:`\max(x, -x)` at :math:`10^{-10}` has derivative 1).
    For convex :math:`f_i` this is the minimum-norm element of :math:`\partial F(x)`; for
    nonconvex smooth pieces, of Clarke's generalized gradient. The weights solve a k x k QP
    over the simplex built from the Gram matrix of the k gradients (one ``vmap`` of the
    pieces' VJP): a closed form for two pieces, Wolfe's exact active-set method in a capped
    ``while_loop`` for more. It runs under ``jit``, ``vmap`` and all of jax's derivative
    transforms.

    Second derivatives are :math:`\sum_i \lambda_i \nabla^2 f_i(x)` with the weights held fixed
    (the active piece's Hessian away from ties; finite at ties).

    Args:
      fns: a non-empty sequence of smooth functions, each mapping the same pytree ``x`` (of
        floating arrays) to a scalar.
      rtol: the relative tie tolerance (default ``4 * eps`` of the values' dtype, a few
        rounding errors: about 8.9e-16 in float64, 4.8e-7 in float32). Pieces within it of
        the maximum count as active: use 0 for exact ties only, more where the pieces are
        computed with cancellation. May be traced.

    Returns:
      The function ``F(x)``, returning a scalar of the pieces' common dtype.

    Raises:
      TypeError: ``fns`` is not a sequence of callables, or ``rtol`` is not real.
      ValueError: ``fns`` is empty, ``rtol`` is negative or NaN, or (when called) a piece does
        not return a scalar.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from subopt import nonsmooth as ns
      >>> F = ns.pointwise_max([lambda x: x, lambda x: 2 * x])
      >>> float(jax.grad(F)(0.0))  # min-norm point of [1, 2]
      1.0
      >>> float(jax.grad(F)(-1.0)), float(jax.grad(F)(1.0))
      (1.0, 2.0)

    References:
      P. Wolfe, "Finding the nearest point in a polytope", Math. Programming 11 (1976).
      F. H. Clarke, "Optimization and Nonsmooth Analysis", Wiley (1983), section 2.8.
    """
    if callable(fns) or isinstance(fns, str | bytes) or not isinstance(fns, Sequence):
        raise TypeError(f"fns must be a sequence of callables, got {fns!r}")
    fns = tuple(fns)
    if not fns:
        raise ValueError("fns must hold at least one function, got an empty sequence")
    for i, f in enumerate(fns):
        if not callable(f):
            raise TypeError(f"fns[{i}] must be callable, got {f!r}")
    if rtol is not None:
        check_scalar("rtol", rtol, nonnegative=True)
    k = len(fns)

    def values(x: PyTree) -> jax.Array:
        vs = [jnp.asarray(f(x)) for f in fns]
        for i, v in enumerate(vs):
            if v.shape != ():
                raise ValueError(f"fns[{i}] must return a scalar, got shape {v.shape}")
            if jnp.iscomplexobj(v):
                raise TypeError(f"fns[{i}] must return a real scalar, got dtype {v.dtype}")
        dtype = jnp.result_type(*vs)
        if not jnp.issubdtype(dtype, jnp.floating):
            dtype = jnp.result_type(float)
        return jnp.stack([v.astype(dtype) for v in vs])

    def weights(v: jax.Array, grads: PyTree) -> jax.Array:
        top = jnp.max(v)
        tol = 4 * jnp.finfo(v.dtype).eps if rtol is None else jnp.asarray(rtol, v.dtype)
        active = top - v <= tol * jnp.maximum(jnp.abs(top), jnp.abs(v))
        return min_norm_weights(_gram(grads, k, v.dtype), active)

    @jax.custom_jvp
    def F(x: PyTree) -> jax.Array:
        return jnp.max(values(x))

    @F.defjvp
    def F_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        v, pullback = jax.vjp(values, x)
        grads = jax.vmap(pullback)(jnp.eye(k, dtype=v.dtype))[0]  # leaves stacked on axis 0
        lam = jax.lax.stop_gradient(weights(jax.lax.stop_gradient(v), jax.lax.stop_gradient(grads)))
        nan = jnp.isnan(jax.lax.stop_gradient(jnp.max(v)))  # NaN in, NaN out
        g_star = jax.tree_util.tree_map(
            lambda g: jnp.where(nan, jnp.nan, jnp.tensordot(lam.astype(g.dtype), g, axes=1)),
            grads,
        )
        # The value is max(v) exactly; the added term is 0 but carries the derivative of
        # lam . v, so derivatives of the primal output inside the rule follow the same rule.
        lv = lam @ v
        zero = lv - jax.lax.stop_gradient(lv)
        out = jax.lax.stop_gradient(jnp.max(v)) + jnp.where(jnp.isfinite(lv), zero, 0)
        return out, _tree_dot(g_star, t, v.dtype)

    return F
