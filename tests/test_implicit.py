"""Implicit differentiation of solutions (subopt._implicit), with a solver written here.

References: closed forms (ridge, the Lasso on its support), central finite differences in
float64, and jaxopt's ProximalGradient(implicit_diff=True). The solver is a small compiled
FISTA with restart, so these tests check the machinery independently of `subopt.run`.
"""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

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


# --------------------------------------------------------------------------- closed forms


def test_ridge_closed_form():
    """dx/dlam = -(A'A/m + lam I)^-1 x*, dx/db and dx/dA: the closed form differentiated."""
    a, b, lam = jnp.array(A), jnp.array(B), 0.3

    def ridge(x, a, b, lam):
        return least_squares(x, a, b) + 0.5 * lam * jnp.dot(x, x)

    def exact(a, b, lam):
        return jnp.linalg.solve(a.T @ a / M + lam * jnp.eye(N), a.T @ b / M)

    t = 1 / (lipschitz(A) + lam)

    def x_star(a, b, lam):
        theta = ((a, b, lam), so.prox.zero(), jnp.asarray(t))
        return solution(ridge, theta, jnp.zeros(N), solver=LinearSolver(tol=1e-10))

    @jax.jit
    def run(a, b, lam):  # one program: the solution, jacrev in (a, b, lam), jacfwd in lam
        return (
            x_star(a, b, lam),
            jax.jacrev(x_star, (0, 1, 2))(a, b, lam),
            jax.jacfwd(x_star, 2)(a, b, lam),
        )

    x, (da, db, dlam), dlam_fwd = run(a, b, lam)
    np.testing.assert_allclose(x, exact(a, b, lam), atol=1e-10)
    h = a.T @ a / M + lam * jnp.eye(N)
    for got in (dlam, dlam_fwd):
        np.testing.assert_allclose(got, -jnp.linalg.solve(h, x), rtol=1e-7, atol=1e-10)
    da_exact, db_exact = jax.jacrev(exact, (0, 1))(a, b, lam)
    np.testing.assert_allclose(da, da_exact, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(db, db_exact, rtol=1e-6, atol=1e-9)


def lasso_x(lam, b, dtype, tol):
    a = jnp.asarray(A, dtype)
    t = jnp.asarray(1 / lipschitz(A), dtype)
    theta = ((a, b), so.prox.l1(lam), t)
    return solution(least_squares, theta, jnp.zeros(N, dtype), tol=tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lasso_support_formula(dtype):
    """dx_S/dlam = -(A_S'A_S/m)^-1 sign(x_S), 0 off S, at a point away from every kink."""
    dtype = jnp.dtype(dtype)
    tol = 1e-12 if dtype == jnp.float64 else 1e-5
    b = jnp.asarray(B, dtype)
    lam = jnp.asarray(0.1 * np.abs(A.T @ B / M).max(), dtype)
    run = jax.jit(
        lambda lam, b: (
            lasso_x(lam, b, dtype, tol),
            jax.jacrev(lasso_x)(lam, b, dtype, tol),
            jax.jacfwd(lasso_x)(lam, b, dtype, tol),
        )
    )
    x, rev, fwd = run(lam, b)
    grad = A.T @ (A @ np.asarray(x, np.float64) - B) / M
    support = np.abs(np.asarray(x)) > 0
    # off the kinks: clear margins on the support and on the dead zone |grad_j| < lam
    assert 2 <= support.sum() < N
    assert np.abs(np.asarray(x))[support].min() > 1e-3
    assert np.abs(grad[~support]).max() < 0.9 * float(lam)
    a_s = A[:, support]
    expected = np.zeros(N)
    expected[support] = -np.linalg.solve(a_s.T @ a_s / M, np.sign(np.asarray(x)[support]))
    rtol = 1e-8 if dtype == jnp.float64 else 2e-3
    for got in (rev, fwd):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * np.abs(expected).max())
        assert np.all(np.asarray(got)[~support] == 0)


# --------------------------------------------------------------------------- finite differences


def _nnls():
    x0 = jnp.zeros(N)
    t = jnp.asarray(1 / lipschitz(A))

    def x_star(b):
        return solution(
            least_squares,
            ((jnp.array(A), b), so.prox.nonnegative(), t),
            x0,
            solver=LinearSolver(tol=1e-10),
        )

    return x_star, jnp.array(B)


def _group_lasso():
    groups = {"a": slice(0, 4), "b": slice(4, 8), "c": slice(8, 12)}
    t = jnp.asarray(1 / lipschitz(A))

    def fun(x, a, b):
        return least_squares(jnp.concatenate([x["a"], x["b"], x["c"]]), a, b)

    x0 = {k: jnp.zeros(4) for k in groups}

    def x_star(theta):
        lam, b = theta
        return solution(
            fun,
            ((jnp.array(A), b), so.prox.group_l2(lam), t),
            x0,
            solver=LinearSolver("bicgstab", tol=1e-10),
        )

    return x_star, (jnp.asarray(0.15), jnp.array(B))


def _l1_logistic():
    y = np.sign(A @ np.where(np.arange(N) < 3, 1.0, 0.0) + 0.5 * RNG.normal(size=M))

    def fun(x, a, y):
        return jnp.mean(jnp.logaddexp(0.0, -y * (a @ x)))

    t = jnp.asarray(4 / lipschitz(A))

    def x_star(theta):
        lam, a = theta
        return solution(
            fun,
            ((a, jnp.array(y)), so.prox.l1(lam), t),
            jnp.zeros(N),
            solver=LinearSolver("normal_cg", tol=1e-10),
        )

    return x_star, (jnp.asarray(0.03), jnp.array(A))


def _box_qp():
    q = RNG.normal(size=(N, N))
    p = q @ q.T / N + 0.5 * np.eye(N)
    c = RNG.normal(size=N) * 2

    def fun(x, c):
        return 0.5 * x @ (jnp.array(p) @ x) - c @ x

    t = jnp.asarray(1 / np.linalg.eigvalsh(p).max())

    def x_star(theta):
        lo, hi, c = theta
        return solution(
            fun,
            ((c,), so.prox.box(lo, hi), t),
            jnp.zeros(N),
            solver=LinearSolver("gmres", tol=1e-10, restart=5),
        )

    return x_star, (jnp.full(N, -0.5), jnp.full(N, 0.6), jnp.array(c))


PROBLEMS = {
    "nnls": _nnls,
    "group_lasso": _group_lasso,
    "l1_logistic": _l1_logistic,
    "box_qp": _box_qp,
}


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_finite_differences(name):
    """The Jacobian by reverse mode agrees with central differences to 1e-6 (float64).

    Each problem uses another linear solver (GMRES, GMRES(5), BiCGStab, CG on the normal
    equations), so every method's transposed solve is checked too.
    """
    x_star, theta = PROBLEMS[name]()
    keys = jax.random.split(jax.random.key(1), len(jax.tree.leaves(theta)))
    direction = jax.tree.unflatten(
        jax.tree.structure(theta),
        [jax.random.normal(k, jnp.shape(v)) for k, v in zip(keys, jax.tree.leaves(theta))],
    )
    h = 1e-5

    def flat_x(theta):
        return ravel_pytree(x_star(theta))[0]

    @jax.jit
    def run(theta, d):  # one program: x*, central differences, the Jacobian by jacrev
        shifted = jax.tree.map(lambda u, v: jnp.stack([u + h * v, u - h * v]), theta, d)
        plus_minus = jax.vmap(flat_x)(shifted)
        jac = jax.jacrev(flat_x)(theta)
        jd = sum(
            jnp.tensordot(j, v, v.ndim) for j, v in zip(jax.tree.leaves(jac), jax.tree.leaves(d))
        )
        return flat_x(theta), (plus_minus[0] - plus_minus[1]) / (2 * h), jd

    x, fd, jd = run(theta, direction)
    if name in ("nnls", "box_qp"):  # the constraints are active somewhere, not everywhere
        active = (x == 0) if name == "nnls" else (x == -0.5) | (x == 0.6)
        assert 0 < int(jnp.sum(active)) < x.size
    scale = float(jnp.max(jnp.abs(fd)))
    assert scale > 1e-3
    np.testing.assert_allclose(jd, fd, rtol=1e-6, atol=1e-6 * scale)


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


# --------------------------------------------------------------------------- transforms


def test_jit_vmap_and_compile_once():
    """A new lambda reuses the compiled forward and backward programs; vmap equals a loop."""
    a, b = jnp.array(A), jnp.array(B)
    t = jnp.asarray(1 / lipschitz(A))

    def loss(lam):
        x = solution(least_squares, ((a, b), so.prox.l1(lam), t), jnp.zeros(N), tol=1e-10)
        return _validation(x, jnp.array(A_VAL), jnp.array(B_VAL))

    forward = jax.jit(chex.assert_max_traces(loss, n=1))

    def value_and_grad(lam):
        return jax.value_and_grad(loss)(lam)

    backward = jax.jit(chex.assert_max_traces(value_and_grad, n=1))
    lams = jnp.array([0.02, 0.05, 0.1])
    loop = [backward(lam) for lam in lams]
    for lam, (value, _) in zip(lams, loop):
        np.testing.assert_allclose(forward(lam), value, rtol=1e-12)
    values, grads = jax.jit(jax.vmap(jax.value_and_grad(loss)))(lams)
    np.testing.assert_allclose(values, [v for v, _ in loop], rtol=1e-10)
    np.testing.assert_allclose(grads, [g for _, g in loop], rtol=1e-6)
    # and the gradient is right: central differences of the loss
    h = 1e-6
    fd = [(forward(lam + h) - forward(lam - h)) / (2 * h) for lam in lams]
    np.testing.assert_allclose(grads, fd, rtol=1e-5)


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
