"""Nonsmooth primitives whose derivatives are minimum-norm subgradients.

Import as ``from subopt import nonsmooth as ns``. Each function is a drop-in for its
``jax.numpy`` counterpart with a `jax.custom_jvp` rule: where the function is differentiable
the rule is the ordinary derivative; at a kink it is the minimum-norm element
:math:`g^\\star = \\arg\\min\\{\\|g\\| : g \\in \\partial f(x)\\}` of the primitive's own
subdifferential (the minimum-norm supergradient for the concave ``min`` and ``minimum``).
:math:`g^\\star` is unique, it is 0 exactly at a minimiser, and :math:`-g^\\star` is the
steepest-descent direction. This is PyTorch's documented rule; ``jax.numpy`` does not follow
it (``grad(jnp.abs)(0.)`` is 1, ``grad(jnp.linalg.norm)`` is NaN at 0).

Rules at kinks:

* ``abs``, ``relu``, ``hinge`` and ``l1_norm`` at 0 (z = 1 for the hinge): 0.
* ``maximum(a, b)`` / ``minimum`` at a tie: split evenly when both arguments are
  differentiated; 0 when one is a constant (``maximum(x, 0.)``): the rule uses
  ``symbolic_zeros`` to see which arguments carry tangents.
* ``max`` / ``min`` reductions: split evenly over tied entries.
* ``l2_norm``, ``linf_norm`` at 0: 0, never NaN; ``linf_norm`` elsewhere: the sign split
  evenly over the entries of largest magnitude.
* ``nuclear_norm``: :math:`U_r V_r^T` over the singular values above
  :math:`\\max(m, n)\\,\\varepsilon\\,\\sigma_{\\max}`; 0 at 0.
* ``pointwise_max(fns)``: exact for a composite, the minimum-norm point of the convex hull of
  the active pieces' gradients (ties within a documented relative tolerance).

The rules compose by the chain rule (``jax.grad``), and at a kink of a composition that can
give a vector outside the generalized gradient altogether: ``relu(x) - relu(-x)`` is x, yet
its chain-rule derivative at 0 is 0. Exact derivatives of compositions:

* `lexicographic_derivative` / `lexicographic_gradient`: Nesterov's lexicographic (LD)
  derivatives, by a jaxpr interpreter that carries k tangent columns, so that each kink picks
  its branch by the first nonzero of (value, tangents). The lexicographic gradient is in the
  Clarke generalized gradient: ``jax.grad`` where f is smooth, a subgradient where f is
  convex.
* `clarke_min_norm`: the minimum-norm element of the generalized gradient of a composition,
  from lexicographic gradients and Wolfe's method, certified for convex f.
* `pointwise_max`, or `subopt.min_norm_subgradient` with a `subopt.prox` regularizer, where
  the structure is known.

NaN rule: where a primitive's value is NaN (a NaN input), its derivative is NaN, in forward
and reverse mode, and so are the lexicographic derivatives.

Higher derivatives (policy): they are the derivatives of the tangent rules, so they are
always finite. Rules built from signs and equality masks (``abs``, ``relu``, ``hinge``,
``maximum``, ``minimum``, ``max``, ``min``, ``l1_norm``, ``linf_norm``) have second
derivative 0 everywhere, including at kinks (the Dirac mass of the true distributional
derivative is dropped). ``l2_norm`` has the exact Hessian :math:`(I - uu^T)/\\|x\\|` away
from 0 and 0 at 0. ``nuclear_norm`` has the exact second derivative where X has full rank
(finite at repeated singular values), the fixed-rank one at rank-deficient X, and 0 beyond
second order. ``pointwise_max`` has :math:`\\sum_i \\lambda_i \\nabla^2 f_i` with the QP
weights held fixed.

All functions work under ``grad``, ``jacrev``, ``jacfwd``, ``jvp``, ``vjp``, ``jit`` and
``vmap``, for float32 and float64 inputs, and keep the input dtype.
"""

from subopt.nonsmooth._clarke import ClarkeInfo, clarke_min_norm
from subopt.nonsmooth._elementwise import abs, hinge, maximum, minimum, relu
from subopt.nonsmooth._ld_derivative import lexicographic_derivative, lexicographic_gradient
from subopt.nonsmooth._norms import l1_norm, l2_norm, linf_norm
from subopt.nonsmooth._nuclear import nuclear_norm
from subopt.nonsmooth._pointwise_max import pointwise_max
from subopt.nonsmooth._reductions import max, min

__all__ = [
    "ClarkeInfo",
    "abs",
    "clarke_min_norm",
    "hinge",
    "l1_norm",
    "l2_norm",
    "lexicographic_derivative",
    "lexicographic_gradient",
    "linf_norm",
    "max",
    "maximum",
    "min",
    "minimum",
    "nuclear_norm",
    "pointwise_max",
    "relu",
]
