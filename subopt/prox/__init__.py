"""Regularizers h for composite problems min f(x) + h(x): value, prox, min_norm, directional.

Every constructor returns an immutable pytree whose hyperparameters are array leaves, so a
regularizer can be traced and vmapped. All terms work on pytrees, in float32 and float64.
"""

from subopt.prox._base import Regularizer, zero
from subopt.prox._l1 import l1, soft_threshold

__all__ = ["Regularizer", "zero", "l1", "soft_threshold"]
