"""LinearRegressionLearner.gram forms its projections GRAM_BLOCK_ROWS pool points at a time (issue 15: the
whole-pool temporaries made seconds per point grow with N).  The blocks must give the projections formed for
the whole pool at once, for exact conjugate draws and for draws of a trace, with a last block cut short."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bayes_zoo.active_learning import learners
from bayes_zoo.active_learning.learners import LinearRegressionLearner
from bayes_zoo.active_learning.projections import gaussian_projections

J, POOL, BLOCK = 12, 50, 7  # 50 = 7 blocks of 7 and one of 1


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((20 + POOL, 3))
    y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(20 + POOL)
    learner = LinearRegressionLearner(n_features=15)
    return learner, learner.fit(X[:20], y[:20], X[20:], np.random.default_rng(0)), X[20:]


def _whole_pool_exact(learner, fit, X_pool, rng):
    w, sigma = fit.posterior.sample(rng, J)
    Phi = learner._phi(fit, X_pool)
    loc, var, entropy = fit.posterior.predictive_summary(Phi)
    return gaussian_projections(w @ Phi.T, sigma, pred_mean=loc, pred_var=var, entropy=entropy)


def _whole_pool_trace(learner, fit, X_pool, rng):
    pick = rng.permutation(fit.w.shape[0])[:J]
    mu_all = fit.w @ learner._phi(fit, X_pool).T
    return gaussian_projections(mu_all[pick], fit.sigma[pick], pred_mean=mu_all.mean(axis=0),
                                pred_var=np.mean(fit.sigma**2) + mu_all.var(axis=0))


def test_blocks_of_exact_draws_give_the_whole_pools_projections(monkeypatch, fitted):
    learner, fit, X_pool = fitted
    monkeypatch.setattr(learners, "GRAM_BLOCK_ROWS", BLOCK)
    G = learner.gram(fit, X_pool, projections=J, rng=np.random.default_rng(5)).G
    expected = _whole_pool_exact(learner, fit, X_pool, np.random.default_rng(5))
    assert G.shape == (POOL, J)
    np.testing.assert_allclose(G, expected, rtol=1e-12, atol=1e-12)


def test_blocks_of_trace_draws_give_the_whole_pools_projections(monkeypatch, fitted):
    learner, fit, X_pool = fitted
    w, sigma = fit.posterior.sample(np.random.default_rng(6), 40)  # a "trace" of 40 draws
    trace_fit = dataclasses.replace(fit, posterior=None, w=w, sigma=sigma)
    monkeypatch.setattr(learners, "GRAM_BLOCK_ROWS", BLOCK)
    G = learner.gram(trace_fit, X_pool, projections=J, rng=np.random.default_rng(5)).G
    expected = _whole_pool_trace(learner, trace_fit, X_pool, np.random.default_rng(5))
    np.testing.assert_allclose(G, expected, rtol=1e-12, atol=1e-12)


def test_one_block_and_many_blocks_agree(monkeypatch, fitted):
    learner, fit, X_pool = fitted
    whole = learner.gram(fit, X_pool, projections=J, rng=np.random.default_rng(9)).G  # one block: 50 < 2,048
    monkeypatch.setattr(learners, "GRAM_BLOCK_ROWS", 1)
    np.testing.assert_allclose(learner.gram(fit, X_pool, projections=J, rng=np.random.default_rng(9)).G, whole,
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("block", [1, 7, 50, 4096])
def test_linear_fisher_columns_in_blocks_equal_the_dense_matrix(monkeypatch, block):
    from bayes_zoo.active_learning import gram as gram_module

    rng = np.random.default_rng(11)
    X, C = rng.standard_normal((POOL, 4)), rng.standard_normal((4, 4))
    monkeypatch.setattr(gram_module, "COLUMN_BLOCK_ROWS", block)
    gram = gram_module.LinearFisherGram(X, C @ C.T + np.eye(4), 0.3)
    K = gram.dense()
    columns = np.column_stack([gram.column(f) for f in range(POOL)])
    np.testing.assert_allclose(columns, K, rtol=1e-12, atol=1e-14 * np.abs(K).max())
