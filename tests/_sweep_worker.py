"""Worker processes for tests/test_sweep_devices.py (not collected by pytest).

``python tests/_sweep_worker.py hosts PORT PROCESS_ID OUT``: one of two JAX processes (each
with the fake CPU devices the parent's XLA_FLAGS give it) joined by ``jax.distributed`` on
127.0.0.1, gloo collectives. It runs `cases()` over all global devices, gathers each result with
``process_allgather(res, tiled=True)`` and writes them to OUT (npz), with `sweep_best` of a
sharded result (and of an axis that is sharded too) and the error of an axis that differs
between the processes.

``python tests/_sweep_worker.py devices OUT``: one process with 4 fake CPU devices: both
modes, the result's shardings, no retrace on new values, and the compiled HLO of each mode
(`collectives_in_loops`); the results go to OUT (npz) for the parent to compare.

``python tests/_sweep_worker.py task I K OUT``: task I of K of the `task_axes()` grid with
`subopt.sweep_task` on this process's devices, pickled to OUT.

The parent imports this module for `solve` and the cases to run its own single-process
references.
"""

from __future__ import annotations

import functools
import pickle
import re
import sys
from typing import Any

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

import subopt as so  # noqa: E402


@functools.cache
def problem():  # built on first use: jax.distributed.initialize must come before any array
    return so.problems.least_squares(30, 5, seed=3)


def solve(lr, tol):
    p = problem()
    return so.run(so.gradient_descent(lr), p.fun, p.x0, max_steps=150, tol=tol)


def axes(n_lr: int, n_tol: int) -> dict[str, Any]:
    """Step sizes from slow to diverging, tolerances from loose to unreachable."""
    return {
        "lr": np.linspace(0.05, 2.6, n_lr) / problem().lipschitz,
        "tol": np.logspace(-3, -9, n_tol),
    }


def scaled(ax: dict[str, Any]) -> dict[str, Any]:
    return {k: v * 0.9 for k, v in ax.items()}


# Every case's grid is 4 x 3 or 3 x 5, so the parent needs only two reference programs.
def cases() -> dict[str, tuple[dict, int | None, str]]:
    """The two-process cases, name -> (axes, batch_size, mode) on 4 devices: an even grid
    comes back sharded (each process holding its own tiles), an uneven one replicated."""
    return {
        "even_chunked": (axes(4, 3), 2, "per_device"),  # 3 points a device, chunks of 2
        "uneven": (axes(3, 5), None, "per_device"),  # 15 points on 4 devices
        "uneven_global": (axes(3, 5), 2, "global"),
    }


def device_cases() -> dict[str, tuple[dict, int | None, str]]:
    """The one-process, 4-device cases."""
    return {
        "tiled_mesh": (axes(4, 3), None, "per_device"),  # on a 2 x 2 mesh
        "uneven": (axes(3, 5), None, "per_device"),
        "uneven_global": (axes(3, 5), 2, "global"),
    }


def task_axes() -> dict[str, Any]:
    return axes(3, 5)


def leaves(tree) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def hosts(port: int, process_id: int, out: str) -> None:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=f"127.0.0.1:{port}",
        num_processes=2,
        process_id=process_id,
        initialization_timeout=60,
    )
    from jax.experimental.multihost_utils import process_allgather
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    assert jax.process_count() == 2 and len(jax.devices()) == 2 * len(jax.local_devices())
    saved = {}
    for name, (ax, batch_size, mode) in cases().items():
        res = so.sweep(solve, devices=jax.devices(), batch_size=batch_size, mode=mode, **ax)
        if name == "even_chunked":  # each process holds only its own tiles
            assert not res.value.is_fully_addressable
            # and an axis this process holds only half of: lr sharded over the 4 devices
            mesh = Mesh(np.array(jax.devices()), ("d",))
            lrs = ax["lr"]
            lr = jax.make_array_from_callback(
                lrs.shape, NamedSharding(mesh, PartitionSpec("d")), lrs.__getitem__
            )
            assert not lr.is_fully_addressable
            best = so.sweep_best(res, {"lr": lr, "tol": ax["tol"]})
            saved["best_index"] = np.array(best.index)
            saved["best_point"] = np.array([best.point["lr"], best.point["tol"]])
            saved["best_score"] = np.asarray(best.score)
            saved["best_params"] = np.asarray(best.result.params)
        for i, leaf in enumerate(leaves(process_allgather(res, tiled=True))):
            saved[f"{name}/{i}"] = leaf
    own = axes(4, 3)
    own["lr"] = own["lr"] * (1 + process_id)  # each process its own grid: an error
    try:
        so.sweep(solve, devices=jax.devices(), **own)
        saved["mismatch"] = np.array("no error")
    except ValueError as err:
        saved["mismatch"] = np.array(str(err))
    try:  # a grid of another length on each process
        so.sweep(solve, devices=jax.devices(), **axes(4 + process_id, 3))
        saved["mismatch_shape"] = np.array("no error")
    except ValueError as err:
        saved["mismatch_shape"] = np.array(str(err))
    np.savez(out, **saved)
    jax.distributed.shutdown()


_COLLECTIVE = re.compile(
    r"\s(all-reduce|all-gather|all-to-all|collective-permute|reduce-scatter|"
    r"collective-broadcast)(-start)?\("
)


def collectives_in_loops(hlo: str) -> list[str]:
    """The collective ops inside any while loop's condition or body (or what they call)."""
    comps: dict[str, list[str]] = {}
    current = None
    for line in hlo.splitlines():
        head = re.match(r"^(?:ENTRY )?%([^\s(]+)", line)
        if head:
            current = head.group(1)
            comps[current] = []
        elif current is not None and line.startswith(" "):
            comps[current].append(line)
    todo = [
        c
        for lines in comps.values()
        for line in lines
        if " while(" in line
        for c in re.findall(r"(?:condition|body)=%([^\s,]+)", line)
    ]
    assert todo, "no while loop in the program"
    seen, found = set(), []
    while todo:
        name = todo.pop()
        if name in seen or name not in comps:
            continue
        seen.add(name)
        for line in comps[name]:
            if _COLLECTIVE.search(line):
                found.append(line.strip()[:160])
            todo += [c for c in re.findall(r"%([^\s,(){}]+)", line) if c in comps]
    return found


def devices(path: str) -> None:
    from jax.sharding import Mesh, NamedSharding

    from subopt._sweep_grid import grid, layout
    from subopt._sweep_hosts import as_mesh

    devs = jax.devices()
    assert len(devs) == 4, devs
    count = {"n": 0}
    p = problem()

    def counted(x):
        count["n"] += 1
        return p.fun(x)

    def solve_counted(lr, tol):
        return so.run(so.gradient_descent(lr), counted, p.x0, max_steps=150, tol=tol)

    def tiles(x):
        return sorted({s.data.shape for s in x.addressable_shards})

    mesh22 = Mesh(np.array(devs).reshape(2, 2), ("a", "b"))
    saved = {}
    for name, (ax, batch_size, mode) in device_cases().items():
        where = mesh22 if name == "tiled_mesh" else devs
        out = so.sweep(solve_counted, devices=where, batch_size=batch_size, mode=mode, **ax)
        shape = out.value.shape
        for leaf in jax.tree_util.tree_leaves(out):
            assert leaf.shape[:2] == shape and isinstance(leaf.sharding, NamedSharding)
            assert len(leaf.sharding.device_set) == 4
        if name == "tiled_mesh":  # 4 x 3 on a 2 x 2 mesh: each device one row, no movement
            assert tiles(out.value) == [(1, 3)] and tiles(out.params) == [(1, 3, 5)]
        else:
            assert out.value.sharding.is_fully_replicated and tiles(out.value) == [shape]
        n = count["n"]  # new values, same devices: no retrace
        again = so.sweep(
            solve_counted, devices=where, batch_size=batch_size, mode=mode, **scaled(ax)
        )
        assert count["n"] == n
        for i, (x, y) in enumerate(zip(leaves(out), leaves(again))):
            saved[f"{name}/{i}"], saved[f"{name}/scaled/{i}"] = x, y
        if name == "tiled_mesh":
            continue
        # the compiled program of the call above (a cache hit): each device's loop carries
        # its own 4 lanes; only the all-reduce mode synchronizes the devices inside a loop
        lay, table = layout(shape, 0, 15, 4, batch_size)
        hlo = (
            grid.lower(
                solve_counted,
                ("lr", "tol"),
                lay,
                as_mesh(where),
                mode,
                tuple(scaled(ax).values()),
                table,
            )
            .compile()
            .as_text()
        )
        found = collectives_in_loops(hlo)
        if mode == "per_device":
            loops = [line for line in hlo.splitlines() if " while(" in line]
            assert loops and all("s32[4]" in x and "s32[16]" not in x for x in loops), loops
            assert not found, found
        else:
            assert any("all-reduce" in x for x in found), found
    np.savez(path, **saved)


def task(i: int, k: int, out: str) -> None:
    part = so.sweep_task(solve, i, k, devices=jax.local_devices(), **task_axes())
    with open(out, "wb") as f:
        pickle.dump(jax.device_get(part), f)


if __name__ == "__main__":
    role, *args = sys.argv[1:]
    if role == "hosts":
        hosts(int(args[0]), int(args[1]), args[2])
    elif role == "devices":
        devices(args[0])
    elif role == "task":
        task(int(args[0]), int(args[1]), args[2])
    else:
        raise SystemExit(f"unknown role {role!r}")
