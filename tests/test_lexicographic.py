"""ns.lexicographic_derivative / lexicographic_gradient: exact on cancellations, jax.grad at
smooth points, Khan and Barton's worked examples, every LD rule against hand-derived values,
control flow, jit, vmap and both float precisions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import subopt
from subopt import nonsmooth as ns

LG = ns.lexicographic_gradient
LD = ns.lexicographic_derivative


def _grad_of(f):
    return jax.jit(lambda x: LG(f, x))


# --------------------------------------------------------------------------- cancellations

CANCELLATIONS = [  # f, point, the true derivative (f is smooth there)
    (lambda x: ns.relu(x) - ns.relu(-x), 0.0, 1.0),  # = x
    (lambda x: ns.maximum(x, 0.0) + ns.minimum(x, 0.0), 0.0, 1.0),  # = x
    (lambda z: ns.hinge(z) - ns.hinge(2.0 - z), 1.0, -1.0),  # = 1 - z
    (lambda x: jnp.abs(x) - jnp.abs(-x) + 2 * x, 0.0, 2.0),  # = 2x
    (lambda x: jnp.maximum(x, 2 * x) + jnp.minimum(x, 2 * x), 0.0, 3.0),  # = 3x
]


@pytest.mark.parametrize("case", range(len(CANCELLATIONS)))
def test_cancellations_give_the_true_derivative(case, dtype):
    f, x, want = CANCELLATIONS[case]
    got = LG(f, jnp.asarray(x, dtype))
    assert got.dtype == dtype
    assert float(got) == want


W = jnp.array([[1.0, 2.0], [-1.0, 1.0], [2.0, -3.0]])


def _composites(z2):
    f = lambda x: ns.relu(x[0] + x[1]) - ns.relu(-x[0] - x[1]) + ns.relu(x[0] - x[1])  # noqa: E731
    # three ReLU units tied at x = 0 minus their mirrors: the layer is linear, W^T 1
    layer = lambda x: jnp.sum(ns.relu(W @ x)) - jnp.sum(jax.nn.relu(-W @ x))  # noqa: E731
    return LG(f, z2), LG(layer, z2), jax.grad(layer)(z2)


def test_composite_convex_kink_and_relu_layer():
    g, g_layer, chain = (np.asarray(v) for v in jax.jit(_composites)(jnp.zeros(2)))
    # df(0) = (1, 1) + conv{0, (1, -1)}: g - (1, 1) = lam (1, -1), lam in [0, 1]
    lam = g[0] - 1
    np.testing.assert_allclose(g, [1 + lam, 1 - lam], atol=0)
    assert 0 <= lam <= 1
    np.testing.assert_array_equal(g_layer, W.sum(0))
    assert not np.allclose(chain, W.sum(0))  # the chain rule is wrong


# --------------------------------------------------------------------------- published examples


def _khan_barton(z1, z2):
    f2 = lambda x: jnp.maximum(jnp.minimum(x[0], -x[1]), x[1] - x[0])  # noqa: E731
    return {
        "6.1a": LG(lambda x: jnp.abs(x[0]) - jnp.abs(x[0]), z1),
        "6.1b": LG(lambda x: jnp.maximum(x[0], 0.0) - jnp.minimum(x[0], 0.0), z1),
        "6.2": LG(f2, z2),
        "6.2 along diag(-1, 1)": LG(f2, z2, jnp.diag(jnp.array([-1.0, 1.0]))),
        "6.3": LG(lambda x: (1 + jnp.abs(x[0] - x[1])) * (x[0] - x[1]), z2),
    }


def test_khan_barton_worked_examples():
    # K. A. Khan and P. I. Barton (2013, 2015), examples 6.1-6.3, replicated by NonsmoothFwdAD
    out = jax.jit(_khan_barton)(jnp.zeros(1), jnp.zeros(2))
    assert float(out["6.1a"][0]) == 0.0  # |x| - |x| = 0
    # max(x, 0) - min(x, 0) = |x|: along e1 both kinks take the x > 0 branch
    assert float(out["6.1b"][0]) == 1.0
    # max(min(x1, -x2), x2 - x1) at 0: along e1, -x2 is the min and beats x2 - x1: (0, -1)
    np.testing.assert_array_equal(out["6.2"], [0.0, -1.0])
    # along M = diag(-1, 1): x1 decreasing makes x2 - x1 the max: J = (-1, 1)
    np.testing.assert_array_equal(out["6.2 along diag(-1, 1)"], [-1.0, 1.0])
    # (1 + |x1 - x2|)(x1 - x2) is C^1 at 0 with gradient (1, -1)
    np.testing.assert_array_equal(out["6.3"], [1.0, -1.0])


# --------------------------------------------------------------------------- rules at ties


def _ties(x3, x4, x2):
    """Every rule at ties, in one compiled call."""
    f = lambda x: (  # noqa: E731
        jnp.sum(jnp.where(x > 0, x, 0.0))  # each relu active along +e_i: (1, 1, 1)
        + jnp.max(x)  # the lexicographic max of tied entries is the first: (1, 0, 0)
        + jnp.sort(x)[0]  # the smallest is the last: (0, 0, 1)
        + jax.lax.cummax(x)[-1]  # (1, 0, 0)
        + jnp.clip(x[0], 0.0, 1.0)  # (1, 0, 0)
        + jnp.min(x)  # (0, 0, 1)
    )
    return {
        "all": LG(f, x3),
        # the direction matrix decides: along M = -I the tied entries rank the other way
        "max_minus": LG(lambda x: jnp.max(x), x3, -jnp.eye(3)),
        # a sort carries its tangents along: sort([0, 0]) along M = I is (x2, x1)
        "sort": LD(lambda x: jnp.sort(x), x2, jnp.eye(2))[1],
        # a reduction over an axis, in the ns primitive (a custom_jvp, entered by its primal)
        "rows": LD(lambda x: ns.max(x.reshape(2, 2), axis=1), x4, jnp.eye(4))[1],
        "cummin": LD(lambda x: jax.lax.cummin(x), x2, jnp.eye(2))[1],
    }


def test_rules_at_ties_against_hand_derived_values():
    out = jax.jit(_ties)(jnp.zeros(3), jnp.zeros(4), jnp.zeros(2))
    np.testing.assert_array_equal(out["all"], [4.0, 1.0, 3.0])
    np.testing.assert_array_equal(out["max_minus"], [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(out["sort"], [[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_array_equal(out["rows"], [[1, 0, 0, 0], [0, 0, 1, 0]])
    np.testing.assert_array_equal(out["cummin"], [[1.0, 0.0], [0.0, 1.0]])  # min(x1, x2) = x2


def _norms(z2, x2, z3):
    # ||x|| at 0 along M with a zero first column: row (0, ||m_2||, u . m_3), u = m_2/||m_2||
    M = jnp.array([[0.0, 3.0, 1.0], [0.0, 4.0, 0.0]])
    return {
        "l2": LD(ns.l2_norm, z2, M),
        "tree": LD(subopt._tree.tree_norm, z2, M),
        "away": LG(ns.l2_norm, x2),
        "zero": LG(ns.l2_norm, z3),
    }


def test_euclidean_norm_rule_at_zero():
    out = jax.jit(_norms)(jnp.zeros(2), jnp.array([3.0, -4.0]), jnp.zeros(3))
    for key in ("l2", "tree"):
        value, d = out[key]
        assert float(value) == 0.0
        np.testing.assert_allclose(d, [0.0, 5.0, 0.6], rtol=1e-15)
    np.testing.assert_allclose(out["away"], [0.6, -0.8], rtol=1e-15)
    # jnp.linalg.norm's own code at 0 takes sqrt at 0: NaN; the ns rule never is
    assert np.all(np.isfinite(out["zero"]))


def test_nuclear_norm_rule_is_a_subgradient_at_rank_deficient_points():
    rng = np.random.default_rng(0)
    u, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    v, _ = np.linalg.qr(rng.standard_normal((2, 2)))
    X = jnp.asarray(u[:, :1] @ v[:, :1].T * 2.0)  # rank 1
    for M in (None, jnp.asarray(np.linalg.qr(rng.standard_normal((6, 6)))[0])):
        G = np.asarray(LG(ns.nuclear_norm, X, M))
        # a subgradient of ||.||_* at X: spectral norm <= 1 and <G, X> = ||X||_* = 2
        assert np.linalg.norm(G, 2) <= 1 + 1e-12
        np.testing.assert_allclose(np.sum(G * np.asarray(X)), 2.0, rtol=1e-12)


# --------------------------------------------------------------------------- smooth points

A = np.random.default_rng(1).standard_normal((5, 4))


def _mix(x, numpy):
    """A composition with kinks everywhere in jnp or ns: smooth at a generic point."""
    z = jnp.asarray(A) @ x
    kinks = numpy.abs(z[0] - z[1]) + numpy.maximum(z[2], 0.5 * z[3]) + jnp.sort(z)[1]
    smooth = jnp.sum(jnp.sin(z) * jnp.exp(-0.1 * x.sum() ** 2)) + jnp.logaddexp(z[0], z[4])
    return kinks + smooth + jnp.where(z[1] > z[2], z[1] ** 2, z[2]) + jnp.max(z) * z[4]


_ld_mix = jax.jit(lambda x: LG(lambda v: _mix(v, ns), x))
_grad_mix = jax.jit(jax.grad(lambda x: _mix(x, jnp)))


@given(arrays(np.float64, 4, elements=st.floats(-3, 3)))
def test_random_smooth_points_equal_jax_grad(x):
    x = jnp.asarray(x)
    z = np.asarray(A @ np.asarray(x))
    gaps = [z[0] - z[1], z[2] - 0.5 * z[3], z[1] - z[2], *np.diff(np.sort(z))]
    if np.min(np.abs(gaps)) < 1e-9:  # at (or within rounding of) a kink
        return
    np.testing.assert_allclose(_ld_mix(x), _grad_mix(x), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- control flow


@jax.custom_vjp
def _cube(y):
    return y**3


_cube.defvjp(lambda y: (y**3, y), lambda y, g: (3 * y**2 * g,))


def _flow(x, pair=lambda xi: ns.relu(xi) - ns.relu(-xi), cube=_cube):
    c, ys = jax.lax.scan(lambda c, xi: (c + pair(xi), c * xi), 0.0, x)
    _, w = jax.lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * 2), (0, x[0]))
    k = jax.lax.cond(x[1] > 0, lambda y: jnp.sin(y), lambda y: -y, x[2])
    r = jax.checkpoint(jnp.tanh)(x[2])
    return c + jnp.sum(ys) + w + k + r + cube(x[0]) + jax.jit(jnp.abs)(x[0] - 1)


def test_control_flow_is_entered():
    x = jnp.array([0.3, -0.2, 0.5])
    x0 = jnp.array([0.0, 0.0, 0.5])
    lg = jax.jit(jax.vmap(lambda x: LG(_flow, x)))(jnp.stack([x, x0]))
    # the reference: the same code with the custom_vjp's primal (jacfwd cannot enter it)
    np.testing.assert_allclose(lg[0], jax.jacfwd(lambda x: _flow(x, cube=lambda y: y**3))(x))
    # kinks inside the scan at exact zeros: relu(x) - relu(-x) is x there
    smooth = lambda x: _flow(x, pair=lambda xi: xi, cube=lambda y: y**3)  # noqa: E731
    np.testing.assert_allclose(lg[1], jax.jacfwd(smooth)(x0), rtol=1e-13)


def test_jit_vmap_pytrees_and_dtypes(dtype):
    f = lambda p: ns.relu(p["a"][0] + p["b"]) - ns.relu(-p["a"][0] - p["b"]) + ns.abs(p["a"][1])  # noqa: E731
    p = {"a": jnp.zeros((3, 2), dtype)[0], "b": jnp.zeros((), dtype)}
    g = jax.jit(lambda p: LG(f, p))(p)
    assert g["a"].dtype == dtype and g["b"].dtype == dtype
    np.testing.assert_array_equal(g["a"], [1.0, 1.0])  # |a_1| along +e: 1 (a subgradient)
    assert float(g["b"]) == 1.0
    batch = {"a": jnp.asarray([[0.0, 0.0], [1.0, -2.0]], dtype), "b": jnp.zeros(2, dtype)}
    gb = jax.jit(jax.vmap(lambda p: LG(f, p)))(batch)
    np.testing.assert_array_equal(gb["a"], [[1.0, 1.0], [1.0, -1.0]])


def test_errors_name_what_is_wrong():
    with pytest.raises(NotImplementedError, match="eigh"):
        LG(lambda x: jnp.linalg.eigh(jnp.diag(x))[0].sum(), jnp.ones(2))
    with pytest.raises(ValueError, match="directions"):
        LD(jnp.sum, jnp.ones(3), jnp.eye(2))
    with pytest.raises(ValueError, match="scalar"):
        LG(lambda x: x, jnp.ones(2))
    with pytest.raises(TypeError, match="x must hold"):
        LG(jnp.sum, jnp.ones(2, int))
    with pytest.raises(TypeError, match="fun"):
        LG(3.0, jnp.ones(2))


def test_nan_in_gives_nan_out():
    value, d = LD(lambda x: jnp.max(ns.abs(x)), jnp.array([1.0, jnp.nan]), jnp.eye(2))
    assert np.isnan(value) and np.all(np.isnan(d))
