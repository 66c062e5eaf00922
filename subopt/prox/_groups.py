r"""The group lasso with groups given by integer labels: each coordinate of an array leaf
carries the label of its group, and :math:`h(x) = \lambda \sum_g w_g \|x_g\|_2`. Group norms
are segment sums, scaled by each group's largest entry (no overflow or underflow), with
derivative 0 on a zero group. The per-leaf form ``group_l2(lam)`` lives in `_norms`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from subopt._tree import tree_sum
from subopt.prox._base import (
    Regularizer,
    cast,
    check_step,
    concrete,
    hyperparameter,
    hyperparameter_tree,
    per_leaf,
    rebuild,
    register,
    scalar_radius,
    tree_dtype,
    valid_weights,
)
from subopt.prox._norms import GroupL2, block_factor


def group_norms(v: jax.Array, labels: jax.Array, num_groups: int) -> jax.Array:
    """The Euclidean norm of each group of ``v`` (0 for an empty group), overflow-safe."""
    v = v.ravel()
    labels = labels.ravel()
    top = jax.ops.segment_max(jnp.abs(v), labels, num_groups)
    top = jax.lax.stop_gradient(jnp.where(top > 0, top, 0))  # empty groups give -inf
    scale = jnp.where((top > 0) & jnp.isfinite(top), top, jnp.ones((), v.dtype))
    sq = jax.ops.segment_sum(jnp.square(v / scale[labels]), labels, num_groups)
    safe = jnp.where(sq > 0, sq, jnp.ones((), v.dtype))
    out = jnp.where(sq > 0, scale * jnp.sqrt(safe), jnp.zeros((), v.dtype))
    return jnp.where(jnp.isfinite(top), out, top)  # +inf for an infinite entry


def _dot(a: jax.Array, b: jax.Array, labels: jax.Array, num_groups: int) -> jax.Array:
    return jax.ops.segment_sum((a * b).ravel(), labels.ravel(), num_groups)


@register
class GroupL2Labels(Regularizer):
    """h(x) = lam sum_g w_g ||x_g||_2, groups by integer labels (see `group_l2`)."""

    lam: Any
    groups: Any  # integer labels: one array per leaf, or one array for every leaf
    weights: Any  # per-group weights, like ``groups``: arrays of shape (num_groups,)
    num_groups: int = dataclasses.field(metadata={"static": True}, default=0)

    def is_valid(self):
        return valid_weights(self.lam, self.weights)

    def _cols(self, x, *trees):
        labs = per_leaf("groups", self.groups, x)
        ws = per_leaf("weights", self.weights, x)
        leaves = [jax.tree_util.tree_leaves(t) for t in (x, *trees)]
        out = []
        for lab, w, vs in zip(labs, ws, zip(*leaves)):
            v = vs[0]
            if jnp.shape(lab) != jnp.shape(v):
                raise ValueError(
                    f"groups has shape {jnp.shape(lab)}, which does not match the leaf of x "
                    f"of shape {jnp.shape(v)}"
                )
            lam = scalar_radius(self.lam, v.dtype, "lam")
            out.append((lam * w.astype(v.dtype), lab, [u.astype(v.dtype) for u in vs]))
        return out

    def value(self, x):
        parts = [
            jnp.sum(w * group_norms(v, lab, self.num_groups)) for w, lab, (v,) in self._cols(x)
        ]
        return tree_sum(parts).astype(tree_dtype(x))

    def prox(self, x, step):
        check_step(step)
        out = []
        for w, lab, (v,) in self._cols(x):
            f = block_factor(group_norms(v, lab, self.num_groups), cast(step, v.dtype) * w)
            out.append(v * f[lab])
        return rebuild(x, out)

    def min_norm(self, x, g):
        out = []
        for w, lab, (v, gv) in self._cols(x, g):
            n = group_norms(v, lab, self.num_groups)
            safe = jnp.where(n > 0, n, jnp.ones((), n.dtype))
            at_zero = gv * block_factor(group_norms(gv, lab, self.num_groups), w)[lab]
            out.append(jnp.where((n > 0)[lab], gv + (w / safe)[lab] * v, at_zero))
        return rebuild(x, out)

    def directional(self, x, d):
        parts = []
        for w, lab, (v, dv) in self._cols(x, d):
            n = group_norms(v, lab, self.num_groups)
            safe = jnp.where(n > 0, n, jnp.ones((), n.dtype))
            slope = jnp.where(
                n > 0,
                _dot(v, dv, lab, self.num_groups) / safe,
                group_norms(dv, lab, self.num_groups),
            )
            parts.append(jnp.sum(w * slope))
        return tree_sum(parts).astype(tree_dtype(x))


def _labels(groups: Any) -> tuple[Any, int]:
    """Concrete nonnegative integer labels as int32 arrays, and the number of groups."""
    top = 0
    out = []
    paths = jax.tree_util.tree_leaves_with_path(groups)
    if not paths:
        raise TypeError(f"groups must be an integer array or a pytree of them, got {groups!r}")
    for path, leaf in paths:
        where = f"groups{jax.tree_util.keystr(path)}"
        arr = concrete(leaf)
        if arr is None:
            raise TypeError(f"{where} must be concrete (the number of groups is static)")
        if not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"{where} must hold integer labels, got dtype {arr.dtype}")
        if arr.size and arr.min() < 0:
            raise ValueError(f"{where} must hold labels >= 0, got {int(arr.min())}")
        top = max(top, int(arr.max()) + 1 if arr.size else 0)
        out.append(jnp.asarray(arr, jnp.int32))
    return rebuild(groups, out), top


def group_l2(lam: Any, groups: Any = None, weights: Any = None) -> Regularizer:
    r"""The group lasso penalty: one group per pytree leaf, or groups by integer labels.

    Without ``groups``, each leaf is one group: :math:`h(x) = \sum_b \lambda_b \|x_b\|_2`,
    ``lam`` a scalar or a pytree like x of scalars. With ``groups`` (an integer label per
    coordinate, as in glmnet or nemos), each leaf is split by its labels:

    .. math::

      h(x) = \lambda \sum_g w_g \|x_g\|_2, \qquad
      \mathrm{prox}_{t h}(x)_g = x_g \max\left(1 - \frac{t\lambda w_g}{\|x_g\|_2}, 0\right)

    with default weights :math:`w_g = \sqrt{|g|}`, the square root of the group's size
    (Yuan and Lin). Groups of different leaves are distinct even when their labels agree.
    ``min_norm`` (:math:`g_g + \lambda w_g x_g / \|x_g\|` on nonzero groups, the block
    soft-threshold of :math:`g_g` at :math:`\lambda w_g` on zero groups) and ``directional``
    are exact, group by group.

    Args:
      lam: lambda >= 0; with ``groups`` a scalar.
      groups: optional integer labels >= 0: an array of the shape of every leaf of x (shared),
        or a pytree like x of such arrays. Concrete (the number of groups is static).
      weights: optional per-group weights >= 0: an array of shape (number of groups,), or a
        pytree like ``groups`` of such arrays. Default: the square roots of the group sizes
        (0 for a label that no coordinate uses).

    Returns:
      A `GroupL2` regularizer (per leaf) or a `GroupL2Labels` regularizer (by labels).

    Raises:
      TypeError: ``lam`` or ``weights`` is not real, labels are not integers or are traced.
      ValueError: a negative label; a concrete weight that is negative, NaN or infinite; a
        ``weights`` shape that is not (number of groups,); at the first call, a structure or
        shape that does not match x.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> reg = so.prox.group_l2(1.0, groups=jnp.array([0, 0, 1]), weights=jnp.ones(2))
      >>> [round(v, 5) for v in reg.prox(jnp.array([3.0, 4.0, 0.5]), 1.0).tolist()]
      [2.4, 3.2, 0.0]

    References:
      Yuan and Lin, *Model selection and estimation in regression with grouped variables*,
      JRSS B, 2006.
    """
    if groups is None:
        if weights is not None:
            raise TypeError("weights needs groups; for per-leaf groups give lam per leaf")
        return GroupL2(hyperparameter_tree("lam", lam))
    lam = hyperparameter("lam", lam)
    labels, num = _labels(groups)
    if weights is None:
        weights = jax.tree_util.tree_map(
            lambda lab: jnp.sqrt(jnp.bincount(lab.ravel(), length=num)).astype(lam.dtype),
            labels,
        )
    else:
        weights = hyperparameter_tree("weights", weights)
        for path, w in jax.tree_util.tree_leaves_with_path(weights):
            if jnp.shape(w) != (num,):
                raise ValueError(
                    f"weights{jax.tree_util.keystr(path)} must have shape ({num},) (one per "
                    f"group), got {jnp.shape(w)}"
                )
    return GroupL2Labels(lam, labels, weights, num)
