"""subopt.prox against closed forms, numpy (bisection, SVD) and cvxpy: prox, min_norm and
directional derivatives of every term, dtypes, vmap without retracing, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import subopt as so

P = so.prox
_rng = np.random.default_rng(5)
SHAPES = {"a": (2, 3), "b": (3, 2)}  # every leaf 2-D, so `nuclear` takes the same pytree
T = 0.7


def _evaluate_all(reg, x, g, t):
    return reg.prox(x, t), reg.value(x), reg.min_norm(x, g), reg.directional(x, g)


# One compiled function for every term class: their pytree structures include the class
# (`subopt._tree.register_dataclass`), so the jit cache cannot hand one term another's program.
_evaluate = jax.jit(_evaluate_all)


def evaluate(reg, x, g=None, t=T):
    """(prox(x, t), value(x), min_norm(x, g), directional(x, g)), compiled once per term, dtype
    and structure (eager dispatch would compile every primitive on its own, much slower)."""
    return _evaluate(reg, x, x if g is None else g, jnp.asarray(t, jnp.float64))


def PROX(reg, x, t):
    return evaluate(reg, x, t=t)[0]


def VALUE(reg, x):
    return evaluate(reg, x)[1]


def MIN_NORM(reg, x, g):
    return evaluate(reg, x, g)[2]


def DIRECTIONAL(reg, x, d):
    return evaluate(reg, x, d)[3]


def rand_tree(rng, scale=2.0):
    return {k: rng.standard_normal(s) * scale for k, s in SHAPES.items()}


def jtree(tree, dtype=jnp.float64):
    return {k: jnp.asarray(v, dtype) for k, v in tree.items()}


def ravel(tree):
    return np.concatenate([np.asarray(tree[k], np.float64).ravel() for k in SHAPES])


W_L1 = {k: np.round(_rng.uniform(0, 1, s), 1) for k, s in SHAPES.items()}  # some zero weights
UPPER = {k: _rng.uniform(0, 1, s) for k, s in SHAPES.items()}
LAM_G = {"a": 0.5, "b": 1.5}


def make(name):
    return {
        "zero": lambda: P.zero(),
        "l1": lambda: P.l1(W_L1),
        "l2": lambda: P.l2(0.8),
        "group_l2": lambda: P.group_l2(LAM_G),
        "elastic_net": lambda: P.elastic_net(0.3, 0.7),
        "nonnegative": lambda: P.nonnegative(),
        "box": lambda: P.box(-0.5, UPPER),
        "l2_ball": lambda: P.l2_ball(1.5),
        "l1_ball": lambda: P.l1_ball(2.0),
        "linf_ball": lambda: P.linf_ball(0.6),
        "simplex": lambda: P.simplex(),
        "nuclear": lambda: P.nuclear(0.9),
    }[name]()


NAMES = [
    "zero",
    "l1",
    "l2",
    "group_l2",
    "elastic_net",
    "nonnegative",
    "box",
    "l2_ball",
    "l1_ball",
    "linf_ball",
    "simplex",
    "nuclear",
]
SETS = {"nonnegative", "box", "l2_ball", "l1_ball", "linf_ball", "simplex"}


# ----------------------------------------------------------------- independent numpy references


def _bisect(fn, lo, hi):
    """Root of a decreasing fn on [lo, hi]."""
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if fn(mid) > 0 else (lo, mid)
    return 0.5 * (lo + hi)


def np_simplex(v):
    theta = _bisect(lambda th: np.maximum(v - th, 0).sum() - 1, v.min() - 1, v.max())
    return np.maximum(v - theta, 0)


def np_l1_ball(v, r):
    if np.abs(v).sum() <= r:
        return v
    theta = _bisect(lambda th: np.maximum(np.abs(v) - th, 0).sum() - r, 0, np.abs(v).max())
    return np.sign(v) * np.maximum(np.abs(v) - theta, 0)


def np_svt(m, t):
    u, s, vt = np.linalg.svd(m, full_matrices=False)
    return (u * np.maximum(s - t, 0)) @ vt


def np_prox(name, x, t):
    """The prox of each term on the dict ``x`` of numpy arrays, written from the formulas."""
    st = lambda v, k: np.sign(v) * np.maximum(np.abs(v) - k, 0)  # noqa: E731
    flat = ravel(x)
    n = np.linalg.norm(flat)

    def unflat(vec):
        out, i = {}, 0
        for k, s in SHAPES.items():
            out[k] = vec[i : i + int(np.prod(s))].reshape(s)
            i += int(np.prod(s))
        return out

    if name == "zero":
        return x
    if name == "l1":
        return {k: st(x[k], t * W_L1[k]) for k in x}
    if name == "l2":
        return {k: x[k] * max(1 - t * 0.8 / n, 0) for k in x}
    if name == "group_l2":
        return {k: x[k] * max(1 - t * LAM_G[k] / np.linalg.norm(x[k]), 0) for k in x}
    if name == "elastic_net":
        return {k: st(x[k], t * 0.3) / (1 + t * 0.7) for k in x}
    if name == "nonnegative":
        return {k: np.maximum(x[k], 0) for k in x}
    if name == "box":
        return {k: np.clip(x[k], -0.5, UPPER[k]) for k in x}
    if name == "l2_ball":
        return {k: x[k] * min(1, 1.5 / n) for k in x}
    if name == "l1_ball":
        return unflat(np_l1_ball(flat, 2.0))
    if name == "linf_ball":
        return {k: np.clip(x[k], -0.6, 0.6) for k in x}
    if name == "simplex":
        return unflat(np_simplex(flat))
    if name == "nuclear":
        return {k: np_svt(x[k], t * 0.9) for k in x}
    raise KeyError(name)


X0 = rand_tree(_rng)
X0["a"][0, :2] = [0.1, -0.05]  # small entries: thresholded to exact zeros


@pytest.mark.parametrize("name", NAMES)
def test_prox_matches_closed_form_and_keeps_dtype(name, dtype):
    reg = make(name)
    want = np_prox(name, X0, T)
    x = jtree(X0, dtype)
    tight = dtype == jnp.float64
    got, value, min_norm, slope = evaluate(reg, x)  # the step is a float64 array
    for k in SHAPES:
        assert got[k].dtype == dtype and min_norm[k].dtype == dtype
        np.testing.assert_allclose(
            got[k], want[k], rtol=1e-11 if tight else 2e-5, atol=1e-12 if tight else 2e-6
        )
    assert value.dtype == dtype and slope.dtype == dtype
    if name in ("l1", "elastic_net", "l1_ball", "simplex", "nonnegative"):
        assert np.sum(np.asarray(PROX(reg, x, T)["a"]) == 0) >= 1  # exact zeros


def test_values_match_formulas():
    x = jtree(X0)
    flat = ravel(X0)
    svals = {k: np.linalg.svd(X0[k], compute_uv=False) for k in SHAPES}
    want = {
        "zero": 0.0,
        "l1": sum(np.sum(W_L1[k] * np.abs(X0[k])) for k in SHAPES),
        "l2": 0.8 * np.linalg.norm(flat),
        "group_l2": sum(LAM_G[k] * np.linalg.norm(X0[k]) for k in SHAPES),
        "elastic_net": 0.3 * np.abs(flat).sum() + 0.35 * flat @ flat,
        "nuclear": 0.9 * sum(s.sum() for s in svals.values()),
    }
    for name, w in want.items():
        np.testing.assert_allclose(VALUE(make(name), x), w, rtol=1e-12)
    for name in SETS:  # X0 lies outside every set; its projection inside
        reg = make(name)
        assert VALUE(reg, x) == np.inf
        assert VALUE(reg, PROX(reg, x, T)) == 0.0


# ----------------------------------------------------------------- cvxpy: prox and min_norm


def cvx_term(name, Z, cp):
    """(objective, constraints) of h on the list Z of cvxpy leaves (order of SHAPES)."""
    flat = cp.hstack([cp.vec(z, order="C") for z in Z])
    keys = list(SHAPES)
    if name == "zero":
        return 0, []
    if name == "l1":
        return sum(cp.sum(cp.multiply(W_L1[k], cp.abs(z))) for k, z in zip(keys, Z)), []
    if name == "l2":
        return 0.8 * cp.norm(flat, 2), []
    if name == "group_l2":
        return sum(LAM_G[k] * cp.norm(cp.vec(z, order="C"), 2) for k, z in zip(keys, Z)), []
    if name == "elastic_net":
        return 0.3 * cp.norm(flat, 1) + 0.35 * cp.sum_squares(flat), []
    if name == "nonnegative":
        return 0, [flat >= 0]
    if name == "box":
        return 0, [c for k, z in zip(keys, Z) for c in (z >= -0.5, z <= UPPER[k])]
    if name == "l2_ball":
        return 0, [cp.norm(flat, 2) <= 1.5]
    if name == "l1_ball":
        return 0, [cp.norm(flat, 1) <= 2.0]
    if name == "linf_ball":
        return 0, [cp.norm(flat, "inf") <= 0.6]
    if name == "simplex":
        return 0, [flat >= 0, cp.sum(flat) == 1]
    if name == "nuclear":
        return sum(0.9 * cp.normNuc(z) for z in Z), []
    raise KeyError(name)


@pytest.mark.parametrize("name", NAMES)
def test_prox_matches_cvxpy(name):
    cp = pytest.importorskip("cvxpy")
    rng = np.random.default_rng(11)
    reg = make(name)
    for _ in range(3):
        x = rand_tree(rng)
        Z = [cp.Variable(s) for s in SHAPES.values()]
        h, cons = cvx_term(name, Z, cp)
        fit = sum(cp.sum_squares(z - x[k]) for k, z in zip(SHAPES, Z)) / (2 * T)
        cp.Problem(cp.Minimize(h + fit), cons).solve()
        got = PROX(reg, jtree(x), T)
        for k, z in zip(SHAPES, Z):
            np.testing.assert_allclose(got[k], z.value, atol=2e-5)


def cvx_subdifferential(name, x, V, cp):
    """Constraints saying the cvxpy leaves V form an element of the subdifferential at x,
    written from the definitions (cones, sign patterns), not from the library's formulas."""
    keys = list(SHAPES)
    flat_v = cp.hstack([cp.vec(v, order="C") for v in V])
    fx = ravel(x)
    if name == "zero":
        return [flat_v == 0]
    if name in ("l1", "elastic_net"):
        w = ravel(W_L1) if name == "l1" else np.full(fx.size, 0.3)
        s = flat_v - (0.7 * fx if name == "elastic_net" else 0)
        on = fx != 0
        return [
            s[np.flatnonzero(on)] == (w * np.sign(fx))[on],
            cp.abs(s[np.flatnonzero(~on)]) <= w[~on],
        ]
    if name in ("l2", "group_l2"):
        blocks = (
            [(flat_v, fx, 0.8)]
            if name == "l2"
            else [(cp.vec(v, order="C"), x[k].ravel(), LAM_G[k]) for k, v in zip(keys, V)]
        )
        cons = []
        for v, xv, lam in blocks:
            n = np.linalg.norm(xv)
            cons.append(v == lam * xv / n if n > 0 else cp.norm(v, 2) <= lam)
        return cons
    if name in ("nonnegative", "box", "linf_ball"):
        lo = {
            "nonnegative": np.zeros(fx.size),
            "box": np.full(fx.size, -0.5),
            "linf_ball": np.full(fx.size, -0.6),
        }[name]
        hi = {
            "nonnegative": np.full(fx.size, np.inf),
            "box": ravel(UPPER),
            "linf_ball": np.full(fx.size, 0.6),
        }[name]
        cons = [flat_v[i] == 0 for i in np.flatnonzero((fx > lo) & (fx < hi))]
        cons += [flat_v[i] <= 0 for i in np.flatnonzero(fx == lo)]
        return cons + [flat_v[i] >= 0 for i in np.flatnonzero(fx == hi)]
    a = cp.Variable(nonneg=True)
    if name == "l2_ball":  # the point is on the sphere in these tests
        return [flat_v == a * fx]
    if name == "l1_ball":
        on = fx != 0
        return [
            flat_v[np.flatnonzero(on)] == a * np.sign(fx[on]),
            cp.abs(flat_v[np.flatnonzero(~on)]) <= a,
        ]
    if name == "simplex":
        tau, w = cp.Variable(), cp.Variable(fx.size, nonpos=True)
        return [flat_v == tau + w, w[np.flatnonzero(fx > 0)] == 0]
    if name == "nuclear":
        cons = []
        for k, v in zip(keys, V):
            u, s, vt = np.linalg.svd(x[k])
            r = int(np.sum(s > 1e-9))
            m = cp.Variable((u.shape[0] - r, vt.shape[0] - r))
            part = u[:, r:] @ m @ vt[r:] if m.size else 0
            cons += (
                [v == 0.9 * (u[:, :r] @ vt[:r] + part), cp.sigma_max(m) <= 1]
                if m.size
                else [v == 0.9 * u[:, :r] @ vt[:r]]
            )
        return cons
    raise KeyError(name)


def kink_points(name, rng):
    """Points with zeros / active constraints: prox outputs, and the origin for the norms."""
    reg = make(name)
    pts = [PROX(reg, jtree(rand_tree(rng)), 3 * T) for _ in range(2)]
    if name in ("l2", "group_l2"):
        pts.append({"a": jnp.zeros(SHAPES["a"]), "b": jtree(rand_tree(rng))["b"]})
    if name == "nuclear":  # rank 1 and rank 0 leaves
        pts.append({"a": jnp.outer(jnp.arange(1.0, 3.0), jnp.ones(3)), "b": jnp.zeros((3, 2))})
    return [{k: np.asarray(v) for k, v in p.items()} for p in pts]


@pytest.mark.parametrize("name", NAMES)
def test_min_norm_matches_cvxpy_at_kinks(name):
    cp = pytest.importorskip("cvxpy")
    rng = np.random.default_rng(12)
    reg = make(name)
    for x in kink_points(name, rng):
        g = rand_tree(rng, 1.0)
        V = [cp.Variable(s) for s in SHAPES.values()]
        cons = cvx_subdifferential(name, x, V, cp)
        obj = sum(cp.sum_squares(v + g[k]) for k, v in zip(SHAPES, V))
        cp.Problem(cp.Minimize(obj), cons).solve()
        got = MIN_NORM(reg, jtree(x), jtree(g))
        for k, v in zip(SHAPES, V):
            np.testing.assert_allclose(got[k], g[k] + v.value, atol=2e-5)


def test_l1_min_norm_closed_form():
    # Lasso-style: soft-threshold of the gradient on zero coordinates, g + lam sign(x) off them.
    x = jnp.array([0.0, 1.5, 0.0, -2.0, 0.0])
    g = jnp.array([0.3, -0.2, -1.7, 0.4, 1.0])
    got = P.l1(1.0).min_norm(x, g)
    np.testing.assert_array_equal(got, [0.0, 0.8, -0.7, -0.6, 0.0])


# ----------------------------------------------------------------- directional derivatives


def _add(x, d, s):
    return {k: x[k] + s * d[k] for k in x}


@pytest.mark.parametrize("name", ["zero", "l1", "l2", "group_l2", "elastic_net", "nuclear"])
def test_directional_matches_one_sided_differences(name):
    rng = np.random.default_rng(13)
    reg = make(name)
    for x in kink_points(name, rng):
        x = jtree(x)
        for _ in range(3):
            d = jtree(rand_tree(rng, 1.0))
            s = 1e-7
            fd = (VALUE(reg, _add(x, d, s)) - VALUE(reg, x)) / s
            np.testing.assert_allclose(DIRECTIONAL(reg, x, d), fd, atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(SETS - {"l2_ball"}))
def test_set_directional_is_zero_on_feasible_directions_else_inf(name):
    rng = np.random.default_rng(14)
    reg = make(name)
    for x in kink_points(name, rng):
        x = jtree(x)
        y = PROX(reg, jtree(rand_tree(rng)), 1.0)
        dirs = [jtree(rand_tree(rng, 1.0)) for _ in range(3)] + [_add(y, x, -1.0)]
        for d in dirs:
            stays = VALUE(reg, _add(x, d, 1e-7)) == 0  # polyhedral: feasible for small s
            assert DIRECTIONAL(reg, x, d) == (0.0 if stays else np.inf)
        assert DIRECTIONAL(reg, x, dirs[-1]) == 0.0  # toward another point of the set
    outside = jtree(rand_tree(rng, 5.0))
    assert np.isnan(DIRECTIONAL(reg, outside, outside))
    assert np.all(np.isnan(ravel(MIN_NORM(reg, outside, outside))))


def test_l2_ball_directional_on_the_sphere():
    reg = P.l2_ball(2.0)
    x = jnp.array([1.2, -1.6, 0.0])  # ||x|| = 2
    assert DIRECTIONAL(reg, x, jnp.array([-1.0, 0.0, 5.0])) == 0.0  # <x, d> < 0: inward
    assert DIRECTIONAL(reg, x, jnp.array([1.0, 0.0, 0.0])) == np.inf  # outward
    assert DIRECTIONAL(reg, x, jnp.array([0.0, 0.0, 1.0])) == np.inf  # tangent: leaves at s^2
    assert DIRECTIONAL(reg, x, jnp.zeros(3)) == 0.0
    assert DIRECTIONAL(reg, 0.5 * x, jnp.array([1.0, 0.0, 0.0])) == 0.0  # interior
    np.testing.assert_allclose(
        MIN_NORM(reg, x, jnp.array([-0.3, 0.4, 1.0])), [0, 0, 1.0], atol=1e-15
    )  # g = -0.25 x + e3: the normal part is removed
    assert np.all(np.isnan(MIN_NORM(reg, 2 * x, x)))


@pytest.mark.parametrize("name", sorted(set(NAMES) - {"l2_ball"}))
def test_minus_min_norm_is_the_steepest_descent_direction(name):
    # DIGEST seed 000: with w the minimum-norm element of g + dh(x) and F = <g, .> + h,
    # F'(x; -w/||w||) = -||w||, and no unit direction descends faster. (Not for the L2 ball:
    # on the sphere the projected gradient is tangent, and the ball is left along tangents.)
    rng = np.random.default_rng(15)
    reg = make(name)
    for x in kink_points(name, rng):
        x, g = jtree(x), jtree(rand_tree(rng, 1.0))
        w = MIN_NORM(reg, x, g)
        nw = float(np.linalg.norm(ravel(w)))
        d = {k: -w[k] / nw for k in w}
        slope = float(ravel(g) @ ravel(d)) + float(DIRECTIONAL(reg, x, d))
        np.testing.assert_allclose(slope, -nw, rtol=1e-9)
        for _ in range(5):
            u = rand_tree(rng, 1.0)
            u = jtree({k: v / np.linalg.norm(ravel(u)) for k, v in u.items()})
            assert float(ravel(g) @ ravel(u)) + float(DIRECTIONAL(reg, x, u)) >= -nw - 1e-9


def test_nuclear_min_norm_matches_gradient_mapping_limit():
    # (x - prox_{th}(x - t g)) / t -> the minimum-norm element as t -> 0.
    reg = P.nuclear(0.9)
    x = {"a": jnp.outer(jnp.array([1.0, -2.0]), jnp.array([0.5, 1.0, 2.0])), "b": jnp.zeros((3, 2))}
    g = jtree(rand_tree(np.random.default_rng(16), 1.0))
    t = 1e-7
    mapped = PROX(reg, _add(x, g, -t), t)
    for k in x:
        np.testing.assert_allclose(MIN_NORM(reg, x, g)[k], (x[k] - mapped[k]) / t, atol=1e-6)


# ----------------------------------------------------------------- jit, vmap, grad, scales

_traces = {"n": 0}


@jax.jit
def _prox_all(regs, x, t):
    _traces["n"] += 1
    return [r.prox(x, t) for r in regs]


def _family(lam):
    return [
        P.l1(lam),
        P.l2(lam),
        P.group_l2(lam),
        P.elastic_net(lam, lam),
        P.box(-lam, lam),
        P.l2_ball(lam),
        P.l1_ball(lam),
        P.linf_ball(lam),
        P.nuclear(lam),
    ]


def test_vmap_over_hyperparameters_and_inputs_equals_loop_without_retrace():
    x = jtree(X0)
    lams = jnp.array([0.0, 0.3, 1.0, 2.5])
    batched = jax.vmap(lambda regs: _prox_all(regs, x, T))(_family(lams))
    for i, lam in enumerate(lams):
        single = _prox_all(_family(float(lam)), x, T)
        for b, s in zip(batched, single):
            for k in SHAPES:
                np.testing.assert_allclose(b[k][i], s[k], rtol=1e-12, atol=1e-14)
    xs = jtree({k: np.stack([X0[k], -X0[k], 0 * X0[k]]) for k in SHAPES})  # a batch of x
    over_x = jax.vmap(lambda v: _prox_all(_family(0.5), v, T))(xs)
    for i in range(3):
        single = _prox_all(_family(0.5), {k: xs[k][i] for k in SHAPES}, T)
        for b, s in zip(over_x, single):
            for k in SHAPES:
                np.testing.assert_allclose(b[k][i], s[k], rtol=1e-12, atol=1e-14)
    before = _traces["n"]
    _prox_all(_family(0.123), x, 0.5)
    _prox_all(_family(jnp.asarray(7.0)), x, jnp.asarray(0.25))
    assert _traces["n"] == before  # new hyperparameter values and steps: same program


def test_grad_through_prox_matches_finite_differences():
    x = jtree(X0)

    @jax.jit
    def loss(lam):
        return sum(
            jnp.sum(jnp.sin(leaf))
            for r in _family(lam)
            for leaf in jax.tree_util.tree_leaves(r.prox(x, T))
        )

    lam, eps = 0.4, 1e-6
    fd = (loss(lam + eps) - loss(lam - eps)) / (2 * eps)
    np.testing.assert_allclose(jax.jit(jax.grad(loss))(lam), fd, rtol=1e-6)


@jax.jit
def _jac_and_grad_at(reg, z):
    return jax.jacobian(lambda v: reg.prox(v, 1.0))(z), jax.grad(reg.value)(z)


@pytest.mark.parametrize(
    "reg",
    [P.l2(0.5), P.group_l2(0.5), P.l2_ball(1.0), P.elastic_net(1, 1)],
    ids=["l2", "group_l2", "l2_ball", "elastic_net"],
)
def test_jacobians_finite_at_zero(reg, dtype):
    z = {k: jnp.zeros(s, dtype) for k, s in SHAPES.items()}
    jac, grad = _jac_and_grad_at(reg, z)
    assert all(bool(jnp.all(jnp.isfinite(j))) for j in jax.tree_util.tree_leaves(jac))
    assert all(bool(jnp.all(jnp.isfinite(gv))) for gv in jax.tree_util.tree_leaves(grad))


@pytest.mark.parametrize("c", [1e150, 1e-150])
def test_huge_and_tiny_scales(c):
    # h(c x) with hyperparameters scaled by c: every answer scales exactly, no overflow.
    x = jtree(X0)
    cx = {k: c * v for k, v in x.items()}
    g = jtree(rand_tree(np.random.default_rng(17), 1.0))
    pairs = [
        (P.l2(0.8), P.l2(0.8 * c)),
        (P.group_l2(0.5), P.group_l2(0.5 * c)),
        (P.l2_ball(1.5), P.l2_ball(1.5 * c)),
        (P.l1_ball(2.0), P.l1_ball(2.0 * c)),
        (P.l1(0.3), P.l1(0.3 * c)),
    ]
    for base, scaled in pairs:
        got, want = PROX(scaled, cx, T), PROX(base, x, T)
        for k in SHAPES:
            np.testing.assert_allclose(got[k] / c, want[k], rtol=1e-12, atol=1e-300)
        if not isinstance(base, (type(P.l2_ball(1.0)), type(P.l1_ball(1.0)))):
            np.testing.assert_allclose(VALUE(scaled, cx) / c / c, VALUE(base, x), rtol=1e-12)
    # The simplex ignores shifts: huge entries are shifted before the threshold is taken.
    want = [0.5, 0.5, 0.0] if c > 1 else [1 / 3] * 3
    np.testing.assert_allclose(P.project_simplex(c * jnp.array([1.0, 1.0, 0.5])), want)
    unit = P.l2(1.0).min_norm(cx, g)  # g + x / ||x||: independent of the scale
    for k in SHAPES:
        np.testing.assert_allclose(unit[k], P.l2(1.0).min_norm(x, g)[k], rtol=1e-12)


def test_projection_onto_a_small_ball_is_feasible_despite_cancellation():
    # |v_i| - theta cancels when the radius is small next to v: the result is rescaled so
    # that the ball's own feasibility test (and min_norm's boundary test) accept it.
    reg = P.l1_ball(1 / 32)
    p = PROX(reg, jnp.ones(12), 1.0)
    assert VALUE(reg, p) == 0.0
    np.testing.assert_allclose(p, np.full(12, 1 / 384), rtol=1e-14)
    np.testing.assert_allclose(MIN_NORM(reg, p, p - 1.0), 0.0, atol=1e-12)


def test_mixed_dtype_pytree_keeps_each_leaf_dtype():
    # One float32 and one float64 leaf, a Python-float step: every leaf keeps its dtype.
    x = {"a": jnp.asarray(X0["a"], jnp.float32), "b": jnp.asarray(X0["b"], jnp.float64)}

    @jax.jit
    def all_terms(x):
        return [(r.prox(x, T), r.min_norm(r.prox(x, T), x)) for r in map(make, NAMES)]

    for name, (out, mn) in zip(NAMES, all_terms(x)):
        assert out["a"].dtype == jnp.float32 and out["b"].dtype == jnp.float64, name
        assert mn["a"].dtype == jnp.float32 and mn["b"].dtype == jnp.float64, name
        np.testing.assert_allclose(out["a"], np_prox(name, X0, T)["a"], rtol=2e-5, atol=2e-6)


# ----------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "build, exc, words",
    [
        (lambda: P.l1(-0.1), ValueError, "lam must be >= 0"),
        (lambda: P.l1(float("nan")), ValueError, "lam must not be NaN"),
        (lambda: P.l1(np.array([0.1, -2.0])), ValueError, "lam must be >= 0"),
        (lambda: P.l1({"a": 1.0, "b": -1.0}), ValueError, "lam['b']"),
        (lambda: P.l1("0.1"), TypeError, "lam"),
        (lambda: P.l1(None), TypeError, "lam"),
        (lambda: P.l2(-1.0), ValueError, "lam"),
        (lambda: P.group_l2(np.inf), ValueError, "lam must be finite"),
        (lambda: P.elastic_net(-1.0, 0.0), ValueError, "l1 must be >= 0"),
        (lambda: P.elastic_net(1.0, -3.0), ValueError, "l2 must be >= 0"),
        (lambda: P.box(1.0, 0.0), ValueError, "lower must be <= upper"),
        (lambda: P.box(np.zeros(3), np.array([1.0, -1.0, 1.0])), ValueError, "lower must be <="),
        (lambda: P.box(np.inf, np.inf), ValueError, "lower must not be inf"),
        (lambda: P.box(-1.0, -np.inf), ValueError, "upper must not be -inf"),
        (lambda: P.box(np.nan, 1.0), ValueError, "lower must not be NaN"),
        (lambda: P.box(np.zeros(2), np.ones(3)), ValueError, "do not broadcast"),
        (lambda: P.l2_ball(-1.0), ValueError, "radius must be >= 0"),
        (lambda: P.l1_ball(float("nan")), ValueError, "radius must not be NaN"),
        (lambda: P.linf_ball(np.inf), ValueError, "radius must be finite"),
        (lambda: P.nuclear(-0.5), ValueError, "lam"),
    ],
)
def test_bad_hyperparameters_raise_at_construction(build, exc, words):
    with pytest.raises(exc, match=None) as info:
        build()
    assert words in str(info.value)


def test_bad_shapes_and_steps_raise_at_first_call():
    with pytest.raises(ValueError, match=r"lam has shape \(3,\)"):
        P.l1(np.ones(3)).prox(jnp.ones(4), 1.0)
    with pytest.raises(ValueError, match="lower has shape"):
        P.box(np.zeros(3), 1.0).prox(jnp.ones((2, 2)), 1.0)
    with pytest.raises(ValueError, match="structure"):
        P.l1({"x": 1.0, "y": 2.0}).value({"x": jnp.ones(2), "z": jnp.ones(2), "w": jnp.ones(1)})
    with pytest.raises(ValueError, match="2-D"):
        P.nuclear(1.0).prox(jnp.ones(3), 1.0)
    with pytest.raises(ValueError, match="step must be >= 0"):
        P.l1(1.0).prox(jnp.ones(3), -0.5)
    with pytest.raises(ValueError, match="scalar"):
        P.group_l2(np.ones(2)).value({"a": jnp.ones(2)})
    with pytest.raises(TypeError, match="subopt.prox regularizer"):
        so.min_norm_subgradient(jnp.sum, reg="l1")
