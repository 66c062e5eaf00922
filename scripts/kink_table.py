"""Print the README's kink table: derivatives at kinks in jax.numpy, PyTorch, and subopt.

The jax.numpy and subopt columns are computed here (float64); each subopt entry is also
checked against the minimum-norm element written out in the last column of ROWS. The PyTorch
column is its documented convention ("use the sub-gradient of minimum norm" where the function
is locally convex) as its backward formulas implement it, transcribed, not measured: PyTorch
is not a dependency of subopt.

The second table holds compositions at kinks, where the chain rule of per-primitive rules
can leave the generalized gradient: jax.numpy's derivative, subopt's per-primitive rules (the
chain rule of the ``subopt.nonsmooth`` derivatives), `ns.lexicographic_gradient` and
`ns.clarke_min_norm`, each checked here against the true derivative or the minimum-norm
element written out in its row (entries below 1e-12, rounding noise, print as 0).

Run: python scripts/kink_table.py   (prints two Markdown tables)
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


def _layer(relu):
    W = jnp.array([[1.0, 2.0], [-1.0, 1.0], [2.0, -3.0]])  # three units, tied at x = 0
    return lambda x: jnp.sum(relu(W @ x) - relu(-W @ x))  # = (W^T 1) . x = 2 x_1


def _lasso():
    """0.5 ||A x - b||^2 + 0.25 ||x||_1 at its exact optimum x* = (0, 1.5, -0.5)."""
    A = np.array([[2.0, 0.5, 0.0], [0.0, 1.0, 0.5], [1.0, 0.0, 1.0]])
    x_star = np.array([0.0, 1.5, -0.5])
    s = np.array([0.4, 1.0, -1.0])  # A^T (A x* - b) = -0.25 s
    b = A @ x_star + 0.25 * np.linalg.solve(A.T, s)
    Aj, bj = jnp.asarray(A), jnp.asarray(b)

    def make(absf):
        return lambda x: 0.5 * jnp.sum((Aj @ x - bj) ** 2) + 0.25 * jnp.sum(absf(x))

    return make, jnp.asarray(x_star)


_LASSO, _X_STAR = _lasso()
_Z2 = jnp.zeros(2)

# composition, its jax.numpy form, its subopt form, point, convex, the true derivative (where
# f is smooth) or else the minimum-norm element of the subdifferential
CANCEL = [
    ("`relu(x) - relu(-x)` at 0 (= x)", lambda x: jax.nn.relu(x) - jax.nn.relu(-x),
     lambda x: ns.relu(x) - ns.relu(-x), 0.0, True, 1.0),
    ("`maximum(x, 0) + minimum(x, 0)` at 0 (= x)",
     lambda x: jnp.maximum(x, 0.0) + jnp.minimum(x, 0.0),
     lambda x: ns.maximum(x, 0.0) + ns.minimum(x, 0.0), 0.0, True, 1.0),
    ("`hinge(z) - hinge(2 - z)` at 1 (= 1 - z)",
     lambda z: jnp.maximum(0.0, 1 - z) - jnp.maximum(0.0, z - 1),
     lambda z: ns.hinge(z) - ns.hinge(2.0 - z), 1.0, True, -1.0),
    ("`relu(x0 + x1) - relu(-x0 - x1) + relu(x0 - x1)` at 0 (convex; min-norm of "
     "(1, 1) + conv{0, (1, -1)})",
     lambda x: jax.nn.relu(x[0] + x[1]) - jax.nn.relu(-x[0] - x[1]) + jax.nn.relu(x[0] - x[1]),
     lambda x: ns.relu(x[0] + x[1]) - ns.relu(-x[0] - x[1]) + ns.relu(x[0] - x[1]), _Z2,
     True, [1.0, 1.0]),
    ("ReLU layer, three units tied at 0, minus its mirror (= 2 x_1)", _layer(jax.nn.relu),
     _layer(ns.relu), _Z2, True, [2.0, 0.0]),
    ("`abs(x) + x` at 0 (min-norm of [0, 2])", lambda x: jnp.abs(x) + x,
     lambda x: ns.abs(x) + x, 0.0, True, 0.0),
    ("Lasso at its exact optimum (0, 1.5, -0.5)", _LASSO(jnp.abs), _LASSO(ns.abs), _X_STAR,
     True, [0.0, 0.0, 0.0]),
]  # fmt: skip


def cancellation_table() -> str:
    lines = [
        "| composition | jax.numpy | subopt per-primitive rules | subopt LD gradient "
        "| `clarke_min_norm` |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, jnp_f, ns_f, x, convex, want in CANCEL:
        x = jnp.asarray(x, jnp.float64)
        lg = ns.lexicographic_gradient(ns_f, x)
        g, info = ns.clarke_min_norm(ns_f, x, convex=convex)
        np.testing.assert_allclose(np.asarray(g), want, atol=1e-12, err_msg=name)
        assert bool(info.certified), name
        cert = " (certified)" if bool(info.certified) else ""
        snap = lambda v: np.where(np.abs(np.asarray(v)) < 1e-12, 0.0, v)  # noqa: E731
        cells = [fmt(snap(jax.grad(jnp_f)(x))), fmt(snap(jax.grad(ns_f)(x))), fmt(snap(lg)),
                 f"**{fmt(snap(g))}**{cert}"]  # fmt: skip
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
    print()
    print(cancellation_table())
