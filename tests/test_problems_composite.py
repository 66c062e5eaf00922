"""The composite problem catalogue: data, scalings, lam_max, the log-det rule, cvxpy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import subopt as so
from subopt.problems._composite import logdet

CONSTRUCTORS = [
    lambda dt: so.problems.lasso(20, 10, dtype=dt),
    lambda dt: so.problems.elastic_net(20, 10, dtype=dt),
    lambda dt: so.problems.group_lasso(20, 4, 3, dtype=dt),
    lambda dt: so.problems.nonnegative_least_squares(20, 10, dtype=dt),
    lambda dt: so.problems.sparse_logistic_regression(20, 10, dtype=dt),
    lambda dt: so.problems.graphical_lasso(4, 20, dtype=dt),
]


@pytest.mark.parametrize("make", CONSTRUCTORS)
def test_problems_are_composite_and_keep_dtype(make, dtype):
    p = make(dtype)
    assert isinstance(p, so.problems.Problem)
    assert isinstance(p.reg, so.prox.Regularizer)
    for leaf in jax.tree_util.tree_leaves(p.x0):
        assert leaf.dtype == dtype
    value = p.fun(p.x0)
    assert value.dtype == dtype and np.isfinite(value)
    assert np.isfinite(p.reg.value(p.x0))
    # seeded: the same data twice
    np.testing.assert_array_equal(make(dtype).fun(p.x0), value)


def test_lasso_scaling_and_lam_max():
    p = so.problems.lasso(30, 12, seed=5)
    a, b = np.asarray(p.data["A"]), np.asarray(p.data["b"])
    x = np.linspace(-1, 1, 12)
    np.testing.assert_allclose(p.fun(jnp.asarray(x)), np.sum((a @ x - b) ** 2) / 60, rtol=1e-14)
    assert p.lipschitz == pytest.approx(np.linalg.eigvalsh(a.T @ a).max() / 30)
    assert p.data["lam"] == pytest.approx(0.1 * p.data["lam_max"])
    # 0 is optimal exactly for lam >= lam_max: the min-norm subgradient at 0 vanishes
    for lam, zero in ((p.data["lam_max"], True), (0.99 * p.data["lam_max"], False)):
        g = so.min_norm_subgradient(p.fun, so.prox.l1(lam))(p.x0)
        assert (float(jnp.max(jnp.abs(g))) < 1e-12) == zero


def test_group_and_logistic_lam_max():
    gl = so.problems.group_lasso(30, 5, 2, seed=1)
    g = so.min_norm_subgradient(gl.fun, so.prox.group_l2(gl.data["lam_max"]))(gl.x0)
    assert max(float(jnp.linalg.norm(v)) for v in g) < 1e-12
    g = so.min_norm_subgradient(gl.fun, so.prox.group_l2(0.99 * gl.data["lam_max"]))(gl.x0)
    assert max(float(jnp.linalg.norm(v)) for v in g) > 1e-6
    lr = so.problems.sparse_logistic_regression(50, 8, seed=1)
    # at w = 0 the best bias is logit(mean y); there lam_max makes w = 0 optimal
    ybar = float(jnp.mean(lr.data["y"]))
    x = {"w": jnp.zeros(8), "b": jnp.asarray(np.log(ybar / (1 - ybar)))}
    g = so.min_norm_subgradient(lr.fun, so.prox.l1({"w": lr.data["lam_max"], "b": 0.0}))(x)
    assert float(jnp.max(jnp.abs(g["w"]))) < 1e-12 and abs(float(g["b"])) < 1e-12


def test_elastic_net_matches_sklearn_parametrisation():
    p = so.problems.elastic_net(20, 10, l1=0.3, l2=0.1)
    assert p.data["alpha"] == pytest.approx(0.4) and p.data["l1_ratio"] == pytest.approx(0.75)
    x = jnp.linspace(-1, 1, 10)
    np.testing.assert_allclose(p.reg.value(x), 0.3 * jnp.sum(jnp.abs(x)) + 0.05 * x @ x)


def test_logdet_value_and_gradient_rule():
    rng = np.random.default_rng(0)
    m = rng.standard_normal((5, 5))
    x = m @ m.T + np.eye(5)
    np.testing.assert_allclose(logdet(jnp.asarray(x)), np.linalg.slogdet(x)[1], rtol=1e-13)
    # DIGEST seed 001: grad ln det X = (X^{-1})^T
    np.testing.assert_allclose(jax.grad(logdet)(jnp.asarray(x)), np.linalg.inv(x).T, rtol=1e-10)
    # and a central difference along a symmetric direction
    v = rng.standard_normal((5, 5))
    v = v + v.T
    s = 1e-6
    fd = (np.linalg.slogdet(x + s * v)[1] - np.linalg.slogdet(x - s * v)[1]) / (2 * s)
    _, jvp = jax.jvp(logdet, (jnp.asarray(x),), (jnp.asarray(v),))
    np.testing.assert_allclose(jvp, fd, rtol=1e-7)
    # outside the positive definite cone: -inf (so f = +inf), even with det > 0
    assert float(logdet(jnp.diag(jnp.array([-1.0, -2.0, 3.0])))) == -np.inf


def test_graphical_lasso_gradient_is_s_minus_inverse():
    p = so.problems.graphical_lasso(6, 40, seed=3)
    theta = p.x0 + 0.05 * p.data["S"]
    s = np.asarray(p.data["S"])
    np.testing.assert_allclose(
        jax.grad(p.fun)(theta), s - np.linalg.inv(np.asarray(theta)), rtol=1e-10, atol=1e-12
    )
    np.testing.assert_array_equal(s, s.T)
    assert np.isnan(p.lipschitz)
    assert float(p.fun(-p.x0)) == np.inf


def test_sparse_logistic_regression_matches_cvxpy():
    import cvxpy as cp

    p = so.problems.sparse_logistic_regression(60, 20, seed=2)
    res = so.run(
        so.fista(p.reg, learning_rate=1 / p.lipschitz), p.fun, p.x0, max_steps=20000, tol=1e-10
    )
    assert res.status == so.Status.CONVERGED
    x, y, lam = np.asarray(p.data["X"]), np.asarray(p.data["y"]), p.data["lam"]
    w, b = cp.Variable(20), cp.Variable()
    z = x @ w + b
    obj = cp.sum(cp.logistic(z) - cp.multiply(y, z)) / 60 + lam * cp.norm1(w)
    cp.Problem(cp.Minimize(obj)).solve(solver=cp.CLARABEL)
    assert abs(float(res.value) - obj.value) / obj.value < 1e-7
    np.testing.assert_allclose(res.params["w"], w.value, atol=1e-4)
    assert int(jnp.sum(res.params["w"] == 0)) > 0


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: so.problems.lasso(lam=-0.1), "lam"),
        (lambda: so.problems.lasso(correlation=1.0), "correlation"),
        (lambda: so.problems.elastic_net(l1=0.0, l2=0.0), "l1 and l2"),
        (lambda: so.problems.group_lasso(lam=float("nan")), "lam"),
        (lambda: so.problems.graphical_lasso(lam=-1.0), "lam"),
    ],
)
def test_bad_arguments(build, match):
    with pytest.raises(ValueError, match=match):
        build()
