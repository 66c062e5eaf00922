"""The L1 ball over the whole pytree as one vector: the exact sort-based projection (Duchi
et al. 2008, the simplex's threshold on |x|) and its exact minimum-norm subgradients."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from subopt._base import check_scalar
from subopt.prox._base import (
    Regularizer,
    check_step,
    flatten,
    hyperparameter_tree,
    indicator,
    nan_unless,
    register,
    rtol,
    scalar_radius,
    tree_dtype,
    valid_weights,
)
from subopt.prox._l1 import shrink
from subopt.prox._simplex import _masked_prefix, _rounding_fix, _threshold


def project_l1_ball(v: jax.Array, radius: Any) -> jax.Array:
    r"""Euclidean projection of an array (all entries as one vector) onto the L1 ball.

    .. math::

      \Pi(v) = \mathrm{sign}(v) \max(|v| - \theta, 0), \quad \theta = 0 \text{ if }
      \|v\|_1 \le r, \text{ else } \textstyle\sum_i \max(|v_i| - \theta, 0) = r

    Args:
      v: an array of any shape (its entries form one vector).
      radius: r >= 0.

    Returns:
      An array like ``v`` with L1 norm at most ``radius`` (``v`` itself when inside).

    Raises:
      ValueError: a concrete ``radius`` that is negative, NaN or infinite.
      TypeError: ``radius`` is not real.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> so.prox.project_l1_ball(jnp.array([2.0, -1.5, 0.5]), 1.0).tolist()
      [0.75, -0.25, 0.0]

    References:
      Duchi, Shalev-Shwartz, Singer and Chandra, *Efficient projections onto the l1-ball for
      learning in high dimensions*, ICML 2008, figure 2.
    """
    check_scalar("radius", radius, nonnegative=True)
    return _project_l1_ball(jnp.asarray(v), radius)


def _project_l1_ball(v: jax.Array, radius: Any) -> jax.Array:
    """`project_l1_ball` without the check of ``radius`` (the ball's own, checked radius).

    A point of the closed ball is returned as it is (theta = 0 exactly, so the derivative is
    the identity there, on the sphere too: the convention `l2_ball` shares)."""
    radius = jnp.asarray(radius).astype(v.dtype)
    a = jnp.abs(v)
    inside = jnp.sum(a) <= radius
    theta = jnp.where(inside, jnp.zeros((), v.dtype), _threshold(a.ravel(), radius))
    theta = jnp.where(jnp.isnan(radius), radius, theta)
    out = shrink(v, theta)
    return out * _rounding_fix(jnp.sum(jnp.abs(out)), radius, ~inside)


@register
class L1Ball(Regularizer):
    """The indicator of {||x||_1 <= radius} over the whole pytree (see `l1_ball`)."""

    radius: Any

    def is_valid(self):
        return valid_weights(self.radius)

    def _parts(self, x):
        flat, unravel = flatten(x)
        r = scalar_radius(self.radius, flat.dtype)
        n = jnp.sum(jnp.abs(flat))
        tol = rtol(flat.dtype, flat.size)
        return flat, unravel, r, n <= r * (1 + tol), n >= r * (1 - tol)

    def value(self, x):
        _, _, _, feasible, _ = self._parts(x)
        return indicator(feasible, tree_dtype(x))

    def prox(self, x, step):
        check_step(step)
        flat, unravel, r, _, _ = self._parts(x)
        return unravel(_project_l1_ball(flat, r))

    def min_norm(self, x, g):
        # On the sphere N(x) = {a s : a >= 0, s in the subdifferential of ||.||_1 at x}; for a
        # fixed a the best s gives g + a sign(x) on the support and S_a(g) off it, and the best
        # a >= 0 is the root of a nondecreasing piecewise-linear function: the largest of the
        # candidates (sum of the m largest |g_i| off the support - c) / (k + m).
        flat, unravel, _, feasible, boundary = self._parts(x)
        gf, _ = flatten(g)
        gf = gf.astype(flat.dtype)
        supp = flat != 0
        sign = jnp.sign(flat)
        k = jnp.sum(supp).astype(flat.dtype)
        c = jnp.sum(jnp.where(supp, sign * gf, 0))
        sums, counts, valid = _masked_prefix(jnp.abs(gf), ~supp)
        cand = jnp.where(valid, (sums - c) / (k + counts), -jnp.inf)
        cand0 = jnp.where(k > 0, -c / jnp.where(k > 0, k, 1), -jnp.inf)
        a = jnp.maximum(jnp.maximum(jnp.max(cand, initial=-jnp.inf), cand0), 0)
        on_sphere = jnp.where(supp, gf + a * sign, jnp.sign(gf) * jnp.maximum(jnp.abs(gf) - a, 0))
        out = jnp.where(boundary, on_sphere, gf)
        return unravel(nan_unless(feasible, out))

    def directional(self, x, d):
        flat, _, _, feasible, boundary = self._parts(x)
        df, _ = flatten(d)
        df = df.astype(flat.dtype)
        slope = jnp.sum(jnp.where(flat != 0, jnp.sign(flat) * df, jnp.abs(df)))
        ok = ~boundary | (slope <= rtol(flat.dtype, flat.size) * jnp.sum(jnp.abs(df)))
        dtype = tree_dtype(x)
        return jnp.where(feasible, jnp.where(ok, 0.0, jnp.inf), jnp.nan).astype(dtype)


def l1_ball(radius: Any) -> L1Ball:
    r"""The indicator of the L1 ball :math:`\{x : \|x\|_1 \le r\}` (all entries of the pytree).

    .. math::

      \mathrm{prox}_{t h}(x) = \mathrm{sign}(x) \max(|x| - \theta, 0)

    with :math:`\theta \ge 0` the smallest value giving :math:`\|\cdot\|_1 \le r`, found
    exactly by one sort (`project_l1_ball`). It is the conjugate of :math:`r\|\cdot\|_\infty`.
    ``min_norm`` is exact (a one-dimensional search solved by the same sort) and so is
    ``directional`` (the ball is polyhedral: a direction is feasible iff
    :math:`\sum_{x_i \ne 0} \mathrm{sign}(x_i) d_i + \sum_{x_i = 0} |d_i| \le 0` on the sphere).

    Args:
      radius: r >= 0, a scalar.

    Returns:
      An `L1Ball` regularizer.

    Raises:
      TypeError: ``radius`` is not real.
      ValueError: a concrete ``radius`` that is negative, NaN or infinite.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> so.prox.l1_ball(1.0).prox(jnp.array([2.0, -1.5, 0.5]), 1.0).tolist()
      [0.75, -0.25, 0.0]

    References:
      Duchi, Shalev-Shwartz, Singer and Chandra, *Efficient projections onto the l1-ball for
      learning in high dimensions*, ICML 2008.
    """
    return L1Ball(hyperparameter_tree("radius", radius))
