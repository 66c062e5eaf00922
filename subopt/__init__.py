"""subopt: first-order optimizers for smooth and nonsmooth problems in JAX.

Optimizers are optax ``GradientTransformationExtraArgs`` (pure init/update pairs over
pytrees); `run` drives any of them inside one compiled ``while_loop`` and reports an honest
`Status`; `nonsmooth` holds primitives whose derivatives are minimum-norm subgradients;
`prox` holds regularizers for composite problems; `sweep` evaluates hyperparameter grids in
one compiled, vmapped call.
"""

from subopt import linear_model, nonsmooth, problems, prox, schedules
from subopt._base import History, Result, RunState, Status
from subopt._calculus import directional_derivative, min_norm_subgradient
from subopt._driver import run
from subopt._gradient import GradientDescentState, gradient_descent
from subopt._implicit import LinearSolver, implicit_solution
from subopt._info import StepInfo
from subopt._progress import Progress, progress
from subopt._proximal import (
    ApplyProxState,
    FistaState,
    ProximalGradientState,
    apply_prox,
    backtracking,
    fista,
    proximal_gradient,
)
from subopt._steepest import SteepestDescentState, steepest_descent
from subopt._subgradient import (
    PolyakState,
    SubgradientState,
    polyak_subgradient,
    subgradient_descent,
)
from subopt._sweep import BestPoint, sweep, sweep_best
from subopt._sweep_tasks import merge_sweeps, sweep_task
from subopt._transform import Optimizer

__version__ = "0.1.0"

__all__ = [
    "ApplyProxState",
    "BestPoint",
    "FistaState",
    "GradientDescentState",
    "History",
    "LinearSolver",
    "Optimizer",
    "PolyakState",
    "Progress",
    "ProximalGradientState",
    "Result",
    "RunState",
    "Status",
    "SteepestDescentState",
    "StepInfo",
    "SubgradientState",
    "apply_prox",
    "backtracking",
    "directional_derivative",
    "fista",
    "gradient_descent",
    "implicit_solution",
    "linear_model",
    "merge_sweeps",
    "min_norm_subgradient",
    "nonsmooth",
    "polyak_subgradient",
    "problems",
    "progress",
    "prox",
    "proximal_gradient",
    "run",
    "schedules",
    "steepest_descent",
    "subgradient_descent",
    "sweep",
    "sweep_best",
    "sweep_task",
]
