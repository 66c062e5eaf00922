"""ns.clarke_min_norm against cvxpy QPs (over the exact subdifferential written out by hand,
and over a hull of gradients sampled next to the point), and the steepest-descent optimizer.

The convex test problems share one compiled function: terms switched on by traced weights,
so each case is new data, not a new compile. The kinks are exact: integer data and points.
"""

import cvxpy as cp
import jax
import jax.numpy as jnp
import numpy as np

import subopt as so
from subopt import nonsmooth as ns

N = 4
RNG = np.random.default_rng(0)
TIGHT = {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12}


def combo(x, d):
    """w . (LAD, SVM, TV, max-pooling, group lasso, Lasso) + <c, x>: convex, exact kinks."""
    lad = jnp.sum(ns.abs(d["A"] @ x - d["b"]))
    svm = jnp.sum(ns.hinge(d["y"] * (d["C"] @ x) + d["o"])) + 0.5 * jnp.sum(x * x)
    tv = jnp.sum(ns.abs(jnp.diff(x)))
    pool = jnp.sum(jnp.max(x.reshape(2, 2), axis=1))
    group = ns.l2_norm(x[:2]) + 0.5 * jnp.sum((x[2:] - 1.0) ** 2)
    lasso = 0.5 * jnp.sum((d["L"] @ x - d["l"]) ** 2) + 0.25 * ns.l1_norm(x)
    terms = jnp.stack([lad, svm, tv, pool, group, lasso])
    return d["w"] @ terms + d["c"] @ x


_clarke = jax.jit(lambda x, d: ns.clarke_min_norm(lambda v: combo(v, d), x, convex=True))
_sampled = jax.jit(jax.vmap(jax.grad(combo), in_axes=(0, None)))


def _data(term, x0):
    A = RNG.integers(-2, 3, (6, N)).astype(float)
    b = A @ x0
    b[4:] += [1.0, -2.0]  # rows 0-3 are exact zeros of the residual at x0
    C = RNG.integers(-2, 3, (5, N)).astype(float)
    y = np.where(RNG.random(5) < 0.5, -1.0, 1.0)
    o = 1.0 - y * (C @ x0)  # margins exactly 1 at x0 (the kink of the hinge)
    o[3:] += [2.0, -3.0]
    w = np.eye(6)[term]
    c = RNG.integers(-1, 2, N) * 0.5
    L, l = np.eye(N), np.zeros(N)
    data = dict(A=A, b=b, C=C, y=y, o=o, w=w, c=c, L=L, l=l)
    return {k: jnp.asarray(v) for k, v in data.items()}


def _hull_qp(G):
    lam = cp.Variable(len(G), nonneg=True)
    problem = cp.Problem(cp.Minimize(cp.sum_squares(G.T @ lam)), [cp.sum(lam) == 1])
    problem.solve("CLARABEL", **TIGHT)
    return G.T @ lam.value


def _exact_qp(term, x0, d):
    """The minimum-norm element of the subdifferential written out by hand."""
    A, b, C, y, o, c = (np.asarray(d[k]) for k in "AbCyoc")
    g = cp.Variable(N)
    if term == 0:  # sum |a_i x - b_i|: sign(r_i) a_i, or [-1, 1] a_i where r_i = 0
        r = A @ x0 - b
        s = cp.Variable(len(r))
        cons = [s[r > 0] == 1, s[r < 0] == -1, cp.abs(s) <= 1, g == A.T @ s + c]
    elif term == 1:  # hinge(z_i): -1 below the margin, [-1, 0] at it; z = y C x + o
        z = y * (C @ x0) + o
        s = cp.Variable(len(z))
        cons = [s[z < 1] == -1, s[z > 1] == 0, s <= 0, s >= -1]
        cons += [g == (C.T * y) @ s + x0 + c]
    elif term == 2:  # total variation: D^T s with s_i in [-1, 1] at ties
        D = np.diff(np.eye(N), axis=0)
        r = D @ x0
        s = cp.Variable(N - 1)
        cons = [s[r > 0] == 1, s[r < 0] == -1, cp.abs(s) <= 1, g == D.T @ s + c]
    elif term == 3:  # max-pooling: conv of the tied units of each window
        lam = cp.Variable(N, nonneg=True)
        tied = np.concatenate([w == w.max() for w in x0.reshape(2, 2)])
        cons = [lam[~tied] == 0, cp.sum(lam[:2]) == 1, cp.sum(lam[2:]) == 1, g == lam + c]
    else:  # group lasso at a zero group: the unit ball on the group, plus the smooth part
        u = cp.Variable(2)
        cons = [cp.norm(u) <= 1, g[:2] == u + c[:2], g[2:] == x0[2:] - 1.0 + c[2:]]
    cp.Problem(cp.Minimize(cp.sum_squares(g)), cons).solve("CLARABEL", **TIGHT)
    return g.value


POINTS = [  # exact kinks of each term
    np.array([1.0, -1.0, 2.0, 0.0]),  # LAD: four zero residuals
    np.array([1.0, 0.0, -1.0, 2.0]),  # SVM: three points on the margin
    np.array([1.0, 1.0, 1.0, -2.0]),  # TV: two ties
    np.array([3.0, 3.0, -1.0, -1.0]),  # max-pooling: both windows tied
    np.array([0.0, 0.0, 2.0, -1.0]),  # group lasso: the group is zero
]


def test_convex_compositions_give_the_minimum_norm_subgradient():
    for term, x0 in enumerate(POINTS):
        d = _data(term, x0)
        g, info = _clarke(jnp.asarray(x0), d)
        assert bool(info.certified), term
        want = _exact_qp(term, x0, d)
        np.testing.assert_allclose(g, want, atol=1e-6, err_msg=f"term {term}")
        # the sampled hull: gradients at random points next to x0 (smooth there a.s.)
        near = x0 + 1e-7 * RNG.standard_normal((300, N))
        sampled = _hull_qp(np.asarray(_sampled(jnp.asarray(near), d)))
        np.testing.assert_allclose(g, sampled, atol=1e-4, err_msg=f"term {term}")


def test_lasso_at_its_optimum_gives_zero():
    rng = np.random.default_rng(3)
    L = rng.standard_normal((N, N))
    x_star = np.array([0.0, 1.5, -0.5, 0.0])  # optimal with zero entries: grad f = -lam s
    s = np.array([0.4, 1.0, -1.0, -0.8])
    lam = 0.25
    l = L @ x_star + lam * np.linalg.solve(L.T, s)  # L^T (L x* - l) = -lam s
    d = dict(_data(0, x_star), w=jnp.eye(6)[5], c=jnp.zeros(N), L=jnp.asarray(L), l=jnp.asarray(l))
    g, info = _clarke(jnp.asarray(x_star), d)
    np.testing.assert_allclose(g, 0.0, atol=1e-12)
    assert bool(info.certified)
    # the chain rule (jax.grad, via the compiled batch of the sampling test): -lam s_i at 0
    chain = np.asarray(_sampled(jnp.tile(jnp.asarray(x_star), (300, 1)), d)[0])
    np.testing.assert_allclose(chain, [-lam * 0.4, 0.0, 0.0, lam * 0.8], atol=1e-12)


def test_nonconvex_is_an_uncertified_inner_estimate_and_float32():
    # -|x| at 0: the Clarke set is [-1, 1] (min-norm 0); LD sees one side only
    g, info = ns.clarke_min_norm(lambda x: -ns.abs(x[0]), jnp.zeros(1, jnp.float32))
    assert g.dtype == jnp.float32 and abs(float(g[0])) <= 1 and not bool(info.certified)


def test_steepest_descent_on_lad():
    A = RNG.standard_normal((12, 3))
    b = RNG.standard_normal(12)
    x = cp.Variable(3)
    f_star = cp.Problem(cp.Minimize(cp.norm1(A @ x - b))).solve("CLARABEL", **TIGHT)
    Aj, bj = jnp.asarray(A), jnp.asarray(b)
    lad = lambda x: jnp.sum(ns.abs(Aj @ x - bj))  # noqa: E731
    opt = so.steepest_descent()
    state = opt.init(jnp.zeros(3))
    assert isinstance(state.info, so._info.StepInfo) and float(state.info.stationarity) == np.inf
    res = so.run(opt, lad, jnp.zeros(3), max_steps=60, tol=0.0)
    assert float(res.value) - f_star < 1e-7 * f_star  # the subgradient method is far off
    assert isinstance(res.opt_state.info, so._info.StepInfo)
    assert np.isfinite(float(res.opt_state.info.stationarity))
