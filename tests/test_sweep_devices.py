"""so.sweep across devices and processes, in fresh Python processes (tests/_sweep_worker.py):

* one process with 4 fake CPU devices: both modes against the unsharded sweep, shardings, no
  retrace, and the compiled HLO (no collective inside a loop of the per-device mode);
* two processes with 2 fake CPU devices each, joined by jax.distributed on 127.0.0.1 (gloo):
  even, uneven and chunked grids gathered with process_allgather(tiled=True) against this
  process's own sweep, sweep_best on a sharded result, and axes that differ between processes;
* K plain processes, each one so.sweep_task, merged against the whole sweep.
"""

import contextlib
import functools
import os
import pathlib
import pickle
import socket
import subprocess
import sys
import time

import _sweep_worker as worker  # tests/ is on sys.path (rootdir conftest, no __init__.py)
import jax
import numpy as np

import subopt as so

WORKER = pathlib.Path(worker.__file__)
TIMEOUT_S = 240  # per test, for all of its processes together: generous on a loaded machine


def leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def assert_same(got, want, where):
    """Integers bitwise; float64 to 1e-10 relative (1e-12 absolute, far below every tol)."""
    assert got.shape == want.shape and got.dtype == want.dtype, where
    if np.issubdtype(want.dtype, np.integer):
        np.testing.assert_array_equal(got, want, err_msg=where)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=where)


@functools.cache
def reference(shape, scale=1.0):
    """This process's own sweep of the worker's grid, on its one device (no batch_size)."""
    ax = worker.axes(*shape)
    return leaves(so.sweep(worker.solve, **{k: v * scale for k, v in ax.items()}))


def compare(got, name, ax, scale=1.0, where=""):
    shape = tuple(len(v) for v in ax.values())
    for i, want in enumerate(reference(shape, scale)):
        key = f"{name}/{i}" if scale == 1.0 else f"{name}/scaled/{i}"
        assert_same(got[key], want, f"{where} {key}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def workers(commands, n_devices, logs):
    """Start one worker per command; on leaving, kill any that still runs."""
    env = dict(
        os.environ,
        XLA_FLAGS=f"--xla_force_host_platform_device_count={n_devices}",
        JAX_PLATFORMS="cpu",
    )
    procs = []
    try:
        for args, log in zip(commands, logs):
            with open(log, "w") as out:
                cmd = [sys.executable, str(WORKER), *map(str, args)]
                procs.append(subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT))
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=30)


def wait_all(procs, logs, deadline):
    for p, log in zip(procs, logs):
        try:
            p.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            msg = f"worker timed out:\n{pathlib.Path(log).read_text()[-3000:]}"
            raise AssertionError(msg) from None
        assert p.returncode == 0, pathlib.Path(log).read_text()[-3000:]


def test_four_devices_in_one_process(tmp_path):
    deadline = time.monotonic() + TIMEOUT_S
    logs, out = [tmp_path / "devices.log"], tmp_path / "devices.npz"
    with workers([["devices", out]], 4, logs) as procs:
        for ax, _, _ in worker.device_cases().values():  # meanwhile, the references
            reference(tuple(len(v) for v in ax.values()))
        wait_all(procs, logs, deadline)
    got = np.load(out)
    for name, (ax, _, _) in worker.device_cases().items():
        compare(got, name, ax)
        compare(got, name, ax, scale=0.9)  # worker.scaled: new values, same program


def test_two_processes_of_two_devices_equal_one_process(tmp_path):
    deadline = time.monotonic() + TIMEOUT_S
    port, outs = free_port(), [tmp_path / f"process{i}.npz" for i in range(2)]
    logs = [tmp_path / f"process{i}.log" for i in range(2)]
    commands = [["hosts", port, i, outs[i]] for i in range(2)]
    with workers(commands, 2, logs) as procs:
        cases = worker.cases()
        for ax, _, _ in cases.values():  # meanwhile, the references
            reference(tuple(len(v) for v in ax.values()))
        wait_all(procs, logs, deadline)
    ax = cases["even_chunked"][0]
    ref = so.sweep(worker.solve, **ax)  # compiled already: the reference's program
    best = so.sweep_best(ref, ax)
    for out in outs:
        got = np.load(out)
        for name, (ax, _, _) in cases.items():
            compare(got, name, ax, where=out.name)
        np.testing.assert_array_equal(got["best_index"], best.index)
        np.testing.assert_array_equal(got["best_point"], [best.point["lr"], best.point["tol"]])
        assert_same(got["best_params"], np.asarray(best.result.params), "best params")
        assert "axis 'lr' differs between processes" in str(got["mismatch"])
        assert "differ between processes in names, lengths" in str(got["mismatch_shape"])


def test_tasks_in_separate_processes_merge_into_the_whole_sweep(tmp_path):
    deadline = time.monotonic() + TIMEOUT_S
    k = 2  # 15 points: 7 and 8
    outs = [tmp_path / f"task{i}.pkl" for i in range(k)]
    logs = [tmp_path / f"task{i}.log" for i in range(k)]
    with workers([["task", i, k, outs[i]] for i in range(k)], 2, logs) as procs:
        whole = so.sweep(worker.solve, **worker.task_axes())  # meanwhile, the reference
        wait_all(procs, logs, deadline)
    parts = []
    for out in outs:
        with open(out, "rb") as f:
            parts.append(pickle.load(f))
    merged = so.merge_sweeps(parts, **worker.task_axes())
    statuses = set(np.asarray(whole.status).ravel().tolist())
    assert {so.Status.CONVERGED, so.Status.MAX_STEPS, so.Status.DIVERGED} <= statuses
    for i, (got, want) in enumerate(zip(leaves(merged), leaves(whole))):
        assert_same(got, want, f"leaf {i}")
