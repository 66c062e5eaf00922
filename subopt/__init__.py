"""subopt: first-order optimizers for smooth and nonsmooth problems in JAX.

Optimizers are optax ``GradientTransformationExtraArgs`` (pure init/update pairs over
pytrees); `run` drives any of them inside one compiled ``while_loop`` and reports an honest
`Status`; `nonsmooth` holds primitives whose derivatives are minimum-norm subgradients;
`prox` holds regularizers for composite problems; `sweep` evaluates hyperparameter grids in
one compiled, vmapped call.
"""

from subopt import linear_model, nonsmooth, problems, prox, schedules
from subopt._base import History, Result, Status
from subopt._calculus import directional_derivative, min_norm_subgradient
from subopt._driver import run
from subopt._gradient import GradientDescentState, gradient_descent
from subopt._proximal import (
    ApplyProxState,
    FistaState,
    ProximalGradientState,
    apply_prox,
    backtracking,
    fista,
    proximal_gradient,
)
from subopt._subgradient import (
    PolyakState,
    SubgradientState,
    polyak_subgradient,
    subgradient_descent,
)
from subopt._sweep import BestPoint, sweep, sweep_best

__version__ = "0.1.0"

__all__ = [
    "ApplyProxState",
    "BestPoint",
    "FistaState",
    "GradientDescentState",
    "History",
    "PolyakState",
    "ProximalGradientState",
    "Result",
    "Status",
    "SubgradientState",
    "apply_prox",
    "backtracking",
    "directional_derivative",
    "fista",
    "linear_model",
    "gradient_descent",
    "min_norm_subgradient",
    "nonsmooth",
    "polyak_subgradient",
    "problems",
    "prox",
    "proximal_gradient",
    "run",
    "schedules",
    "subgradient_descent",
    "sweep",
    "sweep_best",
]
