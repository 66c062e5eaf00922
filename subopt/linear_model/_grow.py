"""Working-set sizes, host side: the ladder of compiled sizes and `grow`, which enlarges the
working set while the support fills it.

`solve` has a static working-set size, so that it compiles once per size and stays jit- and
vmap-able. `grow` calls it at the sizes of a short ladder (at most ~2 log2(p / 32) of them
per problem), each time from where the last call stopped.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from subopt.linear_model import _solver
from subopt.linear_model._design import column_norms_jit
from subopt.linear_model._solver import GLMResult


def ws_ladder_size(p: int, at_least: int) -> int:
    """The smallest compiled working-set size >= ``at_least``, capped at p: the ladder
    32, 48, 64, 96, ... (powers of two and their midpoints), so a problem compiles at most
    ~2 log2(p / 32) sizes and a working set is at most 1.5x the size it needs. It starts at
    32, not 16: on a CPU a smaller working set saves nothing per outer iteration, and each
    size it outgrows costs a call (0.7x the time at 500x1000, 0.84-0.97x on NCI60 and
    diabetes, 0.89x for the 100x200 L1-logistic, 1.06x at 500x1000, 0.01 lambda_max)."""
    k = 32
    while k < at_least:
        k = k * 3 // 2 if (k & (k - 1)) == 0 else k * 4 // 3
    return min(k, p)


def first_ws_size(p: int, nnz: int) -> int:
    """The first working-set size for a start with ``nnz`` nonzeros: room for 1.25 nnz + 1,
    above the 90% at which a working set counts as full, and rounded up the ladder. More
    room makes the Gram matrices of a warm-started path's small alphas larger than needed:
    twice the support took 4.0 s against 1.9 for a 100-alpha path on 500x1000, and 1.5 times
    it 1.18-1.25x the time of 1.25 times on the 100-alpha paths of 500x1000, diabetes and a
    200x400 design (0.93x on NCI60)."""
    return ws_ladder_size(p, (5 * nnz) // 4 + 1)


def grow(
    datafit: Any,
    penalty: Any,
    X: Any,
    y: Any,
    sample_weight: Any,
    coef0: Any,
    intercept0: Any,
    *,
    ws_size: int | None = None,
    norms: jax.Array | None = None,
    **options: Any,
) -> tuple[GLMResult, int]:
    """`solve` with growing working sets (host side): enlarge ``ws_size`` along the ladder
    (`ws_ladder_size`, to twice the support) while the support fills it, each time from
    where the last solve stopped, keeping its screened features. The column norms are
    computed once (or passed in: a path computes them once for all its solves).

    Returns ``(result, ws_size)``, the last size to start a warm-started next solve from.
    """
    p = int(X.shape[1])
    nnz = int(np.count_nonzero(np.asarray(coef0)))
    k = first_ws_size(p, nnz)  # a given ws_size can only enlarge the first working set
    k = k if ws_size is None else max(k, min(ws_size, p))
    norms = column_norms_jit(X) if norms is None else norms
    w, b, screened = coef0, intercept0, None
    n_outer = n_inner = 0
    while True:
        # looked up on the module at each call, so that a test can record the sizes
        res = _solver.solve_jit(
            datafit,
            penalty,
            X,
            y,
            sample_weight,
            w,
            b,
            screened,
            norms,
            ws_size=k,
            **options,
        )
        # host reads by np.asarray (~5 us each; an eager jax op or device_get costs 30-200)
        n_outer += int(np.asarray(res.n_outer))
        n_inner += int(np.asarray(res.n_inner))
        if not bool(np.asarray(res.ws_full)) or k >= p:
            return res._replace(n_outer=n_outer, n_inner=n_inner), k
        w, b, screened = res.coef, res.intercept, res.screened
        k = ws_ladder_size(p, max(2 * int(np.count_nonzero(np.asarray(w))), k + 1))


__all__ = ["first_ws_size", "grow", "ws_ladder_size"]
