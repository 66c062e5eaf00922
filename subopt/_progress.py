"""`progress`: a ready-made `subopt.run` callback that draws a tqdm progress bar."""

from __future__ import annotations

from typing import Any

from subopt._base import check_positive_int


class Progress:
    """A `subopt.run` callback: a tqdm bar of the steps, with F and the stationarity.

    Build it once and reuse it: the callback is compiled into the loop, so a new object is
    a new program. A bar opens at a run's first report and closes at its last (the report
    of the stopping step); under ``jax.vmap`` each lane reports on its own (see `subopt.run`).

    Attributes:
      every: the number of steps between two reports.
      total: the bar's length (e.g. ``max_steps``), or None for a bare counter.
    """

    def __init__(self, every: int = 100, total: int | None = None, **tqdm_kwargs: Any):
        self.every = check_positive_int("every", every)
        self.total = None if total is None else check_positive_int("total", total)
        self.tqdm_kwargs = tqdm_kwargs
        self._bar: Any = None
        self._last = 0

    def __call__(self, step: Any, value: Any, stationarity: Any) -> None:
        from tqdm.auto import tqdm

        step = int(step)
        if self._bar is None or step <= self._last:
            self.close()
            self._bar = tqdm(total=self.total, unit="step", **self.tqdm_kwargs)
            self._last = 0
        self._bar.update(step - self._last)
        self._last = step
        self._bar.set_postfix(
            value=f"{float(value):.6g}", stationarity=f"{float(stationarity):.3g}"
        )
        if self.total is not None and step >= self.total:
            self.close()

    def close(self) -> None:
        """Close the current bar (the next report opens a new one)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def progress(every: int = 100, total: int | None = None, **tqdm_kwargs: Any) -> Progress:
    """A tqdm progress bar for `subopt.run`: ``so.run(..., callback=so.progress(every=50))``.

    Every ``every`` steps (and at the stop) the bar advances and shows F and the
    stationarity measure. It needs the ``tqdm`` package (imported at the first report).

    Args:
      every: steps between two reports, a Python int >= 1.
      total: the bar's length (pass ``max_steps``), or None.
      **tqdm_kwargs: passed to ``tqdm`` (e.g. ``desc=``, ``file=``, ``leave=``).

    Example:
      >>> import io, jax.numpy as jnp, subopt as so
      >>> bar = so.progress(every=10, total=100, file=io.StringIO())
      >>> res = so.run(so.gradient_descent(0.1), lambda x: jnp.sum(x**2), jnp.ones(2),
      ...              max_steps=100, callback=bar)
    """
    return Progress(every, total, **tqdm_kwargs)


__all__ = ["Progress", "progress"]
