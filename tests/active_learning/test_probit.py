"""ACS-FW for probit regression: the bivariate normal CDF, the closed-form inner products, the learner."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import integrate, special, stats

import bayes_zoo.active_learning.probit as probit_module
from bayes_zoo.active_learning.frank_wolfe import select
from bayes_zoo.active_learning.gram import ProjectionGram
from bayes_zoo.active_learning.learners import NutsSettings
from bayes_zoo.active_learning.probit import (ProbitFisherGram, ProbitLearner, bvn_cdf, expected_probit_entropy,
                                    probit_entropy)

Z_MAX = 4.0  # |z| bound for MCSE-scaled checks

# ------------------------------------------------------------------------------ bivariate normal CDF

GRID = [-3.0, -1.0, -0.2, 0.0, 0.5, 2.0]
RHOS = [-1.0, -0.999, -0.5, 0.0, 0.3, 0.999, 1.0]


@pytest.mark.parametrize("rho", RHOS)
def test_bvn_cdf_matches_scipy_multivariate_normal_on_a_grid(rho):
    pairs = list(itertools.product(GRID, GRID))
    ours = bvn_cdf([h for h, _ in pairs], [k for _, k in pairs], rho)
    ref = [stats.multivariate_normal.cdf([h, k], mean=[0.0, 0.0], cov=[[1.0, rho], [rho, 1.0]], allow_singular=True)
           for h, k in pairs]
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-10)


def test_bvn_cdf_is_continuous_through_zero_limits():
    for k, rho in [(-0.7, 0.4), (0.7, 0.4), (1.3, -0.8), (0.0, 0.6)]:
        at_zero = bvn_cdf(0.0, k, rho)
        for eps in (1e-12, -1e-12):
            assert bvn_cdf(eps, k, rho) == pytest.approx(at_zero, abs=1e-11)
            assert bvn_cdf(k, eps, rho) == pytest.approx(at_zero, abs=1e-11)


def test_bvn_cdf_at_infinite_limits_is_a_marginal_or_zero():
    np.testing.assert_allclose(bvn_cdf([np.inf, 0.4, -np.inf, np.inf], [0.4, np.inf, 1.0, np.inf], 0.5),
                               [special.ndtr(0.4), special.ndtr(0.4), 0.0, 1.0], atol=1e-15)


def test_bvn_cdf_broadcasts_its_arguments():
    assert bvn_cdf(np.zeros((3, 1)), np.zeros((1, 4)), 0.2).shape == (3, 4)


@pytest.mark.parametrize("rho", [1.0 + 1e-12, -1.5, np.nan])
def test_bvn_cdf_rejects_rho_outside_minus_one_one(rho):
    with pytest.raises(ValueError, match="^rho:"):
        bvn_cdf(0.1, 0.2, rho)


def test_bvn_cdf_rejects_nan_limits():
    with pytest.raises(ValueError, match="^h:"):
        bvn_cdf(np.nan, 0.2, 0.1)
    with pytest.raises(ValueError, match="^k:"):
        bvn_cdf(0.1, [0.2, np.nan], 0.1)


def test_bvn_cdf_on_the_diagonal_is_owens_identity():
    h = np.array([-4.0, -1.5, -0.3, 0.0, 0.8, 3.0])
    for rho in (-0.9, -0.2, 0.0, 0.5, 0.95):
        owen = special.ndtr(h) - 2.0 * special.owens_t(h, np.sqrt((1.0 - rho) / (1.0 + rho)))
        np.testing.assert_allclose(bvn_cdf(h, h, rho), owen, rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------- the closed-form Gram


@pytest.fixture(scope="module")
def posterior():
    """A Gaussian posterior N(mu, Sigma) over D = 3 weights and N = 7 pool points (bias first)."""
    rng = np.random.default_rng(7)
    X = np.column_stack([np.ones(7), rng.normal(size=(7, 2))])  # [N, D]
    X[6] = [1.0, 3.0, -2.5]  # a confident point (p near 0 or 1)
    mu = np.array([0.4, 1.2, -0.8])
    A = rng.normal(size=(3, 3))
    cov = 0.3 * A @ A.T + 0.05 * np.eye(3)
    return X, mu, cov


@pytest.fixture(scope="module")
def theta_draws(posterior):
    """200,000 iid draws from N(mu, Sigma), shape (S, D)."""
    _, mu, cov = posterior
    rng = np.random.default_rng(8)
    return mu + rng.standard_normal((200_000, 3)) @ np.linalg.cholesky(cov).T


def test_predictive_probability_is_the_monte_carlo_mean_of_phi_z(posterior, theta_draws):
    X, mu, cov = posterior
    q = special.ndtr(theta_draws @ X.T)  # [S, N]
    z = (q.mean(axis=0) - ProbitFisherGram(X, mu, cov).pred_prob) / (q.std(axis=0) / np.sqrt(q.shape[0]))
    assert np.all(np.abs(z) < Z_MAX)


@pytest.mark.parametrize(("n", "m"), [(0, 0), (1, 1), (0, 3), (2, 5), (4, 6)])
def test_gram_entries_match_monte_carlo_of_the_linearised_scores(posterior, theta_draws, n, m):
    X, mu, cov = posterior
    gram = ProbitFisherGram(X, mu, cov)
    p, w = gram.pred_prob, gram.weights
    q = special.ndtr(theta_draws @ X[[n, m]].T)  # [S, 2]
    terms = w[n] * w[m] * (X[n] @ X[m]) * (p[n] - q[:, 0]) * (p[m] - q[:, 1])  # [S]
    mcse = terms.std() / np.sqrt(terms.size)
    assert abs(terms.mean() - gram.dense()[n, m]) / mcse < Z_MAX


def test_gram_diagonal_is_the_owens_t_formula(posterior):
    X, mu, cov = posterior
    gram = ProbitFisherGram(X, mu, cov)
    s = np.einsum("nd,de,ne->n", X, cov, X)
    a = X @ mu / np.sqrt(1.0 + s)
    p = special.ndtr(a)
    var = p - 2.0 * special.owens_t(a, 1.0 / np.sqrt(1.0 + 2.0 * s)) - p**2
    w = stats.norm.pdf(a) / (p * (1.0 - p))
    np.testing.assert_allclose(gram.diag(), w**2 * np.sum(X**2, axis=1) * var, rtol=1e-10)


def test_gram_diag_row_sums_and_columns_agree_with_dense(posterior, monkeypatch):
    X, mu, cov = posterior
    monkeypatch.setattr(probit_module, "BLOCK_ENTRIES", 10)  # force several row blocks
    gram = ProbitFisherGram(X, mu, cov)
    K = gram.dense()
    np.testing.assert_allclose(gram.diag(), np.diag(K), rtol=1e-10)
    np.testing.assert_allclose(gram.row_sums(), K.sum(axis=1), rtol=1e-12)
    for f in range(gram.size):
        np.testing.assert_allclose(gram.column(f), K[:, f], rtol=1e-13, atol=0)


def test_gram_is_symmetric_positive_semidefinite(posterior):
    K = ProbitFisherGram(*posterior).dense()
    np.testing.assert_allclose(K, K.T, rtol=1e-12)
    assert np.linalg.eigvalsh(K).min() > -1e-12 * np.abs(K).max()


def test_gram_diagonal_keeps_relative_accuracy_for_confident_points():
    # Var(Phi(z)) = Phi2(a, a; rho) - Phi(a)^2 = int_0^rho phi2(a, a; r) dr (Plackett 1954): no cancellation
    X = np.column_stack([np.ones(5), [40.0, -40.0, 8.0, 3.0, 0.0]])
    gram = ProbitFisherGram(X, np.array([0.0, 1.0]), 0.01 * np.eye(2))
    s = 0.01 * np.sum(X**2, axis=1)
    a = X[:, 1] / np.sqrt(1.0 + s)
    var = [integrate.quad(lambda r, a=a_n: np.exp(-a * a / (1.0 + r)) / (2 * np.pi * np.sqrt(1.0 - r * r)),
                          0.0, s_n / (1.0 + s_n), epsabs=0.0, epsrel=1e-12)[0] for a_n, s_n in zip(a, s)]
    expected = gram.weights**2 * np.sum(X**2, axis=1) * np.array(var)
    assert np.all(expected > 0.0) and expected.min() < 1e-15  # the test reaches far into the tails
    np.testing.assert_allclose(gram.diag(), expected, rtol=1e-8)
    np.testing.assert_allclose(np.diag(gram.dense()), expected, rtol=1e-8)


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"X": np.full((3, 2), np.nan)}, "X"),
    ({"mean": np.zeros(3)}, "mean"),
    ({"cov": np.array([[1.0, 0.5], [0.0, 1.0]])}, "cov"),
    ({"cov": np.array([[1.0, 2.0], [2.0, 1.0]])}, "cov"),
    ({"cov": np.eye(3)}, "cov"),
])
def test_gram_rejects_bad_inputs_naming_them(kwargs, name):
    args = {"X": np.ones((3, 2)), "mean": np.zeros(2), "cov": np.eye(2), **kwargs}
    with pytest.raises(ValueError, match=f"^{name}:"):
        ProbitFisherGram(**args)


# --------------------------------------------------------------------------------- entropy and BALD


@pytest.mark.parametrize(("m", "s"), [(0.0, 1e-3), (0.5, 1.0), (1.0, 40.0), (3.0, 400.0), (-2.0, 2000.0)])
def test_expected_entropy_quadrature_matches_adaptive_quadrature(m, s):
    ref = integrate.quad(lambda x: probit_entropy(m + np.sqrt(s) * x) * stats.norm.pdf(x), -40, 40,
                         points=[-m / np.sqrt(s)], epsabs=1e-14, epsrel=1e-12, limit=400)[0]
    assert expected_probit_entropy(m, s) == pytest.approx(ref, rel=1e-10)


def _simulate(rng, n, theta):
    X = rng.normal(size=(n, theta.size - 1)) * [2.0, 0.5] + [1.0, -3.0]  # unstandardised inputs
    z = theta[0] + ((X - [1.0, -3.0]) / [2.0, 0.5]) @ theta[1:]
    return X, (rng.random(n) < special.ndtr(z)).astype(float)


@pytest.fixture(scope="module")
def split():
    rng = np.random.default_rng(2019)
    X, y = _simulate(rng, 260, np.array([0.3, 1.8, -1.2]))
    return {"X_lab": X[:30], "y_lab": y[:30], "X_pool": X[30:230], "X_test": X[230:], "y_test": y[230:]}


@pytest.fixture(scope="module")
def laplace_fit(split):
    learner = ProbitLearner()
    return learner, learner.fit(split["X_lab"], split["y_lab"], split["X_pool"], np.random.default_rng(0))


def test_bald_lies_between_zero_and_the_predictive_entropy(split, laplace_fit):
    learner, fit = laplace_fit
    bald, entropy = learner.bald(fit, split["X_pool"]), learner.predictive_entropy(fit, split["X_pool"])
    assert np.all(bald >= 0.0) and np.all(bald <= entropy)
    assert bald.max() > 0.01


def test_learner_metrics_beat_chance_on_simulated_data(split, laplace_fit):
    learner, fit = laplace_fit
    metrics = learner.metrics(fit, split["X_test"], split["y_test"])
    assert set(metrics) == {"accuracy", "test_loglik"}
    assert metrics["accuracy"] > 0.7 and np.log(0.5) < metrics["test_loglik"] < 0.0


@pytest.mark.parametrize("projections", [0, 50])
def test_learner_gram_lets_frank_wolfe_pick_distinct_points(split, laplace_fit, projections):
    learner, fit = laplace_fit
    gram = learner.gram(fit, split["X_pool"], projections=projections, rng=np.random.default_rng(1))
    assert isinstance(gram, ProbitFisherGram if projections == 0 else ProjectionGram)
    assert gram.size == split["X_pool"].shape[0]
    chosen = select(gram, 10).indices
    assert 1 <= chosen.size <= 10 and np.unique(chosen).size == chosen.size
    assert np.all((chosen >= 0) & (chosen < gram.size))


def test_learner_rejects_bad_arguments_naming_them(split):
    with pytest.raises(ValueError, match="^posterior:"):
        ProbitLearner(posterior="mcmc")
    with pytest.raises(ValueError, match="^prior:"):
        ProbitLearner(prior=2.5)
    with pytest.raises(ValueError, match="^y_labelled:"):
        ProbitLearner().fit(split["X_lab"], split["y_lab"] * 2.0, split["X_pool"], np.random.default_rng(0))
    with pytest.raises(ValueError, match="^y_labelled:"):
        ProbitLearner().fit(split["X_lab"], split["y_lab"][:-1], split["X_pool"], np.random.default_rng(0))


def test_learner_gram_rejects_negative_projections(split, laplace_fit):
    learner, fit = laplace_fit
    with pytest.raises(ValueError, match="^projections:"):
        learner.gram(fit, split["X_pool"], projections=-1, rng=np.random.default_rng(0))


# ------------------------------------------------------------------------------------------- NUTS


@pytest.fixture(scope="module")
def nuts_data():
    rng = np.random.default_rng(40)
    X, y = _simulate(rng, 100, np.array([-0.2, 1.5, 0.8]))
    return X[:40], y[:40], X[40:]


@pytest.fixture(scope="module")
def nuts_fit(nuts_data):
    """NUTS on D = 3 weights, n = 40 labels: 2 chains x 200 draws after 200 tuning steps."""
    learner = ProbitLearner(posterior="nuts", nuts=NutsSettings(draws=200, tune=200, chains=2))
    return learner, learner.fit(*nuts_data, np.random.default_rng(3))


def test_nuts_learner_predictive_is_close_to_laplace_on_the_same_data(nuts_data, nuts_fit):
    # Laplace is close to the posterior, not equal to it, and 400 draws carry MC error: a loose absolute check
    learner, fit = nuts_fit
    assert fit.w.shape == (400, 3)
    laplace = ProbitLearner()
    lfit = laplace.fit(*nuts_data, np.random.default_rng(0))
    X_pool = nuts_data[2]
    gap = np.abs(learner.predictive_probability(fit, X_pool) - laplace.predictive_probability(lfit, X_pool))
    assert gap.max() < 0.1


def test_nuts_learner_bald_lies_between_zero_and_the_predictive_entropy(nuts_data, nuts_fit):
    learner, fit = nuts_fit
    X_pool = nuts_data[2]
    bald, entropy = learner.bald(fit, X_pool), learner.predictive_entropy(fit, X_pool)
    assert np.all(bald >= 0.0) and np.all(bald <= entropy + 1e-12)


@pytest.mark.parametrize("projections", [0, 50])
def test_nuts_learner_gram_lets_frank_wolfe_pick_distinct_points(nuts_data, nuts_fit, projections):
    learner, fit = nuts_fit
    gram = learner.gram(fit, nuts_data[2], projections=projections, rng=np.random.default_rng(2))
    chosen = select(gram, 5).indices
    assert chosen.size >= 1 and np.unique(chosen).size == chosen.size
