"""`sweep`: evaluate a function on a hyperparameter grid in one compiled, vmapped call.

`sweep` takes the cartesian product of axes (1-D vectors of scalars, or stacks of arrays such
as datasets), lays the points out on the devices (`subopt._sweep_grid`), runs the user's
function over them with ``jax.vmap`` inside one ``jax.jit`` (on several devices, one loop per
device under ``jax.shard_map``) and hands back the function's own pytree with leading grid
dimensions. `evaluate` is the shared entry of `sweep` and `subopt.sweep_task`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from subopt._base import PyTree, check_positive_int
from subopt._sweep_best import BestPoint, sweep_best
from subopt._sweep_grid import MODES, axis_length, check_axis, check_names, grid, layout
from subopt._sweep_hosts import as_input, as_mesh, check_same_on_every_process, spans_processes

__all__ = ["BestPoint", "evaluate", "sweep", "sweep_best"]


def evaluate(
    fn: Callable[..., PyTree],
    axes: dict[str, Any],
    *,
    devices: Any,
    batch_size: int | None,
    mode: str,
    part: tuple[int, int] | None = None,
) -> PyTree:
    """Check the arguments and run the grid; ``part=(start, count)`` runs a flat slice."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {fn!r}")
    try:
        hash(fn)
    except TypeError:
        raise TypeError(
            f"fn must be hashable (sweep caches its program per fn), got {fn!r}"
        ) from None
    if not axes:
        raise TypeError(
            "sweep needs at least one axis, e.g. sweep(fn, learning_rate=jnp.logspace(-3, 0, 8))"
        )
    if batch_size is not None:
        batch_size = check_positive_int("batch_size", batch_size)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    names = tuple(axes)
    check_names(fn, names)
    values = {name: check_axis(name, v) for name, v in axes.items()}
    mesh = as_mesh(devices)
    if spans_processes(mesh):
        check_same_on_every_process(values)
    shape = tuple(axis_length(v) for v in values.values())
    start, count = (0, math.prod(shape)) if part is None else part
    n_dev = 1 if mesh is None else int(mesh.devices.size)
    lay, table = layout(shape, start, count, n_dev, batch_size, full=part is None)
    inputs = tuple(as_input(v, mesh) for v in values.values())
    return grid(fn, names, lay, mesh, mode, inputs, table)


def sweep(
    fn: Callable[..., PyTree],
    *,
    devices: Any = None,
    batch_size: int | None = None,
    mode: str = "per_device",
    **axes: Any,
) -> PyTree:
    r"""Evaluate ``fn`` on the cartesian product of ``axes`` in one compiled, vmapped call.

    .. math::

      \text{out}[i_1, \ldots, i_k] = \text{fn}(a_1 = a_1[i_1], \ldots, a_k = a_k[i_k])

    leaf by leaf, with the grid dimensions first, in the order the axes are given. An axis is
    a 1-D array of scalars (``fn`` receives 0-d values) or a pytree of arrays sharing a leading
    length, such as a stack of datasets ``(A[8, m, n], b[8, m])``: point ``i`` is the pytree
    of the leaves' ``i``-th slices. Everything ``fn`` does with the values must accept traced
    values: subopt's hyperparameters (step sizes, weights, ``tol``) do; Python settings such
    as ``max_steps`` or ``record`` cannot be axes (loop over them in Python).

    Each lane is its own run: `subopt.run`'s ``while_loop`` under ``vmap`` keeps iterating
    until every lane in the batch has stopped, but a stopped lane's carry is frozen, so every
    grid point reports its own ``status``, ``num_steps`` and solution, equal to a run of that
    point alone. Each lane holds its own copy of its axis values (for a data axis, its dataset;
    ``batch_size`` bounds how many lanes exist at once).

    What compiles: one program per (``fn`` object, axis names and their order, the axes'
    pytree structures, shapes and dtypes, ``batch_size``, ``devices``, ``mode``), plus what
    ``fn`` itself is compiled for (its closed-over constants are part of the program). New
    values of the same shapes reuse the program. A new ``fn`` object (a lambda or
    ``functools.partial`` built anew for each call) compiles anew: build it once.

    Devices: with ``devices`` (a list of devices, or a ``jax.sharding.Mesh`` whose devices all
    take part), the flattened grid is split into one balanced share per device, padded with
    copies of the device's own last point (dropped from the result). When the device count
    divides the number of points, each device owns one tile of the grid and each result leaf
    is a global ``jax.Array`` sharded along the grid (a ``NamedSharding`` over the same devices
    reshaped to a mesh whose axes are named after the sweep axes); otherwise each leaf is
    replicated on every device (``PartitionSpec()``).

    ``mode`` says how the devices run their shares:

    * ``"per_device"`` (default): ``jax.shard_map`` around the (chunked) vmapped ``fn``, so
      each device runs its own loop over its own lanes and stops when they have, with no
      collective inside any loop. Data ``fn`` closes over is replicated on every device.
    * ``"global"``: one SPMD program under sharding constraints. The vmapped loop's stopping
      test is then an all-reduce over every device on every step, and every device runs until
      the slowest lane anywhere stops; use it when ``fn`` closes over a global array sharded
      over the devices (data too big to replicate) or uses collectives.

    On several hosts, run the same script on every process after
    ``jax.distributed.initialize()`` and pass ``devices=jax.devices()`` (all global devices)
    or a global Mesh: each host computes its devices' share and the result is one global
    array; read it on every host with
    ``jax.experimental.multihost_utils.process_allgather(res, tiled=True)``. The concrete
    axes are checked to be equal on every process (a ValueError names the axis otherwise);
    data ``fn`` closes over cannot be checked cheaply and must be identical on every process.

    Args:
      fn: a function of keyword arguments returning any pytree of arrays (typically a
        `subopt.Result`); bind its other inputs (data, optimizer settings) with a closure.
      devices: None (the default device), a sequence of ``jax.Device`` or a
        ``jax.sharding.Mesh`` to spread the grid over.
      batch_size: at most this many points evaluated at once on each device (a memory
        bound); each device's share is split into balanced chunks mapped with ``lax.map``
        inside the same program. Statuses and step counts are the same as without it, and
        floats agree to rounding (XLA may pick other kernels for another batch width). None
        evaluates all of a device's points at once.
      mode: ``"per_device"`` or ``"global"`` (see above); it matters only with ``devices``.
      **axes: one axis per keyword argument of ``fn`` (the names ``devices``,
        ``batch_size`` and ``mode`` are taken by sweep itself).

    Returns:
      The pytree ``fn`` returns, each leaf with leading dimensions
      ``(len(axis_1), ..., len(axis_k))``.

    Raises:
      TypeError: no axes; an axis that ``fn`` does not accept, or ``fn`` needs an argument no
        axis gives; an axis that is not numeric; ``fn`` not callable or not hashable;
        ``devices`` not devices or a Mesh; ``batch_size`` not an int.
      ValueError: an axis without a leading axis, empty, or whose leaves differ in length;
        ``batch_size`` < 1; an unknown ``mode``; a repeated device; in a multi-process
        sweep, an axis that differs between processes.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> f = lambda x: jnp.sum((x - 1.0) ** 2)
      >>> def solve(lr, tol):
      ...     return so.run(so.gradient_descent(lr), f, jnp.zeros(2), max_steps=500, tol=tol)
      >>> res = so.sweep(solve, lr=jnp.array([0.1, 0.4, 1.2]), tol=jnp.array([1e-3, 1e-6]))
      >>> res.num_steps.shape, [so.Status(int(s)).name for s in res.status[:, 1]]
      ((3, 2), ['CONVERGED', 'CONVERGED', 'DIVERGED'])

    References:
      JAX documentation, *Distributed arrays and automatic parallelization*, *Manual
      parallelism with shard_map* and *Multi-process environments* (docs.jax.dev).
    """
    return evaluate(fn, axes, devices=devices, batch_size=batch_size, mode=mode)
