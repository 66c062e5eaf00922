"""The cost of a hypergradient: implicit differentiation through `so.run` against the solve
alone and against jaxopt's implicit differentiation, on the same Lasso.

Problem: the Lasso f(x) + lam ||x||_1, f = ||Ax - b||^2 / (2m), 500 x 1000 design with AR(1)
correlation 0.5 (benchmarks._data.lasso_data), lam = 0.1 lam_max, float64; the hypergradient
is d/dlam of a validation loss ||A_val x*(lam) - b_val||^2 / m_val (a second draw, 200 rows).

Contenders, each jitted, warmed up, and timed as medians of interleaved rounds:

* ``so.run solve``: the validation loss at x* = so.run(so.fista(l1(lam), 1/L), ...).params;
* ``so.run hypergradient``: ``jax.value_and_grad`` of the same (one solve, then the
  transposed GMRES solve of (I - dT) at x*, subopt's default);
* ``jaxopt solve`` / ``jaxopt hypergradient``: ``jaxopt.ProximalGradient(f, prox_lasso,
  stepsize=1/L, implicit_diff=True)`` (FISTA without restart; its default linear solve, CG
  on the normal equations).

Both stop on the same measure (the gradient mapping ||y - prox(y - t grad f(y))|| / t at
tol = 1e-6), so they solve to the same accuracy; the records report each one's steps and
the relative difference of the two hypergradients. Targets: hypergradient <= 1.5x the
solve, and <= 0.5x jaxopt's hypergradient.

Run: ``python -m benchmarks.implicit [--quick]`` (or through ``python -m benchmarks``).
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

import subopt as so
from benchmarks._data import lasso_data
from benchmarks._timing import block, interleaved

TOL, MAX_STEPS = 1e-6, 100_000


def least_squares(x, a, b):
    r = a @ x - b
    return 0.5 * jnp.dot(r, r) / b.shape[0]


def compare(m: int, n: int, *, rounds: int = 15) -> dict:
    a, b, lam_max = lasso_data(m, n, rho=0.5, seed=0)
    a_val, b_val, _ = lasso_data(max(m // 2, 10), n, rho=0.5, seed=1)
    A, B, AV, BV = (jnp.asarray(v) for v in (a, b, a_val, b_val))
    step = 1 / float(np.linalg.norm(a, 2) ** 2 / m)
    lam = jnp.asarray(0.1 * lam_max)

    def validation(x):
        return jnp.mean((AV @ x - BV) ** 2)

    def ours(lam):
        res = so.run(
            so.fista(so.prox.l1(lam), step),
            least_squares,
            jnp.zeros(n),
            A,
            B,
            max_steps=MAX_STEPS,
            tol=TOL,
        )
        return validation(res.params), res.num_steps

    import jaxopt

    solver = jaxopt.ProximalGradient(
        least_squares,
        jaxopt.prox.prox_lasso,
        stepsize=step,
        maxiter=MAX_STEPS,
        tol=TOL,
        implicit_diff=True,
    )

    def theirs(lam):
        out = solver.run(jnp.zeros(n), lam, A, B)
        return validation(out.params), out.state.iter_num

    fns = {
        "so.run solve": jax.jit(ours),
        "so.run hypergradient": jax.jit(jax.value_and_grad(ours, has_aux=True)),
        "jaxopt solve": jax.jit(theirs),
        "jaxopt hypergradient": jax.jit(jax.value_and_grad(theirs, has_aux=True)),
    }
    times = interleaved(
        {name: (lambda fn=fn: block(fn(lam))) for name, fn in fns.items()}, rounds=rounds
    )  # first_s: compile + one run
    outs = {name: fn(lam) for name, fn in fns.items()}
    med = {name: t["median_s"] for name, t in times.items()}
    g_ours = float(outs["so.run hypergradient"][1])
    g_theirs = float(outs["jaxopt hypergradient"][1])
    ratios = {
        "so.run hypergradient": med["so.run hypergradient"] / med["so.run solve"],
        "jaxopt hypergradient": med["jaxopt hypergradient"] / med["jaxopt solve"],
    }
    return {
        "comparison": f"hypergradient of a validation loss, Lasso {m}x{n}, float64",
        "times": times,
        "ratio_label": "hypergradient / own solve",
        "ratios": ratios,
        "hypergradient_over_solve": ratios["so.run hypergradient"],
        "target_over_solve": 1.5,
        "so_over_jaxopt": med["so.run hypergradient"] / med["jaxopt hypergradient"],
        "target_over_jaxopt": 0.5,
        "backward_so_over_jaxopt": (med["so.run hypergradient"] - med["so.run solve"])
        / (med["jaxopt hypergradient"] - med["jaxopt solve"]),
        "steps": {"so.run": int(outs["so.run solve"][1]), "jaxopt": int(outs["jaxopt solve"][1])},
        "hypergradient_rel_diff": abs(g_ours - g_theirs) / abs(g_theirs),
    }


def run(quick: bool = False) -> list[dict]:
    """The records for ``python -m benchmarks`` (one comparison)."""
    if quick:
        return [compare(100, 200, rounds=3)]
    return [compare(500, 1000)]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)
    t0 = time.perf_counter()
    for r in run(quick=args.quick):
        print(f"## {r['comparison']}")
        for name, t in r["times"].items():
            print(f"  {name:<22} median {t['median_s'] * 1e3:9.2f} ms")
        print(f"  steps: {r['steps']}; hypergradients differ by {r['hypergradient_rel_diff']:.1e}")
        print(f"  so.run hypergradient / solve  = {r['hypergradient_over_solve']:.3f} (<= 1.5)")
        print(f"  so.run / jaxopt hypergradient = {r['so_over_jaxopt']:.3f} (<= 0.5)")
        print(f"  backward pass alone, so.run / jaxopt = {r['backward_so_over_jaxopt']:.3f}")
    print(f"({time.perf_counter() - t0:.0f} s, {jax.devices()[0].device_kind})")


if __name__ == "__main__":
    main()
