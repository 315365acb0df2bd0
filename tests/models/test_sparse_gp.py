"""bayes_zoo.models.sparse_gp: PyMC's MarginalApprox (FITC, VFE) built at fixed pseudo-inputs, and the deterministic
cross-checks with the handwritten FITC of bayes_zoo.inference.gp.fitc (same Z, hyperparameters and jitter)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from scipy import stats

from bayes_zoo.inference.gp import fitc
from bayes_zoo.models import sparse_gp
from bayes_zoo.models.gp import PYMC_JITTER, GPHyperparameters, GPPrior, exp_quad

HYPER = GPHyperparameters(eta=1.2, lengthscale=(0.6, 0.9), sigma=0.3)


@pytest.fixture(scope="module")
def problem():
    """40 noisy 2-D observations, 7 pseudo-inputs, 20 test inputs beyond the data."""
    rng = np.random.default_rng(0)
    X = rng.uniform(0.0, 4.0, size=(40, 2))
    y = np.sin(X).sum(axis=1) + 0.3 * rng.standard_normal(40)
    return X, y, rng.uniform(0.0, 4.0, size=(7, 2)), rng.uniform(-1.0, 5.0, size=(20, 2))


def _exact_log_ml(X, y, hyper):
    C = exp_quad(X, X, hyper.eta, hyper.lengthscale) + hyper.sigma**2 * np.eye(len(X))
    return stats.multivariate_normal(np.zeros(len(X)), C).logpdf(y)


def test_the_handwritten_fitc_defaults_to_pymcs_jitter():
    from pymc.gp.util import JITTER_DEFAULT

    assert PYMC_JITTER == JITTER_DEFAULT
    for f in (fitc.log_marginal_likelihood, fitc.posterior, fitc.optimise):
        assert inspect.signature(f).parameters["jitter"].default == JITTER_DEFAULT


def test_fitc_log_ml_equals_pymc_marginal_approx_fitc(problem):
    X, y, Z, _ = problem
    theirs = sparse_gp.pymc_approx_log_likelihood(X, y, Z, HYPER, approx="FITC", jitter=1e-6)
    assert fitc.log_marginal_likelihood(X, y, Z, HYPER, jitter=1e-6) == pytest.approx(theirs, abs=1e-8)


def test_fitc_predictive_equals_pymc_marginal_approx_fitc_predict(problem):
    X, y, Z, X_new = problem
    mean, var = sparse_gp.pymc_approx_predict(X, y, Z, X_new, HYPER, approx="FITC", jitter=1e-6)
    got_mean, got_var = fitc.predict(fitc.posterior(X, y, Z, HYPER, jitter=1e-6), X_new)
    np.testing.assert_allclose(got_mean, mean, rtol=0, atol=1e-8)
    np.testing.assert_allclose(got_var, var, rtol=0, atol=1e-8)


def test_vfe_with_z_equal_to_x_is_the_exact_gp_log_ml():
    X = np.linspace(0.0, 10.0, 30)  # spacing 0.34: K is well conditioned (cond ~ 20), so no jitter is needed
    y = np.sin(X) + 0.1 * np.cos(7.0 * X)
    hyper = GPHyperparameters(1.2, 0.3, 0.3)
    vfe = sparse_gp.pymc_approx_log_likelihood(X, y, X, hyper, approx="VFE", jitter=0.0)
    assert vfe == pytest.approx(_exact_log_ml(X[:, None], y, hyper), abs=1e-8)


def test_vfe_is_a_lower_bound_on_the_exact_log_ml(problem):
    X, y, Z, _ = problem
    assert sparse_gp.pymc_approx_log_likelihood(X, y, Z, HYPER, approx="VFE") < _exact_log_ml(X, y, HYPER)


def test_with_priors_the_hyperparameters_are_free_and_the_log_density_finite(problem):
    X, y, Z, _ = problem
    model = sparse_gp.build_fitc_model(X, y, Z, GPPrior(3.0, 2.0, 2.0, 1.0), ard=True)
    assert sorted(rv.name for rv in model.free_RVs) == ["eta", "lengthscale", "sigma"]
    point = model.initial_point()
    assert point["lengthscale_log__"].shape == (2,)
    assert np.isfinite(model.compile_logp()(point))


def test_with_fixed_hyperparameters_there_are_no_free_variables(problem):
    X, y, Z, _ = problem
    model = sparse_gp.build_fitc_model(X, y, Z, HYPER)
    assert model.free_RVs == [] and [p.name for p in model.potentials] == ["marginalapprox_loglik_y"]


@pytest.mark.parametrize(
    "kwargs, name",
    [({"approx": "DTC"}, "approx"), ({"hyper": "priors"}, "hyper"),
     ({"hyper": GPHyperparameters(1.0, 1.0, 0.0), "approx": "VFE"}, "hyper"), ({"Z": np.zeros((2, 3))}, "Z"),
     ({"jitter": -1.0}, "jitter")],
)
def test_bad_arguments_raise_naming_them(problem, kwargs, name):
    X, y, Z, _ = problem
    args = {"Z": Z, "hyper": None} | kwargs
    with pytest.raises(ValueError, match=f"^{name}:"):
        sparse_gp.build_fitc_model(X, y, args.pop("Z"), args.pop("hyper"), **args)


# ---------------------------------------------------------------- the generative model (SBC's simulate)

SBC_DATA = {"X": np.linspace(0.0, 5.0, 15)[:, None], "Z": np.linspace(0.5, 4.5, 4)[:, None], "eta": 1.0,
            "lengthscale": 1.0, "sigma": 0.3}


def test_simulate_labels_u_and_passes_the_template_through():
    truth, data = sparse_gp.simulate(np.random.default_rng(0), SBC_DATA)
    assert list(truth) == ["u[0]", "u[1]", "u[2]", "u[3]"] and all(isinstance(v, float) for v in truth.values())
    assert data["y"].shape == (15,) and data["Z"] is SBC_DATA["Z"] and data["sigma"] == 0.3


def test_simulate_draws_u_from_k_uu_and_y_with_the_exact_gps_marginal_variance():
    # u ~ N(0, K_uu + jitter I); FITC keeps the exact GP's marginal variance: Var(y_n) = eta^2 + sigma^2.
    sims = [sparse_gp.simulate(np.random.default_rng(s), SBC_DATA) for s in range(4000)]
    u = np.array([list(t.values()) for t, _ in sims])
    y = np.array([d["y"] for _, d in sims])
    Z = SBC_DATA["Z"]
    np.testing.assert_allclose(np.cov(u.T), exp_quad(Z, Z, 1.0, 1.0) + PYMC_JITTER * np.eye(4), atol=0.08)
    np.testing.assert_allclose(y.var(axis=0), 1.0 + 0.3**2, rtol=0.1)
    assert np.abs(u.mean(axis=0)).max() < 4 / np.sqrt(4000)


def test_simulate_rejects_bad_arguments_naming_them():
    with pytest.raises(ValueError, match="^data:"):
        sparse_gp.simulate(np.random.default_rng(0), {"X": SBC_DATA["X"]})
    with pytest.raises(ValueError, match="^rng:"):
        sparse_gp.simulate(0, SBC_DATA)
    with pytest.raises(ValueError, match="^jitter:"):
        sparse_gp.simulate(np.random.default_rng(0), SBC_DATA, jitter=-1.0)
