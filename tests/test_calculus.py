"""min_norm_subgradient and directional_derivative of f + h against closed forms and numpy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import subopt as so

_rng = np.random.default_rng(7)
M, N = 12, 6
A_NP = _rng.standard_normal((M, N))
B_NP = _rng.standard_normal(M)
A, B = jnp.asarray(A_NP), jnp.asarray(B_NP)


def f(x):
    r = A @ x - B
    return 0.5 * r @ r / M


def grad_np(x):
    return A_NP.T @ (A_NP @ x - B_NP) / M


def soft(v, t):
    return np.sign(v) * np.maximum(np.abs(v) - t, 0)


def lasso_min_norm_np(x, lam):
    g = grad_np(x)
    return np.where(x != 0, g + lam * np.sign(x), soft(g, lam))


def lasso_directional_np(x, d, lam):
    return grad_np(x) @ d + lam * np.sum(np.where(x != 0, np.sign(x) * d, np.abs(d)))


# Entries of x are often exactly zero (the kinks), else moderate numbers.
entry = st.one_of(st.just(0.0), st.floats(-3, 3, allow_subnormal=False))  # XLA flushes subnormals
vec = st.lists(entry, min_size=N, max_size=N).map(np.array)
# For finite differences: away from the kinks unless exactly on one.
far = st.one_of(st.just(0.0), st.floats(0.01, 3), st.floats(-3, -0.01))
far_vec = st.lists(far, min_size=N, max_size=N).map(np.array)
lams = st.floats(0.0, 2.0)


@jax.jit
def _lasso_calculus(x, d, lam):
    reg = so.prox.l1(lam)
    g = so.min_norm_subgradient(f, reg)(x)
    nrm = jnp.linalg.norm(g)
    steepest = so.directional_derivative(f, x, -g / jnp.where(nrm > 0, nrm, 1.0), reg)
    return g, so.directional_derivative(f, x, d, reg), steepest, nrm


@given(vec, vec, lams)
def test_lasso_calculus_matches_closed_forms(x, d, lam):
    g, dd, steepest, nrm = _lasso_calculus(jnp.asarray(x), jnp.asarray(d), lam)
    np.testing.assert_allclose(g, lasso_min_norm_np(x, lam), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dd, lasso_directional_np(x, d, lam), rtol=1e-10, atol=1e-10)
    # steepest descent (DIGEST seed 000): F'(x; -g*/||g*||) = -||g*||
    if float(nrm) > 1e-9:
        np.testing.assert_allclose(steepest, -nrm, rtol=1e-10, atol=1e-12)


def _objective(x, lam):
    return 0.5 * np.sum((A_NP @ x - B_NP) ** 2) / M + lam * np.abs(x).sum()


@given(far_vec, vec, lams)
def test_directional_derivative_matches_one_sided_difference(x, d, lam):
    _, dd, _, _ = _lasso_calculus(jnp.asarray(x), jnp.asarray(d), lam)
    s = 1e-7
    fd = (_objective(x + s * d, lam) - _objective(x, lam)) / s
    scale = 1 + np.abs(d).sum() * (1 + np.abs(x).sum())
    assert abs(float(dd) - fd) <= 1e-4 * scale


@jax.jit
def _steepest_slopes(x):
    out = []
    for reg, point in ((so.prox.elastic_net(0.3, 0.7), x), (so.prox.nonnegative(), jnp.abs(x))):
        g = so.min_norm_subgradient(f, reg)(point)
        nrm = jnp.linalg.norm(g)
        slope = so.directional_derivative(f, point, -g / jnp.where(nrm > 0, nrm, 1.0), reg)
        out.append((slope, nrm))
    return out


@given(vec)
def test_steepest_descent_identity_elastic_net_and_nonnegative(x):
    for slope, nrm in _steepest_slopes(jnp.asarray(x)):
        if float(nrm) > 1e-9:
            np.testing.assert_allclose(slope, -nrm, rtol=1e-9, atol=1e-12)


def test_abs_plus_identity_at_zero_is_exact():
    # abs(x) + x at 0: the subdifferential is 1 + [-1, 1] = [0, 2], min-norm element 0; the
    # chain rule through per-primitive rules cannot see that (1 with abs'(0) = 0, JAX's 2).
    g = so.min_norm_subgradient(lambda x: jnp.sum(x), so.prox.l1(1.0))(jnp.zeros(3))
    np.testing.assert_array_equal(g, np.zeros(3))
    assert float(jax.grad(lambda x: jnp.sum(jnp.abs(x) + x))(jnp.zeros(3))[0]) != 0.0
    # and the one-sided slopes: +2 to the right, 0 to the left
    assert (
        float(so.directional_derivative(jnp.sum, jnp.zeros(1), jnp.ones(1), so.prox.l1(1.0))) == 2.0
    )
    assert (
        float(so.directional_derivative(jnp.sum, jnp.zeros(1), -jnp.ones(1), so.prox.l1(1.0)))
        == 0.0
    )


def test_zero_at_the_lasso_optimum_and_not_before():
    p = so.problems.lasso(40, 30, seed=2)
    res = so.run(
        so.fista(p.reg, learning_rate=1 / p.lipschitz), p.fun, p.x0, max_steps=20000, tol=1e-12
    )
    g_star = so.min_norm_subgradient(p.fun, p.reg)
    assert float(jnp.linalg.norm(g_star(res.params))) < 1e-10
    assert float(jnp.linalg.norm(g_star(p.x0))) > 1e-2
    # without the regularizer it is the gradient
    x = jnp.linspace(-1, 1, 30)
    np.testing.assert_allclose(so.min_norm_subgradient(p.fun)(x), jax.grad(p.fun)(x))


def test_digest_directional_derivative_examples():
    # DIGEST seed 004: f = x1^2 + x2^2 at (4, 5): steepest ascent rate sqrt(164)
    sq = lambda x: jnp.sum(x**2)  # noqa: E731
    x = jnp.array([4.0, 5.0])
    u = jnp.array([8.0, 10.0]) / np.sqrt(164.0)
    np.testing.assert_allclose(so.directional_derivative(sq, x, u), np.sqrt(164.0), rtol=1e-12)
    # f = x1 x2 at (1, 0) along the unnormalised u = (-1, -1): g(s) = (1 - s)(-s), g'(0) = -1
    prod = lambda x: x[0] * x[1]  # noqa: E731
    slope = so.directional_derivative(prod, jnp.array([1.0, 0.0]), jnp.array([-1.0, -1.0]))
    assert float(slope) == -1.0


def test_pytrees_jit_vmap_and_dtypes(dtype):
    p = so.problems.sparse_logistic_regression(40, 5, seed=1, dtype=dtype)
    x = {"w": jnp.array([0.0, 1.0, 0.0, -2.0, 0.5], dtype), "b": jnp.zeros((), dtype)}
    g = jax.jit(so.min_norm_subgradient(p.fun, p.reg))(x)
    grad = jax.grad(p.fun)(x)
    lam = p.data["lam"]
    w, gw = np.asarray(x["w"], np.float64), np.asarray(grad["w"], np.float64)
    ref = np.where(w != 0, gw + lam * np.sign(w), soft(gw, lam))
    tol = 1e-6 if dtype == jnp.float32 else 1e-12
    np.testing.assert_allclose(g["w"], ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(g["b"], grad["b"], rtol=tol)  # the bias is not penalized
    assert g["w"].dtype == dtype and g["b"].dtype == dtype
    d = jax.tree_util.tree_map(jnp.ones_like, x)
    slope = so.directional_derivative(p.fun, x, d, p.reg)
    assert slope.dtype == dtype
    # vmap over the weight of the regularizer
    lams = jnp.array([0.0, 0.1, 1.0], dtype)
    batched = jax.vmap(lambda t: so.min_norm_subgradient(f, so.prox.l1(t))(jnp.zeros(N)))(lams)
    for i, t in enumerate(np.asarray(lams)):
        np.testing.assert_allclose(batched[i], soft(grad_np(np.zeros(N)), t), rtol=1e-6, atol=1e-7)


def test_bad_input():
    with pytest.raises(TypeError, match="reg"):
        so.min_norm_subgradient(f, reg="l1")
    with pytest.raises(TypeError, match="reg"):
        so.directional_derivative(f, jnp.zeros(N), jnp.ones(N), reg=0.1)
    with pytest.raises(TypeError, match="fun"):
        so.min_norm_subgradient(3)
    with pytest.raises(TypeError, match="fun"):
        so.directional_derivative(None, jnp.zeros(N), jnp.ones(N))
    with pytest.raises(ValueError, match="shape|structure"):
        so.directional_derivative(f, jnp.zeros(N), jnp.ones(N + 1))
