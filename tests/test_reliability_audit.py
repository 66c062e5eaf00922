"""Issue 7 audit: the reliability guarantees the per-module suites and the optimizer matrix of
tests/test_reliability.py leave open (docs/reliability.md maps every guarantee to its test).

Invalid concrete hyperparameters anywhere (one table: the error names the argument and shows
the value), mismatched gradients handed to every optimizer's update, the exact divergence rule,
compile-once for every method of every prox term, hypothesis properties of gradient descent
(sufficient decrease) and FISTA (the O(1/k^2) bound against a Lasso with a closed-form
solution), and numerical edge cases: norms and proxes at exactly 0 and at 1e+-200.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given
from hypothesis import strategies as st

import subopt as so

P = so.prox
S = so.schedules


def _sq(x):
    return jnp.sum(x**2)


def _run(**kwargs):
    return so.run(so.gradient_descent(0.1), _sq, jnp.ones(2), **kwargs)


# --------------------------------------------------------------------------- item 5: bad values
# (id, call, exception, the argument's name as the message spells it, the value as shown)
BAD_HYPERPARAMETERS = [
    ("constant.a", lambda: S.constant(-1.0), ValueError, "a", "-1.0"),
    ("constant.a_zero", lambda: S.constant(0.0), ValueError, "a", "0.0"),
    ("constant.a_bool", lambda: S.constant(True), TypeError, "a", "True"),
    ("inverse_time.a", lambda: S.inverse_time(float("nan")), ValueError, "a", "nan"),
    ("inverse_time.b", lambda: S.inverse_time(1.0, -2.0), ValueError, "b", "-2.0"),
    ("inverse_sqrt.a", lambda: S.inverse_sqrt(float("inf")), ValueError, "a", "inf"),
    ("inverse_sqrt.b", lambda: S.inverse_sqrt(1.0, 0.0), ValueError, "b", "0.0"),
    ("polynomial.a", lambda: S.polynomial(-3.0, 1.0), ValueError, "a", "-3.0"),
    ("polynomial.p", lambda: S.polynomial(1.0, -0.5), ValueError, "p", "-0.5"),
    ("polynomial.b", lambda: S.polynomial(1.0, 0.5, -1.0), ValueError, "b", "-1.0"),
    ("polynomial.p_str", lambda: S.polynomial(1.0, "2"), TypeError, "p", "'2'"),
    ("run.tol", lambda: _run(tol=-1e-3), ValueError, "tol", "-0.001"),
    ("run.tol_nan", lambda: _run(tol=np.nan), ValueError, "tol", "nan"),
    ("run.tol_inf", lambda: _run(tol=np.inf), ValueError, "tol", "inf"),
    ("run.max_steps", lambda: _run(max_steps=0), ValueError, "max_steps", "0"),
    ("run.max_steps_neg", lambda: _run(max_steps=-5), ValueError, "max_steps", "-5"),
    ("run.max_steps_float", lambda: _run(max_steps=2.5), TypeError, "max_steps", "2.5"),
    ("run.max_steps_bool", lambda: _run(max_steps=True), TypeError, "max_steps", "True"),
    (
        "run.divergence_threshold",
        lambda: _run(divergence_threshold=0.0),
        ValueError,
        "divergence_threshold",
        "0.0",
    ),
    (
        "run.divergence_threshold_nan",
        lambda: _run(divergence_threshold=np.nan),
        ValueError,
        "divergence_threshold",
        "nan",
    ),
    (
        "gradient_descent.learning_rate",
        lambda: so.gradient_descent(-0.1),
        ValueError,
        "learning_rate",
        "-0.1",
    ),
    (
        "gradient_descent.learning_rate_inf",
        lambda: so.gradient_descent(np.inf),
        ValueError,
        "learning_rate",
        "inf",
    ),
    (
        "gradient_descent.learning_rate_complex",
        lambda: so.gradient_descent(0.1 + 1j),
        TypeError,
        "learning_rate",
        "(0.1+1j)",
    ),
    (
        "gradient_descent.learning_rate_array",
        lambda: so.gradient_descent(jnp.asarray(-2.0)),
        ValueError,
        "learning_rate",
        "-2.",
    ),
    (
        "subgradient_descent.learning_rate",
        lambda: so.subgradient_descent(-0.2),
        ValueError,
        "learning_rate",
        "-0.2",
    ),
    (
        "subgradient_descent.learning_rate_str",
        lambda: so.subgradient_descent("0.1"),
        TypeError,
        "learning_rate",
        "'0.1'",
    ),
    (
        "polyak_subgradient.f_star",
        lambda: so.polyak_subgradient(np.nan),
        ValueError,
        "f_star",
        "nan",
    ),
    (
        "polyak_subgradient.f_star_inf",
        lambda: so.polyak_subgradient(-np.inf),
        ValueError,
        "f_star",
        "-inf",
    ),
    (
        "polyak_subgradient.max_step",
        lambda: so.polyak_subgradient(0.0, max_step=0.0),
        ValueError,
        "max_step",
        "0.0",
    ),
    (
        "polyak_subgradient.max_step_neg",
        lambda: so.polyak_subgradient(0.0, max_step=-1.0),
        ValueError,
        "max_step",
        "-1.0",
    ),
    (
        "proximal_gradient.learning_rate",
        lambda: so.proximal_gradient(P.l1(0.1), learning_rate=-1.0),
        ValueError,
        "learning_rate",
        "-1.0",
    ),
    (
        "fista.learning_rate",
        lambda: so.fista(P.l1(0.1), learning_rate=np.inf),
        ValueError,
        "learning_rate",
        "inf",
    ),
    (
        "apply_prox.learning_rate",
        lambda: so.apply_prox(P.l1(0.1), -0.5),
        ValueError,
        "learning_rate",
        "-0.5",
    ),
    (
        "apply_prox.learning_rate_zero",
        lambda: so.apply_prox(P.l1(0.1), 0.0),
        ValueError,
        "learning_rate",
        "0.0",
    ),
    ("backtracking.initial", lambda: so.backtracking(initial=-1.0), ValueError, "initial", "-1.0"),
    (
        "backtracking.initial_nan",
        lambda: so.backtracking(initial=np.nan),
        ValueError,
        "initial",
        "nan",
    ),
    ("backtracking.shrink_zero", lambda: so.backtracking(shrink=0.0), ValueError, "shrink", "0.0"),
    ("backtracking.shrink_one", lambda: so.backtracking(shrink=1.0), ValueError, "shrink", "1.0"),
    ("backtracking.shrink_big", lambda: so.backtracking(shrink=1.5), ValueError, "shrink", "1.5"),
    (
        "backtracking.max_shrinks",
        lambda: so.backtracking(max_shrinks=0),
        ValueError,
        "max_shrinks",
        "0",
    ),
    (
        "backtracking.max_shrinks_float",
        lambda: so.backtracking(max_shrinks=2.0),
        TypeError,
        "max_shrinks",
        "2.0",
    ),
    ("l1.lam", lambda: P.l1(-0.3), ValueError, "lam", "-0.3"),
    ("l1.lam_array", lambda: P.l1(np.array([0.1, -2.0])), ValueError, "lam", "-2."),
    ("l2.lam", lambda: P.l2(-0.3), ValueError, "lam", "-0.3"),
    ("group_l2.lam", lambda: P.group_l2({"a": 1.0, "b": -2.0}), ValueError, "lam['b']", "-2.0"),
    ("elastic_net.l1", lambda: P.elastic_net(-1.0, 1.0), ValueError, "l1", "-1.0"),
    ("elastic_net.l2", lambda: P.elastic_net(1.0, np.nan), ValueError, "l2", "nan"),
    ("nuclear.lam", lambda: P.nuclear(np.inf), ValueError, "lam", "inf"),
    ("box.lower_gt_upper", lambda: P.box(2.0, 1.0), ValueError, "lower must be <= upper", "2."),
    (
        "box.lower_gt_upper_array",
        lambda: P.box(np.zeros(3), np.array([1.0, -7.0, 1.0])),
        ValueError,
        "lower must be <= upper",
        "-7.",
    ),
    ("box.lower_nan", lambda: P.box(np.nan, 1.0), ValueError, "lower", "nan"),
    ("box.lower_plus_inf", lambda: P.box(np.inf, np.inf), ValueError, "lower", "inf"),
    ("linf_ball.radius", lambda: P.linf_ball(-1.0), ValueError, "radius", "-1.0"),
    ("l2_ball.radius", lambda: P.l2_ball(-1.0), ValueError, "radius", "-1.0"),
    ("l1_ball.radius", lambda: P.l1_ball(np.inf), ValueError, "radius", "inf"),
    ("prox.step", lambda: P.l2(1.0).prox(jnp.ones(2), -1.0), ValueError, "step", "-1.0"),
    ("soft_threshold.t", lambda: P.soft_threshold(jnp.ones(3), -1.0), ValueError, "t", "-1.0"),
    (
        "project_simplex.total",
        lambda: P.project_simplex(jnp.ones(3), 0.0),
        ValueError,
        "total",
        "0.0",
    ),
    (
        "project_l1_ball.radius",
        lambda: P.project_l1_ball(jnp.ones(3), -1.0),
        ValueError,
        "radius",
        "-1.0",
    ),
    (
        "pointwise_max.rtol",
        lambda: so.nonsmooth.pointwise_max([_sq], rtol=-1e-3),
        ValueError,
        "rtol",
        "-0.001",
    ),
    (
        "sweep.batch_size",
        lambda: so.sweep(lambda lr: lr, lr=jnp.ones(2), batch_size=0),
        ValueError,
        "batch_size",
        "0",
    ),
    (
        "sweep.batch_size_float",
        lambda: so.sweep(lambda lr: lr, lr=jnp.ones(2), batch_size=2.5),
        TypeError,
        "batch_size",
        "2.5",
    ),
    ("problems.lasso.lam", lambda: so.problems.lasso(lam=-0.1), ValueError, "lam", "-0.1"),
]


@pytest.mark.parametrize(
    "call, exc, name, shown",
    [row[1:] for row in BAD_HYPERPARAMETERS],
    ids=[row[0] for row in BAD_HYPERPARAMETERS],
)
def test_invalid_concrete_hyperparameter_names_argument_and_value(call, exc, name, shown):
    with pytest.raises(exc) as info:
        call()
    message = str(info.value)
    assert name in message, message
    assert shown in message, message


# --------------------------------------------------------------------------- item 6: mismatch

HAND_OPTIMIZERS = {
    "gradient_descent": lambda: so.gradient_descent(0.1),
    "subgradient_descent": lambda: so.subgradient_descent(0.1),
    "subgradient_normalized_average": lambda: so.subgradient_descent(
        0.1, normalize=True, average=True
    ),
    "polyak_subgradient": lambda: so.polyak_subgradient(0.0),
    "proximal_gradient": lambda: so.proximal_gradient(P.l1(0.1), learning_rate=0.1),
    "fista": lambda: so.fista(P.l1(0.1), learning_rate=0.1),
    "fista_backtracking": lambda: so.fista(P.l1(0.1), learning_rate=so.backtracking()),
    "apply_prox": lambda: so.apply_prox(P.l1(0.1), 0.1),
}


@pytest.mark.parametrize("name", sorted(HAND_OPTIMIZERS))
def test_update_by_hand_rejects_mismatched_gradients_naming_both(name):
    opt = HAND_OPTIMIZERS[name]()
    params = {"a": jnp.zeros(3), "b": jnp.zeros(2)}
    state = opt.init(params)
    extra = {"value": jnp.zeros(()), "value_fn": lambda p: jnp.zeros(())}
    ps = jax.tree_util.tree_structure(params)
    for grads in ({"a": jnp.zeros(3)}, [jnp.zeros(3), jnp.zeros(2)]):
        with pytest.raises(ValueError, match="structure") as info:
            opt.update(grads, state, params, **extra)
        assert str(jax.tree_util.tree_structure(grads)) in str(info.value)
        assert str(ps) in str(info.value)
    # shapes that would broadcast silently: (1,) against (2,), (1, 3) against (3,)
    for grads, shapes in (
        ({"a": jnp.zeros(3), "b": jnp.zeros(1)}, "[(3,), (1,)]"),
        ({"a": jnp.zeros((1, 3)), "b": jnp.zeros(2)}, "[(1, 3), (2,)]"),
    ):
        with pytest.raises(ValueError, match="shapes") as info:
            opt.update(grads, state, params, **extra)
        assert shapes in str(info.value) and "[(3,), (2,)]" in str(info.value)


# --------------------------------------------------------------------------- item 3: the rule


def _linear(x):
    return jnp.sum(x)


def test_divergence_rule_is_exact_and_threshold_traceable():
    # f(x) = x from x0 = 5 with step 1: f_k = 5 - k. DIVERGED at the first k with
    # |f_k - f_0| > threshold * (1 + |f_0|) = 6 * threshold (strict), the step committed.
    x0 = jnp.array([5.0])
    for threshold, k in ((10.0, 61), (2.5, 16)):
        res = so.run(
            so.gradient_descent(1.0), _linear, x0, max_steps=1000, divergence_threshold=threshold
        )
        assert res.status == so.Status.DIVERGED and int(res.num_steps) == k
        np.testing.assert_array_equal(res.params, [5.0 - k])
    solve = jax.jit(lambda t: so.run(so.gradient_descent(1.0), _linear, x0, divergence_threshold=t))
    assert int(solve(10.0).num_steps) == 61 and int(solve(2.5).num_steps) == 16
    # a threshold of inf turns the rule off: max_steps ends the run
    res = so.run(so.gradient_descent(1.0), _linear, x0, max_steps=1000, divergence_threshold=np.inf)
    assert res.status == so.Status.MAX_STEPS


def _minus_inf_below(x):
    return jnp.where(x[0] < -3.0, -jnp.inf, jnp.sum(x))


def test_infinite_objective_is_diverged_and_not_committed():
    res = so.run(so.gradient_descent(1.0), _minus_inf_below, jnp.array([0.5]), max_steps=100)
    assert res.status == so.Status.DIVERGED and int(res.num_steps) == 4
    np.testing.assert_array_equal(res.params, [-2.5])  # the last finite iterate
    assert res.value == -2.5


# --------------------------------------------------------------------------- item 10: prox


_method_traces = {"n": 0}


@jax.jit
def _every_method(regs, x, g, t):
    _method_traces["n"] += 1
    return [(r.prox(x, t), r.value(x), r.min_norm(x, g), r.directional(x, g)) for r in regs]


def _every_term(a):
    """Every term of subopt.prox, its hyperparameters built from ``a``."""
    return [
        P.zero(),
        P.l1(a),
        P.l2(a),
        P.group_l2(a),
        P.elastic_net(a, 2 * a),
        P.nonnegative(),
        P.box(-a, a),
        P.linf_ball(a),
        P.l2_ball(a),
        P.l1_ball(a),
        P.simplex(),
        P.nuclear(a),
        P.nonnegative_l1(a),
        P.ridge(a),
        P.separable({"u": P.l1(a), "v": P.zero()}),
        P.hyperplane(a, a),
        P.halfspace(a, a),
        P.affine_set(a * jnp.eye(2, 12), jnp.ones(2)),
        P.box_section(-a, a, 1.0, 0.0),
        P.l2_sphere(a),
        P.total_variation_1d(a),
        P.sorted_l1(a * jnp.linspace(1.0, 0.1, 12)),
    ]


def test_every_prox_method_compiles_once_for_new_hyperparameters():
    skip = {"Regularizer", "register", "soft_threshold", "project_simplex", "project_l1_ball"}
    assert len(_every_term(1.0)) == len(set(P.__all__) - skip)
    rng = np.random.default_rng(3)
    x = {
        "u": jnp.asarray(rng.standard_normal((2, 3))),
        "v": jnp.asarray(rng.standard_normal((3, 2))),
    }
    g = jax.tree_util.tree_map(lambda v: 0.5 * v[::-1], x)
    first = _every_method(_every_term(0.5), x, g, jnp.asarray(0.3))
    n = _method_traces["n"]
    second = _every_method(_every_term(jnp.asarray(1.5)), x, g, jnp.asarray(0.7))
    _every_method(_every_term(2.0), x, g, jnp.asarray(1e-3))
    assert _method_traces["n"] == n
    # the new values were used: the answers changed
    assert float(first[1][1]) != float(second[1][1])
    # a vmapped grid of hyperparameters traces once more, then never again
    grid = jax.jit(jax.vmap(lambda a: _every_method(_every_term(a), x, g, jnp.asarray(0.3))))
    grid(jnp.asarray([0.5, 1.0]))
    n = _method_traces["n"]
    batched = grid(jnp.asarray([0.5, 2.0]))
    assert _method_traces["n"] == n
    for b, s in zip(jax.tree_util.tree_leaves(batched), jax.tree_util.tree_leaves(first)):
        np.testing.assert_allclose(b[0], s, rtol=1e-12, atol=1e-14)


def test_optimizer_update_and_state_layout_do_not_depend_on_hyperparameter_values():
    # jit caches on (function, tree structure, shapes, dtypes): identical ones for every value
    # mean a hand-jitted update and so.run trace once, whatever the hyperparameters.
    builds = {
        "gradient_descent": lambda a: so.gradient_descent(a),
        "schedule": lambda a: so.gradient_descent(S.polynomial(a, a, a)),
        "subgradient": lambda a: so.subgradient_descent(S.inverse_time(a), average=True),
        "polyak": lambda a: so.polyak_subgradient(a, max_step=a),
        "ista": lambda a: so.proximal_gradient(P.elastic_net(a, a), learning_rate=a),
        "fista": lambda a: so.fista(P.box(-a, a), learning_rate=so.backtracking(a, a / 2)),
        "apply_prox": lambda a: so.apply_prox(P.group_l2(a), S.inverse_sqrt(a)),
    }
    x = {"a": jnp.zeros(3), "b": jnp.zeros((2, 2), jnp.float32)}

    def layout(opt):
        state = opt.init(x)
        leaves, tree = jax.tree_util.tree_flatten(state)
        return opt.update, tree, [jax.typeof(v) for v in leaves]  # shape, dtype, weak type

    for name, build in builds.items():
        assert layout(build(0.25)) == layout(build(jnp.asarray(0.75))), name


# --------------------------------------------------------------------------- item 13: properties

N = 6


@jax.jit
def _gd_on_quadratic(q, c, x0, lr):
    fun = lambda x: 0.5 * x @ q @ x - c @ x  # noqa: E731
    return so.run(so.gradient_descent(lr), fun, x0, max_steps=40, tol=0.0, record=True)


@given(
    seed=st.integers(0, 2**32 - 1),
    rank=st.integers(1, N),
    fraction=st.floats(0.05, 1.0),
)
def test_gradient_descent_sufficient_decrease_on_random_convex_quadratics(seed, rank, fraction):
    # f convex quadratic (possibly singular), step eta <= 1/L:
    # f(x_{k+1}) <= f(x_k) - (eta / 2) ||grad f(x_k)||^2, so f decreases monotonically.
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((rank, N)) * rng.uniform(0.1, 3.0)
    q = m.T @ m
    c = rng.standard_normal(N)
    x0 = rng.standard_normal(N)
    lipschitz = float(np.linalg.eigvalsh(q).max())
    lr = fraction / lipschitz
    res = _gd_on_quadratic(q, c, x0, lr)
    f = np.concatenate([[0.5 * x0 @ q @ x0 - c @ x0], np.asarray(res.history.value)])
    g = np.concatenate([[np.linalg.norm(q @ x0 - c)], np.asarray(res.history.stationarity)])
    k = int(res.num_steps)
    assert res.status in (so.Status.MAX_STEPS, so.Status.CONVERGED)
    slack = 1e-12 * (1 + np.abs(f[:k]))
    assert np.all(f[1 : k + 1] <= f[:k] - 0.5 * lr * g[:k] ** 2 + slack)


M_LASSO, N_LASSO, STEPS = 12, 6, 60


@jax.jit
def _fista_on_lasso(a, b, lam, step):
    fun = lambda x: 0.5 * jnp.sum((a @ x - b) ** 2)  # noqa: E731
    opt = so.fista(P.l1(lam), learning_rate=step, restart=False)
    return so.run(opt, fun, jnp.zeros(N_LASSO), max_steps=STEPS, tol=0.0, record=True)


@given(seed=st.integers(0, 2**32 - 1), lam=st.floats(0.01, 2.0), support=st.integers(0, N_LASSO))
def test_fista_rate_bound_on_random_lasso_with_known_solution(seed, lam, support):
    # A Lasso whose solution x* is known in closed form: pick x* and a subgradient s of ||.||_1
    # there (sign(x*) on the support, anything in (-1, 1) off it), then b = A x* + r with r in
    # range(A) and A^T r = lam s, so 0 is in A^T(A x* - b) + lam d||x*||_1. Without restart
    # and with t = 1/L: F(x_k) - F* <= 2 L ||x_0 - x*||^2 / (k + 1)^2 (Beck-Teboulle).
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((M_LASSO, N_LASSO))
    x_star = np.zeros(N_LASSO)
    on = rng.permutation(N_LASSO)[:support]
    x_star[on] = rng.choice([-1.0, 1.0], support) * rng.uniform(0.2, 3.0, support)
    s = rng.uniform(-0.95, 0.95, N_LASSO)
    s[on] = np.sign(x_star[on])
    r = a @ np.linalg.solve(a.T @ a, lam * s)
    b = a @ x_star + r
    f_star = 0.5 * r @ r + lam * np.abs(x_star).sum()
    lipschitz = float(np.linalg.eigvalsh(a.T @ a).max())
    res = _fista_on_lasso(a, b, lam, 1.0 / lipschitz)
    n = int(res.num_steps)  # STEPS, or fewer when F(x_k) = F* exactly (e.g. x* = x_0 = 0)
    gaps = np.asarray(res.history.value)[:n] - f_star
    k = np.arange(1, n + 1)
    bound = 2 * lipschitz * (x_star @ x_star) / (k + 1) ** 2
    assert np.all(gaps <= bound + 1e-10 * (1 + f_star))
    assert np.all(gaps >= -1e-10 * (1 + f_star))  # x* is optimal: nothing gets below F*


# --------------------------------------------------------------------------- item 14: edges


@jax.jit
def _at(reg, x, g):
    """Values and both jacobians of prox, value and min_norm at x."""
    prox = lambda v: reg.prox(v, 0.7)  # noqa: E731
    mn = lambda v: reg.min_norm(v, g)  # noqa: E731
    return (
        (prox(x), reg.value(x), mn(x), reg.directional(x, g)),
        (jax.jacfwd(prox)(x), jax.jacrev(prox)(x)),
        (jax.jacfwd(reg.value)(x), jax.jacrev(reg.value)(x)),
        (jax.jacfwd(mn)(x), jax.jacrev(mn)(x)),
    )


# lam = 0.5 and g below: at x = 0, min_norm is the block soft-threshold of g at lam, over the
# whole tree for l2 (||g|| = sqrt(16.14)), leaf by leaf for group_l2 (||g_b|| = 4).
@pytest.mark.parametrize(
    "reg, factor_b",
    [(P.l2(0.5), 1 - 0.5 / np.sqrt(16.14)), (P.group_l2(0.5), 1 - 0.5 / 4.0)],
    ids=["l2", "group_l2"],
)
def test_l2_and_group_terms_at_exactly_zero_have_finite_values_and_jacobians(reg, factor_b, dtype):
    x = {"a": jnp.zeros(3, dtype), "b": jnp.zeros((2, 2), dtype)}
    g = {"a": jnp.asarray([0.1, -0.2, 0.3], dtype), "b": jnp.full((2, 2), 2.0, dtype)}
    values, *jacobians = _at(reg, x, g)
    for leaf in jax.tree_util.tree_leaves((values, jacobians)):
        assert leaf.dtype == dtype and bool(jnp.all(jnp.isfinite(leaf)))
    prox, value, mn, slope = values
    assert float(value) == 0.0 and float(slope) > 0
    assert all(bool(jnp.all(v == 0)) for v in jax.tree_util.tree_leaves(prox))
    np.testing.assert_allclose(mn["b"], np.full((2, 2), 2.0 * factor_b), rtol=1e-6)


@jax.jit
def _at_scale(x, g, scale):
    lam = 0.2
    reg = P.l2(lam)
    opt = so.subgradient_descent(0.1, normalize=True)
    params = jnp.zeros(2)
    step, _ = opt.update(x, opt.init(params), params, value=jnp.zeros(()))
    return {
        "l2_norm": so.nonsmooth.l2_norm(x),
        "l2_norm_grad": jax.grad(so.nonsmooth.l2_norm)(x),
        "value": reg.value(x),
        "prox": reg.prox(x, scale / lam),  # t lam = scale: shrinks the norm 5 scale by 1/5
        "min_norm": reg.min_norm(x, g),
        "directional": reg.directional(x, g),
        "group": P.group_l2(lam).value({"u": x, "v": -x}),
        "ball": P.l2_ball(2.5 * scale).prox(x, 1.0),  # half of ||x||
        "normalized_step": step,  # length 0.1 whatever the scale of the gradient
    }


@pytest.mark.parametrize("scale", [1e200, 1e-200])
def test_norms_and_proxes_at_1e200_and_1e_minus_200(scale):
    # Squares of these entries overflow to inf / underflow to 0 in float64: a naive norm fails.
    x = np.array([3.0, 4.0]) * scale
    g = np.array([0.5, -0.25])
    lam, unit = 0.2, np.array([0.6, 0.8])
    want = {
        "l2_norm": 5 * scale,
        "l2_norm_grad": unit,
        "value": lam * 5 * scale,
        "prox": 0.8 * x,
        "min_norm": g + lam * unit,
        "directional": lam * (0.3 - 0.2),
        "group": 2 * lam * 5 * scale,
        "ball": 0.5 * x,
        "normalized_step": -0.1 * unit,
    }
    got = _at_scale(jnp.asarray(x), jnp.asarray(g), scale)
    for key, value in want.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-14, err_msg=key)


def test_apply_prox_and_optax_chain_step_limits():
    # The proximal step inside an optax chain at the float64 limits: honest statuses.
    def solve(step):
        opt = optax.chain(optax.sgd(step), so.apply_prox(P.l1(0.1), step))
        return so.run(opt, lambda x: 0.5 * jnp.sum((x - 1.0) ** 2), jnp.zeros(2), max_steps=30)

    assert solve(1e-300).status == so.Status.MAX_STEPS  # the measure does not underflow to 0
    huge = solve(1e300)
    assert huge.status in (so.Status.DIVERGED, so.Status.NONFINITE)
    assert np.all(np.isfinite(huge.params))


@pytest.mark.parametrize("name", sorted(HAND_OPTIMIZERS))
def test_init_by_hand_rejects_integer_boolean_complex_and_half_params(name):
    opt = HAND_OPTIMIZERS[name]()
    for dtype in (jnp.int32, jnp.bool_, jnp.complex64, jnp.float16, jnp.bfloat16):
        with pytest.raises(TypeError, match=r"params\['b'\]"):
            opt.init({"a": jnp.zeros(2), "b": jnp.zeros(3, dtype)})
