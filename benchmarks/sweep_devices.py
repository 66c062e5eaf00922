"""A 32-lambda Lasso sweep on 4 fake CPU devices: one loop per device against one device and
against the all-reduce path.

Contenders, on the same data and lambdas, each running exactly ``steps`` FISTA steps per lane
(``tol=0``, so every lane runs to the cap and the per-step cost is the time over ``steps``):

* ``1 device``: ``so.sweep(solve, lam=lams)``, all 32 lanes in one vmapped loop;
* ``4 devices, per_device``: ``devices=jax.devices()``, 8 lanes a device, each device running
  its own loop (``jax.shard_map``, no collective inside the loop);
* ``4 devices, global``: ``mode="global"``, the same split under sharding constraints, whose
  loop condition is an all-reduce over the devices on every step.

A second comparison runs to a tolerance (``tol=1e-8``), where lanes stop at different steps:
there each device of the per-device mode stops with its own slowest lane.

Fake devices need ``XLA_FLAGS`` before jax is imported, so `run` measures in a subprocess
(``python -m benchmarks.sweep_devices --child``). The fake devices share this machine's cores,
so 4 of them are not 4 times faster than one: the target is that splitting costs nothing,
the per-lane step cost on 4 devices within 1.2x that of one device.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).parent.parent
LANES = 32
TARGET = 1.2


def _measure(quick: bool) -> list[dict]:
    import jax
    import jax.numpy as jnp
    import numpy as np

    import subopt as so
    from benchmarks._data import lasso_data, least_squares
    from benchmarks._timing import block, interleaved

    jax.config.update("jax_enable_x64", True)
    m, n, steps = (60, 30, 100) if quick else (300, 200, 500)
    a, b, lam_max = lasso_data(m, n)
    f, lipschitz = least_squares(a, b)
    lams = lam_max * np.geomspace(1.0, 1e-3, LANES)
    devs = jax.devices()
    assert len(devs) == 4, devs
    records = []
    runs = [(0.0, f"exactly {steps} steps a lane"), (1e-8, "to tol 1e-8")]
    for tol, label in runs[:1] if quick else runs:  # --quick: the fixed-step comparison only

        def solve(lam, tol=tol):
            opt = so.fista(so.prox.l1(lam), learning_rate=1.0 / lipschitz)
            return so.run(opt, f, jnp.zeros(n), max_steps=steps, tol=tol)

        calls = {
            "1 device": lambda solve=solve: so.sweep(solve, lam=lams),
            "4 devices, per_device": lambda solve=solve: so.sweep(solve, lam=lams, devices=devs),
            "4 devices, global": lambda solve=solve: so.sweep(
                solve, lam=lams, devices=devs, mode="global"
            ),
        }
        results = {k: jax.device_get(block(go())) for k, go in calls.items()}  # compile
        ref = results["1 device"]
        same = all(
            np.array_equal(r.status, ref.status)
            and np.array_equal(r.num_steps, ref.num_steps)
            and np.allclose(r.params, ref.params, rtol=1e-10, atol=1e-12)
            for r in results.values()
        )
        times = interleaved(
            {k: (lambda go=go: block(go())) for k, go in calls.items()},
            rounds=3 if quick else 9,
            warmup=1,
        )
        one = times["1 device"]["median_s"]
        per_dev = times["4 devices, per_device"]["median_s"]
        total_steps = int(np.max(ref.num_steps))
        records.append(
            {
                "comparison": f"Lasso sweep of {LANES} lambdas, {m}x{n}, FISTA, {label}: "
                f"4 fake CPU devices against 1",
                "times": times,
                "ratios": {k: v["median_s"] / one for k, v in times.items()},
                "ratio_label": "time / 1-device time",
                "ratio": per_dev / one,
                "target": TARGET,
                "global_over_per_device": times["4 devices, global"]["median_s"] / per_dev,
                "us_per_step_per_lane": {
                    k: 1e6 * v["median_s"] / (total_steps * LANES) for k, v in times.items()
                },
                "max_steps_taken": total_steps,
                "same_result": bool(same),
            }
        )
    return records


def run(quick: bool = False) -> list[dict]:
    """Measure in a subprocess with 4 fake CPU devices; return its records."""
    env = dict(
        os.environ,
        XLA_FLAGS="--xla_force_host_platform_device_count=4",
        JAX_PLATFORMS="cpu",
    )
    cmd = [sys.executable, "-m", "benchmarks.sweep_devices", "--child"]
    proc = subprocess.run(
        cmd + (["--quick"] if quick else []),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600 if quick else 3600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"sweep_devices child failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    if "--child" in sys.argv:
        print(json.dumps(_measure("--quick" in sys.argv), default=float))
    else:
        for record in run("--quick" in sys.argv):
            print(json.dumps(record, indent=1, default=float))
