"""ns.pointwise_max: the exact minimum-norm subgradient of a max of smooth pieces, against a
brute-force numpy QP and cvxpy on random instances with forced ties, under all transforms."""

import itertools

import cvxpy as cp
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from subopt import nonsmooth as ns
from subopt.nonsmooth._min_norm_point import wolfe_weights

K, N = 5, 3  # pieces, dimension of w; x = {"w": (N,), "b": ()}


def pieces(A, c, s):
    """Convex pieces f_i(x) = 1/2 ||w - c_i||^2 + <A_i, w> + A_i[-1] b + s_i over x = {w, b}."""
    return [
        lambda x, i=i: (
            0.5 * jnp.sum((x["w"] - c[i]) ** 2) + A[i, :N] @ x["w"] + A[i, N] * x["b"] + s[i]
        )
        for i in range(K)
    ]


# The forced ties below are built with cancellation (s_i = 1 - value_i), so the computed values
# tie only up to the rounding of terms of size ~10: the tolerance says so (the default, 4 eps
# relative to the values, is for pieces computed without cancellation).
RTOL = 1e-12


def _grad(x, A, c, s):
    return jax.grad(ns.pointwise_max(pieces(A, c, s), rtol=RTOL))(x)


grad_at = jax.jit(_grad)
value_at = jax.jit(lambda x, A, c, s: ns.pointwise_max(pieces(A, c, s))(x))


def flat(x):
    return np.concatenate([np.ravel(x["w"]), np.ravel(x["b"])])


def piece_grads(x, A, c):
    """The gradients of the pieces at x, written out (rows)."""
    w = np.asarray(x["w"])
    return np.concatenate([w - c, np.zeros((K, 1))], axis=1) + A


def brute_force_min_norm(G):
    """Minimum-norm point of conv(rows of G): best feasible affine minimiser over all faces."""
    best = None
    for r in range(1, len(G) + 1):
        for S in itertools.combinations(range(len(G)), r):
            Q = G[list(S)] @ G[list(S)].T
            kkt = np.block([[Q, np.ones((r, 1))], [np.ones((1, r)), np.zeros((1, 1))]])
            mu = np.linalg.lstsq(kkt, np.r_[np.zeros(r), 1.0], rcond=None)[0][:r]
            if mu.min() < -1e-12 or abs(mu.sum() - 1) > 1e-9:
                continue
            point = mu @ G[list(S)]
            if best is None or point @ point < best @ best - 1e-15:
                best = point
    return best


def forced_tie_instance(rng, tied, dtype=np.float64):
    """Random pieces whose values at a random x are equal on ``tied`` and lower elsewhere."""
    A = rng.standard_normal((K, N + 1))
    c = rng.standard_normal((K, N))
    x = {"w": rng.standard_normal(N), "b": np.asarray(rng.standard_normal())}
    base = np.array([0.5 * np.sum((x["w"] - c[i]) ** 2) + A[i] @ flat(x) for i in range(K)])
    s = -base + np.where(np.isin(np.arange(K), tied), 1.0, 1.0 - rng.uniform(0.5, 2.0, K))
    cast = lambda t: jax.tree_util.tree_map(lambda v: jnp.asarray(v, dtype), t)  # noqa: E731
    return cast(x), cast(A), cast(c), cast(s)


# --------------------------------------------------------------------------- exactness


def test_closed_forms_for_two_pieces():
    F = ns.pointwise_max([lambda x: x, lambda x: 2 * x])  # subdifferential [1, 2] at 0
    np.testing.assert_array_equal(jax.vmap(jax.grad(F))(jnp.array([-1.0, 0.0, 1.0])), [1, 1, 2])
    G = ns.pointwise_max([lambda x: x, lambda x: -x])  # |x|
    assert float(jax.jit(jax.grad(G))(0.0)) == 0.0
    H = ns.pointwise_max([lambda x: x[0], lambda x: x[1]])  # seed 000's max(x1, x2)
    np.testing.assert_array_equal(jax.jit(jax.grad(H))(jnp.array([2.0, 2.0])), [0.5, 0.5])


def test_random_forced_ties_match_cvxpy_qp():
    rng = np.random.default_rng(0)
    for trial in range(12):
        tied = rng.choice(K, size=1 + trial % K, replace=False)
        x, A, c, s = forced_tie_instance(rng, tied)
        G = piece_grads(x, np.asarray(A), np.asarray(c))[tied]
        lam = cp.Variable(len(tied))
        cons = [lam >= 0, cp.sum(lam) == 1]
        cp.Problem(cp.Minimize(cp.sum_squares(G.T @ lam)), cons).solve(solver="CLARABEL")
        want = G.T @ lam.value
        got = flat(grad_at(x, A, c, s))
        np.testing.assert_allclose(got, want, atol=1e-5, err_msg=f"tied={tied}")
        # optimality certificate of the QP: <g_i, g*> >= ||g*||^2 for every active g_i
        assert np.min(G @ got) >= got @ got - 1e-10
        np.testing.assert_allclose(value_at(x, A, c, s), 1.0, rtol=1e-14)


_wolfe = jax.jit(lambda q, active: wolfe_weights(q, active, max_iter=70))


def test_degenerate_hulls_match_brute_force():
    # repeated gradients, a gradient inside the hull of others, 0 inside the hull
    rng = np.random.default_rng(1)
    for trial in range(30):
        G = rng.standard_normal((6, 3))
        if trial % 3 == 0:
            G[1] = G[0]
        if trial % 4 == 0:
            G[2] = 0.5 * (G[0] + G[3])
        if trial % 5 == 0:
            G = G - G.mean(0)
        lam = _wolfe(jnp.asarray(G @ G.T), jnp.ones(6, bool))
        assert np.all(np.asarray(lam) >= 0) and abs(float(jnp.sum(lam)) - 1) < 1e-12
        np.testing.assert_allclose(np.asarray(lam) @ G, brute_force_min_norm(G), atol=1e-9)


KINKY = st.sampled_from([-1.0, 0.0, 1.0])


@given(
    A=arrays(np.float64, (K, N + 1), elements=KINKY),
    s=arrays(np.float64, K, elements=KINKY),
    w=arrays(np.float64, N, elements=KINKY),
    yw=arrays(np.float64, N, elements=st.floats(-3, 3)),
    yb=st.floats(-3, 3),
)
def test_subgradient_inequality_and_min_norm_with_ties(A, s, w, yw, yb):
    # integer data at an integer point: exact ties among the pieces are common
    c = np.zeros((K, N))
    x, y = {"w": w, "b": np.asarray(0.0)}, {"w": yw, "b": np.asarray(yb)}
    g = flat(grad_at(x, A, c, s))
    F = lambda z: max(0.5 * z["w"] @ z["w"] + A[i] @ flat(z) + s[i] for i in range(K))  # noqa: E731
    assert F(y) >= F(x) + g @ (flat(y) - flat(x)) - 1e-9
    vals = np.array([0.5 * w @ w + A[i] @ flat(x) + s[i] for i in range(K)])
    active = vals == vals.max()
    np.testing.assert_allclose(g, brute_force_min_norm(piece_grads(x, A, c)[active]), atol=1e-9)


def test_away_from_ties_equals_the_gradient_of_the_active_piece():
    rng = np.random.default_rng(2)
    A, c = rng.standard_normal((K, N + 1)), rng.standard_normal((K, N))
    s = rng.standard_normal(K)
    fns = pieces(A, c, s)
    for _ in range(5):
        x = {"w": jnp.asarray(rng.standard_normal(N)), "b": jnp.asarray(rng.standard_normal())}
        top = int(np.argmax([float(f(x)) for f in fns]))
        w = flat(x)[:N]
        want = np.r_[w - c[top] + A[top, :N], A[top, N]]  # its gradient, written out
        np.testing.assert_allclose(flat(grad_at(x, A, c, s)), want, rtol=1e-13)


# --------------------------------------------------------------------------- ties and transforms


def test_tie_tolerance_is_relative_and_traceable():
    fns = [lambda x: x + 1, lambda x: -x + 1 + 1e-10]  # f2 above f1 at 0, relative gap 1e-10
    assert float(jax.grad(ns.pointwise_max(fns))(0.0)) == -1.0  # beyond rounding: f2 wins
    assert float(jax.grad(ns.pointwise_max(fns, rtol=1e-8))(0.0)) == 0.0  # a tie within 1e-8
    assert float(jax.grad(ns.pointwise_max(fns, rtol=0.0))(0.0)) == -1.0  # exact ties only
    big = [lambda x: x + 1e6, lambda x: -x + 1e6 + 1e-3]  # relative gap 1e-9
    assert float(jax.grad(ns.pointwise_max(big))(0.0)) == -1.0
    assert float(jax.grad(ns.pointwise_max(big, rtol=1e-8))(0.0)) == 0.0
    traces = []

    @jax.jit
    def g(x, rtol):
        traces.append(1)
        return jax.grad(ns.pointwise_max(fns, rtol=rtol))(x)

    assert float(g(0.0, 1e-12)) == -1.0 and float(g(0.0, 1e-6)) == 0.0
    assert len(traces) == 1  # a new tolerance does not recompile


def test_transforms_and_dtypes(dtype):
    x, A, c, s = forced_tie_instance(np.random.default_rng(3), [0, 2, 3], dtype)
    F = ns.pointwise_max(pieces(A, c, s), rtol=1e-5 if dtype == jnp.float32 else RTOL)
    G = piece_grads(
        jax.tree_util.tree_map(np.float64, x), np.asarray(A, float), np.asarray(c, float)
    )
    want = brute_force_min_norm(G[[0, 2, 3]])
    tol = 1e-4 if dtype == jnp.float32 else 1e-12
    d = {"w": jnp.ones(N, dtype), "b": jnp.asarray(-1.0, dtype)}

    @jax.jit
    def all_transforms(x, d, xs):
        value, slope = jax.jvp(F, (x,), (d,))
        _, pullback = jax.vjp(F, x)
        return {
            "value": value,
            "grad": jax.grad(F)(x),
            "jacrev": jax.jacrev(F)(x),
            "jacfwd": jax.jacfwd(F)(x),
            "jvp": slope,
            "vjp": pullback(jnp.ones((), value.dtype))[0],
            "vmap": jax.vmap(jax.grad(F))(xs),
        }

    xs = jax.tree_util.tree_map(lambda v: jnp.stack([v, v + 1]), x)
    out = all_transforms(x, d, xs)
    assert out["value"].dtype == dtype and out["jvp"].dtype == dtype
    for key in ("grad", "jacrev", "jacfwd", "vjp"):
        assert all(v.dtype == dtype for v in jax.tree_util.tree_leaves(out[key])), key
        np.testing.assert_allclose(flat(out[key]), want, atol=tol, err_msg=key)
    np.testing.assert_allclose(out["jvp"], want @ flat(d), atol=10 * tol)
    np.testing.assert_allclose(
        flat(jax.tree_util.tree_map(lambda v: v[0], out["vmap"])), want, atol=tol
    )
    other = jax.tree_util.tree_map(lambda v: v + 1, x)
    np.testing.assert_allclose(
        flat(jax.tree_util.tree_map(lambda v: v[1], out["vmap"])),
        flat(grad_at(other, A, c, s)),
        rtol=10 * tol,
        atol=tol,
    )


def test_second_derivative_holds_the_weights_fixed():
    F = ns.pointwise_max([lambda x: x + x**2, lambda x: -x + 2 * x**2])  # tie at 0, weights 1/2
    hessians = jax.vmap(jax.hessian(F))(jnp.array([0.0, -1.0, 1.0]))
    np.testing.assert_allclose(hessians, [0.5 * 2 + 0.5 * 4, 4, 2], rtol=1e-14)


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least one"):
        ns.pointwise_max([])
    with pytest.raises(TypeError, match="sequence of callables"):
        ns.pointwise_max(lambda x: x)
    with pytest.raises(TypeError, match=r"fns\[1\] must be callable"):
        ns.pointwise_max([lambda x: x, 3.0])
    with pytest.raises(ValueError, match="rtol"):
        ns.pointwise_max([lambda x: x], rtol=-1.0)
    with pytest.raises(ValueError, match=r"fns\[0\] must return a scalar"):
        ns.pointwise_max([lambda x: x, lambda x: x[0]])(jnp.ones(2))
