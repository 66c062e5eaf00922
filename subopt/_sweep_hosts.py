"""Devices and hosts for `subopt.sweep`: meshes, inputs, cross-process checks, reading back.

* `as_mesh` turns ``devices`` (a list of devices or a Mesh) into a Mesh;
* `as_input` hands the axes to ``jit``: host numpy under a mesh, so that every process sees
  the same replicated value;
* `check_same_on_every_process` compares the concrete axes of a multi-process sweep across
  processes (``multihost_utils.assert_equal``) and names the axis that differs;
* `to_host` and `take` read a (possibly global, not fully addressable) result on every
  process, without ``np.asarray`` on an array this process cannot see whole.
"""

from __future__ import annotations

import hashlib
from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from subopt._base import PyTree, is_concrete

GRID_AXIS = "grid"  # the mesh axis name used when `devices` is a list


def as_mesh(devices: Any) -> Mesh | None:
    """``devices`` as a Mesh: a Mesh is kept, a sequence of devices becomes a 1-D mesh."""
    if devices is None or isinstance(devices, Mesh):
        return devices
    if isinstance(devices, jax.Device):
        devices = [devices]
    try:
        devs = list(devices)
    except TypeError:
        raise TypeError(
            f"devices must be a list of jax devices or a jax.sharding.Mesh, got {devices!r}"
        ) from None
    if not devs or not all(isinstance(d, jax.Device) for d in devs):
        raise TypeError(
            f"devices must be a non-empty list of jax devices (e.g. jax.devices()) or a "
            f"jax.sharding.Mesh, got {devices!r}"
        )
    if len(set(devs)) != len(devs):
        raise ValueError(f"devices lists a device more than once: {devs!r}")
    return Mesh(np.array(devs, dtype=object), (GRID_AXIS,))


def spans_processes(mesh: Mesh | None) -> bool:
    """True when the mesh holds devices of other processes (a multi-process sweep)."""
    if mesh is None or jax.process_count() == 1:
        return False
    me = jax.process_index()
    return any(d.process_index != me for d in mesh.devices.flat)


def _is_global(x: Any) -> bool:
    return isinstance(x, jax.Array) and is_concrete(x) and not x.is_fully_addressable


def as_input(values: PyTree, mesh: Mesh | None) -> PyTree:
    """Without a mesh, jax arrays; with one, host numpy where possible: jit then treats it as
    replicated, identical on every process (a global, not fully addressable array stays)."""

    def one(x):
        if not is_concrete(x):
            return x
        if mesh is None:
            return jax.numpy.asarray(x)
        return x if _is_global(x) else np.asarray(x)

    return jax.tree_util.tree_map(one, values)


def _digest(chunks: list[bytes]) -> np.ndarray:
    h = hashlib.sha256()
    for c in chunks:
        h.update(c)
    return np.frombuffer(h.digest()[:8], np.uint8)


def check_same_on_every_process(axes: dict[str, PyTree]) -> None:
    """Raise a ValueError naming the first axis whose concrete values differ across processes.

    The axes' names, shapes and dtypes are compared first (``multihost_utils.assert_equal``),
    then one 8-byte digest of each axis's bits (so NaN equals the same NaN, and a stack of
    datasets is not sent anywhere): two tiny all-gathers per call. Global arrays (not fully
    addressable) are one value by construction and traced axes cannot be read: both are
    skipped.
    """
    checked = {
        name: [x for x in jax.tree_util.tree_leaves(v) if is_concrete(x) and not _is_global(x)]
        for name, v in axes.items()
    }
    checked = {
        name: [np.ascontiguousarray(np.asarray(x)) for x in xs] for name, xs in checked.items()
    }
    layout = repr([(n, [(x.shape, x.dtype.str) for x in xs]) for n, xs in checked.items()])
    try:
        multihost_utils.assert_equal(_digest([layout.encode()]), "axes")
    except AssertionError:
        raise ValueError(
            f"the sweep's axes differ between processes in names, lengths or dtypes "
            f"(this process: {layout}); every process must pass the same axes"
        ) from None
    mine = np.stack([_digest([x.tobytes() for x in xs]) for xs in checked.values()])
    every = np.asarray(multihost_utils.process_allgather(mine))  # (processes, axes, 8)
    for k, name in enumerate(checked):
        if not np.all(every[:, k] == every[0, k]):
            raise ValueError(
                f"axis {name!r} differs between processes; every process of a multi-process "
                "sweep must pass the same values (build them from the same seed or file)"
            )


def to_host(x: Any) -> np.ndarray:
    """``x`` as numpy on this process, gathering a global array from every process."""
    if _sharded_global(x):
        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)


def take(tree: PyTree, index: tuple[int, ...]) -> PyTree:
    """``x[index]`` for every leaf; a global sharded leaf's entry comes back replicated on its
    devices (one small program per mesh), readable on every process."""
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    out = [None if _sharded_global(x) else x[index] for x in leaves]
    by_mesh: dict[Any, list[int]] = {}
    for i, x in enumerate(leaves):
        if _sharded_global(x):
            sharding = x.sharding
            if isinstance(sharding, NamedSharding):
                by_mesh.setdefault(sharding.mesh, []).append(i)
            else:
                out[i] = to_host(x)[index]
    for mesh, idx in by_mesh.items():
        picked = jax.jit(
            lambda *xs: [x[index] for x in xs],
            out_shardings=NamedSharding(mesh, PartitionSpec()),
        )(*[leaves[i] for i in idx])
        for i, y in zip(idx, picked):
            out[i] = y
    return jax.tree_util.tree_unflatten(treedef, out)


def _sharded_global(x: Any) -> bool:
    return _is_global(x) and not x.is_fully_replicated
