"""so.sweep and sweep_best in one process: grids against nested Python loops of so.run, axes
of datasets, no retrace, chunking, the lane layout, tasks and their merge, and errors.
(Devices and processes: tests/test_sweep_devices.py.)"""

import math
import typing

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import subopt as so
from subopt._sweep import BestPoint, sweep_best
from subopt._sweep_grid import layout

PROBLEM = so.problems.least_squares(30, 5, seed=3)
L = PROBLEM.lipschitz
CALLS = {"n": 0, "fn": 0}  # traces of the objective, and of the swept function


def objective(x):
    """Least squares (in x's dtype), counting its traces."""
    CALLS["n"] += 1
    a = jnp.asarray(PROBLEM.data["A"], x.dtype)
    b = jnp.asarray(PROBLEM.data["b"], x.dtype)
    r = a @ x - b
    return 0.5 * jnp.dot(r, r) / a.shape[0]


def solve(lr, tol):
    CALLS["fn"] += 1
    return so.run(so.gradient_descent(lr), objective, PROBLEM.x0, max_steps=150, tol=tol)


def solve32(lr, tol):
    x0 = jnp.zeros(5, jnp.float32)
    return so.run(so.gradient_descent(lr), objective, x0, max_steps=150, tol=tol)


SOLVE_ONE = jax.jit(solve)  # one point at a time, compiled once: the loop reference

# learning rates from slow (hits max_steps) through fast to too large (diverges)
LRS = np.array([0.05, 0.6, 1.0, 1.9, 2.6]) / L
TOLS = np.array([1e-3, 1e-6, 1e-9])


def leaves(tree):
    return jax.tree_util.tree_leaves(tree)


@pytest.mark.parametrize("fn", [solve, solve32], ids=["float64", "float32"])
def test_grid_equals_nested_python_loop(fn):
    res = so.sweep(fn, lr=LRS, tol=TOLS)
    assert isinstance(res, so.Result) and res.history is None
    dtype = jnp.float32 if fn is solve32 else jnp.float64
    assert res.params.shape == (5, 3, 5) and res.params.dtype == dtype
    assert res.value.shape == (5, 3) and res.value.dtype == dtype
    assert res.num_steps.dtype == jnp.int32 and res.status.dtype == jnp.int32
    # A batched matvec sums in another order than a single one. Each of the <= 150 steps
    # rounds a length-30 dot product (<= 30 eps relative), and gradient descent with a
    # stable step does not amplify past errors (a diverging lane grows its error with its
    # iterate): 150 * 30 * eps bounds the relative drift of params and values.
    rtol = 150 * 30 * float(jnp.finfo(dtype).eps)
    statuses = set()
    for i, lr in enumerate(LRS):
        for j, tol in enumerate(TOLS):
            single = fn(float(lr), float(tol))
            status = so.Status(int(single.status))
            assert int(res.status[i, j]) == status
            assert int(res.num_steps[i, j]) == int(single.num_steps)
            scale = float(jnp.max(jnp.abs(single.params)))
            np.testing.assert_allclose(res.params[i, j], single.params, rtol, rtol * scale)
            np.testing.assert_allclose(res.value[i, j], single.value, rtol)
            # the stationarity itself is rounding noise near tol: compare what it means
            if status == so.Status.CONVERGED:
                assert res.stationarity[i, j] <= tol and single.stationarity <= tol
            statuses.add(status)
    # the grid mixes lanes that stop early, run to the cap and diverge
    assert statuses == {so.Status.CONVERGED, so.Status.MAX_STEPS, so.Status.DIVERGED}


def test_finished_lanes_freeze_while_others_run():
    f = lambda x: jnp.sum((x - 2.0) ** 2)  # noqa: E731

    def fn(lr):
        return so.run(so.gradient_descent(lr), f, jnp.zeros(2), max_steps=60, tol=1e-8, record=True)

    lrs = np.array([0.5, 0.25, 0.01, 1.5])  # 1 step, a few steps, the cap, diverging
    res = so.sweep(fn, lr=lrs)
    steps = np.asarray(res.num_steps)
    assert steps[0] == 1 and 1 < steps[1] < 60 and steps[2] == 60 and steps[3] < 60
    np.testing.assert_allclose(res.params[0], [2.0, 2.0])  # lr = 1/2 is exact in one step
    for i, lr in enumerate(lrs):
        k = steps[i]
        hist = np.asarray(res.history.value[i])
        assert np.all(np.isnan(hist[k:])) and np.all(np.isfinite(hist[:k]))
        # closed form of GD on this quadratic: x_k = 2 (1 - (1 - 2 lr)^k)
        np.testing.assert_allclose(res.params[i], 2 * (1 - (1 - 2 * lr) ** k) * np.ones(2))


def test_axes_order_follows_keywords_and_any_pytree():
    def fn(a, b, scale=2.0):
        return {"sum": a + b, "pair": (a * b * scale, jnp.stack([a, b]))}

    a, b = np.array([1.0, 2.0, 3.0]), [10.0, 20.0]
    ab = so.sweep(fn, a=a, b=b)
    ba = so.sweep(fn, b=b, a=a)
    np.testing.assert_array_equal(ab["sum"], np.add.outer(a, b))
    np.testing.assert_array_equal(ab["pair"][0], 2 * np.multiply.outer(a, b))
    assert ab["pair"][1].shape == (3, 2, 2)
    np.testing.assert_array_equal(ba["sum"], ab["sum"].T)
    np.testing.assert_array_equal(ba["pair"][1], np.swapaxes(ab["pair"][1], 0, 1))
    # integer and boolean axes arrive with their dtype; **kwargs functions are accepted
    out = so.sweep(
        lambda **kw: kw["n"] * jnp.where(kw["flag"], 1, -1),
        n=np.arange(3),
        flag=np.array([True, False]),
    )
    np.testing.assert_array_equal(out, [[0, 0], [1, -1], [2, -2]])
    assert jnp.issubdtype(out.dtype, jnp.integer)


def test_new_values_do_not_retrace():
    so.sweep(solve, lr=LRS, tol=TOLS)
    before = dict(CALLS)
    for scale in (0.5, 0.9, 1.1):
        res = so.sweep(solve, lr=LRS * scale, tol=TOLS * scale)
        assert res.value.shape == (5, 3)
    so.sweep(solve, lr=jnp.asarray(LRS[::-1]), tol=list(TOLS))
    assert CALLS == before
    # what does compile: new lengths (a new shape) and a new batch_size trace the grid anew
    # (the objective itself is not traced again: so.run's own program is cached per lane)
    so.sweep(solve, lr=LRS[:4], tol=TOLS)
    assert CALLS["fn"] == before["fn"] + 1
    so.sweep(solve, lr=LRS, tol=TOLS, batch_size=7)  # a size no other test compiles
    assert CALLS["fn"] == before["fn"] + 2
    assert CALLS["n"] == before["n"]


@pytest.mark.parametrize("batch_size", [1, 4, 6, 15, 100])
def test_batch_size_gives_identical_results(batch_size):
    full = so.sweep(solve, lr=LRS, tol=TOLS)
    chunked = so.sweep(solve, lr=LRS, tol=TOLS, batch_size=batch_size)
    for a, b in zip(leaves(full), leaves(chunked)):
        assert a.shape == b.shape and a.dtype == b.dtype
        if jnp.issubdtype(a.dtype, jnp.integer):
            np.testing.assert_array_equal(a, b)
        else:
            # floats agree to rounding: a chunk of one lane may get a matrix-vector kernel
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("mode", ["per_device", "global"])
def test_a_one_device_mesh_changes_nothing(mode):
    # the device paths in this process (more devices: tests/test_sweep_devices.py)
    plain = so.sweep(solve, lr=LRS, tol=TOLS)
    meshed = so.sweep(solve, lr=LRS, tol=TOLS, devices=jax.devices()[:1], mode=mode)
    for a, b in zip(leaves(plain), leaves(meshed)):
        assert a.shape == b.shape and a.dtype == b.dtype
        if jnp.issubdtype(a.dtype, jnp.integer):
            np.testing.assert_array_equal(a, b)
        else:  # the same lanes on the same device: equal up to XLA's fusion choices
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


@given(
    lr=st.lists(st.floats(0.01, 2.2), min_size=3, max_size=3),
    tol=st.lists(st.floats(1e-9, 1e-2), min_size=2, max_size=2),
)
def test_property_grid_matches_runs_and_best_matches_numpy(lr, tol):
    lrs, tols = np.array(lr) / L, np.array(tol)
    res = jax.device_get(so.sweep(solve, lr=lrs, tol=tols, batch_size=4))
    ok = np.isin(res.status, [so.Status.CONVERGED, so.Status.MAX_STEPS])
    for i in range(3):
        for j in range(2):
            single = jax.device_get(SOLVE_ONE(lrs[i], tols[j]))
            assert res.num_steps[i, j] == single.num_steps
            assert res.status[i, j] == single.status
            np.testing.assert_allclose(res.value[i, j], single.value, rtol=1e-9)
    if ok.any():
        best = sweep_best(res, {"lr": lrs, "tol": tols})
        want = np.unravel_index(np.argmin(np.where(ok, res.value, np.inf)), (3, 2))
        assert best.index == tuple(int(w) for w in want)
        assert best.point == {"lr": lrs[want[0]], "tol": tols[want[1]]}


class Fake(typing.NamedTuple):
    value: jax.Array
    num_steps: jax.Array
    status: jax.Array


def test_sweep_best_rules():
    d, c, m = so.Status.DIVERGED, so.Status.CONVERGED, so.Status.MAX_STEPS
    fake = Fake(
        value=jnp.array([[3.0, -1e12, jnp.nan], [2.0, 5.0, 2.0]]),
        num_steps=jnp.array([[9, 3, 1], [40, 7, 20]]),
        status=jnp.array([[c, d, so.Status.NONFINITE], [m, c, c]], jnp.int32),
    )
    axes = {"lr": np.array([0.1, 0.2]), "lam": np.array([1.0, 2.0, 3.0])}
    best = sweep_best(fake, axes)
    assert isinstance(best, BestPoint)
    assert best.index == (1, 0) and best.point == {"lr": 0.2, "lam": 1.0}  # tie: first index
    assert float(best.score) == 2.0 and int(best.result.num_steps) == 40
    assert sweep_best(fake, axes, statuses=None).index == (0, 1)  # the diverged lane
    assert sweep_best(fake, axes, statuses=(c,)).index == (1, 2)
    assert sweep_best(fake, axes, key="num_steps").index == (1, 1)
    assert sweep_best(fake, axes, key="num_steps", maximize=True).index == (1, 0)
    assert sweep_best(fake, axes, key=lambda r: -r.value, maximize=True).index == (1, 0)
    with pytest.raises(ValueError, match="grid"):
        sweep_best(fake, {"lam": axes["lam"], "lr": axes["lr"]})
    with pytest.raises(ValueError, match="no usable"):
        sweep_best(fake, axes, statuses=(so.Status.NONFINITE,))
    with pytest.raises(ValueError, match="field"):
        sweep_best(fake, axes, key="stationarity")
    with pytest.raises(TypeError, match="key"):
        sweep_best(fake, axes, key=3)


def test_sweep_inside_jit_with_traced_axes():
    run = jax.jit(lambda lrs: so.sweep(solve, lr=lrs, tol=TOLS[:1]).value)
    np.testing.assert_allclose(run(LRS), so.sweep(solve, lr=LRS, tol=TOLS[:1]).value, rtol=1e-12)


def test_errors_name_the_axis_or_argument():
    with pytest.raises(TypeError, match="'lam' is not an argument"):
        so.sweep(solve, lr=LRS, lam=TOLS)
    with pytest.raises(TypeError, match="tol"):  # fn needs tol and no axis gives it
        so.sweep(solve, lr=LRS)
    with pytest.raises(TypeError, match="at least one axis"):
        so.sweep(solve)
    with pytest.raises(ValueError, match="'tol' must have a leading axis"):
        so.sweep(solve, lr=LRS, tol=1e-6)
    with pytest.raises(ValueError, match="'lr' is a pytree whose leaves have different"):
        so.sweep(solve, lr={"a": np.ones(3), "b": np.ones((2, 4))}, tol=TOLS)
    with pytest.raises(ValueError, match="'lr' has no arrays"):
        so.sweep(solve, lr={}, tol=TOLS)
    with pytest.raises(ValueError, match="mode"):
        so.sweep(solve, lr=LRS, tol=TOLS, mode="spmd")
    with pytest.raises(ValueError, match="'tol' is empty"):
        so.sweep(solve, lr=LRS, tol=[])
    with pytest.raises(TypeError, match="'lr' must hold numbers"):
        so.sweep(solve, lr=["a", "b"], tol=TOLS)
    for bad, err in ((0, ValueError), (-2, ValueError), (2.5, TypeError), (True, TypeError)):
        with pytest.raises(err, match="batch_size"):
            so.sweep(solve, lr=LRS, tol=TOLS, batch_size=bad)
    for bad in ("cpu", [], [0, 1]):
        with pytest.raises(TypeError, match="devices"):
            so.sweep(solve, lr=LRS, tol=TOLS, devices=bad)
    with pytest.raises(ValueError, match="more than once"):
        so.sweep(solve, lr=LRS, tol=TOLS, devices=jax.devices()[:1] * 2)
    with pytest.raises(TypeError, match="callable"):
        so.sweep(3, lr=LRS)

    # a user's exception inside fn propagates unchanged
    def boom(lr):
        raise KeyError("from fn")

    with pytest.raises(KeyError, match="from fn"):
        so.sweep(boom, lr=LRS)


# --------------------------------------------------------------------------- axes of data

DATASETS = [so.problems.least_squares(20, 4, seed=s) for s in range(8)]
STACK = {k: np.stack([d.data[k] for d in DATASETS]) for k in ("A", "b")}
STEP = 1.0 / max(d.lipschitz for d in DATASETS)  # one safe step for every dataset


def lasso_on(data, lam):
    a, b = data["A"], data["b"]
    f = lambda x: 0.5 * jnp.sum((a @ x - b) ** 2) / b.shape[0]  # noqa: E731
    opt = so.fista(so.prox.l1(lam), learning_rate=STEP)
    return so.run(opt, f, jnp.zeros(4), max_steps=400, tol=1e-9)


def test_axis_of_datasets_equals_a_loop_over_them():
    lams = np.array([1e-3, 3e-2])
    res = so.sweep(lasso_on, data=STACK, lam=lams, batch_size=6)
    assert res.params.shape == (8, 2, 4)
    one = jax.jit(lasso_on)  # the loop: one compiled run, the dataset as an argument
    for i in range(8):
        for j, lam in enumerate(lams):
            single = one({k: v[i] for k, v in STACK.items()}, lam)
            assert int(res.status[i, j]) == int(single.status) == so.Status.CONVERGED
            assert int(res.num_steps[i, j]) == int(single.num_steps)
            np.testing.assert_allclose(res.params[i, j], single.params, rtol=1e-10, atol=1e-13)
    # the larger lambda zeroes more coefficients, on every dataset
    zeros = np.sum(np.abs(np.asarray(res.params)) < 1e-12, axis=-1)
    assert np.all(zeros[:, 1] >= zeros[:, 0]) and zeros[:, 1].sum() > zeros[:, 0].sum()
    best = sweep_best(res, {"data": STACK, "lam": lams})
    i, j = best.index
    np.testing.assert_array_equal(best.point["data"]["A"], STACK["A"][i])
    assert best.point["lam"] == lams[j]


# --------------------------------------------------------------------------- layout


@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple),
    n_dev=st.integers(1, 8),
    batch=st.one_of(st.none(), st.integers(1, 9)),
    cut=st.tuples(st.floats(0, 1), st.floats(0, 1)),
)
def test_property_layout_covers_each_point_once_and_pads_with_own_lanes(shape, n_dev, batch, cut):
    n = math.prod(shape)
    first = min(int(cut[0] * n), n - 1)
    part = (first, max(1, min(n - first, int(cut[1] * n))), False)
    for start, count, full in ((0, n, True), part):
        lay, table = layout(shape, start, count, n_dev, batch, full)
        assert table.shape == (n_dev, lay.chunks, lay.per) and table.dtype == np.int32
        assert batch is None or lay.per <= batch
        assert lay.chunks * lay.per - lay.per_dev < lay.chunks  # balanced chunks
        lanes = table.reshape(n_dev, -1)
        real = lanes[:, : lay.per_dev].ravel()
        real = real[:count] if lay.tiles is None else real
        assert sorted(real.tolist()) == list(range(start, start + count))
        # padding repeats the device's own last lane: no device runs longer than its lanes
        last = lanes[:, lay.per_dev - 1 : lay.per_dev]
        assert np.all(lanes[:, lay.per_dev :] == last)
        if lay.tiles is not None:  # a device's lanes are one box of the grid
            assert count == n and n % n_dev == 0
            for row in lanes[:, : lay.per_dev]:
                coords = np.array(np.unravel_index(row, shape))
                box = coords.max(1) - coords.min(1) + 1
                assert math.prod(box.tolist()) == lay.per_dev
        else:
            assert not full or n_dev == 1 or n % n_dev != 0


# --------------------------------------------------------------------------- tasks


def pair(a, b):
    return {"s": 10 * a + b, "v": jnp.stack([a, b]) * 0.5}


PAIR_AXES = {"a": np.arange(3), "b": np.array([1.0, 2.0])}


@pytest.mark.parametrize("k", [1, 4, 6])
def test_tasks_merge_into_the_whole_sweep(k):
    whole = so.sweep(pair, **PAIR_AXES)
    parts = [so.sweep_task(pair, i, k, **PAIR_AXES) for i in range(k)]
    assert [p["s"].shape[0] for p in parts] == [(i + 1) * 6 // k - i * 6 // k for i in range(k)]
    for merged in (
        so.merge_sweeps(parts, **PAIR_AXES),
        so.merge_sweeps(jax.device_get(parts), **PAIR_AXES),
    ):  # e.g. read from files
        for a, b in zip(leaves(merged), leaves(whole)):
            assert a.shape == b.shape and a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
    assert isinstance(so.merge_sweeps(jax.device_get(parts), **PAIR_AXES)["s"], np.ndarray)


def test_task_errors_name_the_argument():
    for bad, err in ((-1, ValueError), (4, ValueError), (1.0, TypeError), (True, TypeError)):
        with pytest.raises(err, match="task"):
            so.sweep_task(pair, bad, 4, **PAIR_AXES)
    with pytest.raises(ValueError, match="num_tasks = 7"):
        so.sweep_task(pair, 0, 7, **PAIR_AXES)
    with pytest.raises(ValueError, match="num_tasks"):
        so.sweep_task(pair, 0, 0, **PAIR_AXES)
    parts = [so.sweep_task(pair, i, 2, **PAIR_AXES) for i in range(2)]
    with pytest.raises(ValueError, match="part 0 holds"):
        so.merge_sweeps(parts[:1] + parts, **PAIR_AXES)
    with pytest.raises(ValueError, match="structure"):
        so.merge_sweeps([parts[0], parts[1]["s"]], **PAIR_AXES)
    with pytest.raises(ValueError, match="none"):
        so.merge_sweeps([], **PAIR_AXES)
