"""The scikit-learn estimators of subopt.linear_model: check_estimator, GridSearchCV and
Pipeline, and agreement with scikit-learn's own estimators on generated data."""

import numpy as np
import pytest
import scipy.sparse as sp

from subopt import linear_model as lm

pytest.importorskip("sklearn")


def data(seed=0, n=60, p=12):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, p))
    w = np.zeros(p)
    w[:3] = [2.0, -1.0, 0.5]
    return x, x @ w + 1.5 + 0.1 * rng.standard_normal(n), rng


def objective(model, x, y):
    r = y - x @ model.coef_ - model.intercept_
    ratio = getattr(model, "l1_ratio", 1.0)
    pen = ratio * np.abs(model.coef_).sum() + (1 - ratio) / 2 * model.coef_ @ model.coef_
    return 0.5 * r @ r / len(y) + model.alpha * pen


@pytest.mark.parametrize(
    "name", ["Lasso", "ElasticNet", "GroupLasso", "SparseLogisticRegression", "PoissonRegression"]
)
def test_check_estimator(name):
    from sklearn.utils.estimator_checks import check_estimator

    results = check_estimator(getattr(lm, name)(alpha=0.1), on_fail=None)
    failed = [
        (r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"
    ]
    assert not failed


def test_lasso_and_elastic_net_equal_sklearn_with_intercept_dense_and_sparse():
    from sklearn.linear_model import ElasticNet, Lasso

    x, y, _ = data()
    for ours, ref in [
        (lm.Lasso(alpha=0.05, tol=1e-13), Lasso(alpha=0.05, tol=1e-12)),
        (
            lm.ElasticNet(alpha=0.05, l1_ratio=0.3, tol=1e-10),
            ElasticNet(alpha=0.05, l1_ratio=0.3, tol=1e-12),
        ),
    ]:
        ref.fit(x, y)
        for design in (x, sp.csc_matrix(x)):
            ours.fit(design, y)
            assert objective(ours, x, y) <= objective(ref, x, y) * (1 + 1e-9)
            np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-4)
            np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-4)
            assert ours.dual_gap_ >= 0 and ours.n_iter_ > 0


def test_group_lasso_zeroes_whole_groups_and_poisson_predicts_means():
    x, y, rng = data(1)
    g = lm.GroupLasso(alpha=0.1, groups=3).fit(x, y)
    norms = np.linalg.norm(g.coef_.reshape(-1, 3), axis=1)
    assert norms[0] > 0 and np.all(norms[1:] == 0)
    counts = rng.poisson(np.exp(x[:, 0]))
    m = lm.PoissonRegression(alpha=0.05).fit(x, counts)
    assert np.all(m.predict(x) > 0)
    assert np.argmax(np.abs(m.coef_)) == 0


def test_grid_search_and_pipeline():
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y, _ = data(2)
    pipe = make_pipeline(StandardScaler(), lm.Lasso())
    search = GridSearchCV(pipe, {"lasso__alpha": [0.01, 0.1, 1.0]}, cv=3).fit(x, y)
    assert search.best_params_["lasso__alpha"] in (0.01, 0.1)
    assert search.score(x, y) > 0.9
    labels = (y > np.median(y)).astype(int)
    clf = GridSearchCV(lm.SparseLogisticRegression(), {"alpha": [0.001, 0.01]}, cv=3)
    assert clf.fit(x, labels).score(x, labels) > 0.8


def test_estimator_errors_name_the_argument():
    x, y, _ = data()
    with pytest.raises(ValueError, match="alpha"):
        lm.Lasso(alpha=-1.0).fit(x, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        lm.Lasso().fit(x, y[:-1])
    bad = x.copy()
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        lm.ElasticNet().fit(bad, y)
    with pytest.raises(ValueError, match="y must hold two classes"):
        lm.SparseLogisticRegression().fit(x, np.zeros(len(y)))
    with pytest.raises(ValueError, match="counts"):
        lm.PoissonRegression().fit(x, y - 10)
