"""bayes_zoo.active_learning.learners: the linear-regression learner's type-II ML, metrics in original units, scores,
inner products, and its NUTS posterior against the closed form."""

from __future__ import annotations

import numpy as np
import pytest

from bayes_zoo.active_learning.gram import LinearFisherGram, ProjectionGram
from bayes_zoo.active_learning.learners import LinearRegressionLearner, NutsSettings
from bayes_zoo.models.linear import LinearPrior, log_marginal_likelihood


def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2.0, 2.0, size=(n, 2))
    y = 10.0 + 3.0 * np.sin(2.0 * X[:, 0]) + X[:, 1] + 0.3 * rng.standard_normal(n)
    return X, y


def test_type2_ml_picks_the_grid_point_of_largest_evidence():
    X, y = _data()
    learner = LinearRegressionLearner(n_features=30)
    fit = learner.fit(X[:25], y[:25], X[25:], np.random.default_rng(0))
    Xs, ys = fit.scaling.inputs(X[:25]), fit.scaling.outputs(y[:25])
    chosen = log_marginal_likelihood(fit.features(Xs), ys, fit.prior)
    others = [log_marginal_likelihood(fmap(Xs), ys, learner.prior.__class__(weight_scale=tau))
              for fmap in learner.feature_maps(2) for tau in learner.weight_scales]
    assert chosen == pytest.approx(max(others), abs=1e-12)


def test_metrics_are_in_the_original_units_of_y():
    X, y = _data()
    learner = LinearRegressionLearner(features="linear")
    fit = learner.fit(X[:25], y[:25], X[25:45], np.random.default_rng(0))
    mean, _ = learner.predict(fit, X[45:])
    metrics = learner.metrics(fit, X[45:], y[45:])
    assert metrics["rmse"] == pytest.approx(np.sqrt(np.mean((mean - y[45:]) ** 2)), rel=1e-12)
    # the density of y in original units is that of the standardised y over the scale
    Phi = fit.features(fit.scaling.inputs(X[45:]))
    std_density = fit.posterior.log_predictive_density(Phi, fit.scaling.outputs(y[45:]))
    assert metrics["test_loglik"] == pytest.approx(np.mean(std_density - np.log(fit.scaling.y_scale)), rel=1e-12)


def test_bald_is_the_entropy_less_the_expected_noise_entropy_and_not_negative():
    X, y = _data()
    learner = LinearRegressionLearner(n_features=30)
    fit = learner.fit(X[:25], y[:25], X[25:], np.random.default_rng(0))
    entropy, bald = learner.predictive_entropy(fit, X[25:]), learner.bald(fit, X[25:])
    assert np.all(bald >= 0.0)
    np.testing.assert_allclose(entropy - bald, fit.posterior.expected_noise_entropy())


def test_closed_form_gram_uses_the_posterior_covariance_and_fisher_scale():
    X, y = _data()
    learner = LinearRegressionLearner(features="linear")
    fit = learner.fit(X[:25], y[:25], X[25:], np.random.default_rng(0))
    gram = learner.gram(fit, X[25:], projections=0, rng=np.random.default_rng(1))
    assert isinstance(gram, LinearFisherGram) and gram.scale == fit.posterior.fisher_scale()
    np.testing.assert_array_equal(gram.cov, fit.posterior.cov)


def test_projection_gram_has_one_column_per_projection():
    X, y = _data()
    learner = LinearRegressionLearner(features="linear")
    fit = learner.fit(X[:25], y[:25], X[25:], np.random.default_rng(0))
    gram = learner.gram(fit, X[25:], projections=40, rng=np.random.default_rng(1))
    assert isinstance(gram, ProjectionGram) and gram.G.shape == (35, 40)


def test_nuts_posterior_mean_of_the_predictions_matches_the_closed_form_within_monte_carlo_error():
    X, y = _data()
    closed = LinearRegressionLearner(features="linear")
    nuts = LinearRegressionLearner(features="linear", posterior="nuts", nuts=NutsSettings(draws=400, tune=400))
    fit_c = closed.fit(X[:25], y[:25], X[25:], np.random.default_rng(0))
    fit_n = nuts.fit(X[:25], y[:25], X[25:], np.random.default_rng(0))
    Phi = fit_n.features(fit_n.scaling.inputs(X[25:30]))
    draws = fit_n.w @ Phi.T  # [S, 5] mean of y per draw, standardised units
    import arviz as az

    dataset = az.convert_to_dataset({"m": draws.reshape(2, -1, 5)})  # chains of 400, one after the other
    mcse = az.mcse(dataset, method="mean")["m"].values
    loc, _, _ = fit_c.posterior.predictive(Phi)
    assert np.abs((draws.mean(axis=0) - loc) / mcse).max() < 4.0


@pytest.mark.parametrize("kwargs, name", [({"features": "poly"}, "features"), ({"posterior": "vi"}, "posterior"),
                                          ({"weight_scales": ()}, "weight_scales"), ({"n_features": 0}, "n_features")])
def test_bad_settings_raise_naming_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        LinearRegressionLearner(**kwargs)


def test_fit_rejects_nan_inputs_naming_them():
    X, y = _data()
    X[3, 0] = np.nan
    with pytest.raises(ValueError, match="^X_labelled:"):
        LinearRegressionLearner().fit(X[:25], y[:25], X[25:], np.random.default_rng(0))


def test_advi_recovers_the_conjugate_posterior_mean_of_the_weights():
    # mean-field VI on a Gaussian posterior has the exact mean at its optimum; the optimiser's noise remains
    X, y = _data()
    closed = LinearRegressionLearner(features="linear", prior=LinearPrior(noise_sd=0.3))
    advi = LinearRegressionLearner(features="linear", prior=LinearPrior(noise_sd=0.3), posterior="advi",
                                   nuts=NutsSettings(draws=1000, chains=1, advi_iterations=10_000))
    fit_c = closed.fit(X[:25], y[:25], X[25:], np.random.default_rng(0))
    fit_a = advi.fit(X[:25], y[:25], X[25:], np.random.default_rng(0))
    sd = np.sqrt(np.diag(fit_c.posterior.cov))
    assert np.abs((fit_a.w.mean(axis=0) - fit_c.posterior.mean) / sd).max() < 0.3
