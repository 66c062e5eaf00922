"""subopt.linear_model's solver against scikit-learn, celer and cvxpy on generated problems:
equal objectives (1e-8 relative) and supports, the duality gap as a certificate, gap-safe
screening that never drops a true-support feature, sparse input, jit/vmap and one compile
per shape. Most tests share one shape and working-set size, so they share compiled programs.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
from helpers import ar_design
from hypothesis import given, settings
from hypothesis import strategies as st

import subopt as so
from subopt import linear_model as lm
from subopt.linear_model._solver import solve_jit

N, P = 48, 64  # one shape for most tests; ws_size=P: one compiled program per problem kind


def design(seed=0, n=N, p=P, rho=0.5):
    return ar_design(seed, n, p, rho)


def regression(seed=0):
    x, w, rng = design(seed)
    return x, x @ w + 0.1 * rng.standard_normal(N)


def lam_max(x, y):
    return float(np.max(np.abs(x.T @ y)) / len(y))


def lasso_objective(x, y, w, alpha):
    r = y - x @ w
    return 0.5 * r @ r / len(y) + alpha * np.abs(w).sum()


def fit(datafit, pen, x, y, **kw):
    kw.setdefault("ws_size", x.shape[1])
    res = lm.fit(datafit, pen, x, y, tol=kw.pop("tol", 1e-12), **kw)
    assert int(res.status) == so.Status.CONVERGED
    return res


def assert_same(obj_ours, obj_ref, w_ours, w_ref, rel=1e-8):
    assert obj_ours <= obj_ref + rel * abs(obj_ref)
    assert abs(obj_ours - obj_ref) <= rel * abs(obj_ref)
    big = np.abs(w_ref) > 1e-6 * np.abs(w_ref).max()
    assert np.array_equal(np.asarray(w_ours) != 0, big)


@pytest.mark.parametrize("ratio", [0.5, 0.05])
def test_lasso_equals_sklearn_and_celer(ratio):
    from celer import Lasso as CelerLasso
    from sklearn.linear_model import Lasso

    x, y = regression()
    alpha = ratio * lam_max(x, y)
    res = fit(lm.quadratic(), lm.l1(alpha), x, y)
    sk = Lasso(alpha=alpha, fit_intercept=False, tol=1e-14, max_iter=100_000).fit(x, y)
    ce = CelerLasso(alpha=alpha, fit_intercept=False, tol=1e-14).fit(x, y)
    ours = lasso_objective(x, y, np.asarray(res.coef), alpha)
    for ref in (sk.coef_, ce.coef_):
        assert_same(ours, lasso_objective(x, y, ref, alpha), res.coef, ref)


def test_elastic_net_and_positive_lasso_equal_sklearn():
    from sklearn.linear_model import ElasticNet, Lasso

    x, y = regression(1)
    alpha = 0.05 * lam_max(x, y)
    res = fit(lm.quadratic(), lm.elastic_net(alpha, 0.7), x, y)
    sk = ElasticNet(
        alpha=alpha, l1_ratio=0.7, fit_intercept=False, tol=1e-14, max_iter=100_000
    ).fit(x, y)

    def enet(w):
        r = y - x @ w
        return 0.5 * r @ r / N + alpha * (0.7 * np.abs(w).sum() + 0.15 * w @ w)

    assert_same(enet(np.asarray(res.coef)), enet(sk.coef_), res.coef, sk.coef_)
    pos = fit(lm.quadratic(), lm.nonnegative_l1(alpha), x, y)
    skp = Lasso(alpha=alpha, positive=True, fit_intercept=False, tol=1e-14, max_iter=100_000).fit(
        x, y
    )
    assert np.all(np.asarray(pos.coef) >= 0)
    assert_same(
        lasso_objective(x, y, np.asarray(pos.coef), alpha),
        lasso_objective(x, y, skp.coef_, alpha),
        pos.coef,
        skp.coef_,
    )


def test_group_lasso_equals_celer():
    from celer import GroupLasso

    x, y = regression(2)
    groups = np.arange(P) // 4
    alpha = 0.1 * lam_max(x, y)
    res = fit(lm.quadratic(), lm.group_l2(alpha, groups, weights=np.ones(P // 4)), x, y)
    ce = GroupLasso(groups=4, alpha=alpha, fit_intercept=False, tol=1e-14).fit(x, y)

    def obj(w):
        r = y - x @ w
        return 0.5 * r @ r / N + alpha * np.linalg.norm(w.reshape(-1, 4), axis=1).sum()

    ours, ref = obj(np.asarray(res.coef)), obj(ce.coef_)
    assert abs(ours - ref) <= 1e-8 * ref
    on = np.linalg.norm(ce.coef_.reshape(-1, 4), axis=1) > 1e-8
    assert np.array_equal(np.linalg.norm(np.asarray(res.coef).reshape(-1, 4), axis=1) > 0, on)


def test_l1_logistic_equals_liblinear():
    from sklearn.linear_model import LogisticRegression

    x, w, rng = design(3)
    y = np.where(rng.random(N) < 1 / (1 + np.exp(-x @ w)), 1.0, -1.0)
    c = 2.0
    alpha = 1 / (c * N)  # liblinear: ||w||_1 + C sum log(1 + e^{-y x.w})
    res = fit(lm.logistic(), lm.l1(alpha), x, y)
    sk = LogisticRegression(
        penalty="l1", C=c, solver="liblinear", fit_intercept=False, tol=1e-12, max_iter=100_000
    ).fit(x, y)

    def obj(v):
        return np.mean(np.logaddexp(0, -y * (x @ v))) + alpha * np.abs(v).sum()

    assert_same(obj(np.asarray(res.coef)), obj(sk.coef_[0]), res.coef, sk.coef_[0], rel=1e-7)


def test_logistic_prox_newton_equals_fista(dtype):
    """Proximal Newton (the logistic default) and FISTA on the working sets reach the same
    certified optimum, with an intercept, in float32 and float64, and keep the dtype."""
    x, w, rng = design(7)
    y = np.where(rng.random(N) < 1 / (1 + np.exp(-(x @ w) - 0.5)), 1.0, -1.0)
    alpha = 0.05 * float(np.max(np.abs(x.T @ y)) / (2 * N))
    tol = 1e-10 if dtype == np.float64 else 1e-5
    args = (lm.logistic(), lm.l1(alpha), x.astype(dtype), y.astype(dtype), np.full(N, 1 / N, dtype))
    runs = {
        newton: solve_jit(
            *args,
            jnp.zeros(P, dtype),
            jnp.zeros((), dtype),
            ws_size=P,
            fit_intercept=True,
            tol=tol,
            max_outer=200,
            newton=newton,
        )
        for newton in (True, False)
    }
    newton, fista = runs[True], runs[False]
    assert int(newton.status) == int(fista.status) == 0
    assert newton.coef.dtype == dtype and newton.intercept.dtype == dtype
    f = {k: float(lm.objective(*args[:4], r.coef, r.intercept)) for k, r in runs.items()}
    scale = float(np.mean(np.logaddexp(0, 0 * y)))  # F(0), the scale of the tolerance
    assert abs(f[True] - f[False]) <= 2 * tol * scale + 1e-12
    if dtype == np.float64:  # the same support, off near-ties
        big = np.abs(np.asarray(fista.coef)) > 1e-6
        np.testing.assert_array_equal(np.asarray(newton.coef)[big] != 0, True)


@pytest.mark.parametrize("kind", ["lasso", "logistic"])
def test_anderson_equals_fista(kind, dtype):
    """Anderson-accelerated proximal gradient on the working sets (the ``anderson`` option)
    reaches FISTA's certified optimum, with an intercept, for least squares (Gram space) and
    logistic (dense block), in float32 and float64."""
    x, w, rng = design(11)
    if kind == "lasso":
        datafit, y = lm.quadratic(), x @ w + 0.1 * rng.standard_normal(N)
        scale = 0.5 * float(np.mean(y * y))
    else:
        datafit = lm.logistic()
        y = np.where(rng.random(N) < 1 / (1 + np.exp(-(x @ w))), 1.0, -1.0)
        scale = float(np.log(2))
    alpha = 0.1 * float(np.max(np.abs(x.T @ y)) / N)
    tol = 1e-10 if dtype == np.float64 else 1e-5
    args = (datafit, lm.l1(alpha), x.astype(dtype), y.astype(dtype), np.full(N, 1 / N, dtype))
    options = dict(ws_size=P, fit_intercept=True, tol=tol, max_outer=200, newton=False)
    start = (jnp.zeros(P, dtype), jnp.zeros((), dtype))
    runs = {aa: solve_jit(*args, *start, anderson=aa, **options) for aa in (True, False)}
    assert int(runs[True].status) == int(runs[False].status) == 0
    assert runs[True].coef.dtype == dtype and float(runs[True].gap) <= tol * scale
    f = {k: float(lm.objective(*args[:4], r.coef, r.intercept)) for k, r in runs.items()}
    assert abs(f[True] - f[False]) <= 2 * tol * scale + 1e-12  # both within tol of F*


def test_anderson_needs_a_curvature_bound():
    x, w, rng = design(4)
    y = rng.poisson(np.exp(x @ w / 4)).astype(float)
    with pytest.raises(ValueError, match="anderson=True.*poisson"):
        fit(lm.poisson(), lm.l1(0.1), x, y, anderson=True)
    with pytest.raises(ValueError, match="newton=True"):
        solve_jit(
            lm.logistic(),
            lm.l1(0.1),
            jnp.asarray(x),
            jnp.sign(jnp.asarray(y) - 0.5),
            jnp.full(N, 1 / N),
            jnp.zeros(P),
            0.0,
            ws_size=P,
            anderson=True,
            newton=True,
        )


def poisson_data(seed=4):
    x, w, rng = design(seed)
    x = x / 4
    return x, rng.poisson(np.exp(0.3 + x @ w / 2)).astype(float)


def test_poisson_equals_sklearn_ridge_and_cvxpy_l1():
    import cvxpy as cp
    from sklearn.linear_model import PoissonRegressor

    x, y = poisson_data()
    alpha = 0.01
    # sklearn: mean half-deviance + alpha ||w||^2 / 2 = elastic net with l1_ratio = 0
    res = fit(lm.poisson(), lm.elastic_net(alpha, 0.0), x, y, fit_intercept=True)
    sk = PoissonRegressor(alpha=alpha, tol=1e-12, max_iter=10_000).fit(x, y)

    def ridge(w, b):
        return float(lm.objective(lm.poisson(), lm.elastic_net(alpha, 0.0), x, y, w, b))

    ours, ref = ridge(res.coef, res.intercept), ridge(sk.coef_, sk.intercept_)
    assert ours <= ref + 1e-10 * abs(ref)
    np.testing.assert_allclose(np.asarray(res.coef), sk.coef_, atol=1e-4)

    l1 = 0.05
    res = fit(lm.poisson(), lm.elastic_net(l1, 1.0), x, y, fit_intercept=True)
    w, b = cp.Variable(P), cp.Variable()
    z = x @ w + b
    prob = cp.Problem(cp.Minimize(cp.sum(cp.exp(z) - cp.multiply(y, z)) / N + l1 * cp.norm1(w)))
    prob.solve(solver=cp.CLARABEL)
    ours = lm.objective(lm.poisson(), lm.l1(l1), x, y, res.coef, res.intercept)
    const = np.mean(np.where(y > 0, y * np.log(np.where(y > 0, y, 1)), 0) - y)
    ref = prob.value + const
    assert float(ours) <= ref + 1e-7 * abs(ref)
    assert float(res.gap) <= 1e-10


def test_gap_is_a_certificate():
    x, y = regression(5)
    alpha = 0.1 * lam_max(x, y)
    res = fit(lm.quadratic(), lm.l1(alpha), x, y, tol=1e-14)
    f_star = lasso_objective(x, y, np.asarray(res.coef), alpha) - float(res.gap)
    at_solution = float(lm.gap(lm.quadratic(), lm.l1(alpha), x, y, res.coef))
    base = float(np.mean(y**2) / 2)  # F(0), the scale of the relative tolerance
    assert abs(at_solution) <= 1e-14 * base + 1e-13 and at_solution == pytest.approx(
        float(res.gap), abs=1e-13
    )
    rng = np.random.default_rng(0)
    for scale in (1e-3, 1e-1, 1.0):
        w = np.asarray(res.coef) + scale * rng.standard_normal(P) * (rng.random(P) < 0.3)
        g = float(lm.gap(lm.quadratic(), lm.l1(alpha), x, y, w))
        assert g >= lasso_objective(x, y, w, alpha) - f_star - 1e-12
        assert g > 0


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), ratio=st.floats(0.02, 0.9))
def test_screening_never_drops_the_support(seed, ratio):
    from sklearn.linear_model import Lasso

    x, y = regression(seed)
    alpha = ratio * lam_max(x, y)
    res = fit(lm.quadratic(), lm.l1(alpha), x, y, tol=1e-10)
    ref = Lasso(alpha=alpha, fit_intercept=False, tol=1e-12, max_iter=100_000).fit(x, y)
    support = np.abs(ref.coef_) > 0
    assert not np.any(np.asarray(res.screened) & support)


def test_paths_equal_sklearn_and_per_alpha_fits(monkeypatch):
    from sklearn.linear_model import lasso_path

    from subopt.linear_model import _solver

    sizes = []
    solve_jit = _solver.solve_jit

    def recording(*args, ws_size, **kw):
        sizes.append(ws_size)
        return solve_jit(*args, ws_size=ws_size, **kw)

    monkeypatch.setattr(_solver, "solve_jit", recording)
    x, y = regression(6)
    alphas, coefs, gaps = lm.lasso_path(x, y, n_alphas=6, eps=1e-2, tol=1e-12, ws_size=P)
    assert set(sizes) == {P}  # lasso_path passes ws_size on (it once dropped it)
    sk_alphas, sk_coefs, _ = lasso_path(x, y, n_alphas=6, eps=1e-2, tol=1e-14, max_iter=100_000)
    np.testing.assert_allclose(alphas, sk_alphas, rtol=1e-12)
    assert np.all(gaps <= 1e-12 * 0.5 * y @ y / N + 1e-16)
    for i, a in enumerate(alphas):
        single = fit(lm.quadratic(), lm.l1(a), x, y)
        ours = lasso_objective(x, y, coefs[:, i], a)
        assert abs(ours - lasso_objective(x, y, np.asarray(single.coef), a)) <= 1e-9 * ours
        assert abs(ours - lasso_objective(x, y, sk_coefs[:, i], a)) <= 1e-9 * ours


def test_working_sets_grow_from_the_smallest_size():
    from sklearn.linear_model import Lasso

    x, y = regression(6)
    x = x[:, :24]
    alpha = 0.01 * lam_max(x, y)
    grown = lm.fit(lm.quadratic(), lm.l1(alpha), x, y, tol=1e-12)  # starts at 16 features
    assert int(grown.status) == 0
    assert np.count_nonzero(np.asarray(grown.coef)) > 8  # more than half of 16: it grew
    sk = Lasso(alpha=alpha, fit_intercept=False, tol=1e-14, max_iter=100_000).fit(x, y)
    ours = lasso_objective(x, y, np.asarray(grown.coef), alpha)
    assert_same(ours, lasso_objective(x, y, sk.coef_, alpha), grown.coef, sk.coef_)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_input_equals_dense(fmt):
    x, y = regression(7)
    x = np.where(np.abs(x) > 1.0, x, 0.0)
    alpha = 0.1 * lam_max(x, y)
    dense = fit(lm.quadratic(), lm.l1(alpha), x, y, fit_intercept=True)
    sparse = fit(
        lm.quadratic(), lm.l1(alpha), sp.csr_matrix(x).asformat(fmt), y, fit_intercept=True
    )
    np.testing.assert_allclose(np.asarray(sparse.coef), np.asarray(dense.coef), atol=1e-9)
    np.testing.assert_allclose(float(sparse.intercept), float(dense.intercept), atol=1e-9)


def test_float32_keeps_its_dtype_and_is_close():
    x, y = regression(8)
    alpha = 0.1 * lam_max(x, y)
    ref = fit(lm.quadratic(), lm.l1(alpha), x, y)
    res = lm.fit(lm.quadratic(), lm.l1(alpha), x, y, tol=1e-5, ws_size=P, dtype=np.float32)
    assert res.coef.dtype == jnp.float32
    assert int(res.status) == 0
    obj = lasso_objective(x, y, np.asarray(ref.coef), alpha)
    # float32 rounding of the objective: a few eps of the scale y^2 / (2n)
    scale = 0.5 * y @ y / N
    assert lasso_objective(x, y, np.asarray(res.coef, float), alpha) - obj <= 1e-4 * scale


def test_solve_is_vmappable_compiles_once_and_reports_invalid():
    x, y = regression(9)
    xs, ys = jnp.asarray(x), jnp.asarray(y)
    s = jnp.full(N, 1 / N)
    amax = lam_max(x, y)

    def one(alpha):
        return lm.solve(
            lm.quadratic(), lm.l1(alpha), xs, ys, s, jnp.zeros(P), 0.0, ws_size=P, tol=1e-12
        )

    batch = jax.jit(jax.vmap(one))(jnp.array([0.3 * amax, 0.05 * amax, -1.0]))
    assert batch.status.tolist() == [0, 0, so.Status.INVALID]
    for i, ratio in enumerate((0.3, 0.05)):
        single = fit(lm.quadratic(), lm.l1(ratio * amax), x, y)
        np.testing.assert_allclose(batch.coef[i], single.coef, atol=1e-10)
    before = solve_jit._cache_size()
    for ratio in (0.2, 0.4):
        fit(lm.quadratic(), lm.l1(ratio * amax), x, y)
    assert solve_jit._cache_size() == before  # new alphas reuse the program


def test_bad_inputs_raise_naming_the_argument():
    x, y = regression()
    with pytest.raises(ValueError, match="alpha"):
        lm.l1(-1.0)
    with pytest.raises(ValueError, match="mismatched rows"):
        lm.fit(lm.quadratic(), lm.l1(0.1), x, y[:-1])
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        lm.fit(lm.quadratic(), lm.l1(0.1), bad, y)
    with pytest.raises(ValueError, match="y must hold two classes"):
        lm.fit(lm.logistic(), lm.l1(0.1), x, np.ones(N))
    with pytest.raises(ValueError, match="y must hold counts"):
        lm.fit(lm.poisson(), lm.l1(0.1), x, -np.ones(N))
    with pytest.raises(ValueError, match="l1_ratio"):
        lm.elastic_net(0.1, 1.5)
