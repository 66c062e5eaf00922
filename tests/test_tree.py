"""subopt/_tree.py (the one tree-math module) and subopt/_info.py (the step-info contract)."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import subopt as so
from subopt import _tree as T
from subopt._info import StepInfo, combine, infos_of


def test_norm_is_overflow_and_underflow_safe(dtype):
    big = jnp.finfo(dtype).max / 4
    tiny = jnp.finfo(dtype).tiny * 4
    for s in (big, tiny):
        tree = {"a": jnp.array([3 * s], dtype) / 3, "b": (jnp.array([4.0], dtype) * s / 4,)}
        want = np.hypot(np.float64(s), np.float64(s))  # |(s, s)|
        got = T.tree_norm(tree)
        assert got.dtype == dtype
        np.testing.assert_allclose(np.float64(got), want, rtol=8 * jnp.finfo(dtype).eps)


def test_norm_derivative_is_the_min_norm_subgradient_at_zero(dtype):
    x = {"a": jnp.zeros(3, dtype), "b": jnp.zeros((), dtype)}
    g = jax.grad(T.tree_norm)(x)
    assert all(np.all(np.asarray(v) == 0) for v in jax.tree_util.tree_leaves(g))
    y = {"a": jnp.array([3.0, 0.0, 0.0], dtype), "b": jnp.array(4.0, dtype)}
    g = jax.grad(T.tree_norm)(y)
    np.testing.assert_allclose(np.asarray(g["a"]), [0.6, 0, 0], rtol=1e-6)
    np.testing.assert_allclose(float(g["b"]), 0.8, rtol=1e-6)


def test_norm_propagates_nan_and_inf():
    assert np.isnan(float(T.tree_norm([jnp.array([1.0, jnp.nan])])))
    assert float(T.tree_norm([jnp.array([1.0, -jnp.inf])])) == np.inf
    assert np.isnan(float(jax.grad(T.tree_norm)(jnp.array([jnp.nan, 0.0]))[1]))


def test_empty_trees_give_neutral_values():
    assert float(T.tree_norm({})) == 0.0
    assert float(T.tree_vdot({}, {})) == 0.0
    assert float(T.tree_sum(())) == 0.0
    assert float(T.tree_max_abs({})) == 0.0
    assert bool(T.tree_all_finite({}))


@given(
    st.lists(st.floats(-1e6, 1e6, allow_subnormal=False), min_size=1, max_size=6),
    st.lists(st.floats(-1e6, 1e6, allow_subnormal=False), min_size=1, max_size=6),
)
def test_vdot_sum_and_norm_match_numpy(u, v):
    x = {"u": jnp.asarray(u), "v": jnp.asarray(v)}
    flat = np.concatenate([u, v])
    np.testing.assert_allclose(float(T.tree_vdot(x, x)), flat @ flat, rtol=1e-12, atol=1e-300)
    m = np.max(np.abs(flat))  # numpy's norm underflows for tiny entries; ours must not
    want = m * np.linalg.norm(flat / m) if m > 0 else 0.0
    np.testing.assert_allclose(float(T.tree_norm(x)), want, rtol=1e-12)
    np.testing.assert_allclose(float(T.tree_sum(x)), flat.sum(), rtol=1e-9, atol=1e-6)
    assert float(T.tree_max_abs(x)) == np.max(np.abs(flat))


def test_leafwise_ops_keep_each_leaf_dtype():
    x = {"a": jnp.ones(2, jnp.float32), "b": jnp.ones(2, jnp.float64)}
    a = jnp.asarray(0.5, jnp.float64)
    for out in (T.tree_add_scale(x, a, x), T.tree_sub(x, x), T.tree_scale(a, x)):
        assert out["a"].dtype == jnp.float32 and out["b"].dtype == jnp.float64
    picked = T.tree_where(jnp.array(False), x, T.tree_scale(2.0, x))
    np.testing.assert_array_equal(np.asarray(picked["a"]), [2.0, 2.0])
    assert T.tree_where(jnp.array(True), x, x)["a"] is x["a"]  # same leaf: no select


def test_combine_rules():
    reg1, reg2 = so.prox.l1(0.1), so.prox.l1(0.2)
    first = StepInfo(iterate=jnp.ones(2), reg=reg1, step=jnp.array(0.5), valid=jnp.array(True))
    second = StepInfo(stationarity=jnp.array(3.0), reg=reg2, valid=jnp.array(False), best=True)
    both = combine(infos_of((first, {"inner": second})))
    assert both.reg == (reg1, reg2)
    np.testing.assert_array_equal(np.asarray(both.iterate), [1.0, 1.0])
    assert float(both.step) == 0.5 and float(both.stationarity) == 3.0
    assert not bool(both.valid) and both.best and not both.fixed_point
    assert combine([]) == StepInfo()
    fixed = combine([StepInfo(fixed_point=True)])
    assert fixed.fixed_point and fixed.valid is None


def test_step_info_is_a_pytree_with_static_flags():
    info = StepInfo(iterate=jnp.zeros(3), step=jnp.array(1.0), best=True, fixed_point=False)
    leaves, treedef = jax.tree_util.tree_flatten(info)
    assert len(leaves) == 2
    again = jax.tree_util.tree_unflatten(treedef, leaves)
    assert again.best and not again.fixed_point
    doubled = jax.jit(lambda i: jax.tree_util.tree_map(lambda v: 2 * v, i))(info)
    assert float(doubled.step) == 2.0 and doubled.best


def test_a_user_term_is_valid_by_default():
    class Mine(so.prox.Regularizer):
        pass

    assert bool(Mine().is_valid())


def test_registered_classes_never_share_a_tree_structure():
    """Structures of different classes with the same fields compare unequal, and equal
    classes with other values compare equal (one compiled program). JAX's register_dataclass
    made ``l1`` and ``ridge``, ``hyperplane`` and ``halfspace`` and the three datafits equal
    (with different hashes), and a jit cache probe that met the other class's entry ran its
    program: ``halfspace`` once returned ``hyperplane``'s projection in a CI run."""
    from itertools import combinations

    from subopt import linear_model as lm

    a = np.array([1.0, 2.0, -1.0])
    regs = [
        so.prox.l1(1.0),
        so.prox.ridge(1.0),
        so.prox.nonnegative_l1(1.0),
        so.prox.hyperplane(a, 0.5),
        so.prox.halfspace(a, 0.5),
    ]
    nodes = [*regs, lm.quadratic(), lm.logistic(), lm.poisson(), lm.l1(1.0)]
    structures = [jax.tree_util.tree_structure(n) for n in nodes]
    for i, j in combinations(range(len(nodes)), 2):
        assert structures[i] != structures[j], (nodes[i], nodes[j])
    assert jax.tree_util.tree_structure(so.prox.l1(2.0)) == structures[0]
    paths = jax.tree_util.tree_flatten_with_path(so.prox.hyperplane(a, 0.5))[0]
    assert [jax.tree_util.keystr(p) for p, _ in paths] == [".a", ".b"]
    prox = jax.jit(lambda reg, x: reg.prox(x, 1.0))  # one cache holding every class
    x = jnp.array([2.0, -3.0, 0.5])
    for reg in regs:
        np.testing.assert_allclose(prox(reg, x), reg.prox(x, 1.0), rtol=1e-6)
