r"""Working sets as slots: a full selection once per solve, then a few swaps per outer iteration.

A working set of a compiled size k is an array of k *slots*, each holding one feature, and
the blocks built on it: the gathered columns :math:`A = X_{:, W}`, stored transposed (one
row per slot: XLA's CPU products are 2-2.5x faster with that layout) and, for least squares
in Gram space, :math:`G = A^\top S A` with the moments :math:`q = A^\top s` and
:math:`c = A^\top S y`. A dead slot (``keep`` False: screened, or no feature to fill it)
holds a zero column, which is inert (`_design.gather_columns`).

`select` fills the slots with the k features of highest score (the support first, then the
features whose dual constraint is closest to active), once at the start of a solve. After
each working-set solve, `swap` replaces at most m of the weakest slots (the lowest scores,
dead ones first; never the support) by the best features outside the working set, when their
score is higher. Only the new columns are gathered and only their m rows and columns of G are
formed: :math:`n k m` operations instead of :math:`n k^2`.

Why swaps: re-ranking all features each outer iteration (celer's rule) replaced 47-88 of the
256 slots each time on the 500x1000 benchmark problem, most of them candidates that stay at
zero, and rebuilding G was then half of the solve's time (1.7 ms of ~3 per outer iteration).

Example:
  >>> import jax.numpy as jnp
  >>> from subopt.linear_model._workset import select, swap
  >>> X = jnp.eye(4); y = jnp.ones(4); s = jnp.full(4, 0.25)
  >>> ws = select(X, jnp.array([3.0, 2.0, 1.0, 0.0]), 2, y, s, True)
  >>> ws.idx.tolist()
  [0, 1]
  >>> ws = swap(X, ws, jnp.array([jnp.inf, 0.0, 1.0, 2.0]), jnp.zeros(4, bool), 1, y, s)
  >>> sorted(ws.idx.tolist()), ws.gram.g.tolist()  # feature 3 replaced feature 1
  ([0, 3], [[0.25, 0.0], [0.0, 0.25]])
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from subopt.linear_model._design import gather_columns
from subopt.linear_model._inner import Gram


class WorkSet(NamedTuple):
    """The slots and their blocks (``gram`` is None outside Gram space)."""

    idx: jax.Array  # (k,) int32, the feature in each slot
    keep: jax.Array  # (k,) bool, the slot holds a selectable feature
    at: jax.Array  # (k, n) the columns of the slots as rows, zero for dead slots
    eig: jax.Array  # (k,) power-iteration vector over the slots (a warm start)
    gram: Gram | None


def _rounded(score: jax.Array) -> jax.Array:
    """The scores in float32 for ranking: XLA's CPU top_k is 30x faster there than in
    float64 (0.09 against 2.8 ms at p = 6830, more than the rest of an outer iteration).
    Finite scores are clipped into float32's range so that none becomes an infinity (+inf
    marks the support, -inf the screened features)."""
    big = float(jnp.finfo(jnp.float32).max)
    return jnp.where(jnp.isinf(score), score, jnp.clip(score, -big, big)).astype(jnp.float32)


def select(X: Any, score: jax.Array, k: int, y: jax.Array, s: jax.Array, gram: bool) -> WorkSet:
    """The k features of highest score in k slots (-inf scores give dead slots)."""
    top, idx = jax.lax.top_k(_rounded(score), k)
    keep = top > -jnp.inf
    at = gather_columns(X, idx, keep).T
    g = Gram.build(None, at, y, s, jnp.zeros((), at.dtype)) if gram else None
    return WorkSet(idx, keep, at, keep.astype(at.dtype), g)


def swap(
    X: Any, ws: WorkSet, score: jax.Array, screened: jax.Array, m: int, y: jax.Array, s: jax.Array
) -> WorkSet:
    r"""Replace at most m slots by better features from outside the working set.

    The r-th best outside feature replaces the r-th weakest slot when its score is higher
    (the exchange that raises the working set's scores most, m at most); slots whose feature
    was screened die. The m rows and columns of G at the exchanged slots are formed anew
    (:math:`A^\top S A_{:, E}`), so G is exact for the new slots.
    """
    p = score.shape[0]
    inside = jnp.zeros(p, jnp.int8).at[ws.idx].max(ws.keep.astype(jnp.int8)) > 0
    rounded = _rounded(score)
    new_score, new_idx = jax.lax.top_k(jnp.where(inside, -jnp.inf, rounded), m)
    slot_score = jnp.where(ws.keep, rounded[ws.idx], -jnp.inf)
    neg_worst, evict = jax.lax.top_k(-slot_score, m)
    do = (new_score > -neg_worst) & (new_score > -jnp.inf)
    idx = ws.idx.at[evict].set(jnp.where(do, new_idx, ws.idx[evict]))
    keep = ws.keep.at[evict].set(ws.keep[evict] | do) & ~screened[idx]
    rows = gather_columns(X, idx[evict], keep[evict]).T  # (m, n)
    at = jnp.where(keep[:, None], ws.at.at[evict].set(rows), jnp.zeros((), ws.at.dtype))
    eig = jnp.where(keep, ws.eig.at[evict].set(jnp.where(do, 1e-3, ws.eig[evict])), 0)
    g = ws.gram
    if g is not None:
        sr = jax.lax.optimization_barrier(rows * s)
        cross = at @ sr.T  # (k, m): G's columns at the exchanged slots
        both = keep[:, None] & keep[None, :]
        mat = jnp.where(both, g.g.at[:, evict].set(cross).at[evict, :].set(cross.T), 0)
        g = g._replace(
            g=mat,
            q=jnp.where(keep, g.q.at[evict].set(jnp.sum(sr, 1)), 0),
            c=jnp.where(keep, g.c.at[evict].set(sr @ y), 0),
        )
    return WorkSet(idx, keep, at, eig, g)


__all__ = ["WorkSet", "select", "swap"]
