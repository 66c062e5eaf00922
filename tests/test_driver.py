"""so.run, so.gradient_descent and statuses, against closed forms and scikit-learn."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import TraceCounter

import subopt as so

# A fixed SPD quadratic with a known minimiser: f(x) = 1/2 x^T Q x - c^T x, x* = Q^{-1} c.
_rng = np.random.default_rng(0)
_M = _rng.standard_normal((5, 5))
Q_NP = _M @ _M.T + np.eye(5)
C_NP = _rng.standard_normal(5)
L_Q = float(np.linalg.eigvalsh(Q_NP).max())


def quadratic(x):
    q = jnp.asarray(Q_NP, x.dtype)
    c = jnp.asarray(C_NP, x.dtype)
    return 0.5 * x @ q @ x - c @ x


def test_quadratic_reaches_closed_form_minimiser(dtype):
    res = so.run(
        so.gradient_descent(1.0 / L_Q),
        quadratic,
        jnp.zeros(5, dtype),
        max_steps=5000,
        tol=1e-4 if dtype == jnp.float32 else 1e-10,
    )
    x_star = np.linalg.solve(Q_NP, C_NP)
    assert res.status == so.Status.CONVERGED
    assert res.params.dtype == dtype and res.value.dtype == dtype
    assert res.stationarity.dtype == dtype
    np.testing.assert_allclose(res.params, x_star, rtol=1e-3 if dtype == jnp.float32 else 1e-9)
    np.testing.assert_allclose(res.value, quadratic(jnp.asarray(x_star, dtype)), rtol=1e-5)
    assert res.stationarity <= (1e-4 if dtype == jnp.float32 else 1e-10)


def test_logistic_regression_matches_sklearn_objective():
    from sklearn.linear_model import LogisticRegression

    p = so.problems.logistic_regression(200, 5, dtype=jnp.float64)
    res = so.run(so.gradient_descent(1.0 / p.lipschitz), p.fun, p.x0, max_steps=20000, tol=1e-10)
    assert res.status == so.Status.CONVERGED
    X, y = np.asarray(p.data["X"]), np.asarray(p.data["y"])
    clf = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10000).fit(X, y)
    ref = p.fun({"w": jnp.asarray(clf.coef_[0]), "b": jnp.asarray(clf.intercept_[0])})
    np.testing.assert_allclose(res.value, ref, rtol=1e-6)
    np.testing.assert_allclose(res.params["w"], clf.coef_[0], rtol=1e-4, atol=1e-5)


def test_hand_derived_logistic_gradient_matches_autodiff():
    # DIGEST seed 002: grad = -(1/m) sum (y - yhat) [x; 1].
    p = so.problems.logistic_regression(50, 3, dtype=jnp.float64)
    params = {"w": jnp.array([0.3, -0.2, 0.1]), "b": jnp.array(0.05)}
    X, y = p.data["X"], p.data["y"]
    yhat = jax.nn.sigmoid(X @ params["w"] + params["b"])
    g = jax.grad(p.fun)(params)
    np.testing.assert_allclose(g["w"], -(X.T @ (y - yhat)) / 50, rtol=1e-12)
    np.testing.assert_allclose(g["b"], -jnp.mean(y - yhat), rtol=1e-12)


def test_pytree_params_mixed_shapes_and_dtypes_kept(dtype):
    target = {"a": jnp.arange(6.0).reshape(2, 3), "b": (jnp.array(2.0), jnp.ones(4))}

    def f(p):
        d = jax.tree_util.tree_map(lambda u, v: jnp.sum((u - v) ** 2), p, target)
        return sum(jax.tree_util.tree_leaves(d))

    x0 = jax.tree_util.tree_map(lambda t: jnp.zeros_like(t, dtype), target)
    res = so.run(so.gradient_descent(0.25), f, x0, tol=1e-5)
    assert res.status == so.Status.CONVERGED
    for got, want in zip(jax.tree_util.tree_leaves(res.params), jax.tree_util.tree_leaves(target)):
        assert got.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_vmap_over_learning_rates_equals_loop_without_retrace():
    f = TraceCounter(quadratic)
    lrs = jnp.linspace(0.02, 1.0 / L_Q, 8)
    x0 = jnp.zeros(5)

    def solve(lr):
        return so.run(so.gradient_descent(lr), f, x0, max_steps=300, tol=1e-8)

    batched = jax.vmap(solve)(lrs)
    loop = [solve(float(lr)) for lr in lrs]
    n_after_first = f.count
    for i, r in enumerate(loop):
        np.testing.assert_allclose(batched.params[i], r.params, rtol=1e-12, atol=1e-14)
        assert int(batched.num_steps[i]) == int(r.num_steps)
        assert int(batched.status[i]) == int(r.status)
    # Further new values: the objective is not traced again.
    for lr in (0.011, 0.013, 0.017):
        solve(lr)
    solve(jnp.asarray(0.019))
    assert f.count == n_after_first


def test_statuses_converged_and_max_steps():
    x0 = jnp.zeros(5)
    conv = so.run(so.gradient_descent(1.0 / L_Q), quadratic, x0, max_steps=5000, tol=1e-8)
    assert conv.status == so.Status.CONVERGED and conv.num_steps < 5000
    capped = so.run(so.gradient_descent(1.0 / L_Q), quadratic, x0, max_steps=3, tol=1e-8)
    assert capped.status == so.Status.MAX_STEPS and capped.num_steps == 3
    assert capped.stationarity > 1e-8
    # A stationary start takes no step.
    x_star = jnp.asarray(np.linalg.solve(Q_NP, C_NP))
    at_opt = so.run(so.gradient_descent(0.1), quadratic, x_star, tol=1e-6)
    assert at_opt.status == so.Status.CONVERGED and at_opt.num_steps == 0


def test_nan_mid_run_returns_last_finite_iterate():
    # The objective is NaN once x[0] passes 2.5; GD from 0 towards 10 crosses it.
    def f(x):
        val = jnp.sum((x - 10.0) ** 2)
        return jnp.where(x[0] > 2.5, jnp.nan, val)

    res = so.run(so.gradient_descent(0.05), f, jnp.zeros(2), max_steps=100, record=True)
    assert res.status == so.Status.NONFINITE
    assert np.isfinite(res.value) and np.all(np.isfinite(res.params))
    assert res.params[0] <= 2.5
    np.testing.assert_allclose(res.value, f(res.params))
    # the returned iterate is the last one: one more step crosses the line
    assert res.params[0] + 0.05 * 2 * (10.0 - res.params[0]) > 2.5
    k = int(res.num_steps)
    assert np.all(np.isnan(res.history.value[k - 1 :]))
    assert np.all(np.isfinite(res.history.value[: k - 1]))


@jax.custom_jvp
def _zero_with_nan_slope(x):
    return jnp.zeros((), x.dtype)


@_zero_with_nan_slope.defjvp
def _zero_with_nan_slope_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return _zero_with_nan_slope(x), jnp.where(x[0] > 2.5, jnp.nan, 0.0) * jnp.sum(dx)


def test_nan_in_gradient_only_is_nonfinite():
    f = lambda x: jnp.sum((x - 10.0) ** 2) + _zero_with_nan_slope(x)  # noqa: E731
    res = so.run(so.gradient_descent(0.05), f, jnp.zeros(2), max_steps=100)
    assert res.status == so.Status.NONFINITE
    assert bool(jnp.all(jnp.isfinite(res.params))) and res.params[0] <= 2.5


def test_divergence_and_unbounded_below():
    x0 = jnp.ones(5)
    big = so.run(so.gradient_descent(3.0 / L_Q), quadratic, x0, max_steps=10000)
    assert big.status == so.Status.DIVERGED and big.num_steps < 10000
    assert np.all(np.isfinite(big.params))
    down = so.run(so.gradient_descent(0.5), lambda x: -jnp.sum(x**2), x0, max_steps=10000)
    assert down.status in (so.Status.DIVERGED, so.Status.NONFINITE)
    assert np.all(np.isfinite(down.params))
    overflow = so.run(so.gradient_descent(1.0), lambda x: -jnp.sum(jnp.exp(x)), x0, max_steps=10000)
    assert overflow.status in (so.Status.DIVERGED, so.Status.NONFINITE)
    assert np.all(np.isfinite(overflow.params))


def test_history_semantics():
    res = so.run(so.gradient_descent(1.0 / L_Q), quadratic, jnp.zeros(5), max_steps=50, record=True)
    k = int(res.num_steps)
    assert res.history.value.shape == (50,)
    # entry k-1 is measured at the final iterate x_k
    np.testing.assert_allclose(res.history.value[k - 1], res.value)
    np.testing.assert_allclose(res.history.stationarity[k - 1], res.stationarity)
    # GD with step 1/L is monotone on a convex quadratic
    assert np.all(np.diff(np.asarray(res.history.value[:k])) <= 1e-12)


def test_schedule_learning_rate_and_chain():
    sched = so.schedules.inverse_sqrt(1.0 / L_Q)
    res = so.run(so.gradient_descent(sched), quadratic, jnp.zeros(5), max_steps=20000, tol=1e-6)
    assert res.status == so.Status.CONVERGED
    chained = optax.chain(optax.clip_by_global_norm(10.0), so.gradient_descent(1.0 / L_Q))
    res2 = so.run(chained, quadratic, jnp.zeros(5), max_steps=5000, tol=1e-8)
    assert res2.status == so.Status.CONVERGED
    np.testing.assert_allclose(res2.params, np.linalg.solve(Q_NP, C_NP), rtol=1e-6)


def test_run_with_optax_adam_and_plain_gradient_transformation():
    res = so.run(optax.adam(0.05), quadratic, jnp.zeros(5), max_steps=5000, tol=1e-6)
    assert res.status == so.Status.CONVERGED
    np.testing.assert_allclose(res.params, np.linalg.solve(Q_NP, C_NP), rtol=1e-4, atol=1e-5)
    plain = optax.GradientTransformation(optax.sgd(0.05).init, optax.sgd(0.05).update)
    res2 = so.run(plain, quadratic, jnp.zeros(5), max_steps=5000, tol=1e-6)
    assert res2.status == so.Status.CONVERGED


def test_hand_written_optax_loop_and_extra_args_ignored():
    opt = so.gradient_descent(1.0 / L_Q)

    @jax.jit
    def step(x, state):
        g = jax.grad(quadratic)(x)
        updates, state = opt.update(g, state, x, value=quadratic(x), unused=1)
        return optax.apply_updates(x, updates), state

    x = jnp.zeros(5)
    state = opt.init(x)
    for _ in range(1000):
        x, state = step(x, state)
    np.testing.assert_allclose(x, np.linalg.solve(Q_NP, C_NP), rtol=1e-8)
    assert int(state.count) == 1000


def test_run_inside_jit_with_traced_hyperparameters():
    @jax.jit
    def solve(lr, tol):
        return so.run(so.gradient_descent(lr), quadratic, jnp.zeros(5), max_steps=5000, tol=tol)

    res = solve(1.0 / L_Q, 1e-8)
    assert res.status == so.Status.CONVERGED
    # a bad traced step cannot raise: the status tells the truth
    bad = solve(-1.0, 1e-8)
    assert bad.status == so.Status.INVALID


def test_user_exception_propagates_unchanged():
    class Boom(RuntimeError):
        pass

    def f(x):
        raise Boom("inside the objective")

    with pytest.raises(Boom, match="inside the objective"):
        so.run(so.gradient_descent(0.1), f, jnp.zeros(2))


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"fun": 3}, TypeError, "fun must be callable"),
        ({"fun": lambda x: x}, TypeError, "scalar"),
        ({"fun": lambda x: jnp.sum(x).astype(jnp.complex64)}, TypeError, "real"),
        ({"x0": jnp.zeros(2, jnp.int32)}, TypeError, "x0"),
        ({"x0": {"a": jnp.array([True])}}, TypeError, r"x0\['a'\]"),
        ({"x0": jnp.zeros(2, jnp.complex64)}, TypeError, "x0"),
        ({"x0": jnp.array([1.0, jnp.nan])}, ValueError, "NaN"),
        ({"max_steps": 0}, ValueError, "max_steps"),
        ({"max_steps": 2.5}, TypeError, "max_steps"),
        ({"tol": -1.0}, ValueError, "tol"),
        ({"tol": float("nan")}, ValueError, "tol"),
        ({"optimizer": "sgd"}, TypeError, "optimizer"),
    ],
)
def test_bad_input(kwargs, exc, match):
    args = {
        "optimizer": so.gradient_descent(0.1),
        "fun": lambda x: jnp.sum(x**2),
        "x0": jnp.ones(2),
    }
    args.update(kwargs)
    opt, fun, x0 = args.pop("optimizer"), args.pop("fun"), args.pop("x0")
    with pytest.raises(exc, match=match):
        so.run(opt, fun, x0, **args)


@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan"), float("inf"), "0.1"])
def test_bad_learning_rate(lr):
    with pytest.raises((ValueError, TypeError), match="learning_rate"):
        so.gradient_descent(lr)


def test_empty_params_converge_at_once():
    res = so.run(so.gradient_descent(0.1), lambda p: jnp.zeros(()), {})
    assert res.status == so.Status.CONVERGED and res.num_steps == 0 and res.params == {}
