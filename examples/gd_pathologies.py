"""Where fixed-step gradient descent struggles: cliff, ravine, plateau (DIGEST: 002, s3.2).

The chapter's three landscapes, each run for several step sizes eta in ONE so.sweep call over
the step size. Each grid point returns so.run's Result (with its honest status) and the first
steps of the same iteration x <- x - eta grad f(x), recorded with jax.lax.scan, to draw over the
contours in gd_pathologies.png.

1. Cliff: f = exp(8 (x1 - 1)) - x1 + x2^2 / 4, a gentle slope ending at the foot of a steep
   wall. A small step walks down and converges; a step too large for the curvature at the foot
   overshoots onto the wall, whose huge gradient launches the iterate far back, again and
   again: it never converges (MAX_STEPS).
2. Ravine: a narrow valley f = (x^T H x) / 2 with Hessian eigenvalues 1 and 50 (ratio 50).
   Gradient descent contracts each eigendirection by |1 - eta lambda_i|: below the critical
   step 2 / lambda_max = 0.04 it converges (zig-zagging across the valley as eta nears it),
   above it the oscillation grows and so.run reports DIVERGED.
3. Plateau: f = 1 - exp(-(x1^2 + 2 x2^2) / 2) started far out on its flat part, where the
   gradient is ~1e-3: a small step crawls (MAX_STEPS), a larger one crosses the plateau, and one
   above 2 / lambda_max at the minimum (= 1) is thrown out of the well and back, forever.

Run: python examples/gd_pathologies.py
"""

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import subopt as so  # noqa: E402

jax.config.update("jax_enable_x64", True)


class Landscape(NamedTuple):
    name: str
    fun: Callable[[jax.Array], jax.Array]
    x0: jax.Array
    x_star: np.ndarray
    learning_rates: np.ndarray
    max_steps: int
    tol: float
    frame: tuple[float, float, float, float]  # x1 min, x1 max, x2 min, x2 max
    draw_steps: int
    levels: np.ndarray  # contour levels of f - f(x*)


def cliff(x):
    return jnp.exp(8.0 * (x[0] - 1.0)) - x[0] + 0.25 * x[1] ** 2


FLOOR = np.array([np.cos(np.pi / 6), np.sin(np.pi / 6)])  # the ravine's floor direction
ACROSS = np.array([-FLOOR[1], FLOOR[0]])
H_RAVINE = np.outer(FLOOR, FLOOR) + 50.0 * np.outer(ACROSS, ACROSS)  # eigenvalues 1 and 50


def ravine(x):
    return 0.5 * x @ H_RAVINE @ x


def plateau(x):
    return 1.0 - jnp.exp(-0.5 * (x[0] ** 2 + 2.0 * x[1] ** 2))


LANDSCAPES = [
    Landscape(
        name="cliff",
        fun=cliff,
        x0=jnp.array([-2.0, 1.5]),
        x_star=np.array([1.0 - np.log(8.0) / 8.0, 0.0]),
        learning_rates=np.array([0.05, 0.2, 0.6]),
        max_steps=2000,
        tol=1e-6,
        frame=(-5.0, 1.5, -2.0, 2.0),
        draw_steps=60,
        levels=np.geomspace(0.01, 100.0, 30),
    ),
    Landscape(
        name="ravine",
        fun=ravine,
        x0=jnp.asarray(-2.5 * FLOOR + 0.15 * ACROSS),  # on the floor, slightly up one side
        x_star=np.zeros(2),
        learning_rates=np.array([0.01, 0.03, 0.039, 0.041]),
        max_steps=2000,
        tol=1e-6,
        frame=(-2.6, 0.6, -1.6, 0.6),
        draw_steps=40,
        levels=np.geomspace(0.01, 100.0, 25),
    ),
    Landscape(
        name="plateau",
        fun=plateau,
        x0=jnp.array([3.6, 1.2]),
        x_star=np.zeros(2),
        learning_rates=np.array([0.05, 0.8, 4.0]),
        max_steps=1500,
        tol=1e-6,
        frame=(-4.0, 4.0, -2.5, 2.5),
        draw_steps=1500,
        levels=np.linspace(0.05, 0.95, 10),
    ),
]


def make_solver(land: Landscape):
    """fn(learning_rate) -> (so.run's Result, the first draw_steps iterates)."""

    def solve(learning_rate):
        opt = so.gradient_descent(learning_rate)
        res = so.run(opt, land.fun, land.x0, max_steps=land.max_steps, tol=land.tol)

        def step(carry, _):
            x, state = carry
            updates, state = opt.update(jax.grad(land.fun)(x), state, x)
            x = jnp.asarray(optax.apply_updates(x, updates))
            return (x, state), x

        _, path = jax.lax.scan(step, (land.x0, opt.init(land.x0)), length=land.draw_steps)
        return res, jnp.concatenate([land.x0[None], path])

    return solve


@partial(jax.jit, static_argnums=0)
def landscape_info(fun, x0, x_star, grid_points):
    """What the printout and the plot need from f, in one compiled call per landscape."""
    return {
        "f0": fun(x0),
        "grad0": jax.grad(fun)(x0),
        "f_star": fun(x_star),
        "hessian_star": jax.hessian(fun)(x_star),
        "grid": jax.vmap(fun)(grid_points.reshape(-1, 2)).reshape(grid_points.shape[:-1]),
    }


def describe(land: Landscape, res: so.Result) -> list[str]:
    out = []
    for lr, status, k, value, s in zip(
        land.learning_rates, res.status, res.num_steps, res.value, res.stationarity
    ):
        name = so.Status(int(status)).name
        out.append(name)
        print(
            f"  eta = {lr:<6g} {name:<9} after {k:>4} steps, f = {value:+.6g}, ||grad f|| = {s:.1e}"
        )
    return out


def main() -> None:
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for land, ax in zip(LANDSCAPES, axes):
        # ONE compiled, vmapped call over all step sizes of this landscape
        out = so.sweep(make_solver(land), learning_rate=jnp.asarray(land.learning_rates))
        res, paths = jax.tree_util.tree_map(np.asarray, out)

        X1, X2 = np.meshgrid(np.linspace(*land.frame[:2], 300), np.linspace(*land.frame[2:], 200))
        grid = np.stack([X1, X2], axis=-1)
        info = landscape_info(land.fun, land.x0, jnp.asarray(land.x_star), grid)
        info = jax.tree_util.tree_map(np.asarray, info)
        print(
            f"{land.name}: f(x0) = {info['f0']:.4f}, ||grad f(x0)|| = "
            f"{np.linalg.norm(info['grad0']):.1e}"
        )
        statuses = describe(land, res)
        lam = np.linalg.eigvalsh(info["hessian_star"])

        if land.name == "cliff":
            jumps = np.linalg.norm(np.diff(paths, axis=1), axis=2)
            print(
                f"  curvature at the foot of the cliff: lambda_max = {lam.max():.1f}, "
                f"2 / lambda_max = {2 / lam.max():.3f}"
            )
            for lr, jump in zip(land.learning_rates, jumps.max(axis=1)):
                print(
                    f"  eta = {lr:<6g} longest single step {jump:.2f} (down the slope: "
                    f"{lr * np.hypot(1, 0.75):.2f} at most)"
                )
            assert statuses[:2] == ["CONVERGED", "CONVERGED"] and statuses[2] == "MAX_STEPS"
            assert jumps[2].max() > 5 * land.learning_rates[2]  # launched back by the wall
            assert np.allclose(res.params[0], land.x_star, atol=1e-5)

        if land.name == "ravine":
            critical = 2 / lam.max()
            print(
                f"  Hessian eigenvalues {lam.round(6).tolist()}, ratio "
                f"lambda_max / lambda_min = {lam.max() / lam.min():.0f}, critical step "
                f"2 / lambda_max = {critical:.3f}"
            )
            for lr, name in zip(land.learning_rates, statuses):
                factors = np.abs(1 - lr * lam)
                print(
                    f"  eta = {lr:<6g} contraction |1 - eta lambda| = "
                    f"{factors.round(3).tolist()} -> {name}"
                )
                assert (name == "CONVERGED") == (lr < critical)
                assert (name == "DIVERGED") == (lr > critical)

        if land.name == "plateau":
            moved = np.linalg.norm(res.params[0] - np.asarray(land.x0))
            print(
                f"  eta = {land.learning_rates[0]:g} moved only {moved:.2f} in "
                f"{land.max_steps} steps; 2 / lambda_max at the minimum = {2 / lam.max():g}"
            )
            assert np.linalg.norm(info["grad0"]) < 2e-3 and moved < 0.5
            assert statuses == ["MAX_STEPS", "CONVERGED", "MAX_STEPS"]

        ax.contour(
            X1, X2, info["grid"] - info["f_star"], levels=land.levels, colors="0.65", linewidths=0.6
        )
        for i, (lr, name) in enumerate(zip(land.learning_rates, statuses)):
            ax.plot(
                paths[i, :, 0],
                paths[i, :, 1],
                "o-",
                ms=2.5,
                lw=1.0,
                zorder=10 - i,
                label=f"eta = {lr:g}: {name}",
            )  # the smallest step on top
        ax.plot(*land.x0, "ks", ms=6, zorder=20)
        ax.plot(*land.x_star, "r*", ms=12, zorder=20)
        ax.set(
            xlim=land.frame[:2],
            ylim=land.frame[2:],
            xlabel="x1",
            ylabel="x2",
            title=f"{land.name} (first {land.draw_steps} steps drawn)",
        )
        ax.set_aspect("equal")
        ax.legend(loc="upper left" if land.name == "ravine" else "lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig("gd_pathologies.png", dpi=110)
    print("wrote gd_pathologies.png")


if __name__ == "__main__":
    main()
