"""The compiled grid behind `subopt.sweep`: axis checks, the lane layout, and one program.

A grid of ``n`` points is laid out on ``D`` devices (``D = 1`` without a mesh) as a table of
flat grid indices of shape ``(D, chunks, per)``: device ``j`` evaluates row ``j``, one chunk
of ``per`` lanes at a time (``lax.map`` over chunks, ``vmap`` over lanes). Each device owns
either a tile of the grid (when ``D`` divides ``n``: the result is sharded along the grid with
no data movement) or a contiguous run of the flattened grid. Padding lanes repeat the device's
own last real point, so they never make a device's loop run longer than its real lanes.

Three ways to run the table:

* no mesh: one device, ``lax.map``/``vmap`` only;
* ``"per_device"``: ``jax.shard_map`` around the chunked, vmapped function, so every device
  runs its own ``while_loop`` over its own lanes, with no collective inside any loop;
* ``"global"``: one SPMD program under sharding constraints (the partitioner decides); the
  vmapped loop's stopping test becomes an all-reduce over every device on every step, but
  ``fn`` may close over sharded global arrays or use collectives.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

PyTree = Any
MODES = ("per_device", "global")

# --------------------------------------------------------------------------- checks


def check_names(fn: Callable, names: tuple[str, ...]) -> None:
    """Every axis must be a keyword ``fn`` accepts, and ``fn`` must need nothing else."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # e.g. some builtins: nothing to check against
        return
    params = sig.parameters
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for name in names:
        p = params.get(name)
        if p is None and not takes_kwargs:
            raise TypeError(
                f"axis {name!r} is not an argument of fn; fn accepts {list(params)} "
                "(sweep calls fn(**point), one keyword per axis)"
            )
        if p is not None and p.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise TypeError(
                f"axis {name!r} is a positional-only argument of fn; sweep passes axes by keyword"
            )
    try:
        sig.bind(**dict.fromkeys(names))
    except TypeError as err:
        raise TypeError(
            f"fn cannot be called with the axes {list(names)} alone ({err}); bind the other "
            "arguments with functools.partial or a closure, once, outside the sweep"
        ) from None


def _check_leaf(name: str, values: Any) -> Any:
    """One numeric array with a leading axis: a jax array (or tracer) as is, else numpy."""
    if isinstance(values, jax.Array):  # also tracers, inside jit
        arr = values
    else:
        try:
            arr = np.asarray(values)
        except Exception as err:  # noqa: BLE001 - e.g. ragged nested lists
            msg = f"axis {name!r} must be an array of numbers, got {values!r}"
            raise TypeError(msg) from err
    if not (jnp.issubdtype(arr.dtype, jnp.number) or arr.dtype == np.bool_):
        raise TypeError(f"axis {name!r} must hold numbers, got dtype {arr.dtype}: {values!r}")
    if jnp.ndim(arr) == 0:
        raise ValueError(
            f"axis {name!r} must have a leading axis of values (a 1-D array of scalars, or "
            f"arrays stacked along axis 0), got shape {jnp.shape(arr)}"
        )
    return arr


def _is_number_list(values: Any) -> bool:
    """A plain list or tuple of scalars: one 1-D axis, not a pytree of 0-d leaves."""
    return type(values) in (list, tuple) and all(np.ndim(v) == 0 for v in values)


def check_axis(name: str, values: Any) -> PyTree:
    """An axis: a 1-D array of scalars, or a pytree of arrays sharing a leading length.

    Point ``i`` of the axis is the pytree of the leaves' ``i``-th slices along axis 0, so an
    axis may hold a stack of datasets as well as a vector of step sizes.
    """
    if _is_number_list(values):
        values = _check_leaf(name, values)
    leaves, treedef = jax.tree_util.tree_flatten(values)
    if not leaves:
        raise ValueError(f"axis {name!r} has no arrays; every axis needs at least one value")
    leaves = [_check_leaf(name, leaf) for leaf in leaves]
    lengths = {int(jnp.shape(leaf)[0]) for leaf in leaves}
    if len(lengths) > 1:
        shapes = [jnp.shape(leaf) for leaf in leaves]
        raise ValueError(
            f"axis {name!r} is a pytree whose leaves have different leading lengths "
            f"{shapes}; stack one entry per grid point along axis 0 of every leaf"
        )
    if lengths == {0}:
        raise ValueError(f"axis {name!r} is empty; every axis needs at least one value")
    return jax.tree_util.tree_unflatten(treedef, leaves)


def axis_length(values: PyTree) -> int:
    """The number of points on a checked axis."""
    return int(jnp.shape(jax.tree_util.tree_leaves(values)[0])[0])


# --------------------------------------------------------------------------- layout


class Layout(NamedTuple):
    """Static description of how the grid's lanes sit on the devices.

    Attributes:
      shape: the grid's shape (one length per axis).
      count: how many points are evaluated (``prod(shape)``, or a task's share).
      full: True when the result has the grid's shape, False for a flat part of the grid.
      n_dev: the devices.
      per_dev: real points per device (the last devices may have fewer).
      chunks: chunks per device (``lax.map``), ``per``: lanes per chunk (``vmap``).
      tiles: devices per grid dimension when each device owns one tile, else None.
    """

    shape: tuple[int, ...]
    count: int
    full: bool
    n_dev: int
    per_dev: int
    chunks: int
    per: int
    tiles: tuple[int, ...] | None


def _tiles(shape: tuple[int, ...], n_dev: int) -> tuple[int, ...] | None:
    """Devices per grid dimension, each dividing its length, product ``n_dev``; else None.

    Taking ``gcd`` from the left is optimal prime by prime, so this succeeds exactly when
    ``n_dev`` divides the number of points.
    """
    left, tiles = n_dev, []
    for length in shape:
        d = math.gcd(length, left)
        tiles.append(d)
        left //= d
    return tuple(tiles) if left == 1 else None


def layout(
    shape: tuple[int, ...],
    start: int,
    count: int,
    n_dev: int,
    batch_size: int | None,
    full: bool = True,
) -> tuple[Layout, np.ndarray]:
    """The layout, and the ``(n_dev, chunks, per)`` table of flat grid indices to evaluate.

    Points ``start .. start + count - 1`` of the row-major flattened grid are evaluated: the
    whole grid when ``full`` (a result of the grid's shape), else a flat part of it. The
    chunks are balanced: at most ``batch_size`` lanes each.
    """
    if full and (start, count) != (0, math.prod(shape)):
        raise ValueError(f"a full grid starts at 0 and has {math.prod(shape)} points")
    tiles = _tiles(shape, n_dev) if full and n_dev > 1 else None
    per_dev = -(-count // n_dev)
    if batch_size is None or batch_size >= per_dev:
        chunks, per = 1, per_dev
    else:
        chunks = -(-per_dev // batch_size)
        per = -(-per_dev // chunks)
    slot = np.minimum(np.arange(chunks * per), per_dev - 1)  # pad with the device's last lane
    dev = np.arange(n_dev)[:, None]
    if tiles is None:
        flat = start + np.minimum(dev * per_dev + slot, count - 1)
    else:
        tile = tuple(s // t for s, t in zip(shape, tiles))
        corner = np.unravel_index(dev[:, 0], tiles)
        inner = np.unravel_index(slot, tile)
        coords = [c[:, None] * t + u[None, :] for c, t, u in zip(corner, tile, inner)]
        flat = np.ravel_multi_index(coords, shape)
    table = flat.reshape(n_dev, chunks, per).astype(np.int32)
    return Layout(shape, count, full, n_dev, per_dev, chunks, per, tiles), table


# --------------------------------------------------------------------------- the program


def _lanes(fn: Callable, names: tuple[str, ...], lay: Layout, axes: tuple, idx: jax.Array):
    """``fn`` vmapped over the grid points whose flat indices are ``idx`` (1-D)."""
    coords = jnp.unravel_index(idx, lay.shape)
    points = [
        jax.tree_util.tree_map(lambda leaf, c=c: jnp.take(leaf, c, axis=0, mode="clip"), a)
        for a, c in zip(axes, coords)
    ]
    return jax.vmap(lambda *p: fn(**dict(zip(names, p))))(*points)


def _chunked(fn, names, lay: Layout, axes: tuple, table: jax.Array, constrain=None):
    """(chunks, per) indices -> fn's pytree with leaves (chunks, per, ...)."""

    def one(idx):
        if constrain is not None:
            idx = constrain(idx)
        return _lanes(fn, names, lay, axes, idx)

    if lay.chunks == 1:
        return jax.tree_util.tree_map(lambda y: y[None], one(table[0]))
    return jax.lax.map(one, table)


def _gather_flat(lay: Layout, y: jax.Array) -> jax.Array:
    """(n_dev, chunks, per, ...) lanes -> the evaluated points, in grid order."""
    rest = y.shape[3:]
    y = y.reshape(lay.n_dev, lay.chunks * lay.per, *rest)[:, : lay.per_dev]
    y = y.reshape(lay.n_dev * lay.per_dev, *rest)[: lay.count]
    return y.reshape(*(lay.shape if lay.full else (lay.count,)), *rest)


def _tile_shape(lay: Layout) -> tuple[int, ...]:
    assert lay.tiles is not None
    return tuple(s // t for s, t in zip(lay.shape, lay.tiles))


def _gather_tiles(lay: Layout, y: jax.Array) -> jax.Array:
    """(n_dev, chunks, per, ...) lanes of tiled devices -> the grid."""
    assert lay.tiles is not None
    k, rest = len(lay.shape), y.shape[3:]
    y = y.reshape(lay.n_dev, lay.chunks * lay.per, *rest)[:, : lay.per_dev]
    y = y.reshape(*lay.tiles, *_tile_shape(lay), *rest)
    order = [a for i in range(k) for a in (i, k + i)] + list(range(2 * k, y.ndim))
    return y.transpose(order).reshape(*lay.shape, *rest)


def _constrain(x: jax.Array, mesh: Mesh, spec: PartitionSpec) -> jax.Array:
    return jax.lax.with_sharding_constraint(x, NamedSharding(mesh, spec))


def _out_mesh(mesh: Mesh, lay: Layout, names: tuple[str, ...]) -> Mesh:
    """The mesh of the result: tiled devices get a mesh named after the sweep axes.

    (One mesh for the whole program: jit maps its output shardings onto a single mesh.)
    """
    if lay.tiles is None:
        return mesh
    return Mesh(mesh.devices.reshape(lay.tiles), names)


def _per_device(fn, names, lay: Layout, mesh: Mesh, axes: tuple, table: jax.Array):
    mesh = _out_mesh(mesh, lay, names)
    lanes_spec = PartitionSpec(tuple(mesh.axis_names))

    def body(axes, table):  # on one device: its own row of the table, its own loops
        out = _chunked(fn, names, lay, axes, table[0])
        if lay.tiles is None:
            return jax.tree_util.tree_map(lambda y: y[None], out)
        tile = _tile_shape(lay)

        def to_tile(y):  # this device's lanes are its tile, in row-major order: no movement
            rest = y.shape[2:]
            return y.reshape(lay.chunks * lay.per, *rest)[: lay.per_dev].reshape(*tile, *rest)

        return jax.tree_util.tree_map(to_tile, out)

    out_spec = lanes_spec if lay.tiles is None else PartitionSpec(*names)
    out = jax.shard_map(
        body,
        mesh=mesh,
        in_specs=(PartitionSpec(), lanes_spec),
        out_specs=out_spec,
        check_vma=False,  # the loops' carries mix per-lane and closed-over values
    )(axes, table)
    if lay.tiles is not None:
        return out
    replicated = PartitionSpec()
    return jax.tree_util.tree_map(lambda y: _constrain(_gather_flat(lay, y), mesh, replicated), out)


def _global(fn, names, lay: Layout, mesh: Mesh, axes: tuple, table: jax.Array):
    mesh = _out_mesh(mesh, lay, names)
    lanes_axis = tuple(mesh.axis_names)
    n_dev, chunks, per = lay.n_dev, lay.chunks, lay.per
    # chunk k of every device side by side: (chunks, n_dev * per), device j owning a block
    table = table.transpose(1, 0, 2).reshape(chunks, n_dev * per)
    table = _constrain(table, mesh, PartitionSpec(None, lanes_axis))
    lane = partial(_constrain, mesh=mesh, spec=PartitionSpec(lanes_axis))
    out = _chunked(fn, names, lay, axes, table, constrain=lane)

    def finish(y):
        rest = y.shape[2:]
        y = _constrain(y, mesh, PartitionSpec(None, lanes_axis))
        y = y.reshape(chunks, n_dev, per, *rest).swapaxes(0, 1)
        if lay.tiles is None:
            return _constrain(_gather_flat(lay, y), mesh, PartitionSpec())
        spec = PartitionSpec(*names, *([None] * len(rest)))
        return _constrain(_gather_tiles(lay, y), mesh, spec)

    return jax.tree_util.tree_map(finish, out)


@partial(jax.jit, static_argnames=("fn", "names", "lay", "mesh", "mode"))
def grid(fn, names, lay: Layout, mesh: Mesh | None, mode: str, axes: tuple, table):
    """Evaluate ``fn`` on the points of ``table`` (see `layout`) in one compiled program.

    Returns ``fn``'s pytree with leading dimensions ``lay.shape`` (or ``(lay.count,)`` for a
    part of the grid).
    """
    if mesh is None:
        out = _chunked(fn, names, lay, axes, table[0])
        return jax.tree_util.tree_map(lambda y: _gather_flat(lay, y[None]), out)
    if mode == "per_device":
        return _per_device(fn, names, lay, mesh, axes, table)
    return _global(fn, names, lay, mesh, axes, table)
