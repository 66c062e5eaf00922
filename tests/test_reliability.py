"""Reliability guarantees checked across every optimizer (docs/reliability.md lists them).

One matrix of optimizers, each run through `so.run` on the same small problems: NaN mid-run,
divergence, unbounded objectives, max_steps, dtype policy, compile-once, repeatability.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import subopt as so

# f(x) = 1/2 sum_i q_i (x_i - c_i)^2 (L = 1, no method lands on the optimum in one step), and
# its nonsmooth twin ||x - c||_1 for the subgradient methods
C = np.array([1.0, -2.0, 0.5])
Q = np.array([1.0, 0.5, 0.2])


def smooth(x):
    c, q = jnp.asarray(C, x.dtype), jnp.asarray(Q, x.dtype)
    return 0.5 * jnp.sum(q * (x - c) ** 2)


def sharp(x):
    c = jnp.asarray(C, x.dtype)
    return so.nonsmooth.l1_norm(x - c)


# name -> (factory(hyper) -> optimizer, objective, a good hyperparameter, another one)
OPTIMIZERS = {
    "gradient_descent": (lambda h: so.gradient_descent(h), smooth, 0.5, 0.25),
    "gradient_descent_schedule": (
        lambda h: so.gradient_descent(so.schedules.inverse_sqrt(h)),
        smooth,
        0.5,
        0.25,
    ),
    "subgradient_descent": (lambda h: so.subgradient_descent(h), sharp, 0.1, 0.05),
    "subgradient_normalized": (
        lambda h: so.subgradient_descent(so.schedules.inverse_sqrt(h), normalize=True),
        sharp,
        0.5,
        0.25,
    ),
    "polyak_subgradient": (lambda h: so.polyak_subgradient(h), sharp, 0.0, -1.0),
    "proximal_gradient": (
        lambda h: so.proximal_gradient(so.prox.l1(h), learning_rate=0.5),
        smooth,
        0.1,
        0.2,
    ),
    "fista": (lambda h: so.fista(so.prox.l1(h), learning_rate=0.5), smooth, 0.1, 0.2),
    "fista_backtracking": (
        lambda h: so.fista(so.prox.l1(h), learning_rate=so.backtracking(initial=4.0)),
        smooth,
        0.1,
        0.2,
    ),
    "optax_adam": (lambda h: optax.adam(h), smooth, 0.1, 0.05),
}
NAMES = sorted(OPTIMIZERS)


def _nan_beyond(fun, threshold):
    """fun, but NaN once x[0] passes ``threshold`` (the start is at 0, the optimum beyond)."""

    def f(x):
        return jnp.where(x[0] > threshold, jnp.nan, fun(x))

    return f


@pytest.mark.parametrize("name", NAMES)
def test_nan_mid_run_is_nonfinite_with_last_finite_iterate(name):
    factory, fun, h, _ = OPTIMIZERS[name]
    f = _nan_beyond(fun, 0.3)
    res = so.run(factory(h), f, jnp.zeros(3), max_steps=500, tol=1e-12)
    assert res.status == so.Status.NONFINITE, so.Status(int(res.status))
    assert np.all(np.isfinite(res.params)) and np.isfinite(res.value)
    assert res.params[0] <= 0.3
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
    calls = {"n": 0}

    def f(x):
        calls["n"] += 1
        return fun(x)

    def solve(hyper):
        return so.run(factory(hyper), f, jnp.zeros(3), max_steps=30)

    first = solve(h)
    n = calls["n"]
    second = solve(h2)
    if name != "optax_adam":  # optax closes over its hyperparameters: documented recompile
        assert calls["n"] == n
    # a vmapped grid traces once more (new batch shapes), then never again
    grid = jax.vmap(solve)(jnp.asarray([h, h2]))
    n = calls["n"]
    jax.vmap(solve)(jnp.asarray([h2, h]))
    if name != "optax_adam":
        assert calls["n"] == n
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
