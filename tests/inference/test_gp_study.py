"""bayes_zoo.inference.gp.study: the lengthscale study scores each exact posterior against the known true function."""

from __future__ import annotations

import numpy as np
import pytest

from bayes_zoo.inference.gp import exact, study
from bayes_zoo.models import gp


@pytest.fixture(scope="module")
def data():
    d = gp.simulate_dataset(3, n_train=30, n_test=60)
    return d.arrays["X"], d.arrays["y"], d.arrays["X_test"], d.arrays["f_test"]


HYPER = gp.GPHyperparameters(eta=1.2, lengthscale=0.7, sigma=0.3)


def test_each_row_is_the_exact_posterior_at_that_lengthscale(data):
    X, y, Xt, ft = data
    table = study.lengthscale_study(X, y, Xt, ft, HYPER, [0.2, 2.0])
    for ell in (0.2, 2.0):
        h = gp.GPHyperparameters(1.2, ell, 0.3)
        assert table.loc[ell, "log_marginal_likelihood"] == pytest.approx(exact.log_marginal_likelihood(X, y, h))
        mean, _ = exact.predict(exact.posterior(X, y, h), Xt)
        assert table.loc[ell, "test_rmse"] == pytest.approx(np.sqrt(np.mean((mean - ft) ** 2)))


def test_short_lengthscales_fit_the_training_data_closer_than_long_ones(data):
    X, y, Xt, ft = data
    table = study.lengthscale_study(X, y, Xt, ft, HYPER, [0.05, 10.0])
    assert table.loc[0.05, "train_rmse"] < table.loc[10.0, "train_rmse"]


def test_prior_samples_have_the_kernel_covariance():
    draws = study.prior_samples(np.random.default_rng(0), np.array([0.0, 0.5]), HYPER, 20000)
    np.testing.assert_allclose(np.cov(draws.T), gp.exp_quad([0.0, 0.5], [0.0, 0.5], 1.2, 0.7), atol=0.05)


@pytest.mark.parametrize("kwargs, name", [({"lengthscales": []}, "lengthscales"), ({"lengthscales": [0.0]}, "lengthscales"),
                                          ({"f_test": np.zeros(3)}, "f_test")])
def test_bad_arguments_are_named(data, kwargs, name):
    X, y, Xt, ft = data
    args = {"lengthscales": [1.0], "f_test": ft, **kwargs}
    with pytest.raises(ValueError, match=f"^{name}:"):
        study.lengthscale_study(X, y, Xt, args["f_test"], HYPER, args["lengthscales"])
