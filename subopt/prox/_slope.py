r"""The sorted-L1 (SLOPE / OWL) norm :math:`\sum_i \lambda_i |x|_{(i)}` of the whole pytree,
:math:`\lambda` nonincreasing, :math:`|x|_{(1)} \ge |x|_{(2)} \ge \dots`.

Its prox sorts :math:`|y|` once and solves a nonincreasing isotonic regression of
:math:`|y|_{\downarrow} - t\lambda` by the stack-based pool-adjacent-violators algorithm (a
``lax.while_loop`` over fixed-size stacks, O(n) after the sort), then clips at 0
(Bogdan et al. 2015; Zeng and Figueiredo 2014). The same pool-adjacent-violators step, with
merges forbidden across clusters of equal :math:`|x_i|`, gives the exact minimum-norm
subgradient: on a cluster the subgradient ranges over a permutahedron, whose projection is an
isotonic regression (Blondel et al. 2020), and on the zero cluster it is a SLOPE prox.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from subopt.prox._base import (
    Regularizer,
    cast,
    check_step,
    concrete,
    flatten,
    hyperparameter,
    register,
    run_mean,
    tree_dtype,
)


def _pav_blocks(v: jax.Array, barrier: jax.Array) -> jax.Array:
    """Block means of the nonincreasing isotonic regression of v; a block never spans a
    ``barrier`` (True at an index: a new block must start there)."""
    n = v.shape[0]
    dt = v.dtype
    # materialize the inputs: XLA would otherwise fuse their producers (a gather after a
    # sort) into the loop body, recomputing them at every step
    v, barrier = jax.lax.optimization_barrier((v, barrier))

    def step(i, carry):
        sums, counts, starts, top = carry
        # merge {v_i} with the blocks below while they are not larger (a violation); the
        # loop only reads the stack (a loop writing it would copy it on every merge)

        def cond(c):
            top, s, k, start = c
            below = jnp.maximum(top, 0)
            return (top >= 0) & ~barrier[start] & (sums[below] * k <= s * counts[below])

        def body(c):
            top, s, k, start = c
            return top - 1, s + sums[top], k + counts[top], starts[top]

        top, s, k, start = jax.lax.while_loop(cond, body, (top, v[i], jnp.ones((), dt), i))
        top = top + 1
        return sums.at[top].set(s), counts.at[top].set(k), starts.at[top].set(start), top

    init = (jnp.zeros(n, dt), jnp.zeros(n, dt), jnp.zeros(n, jnp.int32), jnp.asarray(-1, jnp.int32))
    sums, counts, starts, top = jax.lax.fori_loop(0, n, step, init)
    live = jnp.arange(n) <= top
    means = jnp.where(live, sums / jnp.where(live, counts, 1), 0)
    is_start = jnp.zeros(n, bool).at[jnp.where(live, starts, n)].set(True, mode="drop")
    block = jnp.cumsum(is_start) - 1
    return means[block]


@jax.custom_jvp
def isotonic_decreasing(v: jax.Array, barrier: jax.Array) -> jax.Array:
    """argmin_{z_1 >= z_2 >= ...} ||z - v||^2, the order reset at every ``barrier``."""
    if v.shape[0] == 0:
        return v
    return _pav_blocks(v, barrier)


@isotonic_decreasing.defjvp
def _isotonic_jvp(primals, tangents):
    v, barrier = primals
    dv, _ = tangents
    z = isotonic_decreasing(v, barrier)
    n = v.shape[0]
    if n == 0:
        return z, dv
    new = jnp.concatenate([jnp.ones(1, bool), (z[1:] != z[:-1]) | barrier[1:]])
    return z, run_mean(dv, jnp.cumsum(new) - 1)


def slope_prox_flat(y: jax.Array, lams: jax.Array) -> jax.Array:
    """prox of sum lams_i |y|_(i) (lams nonincreasing, already times the step), 1-D y."""
    a = jnp.abs(y)
    order = jnp.argsort(-a)
    fit = isotonic_decreasing(a[order] - lams, jnp.zeros(y.shape, bool))
    out = jnp.zeros_like(y).at[order].set(jnp.maximum(fit, 0))
    return jnp.sign(y) * out


@register
class SortedL1(Regularizer):
    """h(x) = sum_i lams_i |x|_(i) over all entries of x (see `sorted_l1`)."""

    lams: Any

    def is_valid(self):
        lams = self.lams
        ok = jnp.all((lams >= 0) & jnp.isfinite(lams))
        return ok & jnp.all(lams[1:] <= lams[:-1])

    def _flat(self, x, *others):
        flat, unravel = flatten(x)
        if self.lams.shape != flat.shape:
            raise ValueError(
                f"lams has shape {self.lams.shape}, but x has {flat.size} entries (one "
                "weight per entry of the whole pytree)"
            )
        rest = [flatten(o)[0].astype(flat.dtype) for o in others]
        return flat, unravel, self.lams.astype(flat.dtype), rest

    def value(self, x):
        flat, _, lams, _ = self._flat(x)
        return jnp.sum(lams * jnp.sort(jnp.abs(flat))[::-1]).astype(tree_dtype(x))

    def prox(self, x, step):
        check_step(step)
        flat, unravel, lams, _ = self._flat(x)
        return unravel(slope_prox_flat(flat, cast(step, flat.dtype) * lams))

    def _clusters(self, flat, key):
        """Order by |x| decreasing, then ``key`` decreasing; cluster starts in that order."""
        a = jnp.abs(flat)
        order = jnp.lexsort((-key, -a))
        sa = a[order]
        starts = jnp.concatenate([jnp.ones(1, bool), sa[1:] != sa[:-1]])
        return order, sa, starts

    def min_norm(self, x, g):
        flat, unravel, lams, (gf,) = self._flat(x, g)
        s = jnp.sign(flat)
        key = jnp.where(flat != 0, -s * gf, jnp.abs(gf))
        order, sa, starts = self._clusters(flat, key)
        fit = isotonic_decreasing(key[order] - lams, starts)
        sg = jnp.where(flat != 0, -s, jnp.sign(gf))[order]
        out_sorted = jnp.where(sa != 0, sg * fit, sg * jnp.maximum(fit, 0))
        return unravel(jnp.zeros_like(flat).at[order].set(out_sorted))

    def directional(self, x, d):
        flat, _, lams, (df,) = self._flat(x, d)
        key = jnp.where(flat != 0, jnp.sign(flat) * df, jnp.abs(df))
        order, _, _ = self._clusters(flat, key)
        return jnp.sum(lams * key[order]).astype(tree_dtype(x))


def sorted_l1(lams: Any) -> SortedL1:
    r"""The sorted-L1 norm (SLOPE, OWL): :math:`h(x) = \sum_i \lambda_i |x|_{(i)}`.

    :math:`|x|_{(1)} \ge |x|_{(2)} \ge \dots` are the magnitudes of all entries of the
    pytree in decreasing order and :math:`\lambda_1 \ge \lambda_2 \ge \dots \ge 0`. The prox is
    exact, O(n log n):

    .. math::

      \mathrm{prox}_{t h}(y) = \mathrm{sign}(y) \odot P^\top
      \max\left(\mathrm{iso}_{\downarrow}(P|y| - t\lambda), 0\right)

    with P the permutation sorting :math:`|y|` decreasingly and :math:`\mathrm{iso}_{\downarrow}`
    the nonincreasing isotonic regression (pool adjacent violators). ``min_norm`` is exact
    (see the module notes); ``directional`` is
    :math:`\sum_{\text{clusters}} \lambda \cdot (\text{sorted } \mathrm{sign}(x) d)` on
    clusters of equal nonzero :math:`|x_i|`, and :math:`\lambda \cdot` sorted :math:`|d|` on
    the zero cluster. Equal lams give ``l1``; lams (1, 0, ..., 0) give the L-inf norm.

    Args:
      lams: a 1-D array, one weight per entry of x (flattened), nonincreasing and >= 0.

    Returns:
      A `SortedL1` regularizer.

    Raises:
      TypeError: ``lams`` is not real.
      ValueError: concrete ``lams`` that are not 1-D, negative, NaN, infinite or increasing
        somewhere; at the first call, a length that is not x's number of entries.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> so.prox.sorted_l1(jnp.array([2.0, 1.0])).prox(jnp.array([3.0, -1.5]), 1.0).tolist()
      [1.0, -0.5]

    References:
      Bogdan, van den Berg, Sabatti, Su and Candes, *SLOPE: adaptive variable selection via
      convex optimization*, Ann. Appl. Stat., 2015. Zeng and Figueiredo, *The ordered
      weighted l1 norm*, 2014. Blondel, Teboul, Berthet and Djolonga, *Fast differentiable
      sorting and ranking*, ICML 2020.
    """
    lams = hyperparameter("lams", lams)
    if lams.ndim != 1:
        raise ValueError(f"lams must be a 1-D array, got shape {lams.shape}")
    arr = concrete(lams)
    if arr is not None and arr.size > 1 and np.any(np.diff(arr) > 0):
        i = int(np.argmax(np.diff(arr) > 0))
        raise ValueError(
            f"lams must be nonincreasing, got lams[{i}] = {arr[i]} < lams[{i + 1}] = {arr[i + 1]}"
        )
    return SortedL1(lams)
