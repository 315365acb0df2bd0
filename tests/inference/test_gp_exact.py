"""bayes_zoo.inference.gp.exact: the closed-form GP against dense formulas, finite differences, PyMC, and NUTS."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from bayes_zoo.inference.crossval import compare
from bayes_zoo.inference.gp import exact
from bayes_zoo.inference.gp.linalg import JitterWarning
from bayes_zoo.inference.nuts import sample_nuts
from bayes_zoo.models.gp import PYMC_JITTER, GPHyperparameters, build_latent_model, exp_quad

HYPER = GPHyperparameters(eta=1.3, lengthscale=0.8, sigma=0.25)
ARD = GPHyperparameters(eta=0.9, lengthscale=(0.7, 2.5), sigma=0.3)


def _data(n=12, dims=1, seed=1):
    """Noisy sine data: X (n, dims) uniform on [0, 5], y (n,)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 5, size=(n, dims))
    return X, np.sin(X).sum(axis=1) + 0.2 * rng.normal(size=n)


def _dense_cov_y(X, hyper, jitter=0.0):
    """K + (sigma^2 + jitter) I, densely."""
    K = exp_quad(X, X, hyper.eta, hyper.lengthscale)
    return K + (hyper.sigma**2 + jitter) * np.eye(len(X))


@pytest.fixture(scope="module")
def data():
    return _data()


@pytest.fixture(scope="module")
def ard_data():
    return _data(n=10, dims=2, seed=2)


X_NEW = np.linspace(-1, 6, 7)


# --------------------------------------------------------------------------------------------------------
# Log marginal likelihood and its gradient
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("hyper, which", [(HYPER, "data"), (ARD, "ard_data")])
def test_log_marginal_likelihood_equals_dense_multivariate_normal_logpdf(hyper, which, request):
    X, y = request.getfixturevalue(which)
    dense = stats.multivariate_normal(mean=np.zeros(len(y)), cov=_dense_cov_y(X, hyper)).logpdf(y)
    assert exact.log_marginal_likelihood(X, y, hyper) == pytest.approx(dense, rel=1e-10)


def test_log_marginal_likelihood_terms_are_data_fit_half_log_det_and_constant(data):
    X, y = data
    C = _dense_cov_y(X, HYPER)
    terms = exact.log_marginal_likelihood_terms(X, y, HYPER)
    np.testing.assert_allclose(
        [terms["data_fit"], terms["complexity"], terms["constant"]],
        [-0.5 * y @ np.linalg.solve(C, y), -0.5 * np.linalg.slogdet(C)[1], -0.5 * len(y) * np.log(2 * np.pi)],
        rtol=1e-10,
    )


@pytest.mark.parametrize(
    "hyper, which",
    [(HYPER, "data"), (ARD, "ard_data"), (GPHyperparameters(1.1, 0.3, 0.0), "data")],
    ids=["shared", "ard", "noiseless"],
)
def test_gradient_equals_central_finite_differences(hyper, which, request):
    X, y = request.getfixturevalue(which)
    jitter = 1e-6 if hyper.sigma == 0 else 0.0
    _, grad = exact.log_marginal_likelihood_and_grad(X, y, hyper, jitter=jitter)
    theta, h = exact.log_parameters(hyper), 1e-4

    def lml(t):
        return exact.log_marginal_likelihood(X, y, exact.from_log_parameters(t, hyper), jitter=jitter)

    numeric = [(lml(theta + h * e) - lml(theta - h * e)) / (2 * h) for e in np.eye(theta.size)]
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-6)


def test_noiseless_model_has_no_log_sigma_parameter(data):
    X, y = data
    hyper = GPHyperparameters(1.0, 1.0, 0.0)
    _, grad = exact.log_marginal_likelihood_and_grad(X, y, hyper, jitter=1e-6)
    assert exact.log_parameter_names(hyper) == ["log_eta", "log_lengthscale"] and grad.shape == (2,)


def test_log_parameters_round_trip_for_ard_hyperparameters():
    back = exact.from_log_parameters(exact.log_parameters(ARD), ARD)
    assert back.lengthscale == pytest.approx(ARD.lengthscale) and back.sigma == pytest.approx(ARD.sigma)


# --------------------------------------------------------------------------------------------------------
# Against PyMC at the same hyperparameters and jitter
# --------------------------------------------------------------------------------------------------------


def test_log_marginal_likelihood_equals_pymc_marginal_likelihood_logp(ard_data):
    from bayes_zoo.models.gp import pymc_marginal_log_likelihood

    X, y = ard_data
    ours = exact.log_marginal_likelihood(X, y, ARD, jitter=PYMC_JITTER)
    assert ours == pytest.approx(pymc_marginal_log_likelihood(X, y, ARD, jitter=PYMC_JITTER), rel=1e-8)


def test_predictive_mean_and_variance_equal_pymc_marginal_predict(data):
    from bayes_zoo.models.gp import pymc_marginal_predict

    X, y = data
    mean, var = exact.predict(exact.posterior(X, y, HYPER, jitter=PYMC_JITTER), X_NEW)
    pm_mean, pm_var = pymc_marginal_predict(X, y, X_NEW, HYPER, jitter=PYMC_JITTER)
    np.testing.assert_allclose(mean, pm_mean, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(var, pm_var, rtol=1e-8, atol=1e-12)


def test_noisy_predictive_covariance_equals_pymc_conditional_with_pred_noise(data):
    from bayes_zoo.models.gp import pymc_marginal_predict

    X, y = data
    _, cov = exact.predict(exact.posterior(X, y, HYPER, jitter=PYMC_JITTER), X_NEW, full_cov=True,
                           include_noise=True)
    _, pm_cov = pymc_marginal_predict(X, y, X_NEW, HYPER, jitter=PYMC_JITTER, full_cov=True, include_noise=True)
    np.testing.assert_allclose(cov, pm_cov, rtol=1e-8, atol=1e-12)


def test_pymc_full_predictive_covariance_of_f_adds_its_jitter_once_more(data):
    from bayes_zoo.models.gp import pymc_marginal_predict

    X, y = data
    _, cov = exact.predict(exact.posterior(X, y, HYPER, jitter=PYMC_JITTER), X_NEW, full_cov=True)
    _, pm_cov = pymc_marginal_predict(X, y, X_NEW, HYPER, jitter=PYMC_JITTER, full_cov=True)
    np.testing.assert_allclose(cov + PYMC_JITTER * np.eye(len(X_NEW)), pm_cov, rtol=1e-8, atol=1e-12)


# --------------------------------------------------------------------------------------------------------
# The posterior against dense formulas
# --------------------------------------------------------------------------------------------------------


def test_prediction_at_training_inputs_equals_dense_gpml_formula(data):
    X, y = data
    K, Cinv = exp_quad(X, X, HYPER.eta, HYPER.lengthscale), np.linalg.inv(_dense_cov_y(X, HYPER))
    mean, cov = exact.predict(exact.posterior(X, y, HYPER), X, full_cov=True)
    np.testing.assert_allclose(mean, K @ Cinv @ y, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(cov, K - K @ Cinv @ K, rtol=1e-8, atol=1e-12)


def test_posterior_at_training_inputs_equals_dense_formula_with_jitter_in_the_prior(data):
    X, y = data
    jitter = 1e-3  # large enough that putting it in the wrong place would show
    Kj = exp_quad(X, X, HYPER.eta, HYPER.lengthscale) + jitter * np.eye(len(y))
    Cinv = np.linalg.inv(_dense_cov_y(X, HYPER, jitter))
    mean, cov = exact.posterior_at_training_inputs(exact.posterior(X, y, HYPER, jitter=jitter))
    np.testing.assert_allclose(mean, Kj @ Cinv @ y, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(cov, Kj - Kj @ Cinv @ Kj, rtol=1e-8, atol=1e-12)


def test_posterior_at_training_inputs_without_jitter_equals_prediction_there(data):
    X, y = data
    gp = exact.posterior(X, y, HYPER)
    for ours, predicted in zip(exact.posterior_at_training_inputs(gp), exact.predict(gp, X, full_cov=True)):
        np.testing.assert_allclose(ours, predicted, rtol=1e-8, atol=1e-12)


def test_loo_log_predictive_is_the_gaussian_conditional_of_each_output_given_the_others(data):
    X, y = data
    jitter = 1e-3
    C = _dense_cov_y(X, HYPER, jitter)
    dense = []
    for i in range(len(y)):
        rest = np.delete(np.arange(len(y)), i)
        weights = np.linalg.solve(C[np.ix_(rest, rest)], C[rest, i])
        dense.append(stats.norm.logpdf(y[i], weights @ y[rest], np.sqrt(C[i, i] - C[i, rest] @ weights)))
    ours = exact.loo_log_predictive(exact.posterior(X, y, HYPER, jitter=jitter))
    np.testing.assert_allclose(ours, dense, rtol=0, atol=1e-10)


def test_draws_at_training_inputs_have_the_closed_form_moments_even_where_the_covariance_is_singular(data):
    X, y = data
    for gp in (exact.posterior(X, y, HYPER, jitter=PYMC_JITTER),
               exact.posterior(X, y, GPHyperparameters(1.0, 0.5, 0.0), jitter=1e-6)):  # noiseless: covariance 0
        mean, cov = exact.posterior_at_training_inputs(gp)
        f = exact.sample_at_training_inputs(gp, np.random.default_rng(0), 20000)
        assert f.shape == (20000, len(y)) and np.all(np.isfinite(f))
        np.testing.assert_allclose(f.mean(axis=0), mean, atol=4 * np.sqrt(np.diag(cov).max() / 20000) + 1e-9)
        np.testing.assert_allclose(np.cov(f.T), cov, atol=0.05 * max(np.diag(cov).max(), 1e-12))


def test_with_loo_log_likelihood_puts_each_draws_leave_one_out_terms_in_the_log_likelihood(data):
    import arviz as az

    X, y = data
    draws = {"eta": [[1.3, 1.0]], "lengthscale": [[0.8, 1.2]], "sigma": [[0.25, 0.4]]}
    idata = az.from_dict(posterior=draws, log_likelihood={"y": [[-3.0, -4.0]]})
    out = exact.with_loo_log_likelihood(idata, X, y, jitter=1e-3)
    assert out.log_likelihood["y"].dims == ("chain", "draw", "obs")
    assert "not log p(y | theta)" in out.log_likelihood.attrs["y"]
    second = exact.loo_log_predictive(exact.posterior(X, y, GPHyperparameters(1.0, 1.2, 0.4), jitter=1e-3))
    np.testing.assert_array_equal(out.log_likelihood["y"].values[0, 1], second)


def test_noiseless_posterior_at_training_inputs_is_the_data(data):
    X, y = data
    mean, cov = exact.posterior_at_training_inputs(exact.posterior(X, y, GPHyperparameters(1.0, 0.5, 0.0),
                                                                   jitter=1e-6))
    np.testing.assert_array_equal(mean, y)
    np.testing.assert_array_equal(cov, 0.0)


def test_one_dimensional_inputs_give_the_same_posterior_as_a_column(data):
    X, y = data
    mean_col, var_col = exact.predict(exact.posterior(X, y, HYPER), X_NEW[:, None])
    mean_1d, var_1d = exact.predict(exact.posterior(X[:, 0], y, HYPER), X_NEW)
    np.testing.assert_array_equal(mean_col, mean_1d)
    np.testing.assert_array_equal(var_col, var_1d)


def test_noisy_prediction_adds_sigma_squared(data):
    X, y = data
    gp = exact.posterior(X, y, HYPER)
    np.testing.assert_allclose(exact.predict(gp, X_NEW, include_noise=True)[1],
                               exact.predict(gp, X_NEW)[1] + HYPER.sigma**2, rtol=1e-14)


def test_exact_summary_holds_gaussian_quantiles_labelled_like_arviz(data):
    X, y = data
    table = exact.exact_summary(exact.posterior(X, y, HYPER), labels=[f"p{i}" for i in range(len(y))])
    assert list(table.columns) == ["mean", "sd", "q05", "q95"] and table.index[0] == "f[p0]"
    np.testing.assert_allclose(table["q95"], table["mean"] + stats.norm.ppf(0.95) * table["sd"], rtol=1e-14)
    np.testing.assert_allclose(table["q05"], table["mean"] + stats.norm.ppf(0.05) * table["sd"], rtol=1e-14)


def test_posterior_arrays_are_read_only(data):
    gp = exact.posterior(*data, HYPER)
    with pytest.raises(ValueError, match="read-only"):
        gp.alpha[0] = 0.0


# --------------------------------------------------------------------------------------------------------
# Type-II maximum likelihood
# --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def type2(data):
    X, y = data
    return exact.fit_type2_ml(X, y, HYPER, restarts=4, seed=3)


def test_type2_ml_optimum_has_zero_gradient(data, type2):
    _, grad = exact.log_marginal_likelihood_and_grad(*data, type2.hyper)
    assert np.linalg.norm(grad) < 1e-4


def test_type2_ml_optimum_is_at_least_as_good_as_every_restart(type2):
    assert len(type2.restarts) == 5
    assert all(type2.log_marginal_likelihood >= r.log_marginal_likelihood for r in type2.restarts)


def test_type2_ml_optimum_improves_on_the_start(data, type2):
    assert type2.log_marginal_likelihood > exact.log_marginal_likelihood(*data, HYPER)


def test_type2_ml_is_reproducible_with_the_seed(data, type2):
    again = exact.fit_type2_ml(*data, HYPER, restarts=4, seed=3)
    assert again.table().equals(type2.table())


def test_type2_ml_random_starts_depend_on_the_seed(data, type2):
    other = exact.fit_type2_ml(*data, HYPER, restarts=1, seed=4)
    assert other.restarts[1].start != type2.restarts[1].start


def test_type2_ml_from_a_noiseless_start_keeps_sigma_at_zero(data):
    result = exact.fit_type2_ml(*data, GPHyperparameters(1.0, 1.0, 0.0), restarts=0, jitter=1e-6)
    assert result.hyper.sigma == 0.0


def test_type2_ml_with_ard_fits_one_lengthscale_per_dimension(ard_data):
    result = exact.fit_type2_ml(*ard_data, ARD, restarts=0)
    assert isinstance(result.hyper.lengthscale, tuple) and len(result.hyper.lengthscale) == 2


def test_type2_ml_table_has_a_row_per_run_and_marks_the_best(type2):
    table = type2.table()
    assert len(table) == 5 and table["best"].sum() == 1 and table.loc[type2.best, "best"]


# --------------------------------------------------------------------------------------------------------
# Numerics
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lengthscale", [1e-3, 1e3])
def test_extreme_lengthscales_give_a_finite_log_marginal_likelihood_and_nonnegative_variances(data, lengthscale):
    X, y = data
    hyper = GPHyperparameters(1.0, lengthscale, 0.1)
    gp = exact.posterior(X, y, hyper)
    assert np.isfinite(exact.log_marginal_likelihood(X, y, hyper))
    assert np.all(exact.predict(gp, np.r_[X[:, 0], X_NEW])[1] >= 0)
    assert np.all(np.diag(exact.posterior_at_training_inputs(gp)[1]) >= 0)


def test_very_long_lengthscale_without_noise_escalates_jitter_and_stays_finite_on_data_it_can_produce(data):
    # At ell = 1000 on [0, 5] f is numerically constant: constant data are what the model produces.
    X, _ = data
    y = np.full(len(X), 0.7)
    hyper = GPHyperparameters(1.0, 1e3, 0.0)
    with pytest.warns(JitterWarning):
        gp = exact.posterior(X, y, hyper)
        lml = exact.log_marginal_likelihood(X, y, hyper)
    mean, var = exact.predict(gp, X_NEW)
    assert np.isfinite(lml) and np.all(var >= 0)
    np.testing.assert_allclose(mean, 0.7, rtol=1e-4)


def test_very_long_lengthscale_without_noise_refuses_noisy_data_the_jitter_alone_would_explain(data):
    # The noisy sine data are off the (numerically) few-dimensional range of K at ell = 1000: with no noise
    # the model forbids them; the escalated jitter of 1e-10 would "explain" them (log ML ~ -1e10).
    # Caught: exact.posterior accepting any escalation (the refusal removed).
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error", JitterWarning)  # refused before any warning
        with pytest.raises(ValueError, match=r"^y: the noiseless model .* cannot produce these data"):
            exact.posterior(X, y, GPHyperparameters(1.0, 1e3, 0.0))


def test_duplicate_inputs_without_noise_warn_of_jitter_escalation():
    X = np.array([0.0, 1.0, 1.0, 2.0])
    with pytest.warns(JitterWarning, match="added jitter"):
        gp = exact.posterior(X, np.array([0.0, 1.0, 1.0, 0.5]), GPHyperparameters(1.0, 1.0, 0.0))
    assert gp.jitter > 0


NOISELESS = GPHyperparameters(eta=1.0, lengthscale=1.0, sigma=0.0)


def test_conflicting_duplicates_without_noise_are_refused_naming_the_cause():
    # X = [0, 0, 1], y = [0, 1, 0.5]: f(0) cannot be both 0 and 1.  Before, a JitterWarning, then a latent sd
    # of ~1e-5 and a log marginal likelihood of -2.5e9.  Caught: the refusal removed, and a noise test that
    # read sigma alone (sigma = 0 with a jitter is a model with noise, refused wrongly; see below).
    with warnings.catch_warnings():
        warnings.simplefilter("error", JitterWarning)  # refused before, not after, jitter escalation
        for call in (exact.posterior, exact.log_marginal_likelihood):
            with pytest.raises(ValueError, match=r"^y: inputs X\[0\] and X\[1\] coincide .* probability zero"):
                call(np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.5]), NOISELESS)


def test_near_duplicates_with_different_outputs_without_noise_are_refused():
    # Distinct inputs, so K is positive definite in exact arithmetic, but not in floating point: the escalated
    # jitter would carry the fit (share ~5e9 > N = 3).
    with pytest.raises(ValueError, match="^y: the noiseless model"):
        exact.posterior(np.array([0.0, 1e-9, 1.0]), np.array([0.0, 1.0, 0.5]), NOISELESS)


def test_equal_duplicates_without_noise_are_a_consistent_model():
    X, y = np.array([0.0, 0.0, 1.0]), np.array([1.0, 1.0, 0.5])
    with pytest.warns(JitterWarning):
        gp = exact.posterior(X, y, NOISELESS)
        lml = exact.log_marginal_likelihood(X, y, NOISELESS)
    mean, cov = exact.posterior_at_training_inputs(gp)
    np.testing.assert_array_equal(mean, y)
    assert np.isfinite(lml) and np.all(np.isfinite(exact.predict(gp, X_NEW)[1]))


@pytest.mark.parametrize("sigma, jitter", [(0.1, 0.0), (1e-8, 0.0), (0.0, 1e-6)])
def test_conflicting_duplicates_with_any_noise_are_a_consistent_model(sigma, jitter):
    X, y = np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.5])
    hyper = GPHyperparameters(1.0, 1.0, sigma)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", JitterWarning)  # sigma = 1e-8: sigma^2 is below round-off
        gp = exact.posterior(X, y, hyper, jitter=jitter)
        lml = exact.log_marginal_likelihood(X, y, hyper, jitter=jitter)
    assert np.isfinite(lml) and np.all(np.isfinite(exact.predict(gp, X_NEW)[1]))


def test_a_variance_negative_beyond_round_off_is_an_error_not_clipped(data):
    gp = exact.posterior(*data, HYPER)
    inconsistent = exact.ExactGP(gp.X, gp.y, gp.hyper, 0.1 * np.eye(len(gp.y)), gp.alpha, gp.jitter)  # L too small
    with pytest.raises(FloatingPointError, match="beyond round-off"):
        exact.predict(inconsistent, X_NEW)


def test_log_marginal_likelihood_is_finite_over_the_lengthscale_range(data):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", JitterWarning)
        values = [exact.log_marginal_likelihood(X, y, GPHyperparameters(1.0, ell, 0.05))
                  for ell in np.logspace(-3, 3, 13)]
    assert np.all(np.isfinite(values))


# --------------------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------------------

_X, _Y = _data(n=5)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: exact.posterior(np.r_[_X[:4, 0], np.nan], _Y, HYPER), "X"),
        (lambda: exact.posterior(_X, np.r_[_Y[:4], np.inf], HYPER), "y"),
        (lambda: exact.posterior(_X, _Y[:4], HYPER), "y"),
        (lambda: exact.posterior(np.zeros((5, 1, 1)), _Y, HYPER), "X"),
        (lambda: exact.posterior(_X, _Y, {"eta": 1.0}), "hyper"),
        (lambda: exact.posterior(_X, _Y, ARD), "lengthscale"),
        (lambda: exact.posterior(_X, _Y, HYPER, jitter=-1e-6), "jitter"),
        (lambda: exact.predict(exact.posterior(_X, _Y, HYPER), np.zeros((3, 2))), "X_new"),
        (lambda: exact.predict(exact.posterior(_X, _Y, HYPER), [np.nan]), "X_new"),
        (lambda: exact.predict("gp", _X), "gp"),
        (lambda: exact.log_marginal_likelihood(_X, _Y[:, None], HYPER), "y"),
        (lambda: exact.exact_summary(exact.posterior(_X, _Y, HYPER), labels=["a"]), "labels"),
        (lambda: exact.fit_type2_ml(_X, _Y, HYPER, restarts=-1), "restarts"),
        (lambda: exact.fit_type2_ml(_X, _Y, HYPER, seed=1.5), "seed"),
        (lambda: exact.fit_type2_ml(_X, _Y, HYPER, bounds=(0.1, 10)), "bounds"),
        (lambda: exact.fit_type2_ml(_X, _Y, GPHyperparameters(1e6, 1.0, 0.1)), "init"),
        (lambda: exact.Type2MLBounds(eta=(1.0, 0.5), lengthscale=(0.1, 1), sigma=(0.1, 1)), "eta"),
        (lambda: exact.from_log_parameters([0.0, 0.0], HYPER), "theta"),
    ],
    ids=["X-nan", "y-inf", "y-length", "X-3d", "hyper-type", "ard-dims", "jitter", "X_new-dims", "X_new-nan",
         "gp-type", "y-2d", "labels", "restarts", "seed", "bounds", "init-outside", "bounds-order", "theta"],
)
def test_bad_inputs_raise_value_error_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        call()


# --------------------------------------------------------------------------------------------------------
# NUTS over f (PyMC's gp.Latent) against the closed form, by the cross-validation protocol
# --------------------------------------------------------------------------------------------------------

LATENT = GPHyperparameters(eta=1.0, lengthscale=1.0, sigma=0.5)


@pytest.fixture(scope="module")
def latent_nuts():
    """NUTS over f at fixed hyperparameters: 12 noisy points, 4 chains x 500 draws after 500 tuning steps.

    About 8 s of sampling.  Measured over 40 seeds at this size, the protocol said "agree" for 39 (one
    q05 at |z| = 3.95 against a threshold of 3.71) and caught the wrong lengthscale below in all 40
    (|z| >= 20).  Two chains of 500 draws (on 15 points with sigma = 0.3) were too few: R-hat from two
    short chains crossed 1.01 by chance in about one seed in six.
    """
    rng = np.random.default_rng(3)
    X = np.sort(rng.uniform(0, 5, 12))
    y = np.sin(X) + LATENT.sigma * rng.normal(size=12)
    return X, y, sample_nuts(build_latent_model(X, y, LATENT), draws=500, tune=500, chains=4, seed=1)


def _closed_form_table(X, y, hyper):
    return exact.exact_summary(exact.posterior(X, y, hyper, jitter=PYMC_JITTER))


def test_nuts_over_latent_f_agrees_with_the_closed_form_posterior(latent_nuts):
    X, y, idata = latent_nuts
    result = compare({"nuts": idata}, _closed_form_table(X, y, LATENT), var_names=["f"])
    assert result.verdict == "agree", result.reasons


def test_the_same_comparison_catches_a_closed_form_with_a_wrong_lengthscale(latent_nuts):
    X, y, idata = latent_nuts
    wrong = GPHyperparameters(LATENT.eta, 0.7 * LATENT.lengthscale, LATENT.sigma)
    result = compare({"nuts": idata}, _closed_form_table(X, y, wrong), var_names=["f"])
    assert result.verdict == "disagree"


@pytest.mark.slow
def test_nuts_over_latent_f_agrees_with_the_closed_form_on_ard_inputs_at_full_size():
    rng = np.random.default_rng(5)
    X = rng.uniform(0, 4, size=(30, 2))
    y = np.sin(X[:, 0]) * np.cos(X[:, 1]) + 0.2 * rng.normal(size=30)
    hyper = GPHyperparameters(eta=0.8, lengthscale=(1.2, 2.0), sigma=0.2)
    idata = sample_nuts(build_latent_model(X, y, hyper), draws=1000, tune=1000, chains=4, seed=2)
    result = compare({"nuts": idata}, _closed_form_table(X, y, hyper), var_names=["f"])
    assert result.verdict == "agree", result.reasons


# --------------------------------------------------------------------------------------------------------
# Why each run stopped; stationarity without the analytic gradient
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status, message, stopped", [
    (0, "CONVERGENCE: RELATIVE REDUCTION OF F <= FACTR*EPSMCH", "converged"),
    (1, "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT", "iteration limit"),
    (1, "STOP: TOTAL NO. OF F,G EVALUATIONS EXCEEDS LIMIT", "evaluation limit"),
    (2, "ABNORMAL: ", "line-search failure"),
    (2, "WARNING: ROUNDING ERRORS PREVENT PROGRESS", "abnormal: WARNING: ROUNDING ERRORS PREVENT PROGRESS"),
])
def test_stop_reason_reads_scipy_status_and_message(status, message, stopped):
    from scipy.optimize import OptimizeResult

    assert exact.stop_reason(OptimizeResult(status=status, message=message)) == stopped


def test_stop_reason_refuses_what_is_not_an_lbfgsb_result():
    with pytest.raises(ValueError, match="^result:"):
        exact.stop_reason(object())


def test_type2_ml_records_why_each_run_stopped_and_flags_runs_cut_short_by_the_limit(data, type2):
    assert [r.stopped for r in type2.restarts] == ["converged"] * 5 and type2.at_limit == ()
    assert list(type2.table()["stopped"]) == ["converged"] * 5
    short = exact.fit_type2_ml(*data, HYPER, restarts=2, seed=3, maxiter=2)
    assert [(r.stopped, r.status, r.iterations) for r in short.restarts] == [("iteration limit", 1, 2)] * 3
    assert short.at_limit == (0, 1, 2)
    assert "**Runs 0, 1, 2 stopped at limits" in exact.stops_markdown(
        "Type-II ML", [r.stopped for r in short.restarts], [r.iterations for r in short.restarts])
    assert "stopped at" not in exact.stops_markdown("Type-II ML", ["converged"] * 2, [10, 12])


def test_type2_ml_optimum_is_stationary_by_central_differences(data, type2):
    st = exact.stationarity(*data, type2)
    assert st.ok and st.norm < 1e-5 and st.names == ("log_eta", "log_lengthscale", "log_sigma")


def test_stationarity_projects_out_a_gradient_that_pushes_against_a_bound(data):
    # sigma held near its lower bound: the log ML would rise by lowering it further, which the box forbids
    bounds = exact.Type2MLBounds(eta=(0.1, 10.0), lengthscale=(0.1, 10.0), sigma=(0.5, 5.0))
    fit = exact.fit_type2_ml(*data, GPHyperparameters(1.0, 1.0, 0.6), restarts=0, bounds=bounds)
    st = exact.stationarity(*data, fit)
    assert fit.hyper.sigma == pytest.approx(0.5) and st.gradient[-1] < -0.1 and st.projected[-1] == 0.0 and st.ok


def test_a_term_dropped_from_the_analytic_gradient_fails_stationarity(plant_bug, data):
    # log sigma's derivative with alpha^T alpha for tr(W) (its -C^-1 term dropped): L-BFGS-B follows it to where
    # it, not the log ML, is flat.
    plant_bug(exact, "_value_and_grad", "hyper.sigma**2 * trace]", "hyper.sigma**2 * float(alpha @ alpha)]")
    fit = exact.fit_type2_ml(*data, HYPER, restarts=4, seed=3)
    st = exact.stationarity(*data, fit)
    assert not st.ok and st.norm > 100 * st.tolerance


@pytest.mark.parametrize("kwargs, name", [({"step": 0.0}, "step"), ({"tolerance": -1.0}, "tolerance"),
                                          ({"fit": "best"}, "fit")])
def test_bad_stationarity_arguments_raise_naming_them(data, type2, kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        exact.stationarity(*data, **({"fit": type2} | kwargs))


def test_the_log_likelihoods_exact_mean_and_sd_match_independent_posterior_draws_of_f():
    # Caught: tr(S) left out of the mean (the posterior's spread ignored), the cross term 4 r'S r left out of the
    # variance, or sigma in place of sigma^2.  The draws are independent: MCSEs of a mean and of an sd.
    X, y = _data(n=15, seed=4)
    hyper = GPHyperparameters(eta=1.2, lengthscale=0.7, sigma=0.4)
    gp = exact.posterior(X, y, hyper, jitter=PYMC_JITTER)
    row = exact.log_likelihood_summary(gp).loc["loglik"]
    f = exact.sample_at_training_inputs(gp, np.random.default_rng(0), 100_000)
    ll = exact.log_likelihood_of_f(gp, f)
    mcse_mean = ll.std() / np.sqrt(ll.size)
    mcse_sd = ll.std() * np.sqrt((stats.kurtosis(ll, fisher=False) - 1) / (4 * ll.size))
    assert abs(ll.mean() - row["mean"]) < 4 * mcse_mean
    assert abs(ll.std() - row["sd"]) < 4 * mcse_sd
    assert np.isinf(row["q05"]) and np.isinf(row["q95"])  # no closed form: left out by compare


def test_the_log_likelihood_of_f_is_the_sum_of_normal_log_densities():
    X, y = _data(n=6, seed=2)
    gp = exact.posterior(X, y, GPHyperparameters(eta=1.0, lengthscale=1.0, sigma=0.3))
    f = np.random.default_rng(1).normal(size=(3, 6))
    expected = stats.norm.logpdf(y, f, 0.3).sum(axis=-1)
    np.testing.assert_allclose(exact.log_likelihood_of_f(gp, f), expected, rtol=1e-12)
    with pytest.raises(ValueError, match=r"^f: expected draws of shape \(\.\.\., 6\)"):
        exact.log_likelihood_of_f(gp, f[:, :5])


# --------------------------------------------------------------------------------------------------------
# One factorisation; the gradient without an N x N x D tensor; LAPACK's inverse; scikit-learn as a peer
# --------------------------------------------------------------------------------------------------------


def _dense_value_and_grad(X, y, hyper, jitter=0.0):
    """GPML eqs. 2.30 and 5.9 written densely, independently of the module: C^-1 by numpy.linalg.inv, the
    N x N x D tensor of squared differences, every derivative matrix formed."""
    X = np.asarray(X, dtype=float).reshape(len(y), -1)
    ell = hyper.lengthscales(X.shape[1])
    K = exp_quad(X, X, hyper.eta, ell)
    C = K + (hyper.sigma**2 + jitter) * np.eye(len(y))
    Ci = np.linalg.inv(C)
    a = Ci @ y
    value = -0.5 * y @ a - 0.5 * np.linalg.slogdet(C)[1] - 0.5 * len(y) * np.log(2 * np.pi)
    W = np.outer(a, a) - Ci
    sq = (X[:, None, :] - X[None, :, :]) ** 2 / ell**2  # [N, N, D]
    grads = [0.5 * np.sum(W * 2 * K)]
    per_dim = [0.5 * np.sum(W * K * sq[:, :, d]) for d in range(X.shape[1])]
    grads += per_dim if np.ndim(hyper.lengthscale) else [sum(per_dim)]
    if hyper.sigma > 0:
        grads.append(0.5 * np.trace(W) * 2 * hyper.sigma**2)
    return value, np.array(grads)


@pytest.mark.parametrize(
    "hyper, n, dims",
    [(HYPER, 30, 1), (GPHyperparameters(0.9, (0.7, 2.5, 1.1), 0.3), 40, 3), (GPHyperparameters(1.2, 0.6, 0.4), 35, 4),
     (GPHyperparameters(1.1, 0.3, 0.0), 12, 1)],
    ids=["shared-1d", "ard-3d", "shared-4d", "noiseless"],
)
def test_gradient_without_the_tensor_equals_the_dense_formula_and_finite_differences(hyper, n, dims):
    X, y = _data(n=n, dims=dims, seed=5)
    jitter = 1e-6 if hyper.sigma == 0 else 0.0
    value, grad = exact.log_marginal_likelihood_and_grad(X, y, hyper, jitter=jitter)
    dense_value, dense_grad = _dense_value_and_grad(X, y, hyper, jitter)
    assert value == pytest.approx(dense_value, rel=1e-10)
    np.testing.assert_allclose(grad, dense_grad, rtol=1e-8, atol=1e-8)
    theta, h = exact.log_parameters(hyper), 1e-4

    def lml(t):
        return exact.log_marginal_likelihood(X, y, exact.from_log_parameters(t, hyper), jitter=jitter)

    numeric = [(lml(theta + h * e) - lml(theta - h * e)) / (2 * h) for e in np.eye(theta.size)]
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("hyper, which", [(HYPER, "data"), (ARD, "ard_data")])
def test_one_factorisation_gives_the_log_marginal_likelihood_and_its_gradient(hyper, which, request):
    X, y = request.getfixturevalue(which)
    gp = exact.posterior(X, y, hyper, jitter=1e-8)
    assert gp.log_marginal_likelihood == pytest.approx(exact.log_marginal_likelihood(X, y, hyper, jitter=1e-8),
                                                       rel=1e-13)
    assert gp.log_marginal_likelihood_terms() == pytest.approx(
        exact.log_marginal_likelihood_terms(X, y, hyper, jitter=1e-8), rel=1e-13)
    value, grad = gp.log_marginal_likelihood_and_grad()
    value2, grad2 = exact.log_marginal_likelihood_and_grad(X, y, hyper, jitter=1e-8)
    assert value == pytest.approx(value2, rel=1e-13)
    np.testing.assert_allclose(grad, grad2, rtol=1e-12, atol=1e-12)
    # the posterior is still whole: its factor reproduces C, and it predicts as a fresh one does
    np.testing.assert_allclose(gp.L @ gp.L.T, _dense_cov_y(X, hyper, 1e-8), rtol=1e-12, atol=1e-12)
    assert np.all(np.triu(gp.L, 1) == 0.0)


def test_covariance_inverse_by_lapack_is_the_symmetric_inverse(ard_data):
    X, y = ard_data
    gp = exact.posterior(X, y, ARD)
    P = gp.covariance_inverse()
    np.testing.assert_allclose(P, np.linalg.inv(_dense_cov_y(X, ARD)), rtol=1e-10, atol=1e-12)
    assert np.array_equal(P, P.T)


def test_in_place_cholesky_escalates_jitter_by_forming_the_matrix_again():
    from bayes_zoo.inference.gp.linalg import cholesky, cholesky_in_place

    A = np.ones((6, 6))  # rank one: needs jitter
    formed = []

    def make():
        formed.append(1)
        return A.copy()

    with pytest.warns(JitterWarning):
        L, used = cholesky_in_place(make, what="A test matrix")
    with pytest.warns(JitterWarning):
        L_ref, used_ref = cholesky(A)
    assert used == used_ref > 0 and len(formed) > 1
    np.testing.assert_allclose(L, L_ref, rtol=1e-12)
    with pytest.raises(ValueError, match="^A:"):
        cholesky_in_place(lambda: np.ones((3, 2)))
    with pytest.raises(ValueError, match="^jitter:"):
        cholesky_in_place(make, jitter=-1.0)


def _sklearn_gpr(X, y, hyper):
    pytest.importorskip("sklearn")
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    kernel = ConstantKernel(hyper.eta**2) * RBF(np.asarray(hyper.lengthscale, dtype=float)) + WhiteKernel(
        hyper.sigma**2)
    return GaussianProcessRegressor(kernel, alpha=1e-10, optimizer=None).fit(X, y)


def test_ard_value_and_gradient_match_scikit_learn():
    X, y = _data(n=80, dims=4, seed=7)
    hyper = GPHyperparameters(1.4, (0.8, 1.5, 2.2, 3.0), 0.35)
    gpr = _sklearn_gpr(X, y, hyper)
    theirs, their_grad = gpr.log_marginal_likelihood(gpr.kernel_.theta, eval_gradient=True)
    value, grad = exact.log_marginal_likelihood_and_grad(X, y, hyper, jitter=1e-10)
    # scikit-learn's theta: log eta^2, log ell_d, log sigma^2: d/d log eta = 2 d/d log eta^2
    their_grad = np.r_[2 * their_grad[0], their_grad[1:-1], 2 * their_grad[-1]]
    assert value == pytest.approx(theirs, rel=1e-12)
    np.testing.assert_allclose(grad, their_grad, rtol=1e-8)


@pytest.mark.parametrize("dims", [1, 3])
def test_type2_ml_reaches_scikit_learns_optimum_in_no_more_evaluations(dims):
    pytest.importorskip("sklearn")
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    class Counted(GaussianProcessRegressor):
        def log_marginal_likelihood(self, *args, **kwargs):
            self.evaluations = getattr(self, "evaluations", 0) + 1
            return super().log_marginal_likelihood(*args, **kwargs)

    X, y = _data(n=60, dims=dims, seed=11)
    bounds = exact.Type2MLBounds(eta=(1e-2, 1e2), lengthscale=(1e-2, 1e2), sigma=(1e-3, 1e1))
    init = GPHyperparameters(1.0, 1.0 if dims == 1 else (1.0,) * dims, 0.5)
    lo, hi = np.array(bounds.log_bounds(init)).T
    rng = np.random.default_rng(0)
    starts = [init] + [exact.from_log_parameters(rng.uniform(lo, hi), init) for _ in range(2)]
    ours, theirs = [], []
    for h in starts:
        ours.append(exact.fit_type2_ml(X, y, h, restarts=0, bounds=bounds, jitter=1e-10))
        kernel = (ConstantKernel(h.eta**2, (1e-4, 1e4)) * RBF(np.asarray(h.lengthscale, dtype=float), (1e-2, 1e2))
                  + WhiteKernel(h.sigma**2, (1e-6, 1e2)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs.append(Counted(kernel, alpha=1e-10, n_restarts_optimizer=0).fit(X, y))
    best = max(r.log_marginal_likelihood for r in ours)
    assert best == pytest.approx(max(g.log_marginal_likelihood_value_ for g in theirs), abs=1e-6)
    assert sum(r.restarts[0].evaluations for r in ours) <= sum(g.evaluations for g in theirs)
    assert all(r.restarts[0].evaluations > 0 for r in ours)


def test_exact_gp_calls_hold_blas_to_the_one_thread_policy(data, monkeypatch):
    from bayes_zoo.inference import threads

    entered = []
    real = threads._HOLD

    def spy(threads_asked):
        entered.append(threads_asked)
        return real(threads_asked)

    monkeypatch.setattr(threads, "BLAS_THREADS", 1)
    monkeypatch.setattr(threads, "_HOLD", spy)  # blas_held enters _HOLD(BLAS_THREADS)
    X, y = data
    exact.predict(exact.posterior(X, y, HYPER), X_NEW)
    exact.log_marginal_likelihood_and_grad(X, y, HYPER)
    assert len(entered) >= 3
