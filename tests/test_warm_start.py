"""Warm starts: so.run(..., state=result.state) resumes a run exactly."""

import chex
import jax.numpy as jnp
import optax
import pytest
from helpers import OPTIMIZERS, SUBOPT

import subopt as so


@pytest.mark.parametrize("name", [*SUBOPT, "optax_adam"])
def test_n_then_n_more_steps_equal_2n_steps_bitwise(name):
    factory, fun, h, _ = OPTIMIZERS[name]
    opt = factory(h)
    n = 7
    x0 = jnp.zeros(3)
    once = so.run(opt, fun, x0, max_steps=2 * n, tol=0.0)
    first = so.run(opt, fun, x0, max_steps=n, tol=0.0)
    second = so.run(opt, fun, first.params, max_steps=n, tol=0.0, state=first.state)
    assert int(second.status) == int(once.status) == so.Status.MAX_STEPS
    chex.assert_trees_all_equal(second.params, once.params, strict=True)
    chex.assert_trees_all_equal(second.value, once.value, strict=True)
    chex.assert_trees_all_equal(second.state, once.state, strict=True)


def test_resume_of_a_converged_run_takes_no_step():
    res = so.run(so.gradient_descent(0.5), lambda x: jnp.sum(x**2), jnp.ones(2), tol=1e-8)
    again = so.run(
        so.gradient_descent(0.5), lambda x: jnp.sum(x**2), res.params, tol=1e-8, state=res.state
    )
    assert again.status == so.Status.CONVERGED and int(again.num_steps) == 0


def test_state_from_another_optimizer_or_structure_is_a_type_error():
    f = lambda x: jnp.sum(x**2)  # noqa: E731
    res = so.run(so.gradient_descent(0.5), f, jnp.ones(2), max_steps=3)
    with pytest.raises(TypeError, match="state"):
        so.run(so.fista(so.prox.l1(0.1), 0.5), f, jnp.ones(2), state=res.state)
    with pytest.raises(TypeError, match="state"):
        so.run(so.gradient_descent(0.5), f, jnp.ones(3), state=res.state)
    with pytest.raises(TypeError, match="state"):
        so.run(so.gradient_descent(0.5), f, jnp.ones(2), state=res.opt_state)
    with pytest.raises(TypeError, match="state"):
        so.run(optax.adam(0.1), f, jnp.ones(2), state=res.state)
