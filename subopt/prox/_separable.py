"""Separable sums: a pytree of terms, each acting on the matching part of the params."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from subopt._tree import tree_sum
from subopt.prox._base import Regularizer, check_regularizer, register, tree_dtype


def _is_term(node: Any) -> bool:
    return isinstance(node, Regularizer)


@register
class Separable(Regularizer):
    """h(x) = sum_k h_k(x_k), the terms a pytree matching a prefix of x (see `separable`)."""

    terms: Any

    def _terms(self) -> list:
        return jax.tree_util.tree_leaves(self.terms, is_leaf=_is_term)

    def _map(self, fn, *trees):
        try:
            return jax.tree_util.tree_map(fn, self.terms, *trees, is_leaf=_is_term)
        except ValueError as err:
            structure = jax.tree_util.tree_structure(self.terms, is_leaf=_is_term)
            raise ValueError(
                f"separable terms have structure {structure}, which is not a prefix of the "
                f"structure of x, {jax.tree_util.tree_structure(trees[0])}"
            ) from err

    def is_valid(self):
        out = jnp.array(True)
        for term in self._terms():
            out = out & term.is_valid()
        return out

    def _total(self, x, parts):
        leaves = jax.tree_util.tree_leaves(parts)
        return tree_sum([jnp.asarray(v) for v in leaves]).astype(tree_dtype(x))

    def value(self, x):
        return self._total(x, self._map(lambda h, v: h.value(v), x))

    def prox(self, x, step):
        return self._map(lambda h, v: h.prox(v, step), x)

    def min_norm(self, x, g):
        return self._map(lambda h, v, gv: _method(h, "min_norm")(v, gv), x, g)

    def directional(self, x, d):
        return self._total(x, self._map(lambda h, v, dv: _method(h, "directional")(v, dv), x, d))


def _method(term: Regularizer, name: str):
    method = getattr(term, name, None)
    if method is None:
        raise NotImplementedError(
            f"the term {type(term).__name__} inside separable does not implement {name}"
        )
    return method


def separable(terms: Any) -> Separable:
    r"""A separable sum :math:`h(x) = \sum_k h_k(x_k)`: different terms for different leaves.

    ``terms`` is a pytree of regularizers whose structure is a prefix of the params': each
    term acts on the matching subtree (a term may act on a whole subtree, e.g. an `l2` on a
    dict of leaves). Every method splits accordingly:

    .. math::

      \mathrm{prox}_{t h}(x)_k = \mathrm{prox}_{t h_k}(x_k), \qquad
      \partial h(x) = \textstyle\prod_k \partial h_k(x_k)

    so ``min_norm`` and ``directional`` are exact whenever the terms' are, and ``is_valid``
    is the conjunction of the terms'.

    Args:
      terms: a pytree (dict, list, tuple, ...) whose leaves are `Regularizer` s.

    Returns:
      A `Separable` regularizer; its leaves are the terms' hyperparameters.

    Raises:
      TypeError: a leaf of ``terms`` that is not a regularizer.
      ValueError: at the first call, a structure that is not a prefix of x's.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> reg = so.prox.separable({"w": so.prox.l1(1.0), "b": so.prox.zero()})
      >>> out = reg.prox({"w": jnp.array([3.0, -0.5]), "b": jnp.array([-0.5])}, 1.0)
      >>> out["w"].tolist(), out["b"].tolist()
      ([2.0, 0.0], [-0.5])

    References:
      Parikh and Boyd, *Proximal Algorithms*, 2014, section 2.1 (separable sums).
    """
    leaves = jax.tree_util.tree_leaves_with_path(terms, is_leaf=_is_term)
    if not leaves:
        raise TypeError(f"terms must be a pytree of regularizers, got {terms!r}")
    for path, term in leaves:
        check_regularizer(f"terms{jax.tree_util.keystr(path)}", term)
    return Separable(terms)
