r"""Duality gaps of penalized GLMs: the certificate the solvers stop on.

For :math:`P(w) = F(Xw + b) + g(w)` with the intercept b held fixed, Fenchel duality gives

.. math::

  P(w) \ge P^\star \ge D(u) = -\bigl(F^*(u) - b\textstyle\sum_i u_i\bigr) - g^*(-X^\top u)

for every u. The dual point is the rescaled gradient :math:`u = c\,\nabla F(Xw + b)`, with
:math:`c \in (0, 1]` the largest factor that makes :math:`-X^\top u` feasible for
:math:`g^*` (the penalty's ``dual_scale``). At the optimum c = 1 and the gap
:math:`P(w) - D(u)` is 0, so it bounds the suboptimality :math:`P(w) - P^\star` from the
current point alone. With a fitted intercept, the gap certifies w for the intercept it holds
(the optimizers also drive :math:`\partial_b F` to 0).

References:
  Ndiaye, Fercoq, Gramfort and Salmon, *Gap safe screening rules for sparsity enforcing
  penalties*, JMLR, 2017. Borwein and Lewis, *Convex Analysis and Nonlinear Optimization*,
  Springer, 2006, ch. 3.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from subopt.linear_model._design import as_design, matvec, rmatvec


def duality_gap(
    datafit: Any,
    penalty: Any,
    z: jax.Array,
    u: jax.Array,
    v: jax.Array,
    w: jax.Array,
    b: Any,
    y: jax.Array,
    s: jax.Array,
) -> jax.Array:
    r"""The gap :math:`P(w) - D(c u)` from the predictor z, the gradient :math:`u = \nabla F(z)`
    and :math:`v = -X^\top u` (precomputed: the solvers have them anyway)."""
    scale = penalty.dual_scale(v)
    primal = datafit.value(z, y, s) + penalty.value(w)
    su = scale * u
    dual = -(datafit.conjugate(su, y, s) - b * jnp.sum(su)) - penalty.conjugate(scale * v)
    return primal - dual


def _weights(y: jax.Array, sample_weight: Any) -> jax.Array:
    if sample_weight is None:
        return jnp.full(y.shape, 1 / y.shape[0], y.dtype)
    return jnp.asarray(sample_weight, y.dtype)


def objective(
    datafit: Any, penalty: Any, X: Any, y: Any, w: Any, b: Any = 0.0, sample_weight: Any = None
) -> jax.Array:
    r"""The primal objective :math:`F(Xw + b) + g(w)` (``sample_weight`` defaults to 1/n).

    Example:
      >>> import jax.numpy as jnp
      >>> from subopt import linear_model as lm
      >>> X, y = jnp.eye(2), jnp.array([1.0, 2.0])
      >>> float(lm.objective(lm.quadratic(), lm.l1(0.5), X, y, jnp.zeros(2)))
      1.25
    """
    w = jnp.asarray(w)
    y = jnp.asarray(y, w.dtype)
    z = matvec(as_design(X, w.dtype), w) + b
    return datafit.value(z, y, _weights(y, sample_weight)) + penalty.value(w)


def gap(
    datafit: Any, penalty: Any, X: Any, y: Any, w: Any, b: Any = 0.0, sample_weight: Any = None
) -> jax.Array:
    r"""The duality gap at ``(w, b)``: an upper bound on :math:`P(w) - P^\star` (b fixed).

    Example:
      >>> import jax.numpy as jnp
      >>> from subopt import linear_model as lm
      >>> X, y = jnp.eye(2), jnp.array([1.0, 2.0])
      >>> w_star = jnp.array([0.0, 1.0])  # soft-thresholding of y at n * alpha = 1
      >>> float(lm.gap(lm.quadratic(), lm.l1(0.5), X, y, w_star))
      0.0
    """
    w = jnp.asarray(w)
    y = jnp.asarray(y, w.dtype)
    design = as_design(X, w.dtype)
    s = _weights(y, sample_weight)
    z = matvec(design, w) + b
    u = datafit.grad(z, y, s)
    return duality_gap(datafit, penalty, z, u, -rmatvec(design, u), w, b, y, s)


__all__ = ["duality_gap", "gap", "objective"]
