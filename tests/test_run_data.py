"""so.run(optimizer, fun, x0, *args): data as traced arguments, extra args for any optax
optimizer (L-BFGS against scipy), and the argument checks of the new signature."""

import gc

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import TraceCounter, smooth_data

import subopt as so


def _least_squares(x, A, b):
    r = A @ x - b
    return 0.5 * jnp.dot(r, r) / A.shape[0]


LSQ = TraceCounter(_least_squares)


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def test_new_datasets_compile_once_and_keep_memory_flat():
    # 20 fits on new 2 MB datasets: one trace, and RSS within 50 MB of the first fit's
    rng = np.random.default_rng(0)
    m, n = 1000, 250
    opt = so.gradient_descent(0.1)

    def fit():
        A = jnp.asarray(rng.standard_normal((m, n)) / np.sqrt(m))
        b = jnp.asarray(rng.standard_normal(m))
        res = so.run(opt, LSQ, jnp.zeros(n), A, b, max_steps=20, tol=0.0)
        jax.block_until_ready(res)
        return res

    fit()
    gc.collect()
    traced, first = LSQ.count, _rss_mb()
    for _ in range(19):
        fit()
    gc.collect()
    assert LSQ.count == traced  # no new trace: no new compile
    assert _rss_mb() - first < 50.0


def test_vmap_over_datasets_equals_loop():
    rng = np.random.default_rng(1)
    A = jnp.asarray(rng.standard_normal((8, 30, 5)))
    b = jnp.asarray(rng.standard_normal((8, 30)))
    opt = so.fista(so.prox.l1(0.05), so.backtracking())
    solve = lambda A, b: so.run(opt, _least_squares, jnp.zeros(5), A, b, tol=1e-10)  # noqa: E731
    batch = jax.vmap(solve)(A, b)
    for i in range(8):
        one = solve(A[i], b[i])
        assert int(batch.status[i]) == int(one.status) == so.Status.CONVERGED
        np.testing.assert_allclose(batch.params[i], one.params, rtol=1e-9, atol=1e-12)


def test_problems_expose_their_data():
    p = so.problems.lasso(40, 10, seed=3)
    assert p.objective is not None
    a = so.run(so.fista(p.reg, 1 / p.lipschitz), p.objective, p.x0, *p.args, tol=1e-10)
    b = so.run(so.fista(p.reg, 1 / p.lipschitz), p.fun, p.x0, tol=1e-10)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-12, atol=1e-14)
    assert float(p.fun(p.x0)) == float(p.objective(p.x0, *p.args))


def test_data_args_are_traced_under_jit_and_differentiable():
    c, q = jnp.array([1.0, -2.0]), jnp.array([1.0, 0.5])

    @jax.jit
    def solution(c):
        return so.run(so.gradient_descent(0.5), smooth_data, jnp.zeros(2), c, q, tol=1e-12).params

    np.testing.assert_allclose(solution(c), c, rtol=1e-10)
    np.testing.assert_allclose(solution(2 * c), 2 * c, rtol=1e-10)


def test_plain_optax_update_is_wrapped_without_a_global_cache():
    f = TraceCounter(smooth_data)
    c, q = jnp.array([1.0, -2.0]), jnp.array([1.0, 0.5])
    opt = optax.GradientTransformation(optax.sgd(0.5).init, optax.sgd(0.5).update)
    so.run(opt, f, jnp.zeros(2), c, q)
    traced = f.count
    for _ in range(2):
        so.run(opt, f, jnp.zeros(2), c, q)
    assert f.count == traced
    assert not hasattr(so._driver, "_WRAPPED")


def test_lbfgs_matches_scipy_on_logistic_regression():
    from scipy.optimize import minimize

    p = so.problems.logistic_regression(200, 5, seed=2)
    res = so.run(optax.lbfgs(), p.objective, p.x0, *p.args, max_steps=200, tol=1e-9)
    assert res.status == so.Status.CONVERGED
    X, y = np.asarray(p.data["X"]), np.asarray(p.data["y"])

    def f(v):
        z = X @ v[:-1] + v[-1]
        return np.mean(np.logaddexp(0, z) - y * z)

    ref = minimize(f, np.zeros(6), method="L-BFGS-B", options={"ftol": 1e-15, "gtol": 1e-11})
    np.testing.assert_allclose(res.params["w"], ref.x[:-1], atol=1e-5)
    np.testing.assert_allclose(float(res.value), ref.fun, rtol=1e-9)


def test_lbfgs_chain_with_optax_line_search_runs():
    p = so.problems.least_squares(60, 8, seed=1)
    opt = optax.chain(optax.sgd(1.0), optax.scale_by_zoom_linesearch(max_linesearch_steps=20))
    res = so.run(opt, p.objective, p.x0, *p.args, max_steps=500, tol=1e-6)
    assert res.status == so.Status.CONVERGED
    np.testing.assert_allclose(res.params, p.data["x_star"], atol=1e-5)


def test_bad_args_and_fun():
    x0 = jnp.zeros(2)
    with pytest.raises(TypeError, match=r"args\[0\]"):
        so.run(so.gradient_descent(0.1), smooth_data, x0, 1.0, jnp.ones(2))
    with pytest.raises(TypeError, match=r"args\[1\]\['q'\]"):
        so.run(so.gradient_descent(0.1), lambda x, c, d: 0.0, x0, jnp.ones(2), {"q": "a"})

    class Unhashable:
        __hash__ = None  # pyright: ignore[reportAssignmentType]

        def __call__(self, x):
            return jnp.sum(x**2)

    with pytest.raises(TypeError, match="fun must be hashable"):
        so.run(so.gradient_descent(0.1), Unhashable(), x0)


@pytest.mark.parametrize(
    "fun, match",
    [
        (lambda x: (jnp.sum(x), 1.0), "fun must return .* tuple"),
        (lambda x: 1.0, "fun must return .* float"),
        (lambda x: jnp.sum(x**2).astype(jnp.float16), "fun returns float16"),
    ],
)
def test_objective_return_values_are_type_errors_naming_fun(fun, match):
    with pytest.raises(TypeError, match=match):
        so.run(so.gradient_descent(0.1), fun, jnp.ones(2))


def test_max_steps_beyond_int32_names_max_steps():
    for bad in (2**31, 2**32 + 5):
        with pytest.raises(ValueError, match="max_steps"):
            so.run(
                so.gradient_descent(0.1),
                smooth_data,
                jnp.zeros(2),
                jnp.ones(2),
                jnp.ones(2),
                max_steps=bad,
            )


def test_tol_and_threshold_types_do_not_retrace():
    f = TraceCounter(smooth_data)
    c, q = jnp.array([1.0, -2.0]), jnp.array([1.0, 0.5])
    opt = so.gradient_descent(0.5)
    so.run(opt, f, jnp.zeros(2), c, q)
    traced = f.count
    for tol, thr in ((1e-6, 1e10), (np.float64(1e-7), np.float32(1e9)), (0, 10**10)):
        so.run(opt, f, jnp.zeros(2), c, q, tol=tol, divergence_threshold=thr)
    assert f.count == traced


def test_integer_hyperparameters_take_the_params_dtype():
    x = jnp.zeros(2, jnp.float32)
    for opt in (
        so.gradient_descent(1),
        so.polyak_subgradient(0),
        so.subgradient_descent(1),
        so.fista(so.prox.l1(1), 1),
        so.apply_prox(so.prox.l1(1), 1),
    ):
        for leaf in jax.tree_util.tree_leaves(opt.init(x)):
            assert jnp.result_type(leaf) in (jnp.float32, jnp.int32, jnp.bool_), leaf
    f = TraceCounter(smooth_data)
    c, q = jnp.array([1.0, -2.0], jnp.float32), jnp.array([1.0, 0.5], jnp.float32)
    so.run(so.gradient_descent(1), f, x, c, q)
    traced = f.count
    so.run(so.gradient_descent(0.5), f, x, c, q)
    assert f.count == traced
