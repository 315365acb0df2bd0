"""bayes_zoo.inference.em.spike_slab: monotone objectives, fixed points, the all-spike corner, agreement with the exact
top model, multiple starts on the diabetes data, D > N, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bayes_zoo.inference.em import spike_slab as em
from bayes_zoo.models import spike_slab as ss
from bayes_zoo.models.datasets import load_diabetes

PRIOR = ss.DEFAULT_PRIOR
#: For the small problem: a spike of sd 0.1 sigma, wide enough to hold a null coefficient's sampling noise
#: (sd ~ sigma / sqrt(N) = 0.07 sigma), so that the joint MAP is an interior mode rather than the all-slab corner.
SMALL_PRIOR = ss.SpikeSlabPrior(spike_var=0.01)
FITS = {"map-em": em.fit_map_em, "emvs": em.fit_emvs}


def _simulated(n, d, seed, sigma2=None, theta=None, prior=PRIOR):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    sim = ss.draw_from_prior(rng, X, prior, theta=theta, sigma2=sigma2)
    return X, sim["y"], sim


@pytest.fixture(scope="module")
def small():
    """A D = 8, N = 200 problem drawn from the model under SMALL_PRIOR (fixed rng; x4, x7 in the slab)."""
    X, y, _ = _simulated(200, 8, seed=3, sigma2=0.3, theta=0.5, prior=SMALL_PRIOR)
    return X, y


@pytest.fixture(scope="module")
def strong():
    """A strong-signal D = 8 problem: N = 2000, sigma2 = 0.05, theta = 1/2 (four slab coefficients)."""
    X, y, sim = _simulated(2000, 8, seed=4, sigma2=0.05, theta=0.5)
    return X, y, sim


@pytest.fixture(scope="module")
def diabetes():
    ds = load_diabetes()
    X, y, _ = ss.standardise(ds.arrays["X"], ds.arrays["y"])
    return X, y, list(ds.arrays["feature_names"])


def _never_decreases(values):
    steps = np.diff(values)
    return np.all(steps >= -1e-10 * (1 + np.abs(values[:-1]))), steps.min()


# ---------------------------------------------------------------- monotone objectives


@pytest.mark.parametrize("prior", [SMALL_PRIOR, PRIOR], ids=["small-prior", "default-prior"])
@pytest.mark.parametrize("algorithm", ["map-em", "emvs"])
@pytest.mark.parametrize("start", em.START_NAMES)
def test_objective_never_decreases(small, algorithm, start, prior):
    X, y = small
    result = FITS[algorithm](X, y, prior, start=start, seed=11)
    ok, worst = _never_decreases(result.objective)
    assert result.converged and ok, worst
    assert np.all(np.isfinite(result.objective))


@pytest.mark.parametrize("algorithm", ["map-em", "emvs"])
def test_objective_never_decreases_from_random_starts_under_a_wide_spike(small, algorithm):
    # A wider spike and a Beta(2, 2) make EM take more, and less trivial, steps.
    X, y = small
    prior = ss.SpikeSlabPrior(spike_var=0.02, slab_var=2.0, a0=2.0, b0=2.0)
    for seed in range(5):
        result = FITS[algorithm](X, y, prior, start="random", seed=seed)
        ok, worst = _never_decreases(result.objective)
        assert ok, (seed, worst)


def test_map_em_objective_is_the_gaussian_marginal_likelihood_plus_log_priors(small):
    # w integrated out: y | gamma, sigma2 ~ N(0, sigma2 (I + X V X^T)); the Cholesky-of-A terms must equal it.
    X, y = small
    data = em.prepare_data(X, y)
    state = em.MapEMState(np.array([1, 0, 1, 1, 0, 0, 1, 0]), 0.7, 0.3)
    v = SMALL_PRIOR.variances[state.gamma]
    direct = (
        stats.multivariate_normal.logpdf(y, np.zeros(len(y)), state.sigma2 * (np.eye(len(y)) + (X * v) @ X.T))
        + 4 * np.log(0.3) + 4 * np.log(0.7)
        + stats.beta.logpdf(0.3, SMALL_PRIOR.a0, SMALL_PRIOR.b0)
        + stats.invgamma.logpdf(0.7, SMALL_PRIOR.nu / 2, scale=SMALL_PRIOR.nu * SMALL_PRIOR.lam / 2)
    )
    assert em.map_em_objective(state, data, SMALL_PRIOR) == pytest.approx(direct, rel=1e-12)


def test_emvs_objective_is_the_models_log_joint_with_gamma_summed_out(small):
    X, y = small
    state = em.EMVSState(np.linspace(-0.5, 0.5, 8), 0.4, 0.6)
    expected = ss.log_joint_marginalised(state.w, state.theta, state.sigma2, X, y, SMALL_PRIOR)
    assert em.emvs_objective(state, em.prepare_data(X, y), SMALL_PRIOR) == pytest.approx(expected, rel=1e-14)


# ---------------------------------------------------------------- fixed points


def test_map_em_fixed_point_is_unchanged_by_one_more_step(small):
    X, y = small
    result = em.fit_map_em(X, y, SMALL_PRIOR, start="ridge", tol=1e-13)
    again = em.map_em_step(result.state, em.prepare_data(X, y), SMALL_PRIOR)
    assert result.converged
    np.testing.assert_array_equal(again.gamma, result.state.gamma)
    assert again.sigma2 == pytest.approx(result.sigma2, rel=1e-12)
    assert again.theta == pytest.approx(result.theta, abs=1e-15)
    assert 0 < result.theta < 1 and 0 < result.selected.sum() < X.shape[1]  # an interior mode, not a corner


def test_map_em_fixed_point_satisfies_its_closed_form_m_steps(small):
    X, y = small
    n, d = X.shape
    result = em.fit_map_em(X, y, SMALL_PRIOR, start="ridge", tol=1e-13)
    gamma, sigma2, theta = result.state
    v = SMALL_PRIOR.variances[gamma]
    A = X.T @ X + np.diag(1 / v)
    mu = np.linalg.solve(A, X.T @ y)
    cov = sigma2 * np.linalg.inv(A)
    e_w2 = np.diag(cov) + mu**2
    e_rss = np.sum((y - X @ mu) ** 2) + np.trace(X @ cov @ X.T)
    # sigma2: the ECM update, and its closed-form fixed point (R + nu lam) / (N + nu + 2)
    nl = SMALL_PRIOR.nu * SMALL_PRIOR.lam
    assert sigma2 == pytest.approx((e_rss + np.sum(e_w2 / v) + nl) / (n + d + SMALL_PRIOR.nu + 2), rel=1e-11)
    r = np.sum((y - X @ mu) ** 2) + np.sum(mu**2 / v)
    assert sigma2 == pytest.approx((r + nl) / (n + SMALL_PRIOR.nu + 2), rel=1e-11)
    # theta: the Beta mode (a0 = b0 = 1, so k / D)
    k = gamma.sum()
    assert theta == pytest.approx((SMALL_PRIOR.a0 + k - 1) / (SMALL_PRIOR.a0 + SMALL_PRIOR.b0 + d - 2), abs=1e-15)
    # gamma: each coordinate wins its comparison of Q
    def q(g):
        vg = SMALL_PRIOR.variances[g]
        return -0.5 * np.log(vg) - e_w2 / (2 * sigma2 * vg) + (np.log(theta) if g else np.log1p(-theta))
    np.testing.assert_array_equal(gamma, (q(1) > q(0)).astype(int))
    assert result.w == pytest.approx(mu, rel=1e-10)


def test_emvs_fixed_point_is_unchanged_by_one_more_step(small):
    X, y = small
    result = em.fit_emvs(X, y, SMALL_PRIOR, start="ridge", tol=1e-13)
    again = em.emvs_step(result.state, em.prepare_data(X, y), SMALL_PRIOR)
    assert result.converged
    np.testing.assert_allclose(again.w, result.w, rtol=1e-11, atol=1e-13)
    assert again.sigma2 == pytest.approx(result.sigma2, rel=1e-11)
    assert again.theta == pytest.approx(result.theta, abs=1e-12)


def test_emvs_fixed_point_satisfies_its_update_equations(small):
    # Rockova & George (2014), sec. 3: w, sigma2 and theta from p* and d* at the same point.
    X, y = small
    n, d = X.shape
    result = em.fit_emvs(X, y, SMALL_PRIOR, start="ridge", tol=1e-13)
    w, sigma2, theta = result.state
    p = ss.inclusion_probability(w, theta, sigma2, SMALL_PRIOR)
    dstar = p / SMALL_PRIOR.slab_var + (1 - p) / SMALL_PRIOR.spike_var
    np.testing.assert_allclose(w, np.linalg.solve(X.T @ X + np.diag(dstar), X.T @ y), rtol=1e-9, atol=1e-12)
    rss = np.sum((y - X @ w) ** 2)
    nl, nu, a0, b0 = SMALL_PRIOR.nu * SMALL_PRIOR.lam, SMALL_PRIOR.nu, SMALL_PRIOR.a0, SMALL_PRIOR.b0
    assert sigma2 == pytest.approx((rss + np.sum(dstar * w**2) + nl) / (n + d + nu + 2), rel=1e-10)
    assert theta == pytest.approx((p.sum() + a0 - 1) / (a0 + b0 + d - 2), abs=1e-10)
    assert 0 < theta < 1 and 0 < result.selected.sum() < d  # an interior mode, not a corner
    np.testing.assert_array_equal(result.selected, (p > 0.5).astype(int))


def test_all_spike_start_is_a_fixed_point_of_map_em_for_any_data(small, diabetes):
    # With a0 = 1, k = 0 sends theta to exactly 0, and log(0) forbids every inclusion.
    for X, y in (small, diabetes[:2]):
        data = em.prepare_data(X, y)
        start = em.map_em_init(data, SMALL_PRIOR, "all-spike")
        assert start.theta == 0.0 and not start.gamma.any()
        for state in (start, start._replace(sigma2=25.0), start._replace(sigma2=1e-4)):
            after = em.map_em_step(state, data, SMALL_PRIOR)
            np.testing.assert_array_equal(after.gamma, 0)
            assert after.theta == 0.0
        result = em.fit_map_em(X, y, SMALL_PRIOR, start="all-spike")
        assert result.converged and result.model_label == "(none)" and np.isfinite(result.objective[-1])


def test_all_slab_start_is_a_fixed_point_of_map_em_when_b0_is_one(small):
    # The mirror corner: k = D sends theta to exactly 1 when b0 = 1, and log(1 - 1) forbids every exclusion.
    X, y = small
    data = em.prepare_data(X, y)
    start = em.map_em_init(data, SMALL_PRIOR, "all-slab")
    assert start.theta == 1.0
    np.testing.assert_array_equal(em.map_em_step(start, data, SMALL_PRIOR).gamma, 1)
    relaxed = ss.SpikeSlabPrior(spike_var=0.01, b0=3.0)  # theta = D / (D + 2) < 1: the corner is left
    assert not em.map_em_step(em.map_em_init(data, relaxed, "all-slab"), data, relaxed).gamma.all()


def test_all_spike_is_left_on_the_diabetes_data_when_theta_is_one_half(diabetes):
    # The fixed point is the theta = 0 corner, not shrinkage alone: at theta = 1/2 strong effects escape.
    X, y, _ = diabetes
    data = em.prepare_data(X, y)
    state = em.map_em_init(data, PRIOR, "all-spike")._replace(theta=0.5)
    assert em.map_em_step(state, data, PRIOR).gamma.any()


def test_theta_update_covers_the_interior_and_both_boundaries():
    d = 8
    assert em.theta_update(3, d, PRIOR, 0.5) == pytest.approx(3 / 8)
    assert em.theta_update(0, d, PRIOR, 0.5) == 0.0  # a0 = 1: maximiser at the boundary
    assert em.theta_update(d, d, PRIOR, 0.5) == 1.0
    sparse = ss.SpikeSlabPrior(a0=0.5, b0=1.0)  # Q unbounded at 0: stop at THETA_EPS
    assert em.theta_update(0, d, sparse, 0.5) == em.THETA_EPS
    assert em.theta_update(0, d, sparse, 1e-12) == 1e-12  # never moves theta to a worse Q


# ---------------------------------------------------------------- against the exact posterior


@pytest.mark.parametrize("algorithm", ["map-em", "emvs"])
@pytest.mark.parametrize("start", ["ridge", "least-squares"])
def test_em_selects_the_exact_top_model_on_a_strong_signal_problem(strong, algorithm, start):
    X, y, sim = strong
    exact = ss.exact_posterior(X, y, PRIOR)
    result = FITS[algorithm](X, y, PRIOR, start=start)
    placement = em.place_in_exact(result, exact, X, y, PRIOR)
    top = exact.models[np.argmax(exact.posterior_probability)]
    np.testing.assert_array_equal(result.selected, top)
    assert placement.is_top and placement.rank == 1
    assert placement.probability == pytest.approx(exact.posterior_probability.max())
    assert 0.01 < placement.sigma2_cdf < 0.99


def test_place_in_exact_sigma2_cdf_matches_the_exact_quantiles(small):
    # The per-model InverseGamma laws recomputed here must reproduce the model module's sigma2 quantiles.
    X, y = small
    exact = ss.exact_posterior(X, y, SMALL_PRIOR)
    result = em.fit_emvs(X, y, SMALL_PRIOR)
    for q, p in (("q05", 0.05), ("q95", 0.95)):
        moved = em.EMResult(**{**result.__dict__, "sigma2": float(exact.summary.loc["sigma2", q])})
        assert em.place_in_exact(moved, exact, X, y, SMALL_PRIOR).sigma2_cdf == pytest.approx(p, abs=1e-9)


def test_place_in_exact_refuses_an_exact_posterior_of_other_data(small):
    X, y = small
    exact = ss.exact_posterior(X, y[::-1], SMALL_PRIOR)
    with pytest.raises(ValueError, match="^exact:"):
        em.place_in_exact(em.fit_emvs(X, y, SMALL_PRIOR), exact, X, y, SMALL_PRIOR)


# ---------------------------------------------------------------- multiple starts, diabetes, D > N


def test_diabetes_multistart_reports_every_start_and_its_mode(diabetes):
    X, y, names = diabetes
    table = em.multistart(X, y, PRIOR, seed=0, feature_names=names)
    assert len(table) == 2 * (len(em.MULTISTART_STARTS) + em.RANDOM_STARTS)
    assert list(table["start"][:6]) == [*em.MULTISTART_STARTS, "random-1", "random-2"]
    assert table["converged"].all() and np.isfinite(table["objective"]).all()
    for algorithm, group in table.groupby("algorithm"):
        best = group.loc[group["objective"].idxmax()]
        assert best["mode"] == 1
        assert set(group["mode"]) == set(range(1, group["mode"].max() + 1))
    assert "bmi" in table.set_index(["algorithm", "start"]).at[("emvs", "ridge"), "model"]
    # EMVS's best mode is reached only from random starts (RANDOM_STARTS's comment): the ridge start stops lower.
    emvs = table[table["algorithm"] == "emvs"].set_index("start")
    assert emvs["objective"].max() == pytest.approx(-465.497215, abs=1e-6)
    assert emvs["objective"].max() > emvs.at["ridge", "objective"] + 3
    assert table.attrs["best"]["emvs"].model_label == "sex, bmi, bp, s3, s5"
    # Without the polish the corners stay where they started (fixed points), as the module doc says.
    corners = em.multistart(X, y, PRIOR, seed=0, feature_names=names, random_starts=0,
                            polish=False).set_index(["algorithm", "start"])["model"]
    assert (corners.xs("all-spike", level="start") == "(none)").all()
    assert (corners.xs("all-slab", level="start") == ", ".join(names)).all()


# ---------------------------------------------------------------- issue 13: the best mode is the best


def _issue_13_case():
    """N = 100, D = 5, X standardised, w = (.5, 0, 0, 0, .3), sigma2 = 1; prior v0 = 1e-3, v1 = 10, Beta(1, 1)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 5))
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    y = X @ np.array([0.5, 0, 0, 0, 0.3]) + rng.standard_normal(100)
    return X, y, ss.SpikeSlabPrior(spike_var=1e-3, slab_var=10.0)


def test_issue_13_case_as_reported_every_pattern_is_a_map_em_fixed_point():
    # The landscape of the issue: the ridge start ends at (1, 1, 0, 0, 1) (exact rank 3, p = .040) while the
    # objective is 2.94 nats higher at (1, 0, 0, 0, 1) (exact top, .760); MAP-EM alone never leaves its start.
    X, y, prior = _issue_13_case()
    exact = ss.exact_posterior(X, y, prior)
    ridge = em.fit_map_em(X, y, prior, start="ridge")
    np.testing.assert_array_equal(ridge.selected, [1, 1, 0, 0, 1])
    placement = em.place_in_exact(ridge, exact, X, y, prior)
    assert placement.rank == 3 and placement.probability == pytest.approx(0.040, abs=5e-4)
    data = em.prepare_data(X, y)
    top = em.map_em_profile([1, 0, 0, 0, 1], data, prior)
    assert em.map_em_objective(top, data, prior) - ridge.objective[-1] == pytest.approx(2.94, abs=0.005)
    for gamma in ((np.arange(32)[:, None] >> np.arange(5)) & 1):
        state = em.map_em_profile(gamma, data, prior)
        np.testing.assert_array_equal(em.map_em_step(state, data, prior).gamma, gamma)


def test_issue_13_case_multistart_reports_the_exact_top_model_as_map_em_best_mode():
    X, y, prior = _issue_13_case()
    table = em.multistart(X, y, prior, seed=0)
    exact = ss.exact_posterior(X, y, prior)
    enumerated = em.map_em_enumerate(X, y, prior)
    for algorithm in em.ALGORITHMS:
        best = table.attrs["best"][algorithm]
        np.testing.assert_array_equal(best.selected, [1, 0, 0, 0, 1])
        placement = em.place_in_exact(best, exact, X, y, prior)
        assert placement.is_top and placement.probability == pytest.approx(0.760, abs=5e-4)
    best = table.attrs["best"]["map-em"]
    assert best.objective[-1] == pytest.approx(enumerated["objective"].iloc[0], rel=1e-12)
    assert enumerated["model"].iloc[0] == "x0, x4"


@pytest.mark.parametrize("case", ["issue-13", "diabetes"])
def test_the_reported_best_mode_has_the_highest_objective_of_all_modes_found(case, diabetes):
    X, y, prior = _issue_13_case() if case == "issue-13" else (*diabetes[:2], PRIOR)
    table = em.multistart(X, y, prior, seed=3)
    for algorithm, group in table.groupby("algorithm"):
        best = table.attrs["best"][algorithm]
        assert best.objective[-1] == group["objective"].max()
        np.testing.assert_allclose(group.loc[group["mode"] == 1, "objective"], group["objective"].max(), rtol=1e-6)
        assert all(r.objective[-1] <= best.objective[-1] for (a, _), r in table.attrs["results"].items() if a == algorithm)


def test_polished_map_em_never_decreases_its_objective_and_reaches_the_enumerated_optimum(diabetes):
    X, y, names = diabetes
    table = em.multistart(X, y, PRIOR, seed=0, feature_names=names, algorithms=("map-em",))
    for result in table.attrs["results"].values():
        ok, worst = _never_decreases(result.objective)
        assert ok, worst
    assert (table["polish_moves"] > 0).any()
    enumerated = em.map_em_enumerate(X, y, PRIOR, names)
    assert table["objective"].max() == pytest.approx(enumerated["objective"].iloc[0], rel=1e-12)


def test_map_em_enumerate_profiles_each_pattern_at_its_conditional_optimum(small):
    # The profiled state is a fixed point of the sigma2 and theta M-steps: no (sigma2, theta) nearby is higher.
    X, y = small
    data = em.prepare_data(X, y)
    table = em.map_em_enumerate(X, y, SMALL_PRIOR)
    assert len(table) == 2**8 and table["objective"].is_monotonic_decreasing
    gamma = table.attrs["gamma"][5]
    state = em.map_em_profile(gamma, data, SMALL_PRIOR)
    value = em.map_em_objective(state, data, SMALL_PRIOR)
    assert value == pytest.approx(table["objective"].iloc[5], rel=1e-14)
    for ds2, dth in ((1.001, 0), (0.999, 0), (1, 1e-3), (1, -1e-3)):
        moved = em.MapEMState(state.gamma, state.sigma2 * ds2, state.theta + dth)
        assert em.map_em_objective(moved, data, SMALL_PRIOR) < value


def test_random_starts_are_reproducible_by_seed_and_differ_between_seeds(small):
    X, y = small
    one = em.multistart(X, y, SMALL_PRIOR, seed=7, starts=(), random_starts=4, polish=False)
    two = em.multistart(X, y, SMALL_PRIOR, seed=7, starts=(), random_starts=4, polish=False)
    other = em.multistart(X, y, SMALL_PRIOR, seed=8, starts=(), random_starts=4, polish=False)
    pd_cols = ["start", "model", "objective"]
    assert one[pd_cols].equals(two[pd_cols])
    starts = lambda t: [tuple(r.objective[:1]) for r in t.attrs["results"].values()]  # noqa: E731
    assert starts(one) != starts(other)


# ---------------------------------------------------------------- stationarity by finite differences


@pytest.mark.parametrize("algorithm", ["map-em", "emvs"])
@pytest.mark.parametrize("start", ["ridge", "least-squares"])
def test_objective_gradient_vanishes_at_a_converged_interior_mode(diabetes, algorithm, start):
    X, y, names = diabetes
    result = FITS[algorithm](X, y, PRIOR, start=start, feature_names=names)
    g = em.objective_gradient(result, X, y, PRIOR)
    assert 0 < result.theta < 1
    assert list(g.index[:2]) == ["log sigma2", "logit theta"]
    assert len(g) == (2 if algorithm == "map-em" else 2 + X.shape[1])
    assert g.abs().max() < 1e-6


def _theta_off_by_one(k, d, prior, theta_old):
    """theta's M-step with its count off by one: (a0 + k - 1) / (a0 + b0 + D - 1)."""
    return (prior.a0 + float(k) - 1.0) / (prior.a0 + prior.b0 + d - 1.0)


@pytest.mark.parametrize("algorithm", ["map-em", "emvs"])
def test_objective_gradient_exposes_a_theta_m_step_off_by_one(diabetes, monkeypatch, algorithm):
    X, y, names = diabetes
    monkeypatch.setattr(em, "theta_update", _theta_off_by_one)
    result = FITS[algorithm](X, y, PRIOR, start="ridge", feature_names=names)
    assert result.converged
    g = em.objective_gradient(result, X, y, PRIOR)
    assert abs(g["logit theta"]) > 0.1  # ~0.5: theta sits at k / (D + 1) instead of k / D


def test_objective_gradient_reports_the_kkt_violation_at_a_corner_that_is_no_maximum(diabetes):
    # EMVS's all-slab start is a fixed point (theta = 1 gives p* = 1) but not a maximum of its objective:
    # moving theta into (0, 1) raises it.  MAP-EM's corners are maxima (module doc): 0 there.
    X, y, names = diabetes
    emvs = em.fit_emvs(X, y, PRIOR, start="all-slab")
    assert emvs.theta == 1.0 and em.objective_gradient(emvs, X, y, PRIOR)["logit theta"] > 1.0
    map_em = em.fit_map_em(X, y, PRIOR, start="all-spike")
    assert map_em.theta == 0.0 and em.objective_gradient(map_em, X, y, PRIOR)["logit theta"] == 0.0


def test_objective_gradient_and_enumeration_refuse_bad_input(small):
    X, y = small
    result = em.fit_emvs(X, y, SMALL_PRIOR)
    with pytest.raises(ValueError, match="^result:"):
        em.objective_gradient("emvs", X, y, SMALL_PRIOR)
    with pytest.raises(ValueError, match="^step:"):
        em.objective_gradient(result, X, y, SMALL_PRIOR, step=0.0)
    with pytest.raises(ValueError, match="^result:"):
        em.objective_gradient(result, X[:, :3], y, SMALL_PRIOR)
    with pytest.raises(ValueError, match="^X:"):
        em.map_em_enumerate(np.ones((20, ss.MAX_ENUMERATION_DIM + 1)) + np.eye(20, ss.MAX_ENUMERATION_DIM + 1),
                            np.arange(20.0), SMALL_PRIOR)


@pytest.mark.parametrize("algorithm", ["map-em", "emvs"])
def test_more_features_than_observations_work(algorithm):
    X, y, _ = _simulated(15, 30, seed=8, sigma2=0.2, theta=0.2)
    result = FITS[algorithm](X, y, PRIOR, start="ridge")
    ok, worst = _never_decreases(result.objective)
    assert result.converged and ok, worst
    assert result.w.shape == result.selected.shape == (30,)
    assert np.isfinite(result.objective[-1]) and result.sigma2 > 0


def test_emvs_push_through_m_step_equals_the_direct_solve():
    X, y, _ = _simulated(15, 30, seed=8, sigma2=0.2, theta=0.2)
    data = em.prepare_data(X, y)
    p = np.random.default_rng(1).random(30)
    dstar = p / PRIOR.slab_var + (1 - p) / PRIOR.spike_var
    state = em.emvs_m_step(p, dstar, 0.5, data, PRIOR)  # D > N: N x N route
    direct = np.linalg.solve(X.T @ X + np.diag(dstar), X.T @ y)
    np.testing.assert_allclose(state.w, direct, rtol=1e-9, atol=1e-12)


def test_least_squares_start_with_more_features_than_observations_is_the_minimum_norm_interpolant():
    X, y, _ = _simulated(15, 30, seed=8, sigma2=0.2, theta=0.2)
    table = em.multistart(X, y, PRIOR, seed=0, starts=("ridge", "least-squares"), random_starts=0)
    assert list(table["start"]) == ["ridge", "least-squares"] * 2 and table.attrs["skipped"] == []
    kind, w0 = em._start_point("least-squares", em.prepare_data(X, y), 0)
    np.testing.assert_allclose(X @ w0, y, atol=1e-10)  # interpolates
    np.testing.assert_allclose(w0, np.linalg.pinv(X) @ y, atol=1e-10)  # the minimum-norm solution


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"max_iter": 0}, "max_iter"),
        ({"max_iter": 2.5}, "max_iter"),
        ({"tol": 0.0}, "tol"),
        ({"tol": -1e-6}, "tol"),
        ({"tol": np.nan}, "tol"),
        ({"start": "lasso"}, "start"),
        ({"start": "random", "seed": -1}, "seed"),
        ({"start": em.MapEMState(np.zeros(3, int), 1.0, 0.5)}, "start"),
        ({"feature_names": ["a", "b"]}, "feature_names"),
        ({"algorithm": "vb"}, "algorithm"),
    ],
)
def test_fit_rejects_bad_settings_naming_the_argument(small, kwargs, name):
    X, y = small
    with pytest.raises(ValueError, match=f"^{name}:"):
        em.fit(X, y, SMALL_PRIOR, **{"algorithm": "map-em", **kwargs})


def test_fit_rejects_bad_data_and_prior_naming_the_argument(small):
    X, y = small
    bad_X = X.copy()
    bad_X[2, 3] = np.nan
    with pytest.raises(ValueError, match="^X:"):
        em.fit_emvs(bad_X, y, SMALL_PRIOR)
    with pytest.raises(ValueError, match="^y:"):
        em.fit_map_em(X, y[:-1], SMALL_PRIOR)
    with pytest.raises(ValueError, match="^prior:"):
        em.fit_emvs(X, y, {"spike_var": 1e-3})
    with pytest.raises(ValueError, match="^starts:"):
        em.multistart(X, y, SMALL_PRIOR, starts=("ridge", "lasso"))
    with pytest.raises(ValueError, match="^random_starts:"):
        em.multistart(X, y, SMALL_PRIOR, random_starts=-1)
    with pytest.raises(ValueError, match="^seed:"):
        em.multistart(X, y, SMALL_PRIOR, seed=2**63)
    with pytest.raises(ValueError, match="^starts:"):
        em.multistart(X, y, SMALL_PRIOR, starts=(), random_starts=0)


# ---------------------------------------------------------------- reading a multistart (notebook 02)


@pytest.fixture(scope="module")
def small_multistart(small):
    X, y = small
    return em.multistart(X, y, SMALL_PRIOR, random_starts=3, seed=2)


def test_modes_table_counts_every_run_once_and_ranks_mode_one_highest(small_multistart):
    modes = em.modes_table(small_multistart)
    assert modes["starts"].sum() == len(small_multistart)
    for algorithm, group in modes.groupby("algorithm"):
        assert group.loc[group["mode"] == 1, "objective"].iloc[0] == group["objective"].max()
        runs = small_multistart[small_multistart["algorithm"] == algorithm]
        assert group["objective"].max() == runs["objective"].max()


def test_plot_objective_traces_passes_the_figure_audit(small_multistart):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bayes_zoo.figures import audit_figure

    fig = em.plot_objective_traces(small_multistart)
    problems = audit_figure(fig)
    plt.close(fig)
    assert problems == []


@pytest.mark.parametrize("reader", [em.modes_table, em.plot_objective_traces], ids=["modes_table", "plot"])
def test_multistart_readers_refuse_another_table_naming_starts(reader):
    import pandas as pd

    with pytest.raises(ValueError, match="^starts:"):
        reader(pd.DataFrame({"algorithm": ["emvs"]}))


def test_map_em_enumerate_from_exact_equals_map_em_enumerate(small):
    X, y = small
    direct = em.map_em_enumerate(X, y, SMALL_PRIOR)
    fast = em.map_em_enumerate_from_exact(ss.exact_posterior(X, y, SMALL_PRIOR), SMALL_PRIOR)
    np.testing.assert_allclose(fast["objective"], direct["objective"], rtol=1e-10)
    np.testing.assert_array_equal(fast.attrs["gamma"][0], direct.attrs["gamma"][0])
    np.testing.assert_allclose(fast["sigma2"].iloc[0], direct["sigma2"].iloc[0], rtol=1e-10)


def test_map_em_enumerate_from_exact_refuses_an_exact_posterior_of_another_nu(small):
    X, y = small
    exact = ss.exact_posterior(X, y, ss.SpikeSlabPrior(spike_var=0.01, nu=2.5))
    with pytest.raises(ValueError, match="^exact:"):
        em.map_em_enumerate_from_exact(exact, SMALL_PRIOR)
