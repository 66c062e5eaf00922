r"""The inner solver: FISTA with gradient restart on one working set, stopped on its gap.

On a working set W the subproblem is :math:`\min_{w, b} F(X_W w + b) + g(w)` (b the
unpenalized intercept, when fitted). Two oracles give its gradient, value and duality gap:

* `Dense`, for any datafit: keeps the predictor :math:`z = X_W w + b` along the iterates
  (FISTA's extrapolation is affine, so :math:`z` of the extrapolated point is the same
  combination of the two last :math:`z`'s): one product with :math:`X_W` and one with
  :math:`X_W^\top` per step;
* `Gram`, for least squares: works with :math:`G = X_W^\top S X_W` and the moments of y, so
  a step costs :math:`O(|W|^2)` instead of :math:`O(n|W|)` and the gap needs no pass over the
  samples; forming G costs :math:`n|W|^2` once per solve, and :math:`n|W|m` when m slots of
  the working set are exchanged (`_workset.swap`).

Why not `subopt.fista` itself: the inner loop needs the prox output :math:`x_k` and the
predictors at every step (for the gap every ``check_every`` steps and for the affine update
of z above), and a Gram-space step; `subopt.fista`'s update works on a generic f through its
gradient and would pay a second product with :math:`X_W` per step. The update rule is the
same (Beck and Teboulle's momentum, O'Donoghue and Candes' gradient restart), so is the
fixed point.

References:
  Beck and Teboulle, SIAM J. Imaging Sci., 2009. O'Donoghue and Candes, Found. Comput. Math.,
  2015. Massias, Gramfort and Salmon, *Celer*, ICML, 2018 (inner tolerance = a fraction of
  the outer gap).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from subopt.linear_model._gap import duality_gap


class Dense(NamedTuple):
    """Oracle on a dense block ``at`` (k, n): the working set's columns as rows, for any
    datafit (XLA's CPU Gram products are 2-2.5x faster in this layout than with X[:, W])."""

    datafit: Any
    penalty: Any
    at: jax.Array
    y: jax.Array
    s: jax.Array
    intercept: jax.Array  # 1.0 when the intercept is fitted, else 0.0

    def aux(self, w, b):
        return w @ self.at + b

    def grad(self, w, b, z):
        u = self.datafit.grad(z, self.y, self.s)
        return self.at @ u, jnp.sum(u)

    def value(self, w, b, z):
        return self.datafit.value(z, self.y, self.s)

    def gap(self, w, b, z):
        # with an intercept, certify at the best intercept for w, as the outer loop does
        shift = self.datafit.fitted_shift(z, self.y, self.s, self.intercept)
        b, z = b + shift, z + shift
        u = self.datafit.grad(z, self.y, self.s)
        return duality_gap(self.datafit, self.penalty, z, u, -(self.at @ u), w, b, self.y, self.s)


class Gram(NamedTuple):
    """Least-squares oracle in Gram space: G = A^T S A, q = A^T s, c = A^T S y, moments
    (A the working set's block, built from its transpose ``at``)."""

    penalty: Any
    g: jax.Array
    q: jax.Array
    c: jax.Array
    moments: jax.Array  # [sum s, sum s y, sum s y^2]
    intercept: jax.Array  # 1.0 when the intercept is fitted, else 0.0

    @classmethod
    def build(cls, penalty, at, y, s, intercept):
        # the scaled copy is materialized: fused into the product, it made XLA's CPU dot
        # 1.2-1.4x slower
        return cls(
            penalty,
            at @ jax.lax.optimization_barrier(at * s).T,
            at @ s,
            at @ (s * y),
            jnp.stack([jnp.sum(s), jnp.sum(s * y), jnp.sum(s * y * y)]),
            intercept,
        )

    def aux(self, w, b):
        return ()

    def grad(self, w, b, z):
        ss, sy, _ = self.moments
        return self.g @ w + b * self.q - self.c, self.q @ w + b * ss - sy

    def value(self, w, b, z):
        ss, sy, syy = self.moments
        gw = self.g @ w
        return 0.5 * (w @ gw + syy + b * b * ss) + b * (self.q @ w) - self.c @ w - b * sy

    def gap(self, w, b, z):
        ss, sy, syy = self.moments
        b = b - self.intercept * self.grad(w, b, z)[1] / ss  # the best intercept for w
        gw, gb = self.grad(w, b, z)
        f = self.value(w, b, z)
        v = -gw
        scale = self.penalty.dual_scale(v)
        res_y = self.c @ w + b * sy - syy  # sum s (z - y) y
        # F*(c u) = c sum u y + c^2 sum u^2 / (2 s), with u = s (z - y), sum s (z-y)^2 = 2F
        conj = scale * res_y + scale * scale * f
        dual = -(conj - b * scale * gb) - self.penalty.conjugate(scale * v)
        return f + self.penalty.value(w) - dual


def power_sq_norm(matvec: Any, v: jax.Array, iters: int = 10) -> tuple[jax.Array, jax.Array]:
    r""":math:`\|M\|_2` of a symmetric PSD operator ``matvec`` by power iteration from ``v``.

    Returns ``(estimate, vector)``: the Rayleigh quotient raised by 2% (it approaches the
    largest eigenvalue from below) and the last vector, to warm-start the next estimate (the
    working sets of successive outer iterations overlap, so a few iterations suffice).
    """
    tiny = jnp.finfo(v.dtype).tiny

    def body(_, v):
        mv = matvec(v)
        return mv / jnp.maximum(jnp.linalg.norm(mv), tiny)

    v = v / jnp.maximum(jnp.linalg.norm(v), tiny)
    v = jax.lax.fori_loop(0, iters, body, v)
    return 1.02 * (v @ matvec(v)), v


class _Fista(NamedTuple):
    x: jax.Array
    bx: jax.Array
    zx: Any
    yw: jax.Array
    by: jax.Array
    zy: Any
    t: jax.Array
    step: jax.Array
    it: jax.Array
    gap: jax.Array


def fista_restart(
    oracle: Any,
    penalty: Any,
    w: jax.Array,
    b: jax.Array,
    lipschitz: Any,
    tol: jax.Array,
    max_iter: jax.Array,
    *,
    fit_intercept: Any,
    backtrack: bool,
    check_every: int = 10,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    r"""FISTA with gradient restart on a working-set subproblem, until its gap is <= ``tol``.

    .. math::

      x_{k+1} = \mathrm{prox}_{t g}(y_k - t\nabla_w F), \quad
      y_{k+1} = x_{k+1} + \tfrac{t_k - 1}{t_{k+1}}(x_{k+1} - x_k),

    with :math:`t_k` reset to 1 when :math:`\langle y_k - x_{k+1}, x_{k+1} - x_k\rangle > 0`.
    The intercept takes plain gradient steps inside the same momentum. With ``backtrack``
    (datafits without a curvature bound) the step halves until the quadratic upper bound
    holds at the new point.

    Returns:
      ``(w, b, n_steps, gap)``: the prox output, the intercept, the steps taken, the last gap.
    """
    dtype = w.dtype
    ib = jnp.asarray(fit_intercept, dtype)
    step0 = 1 / jnp.asarray(lipschitz, dtype)

    def one(st: _Fista, _):
        gw, gb = oracle.grad(st.yw, st.by, st.zy)
        gb = gb * ib

        def attempt(step):
            x = penalty.prox(st.yw - step * gw, step)
            bx = st.by - step * gb
            return x, bx, oracle.aux(x, bx)

        if backtrack:
            fy = oracle.value(st.yw, st.by, st.zy)

            def too_long(c):
                step, x, bx, zx, k = c
                d, db = x - st.yw, bx - st.by
                bound = fy + gw @ d + gb * db + (d @ d + db * db) / (2 * step)
                # rounding of F near convergence must not read as a failed bound (the step
                # would then shrink forever)
                slack = 64 * jnp.finfo(dtype).eps * jnp.abs(fy)
                return (oracle.value(x, bx, zx) > bound + slack) & (k < 40)

            def halve(c):
                step = c[0] / 2
                return (step, *attempt(step), c[4] + 1)

            step, x, bx, zx, _ = jax.lax.while_loop(
                too_long, halve, (st.step, *attempt(st.step), 0)
            )
        else:
            step = st.step
            x, bx, zx = attempt(step)
        dx, dbx = x - st.x, bx - st.bx
        reset = (st.yw - x) @ dx + (st.by - bx) * dbx > 0
        t_next = jnp.where(reset, 1.0, (1 + jnp.sqrt(1 + 4 * st.t * st.t)) / 2).astype(dtype)
        beta = jnp.where(reset, 0.0, (st.t - 1) / t_next).astype(dtype)
        yw = x + beta * dx
        by = bx + beta * dbx
        zy = jax.tree_util.tree_map(lambda u, v: u + beta * (u - v), zx, st.zx)
        return _Fista(x, bx, zx, yw, by, zy, t_next, step, st.it + 1, st.gap), None

    def block(st: _Fista):
        return jax.lax.scan(one, st, None, length=check_every)[0]

    z0 = oracle.aux(w, b)
    st = _Fista(
        w,
        b,
        z0,
        w,
        b,
        z0,
        jnp.ones((), dtype),
        step0,
        jnp.zeros((), jnp.int32),
        oracle.gap(w, b, z0),
    )
    st = until_gap(block, lambda st: oracle.gap(st.x, st.bx, st.zx), st, tol, max_iter)
    return st.x, st.bx, st.it, st.gap


def until_gap(block: Any, gap: Any, st: Any, tol: jax.Array, max_iter: jax.Array) -> Any:
    """Repeat ``block`` (a few steps of an inner solver) and evaluate ``gap`` on its state
    until the gap is ``<= tol`` or ``max_iter`` steps are taken (``st.it``, ``st.gap``)."""

    def body(st):
        st = block(st)
        return st._replace(gap=gap(st))

    return jax.lax.while_loop(lambda st: (st.gap > tol) & (st.it < max_iter), body, st)


__all__ = ["Dense", "Gram", "fista_restart", "power_sq_norm", "until_gap"]
