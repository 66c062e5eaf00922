"""Directional derivatives and steepest directions, worked as in the textbook (DIGEST: 002, 004).

1. f = x1^2 + x2^2 at (4, 5): the gradient is (8, 10), the steepest-ascent rate is
   ||grad f|| = sqrt(164) ~ 12.81, and the best of 3600 unit directions agrees; the slope obeys
   f'(x; d) = ||grad f|| cos(theta).
2. f = x1 x2 at (1, 0) along u = (-1, -1): the directional derivative is -1, computed as g'(0)
   with g(s) = f(x + s u) and as <grad f, u> (so.directional_derivative, one forward pass).
3. At a kink of the nonsmooth F(x) = f(x) + |x1| + 2|x2| with f(x) = 2 x1 + x2 + x1^2/2 + x2^2,
   at x = 0: one-sided derivatives F'(0; d) along several directions (checked with one-sided
   difference quotients), the minimum-norm subgradient g* and the steepest-descent direction
   -g*/||g*|| with F'(0; -g*/||g*||) = -||g*||, which is the least slope over unit directions.
   The "gradient" that the chain rule through jnp.abs gives at 0 points elsewhere: its
   negative is not the steepest-descent direction.
4. directional_derivative.png: contours of F with those directions, and a polar plot of
   F'(0; d) over unit directions d.

Run: python examples/directional_derivative.py
"""

import math

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import subopt as so  # noqa: E402

jax.config.update("jax_enable_x64", True)

THETA = np.linspace(0.0, 2 * np.pi, 3600, endpoint=False)
DIRS = np.stack([np.cos(THETA), np.sin(THETA)], axis=1)  # 3600 unit directions


def smooth_examples() -> None:
    # 1. f = x1^2 + x2^2 at (4, 5)
    f = lambda x: x[0] ** 2 + x[1] ** 2  # noqa: E731
    x = jnp.array([4.0, 5.0])
    grad = np.asarray(jax.grad(f)(x))
    rate = float(np.linalg.norm(grad))
    print(f"f = x1^2 + x2^2 at (4, 5): grad f = {grad.tolist()}, ||grad f|| = {rate:.6f}")
    assert np.array_equal(grad, [8.0, 10.0]) and abs(rate - math.sqrt(164)) < 1e-12

    slopes = np.asarray(jax.jit(jax.vmap(lambda d: so.directional_derivative(f, x, d)))(DIRS))
    best = int(np.argmax(slopes))
    print(
        f"  max slope over 3600 unit directions: {slopes[best]:.4f} "
        f"(sqrt(164) = {math.sqrt(164):.4f}) at d = {DIRS[best].round(4).tolist()}; "
        f"grad/||grad|| = {(grad / rate).round(4).tolist()}"
    )
    assert abs(slopes[best] - math.sqrt(164)) < 1e-4
    assert np.linalg.norm(DIRS[best] - grad / rate) < 2e-3
    cos_law = rate * np.cos(THETA - np.arctan2(grad[1], grad[0]))
    err = np.abs(slopes - cos_law).max()
    print(f"  f'(x; d) = ||grad f|| cos(theta) over all 3600 directions: max error {err:.1e}")
    assert err < 1e-10

    # 2. f = x1 x2 at (1, 0) along u = (-1, -1) (unnormalised, as in the article)
    f = lambda x: x[0] * x[1]  # noqa: E731
    x, u = jnp.array([1.0, 0.0]), jnp.array([-1.0, -1.0])
    g = lambda s: f(x + s * u)  # noqa: E731  g(s) = (1 - s)(-s)
    via_g = float(jax.grad(g)(0.0))
    via_inner = float(np.dot(jax.grad(f)(x), u))
    via_so = float(so.directional_derivative(f, x, u))
    print(
        f"f = x1 x2 at (1, 0) along u = (-1, -1): g'(0) = {via_g}, <grad f, u> = {via_inner}, "
        f"so.directional_derivative = {via_so}"
    )
    assert via_g == via_inner == via_so == -1.0
    h = 1e-6
    assert abs((float(g(h)) - float(g(0.0))) / h + 1.0) < 1e-5


def kink_example() -> None:
    # 3. F = f + h, f smooth, h = |x1| + 2|x2|, at the kink x = 0
    f = lambda x: 2 * x[0] + x[1] + 0.5 * x[0] ** 2 + x[1] ** 2  # noqa: E731
    reg = so.prox.l1(jnp.array([1.0, 2.0]))
    F = jax.jit(lambda x: f(x) + reg.value(x))
    slope_at_0 = jax.jit(jax.vmap(lambda d: so.directional_derivative(f, jnp.zeros(2), d, reg=reg)))

    print("F = 2 x1 + x2 + x1^2/2 + x2^2 + |x1| + 2|x2| at x = 0 (a kink in both coordinates):")
    probes = np.array([[1, 0], [-1, 0], [0, 1], [0, -1], [-1, -1], [1, -2]], dtype=np.float64)
    s = 1e-7
    quotients = (np.asarray(jax.vmap(F)(s * probes)) - float(F(jnp.zeros(2)))) / s
    for d, slope, quotient in zip(probes, np.asarray(slope_at_0(probes)), quotients):
        print(f"  F'(0; {d.tolist()}) = {slope:+.4f}   one-sided quotient {quotient:+.4f}")
        assert abs(slope - quotient) < 1e-5
    right, left = np.asarray(slope_at_0(probes[:2]))
    print(f"  one-sided: F'(0; e1) = {right:+.1f} but -F'(0; -e1) = {-left:+.1f}")
    assert (right, left) == (3.0, -1.0)

    g_star = np.asarray(so.min_norm_subgradient(f, reg)(jnp.zeros(2)))
    norm = float(np.linalg.norm(g_star))
    steepest = -g_star / norm
    slope = float(slope_at_0(steepest[None])[0])
    print(
        f"  minimum-norm subgradient g* = {g_star.tolist()} (subdifferential [1, 3] x [-1, 3]); "
        f"F'(0; -g*/||g*||) = {slope:+.4f} = -||g*||"
    )
    assert np.array_equal(g_star, [1.0, 0.0]) and abs(slope + norm) < 1e-12

    slopes = np.asarray(slope_at_0(DIRS))
    best = int(np.argmin(slopes))
    print(
        f"  least slope over 3600 unit directions: {slopes[best]:+.4f} "
        f"at d = {DIRS[best].round(4).tolist()}"
    )
    assert abs(slopes[best] + norm) < 1e-6 and np.linalg.norm(DIRS[best] - steepest) < 2e-3

    chain = np.asarray(jax.grad(F)(jnp.zeros(2)))  # the chain rule through jnp.abs at 0
    naive = -chain / np.linalg.norm(chain)
    naive_slope = float(slope_at_0(naive[None])[0])
    verdict = "a descent direction" if naive_slope < 0 else "not even a descent direction"
    print(
        f"  jax.grad(F)(0) = {chain.tolist()} (the chain rule, not the minimum-norm rule): "
        f"F'(0; -grad/||grad||) = {naive_slope:+.4f}, {verdict}"
    )
    assert naive_slope > -norm + 1e-3

    fig = plt.figure(figsize=(10, 4.4))
    ax = fig.add_subplot(1, 2, 1)
    grid = np.linspace(-1.0, 1.0, 201)
    X1, X2 = np.meshgrid(grid, grid)
    Z = np.asarray(jax.vmap(F)(np.stack([X1.ravel(), X2.ravel()], axis=1))).reshape(X1.shape)
    cs = ax.contour(X1, X2, Z, levels=20, cmap="viridis", linewidths=0.8)
    ax.clabel(cs, fontsize=7)
    for d, color, label in (
        (steepest, "C3", f"-g*/||g*||: slope {slope:+.3f}"),
        (naive, "C1", f"-jax.grad/||.||: slope {naive_slope:+.3f}"),
    ):
        ax.annotate(
            "", xy=(0.7 * d[0], 0.7 * d[1]), xytext=(0, 0), arrowprops={"color": color, "width": 2}
        )
        ax.plot([], [], color=color, lw=2, label=label)
    ax.set(xlabel="x1", ylabel="x2", title="F = f + |x1| + 2|x2| near the kink x = 0")
    ax.set_aspect("equal")
    ax.legend(loc="upper left", fontsize=8)

    ax = fig.add_subplot(1, 2, 2, projection="polar")
    ax.plot(np.append(THETA, 0.0), np.append(slopes, slopes[0]), color="C0", label="F'(0; d)")
    ax.plot(THETA, np.zeros_like(THETA), "k--", lw=0.8, label="slope 0")
    ax.plot([THETA[best]], [slopes[best]], "o", color="C3", label="steepest descent")
    ax.set_rlim(-1.5, slopes.max() + 0.3)  # pyright: ignore[reportAttributeAccessIssue]
    ax.set_title("one-sided slope F'(0; d), d = (cos t, sin t)", fontsize=10)
    ax.legend(loc="lower left", fontsize=8, bbox_to_anchor=(-0.15, -0.12))
    fig.tight_layout()
    fig.savefig("directional_derivative.png", dpi=110)
    print("wrote directional_derivative.png")


def main() -> None:
    smooth_examples()
    kink_example()


if __name__ == "__main__":
    main()
