"""bayes_zoo.models.normal_gamma: prior checks, PyMC log-density, exact posterior by quadrature, conjugate closed form."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from bayes_zoo.models import normal_gamma as ng

# ------------------------------------------------------------------------------------------------------
# An independent 2-D reference: composite Gauss–Legendre over (mu, log beta) on a box covering the posterior.
# ------------------------------------------------------------------------------------------------------


def _gauss_legendre(lo, hi, panels=40, order=20):
    nodes, weights = special.roots_legendre(order)
    edges = np.linspace(lo, hi, panels + 1)
    half = 0.5 * np.diff(edges)[:, None]
    mid = 0.5 * (edges[1:] + edges[:-1])[:, None]
    return (mid + half * nodes).ravel(), (half * weights).ravel()


def _grid_mass(log_density, mu_box, log_beta_box, shift):
    """Unnormalised posterior mass weights exp(log_density - shift) on a tensor grid: (mu, beta, w), each (G, G)."""
    mu, wm = _gauss_legendre(*mu_box)
    lb, wl = _gauss_legendre(*log_beta_box)
    MU, LB = np.meshgrid(mu, lb, indexing="ij")
    logp = log_density(MU, np.exp(LB)) + LB  # + log Jacobian of beta = exp(log beta)
    return MU, np.exp(LB), np.exp(logp - shift) * np.outer(wm, wl)


def _grid_posterior(x, log_density, mu_box, log_beta_box):
    """Normalised posterior weights on a tensor grid; returns (mu, beta, weights), each (G, G)."""
    MU, BETA, w = _grid_mass(log_density, mu_box, log_beta_box, 0.0)
    shift = np.log(w.max())
    return MU, BETA, w / w.sum() if np.isfinite(shift) else w


@pytest.fixture(scope="module")
def grid(newcomb_x):
    x = newcomb_x
    return _grid_posterior(x, lambda m, b: ng.log_joint(m, b, x), (14.0, 38.0), (np.log(0.002), np.log(0.03)))


# ------------------------------------------------------------------------------------------------------


def test_prior_rejects_non_positive_variance_and_gamma_parameters():
    for kwargs, name in [({"s0_var": 0.0}, "s0_var"), ({"a": -1.0}, "a"), ({"b": 0.0}, "b"), ({"s0_var": np.inf}, "s0_var")]:
        with pytest.raises(ValueError, match=name):
            ng.NormalGammaPrior(**kwargs)


def test_prior_rejects_non_finite_mean():
    with pytest.raises(ValueError, match="mu0"):
        ng.NormalGammaPrior(mu0=np.nan)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.array([1.0, np.nan, 2.0]), "non-finite"),
        (np.array([1.0, np.inf]), "non-finite"),
        (np.array([]), "empty"),
        (np.ones((3, 2)), "1-D"),
        (["a", "b"], "1-D array of numbers"),
    ],
)
@pytest.mark.parametrize(
    "entry",
    [
        ng.sufficient_statistics,
        ng.exact_posterior,
        ng.build_pymc_model,
        lambda x: ng.log_joint(0.0, 1.0, x),
        lambda x: ng.conjugate_posterior(x, ng.ConjugateNormalGammaPrior()),
    ],
    ids=["sufficient_statistics", "exact_posterior", "build_pymc_model", "log_joint", "conjugate_posterior"],
)
def test_every_entry_point_names_x_on_bad_data(entry, bad, message):
    with pytest.raises(ValueError, match=rf"^x: .*{message}"):
        entry(bad)


def test_log_joint_rejects_non_positive_precision(newcomb_x):
    with pytest.raises(ValueError, match="beta"):
        ng.log_joint(0.0, -1.0, newcomb_x)


def test_simulate_rejects_bad_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"^data\['x'\] size:"):
        ng.simulate(rng, {"x": np.zeros(0)})
    with pytest.raises(ValueError, match="^data:"):
        ng.simulate(rng, np.zeros(5))
    with pytest.raises(ValueError, match="^rng:"):
        ng.simulate(0, {"x": np.zeros(5)})
    with pytest.raises(ValueError, match="^prior:"):
        ng.simulate(rng, {"x": np.zeros(5)}, {"mu0": 0})


def test_simulate_draws_precision_by_rate_not_scale():
    # With b = 1000 (rate), beta has prior mean a/b = 1e-3; the scale mistake would give a * b = 1000.
    prior = ng.NormalGammaPrior(a=2.0, b=1000.0)
    betas = np.array([ng.simulate(np.random.default_rng(s), {"x": np.zeros(1)}, prior)[0]["beta"] for s in range(4000)])
    mean, se = betas.mean(), betas.std(ddof=1) / np.sqrt(betas.size)
    assert abs(mean - prior.a / prior.b) < 4 * se


def test_pymc_log_density_equals_handwritten_at_random_points(newcomb_x):
    model = ng.build_pymc_model(newcomb_x)
    logp = model.compile_logp(jacobian=False)
    rng = np.random.default_rng(3)
    mus, betas = rng.normal(26, 10, 20), rng.gamma(2.0, 0.01, 20)
    ours = ng.log_joint(mus, betas, newcomb_x)
    theirs = np.array([logp({"mu": m, "beta_log__": np.log(b)}) for m, b in zip(mus, betas)])
    # beta = exp(log beta) rounds in the last bit; times sums of ~1e5 that is ~1e-10 relative.
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)


def test_pymc_model_names_coords_like_the_handwritten_result(newcomb_x):
    model = ng.build_pymc_model(newcomb_x)
    assert set(ng.VARIABLES) <= set(model.named_vars)
    assert list(model.coords["obs"]) == list(range(newcomb_x.size))
    assert model.named_vars_to_dims["x"] == ("obs",)


@pytest.mark.parametrize("statistic", ["mean", "sd"])
def test_quadrature_moments_match_brute_force_2d_quadrature(newcomb_exact, grid, statistic):
    MU, BETA, w = grid
    for name, values in {"mu": MU, "beta": BETA, "sigma": BETA**-0.5}.items():
        mean = np.sum(w * values)
        expected = mean if statistic == "mean" else np.sqrt(np.sum(w * (values - mean) ** 2))
        assert newcomb_exact.summary.loc[name, statistic] == pytest.approx(expected, rel=1e-6)


def test_quadrature_quantiles_have_the_right_2d_probability(newcomb_x, newcomb_exact):
    x = newcomb_x
    mu_box, lb_box = (14.0, 38.0), (np.log(0.002), np.log(0.03))
    shift = ng.log_joint(newcomb_exact.mode, 1 / x.var(), x)

    def mass(mu_box_, lb_box_):
        return _grid_mass(lambda m, b: ng.log_joint(m, b, x), mu_box_, lb_box_, shift)[2].sum()

    total = mass(mu_box, lb_box)
    for col, p in (("q05", 0.05), ("q95", 0.95)):
        q_mu = newcomb_exact.summary.loc["mu", col]
        q_beta = newcomb_exact.summary.loc["beta", col]
        assert mass((mu_box[0], q_mu), lb_box) / total == pytest.approx(p, abs=1e-7)
        assert mass(mu_box, (lb_box[0], np.log(q_beta))) / total == pytest.approx(p, abs=1e-7)


def test_sigma_quantiles_are_beta_quantiles_transformed(newcomb_exact):
    s = newcomb_exact.summary
    assert s.loc["sigma", "q05"] == pytest.approx(s.loc["beta", "q95"] ** -0.5, rel=1e-12)
    assert s.loc["sigma", "q95"] == pytest.approx(s.loc["beta", "q05"] ** -0.5, rel=1e-12)


def test_exact_densities_integrate_to_one(newcomb_exact):
    from scipy import integrate

    lo, hi = newcomb_exact.edges[[0, -1]]
    assert integrate.quad(newcomb_exact.pdf_mu, lo, hi, points=[newcomb_exact.mode], limit=200)[0] == pytest.approx(1, abs=1e-9)
    assert integrate.quad(lambda b: newcomb_exact.pdf_beta([b])[0], 1e-6, 0.05)[0] == pytest.approx(1, abs=1e-7)


def test_quadrature_handles_one_observation_with_a_wide_prior():
    prior = ng.NormalGammaPrior(mu0=0.0, s0_var=1e4, a=3.0, b=2.0)
    exact = ng.exact_posterior(np.array([5.0]), prior)
    x = np.array([5.0])
    # The t-like tails decay as mu^-7 here: +-50 around the data leaves out ~1e-10 of the mass.
    MU, BETA, w = _grid_posterior(x, lambda m, b: ng.log_joint(m, b, x, prior), (-45.0, 55.0), (np.log(1e-3), np.log(30.0)))
    assert np.all(np.isfinite(exact.summary.values))
    assert exact.summary.loc["mu", "mean"] == pytest.approx(np.sum(w * MU), rel=1e-6)
    assert exact.summary.loc["beta", "mean"] == pytest.approx(np.sum(w * BETA), rel=1e-6)


def test_conjugate_closed_form_matches_numerical_integration():
    x = np.array([2.1, 3.4, 1.7, 2.9, 2.2, 3.8, 2.5])
    prior = ng.ConjugateNormalGammaPrior(mu0=1.0, kappa0=2.0, a=3.0, b=2.0)
    post = ng.conjugate_posterior(x, prior)

    def log_density(mu, beta):  # prior x likelihood, unnormalised
        log_prior = stats.gamma.logpdf(beta, prior.a, scale=1 / prior.b) + stats.norm.logpdf(mu, prior.mu0, 1 / np.sqrt(prior.kappa0 * beta))
        return log_prior + np.sum(stats.norm.logpdf(x[:, None, None], mu, 1 / np.sqrt(beta)), axis=0)

    MU, BETA, w = _grid_posterior(x, log_density, (-3.0, 8.0), (np.log(0.01), np.log(20.0)))
    assert post.marginal_mu().mean() == pytest.approx(np.sum(w * MU), rel=1e-8)
    assert post.marginal_mu().var() == pytest.approx(np.sum(w * (MU - np.sum(w * MU)) ** 2), rel=1e-6)
    assert post.marginal_beta().mean() == pytest.approx(np.sum(w * BETA), rel=1e-8)


def test_conjugate_posterior_rejects_the_independent_prior():
    with pytest.raises(ValueError, match="^prior:"):
        ng.conjugate_posterior(np.array([1.0, 2.0]), ng.DEFAULT_PRIOR)


def test_conjugate_summary_is_consistent_with_its_marginal_laws():
    post = ng.conjugate_posterior(np.array([2.1, 3.4, 1.7, 2.9]), ng.ConjugateNormalGammaPrior(mu0=1.0, kappa0=2.0, a=3.0, b=2.0))
    s = post.summary
    beta = post.marginal_beta()
    sigma = stats.gamma(post.a_n, scale=1 / post.b_n).expect(lambda b: b**-0.5)
    sigma2 = beta.expect(lambda b: 1 / b)
    assert s.loc["mu", "q95"] == pytest.approx(post.marginal_mu().ppf(0.95))
    assert s.loc["sigma", "mean"] == pytest.approx(sigma, rel=1e-9)
    assert s.loc["sigma", "sd"] == pytest.approx(np.sqrt(sigma2 - sigma**2), rel=1e-8)
    assert s.loc["sigma", "q05"] == pytest.approx(beta.ppf(0.95) ** -0.5)


@pytest.mark.parametrize("c", [1e-7, 1e6])
def test_quadrature_is_equivariant_under_a_change_of_units(c):
    # x -> c x, mu0 -> c mu0, s0_var -> c^2 s0_var, b -> c^2 b must give mu -> c mu, beta -> beta / c^2.
    x = 5.0 + np.random.default_rng(2).standard_normal(20)
    base = ng.exact_posterior(x, ng.NormalGammaPrior(mu0=0.0, s0_var=50.0**2, a=1.0, b=10.0)).summary
    scaled = ng.exact_posterior(c * x, ng.NormalGammaPrior(mu0=0.0, s0_var=(50.0 * c) ** 2, a=1.0, b=10.0 * c**2)).summary
    factor = {"mu": c, "beta": c**-2, "sigma": c}
    for name, f in factor.items():
        np.testing.assert_allclose(scaled.loc[name].values, f * base.loc[name].values, rtol=1e-9)


@pytest.mark.parametrize("n", [150, 100_000])
def test_quadrature_resolves_a_posterior_far_narrower_than_the_prior(n):
    x = np.random.default_rng(n).normal(3.0, 2.0, n)
    prior = ng.NormalGammaPrior(mu0=0.0, s0_var=1e6, a=1.0, b=10.0)
    exact = ng.exact_posterior(x, prior)
    m, s = x.mean(), x.std() / np.sqrt(n)
    shift = ng.log_joint(m, 1 / x.var(), x, prior)
    MU, BETA, w = _grid_mass(lambda mu, b: ng.log_joint(mu, b, x, prior), (m - 12 * s, m + 12 * s),
                             (np.log(0.1 / x.var()), np.log(10 / x.var())), shift)
    w = w / w.sum()
    assert exact.summary.loc["mu", "mean"] == pytest.approx(np.sum(w * MU), rel=1e-9)
    assert exact.summary.loc["mu", "sd"] == pytest.approx(np.sqrt(np.sum(w * (MU - np.sum(w * MU)) ** 2)), rel=1e-6)
    assert exact.summary.loc["beta", "mean"] == pytest.approx(np.sum(w * BETA), rel=1e-8)


def test_quadrature_finds_both_modes_of_a_bimodal_marginal():
    # One observation far from a tight prior with a tiny b: a narrow t-spike at x beside the prior's bulk.
    from scipy import integrate

    x, prior = np.array([3.0]), ng.NormalGammaPrior(mu0=0.0, s0_var=1.0, a=0.5, b=1e-6)
    exact = ng.exact_posterior(x, prior)
    A = prior.a + 0.5

    def kernel(mu):
        return np.exp(ng._log_kernel(mu, exact.stats, prior) - exact._log_peak)

    opts = dict(points=[0.0, 3.0 - 1e-2, 3.0, 3.0 + 1e-2], limit=500, epsabs=0, epsrel=1e-12)
    z = integrate.quad(kernel, -12, 15, **opts)[0]
    e_beta = integrate.quad(lambda m: kernel(m) * A / exact.rate_beta(m), -12, 15, **opts)[0] / z
    assert exact.summary.loc["beta", "mean"] == pytest.approx(e_beta, rel=1e-7)
    assert len(ng._stationary_points(exact.stats, prior)) == 3


def test_quadrature_stays_finite_when_a_moment_does_not_exist():
    exact = ng.exact_posterior(np.array([26.0]), ng.NormalGammaPrior(a=0.5))  # A = a + n/2 = 1: E[1/beta] = inf
    s = exact.summary
    assert np.isinf(s.loc["sigma", "sd"])
    assert np.all(np.isfinite(s.drop(index="sigma", columns=[]).values))
    assert np.isfinite(s.loc["sigma", ["mean", "q05", "q95"]].values).all()
