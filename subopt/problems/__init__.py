"""Built-in test problems on seeded synthetic data (no downloads).

Each constructor returns a `Problem`: the objective ``fun`` (the smooth part for composite
problems), a start ``x0``, the ``data`` it was built from, the regularizer ``reg`` of a
composite problem (None otherwise) and, where cheap, the Lipschitz constant of the smooth
part's gradient (``lipschitz``, so 1/L is a safe step).
"""

from subopt.problems._base import Problem
from subopt.problems._composite import (
    elastic_net,
    graphical_lasso,
    group_lasso,
    lasso,
    nonnegative_least_squares,
    sparse_logistic_regression,
)
from subopt.problems._nonsmooth import lad_regression, linear_svm, max_of_affine
from subopt.problems._smooth import least_squares, logistic_regression

__all__ = [
    "Problem",
    "elastic_net",
    "graphical_lasso",
    "group_lasso",
    "lad_regression",
    "lasso",
    "least_squares",
    "linear_svm",
    "logistic_regression",
    "max_of_affine",
    "nonnegative_least_squares",
    "sparse_logistic_regression",
]
