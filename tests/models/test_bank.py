"""Our PyMC versions of posteriordb's models: their variables are the reference's, and where the posterior is known
exactly (a regression with flat priors) the reference draws agree with it on our design matrix."""

import arviz as az
import numpy as np
import pytest
from scipy.special import gammaln

from bayes_zoo.inference.crossval import bonferroni_threshold
from bayes_zoo.models import bank, posteriordb

EXPRESSED = [n for n in posteriordb.names() if bank.model_for(posteriordb.load(n).model_name) is not None]
#: Posteriors whose model is a regression with Stan's implicit flat priors on beta and sigma.
FLAT = [n for n in EXPRESSED if isinstance(getattr(bank.model_for(posteriordb.load(n).model_name).build, "args", [None])[0],
                                            bank.Regression)
        and bank.model_for(posteriordb.load(n).model_name).build.args[0].beta_scale is None
        and bank.model_for(posteriordb.load(n).model_name).build.args[0].sigma_prior == "flat"]


def test_all_35_posteriors_are_expressed_and_every_kind_is_covered():
    kinds = {bank.model_for(posteriordb.load(n).model_name).kind for n in EXPRESSED}
    assert len(EXPRESSED) == len(posteriordb.names()) == 35
    assert {"linear regression", "hierarchical", "time series", "Gaussian process", "hidden Markov model", "ODE"} <= kinds
    assert len(FLAT) >= 20


@pytest.mark.parametrize("name", EXPRESSED)
def test_the_models_variables_are_the_references_or_derived_from_them(name):
    posterior = posteriordb.load(name)
    spec = bank.model_for(posterior.model_name)
    data = bank.bank_data(spec, posterior.data)
    model = spec.builder()(data)
    arrays = posteriordb.reference_arrays(name)
    derived = spec.from_reference(arrays, data) if spec.from_reference else {}
    free = {rv.name for rv in model.free_RVs}
    assert free <= set(arrays) | set(derived), "a free variable neither in the reference nor derived from it"
    for var, array in {**arrays, **derived}.items():
        assert var in model.named_vars
        shape = tuple(int(s) for s in np.atleast_1d(model.named_vars[var].shape.eval())) if model.named_vars[var].ndim else ()
        assert array.shape[2:] == shape, var
    assert {rv.name for rv in model.observed_RVs} <= set(data)


def _exact_flat_regression(X, y):
    """The exact posterior of y ~ N(X beta, sigma) with p(beta, sigma) constant: beta's marginal is Student-t with
    nu = n - k - 1 degrees of freedom about the least-squares fit; sigma^2 ~ InvGamma(nu / 2, S / 2)."""
    n, k = X.shape
    beta_hat, *_ = np.linalg.lstsq(X, y, rcond=None)
    S = float(((y - X @ beta_hat) ** 2).sum())
    nu = n - k - 1
    beta_sd = np.sqrt(S * np.diag(np.linalg.inv(X.T @ X)) / (nu - 2))
    sigma_mean = np.sqrt(S / 2) * np.exp(gammaln((nu - 1) / 2) - gammaln(nu / 2))
    sigma_sd = np.sqrt(S / (nu - 2) - sigma_mean**2)
    return beta_hat, beta_sd, sigma_mean, sigma_sd


def test_flat_regressions_reference_draws_match_the_exact_posterior_on_our_design():
    # Our transformed data and term order give the design matrix; the exact posterior on it must be what the
    # reference draws estimate, |z| = |estimate - exact| / reference MCSE under a Bonferroni threshold over
    # every test (1% family-wise).  A term out of Stan's order, log for log10, a centring constant or an
    # interaction of the wrong columns moves some mean by many MCSEs.
    rows = []
    for name in FLAT:
        posterior = posteriordb.load(name)
        spec = bank.model_for(posterior.model_name).build.args[0]
        data = bank.bank_data(bank.model_for(posterior.model_name), posterior.data)
        beta_hat, beta_sd, sigma_mean, sigma_sd = _exact_flat_regression(spec.design(data),
                                                                          np.asarray(data[spec.outcome], float))
        idata = posteriordb.reference_idata(name)
        post = idata.posterior
        mean_mcse = az.mcse(idata, method="mean")
        sd_mcse = az.mcse(idata, method="sd")
        for j in range(len(beta_hat)):
            draws = post["beta"].values[..., j]
            rows.append((name, f"beta[{j + 1}] mean", (draws.mean() - beta_hat[j]) / float(mean_mcse["beta"][j])))
            rows.append((name, f"beta[{j + 1}] sd", (draws.std() - beta_sd[j]) / float(sd_mcse["beta"][j])))
        sigma = post["sigma"].values
        rows.append((name, "sigma mean", (sigma.mean() - sigma_mean) / float(mean_mcse["sigma"])))
        rows.append((name, "sigma sd", (sigma.std() - sigma_sd) / float(sd_mcse["sigma"])))
    threshold = bonferroni_threshold(0.01, len(rows))
    worst = max(rows, key=lambda r: abs(r[2]))
    assert abs(worst[2]) < threshold, worst


def test_derived_free_variables_reproduce_the_reference_parameters():
    name = "eight_schools-eight_schools_noncentered"
    spec = bank.model_for(posteriordb.load(name).model_name)
    arrays = posteriordb.reference_arrays(name)
    derived = spec.from_reference(arrays, posteriordb.load(name).data)
    rebuilt = derived["theta_trans"] * arrays["tau"][..., None] + arrays["mu"][..., None]
    np.testing.assert_allclose(rebuilt, arrays["theta"], rtol=1e-12, atol=1e-12)

    name = "gp_pois_regr-gp_pois_regr"
    spec = bank.model_for(posteriordb.load(name).model_name)
    arrays = {k: v[:1, :50] for k, v in posteriordb.reference_arrays(name).items()}
    data = posteriordb.load(name).data
    f_tilde = spec.from_reference(arrays, data)["f_tilde"]
    L = bank._gp_cholesky(np.asarray(data["x"], float), arrays["alpha"], arrays["rho"])
    np.testing.assert_allclose(np.einsum("cdij,cdj->cdi", L, f_tilde), arrays["f"], rtol=1e-9, atol=1e-9)


def test_transformed_data_never_replace_stans_data():
    spec = bank.BankModel("x", "linear regression", bank.build_kilpisjarvi, transformed_data=lambda d: {"y": d["y"]})
    with pytest.raises(ValueError, match=r"^data: .*\['y'\]"):
        bank.bank_data(spec, {"y": np.ones(3)})
