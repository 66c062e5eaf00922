"""The step-info contract: what optimizers report to so.run through the StepInfo in their
state, how a chain combines it, best-iterate tracking, honest INVALID/NONFINITE statuses."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import NAMES, OPTIMIZERS, SUBOPT

import subopt as so

f_sq = lambda x: jnp.sum((x - 1.0) ** 2)  # noqa: E731


def test_chain_value_is_the_objective_it_minimizes():
    # f + h at params, whatever the members: subgradient steps, then a prox of 0.5 |x|
    opt = optax.chain(so.subgradient_descent(0.1), so.apply_prox(so.prox.l1(0.5), 0.1))
    res = so.run(opt, f_sq, jnp.zeros(3), max_steps=300)
    big_f = f_sq(res.params) + 0.5 * jnp.sum(jnp.abs(res.params))
    np.testing.assert_allclose(res.value, big_f, rtol=1e-12)
    # the minimiser of (x - 1)^2 + 0.5 |x| is 0.75
    np.testing.assert_allclose(res.params, 0.75, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_result_value_is_f_plus_h_at_params(name):
    factory, fun, h, _ = OPTIMIZERS[name]
    opt = factory(h)
    res = so.run(opt, fun, jnp.zeros(3), max_steps=50, tol=0.0)
    regs = so._info.combine(so._info.infos_of(res.opt_state)).reg or ()
    want = fun(res.params) + sum(r.value(res.params) for r in regs)
    np.testing.assert_allclose(res.value, want, rtol=1e-12)


@pytest.mark.parametrize("name", SUBOPT)
def test_every_subopt_state_carries_a_step_info_from_init_on(name):
    factory, fun, h, _ = OPTIMIZERS[name]
    opt = factory(h)
    x = jnp.zeros(3)
    infos = so._info.infos_of(opt.init(x))
    assert infos and all(isinstance(i, so.StepInfo) for i in infos)
    info = so._info.combine(infos)
    assert info.valid is not None and bool(info.valid)
    if name in ("proximal_gradient", "fista", "fista_backtracking", "apply_prox_chain"):
        assert info.reg is not None and info.step is not None and info.fixed_point
    # count is a plain field of every subopt state
    assert optax.tree_utils.tree_get(opt.init(x), "count") is not None


class _MyState(NamedTuple):
    lr: jax.Array
    info: so.StepInfo


def _my_init(params):
    lr = jnp.asarray(0.25)
    return _MyState(lr, so.StepInfo(step=lr, valid=lr > 0, stationarity=jnp.asarray(jnp.inf)))


def _my_update(grads, state, params=None, **extra_args):
    # a user's optimizer reporting its own measure: |f(x_k)| of a problem with f* = 0
    updates = jax.tree_util.tree_map(lambda g: -state.lr * g, grads)
    measure = jnp.abs(extra_args["value"])
    return updates, _MyState(
        state.lr, so.StepInfo(step=state.lr, valid=state.lr > 0, stationarity=measure)
    )


def test_user_written_optimizer_implements_the_protocol():
    opt = optax.GradientTransformationExtraArgs(_my_init, _my_update)
    f = lambda x: jnp.sum(x**2)  # noqa: E731
    res = so.run(opt, f, jnp.ones(2), tol=1e-10)
    assert res.status == so.Status.CONVERGED
    assert float(res.stationarity) <= 1e-10  # its own measure, not the gradient norm
    # a traced invalid step ends INVALID
    bad = jax.jit(
        lambda lr: so.run(
            optax.GradientTransformationExtraArgs(
                lambda p: _MyState(lr, so.StepInfo(step=lr, valid=lr > 0, stationarity=jnp.inf)),
                _my_update,
            ),
            f,
            jnp.ones(2),
        )
    )
    assert int(bad(-1.0).status) == so.Status.INVALID


def test_best_iterate_tracking_for_any_optimizer():
    # momentum overshoots: the best iterate is not the last one
    f = lambda x: jnp.sum(x**2)  # noqa: E731
    opt = optax.sgd(0.1, momentum=0.9)
    res = so.run(opt, f, jnp.ones(2), max_steps=15, tol=0.0, best=True, record=True)
    last = so.run(opt, f, jnp.ones(2), max_steps=15, tol=0.0)
    assert float(res.value) == min(2.0, float(jnp.min(res.history.value)))
    assert float(res.value) < float(last.value)
    np.testing.assert_allclose(res.value, f(res.params), rtol=1e-14)
    # and best=False turns it off for the subgradient methods
    sg = so.run(so.subgradient_descent(0.5), f, jnp.ones(2), max_steps=5, tol=0.0, best=False)
    np.testing.assert_array_equal(sg.params, sg.state.x)


@pytest.mark.parametrize("name", SUBOPT)
def test_traced_invalid_step_ends_invalid(name):
    bad = jnp.array([-0.5, 0.0, np.nan, np.inf])
    if name == "polyak_subgradient":
        make = lambda t: so.polyak_subgradient(0.0, max_step=t)  # noqa: E731
        bad = bad[:3]  # an infinite cap is no cap
    elif name in ("proximal_gradient", "fista"):
        make = lambda t: getattr(so, name)(so.prox.l1(0.1), t)  # noqa: E731
    elif name == "fista_backtracking":
        make = lambda t: so.fista(so.prox.l1(0.1), so.backtracking(initial=t))  # noqa: E731
    elif name == "apply_prox_chain":
        make = lambda t: optax.chain(optax.sgd(0.5), so.apply_prox(so.prox.l1(0.1), t))  # noqa: E731
    elif name == "gradient_descent_schedule":
        make = lambda t: so.gradient_descent(so.schedules.inverse_sqrt(t))  # noqa: E731
    elif name == "subgradient_normalized":
        make = lambda t: so.subgradient_descent(t, normalize=True)  # noqa: E731
    else:
        make = lambda t: getattr(so, name)(t)  # noqa: E731
    _, fun, _, _ = OPTIMIZERS[name]
    res = jax.vmap(lambda t: so.run(make(t), fun, jnp.zeros(3), max_steps=20))(bad)
    assert np.all(np.asarray(res.status) == so.Status.INVALID), res.status
    assert np.all(np.isfinite(res.params))


def test_negative_traced_step_never_converges_at_a_maximum():
    f = lambda x: jnp.sum(jnp.cos(x))  # noqa: E731
    res = jax.jit(lambda lr: so.run(so.gradient_descent(lr), f, jnp.array([0.5])))(-0.5)
    assert int(res.status) == so.Status.INVALID and int(res.num_steps) == 0


def test_apply_prox_with_traced_infinite_step_is_invalid():
    f = lambda x: jnp.sum((x - 2.0) ** 2)  # noqa: E731
    run = jax.jit(
        lambda t: so.run(
            optax.chain(optax.sgd(0.5), so.apply_prox(so.prox.l1(0.1), t)), f, jnp.zeros(2)
        )
    )
    assert int(run(jnp.inf).status) == so.Status.INVALID
    assert int(run(0.5).status) == so.Status.CONVERGED


def test_never_converged_with_a_nonfinite_value():
    # an optimizer that claims stationarity 0 at a point outside its regularizer's set: F is
    # +inf at the returned params, so the run cannot end CONVERGED
    box = so.prox.box(1.0, 2.0)

    def info(lr):
        return so.StepInfo(reg=box, step=lr, valid=lr > 0, stationarity=jnp.zeros(()))

    def init(params):
        return _MyState(jnp.asarray(0.1), info(jnp.asarray(0.1)))

    def update(grads, state, params=None, **extra_args):
        return jax.tree_util.tree_map(jnp.zeros_like, grads), _MyState(state.lr, info(state.lr))

    opt = optax.GradientTransformationExtraArgs(init, update)
    res = so.run(opt, lambda x: jnp.sum(x**2), jnp.zeros(2))
    assert res.status == so.Status.NONFINITE and float(res.value) == np.inf
    inside = so.run(opt, lambda x: jnp.sum(x**2), jnp.ones(2))
    assert inside.status == so.Status.CONVERGED and float(inside.value) == 2.0


def test_fista_backtracking_keeps_the_extrapolated_point_in_the_domain():
    f = lambda x: jnp.sum(x - 1e-3 * jnp.log(x))  # noqa: E731
    x0 = jnp.ones(3)
    for opt in (
        so.proximal_gradient(so.prox.nonnegative(), so.backtracking(1.0)),
        so.fista(so.prox.nonnegative(), so.backtracking(1.0)),
        so.fista(so.prox.nonnegative(), so.backtracking(1.0), restart=False),
    ):
        res = so.run(opt, f, x0, max_steps=2000, tol=1e-8)
        assert res.status == so.Status.CONVERGED, so.Status(int(res.status))
        np.testing.assert_allclose(res.params, 1e-3, rtol=1e-5)


def test_unbounded_linear_objective_statuses_are_as_documented():
    f = lambda x: jnp.sum(x)  # noqa: E731
    # too slow to cross the divergence bound within max_steps: MAX_STEPS, as documented
    res = so.run(so.gradient_descent(0.1), f, jnp.zeros(2), max_steps=100)
    assert res.status == so.Status.MAX_STEPS
    res = so.run(so.gradient_descent(0.1), f, jnp.zeros(2), max_steps=100, divergence_threshold=1.0)
    assert res.status == so.Status.DIVERGED
    # Polyak below a wrong f*: the gap is never "converged", the steps keep descending
    res = so.run(so.polyak_subgradient(1.0), f, jnp.zeros(2), max_steps=50)
    assert res.status != so.Status.CONVERGED
    # Polyak lands exactly on f* of a linear f: CONVERGED at f = f*, as its docstring says
    res = so.run(so.polyak_subgradient(0.0), f, jnp.ones(2), max_steps=50)
    assert res.status == so.Status.CONVERGED and abs(float(res.value)) < 1e-12
