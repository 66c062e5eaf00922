"""Hypothesis properties of every subopt.prox term: firm nonexpansiveness, the Moreau
decomposition with independently written conjugate proxes, feasible and idempotent
projections, and prox outputs certified optimal by min_norm. One compiled program per
property serves every example (hyperparameters and steps are traced)."""

import jax
import jax.numpy as jnp
import numpy as np
from helpers import prox_evaluator
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import subopt as so

P = so.prox
SHAPES = {"a": (2, 3), "b": (3, 2)}  # every leaf 2-D, so `nuclear` takes the same pytree
N = 12

entries = arrays(np.float64, N, elements=st.floats(-10, 10, allow_subnormal=False))
# Radii far below eps * max|x| cannot be resolved in floating point (the projection rounds to
# 0), so nonzero hyperparameters start at 1e-3.
lams = st.just(0.0) | st.floats(1e-3, 3.0)
steps = st.floats(1e-2, 1e2)


def tree(v):
    v = jnp.asarray(v)
    return {"a": v[:6].reshape(SHAPES["a"]), "b": v[6:].reshape(SHAPES["b"])}


def flat(t):
    return np.concatenate([np.asarray(t[k]).ravel() for k in SHAPES])


def catalogue(lam):
    return {
        "zero": P.zero(),
        "l1": P.l1(lam),
        "l2": P.l2(lam),
        "group_l2": P.group_l2(lam),
        "elastic_net": P.elastic_net(lam, 0.5 * lam),
        "nonnegative": P.nonnegative(),
        "box": P.box(-lam, 0.5 * lam),
        "l2_ball": P.l2_ball(lam),
        "l1_ball": P.l1_ball(lam),
        "linf_ball": P.linf_ball(lam),
        "simplex": P.simplex(),
        "nuclear": P.nuclear(lam),
    }


SETS = ["nonnegative", "box", "l2_ball", "l1_ball", "linf_ball", "simplex"]
_traces = {"moreau": 0}
prox_all, _prox_traces = prox_evaluator(catalogue, SETS)


@given(entries, entries, lams, steps)
def test_prox_is_firmly_nonexpansive(u, v, lam, t):
    # <p(x) - p(y), x - y> >= ||p(x) - p(y)||^2 for the prox of any closed convex h.
    px, _, _, _ = prox_all(lam, t, tree(u))
    py, _, _, _ = prox_all(lam, t, tree(v))
    for name in px:
        dp = flat(px[name]) - flat(py[name])
        slack = dp @ (u - v) - dp @ dp
        assert slack >= -1e-9 * (1 + (u - v) @ (u - v)), (name, slack)
    assert _prox_traces.count == 1


@given(entries, lams, steps)
def test_projections_feasible_and_idempotent_and_prox_certified_by_min_norm(u, lam, t):
    out, again, values, certificate = prox_all(lam, t, tree(u))
    scale = 1 + np.abs(u).max()
    for name in SETS:
        assert values[name] == 0.0, name
        np.testing.assert_allclose(flat(again[name]), flat(out[name]), atol=1e-13 * scale)
    for name, w in certificate.items():
        assert np.abs(flat(w)).max() <= 1e-9 * scale / t + 1e-12, (name, flat(w))
    assert _prox_traces.count == 1


# ----------------------------------------------------------------- Moreau decomposition


def _bisect(fn, lo, hi):
    """Root of a decreasing fn on [lo, hi] (100 halvings: to float64 resolution)."""

    def body(_, bounds):
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        up = fn(mid) > 0
        return jnp.where(up, mid, lo), jnp.where(up, hi, mid)

    lo, hi = jax.lax.fori_loop(0, 100, body, (lo, hi))
    return 0.5 * (lo + hi)


def prox_linf_norm(z, c):
    """argmin_u c ||u||_inf + ||u - z||^2 / 2 = clip(z, -mu, mu), sum (|z| - mu)_+ = c."""
    a = jnp.abs(z)
    mu = _bisect(lambda m: jnp.sum(jnp.maximum(a - m, 0)) - c, 0.0, jnp.max(a))
    return jnp.where(jnp.sum(a) <= c, jnp.zeros_like(z), jnp.clip(z, -mu, mu))


def prox_max(z, c):
    """argmin_u c max_i u_i + ||u - z||^2 / 2 = min(z, mu), sum (z - mu)_+ = c."""
    mu = _bisect(lambda m: jnp.sum(jnp.maximum(z - m, 0)) - c, jnp.max(z) - c, jnp.max(z))
    return jnp.minimum(z, mu)


def prox_box_support(z, c, lo, hi):
    """argmin_u c sum max(lo u, hi u) + ||u - z||^2 / 2, coordinatewise (lo <= 0 <= hi)."""
    return jnp.where(z > c * hi, z - c * hi, jnp.where(z < c * lo, z - c * lo, 0.0))


def prox_elastic_net_conjugate(z, c, l1, l2):
    """argmin_u (c / (2 l2)) sum (|u| - l1)_+^2 + ||u - z||^2 / 2."""
    big = jnp.sign(z) * (jnp.abs(z) * l2 + c * l1) / (l2 + c)
    return jnp.where(jnp.abs(z) <= l1, z, big)


def project_spectral_ball(m, r):
    u, s, vt = jnp.linalg.svd(m, full_matrices=False)
    return (u * jnp.minimum(s, r)) @ vt


@jax.jit
def moreau_all(lam, t, v):
    """prox_{t h}(x) + t prox_{h*/t}(x / t) for each term, h* written independently."""
    _traces["moreau"] += 1
    x, z, c = tree(v), v / t, 1 / t
    regs = catalogue(lam)
    conj = {  # prox_{c h*}(z) on the flat vector z
        "zero": jnp.zeros_like(z),  # h* = indicator of {0}
        "l1": jnp.clip(z, -lam, lam),  # lam ||.||_1 <-> the lam L-inf ball
        "linf_ball": jnp.sign(z) * jnp.maximum(jnp.abs(z) - c * lam, 0),  # <-> lam ||.||_1
        "l2": z * jnp.minimum(1, lam / jnp.maximum(jnp.linalg.norm(z), 1e-300)),
        "l2_ball": z * jnp.maximum(1 - c * lam / jnp.maximum(jnp.linalg.norm(z), 1e-300), 0),
        "l1_ball": prox_linf_norm(z, c * lam),  # the lam L1 ball <-> lam ||.||_inf
        "nonnegative": jnp.minimum(z, 0),  # the orthant <-> its polar, the nonpositive one
        "box": prox_box_support(z, c, -lam, 0.5 * lam),
        "simplex": prox_max(z, c),  # the simplex <-> max_i y_i
        "elastic_net": prox_elastic_net_conjugate(z, c, lam, 0.5 * lam),
    }
    zt = tree(z)
    conj["group_l2"] = flat_j({k: zt[k] * jnp.minimum(1, lam / jnp.maximum(
        jnp.linalg.norm(zt[k]), 1e-300)) for k in SHAPES})
    conj["nuclear"] = flat_j({k: project_spectral_ball(zt[k], lam) for k in SHAPES})
    return {name: flat_j(regs[name].prox(x, t)) + t * conj[name] for name in regs}


def flat_j(t):
    return jnp.concatenate([t[k].ravel() for k in SHAPES])


@given(entries, lams, steps)
def test_moreau_decomposition(u, lam, t):
    for name, total in moreau_all(lam, t, u).items():
        np.testing.assert_allclose(total, u, atol=1e-9 * (1 + np.abs(u).max()), err_msg=name)
    assert _traces["moreau"] == 1
