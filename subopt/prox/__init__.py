"""Regularizers h for composite problems min f(x) + h(x): value, prox, min_norm, directional.

Every constructor returns an immutable pytree whose hyperparameters are array leaves, so a
regularizer can be traced and vmapped. All terms work on pytrees, in float32 and float64,
under jit, vmap and grad. Norms and constraint sets act on the whole pytree as one vector
(``l2``, ``l2_ball``, ``l1_ball``, ``simplex``), leaf by leaf (``group_l2``, ``nuclear``) or
entry by entry (``l1``, ``elastic_net``, ``nonnegative``, ``box``, ``linf_ball``).
``min_norm`` (the minimum-norm element of g + dh(x)) and ``directional`` (h'(x; d)) are exact
closed forms for every term; for ``nuclear`` up to the numerical rank of x.
"""

from subopt.prox._base import Regularizer, zero
from subopt.prox._l1 import l1, soft_threshold
from subopt.prox._norms import elastic_net, group_l2, l2
from subopt.prox._nuclear import nuclear
from subopt.prox._sets import box, l2_ball, linf_ball, nonnegative
from subopt.prox._simplex import l1_ball, project_l1_ball, project_simplex, simplex

__all__ = [
    "Regularizer",
    "box",
    "elastic_net",
    "group_l2",
    "l1",
    "l1_ball",
    "l2",
    "l2_ball",
    "linf_ball",
    "nonnegative",
    "nuclear",
    "project_l1_ball",
    "project_simplex",
    "simplex",
    "soft_threshold",
    "zero",
]
