"""`sweep`: evaluate a function on a hyperparameter grid in one compiled, vmapped call.

`sweep` takes the cartesian product of 1-D axes, flattens it, optionally pads it, splits it
into chunks (``batch_size``) and across devices (``devices``, with ``jax.sharding``), maps the
user's function over the points with ``jax.vmap`` inside one ``jax.jit`` and hands back the
function's own pytree with leading grid dimensions. `sweep_best` picks the best grid point of
such a result by a key, skipping lanes that diverged or went non-finite.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from subopt._base import PyTree, Status, check_positive_int, is_concrete

_GRID_AXIS = "grid"  # the mesh axis name used when `devices` is a list


# --------------------------------------------------------------------------- checks


def _check_names(fn: Callable, names: tuple[str, ...]) -> None:
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


def _check_axis(name: str, values: Any) -> Any:
    """A 1-D, non-empty, numeric axis: a jax array (or tracer) as is, anything else as numpy."""
    if isinstance(values, jax.Array):  # also tracers, inside jit
        arr = values
    else:
        try:
            arr = np.asarray(values)
        except Exception as err:  # noqa: BLE001 - e.g. ragged nested lists
            msg = f"axis {name!r} must be a 1-D array of numbers, got {values!r}"
            raise TypeError(msg) from err
    if not (jnp.issubdtype(arr.dtype, jnp.number) or arr.dtype == np.bool_):
        raise TypeError(f"axis {name!r} must hold numbers, got dtype {arr.dtype}: {values!r}")
    if jnp.ndim(arr) != 1:
        raise ValueError(f"axis {name!r} must be 1-D, got shape {jnp.shape(arr)}")
    if jnp.shape(arr)[0] == 0:
        raise ValueError(f"axis {name!r} is empty; every axis needs at least one value")
    return arr


def _as_input(values: Any, mesh: Mesh | None) -> Any:
    """Without a mesh, a jax array; with one, host numpy where possible: jit then treats it as
    replicated, identical on every process (a global, not fully addressable array stays)."""
    if not is_concrete(values):
        return values
    if mesh is None:
        return jnp.asarray(values)
    if isinstance(values, jax.Array) and not values.is_fully_addressable:
        return values
    return np.asarray(values)


def _as_mesh(devices: Any) -> Mesh | None:
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
    return Mesh(np.array(devs, dtype=object), (_GRID_AXIS,))


# --------------------------------------------------------------------------- the compiled grid


def _layout(n: int, n_dev: int, batch_size: int | None) -> tuple[int, int]:
    """(chunks, points per device per chunk): balanced, at most ``batch_size`` per device."""
    per_dev = -(-n // n_dev)
    if batch_size is None or batch_size >= per_dev:
        return 1, per_dev
    chunks = -(-per_dev // batch_size)
    return chunks, -(-per_dev // chunks)


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


def _constrain(x: jax.Array, mesh: Mesh | None, spec: PartitionSpec) -> jax.Array:
    if mesh is None:
        return x
    return jax.lax.with_sharding_constraint(x, NamedSharding(mesh, spec))


@partial(jax.jit, static_argnames=("fn", "names", "batch_size", "mesh"))
def _grid(fn, names, batch_size, mesh, axes):
    shape = tuple(int(a.shape[0]) for a in axes)
    n = math.prod(shape)
    n_dev = 1 if mesh is None else int(mesh.devices.size)
    tiles = _tiles(shape, n_dev)
    out_spec = PartitionSpec()  # unsharded, or replicated over `mesh` for an uneven grid
    if mesh is not None and tiles is not None:
        # One mesh for the whole program (jit maps its output shardings onto a single mesh):
        # the same devices in the same order, reshaped so each device owns one tile of the grid.
        mesh = Mesh(mesh.devices.reshape(tiles), names)
        out_spec = PartitionSpec(*names)
    mesh_axes = None if mesh is None else tuple(mesh.axis_names)
    chunks, per = _layout(n, n_dev, batch_size)
    n_pad = chunks * n_dev * per
    # Flat point f = device j's block, chunk k, lane l: f = (j * chunks + k) * per + l.
    # Padding points repeat the last real point, so they never run longer than a real lane.
    flat = np.minimum(np.arange(n_pad), n - 1)
    coords = np.unravel_index(flat, shape)

    def arrange(x):  # (n_pad,) -> (chunks, n_dev * per), device j owning columns j*per...
        x = x.reshape(n_dev, chunks, per).transpose(1, 0, 2).reshape(chunks, n_dev * per)
        return _constrain(x, mesh, PartitionSpec(None, mesh_axes))

    points = tuple(arrange(jnp.take(a, c, axis=0)) for a, c in zip(axes, coords))

    def lanes(cols):
        cols = tuple(_constrain(c, mesh, PartitionSpec(mesh_axes)) for c in cols)
        return jax.vmap(lambda *p: fn(**dict(zip(names, p))))(*cols)

    if chunks == 1:
        out = jax.tree_util.tree_map(lambda y: y[None], lanes(tuple(p[0] for p in points)))
    else:
        out = jax.lax.map(lanes, points)

    def unarrange(y):
        rest = y.shape[2:]
        y = _constrain(y, mesh, PartitionSpec(None, mesh_axes))
        y = y.reshape(chunks, n_dev, per, *rest).swapaxes(0, 1).reshape(n_pad, *rest)
        y = y[:n].reshape(*shape, *rest)
        return _constrain(y, mesh, PartitionSpec(*out_spec, *([None] * len(rest))))

    return jax.tree_util.tree_map(unarrange, out)


def sweep(
    fn: Callable[..., PyTree],
    *,
    devices: Any = None,
    batch_size: int | None = None,
    **axes: Any,
) -> PyTree:
    r"""Evaluate ``fn`` on the cartesian product of ``axes`` in one compiled, vmapped call.

    .. math::

      \text{out}[i_1, \ldots, i_k] = \text{fn}(a_1 = a_1[i_1], \ldots, a_k = a_k[i_k])

    leaf by leaf, with the grid dimensions first, in the order the axes are given. ``fn``
    receives each point's values as 0-d (traced) arrays, so everything it does with them must
    accept traced values: subopt's hyperparameters (step sizes, weights, ``tol``) do; Python
    settings such as ``max_steps`` or ``record`` cannot be axes (loop over them in Python).

    Each lane is its own run: `subopt.run`'s ``while_loop`` under ``vmap`` keeps iterating
    until every lane in the batch has stopped, but a stopped lane's carry is frozen, so every
    grid point reports its own ``status``, ``num_steps`` and solution, equal to a run of that
    point alone.

    What compiles: one program per (``fn`` object, axis names and their order, the axes'
    lengths and dtypes, ``batch_size``, ``devices``), plus whatever ``fn`` itself is compiled
    for (its closed-over constants are part of the program). New values on axes of the same
    lengths and dtypes reuse the program, and the objective is not traced again. A new ``fn``
    object (a lambda or ``functools.partial`` built anew for each call) compiles anew: build it
    once and reuse it.

    Devices: with ``devices`` (a list of devices, or a ``jax.sharding.Mesh`` whose devices
    all take part), the flattened grid is padded to a multiple of the device count with copies
    of a real point (dropped from the result) and sharded with a ``NamedSharding``. When the
    device count divides the number of points, each result leaf is a global ``jax.Array``
    sharded along the grid: a ``NamedSharding`` over the same devices reshaped to a mesh whose
    axes are named after the sweep axes, each device holding one tile. When it does not (say
    15 points over 4 devices), each leaf is replicated on every device (``PartitionSpec()``).
    On several hosts, run the same script on every process after
    ``jax.distributed.initialize()`` and pass ``devices=jax.devices()`` (all global devices)
    or a global Mesh: each host computes its devices' share, and the result is one global
    array; read it with ``jax.experimental.multihost_utils.process_allgather`` (a replicated
    result, from an uneven grid, can be read directly on every host). Closed-over data in
    ``fn`` should be numpy arrays or replicated, identical on every process.

    Args:
      fn: a function of keyword arguments returning any pytree of arrays (typically a
        `subopt.Result`); bind its other inputs (data, optimizer settings) with a closure.
      devices: None (the default device), a sequence of ``jax.Device`` or a
        ``jax.sharding.Mesh`` to spread the grid over.
      batch_size: at most this many points evaluated at once on each device (a memory
        bound); the grid is split into balanced chunks mapped with ``lax.map`` inside the same
        program. Statuses and step counts are the same as without it, and floats agree to
        rounding (XLA may pick other kernels for another batch width). None evaluates all
        points at once.
      **axes: one 1-D, non-empty array of values per keyword argument of ``fn`` (the names
        ``devices`` and ``batch_size`` are taken by sweep itself).

    Returns:
      The pytree ``fn`` returns, each leaf with leading dimensions
      ``(len(axis_1), ..., len(axis_k))``.

    Raises:
      TypeError: no axes; an axis that ``fn`` does not accept, or ``fn`` needs an argument no
        axis gives; an axis that is not numeric; ``fn`` not callable or not hashable;
        ``devices`` not devices or a Mesh; ``batch_size`` not an int.
      ValueError: an axis that is not 1-D or is empty; ``batch_size`` < 1; a repeated device.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> f = lambda x: jnp.sum((x - 1.0) ** 2)
      >>> def solve(lr, tol):
      ...     return so.run(so.gradient_descent(lr), f, jnp.zeros(2), max_steps=500, tol=tol)
      >>> res = so.sweep(solve, lr=jnp.array([0.1, 0.4, 1.2]), tol=jnp.array([1e-3, 1e-6]))
      >>> res.num_steps.shape, [so.Status(int(s)).name for s in res.status[:, 1]]
      ((3, 2), ['CONVERGED', 'CONVERGED', 'DIVERGED'])

    References:
      JAX documentation, *Distributed arrays and automatic parallelization* and *Multi-process
      environments* (jax.readthedocs.io).
    """
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
    names = tuple(axes)
    _check_names(fn, names)
    values = [_check_axis(name, v) for name, v in axes.items()]
    mesh = _as_mesh(devices)
    return _grid(fn, names, batch_size, mesh, tuple(_as_input(v, mesh) for v in values))


# --------------------------------------------------------------------------- best point


class BestPoint(NamedTuple):
    """What `sweep_best` returns.

    Attributes:
      index: the grid index, one int per axis.
      point: ``{axis name: value}`` at that index (numpy scalars).
      score: the key's value there.
      result: the sweep result at that index (``fn``'s pytree for that one point).
    """

    index: tuple[int, ...]
    point: dict[str, Any]
    score: Any
    result: PyTree


_USABLE = (Status.CONVERGED, Status.MAX_STEPS)


def sweep_best(
    result: PyTree,
    axes: Mapping[str, Any],
    *,
    key: str | Callable[[PyTree], Any] | None = None,
    maximize: bool = False,
    statuses: tuple[int, ...] | None = _USABLE,
) -> BestPoint:
    r"""The best point of a `sweep` result by a key, and the axis values that produced it.

    .. math::

      i^\star = \arg\min_{i \in \text{usable}} \text{key}(\text{result})[i]

    (argmax with ``maximize``), where a lane is usable when its score is not NaN and, for a
    result with a ``status`` field, its status is in ``statuses``: by default lanes that
    DIVERGED or went NONFINITE are skipped, since an objective running off to -inf is not a
    good point. Ties go to the first index in row-major order.

    Args:
      result: what `sweep` returned.
      axes: the axes given to `sweep`, in the same order (e.g. ``dict(lr=lrs, lam=lams)``).
      key: None for ``result.value``; a field name such as ``"num_steps"``; or a function of
        the result returning an array with the grid's shape.
      maximize: pick the largest score instead of the smallest.
      statuses: the statuses a lane may have (`subopt.Status` codes), or None for any.

    Returns:
      A `BestPoint` ``(index, point, score, result)``.

    Raises:
      ValueError: the axes' lengths do not match the result's grid dimensions or the key's
        shape; no lane is usable.
      TypeError: ``key`` is not None, a string or a callable.

    Example:
      >>> import jax.numpy as jnp, subopt as so
      >>> solve = lambda c: so.run(so.gradient_descent(0.25), lambda x: (x - c) ** 2 + c**2,
      ...                          jnp.zeros(()))
      >>> axes = dict(c=jnp.array([2.0, -0.5, 1.0]))
      >>> best = so.sweep_best(so.sweep(solve, **axes), axes)
      >>> best.index, float(best.point["c"])
      ((1,), -0.5)
    """
    names = tuple(axes)
    if not names:
        raise ValueError("sweep_best needs the sweep's axes, e.g. dict(learning_rate=lrs)")
    shape = tuple(int(np.shape(axes[k])[0]) for k in names)
    if key is None or isinstance(key, str):
        field = "value" if key is None else key
        if not hasattr(result, field):
            raise ValueError(f"the result has no field {field!r}; pass key=...")
        score = getattr(result, field)
    elif callable(key):
        score = key(result)
    else:
        raise TypeError(f"key must be None, a field name or a callable, got {key!r}")
    score = jnp.asarray(score)
    if score.shape != shape:
        raise ValueError(
            f"the key has shape {score.shape} but the axes {list(names)} give the grid "
            f"{shape}; pass the axes in the order given to sweep"
        )
    ok = ~jnp.isnan(score)
    status = getattr(result, "status", None)
    if statuses is not None and status is not None:
        ok = ok & jnp.isin(jnp.asarray(status), jnp.asarray([int(s) for s in statuses]))
    if not bool(jnp.any(ok)):
        raise ValueError(
            f"no usable grid point: every score is NaN or the status is not in "
            f"{[Status(int(s)).name for s in statuses or ()]}"
        )
    signed = -score if maximize else score
    flat = int(jnp.lexsort((signed.ravel(), ~ok.ravel()))[0])  # stable: ties keep row-major
    index = tuple(int(i) for i in np.unravel_index(flat, shape))
    point = {k: np.asarray(axes[k])[i] for k, i in zip(names, index)}
    picked = jax.tree_util.tree_map(lambda x: x[index], result)
    return BestPoint(index, point, score[index], picked)
