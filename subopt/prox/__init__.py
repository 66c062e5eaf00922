"""Regularizers h for composite problems min f(x) + h(x): value, prox, min_norm, directional.

Every constructor returns an immutable pytree whose hyperparameters are array leaves, so a
regularizer can be traced and vmapped. All terms work on pytrees, in float32 and float64,
under jit, vmap and grad. Norms and constraint sets act on the whole pytree as one vector
(``l2``, ``l2_ball``, ``l1_ball``, ``simplex``, ``l2_sphere``, ``hyperplane``, ...), leaf by
leaf (``group_l2``, ``nuclear``, ``total_variation_1d``, ``sorted_l1``) or entry by entry
(``l1``, ``elastic_net``, ``nonnegative``, ``box``, ``linf_ball``); ``separable`` gives
different leaves different terms. ``min_norm`` (the minimum-norm element of g + dh(x)) and
``directional`` (h'(x; d)) are exact for every term; for ``nuclear`` up to the numerical rank.

Structure rule for per-leaf hyperparameters: a scalar or array shared by every leaf, or a
pytree whose structure is a prefix of the params' (e.g. the params' own structure); anything
else raises a ValueError naming both structures. Validity rule: a traced hyperparameter is
valid (``is_valid()``) exactly when the constructor would accept it as a concrete value;
when it is not, every method returns NaN and the optimizers end ``Status.INVALID``.

Write your own term by subclassing `Regularizer` and decorating it with `register`.
"""

from subopt.prox._affine import affine_set, halfspace, hyperplane
from subopt.prox._base import Regularizer, register, zero
from subopt.prox._box_section import box_section
from subopt.prox._groups import group_l2
from subopt.prox._l1 import l1, nonnegative_l1, soft_threshold
from subopt.prox._l1_ball import l1_ball, project_l1_ball
from subopt.prox._norms import elastic_net, l2, ridge
from subopt.prox._nuclear import nuclear
from subopt.prox._separable import separable
from subopt.prox._sets import box, l2_ball, linf_ball, nonnegative
from subopt.prox._simplex import project_simplex, simplex
from subopt.prox._slope import sorted_l1
from subopt.prox._sphere import l2_sphere
from subopt.prox._tv import total_variation_1d

__all__ = [
    "Regularizer",
    "affine_set",
    "box",
    "box_section",
    "elastic_net",
    "group_l2",
    "halfspace",
    "hyperplane",
    "l1",
    "l1_ball",
    "l2",
    "l2_ball",
    "l2_sphere",
    "linf_ball",
    "nonnegative",
    "nonnegative_l1",
    "nuclear",
    "project_l1_ball",
    "project_simplex",
    "register",
    "ridge",
    "separable",
    "simplex",
    "soft_threshold",
    "sorted_l1",
    "total_variation_1d",
    "zero",
]
