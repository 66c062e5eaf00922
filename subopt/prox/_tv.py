r"""One-dimensional total variation :math:`\lambda \sum_i |x_{i+1} - x_i|` along the last axis
of every leaf, with an exact O(n) prox by dynamic programming (Johnson 2013).

The forward pass keeps the derivative of the message
:math:`F_k(b) = \min_{x_1..x_{k-1}} \sum_{i<k} \tfrac12 (x_i - y_i)^2 + \lambda_i |x_{i+1} -
x_i| + \tfrac12 (b - y_k)^2`, an increasing piecewise-linear function, as a deque of knots;
each step clamps it to :math:`[-\lambda_k, \lambda_k]` (popping knots from both ends,
amortized O(1)) and records where the clamps start, :math:`b^-_k \le b^+_k`. The backward pass
is :math:`x_k = \mathrm{clip}(x_{k+1}, b^-_k, b^+_k)`, a reverse ``lax.scan`` (a parallel
associative scan of the clamps' compositions compiles far slower). The knots live in
fixed-size buffers inside a ``lax.while_loop``, so the prox works under jit and vmap; its
derivative is a custom JVP (the prox averages y over each constant run), so grad works too.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from subopt._tree import tree_sum
from subopt.prox._base import (
    Regularizer,
    cast,
    check_step,
    hyperparameter_tree,
    leaf_params,
    rebuild,
    register,
    run_mean,
    tree_dtype,
    valid_weights,
)


def _forward(y: jax.Array, w: jax.Array):
    """The clamp points (b^-_k, b^+_k), k < n - 1, and the last coordinate x_{n-1}."""
    n = y.shape[0]
    dt = y.dtype
    size = 2 * n + 1
    # materialize the inputs, so XLA does not fuse their producers into the loop body
    y, w = jax.lax.optimization_barrier((y, w))
    pos = jnp.zeros(size, dt)
    jump = jnp.zeros(size, dt)
    one = jnp.ones((), dt)

    def pop_left(carry, level):
        def cond(c):
            pos, jump, h, t, al, bl = c
            return (h < t) & (al + bl * pos[h] < level)

        def body(c):
            pos, jump, h, t, al, bl = c
            return pos, jump, h + 1, t, al - jump[h] * pos[h], bl + jump[h]

        return jax.lax.while_loop(cond, body, carry)

    def step(k, carry):
        pos, jump, h, t, al, bl, ar, br, lo, hi = carry
        lam = w[k]
        pos, jump, h, t, al, bl = pop_left((pos, jump, h, t, al, bl), -lam)
        bm = (-lam - al) / bl
        h = h - 1
        pos, jump = pos.at[h].set(bm), jump.at[h].set(bl)
        al, bl = -lam, jnp.zeros((), dt)

        def cond(c):
            pos, jump, t, ar, br = c
            return (t - 1 > h) & (ar + br * pos[t - 1] > lam)

        def body(c):
            pos, jump, t, ar, br = c
            return pos, jump, t - 1, ar + jump[t - 1] * pos[t - 1], br - jump[t - 1]

        pos, jump, t, ar, br = jax.lax.while_loop(cond, body, (pos, jump, t, ar, br))
        bp = (lam - ar) / br
        pos, jump = pos.at[t].set(bp), jump.at[t].set(-br)  # the slope drops to 0
        t = t + 1
        ar, br = lam, jnp.zeros((), dt)
        yk = y[k + 1]
        lo, hi = lo.at[k].set(bm), hi.at[k].set(bp)
        return pos, jump, h, t, al - yk, bl + one, ar - yk, br + one, lo, hi

    start = jnp.asarray(n, jnp.int32)
    init = (
        pos,
        jump,
        start,
        start,
        -y[0],
        one,
        -y[0],
        one,
        jnp.zeros(n - 1, dt),
        jnp.zeros(n - 1, dt),
    )
    pos, jump, h, t, al, bl, _, _, lo, hi = jax.lax.fori_loop(0, n - 1, step, init)
    _, _, _, _, al, bl = pop_left((pos, jump, h, t, al, bl), jnp.zeros((), dt))
    return lo, hi, -al / bl


@jax.custom_jvp
def tv_prox(y: jax.Array, w: jax.Array) -> jax.Array:
    """argmin_z 1/2 ||z - y||^2 + sum_k w_k |z_{k+1} - z_k| for a 1-D y, w >= 0 (n - 1,)."""
    if y.shape[0] < 2:
        return y
    lo, hi, last = _forward(y, w)

    def back(x, bounds):
        x = jnp.clip(x, *bounds)
        return x, x

    _, head = jax.lax.scan(back, last, (lo, hi), reverse=True, unroll=8)
    return jnp.concatenate([head, last[None]])


@tv_prox.defjvp
def _tv_prox_jvp(primals, tangents):
    y, w = primals
    dy, dw = tangents
    z = tv_prox(y, w)
    n = y.shape[0]
    if n < 2:
        return z, dy
    # Each constant run R of z is (sum_R y - w_left s_left + w_right s_right) / |R|.
    sgn = jnp.sign(z[1:] - z[:-1])
    run = jnp.concatenate([jnp.zeros(1, jnp.int32), jnp.cumsum(sgn != 0).astype(jnp.int32)])
    edge = dw * sgn
    push = jnp.zeros_like(dy).at[:-1].add(edge).at[1:].add(-edge)
    return z, run_mean(dy + push, run)


def _rows(v: jax.Array) -> jax.Array:
    return v.reshape(-1, v.shape[-1]) if v.ndim else v.reshape(1, 1)


def _each_row(rows: jax.Array, ws: jax.Array) -> jax.Array:
    """tv_prox of every row, one after the other (``lax.map``): a vmapped loop would batch
    the knot buffers' updates into scatters, several times slower on a CPU."""
    if rows.shape[0] == 1:
        return tv_prox(rows[0], ws[0])[None]
    return jax.lax.map(lambda rw: tv_prox(*rw), (rows, ws))


def _prox_leaf(v: jax.Array, lam: jax.Array) -> jax.Array:
    rows = _rows(v)
    w = jnp.broadcast_to(lam, (rows.shape[0], rows.shape[-1] - 1)).astype(v.dtype)
    return _each_row(rows, w).reshape(v.shape)


@register
class TotalVariation1D(Regularizer):
    """h(x) = lam sum |x_{i+1} - x_i| along the last axis of every leaf."""

    lam: Any

    def is_valid(self):
        return valid_weights(self.lam)

    def _cols(self, x, *trees):
        lams = leaf_params("lam", self.lam, x, scalar_only=True)
        leaves = [jax.tree_util.tree_leaves(t) for t in (x, *trees)]
        return [
            (lam, [_rows(u.astype(vs[0].dtype)) for u in vs]) for lam, vs in zip(lams, zip(*leaves))
        ]

    def value(self, x):
        parts = [lam * jnp.sum(jnp.abs(jnp.diff(v, axis=-1))) for lam, (v,) in self._cols(x)]
        return tree_sum(parts).astype(tree_dtype(x))

    def prox(self, x, step):
        check_step(step)
        lams = leaf_params("lam", self.lam, x, scalar_only=True)
        return rebuild(
            x,
            [
                _prox_leaf(v, cast(step, v.dtype) * lam)
                for lam, v in zip(lams, jax.tree_util.tree_leaves(x))
            ],
        )

    def min_norm(self, x, g):
        # dh(x) = {D^T u : u = lam sign(Dx) on jumps, |u| <= lam elsewhere}. With the jumps'
        # part b = D^T u_jumps fixed, min ||g + b + D^T u|| over the box is -prox of a TV with
        # weight 0 across jumps (the runs decouple) at -(g + b).
        out = []
        for lam, (v, gv) in self._cols(x, g):
            s = jnp.sign(jnp.diff(v, axis=-1))
            u = lam * s
            pad = jnp.zeros(u.shape[:-1] + (1,), v.dtype)
            b = jnp.concatenate([pad, u], -1) - jnp.concatenate([u, pad], -1)
            w = jnp.where(s == 0, lam, jnp.zeros_like(s))
            out.append((-_each_row(-(gv + b), w)).reshape(gv.shape))
        leaves = jax.tree_util.tree_leaves(x)
        return rebuild(x, [o.reshape(jnp.shape(v)) for o, v in zip(out, leaves)])

    def directional(self, x, d):
        parts = []
        for lam, (v, dv) in self._cols(x, d):
            s = jnp.sign(jnp.diff(v, axis=-1))
            dd = jnp.diff(dv, axis=-1)
            parts.append(lam * jnp.sum(jnp.where(s != 0, s * dd, jnp.abs(dd))))
        return tree_sum(parts).astype(tree_dtype(x))


def total_variation_1d(lam: Any) -> TotalVariation1D:
    r"""One-dimensional total variation :math:`h(x) = \lambda \sum_i |x_{i+1} - x_i|`.

    It acts along the last axis of every leaf (each row of a matrix is one signal; 0-d and
    length-1 leaves have no variation). The prox, the fused-lasso signal approximator

    .. math::

      \mathrm{prox}_{t h}(y) = \arg\min_x \tfrac12 \|x - y\|^2 + t\lambda \sum_i
      |x_{i+1} - x_i|

    is exact and O(n) by dynamic programming (Johnson 2013; the taut string's solution),
    piecewise constant with exact ties. ``min_norm`` is exact: with the jumps' signs fixed,
    the free dual variables solve a weighted TV prox with the runs cut apart. ``directional``
    is :math:`\lambda(\sum_{\text{jumps}} \mathrm{sign}(\Delta x_i) \Delta d_i +
    \sum_{\text{flat}} |\Delta d_i|)`. The prox's derivative averages the input over each
    constant run (a custom JVP); a sequential loop, it is slower than a vector pass on CPU
    (see benchmarks/prox_structured.py).

    Args:
      lam: lambda >= 0: a scalar, or a pytree like x of scalars (one weight per leaf).

    Returns:
      A `TotalVariation1D` regularizer.

    Raises:
      TypeError: ``lam`` is not real.
      ValueError: a concrete ``lam`` that is negative, NaN or infinite.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> so.prox.total_variation_1d(1.0).prox(jnp.array([0.0, 3.0, 3.0, 0.0]), 1.0).tolist()
      [1.0, 2.0, 2.0, 1.0]

    References:
      Johnson, *A dynamic programming algorithm for the fused lasso and L0-segmentation*,
      J. Comput. Graph. Statist., 2013. Condat, *A direct algorithm for 1-D total variation
      denoising*, IEEE Signal Process. Lett., 2013.
    """
    return TotalVariation1D(hyperparameter_tree("lam", lam))
