"""Print the README's kink table: derivatives at kinks in jax.numpy, PyTorch, and subopt.

The jax.numpy and subopt columns are computed here (float64); each subopt entry is also
checked against the minimum-norm element written out in the last column of ROWS. The PyTorch
column is its documented convention ("use the sub-gradient of minimum norm" where the function
is locally convex) as its backward formulas implement it, transcribed, not measured: PyTorch
is not a dependency of subopt.

Run: python scripts/kink_table.py   (prints a Markdown table)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from subopt import nonsmooth as ns

jax.config.update("jax_enable_x64", True)

grad = jax.grad
Z3 = jnp.zeros(3)
ONES = jnp.array([2.0, 2.0])
RANK1 = jnp.diag(jnp.array([1.0, 0.0]))


def _jnp_nuc(X):
    return jnp.sum(jnp.linalg.svd(X, compute_uv=False))


# kink, jax.numpy's derivative, PyTorch's documented convention, subopt's derivative,
# the minimum-norm element.
ROWS = [
    ("`abs(x)` at 0", lambda: grad(jnp.abs)(0.0), "0", lambda: grad(ns.abs)(0.0), 0.0),
    (
        "relu at 0",
        lambda: (
            f"{fmt(grad(lambda x: jnp.maximum(x, 0.0))(0.0))} (`jnp.maximum(x, 0.)`); "
            f"{fmt(grad(jax.nn.relu)(0.0))} (`jax.nn.relu`)"
        ),
        "0 (`relu`); 0.5 (`maximum(x, 0)`)",
        lambda: grad(ns.relu)(0.0),
        0.0,
    ),
    (
        "`maximum(x, c)` at x = c, c a constant",
        lambda: grad(lambda x: jnp.maximum(x, 1.0))(1.0),
        "0.5",
        lambda: grad(lambda x: ns.maximum(x, 1.0))(1.0),
        0.0,
    ),
    (
        "`maximum(a, b)` at a = b (both inputs)",
        lambda: jnp.stack(grad(jnp.maximum, argnums=(0, 1))(1.0, 1.0)),
        "[0.5, 0.5]",
        lambda: jnp.stack(grad(ns.maximum, argnums=(0, 1))(1.0, 1.0)),
        [0.5, 0.5],
    ),
    (
        "`minimum(x, 1.)` at 1 (concave)",
        lambda: grad(lambda x: jnp.minimum(x, 1.0))(1.0),
        "0.5",
        lambda: grad(lambda x: ns.minimum(x, 1.0))(1.0),
        0.0,
    ),
    (
        "`max([x1, x2])` at x1 = x2",
        lambda: grad(jnp.max)(ONES),
        "[0.5, 0.5]",
        lambda: grad(ns.max)(ONES),
        [0.5, 0.5],
    ),
    (
        "hinge `max(0, 1 - z)` at z = 1",
        lambda: grad(lambda z: jnp.maximum(0.0, 1.0 - z))(1.0),
        "-1 (`clamp(1 - z, min=0)`); -0.5 (`maximum`)",
        lambda: grad(ns.hinge)(1.0),
        0.0,
    ),
    (
        "L1 norm at 0",
        lambda: grad(lambda x: jnp.sum(jnp.abs(x)))(Z3),
        "[0, 0, 0]",
        lambda: grad(ns.l1_norm)(Z3),
        [0.0] * 3,
    ),
    (
        "L2 norm at 0",
        lambda: grad(jnp.linalg.norm)(Z3),
        "[0, 0, 0]",
        lambda: grad(ns.l2_norm)(Z3),
        [0.0] * 3,
    ),
    (
        "L-inf norm at 0",
        lambda: grad(lambda x: jnp.max(jnp.abs(x)))(Z3),
        "[0, 0, 0]",
        lambda: grad(ns.linf_norm)(Z3),
        [0.0] * 3,
    ),
    (
        "L-inf norm at (2, -2, 1)",
        lambda: grad(lambda x: jnp.max(jnp.abs(x)))(jnp.array([2.0, -2.0, 1.0])),
        "[0.5, -0.5, 0]",
        lambda: grad(ns.linf_norm)(jnp.array([2.0, -2.0, 1.0])),
        [0.5, -0.5, 0.0],
    ),
    (
        "nuclear norm at 0 (2 x 2)",
        lambda: grad(_jnp_nuc)(jnp.zeros((2, 2))),
        "U V^T (from the SVD; nonzero)",
        lambda: grad(ns.nuclear_norm)(jnp.zeros((2, 2))),
        np.zeros((2, 2)),
    ),
    (
        "nuclear norm at diag(1, 0)",
        lambda: grad(_jnp_nuc)(RANK1),
        "U V^T (full rank, not minimal)",
        lambda: grad(ns.nuclear_norm)(RANK1),
        np.diag([1.0, 0.0]),
    ),
    (
        "`max(x, 2x)` at 0 (composite; subopt: `pointwise_max`)",
        lambda: grad(lambda x: jnp.maximum(x, 2 * x))(0.0),
        "1.5",
        lambda: grad(ns.pointwise_max([lambda x: x, lambda x: 2 * x]))(0.0),
        1.0,
    ),
]


def fmt(value) -> str:
    """A derivative as a short literal: 0, 0.5, nan, [0.5, 0.5], [[1, 0], [0, 1]]."""
    arr = np.asarray(value, dtype=float)
    arr = np.where(arr == 0, 0.0, arr)  # no -0
    if arr.ndim == 0:
        return f"{float(arr):.4g}"
    return "[" + ", ".join(fmt(v) for v in arr) + "]"


def table() -> str:
    lines = [
        "| kink | jax.numpy | PyTorch (documented convention) | subopt |",
        "| --- | --- | --- | --- |",
    ]
    for kink, jax_fn, torch, ours_fn, want in ROWS:
        ours = np.asarray(ours_fn())
        np.testing.assert_allclose(ours, want, atol=1e-15, err_msg=kink)
        theirs = jax_fn()
        theirs = theirs if isinstance(theirs, str) else fmt(theirs)
        lines.append(f"| {kink} | {theirs} | {torch} | **{fmt(ours)}** |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
