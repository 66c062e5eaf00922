r"""scikit-learn estimators on the working-set GLM solver (needs ``pip install "subopt[sklearn]"``).

`Lasso`, `ElasticNet`, `GroupLasso` (least squares), `SparseLogisticRegression` (L1,
one-vs-rest for more than two classes) and `PoissonRegression` (L1 or elastic net, log
link) minimize, with scikit-learn's scaling,

.. math::

  \frac{1}{n}\sum_{i=1}^n \ell(x_i^\top w + b, y_i) + g(w)

to a duality gap ``<= tol`` times the loss at 0, and expose ``coef_``, ``intercept_``,
``n_iter_`` (FISTA steps over all working sets), ``dual_gap_`` (the certified gap) and
``n_features_in_``. The L1-logistic ``alpha`` matches liblinear's ``C`` as
``alpha = 1 / (C n)`` (liblinear also penalizes its intercept). Dense and ``scipy.sparse``
(CSC/CSR) inputs are accepted.

Small problems are padded (rows of weight 0, columns of zeros, both inert) to a few bucket
shapes, so that fitting many small data sets (cross-validation, `GridSearchCV`) reuses a
handful of compiled programs.
"""

from __future__ import annotations

import warnings
from typing import Any

import jax.numpy as jnp
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from subopt.linear_model._datafits import logistic, poisson, quadratic
from subopt.linear_model._design import SparseDesign, as_design, is_sparse
from subopt.linear_model._fit import fit as glm_fit
from subopt.linear_model._grow import ws_ladder_size
from subopt.linear_model._penalties import GroupL2, elastic_net, group_l2, l1, nonnegative_l1
from subopt.linear_model._validation import check_alpha, check_labels, default_dtype

_PAD_ENTRIES = 1 << 20  # pad designs up to this many entries (rows to >= 256)


def _pad(X: Any, dtype: Any) -> tuple[Any, int, int]:
    """The design padded to bucket shapes (rows to a power of two, columns to the ladder)."""
    n, p = X.shape
    if n * p > _PAD_ENTRIES:
        return as_design(X, dtype), n, p
    n_pad = max(256, 1 << max(n - 1, 1).bit_length())
    p_pad = ws_ladder_size(1 << 40, p)
    if is_sparse(X):
        d = as_design(X, dtype)
        return SparseDesign(d.data, d.rows, d.cols, (n_pad, p_pad)), n_pad, p_pad
    out = np.zeros((n_pad, p_pad), dtype)
    out[:n, :p] = X
    return as_design(out, dtype), n_pad, p_pad


class _GLM(BaseEstimator):
    """Shared fit/predict of the estimators; subclasses define the datafit and penalty."""

    _datafit = staticmethod(quadratic)
    alpha: Any
    tol: Any
    max_iter: Any
    fit_intercept: bool
    coef_: Any
    intercept_: Any

    def _penalty(self, n_features: int) -> Any:
        raise NotImplementedError

    def _check_params(self) -> None:
        check_alpha(self.alpha)
        if float(self.tol) <= 0:
            raise ValueError(f"tol must be > 0, got {self.tol!r}")
        if int(self.max_iter) < 1:
            raise ValueError(f"max_iter must be >= 1, got {self.max_iter!r}")

    def _validate(self, X, y) -> Any:
        return validate_data(
            self,
            X,
            y,
            accept_sparse=("csc", "csr"),
            dtype=[np.float64, np.float32],
            y_numeric=self._y_numeric,
        )

    _y_numeric = True

    def _solve(self, X: Any, y: np.ndarray, sample_weight: Any, pen: Any) -> tuple:
        """Fit one target; returns (coef, intercept, n_iter, gap)."""
        dtype = default_dtype()
        n, p = X.shape
        sparse = is_sparse(X)
        center = self.fit_intercept and self._datafit is quadratic and not sparse
        x_mean = np.zeros(p)
        y_mean = 0.0
        Xc, yc = X, np.asarray(y, float)
        if center:
            x_mean = np.asarray(X.mean(axis=0), float)
            y_mean = float(yc.mean())
            Xc, yc = X - x_mean, yc - y_mean
        design, n_pad, p_pad = _pad(Xc, dtype)
        sw = np.zeros(n_pad)
        sw[:n] = 1.0 / n
        y_pad = np.zeros(n_pad)
        y_pad[:n] = yc
        if isinstance(pen, GroupL2):  # pad the labels, and the group count (static) to p_pad
            labels = np.concatenate([np.asarray(pen.labels), np.zeros(p_pad - p, int)])
            weights = np.ones(max(pen.n_groups, p_pad))
            weights[: pen.n_groups] = np.asarray(pen.weights)
            pen = GroupL2(
                pen.alpha, jnp.asarray(labels, jnp.int32), jnp.asarray(weights), weights.size
            )
        res = glm_fit(
            self._datafit(),
            pen,
            design,
            y_pad,
            sample_weight=sw,
            fit_intercept=self.fit_intercept and not center,
            tol=self.tol,
            max_outer=self.max_iter,
            ws_size=p_pad if p_pad <= 64 else None,
            dtype=dtype,
        )
        if int(res.status) != 0:
            warnings.warn(
                f"{type(self).__name__} did not converge (duality gap "
                f"{float(res.gap):.3g}); raise max_iter or tol",
                ConvergenceWarning,
                stacklevel=3,
            )
        coef = np.asarray(res.coef, float)[:p]
        intercept = float(res.intercept)
        if center:
            intercept = y_mean - float(x_mean @ coef)
        return coef, intercept, int(res.n_inner), float(res.gap)

    def _decision(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(
            self, X, accept_sparse=("csc", "csr"), reset=False, dtype=[np.float64, np.float32]
        )
        return np.asarray(X @ self.coef_.T) + self.intercept_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class _Regressor(RegressorMixin, _GLM):
    def fit(self, X, y):
        """Fit on ``X`` (dense or scipy.sparse) and targets ``y``; returns self."""
        self._check_params()
        X, y = self._validate(X, y)
        self._check_target(y)
        pen = self._penalty(X.shape[1])
        self.coef_, self.intercept_, self.n_iter_, self.dual_gap_ = self._solve(X, y, None, pen)
        return self

    def _check_target(self, y) -> None:
        del y

    def predict(self, X):
        """:math:`Xw + b`."""
        return self._decision(X)


class Lasso(_Regressor):
    r"""The Lasso, :math:`\|y - Xw - b\|^2 / (2n) + \alpha\|w\|_1` (scikit-learn's scaling).

    Args:
      alpha: the L1 weight, >= 0.
      fit_intercept: fit b (dense X is centered; sparse X fits b in the solver).
      tol: stop at a duality gap <= tol * ||y - mean(y)||^2 / (2n).
      max_iter: outer (working-set) iterations.
      positive: constrain w >= 0.

    Example:
      >>> import numpy as np
      >>> from subopt.linear_model import Lasso
      >>> rng = np.random.default_rng(0)
      >>> X = rng.standard_normal((40, 8)); y = 3 * X[:, 2] + 1
      >>> m = Lasso(alpha=0.1).fit(X, y)
      >>> np.flatnonzero(m.coef_).tolist(), round(m.intercept_, 1)
      ([2], 1.0)
    """

    def __init__(self, alpha=1.0, *, fit_intercept=True, tol=1e-4, max_iter=100, positive=False):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.positive = positive

    def _penalty(self, n_features):
        return nonnegative_l1(self.alpha) if self.positive else l1(self.alpha)


class ElasticNet(_Regressor):
    r"""The elastic net, :math:`\|y - Xw - b\|^2/(2n) + \alpha(\rho\|w\|_1 +
    (1-\rho)\|w\|^2/2)`, ``rho = l1_ratio`` (scikit-learn's parametrization).

    Example:
      >>> import numpy as np
      >>> from subopt.linear_model import ElasticNet
      >>> X = np.eye(4); y = np.array([4.0, 0.1, 0.0, -4.0])
      >>> float(ElasticNet(alpha=0.1, l1_ratio=0.5, fit_intercept=False).fit(X, y).coef_[1])
      0.0
    """

    def __init__(self, alpha=1.0, *, l1_ratio=0.5, fit_intercept=True, tol=1e-4, max_iter=100):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter

    def _penalty(self, n_features):
        return elastic_net(self.alpha, self.l1_ratio)


class GroupLasso(_Regressor):
    r"""The group Lasso, :math:`\|y - Xw - b\|^2/(2n) + \alpha\sum_g \omega_g\|w_g\|_2`.

    Args:
      alpha: the weight, >= 0.
      groups: one integer label per feature (labels 0 .. G-1), an int k for contiguous groups
        of k features, or None (every feature its own group: the Lasso).
      weights: :math:`\omega_g` per group (default :math:`\sqrt{|g|}`).

    Example:
      >>> import numpy as np
      >>> from subopt.linear_model import GroupLasso
      >>> rng = np.random.default_rng(0)
      >>> X = rng.standard_normal((50, 6)); y = X[:, 0] + X[:, 1]
      >>> m = GroupLasso(alpha=0.05, groups=2).fit(X, y)
      >>> (m.coef_ != 0).tolist()
      [True, True, False, False, False, False]
    """

    def __init__(
        self, alpha=1.0, *, groups=None, weights=None, fit_intercept=True, tol=1e-4, max_iter=100
    ):
        self.alpha = alpha
        self.groups = groups
        self.weights = weights
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter

    def _penalty(self, n_features):
        if self.groups is None:
            labels = np.arange(n_features)
        elif np.ndim(self.groups) == 0:
            size = int(self.groups)
            if size < 1:
                raise ValueError(f"groups must be >= 1 as a group size, got {self.groups!r}")
            labels = np.arange(n_features) // size
        else:
            labels = np.asarray(self.groups)
            if labels.shape != (n_features,):
                raise ValueError(
                    f"groups must hold one label per feature ({n_features}), got shape "
                    f"{labels.shape}"
                )
        return group_l2(self.alpha, labels, self.weights)


class PoissonRegression(_Regressor):
    r"""Sparse Poisson regression (log link): :math:`\frac1n\sum_i (e^{z_i} - y_i z_i) +
    \alpha(\rho\|w\|_1 + (1-\rho)\|w\|^2/2)`, :math:`z = Xw + b`, counts :math:`y \ge 0`.

    Example:
      >>> import numpy as np
      >>> from subopt.linear_model import PoissonRegression
      >>> rng = np.random.default_rng(0)
      >>> X = rng.standard_normal((200, 5)); y = rng.poisson(np.exp(0.5 * X[:, 0]))
      >>> m = PoissonRegression(alpha=0.02).fit(X, y)
      >>> int(np.argmax(np.abs(m.coef_)))
      0
    """

    _datafit = staticmethod(poisson)

    def __init__(self, alpha=1.0, *, l1_ratio=1.0, fit_intercept=True, tol=1e-4, max_iter=100):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter

    def _check_target(self, y):
        if np.any(y < 0):
            raise ValueError("y must hold counts >= 0 for Poisson regression")
        if not np.any(y > 0):
            raise ValueError("y must have at least one positive count for Poisson regression")

    def _penalty(self, n_features):
        return elastic_net(self.alpha, self.l1_ratio)

    def predict(self, X):
        """The mean :math:`e^{Xw + b}`."""
        return np.exp(self._decision(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.positive_only = True
        return tags


class SparseLogisticRegression(ClassifierMixin, _GLM):
    r"""L1-penalized logistic regression, :math:`\frac1n\sum_i \log(1 + e^{-y_i z_i}) +
    \alpha\|w\|_1` (one-vs-rest beyond two classes). liblinear's ``C`` is
    ``1 / (alpha n)``.

    Example:
      >>> import numpy as np
      >>> from subopt.linear_model import SparseLogisticRegression
      >>> rng = np.random.default_rng(0)
      >>> X = rng.standard_normal((100, 6)); y = (X[:, 1] > 0).astype(int)
      >>> m = SparseLogisticRegression(alpha=0.05).fit(X, y)
      >>> int(np.argmax(np.abs(m.coef_[0]))), float(m.score(X, y)) > 0.9
      (1, True)
    """

    _datafit = staticmethod(logistic)
    _y_numeric = False

    def __init__(self, alpha=1.0, *, fit_intercept=True, tol=1e-4, max_iter=100):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter

    def _penalty(self, n_features):
        return l1(self.alpha)

    def fit(self, X, y):
        """Fit on ``X`` and class labels ``y`` (two or more classes); returns self."""
        self._check_params()
        X, y = self._validate(X, y)
        check_classification_targets(y)
        classes = np.unique(y)
        if classes.size < 2:
            check_labels(y)  # raises, naming y
        self.classes_ = classes
        targets = [y == classes[1]] if classes.size == 2 else [y == c for c in classes]
        fits = [
            self._solve(X, np.where(t, 1.0, -1.0), None, self._penalty(X.shape[1])) for t in targets
        ]
        self.coef_ = np.stack([f[0] for f in fits])
        self.intercept_ = np.array([f[1] for f in fits])
        self.n_iter_ = np.array([f[2] for f in fits])
        self.dual_gap_ = np.array([f[3] for f in fits])
        return self

    def decision_function(self, X):
        """:math:`Xw + b` (one column per class beyond two classes)."""
        scores = self._decision(X)
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict_proba(self, X):
        """Class probabilities (one-vs-rest scores normalized beyond two classes)."""
        scores = self._decision(X)
        p = 1 / (1 + np.exp(-scores))
        if p.shape[1] == 1:
            return np.hstack([1 - p, p])
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X):
        """The most likely class."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


__all__ = ["ElasticNet", "GroupLasso", "Lasso", "PoissonRegression", "SparseLogisticRegression"]
