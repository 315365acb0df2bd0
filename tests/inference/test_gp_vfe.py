"""bayes_zoo.inference.gp.vfe: Titsias's bound and predictive against PyMC's MarginalApprox(approx="VFE"), the bound
below the exact log marginal likelihood, and Z = X giving back the exact GP."""

from __future__ import annotations

import numpy as np
import pytest

from bayes_zoo.inference.gp import exact, vfe
from bayes_zoo.models.gp import GPHyperparameters
from bayes_zoo.models.sparse_gp import pymc_approx_log_likelihood, pymc_approx_predict

HYPER = GPHyperparameters(eta=1.2, lengthscale=(0.6, 0.9), sigma=0.3)


@pytest.fixture(scope="module")
def problem():
    """40 noisy 2-D observations, 7 pseudo-inputs, 20 test inputs beyond the data."""
    rng = np.random.default_rng(0)
    X = rng.uniform(0.0, 4.0, size=(40, 2))
    y = np.sin(X).sum(axis=1) + 0.3 * rng.standard_normal(40)
    return X, y, rng.uniform(0.0, 4.0, size=(7, 2)), rng.uniform(-1.0, 5.0, size=(20, 2))


def test_the_bound_is_pymcs_vfe_log_likelihood(problem):
    X, y, Z, _ = problem
    assert vfe.bound(X, y, Z, HYPER) == pytest.approx(pymc_approx_log_likelihood(X, y, Z, HYPER, approx="VFE"),
                                                      abs=1e-8)


def test_the_predictive_is_pymcs_vfe_predictive(problem):
    X, y, Z, X_new = problem
    mean, var = vfe.predict(X, y, Z, HYPER, X_new)
    pymc_mean, pymc_var = pymc_approx_predict(X, y, Z, X_new, HYPER, approx="VFE")
    np.testing.assert_allclose(mean, pymc_mean, atol=1e-10)
    np.testing.assert_allclose(var, pymc_var, atol=1e-10)


def test_the_bound_is_below_the_exact_log_marginal_likelihood_and_tightens_with_more_pseudo_inputs(problem):
    X, y, _, _ = problem
    rng = np.random.default_rng(1)
    exact_lml = exact.log_marginal_likelihood(X, y, HYPER)
    bounds = []
    Z = np.empty((0, 2))
    for _ in range(4):  # nested sets of pseudo-inputs: the bound can only rise
        Z = np.vstack([Z, rng.uniform(0.0, 4.0, size=(3, 2))])
        bounds.append(vfe.bound(X, y, Z, HYPER))
    assert max(bounds) < exact_lml
    assert np.all(np.diff(bounds) > 0)


def test_pseudo_inputs_on_the_training_inputs_give_the_exact_gp(problem):
    X, y, _, X_new = problem
    X, y = X[::2], y[::2]  # 20 inputs: K_uu factorises with no jitter
    assert vfe.bound(X, y, X, HYPER, jitter=0.0) == pytest.approx(exact.log_marginal_likelihood(X, y, HYPER), abs=1e-8)
    mean, var = vfe.predict(X, y, X, HYPER, X_new, jitter=0.0)
    ex_mean, ex_var = exact.predict(exact.posterior(X, y, HYPER), X_new)
    np.testing.assert_allclose(mean, ex_mean, atol=1e-7)
    np.testing.assert_allclose(var, ex_var, atol=1e-7)


def test_one_dimensional_arrays_are_one_input_dimension():
    x = np.linspace(0.0, 3.0, 12)
    y, z = np.sin(x), np.linspace(0.0, 3.0, 4)
    hyper = GPHyperparameters(1.0, 0.7, 0.2)
    assert vfe.bound(x, y, z, hyper) == vfe.bound(x[:, None], y, z[:, None], hyper)


@pytest.mark.parametrize("change, message", [
    (dict(y=np.zeros(5)), "outputs"),
    (dict(Z=np.zeros((3, 1))), "dimension"),
    (dict(hyper=GPHyperparameters(1.0, 1.0, 0.0)), "positive noise"),
    (dict(jitter=-1.0), "jitter"),
])
def test_bad_arguments_are_refused_naming_them(problem, change, message):
    X, y, Z, _ = problem
    args = dict(X=X, y=y, Z=Z, hyper=HYPER) | change
    jitter = args.pop("jitter", 1e-6)
    with pytest.raises(ValueError, match=message):
        vfe.bound(**args, jitter=jitter)
