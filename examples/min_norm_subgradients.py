"""Minimum-norm subgradients: jax's default derivative at a kink against subopt.nonsmooth.

The seed's three worked examples (DIGEST, seed 000), each printed with jax.numpy's derivative
and subopt's, and the minimum-norm element checked against the subdifferential written out:

1. |x| at 0: the subdifferential is [-1, 1], its minimum-norm element 0.
2. relu(x) = max(x, 0) at 0: [0, 1], minimum-norm element 0.
3. max(x1, x2) at x1 = x2: conv{(1, 0), (0, 1)}, minimum-norm element (1/2, 1/2).

Then a composite, f(x) = max(x/2, 2x) at 0, whose subdifferential is [1/2, 2]: the even split
of per-primitive rules gives 1.25, ns.pointwise_max the minimum-norm 1/2. Finally a figure
(min_norm_subgradients.png in the working directory): the supporting lines of every
subgradient at that kink, the minimum-norm one and jax's default highlighted; and, in gradient
space, the subdifferential of a three-piece max in 2-D with its minimum-norm point, the
projection of the origin.

Run: python examples/min_norm_subgradients.py
"""

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from subopt import nonsmooth as ns  # noqa: E402

jax.config.update("jax_enable_x64", True)


def show(label, jax_value, ours, want):
    jax_value, ours = np.asarray(jax_value), np.asarray(ours)
    print(f"{label:<34} jax.numpy: {jax_value!s:<12} subopt: {ours!s:<12} min-norm: {want}")
    np.testing.assert_allclose(ours, want, atol=1e-15)


def main() -> None:
    grad = jax.grad

    # 1-3: the seed's three examples
    show("|x| at 0", grad(jnp.abs)(0.0), grad(ns.abs)(0.0), 0.0)
    show(
        "relu(x) = max(x, 0) at 0",
        grad(lambda x: jnp.maximum(x, 0.0))(0.0),
        grad(ns.relu)(0.0),
        0.0,
    )
    assert float(grad(jax.nn.relu)(0.0)) == 0.0
    print("  (jax.nn.relu has its own rule and gives 0; jnp.maximum(x, 0.) splits the tie)")
    x = jnp.array([2.0, 2.0])
    show("max(x1, x2) at x1 = x2 = 2", grad(jnp.max)(x), grad(ns.max)(x), [0.5, 0.5])
    # the minimum-norm element of conv{(1, 0), (0, 1)}: minimise (l^2 + (1 - l)^2) over [0, 1]
    lams = np.linspace(0.0, 1.0, 100001)
    best = lams[np.argmin(lams**2 + (1 - lams) ** 2)]
    assert abs(best - 0.5) < 1e-9
    print("  (the closest point of the segment {(l, 1 - l)} to the origin is l = 1/2)")

    # a composite: f(x) = max(x/2, 2x) at 0 has subdifferential [1/2, 2]
    pieces = [lambda x: 0.5 * x, lambda x: 2.0 * x]
    F = ns.pointwise_max(pieces)
    chain = grad(lambda x: ns.maximum(0.5 * x, 2.0 * x))(0.0)  # even split of the pieces
    show(
        "max(x/2, 2x) at 0 (pointwise_max)",
        grad(lambda x: jnp.maximum(0.5 * x, 2 * x))(0.0),
        grad(F)(0.0),
        0.5,
    )
    print(f"  (per-primitive chain rule, ns.maximum: {float(chain)}: a subgradient, not minimal)")

    # 2-D: three affine pieces meeting at the origin, gradients a_i; the subdifferential at 0
    # is their convex hull, and pointwise_max returns its point nearest the origin.
    a = np.array([[2.0, 1.0], [0.5, 2.0], [3.0, 3.0]])
    G = ns.pointwise_max([lambda v, ai=ai: jnp.dot(jnp.asarray(ai), v) for ai in a])
    g_star = np.asarray(grad(G)(jnp.zeros(2)))
    # check: on the segment [a0, a1] by a fine grid, and optimality over the whole hull
    ts = np.linspace(0, 1, 200001)[:, None]
    seg = ts * a[0] + (1 - ts) * a[1]
    nearest = seg[np.argmin(np.sum(seg**2, 1))]
    assert np.all(a @ g_star >= g_star @ g_star - 1e-12)  # <a_i, g*> >= ||g*||^2 for all i
    np.testing.assert_allclose(g_star, nearest, atol=1e-5)
    jax_default = np.asarray(grad(lambda v: jnp.max(jnp.asarray(a) @ v))(jnp.zeros(2)))
    print(
        f"max of three planes at 0: min-norm subgradient {np.round(g_star, 6)}, "
        f"jax.numpy's {np.round(jax_default, 6)} (the hull's centroid)"
    )
    np.testing.assert_allclose(jax_default, a.mean(0), rtol=1e-15)

    # subgradient inequality f(y) >= f(0) + g* y on a grid, for the 1-D composite
    ys = np.linspace(-2, 2, 401)
    f = np.maximum(0.5 * ys, 2 * ys)
    assert np.all(f >= 0.5 * ys - 1e-15) and np.all(f >= 2.0 * ys - 1e-15)

    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for g in np.linspace(0.5, 2.0, 13):
        ax[0].plot(ys, g * ys, color="0.8", lw=0.8)
    ax[0].plot([], [], color="0.8", label=r"$g\,y$ for every $g \in \partial f(0) = [1/2, 2]$")
    ax[0].plot(ys, f, color="k", lw=2, label=r"$f(y) = \max(y/2,\ 2y)$")
    ax[0].plot(ys, 0.5 * ys, color="C0", lw=2, label=r"minimum-norm $g^\star = 1/2$ (subopt)")
    ax[0].plot(ys, 1.25 * ys, color="C3", ls="--", label="1.25: jnp.maximum (even split)")
    ax[0].set(xlabel="y", ylim=(-2, 4), title="supporting lines at the kink y = 0")
    ax[0].legend(fontsize=8, loc="upper left")

    hull = np.vstack([a[[0, 2, 1]], a[:1]])
    ax[1].fill(
        hull[:, 0], hull[:, 1], color="C0", alpha=0.2, label=r"$\partial F(0)$ = conv$\{a_i\}$"
    )
    ax[1].plot(*a.T, "o", color="C0")
    ax[1].annotate("", xy=g_star, xytext=(0, 0), arrowprops={"arrowstyle": "->", "color": "k"})
    ax[1].plot(*g_star, "*", color="k", ms=12, label=r"$g^\star$ = projection of 0 (pointwise_max)")
    ax[1].plot(*jax_default, "x", color="C3", ms=9, label="jax.numpy's default (centroid)")
    ax[1].plot(0, 0, "+", color="k")
    ax[1].set(
        xlim=(-0.5, 3.5),
        ylim=(-0.5, 3.5),
        aspect="equal",
        xlabel=r"$g_1$",
        ylabel=r"$g_2$",
        title=r"$F(v) = \max_i \langle a_i, v\rangle$ at v = 0",
    )
    ax[1].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig("min_norm_subgradients.png", dpi=110)
    print("wrote min_norm_subgradients.png")


if __name__ == "__main__":
    main()
