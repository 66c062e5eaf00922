"""Derivatives of `subopt.run` and `subopt.sweep` solutions by implicit differentiation.

References: the Lasso's support formula and the ridge closed form, central differences in
float64 for every regularizer hyperparameter, and a loop of single runs for sweeps.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

import subopt as so

M, N = 30, 12
RNG = np.random.default_rng(3)
A = RNG.normal(size=(M, N))
B = A @ np.where(np.arange(N) < 4, 2.0, 0.0) + 0.3 * RNG.normal(size=M)
A_VAL = RNG.normal(size=(20, N))
B_VAL = A_VAL @ np.where(np.arange(N) < 4, 2.0, 0.0) + 0.3 * RNG.normal(size=20)
L = float(np.linalg.eigvalsh(A.T @ A / M).max())
LAM = 0.1 * float(np.abs(A.T @ B / M).max())


def least_squares(x, a, b):
    r = a @ x - b
    return 0.5 * jnp.dot(r, r) / b.shape[0]


def ridge(x, a, b, lam):
    return least_squares(x, a, b) + 0.5 * lam * jnp.dot(x, x)


def validation(x):
    return jnp.mean((jnp.asarray(A_VAL, x.dtype) @ x - jnp.asarray(B_VAL, x.dtype)) ** 2)


def lasso(lam, a, b, *, optimizer="fista", max_steps=20000, tol=1e-12, solver=None):
    reg = so.prox.l1(lam)
    opt = {
        "fista": lambda: so.fista(reg, 1 / L),
        "proximal_gradient": lambda: so.proximal_gradient(reg, 1 / L),
        "apply_prox": lambda: optax.chain(optax.sgd(1 / L), so.apply_prox(reg, 1 / L)),
    }[optimizer]()
    solver = so.LinearSolver(tol=1e-10) if solver is None else solver
    return so.run(
        opt,
        least_squares,
        jnp.zeros(N, a.dtype),
        a,
        b,
        max_steps=max_steps,
        tol=tol,
        linear_solver=solver,
    )


@jax.jit
def fista_derivatives(lam, a, b):
    """One program for several tests: the run, the jvp of (params, value) in lam, and the
    hypergradient of the validation loss in (lam, b) by reverse mode."""

    def params_value(lam):
        res = lasso(lam, a, b)
        return (res.params, res.value), res

    _, (dparams, dvalue), res = jax.jvp(params_value, (lam,), (jnp.ones_like(lam),), has_aux=True)
    hyper = jax.grad(lambda lam, b: validation(lasso(lam, a, b).params), (0, 1))(lam, b)
    return res, dparams, dvalue, hyper


@jax.jit
def other_derivatives(lam, a, b):
    tangent = jnp.ones_like(lam)
    return [
        jax.jvp(lambda lam, o=o: lasso(lam, a, b, optimizer=o).params, (lam,), (tangent,))[1]
        for o in ("proximal_gradient", "apply_prox")
    ]


def test_lasso_support_formula():
    """dx_S/dlam = -(A_S'A_S/m)^-1 sign(x_S), 0 off S, for FISTA, ISTA and sgd + apply_prox
    (forward mode), and for FISTA's validation hypergradient (reverse mode); d value/dlam =
    ||x*||_1 (the envelope theorem)."""
    a, b = jnp.asarray(A), jnp.asarray(B)
    res, dparams, dvalue, (dlam, _) = fista_derivatives(LAM, a, b)
    assert int(res.status) == so.Status.CONVERGED
    x = np.asarray(res.params)
    support = x != 0
    grad = A.T @ (A @ x - B) / M
    assert 2 <= support.sum() < N and np.abs(x[support]).min() > 1e-3
    assert np.abs(grad[~support]).max() < 0.9 * LAM  # off the kinks of the path
    expected = np.zeros(N)
    a_s = A[:, support]
    expected[support] = -np.linalg.solve(a_s.T @ a_s / M, np.sign(x[support]))
    for got in (dparams, *other_derivatives(LAM, a, b)):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)
    dval = jax.grad(validation)(jnp.asarray(x))
    np.testing.assert_allclose(dlam, dval @ expected, rtol=1e-6)
    np.testing.assert_allclose(dvalue, np.abs(x).sum(), rtol=1e-8)


def test_float32_hypergradient():
    a, b = jnp.asarray(A, jnp.float32), jnp.asarray(B, jnp.float32)
    lam = jnp.asarray(LAM, jnp.float32)
    g32 = jax.jit(jax.grad(lambda lam: validation(lasso(lam, a, b, tol=1e-5).params)))(lam)
    g64 = fista_derivatives(LAM, jnp.asarray(A), jnp.asarray(B))[-1][0]
    assert g32.dtype == jnp.float32
    np.testing.assert_allclose(g32, g64, rtol=2e-3)


def test_ridge_data_and_zero_derivatives():
    """Gradient descent (CG on t H): dx/dA, dx/db, dx/dlam from the closed form; x0, the step,
    tol get zero derivatives; a run stopped early is differentiated at its point."""
    a, b = jnp.asarray(A), jnp.asarray(B)

    def exact(a, b, lam):
        return jnp.linalg.solve(a.T @ a / M + lam * jnp.eye(N), a.T @ b / M)

    def sol(a, b, lam, x0, lr, tol, max_steps=20000):
        opt = so.gradient_descent(lr)
        return so.run(
            opt,
            ridge,
            x0,
            a,
            b,
            lam,
            tol=tol,
            max_steps=max_steps,
            linear_solver=so.LinearSolver(tol=1e-10),
        ).params

    lam, lr = 0.3, 1 / (L + 0.3)
    x0 = jnp.zeros(N)

    @jax.jit
    def run(a, b, lam, x0, lr, tol):  # and 3 steps from x0 = 0, far from x*
        early = lambda lam: sol(a, b, lam, x0, lr, tol, max_steps=3)  # noqa: E731
        x3, dx3 = jax.jvp(early, (lam,), (jnp.ones_like(lam),))
        return jax.jacrev(sol, range(6))(a, b, lam, x0, lr, tol), x3, dx3

    (da, db, dlam, dx0, dlr, dtol), x3, dx3 = run(a, b, lam, x0, lr, 1e-12)
    ea, eb, elam = jax.jacrev(exact, range(3))(a, b, lam)
    for got, want in ((da, ea), (db, eb), (dlam, elam)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-8)
    for zero in (dx0, dlr, dtol):
        assert not np.any(np.asarray(zero))
    # the run stopped after 3 steps is differentiated as if x_3 were x*: -H^-1 x_3
    h = A.T @ A / M + lam * np.eye(N)
    assert np.abs(np.asarray(x3) - np.asarray(exact(a, b, lam))).max() > 1e-2
    np.testing.assert_allclose(dx3, -np.linalg.solve(h, np.asarray(x3)), rtol=1e-5, atol=1e-8)


# --------------------------------------------------------------------------- finite differences
# name -> (objective, x0, theta, (theta -> (args, regularizer)), linear solver): data and
# hyperparameters held in the optimizer's state, each problem with another linear solver


def _quadratic(x, p, c):
    return 0.5 * x @ (p @ x) - c @ x


def _logistic(x, a, y):
    return jnp.mean(jnp.logaddexp(0.0, -y * (a @ x)))


P = RNG.normal(size=(N, N))
P = P @ P.T / N + 0.5 * np.eye(N)
Y = np.sign(A @ np.where(np.arange(N) < 3, 1.0, 0.0) + 0.5 * RNG.normal(size=M))
GROUPS = {"a": jnp.zeros(4), "b": jnp.zeros(4), "c": jnp.zeros(4)}


def _grouped(x, a, b):
    return least_squares(jnp.concatenate([x["a"], x["b"], x["c"]]), a, b)


PROBLEMS = {
    "nnls": (
        least_squares,
        jnp.zeros(N),
        jnp.asarray(B),
        lambda b: ((jnp.asarray(A), b), so.prox.nonnegative()),
        "gmres",
        1 / L,
    ),
    "l1_logistic": (
        _logistic,
        jnp.zeros(N),
        (jnp.asarray(0.03), jnp.asarray(A)),
        lambda th: ((th[1], jnp.asarray(Y)), so.prox.l1(th[0])),
        "bicgstab",
        4 / L,
    ),
    "box_qp": (
        _quadratic,
        jnp.zeros(N),
        (jnp.full(N, -0.3), jnp.full(N, 0.4), jnp.asarray(RNG.normal(size=N) * 2)),
        lambda th: ((jnp.asarray(P), th[2]), so.prox.box(th[0], th[1])),
        "gmres",
        1 / float(np.linalg.eigvalsh(P).max()),
    ),
    "elastic_net": (
        least_squares,
        jnp.zeros(N),
        (jnp.asarray(0.1), jnp.asarray(0.5)),
        lambda th: (
            (jnp.asarray(A), jnp.asarray(B)),
            so.prox.elastic_net(th[0], th[1]),
        ),
        "normal_cg",
        1 / L,
    ),
    "l2_ball": (
        least_squares,
        jnp.zeros(N),
        jnp.asarray(1.5),
        lambda r: ((jnp.asarray(A), jnp.asarray(B)), so.prox.l2_ball(r)),
        "bicgstab",
        1 / L,
    ),
    "group_l2": (
        _grouped,
        GROUPS,
        jnp.asarray(0.2),
        lambda lam: ((jnp.asarray(A), jnp.asarray(B)), so.prox.group_l2(lam)),
        "bicgstab",
        1 / L,
    ),
}


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_finite_differences(name):
    """jvp (odd problems: vjp) of x* through so.run(so.fista(...)) agrees with central
    differences to 1e-6 relative (float64), for data and every hyperparameter kind."""
    fun, x0, theta, build, method, t = PROBLEMS[name]
    solver = so.LinearSolver(method, tol=1e-11)

    def x_star(theta):
        args, reg = build(theta)
        res = so.run(
            so.fista(reg, t),
            fun,
            x0,
            *args,
            max_steps=50000,
            tol=1e-13,
            linear_solver=solver,
        )
        return ravel_pytree(res.params)[0]

    keys = jax.random.split(jax.random.key(2), len(jax.tree.leaves(theta)))
    d = jax.tree.unflatten(
        jax.tree.structure(theta),
        [jax.random.normal(k, jnp.shape(v)) for k, v in zip(keys, jax.tree.leaves(theta))],
    )
    h = 1e-5
    reverse = sorted(PROBLEMS).index(name) % 2 == 1

    @jax.jit
    def run(theta, d):
        shifted = jax.tree.map(lambda u, v: jnp.stack([u + h * v, u - h * v]), theta, d)
        pm = jax.vmap(x_star)(shifted)
        if reverse:  # <J^T w, d> against <w, J d>
            x, pullback = jax.vjp(x_star, theta)
            w = jnp.cos(jnp.arange(x.size) * 1.0)
            pulled = pullback(w)[0]
            dot = sum(jnp.vdot(u, v) for u, v in zip(jax.tree.leaves(pulled), jax.tree.leaves(d)))
            return x, pm, w, dot
        x, jd = jax.jvp(x_star, (theta,), (d,))
        return x, pm, jnp.cos(jnp.arange(x.size) * 1.0), jd

    x, pm, w, got = run(theta, d)
    fd = (pm[0] - pm[1]) / (2 * h)
    if name in ("nnls", "box_qp", "l2_ball"):  # active constraints, not everywhere
        active = {
            "nnls": x == 0,
            "box_qp": (x == -0.3) | (x == 0.4),
            "l2_ball": jnp.asarray(jnp.linalg.norm(x) > 1.5 - 1e-9),
        }[name]
        assert jnp.any(active) and not (name != "l2_ball" and jnp.all(active))
    scale = float(jnp.max(jnp.abs(fd)))
    assert scale > 1e-3
    if reverse:
        np.testing.assert_allclose(got, jnp.vdot(w, fd), rtol=1e-6, atol=1e-9 * scale)
    else:
        np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-6 * scale)


def test_sweep_vmap_and_compile_once():
    """grad of a validation loss summed over a lambda grid in one so.sweep equals the loop
    of single runs; a new grid and new data reuse the compiled backward program."""
    a, b = jnp.asarray(A), jnp.asarray(B)

    def total(lams, a, b):
        res = so.sweep(lambda lam: lasso(lam, a, b), lam=lams)
        return jnp.sum(jax.vmap(validation)(res.params))

    def grad_total(lams, a, b):
        return jax.grad(total, (0, 2))(lams, a, b)

    backward = jax.jit(chex.assert_max_traces(grad_total, n=1))
    lams = LAM * jnp.array([0.5, 1.0, 2.0])
    dlams, db = backward(lams, a, b)
    loop = [fista_derivatives(lam, a, b)[-1] for lam in lams]
    np.testing.assert_allclose(dlams, [g for g, _ in loop], rtol=1e-6)
    np.testing.assert_allclose(db, sum(g for _, g in loop), rtol=1e-6, atol=1e-10)
    backward(lams * 1.1, a, b + 0.01)  # no new trace (assert_max_traces)


@pytest.mark.parametrize("name", ["subgradient_descent", "polyak_subgradient", "optax_adam"])
def test_no_fixed_point_map_raises(name):
    opt = {
        "subgradient_descent": lambda: so.subgradient_descent(0.01),
        "polyak_subgradient": lambda: so.polyak_subgradient(0.0),
        "optax_adam": lambda: optax.adam(0.01),
    }[name]()
    state = {
        "subgradient_descent": "SubgradientState",
        "polyak_subgradient": "PolyakState",
        "optax_adam": "ScaleByAdamState",
    }[name]

    def value(c):
        return so.run(
            opt,
            least_squares,
            jnp.zeros(N),
            jnp.asarray(A),
            c * jnp.asarray(B),
            max_steps=5,
        ).value

    with pytest.raises(TypeError, match=f"{state}.*no fixed-point map.*so.fista"):
        jax.grad(value)(1.0)
    with pytest.raises(TypeError, match="no fixed-point map"):
        jax.jvp(value, (1.0,), (1.0,))
