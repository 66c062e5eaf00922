"""Progress callbacks of so.run: what they receive, when, and what a raising one does."""

import io

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import subopt as so


def f(x):
    return jnp.sum((x - 1.0) ** 2)


class Recorder:
    def __init__(self, every):
        self.every = every
        self.calls = []

    def __call__(self, step, value, stationarity):
        self.calls.append((int(step), float(value), float(stationarity)))


def test_callback_gets_step_value_and_stationarity_every_k_steps():
    rec = Recorder(every=5)
    res = so.run(
        so.gradient_descent(0.05), f, jnp.zeros(2), max_steps=23, tol=0.0, record=True, callback=rec
    )
    steps = [c[0] for c in rec.calls]
    assert steps == [5, 10, 15, 20, 23]  # every 5 steps, and the last one
    for k, value, stationarity in rec.calls:
        np.testing.assert_allclose(value, res.history.value[k - 1], rtol=1e-12)
        np.testing.assert_allclose(stationarity, res.history.stationarity[k - 1], rtol=1e-12)


def test_callback_changes_nothing_in_the_result():
    plain = so.run(so.fista(so.prox.l1(0.1), 0.2), f, jnp.zeros(2), tol=1e-9)
    watched = so.run(
        so.fista(so.prox.l1(0.1), 0.2), f, jnp.zeros(2), tol=1e-9, callback=Recorder(every=3)
    )
    np.testing.assert_array_equal(plain.params, watched.params)
    assert int(plain.num_steps) == int(watched.num_steps)


def test_progress_bar_output_is_captured():
    out = io.StringIO()
    bar = so.progress(every=10, total=50, file=out, ascii=True)
    so.run(so.gradient_descent(0.05), f, jnp.zeros(2), max_steps=50, tol=0.0, callback=bar)
    text = out.getvalue()
    assert "50/50" in text and "value=" in text and "stationarity=" in text


def test_raising_callback_propagates():
    def bad(step, value, stationarity):
        raise RuntimeError(f"stop at {int(step)}")

    with pytest.raises(RuntimeError, match="stop at 1"):
        so.run(so.gradient_descent(0.05), f, jnp.zeros(2), callback=bad)


def test_callback_under_vmap_reports_each_lane():
    rec = Recorder(every=1)
    run = jax.vmap(
        lambda c: so.run(
            so.gradient_descent(0.25),
            lambda x: jnp.sum((x - c) ** 2),
            jnp.zeros(1),
            max_steps=3,
            tol=0.0,
            callback=rec,
        )
    )
    jax.block_until_ready(run(jnp.array([1.0, 2.0])))
    assert len(rec.calls) == 6 and sorted({c[0] for c in rec.calls}) == [1, 2, 3]
