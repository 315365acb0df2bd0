"""bayes_zoo.inference.gp.landscape: the eigen-basis log marginal likelihood grid, the lengthscale's posterior by
quadrature, the placement of a point in posterior draws, and notebook 03's figures."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest
from scipy import special, stats

from bayes_zoo.inference.gp import exact, landscape
from bayes_zoo.models import gp


@pytest.fixture(scope="module")
def data():
    d = gp.simulate_dataset(1, n_train=20, n_test=40)  # type-II ML: ell 0.44, sigma 0.30 (the smooth mode)
    return d.arrays["X"], d.arrays["y"], d.arrays["X_test"]


def test_log_ml_grid_equals_the_cholesky_log_marginal_likelihood(data):
    X, y, _ = data
    ells, etas, sigmas = [0.3, 1.0, 4.0], [0.5, 2.0], [0.1, 0.4]
    grid = landscape.log_ml_grid(X, y, ells, etas, sigmas)
    for i, ell in enumerate(ells):
        for s, sigma in enumerate(sigmas):
            for e, eta in enumerate(etas):
                h = gp.GPHyperparameters(eta, ell, sigma)
                assert grid[i, s, e] == pytest.approx(exact.log_marginal_likelihood(X, y, h), abs=1e-8)


def test_log_ml_grid_adds_the_jitter_to_the_diagonal(data):
    X, y, _ = data
    h = gp.GPHyperparameters(1.0, 0.8, 0.2)
    value = landscape.log_ml_grid(X, y, [0.8], [1.0], [0.2], jitter=1e-3)[0, 0, 0]
    assert value == pytest.approx(exact.log_marginal_likelihood(X, y, h, jitter=1e-3), abs=1e-8)




def test_lengthscale_posterior_is_the_normalised_quadrature_of_likelihood_times_priors(data):
    X, y, _ = data
    prior = gp.GPPrior.from_data(X, y)
    ells, etas, sigmas = np.geomspace(0.05, 30, 40), np.geomspace(0.1, 10, 5), np.geomspace(0.05, 2, 5)
    table = landscape.lengthscale_posterior(X, y, prior, ells, etas, sigmas)
    # equal-ratio grids: the trapezoid weights in log eta, log sigma are equal inside, half at the ends
    w = np.ones(5)
    w[[0, -1]] = 0.5
    brute = []
    for ell in ells:
        terms = [exact.log_marginal_likelihood(X, y, gp.GPHyperparameters(eta, ell, s))
                 + stats.halfnorm.logpdf(eta, scale=prior.eta_sd) + np.log(eta * wi)
                 + stats.halfnorm.logpdf(s, scale=prior.sigma_sd) + np.log(s * wj)
                 for s, wj in zip(sigmas, w) for eta, wi in zip(etas, w)]
        brute.append(special.logsumexp(terms) + stats.invgamma.logpdf(ell, prior.ell_alpha, scale=prior.ell_beta))
    ratio = np.log(table["density"].to_numpy()) - np.array(brute)
    np.testing.assert_allclose(ratio, ratio[0], atol=1e-8)  # proportional to the brute force
    mass = table["density"].to_numpy() * ells
    assert np.trapezoid(mass, np.log(ells)) == pytest.approx(1.0, rel=1e-12)


def test_lengthscale_posterior_cdf_runs_from_zero_to_one(data):
    X, y, _ = data
    table = landscape.lengthscale_posterior(X, y, gp.GPPrior.from_data(X, y), np.geomspace(0.05, 30, 30),
                                            np.geomspace(0.1, 10, 8), np.geomspace(0.05, 2, 8))
    cdf = table["cdf"].to_numpy()
    assert cdf[0] == 0.0 and cdf[-1] == 1.0 and np.all(np.diff(cdf) >= 0)


@pytest.mark.parametrize("kwargs, name", [({"lengthscales": [1.0]}, "lengthscales"),
                                          ({"lengthscales": [2.0, 1.0]}, "lengthscales"),
                                          ({"etas": [0.0, 1.0]}, "etas"), ({"prior": None}, "prior")])
def test_lengthscale_posterior_refuses_bad_grids_naming_them(data, kwargs, name):
    X, y, _ = data
    args = {"prior": gp.GPPrior.from_data(X, y), "lengthscales": [0.5, 1.0], "etas": [1.0], "sigmas": [0.3],
            **kwargs}
    with pytest.raises(ValueError, match=f"^{name}:"):
        landscape.lengthscale_posterior(X, y, args["prior"], args["lengthscales"], args["etas"], args["sigmas"])


def test_hyperparameter_placement_gives_the_share_of_draws_at_or_below_the_point():
    draws = np.arange(1, 101, dtype=float).reshape(2, 50)
    idata = az.from_dict(posterior={"eta": draws, "lengthscale": draws / 10, "sigma": draws / 100})
    table = landscape.hyperparameter_placement(idata, gp.GPHyperparameters(30.0, 8.0, 0.9))
    np.testing.assert_allclose(table["posterior CDF at point"], [0.30, 0.80, 0.90])
    assert table.loc["eta", "posterior median"] == pytest.approx(50.5)


@pytest.fixture(scope="module")
def figures(data):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bayes_zoo.inference import crossval

    X, y, X_test = data
    h = gp.GPHyperparameters(1.2, 0.8, 0.3)
    fit = exact.fit_type2_ml(X, y, h, restarts=2, seed=0)
    ells, sigmas = np.geomspace(0.01, 20, 12), np.geomspace(1e-3, 3, 10)
    surface = landscape.log_ml_grid(X, y, ells, np.geomspace(0.2, 10, 20), sigmas).max(axis=2).T
    g = exact.posterior(X, y, fit.hyper, jitter=gp.PYMC_JITTER)
    mean, cov = exact.posterior_at_training_inputs(g)
    rng = np.random.default_rng(0)
    f = rng.multivariate_normal(mean, cov, size=(2, 200))
    latent = az.from_dict(posterior={"f": f}, dims={"f": ["f_dim_0"]})
    reference = exact.exact_summary(g)
    cv = crossval.compare({"latent": latent}, reference, var_names=["f"])
    hyper_draws = az.from_dict(posterior={name: getattr(fit.hyper, name) * np.exp(0.1 * rng.standard_normal((2, 50)))
                                          for name in landscape.HYPERPARAMETERS})  # a cloud around type-II ML
    figs = {
        "prior_draws": landscape.plot_prior_draws(rng, X_test, [0.3, 3.0]),
        "log_ml_landscape": landscape.plot_log_ml_landscape(ells, sigmas, surface, fit, true_sigma=0.3),
        "latent_vs_exact": landscape.plot_latent_vs_exact(g, latent, cv, reference),
        "hyperparameter_pairs": landscape.plot_hyperparameter_pairs(hyper_draws, fit.hyper),
    }
    yield figs
    for fig in figs.values():
        plt.close(fig)


@pytest.mark.parametrize("name", ["prior_draws", "log_ml_landscape", "latent_vs_exact", "hyperparameter_pairs"])
def test_notebook_figures_pass_the_figure_audit(figures, name):
    from bayes_zoo.figures import audit_figure

    assert audit_figure(figures[name]) == []


def test_log_ml_landscape_refuses_a_surface_of_the_wrong_shape(data):
    X, y, _ = data
    fit = exact.fit_type2_ml(X, y, gp.GPHyperparameters(1.2, 0.8, 0.3), restarts=0, seed=0)
    with pytest.raises(ValueError, match="^surface:"):
        landscape.plot_log_ml_landscape([0.1, 1.0], [0.1, 0.2, 0.3], np.zeros((2, 3)), fit)


def test_notebook_figures_label_y_in_one_phrase_and_keep_legend_markers_small(figures):
    # one phrase for the units of y across the GP figures, as inference.gp.study's ("output units")
    labels = [ax.get_ylabel() for fig in figures.values() for ax in fig.axes]
    assert not [label for label in labels if "units of y" in label or "y units" in label]
    assert any("(output units)" in label for label in figures["prior_draws"].axes[0].get_ylabel().split("\n"))
    # the pair plot's legend: the star no larger than it is drawn, the draws' dot visible
    legend = figures["hyperparameter_pairs"].legends[0]
    sizes = {text.get_text(): handle.get_markersize() for text, handle in zip(legend.get_texts(), legend.legend_handles)}
    assert set(sizes) == {"NUTS draws", "type-II ML"}
    assert 3 <= sizes["NUTS draws"] <= 10 and sizes["type-II ML"] <= 13
