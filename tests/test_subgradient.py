"""so.subgradient_descent and so.polyak_subgradient against LP (HiGHS) and cvxpy optima.

Also: the classical f_best bound on random instances, Polyak's linear rate on a sharp problem,
the best/last/averaged iterate bookkeeping against a hand-written loop, normalized steps,
vmap over hyperparameters without retracing, statuses, dtypes and bad input.
"""

from functools import partial

import cvxpy as cp
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import TraceCounter
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import linprog

import subopt as so
from subopt import nonsmooth as ns

# ----------------------------------------------------------------------- independent references


def lad_lp(A, b):
    """min (1/m) sum u  s.t.  -u <= Ax - b <= u, by HiGHS: (f*, x*)."""
    m, n = A.shape
    c = np.r_[np.zeros(n), np.full(m, 1.0 / m)]
    a_ub = np.block([[A, -np.eye(m)], [-A, -np.eye(m)]])
    res = linprog(
        c, a_ub, np.r_[b, -b], bounds=[(None, None)] * n + [(0, None)] * m, method="highs"
    )
    assert res.status == 0
    return res.fun, res.x[:n]


def max_affine_lp(A, b):
    """min t  s.t.  Ax + b <= t, by HiGHS: (f*, x*)."""
    m, n = A.shape
    c = np.r_[np.zeros(n), 1.0]
    a_ub = np.hstack([A, -np.ones((m, 1))])
    res = linprog(c, a_ub, -b, bounds=[(None, None)] * (n + 1), method="highs")
    assert res.status == 0
    return res.fun, res.x[:n]


def svm_cvxpy(X, y, lam):
    m, n = X.shape
    w, b = cp.Variable(n), cp.Variable()
    obj = cp.sum(cp.pos(1 - cp.multiply(y, X @ w + b))) / m + lam / 2 * cp.sum_squares(w)
    prob = cp.Problem(cp.Minimize(obj))
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
    return prob.value, np.asarray(w.value), float(b.value)


@pytest.fixture(scope="module")
def lad():
    p = so.problems.lad_regression(60, 4, seed=0, dtype=jnp.float64)
    f_star, x_star = lad_lp(np.asarray(p.data["A"]), np.asarray(p.data["b"]))
    return p, f_star, x_star


@pytest.fixture(scope="module")
def svm():
    p = so.problems.linear_svm(100, 5, seed=0, dtype=jnp.float64)
    f_star, w, b = svm_cvxpy(np.asarray(p.data["X"]), np.asarray(p.data["y"]), p.data["lam"])
    return p, f_star, w, b


def hand_loop(opt, fun, x0, steps):
    """The optax loop written out: returns the path x_1..x_N, values f(x_0..x_{N-1}), state."""

    def step(carry, _):
        x, s = carry
        v, g = jax.value_and_grad(fun)(x)
        u, s = opt.update(g, s, x, value=v)
        return (optax.apply_updates(x, u), s), (x, v, g)

    (x, s), (xs, vs, gs) = jax.lax.scan(step, (x0, opt.init(x0)), length=steps)
    return x, s, xs, vs, gs


# ----------------------------------------------------------------------- problems


def test_problem_objectives_match_numpy(dtype):
    rng = np.random.default_rng(1)
    p = so.problems.lad_regression(30, 3, seed=2, dtype=dtype)
    A, b = np.asarray(p.data["A"], np.float64), np.asarray(p.data["b"], np.float64)
    x = rng.standard_normal(3)
    assert p.fun(jnp.asarray(x, dtype)).dtype == dtype and p.x0.dtype == dtype
    rtol = 1e-5 if dtype == jnp.float32 else 1e-12
    np.testing.assert_allclose(p.fun(jnp.asarray(x, dtype)), np.mean(np.abs(A @ x - b)), rtol)

    q = so.problems.max_of_affine(25, 3, seed=2, dtype=dtype)
    A, b = np.asarray(q.data["A"], np.float64), np.asarray(q.data["b"], np.float64)
    np.testing.assert_allclose(q.fun(jnp.asarray(x, dtype)), np.max(A @ x + b), rtol)
    np.testing.assert_allclose(A.sum(axis=0), 0.0, atol=1e-5)  # 0 in the hull: bounded below

    s = so.problems.linear_svm(40, 3, lam=0.3, seed=2, dtype=dtype)
    X, y = np.asarray(s.data["X"], np.float64), np.asarray(s.data["y"], np.float64)
    w, c = rng.standard_normal(3), 0.4
    want = np.mean(np.maximum(0.0, 1 - y * (X @ w + c))) + 0.15 * w @ w
    got = s.fun({"w": jnp.asarray(w, dtype), "b": jnp.asarray(c, dtype)})
    np.testing.assert_allclose(got, want, rtol)
    assert set(np.unique(y)) == {-1.0, 1.0}


def test_subgradient_bounds_hold_at_random_points():
    rng = np.random.default_rng(3)
    for p in (so.problems.lad_regression(40, 5, seed=1), so.problems.max_of_affine(30, 5, seed=1)):
        grad = jax.jit(jax.grad(p.fun))
        for _ in range(20):
            g = grad(jnp.asarray(rng.standard_normal(5) * 3))
            assert float(jnp.linalg.norm(g)) <= p.data["subgradient_bound"] * (1 + 1e-12)


# ----------------------------------------------------------------------- accuracy vs references


def test_lad_polyak_reaches_linprog_optimum(lad):
    # Documented: Polyak with f* from the LP reaches a 1e-10 relative gap in < 1000 steps here.
    p, f_star, x_star = lad
    res = so.run(so.polyak_subgradient(f_star), p.fun, p.x0, max_steps=1000, tol=1e-12 * f_star)
    assert res.status == so.Status.CONVERGED and res.num_steps < 1000
    assert abs(float(res.value) - f_star) / f_star < 1e-10
    np.testing.assert_allclose(res.params, x_star, atol=1e-8)
    # the measure is the gap of the points the updates saw; the best includes the last one
    assert float(res.value) - f_star <= float(res.stationarity) <= 1e-12 * f_star


def test_lad_diminishing_step_without_f_star(lad):
    # Documented: 1/sqrt(k) steps reach a 1e-4 relative gap in 20000 steps here, and the run
    # honestly ends MAX_STEPS: the autodiff subgradient at the iterates never gets small.
    p, f_star, _ = lad
    opt = so.subgradient_descent(so.schedules.inverse_sqrt(0.3))
    res = so.run(opt, p.fun, p.x0, max_steps=20000, tol=1e-8)
    assert res.status == so.Status.MAX_STEPS
    gap = (float(res.value) - f_star) / f_star
    assert -1e-12 < gap < 1e-4
    np.testing.assert_allclose(
        res.stationarity, jnp.linalg.norm(jax.grad(p.fun)(res.state.x)), rtol=1e-12
    )


def test_svm_matches_cvxpy(svm):
    # Documented: Polyak with f* from cvxpy gets within 2e-6 relative in 5000 steps; the
    # square-summable schedule 10/(10 + k) (~ 1/(lam k), lam = 0.1) within 1e-6 in 20000.
    p, f_star, w_star, b_star = svm
    pol = so.run(so.polyak_subgradient(f_star), p.fun, p.x0, max_steps=5000, tol=0.0)
    opt = so.subgradient_descent(so.schedules.inverse_time(10.0, 10.0), average=True)
    dim = so.run(opt, p.fun, p.x0, max_steps=20000, tol=1e-10)
    assert dim.status == so.Status.MAX_STEPS
    assert set(dim.opt_state.average) == {"w", "b"} and dim.state.x["b"].shape == ()
    for res, rel in ((pol, 2e-6), (dim, 1e-6)):
        gap = (float(res.value) - f_star) / f_star
        assert -1e-9 < gap < rel
        np.testing.assert_allclose(res.value, p.fun(res.params), rtol=1e-13)
        # f is (lam)-strongly convex in w: ||w - w*||^2 <= 2 (f - f*) / lam
        bound = np.sqrt(2 * max(gap, 0) * f_star / p.data["lam"]) + 1e-6
        assert np.linalg.norm(np.asarray(res.params["w"]) - w_star) <= bound
    assert abs(float(dim.params["b"]) - b_star) < 1e-2


# ----------------------------------------------------------------------- classical bounds


@partial(jax.jit, static_argnames="normalize")
def _max_affine_subgradient_run(A, b, a, p, c, normalize):
    fun = lambda x: ns.max(A @ x + b)  # noqa: E731
    opt = so.subgradient_descent(so.schedules.polynomial(a, p, c), normalize=normalize)
    return so.run(opt, fun, jnp.zeros(A.shape[1]), max_steps=150, tol=0.0, record=True)


@jax.jit
def _max_affine_polyak_run(A, b, f_star):
    fun = lambda x: ns.max(A @ x + b)  # noqa: E731
    return so.run(
        so.polyak_subgradient(f_star),
        fun,
        jnp.zeros(A.shape[1]),
        max_steps=150,
        tol=0.0,
        record=True,
    )


def _instance(seed):
    p = so.problems.max_of_affine(20, 4, seed=seed)
    A, b = np.asarray(p.data["A"]), np.asarray(p.data["b"])
    return p, A, b, *max_affine_lp(A, b)


def _f_best(res, f0):
    h = np.asarray(res.history.value)
    return np.minimum.accumulate(np.r_[f0, h])  # f_best over x_0..x_k, k = 0..N


@given(
    seed=st.integers(0, 2**32 - 1),
    a=st.floats(1e-3, 10.0),
    p=st.floats(0.0, 1.0),
    c=st.floats(1.0, 10.0),
    normalize=st.booleans(),
)
def test_classical_bound_on_random_max_of_affine(seed, a, p, c, normalize):
    # f_best(k) - f* <= (R^2 + G^2 sum a_i^2) / (2 sum a_i), sums over i <= k; with normalized
    # steps, G (R^2 + sum a_i^2) / (2 sum a_i). Steps a/(c + k)^p: constant to 1/k.
    prob, A, b, f_star, x_star = _instance(seed)
    res = _max_affine_subgradient_run(A, b, a, p, c, normalize)
    assert int(res.num_steps) == 150
    f_best = _f_best(res, float(prob.fun(prob.x0)))[:-1]  # f_best(k), k = 0..149
    steps = a / (c + np.arange(150.0)) ** p
    s1, s2 = np.cumsum(steps), np.cumsum(steps**2)
    G, R2 = prob.data["subgradient_bound"], float(x_star @ x_star)
    bound = G * (R2 + s2) / (2 * s1) if normalize else (R2 + G**2 * s2) / (2 * s1)
    assert np.all(f_best - f_star <= bound * (1 + 1e-9) + 1e-9)
    assert np.all(f_best - f_star >= -1e-9)


@given(seed=st.integers(0, 2**32 - 1))
def test_polyak_bound_on_random_max_of_affine(seed):
    # With f* known: sum_i (f(x_i) - f*)^2 <= G^2 R^2, so f_best(k) - f* <= G R / sqrt(k + 1).
    prob, A, b, f_star, x_star = _instance(seed)
    res = _max_affine_polyak_run(A, b, f_star)
    f0 = float(prob.fun(prob.x0))
    k = int(res.num_steps)
    vals = np.r_[f0, np.asarray(res.history.value)[:k]]
    G, R = prob.data["subgradient_bound"], float(np.linalg.norm(x_star))
    assert np.sum((vals[:-1] - f_star) ** 2) <= (G * R) ** 2 * (1 + 1e-9) + 1e-9
    f_best = np.minimum.accumulate(vals)
    assert np.all(f_best - f_star <= G * R / np.sqrt(np.arange(1, k + 2)) + 1e-9)


def test_polyak_converges_linearly_on_lad(lad):
    # LAD is sharp: f(x) - f* >= mu dist(x, X*), so Polyak's distance shrinks geometrically
    # and monotonically (Fejer). Measured rate on this instance: about 0.96 per step.
    p, f_star, x_star = lad
    opt = so.polyak_subgradient(f_star)
    _, state, xs, vals, _ = jax.jit(hand_loop, static_argnums=(0, 1, 3))(opt, p.fun, p.x0, 800)
    d = np.r_[np.linalg.norm(x_star), np.linalg.norm(np.asarray(xs)[1:] - x_star, axis=1)]
    assert np.all(np.diff(d) <= 1e-12)
    k = np.arange(d.size)
    assert np.all(d <= d[0] * 0.97**k + 1e-12)
    assert d[-1] < 1e-10
    assert float(state.lowest) - f_star < 1e-12 * f_star


# ----------------------------------------------------------------------- iterate bookkeeping


@pytest.mark.parametrize("normalize", [False, True])
def test_best_last_and_average_iterates_match_hand_loop(lad, normalize):
    p, _, _ = lad
    n = 300
    opt = so.subgradient_descent(0.05, normalize=normalize, average=True)
    res = so.run(opt, p.fun, p.x0, max_steps=n, tol=0.0, record=True)
    x_n, state, xs, vals, gs = jax.jit(hand_loop, static_argnums=(0, 1, 3))(opt, p.fun, p.x0, n)
    # the best over x_0 ... x_N, and its value
    f0 = p.fun(p.x0)
    assert float(res.value) == min(float(f0), float(jnp.min(res.history.value)))
    np.testing.assert_allclose(res.value, p.fun(res.params), rtol=1e-14)
    all_x = np.vstack([np.asarray(xs), np.asarray(x_n)[None]])
    all_f = np.r_[np.asarray(vals), float(p.fun(x_n))]
    np.testing.assert_allclose(res.params, all_x[np.argmin(all_f)], rtol=1e-12, atol=1e-14)
    # a constant step is not a descent method: the last iterate is worse than the best
    np.testing.assert_allclose(res.state.x, x_n, rtol=1e-12, atol=1e-14)
    assert float(p.fun(res.state.x)) > float(res.value)
    # the ergodic average with weights t_k = a (or a / ||g_k|| when normalized)
    t = 0.05 / np.linalg.norm(np.asarray(gs), axis=1) if normalize else np.full(n, 0.05)
    want = (t[:, None] * np.asarray(xs)).sum(0) / t.sum()
    np.testing.assert_allclose(res.opt_state.average, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(state.average, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res.opt_state.weight_sum, t.sum(), rtol=1e-12)
    # the state asks the driver to track the best iterate
    assert state.info.best and not state.info.fixed_point


def test_polyak_reports_best_iterate_and_gap(svm):
    p, f_star, _, _ = svm
    res = so.run(so.polyak_subgradient(f_star), p.fun, p.x0, max_steps=300, tol=0.0, record=True)
    f0 = p.fun(p.x0)
    assert float(res.value) == min(float(f0), float(jnp.min(res.history.value)))
    np.testing.assert_allclose(res.value, p.fun(res.params), rtol=1e-14)
    np.testing.assert_allclose(res.stationarity, float(res.value) - f_star, rtol=1e-12)
    # the recorded measure is |f_best - f*| with f* below every iterate here, so it never
    # increases (up to one rounding: XLA may evaluate f in two fusions that differ by an ulp)
    s = np.asarray(res.history.stationarity)
    ulp_of_f = np.finfo(s.dtype).eps * float(jnp.max(jnp.abs(res.history.value)))
    assert np.all(np.diff(s) <= 4 * ulp_of_f)


@given(
    # XLA on CPU flushes subnormals to zero, so a subnormal g counts as a zero subgradient
    g=st.lists(st.floats(-1e3, 1e3, allow_subnormal=False), min_size=3, max_size=3),
    a=st.floats(1e-3, 1e2),
)
def test_normalized_step_has_length_a(g, a):
    g = jnp.asarray(g)
    updates, state = _normalized_update(g, a)
    g_np = np.asarray(g)
    if not np.any(g_np):
        assert np.all(np.asarray(updates) == 0.0)
    else:
        scale = np.abs(g_np).max()  # the norm without underflow for subnormal entries
        norm = scale * np.linalg.norm(g_np / scale)
        np.testing.assert_allclose(jnp.linalg.norm(updates), a, rtol=1e-12)
        np.testing.assert_allclose(updates, -a * g_np / norm, rtol=1e-12, atol=1e-300)
    assert int(state.count) == 1 and np.all(np.isfinite(np.asarray(updates)))


@jax.jit
def _normalized_update(g, a):
    opt = so.subgradient_descent(a, normalize=True)
    x = jnp.ones(3)
    return opt.update(g, opt.init(x), x, value=jnp.sum(x))


def test_zero_subgradient_takes_no_step():
    f = lambda x: jnp.sum(ns.abs(x))  # noqa: E731
    # (Polyak measures the gap f - f* of the points its updates saw: one step, of length 0)
    cases = ((so.subgradient_descent(1.0, normalize=True), 0), (so.polyak_subgradient(0.0), 1))
    for opt, steps in cases:
        res = so.run(opt, f, jnp.zeros(3), max_steps=10, tol=0.0)
        assert res.status == so.Status.CONVERGED and res.num_steps == steps
        assert np.all(res.params == 0.0) and float(res.value) == 0.0
    # a zero subgradient at a non-optimal point (f* underestimated): no step and no NaN
    res = so.run(so.polyak_subgradient(-1.0), f, jnp.zeros(3), max_steps=10, tol=0.0)
    assert res.status == so.Status.MAX_STEPS and np.all(res.params == 0.0)
    assert float(res.stationarity) == 1.0


def test_max_step_caps_polyak():
    f = lambda x: jnp.sum(ns.abs(x - 100.0))  # noqa: E731
    res = so.run(so.polyak_subgradient(0.0, max_step=0.5), f, jnp.zeros(2), max_steps=4, tol=0.0)
    np.testing.assert_allclose(res.state.x, 2.0)  # 4 steps of 0.5 * g, g = (-1, -1)


# ----------------------------------------------------------------------- compile once, vmap


def test_vmap_over_hyperparameters_equals_loop_without_retrace():
    prob = so.problems.max_of_affine(20, 4, seed=5)
    f = TraceCounter(prob.fun)
    x0 = prob.x0

    def sg(a):
        opt = so.subgradient_descent(so.schedules.inverse_sqrt(a), average=True)
        return so.run(opt, f, x0, max_steps=200, tol=1e-9)

    def polyak(f_star):
        return so.run(so.polyak_subgradient(f_star, max_step=2.0), f, x0, max_steps=200, tol=1e-9)

    for solve, values in ((sg, jnp.linspace(0.05, 2.0, 6)), (polyak, jnp.linspace(-1.0, 0.5, 6))):
        batched = jax.vmap(solve)(values)
        loop = [solve(float(v)) for v in values]
        n_after = f.count
        for i, r in enumerate(loop):
            np.testing.assert_allclose(batched.params[i], r.params, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(batched.value[i], r.value, rtol=1e-14)
            assert int(batched.num_steps[i]) == int(r.num_steps)
            assert int(batched.status[i]) == int(r.status)
        for v in (0.123, 0.456, jnp.asarray(0.789)):
            solve(v)
        assert f.count == n_after


# ----------------------------------------------------------------------- statuses and dtypes


@pytest.mark.parametrize(
    "opt",
    [
        so.subgradient_descent(1.0),
        so.subgradient_descent(so.schedules.inverse_sqrt(10.0), normalize=True),
        so.polyak_subgradient(-1e6),
    ],
    ids=["constant", "normalized", "polyak"],
)
def test_unbounded_below_never_converges(opt):
    for fun in (lambda x: -jnp.sum(jnp.exp(x)), lambda x: -(jnp.sum(x) ** 3)):
        res = so.run(opt, fun, jnp.ones(2), max_steps=100000, tol=1e-6)
        assert res.status in (so.Status.DIVERGED, so.Status.NONFINITE)
        assert np.all(np.isfinite(res.params)) and np.isfinite(res.value)
        np.testing.assert_allclose(res.value, fun(res.params), rtol=1e-12)


def test_nan_mid_run_returns_finite_best():
    f = lambda x: jnp.where(x[0] > 2.5, jnp.nan, jnp.sum(ns.abs(x - 10.0)))  # noqa: E731
    res = so.run(so.subgradient_descent(0.3), f, jnp.zeros(2), max_steps=100)
    assert res.status == so.Status.NONFINITE
    assert np.all(np.isfinite(res.params)) and res.params[0] <= 2.5
    np.testing.assert_allclose(res.value, f(res.params))


def test_float32_kept_in_params_values_and_state():
    p = so.problems.lad_regression(30, 3, seed=1, dtype=jnp.float32)
    opts = (
        so.subgradient_descent(so.schedules.inverse_time(1.0), average=True),
        so.subgradient_descent(0.1, normalize=True),
        so.polyak_subgradient(0.5, max_step=1.0),
    )
    for opt in opts:
        res = so.run(opt, p.fun, p.x0, max_steps=50, tol=0.0, record=True)
        assert res.params.dtype == jnp.float32 and res.value.dtype == jnp.float32
        assert res.stationarity.dtype == jnp.float32 and res.history.value.dtype == jnp.float32
        for leaf in jax.tree_util.tree_leaves(res.state):
            assert leaf.dtype in (jnp.float32, jnp.int32, jnp.bool_), leaf.dtype
        assert np.isfinite(res.value) and float(res.value) < float(p.fun(p.x0))


# ----------------------------------------------------------------------- bad input


@pytest.mark.parametrize("step", [0.0, -0.1, float("nan"), float("inf"), jnp.asarray(-1.0)])
def test_bad_step_size(step):
    with pytest.raises(ValueError, match="learning_rate"):
        so.subgradient_descent(step)


@pytest.mark.parametrize(
    "make",
    [
        lambda: so.schedules.inverse_sqrt(0.0),
        lambda: so.schedules.inverse_sqrt(1.0, -1.0),
        lambda: so.schedules.inverse_time(float("inf")),
        lambda: so.schedules.polynomial(1.0, float("nan")),
    ],
)
def test_bad_schedule_constants(make):
    with pytest.raises(ValueError):
        make()


def test_bad_flags_and_polyak_arguments():
    with pytest.raises(TypeError, match="learning_rate"):
        so.subgradient_descent("0.1")
    with pytest.raises(TypeError, match="normalize"):
        so.subgradient_descent(0.1, normalize=1)  # pyright: ignore[reportArgumentType]
    with pytest.raises(TypeError, match="average"):
        so.subgradient_descent(0.1, average="yes")  # pyright: ignore[reportArgumentType]
    for f_star in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError, match="f_star"):
            so.polyak_subgradient(f_star)
    for cap in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="max_step"):
            so.polyak_subgradient(0.0, max_step=cap)


def test_hand_written_loop_without_value_or_params_is_a_clear_type_error():
    x = jnp.ones(2)
    g = jnp.ones(2)
    for opt, who in (
        (so.polyak_subgradient(0.0), "polyak_subgradient"),
        (so.subgradient_descent(0.1), "subgradient_descent"),
    ):
        state = opt.init(x)
        if who == "polyak_subgradient":
            with pytest.raises(TypeError, match=f"{who}.update needs the extra argument value"):
                opt.update(g, state, x)
        with pytest.raises(TypeError, match="needs params"):
            opt.update(g, state, value=1.0)
        with pytest.raises(ValueError, match="structure"):
            opt.update({"a": g}, state, x, value=1.0)


def test_step_size_keyword_still_works_with_a_deprecation_warning():
    f = lambda x: jnp.sum(ns.abs(x - 1.0))  # noqa: E731
    with pytest.warns(DeprecationWarning, match="learning_rate"):
        old = so.subgradient_descent(step_size=0.1)
    new = so.subgradient_descent(0.1)
    a = so.run(old, f, jnp.zeros(2), max_steps=20, tol=0.0)
    b = so.run(new, f, jnp.zeros(2), max_steps=20, tol=0.0)
    np.testing.assert_array_equal(a.params, b.params)
    with pytest.raises(TypeError, match="not both"):
        so.subgradient_descent(0.1, step_size=0.1)
