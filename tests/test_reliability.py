"""Reliability guarantees checked across every optimizer (docs/reliability.md lists them).

One matrix of optimizers, each run through `so.run` on the same small problems: NaN mid-run,
divergence, unbounded objectives, max_steps, dtype policy, compile-once, repeatability.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import CLOSES_OVER, NAMES, OPTIMIZERS, PROXIMAL, TraceCounter, smooth  # noqa: F401

import subopt as so


def _nan_beyond(fun, threshold):
    """fun, but NaN once x[0] passes ``threshold`` (the start is at 0, the optimum beyond)."""

    def f(x):
        return jnp.where(x[0] > threshold, jnp.nan, fun(x))

    return f


@pytest.mark.parametrize("name", NAMES)
def test_nan_mid_run_is_nonfinite_with_last_finite_iterate(name):
    factory, fun, h, _ = OPTIMIZERS[name]
    f = _nan_beyond(fun, 0.3)
    res = so.run(factory(h), f, jnp.zeros(3), max_steps=500, tol=1e-12, record=True)
    if name == "fista_backtracking":
        # backtracking keeps its iterates in f's domain (it tests every trial and FISTA's
        # extrapolated point): the steps collapse at the edge, the run never converges there
        assert res.status == so.Status.MAX_STEPS, so.Status(int(res.status))
        assert np.all(np.isfinite(res.params)) and np.isfinite(res.value)
        assert res.params[0] <= 0.3
        return
    assert res.status == so.Status.NONFINITE, so.Status(int(res.status))
    assert np.all(np.isfinite(res.params)) and np.isfinite(res.value)
    assert res.params[0] <= 0.3
    k = int(res.num_steps)
    assert k < 500
    # the run stops at the first step whose objective is NaN (not committed): every earlier
    # step was finite
    assert np.all(np.isfinite(res.history.value[: k - 1])) and np.isnan(res.history.value[k - 1])


@jax.custom_jvp
def _finite_value_nan_slope_beyond(x, threshold):
    return jnp.zeros((), x.dtype)


@_finite_value_nan_slope_beyond.defjvp
def _finite_value_nan_slope_beyond_jvp(primals, tangents):
    x, threshold = primals
    slope = jnp.where(x[0] > threshold, jnp.nan, 0.0).astype(x.dtype)
    return jnp.zeros((), x.dtype), slope * tangents[0][0]


@pytest.mark.parametrize("name", NAMES)
def test_nan_gradient_with_finite_value_is_nonfinite(name):
    factory, fun, h, _ = OPTIMIZERS[name]

    def f(x):  # the objective stays finite; only the gradient turns NaN once x[0] > 0.3
        return fun(x) + _finite_value_nan_slope_beyond(x, 0.3)

    res = so.run(factory(h), f, jnp.zeros(3), max_steps=500, tol=1e-12)
    assert res.status == so.Status.NONFINITE, so.Status(int(res.status))
    assert np.all(np.isfinite(res.params)) and np.isfinite(res.value)
    assert res.num_steps < 500


@pytest.mark.parametrize("name", NAMES)
def test_max_steps_is_never_converged(name):
    factory, fun, h, _ = OPTIMIZERS[name]
    res = so.run(factory(h), fun, jnp.zeros(3), max_steps=2, tol=0.0)
    assert res.status == so.Status.MAX_STEPS and res.num_steps == 2


@pytest.mark.parametrize("name", NAMES)
def test_unbounded_below_ends_diverged_or_nonfinite_with_finite_params(name):
    factory, fun, h, _ = OPTIMIZERS[name]

    def down(x):  # unbounded below; for Polyak f* = h is a lie the method cannot reach
        return fun(x) - 10.0 * jnp.sum(jnp.exp(x))

    res = so.run(factory(h), down, jnp.zeros(3), max_steps=100_000)
    assert res.status in (so.Status.DIVERGED, so.Status.NONFINITE), so.Status(int(res.status))
    assert np.all(np.isfinite(res.params))


@pytest.mark.parametrize("name", NAMES)
def test_float32_in_float32_out(name):
    factory, fun, h, _ = OPTIMIZERS[name]
    res = so.run(factory(h), fun, jnp.zeros(3, jnp.float32), max_steps=20, record=True)
    for leaf in jax.tree_util.tree_leaves((res.params, res.value, res.stationarity, res.history)):
        assert leaf.dtype == jnp.float32, leaf.dtype
    for leaf in jax.tree_util.tree_leaves(res.state):
        assert leaf.dtype in (jnp.float32, jnp.int32, jnp.bool_), leaf.dtype


@pytest.mark.parametrize("name", NAMES)
def test_new_hyperparameter_values_do_not_retrace(name):
    factory, fun, h, h2 = OPTIMIZERS[name]
    f = TraceCounter(fun)

    def solve(hyper):
        return so.run(factory(hyper), f, jnp.zeros(3), max_steps=30)

    first = solve(h)
    n = f.count
    second = solve(h2)
    if name not in CLOSES_OVER:
        assert f.count == n
    # a vmapped grid traces once more (new batch shapes), then never again
    grid = jax.vmap(solve)(jnp.asarray([h, h2]))
    n = f.count
    jax.vmap(solve)(jnp.asarray([h2, h]))
    if name not in CLOSES_OVER:
        assert f.count == n
    np.testing.assert_array_equal(grid.params[0], first.params)
    np.testing.assert_array_equal(grid.params[1], second.params)


@pytest.mark.parametrize("name", NAMES)
def test_bitwise_repeatable(name):
    factory, fun, h, _ = OPTIMIZERS[name]
    a = so.run(factory(h), fun, jnp.zeros(3), max_steps=50, record=True)
    b = so.run(factory(h), fun, jnp.zeros(3), max_steps=50, record=True)
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_array_equal(x, y)


def test_traced_nonfinite_start_is_nonfinite_at_step_zero():
    @jax.jit
    def solve(x0):
        return so.run(so.gradient_descent(0.1), smooth, x0)

    for bad in (jnp.nan, jnp.inf, -jnp.inf):
        res = solve(jnp.array([0.0, bad, 1.0]))
        assert res.status == so.Status.NONFINITE and res.num_steps == 0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_concrete_nonfinite_start_raises(bad):
    with pytest.raises(ValueError, match="x0"):
        so.run(so.gradient_descent(0.1), smooth, {"a": jnp.array([0.0, bad])})


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_half_precision_params_rejected(dtype):
    with pytest.raises(TypeError, match="half precision"):
        so.run(so.gradient_descent(0.1), smooth, jnp.zeros(3, dtype))


def test_gradient_structure_mismatch_names_both_structures():
    opt = so.gradient_descent(0.1)
    params = {"a": jnp.zeros(3), "b": jnp.zeros(2)}
    state = opt.init(params)
    with pytest.raises(ValueError, match="structure"):
        opt.update({"a": jnp.zeros(3)}, state, params)
    with pytest.raises(ValueError, match="shapes"):  # (1,) would broadcast silently
        opt.update({"a": jnp.zeros(3), "b": jnp.zeros(1)}, state, params)


# ------------------------------------------------------------ more of the matrix (issue 7 audit)


@pytest.mark.parametrize("name", NAMES)
def test_float64_in_float64_out(name):
    # the same program as test_bitwise_repeatable (no new compile)
    factory, fun, h, _ = OPTIMIZERS[name]
    res = so.run(factory(h), fun, jnp.zeros(3), max_steps=50, record=True)
    for leaf in jax.tree_util.tree_leaves((res.params, res.value, res.stationarity, res.history)):
        assert leaf.dtype == jnp.float64, leaf.dtype
    for leaf in jax.tree_util.tree_leaves(res.state):
        assert leaf.dtype in (jnp.float64, jnp.int32, jnp.bool_), leaf.dtype


@pytest.mark.parametrize("name", NAMES)
def test_float64_hyperparameters_do_not_promote_float32_state(name):
    # the same program as test_float32_in_float32_out: a float64 hyperparameter is cast to
    # the params' dtype, so the loop state (and the compiled program) stays float32
    factory, fun, h, _ = OPTIMIZERS[name]
    opt = factory(jnp.asarray(h, jnp.float64))
    res = so.run(opt, fun, jnp.zeros(3, jnp.float32), max_steps=20, record=True)
    for leaf in jax.tree_util.tree_leaves((res.params, res.value, res.stationarity, res.history)):
        assert leaf.dtype == jnp.float32, leaf.dtype
    for leaf in jax.tree_util.tree_leaves(res.state):
        assert leaf.dtype in (jnp.float32, jnp.int32, jnp.bool_), leaf.dtype


# step-size factories for the float-limit test: same update functions and state layouts as the
# matrix above, so each run reuses a program compiled there
STEPS = {
    "gradient_descent": lambda t: so.gradient_descent(t),
    "gradient_descent_schedule": lambda t: so.gradient_descent(so.schedules.inverse_sqrt(t)),
    "subgradient_descent": lambda t: so.subgradient_descent(t),
    "subgradient_normalized": lambda t: so.subgradient_descent(
        so.schedules.inverse_sqrt(t), normalize=True
    ),
    "polyak_subgradient": lambda t: so.polyak_subgradient(0.0, max_step=t),
    "proximal_gradient": lambda t: so.proximal_gradient(so.prox.l1(0.1), learning_rate=t),
    "fista": lambda t: so.fista(so.prox.l1(0.1), learning_rate=t),
    "fista_backtracking": lambda t: so.fista(
        so.prox.l1(0.1), learning_rate=so.backtracking(initial=t)
    ),
}
# (dtype, max_steps of the matrix test that compiled it, tiny steps, huge steps): 1e-300 and
# 1e-30 make y - prox(y - t g) ~ t, whose square underflows; 1e300 overflows float32 to inf
LIMITS = [
    (jnp.float64, 50, (1e-300, 5e-324), (1e300, 1.7e308)),
    (jnp.float32, 20, (1e-30, 1e-300), (3e38, 1e300)),
]


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("name", sorted(STEPS))
def test_step_sizes_at_the_float_limits_give_honest_statuses(name):
    fun = OPTIMIZERS[name][1]
    for dtype, max_steps, tiny, huge in LIMITS:
        for t in tiny:  # no progress: never CONVERGED (INVALID where the step is 0 in
            # the hardware: XLA on CPU flushes the subnormal 5e-324, and 1e-300 is 0 in float32)
            res = so.run(STEPS[name](t), fun, jnp.zeros(3, dtype), max_steps=max_steps, record=True)
            want = (so.Status.MAX_STEPS, so.Status.INVALID)
            assert res.status in want, (dtype, t, so.Status(int(res.status)))
            assert np.all(np.isfinite(res.params))
        for t in huge:
            res = so.run(STEPS[name](t), fun, jnp.zeros(3, dtype), max_steps=max_steps, record=True)
            assert np.all(np.isfinite(res.params)) and np.isfinite(res.value)
            if name == "polyak_subgradient":  # a huge cap is no cap: Polyak's own step
                assert res.status == so.Status.CONVERGED and res.value <= 1e-6
            else:  # INVALID where the step is inf in the params' dtype (1e300 in float32)
                bad = (so.Status.DIVERGED, so.Status.NONFINITE, so.Status.INVALID)
                assert res.status in bad, (dtype, t)


@pytest.mark.parametrize("name", NAMES)
def test_empty_params_converge_without_moving(name):
    # documented: nothing to optimize is CONVERGED at once (after the one step the proximal
    # methods need to measure their gradient mapping, +inf before it), params unchanged.
    # Polyak's measure is |f - f*|: f = 2.5 against its f* = 0 is never within tol.
    factory, _, h, _ = OPTIMIZERS[name]
    res = so.run(factory(h), lambda p: jnp.asarray(2.5), {}, max_steps=10)
    assert res.params == {} and res.value == 2.5
    if name == "polyak_subgradient":
        assert res.status == so.Status.MAX_STEPS and int(res.num_steps) == 10
        assert res.stationarity == 2.5
    else:
        assert res.status == so.Status.CONVERGED and res.stationarity == 0.0
        assert int(res.num_steps) == (1 if name in PROXIMAL else 0)


@pytest.mark.parametrize("name", NAMES)
def test_bad_params_dtype_and_bad_objective_are_type_errors(name):
    factory, fun, h, _ = OPTIMIZERS[name]
    for dtype in (jnp.int32, jnp.bool_, jnp.complex64):
        with pytest.raises(TypeError, match="x0"):
            so.run(factory(h), fun, jnp.zeros(3, dtype))
    for bad, words in (
        (lambda x: fun(x) * jnp.ones(2), "scalar"),
        (lambda x: fun(x) + 0j, "real"),
        (lambda x: jnp.sum(x > 0), "real floating"),
    ):
        with pytest.raises(TypeError, match=words):
            so.run(factory(h), bad, jnp.zeros(3))


@pytest.mark.parametrize("name", NAMES)
def test_user_exception_inside_the_loop_propagates_unchanged(name):
    factory, fun, h, _ = OPTIMIZERS[name]

    class Boom(Exception):
        pass

    calls = {"n": 0}

    def f(x):  # fine at x0, raises when the loop body is traced
        calls["n"] += 1
        if calls["n"] > 1:
            raise Boom("from the objective")
        return fun(x)

    with pytest.raises(Boom, match="from the objective"):
        so.run(factory(h), f, jnp.zeros(3))
