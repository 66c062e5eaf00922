"""Honest regularizers (issue 12, items 1, 2, 4, 10, 11): the structure rule for per-leaf
hyperparameters, is_valid for traced hyperparameters drawn from {negative, 0, NaN, +inf,
-inf} on every term (False exactly when the constructor would reject the value; then every
output is NaN), NaN in gives NaN out, exact jacobians where the maps are locally linear, and
Python-number leaves."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import subopt as so

P = so.prox
X = {"w": jnp.array([1.0, -2.0]), "b": jnp.array([3.0])}


@pytest.mark.parametrize(
    "build",
    [
        lambda: P.l1({"w": 0.5}),
        lambda: P.l1({"typo": 0.5}),
        lambda: P.box({"w": 0.0}, {"w": 1.0}),
        lambda: P.elastic_net({"b": 0.1}, 0.0),
        lambda: P.group_l2({"w": 1.0}),
    ],
)
def test_a_partial_hyperparameter_tree_is_an_error_naming_both_structures(build):
    with pytest.raises(ValueError, match=r"structure PyTreeDef.*structure of x, PyTreeDef"):
        build().prox(X, 1.0)


def test_a_prefix_of_the_params_structure_applies_to_each_subtree():
    x = {"w": {"p": jnp.array([1.0, -2.0]), "q": jnp.array([0.5])}, "b": jnp.array([3.0])}
    out = P.l1({"w": 0.5, "b": 0.0}).prox(x, 1.0)
    np.testing.assert_allclose(out["w"]["p"], [0.5, -1.5])
    np.testing.assert_allclose(out["w"]["q"], [0.0])
    np.testing.assert_allclose(out["b"], [3.0])
    out = P.box({"w": -1.0, "b": 0.0}, 1.0).prox(x, 1.0)
    np.testing.assert_allclose(out["w"]["p"], [1.0, -1.0])
    np.testing.assert_allclose(out["b"], [1.0])


# ----------------------------------------------------------------- traced invalid values

V3 = jnp.array([0.5, -2.0, 0.0])
M2 = jnp.array([[1.0, 2.0], [0.0, -1.0]])
A3 = jnp.array([1.0, 2.0, -1.0])
LAB = np.array([0, 0, 1])

# every hyperparameter slot of every term: name -> (build(v), x)
SLOTS = {
    "l1": (lambda v: P.l1(v), V3),
    "l2": (lambda v: P.l2(v), V3),
    "group_l2": (lambda v: P.group_l2(v), V3),
    "group_l2 labels": (lambda v: P.group_l2(v, groups=LAB), V3),
    "group_l2 weights": (lambda v: P.group_l2(1.0, groups=LAB, weights=jnp.stack([v, 1.0])), V3),
    "elastic_net l1": (lambda v: P.elastic_net(v, 1.0), V3),
    "elastic_net l2": (lambda v: P.elastic_net(1.0, v), V3),
    "ridge": (lambda v: P.ridge(v), V3),
    "nonnegative_l1": (lambda v: P.nonnegative_l1(v), V3),
    "nuclear": (lambda v: P.nuclear(v), M2),
    "box lower": (lambda v: P.box(v, 1.0), V3),
    "box upper": (lambda v: P.box(-1.0, v), V3),
    "linf_ball": (lambda v: P.linf_ball(v), V3),
    "l2_ball": (lambda v: P.l2_ball(v), V3),
    "l1_ball": (lambda v: P.l1_ball(v), V3),
    "simplex": (lambda v: P.simplex(v), V3),
    "l2_sphere": (lambda v: P.l2_sphere(v), V3),
    "hyperplane a": (lambda v: P.hyperplane(A3.at[0].set(v), 1.0), V3),
    "hyperplane scalar a": (lambda v: P.hyperplane(v, 1.0), V3),
    "halfspace b": (lambda v: P.halfspace(A3, v), V3),
    "affine_set A": (lambda v: P.affine_set(jnp.stack([A3.at[0].set(v)]), jnp.ones(1)), V3),
    "affine_set b": (lambda v: P.affine_set(A3[None], v[None]), V3),
    "box_section lower": (lambda v: P.box_section(v, 1.0, jnp.ones(3), 0.5), V3),
    "box_section c": (lambda v: P.box_section(0.0, 1.0, jnp.ones(3), v), V3),
    "total_variation_1d": (lambda v: P.total_variation_1d(v), V3),
    "sorted_l1": (lambda v: P.sorted_l1(jnp.array([2.0, 1.0, 0.0]).at[2].set(v)), V3),
    "separable": (lambda v: P.separable((P.l1(v), P.zero())), (V3, V3)),
}
SPECIAL = np.array([-1.0, 0.0, np.nan, np.inf, -np.inf, 0.7])


def concretely_valid(build, v):
    """The constructor's verdict on the concrete value: accepted, or a ValueError."""
    try:
        build(jnp.asarray(float(v)))
    except ValueError:
        return False
    return True


@jax.jit
def _all_slots(values):
    def one(build, x):
        def at(v):
            reg = build(v)
            nan_x = jax.tree_util.tree_map(lambda u: u.at[(0,) * u.ndim].set(jnp.nan), x)
            return reg.is_valid(), reg.prox(x, 0.5), reg.value(x), reg.prox(nan_x, 0.5)

        return jax.vmap(at)(values)

    return {name: one(build, x) for name, (build, x) in SLOTS.items()}


def _leaves(tree):
    return [np.asarray(v) for v in jax.tree_util.tree_leaves(tree)]


def test_is_valid_is_false_exactly_for_rejected_values_and_outputs_are_then_nan():
    out = _all_slots(jnp.asarray(SPECIAL))
    for name, (build, _) in SLOTS.items():
        valid, prox, value, prox_nan = out[name]
        for i, v in enumerate(SPECIAL):
            want = concretely_valid(build, v)
            assert bool(valid[i]) == want, (name, v)
            leaves = [leaf[i] for leaf in _leaves(prox)]
            if want:  # a proper term: finite prox of a finite point, a real value
                assert all(np.all(np.isfinite(p)) for p in leaves), (name, v)
                assert not np.isnan(value[i]), (name, v)
            else:  # never finite-but-wrong
                assert all(np.all(np.isnan(p)) for p in leaves), (name, v)
                assert np.isnan(value[i]), (name, v)
            # NaN in, NaN out: a NaN entry of x never gives an all-finite prox
            assert any(np.any(np.isnan(leaf[i])) for leaf in _leaves(prox_nan)), (name, v)


def test_min_norm_and_directional_are_nan_for_invalid_traced_hyperparameters():
    @jax.jit
    def calc(lam, radius):
        l1, ball = P.l1(lam), P.l2_ball(radius)
        return (
            l1.min_norm(V3, V3),
            l1.directional(V3, V3),
            ball.min_norm(V3, V3),
            ball.directional(V3, V3),
        )

    assert all(np.all(np.isnan(np.asarray(o))) for o in calc(jnp.inf, jnp.nan))
    assert not any(np.any(np.isnan(np.asarray(o))) for o in calc(0.5, 3.0))


# ----------------------------------------------------------------- exact jacobians


def test_jacobians_are_exact_where_the_maps_are_locally_linear():
    assert jax.grad(lambda v: P.project_l1_ball(v, 1.0))(0.0) == 1.0
    jac = jax.jacobian(lambda v: P.elastic_net(0.0, 1.0).prox(v, 1.0))(jnp.zeros(3))
    np.testing.assert_allclose(jac, 0.5 * np.eye(3))
    jac = jax.jacobian(lambda v: P.l1(0.0).prox(v, 1.0))(jnp.array([0.0, 1.0]))
    np.testing.assert_allclose(jac, np.eye(2))
    jac = jax.jacobian(lambda v: P.soft_threshold(v, 1.0))(jnp.array([0.5, -3.0]))
    np.testing.assert_allclose(jac, np.diag([0.0, 1.0]))
    jac = jax.jacobian(lambda v: P.l2(0.0).prox(v, 1.0))(jnp.zeros(2))
    np.testing.assert_allclose(jac, np.eye(2))
    jac = jax.jacobian(lambda v: P.l2(1.0).prox(v, 1.0))(jnp.zeros(2))
    np.testing.assert_allclose(jac, np.zeros((2, 2)))


def test_l1_and_l2_balls_share_the_boundary_convention_identity_on_the_closed_ball():
    on_l1 = jnp.array([0.25, -0.75])  # ||.||_1 = 1
    on_l2 = jnp.array([0.6, -0.8])  # ||.||_2 = 1
    for reg, x in ((P.l1_ball(1.0), on_l1), (P.l2_ball(1.0), on_l2)):
        np.testing.assert_allclose(reg.prox(x, 1.0), x)
        np.testing.assert_allclose(jax.jacobian(lambda v, r=reg: r.prox(v, 1.0))(x), np.eye(2))


# ----------------------------------------------------------------- Python-number leaves


def test_python_float_leaves_work_for_every_term():
    x = (-1.0, {"k": 1.0})  # Python floats, closed over: the methods see them as they are
    regs = [
        P.zero(),
        P.l1(0.5),
        P.l2(0.5),
        P.group_l2(0.5),
        P.elastic_net(0.5, 1.0),
        P.ridge(1.0),
        P.nonnegative_l1(0.5),
        P.nonnegative(),
        P.box(-0.5, 0.5),
        P.linf_ball(0.5),
        P.l2_ball(0.5),
        P.l1_ball(0.5),
        P.simplex(),
        P.l2_sphere(1.0),
        P.hyperplane(1.0, 0.0),
        P.halfspace(1.0, 0.0),
        P.affine_set(jnp.ones((1, 2)), jnp.ones(1)),
        P.box_section(0.0, 1.0, 1.0, 1.0),
        P.total_variation_1d(0.5),
        P.sorted_l1(jnp.array([1.0, 0.5])),
        P.group_l2(0.5, groups=np.array(0)),
        P.separable((P.l1(0.5), P.zero())),
    ]

    @jax.jit
    def run_all(regs):
        outs = []
        for reg in regs:
            out = reg.prox(x, 1.0)
            outs.append((out, reg.value(out)))
        return outs

    for reg, (out, value) in zip(regs, run_all(regs)):
        assert jax.tree_util.tree_structure(out) == jax.tree_util.tree_structure(x), reg
        assert value == 0.0 or np.isfinite(value), reg
    assert P.nonnegative().prox((-1.0, {"k": 1.0}), 1.0)[0] == 0.0  # eager, as in the issue
    for reg in (P.l1(0.5), P.box(-0.5, 0.5), P.l2(0.5)):  # the other methods, eagerly
        assert jnp.shape(reg.directional(x, x)) == ()
        assert jax.tree_util.tree_structure(reg.min_norm(x, x)) == jax.tree_util.tree_structure(x)
