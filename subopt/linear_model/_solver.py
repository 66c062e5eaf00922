r"""The working-set solver for sparse GLMs: outer KKT/gap loop, gap-safe screening, growth.

`solve` minimizes :math:`P(w, b) = F(Xw + b) + g(w)` (a datafit of `_datafits`, a penalty of
`_penalties`, b an optional unpenalized intercept). Each outer iteration, over all features,

1. sets the intercept to its optimum for the current w (closed form, or Newton for logistic),
2. forms the dual point and the duality gap (`_gap`), and stops when
   :math:`\mathrm{gap} \le \mathrm{tol}\cdot F(0)`,
3. screens: with :math:`R = \sqrt{2 c \max_i s_i\, (\mathrm{gap} + 64\epsilon|P|)}` (the dual is
   :math:`1/(c \max_i s_i)`-strongly concave), every feature with
   ``penalty.safe_zero(v, R * ||x_j||)`` is zero at the optimum; it is set to 0 and removed
   for good (Ndiaye et al. 2017),
4. updates the working set of ``ws_size`` slots (`_workset`): filled once with the features
   of highest ``score`` (the support, then those whose dual constraint is closest to
   active), then after each working-set solve at most ``max(16, ws_size // 8)`` of its
   weakest slots are exchanged for better features from outside; only their columns and
   rows of the Gram matrix are formed, and screened features leave (zero columns, inert),
5. runs FISTA with restart on the gathered block :math:`X_{:, W}` (`_inner`) to the gap
   ``inner_ratio * gap`` (celer's rule), in Gram space for least squares when
   :math:`|W| \le 2n`, proximal Newton for logistic (`_newton`); once the full gap equals
   the gap the last working-set solve reached (no feature outside it violates its dual
   constraint), straight to the final tolerance.

The working-set size is static (a compiled shape), so `solve` is jit- and vmap-able; when the
support fills more than 90% of it, the run stops early with ``ws_full`` set (a threshold of
one half or three quarters made fits 1.3-2.6x slower on the benchmark problems: larger Gram
matrices). `fit` (host side) then enlarges it to twice the support, along the ladder of
`_grow.ws_ladder_size`, and continues from where it stopped, so only a few sizes are ever compiled.

References:
  Massias, Gramfort and Salmon, *Celer: a fast solver for the Lasso with dual extrapolation*,
  ICML, 2018. Ndiaye, Fercoq, Gramfort and Salmon, *Gap safe screening rules for sparsity
  enforcing penalties*, JMLR, 2017. Johnson and Guestrin, *Blitz: a principled
  meta-algorithm for scaling sparse optimization*, ICML, 2015.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from subopt._base import RUNNING, Status
from subopt.linear_model._anderson import anderson_pg
from subopt.linear_model._design import (
    column_norms,
    matvec,
    rmatvec,
)
from subopt.linear_model._gap import duality_gap
from subopt.linear_model._inner import Dense, fista_restart, power_sq_norm
from subopt.linear_model._newton import prox_newton
from subopt.linear_model._workset import WorkSet, select, swap


class GLMResult(NamedTuple):
    """What `solve` and `fit` return (a pytree: vmapped solves return stacked fields).

    Attributes:
      coef: the weights w (exact zeros off the support).
      intercept: b (0 unless fitted).
      gap: the duality gap at ``(coef, intercept)``, an upper bound on the suboptimality.
      status: int32 `subopt.Status`: CONVERGED (gap <= tol * F(0)), MAX_STEPS, NONFINITE or
        INVALID (a traced penalty hyperparameter is invalid).
      n_outer: outer iterations (full passes over the features).
      n_inner: FISTA steps, summed over working sets.
      screened: bool per feature, True for those the gap-safe rule proved zero.
      ws_full: the support outgrew 90% of the working set (`fit` then enlarges it).
    """

    coef: Any
    intercept: Any
    gap: Any
    status: Any
    n_outer: Any
    n_inner: Any
    screened: Any
    ws_full: Any


class _Outer(NamedTuple):
    w: jax.Array
    b: jax.Array
    screened: jax.Array
    gap: jax.Array
    n_outer: jax.Array
    n_inner: jax.Array
    status: jax.Array
    ws_full: jax.Array
    ws: WorkSet
    inner_gap: jax.Array  # the gap the last working-set solve reached on its subproblem


def _lipschitz_and_oracle(datafit, pen, ws, y, s, z, fit_intercept):
    r"""The inner oracle and the Lipschitz constant of its gradient in (w, b): the curvature
    bound times :math:`\|[S^{1/2} X_W, S^{1/2} 1]\|_2^2 \le \|S^{1/2} X_W\|_2^2 + \sum s`;
    for Poisson a local estimate (the curvature at the current z), from which the inner
    solver backtracks. Also returns the power-iteration vector (a warm start)."""
    extra = fit_intercept * jnp.sum(s)
    if ws.gram is not None:
        oracle = ws.gram._replace(penalty=pen, intercept=fit_intercept)
        sq, vec = power_sq_norm(lambda v: oracle.g @ v, ws.eig)
        return sq + extra, oracle, vec
    sat = ws.at * jnp.sqrt(s)
    sq, vec = power_sq_norm(lambda v: sat @ (v @ sat), ws.eig)
    c = datafit.curvature if datafit.curvature is not None else jnp.max(jnp.exp(z))
    return c * (sq + extra), Dense(datafit, pen, ws.at, y, s, fit_intercept), vec


def solve(
    datafit: Any,
    penalty: Any,
    X: Any,
    y: jax.Array,
    sample_weight: jax.Array,
    coef0: jax.Array,
    intercept0: Any,
    screened0: jax.Array | None = None,
    norms: jax.Array | None = None,
    *,
    ws_size: int,
    fit_intercept: Any = False,
    tol: Any = 1e-6,
    max_outer: Any = 100,
    max_inner: Any = 20_000,
    inner_ratio: float = 0.3,
    screen: bool = True,
    gram: bool | None = None,
    newton: bool | None = None,
    anderson: bool = False,
) -> GLMResult:
    r"""Minimize :math:`F(Xw + b) + g(w)` with working sets of ``ws_size`` features (jit-able).

    Args:
      datafit: `quadratic`, `logistic` (labels +-1) or `poisson`.
      penalty: `l1`, `elastic_net`, `nonnegative_l1` or `group_l2` (traced leaves allowed).
      X: the design, an ``(n, p)`` array or a `SparseDesign` (`as_design`).
      y: ``(n,)`` targets in X's dtype.
      sample_weight: ``(n,)`` weights :math:`s_i \ge 0` (``1/n`` for scikit-learn's scaling).
      coef0, intercept0: the start (warm start).
      screened0: features already known to be zero (default none).
      norms: the column norms of X (computed when not given; `_grow.grow` computes them once).
      ws_size: the working-set size, static, ``<= p``; ``p`` never fills up.
      fit_intercept: whether b is fitted (a bool, possibly traced: one program serves both).
      tol: stop when the gap is ``<= tol * F(0)`` (possibly traced).
      max_outer, max_inner: outer iterations; FISTA steps per working set.
      inner_ratio: the inner gap target as a fraction of the outer gap.
      screen: apply gap-safe screening (static; Poisson has no safe radius and never screens).
      gram: least squares in Gram space (static; default: when ``ws_size <= 2 n``).
      newton: proximal Newton on the working sets (`_newton`; static; default: for the
        logistic datafit, the only one with a bounded second derivative and no closed form).
      anderson: proximal gradient with Anderson extrapolation (`_anderson`) in place of
        FISTA on the working sets (static; needs a curvature bound: not Poisson, not with
        ``newton``). On synthetic Lasso problems (200x400 and 500x1000, AR(0.5) and AR(0.9)
        columns, 0.1 and 0.01 lambda_max) it took 1.0-3.3x the steps of FISTA with restart
        and 0.87-1.8x its time (faster on one of the eight), so FISTA stays the default.

    Returns:
      A `GLMResult`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from subopt import linear_model as lm
      >>> X = jax.random.normal(jax.random.PRNGKey(0), (20, 50))
      >>> y = X[:, 0] - 2 * X[:, 1]
      >>> res = lm.solve(lm.quadratic(), lm.l1(0.1), X, y, jnp.full(20, 1 / 20),
      ...                jnp.zeros(50), 0.0, ws_size=16)
      >>> int(res.status), sorted(jnp.argsort(-jnp.abs(res.coef))[:2].tolist())
      (0, [0, 1])
    """
    n, p = int(X.shape[0]), int(X.shape[1])
    if not 1 <= ws_size <= p:
        raise ValueError(f"ws_size must be in [1, p={p}], got {ws_size}")
    dtype = coef0.dtype
    if anderson and (datafit.curvature is None or newton):
        raise ValueError(
            "anderson=True needs a datafit with a curvature bound and newton=False, got "
            f"datafit={datafit.name!r}, newton={newton!r}"
        )
    newton = datafit.name == "logistic" and not anderson and (newton is None or newton)
    # a Gram step costs |W|^2 against 2 n |W| for the dense block
    use_gram = datafit.name == "quadratic" and (ws_size <= 2 * n if gram is None else gram)
    screen = screen and datafit.curvature is not None
    tol_abs = jnp.asarray(tol, dtype) * datafit.base_value(y, sample_weight)
    norms = column_norms(X) if norms is None else norms
    s = sample_weight
    smooth = jnp.asarray(datafit.curvature or 0.0, dtype) * jnp.max(s)
    ib = jnp.asarray(fit_intercept, dtype)

    swaps = min(ws_size, max(16, ws_size // 8))  # slots exchanged per outer iteration

    def check(w, b, screened, n_outer):
        """One pass over all features at (w, b): the best intercept, the gap, screening,
        the working-set scores and the status."""
        z = matvec(X, w) + b
        shift = datafit.fitted_shift(z, y, s, ib)
        b, z = b + shift, z + shift
        u = datafit.grad(z, y, s)
        v = jnp.where(screened, 0, -rmatvec(X, u))
        gap = duality_gap(datafit, penalty, z, u, v, w, b, y, s)
        scale = penalty.dual_scale(v)
        if screen:
            # the gap is a difference of two nearly equal numbers: its rounding error (a few
            # eps of P) must widen the safe sphere, or a rounded-to-0 gap would screen support
            primal = datafit.value(z, y, s) + penalty.value(w)
            slack = 64 * jnp.finfo(dtype).eps * jnp.abs(primal)
            radius = jnp.sqrt(2 * smooth * (jnp.maximum(gap, 0) + slack))
            screened = screened | penalty.safe_zero(scale * v, radius * norms)
            w = jnp.where(screened, 0, w)
        score = penalty.score(scale * v, norms)
        score = jnp.where(w != 0, jnp.inf, jnp.where(screened, -jnp.inf, score))
        nnz = jnp.sum(w != 0)
        done = gap <= tol_abs
        full = (10 * nnz > 9 * ws_size) & (ws_size < p)
        status = jnp.select(
            [~penalty.is_valid(), jnp.isnan(gap), done, full, n_outer >= max_outer],
            [
                Status.INVALID,
                Status.NONFINITE,
                Status.CONVERGED,
                Status.MAX_STEPS,
                Status.MAX_STEPS,
            ],
            RUNNING,
        ).astype(jnp.int32)
        return w, b, z, screened, gap, score, status, full & ~done

    def cond(st: _Outer):
        return st.status == RUNNING

    def body(st: _Outer):
        w, b, z, screened, gap, score, status, full = check(st.w, st.b, st.screened, st.n_outer)
        stopped = st._replace(w=w, b=b, screened=screened, gap=gap, status=status, ws_full=full)

        def work(_):
            # the first working set is selected, the later ones are swapped (`_workset`)
            ws = jax.lax.cond(
                st.n_outer == 0,
                lambda ws: select(X, score, ws_size, y, s, use_gram),
                lambda ws: swap(X, ws, score, screened, swaps, y, s),
                st.ws,
            )
            # When the full gap is the working-set gap, no feature outside the working set
            # violates its dual constraint: the working set is right, and its subproblem is
            # solved to the final tolerance at once instead of another fraction of the gap.
            settled = jnp.isfinite(st.inner_gap) & (gap <= 1.1 * st.inner_gap)
            target = jnp.where(
                settled, 0.5 * tol_abs, jnp.maximum(inner_ratio * gap, 0.5 * tol_abs)
            )
            pen = penalty.subset(ws.idx)
            w0 = jnp.where(ws.keep, w[ws.idx], 0)
            if newton:  # its own power iteration, on each quadratic model
                w_ws, b_new, steps, inner_gap, eig = prox_newton(
                    Dense(datafit, pen, ws.at, y, s, ib),
                    pen,
                    w0,
                    b,
                    ws.eig,
                    target,
                    max_inner,
                    fit_intercept=ib,
                )
            else:
                lip, oracle, eig = _lipschitz_and_oracle(datafit, pen, ws, y, s, z, ib)
                inner = (
                    anderson_pg
                    if anderson
                    else functools.partial(fista_restart, backtrack=datafit.curvature is None)
                )
                w_ws, b_new, steps, inner_gap = inner(
                    oracle, pen, w0, b, lip, target, max_inner, fit_intercept=ib
                )
            return _Outer(
                jnp.zeros_like(w).at[ws.idx].set(jnp.where(ws.keep, w_ws, 0)),
                b_new,
                screened,
                gap,
                st.n_outer + 1,
                st.n_inner + steps,
                status,
                full,
                ws._replace(eig=jnp.where(ws.keep, eig, 0)),
                inner_gap,
            )

        return jax.lax.cond(status == RUNNING, work, lambda _: stopped, None)

    screened0 = jnp.zeros(p, bool) if screened0 is None else screened0
    zero = jnp.zeros((), jnp.int32)
    st = _Outer(
        coef0,
        jnp.asarray(intercept0, dtype),
        screened0,
        jnp.asarray(jnp.inf, dtype),
        zero,
        zero,
        jnp.asarray(RUNNING, jnp.int32),
        jnp.asarray(False),
        # zeros of the shapes `select` returns: the loop carry before the first selection
        jax.tree.map(
            lambda a: jnp.zeros(a.shape, a.dtype),
            jax.eval_shape(lambda: select(X, screened0.astype(dtype), ws_size, y, s, use_gram)),
        ),
        jnp.asarray(jnp.inf, dtype),
    )
    st = jax.lax.while_loop(cond, body, st)
    return GLMResult(st.w, st.b, st.gap, st.status, st.n_outer, st.n_inner, st.screened, st.ws_full)


_STATIC = ("ws_size", "screen", "gram", "newton", "anderson")
solve_jit = jax.jit(solve, static_argnames=_STATIC)


__all__ = ["GLMResult", "solve", "solve_jit"]
