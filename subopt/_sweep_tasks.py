"""Grids beyond one job: `sweep_task` evaluates task ``i`` of ``K``, `merge_sweeps` joins them.

A grid too big for one job, or one that needs retries and preemption handling, goes to a
scheduler (a SLURM job array, submitit, Ray, Dask) as ``K`` independent tasks. Task ``i``
evaluates the points ``floor(i n / K) .. floor((i + 1) n / K) - 1`` of the row-major flattened
grid of ``n`` points, as one `subopt.sweep` on its own (local) devices; the tasks share
nothing, so each can run anywhere, in any order, and be retried alone.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from subopt._base import PyTree, check_positive_int
from subopt._sweep import evaluate
from subopt._sweep_grid import axis_length, check_axis


def _split(task: Any, num_tasks: Any, axes: dict[str, Any]) -> tuple[int, int, tuple[int, ...]]:
    """(start, count, grid shape) of task ``task`` of ``num_tasks``."""
    num_tasks = check_positive_int("num_tasks", num_tasks)
    if isinstance(task, bool) or not isinstance(task, numbers.Integral):
        raise TypeError(f"task must be a Python int, got {task!r}")
    task = int(task)
    if not 0 <= task < num_tasks:
        raise ValueError(f"task must be in 0 .. num_tasks - 1 = {num_tasks - 1}, got {task!r}")
    if not axes:
        raise TypeError("sweep_task needs at least one axis, as sweep does")
    shape = tuple(axis_length(check_axis(k, v)) for k, v in axes.items())
    n = math.prod(shape)
    if num_tasks > n:
        raise ValueError(f"num_tasks = {num_tasks} is more than the grid's {n} points")
    start, stop = task * n // num_tasks, (task + 1) * n // num_tasks
    return start, stop - start, shape


def sweep_task(
    fn: Callable[..., PyTree],
    task: int,
    num_tasks: int,
    /,
    *,
    devices: Any = None,
    batch_size: int | None = None,
    mode: str = "per_device",
    **axes: Any,
) -> PyTree:
    r"""Evaluate task ``task`` of ``num_tasks``: a balanced slice of the grid `sweep` would run.

    .. math::

      \text{out}[p - s_i] = \text{fn}(\text{point}_p), \quad
      s_i = \lfloor i n / K \rfloor \le p < s_{i+1}

    where :math:`\text{point}_p` is the ``p``-th point of the row-major flattened grid of
    ``n`` points. Every argument but ``task`` and ``num_tasks`` means what it means for
    `sweep`; ``devices`` are typically this job's own (``jax.local_devices()``). Tasks of the
    same size share one compiled program.

    Args:
      fn: as for `sweep`.
      task: this task's index, ``0 <= task < num_tasks`` (e.g. ``SLURM_ARRAY_TASK_ID``).
      num_tasks: ``K``, at most the number of grid points.
      devices: as for `sweep`.
      batch_size: as for `sweep`.
      mode: as for `sweep`.
      **axes: the whole grid's axes, the same in every task.

    Returns:
      ``fn``'s pytree, each leaf with one leading dimension: this task's points in order.

    Raises:
      TypeError, ValueError: as for `sweep`; ``task`` or ``num_tasks`` not an int or out of
        range.

    Example:
      >>> import numpy as np, subopt as so
      >>> axes = dict(a=np.arange(3.0), b=np.array([10.0, 20.0]))
      >>> parts = [so.sweep_task(lambda a, b: a * b, i, 4, **axes) for i in range(4)]
      >>> [p.shape for p in parts]
      [(1,), (2,), (1,), (2,)]
      >>> so.merge_sweeps(parts, **axes).tolist()
      [[0.0, 0.0], [10.0, 20.0], [20.0, 40.0]]
    """
    start, count, _ = _split(task, num_tasks, axes)
    return evaluate(
        fn, axes, devices=devices, batch_size=batch_size, mode=mode, part=(start, count)
    )


def merge_sweeps(parts: Sequence[PyTree], /, **axes: Any) -> PyTree:
    """Join the results of tasks ``0 .. K - 1`` (`sweep_task`) into the full grid's result.

    The result is what `sweep` returns on the whole grid: each leaf with leading dimensions
    ``(len(axis_1), ..., len(axis_k))``; numpy leaves when the parts hold numpy (e.g. read
    back from files), jax arrays otherwise.

    Args:
      parts: the ``K`` task results, in task order (``len(parts)`` is ``num_tasks``).
      **axes: the whole grid's axes, as given to every task.

    Returns:
      The full grid's pytree.

    Raises:
      ValueError: no parts; a part whose length is not its task's share of the grid; parts
        whose pytree structures differ.
    """
    parts = list(parts)
    if not parts:
        raise ValueError("merge_sweeps needs the tasks' results, got none")
    counts = [_split(i, len(parts), axes)[1] for i in range(len(parts))]
    shape = _split(0, len(parts), axes)[2]
    structure = jax.tree_util.tree_structure(parts[0])
    for i, (part, count) in enumerate(zip(parts, counts)):
        if jax.tree_util.tree_structure(part) != structure:
            raise ValueError(f"part {i} has another pytree structure than part 0")
        lengths = {np.shape(leaf)[0] for leaf in jax.tree_util.tree_leaves(part)}
        if lengths != {count}:
            raise ValueError(
                f"part {i} holds {sorted(lengths)} points but task {i} of {len(parts)} has "
                f"{count}; pass every task's result, in task order"
            )

    def join(*leaves):
        stack = np if all(isinstance(x, np.ndarray) for x in leaves) else jnp
        whole = stack.concatenate(leaves, axis=0)
        return whole.reshape(*shape, *whole.shape[1:])

    return jax.tree_util.tree_map(join, *parts)
