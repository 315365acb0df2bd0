"""Probit regression: the PyMC model against the log-likelihood by hand, derivatives, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from bayes_zoo.models.probit import (ProbitPrior, build_probit_model, check_labels, inverse_mills, log_likelihood,
                           log_likelihood_gradient, log_likelihood_hessian)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(20190)
    X = np.column_stack([np.ones(25), rng.normal(size=(25, 2))])  # [N, D], bias first
    y = (rng.random(25) < special.ndtr(X @ np.array([0.3, 1.0, -0.7]))).astype(float)
    return X, y


@pytest.fixture(scope="module")
def model(data):
    return build_probit_model(*data, ProbitPrior(weight_sd=2.5))


@pytest.fixture(scope="module")
def logp(model):
    return model.compile_logp()


@pytest.fixture(scope="module")
def dlogp(model):
    return model.compile_dlogp()


POINTS = [np.array([0.3, -1.0, 2.0]), np.array([-0.4, 0.2, 0.05])]


@pytest.mark.parametrize("theta", POINTS)
def test_pymc_logp_equals_handwritten_loglik_plus_prior(data, logp, theta):
    ours = log_likelihood(*data, theta) + ProbitPrior(weight_sd=2.5).log_density(theta)
    assert logp({"w": theta}) == pytest.approx(ours, abs=1e-8, rel=0)


def test_pymc_logp_and_gradient_stay_finite_and_exact_far_in_the_tails(data, logp, dlogp):
    # |z| = |x^T w| reaches ~100: invprobit would round to 0 or 1 there, giving -inf and NaN gradients
    theta = np.array([0.0, 30.0, -40.0])
    prior = ProbitPrior(weight_sd=2.5)
    assert np.max(np.abs(data[0] @ theta)) > 50
    assert logp({"w": theta}) == pytest.approx(log_likelihood(*data, theta) + prior.log_density(theta), rel=1e-12)
    np.testing.assert_allclose(dlogp({"w": theta}), log_likelihood_gradient(*data, theta) - theta / 2.5**2,
                               rtol=1e-9)


def test_loglik_is_sum_of_log_bernoulli_probabilities(data):
    X, y = data
    theta = POINTS[0]
    p = special.ndtr(X @ theta)
    assert log_likelihood(X, y, theta) == pytest.approx(np.sum(y * np.log(p) + (1 - y) * np.log1p(-p)), rel=1e-9)


def test_gradient_and_hessian_match_finite_differences(data):
    X, y = data
    theta, h = POINTS[0], 1e-6
    eye = np.eye(3)
    fd_grad = np.array([(log_likelihood(X, y, theta + h * e) - log_likelihood(X, y, theta - h * e)) / (2 * h)
                        for e in eye])
    fd_hess = np.array([(log_likelihood_gradient(X, y, theta + h * e) - log_likelihood_gradient(X, y, theta - h * e))
                        / (2 * h) for e in eye])
    np.testing.assert_allclose(log_likelihood_gradient(X, y, theta), fd_grad, rtol=1e-6)
    np.testing.assert_allclose(log_likelihood_hessian(X, y, theta), fd_hess, rtol=1e-6, atol=1e-8)


def test_inverse_mills_is_finite_and_tends_to_minus_u_far_below_zero():
    u = np.array([-1e3, -40.0, 0.0, 40.0])
    lam = inverse_mills(u)
    assert np.all(np.isfinite(lam))
    assert lam[0] == pytest.approx(1e3, rel=1e-5) and lam[3] == 0.0


@pytest.mark.parametrize("bad", [[0.0, 2.0], [0.0, 0.5], [0.0, -1.0], [0.0, np.nan]])
def test_labels_other_than_zero_or_one_raise_naming_y(data, bad):
    X, _ = data
    y = np.zeros(X.shape[0])
    y[:2] = bad
    with pytest.raises(ValueError, match="^y:"):
        build_probit_model(X, y, ProbitPrior())
    with pytest.raises(ValueError, match="^y:"):
        log_likelihood(X, y, POINTS[0])


def test_wrong_label_length_and_theta_length_raise_naming_them(data):
    X, y = data
    with pytest.raises(ValueError, match="^y:"):
        log_likelihood(X, y[:-1], POINTS[0])
    with pytest.raises(ValueError, match="^theta:"):
        log_likelihood(X, y, np.zeros(2))


@pytest.mark.parametrize("weight_sd", [0.0, -1.0, np.inf, np.nan])
def test_bad_prior_raises_naming_weight_sd(weight_sd):
    with pytest.raises(ValueError, match="^weight_sd:"):
        ProbitPrior(weight_sd=weight_sd)


def test_model_requires_a_probit_prior(data):
    with pytest.raises(ValueError, match="^prior:"):
        build_probit_model(*data, prior=2.5)


def test_check_labels_names_the_argument():
    with pytest.raises(ValueError, match="^y_test:"):
        check_labels([1.0, 3.0], "y_test")
