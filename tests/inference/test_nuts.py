"""bayes_zoo.inference.nuts: the zoo's one NUTS call site (nutpie by default, PyMC's on request), checked against the
exact posterior and PyMC's result layout."""

from __future__ import annotations

import numpy as np
import pytest

from bayes_zoo.inference import crossval
from bayes_zoo.inference.nuts import compile_nutpie, nuts_sampler, sample_nuts, set_nuts_sampler, step_methods
from bayes_zoo.models import normal_gamma as ng


def test_nuts_matches_the_exact_posterior_within_mcse(newcomb_nuts, newcomb_exact):
    est = crossval.estimates(newcomb_nuts, list(ng.VARIABLES))
    z = (est["estimate"] - newcomb_exact.summary.stack().reindex(est.index)) / est["mcse"]
    assert np.all(np.isfinite(z))
    assert np.max(np.abs(z)) < crossval.bonferroni_threshold(0.01, len(z)), z.to_string()


def test_nuts_result_has_no_divergences_and_records_its_step_method(newcomb_nuts):
    assert int(newcomb_nuts.sample_stats["diverging"].sum()) == 0
    assert newcomb_nuts.posterior.attrs["nuts_sampler"] == "nutpie"
    assert newcomb_nuts.posterior.attrs["step_methods"] == "nutpie NUTS: [mu, beta]"
    assert newcomb_nuts.posterior.sizes["chain"] == 4 and newcomb_nuts.posterior.sizes["draw"] == 1000


def test_same_seed_gives_same_draws_and_predictions(newcomb_x):
    model = ng.build_pymc_model(newcomb_x)
    a = sample_nuts(model, draws=30, tune=30, chains=2, seed=9)
    b = sample_nuts(model, draws=30, tune=30, chains=2, seed=9)
    np.testing.assert_array_equal(a.posterior["mu"].values, b.posterior["mu"].values)
    np.testing.assert_array_equal(a.posterior_predictive["x"].values, b.posterior_predictive["x"].values)


def test_nuts_result_has_pointwise_log_likelihood_and_posterior_predictive_of_x(newcomb_nuts, newcomb_x):
    for group in (newcomb_nuts.log_likelihood, newcomb_nuts.posterior_predictive):
        assert list(group.data_vars) == ["x"]
        assert group["x"].dims == ("chain", "draw", "obs") and group["x"].shape == (4, 1000, newcomb_x.size)


def test_sampling_leaves_the_models_observed_variables_as_they_were(newcomb_x):
    # PyMC 5.28's sample_posterior_predictive, called without var_names, appends the observed variables to the
    # model's own list again, after which model.logp() fails.
    model = ng.build_pymc_model(newcomb_x)
    sample_nuts(model, draws=10, tune=10, chains=1, seed=0, log_likelihood=False)
    assert model.observed_RVs == [model["x"]]


def test_nuts_result_leaves_out_pymcs_internal_variables_and_still_has_the_observed_groups():
    # gp.Latent's free variable is PyMC's internal f_rotated_; the log-likelihood and predictions need it.
    from bayes_zoo.models import gp

    X = np.linspace(0.0, 1.0, 6)
    hyper = gp.GPHyperparameters(eta=1.0, lengthscale=0.5, sigma=0.3)
    idata = sample_nuts(gp.build_latent_model(X, np.sin(3 * X), hyper), draws=10, tune=10, chains=1, seed=0)
    assert list(idata.posterior.data_vars) == ["f"]
    assert idata.log_likelihood["y"].shape == idata.posterior_predictive["y"].shape == (1, 10, 6)


def test_log_likelihood_and_posterior_predictive_can_be_turned_off(newcomb_x):
    idata = sample_nuts(ng.build_pymc_model(newcomb_x), draws=10, tune=10, chains=1, seed=0, log_likelihood=False,
                        posterior_predictive=False)
    assert not {"log_likelihood", "posterior_predictive"} & set(idata.groups())


def test_step_methods_reports_pymc_assignment(newcomb_x):
    assert step_methods(ng.build_pymc_model(newcomb_x)) == "NUTS: [mu, beta]"


@pytest.mark.parametrize(
    "kwargs, name",
    [({"draws": 0}, "draws"), ({"chains": 0}, "chains"), ({"tune": -1}, "tune"), ({"seed": -1}, "seed"),
     ({"target_accept": 1.0}, "target_accept"), ({"cores": 0}, "cores")],
)
def test_bad_settings_are_named(newcomb_x, kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        sample_nuts(ng.build_pymc_model(newcomb_x), **kwargs)


def test_a_non_model_is_refused():
    with pytest.raises(ValueError, match="^model:"):
        sample_nuts("not a model")


@pytest.mark.slow
def test_long_nuts_run_matches_the_exact_posterior_without_the_outliers():
    from bayes_zoo.models.datasets import load_newcomb

    x = load_newcomb(drop_outliers=True).arrays["x"]
    idata = sample_nuts(ng.build_pymc_model(x), draws=5000, tune=1000, chains=4, seed=21)
    result = crossval.compare({"nuts": idata}, ng.exact_posterior(x).summary)
    assert result.verdict == "agree", result.reasons


def test_an_interrupted_run_is_not_returned_as_complete(newcomb_x):
    # PyMC swallows Ctrl-C and returns the chains it finished; sample_nuts must not pass that off as a full run.
    def interrupt(trace, draw):
        if draw.chain == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt, match="interrupted"):
        sample_nuts(ng.build_pymc_model(newcomb_x), draws=20, tune=20, chains=2, seed=0, callback=interrupt)


# ---------------------------------------------------------------------------------------------------- nutpie


def test_nutpie_result_has_pymcs_groups_and_sample_stats_names(newcomb_nuts):
    assert {"posterior", "sample_stats", "log_likelihood", "posterior_predictive", "observed_data"} <= set(
        newcomb_nuts.groups())
    assert not [g for g in newcomb_nuts.groups() if g.startswith("warmup")]
    stats = newcomb_nuts.sample_stats
    assert {"lp", "tree_depth", "acceptance_rate", "diverging", "energy", "step_size", "reached_max_treedepth"} <= set(
        stats.data_vars)
    assert "tuning" not in stats and "logp" not in stats
    assert stats["diverging"].dtype == bool and stats["lp"].dims == ("chain", "draw")
    attrs = newcomb_nuts.posterior.attrs
    assert attrs["sampling_time"] > 0 and attrs["setup_time"] >= 0 and attrs["seed"] == 11


def test_nutpie_lp_is_the_models_log_density_on_the_unconstrained_scale(newcomb_x, newcomb_nuts):
    """As PyMC's ``lp``: the joint log density with the transforms' log-Jacobians, at each draw."""
    model = ng.build_pymc_model(newcomb_x)
    logp = model.compile_logp(jacobian=True)
    post = newcomb_nuts.posterior
    for chain, draw in [(0, 0), (1, 500), (3, 999)]:
        mu, beta = float(post["mu"][chain, draw]), float(post["beta"][chain, draw])
        point = {"mu": mu, "beta_log__": np.log(beta)}
        assert float(newcomb_nuts.sample_stats["lp"][chain, draw]) == pytest.approx(float(logp(point)), rel=1e-10)


def test_nutpie_compiles_a_model_once_and_its_draws_do_not_depend_on_cores(newcomb_x):
    model = ng.build_pymc_model(newcomb_x)
    a = sample_nuts(model, draws=30, tune=30, chains=2, seed=4, cores=1)
    assert compile_nutpie(model)[1] == 0.0  # cached: no second compilation
    b = sample_nuts(model, draws=30, tune=30, chains=2, seed=4, cores=2)
    np.testing.assert_array_equal(a.posterior["mu"].values, b.posterior["mu"].values)


def test_pymc_sampler_is_one_argument_away_and_says_so(newcomb_x):
    idata = sample_nuts(ng.build_pymc_model(newcomb_x), draws=20, tune=20, chains=1, seed=0, sampler="pymc",
                        log_likelihood=False, posterior_predictive=False)
    assert idata.posterior.attrs["nuts_sampler"] == "pymc"
    assert idata.posterior.attrs["step_methods"] == "NUTS: [mu, beta]"
    assert "nuts_sampler_note" not in idata.posterior.attrs


def test_a_discrete_model_falls_back_to_pymc_with_the_reason_stated():
    import pymc as pm

    with pm.Model() as model:
        k = pm.Bernoulli("k", 0.3)
        pm.Normal("y", mu=k, sigma=1.0, observed=np.array([0.2, 1.1]))
        pm.Normal("m", 0.0, 1.0)
    idata = sample_nuts(model, draws=20, tune=20, chains=1, seed=0, log_likelihood=False, posterior_predictive=False)
    assert idata.posterior.attrs["nuts_sampler"] == "pymc"
    assert "discrete free variables ['k']" in idata.posterior.attrs["nuts_sampler_note"]


def test_the_process_default_sampler_can_be_set_and_is_checked(newcomb_x, monkeypatch):
    assert nuts_sampler() == "nutpie"
    previous = set_nuts_sampler("pymc")
    try:
        idata = sample_nuts(ng.build_pymc_model(newcomb_x), draws=10, tune=10, chains=1, seed=0,
                            log_likelihood=False, posterior_predictive=False)
        assert idata.posterior.attrs["nuts_sampler"] == "pymc"
    finally:
        set_nuts_sampler(previous)
    with pytest.raises(ValueError, match="^nuts_sampler:"):
        set_nuts_sampler("stan")
    monkeypatch.setenv("BAYES_ZOO_NUTS_SAMPLER", "numpyro")
    with pytest.raises(ValueError, match="^BAYES_ZOO_NUTS_SAMPLER:"):
        nuts_sampler()


def test_an_unknown_sampler_is_refused_before_any_work(newcomb_x):
    with pytest.raises(ValueError, match="^sampler:"):
        sample_nuts(ng.build_pymc_model(newcomb_x), sampler="stan")


def test_a_rebuilt_model_reuses_the_compiled_one_and_other_data_do_not(newcomb_x):
    first = ng.build_pymc_model(newcomb_x)
    compiled, _ = compile_nutpie(first)
    again, seconds = compile_nutpie(ng.build_pymc_model(newcomb_x.copy()))
    assert seconds == 0.0 and again is compiled
    a = sample_nuts(first, draws=50, tune=300, chains=1, seed=3, log_likelihood=False, posterior_predictive=False)
    moved = ng.build_pymc_model(newcomb_x + 100.0)
    b = sample_nuts(moved, draws=50, tune=300, chains=1, seed=3, log_likelihood=False, posterior_predictive=False)
    assert float(b.posterior["mu"].mean()) > float(a.posterior["mu"].mean()) + 90  # its own data, not the cached


def test_a_rebuilt_model_with_pm_data_samples_its_own_data():
    import pymc as pm

    def build(y):
        with pm.Model() as model:
            data = pm.Data("y_data", y)
            m = pm.Normal("m", 0.0, 100.0)
            pm.Normal("y", mu=m, sigma=1.0, observed=data)
        return model

    low = sample_nuts(build(np.zeros(5)), draws=50, tune=50, chains=1, seed=0, log_likelihood=False,
                      posterior_predictive=False)
    high = sample_nuts(build(np.full(5, 50.0)), draws=50, tune=50, chains=1, seed=0, log_likelihood=False,
                       posterior_predictive=False)
    assert abs(float(low.posterior["m"].mean())) < 2 and abs(float(high.posterior["m"].mean()) - 50) < 2


def test_a_rebuild_on_more_observations_reuses_the_compiled_model_and_draws_as_a_fresh_compile():
    # the active-learning learners rebuild their model every round with more labels: one compile, not one a round
    from bayes_zoo.inference import nuts
    from bayes_zoo.models.linear import LinearPrior, build_linear_model

    rng = np.random.default_rng(0)
    Phi = rng.standard_normal((40, 3))
    y = Phi @ np.ones(3) + 0.3 * rng.standard_normal(40)
    compile_nutpie(build_linear_model(Phi[:25], y[:25], LinearPrior()))
    more = build_linear_model(Phi, y, LinearPrior())
    assert compile_nutpie(more)[1] == 0.0
    kwargs = dict(draws=30, tune=30, chains=1, seed=4, log_likelihood=False, posterior_predictive=False)
    reused = sample_nuts(more, **kwargs)
    nuts._COMPILED.clear()
    fresh = sample_nuts(build_linear_model(Phi, y, LinearPrior()), **kwargs)
    np.testing.assert_array_equal(reused.posterior["w"].values, fresh.posterior["w"].values)
    assert reused.observed_data["y"].shape == (40,)


def _normal_on_data(name="c", value=0.0, shared=None):
    import pymc as pm

    with pm.Model() as model:
        c = shared if shared is not None else pm.Data(name, value)
        pm.Normal("z", c, 0.1)
    return model


def _mean_z(model) -> float:
    idata = sample_nuts(model, draws=100, tune=100, chains=1, seed=0, log_likelihood=False,
                        posterior_predictive=False)
    return float(idata.posterior["z"].mean())


def test_set_data_on_a_compiled_model_samples_the_new_data():
    import pymc as pm

    model = _normal_on_data()
    assert abs(_mean_z(model)) < 0.1
    with model:
        pm.set_data({"c": 7.0})
    assert abs(_mean_z(model) - 7.0) < 0.1


def test_a_rebuild_with_other_data_names_or_unnamed_shared_data_samples_its_own_data():
    import pytensor

    assert abs(_mean_z(_normal_on_data("c", 0.0))) < 0.1
    assert abs(_mean_z(_normal_on_data("k", 50.0)) - 50.0) < 0.1  # same graph, another pm.Data name
    unnamed = _normal_on_data(shared=pytensor.shared(7.0))  # nutpie keys data by name: PyMC samples it
    idata = sample_nuts(unnamed, draws=100, tune=100, chains=1, seed=0, log_likelihood=False,
                        posterior_predictive=False)
    assert abs(float(idata.posterior["z"].mean()) - 7.0) < 0.1
    assert "without a name" in idata.posterior.attrs["nuts_sampler_note"]


def test_no_tuning_steps_go_to_pymc_with_the_reason_stated(newcomb_x):
    idata = sample_nuts(ng.build_pymc_model(newcomb_x), draws=20, tune=0, chains=1, seed=0, log_likelihood=False,
                        posterior_predictive=False)
    assert idata.posterior.attrs["nuts_sampler"] == "pymc"
    assert "tune=0" in idata.posterior.attrs["nuts_sampler_note"]


@pytest.mark.parametrize("sampler", ["nutpie", "pymc"])
def test_max_treedepth_caps_the_trajectories(sampler):
    # The bank runs NUTS at each reference run's max_treedepth (posteriordb raised it to 20 for a heavy-tailed ODE).
    import pymc as pm

    with pm.Model() as model:
        pm.Normal("x", shape=50)
    idata = sample_nuts(model, draws=100, tune=100, chains=2, max_treedepth=1, sampler=sampler, log_likelihood=False,
                        posterior_predictive=False)
    assert int(idata.sample_stats["tree_depth"].max()) <= 1
    with pytest.raises(ValueError, match="^max_treedepth:"):
        sample_nuts(model, max_treedepth=0)
