"""The textbook's worked numbers (DIGEST seeds 001, 002, 004), as the gallery examples use them.

Closed-form matrix gradients against jax.grad; directional derivatives (8, 10), sqrt(164) and -1
through so.directional_derivative; one-sided derivatives and the minimum-norm steepest-descent
direction at a kink, against the support function of the subdifferential; forward and reverse
mode on x1 x2 + sin x1; gradient descent on a ravine against the closed-form iteration
(I - eta H)^k x0 and the critical step 2 / lambda_max; low-rank factorization against the
truncated SVD (Eckart-Young).
"""

import math

import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import subopt as so

FLOATS = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)


def matrices(shape):
    return hnp.arrays(np.float64, shape, elements=FLOATS)


def tol(dtype):
    return 1e-5 if dtype == jnp.float32 else 1e-12


# ------------------------------------------------------- matrix calculus


@jax.jit
def _trace_grad(A, X, B):
    return jax.grad(lambda X: jnp.trace(A @ X.T @ B))(X)


@jax.jit
def _factor_grads(A, X, Y):
    return jax.grad(lambda X, Y: 0.5 * jnp.sum((X @ Y - A) ** 2), argnums=(0, 1))(X, Y)


@jax.jit
def _logdet_grad(X):
    return jax.grad(lambda X: jnp.linalg.slogdet(X)[1])(X)


@given(A=matrices((3, 2)), X=matrices((4, 2)), B=matrices((4, 3)))
def test_trace_gradient_is_BA(A, X, B):
    np.testing.assert_allclose(_trace_grad(A, X, B), B @ A, atol=1e-12)


@given(A=matrices((5, 4)), X=matrices((5, 2)), Y=matrices((2, 4)))
def test_factorization_gradients_closed_form(A, X, Y):
    gX, gY = _factor_grads(A, X, Y)
    R = X @ Y - A
    np.testing.assert_allclose(gX, R @ Y.T, atol=1e-11)
    np.testing.assert_allclose(gY, X.T @ R, atol=1e-11)


@given(M=matrices((4, 4)))
def test_logdet_gradient_is_inverse_transpose(M):
    spd = M @ M.T + np.eye(4)
    np.testing.assert_allclose(_logdet_grad(spd), np.linalg.inv(spd), rtol=1e-9, atol=1e-12)
    # a non-symmetric matrix with positive determinant: X^{-T}, not X^{-1}
    N = 3 * np.eye(4) + 0.5 * M
    assume(np.linalg.cond(N) < 1e4)
    if np.linalg.det(N) <= 0:
        N[[0, 1]] = N[[1, 0]]
    np.testing.assert_allclose(_logdet_grad(N), np.linalg.inv(N).T, rtol=1e-8, atol=1e-10)


def test_logdet_gradient_transpose_matters(dtype):
    N = np.array([[2.0, 1.0, 0.0], [0.0, 1.0, 3.0], [0.5, 0.0, 2.0]])
    assert np.linalg.det(N) > 0
    g = jax.grad(lambda X: jnp.linalg.slogdet(X)[1])(jnp.asarray(N, dtype))
    assert g.dtype == dtype
    np.testing.assert_allclose(g, np.linalg.inv(N).T, rtol=1e-5 if dtype == jnp.float32 else 1e-12)
    assert np.abs(np.asarray(g) - np.linalg.inv(N)).max() > 0.1


def test_low_rank_factorization_reaches_eckart_young(dtype):
    rng = np.random.default_rng(3)
    m, n, r = 12, 8, 2
    A_np = rng.normal(size=(m, r)) @ rng.normal(size=(r, n)) + 0.05 * rng.normal(size=(m, n))
    sing = np.linalg.svd(A_np, compute_uv=False)
    f_star = 0.5 * np.sum(sing[r:] ** 2)
    A = jnp.asarray(A_np, dtype)

    def loss(params):
        X, Y = params
        return 0.5 * jnp.sum((X @ Y - A) ** 2)

    x0 = (
        jnp.asarray(0.1 * rng.normal(size=(m, r)), dtype),
        jnp.asarray(0.1 * rng.normal(size=(r, n)), dtype),
    )
    tol_ = 1e-3 if dtype == jnp.float32 else 1e-8
    res = so.run(so.gradient_descent(0.5 / sing[0]), loss, x0, max_steps=3000, tol=tol_)
    assert res.status == so.Status.CONVERGED
    assert res.params[0].dtype == dtype and res.value.dtype == dtype
    np.testing.assert_allclose(
        float(res.value), f_star, rtol=1e-4 if dtype == jnp.float32 else 1e-9
    )


# ----------------------------------------------- directional derivatives


def test_gradient_and_steepest_ascent_rate_at_4_5(dtype):
    f = lambda x: x[0] ** 2 + x[1] ** 2  # noqa: E731
    x = jnp.array([4.0, 5.0], dtype)
    g = jax.grad(f)(x)
    np.testing.assert_array_equal(g, [8.0, 10.0])
    rate = so.directional_derivative(f, x, g / jnp.linalg.norm(g))
    assert rate.dtype == dtype
    np.testing.assert_allclose(rate, math.sqrt(164), rtol=tol(dtype))
    theta = np.linspace(0, 2 * np.pi, 7200, endpoint=False)
    dirs = jnp.asarray(np.stack([np.cos(theta), np.sin(theta)], axis=1), dtype)
    slopes = jax.vmap(lambda d: so.directional_derivative(f, x, d))(dirs)
    assert float(slopes.max()) <= math.sqrt(164) * (1 + tol(dtype))
    np.testing.assert_allclose(float(slopes.max()), math.sqrt(164), rtol=1e-6)
    np.testing.assert_allclose(float(slopes.min()), -math.sqrt(164), rtol=1e-6)


def test_x1_x2_along_minus_one_minus_one(dtype):
    f = lambda x: x[0] * x[1]  # noqa: E731
    x, u = jnp.array([1.0, 0.0], dtype), jnp.array([-1.0, -1.0], dtype)
    g = lambda s: f(x + s * u)  # noqa: E731  (1 - s)(-s)
    assert float(jax.grad(g)(jnp.zeros((), dtype))) == -1.0
    assert float(jnp.vdot(jax.grad(f)(x), u)) == -1.0
    assert float(so.directional_derivative(f, x, u)) == -1.0
    unit = so.directional_derivative(f, x, u / jnp.sqrt(2.0).astype(dtype))
    np.testing.assert_allclose(unit, -1 / math.sqrt(2), rtol=tol(dtype))


def _smooth(x):
    return jnp.sin(x[0]) * x[1] + jnp.exp(0.3 * x[1]) + x[0] ** 3 / 3


@jax.jit
def _dd_smooth(x, d):
    return so.directional_derivative(_smooth, x, d)


@given(x=hnp.arrays(np.float64, 2, elements=FLOATS), d=hnp.arrays(np.float64, 2, elements=FLOATS))
def test_smooth_directional_derivative_is_inner_product_and_g_prime(x, d):
    expected = (
        np.array([np.cos(x[0]) * x[1] + x[0] ** 2, np.sin(x[0]) + 0.3 * np.exp(0.3 * x[1])]) @ d
    )
    np.testing.assert_allclose(_dd_smooth(x, d), expected, rtol=1e-10, atol=1e-12)
    # g'(0) with g(s) = f(x + s d), by a central difference
    h = 1e-5
    quotient = (_smooth(x + h * d) - _smooth(x - h * d)) / (2 * h)
    np.testing.assert_allclose(_dd_smooth(x, d), quotient, rtol=1e-6, atol=1e-7)


# F = f + |x1| + 2|x2| with f = 2 x1 + x2 + x1^2/2 + x2^2, at the kink 0 (the example's function):
# the subdifferential at 0 is (2, 1) + [-1, 1] x [-2, 2] = [1, 3] x [-1, 3], g* = (1, 0).
KINK_VERTICES = np.array([[1.0, -1.0], [1.0, 3.0], [3.0, -1.0], [3.0, 3.0]])
KINK_REG = so.prox.l1(jnp.array([1.0, 2.0]))


def _kink_f(x):
    return 2 * x[0] + x[1] + 0.5 * x[0] ** 2 + x[1] ** 2


@jax.jit
def _kink_dd(d):
    return so.directional_derivative(_kink_f, jnp.zeros(2), d, reg=KINK_REG)


@given(d=hnp.arrays(np.float64, 2, elements=FLOATS), a=st.floats(0.01, 10.0))
def test_kink_directional_derivative_is_support_function(d, a):
    support = np.max(KINK_VERTICES @ d)  # F'(0; d) = max over the subdifferential of <g, d>
    np.testing.assert_allclose(_kink_dd(d), support, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_kink_dd(a * d), a * support, rtol=1e-12, atol=1e-11)
    assert float(_kink_dd(d)) >= float(np.array([1.0, 0.0]) @ d) - 1e-12  # >= <g*, d>


def test_kink_one_sided_quotients_and_steepest_descent():
    F = jax.jit(jax.vmap(lambda x: _kink_f(x) + KINK_REG.value(x)))
    dirs = jnp.array([[1.0, 0.0], [-1.0, 0.0], [0.0, -1.0], [-1.0, -1.0], [1.0, -2.0]])
    s = 1e-8
    quotients = (F(s * dirs) - F(jnp.zeros((1, 2)))) / s  # one-sided difference quotients
    np.testing.assert_allclose(jax.vmap(_kink_dd)(dirs), quotients, atol=1e-6)
    assert (float(_kink_dd(jnp.array([1.0, 0.0]))), float(_kink_dd(jnp.array([-1.0, 0.0])))) == (
        3.0,
        -1.0,
    )
    g_star = so.min_norm_subgradient(_kink_f, KINK_REG)(jnp.zeros(2))
    np.testing.assert_array_equal(g_star, [1.0, 0.0])
    norm = float(jnp.linalg.norm(g_star))
    assert float(_kink_dd(-g_star / norm)) == -norm
    theta = np.linspace(0, 2 * np.pi, 3600, endpoint=False)
    slopes = jax.vmap(_kink_dd)(jnp.asarray(np.stack([np.cos(theta), np.sin(theta)], axis=1)))
    assert float(slopes.min()) == pytest.approx(-norm, abs=1e-12)
    assert theta[int(jnp.argmin(slopes))] == pytest.approx(np.pi)


# --------------------------------------------- automatic differentiation


def _graph(x):
    return x[0] * x[1] + jnp.sin(x[0])


@jax.jit
def _both_modes(x):
    jvps = jax.vmap(lambda e: jax.jvp(_graph, (x,), (e,))[1])(jnp.eye(2, dtype=x.dtype))
    value, pullback = jax.vjp(_graph, x)
    return jvps, pullback(jnp.ones_like(value))[0]


@given(x=hnp.arrays(np.float64, 2, elements=st.floats(-10, 10)))
def test_forward_and_reverse_mode_give_cos_x1_plus_x2_and_x1(x):
    forward, reverse = _both_modes(x)
    expected = np.array([np.cos(x[0]) + x[1], x[0]])
    np.testing.assert_allclose(forward, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(reverse, expected, rtol=1e-12, atol=1e-12)


# ------------------------------------------ gradient descent pathologies

FLOOR = np.array([np.cos(np.pi / 6), np.sin(np.pi / 6)])
ACROSS = np.array([-FLOOR[1], FLOOR[0]])
H_RAVINE = np.outer(FLOOR, FLOOR) + 50.0 * np.outer(ACROSS, ACROSS)  # eigenvalues 1 and 50
X0_RAVINE = -2.5 * FLOOR + 0.15 * ACROSS


def _ravine(x):
    return 0.5 * x @ jnp.asarray(H_RAVINE, x.dtype) @ x


def test_ravine_hessian_ratio_and_critical_step():
    lam = np.linalg.eigvalsh(jax.jit(jax.hessian(_ravine))(jnp.asarray(X0_RAVINE)))
    np.testing.assert_allclose(lam, [1.0, 50.0], rtol=1e-12)
    critical = 2 / lam.max()
    etas = jnp.array([0.5, 0.98, 1.02]) * critical
    x0 = jnp.asarray(X0_RAVINE)
    statuses = jax.vmap(
        lambda eta: so.run(so.gradient_descent(eta), _ravine, x0, max_steps=2000).status
    )(etas)
    assert statuses.tolist() == [so.Status.CONVERGED, so.Status.CONVERGED, so.Status.DIVERGED]


def test_ravine_iterates_match_closed_form(dtype):
    eta, k = 0.039, 25
    res = so.run(
        so.gradient_descent(eta), _ravine, jnp.asarray(X0_RAVINE, dtype), max_steps=k, tol=0.0
    )
    assert res.status == so.Status.MAX_STEPS and int(res.num_steps) == k
    expected = np.linalg.matrix_power(np.eye(2) - eta * H_RAVINE, k) @ X0_RAVINE
    assert res.params.dtype == dtype
    np.testing.assert_allclose(res.params, expected, rtol=1e-4 if dtype == jnp.float32 else 1e-11)
    # the across-valley component flips sign every step: the zig-zag of the ravine
    across, x = [], X0_RAVINE
    for _ in range(5):
        across.append(x @ ACROSS)
        x = x - eta * H_RAVINE @ x
    assert np.all(np.sign(across[1:]) == -np.sign(across[:-1]))


def _cliff(x):
    return jnp.exp(8.0 * (x[0] - 1.0)) - x[0] + 0.25 * x[1] ** 2


def test_cliff_small_step_converges_large_step_is_thrown_back():
    x_star = np.array([1 - np.log(8.0) / 8, 0.0])
    x0 = jnp.array([-2.0, 1.5])
    res = jax.vmap(lambda eta: so.run(so.gradient_descent(eta), _cliff, x0, max_steps=2000))(
        jnp.array([0.2, 0.6])
    )
    assert res.status.tolist() == [so.Status.CONVERGED, so.Status.MAX_STEPS]
    np.testing.assert_allclose(res.params[0], x_star, atol=1e-5)
    # one step from just past the foot of the wall: x1 <- x1 - eta (8 e^{8(x1 - 1)} - 1)
    opt = so.gradient_descent(0.6)
    x = jnp.array([x_star[0] + 0.5, 0.0])
    updates, _ = opt.update(jax.grad(_cliff)(x), opt.init(x), x)
    step = float(jnp.asarray(optax.apply_updates(x, updates))[0])
    expected = float(x[0]) - 0.6 * (8 * np.exp(8 * (float(x[0]) - 1)) - 1)
    np.testing.assert_allclose(step, expected, rtol=1e-12)
    assert float(x[0]) - step > 5 * 0.6  # launched back much further than a step down the slope
