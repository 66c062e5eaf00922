r"""The Euclidean sphere :math:`\{x : \|x\|_2 = r\}` of the whole pytree, a nonconvex set:
its projection :math:`r x / \|x\|` is exact (at x = 0 every point of the sphere is nearest;
the first coordinate axis is chosen), and its calculus is that of a smooth manifold (the
normal line spanned by x, the tangent space :math:`\{d : \langle x, d\rangle = 0\}`).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from subopt._tree import tree_norm, tree_vdot
from subopt.prox._base import (
    Regularizer,
    check_step,
    flatten,
    hyperparameter_tree,
    indicator,
    nan_unless,
    rebuild,
    register,
    rtol,
    scalar_radius,
    tree_dtype,
    valid_weights,
)


@register
class L2Sphere(Regularizer):
    """The indicator of {||x||_2 = radius} (see `l2_sphere`)."""

    radius: Any

    def is_valid(self):
        return valid_weights(self.radius)

    def _parts(self, x):
        leaves = jax.tree_util.tree_leaves(x)
        n = tree_norm(leaves)
        r = scalar_radius(self.radius, n.dtype)
        on = jnp.abs(n - r) <= rtol(n.dtype) * r
        safe = jnp.where(n > 0, n, jnp.ones((), n.dtype))
        return leaves, n, r, on, [v / safe.astype(v.dtype) for v in leaves]

    def value(self, x):
        _, _, _, on, _ = self._parts(x)
        return indicator(on, tree_dtype(x))

    def prox(self, x, step):
        check_step(step)
        flat, unravel = flatten(x)
        n = tree_norm(flat)
        r = scalar_radius(self.radius, flat.dtype)
        e1 = jnp.zeros_like(flat).at[0].set(1) if flat.size else flat
        safe = jnp.where(n > 0, n, jnp.ones((), n.dtype))
        return unravel(jnp.where((n > 0) | jnp.isnan(n), flat * (r / safe), r * e1))

    def min_norm(self, x, g):
        # The normal cone of the manifold at x is the line spanned by x: remove g's part
        # along x (the Riemannian gradient). At r = 0 the set is {0} and the cone everything.
        leaves, n, r, on, us = self._parts(x)
        gs = [gv.astype(v.dtype) for gv, v in zip(jax.tree_util.tree_leaves(g), leaves)]
        along = tree_vdot(us, gs)
        out = [
            jnp.where(r > 0, gv - along.astype(gv.dtype) * u, jnp.zeros_like(gv))
            for gv, u in zip(gs, us)
        ]
        return nan_unless(on, rebuild(x, out))

    def directional(self, x, d):
        leaves, n, r, on, us = self._parts(x)
        ds = [dv.astype(v.dtype) for dv, v in zip(jax.tree_util.tree_leaves(d), leaves)]
        dn = tree_norm(ds)
        tangent = jnp.abs(tree_vdot(us, ds)) <= rtol(n.dtype) * dn
        tangent = tangent & ((r > 0) | (dn == 0))
        dtype = tree_dtype(x)
        return jnp.where(on, jnp.where(tangent, 0.0, jnp.inf), jnp.nan).astype(dtype)


def l2_sphere(radius: Any) -> L2Sphere:
    r"""The indicator of the sphere :math:`\{x : \|x\|_2 = r\}` (global pytree norm); nonconvex.

    .. math::

      \mathrm{prox}_{t h}(x) = r \frac{x}{\|x\|_2} \quad (x \ne 0), \qquad
      \mathrm{prox}_{t h}(0) = r e_1

    (at 0 every point of the sphere is a projection; the first coordinate axis of the
    flattened pytree is returned, as jaxopt does). The sphere is not convex, so its
    subdifferential is the one of a smooth manifold: ``min_norm(x, g)`` is
    :math:`g - \langle g, x\rangle x / \|x\|^2`, the minimum-norm element of g plus the normal
    line (the Riemannian gradient), and ``directional(x, d)`` is the subderivative
    :math:`\liminf_{s \downarrow 0, d' \to d} (h(x + s d') - h(x)) / s`: 0 along tangent
    directions :math:`\langle x, d\rangle = 0` (16 eps relative), +inf otherwise. (The
    plain one-sided limit is +inf along every d != 0: x + s d leaves the sphere.) Both are
    NaN off the sphere; membership allows 16 eps r of rounding.

    Args:
      radius: r >= 0, a scalar.

    Returns:
      An `L2Sphere` regularizer.

    Raises:
      TypeError: ``radius`` is not real.
      ValueError: a concrete ``radius`` that is negative, NaN or infinite.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> [round(v, 5) for v in so.prox.l2_sphere(1.0).prox(jnp.array([0.3, 0.4]), 1.0).tolist()]
      [0.6, 0.8]

    References:
      Absil, Mahony and Sepulchre, *Optimization Algorithms on Matrix Manifolds*, 2008,
      section 3.6. Rockafellar and Wets, *Variational Analysis*, 1998, definition 8.1.
    """
    return L2Sphere(hyperparameter_tree("radius", radius))
