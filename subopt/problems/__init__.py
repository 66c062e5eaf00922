"""Built-in test problems on seeded synthetic data (no downloads).

Each constructor returns a `Problem`: the objective ``fun`` (the smooth part for composite
problems), a start ``x0``, the ``data`` it was built from, the regularizer ``reg`` of a
composite problem (None otherwise) and, where cheap, the Lipschitz constant of the smooth
part's gradient (``lipschitz``, so 1/L is a safe step).
"""

from subopt.problems._base import Problem
from subopt.problems._smooth import least_squares, logistic_regression

__all__ = ["Problem", "least_squares", "logistic_regression"]
