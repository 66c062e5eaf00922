"""Working sets as slots (`subopt.linear_model._workset`): after any sequence of swaps the
slots hold distinct selectable features, keep the support, exchange toward higher scores,
and carry blocks (the transposed columns, G, q, c) equal to ones formed from scratch; and
solves whose working sets are much smaller than p (so that slots are swapped every outer
iteration and the working set grows) reach the same optimum as scikit-learn or as a solve
over all features.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import ar_design
from hypothesis import given, settings
from hypothesis import strategies as st

import subopt as so
from subopt import linear_model as lm
from subopt.linear_model._design import as_design
from subopt.linear_model._workset import select, swap

N, P, K, M = 12, 40, 10, 3

_select = jax.jit(select, static_argnums=(2, 5))
_swap = jax.jit(swap, static_argnums=(4,))


def _check_blocks(ws, x, y, s, score):
    idx, keep = np.asarray(ws.idx), np.asarray(ws.keep)
    live = idx[keep]
    assert len(set(live.tolist())) == len(live)  # distinct features
    assert np.all(np.isfinite(score[live]) | (score[live] > 0))  # no screened (-inf) feature
    at = np.where(keep[:, None], x[:, idx].T, 0.0)
    np.testing.assert_allclose(np.asarray(ws.at), at, rtol=0, atol=1e-13)
    g = ws.gram
    np.testing.assert_allclose(np.asarray(g.g), at @ (at * s).T, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.asarray(g.q), at @ s, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.asarray(g.c), at @ (s * y), rtol=0, atol=1e-12)
    assert np.all(np.asarray(ws.eig)[~keep] == 0)
    return idx, keep


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_swaps_keep_exact_blocks_and_move_toward_higher_scores(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, P))
    y = rng.standard_normal(N)
    s = rng.uniform(0.5, 1.5, N) / N
    # float32-representable scores: the ranking runs in float32
    score = rng.standard_normal(P).astype(np.float32).astype(float)
    screened = np.zeros(P, bool)
    screened[rng.choice(P, 3, replace=False)] = True
    score[screened] = -np.inf
    ws = _select(jnp.asarray(x), jnp.asarray(score), K, jnp.asarray(y), jnp.asarray(s), True)
    idx, keep = _check_blocks(ws, x, y, s, score)
    assert set(idx[keep].tolist()) == set(np.argsort(-score)[:K].tolist())
    for _ in range(6):
        support = idx[keep][rng.random(int(keep.sum())) < 0.3]
        score = rng.standard_normal(P).astype(np.float32).astype(float)
        newly = rng.choice(P, 2, replace=False)
        screened[newly[~np.isin(newly, support)]] = True
        score[screened] = -np.inf
        score[support] = np.inf
        before = set(idx[keep].tolist())
        ws = _swap(
            jnp.asarray(x),
            ws,
            jnp.asarray(score),
            jnp.asarray(screened),
            M,
            jnp.asarray(y),
            jnp.asarray(s),
        )
        idx, keep = _check_blocks(ws, x, y, s, score)
        after = set(idx[keep].tolist())
        assert set(support.tolist()) <= after  # the support is never evicted
        entered = after - before
        assert len(entered) <= M
        outside = np.setdiff1d(np.arange(P), idx[keep])
        weakest = min(score[i] for i in after) if after else -np.inf
        best_outside = max((score[i] for i in outside), default=-np.inf)
        if len(entered) < M:  # not limited by M: nothing outside beats a slot
            assert best_outside <= weakest or best_outside == -np.inf
        assert all(score[i] >= best_outside for i in entered)


def _wide(seed=0, n=40, p=120, rho=0.7):
    x, w, rng = ar_design(seed, n, p, rho, n_support=12, scale=1.0)
    return x, x @ w + 0.1 * rng.standard_normal(n), rng


def _objective(x, y, w, b, alpha):
    r = y - x @ w - b
    return 0.5 * r @ r / len(y) + alpha * np.abs(w).sum()


def test_small_working_sets_reach_sklearns_lasso():
    from sklearn.linear_model import Lasso

    x, y, _ = _wide()
    alpha = 0.02 * float(np.max(np.abs(x.T @ y)) / len(y))
    res = lm.fit(lm.quadratic(), lm.l1(alpha), x, y, tol=1e-12, fit_intercept=True)
    assert int(res.status) == so.Status.CONVERGED
    assert int(res.n_outer) > 2  # several outer iterations: slots were swapped
    sk = Lasso(alpha=alpha, tol=1e-14, max_iter=1_000_000).fit(x, y)
    ours = _objective(x, y, np.asarray(res.coef), float(res.intercept), alpha)
    ref = _objective(x, y, sk.coef_, sk.intercept_, alpha)
    assert ours <= ref + 1e-8 * ref and abs(ours - ref) <= 1e-8 * ref
    big = np.abs(sk.coef_) > 1e-6 * np.abs(sk.coef_).max()
    assert np.array_equal(np.asarray(res.coef) != 0, big)


@pytest.mark.parametrize("kind", ["logistic", "group"])
def test_small_working_sets_equal_a_solve_over_all_features(kind):
    x, y, rng = _wide(1)
    if kind == "logistic":
        datafit, y = lm.logistic(), np.where(y > np.median(y), 1.0, -1.0)
        alpha = 0.03 * float(np.max(np.abs(x.T @ y)) / (2 * len(y)))
        pen = lm.l1(alpha)
    else:
        datafit = lm.quadratic()
        pen = lm.group_l2(0.05 * float(np.max(np.abs(x.T @ y)) / len(y)), np.arange(120) // 4)
    xd, yd = as_design(x, jnp.float64), jnp.asarray(y)
    s = jnp.full(len(y), 1 / len(y))
    small = lm.fit(datafit, pen, x, y, tol=1e-12)
    full = lm.solve(datafit, pen, xd, yd, s, jnp.zeros(120), 0.0, ws_size=120, tol=1e-12)
    assert int(small.status) == int(full.status) == so.Status.CONVERGED
    np.testing.assert_allclose(np.asarray(small.coef), np.asarray(full.coef), atol=1e-6)
    assert np.array_equal(np.asarray(small.coef) != 0, np.asarray(full.coef) != 0)
