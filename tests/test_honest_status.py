"""Issue 12's property: invalid traced hyperparameters never end CONVERGED.

For every optimizer and every regularizer hyperparameter, a traced value drawn from
{negative, 0, NaN, +inf, -inf} never ends CONVERGED with a non-finite value, and never ends
CONVERGED where the problem is infeasible or the step invalid. One compiled program per
(optimizer, term): the bad values are data.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import subopt as so

BAD = [-1.0, 0.0, float("nan"), float("inf"), float("-inf")]
X0 = jnp.array([0.5, -1.0, 2.0])


def f(x):
    return 0.5 * jnp.sum((x - jnp.array([1.0, -2.0, 0.3])) ** 2)


def honest(res, valid):
    status = int(res.status)
    if status == so.Status.CONVERGED:
        assert np.isfinite(float(res.value)), "CONVERGED with a non-finite objective"
        assert valid, "CONVERGED with an invalid hyperparameter"


STEP_METHODS = {
    "gradient_descent": lambda t: so.gradient_descent(t),
    "subgradient_descent": lambda t: so.subgradient_descent(t),
    "proximal_gradient": lambda t: so.proximal_gradient(so.prox.l1(0.1), t),
    "fista": lambda t: so.fista(so.prox.l1(0.1), t),
    "apply_prox": lambda t: optax.chain(optax.sgd(0.5), so.apply_prox(so.prox.l1(0.1), t)),
}


@pytest.mark.parametrize("name", sorted(STEP_METHODS))
def test_invalid_traced_steps_never_converge(name):
    solve = jax.jit(lambda t: so.run(STEP_METHODS[name](t), f, X0, max_steps=200, tol=1e-6))
    for t in BAD:
        res = solve(jnp.asarray(t))
        honest(res, valid=False)
        assert int(res.status) != so.Status.CONVERGED, (name, t)
    good = solve(jnp.asarray(0.5))  # the same program solves with a valid step
    assert int(good.status) == so.Status.CONVERGED


def test_polyak_with_invalid_traced_f_star_never_converges():
    solve = jax.jit(lambda fs: so.run(so.polyak_subgradient(fs), f, X0, max_steps=200))
    for fs in (float("nan"), float("inf"), float("-inf")):
        res = solve(jnp.asarray(fs))
        assert int(res.status) != so.Status.CONVERGED, fs


# every regularizer hyperparameter, one at a time; `valid(v)` says whether v is proper there
TERMS = {
    "l1": (lambda v: so.prox.l1(v), lambda v: v >= 0 and np.isfinite(v)),
    "l2": (lambda v: so.prox.l2(v), lambda v: v >= 0 and np.isfinite(v)),
    "group_l2": (lambda v: so.prox.group_l2(v), lambda v: v >= 0 and np.isfinite(v)),
    "elastic_net.l1": (lambda v: so.prox.elastic_net(v, 0.1), lambda v: v >= 0 and np.isfinite(v)),
    "elastic_net.l2": (lambda v: so.prox.elastic_net(0.1, v), lambda v: v >= 0 and np.isfinite(v)),
    "l1_ball": (lambda v: so.prox.l1_ball(v), lambda v: v >= 0 and not np.isnan(v)),
    "l2_ball": (lambda v: so.prox.l2_ball(v), lambda v: v >= 0 and not np.isnan(v)),
    "linf_ball": (lambda v: so.prox.linf_ball(v), lambda v: v >= 0 and not np.isnan(v)),
    "box.lower": (lambda v: so.prox.box(v, 3.0), lambda v: v <= 3.0 and not np.isnan(v)),
    "box.upper": (lambda v: so.prox.box(-3.0, v), lambda v: v >= -3.0 and not np.isnan(v)),
}


@pytest.mark.parametrize("name", sorted(TERMS))
@pytest.mark.parametrize("method", ["fista", "proximal_gradient"])
def test_invalid_traced_regularizer_hyperparameters_never_converge(name, method):
    make, valid = TERMS[name]
    build = so.fista if method == "fista" else so.proximal_gradient
    solve = jax.jit(lambda v: so.run(build(make(v), 0.5), f, X0, max_steps=300, tol=1e-6))
    for v in BAD:
        res = solve(jnp.asarray(v))
        honest(res, valid=bool(valid(v)))
        if not valid(v):
            assert int(res.status) != so.Status.CONVERGED, (name, v)
