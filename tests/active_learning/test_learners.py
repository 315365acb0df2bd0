"""bayes_zoo.active_learning.learners: the linear-regression learner's type-II ML, metrics in original units, scores,
inner products, and its NUTS posterior against the closed form."""

from __future__ import annotations

import numpy as np
import pytest

from bayes_zoo.active_learning.gram import LinearFisherGram, ProjectionGram
from bayes_zoo.active_learning.learners import (LinearRegressionLearner, NeuralLinearLearner, NutsSettings, even_minibatch,
                                                half_power_of_two)
from bayes_zoo.models.linear import LinearPrior, NeuralFeatures, log_marginal_likelihood


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


def test_neural_linear_last_layer_is_the_conjugate_posterior_on_its_learned_features():
    # Normal-InverseGamma by hand on the network's features: a wrong prior, features of unstandardised inputs or a
    # wrong a or b moves these far beyond 1e-8
    X, y = _data()
    learner = NeuralLinearLearner(prior=LinearPrior(weight_scale=1.5, noise_alpha=2.0, noise_beta=0.5))
    fit = learner.fit(X[:25], y[:25], X[25:], np.random.default_rng(0))
    assert isinstance(fit.features, NeuralFeatures) and fit.features.n_features == 31
    Phi = fit.features((X[:25] - X.mean(axis=0)) / X.std(axis=0))
    ys = (y[:25] - y[:25].mean()) / y[:25].std()
    V = np.linalg.inv(Phi.T @ Phi + np.eye(31) / 1.5**2)
    mu = V @ Phi.T @ ys
    a, b = 2.0 + 25 / 2, 0.5 + (ys @ ys - mu @ np.linalg.solve(V, mu)) / 2
    np.testing.assert_allclose(fit.posterior.mean, mu, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(fit.posterior.cov, V, rtol=1e-8, atol=1e-10)
    assert (fit.posterior.a, fit.posterior.b) == (pytest.approx(a, rel=1e-12), pytest.approx(b, rel=1e-8))


def test_neural_linear_retrains_its_network_from_the_fits_random_stream():
    X, y = _data()
    learner = NeuralLinearLearner()
    first, again = (learner.fit(X[:25], y[:25], X[25:], np.random.default_rng(0)) for _ in range(2))
    other = learner.fit(X[:25], y[:25], X[25:], np.random.default_rng(1))
    Xs = first.scaling.inputs(X[25:])
    np.testing.assert_array_equal(first.features(Xs), again.features(Xs))
    assert not np.allclose(first.features(Xs), other.features(Xs))


def test_neural_linear_trace_projections_agree_with_the_closed_form_inner_products_within_mcse():
    # L_n(theta_j) at NUTS draws of the last layer (known noise, so that <L_n, L_m> has a closed form,
    # projections.linear_euclidean_gram); a trace from the wrong features or model is many MCSE away
    import arviz as az

    from bayes_zoo.active_learning.projections import gaussian_projections, linear_euclidean_gram

    X, y = _data()
    prior = LinearPrior(noise_sd=0.3)
    closed = NeuralLinearLearner(prior=prior)
    traced = NeuralLinearLearner(prior=prior, posterior="nuts", nuts=NutsSettings(draws=1000, tune=500))
    fit_c = closed.fit(X[:25], y[:25], X[25:], np.random.default_rng(0))
    fit_n = traced.fit(X[:25], y[:25], X[25:], np.random.default_rng(0))
    Phi = fit_c.features(fit_c.scaling.inputs(X[25:29]))  # 4 pool points
    np.testing.assert_array_equal(Phi, fit_n.features(fit_n.scaling.inputs(X[25:29])))  # the same network
    loc, var, entropy = fit_c.posterior.predictive_summary(Phi)
    G = gaussian_projections(fit_n.w @ Phi.T, fit_n.sigma, pred_mean=loc, pred_var=var, entropy=entropy)
    L = G.T * np.sqrt(G.shape[1])  # [S, 4]: L_n at each draw, chains one after the other
    i, j = np.triu_indices(4)
    products = (L[:, i] * L[:, j]).reshape(2, 1000, -1)  # [chain, draw, pair]
    mcse = az.mcse(az.convert_to_dataset({"K": products}), method="mean")["K"].values
    exact = linear_euclidean_gram(Phi, fit_c.posterior.cov, 0.3**2).K[i, j]
    z = (products.mean(axis=(0, 1)) - exact) / mcse
    assert np.abs(z).max() < 3.5  # 10 pairs: Bonferroni at about 0.5%


@pytest.mark.parametrize("kwargs, name", [({"hidden": ()}, "hidden"), ({"hidden": (30, 0)}, "hidden"),
                                          ({"weight_decay": -1.0}, "weight_decay"),
                                          ({"learning_rate": 0.0}, "learning_rate"), ({"epochs": 0}, "epochs"),
                                          ({"minibatch": 0}, "minibatch"), ({"minibatch": "quarter"}, "minibatch"),
                                          ({"posterior": "vi"}, "posterior"),
                                          ({"prior": 1.0}, "prior")])
def test_neural_linear_bad_settings_raise_naming_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        NeuralLinearLearner(**kwargs)


def test_neural_linear_takes_the_reference_codes_settings_for_each_data_set():
    learner = NeuralLinearLearner.pinsler2019("power-plant", posterior="advi")
    assert (learner.weight_decay, learner.learning_rate, learner.prior.noise_beta) == (3.0, 1e-3, 3.0)
    assert learner.posterior == "advi" and NeuralLinearLearner.pinsler2019("yacht").prior == LinearPrior()
    assert [NeuralLinearLearner.pinsler2019(d).largest_minibatch(100) for d in ("yacht", "boston", "energy")] == [
        32, 32, 32]
    assert [NeuralLinearLearner.pinsler2019(d).largest_minibatch(40) for d in ("yacht", "boston", "energy")] == [
        32, 16, 16]


@pytest.mark.parametrize("n, largest, name", [(0, 32, "n"), (20, 0, "largest"), (2.5, 32, "n")])
def test_even_minibatch_refuses_counts_below_one_naming_them(n, largest, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        even_minibatch(n, largest)


@pytest.mark.parametrize("name", ["powerplant", "Power-Plant", "breast-cancer"])
def test_the_reference_settings_refuse_a_data_set_they_do_not_know(name):
    with pytest.raises(ValueError, match="^dataset:"):
        NeuralLinearLearner.pinsler2019(name)


@pytest.mark.parametrize("n, size", [(1, 1), (2, 1), (20, 8), (32, 16), (40, 16), (64, 32), (100, 32), (120, 32),
                                     (2000, 512)])
def test_half_power_of_two_is_the_reference_codes_minibatch(n, size):
    # acs/utils.get_batch_size: the closest power of two at most n / 2 (n / 2 for a power of two), at most 512
    assert half_power_of_two(n) == size


@pytest.mark.parametrize("n, size", [(20, 20), (32, 32), (40, 20), (70, 24), (100, 25), (120, 30), (129, 26)])
def test_minibatches_are_as_few_as_can_be_and_nearly_equal(n, size):
    # no short remainder (4 of 100 points made every third round's network worse: a saw-tooth learning curve)
    assert even_minibatch(n, 32) == size
    batches = -(-n // size)
    assert batches == -(-n // 32) and n - (batches - 1) * size >= size - (batches - 1)  # the remainder
