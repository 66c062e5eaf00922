r"""Datafits of generalized linear models: least squares, logistic and Poisson.

A datafit is :math:`F(z) = \sum_i s_i\, \ell(z_i, y_i)` of the linear predictor
:math:`z = Xw + b`, with sample weights :math:`s_i \ge 0` (``1/n`` each by default, the scaling
of scikit-learn; a zero weight drops a row, which is how rows are padded). Each datafit gives
the loss, its gradient in z, the convex conjugate that the duality gaps need,

.. math::

  F^*(u) = \sum_i s_i\, \ell^*(u_i / s_i, y_i),

and the curvature bound c with :math:`\ell'' \le c` (None when there is none: Poisson), so
that :math:`\nabla F` is :math:`c \max_i s_i`-Lipschitz in z and the dual is
:math:`1 / (c \max_i s_i)`-strongly concave (the gap-safe radius).

=========  ===================================  =======================================
datafit    :math:`\ell(z, y)`                   :math:`\ell^*(v, y)`
=========  ===================================  =======================================
quadratic  :math:`(y - z)^2 / 2`                :math:`v y + v^2 / 2`
logistic   :math:`\log(1 + e^{-yz})`, y = +-1   :math:`a \log a + (1 - a)\log(1 - a)`, a = -yv
poisson    :math:`e^z - yz + y\log y - y`       :math:`(v + y)\log(v + y) - (v + y) - y\log y + y`
=========  ===================================  =======================================

References:
  Ndiaye, Fercoq, Gramfort and Salmon, *Gap safe screening rules for sparsity enforcing
  penalties*, JMLR, 2017 (section 2). Massias, Vaiter, Gramfort and Salmon, *Dual
  extrapolation for sparse generalized linear models*, JMLR, 2020.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
from jax.scipy.special import xlogy

from subopt._tree import register_dataclass


def _ratio(u: jax.Array, s: jax.Array) -> jax.Array:
    """u / s, 0 where s = 0 (there u = 0 too: a dropped row has no dual variable)."""
    return jnp.where(s > 0, u / jnp.where(s > 0, s, 1), 0)


class Datafit:
    """Interface of a GLM datafit (see the module docstring)."""

    curvature: Any = None
    name: str = ""

    def loss(self, z: jax.Array, y: jax.Array) -> jax.Array:
        raise NotImplementedError

    def dloss(self, z: jax.Array, y: jax.Array) -> jax.Array:
        raise NotImplementedError

    def conj(self, v: jax.Array, y: jax.Array) -> jax.Array:
        raise NotImplementedError

    def value(self, z: jax.Array, y: jax.Array, s: jax.Array) -> jax.Array:
        """:math:`F(z) = \\sum_i s_i \\ell(z_i, y_i)`."""
        return jnp.sum(jnp.where(s > 0, s * self.loss(z, y), 0))

    def grad(self, z: jax.Array, y: jax.Array, s: jax.Array) -> jax.Array:
        """:math:`\\nabla F(z)_i = s_i \\ell'(z_i, y_i)`."""
        return jnp.where(s > 0, s * self.dloss(z, y), 0)

    def ddloss(self, z: jax.Array, y: jax.Array) -> jax.Array:
        raise NotImplementedError

    def hess(self, z: jax.Array, y: jax.Array, s: jax.Array) -> jax.Array:
        r"""The diagonal Hessian of F in z, :math:`s_i \ell''(z_i, y_i)`."""
        return jnp.where(s > 0, s * self.ddloss(z, y), 0)

    def conjugate(self, u: jax.Array, y: jax.Array, s: jax.Array) -> jax.Array:
        """:math:`F^*(u)` (u a gradient of F, possibly scaled by a factor in [0, 1])."""
        return jnp.sum(jnp.where(s > 0, s * self.conj(_ratio(u, s), y), 0))

    def intercept_shift(self, z: jax.Array, y: jax.Array, s: jax.Array) -> jax.Array:
        """The shift d minimizing :math:`F(z + d)` (so the gradient sums to 0 after it)."""
        raise NotImplementedError

    def fitted_shift(self, z: jax.Array, y: jax.Array, s: jax.Array, fit: jax.Array) -> jax.Array:
        """``fit * intercept_shift(z, y, s)``, skipped at run time when ``fit`` is 0 (a traced
        1.0 or 0.0: one program serves both). Logistic's shift is 8 Newton steps at every
        gap; skipping them without an intercept took 0.97-1.01x the time of L1-logistic
        fits (100x200, 200x400): small, but work that nothing uses."""
        return jax.lax.cond(
            fit != 0,
            lambda: fit * self.intercept_shift(z, y, s),
            lambda: jnp.zeros((), z.dtype),
        )

    def base_value(self, y: jax.Array, s: jax.Array) -> jax.Array:
        """F(0), the scale of the relative tolerances."""
        return self.value(jnp.zeros_like(y), y, s)


@dataclasses.dataclass(frozen=True)
class Quadratic(Datafit):
    """Least squares, :math:`\\ell(z, y) = (y - z)^2 / 2` (see `quadratic`)."""

    curvature = 1.0
    name = "quadratic"

    def loss(self, z, y):
        return 0.5 * (y - z) ** 2

    def dloss(self, z, y):
        return z - y

    def conj(self, v, y):
        return v * y + 0.5 * v * v

    def intercept_shift(self, z, y, s):
        return jnp.sum(s * (y - z)) / jnp.sum(s)


@dataclasses.dataclass(frozen=True)
class Logistic(Datafit):
    """Logistic loss for labels y in {-1, +1}, :math:`\\log(1 + e^{-yz})` (see `logistic`)."""

    curvature = 0.25
    name = "logistic"

    def loss(self, z, y):
        return jnp.logaddexp(0, -y * z)

    def dloss(self, z, y):
        return -y * jax.nn.sigmoid(-y * z)

    def ddloss(self, z, y):
        return jax.nn.sigmoid(y * z) * jax.nn.sigmoid(-y * z)

    def conj(self, v, y):
        a = jnp.clip(-y * v, 0, 1)
        return xlogy(a, a) + xlogy(1 - a, 1 - a)

    def intercept_shift(self, z, y, s):
        # Newton's method on the 1-d convex d -> F(z + d), from d = 0 (quadratic convergence)
        def newton(_, d):
            p = jax.nn.sigmoid(-y * (z + d))
            g = -jnp.sum(s * y * p)
            h = jnp.sum(s * p * (1 - p))
            return d - g / jnp.maximum(h, jnp.finfo(z.dtype).tiny)

        return jax.lax.fori_loop(0, 8, newton, jnp.zeros((), z.dtype))


@dataclasses.dataclass(frozen=True)
class Poisson(Datafit):
    """Poisson deviance / 2 with log link, :math:`e^z - yz + y\\log y - y` (see `poisson`)."""

    curvature = None  # e^z has no global bound: the inner solver backtracks
    name = "poisson"

    def loss(self, z, y):
        return jnp.exp(z) - y * z + xlogy(y, y) - y

    def dloss(self, z, y):
        return jnp.exp(z) - y

    def conj(self, v, y):
        a = jnp.maximum(v + y, 0)
        return xlogy(a, a) - a - xlogy(y, y) + y

    def intercept_shift(self, z, y, s):
        top = jnp.max(jnp.where(s > 0, z, -jnp.inf))  # log-sum-exp without overflow
        return jnp.log(jnp.sum(s * y)) - jnp.log(jnp.sum(s * jnp.exp(z - top))) - top


for _cls in (Quadratic, Logistic, Poisson):
    register_dataclass(_cls, [], [])


def quadratic() -> Quadratic:
    r"""The least-squares datafit :math:`\sum_i s_i (y_i - z_i)^2 / 2` (``s_i = 1/n``: the
    Lasso's :math:`\|y - Xw\|^2 / (2n)`).

    Example:
      >>> import jax.numpy as jnp
      >>> from subopt import linear_model as lm
      >>> float(lm.quadratic().value(jnp.zeros(2), jnp.array([1.0, 3.0]), jnp.full(2, 0.5)))
      2.5
    """
    return Quadratic()


def logistic() -> Logistic:
    r"""The logistic datafit :math:`\sum_i s_i \log(1 + e^{-y_i z_i})`, labels in {-1, +1}.

    Example:
      >>> import jax.numpy as jnp
      >>> from subopt import linear_model as lm
      >>> round(float(lm.logistic().value(jnp.zeros(1), jnp.ones(1), jnp.ones(1))), 4)
      0.6931
    """
    return Logistic()


def poisson() -> Poisson:
    r"""The Poisson datafit (half the deviance, log link)
    :math:`\sum_i s_i (e^{z_i} - y_i z_i + y_i \log y_i - y_i)`, counts :math:`y_i \ge 0`.

    Example:
      >>> import jax.numpy as jnp
      >>> from subopt import linear_model as lm
      >>> float(lm.poisson().value(jnp.zeros(1), jnp.ones(1), jnp.ones(1)))
      0.0
    """
    return Poisson()


__all__ = ["Datafit", "Logistic", "Poisson", "Quadratic", "logistic", "poisson", "quadratic"]
