"""Schedules: values against their formulas, pytree-ness, validation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import subopt as so
from subopt import schedules

K = np.arange(6)


@pytest.mark.parametrize(
    "sched, formula",
    [
        (schedules.constant(0.3), lambda k: 0.3 + 0 * k),
        (schedules.inverse_time(2.0), lambda k: 2.0 / (1.0 + k)),
        (schedules.inverse_time(2.0, 4.0), lambda k: 2.0 / (4.0 + k)),
        (schedules.inverse_sqrt(1.5), lambda k: 1.5 / np.sqrt(1.0 + k)),
        (schedules.inverse_sqrt(1.5, 0.5), lambda k: 1.5 / np.sqrt(0.5 + k)),
        (schedules.polynomial(1.0, 0.75), lambda k: 1.0 / (1.0 + k) ** 0.75),
        (schedules.polynomial(3.0, 2.0, 2.0), lambda k: 3.0 / (2.0 + k) ** 2),
    ],
)
def test_schedule_values(sched, formula):
    got = jax.vmap(sched)(jnp.asarray(K, jnp.int32))
    np.testing.assert_allclose(got, formula(K), rtol=1e-12)


def test_schedules_are_pytrees_and_vmappable():
    a = jnp.array([0.5, 1.0, 2.0])
    vals = jax.vmap(lambda a: schedules.inverse_time(a, 2.0)(3))(a)
    np.testing.assert_allclose(vals, a / 5.0)
    leaves = jax.tree_util.tree_leaves(schedules.polynomial(1.0, 0.5, 2.0))
    assert len(leaves) == 3


def test_gradient_descent_with_schedule_uses_count():
    opt = so.gradient_descent(schedules.inverse_time(1.0))
    state = opt.init(jnp.zeros(1))
    steps = []
    for _ in range(3):
        u, state = opt.update(jnp.ones(1), state)
        steps.append(-float(u[0]))
    np.testing.assert_allclose(steps, [1.0, 0.5, 1.0 / 3.0])


def test_arbitrary_callable_schedule():
    opt = so.gradient_descent(lambda k: 0.5 ** (k + 1))
    state = opt.init(jnp.zeros(1))
    u, state = opt.update(jnp.ones(1), state)
    u, state = opt.update(jnp.ones(1), state)
    np.testing.assert_allclose(u, [-0.25])


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: schedules.constant(0.0), "a"),
        (lambda: schedules.inverse_time(-1.0), "a"),
        (lambda: schedules.inverse_time(1.0, 0.0), "b"),
        (lambda: schedules.inverse_sqrt(1.0, -2.0), "b"),
        (lambda: schedules.polynomial(1.0, 0.0), "p"),
        (lambda: schedules.polynomial(1.0, float("nan")), "p"),
        (lambda: schedules.inverse_sqrt(float("inf")), "a"),
    ],
)
def test_bad_schedule_constants(make, name):
    with pytest.raises(ValueError, match=f"^{name} must"):
        make()


def test_traced_constants_pass():
    f = jax.jit(lambda a: schedules.inverse_sqrt(a)(jnp.int32(3)))
    np.testing.assert_allclose(f(4.0), 2.0)
