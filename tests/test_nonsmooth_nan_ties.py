"""Issue 12, items 8 and 9: NaN in gives NaN out for every primitive's derivative, and
pointwise_max's tie tolerance only merges pieces that tie up to rounding."""

import jax
import jax.numpy as jnp
import numpy as np

from subopt import nonsmooth as ns

NAN_CASES = {
    "abs": lambda x: ns.abs(x),
    "relu": lambda x: ns.relu(3 * x),
    "hinge": lambda x: ns.hinge(x - 1),
    "maximum(x, 3x)": lambda x: ns.maximum(x, 3 * x),
    "maximum(x, c)": lambda x: ns.maximum(x, -2.0),
    "minimum(c, x)": lambda x: ns.minimum(5.0, x),
    "max": lambda x: ns.max(jnp.stack([x, 1.0 + 0 * x, x / 2])),
    "min": lambda x: ns.min(jnp.stack([x, -1.0 + 0 * x])),
    "l1_norm": lambda x: ns.l1_norm({"a": x, "b": jnp.ones(2)}),
    "l2_norm": lambda x: ns.l2_norm(jnp.stack([x, 2.0 + 0 * x])),
    "linf_norm": lambda x: ns.linf_norm(jnp.stack([x, 0 * x])),
    "nuclear_norm": lambda x: ns.nuclear_norm(jnp.array([[1.0, 0.0], [0.0, 1.0]]) * x),
    "pointwise_max": ns.pointwise_max([lambda x: 3 * x, lambda x: x * x]),
}


def _all_derivatives(x):
    one = jnp.ones((), x.dtype)
    return {
        name: (f(x), jax.grad(f)(x), jax.jvp(f, (x,), (one,))[1]) for name, f in NAN_CASES.items()
    }


def test_nan_input_gives_nan_derivative(dtype):
    # value, reverse mode and forward mode, for every primitive, in one compiled call
    out = jax.jit(_all_derivatives)(jnp.asarray(jnp.nan, dtype))
    for name, (value, grad, slope) in out.items():
        assert np.isnan(value) and np.isnan(grad) and np.isnan(slope), name
        assert grad.dtype == dtype, name


def test_nan_in_one_entry_of_a_reduction():
    x = jnp.array([2.0, jnp.nan, 2.0])
    grads = jax.jit(lambda x: [jax.grad(f)(x) for f in (ns.max, ns.min, ns.linf_norm, ns.l2_norm)])
    assert all(np.all(np.isnan(g)) for g in grads(x))


def test_strictly_larger_piece_gives_its_gradient_next_to_a_kink(dtype):
    abs_ = ns.pointwise_max([lambda x: x, lambda x: -x])
    double = ns.pointwise_max([lambda x: x, lambda x: 2 * x])
    grads = jax.jit(jax.vmap(lambda x: jnp.stack([jax.grad(abs_)(x), jax.grad(double)(x)])))
    x = jnp.asarray([1e-30, 1e-12, 1e-10, 1e-6, 1e-4, 3e-4], dtype)  # no absolute floor
    np.testing.assert_array_equal(grads(x), np.tile([1.0, 2.0], (6, 1)))
    np.testing.assert_array_equal(grads(-x), np.tile([-1.0, 1.0], (6, 1)))
    np.testing.assert_array_equal(grads(jnp.zeros(1, dtype)), [[0.0, 1.0]])  # true ties


def test_pieces_that_tie_up_to_rounding_still_tie():
    # 0.1 * 3 and 0.3 differ by one ulp: a tie of two pieces whose gradients are 1 and -1
    F = ns.pointwise_max([lambda x: 0.1 * 3 + x, lambda x: 0.3 - x])
    assert 0.1 * 3 != 0.3
    assert float(jax.jit(jax.grad(F))(0.0)) == 0.0
