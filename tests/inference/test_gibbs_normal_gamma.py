"""bayes_zoo.inference.gibbs.normal_gamma: full conditionals, the compiled chain, determinism, exactness in law, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from bayes_zoo.inference import crossval
from bayes_zoo.inference.gibbs import normal_gamma as gibbs
from bayes_zoo.inference.seeding import chain_generators
from bayes_zoo.models import normal_gamma as ng

PRIOR = ng.NormalGammaPrior(mu0=1.0, s0_var=4.0, a=2.0, b=3.0)
X = np.array([0.3, 2.2, 1.1, -0.4, 1.9, 0.8])


def test_mu_full_conditional_matches_hand_computation():
    beta = np.array([0.5, 2.0, 7.0])
    mean, precision = gibbs.full_conditional_mu(beta, ng.sufficient_statistics(X), PRIOR)
    for b, m, p in zip(beta, mean, precision):
        p_hand = 1 / PRIOR.s0_var + len(X) * b
        m_hand = (PRIOR.mu0 / PRIOR.s0_var + b * sum(X)) / p_hand
        assert p == pytest.approx(p_hand, rel=1e-14)
        assert m == pytest.approx(m_hand, rel=1e-14)


def test_beta_full_conditional_matches_hand_computation():
    mu = np.array([-1.0, 0.9, 4.0])
    shape, rate = gibbs.full_conditional_beta(mu, ng.sufficient_statistics(X), PRIOR)
    assert shape == pytest.approx(PRIOR.a + len(X) / 2, rel=1e-15)
    for m, r in zip(mu, rate):
        assert r == pytest.approx(PRIOR.b + sum((xi - m) ** 2 for xi in X) / 2, rel=1e-13)


def test_full_conditionals_are_proportional_to_the_joint_density():
    # log p(mu | beta) - log p(mu' | beta) must equal the joint's difference at fixed beta (and likewise for beta).
    st = ng.sufficient_statistics(X)
    beta, mus = 1.7, np.array([-0.5, 0.2, 1.4, 3.0])
    mean, precision = gibbs.full_conditional_mu(beta, st, PRIOR)
    conditional = stats.norm.logpdf(mus, mean, precision**-0.5)
    joint = ng.log_joint(mus, beta, X, PRIOR)
    np.testing.assert_allclose(np.diff(conditional), np.diff(joint), rtol=1e-11)
    mu, betas = 0.7, np.array([0.1, 0.9, 2.5, 6.0])
    shape, rate = gibbs.full_conditional_beta(mu, st, PRIOR)
    conditional = stats.gamma.logpdf(betas, shape, scale=1 / rate)
    np.testing.assert_allclose(np.diff(conditional), np.diff(ng.log_joint(mu, betas, X, PRIOR)), rtol=1e-11)


def test_compiled_chains_equal_iterated_transition_with_the_same_noise():
    # sample() draws each chain's noise in bulk and runs a compiled loop; it must be the chain that
    # iterating the pure transition() gives with that noise.
    draws, warmup, chains, seed = 30, 5, 3, 17
    idata = gibbs.sample(X, PRIOR, draws=draws, chains=chains, warmup=warmup, seed=seed)
    st = ng.sufficient_statistics(X)
    shape = PRIOR.a + st.n / 2
    for c, rng in enumerate(chain_generators(seed, chains)):
        state = gibbs.init(rng, 1, PRIOR)
        z, g = rng.standard_normal(warmup + draws), rng.standard_gamma(shape, warmup + draws)
        mus, betas = [], []
        for t in range(warmup + draws):
            state = gibbs.transition(state, z[t : t + 1], g[t : t + 1], st, PRIOR)
            mus.append(state.mu[0])
            betas.append(state.beta[0])
        np.testing.assert_allclose(idata.posterior["mu"].values[c], mus[warmup:], rtol=1e-13)
        np.testing.assert_allclose(idata.posterior["beta"].values[c], betas[warmup:], rtol=1e-13)


def test_one_step_draws_each_coordinate_from_its_exact_full_conditional(newcomb_x):
    # The law of step() itself: 20,000 copies of one state through one sweep.  mu | beta is one Normal for
    # every copy; beta | mu is a Gamma whose rate depends on each copy's new mu, so it is checked through
    # its probability integral transform.  Both conditionals are written here from the model's equations
    # (BDA3 sec. 3.3), not read from the module.  Kolmogorov-Smirnov at alpha = 1e-3 each, fixed seed.
    # Caught: step drawing Gamma(a + (n - 1)/2) instead of Gamma(a + n/2), E[beta] 1.5% low on Newcomb.
    x, prior, copies = newcomb_x, ng.DEFAULT_PRIOR, 20_000
    n, beta0 = x.size, 1.0 / x.var()
    new = gibbs.step(np.random.default_rng(2024), gibbs.GibbsState(np.zeros(copies), np.full(copies, beta0)),
                     ng.sufficient_statistics(x), prior)
    precision = 1.0 / prior.s0_var + n * beta0
    mean = (prior.mu0 / prior.s0_var + beta0 * x.sum()) / precision
    assert stats.kstest(new.mu, stats.norm(mean, precision**-0.5).cdf).pvalue > 1e-3
    rate = prior.b + 0.5 * ((x[None, :] - new.mu[:, None]) ** 2).sum(axis=1)  # [copies], b + sum (x_i - mu)^2 / 2
    pit = stats.gamma.cdf(new.beta, prior.a + n / 2, scale=1.0 / rate)
    assert stats.kstest(pit, "uniform").pvalue > 1e-3


def test_step_reproduces_sample_and_transition_given_the_same_random_numbers(newcomb_x):
    # step() draws a sweep's noise (C standard normals, then C standard Gamma(a + n/2) variates, the shape
    # written here from the equations) and applies transition(); sample() runs the compiled transition on
    # noise drawn in bulk, which test_compiled_chains_equal_iterated_transition_with_the_same_noise ties to
    # transition().  The two streams coincide for a chain's first sweep only (sample() draws all of a chain's
    # normals, then all its gammas; step() alternates), so step is checked against sample() on that sweep and
    # against transition() fed a twin generator's noise over many sweeps.
    # Caught: step drawing Gamma(a + (n - 1)/2) instead of Gamma(a + n/2).
    x, prior = newcomb_x, ng.DEFAULT_PRIOR
    st = ng.sufficient_statistics(x)
    seed, chains = 17, 3
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="More chains", category=UserWarning)  # ArviZ, on 1 draw
        idata = gibbs.sample(x, prior, draws=1, chains=chains, warmup=0, seed=seed, log_likelihood=False,
                             posterior_predictive=False)
    for c, rng in enumerate(chain_generators(seed, chains)):
        state = gibbs.step(rng, gibbs.init(rng, 1, prior), st, prior)
        np.testing.assert_allclose([state.mu[0], state.beta[0]],
                                   [idata.posterior["mu"].values[c, 0], idata.posterior["beta"].values[c, 0]],
                                   rtol=1e-13)
    rng, twin = np.random.default_rng(5), np.random.default_rng(5)
    state = twin_state = gibbs.init(rng, 4, prior)
    gibbs.init(twin, 4, prior)
    for _ in range(10):
        state = gibbs.step(rng, state, st, prior)
        z, g = twin.standard_normal(4), twin.standard_gamma(prior.a + x.size / 2, 4)
        twin_state = gibbs.transition(twin_state, z, g, st, prior)
        np.testing.assert_array_equal(state.mu, twin_state.mu)
        np.testing.assert_array_equal(state.beta, twin_state.beta)


def test_step_keeps_chain_shape_and_positive_precision():
    rng = np.random.default_rng(0)
    st = ng.sufficient_statistics(X)
    state = gibbs.init(rng, 5, PRIOR)
    for _ in range(10):
        state = gibbs.step(rng, state, st, PRIOR)
    assert state.mu.shape == state.beta.shape == (5,)
    assert np.all(state.beta > 0)


def test_same_seed_gives_same_draws_and_chains_differ():
    a = gibbs.sample(X, PRIOR, draws=200, chains=3, warmup=10, seed=5)
    b = gibbs.sample(X, PRIOR, draws=200, chains=3, warmup=10, seed=5)
    c = gibbs.sample(X, PRIOR, draws=200, chains=3, warmup=10, seed=6)
    np.testing.assert_array_equal(a.posterior["mu"].values, b.posterior["mu"].values)
    assert not np.array_equal(a.posterior["mu"].values, c.posterior["mu"].values)
    mu = a.posterior["mu"].values
    assert not np.array_equal(mu[0], mu[1]) and not np.array_equal(mu[1], mu[2])


def test_result_names_and_dims_match_the_pymc_model():
    idata = gibbs.sample(X, PRIOR, draws=10, chains=2, warmup=0, seed=0)
    assert set(idata.posterior.data_vars) == set(ng.VARIABLES)
    assert all(idata.posterior[v].dims == ("chain", "draw") for v in ng.VARIABLES)
    assert idata.observed_data["x"].dims == ("obs",)
    np.testing.assert_allclose(idata.posterior["sigma"].values, idata.posterior["beta"].values ** -0.5)
    np.testing.assert_allclose(
        idata.sample_stats["lp"].values,
        ng.log_joint(idata.posterior["mu"].values, idata.posterior["beta"].values, X, PRIOR),
    )


# ---------------------------------------------------------------------------------------------------------
# The groups a PyMC/ArviZ user expects: log_likelihood, sample_stats.lp, posterior_predictive
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def newcomb_gibbs(newcomb_x):
    """Gibbs on Newcomb's data, 2 x 100 draws.  Its sigma is ~10 ns (beta ~ 0.01), so a variance or a
    precision where a standard deviation belongs changes every number by far more than round-off."""
    return gibbs.sample(newcomb_x, draws=100, chains=2, warmup=100, seed=3)


@pytest.fixture(scope="module")
def newcomb_model(newcomb_x):
    return ng.build_pymc_model(newcomb_x)


def test_log_likelihood_equals_pymcs_pointwise_log_likelihood_at_the_same_draws(newcomb_gibbs, newcomb_model):
    import pymc as pm

    theirs = pm.compute_log_likelihood(newcomb_gibbs, model=newcomb_model, extend_inferencedata=False,
                                       progressbar=False)["x"]
    ours = newcomb_gibbs.log_likelihood["x"]
    assert ours.dims == theirs.dims == ("chain", "draw", "obs")
    np.testing.assert_allclose(ours.values, theirs.values, rtol=0, atol=1e-8)


def test_loo_runs_on_the_gibbs_result_with_one_term_per_observation(newcomb_gibbs, newcomb_x):
    import warnings

    import arviz as az

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Pareto k of Newcomb's two outliers
        loo = az.loo(newcomb_gibbs)
    assert loo.n_data_points == newcomb_x.size and np.isfinite(loo.elpd_loo)


def test_lp_equals_pymcs_logp_without_jacobian_at_each_draw(newcomb_gibbs, newcomb_model):
    logp = newcomb_model.compile_logp(jacobian=False)
    mu = newcomb_gibbs.posterior["mu"].values.ravel()
    beta = newcomb_gibbs.posterior["beta"].values.ravel()
    theirs = [logp({"mu": m, "beta_log__": np.log(b)}) for m, b in zip(mu, beta)]
    np.testing.assert_allclose(newcomb_gibbs.sample_stats["lp"].values.ravel(), theirs, rtol=0, atol=1e-8)


def test_posterior_predictive_draws_x_from_the_likelihood_at_each_draw(newcomb_gibbs):
    post, pp = newcomb_gibbs.posterior, newcomb_gibbs.posterior_predictive["x"]
    assert pp.dims == ("chain", "draw", "obs")
    z = ((pp - post["mu"]) * np.sqrt(post["beta"])).values.ravel()  # standard normal if x_rep ~ N(mu, 1/beta)
    assert stats.kstest(z, "norm").pvalue > 1e-3


def test_turning_the_groups_off_drops_them_and_changes_no_posterior_draw(newcomb_gibbs, newcomb_x):
    bare = gibbs.sample(newcomb_x, draws=100, chains=2, warmup=100, seed=3, log_likelihood=False,
                        posterior_predictive=False)
    assert not {"log_likelihood", "posterior_predictive"} & set(bare.groups())
    for v in ng.VARIABLES:
        np.testing.assert_array_equal(bare.posterior[v].values, newcomb_gibbs.posterior[v].values)


def test_gibbs_matches_the_exact_posterior_within_mcse(newcomb_x, newcomb_exact):
    idata = gibbs.sample(newcomb_x, draws=5000, chains=4, warmup=200, seed=2024)
    est = crossval.estimates(idata, list(ng.VARIABLES))
    exact = newcomb_exact.summary.stack()
    z = (est["estimate"] - exact.reindex(est.index)) / est["mcse"]
    threshold = crossval.bonferroni_threshold(0.01, len(z))
    assert np.all(np.isfinite(z))
    assert np.max(np.abs(z)) < threshold, z.to_string()


def test_a_gibbs_sampler_drawing_beta_by_rate_as_scale_is_caught(newcomb_x, newcomb_exact):
    # The check above must be able to fail: the classic bug (NumPy's Gamma takes a scale) is detected.
    import arviz as az

    st = ng.sufficient_statistics(newcomb_x)
    prior = ng.DEFAULT_PRIOR
    rng = np.random.default_rng(1)
    state = gibbs.init(rng, 4, prior)
    mus, betas = [], []
    for _ in range(2000):
        mean, precision = gibbs.full_conditional_mu(state.beta, st, prior)
        mu = mean + rng.standard_normal(4) / np.sqrt(precision)
        shape, rate = gibbs.full_conditional_beta(mu, st, prior)
        state = gibbs.GibbsState(mu, rng.gamma(shape, rate))  # bug: rate where the scale belongs
        mus.append(state.mu)
        betas.append(state.beta)
    beta = np.array(betas).T
    buggy = az.from_dict(posterior={"mu": np.array(mus).T, "beta": beta, "sigma": beta**-0.5})
    result = crossval.compare({"buggy": buggy}, newcomb_exact.summary)
    assert result.verdict == "disagree"
    assert any("beta mean" in r for r in result.reasons)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"draws": 0}, "draws"),
        ({"chains": 0}, "chains"),
        ({"warmup": -1}, "warmup"),
        ({"seed": -3}, "seed"),
        ({"draws": 2.5}, "draws"),
        ({"chains": True}, "chains"),
    ],
)
def test_sample_rejects_bad_settings_naming_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        gibbs.sample(X, PRIOR, **kwargs)


@pytest.mark.parametrize("bad", [np.array([1.0, np.nan]), np.array([np.inf]), np.array([]), np.ones((2, 2))])
def test_sample_rejects_bad_data_naming_x(bad):
    with pytest.raises(ValueError, match="^x:"):
        gibbs.sample(bad, PRIOR)


def test_sample_rejects_a_prior_of_the_wrong_kind():
    with pytest.raises(ValueError, match="^prior:"):
        gibbs.sample(X, {"mu0": 0.0})


def test_mcse_scaled_errors_are_standard_normal_over_repeated_runs(newcomb_x, newcomb_exact):
    # Honest Monte Carlo error: over 150 independent runs, (estimate - exact) / MCSE should look N(0, 1).
    zs = {s: [] for s in ("mean", "q95")}
    for seed in range(150):
        idata = gibbs.sample(newcomb_x, draws=400, chains=4, warmup=50, seed=10_000 + seed)
        est = crossval.estimates(idata, ["mu"])
        for s in zs:
            e = est.loc[("mu", s)]
            zs[s].append((e["estimate"] - newcomb_exact.summary.loc["mu", s]) / e["mcse"])
    for s, z in zs.items():
        assert stats.kstest(z, "norm").pvalue > 1e-3, (s, np.mean(z), np.std(z))


@pytest.mark.slow
def test_gibbs_matches_the_exact_posterior_with_three_observations_and_heavy_tails():
    x = np.array([4.0, 5.5, 9.0])
    prior = ng.NormalGammaPrior(mu0=0.0, s0_var=100.0, a=0.5, b=0.5)
    exact = ng.exact_posterior(x, prior)
    result = crossval.compare({"gibbs": gibbs.sample(x, prior, draws=100_000, chains=4, warmup=1000, seed=7)}, exact.summary)
    assert result.verdict == "agree", result.reasons


@pytest.mark.slow
def test_gibbs_matches_the_exact_posterior_without_the_outliers():
    from bayes_zoo.models.datasets import load_newcomb

    x = load_newcomb(drop_outliers=True).arrays["x"]
    exact = ng.exact_posterior(x)
    result = crossval.compare({"gibbs": gibbs.sample(x, draws=250_000, chains=4, seed=8)}, exact.summary)
    assert result.verdict == "agree", result.reasons


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda st: gibbs.full_conditional_mu(-1.0, st, PRIOR), "beta"),
        (lambda st: gibbs.full_conditional_mu(np.nan, st, PRIOR), "beta"),
        (lambda st: gibbs.full_conditional_beta(np.inf, st, PRIOR), "mu"),
        (lambda st: gibbs.full_conditional_beta(0.0, (6, 1.0, 2.0), PRIOR), "stats"),
        (lambda st: gibbs.step(None, gibbs.GibbsState(np.zeros(2), np.ones(2)), st, PRIOR), "rng"),
        (lambda st: gibbs.transition(gibbs.GibbsState(np.zeros(2), np.ones(2)), np.zeros(3), np.ones(3), st, PRIOR), "z, g"),
    ],
    ids=["negative-beta", "nan-beta", "inf-mu", "bad-stats", "no-rng", "shape"],
)
def test_building_blocks_name_their_bad_arguments(call, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        call(ng.sufficient_statistics(X))
