"""The Laplace approximation to the probit posterior: mode, curvature, separable data, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, special

from bayes_zoo.inference.laplace import GaussianApproximation, log_posterior, probit_laplace
from bayes_zoo.models.probit import ProbitPrior, log_likelihood_gradient

PRIOR = ProbitPrior(weight_sd=2.5)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(44)
    X = np.column_stack([np.ones(40), rng.normal(size=(40, 2))])  # [N, D]
    y = (rng.random(40) < special.ndtr(X @ np.array([0.5, 1.5, -1.0]))).astype(float)
    return X, y


@pytest.fixture(scope="module")
def fit(data) -> GaussianApproximation:
    return probit_laplace(*data, PRIOR)


def _grad_log_posterior(X, y, theta):
    return log_likelihood_gradient(X, y, theta) - theta / PRIOR.weight_sd**2


def test_gradient_of_log_posterior_vanishes_at_the_mean(data, fit):
    assert fit.converged
    assert np.max(np.abs(_grad_log_posterior(*data, fit.mean))) < 1e-9


def test_mean_equals_scipy_minimize_optimum(data, fit):
    X, y = data
    res = optimize.minimize(lambda t: -log_posterior(X, y, t, PRIOR), np.ones(3),
                            jac=lambda t: -_grad_log_posterior(X, y, t), method="BFGS", options={"gtol": 1e-11})
    np.testing.assert_allclose(fit.mean, res.x, atol=1e-6)


def test_cov_is_inverse_of_finite_difference_negative_hessian(data, fit):
    X, y = data
    h = 1e-5
    hess = np.array([(_grad_log_posterior(X, y, fit.mean + h * e) - _grad_log_posterior(X, y, fit.mean - h * e))
                     / (2 * h) for e in np.eye(3)])
    np.testing.assert_allclose(fit.cov, np.linalg.inv(-0.5 * (hess + hess.T)), rtol=1e-4)


def test_separable_data_converge_to_a_finite_mode():
    X = np.column_stack([np.ones(30), np.linspace(-2.0, 2.0, 30)])
    y = (X[:, 1] > 0).astype(float)  # perfectly separated: no maximum-likelihood estimate
    fit = probit_laplace(X, y, ProbitPrior(weight_sd=10.0))
    assert fit.converged and np.all(np.isfinite(fit.mean)) and np.all(np.isfinite(fit.cov))
    assert np.max(np.abs(_grad_for_prior(X, y, fit.mean, 10.0))) < 1e-8
    assert np.all(np.linalg.eigvalsh(fit.cov) > 0)


def _grad_for_prior(X, y, theta, weight_sd):
    return log_likelihood_gradient(X, y, theta) - theta / weight_sd**2


def test_log_posterior_never_decreases_along_the_newton_iterates():
    # a vague prior on nearly separable data: full Newton steps overshoot, the line search must damp them
    rng = np.random.default_rng(5)
    X = np.column_stack([np.ones(30), rng.normal(size=(30, 2))])
    y = (X[:, 1] + 0.05 * rng.normal(size=30) > 0).astype(float)
    prior = ProbitPrior(weight_sd=50.0)
    fit = probit_laplace(X, y, prior)
    assert fit.objective.shape == (fit.iterations + 1,)
    assert np.all(np.diff(fit.objective) >= 0.0)
    assert fit.objective[-1] == pytest.approx(log_posterior(X, y, fit.mean, prior), rel=1e-12)


def test_too_few_iterations_raise_naming_max_iter(data):
    with pytest.raises(ValueError, match="^max_iter:"):
        probit_laplace(*data, PRIOR, max_iter=1, tol=1e-14)


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"tol": 0.0}, "tol"), ({"tol": np.nan}, "tol"), ({"max_iter": 0}, "max_iter"), ({"max_iter": 2.5}, "max_iter"),
])
def test_bad_settings_raise_naming_them(data, kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        probit_laplace(*data, PRIOR, **kwargs)


def test_bad_data_raise_naming_them(data):
    X, y = data
    X_nan = X.copy()
    X_nan[0, 1] = np.nan
    with pytest.raises(ValueError, match="^X:"):
        probit_laplace(X_nan, y, PRIOR)
    with pytest.raises(ValueError, match="^y:"):
        probit_laplace(X, y + 1.0, PRIOR)
    with pytest.raises(ValueError, match="^y:"):
        probit_laplace(X, y[:-1], PRIOR)
    with pytest.raises(ValueError, match="^prior:"):
        probit_laplace(X, y, 2.5)
