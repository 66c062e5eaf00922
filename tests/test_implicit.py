"""The implicit-differentiation machinery (subopt._implicit, subopt._gmres) on its own.

Solvers written here (a fixed-point iteration, a small compiled FISTA with restart), so
these tests check `implicit_solution` independently of `subopt.run`: a scalar closed form,
agreement with jaxopt's ProximalGradient(implicit_diff=True), and every linear solver on a
system with a known solution. The derivatives of `subopt.run` itself (closed forms, finite
differences, sweeps, errors) are in test_implicit_run.py.
"""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import subopt as so
from subopt._implicit import LinearSolver, fixed_point_map, implicit_solution

M, N = 30, 12
RNG = np.random.default_rng(0)
A = RNG.normal(size=(M, N))
B = A @ np.where(np.arange(N) < 4, RNG.normal(size=N) * 2, 0.0) + 0.3 * RNG.normal(size=M)


def least_squares(x, a, b):
    r = a @ x - b
    return 0.5 * jnp.dot(r, r) / b.shape[0]


def lipschitz(a):
    return float(np.linalg.eigvalsh(np.asarray(a).T @ np.asarray(a) / a.shape[0]).max())


def fista(fun, *, tol, maxiter=20000):
    """``theta = (args, reg, step) -> x*``: FISTA with gradient restart in a while_loop."""

    def solve(theta, x0):
        args, reg, t = theta
        grad = jax.grad(fun)

        def cond(c):
            return (c[0] < maxiter) & (c[4] > tol)

        def body(c):
            k, x, y, tk, _ = c
            xn = reg.prox(jax.tree.map(lambda u, g: u - t * g, y, grad(y, *args)), t)
            gap = (
                jnp.sqrt(
                    sum(
                        jnp.sum((u - v) ** 2)
                        for u, v in zip(jax.tree.leaves(y), jax.tree.leaves(xn))
                    )
                )
                / t
            )
            tn = (1 + jnp.sqrt(1 + 4 * tk * tk)) / 2
            step = jax.tree.map(lambda u, v: u - v, xn, x)
            restart = (
                sum(
                    jnp.sum((u - v) * s)
                    for u, v, s in zip(
                        jax.tree.leaves(y), jax.tree.leaves(xn), jax.tree.leaves(step)
                    )
                )
                > 0
            )
            beta = jnp.where(restart, 0.0, (tk - 1) / tn)
            tn = jnp.where(restart, 1.0, tn)
            yn = jax.tree.map(lambda u, s: u + beta * s, xn, step)
            return k + 1, xn, yn, tn, gap.astype(t.dtype)

        dtype = jnp.asarray(t).dtype
        c0 = (0, x0, x0, jnp.ones((), dtype), jnp.full((), jnp.inf, dtype))
        return jax.lax.while_loop(cond, body, c0)[1]

    return solve


def solution(fun, theta, x0, *, tol=1e-12, solver=None):
    """x*(theta) by FISTA from x0, differentiable by the implicit function theorem.

    x0 travels in the differentiated argument (a closure must not hold tracers); T does not
    read it, so it gets zero derivative.
    """
    solve = fista(fun, tol=tol)
    T = fixed_point_map(fun)
    return implicit_solution(
        lambda th: solve(*th), lambda x, th: T(x, th[0]), (theta, x0), solver=solver
    )


def test_scalar_fixed_point():
    """x = cos(a x): dx/da = -x sin(a x) / (1 + a sin(a x)), in every mode."""

    def solve(a):
        return jax.lax.fori_loop(0, 200, lambda _, x: jnp.cos(a * x), jnp.zeros_like(a))

    def x_star(a):
        return implicit_solution(solve, lambda x, a: jnp.cos(a * x), a)

    @jax.jit
    def run(a):
        modes = (jax.grad(x_star)(a), jax.jacfwd(x_star)(a), jax.jvp(x_star, (a,), (a,))[1] / a)
        return solve(a), modes

    a = jnp.asarray(0.5)
    x, modes = run(a)
    exact = -x * jnp.sin(a * x) / (1 + a * jnp.sin(a * x))
    for d in modes:
        np.testing.assert_allclose(d, exact, rtol=1e-9)


# --------------------------------------------------------------------------- jaxopt


def _validation(x, a, b):
    return jnp.mean((a @ x - b) ** 2)


A_VAL = RNG.normal(size=(20, N))
B_VAL = A_VAL @ np.where(np.arange(N) < 4, 1.0, 0.0) + 0.3 * RNG.normal(size=20)


def test_agrees_with_jaxopt():
    """Hypergradients of a validation loss equal jaxopt's ProximalGradient(implicit_diff)."""
    import jaxopt
    import jaxopt.linear_solve

    a, b, t = jnp.array(A), jnp.array(B), 1 / lipschitz(A)
    box_p = RNG.normal(size=(N, N))
    p = jnp.array(box_p @ box_p.T / N + 0.5 * np.eye(N))
    tp = 1 / float(jnp.linalg.eigvalsh(p).max())

    def quadratic(x, c):
        return 0.5 * x @ (p @ x) - c @ x

    def ours(lam, b, lo, hi, c):
        tight = LinearSolver(tol=1e-11)
        x = solution(
            least_squares, ((a, b), so.prox.l1(lam), jnp.asarray(t)), jnp.zeros(N), solver=tight
        )
        z = solution(
            quadratic, ((c,), so.prox.box(lo, hi), jnp.asarray(tp)), jnp.zeros(N), solver=tight
        )
        return _validation(x, jnp.array(A_VAL), jnp.array(B_VAL)) + jnp.sum(z * jnp.cos(c))

    def theirs(lam, b, lo, hi, c):  # their linear solve made tight too (default: 1e-5)
        tight = functools.partial(jaxopt.linear_solve.solve_normal_cg, tol=1e-12)
        lasso = jaxopt.ProximalGradient(
            least_squares,
            jaxopt.prox.prox_lasso,
            stepsize=t,
            maxiter=20000,
            tol=1e-12,
            implicit_diff=True,
            implicit_diff_solve=tight,
        )
        x = lasso.run(jnp.zeros(N), lam, a, b).params
        box = jaxopt.ProximalGradient(
            quadratic,
            jaxopt.prox.make_prox_from_projection(jaxopt.projection.projection_box),
            stepsize=tp,
            maxiter=20000,
            tol=1e-12,
            implicit_diff=True,
            implicit_diff_solve=tight,
        )
        z = box.run(jnp.zeros(N), (lo, hi), c).params
        return _validation(x, jnp.array(A_VAL), jnp.array(B_VAL)) + jnp.sum(z * jnp.cos(c))

    args = (
        jnp.asarray(0.05),
        b,
        jnp.full(N, -0.4),
        jnp.full(N, 0.5),
        jnp.array(RNG.normal(size=N) * 2),
    )
    argnums = tuple(range(5))
    got = jax.jit(jax.grad(ours, argnums))(*args)
    want = jax.jit(jax.grad(theirs, argnums))(*args)
    assert float(jnp.abs(got[0])) > 1e-3  # lambda matters to the validation loss here
    chex.assert_trees_all_close(got, want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("method", ["gmres", "bicgstab", "cg", "normal_cg"])
def test_linear_solvers(method):
    """Each method solves a system with a known solution (symmetric positive definite, so
    CG applies too) to its tolerance, and returns 0 at once for b = 0. GMRES(3) restarts,
    and solves a singular but consistent system without a NaN from the breakdown."""
    q = RNG.normal(size=(N, N))
    m = jnp.asarray(q @ q.T / N + np.eye(N))
    want = jnp.asarray(RNG.normal(size=N))
    solver = LinearSolver(method, tol=1e-10, restart=3)
    run = jax.jit(lambda m, b: solver.solve(True)(lambda v: m @ v, b))
    np.testing.assert_allclose(run(m, m @ want), want, rtol=1e-8)
    assert not np.any(np.asarray(run(m, jnp.zeros(N))))
    if method == "gmres":
        singular = jnp.diag(jnp.arange(N) * 1.0)  # the first row and column are zero
        got = run(singular, singular @ want)
        np.testing.assert_allclose(got[1:], want[1:], atol=1e-8)
        assert np.isfinite(float(got[0]))


def test_bad_options():
    with pytest.raises(ValueError, match="method"):
        LinearSolver("lu")
    with pytest.raises(ValueError, match="tol"):
        LinearSolver(tol=0.0)
    with pytest.raises(ValueError, match="restart"):
        LinearSolver(restart=0)
    with pytest.raises(TypeError, match="solver"):
        implicit_solution(lambda th: th, lambda x, th: x, 1.0, solver="gmres")  # type: ignore
    T = fixed_point_map(lambda x: jnp.sum(x**2))
    with pytest.raises(ValueError, match="at most one regularizer"):
        T(jnp.ones(2), ((), (so.prox.l1(1.0), so.prox.l2(1.0)), 0.1))
