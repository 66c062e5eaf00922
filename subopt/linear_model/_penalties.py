r"""Sparsity penalties of GLMs, with what the duality gap and the gap-safe rules need.

Each penalty g is a pytree whose hyperparameters are array leaves (traceable, vmappable) and
provides, besides its value and prox,

* ``dual_scale(v)``: for :math:`v = -X^\top u`, the largest :math:`c \in (0, 1]` with
  :math:`c v \in \mathrm{dom}\, g^*` (1 when g* is finite everywhere);
* ``conjugate(v)``: :math:`g^*(v)` for such a feasible v;
* ``safe_zero(v, r)``: the gap-safe test, True where :math:`w_j^\star = 0` is certain when the
  dual optimum lies within distance R of the current dual point (``r`` holds
  :math:`R \|x_j\|` per feature);
* ``score(v, norms)``: how close feature j is to entering the support (larger first), the
  working-set priority of Massias, Gramfort and Salmon (2018);
* ``subset(ws)``: the penalty restricted to the features ``ws`` (a working set).

* elastic net :math:`g(w) = \alpha\sum_j \rho|w_j| + \tfrac{1-\rho}{2} w_j^2`,
  :math:`g^*(v) = \sum_j (|v_j| - \alpha\rho)_+^2 / (2\alpha(1-\rho))`;
* l1 (:math:`\rho = 1`) :math:`\alpha\|w\|_1`, :math:`g^* = \iota(\|v\|_\infty \le \alpha)`;
* nonnegative l1 :math:`\alpha\sum_j w_j + \iota(w \ge 0)`,
  :math:`g^* = \iota(v \le \alpha)`;
* group l2 :math:`\alpha\sum_g \omega_g \|w_g\|_2`,
  :math:`g^* = \iota(\|v_g\|_2 \le \alpha\omega_g\ \forall g)`.

The group labels and the nonnegative L1 prox are implemented here, privately, until
`subopt.prox` has them.

References:
  Ndiaye, Fercoq, Gramfort and Salmon, *Gap safe screening rules for sparsity enforcing
  penalties*, JMLR, 2017. Massias, Gramfort and Salmon, *Celer: a fast solver for the Lasso
  with dual extrapolation*, ICML, 2018. Yuan and Lin, *Model selection and estimation in
  regression with grouped variables*, JRSS B, 2006.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.core
import jax.numpy as jnp
import numpy as np

from subopt._base import check_scalar
from subopt._tree import register_dataclass
from subopt.prox._l1 import shrink


def _cap(limit: jax.Array, size: jax.Array) -> jax.Array:
    """min(1, limit / size), 1 where size <= limit (size may be 0)."""
    return jnp.where(size > limit, limit / jnp.where(size > limit, size, 1), 1)


def _priority(slack: jax.Array, norms: jax.Array) -> jax.Array:
    return -slack / jnp.where(norms > 0, norms, 1)


class Penalty:
    """Interface of a GLM penalty (see the module docstring)."""

    def value(self, w: jax.Array) -> jax.Array:
        raise NotImplementedError

    def prox(self, w: jax.Array, step: Any) -> jax.Array:
        raise NotImplementedError

    def dual_scale(self, v: jax.Array) -> jax.Array:
        raise NotImplementedError

    def conjugate(self, v: jax.Array) -> jax.Array:
        return jnp.zeros((), v.dtype)

    def safe_zero(self, v: jax.Array, r: jax.Array) -> jax.Array:
        raise NotImplementedError

    def score(self, v: jax.Array, norms: jax.Array) -> jax.Array:
        raise NotImplementedError

    def subset(self, ws: jax.Array) -> Penalty:
        return self

    def is_valid(self) -> jax.Array:
        return jnp.array(True)


@dataclasses.dataclass(frozen=True)
class ElasticNet(Penalty):
    """:math:`\\alpha(\\rho\\|w\\|_1 + (1 - \\rho)\\|w\\|_2^2 / 2)` (see `elastic_net`, `l1`)."""

    alpha: Any
    l1_ratio: Any

    def _parts(self, dtype):
        a = jnp.asarray(self.alpha, dtype)
        r = jnp.asarray(self.l1_ratio, dtype)
        return a * r, a * (1 - r)

    def value(self, w):
        l1, l2 = self._parts(w.dtype)
        return l1 * jnp.sum(jnp.abs(w)) + 0.5 * l2 * jnp.sum(w * w)

    def prox(self, w, step):
        l1, l2 = self._parts(w.dtype)
        return shrink(w, step * l1) / (1 + step * l2)

    def dual_scale(self, v):
        l1, l2 = self._parts(v.dtype)
        return jnp.where(l2 > 0, jnp.ones((), v.dtype), _cap(l1, jnp.max(jnp.abs(v))))

    def conjugate(self, v):
        l1, l2 = self._parts(v.dtype)
        excess = jnp.sum(jnp.maximum(jnp.abs(v) - l1, 0) ** 2)
        return jnp.where(l2 > 0, excess / (2 * jnp.where(l2 > 0, l2, 1)), 0).astype(v.dtype)

    def safe_zero(self, v, r):
        l1, _ = self._parts(v.dtype)
        return jnp.abs(v) + r < l1

    def score(self, v, norms):
        l1, _ = self._parts(v.dtype)
        return _priority(l1 - jnp.abs(v), norms)

    def is_valid(self):
        a, r = jnp.asarray(self.alpha), jnp.asarray(self.l1_ratio)
        return (a >= 0) & jnp.isfinite(a) & (r >= 0) & (r <= 1)


@dataclasses.dataclass(frozen=True)
class NonnegativeL1(Penalty):
    """:math:`\\alpha \\sum_j w_j` on :math:`w \\ge 0` (see `nonnegative_l1`)."""

    alpha: Any

    def value(self, w):
        a = jnp.asarray(self.alpha, w.dtype)
        return jnp.where(jnp.all(w >= 0), a * jnp.sum(w), jnp.inf).astype(w.dtype)

    def prox(self, w, step):
        return jnp.maximum(w - step * jnp.asarray(self.alpha, w.dtype), 0)

    def dual_scale(self, v):
        return _cap(jnp.asarray(self.alpha, v.dtype), jnp.max(v, initial=0))

    def safe_zero(self, v, r):
        return v + r < jnp.asarray(self.alpha, v.dtype)

    def score(self, v, norms):
        return _priority(jnp.asarray(self.alpha, v.dtype) - v, norms)

    def is_valid(self):
        a = jnp.asarray(self.alpha)
        return (a >= 0) & jnp.isfinite(a)


@dataclasses.dataclass(frozen=True)
class GroupL2(Penalty):
    """:math:`\\alpha\\sum_g \\omega_g\\|w_g\\|_2` with integer group labels (see `group_l2`)."""

    alpha: Any
    labels: Any
    weights: Any
    n_groups: int

    def _norms(self, w):
        sq = jax.ops.segment_sum(w * w, self.labels, num_segments=self.n_groups)
        return jnp.sqrt(sq)

    def _limit(self, dtype):
        return jnp.asarray(self.alpha, dtype) * self.weights.astype(dtype)

    def value(self, w):
        return jnp.sum(self._limit(w.dtype) * self._norms(w))

    def prox(self, w, step):
        n = self._norms(w)
        t = step * self._limit(w.dtype)
        factor = jnp.where(n > t, 1 - t / jnp.where(n > t, n, 1), 0)
        return w * factor[self.labels]

    def dual_scale(self, v):
        lim = self._limit(v.dtype)
        return jnp.min(_cap(lim, self._norms(v)))

    def safe_zero(self, v, r):
        # r_j = R ||x_j||; the group's R ||X_g||_F (>= R ||X_g||_2) is their root sum square
        rg = jnp.sqrt(jax.ops.segment_sum(r * r, self.labels, num_segments=self.n_groups))
        return (self._norms(v) + rg < self._limit(v.dtype))[self.labels]

    def score(self, v, norms):
        ng = jnp.sqrt(jax.ops.segment_sum(norms**2, self.labels, num_segments=self.n_groups))
        return _priority(self._limit(v.dtype) - self._norms(v), ng)[self.labels]

    def subset(self, ws):
        return GroupL2(self.alpha, self.labels[ws], self.weights, self.n_groups)

    def is_valid(self):
        a = jnp.asarray(self.alpha)
        return (a >= 0) & jnp.isfinite(a) & jnp.all(self.weights >= 0)


register_dataclass(ElasticNet, ["alpha", "l1_ratio"], [])
register_dataclass(NonnegativeL1, ["alpha"], [])
register_dataclass(GroupL2, ["alpha", "labels", "weights"], ["n_groups"])


def _alpha(alpha: Any) -> Any:
    check_scalar("alpha", alpha, nonnegative=True)
    return alpha if isinstance(alpha, jax.core.Tracer) else jnp.asarray(alpha, float)


def l1(alpha: Any) -> ElasticNet:
    r"""The L1 penalty :math:`\alpha\|w\|_1` (the Lasso), an `ElasticNet` with ``l1_ratio=1``.

    Args:
      alpha: the weight, >= 0 (possibly traced).

    Raises:
      ValueError: a concrete ``alpha`` that is negative, NaN or infinite.

    Example:
      >>> import jax.numpy as jnp
      >>> from subopt import linear_model as lm
      >>> lm.l1(1.0).prox(jnp.array([3.0, -1.5, 0.5]), 1.0).tolist()
      [2.0, -0.5, 0.0]
    """
    return ElasticNet(_alpha(alpha), jnp.asarray(1.0))


def elastic_net(alpha: Any, l1_ratio: Any = 0.5) -> ElasticNet:
    r"""The elastic net :math:`\alpha(\rho\|w\|_1 + (1-\rho)\|w\|_2^2 / 2)`, scikit-learn's
    scaling (``rho = l1_ratio``).

    Args:
      alpha: the weight, >= 0.
      l1_ratio: :math:`\rho \in [0, 1]`.

    Raises:
      ValueError: a concrete ``alpha < 0`` or ``l1_ratio`` outside [0, 1].

    Example:
      >>> import jax.numpy as jnp
      >>> from subopt import linear_model as lm
      >>> [round(v, 4) for v in lm.elastic_net(1.0, 0.5).prox(jnp.array([3.0]), 1.0).tolist()]
      [1.6667]
    """
    check_scalar("l1_ratio", l1_ratio, nonnegative=True)
    if not isinstance(l1_ratio, jax.core.Tracer) and float(l1_ratio) > 1:
        raise ValueError(f"l1_ratio must be in [0, 1], got {l1_ratio!r}")
    ratio = l1_ratio if isinstance(l1_ratio, jax.core.Tracer) else jnp.asarray(l1_ratio, float)
    return ElasticNet(_alpha(alpha), ratio)


def nonnegative_l1(alpha: Any) -> NonnegativeL1:
    r"""The nonnegative L1 penalty :math:`\alpha\sum_j w_j + \iota(w \ge 0)` (the positive
    Lasso); its prox is :math:`\max(w - t\alpha, 0)`.

    Example:
      >>> import jax.numpy as jnp
      >>> from subopt import linear_model as lm
      >>> lm.nonnegative_l1(1.0).prox(jnp.array([3.0, -2.0]), 1.0).tolist()
      [2.0, 0.0]
    """
    return NonnegativeL1(_alpha(alpha))


def group_l2(alpha: Any, groups: Any, weights: Any = None) -> GroupL2:
    r"""The group-Lasso penalty :math:`\alpha\sum_g \omega_g\|w_g\|_2`.

    Args:
      alpha: the weight, >= 0.
      groups: an integer label per feature, in ``0 .. G-1`` (concrete: the number of groups
        is static), or an int G for G contiguous groups of equal size.
      weights: :math:`\omega_g \ge 0` per group (default: :math:`\sqrt{|g|}`).

    Raises:
      ValueError: labels that are not integers in 0 .. G-1, or a wrong ``weights`` shape.

    Example:
      >>> import jax.numpy as jnp
      >>> from subopt import linear_model as lm
      >>> w = lm.group_l2(1.0, [0, 0, 1], weights=[1.0, 1.0]).prox(jnp.array([3.0, 4.0, 0.5]), 1.0)
      >>> [round(v, 5) for v in w.tolist()]
      [2.4, 3.2, 0.0]
    """
    labels = np.asarray(groups)
    if labels.ndim == 0:
        raise ValueError(f"groups must be one integer label per feature, got {groups!r}")
    if labels.size and (not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0):
        raise ValueError(f"groups must hold integer labels >= 0, got {groups!r}")
    n_groups = int(labels.max()) + 1 if labels.size else 0
    sizes = np.bincount(labels, minlength=n_groups)
    w = np.sqrt(sizes) if weights is None else np.asarray(weights, float)
    if w.shape != (n_groups,):
        raise ValueError(f"weights must have shape ({n_groups},), got {w.shape}")
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError(f"weights must be finite and >= 0, got {weights!r}")
    return GroupL2(_alpha(alpha), jnp.asarray(labels, jnp.int32), jnp.asarray(w), n_groups)


__all__ = [
    "ElasticNet",
    "GroupL2",
    "NonnegativeL1",
    "Penalty",
    "elastic_net",
    "group_l2",
    "l1",
    "nonnegative_l1",
]
