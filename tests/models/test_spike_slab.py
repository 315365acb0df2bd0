"""bayes_zoo.models.spike_slab: data checks, PyMC log-density, and exact enumeration against brute-force integration."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from bayes_zoo.models import spike_slab as ss

PRIOR = ss.SpikeSlabPrior(spike_var=0.01, slab_var=2.0, a0=1.5, b0=2.0, nu=3.0, lam=0.8)


@pytest.fixture(scope="module")
def small_problem():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((12, 2))
    y = X @ np.array([1.2, 0.0]) + 0.7 * rng.standard_normal(12)
    return X, y


def _gauss_legendre(lo, hi, n=80):
    nodes, weights = special.roots_legendre(n)
    half, mid = 0.5 * (hi - lo), 0.5 * (hi + lo)
    return mid + half * nodes, half * weights


def _composite(edges, order=12):
    nodes, weights = special.roots_legendre(order)
    half = 0.5 * np.diff(edges)[:, None]
    mid = 0.5 * (edges[1:] + edges[:-1])[:, None]
    return (mid + half * nodes).ravel(), (half * weights).ravel()


def _w_axis(lo=-8.0, hi=8.0):
    """Panels fine near 0 (where a spike puts its mass) and coarser further out."""
    edges = np.unique(np.concatenate([np.linspace(-8, 8, 65), np.linspace(-0.8, 0.8, 41), np.linspace(-0.1, 0.1, 21)]))
    edges = np.unique(np.clip(edges, lo, hi))
    return _composite(edges)


def _brute_force_log_marginal(X, y, gamma, prior, w1_max=None):
    """log p(y | gamma [, w_1 <= w1_max]): sigma2 integrated in closed form given w, then w by brute-force
    2-D composite Gauss–Legendre quadrature.  Uses neither the A-matrix nor the conjugate w-posterior."""
    n, d = X.shape
    w1, ww1 = _w_axis(hi=8.0 if w1_max is None else w1_max)
    w2, ww2 = _w_axis()
    W1, W2 = np.meshgrid(w1, w2, indexing="ij")
    v = prior.variances[np.asarray(gamma)]
    resid = y[None, None, :] - (W1[..., None] * X[:, 0] + W2[..., None] * X[:, 1])
    q = (resid**2).sum(axis=-1) + W1**2 / v[0] + W2**2 / v[1]
    alpha, beta = prior.nu / 2, prior.nu * prior.lam / 2
    a_post = alpha + (n + d) / 2
    # int (s2)^-(a_post+1) exp(-(beta + q/2)/s2) ds2 = Gamma(a_post) (beta + q/2)^-a_post
    log_f = (-(n + d) / 2 * np.log(2 * np.pi) - 0.5 * np.log(v).sum() + alpha * np.log(beta) - special.gammaln(alpha)
             + special.gammaln(a_post) - a_post * np.log(beta + q / 2))
    return special.logsumexp(log_f, b=np.outer(ww1, ww2))


def test_enumeration_marginal_likelihoods_match_brute_force_integration(small_problem):
    X, y = small_problem
    exact = ss.exact_posterior(X, y, PRIOR)
    for gamma, log_ml in zip(exact.models, exact.log_marginal_likelihood):
        assert log_ml == pytest.approx(_brute_force_log_marginal(X, y, gamma, PRIOR), abs=1e-8)


def test_model_prior_is_beta_binomial(small_problem):
    from scipy import integrate

    X, y = small_problem
    exact = ss.exact_posterior(X, y, PRIOR)
    # p(gamma) = int theta^k (1 - theta)^(D - k) Beta(theta | a0, b0) dtheta; quad's algebraic weights take
    # the theta^(a0 - 1 + k) (1 - theta)^(b0 - 1 + D - k) factor exactly.
    for gamma, log_p in zip(exact.models, exact.log_model_prior):
        k = gamma.sum()
        p = integrate.quad(lambda t: 1.0, 0, 1, weight="alg", wvar=(PRIOR.a0 - 1 + k, PRIOR.b0 - 1 + 2 - k))[0]
        assert np.exp(log_p) == pytest.approx(p / special.beta(PRIOR.a0, PRIOR.b0), rel=1e-10)
    assert np.exp(special.logsumexp(exact.log_model_prior)) == pytest.approx(1.0, rel=1e-12)


def test_inclusion_probabilities_are_marginals_of_the_model_posterior(small_problem):
    X, y = small_problem
    exact = ss.exact_posterior(X, y, PRIOR)
    assert exact.posterior_probability.sum() == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(exact.inclusion_probability, exact.posterior_probability @ exact.models)
    assert exact.inclusion_probability[0] > 0.9 > exact.inclusion_probability[1]


def test_exact_w_quantiles_have_the_stated_probability(small_problem):
    # P(w_1 <= q05 | y) = sum over models of p(gamma | y) P(w_1 <= q05 | gamma, y), each by brute force.
    X, y = small_problem
    exact = ss.exact_posterior(X, y, PRIOR, feature_names=["a", "b"])
    q05 = exact.summary.loc["w[a]", "q05"]
    prob = sum(
        p * np.exp(_brute_force_log_marginal(X, y, g, PRIOR, w1_max=q05) - _brute_force_log_marginal(X, y, g, PRIOR))
        for g, p in zip(exact.models, exact.posterior_probability)
    )
    assert prob == pytest.approx(0.05, abs=1e-7)


def test_pymc_log_density_equals_handwritten_at_random_points(small_problem):
    X, y = small_problem
    model = ss.build_pymc_model(X, y, PRIOR)
    logp = model.compile_logp(jacobian=False)
    rng = np.random.default_rng(0)
    for _ in range(10):
        w, theta, sigma2 = rng.normal(0, 1, 2), rng.uniform(0.05, 0.95), rng.gamma(2.0, 0.5)
        point = {"w": w, "theta_logodds__": special.logit(theta), "sigma2_log__": np.log(sigma2)}
        # PyTensor's gammaln/betaln (in the Beta and InverseGamma normalisers) agree with SciPy's to ~1e-8
        assert logp(point) == pytest.approx(ss.log_joint_marginalised(w, theta, sigma2, X, y, PRIOR), abs=1e-6)


@pytest.mark.parametrize("builder", [ss.build_pymc_model, ss.build_pymc_model_discrete], ids=["marginalised", "discrete"])
def test_pymc_inclusion_probability_equals_handwritten(small_problem, builder):
    import arviz as az
    import pymc as pm

    X, y = small_problem
    model = builder(X, y, PRIOR)
    w = np.array([[[0.05, -0.4], [1.0, 0.01]]])  # (chain, draw, feature)
    theta, sigma2 = np.array([[0.3, 0.8]]), np.array([[0.8, 0.2]])
    gamma = np.array([[[0, 1], [1, 0]]])  # the discrete form's gamma: not an input of the deterministic
    post = az.from_dict(posterior={"w": w, "theta": theta, "sigma2": sigma2, "gamma": gamma},
                        coords={"feature": ["x0", "x1"]}, dims={"w": ["feature"], "gamma": ["feature"]}).posterior
    got = pm.compute_deterministics(post, model=model, progressbar=False)["inclusion_probability"].values
    np.testing.assert_allclose(got, ss.inclusion_probability(w, theta, sigma2, PRIOR), rtol=1e-10)


def test_discrete_model_gets_a_compound_step(small_problem):
    from bayes_zoo.inference.nuts import step_methods

    X, y = small_problem
    steps = step_methods(ss.build_pymc_model_discrete(X, y, PRIOR))
    assert "BinaryGibbsMetropolis: [gamma]" in steps and "NUTS" in steps


def test_standardise_gives_unit_sd_columns_and_maps_back():
    rng = np.random.default_rng(1)
    X = rng.normal(5, 3, (50, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 10 + rng.normal(0, 1, 50)
    Xs, ys, st = ss.standardise(X, y)
    np.testing.assert_allclose(Xs.std(axis=0), 1.0)
    np.testing.assert_allclose(Xs.mean(axis=0), 0.0, atol=1e-12)
    w_std = np.linalg.lstsq(Xs, ys, rcond=None)[0]
    np.testing.assert_allclose(st.coefficients_to_raw(w_std), np.linalg.lstsq(np.c_[X, np.ones(50)], y, rcond=None)[0][:3])


@pytest.mark.parametrize(
    "kwargs, name",
    [({"spike_var": 0.0}, "spike_var"), ({"slab_var": -1.0}, "slab_var"), ({"a0": 0.0}, "a0"),
     ({"b0": np.nan}, "b0"), ({"nu": -2.0}, "nu"), ({"lam": 0.0}, "lam"),
     ({"spike_var": 1.0, "slab_var": 1.0}, "spike_var")],
)
def test_prior_rejects_bad_hyperparameters(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        ss.SpikeSlabPrior(**kwargs)


@pytest.mark.parametrize(
    "X, y, name",
    [
        (np.array([[1.0, np.nan], [2.0, 3.0]]), np.array([1.0, 2.0]), "X"),
        (np.array([[1.0, 2.0], [2.0, 3.0]]), np.array([1.0, np.inf]), "y"),
        (np.ones((3, 2)) * np.arange(3)[:, None], np.array([1.0, 2.0]), "y"),
        (np.c_[np.arange(4.0), np.ones(4)], np.arange(4.0), "X"),
        (np.arange(4.0), np.arange(4.0), "X"),
    ],
    ids=["nan-X", "inf-y", "mismatched", "constant-column", "1-D-X"],
)
@pytest.mark.parametrize("entry", [ss.standardise, ss.exact_posterior, ss.build_pymc_model], ids=["standardise", "exact", "pymc"])
def test_entry_points_reject_bad_data_naming_it(entry, X, y, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        entry(X, y)


def test_enumeration_refuses_more_than_15_columns():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="D <= 15"):
        ss.exact_posterior(rng.standard_normal((20, 16)), rng.standard_normal(20))


def test_spike_var_sweep_rows_are_the_exact_posteriors_at_each_v0(small_problem):
    X, y = small_problem
    sweep = ss.spike_var_sweep(X, y, [0.001, 0.05], PRIOR, feature_names=["a", "b"])
    for v0 in (0.001, 0.05):
        exact = ss.exact_posterior(X, y, ss.SpikeSlabPrior(**{**PRIOR.__dict__, "spike_var": v0}), ["a", "b"])
        np.testing.assert_allclose(sweep.loc[v0, ["a", "b"]].astype(float), exact.inclusion_probability, rtol=1e-12)
        assert sweep.loc[v0, "sigma2_mean"] == pytest.approx(exact.summary.loc["sigma2", "mean"], rel=1e-12)


def test_spike_var_sweep_threshold_is_where_spike_and_slab_densities_cross(small_problem):
    X, y = small_problem
    sweep = ss.spike_var_sweep(X, y, [0.001, 0.05], PRIOR)
    for v0, t in sweep["threshold"].items():
        spike, slab = stats.norm.pdf(t, scale=np.sqrt(v0)), stats.norm.pdf(t, scale=np.sqrt(PRIOR.slab_var))
        assert spike == pytest.approx(slab, rel=1e-10)


@pytest.mark.parametrize("spike_vars, name", [([], "spike_vars"), ([2.0], "spike_var"), ([-0.1], "spike_var")])
def test_spike_var_sweep_rejects_bad_values_naming_them(small_problem, spike_vars, name):
    X, y = small_problem
    with pytest.raises(ValueError, match=f"^{name}:"):
        ss.spike_var_sweep(X, y, spike_vars, PRIOR)


@pytest.mark.parametrize("w, sigma2, y, name", [
    (np.zeros(2), 0.0, np.zeros(3), "sigma2"),  # a variance of 0: the log density would be NaN or inf
    (np.zeros(2), -1.0, np.zeros(3), "sigma2"),
    (np.zeros(3), 1.0, np.zeros(3), "w"),
    (np.zeros(2), 1.0, np.zeros(4), "y"),
], ids=["sigma2 zero", "sigma2 negative", "w shape", "y length"])
def test_pointwise_log_likelihood_refuses_bad_draws_naming_the_argument(w, sigma2, y, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        ss.pointwise_log_likelihood(w, sigma2, np.ones((3, 2)), y)


# ---------------------------------------------------------------- the generative model (SBC's simulate)


def test_simulate_is_draw_from_prior_labelled_as_arviz_labels_a_result():
    X = np.random.default_rng(1).standard_normal((6, 3))
    truth, data = ss.simulate(np.random.default_rng(7), {"X": X, "other": 1}, PRIOR)
    drawn = ss.draw_from_prior(np.random.default_rng(7), X, PRIOR)  # the same stream
    assert list(truth) == ["w[x0]", "w[x1]", "w[x2]", "sigma2", "theta"]  # gamma, discrete, is not a quantity
    np.testing.assert_array_equal([truth[f"w[x{d}]"] for d in range(3)], drawn["w"])
    assert (truth["sigma2"], truth["theta"]) == (drawn["sigma2"], drawn["theta"])
    np.testing.assert_array_equal(data["y"], drawn["y"])
    assert data["X"] is X and data["other"] == 1  # the template passes through
    named, _ = ss.simulate(np.random.default_rng(7), {"X": X, "feature_names": ["a", "b", "c"]}, PRIOR)
    assert list(named)[:3] == ["w[a]", "w[b]", "w[c]"]


def test_simulate_rejects_bad_arguments_naming_them():
    X = np.zeros((4, 2))
    with pytest.raises(ValueError, match="^data:"):
        ss.simulate(np.random.default_rng(0), X)
    with pytest.raises(ValueError, match="^rng:"):
        ss.simulate(0, {"X": X})
    with pytest.raises(ValueError, match="^feature_names:"):
        ss.simulate(np.random.default_rng(0), {"X": X, "feature_names": ["a"]})


def test_exact_posterior_states_its_method(small_problem):
    X, y = small_problem
    assert ss.exact_posterior(X, y, PRIOR).method.startswith("enumeration of all 4 models")


# ---------------------------------------------------------------- teaching helpers (notebook 02)


def test_relevance_threshold_is_where_spike_and_slab_densities_cross():
    v0 = np.array([1e-4, 1e-3, 0.05])
    delta = ss.relevance_threshold(v0, 2.0)
    np.testing.assert_allclose(stats.norm.pdf(delta, 0, np.sqrt(v0)), stats.norm.pdf(delta, 0, np.sqrt(2.0)), rtol=1e-10)


def test_spike_var_for_threshold_inverts_relevance_threshold():
    for t in (0.01, 0.1, 0.5, 1.2):
        v0 = ss.spike_var_for_threshold(t, slab_var=2.0)
        assert ss.relevance_threshold(v0, 2.0) == pytest.approx(t, rel=1e-10)


@pytest.mark.parametrize("call, name", [
    (lambda: ss.relevance_threshold(0.0), "spike_var"),
    (lambda: ss.relevance_threshold(1.5, 1.0), "spike_var"),
    (lambda: ss.spike_var_for_threshold(1.0, 1.0), "threshold"),
    (lambda: ss.spike_var_for_threshold(-0.1), "threshold"),
])
def test_threshold_helpers_refuse_values_out_of_range_naming_them(call, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        call()


def test_model_size_distribution_sums_model_probabilities_by_size(small_problem):
    X, y = small_problem
    exact = ss.exact_posterior(X, y, PRIOR)
    table = ss.model_size_distribution(exact)
    k = exact.models.sum(axis=1)
    for size in range(3):
        assert table.loc[size, "posterior"] == pytest.approx(exact.posterior_probability[k == size].sum(), rel=1e-12)
        assert table.loc[size, "prior"] == pytest.approx(np.exp(exact.log_model_prior[k == size]).sum(), rel=1e-12)


def _fake_results(exact, draws=400, seed=0):
    """A 'sampler' whose inclusion probabilities scatter around the exact ones (2 chains)."""
    import arviz as az

    rng = np.random.default_rng(seed)
    d = len(exact.feature_names)
    incl = np.clip(exact.inclusion_probability + 0.02 * rng.standard_normal((2, draws, d)), 0, 1)
    w = exact.w_mean + 0.1 * rng.standard_normal((2, draws, d))
    return az.from_dict(posterior={"w": w, "inclusion_probability": incl},
                        coords={"feature": exact.feature_names}, dims={"w": ["feature"], "inclusion_probability": ["feature"]})


def _inclusion_rows(exact):
    return exact.summary[exact.summary.index.str.startswith("inclusion_probability")]


def test_inclusion_table_z_is_the_difference_from_exact_over_the_mcse(small_problem):
    from bayes_zoo.inference.crossval import compare

    X, y = small_problem
    exact = ss.exact_posterior(X, y, PRIOR)
    cv = compare({"fake": _fake_results(exact)}, _inclusion_rows(exact), var_names=["inclusion_probability"])
    table = ss.inclusion_table(cv, exact, names=["fake"])
    np.testing.assert_allclose(table["fake z"], (table["fake"] - table["exact"]) / table["fake mcse"], rtol=1e-12)
    np.testing.assert_allclose(table["exact"], exact.inclusion_probability)


def test_inclusion_table_refuses_an_unknown_result_naming_it(small_problem):
    from bayes_zoo.inference.crossval import compare

    X, y = small_problem
    exact = ss.exact_posterior(X, y, PRIOR)
    cv = compare({"fake": _fake_results(exact)}, _inclusion_rows(exact), var_names=["inclusion_probability"])
    with pytest.raises(ValueError, match="^names:"):
        ss.inclusion_table(cv, exact, names=["nuts"])


def _ten_features_table():
    """An inclusion_table-shaped table of ten features, estimates spread over [0, 1] as on the diabetes data."""
    import pandas as pd

    exact = np.linspace(0.02, 0.98, 10)
    table = pd.DataFrame({"exact": exact}, index=pd.Index([f"x{i}" for i in range(10)], name="feature"))
    for k, name in enumerate(["gibbs", "nuts"]):
        table[name] = exact + 0.01 * (-1) ** k
        table[f"{name} mcse"] = 0.01
        table[f"{name} z"] = (table[name] - exact) / 0.01
    return table


@pytest.fixture(scope="module")
def figures(small_problem):
    """Every notebook-02 figure of this module, drawn on the small problem."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bayes_zoo.inference.crossval import compare

    X, y = small_problem
    exact = ss.exact_posterior(X, y, PRIOR, ["a", "b"])
    fake = _fake_results(exact)
    cv = compare({"fake": fake}, _inclusion_rows(exact), var_names=["inclusion_probability"])
    figs = {
        "correlations": ss.plot_correlations(X, ["a", "b"], annotate_above=0.0),
        "inclusion_and_size": ss.plot_inclusion_and_size(exact),
        "spike_var_sweep": ss.plot_spike_var_sweep(ss.spike_var_sweep(X, y, [1e-3, 0.1], PRIOR, ["a", "b"]),
                                                   spike_var=0.01),
        "inclusion_vs_exact": ss.plot_inclusion_vs_exact(_ten_features_table(), names=["gibbs", "nuts"]),
        "coefficient_pair": ss.plot_coefficient_pair({"fake": fake, "again": fake}, "a", "b"),
    }
    yield figs
    for fig in figs.values():
        plt.close(fig)


@pytest.mark.parametrize("name", ["correlations", "inclusion_and_size", "spike_var_sweep", "inclusion_vs_exact",
                                  "coefficient_pair"])
def test_notebook_figures_pass_the_figure_audit(figures, name):
    from bayes_zoo.figures import audit_figure

    assert audit_figure(figures[name]) == []


def test_inclusion_vs_exact_names_each_sampler_and_exact_in_its_legend(figures):
    legends = figures["inclusion_vs_exact"].legends
    assert len(legends) == 1
    assert sorted(t.get_text() for t in legends[0].get_texts()) == ["exact", "gibbs ±2 MCSE", "nuts ±2 MCSE"]


def test_coefficient_pair_marks_divergent_draws_in_red(small_problem):
    import arviz as az
    import matplotlib.pyplot as plt

    X, y = small_problem
    exact = ss.exact_posterior(X, y, PRIOR, ["a", "b"])
    fake = _fake_results(exact, draws=50)
    diverging = np.zeros((2, 50), dtype=bool)
    diverging[0, :3] = True
    fake.add_groups(sample_stats=az.from_dict(sample_stats={"diverging": diverging}).sample_stats)
    fig = ss.plot_coefficient_pair({"nuts": fake}, "a", "b")
    red = [c for c in fig.axes[0].collections if len(c.get_offsets()) == 3]
    plt.close(fig)
    assert len(red) == 1


def test_coefficient_pair_refuses_an_unknown_feature_naming_it(small_problem):
    X, y = small_problem
    exact = ss.exact_posterior(X, y, PRIOR, ["a", "b"])
    with pytest.raises(ValueError, match="^b:"):
        ss.plot_coefficient_pair({"fake": _fake_results(exact, draws=10)}, "a", "zz")
