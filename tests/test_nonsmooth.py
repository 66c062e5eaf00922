"""subopt.nonsmooth primitives: subgradient inequality, minimum-norm elements at kinks (closed
forms, numpy and cvxpy), agreement with jax away from kinks, and jax's transforms."""

import cvxpy as cp
import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from subopt import nonsmooth as ns

KINKY = st.sampled_from([-2.0, -1.0, 0.0, 1.0, 2.0])  # draws hit kinks and ties often
ANY = st.floats(-4.0, 4.0, allow_nan=False)


def kinky(shape):
    return arrays(np.float64, shape, elements=KINKY)


def anywhere(shape):
    return arrays(np.float64, shape, elements=ANY)


# --------------------------------------------------------------------------- (a) inequality

_abs_g = jax.jit(jax.grad(lambda x: jnp.sum(ns.abs(x))))
_relu_g = jax.jit(jax.grad(lambda x: jnp.sum(ns.relu(x))))
_hinge_g = jax.jit(jax.grad(lambda x: jnp.sum(ns.hinge(x))))
_max_both = jax.jit(jax.grad(lambda a, b: jnp.sum(ns.maximum(a, b)), argnums=(0, 1)))
_min_both = jax.jit(jax.grad(lambda a, b: jnp.sum(ns.minimum(a, b)), argnums=(0, 1)))
_max_const = jax.jit(jax.grad(lambda a, c: jnp.sum(ns.maximum(a, c))))  # c: no tangent
_min_const = jax.jit(jax.grad(lambda a, c: jnp.sum(ns.minimum(a, c))))


@given(x=kinky(8), c=kinky(8), y=anywhere(8), y2=anywhere(8))
def test_elementwise_primitives(x, c, y, y2):
    tol = 1e-12  # covers rounding only
    # (a) the subgradient inequality, entry by entry
    for g_fun, f in [
        (_abs_g, np.abs),
        (_relu_g, lambda v: np.maximum(v, 0.0)),
        (_hinge_g, lambda v: np.maximum(0.0, 1.0 - v)),
    ]:
        assert np.all(f(y) >= f(x) + np.asarray(g_fun(x)) * (y - x) - tol)
    ga, gb = map(np.asarray, _max_both(x, c))
    assert np.all(np.maximum(y, y2) >= np.maximum(x, c) + ga * (y - x) + gb * (y2 - c) - tol)
    ha, hb = map(np.asarray, _min_both(x, c))  # concave: the reverse inequality
    assert np.all(np.minimum(y, y2) <= np.minimum(x, c) + ha * (y - x) + hb * (y2 - c) + tol)
    g_max, g_min = np.asarray(_max_const(x, c)), np.asarray(_min_const(x, c))
    assert np.all(np.maximum(y, c) >= np.maximum(x, c) + g_max * (y - x) - tol)
    assert np.all(np.minimum(y, c) <= np.minimum(x, c) + g_min * (y - x) + tol)
    # (b) the minimum-norm element of each subdifferential, written out
    np.testing.assert_array_equal(_abs_g(x), np.sign(x))
    np.testing.assert_array_equal(_relu_g(x), (x > 0).astype(float))
    np.testing.assert_array_equal(_hinge_g(x), -(x < 1).astype(float))
    np.testing.assert_array_equal(ga, np.where(x > c, 1.0, np.where(x < c, 0.0, 0.5)))
    np.testing.assert_array_equal(gb, np.where(c > x, 1.0, np.where(c < x, 0.0, 0.5)))
    np.testing.assert_array_equal(ha, np.where(x < c, 1.0, np.where(x > c, 0.0, 0.5)))
    np.testing.assert_array_equal(g_max, (x > c).astype(float))  # tie with a constant: 0
    np.testing.assert_array_equal(g_min, (x < c).astype(float))


_rowmax = jax.jit(jax.grad(lambda x: jnp.sum(ns.max(x, axis=1))))
_colmin = jax.jit(jax.grad(lambda x: jnp.sum(ns.min(x, axis=0, keepdims=True))))
_allmax = jax.jit(jax.grad(ns.max))


@given(x=kinky((4, 5)), y=anywhere((4, 5)))
def test_reductions_inequality(x, y):
    g = np.asarray(_rowmax(x))
    assert np.all(y.max(1) >= x.max(1) + np.sum(g * (y - x), 1) - 1e-12)
    g = np.asarray(_colmin(x))  # concave
    assert np.all(y.min(0) <= x.min(0) + np.sum(g * (y - x), 0) + 1e-12)
    g = np.asarray(_allmax(x))
    assert y.max() >= x.max() + np.sum(g * (y - x)) - 1e-12
    # (b) the minimum-norm point of conv{e_i : i tied} is the even split
    hit = x == x.max(1, keepdims=True)
    np.testing.assert_allclose(_rowmax(x), hit / hit.sum(1, keepdims=True), rtol=1e-15)
    hit = x == x.min(0, keepdims=True)
    np.testing.assert_allclose(_colmin(x), hit / hit.sum(0, keepdims=True), rtol=1e-15)


def _flat(tree):
    return np.concatenate([np.ravel(v) for v in jax.tree_util.tree_leaves(tree)])


_l1_g, _l2_g, _linf_g = (jax.jit(jax.grad(f)) for f in (ns.l1_norm, ns.l2_norm, ns.linf_norm))


@given(a=kinky(4), b=kinky((2, 3)), ya=anywhere(4), yb=anywhere((2, 3)))
@example(a=np.zeros(4), b=np.zeros((2, 3)), ya=np.ones(4), yb=-np.ones((2, 3)))
def test_norm_subgradient_inequality_over_pytrees(a, b, ya, yb):
    x, y = {"a": a, "b": b}, {"a": ya, "b": yb}
    fx, fy = _flat(x), _flat(y)
    for g_fun, norm in [
        (_l1_g, lambda v: np.abs(v).sum()),
        (_l2_g, np.linalg.norm),
        (_linf_g, lambda v: np.abs(v).max()),
    ]:
        g = _flat(g_fun(x))
        assert np.all(np.isfinite(g))
        assert norm(fy) >= norm(fx) + g @ (fy - fx) - 1e-12
    # (b) closed forms: sign(x); x / ||x|| (0 at 0); the sign split over the largest entries
    np.testing.assert_array_equal(_flat(_l1_g(x)), np.sign(fx))
    n2 = np.linalg.norm(fx)
    np.testing.assert_allclose(_flat(_l2_g(x)), fx / n2 if n2 else 0 * fx, rtol=1e-15)
    top = np.abs(fx) == np.abs(fx).max()
    np.testing.assert_allclose(_flat(_linf_g(x)), np.sign(fx) * top / top.sum(), rtol=1e-15)


_nuc_grad = jax.jit(jax.grad(ns.nuclear_norm))


def _nuc(X):
    return np.linalg.svd(X, compute_uv=False).sum()


@given(
    rank=st.integers(0, 3),
    A=arrays(np.float64, (3, 3), elements=KINKY),
    B=arrays(np.float64, (3, 4), elements=KINKY),
    Y=anywhere((3, 4)),
)
def test_nuclear_norm_subgradient_inequality(rank, A, B, Y):
    X = A[:, :rank] @ B[:rank]  # rank-deficient (often 0 or with repeated singular values)
    G = np.asarray(_nuc_grad(X))
    assert _nuc(Y) >= _nuc(X) + np.sum(G * (Y - X)) - 1e-9


# --------------------------------------------------------------------------- (b) kinks


def test_worked_examples_from_the_digest():
    # seed 000: |x| and relu at 0, max(x1, x2) at a tie.
    assert float(jax.grad(ns.abs)(0.0)) == 0.0
    assert float(jax.grad(ns.relu)(0.0)) == 0.0
    np.testing.assert_array_equal(jax.grad(ns.max)(jnp.array([2.0, 2.0])), [0.5, 0.5])
    # the cases jax.numpy gets wrong, from the issue
    assert float(jax.grad(lambda x: ns.maximum(x, 0.0))(0.0)) == 0.0
    assert float(jax.grad(ns.hinge)(1.0)) == 0.0
    for norm in (ns.l1_norm, ns.l2_norm, ns.linf_norm):
        np.testing.assert_array_equal(jax.grad(norm)(jnp.zeros(3)), np.zeros(3))
    np.testing.assert_array_equal(jax.grad(ns.nuclear_norm)(jnp.zeros((2, 3))), np.zeros((2, 3)))


def _cvx_min_norm(n, constraints):
    g = cp.Variable(n)
    cp.Problem(cp.Minimize(cp.sum_squares(g)), constraints(g)).solve(solver="CLARABEL")
    return g.value


def _random_kinky(rng, n):
    return rng.integers(-2, 3, n).astype(np.float64)


def test_norms_and_max_at_random_ties_match_cvxpy_min_norm():
    # The subdifferential of a norm at x is {g : ||g||_dual <= 1, <g, x> = ||x||}; of max,
    # {g >= 0, sum g = 1, <g, x> = max x}. cvxpy finds its minimum-norm element.
    rng = np.random.default_rng(0)
    for _ in range(6):
        x = _random_kinky(rng, 7)
        cases = {
            ns.l1_norm: lambda g, x=x: [cp.norm(g, "inf") <= 1, g @ x == np.abs(x).sum()],
            ns.l2_norm: lambda g, x=x: [cp.norm(g, 2) <= 1, g @ x == np.linalg.norm(x)],
            ns.linf_norm: lambda g, x=x: [cp.norm(g, 1) <= 1, g @ x == np.abs(x).max()],
            ns.max: lambda g, x=x: [g >= 0, cp.sum(g) == 1, g @ x == x.max()],
            ns.min: lambda g, x=x: [g >= 0, cp.sum(g) == 1, g @ x == x.min()],
        }
        for fun, cons in cases.items():
            want = _cvx_min_norm(7, cons)
            np.testing.assert_allclose(jax.grad(fun)(x), want, atol=1e-6, err_msg=str(fun))


def test_nuclear_norm_at_rank_deficient_matrices_matches_cvxpy_min_norm():
    rng = np.random.default_rng(1)
    spectra = [[2.0, 2.0, 0.0], [3.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]
    for s in spectra:
        U = np.linalg.qr(rng.standard_normal((3, 3)))[0]
        V = np.linalg.qr(rng.standard_normal((4, 3)))[0]
        X = U @ np.diag(s) @ V.T
        G = cp.Variable((3, 4))
        cons = [cp.sigma_max(G) <= 1, cp.sum(cp.multiply(G, X)) == _nuc(X)]
        cp.Problem(cp.Minimize(cp.sum_squares(G)), cons).solve(solver="CLARABEL")
        got = np.asarray(_nuc_grad(X))
        np.testing.assert_allclose(got, G.value, atol=1e-4)
        r = int(np.sum(np.asarray(s) > 0))  # closed form U_r V_r^T
        np.testing.assert_allclose(got, U[:, :r] @ V[:, :r].T, atol=1e-12)
