"""subopt.nonsmooth under jax's transforms in float32 and float64, agreement with jax away from
kinks, second derivatives, and the numerics of l2_norm and nuclear_norm."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import subopt
from subopt import nonsmooth as ns


def _mat(x):
    return x.reshape(2, 3)


# name: (subopt function, jax.numpy counterpart, kink point, its minimum-norm gradient written
# out by hand). Every function maps a vector to a scalar.
CASES = {
    "abs": (lambda x: jnp.sum(ns.abs(x)), lambda x: jnp.sum(jnp.abs(x)), [0, -1.5, 2], [0, -1, 1]),
    "relu": (
        lambda x: jnp.sum(ns.relu(x)),
        lambda x: jnp.sum(jnp.maximum(x, 0)),
        [0, -1, 2],
        [0, 0, 1],
    ),
    "hinge": (
        lambda x: jnp.sum(ns.hinge(x)),
        lambda x: jnp.sum(jnp.maximum(0, 1 - x)),
        [1, 0.5, 3],
        [0, -1, 0],
    ),
    "maximum_const": (
        lambda x: jnp.sum(ns.maximum(x, 0.5)),
        lambda x: jnp.sum(jnp.maximum(x, 0.5)),
        [0.5, 1, 0],
        [0, 1, 0],
    ),
    "maximum_pair": (
        lambda x: jnp.sum(ns.maximum(x[:2], x[2:])),
        lambda x: jnp.sum(jnp.maximum(x[:2], x[2:])),
        [1, 2, 1, 0],
        [0.5, 1, 0.5, 0],
    ),
    "minimum_pair": (
        lambda x: jnp.sum(ns.minimum(x[:2], x[2:])),
        lambda x: jnp.sum(jnp.minimum(x[:2], x[2:])),
        [1, 2, 1, 0],
        [0.5, 0, 0.5, 1],
    ),
    "max": (ns.max, jnp.max, [2, 2, 1], [0.5, 0.5, 0]),
    "max_axis": (
        lambda x: jnp.sum(ns.max(_mat(x), axis=1)),
        lambda x: jnp.sum(jnp.max(_mat(x), axis=1)),
        [1, 1, 1, 0, 3, 3],
        [1 / 3, 1 / 3, 1 / 3, 0, 0.5, 0.5],
    ),
    "min_axis": (
        lambda x: jnp.sum(ns.min(_mat(x), axis=0, keepdims=True)),
        lambda x: jnp.sum(jnp.min(_mat(x), axis=0, keepdims=True)),
        [1, 0, 2, 1, 3, 0],
        [0.5, 1, 0, 0.5, 0, 1],
    ),
    "l1": (ns.l1_norm, lambda x: jnp.sum(jnp.abs(x)), [0, -2, 3], [0, -1, 1]),
    "l2": (ns.l2_norm, jnp.linalg.norm, [0, 0, 0], [0, 0, 0]),
    "linf": (ns.linf_norm, lambda x: jnp.max(jnp.abs(x)), [2, -2, 1], [0.5, -0.5, 0]),
    "nuclear": (
        lambda x: ns.nuclear_norm(_mat(x)),
        lambda x: jnp.linalg.norm(_mat(x), "nuc"),
        [1, 0, 0, 0, 0, 0],
        [1, 0, 0, 0, 0, 0],
    ),
}


def _tol(dtype):
    return 1e-6 if dtype == jnp.float32 else 1e-14


def _all_transforms(fun):
    """grad, jacrev, jacfwd, jvp, vjp, vmap and hessian of ``fun``, in one compiled program."""

    def run(x, d, batch):
        value, slope = jax.jvp(fun, (x,), (d,))
        _, pullback = jax.vjp(fun, x)
        return {
            "value": value,
            "grad": jax.grad(fun)(x),
            "jacrev": jax.jacrev(fun)(x),
            "jacfwd": jax.jacfwd(fun)(x),
            "jvp": slope,
            "vjp": pullback(jnp.ones((), value.dtype))[0],
            "vmap": jax.vmap(jax.grad(fun))(batch),
            "hessian": jax.hessian(fun)(x),
        }

    return jax.jit(run)


@pytest.mark.parametrize("name", list(CASES))
def test_transforms_at_kinks(name, dtype):
    fun, _, kink, want = CASES[name]
    x = jnp.asarray(kink, dtype)
    want = np.asarray(want)
    rng = np.random.default_rng(len(name))
    smooth = jnp.asarray(rng.standard_normal(x.shape), dtype)
    d = jnp.asarray(rng.standard_normal(x.shape), dtype)
    tol = _tol(dtype)

    out = _all_transforms(fun)(x, d, jnp.stack([x, smooth]))
    for key, val in out.items():
        assert val.dtype == dtype, key
    for key in ("grad", "jacrev", "jacfwd", "vjp"):
        np.testing.assert_allclose(out[key], want, atol=tol, err_msg=key)
    np.testing.assert_allclose(out["jvp"], want @ np.asarray(d), atol=10 * tol)
    np.testing.assert_allclose(out["vmap"][0], want, atol=tol)
    g_smooth = jax.jit(jax.grad(fun))(smooth)  # unbatched, compiled on its own
    np.testing.assert_allclose(out["vmap"][1], g_smooth, rtol=10 * tol, atol=tol)
    assert bool(jnp.all(jnp.isfinite(out["hessian"])))


@pytest.mark.parametrize("name", list(CASES))
def test_matches_jax_away_from_kinks(name):
    fun, reference, kink, _ = CASES[name]
    xs = jnp.asarray(np.random.default_rng(7).standard_normal((3, len(kink))))  # no ties
    ours = jax.jit(jax.vmap(jax.value_and_grad(fun)))(xs)
    theirs = jax.jit(jax.vmap(jax.value_and_grad(reference)))(xs)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-13)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12, atol=1e-15)


def test_public_namespace():
    assert subopt.nonsmooth is ns
    assert set(ns.__all__) == {
        "ClarkeInfo",
        "clarke_min_norm",
        "lexicographic_derivative",
        "lexicographic_gradient",
        "abs",
        "relu",
        "maximum",
        "minimum",
        "max",
        "min",
        "hinge",
        "l1_norm",
        "l2_norm",
        "linf_norm",
        "nuclear_norm",
        "pointwise_max",
    }


# --------------------------------------------------------------------------- l2 numerics


@pytest.mark.parametrize(
    "entries, dtype",
    [
        ([3e150, 4e150], jnp.float64),
        ([3e-150, -4e-150], jnp.float64),
        ([1e150, 1e-150], jnp.float64),
        ([3e30, 4e30], jnp.float32),
        ([3e-30, 4e-30], jnp.float32),
    ],
)
def test_l2_norm_neither_overflows_nor_underflows(entries, dtype):
    x = {"a": jnp.asarray(entries[:1], dtype), "b": jnp.asarray(entries[1], dtype)}
    big = max(abs(e) for e in entries)
    want = big * np.sqrt(sum((e / big) ** 2 for e in entries))
    value, g = jax.value_and_grad(ns.l2_norm)(x)
    assert value.dtype == dtype
    np.testing.assert_allclose(value, want, rtol=_tol(dtype) * 10)
    flat = np.concatenate([np.ravel(g["a"]), np.ravel(g["b"])])
    np.testing.assert_allclose(flat, np.asarray(entries) / want, rtol=10 * _tol(dtype))


def test_l2_norm_second_derivatives():
    x = jnp.array([3.0, 4.0, 0.0])
    u = np.asarray(x) / 5
    want = (np.eye(3) - np.outer(u, u)) / 5
    hessian = jax.jit(jax.hessian(ns.l2_norm))
    np.testing.assert_allclose(hessian(x), want, rtol=1e-14, atol=1e-16)
    np.testing.assert_array_equal(hessian(jnp.zeros(3)), np.zeros((3, 3)))


def test_non_finite_inputs_give_non_finite_outputs():
    x = jnp.array([1.0, jnp.nan, 2.0])
    for fun in (ns.max, ns.l2_norm, ns.linf_norm):
        assert np.isnan(fun(x)) and np.all(np.isnan(jax.grad(fun)(x))), fun
    assert np.isinf(ns.l2_norm(jnp.array([1.0, jnp.inf])))


# --------------------------------------------------------------------------- nuclear numerics


_nuc_grad = jax.jit(jax.grad(ns.nuclear_norm))
_nuc_hvp = jax.jit(lambda X, T: jax.jvp(jax.grad(ns.nuclear_norm), (X,), (T,))[1])


def _fd_hvp(X, T, h=1e-5):
    return (_nuc_grad(X + h * T) - _nuc_grad(X - h * T)) / (2 * h)


@pytest.mark.parametrize("shape", [(4, 3), (3, 4)])
def test_nuclear_norm_second_derivative_matches_finite_differences(shape):
    rng = np.random.default_rng(3)
    X = jnp.asarray(rng.standard_normal(shape))
    T = jnp.asarray(rng.standard_normal(shape))
    np.testing.assert_allclose(_nuc_hvp(X, T), _fd_hvp(X, T), atol=1e-8)


def test_nuclear_norm_repeated_singular_values():
    rng = np.random.default_rng(4)
    U = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    V = np.linalg.qr(rng.standard_normal((4, 3)))[0]  # orthonormal columns
    X = jnp.asarray(U @ np.diag([2.0, 2.0, 1.0]) @ V.T)  # full rank, a repeated value
    T = jnp.asarray(rng.standard_normal((3, 4)))
    np.testing.assert_allclose(_nuc_grad(X), U @ V.T, atol=1e-13)
    np.testing.assert_allclose(_nuc_hvp(X, T), _fd_hvp(X, T), atol=1e-8)
    # rank-deficient with repeated values, and 0: finite second derivatives
    Y = jnp.asarray(U @ np.diag([1.0, 1.0, 0.0]) @ V.T)
    assert np.all(np.isfinite(_nuc_hvp(Y, T))) and np.all(_nuc_hvp(0 * Y, T) == 0)
    # a batch of matrices
    batch = jax.jit(jax.vmap(jax.grad(ns.nuclear_norm)))(jnp.stack([X, Y, 0 * Y]))
    np.testing.assert_allclose(batch[0], U @ V.T, atol=1e-13)
    np.testing.assert_allclose(batch[1], U[:, :2] @ V[:, :2].T, atol=1e-13)
    np.testing.assert_array_equal(batch[2], 0)


def test_nuclear_norm_cutoff_follows_matrix_rank():
    # a singular value below max(m, n) * eps * sigma_max counts as zero
    eps32 = float(np.finfo(np.float32).eps)
    X = jnp.asarray(np.diag([1.0, 0.5 * 3 * eps32, 0.0]), jnp.float32)
    assert np.linalg.matrix_rank(np.asarray(X)) == 1
    np.testing.assert_array_equal(jax.grad(ns.nuclear_norm)(X), np.diag([1.0, 0.0, 0.0]))


# --------------------------------------------------------------------------- errors


def test_bad_inputs_raise_naming_the_argument():
    with pytest.raises(TypeError, match="x must be real"):
        ns.abs(jnp.ones(2, jnp.complex64))
    with pytest.raises(TypeError, match="b must be real"):
        ns.maximum(1.0, 1j)
    with pytest.raises(ValueError, match="2-D"):
        ns.nuclear_norm(jnp.ones((2, 2, 2)))
    for axis in ("0", (0, "1"), True):
        with pytest.raises(TypeError, match="axis must be"):
            ns.max(jnp.ones(3), axis=axis)
    with pytest.raises(TypeError, match="tree leaf 1 must be real"):
        ns.l2_norm([jnp.ones(2), jnp.ones(2, jnp.complex64)])


def test_drop_in_shapes_broadcasting_and_dtypes():
    x = jnp.arange(6.0, dtype=jnp.float32).reshape(2, 3)
    assert ns.maximum(x, 2.0).dtype == jnp.float32
    np.testing.assert_array_equal(
        ns.maximum(x, jnp.array([[1.0], [4.0]])), np.maximum(x, [[1], [4]])
    )
    assert ns.max(x, axis=(0, 1), keepdims=True).shape == (1, 1)
    assert ns.min(x, axis=[1]).shape == (2,)
    assert ns.l1_norm({}).shape == () and ns.linf_norm([]).shape == ()
    g = jax.grad(lambda v: jnp.sum(ns.maximum(v, jnp.array([[1.0], [4.0]], jnp.float32))))(x)
    np.testing.assert_array_equal(g, [[0, 0, 1], [0, 0, 1]])  # ties at 1.0 and 4.0 -> 0
