"""ISTA, FISTA (restart, backtracking) and apply_prox against scikit-learn, cvxpy, scipy, rates."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import TraceCounter

import subopt as so

# One Lasso shared by most tests (same fun object: so.run compiles once per optimizer kind).
P = so.problems.lasso(50, 80, correlation=0.9, seed=3, dtype=jnp.float64)
A, B = np.asarray(P.data["A"]), np.asarray(P.data["b"])
LAM = P.data["lam"]
STEP = 1.0 / P.lipschitz
MAX = 50_000  # one max_steps for the runs on P, so they share compiled programs


def lasso_objective(x, lam=LAM):
    r = A @ x - B
    return 0.5 * r @ r / len(B) + lam * np.abs(x).sum()


def sklearn_lasso(lam=LAM):
    from sklearn.linear_model import Lasso

    est = Lasso(alpha=lam, fit_intercept=False, tol=1e-12, max_iter=1_000_000)
    return est.fit(A, B).coef_


X_SK = sklearn_lasso()
F_STAR = lasso_objective(X_SK)


SOLVERS = {
    "ista": lambda: so.proximal_gradient(P.reg, learning_rate=STEP),
    "fista-norestart": lambda: so.fista(P.reg, learning_rate=STEP, restart=False),
    "fista": lambda: so.fista(P.reg, learning_rate=STEP),
    "fista-backtracking": lambda: so.fista(P.reg, learning_rate=so.backtracking(1.0)),
}


@pytest.fixture(scope="module")
def lasso_runs():
    return {
        name: so.run(make(), P.fun, P.x0, max_steps=MAX, tol=1e-11)
        for name, make in SOLVERS.items()
    }


@pytest.mark.parametrize("name", list(SOLVERS))
def test_lasso_matches_sklearn(lasso_runs, name):
    res = lasso_runs[name]
    assert res.status == so.Status.CONVERGED
    x = np.asarray(res.params)
    # result.value is f + h at result.params
    np.testing.assert_allclose(res.value, lasso_objective(x), rtol=1e-14)
    assert (res.value - F_STAR) / F_STAR < 1e-9
    np.testing.assert_array_equal(x == 0, X_SK == 0)
    assert 0 < (x == 0).sum() < x.size
    np.testing.assert_allclose(x, X_SK, atol=1e-7)
    assert float(res.stationarity) <= 1e-11


def test_restart_beats_ista_on_ill_conditioned_lasso(lasso_runs):
    # P's design has AR(1) column correlation 0.9: ISTA and plain FISTA crawl.
    steps = {name: int(r.num_steps) for name, r in lasso_runs.items()}
    assert steps["fista"] * 8 < steps["ista"], steps
    assert steps["fista"] * 4 < steps["fista-norestart"], steps
    assert int(lasso_runs["fista"].opt_state.restarts) > 0


def test_elastic_net_matches_sklearn():
    from sklearn.linear_model import ElasticNet

    p = so.problems.elastic_net(50, 80, correlation=0.5, seed=3)
    res = so.run(
        so.fista(p.reg, learning_rate=1 / p.lipschitz), p.fun, p.x0, max_steps=50_000, tol=1e-11
    )
    assert res.status == so.Status.CONVERGED
    a, b = np.asarray(p.data["A"]), np.asarray(p.data["b"])
    l1, l2 = p.data["l1"], p.data["l2"]

    def obj(x):
        r = a @ x - b
        return 0.5 * r @ r / len(b) + l1 * np.abs(x).sum() + 0.5 * l2 * x @ x

    est = ElasticNet(
        alpha=p.data["alpha"],
        l1_ratio=p.data["l1_ratio"],
        fit_intercept=False,
        tol=1e-12,
        max_iter=1_000_000,
    ).fit(a, b)
    x = np.asarray(res.params)
    np.testing.assert_allclose(res.value, obj(x), rtol=1e-13)
    assert (obj(x) - obj(est.coef_)) / obj(est.coef_) < 1e-9
    np.testing.assert_array_equal(x == 0, est.coef_ == 0)
    assert (x == 0).sum() > 0


def test_group_lasso_matches_cvxpy():
    import cvxpy as cp

    p = so.problems.group_lasso(40, groups=6, group_size=3, seed=1)
    res = so.run(
        so.fista(p.reg, learning_rate=1 / p.lipschitz), p.fun, p.x0, max_steps=20_000, tol=1e-10
    )
    assert res.status == so.Status.CONVERGED
    a, b, lam = np.asarray(p.data["A"]), np.asarray(p.data["b"]), p.data["lam"]
    z = cp.Variable(a.shape[1])
    groups = [z[3 * g : 3 * g + 3] for g in range(6)]
    obj = cp.sum_squares(a @ z - b) / (2 * len(b)) + lam * sum(cp.norm(v, 2) for v in groups)
    cp.Problem(cp.Minimize(obj)).solve(solver=cp.CLARABEL)
    assert abs(float(res.value) - obj.value) / obj.value < 1e-7
    assert float(res.value) <= obj.value + 1e-9  # ours is at least as good
    x = np.concatenate([np.asarray(v) for v in res.params])
    np.testing.assert_allclose(x, z.value, atol=1e-4)
    zero_groups = [bool(np.all(v == 0)) for v in res.params]
    assert any(zero_groups) and not all(zero_groups)


def test_graphical_lasso_matches_cvxpy():
    import cvxpy as cp

    p = so.problems.graphical_lasso(5, 30, seed=2)
    res = so.run(
        so.fista(p.reg, learning_rate=so.backtracking()), p.fun, p.x0, max_steps=20_000, tol=1e-10
    )
    assert res.status == so.Status.CONVERGED
    s, lam = np.asarray(p.data["S"]), p.data["lam"]
    theta = cp.Variable((5, 5), symmetric=True)
    mask = 1 - np.eye(5)
    obj = -cp.log_det(theta) + cp.trace(s @ theta) + lam * cp.sum(cp.abs(cp.multiply(mask, theta)))
    cp.Problem(cp.Minimize(obj)).solve(solver=cp.CLARABEL)
    assert abs(float(res.value) - obj.value) / abs(obj.value) < 1e-7
    np.testing.assert_allclose(res.params, theta.value, atol=1e-4)
    assert np.all(np.linalg.eigvalsh(np.asarray(res.params)) > 0)
    assert (np.asarray(res.params) == 0).sum() > 0


def test_nonnegative_least_squares_matches_scipy():
    from scipy.optimize import nnls

    p = so.problems.nonnegative_least_squares(30, 12, seed=4)
    res = so.run(
        so.fista(p.reg, learning_rate=1 / p.lipschitz), p.fun, p.x0, max_steps=20_000, tol=1e-12
    )
    assert res.status == so.Status.CONVERGED
    x_ref, _ = nnls(np.asarray(p.data["A"]), np.asarray(p.data["b"]))
    x = np.asarray(res.params)
    assert np.all(x >= 0)
    np.testing.assert_array_equal(x == 0, x_ref == 0)
    np.testing.assert_allclose(x, x_ref, atol=1e-9)


def test_fista_rate_bound_without_restart():
    res = so.run(
        so.fista(P.reg, learning_rate=STEP, restart=False),
        P.fun,
        P.x0,
        max_steps=400,
        tol=0.0,
        record=True,
    )
    gaps = np.asarray(res.history.value) - F_STAR
    k = np.arange(1, 401)
    bound = 2 * P.lipschitz * np.sum(X_SK**2) / (k + 1) ** 2
    assert np.all(gaps <= bound + 1e-12)
    # the bound is not vacuous: FISTA gets well below ISTA's 1/k rate early on
    assert gaps[99] < P.lipschitz * np.sum(X_SK**2) / (2 * 100)
    # result.params is the prox output x_k (exact zeros), not the extrapolated point, and
    # result.value is f + h there
    x = res.params
    assert res.status == so.Status.MAX_STEPS
    assert int(jnp.sum(x == 0)) > 0
    np.testing.assert_array_equal(x, res.opt_state.x)
    np.testing.assert_allclose(res.value, P.fun(x) + LAM * jnp.sum(jnp.abs(x)), rtol=1e-14)
    np.testing.assert_allclose(res.history.value[-1], res.value, rtol=1e-14)
    # the stationarity is the gradient mapping the last step computed, never NaN
    assert np.isfinite(res.stationarity) and res.stationarity > 0


def test_ista_is_monotone():
    res = so.run(
        so.proximal_gradient(P.reg, learning_rate=STEP),
        P.fun,
        P.x0,
        max_steps=400,
        tol=0.0,
        record=True,
    )
    vals = np.asarray(res.history.value)
    assert np.all(np.diff(vals) <= 1e-14 * abs(F_STAR))
    assert vals[0] < float(P.fun(P.x0))


def test_stationarity_is_infinite_before_the_first_step_and_zero_at_a_solution():
    opt = so.fista(P.reg, learning_rate=STEP)
    state = opt.init(P.x0)
    assert np.isinf(state.info.stationarity) and np.isinf(state.gradient_mapping)
    x_star = jnp.asarray(X_SK)
    res = so.run(opt, P.fun, x_star, max_steps=MAX, tol=1e-8)
    assert res.status == so.Status.CONVERGED and int(res.num_steps) == 1
    # lam >= lam_max: the solution is exactly 0 and ISTA sees that in one step
    big = so.prox.l1(P.data["lam_max"] * 1.01)
    res0 = so.run(
        so.proximal_gradient(big, learning_rate=STEP), P.fun, P.x0, tol=0.0, max_steps=MAX
    )
    assert res0.status == so.Status.CONVERGED and int(res0.num_steps) == 1
    assert np.all(np.asarray(res0.params) == 0) and float(res0.stationarity) == 0.0


def test_vmap_over_lam_equals_loop_without_retrace():
    f = TraceCounter(P.fun)
    lams = jnp.asarray(LAM * np.array([0.5, 1.0, 2.0, 4.0]))

    def solve(lam, step=STEP):
        return so.run(
            so.fista(so.prox.l1(lam), learning_rate=step), f, P.x0, max_steps=3000, tol=1e-9
        )

    batched = jax.vmap(solve)(lams)
    loop = [solve(lam) for lam in lams]
    n_after = f.count
    for i, r in enumerate(loop):
        np.testing.assert_allclose(batched.params[i], r.params, rtol=1e-10, atol=1e-12)
        assert int(batched.num_steps[i]) == int(r.num_steps)
        assert int(batched.status[i]) == so.Status.CONVERGED
    # new lam and step values (Python floats, arrays) reuse the compiled program
    solve(0.123)
    solve(jnp.asarray(0.05), 0.9 * STEP)
    solve(LAM, jnp.asarray(0.5 * STEP))
    assert f.count == n_after
    # sklearn agrees at every lam
    for i, lam in enumerate(np.asarray(lams)):
        ref = lasso_objective(sklearn_lasso(lam), lam)
        assert abs(lasso_objective(np.asarray(batched.params[i]), lam) - ref) / ref < 1e-7


def test_vmap_over_backtracking_initial_steps_no_retrace():
    f = TraceCounter(P.fun)

    @jax.vmap
    def solve(initial):
        opt = so.proximal_gradient(P.reg, learning_rate=so.backtracking(initial, 0.5))
        return so.run(opt, f, P.x0, max_steps=MAX, tol=1e-8)

    out = solve(jnp.array([1.0, 10.0, 100.0]))
    n_after = f.count
    solve(jnp.array([3.0, 0.5, 7.0]))
    assert f.count == n_after
    assert np.all(np.asarray(out.status) == so.Status.CONVERGED)
    steps = np.asarray(out.opt_state.step)
    # backtracking finds a step near 1/L without knowing L, never above 2/L
    assert np.all(steps <= 2 * STEP) and np.all(steps >= 0.25 * STEP)
    for i in range(3):
        assert (float(out.value[i]) - F_STAR) / F_STAR < 1e-6


def test_backtracking_step_never_grows_and_needs_value_fn():
    opt = so.fista(P.reg, learning_rate=so.backtracking(50.0, 0.7))
    res = so.run(opt, P.fun, P.x0, max_steps=MAX, tol=1e-6)
    assert res.status == so.Status.CONVERGED
    assert float(res.opt_state.step) <= 50.0 and float(res.opt_state.step) > 0.7 * 0.5 * STEP
    # a hand-written loop must pass value_fn
    state = opt.init(P.x0)
    g = jax.grad(P.fun)(P.x0)
    with pytest.raises(TypeError, match="value_fn"):
        opt.update(g, state, P.x0)
    # with value_fn (and without value, which is then computed) it runs
    u, state = opt.update(g, state, P.x0, value_fn=P.fun)
    assert float(state.step) < 50.0
    # a fixed step needs no extra argument at all
    fixed = so.proximal_gradient(P.reg, learning_rate=STEP)
    u, _ = fixed.update(g, fixed.init(P.x0), P.x0)
    np.testing.assert_allclose(u, P.reg.prox(P.x0 - STEP * g, STEP) - P.x0)


def test_schedule_learning_rate():
    # steps t_k = a / (b + k), checked against ISTA written out in numpy
    sched = so.schedules.inverse_time(3 * STEP, 2.0)
    res = so.run(
        so.proximal_gradient(P.reg, learning_rate=sched), P.fun, P.x0, max_steps=5, tol=0.0
    )
    x = np.zeros(A.shape[1])
    for k in range(5):
        t = 3 * STEP / (2.0 + k)
        v = x - t * A.T @ (A @ x - B) / len(B)
        x = np.sign(v) * np.maximum(np.abs(v) - t * LAM, 0)
    np.testing.assert_allclose(res.params, x, rtol=1e-12, atol=1e-15)
    assert float(res.opt_state.step) == pytest.approx(3 * STEP / 6.0)
    # a user's callable schedule (not a pytree) works too
    res2 = so.run(
        so.fista(P.reg, learning_rate=lambda k: STEP), P.fun, P.x0, max_steps=MAX, tol=1e-9
    )
    assert res2.status == so.Status.CONVERGED
    assert (float(res2.value) - F_STAR) / F_STAR < 1e-9


def test_nan_mid_run_returns_last_finite_iterate():
    # f is NaN once x[0] passes 0.5; the unregularized minimiser is at x = 2.
    def f(x):
        return jnp.where(x[0] > 0.5, jnp.nan, jnp.sum((x - 2.0) ** 2))

    for opt in (
        so.fista(so.prox.l1(0.1), learning_rate=0.05),
        so.proximal_gradient(so.prox.l1(0.1), learning_rate=0.05),
    ):
        res = so.run(opt, f, jnp.zeros(2), max_steps=100)
        assert res.status == so.Status.NONFINITE
        assert np.all(np.isfinite(res.params)) and np.isfinite(res.value)
        assert float(res.params[0]) <= 0.5 and float(res.params[0]) > 0
        np.testing.assert_allclose(res.value, f(res.params) + 0.1 * jnp.sum(jnp.abs(res.params)))


def test_traced_nonpositive_step_never_converges():
    @jax.jit
    def solve(lr):
        return so.run(so.fista(P.reg, learning_rate=lr), P.fun, P.x0, max_steps=MAX, tol=1e-3)

    res = solve(-STEP)
    assert res.status != so.Status.CONVERGED
    assert not np.isnan(res.stationarity)


def test_dtypes_are_kept(dtype):
    p = so.problems.lasso(30, 20, seed=1, dtype=dtype)
    tol = 1e-4 if dtype == jnp.float32 else 1e-10
    for opt in (
        so.fista(p.reg, learning_rate=1 / p.lipschitz),
        so.proximal_gradient(p.reg, learning_rate=so.backtracking()),
    ):
        res = so.run(opt, p.fun, p.x0, max_steps=5000, tol=tol)
        assert res.status == so.Status.CONVERGED
        assert res.params.dtype == dtype and res.value.dtype == dtype
        assert res.stationarity.dtype == dtype
        assert res.opt_state.x.dtype == dtype and res.opt_state.step.dtype == dtype
        assert res.opt_state.gradient_mapping.dtype == dtype
        a, b = np.asarray(p.data["A"], np.float64), np.asarray(p.data["b"], np.float64)
        x = np.asarray(res.params, np.float64)
        ref = sklearn_objective(a, b, p.data["lam"])
        assert (0.5 * np.sum((a @ x - b) ** 2) / 30 + p.data["lam"] * np.abs(x).sum() - ref) <= (
            1e-5 if dtype == jnp.float32 else 1e-12
        ) * ref


def sklearn_objective(a, b, lam):
    from sklearn.linear_model import Lasso

    x = Lasso(alpha=lam, fit_intercept=False, tol=1e-12, max_iter=100_000).fit(a, b).coef_
    return 0.5 * np.sum((a @ x - b) ** 2) / len(b) + lam * np.abs(x).sum()


def test_pytree_params_sparse_logistic_regression():
    p = so.problems.sparse_logistic_regression(100, 20, seed=0)
    res = so.run(
        so.fista(p.reg, learning_rate=1 / p.lipschitz), p.fun, p.x0, max_steps=20000, tol=1e-10
    )
    assert res.status == so.Status.CONVERGED
    w, b = np.asarray(res.params["w"]), float(res.params["b"])
    assert (w == 0).sum() > 0 and b != 0.0  # the bias is not penalized
    # optimality: the min-norm subgradient vanishes
    g = so.min_norm_subgradient(p.fun, p.reg)(res.params)
    assert float(jnp.max(jnp.abs(g["w"]))) < 1e-9 and abs(float(g["b"])) < 1e-9


def test_apply_prox_in_optax_loop_reaches_lasso_optimum():
    opt = optax.chain(optax.sgd(STEP), so.apply_prox(so.prox.l1(LAM), STEP))

    @jax.jit
    def steps(x, state):
        def body(_, carry):
            x, state = carry
            u, state = opt.update(jax.grad(P.fun)(x), state, x)
            return optax.apply_updates(x, u), state

        return jax.lax.fori_loop(0, 500, body, (x, state))

    x, state = P.x0, opt.init(P.x0)
    for _ in range(20):
        x, state = steps(x, state)
    assert (lasso_objective(np.asarray(x)) - F_STAR) / F_STAR < 1e-9
    np.testing.assert_array_equal(np.asarray(x) == 0, X_SK == 0)
    # the same chain in so.run reports f + h and the gradient mapping
    res = so.run(opt, P.fun, P.x0, max_steps=MAX, tol=1e-10)
    assert res.status == so.Status.CONVERGED
    np.testing.assert_allclose(res.value, lasso_objective(np.asarray(res.params)), rtol=1e-13)
    assert (float(res.value) - F_STAR) / F_STAR < 1e-9
    # with heavy-ball momentum beta the fixed points are the Lasso's when the prox uses the
    # effective step lr / (1 - beta)
    mom = optax.chain(optax.sgd(0.5 * STEP, momentum=0.5), so.apply_prox(P.reg, STEP))
    res2 = so.run(mom, P.fun, P.x0, max_steps=MAX, tol=1e-9)
    assert (float(res2.value) - F_STAR) / F_STAR < 1e-8


def test_apply_prox_needs_params():
    opt = so.apply_prox(P.reg, STEP)
    with pytest.raises(TypeError, match="params"):
        opt.update(P.x0, opt.init(P.x0))


@pytest.mark.parametrize(
    "build, exc, match",
    [
        (lambda: so.fista("l1", learning_rate=0.1), TypeError, "reg"),
        (lambda: so.proximal_gradient(lambda x: x, learning_rate=0.1), TypeError, "reg"),
        (lambda: so.apply_prox(None, 0.1), TypeError, "reg"),
        (lambda: so.fista(so.prox.l1(1.0), learning_rate=0.0), ValueError, "learning_rate"),
        (lambda: so.fista(so.prox.l1(1.0), learning_rate=-1.0), ValueError, "learning_rate"),
        (
            lambda: so.proximal_gradient(so.prox.l1(1.0), learning_rate=float("nan")),
            ValueError,
            "learning_rate",
        ),
        (
            lambda: so.proximal_gradient(so.prox.l1(1.0), learning_rate="0.1"),
            TypeError,
            "learning_rate",
        ),
        (lambda: so.apply_prox(so.prox.l1(1.0), -0.1), ValueError, "learning_rate"),
        (lambda: so.apply_prox(so.prox.l1(1.0), so.backtracking()), TypeError, "learning_rate"),
        (lambda: so.fista(so.prox.l1(1.0), learning_rate=0.1, restart="yes"), TypeError, "restart"),
        (lambda: so.backtracking(0.0), ValueError, "initial"),
        (lambda: so.backtracking(1.0, 1.0), ValueError, "shrink"),
        (lambda: so.backtracking(1.0, -0.5), ValueError, "shrink"),
        (lambda: so.backtracking(1.0, 0.5, max_shrinks=0), ValueError, "max_shrinks"),
        (lambda: so.problems.lasso(lam=-1.0), ValueError, "lam"),
    ],
)
def test_bad_input(build, exc, match):
    with pytest.raises(exc, match=match):
        build()


def test_update_checks_structure():
    opt = so.fista(P.reg, learning_rate=STEP)
    with pytest.raises(ValueError, match="structure|shape"):
        opt.update(jnp.zeros(3), opt.init(P.x0), P.x0)
