"""so.sweep and sweep_best: grids against nested Python loops of so.run, no retrace, chunking,
sharding over 4 fake CPU devices (in a subprocess), and errors."""

import os
import subprocess
import sys
import textwrap
import typing

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import subopt as so
from subopt._sweep import BestPoint, sweep_best

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


def assert_lane_equal(grid, index, single, rtol):
    for g, s in zip(leaves(grid), leaves(single)):
        got = np.asarray(g[index])
        if np.issubdtype(got.dtype, np.integer):
            np.testing.assert_array_equal(got, s)
        else:
            np.testing.assert_allclose(got, s, rtol=rtol, atol=rtol * 1e-4)


@pytest.mark.parametrize("fn", [solve, solve32], ids=["float64", "float32"])
def test_grid_equals_nested_python_loop(fn):
    res = so.sweep(fn, lr=LRS, tol=TOLS)
    assert isinstance(res, so.Result) and res.history is None
    dtype = jnp.float32 if fn is solve32 else jnp.float64
    assert res.params.shape == (5, 3, 5) and res.params.dtype == dtype
    assert res.value.shape == (5, 3) and res.value.dtype == dtype
    assert res.num_steps.dtype == jnp.int32 and res.status.dtype == jnp.int32
    statuses = set()
    for i, lr in enumerate(LRS):
        for j, tol in enumerate(TOLS):
            single = fn(float(lr), float(tol))
            assert int(res.status[i, j]) == int(single.status)
            assert int(res.num_steps[i, j]) == int(single.num_steps)
            # a batched matvec sums in another order: float32 lanes drift from the single
            # run by rounding over 150 steps (measured ~3e-5 relative), float64 by ~1e-13
            assert_lane_equal(res, (i, j), single, 2e-4 if dtype == jnp.float32 else 1e-10)
            statuses.add(so.Status(int(single.status)))
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
    with pytest.raises(ValueError, match="'lr' must be 1-D"):
        so.sweep(solve, lr=np.ones((2, 2)), tol=TOLS)
    with pytest.raises(ValueError, match="'tol' must be 1-D"):
        so.sweep(solve, lr=LRS, tol=1e-6)
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


SHARDED_SCRIPT = textwrap.dedent(
    """
    import re
    import jax, jax.numpy as jnp, numpy as np
    jax.config.update("jax_enable_x64", True)
    import subopt as so
    from jax.sharding import Mesh, NamedSharding

    devs = jax.devices()
    assert len(devs) == 4, devs
    p = so.problems.least_squares(30, 5, seed=3)
    count = {"n": 0}

    def f(x):
        count["n"] += 1
        return p.fun(x)

    def solve(lr, tol):
        return so.run(so.gradient_descent(lr), f, p.x0, max_steps=150, tol=tol)

    def same(a, b):
        for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
            assert x.shape == y.shape and x.dtype == y.dtype
            if jnp.issubdtype(x.dtype, jnp.integer):
                np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
            else:
                np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-9, atol=1e-13)

    def shards(x):
        return sorted({s.data.shape for s in x.addressable_shards})

    mesh22 = Mesh(np.array(devs).reshape(2, 2), ("a", "b"))
    cases = [  # (lengths, batch_size, devices, expected shard shape of result.value or None)
        ((4, 3), None, devs, (1, 3)),       # divides along the first axis
        ((3, 4), None, devs, (3, 1)),       # divides along the second axis
        ((6, 2), 1, devs, (3, 1)),          # tiles both axes, in chunks of one point
        ((3, 5), None, devs, None),         # 15 points over 4 devices: replicated
        ((3, 5), 2, mesh22, None),          # uneven, chunked, on a 2-D mesh
        ((2, 1), None, devs, None),         # fewer points than devices
    ]
    for (nl, nt), batch, where, tile in cases:
        lrs = np.linspace(0.05, 2.6, nl) / p.lipschitz
        tols = np.logspace(-3, -9, nt)
        ref = so.sweep(solve, lr=lrs, tol=tols)
        out = so.sweep(solve, lr=jnp.asarray(lrs), tol=tols, devices=where, batch_size=batch)
        same(ref, out)
        for leaf in jax.tree_util.tree_leaves(out):
            assert isinstance(leaf, jax.Array) and leaf.shape[:2] == (nl, nt)
            assert isinstance(leaf.sharding, NamedSharding)
            assert len(leaf.sharding.device_set) == 4
        v = out.value
        if tile is None:
            assert v.sharding.is_fully_replicated and shards(v) == [(nl, nt)]
        else:
            assert not v.sharding.is_fully_replicated and shards(v) == [tile], shards(v)
            assert shards(out.params) == [tile + (5,)]
        # new values on the same devices: no retrace
        n = count["n"]
        out2 = so.sweep(solve, lr=lrs * 0.9, tol=tols, devices=where, batch_size=batch)
        assert count["n"] == n
        same(so.sweep(solve, lr=lrs * 0.9, tol=tols), out2)

    # the work is split: each device's while_loop carries 4 of the 16 padded lanes
    from subopt._sweep import _as_mesh, _grid
    axes = (np.linspace(0.1, 1.0, 3), np.logspace(-3, -9, 5))
    hlo = _grid.lower(solve, ("lr", "tol"), None, _as_mesh(devs), axes).compile().as_text()
    loops = [line for line in hlo.splitlines() if " while(" in line]
    assert loops and all("s32[4]" in line and "s32[16]" not in line for line in loops), loops
    print("OK")
    """
)


def test_sharded_over_four_cpu_devices_equals_unsharded():
    env = dict(
        os.environ,
        XLA_FLAGS="--xla_force_host_platform_device_count=4",
        JAX_PLATFORMS="cpu",
    )
    proc = subprocess.run(
        [sys.executable, "-c", SHARDED_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stdout + proc.stderr
