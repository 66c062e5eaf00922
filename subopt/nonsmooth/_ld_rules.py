r"""Lexicographic (LD) rules of the nonsmooth primitives, for `lexicographic_derivative`.

Every value carries k tangent columns, stored on a trailing axis: a value of shape s has a
tangent of shape ``s + (k,)`` (column j is the j-th directional derivative of the LD
sequence), or None when it does not depend on the input. Each rule here decides its branch
by the *lexicographic sign*: the sign of the first nonzero entry of

.. math::

  (a - b,\ \dot a_1 - \dot b_1,\ \dots,\ \dot a_k - \dot b_k),

so that the branch is the one that is active along :math:`x + \sum_j \varepsilon^j m_j` for
small :math:`\varepsilon > 0`, and the result is Nesterov's lexicographic derivative
(Khan and Barton's vector forward mode). A comparison carries, as its "tangent", the boolean
it takes along that curve; ``select_n`` (``jnp.where``) then picks tangents by it.

NaN rule: where a rule's value is NaN, every tangent column is NaN.

References:
  Y. Nesterov, "Lexicographic differentiation of nonsmooth functions", Math. Program. 104
  (2005).
  K. A. Khan and P. I. Barton, "A vector forward mode of automatic differentiation for
  generalized derivative evaluation", Optim. Methods Softw. 30 (2015).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from subopt.nonsmooth._elementwise import nan_where as _nan_where


def fill(val: jax.Array, tan, k: int, shape=None) -> jax.Array:
    """The tangent of ``val`` as an array (zeros for None), broadcast to ``shape + (k,)``."""
    shape = jnp.shape(val) if shape is None else shape
    dtype = jnp.result_type(val)
    if tan is None or tan.dtype == jnp.bool_:
        return jnp.zeros((*shape, k), dtype)
    return jnp.broadcast_to(tan, (*shape, k))


def nan_where(out: jax.Array, tan: jax.Array) -> jax.Array:
    """NaN tangent columns wherever the value is NaN."""
    return _nan_where(jnp.asarray(out)[..., None], tan)


def lead_sign(s0: jax.Array, t: jax.Array) -> jax.Array:
    """Elementwise sign of the first nonzero of ``(s0, t[..., 0], ..., t[..., k-1])``."""
    if t.shape[-1] == 0:
        return s0
    idx = jnp.argmax(t != 0, axis=-1)
    lead = jnp.take_along_axis(t, idx[..., None], axis=-1)[..., 0]
    return jnp.where(s0 != 0, s0, jnp.sign(lead).astype(s0.dtype))


def _cmp_sign(a: jax.Array, b: jax.Array, dtype) -> jax.Array:
    return (a > b).astype(dtype) - (a < b).astype(dtype)


def lex_sign(a, ta, b, tb) -> jax.Array:
    """The lexicographic sign of (a, ta) - (b, tb), elementwise (tangents as arrays)."""
    return lead_sign(_cmp_sign(a, b, ta.dtype), ta - tb)


# --------------------------------------------------------------------------- elementwise


def abs_rule(k, vals, tans, **params):
    (x,), (t,) = vals, tans
    t = fill(x, t, k)
    return jnp.abs(x), lead_sign(jnp.sign(x), t)[..., None] * t


def _extreme(is_max: bool):
    def rule(k, vals, tans, **params):
        a, b = jnp.broadcast_arrays(*vals)
        out = lax.max(a, b) if is_max else lax.min(a, b)
        ta, tb = fill(a, tans[0], k, out.shape), fill(b, tans[1], k, out.shape)
        s = lex_sign(a, ta, b, tb)
        pick_a = s >= 0 if is_max else s <= 0
        return out, nan_where(out, jnp.where(pick_a[..., None], ta, tb))

    return rule


max_rule, min_rule = _extreme(True), _extreme(False)


def clamp_rule(k, vals, tans, **params):
    lo, x, hi = vals
    tlo, tx, thi = tans
    y, ty = max_rule(k, (x, jnp.broadcast_to(lo, x.shape)), (tx, tlo))
    _, t = min_rule(k, (y, jnp.broadcast_to(hi, x.shape)), (ty, thi))
    return lax.clamp(lo, x, hi), t


_LEX_TEST = {
    "gt": lambda s: s > 0,
    "ge": lambda s: s >= 0,
    "lt": lambda s: s < 0,
    "le": lambda s: s <= 0,
    "eq": lambda s: s == 0,
    "ne": lambda s: s != 0,
}


def compare_rule(name: str):
    """A comparison: its value, and as its tangent the boolean along the LD curve."""

    def rule(k, vals, tans, **params):
        a, b = jnp.broadcast_arrays(*vals)
        out = {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b, "eq": a == b, "ne": a != b}
        out = out[name]
        if not jnp.issubdtype(a.dtype, jnp.inexact):
            return out, None
        lex = _LEX_TEST[name](lex_sign(a, fill(a, tans[0], k), b, fill(b, tans[1], k)))
        return out, jnp.where(jnp.isnan(a) | jnp.isnan(b), out, lex)

    return rule


def select_n_rule(k, vals, tans, **params):
    pred, *cases = vals
    out = lax.select_n(pred, *cases)
    p = tans[0] if tans[0] is not None and tans[0].dtype == jnp.bool_ else pred
    if out.dtype == jnp.bool_:
        lex = [t if t is not None and t.dtype == jnp.bool_ else c for c, t in zip(cases, tans[1:])]
        return out, lax.select_n(p, *lex)
    if not jnp.issubdtype(out.dtype, jnp.inexact):
        return out, None
    ct = [fill(c, t, k, out.shape) for c, t in zip(cases, tans[1:])]
    if jnp.ndim(p) > 0:
        p = jnp.broadcast_to(p[..., None], (*out.shape, k))
    return out, lax.select_n(p, *ct)


# --------------------------------------------------------------------------- reductions


def _reduce_extreme(is_max: bool):
    def rule(k, vals, tans, axes, **params):
        (x,), (t,) = vals, tans
        out = jnp.max(x, axis=axes) if is_max else jnp.min(x, axis=axes)
        t = fill(x, t, k)
        if not is_max:
            x, t = -x, -t
        keep = [i for i in range(x.ndim) if i not in axes]
        batch = tuple(x.shape[i] for i in keep)
        size = 1
        for i in axes:
            size *= x.shape[i]
        if size == 0:
            return out, jnp.zeros((*out.shape, k), t.dtype)
        xr = jnp.transpose(x, keep + list(axes)).reshape((*batch, size))
        tr = jnp.transpose(t, [*keep, *axes, x.ndim]).reshape((*batch, size, k))
        mask = xr == jnp.max(xr, axis=-1, keepdims=True)
        low = jnp.asarray(-jnp.inf, t.dtype)

        def narrow(j, mask):  # keep the entries with the largest column j among the tied
            col = lax.dynamic_index_in_dim(tr, j, axis=-1, keepdims=False)
            top = jnp.max(jnp.where(mask, col, low), axis=-1, keepdims=True)
            return mask & (col == top)

        mask = lax.fori_loop(0, k, narrow, mask)
        idx = jnp.argmax(mask, axis=-1)
        tout = jnp.take_along_axis(tr, idx[..., None, None], axis=-2)[..., 0, :]
        return out, nan_where(out, tout if is_max else -tout)

    return rule


reduce_max_rule, reduce_min_rule = _reduce_extreme(True), _reduce_extreme(False)


def _cum_extreme(is_max: bool, prim):
    def rule(k, vals, tans, axis, reverse, **params):
        (x,), (t,) = vals, tans
        out = prim.bind(x, axis=axis, reverse=reverse)

        def combine(a, b):
            (va, ta), (vb, tb) = a, b
            s = lex_sign(va, ta, vb, tb)
            pick = s >= 0 if is_max else s <= 0
            return jnp.where(pick, va, vb), jnp.where(pick[..., None], ta, tb)

        _, tout = lax.associative_scan(combine, (x, fill(x, t, k)), reverse=reverse, axis=axis)
        return out, nan_where(out, tout)

    return rule


cummax_rule = _cum_extreme(True, lax.cummax_p)
cummin_rule = _cum_extreme(False, lax.cummin_p)


def sort_rule(k, vals, tans, dimension, is_stable, num_keys, **params):
    """Sort by (value, tangent columns) lexicographically: stable sorts, last key first."""
    shape = jnp.shape(vals[0])
    perm = lax.broadcasted_iota(jnp.int32, shape, dimension)

    def by(key, perm):
        moved = jnp.take_along_axis(key, perm, axis=dimension)
        return lax.sort((moved, perm), dimension=dimension, is_stable=True, num_keys=1)[1]

    for i in reversed(range(num_keys)):
        t = tans[i]
        if t is not None and t.dtype != jnp.bool_:

            def column(j, perm, t=t):
                col = lax.dynamic_index_in_dim(t, k - 1 - j, axis=-1, keepdims=False)
                return by(col, perm)

            perm = lax.fori_loop(0, k, column, perm)
        perm = by(vals[i], perm)
    outs = [jnp.take_along_axis(v, perm, axis=dimension) for v in vals]
    full = jnp.broadcast_to(perm[..., None], (*shape, k))
    touts = []
    for out, t in zip(outs, tans):
        if t is None or t.dtype == jnp.bool_:
            touts.append(None)
        else:
            touts.append(nan_where(out, jnp.take_along_axis(t, full, axis=dimension)))
    return outs, touts


# --------------------------------------------------------------------------- norms


def norm_rule(norm):
    r"""The Euclidean norm of a tuple of leaves: row :math:`u^T M`, u the first nonzero of
    :math:`(x, m_1, \dots, m_k)` normalized (x / ||x|| away from 0)."""

    def rule(k, vals, tans, **params):
        leaves = tuple(vals)
        ts = [fill(x, t, k) for x, t in zip(leaves, tans)]
        n = norm(leaves)
        nonzero = n != 0  # True for NaN too: then the row is NaN
        col = jnp.zeros((k,), n.dtype)
        for t in ts:
            col = jnp.maximum(col, jnp.max(jnp.abs(t), axis=tuple(range(t.ndim - 1))))
        j = jnp.argmax(col > 0)
        v = tuple(
            jnp.where(nonzero, x, lax.dynamic_index_in_dim(t, j, axis=-1, keepdims=False))
            for x, t in zip(leaves, ts)
        )
        nv = norm(v)
        safe = jnp.where(nv > 0, nv, jnp.ones((), nv.dtype))
        row = jnp.zeros((k,), n.dtype)
        for x, t in zip(v, ts):
            row = row + jnp.sum((x / safe)[..., None] * t, axis=tuple(range(t.ndim - 1)))
        return n, row

    return rule


def nuclear_rule(nuclear):
    r"""The nuclear norm: :math:`f^{(j)}(d) = \langle G, d\rangle + \|A^T d B\|_*`, refined
    column by column (G gains :math:`A U_r V_r^T B^T`, A and B keep the complement bases of
    the SVD of :math:`A^T m_j B`)."""

    def split(y):
        m, n = y.shape
        r = min(m, n)
        u, s, vt = jnp.linalg.svd(y, full_matrices=True)
        cutoff = max(m, n) * jnp.finfo(y.dtype).eps * jnp.max(s, initial=0)
        keep = s > cutoff
        polar = (u[:, :r] * keep) @ vt[:r]
        keep_u = jnp.concatenate([keep, jnp.zeros((m - r,), bool)])
        keep_v = jnp.concatenate([keep, jnp.zeros((n - r,), bool)])
        return polar, u * ~keep_u, vt.T * ~keep_v

    def rule(k, vals, tans, **params):
        (x,), (t,) = vals, tans
        t = fill(x, t, k)
        polar, a, b = split(x)

        def column(carry, d):
            g, a, b = carry
            p = a.T @ d @ b
            value = jnp.sum(g * d) + jnp.sum(jnp.linalg.svd(p, compute_uv=False))
            pp, ua, vb = split(p)
            return (g + a @ pp @ b.T, a @ ua, b @ vb), value

        _, row = lax.scan(column, (polar, a, b), jnp.moveaxis(t, -1, 0))
        return nuclear(x), row

    return rule
