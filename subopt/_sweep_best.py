"""`sweep_best`: the best point of a `subopt.sweep` result, on one host or many.

The scores and statuses (grid-sized) are read to host numpy, gathered from every process when
the result is a global array that this process does not hold whole; the picked point's values
and result are taken without gathering the whole grid.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import numpy as np

from subopt._base import PyTree, Status
from subopt._sweep_grid import axis_length, check_axis
from subopt._sweep_hosts import take, to_host


class BestPoint(NamedTuple):
    """What `sweep_best` returns.

    Attributes:
      index: the grid index, one int per axis.
      point: ``{axis name: value}`` at that index (numpy scalars, or numpy arrays for an
        axis of arrays).
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

    It works on the global arrays of a multi-process sweep, on every process: the scores and
    statuses are gathered to each host (``process_allgather(..., tiled=True)``), and the
    picked point's values and result are read replicated, without gathering the whole grid.

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
    axes = {k: check_axis(k, v) for k, v in axes.items()}
    shape = tuple(axis_length(axes[k]) for k in names)
    if key is None or isinstance(key, str):
        field = "value" if key is None else key
        if not hasattr(result, field):
            raise ValueError(f"the result has no field {field!r}; pass key=...")
        score = getattr(result, field)
    elif callable(key):
        score = key(result)
    else:
        raise TypeError(f"key must be None, a field name or a callable, got {key!r}")
    score = to_host(score)
    if score.shape != shape:
        raise ValueError(
            f"the key has shape {score.shape} but the axes {list(names)} give the grid "
            f"{shape}; pass the axes in the order given to sweep"
        )
    ok = ~np.isnan(score)
    status = getattr(result, "status", None)
    if statuses is not None and status is not None:
        ok = ok & np.isin(to_host(status), [int(s) for s in statuses])
    if not ok.any():
        raise ValueError(
            f"no usable grid point: every score is NaN or the status is not in "
            f"{[Status(int(s)).name for s in statuses or ()]}"
        )
    signed = -score if maximize else score
    flat = int(np.lexsort((signed.ravel(), ~ok.ravel()))[0])  # stable: ties keep row-major
    index = tuple(int(i) for i in np.unravel_index(flat, shape))
    point = {
        k: jax.tree_util.tree_map(lambda x: np.asarray(x)[()], take(axes[k], (i,)))
        for k, i in zip(names, index)
    }
    picked = take(result, index)
    return BestPoint(index, point, score[index], picked)
