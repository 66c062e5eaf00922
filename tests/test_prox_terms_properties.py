"""Hypothesis properties of the v2 terms: firm nonexpansiveness of every convex prox,
feasible and idempotent projections, prox outputs certified optimal by min_norm (min_norm
vanishes at the minimisers of <g, .> + h), and the Moreau decomposition where the
conjugate's prox has a closed form. One compiled program per property (hyperparameters and
steps are traced)."""

import jax
import jax.numpy as jnp
import numpy as np
from helpers import prox_evaluator
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import subopt as so

P = so.prox
N = 8
_rng = np.random.default_rng(3)
A_VEC = jnp.asarray(_rng.standard_normal(N))
A_MAT = jnp.asarray(_rng.standard_normal((3, N)))
LABELS = np.array([0, 0, 1, 1, 1, 2, 3, 3])
SLOPE_W = jnp.asarray(np.sort(_rng.uniform(0.2, 1.5, N))[::-1])

entries = arrays(np.float64, N, elements=st.floats(-10, 10, allow_subnormal=False))
lams = st.just(0.0) | st.floats(1e-3, 3.0)
steps = st.floats(1e-2, 1e2)


def catalogue(lam):
    return {
        "nonnegative_l1": P.nonnegative_l1(lam),
        "ridge": P.ridge(lam),
        "group_labels": P.group_l2(lam, groups=LABELS),
        "hyperplane": P.hyperplane(A_VEC, lam),
        "halfspace": P.halfspace(A_VEC, -lam),
        "affine_set": P.affine_set(A_MAT, jnp.ones(3) * lam),
        "box_section": P.box_section(-0.5, 1.0, A_VEC, 0.1 * lam),
        "simplex_total": P.simplex(total=lam + 0.5),
        "tv": P.total_variation_1d(lam),
        "slope": P.sorted_l1(lam * SLOPE_W),
        "l2_sphere": P.l2_sphere(lam),  # nonconvex: not firmly nonexpansive
    }


SETS = ["hyperplane", "halfspace", "affine_set", "box_section", "simplex_total", "l2_sphere"]
CONVEX = [name for name in catalogue(1.0) if name != "l2_sphere"]
_traces = {"moreau": 0}
prox_all, _prox_traces = prox_evaluator(catalogue, SETS)


@given(entries, entries, lams, steps)
def test_convex_proxes_are_firmly_nonexpansive(u, v, lam, t):
    px, _, _, _ = prox_all(lam, t, u)
    py, _, _, _ = prox_all(lam, t, v)
    for name in CONVEX:
        dp = np.asarray(px[name]) - np.asarray(py[name])
        slack = dp @ (u - v) - dp @ dp
        assert slack >= -1e-9 * (1 + (u - v) @ (u - v)), (name, slack)
    assert _prox_traces.count == 1


@given(entries, lams, steps)
def test_projections_feasible_idempotent_and_prox_certified_by_min_norm(u, lam, t):
    out, again, values, certificate = prox_all(lam, t, u)
    scale = 1 + np.abs(u).max()
    for name in SETS:
        if name == "l2_sphere" and lam == 0.0:
            continue
        assert values[name] == 0.0, name
        np.testing.assert_allclose(again[name], out[name], atol=1e-12 * scale, err_msg=name)
    for name, w in certificate.items():
        assert np.abs(np.asarray(w)).max() <= 1e-8 * scale / t + 1e-10, (name, w)
    assert _prox_traces.count == 1


@jax.jit
def moreau_all(lam, t, z):
    """prox_{t h}(z) + t prox_{h*/t}(z / t), with h*'s prox written independently."""
    _traces["moreau"] += 1
    regs = catalogue(lam)
    w, c = z / t, 1 / t
    na = A_VEC @ A_VEC
    sa = (A_VEC @ w) / na
    group_ball = jnp.zeros_like(w)
    for g in range(4):
        idx = LABELS == g
        r = lam * np.sqrt(idx.sum())
        n = jnp.linalg.norm(w[idx])
        group_ball = group_ball.at[idx].set(w[idx] * jnp.minimum(1, r / jnp.maximum(n, 1e-300)))
    conj = {
        "ridge": w * lam / (lam + c),  # h* = |.|^2 / (2 lam)
        "nonnegative_l1": jnp.minimum(w, lam),  # h* = indicator of {y <= lam}
        # h* = the support function s -> b s on the line {s a}: prox is s a, s shifted by c b
        "hyperplane": (sa - c * lam / na) * A_VEC,
        "halfspace": jnp.maximum(sa + c * lam / na, 0) * A_VEC,  # b = -lam, s >= 0
        "group_labels": group_ball,  # h* = indicator of the product of group balls
    }
    return {name: regs[name].prox(z, t) + t * conj[name] for name in conj}


@given(entries, st.floats(1e-2, 3.0), steps)
def test_moreau_decomposition(u, lam, t):
    for name, total in moreau_all(lam, t, u).items():
        np.testing.assert_allclose(total, u, atol=1e-9 * (1 + np.abs(u).max()), err_msg=name)
    assert _traces["moreau"] == 1
