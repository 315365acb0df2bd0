"""bayes_zoo.models.linear: the conjugate posterior against dense Gaussian conditioning, the evidence against SciPy's
multivariate densities, the PyMC model's density against ours, the feature maps and the standardisation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bayes_zoo.models.linear import (LinearFeatures, LinearPrior, NeuralFeatures, RandomFourierFeatures, Standardisation, build_linear_model,
                           conjugate_posterior, log_joint, log_marginal_likelihood, pointwise_log_likelihood)


def _problem(n=15, p=4, seed=1):
    rng = np.random.default_rng(seed)
    Phi = rng.standard_normal((n, p))
    return Phi, Phi @ rng.standard_normal(p) + 0.5 * rng.standard_normal(n)


def test_known_noise_posterior_is_the_gaussian_conditional_of_the_joint_of_weights_and_outputs():
    Phi, y = _problem()
    tau, sigma = 1.7, 0.6
    post = conjugate_posterior(Phi, y, LinearPrior(weight_scale=tau, noise_sd=sigma))
    C = tau**2 * Phi @ Phi.T + sigma**2 * np.eye(len(y))  # Cov(y), N x N: a route independent of P x P algebra
    cross = tau**2 * Phi.T  # Cov(w, y)
    np.testing.assert_allclose(post.mean, cross @ np.linalg.solve(C, y), rtol=1e-10)
    np.testing.assert_allclose(post.cov, tau**2 * np.eye(4) - cross @ np.linalg.solve(C, cross.T), atol=1e-12)


def test_normal_inverse_gamma_posterior_scale_is_beta_plus_half_the_marginal_quadratic_form():
    Phi, y = _problem()
    prior = LinearPrior(weight_scale=1.7, noise_alpha=2.5, noise_beta=1.3)
    post = conjugate_posterior(Phi, y, prior)
    quad = y @ np.linalg.solve(np.eye(len(y)) + 1.7**2 * Phi @ Phi.T, y)
    assert post.a == 2.5 + len(y) / 2
    assert post.b == pytest.approx(1.3 + 0.5 * quad, rel=1e-12)


def test_known_noise_evidence_is_the_multivariate_normal_density():
    Phi, y = _problem()
    prior = LinearPrior(weight_scale=1.7, noise_sd=0.6)
    dense = stats.multivariate_normal(np.zeros(len(y)), 1.7**2 * Phi @ Phi.T + 0.36 * np.eye(len(y))).logpdf(y)
    assert log_marginal_likelihood(Phi, y, prior) == pytest.approx(dense, abs=1e-10)


def test_normal_inverse_gamma_evidence_is_the_multivariate_student_t_density():
    Phi, y = _problem()
    prior = LinearPrior(weight_scale=1.7, noise_alpha=2.5, noise_beta=1.3)
    shape = (1.3 / 2.5) * (np.eye(len(y)) + 1.7**2 * Phi @ Phi.T)
    dense = stats.multivariate_t(np.zeros(len(y)), shape, df=5.0).logpdf(y)
    assert log_marginal_likelihood(Phi, y, prior) == pytest.approx(dense, abs=1e-10)


@pytest.mark.parametrize("prior", [LinearPrior(weight_scale=1.7, noise_sd=0.6),
                                   LinearPrior(weight_scale=1.7, noise_alpha=2.5, noise_beta=1.3)],
                         ids=["known-noise", "nig"])
def test_log_predictive_density_is_the_ratio_of_evidences(prior):
    Phi, y = _problem(n=16)
    post = conjugate_posterior(Phi[:-1], y[:-1], prior)
    ratio = log_marginal_likelihood(Phi, y, prior) - log_marginal_likelihood(Phi[:-1], y[:-1], prior)
    assert post.log_predictive_density(Phi[-1:], y[-1:])[0] == pytest.approx(ratio, abs=1e-10)


def test_pymc_model_log_density_equals_prior_plus_likelihood():
    Phi, y = _problem()
    prior = LinearPrior(weight_scale=1.7, noise_alpha=2.5, noise_beta=1.3)
    model = build_linear_model(Phi, y, prior)
    w, sigma2 = np.array([0.3, -0.2, 1.1, 0.5]), 0.8
    logp = model.compile_logp(jacobian=False)({"w": w, "sigma2_log__": np.log(sigma2)})
    ours = (stats.invgamma.logpdf(sigma2, 2.5, scale=1.3)
            + stats.norm.logpdf(w, 0.0, np.sqrt(sigma2) * 1.7).sum()
            + stats.norm.logpdf(y, Phi @ w, np.sqrt(sigma2)).sum())
    assert logp == pytest.approx(ours, abs=1e-8)


#: Priors whose constants float32 holds exactly (3.0, 0.5, 1.0): PyTensor would fold their logs in float32.
KNOWN_NOISE, NIG = LinearPrior(weight_scale=3.0, noise_sd=0.5), LinearPrior(weight_scale=3.0, noise_alpha=1.0)
POINTS_W = np.array([[0.3, -0.2, 1.1, 0.5], [1.0, 0.0, -0.7, 2.0], [-0.4, 0.9, 0.2, -1.3]])


@pytest.mark.parametrize("prior", [KNOWN_NOISE, NIG], ids=["known-noise", "normal-inverse-gamma"])
def test_log_joint_equals_the_pymc_models_logp_without_jacobian(prior):
    Phi, y = _problem()
    logp = build_linear_model(Phi, y, prior).compile_logp(jacobian=False)
    sigma = np.full(3, prior.noise_sd) if prior.known_noise else np.array([0.5, 0.8, 1.7])
    points = [{"w": w} if prior.known_noise else {"w": w, "sigma2_log__": np.log(s**2)}
              for w, s in zip(POINTS_W, sigma)]
    np.testing.assert_allclose(log_joint(POINTS_W, sigma, Phi, y, prior), [logp(p) for p in points], rtol=0,
                               atol=1e-8)


def test_pointwise_log_likelihood_equals_pymcs_at_the_same_draws():
    import arviz as az
    import pymc as pm

    Phi, y = _problem()
    sigma = np.array([[0.5, 0.8, 1.7]])  # (chain, draw)
    idata = az.from_dict(posterior={"w": POINTS_W[None], "sigma2": sigma**2}, dims={"w": ["feature"]},
                         coords={"feature": np.arange(4)})
    theirs = pm.compute_log_likelihood(idata, model=build_linear_model(Phi, y, NIG), extend_inferencedata=False,
                                       progressbar=False)["y"]
    np.testing.assert_allclose(pointwise_log_likelihood(POINTS_W[None], sigma, Phi, y), theirs.values, rtol=0,
                               atol=1e-8)


def test_random_fourier_features_approximate_the_rbf_kernel():
    rng = np.random.default_rng(3)
    fmap = RandomFourierFeatures.draw(rng, dims=2, n_features=20_000, lengthscale=0.7)
    X = rng.standard_normal((6, 2))
    Phi = fmap(X)
    approx = Phi @ Phi.T - 1.0  # the bias contributes 1
    exact = np.exp(-((X[:, None, :] - X[None, :, :]) ** 2).sum(-1) / (2 * 0.7**2))
    assert np.abs(approx - exact).max() < 5.0 / np.sqrt(20_000)  # Monte Carlo error of the features


def test_with_lengthscale_keeps_the_draws_and_scales_the_frequencies():
    fmap = RandomFourierFeatures.draw(np.random.default_rng(0), 3, 10, 1.0)
    X = np.random.default_rng(1).standard_normal((5, 3))
    np.testing.assert_allclose(fmap.with_lengthscale(2.0)(X), fmap(X / 2.0), rtol=1e-12)


def test_linear_features_are_a_bias_column_and_the_inputs():
    X = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(LinearFeatures()(X), np.column_stack([np.ones(3), X]))


def test_standardisation_uses_the_known_inputs_and_the_labelled_outputs_only():
    X_known = np.array([[0.0, 5.0], [2.0, 5.0], [4.0, 5.0]])  # second column constant
    s = Standardisation.fit(X_known, [1.0, 3.0])
    np.testing.assert_allclose(s.x_mean, [2.0, 5.0])
    np.testing.assert_allclose(s.x_scale, [np.std([0.0, 2.0, 4.0]), 1.0])  # constant column: scale 1
    assert (s.y_mean, s.y_scale) == (2.0, 1.0)
    np.testing.assert_allclose(s.original_mean(s.outputs([1.0, 3.0])), [1.0, 3.0])


def test_a_column_constant_up_to_rounding_is_standardised_to_zero_not_to_noise():
    X = np.column_stack([np.linspace(0.0, 1.0, 7), np.full(7, 0.1)])  # 0.1's std in float64: ~1e-17, not 0
    s = Standardisation.fit(X, np.arange(7.0))
    assert s.x_scale[1] == 1.0 and np.abs(s.inputs(X)[:, 1]).max() < 1e-15


def test_posterior_draws_have_the_posterior_moments_within_monte_carlo_error():
    Phi, y = _problem()
    post = conjugate_posterior(Phi, y, LinearPrior(weight_scale=1.7, noise_alpha=2.5, noise_beta=1.3))
    w, sigma = post.sample(np.random.default_rng(4), 20_000)
    z = (w.mean(axis=0) - post.mean) / (w.std(axis=0) / np.sqrt(len(w)))
    assert np.abs(z).max() < 4.0
    cov_w = post.cov * post.b / (post.a - 1.0)  # marginal covariance of w under NIG
    np.testing.assert_allclose(np.cov(w, rowvar=False), cov_w, rtol=0.1, atol=0.02 * np.abs(cov_w).max())
    assert np.mean(sigma**-2) == pytest.approx(post.fisher_scale(), rel=0.03)  # E[1/sigma^2] = a / b


@pytest.mark.parametrize("args, name", [
    ((np.full((3, 2), np.nan), np.zeros(3)), "Phi"),
    ((np.zeros((3, 2)), np.zeros(4)), "y"),
    ((np.zeros((3, 2)), np.zeros(3), "not a prior"), "prior"),
])
def test_bad_inputs_raise_naming_the_argument(args, name):
    if len(args) == 2:
        args = (*args, LinearPrior())
    with pytest.raises(ValueError, match=f"^{name}:"):
        conjugate_posterior(*args)


@pytest.mark.parametrize("kwargs, name", [({"weight_scale": 0.0}, "weight_scale"), ({"noise_sd": -1.0}, "noise_sd"),
                                          ({"noise_alpha": np.nan}, "noise_alpha")])
def test_bad_prior_raises_naming_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        LinearPrior(**kwargs)


def test_simulate_draws_from_the_normal_inverse_gamma_prior_and_the_known_noise_one():
    # The generative model SBC simulates from (Problem.simulate); y given (w, sigma2) is N(Phi w, sigma2 I).
    from bayes_zoo.models.linear import simulate

    Phi = np.column_stack([np.ones(5), np.linspace(-1.0, 1.0, 5)])
    nig = {"Phi": Phi, "prior": LinearPrior(weight_scale=3.0, noise_alpha=3.0, noise_beta=2.0)}
    truth, data = simulate(np.random.default_rng(1), nig)
    assert list(truth) == ["w[0]", "w[1]", "sigma2"] and data["y"].shape == (5,) and data["Phi"] is Phi
    sims = [simulate(np.random.default_rng(s), nig)[0] for s in range(4000)]
    sigma2 = np.array([t["sigma2"] for t in sims])
    assert abs(np.mean(sigma2) - 1.0) < 0.1  # InverseGamma(3, 2): mean beta / (alpha - 1) = 1
    w = np.array([t["w[1]"] for t in sims])
    assert abs(np.var(w) - 9.0 * np.mean(sigma2)) < 0.7  # w | sigma2 ~ N(0, 9 sigma2)
    known, _ = simulate(np.random.default_rng(1), {"Phi": Phi, "prior": LinearPrior(weight_scale=3.0, noise_sd=0.5)})
    assert list(known) == ["w[0]", "w[1]"]
    with pytest.raises(ValueError, match="^data:"):
        simulate(np.random.default_rng(0), {"Phi": Phi})


@pytest.mark.parametrize("prior", [LinearPrior(weight_scale=3.0, noise_sd=0.4), LinearPrior(weight_scale=3.0)])
def test_conjugate_draws_are_the_posteriors_draws_with_the_pymc_models_groups(prior):
    from bayes_zoo.models.linear import conjugate_draws, conjugate_posterior, log_joint

    rng = np.random.default_rng(0)
    Phi = np.column_stack([np.ones(9), rng.standard_normal(9)])
    y = Phi @ [0.5, -1.0] + 0.4 * rng.standard_normal(9)
    idata = conjugate_draws(Phi, y, prior, draws=50, chains=3, seed=7)
    w, sigma = conjugate_posterior(Phi, y, prior).sample(np.random.default_rng([7, 1]), 150)
    np.testing.assert_array_equal(idata.posterior["w"].values, w.reshape(3, 50, 2))
    assert ("sigma2" in idata.posterior) is (not prior.known_noise) and idata.posterior["w"].dims[2] == "feature"
    np.testing.assert_allclose(idata.sample_stats["lp"].values, log_joint(w, sigma, Phi, y, prior).reshape(3, 50))
    assert idata.log_likelihood["y"].shape == idata.posterior_predictive["y"].shape == (3, 50, 9)
    assert idata.posterior.attrs["seed"] == 7 and idata.posterior.attrs["sampling_time"] >= 0


def _mlp(activation="relu", hidden=(7, 5)):
    from sklearn.neural_network import MLPRegressor

    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 3))
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2]
    return MLPRegressor(hidden_layer_sizes=hidden, activation=activation, max_iter=50, random_state=0).fit(X, y), X


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_neural_features_are_the_networks_last_hidden_layer_so_its_output_layer_reproduces_its_prediction():
    # a missing ReLU, a layer skipped or a bias dropped changes the prediction
    mlp, X = _mlp()
    Phi = NeuralFeatures.from_mlp(mlp)(X)
    assert Phi.shape == (40, 6) and np.all(Phi[:, 0] == 1.0) and np.all(Phi >= 0.0)
    np.testing.assert_allclose(Phi[:, 1:] @ mlp.coefs_[-1][:, 0] + mlp.intercepts_[-1][0], mlp.predict(X),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_neural_features_refuse_a_network_they_cannot_read():
    from sklearn.neural_network import MLPRegressor

    with pytest.raises(ValueError, match="^mlp: expected a fitted"):
        NeuralFeatures.from_mlp(_mlp(activation="tanh")[0])
    with pytest.raises(ValueError, match="^mlp: expected a fitted"):
        NeuralFeatures.from_mlp(MLPRegressor())
