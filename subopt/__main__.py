"""The main job: ``python -m subopt`` solves the built-in problems and prints a table.

Every row is one `subopt.run` on seeded synthetic data (no downloads). The time column is a
second, already-compiled run; the compile column is the first call's extra time.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp


class Row(NamedTuple):
    problem: str
    method: str
    build: Callable[[], tuple[Any, Any, Any]]  # -> (optimizer, fun, x0)
    max_steps: int
    tol: float


def _lipschitz(problem: Any) -> float:
    if not math.isfinite(problem.lipschitz):
        raise ValueError(f"problem {problem.name!r} has no known Lipschitz constant")
    return float(problem.lipschitz)


def _rows() -> list[Row]:
    import subopt as so
    from subopt import problems, schedules

    logreg = problems.logistic_regression(500, 20)
    lsq = problems.least_squares(300, 50)
    step_logreg, step_lsq = 1.0 / _lipschitz(logreg), 1.0 / _lipschitz(lsq)
    lad = problems.lad_regression(200, 20)
    svm = problems.linear_svm(500, 20)
    las = problems.lasso(500, 200, correlation=0.9)
    step_las = 1.0 / _lipschitz(las)
    logreg_name, lasso_name = "logistic regression (m=500, n=20)", "Lasso (m=500, n=200, rho=0.9)"
    rows = [
        Row(
            logreg_name,
            "gradient_descent(1/L)",
            lambda: (so.gradient_descent(step_logreg), logreg.fun, logreg.x0),
            5000,
            1e-5,
        ),
        Row(
            logreg_name,
            "gradient_descent(inverse_sqrt(4/L))",
            lambda: (
                so.gradient_descent(schedules.inverse_sqrt(4.0 * step_logreg)),
                logreg.fun,
                logreg.x0,
            ),
            5000,
            1e-5,
        ),
        Row(
            "least squares (m=300, n=50)",
            "gradient_descent(1/L)",
            lambda: (so.gradient_descent(step_lsq), lsq.fun, lsq.x0),
            5000,
            1e-5,
        ),
        Row(
            "LAD regression (m=200, n=20)",
            "subgradient_descent(inverse_sqrt(0.3))",
            lambda: (so.subgradient_descent(schedules.inverse_sqrt(0.3)), lad.fun, lad.x0),
            5000,
            1e-6,
        ),
        Row(
            "linear SVM (m=500, n=20)",
            "subgradient_descent(inverse_time(10, 10))",
            lambda: (so.subgradient_descent(schedules.inverse_time(10.0, 10.0)), svm.fun, svm.x0),
            5000,
            1e-6,
        ),
        Row(
            lasso_name,
            "proximal_gradient(1/L)",
            lambda: (so.proximal_gradient(las.reg, learning_rate=step_las), las.fun, las.x0),
            5000,
            1e-5,
        ),
        Row(
            lasso_name,
            "fista(1/L, restart=False)",
            lambda: (so.fista(las.reg, learning_rate=step_las, restart=False), las.fun, las.x0),
            5000,
            1e-5,
        ),
        Row(
            lasso_name,
            "fista(1/L)",
            lambda: (so.fista(las.reg, learning_rate=step_las), las.fun, las.x0),
            5000,
            1e-5,
        ),
        Row(
            lasso_name,
            "fista(backtracking())",
            lambda: (so.fista(las.reg, learning_rate=so.backtracking()), las.fun, las.x0),
            5000,
            1e-5,
        ),
    ]
    return rows


def _solve(row: Row, record: bool) -> tuple[Any, float, float]:
    import subopt as so

    opt, fun, x0 = row.build()
    t0 = time.perf_counter()
    res = jax.block_until_ready(
        so.run(opt, fun, x0, max_steps=row.max_steps, tol=row.tol, record=record)
    )
    first = time.perf_counter() - t0
    opt, fun, x0 = row.build()
    t0 = time.perf_counter()
    res = jax.block_until_ready(
        so.run(opt, fun, x0, max_steps=row.max_steps, tol=row.tol, record=record)
    )
    second = time.perf_counter() - t0
    return res, second, max(first - second, 0.0)


def _table(records: list[dict]) -> str:
    cols = ["problem", "method", "steps", "objective", "stationarity", "status", "time", "compile"]
    cells = [cols] + [[r[c] for c in cols] for r in records]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _plot(path: str, curves: list[tuple[str, Any]]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:  # checked in main() already; a broken install still says so
        raise SystemExit("--plot needs matplotlib: pip install 'subopt[examples]'") from err
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, stationarity in curves:
        ax.semilogy(stationarity, label=label)
    ax.set_xlabel("step k")
    ax.set_ylabel("stationarity at x_{k+1}")
    ax.set_title("subopt: convergence on the built-in problems")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m subopt",
        description=(
            "Solve subopt's built-in problems (seeded synthetic data, no downloads) with the "
            "available methods and print a table of steps, objective, stationarity, status and "
            "time. Time is a second, compiled run; compile is the first call's extra time."
        ),
    )
    parser.add_argument("--plot", metavar="FILE.png", help="write convergence curves (matplotlib)")
    parser.add_argument("--x64", action="store_true", help="run in float64 instead of float32")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        # check before solving: a 25 s run that then cannot write the figure helps nobody
        print("--plot needs matplotlib: pip install 'subopt[examples]'", file=sys.stderr)
        return 2
    if args.x64:
        jax.config.update("jax_enable_x64", True)

    from tqdm.auto import tqdm

    import subopt as so

    rows = _rows()
    records, curves = [], []
    for row in tqdm(rows, desc="solving", disable=args.quiet, file=sys.stderr):
        res, seconds, compile_s = _solve(row, record=bool(args.plot))
        status = so.Status(int(res.status)).name
        records.append(
            {
                "problem": row.problem,
                "method": row.method,
                "steps": str(int(res.num_steps)),
                "objective": f"{float(res.value):.6g}",
                "stationarity": f"{float(res.stationarity):.2e}",
                "status": status,
                "time": f"{seconds * 1e3:.1f} ms",
                "compile": f"{compile_s:.2f} s",
            }
        )
        if args.plot:
            curves.append((f"{row.problem}: {row.method}", jnp.asarray(res.history.stationarity)))
    print(
        f"subopt {so.__version__} on {jax.devices()[0].platform}, "
        f"{'float64' if args.x64 else 'float32'}"
    )
    print(_table(records))
    if args.plot:
        _plot(args.plot, curves)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
