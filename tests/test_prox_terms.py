"""The v2 terms of subopt.prox (separable, nonnegative_l1, ridge, group_l2 by labels, the
affine projections, box_section, l2_sphere, simplex with total/axis, total_variation_1d,
sorted_l1) against independent references: jaxopt's projections and proxes, cvxpy, a brute
force for TV1D; min_norm against cvxpy's minimum-norm subgradient written from the
definitions; FISTA on problems with known solutions; traces, grad, vmap, dtypes; bad input;
the public extension API."""

import itertools

import chex
import cvxpy as cp
import jax
import jax.numpy as jnp
import jaxopt.projection as jp
import jaxopt.prox as jx
import numpy as np
import pytest

import subopt as so

P = so.prox
rng = np.random.default_rng(14)
N = 8
A_VEC = rng.standard_normal(N)
A_MAT = rng.standard_normal((3, N))
B3 = rng.standard_normal(3)
LABELS = np.array([0, 0, 1, 1, 1, 2, 3, 3])
SLOPE_W = np.sort(rng.uniform(0.2, 1.5, N))[::-1]


def terms():
    return {
        "nonnegative_l1": P.nonnegative_l1(0.7),
        "ridge": P.ridge(0.7),
        "group_labels": P.group_l2(0.6, groups=LABELS),
        "hyperplane": P.hyperplane(A_VEC, 0.8),
        "halfspace": P.halfspace(A_VEC, -0.8),
        "affine_set": P.affine_set(A_MAT, B3),
        "box_section": P.box_section(-0.5, 1.0, A_VEC, 0.3),
        "l2_sphere": P.l2_sphere(1.3),
        "simplex_total": P.simplex(total=2.0),
        "tv": P.total_variation_1d(0.6),
        "slope": P.sorted_l1(SLOPE_W),
    }


NAMES = list(terms())
T = 0.9


@jax.jit
def _evaluate(reg, x, g, t):
    return reg.prox(x, t), reg.value(x), reg.min_norm(x, g), reg.directional(x, g)


def evaluate(reg, x, g=None, t=T):
    x = jnp.asarray(x)
    return _evaluate(reg, x, x if g is None else jnp.asarray(g, x.dtype), jnp.asarray(t))


def np_(v):
    return np.array(v, np.float64)


# ----------------------------------------------------------------- prox vs references

Y = rng.standard_normal(N) * 2
Y[:2] = [0.05, -0.1]  # thresholded to zeros by the l1-type terms


def reference(name, y, t):
    """Independent projections and proxes: jaxopt's, or cvxpy's solution."""
    yj = jnp.asarray(y)
    if name == "nonnegative_l1":
        return jx.prox_non_negative_lasso(yj, 0.7, t)
    if name == "ridge":
        return jx.prox_ridge(yj, 0.7, t)
    if name == "hyperplane":
        return jp.projection_hyperplane(yj, (jnp.asarray(A_VEC), 0.8))
    if name == "halfspace":
        return jp.projection_halfspace(yj, (jnp.asarray(A_VEC), -0.8))
    if name == "affine_set":
        return jp.projection_affine_set(yj, (jnp.asarray(A_MAT), jnp.asarray(B3)))
    if name == "box_section":
        return jp.projection_box_section(
            yj, (jnp.full(N, -0.5), jnp.full(N, 1.0), jnp.asarray(A_VEC), 0.3)
        )
    if name == "l2_sphere":
        return jp.projection_l2_sphere(yj, 1.3)
    if name == "simplex_total":
        return jp.projection_simplex(yj, 2.0)
    x = cp.Variable(N)
    h = {
        "group_labels": lambda: (
            0.6
            * sum(
                np.sqrt(np.sum(LABELS == g)) * cp.norm(x[np.flatnonzero(LABELS == g)], 2)
                for g in range(4)
            )
        ),
        "tv": lambda: 0.6 * cp.norm1(cp.diff(x)),
        "slope": lambda: sum(
            (w - w_next) * cp.sum_largest(cp.abs(x), k + 1)
            for k, (w, w_next) in enumerate(zip(SLOPE_W, np.append(SLOPE_W[1:], 0)))
        ),
    }[name]()
    cp.Problem(cp.Minimize(t * h + 0.5 * cp.sum_squares(x - y))).solve(
        solver=cp.CLARABEL, tol_gap_abs=1e-11, tol_gap_rel=1e-11, tol_feas=1e-11
    )
    return x.value


@pytest.mark.parametrize("name", NAMES)
def test_prox_matches_jaxopt_or_cvxpy(name):
    got = evaluate(terms()[name], Y)[0]
    want = np_(reference(name, Y, T))
    # cvxpy solves to ~1e-9; jaxopt finds the box section's multiplier by bisection
    tol = 1e-6 if name in ("group_labels", "tv", "slope", "box_section") else 1e-12
    np.testing.assert_allclose(np_(got), want, atol=tol * (1 + np.abs(Y).max()))


def _tv_brute_force(y, lam):
    """min over every partition into runs and every jump sign pattern of the objective of
    the candidate run values (sum y - lam s_left + lam s_right) / len; the optimum is one."""
    n = y.size
    best, arg = np.inf, None
    for cuts in itertools.product([0, 1], repeat=n - 1):
        bounds = [0] + [i + 1 for i, c in enumerate(cuts) if c] + [n]
        runs = list(zip(bounds[:-1], bounds[1:]))
        for signs in itertools.product([-1, 1], repeat=len(runs) - 1):
            z = np.empty(n)
            for r, (a, b) in enumerate(runs):
                left = signs[r - 1] if r > 0 else 0
                right = signs[r] if r < len(runs) - 1 else 0
                z[a:b] = (y[a:b].sum() - lam * left + lam * right) / (b - a)
            obj = 0.5 * np.sum((z - y) ** 2) + lam * np.abs(np.diff(z)).sum()
            if obj < best:
                best, arg = obj, z
    return arg


def test_tv_prox_matches_brute_force_on_small_signals():
    prox = jax.jit(lambda y, lam: P.total_variation_1d(lam).prox(y, 1.0))
    for n, lam in [(2, 0.3), (4, 0.5), (6, 1.0), (7, 0.2), (7, 4.0)]:
        y = np.round(rng.standard_normal(n) * 2, 1)
        np.testing.assert_allclose(prox(jnp.asarray(y), lam), _tv_brute_force(y, lam), atol=1e-12)


# ----------------------------------------------------------------- min_norm vs cvxpy


def subdifferential(name, v, x):
    """cvxpy constraints: v is in dh(x), written from the definitions (dual norm and
    <v, x> = h(x) for the norms; cones for the sets)."""
    if name == "tv":
        u = cp.Variable(N - 1)
        return [
            v == cp.hstack([-u[0], u[:-1] - u[1:], u[-1]]),
            cp.abs(u) <= 0.6,
            v @ x == 0.6 * np.abs(np.diff(x)).sum(),
        ]
    if name == "slope":
        cum = np.cumsum(SLOPE_W)
        return [cp.sum_largest(cp.abs(v), k + 1) <= cum[k] for k in range(N)] + [
            v @ x == SLOPE_W @ np.sort(np.abs(x))[::-1]
        ]
    if name == "box_section":
        w, mu = cp.Variable(N), cp.Variable()
        cons = [v == w + mu * A_VEC]
        for i in range(N):
            cons.append(w[i] <= 0 if x[i] == -0.5 else (w[i] >= 0 if x[i] == 1.0 else w[i] == 0))
        return cons
    raise KeyError(name)


@pytest.mark.parametrize("name", ["tv", "slope", "box_section"])
def test_min_norm_matches_cvxpy_at_kinks(name):
    reg = terms()[name]
    for k in range(2):
        y = np.round(rng.standard_normal(N) * 2, 1)
        x = np_(evaluate(reg, y, t=2.0)[0])  # a point with ties / zeros / active bounds
        if name == "slope":
            x[3] = -x[2]  # a cluster of equal magnitudes with opposite signs
        g = rng.standard_normal(N)
        got = np_(evaluate(reg, x, g)[2])
        v = cp.Variable(N)
        cp.Problem(cp.Minimize(cp.sum_squares(g + v)), subdifferential(name, v, x)).solve(
            solver=cp.CLARABEL, tol_gap_abs=1e-11, tol_gap_rel=1e-11, tol_feas=1e-11
        )
        np.testing.assert_allclose(got, g + v.value, atol=2e-5, err_msg=f"{name} {k}")


@pytest.mark.parametrize("name", ["tv", "slope", "group_labels", "nonnegative_l1", "ridge"])
def test_directional_matches_one_sided_differences(name):
    reg = terms()[name]
    value = jax.jit(lambda x: reg.value(x))
    for _ in range(2):
        x = np_(evaluate(reg, np.round(rng.standard_normal(N) * 2, 1), t=2.0)[0])
        d = rng.standard_normal(N)
        if name == "nonnegative_l1":
            d = np.where(x == 0, np.abs(d), d)
        s = 1e-7
        fd = (value(x + s * d) - value(x)) / s
        np.testing.assert_allclose(evaluate(reg, x, d)[3], fd, rtol=1e-5, atol=1e-6)


def test_set_directionals_are_zero_along_feasible_directions_else_inf():
    regs = terms()
    for name in ["hyperplane", "halfspace", "affine_set", "box_section", "l2_sphere"]:
        x = evaluate(regs[name], Y + 10 * A_VEC)[0]  # on the boundary of the halfspace
        u = jnp.asarray(rng.standard_normal(N))
        normal = {
            "hyperplane": A_VEC,
            "halfspace": A_VEC,
            "box_section": A_VEC,
            "l2_sphere": np_(x),
            "affine_set": A_MAT[0],
        }[name]
        assert evaluate(regs[name], x, jnp.asarray(normal))[3] == np.inf, name
        if name != "box_section":  # a tangent direction (the box may block it)
            q, _ = np.linalg.qr(np.atleast_2d(A_MAT if name == "affine_set" else normal).T)
            tangent = np_(u) - q @ (q.T @ np_(u))
            assert evaluate(regs[name], x, tangent)[3] == 0.0, name


# ----------------------------------------------------------------- FISTA, known solutions


def test_fista_solves_a_scaled_denoising_problem_with_every_new_term():
    # min c/2 ||x - y||^2 + h(x) is solved by prox_{h/c}(y): every term in one separable run
    regs = terms()
    c = 2.0
    ys = {name: jnp.asarray(rng.standard_normal(N)) for name in regs}
    reg = P.separable(regs)

    def f(x):
        return 0.5 * c * sum(jnp.sum((x[k] - ys[k]) ** 2) for k in x)

    x0 = {name: jnp.zeros(N) for name in regs}
    x0["l2_sphere"] = ys["l2_sphere"]
    result = so.run(so.fista(reg, learning_rate=0.4), f, x0, max_steps=3000, tol=1e-9)
    assert int(result.status) == so.Status.CONVERGED
    for name in regs:
        want = np_(evaluate(regs[name], ys[name], t=1 / c)[0])
        np.testing.assert_allclose(np_(result.params[name]), want, atol=1e-6, err_msg=name)


# ----------------------------------------------------------------- pytrees, dtypes, traces


@jax.jit
def _prox_value_all(y):
    return {name: (reg.prox(y, T), reg.value(reg.prox(y, T))) for name, reg in terms().items()}


def test_float32_keeps_dtype_and_agrees_with_float64():
    out32 = _prox_value_all(jnp.asarray(Y, jnp.float32))
    for name, (p32, v32) in out32.items():
        p64 = evaluate(terms()[name], Y)[0]  # compiled by the reference tests
        assert p32.dtype == jnp.float32 and v32.dtype == jnp.float32, name
        np.testing.assert_allclose(p32, p64, atol=1e-5 * (1 + np.abs(Y).max()), err_msg=name)
        assert np.isfinite(v32), name


def test_new_hyperparameter_values_do_not_recompile():
    @jax.jit
    @chex.assert_max_traces(n=1)
    def prox_all(lam, y):
        regs = {
            "tv": P.total_variation_1d(lam),
            "slope": P.sorted_l1(lam * jnp.asarray(SLOPE_W)),
            "box_section": P.box_section(-lam, 1.0, A_VEC, 0.1),
            "affine": P.affine_set(A_MAT * (1 + lam), B3),
            "groups": P.group_l2(lam, groups=LABELS),
            "simplex": P.simplex(1 + lam, axis=-1),
        }
        return {k: r.prox(y, 1.0) for k, r in regs.items()}

    for lam in (0.1, 0.5, 2.0):
        prox_all(jnp.asarray(lam), jnp.asarray(Y))


def test_vmap_over_lam_equals_loop_for_tv_and_slope():
    lams = jnp.array([0.0, 0.3, 1.0, 5.0])
    ys = jnp.asarray(rng.standard_normal((4, N)))

    def both(lam, y):
        return (
            P.total_variation_1d(lam).prox(y, 1.0),
            P.sorted_l1(lam * jnp.asarray(SLOPE_W)).prox(y, 1.0),
        )

    batched = jax.jit(jax.vmap(both))(lams, ys)
    for i in range(4):
        single = jax.jit(both)(lams[i], ys[i])
        for b, s in zip(batched, single):
            np.testing.assert_allclose(b[i], s, atol=1e-13)


def test_jacobians_match_finite_differences():
    # reverse mode (grad) through the custom JVPs of the loops and through the sort-based
    # projection, against central differences at a generic point (the maps are locally
    # linear there); both in one compiled call per term
    fns = {
        "tv": lambda y, lam: P.total_variation_1d(lam).prox(y, 1.0),
        "slope": lambda y, lam: P.sorted_l1(lam * jnp.asarray(SLOPE_W)).prox(y, 1.0),
    }
    y, lam, eps = jnp.asarray(Y), jnp.asarray(0.4), 1e-6

    def check(fn):
        jac = jax.jacrev(fn, argnums=(0, 1))(y, lam)
        fd_y = jax.vmap(lambda e: (fn(y + e, lam) - fn(y - e, lam)) / (2 * eps))(eps * jnp.eye(N)).T
        fd_lam = (fn(y, lam + eps) - fn(y, lam - eps)) / (2 * eps)
        return jac, fd_y, fd_lam

    for name, fn in fns.items():
        (jy, jl), fd_y, fd_lam = jax.jit(check, static_argnums=0)(fn)
        np.testing.assert_allclose(jy, fd_y, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(jl, fd_lam, atol=1e-6, err_msg=name)


def test_tv_acts_on_rows_and_simplex_axis_gives_one_simplex_per_row():
    m = jnp.asarray(rng.standard_normal((3, N)))
    tv = terms()["tv"]
    got = jax.jit(lambda m: tv.prox({"m": m, "v": m[0]}, T))(m)
    for i in range(3):
        np.testing.assert_allclose(got["m"][i], evaluate(tv, m[i])[0], atol=1e-14)
    np.testing.assert_allclose(got["v"], got["m"][0])

    def np_simplex(v, s):  # the sort-based formula, rows of a numpy matrix
        u = -np.sort(-v, axis=-1)
        theta = np.max((np.cumsum(u, -1) - s) / np.arange(1, v.shape[-1] + 1), -1)
        return np.maximum(v - theta[..., None], 0)

    proj = jax.jit(lambda m: {a: P.simplex(total=2.0, axis=a).prox(m, 1.0) for a in (0, -1)})(m)
    np.testing.assert_allclose(proj[-1], np_simplex(np_(m), 2.0), atol=1e-12)
    np.testing.assert_allclose(proj[0], np_simplex(np_(m).T, 2.0).T, atol=1e-12)
    assert P.simplex(total=2.0, axis=0).value(proj[0]) == 0.0
    assert P.simplex(total=2.0, axis=0).value(proj[-1]) == np.inf


def test_group_labels_per_leaf_of_a_pytree_and_custom_weights():
    x = {"a": jnp.asarray(Y), "b": jnp.asarray(Y[::-1])}
    reg = P.group_l2(0.6, groups=LABELS, weights=jnp.arange(1.0, 5.0))
    got = reg.prox(x, 1.0)
    for k in x:
        v = np_(x[k])
        want = v.copy()
        for g in range(4):
            idx = LABELS == g
            n = np.linalg.norm(v[idx])
            want[idx] = v[idx] * max(1 - 0.6 * (g + 1) / n, 0)
        np.testing.assert_allclose(got[k], want, atol=1e-13)
    assert np.isclose(
        reg.value(x),
        sum(0.6 * (g + 1) * np.linalg.norm(np_(x[k])[LABELS == g]) for k in x for g in range(4)),
    )


def test_separable_gives_each_part_its_term_and_checks_structure():
    x = {"w": jnp.array([1.0, -2.0]), "b": jnp.array([3.0]), "m": {"p": jnp.ones(2)}}
    reg = P.separable({"w": P.l1(0.5), "b": P.zero(), "m": P.l2(1.0)})
    out = reg.prox(x, 1.0)
    np.testing.assert_allclose(out["w"], [0.5, -1.5])
    np.testing.assert_allclose(out["b"], [3.0])
    np.testing.assert_allclose(out["m"]["p"], np.ones(2) * (1 - 1 / np.sqrt(2)))
    assert np.isclose(reg.value(x), 1.5 + np.sqrt(2))
    with pytest.raises(ValueError, match="not a prefix"):
        reg.prox({"w": x["w"], "b": x["b"]}, 1.0)
    with pytest.raises(TypeError, match=r"terms\['b'\]"):
        P.separable({"w": P.l1(0.5), "b": 0.0})


# ----------------------------------------------------------------- bad input, extension API

BAD = [
    (lambda: P.box(1.0, 0.0), "lower"),
    (lambda: P.box_section(1.0, 0.0, A_VEC, 0.0), "lower"),
    (lambda: P.box_section(0.0, 1.0, np.ones(3), 5.0), "empty"),
    (lambda: P.hyperplane(np.zeros(3), 1.0), "a must not be zero"),
    (lambda: P.halfspace({"u": 0.0, "v": np.zeros(2)}, 1.0), "a must not be zero"),
    (lambda: P.group_l2(1.0, groups=np.array([0, -1])), "groups"),
    (lambda: P.group_l2(1.0, groups=np.array([0, 1]), weights=np.ones(3)), "weights"),
    (lambda: P.sorted_l1(np.array([1.0, 2.0])), "lams"),
    (lambda: P.sorted_l1(np.array([1.0, -0.5])), "lams"),
    (lambda: P.affine_set(np.array([[1.0, 1.0], [2.0, 2.0]]), np.ones(2)), "dependent rows"),
    (lambda: P.simplex(total=0.0), "total"),
    (lambda: P.l2_sphere(-1.0), "radius"),
    (lambda: P.ridge(-1.0), "lam"),
    (lambda: P.nonnegative_l1(np.nan), "lam"),
    (lambda: P.total_variation_1d(-1.0), "lam"),
]


@pytest.mark.parametrize("build, words", BAD)
def test_bad_input_raises_naming_the_argument(build, words):
    with pytest.raises(ValueError, match=words):
        build()


def test_a_user_regularizer_in_a_dozen_lines_works_with_fista_and_calculus():
    @P.register
    class Huber(P.Regularizer):
        lam: jax.Array

        def value(self, x):
            a = jnp.abs(x)
            return self.lam * jnp.sum(jnp.where(a <= 1, a * a / 2, a - 0.5))

        def prox(self, x, step):
            t = step * self.lam
            return jnp.where(jnp.abs(x) <= 1 + t, x / (1 + t), x - t * jnp.sign(x))

        def is_valid(self):
            return (self.lam >= 0) & jnp.isfinite(self.lam)

    reg = Huber(jnp.asarray(1.0))
    np.testing.assert_allclose(reg.prox(jnp.array([0.5, 3.0]), 1.0), [0.25, 2.0])
    y = jnp.array([0.5, 3.0, -4.0])
    result = so.run(
        so.fista(reg, learning_rate=0.5),
        lambda x: 0.5 * jnp.sum((x - y) ** 2),
        jnp.zeros(3),
        tol=1e-10,
    )
    np.testing.assert_allclose(result.params, [0.25, 2.0, -3.0], atol=1e-8)
    assert jnp.isnan(Huber(jnp.asarray(-1.0)).prox(y, 1.0)).all()  # the register guard
    assert float(reg.prox(2.5, 1.0)) == 1.5  # Python-number params become arrays
    with pytest.raises(NotImplementedError, match="Huber does not implement"):
        so.min_norm_subgradient(lambda x: jnp.sum(x), reg)
    with pytest.raises(NotImplementedError, match="directional"):
        so.directional_derivative(lambda x: jnp.sum(x), y, y, reg)
    with pytest.raises(TypeError, match="subclasses"):
        P.register(int)
