"""Sparse generalized linear models: working sets, gap-safe screening, duality gaps, paths.

Datafits (`quadratic`, `logistic`, `poisson`) and penalties (`l1`, `elastic_net`,
`group_l2`, `nonnegative_l1`) combine into problems :math:`\\min_w F(Xw + b) + g(w)` that
`solve` (jit- and vmap-able, a fixed working-set size) and `fit` (growing working sets)
minimize to a certified duality gap; `lasso_path` and `enet_path` follow scikit-learn's
signatures. The scikit-learn estimators (`Lasso`, `ElasticNet`, `SparseLogisticRegression`,
`GroupLasso`, `PoissonRegression`) load scikit-learn only when first accessed.
"""

from typing import TYPE_CHECKING

from subopt.linear_model._datafits import logistic, poisson, quadratic
from subopt.linear_model._design import SparseDesign, as_design
from subopt.linear_model._fit import fit
from subopt.linear_model._gap import gap, objective
from subopt.linear_model._path import enet_path, lasso_path
from subopt.linear_model._penalties import elastic_net, group_l2, l1, nonnegative_l1
from subopt.linear_model._solver import GLMResult, solve

if TYPE_CHECKING:  # pragma: no cover
    from subopt.linear_model._estimators import (
        ElasticNet,
        GroupLasso,
        Lasso,
        PoissonRegression,
        SparseLogisticRegression,
    )

_ESTIMATORS = ("ElasticNet", "GroupLasso", "Lasso", "PoissonRegression", "SparseLogisticRegression")


def __getattr__(name: str):
    """The scikit-learn estimators, imported on first access (scikit-learn is optional)."""
    if name in _ESTIMATORS:
        from subopt.linear_model import _estimators

        return getattr(_estimators, name)
    raise AttributeError(f"module 'subopt.linear_model' has no attribute {name!r}")


__all__ = [
    "ElasticNet",
    "GroupLasso",
    "Lasso",
    "PoissonRegression",
    "SparseLogisticRegression",
    "GLMResult",
    "SparseDesign",
    "as_design",
    "elastic_net",
    "enet_path",
    "fit",
    "gap",
    "group_l2",
    "l1",
    "lasso_path",
    "logistic",
    "nonnegative_l1",
    "objective",
    "poisson",
    "quadratic",
    "solve",
]
