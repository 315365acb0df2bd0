"""bayes_zoo.inference.crossval: z-scores scaled by ArviZ's MCSE, the Bonferroni threshold, and the three verdicts."""

from __future__ import annotations

import re

import arviz as az
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bayes_zoo.inference import crossval


def _normal_idata(loc=0.0, scale=1.0, chains=4, draws=2000, seed=0):
    values = np.random.default_rng(seed).normal(loc, scale, size=(chains, draws))
    return az.from_dict(posterior={"theta": values})


EXACT = pd.DataFrame(
    {"mean": [0.0], "sd": [1.0], "q05": [stats.norm.ppf(0.05)], "q95": [stats.norm.ppf(0.95)]},
    index=pd.Index(["theta"], name="quantity"),
)


def test_bonferroni_threshold_is_the_two_sided_normal_quantile():
    assert crossval.bonferroni_threshold(0.01, 1) == pytest.approx(stats.norm.ppf(1 - 0.005))
    assert crossval.bonferroni_threshold(0.01, 36) == pytest.approx(stats.norm.ppf(1 - 0.01 / 72))


def _three_variables(seed):
    rng = np.random.default_rng(seed)
    return az.from_dict(posterior={v: rng.normal(size=(4, 1000)) for v in ("mu", "beta", "sigma")})


def test_compare_sets_its_threshold_by_bonferroni_over_every_z_test_it_runs():
    # Normal-gamma's shape: two results and an exact answer (3 comparisons) x 3 quantities x 4 statistics = 36
    # z-tests, threshold Phi^-1(1 - 0.01 / 72) = 3.6352; every row's "ok" is |z| against that same threshold.
    # Caught: compare counting len(table) x len(pairs) = 108 tests (threshold 3.91, a Bonferroni too strict).
    exact = pd.concat([EXACT.rename(index={"theta": v}) for v in ("mu", "beta", "sigma")])
    result = crossval.compare({"a": _three_variables(1), "b": _three_variables(2)}, exact)
    assert len(result.table) == 36
    assert result.threshold == pytest.approx(stats.norm.isf(0.01 / (2 * 36)), rel=1e-12)
    assert result.threshold == pytest.approx(3.6352, abs=1e-4)
    assert (result.table["ok"] == (result.table["z"].abs() <= result.threshold)).all()
    # A moment that does not exist is not a test: one result, the sd left out -> 3 z-tests at alpha 0.05.
    fewer = crossval.compare({"a": _normal_idata()}, EXACT.assign(sd=np.inf), alpha=0.05)
    assert len(fewer.table) == 3
    assert fewer.threshold == pytest.approx(stats.norm.isf(0.05 / (2 * 3)), rel=1e-12)


def test_estimates_use_arviz_mcse():
    idata = _normal_idata()
    est = crossval.estimates(idata)
    values = idata.posterior["theta"].values
    assert est.loc[("theta", "mean"), "mcse"] == pytest.approx(float(az.mcse(values, method="mean")))
    assert est.loc[("theta", "sd"), "mcse"] == pytest.approx(float(az.mcse(values, method="sd")))
    assert est.loc[("theta", "q05"), "mcse"] == pytest.approx(float(az.mcse(values, method="quantile", prob=0.05)))
    assert est.loc[("theta", "q95"), "estimate"] == pytest.approx(np.quantile(values, 0.95))


def test_z_is_difference_over_combined_mcse():
    a, b = _normal_idata(seed=1), _normal_idata(seed=2)
    result = crossval.compare({"a": a, "b": b})
    row = result.table.set_index(["quantity", "statistic"]).loc[("theta", "mean")]
    expected = (row["estimate_left"] - row["estimate_right"]) / np.hypot(row["mcse_left"], row["mcse_right"])
    assert row["z"] == pytest.approx(expected)


def test_two_samples_of_the_same_law_agree_with_each_other_and_the_exact_answer():
    result = crossval.compare({"a": _normal_idata(seed=1), "b": _normal_idata(seed=2)}, EXACT)
    assert result.verdict == "agree", result.reasons
    assert list(result.comparisons["comparison"]) == ["a vs b", "a vs exact", "b vs exact"]
    assert len(result.table) == 12  # 3 comparisons x 4 statistics


def test_a_shifted_posterior_disagrees_and_is_named():
    result = crossval.compare({"a": _normal_idata(seed=1), "b": _normal_idata(loc=0.2, seed=2)}, EXACT)
    assert result.verdict == "disagree"
    assert result.verdict_of("a", "exact") == "agree"
    assert result.verdict_of("b", "exact") == "disagree"
    assert any("theta mean" in r for r in result.reasons)


def test_a_z_beyond_the_threshold_reads_true_as_printed():
    # alpha set so that the threshold sits 1e-4 below the largest |z|: two decimals would print them equal.
    # Caught: the reason formatted as f"z = {z:+.2f} (|z| > {threshold:.2f})".
    idata = _normal_idata(loc=0.05, seed=1)
    z = crossval.compare({"a": idata}, EXACT).table["z"].abs().max()
    alpha = 2 * 4 * stats.norm.sf(z - 1e-4)  # 4 z-tests
    result = crossval.compare({"a": idata}, EXACT, alpha=alpha)
    assert result.threshold == pytest.approx(z - 1e-4)  # the setting
    (reason,) = [r for r in result.reasons if "differs" in r]
    shown, bound = (float(v) for v in re.search(r"z = [+-](\S+) \(\|z\| > (\S+)\)", reason).groups())
    assert shown > bound and shown == pytest.approx(z, abs=1e-3) and bound == pytest.approx(z - 1e-4, abs=1e-3)


def test_a_too_wide_posterior_disagrees_on_sd():
    result = crossval.compare({"wide": _normal_idata(scale=1.15, seed=3)}, EXACT)
    assert result.verdict == "disagree"
    assert any("theta sd" in r for r in result.reasons)


def test_constant_chains_are_inconclusive_never_agree():
    const = az.from_dict(posterior={"theta": np.zeros((4, 1000))})
    result = crossval.compare({"const": const, "ok": _normal_idata()})
    assert result.verdict == "inconclusive"


def test_one_chain_is_inconclusive():
    result = crossval.compare({"one": _normal_idata(chains=1, draws=4000)}, EXACT)
    assert result.verdict == "inconclusive"
    assert any("single chain" in r for r in result.reasons)


def test_few_draws_are_inconclusive():
    result = crossval.compare({"few": _normal_idata(draws=20), "ok": _normal_idata()})
    assert result.verdict == "inconclusive"


def test_a_variable_one_result_lacks_is_named_not_skipped():
    a = az.from_dict(posterior={"theta": np.random.default_rng(0).normal(size=(4, 1000)), "extra": np.ones((4, 1000))})
    with pytest.raises(ValueError, match=r"b lacks variable\(s\) \['extra'\] \(it has \['theta'\]\)"):
        crossval.compare({"a": a, "b": _normal_idata()})


def test_var_names_compares_the_subset_asked_for():
    a = az.from_dict(posterior={"theta": np.random.default_rng(0).normal(size=(4, 1000)), "extra": np.ones((4, 1000))})
    result = crossval.compare({"a": a, "b": _normal_idata()}, var_names=["theta"])
    assert set(result.table["quantity"]) == {"theta"}


def _vector(labels, seed):
    draws = np.random.default_rng(seed).normal(size=(4, 500, len(labels)))
    return az.from_dict(posterior={"theta": draws}, dims={"theta": ["pump"]}, coords={"pump": labels})


def test_mismatched_coordinate_labels_name_the_labels_each_side_has():
    with pytest.raises(ValueError, match=r"theta: coordinate 'pump' labels differ between a and b "
                                         r"\(only a has \['0', '1'\], only b has \['P1', 'P2'\]\)"):
        crossval.compare({"a": _vector([0, 1], 0), "b": _vector(["P1", "P2"], 1)})


def test_a_different_number_of_coordinates_is_named():
    with pytest.raises(ValueError, match=r"only b has \['2'\]"):
        crossval.compare({"a": _vector([0, 1], 0), "b": _vector([0, 1, 2], 1)})


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: crossval.compare({}), "results"),
        (lambda: crossval.compare({"a": _normal_idata()}), "results"),
        (lambda: crossval.compare({"a": np.zeros(3), "b": _normal_idata()}), r"results\['a'\]"),
        (lambda: crossval.compare({"exact": _normal_idata(), "b": _normal_idata()}), "results"),
        (lambda: crossval.compare({"a": _normal_idata()}, EXACT.drop(columns="sd")), "exact"),
        (lambda: crossval.compare({"a": _normal_idata()}, EXACT * np.nan), "exact"),
        (lambda: crossval.compare({"a": _normal_idata()}, EXACT.assign(sd=np.nan)), "exact"),
        (lambda: crossval.compare({"a": _normal_idata(), "b": _normal_idata()}, alpha=1.5), "alpha"),
        (lambda: crossval.compare({"a": _normal_idata(), "b": _normal_idata()}, advisory={"c": "?"}), "advisory"),
        (lambda: crossval.compare({"a": _normal_idata()}, EXACT, advisory={"a": "?"}), "advisory"),
        (lambda: crossval.compare({"a": _normal_idata()}, EXACT, saturation={"theta": -1e-3}), r"saturation\['theta'\]"),
        (lambda: crossval.compare({"a": _normal_idata()}, EXACT, saturation={"theta": np.nan}), r"saturation\['theta'\]"),
        (lambda: crossval.compare({"a": _normal_idata()}, EXACT, saturation={"phi": 1e-3}), "saturation"),
    ],
)
def test_bad_arguments_are_named(call, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        call()


def test_an_infinite_exact_moment_is_left_out_not_compared():
    result = crossval.compare({"a": _normal_idata()}, EXACT.assign(sd=np.inf))
    assert "sd" not in set(result.table["statistic"])
    assert result.verdict == "agree"


def test_low_ess_does_not_hide_a_failed_rhat_or_a_large_z():
    rng = np.random.default_rng(0)
    values = np.zeros((4, 1000))
    for t in range(1, 1000):
        values[:, t] = 0.995 * values[:, t - 1] + rng.normal(size=4) * 0.1
    values += 3.0
    result = crossval.compare({"sticky": az.from_dict(posterior={"theta": values})}, EXACT)
    assert result.verdict == "disagree"
    assert any("R-hat" in r or "differs" in r for r in result.reasons)
    assert any("too few effective draws" in r for r in result.reasons)


def _mixture_exact(sds):
    """Exact summary of theta drawn from N(0, sd_c^2) with equal weight on each sd."""
    from scipy import optimize

    def cdf(t):
        return np.mean([stats.norm.cdf(t / sd) for sd in sds])

    q05, q95 = (optimize.brentq(lambda t: cdf(t) - p, -10, 10, xtol=1e-14) for p in (0.05, 0.95))
    return pd.DataFrame({"mean": [0.0], "sd": [np.sqrt(np.mean(np.square(sds)))], "q05": [q05], "q95": [q95]},
                        index=pd.Index(["theta"], name="quantity"))


def test_a_failed_rhat_makes_disagree_even_when_every_z_passes():
    # Chains with different spreads (sd 0.8, 0.8, 1.2, 1.2): their pooled draws match the mixture's exact
    # moments and quantiles, but rank-normalised (folded) R-hat sees the chains differ.
    # Caught: compare leaving the diagnostics' failures out of the verdict ("agree", no reason).
    sds = np.array([0.8, 0.8, 1.2, 1.2])
    values = np.random.default_rng(1).normal(size=(4, 2000)) * sds[:, None]
    result = crossval.compare({"a": az.from_dict(posterior={"theta": values})}, _mixture_exact(sds))
    diag = result.diagnostics["a"]
    assert result.table["ok"].all() and not diag.low_ess and diag.table.loc["theta", "r_hat"] > 1.01  # the setting
    assert result.verdict == "disagree"
    assert result.verdict_of("a", "exact") == "disagree"
    assert any("R-hat" in r for r in result.reasons), result.reasons


def test_a_single_divergence_makes_disagree_even_when_every_z_passes():
    # Caught: compare leaving the diagnostics' failures out of the verdict, and diagnose counting a
    # divergence as a failure only from the second one on (the divergences test there has 2).
    diverging = np.zeros((4, 2000), dtype=bool)
    diverging[2, 777] = True
    idata = az.from_dict(posterior={"theta": np.random.default_rng(3).normal(size=(4, 2000))},
                         sample_stats={"diverging": diverging})
    result = crossval.compare({"a": idata}, EXACT)
    assert result.table["ok"].all() and not result.diagnostics["a"].low_ess  # the setting
    assert result.verdict == "disagree"
    assert any("1 divergent" in r for r in result.reasons), result.reasons


def test_low_ess_alone_is_inconclusive():
    # 2 chains x 150 independent draws: R-hat fine, but only ~300 effective draws.
    result = crossval.compare({"short": _normal_idata(chains=2, draws=150, seed=0)}, EXACT)
    assert result.verdict == "inconclusive", result.reasons
    assert all("too few effective draws" in r for r in result.reasons)


def test_an_exact_quantity_that_matches_nothing_is_an_error():
    wrong = EXACT.rename(index={"theta": "Theta"})
    with pytest.raises(ValueError, match="^exact: .*Theta"):
        crossval.compare({"a": _normal_idata()}, wrong)


def test_a_quantity_compared_with_nothing_is_inconclusive():
    a = az.from_dict(posterior={"theta": np.random.default_rng(0).normal(size=(4, 1000)),
                                "other": np.random.default_rng(1).normal(size=(4, 1000))})
    result = crossval.compare({"a": a}, EXACT)
    assert result.verdict == "inconclusive"
    assert any("other was compared with nothing" in r for r in result.reasons)


# ---------------------------------------------------------------------------------------------------------
# Advisory results and saturated quantities
# ---------------------------------------------------------------------------------------------------------

SATURATED = pd.DataFrame({"mean": [1 - 1e-5], "sd": [np.inf], "q05": [np.inf], "q95": [np.inf]},
                         index=pd.Index(["p"], name="quantity"))
TOLERANCE = {"p": 3 / 4000}


def _p(values):
    return az.from_dict(posterior={"p": values})


def test_an_advisory_result_is_reported_but_does_not_set_the_verdict():
    result = crossval.compare({"good": _normal_idata(seed=1), "off": _normal_idata(loc=0.3, seed=2)}, EXACT,
                              advisory={"off": "known to struggle"})
    assert result.verdict_of("off", "exact") == "disagree"
    assert result.verdict_of("good", "exact") == "agree"
    assert result.verdict == "agree"
    assert any(r.startswith("(advisory) off vs exact: theta mean differs") for r in result.reasons)
    row = result.comparisons.set_index("comparison").loc["off vs exact"]
    assert row["advisory"] == "known to struggle"


def test_a_required_results_own_reason_is_not_labelled_advisory():
    result = crossval.compare({"short": _normal_idata(chains=2, draws=150, seed=4), "off": _normal_idata(loc=0.3)},
                              EXACT, advisory={"off": "known to struggle"})
    low = [r for r in result.reasons if "short: theta" in r and "too few effective draws" in r]
    assert low and not any(r.startswith("(advisory)") for r in low)


def test_without_advisory_the_same_results_disagree():
    result = crossval.compare({"good": _normal_idata(seed=1), "off": _normal_idata(loc=0.3, seed=2)}, EXACT)
    assert result.verdict == "disagree"


def test_a_quantity_saturated_in_every_draw_passes_within_its_tolerance():
    result = crossval.compare({"a": _p(np.ones((4, 1000)))}, SATURATED, saturation=TOLERANCE)
    assert result.verdict == "agree", result.reasons
    assert result.diagnostics["a"].saturated == ("p",)
    assert (result.estimates["a"]["mcse"] == 0).all()
    assert result.table["by_atol"].all()


def test_without_saturation_a_constant_quantity_is_degenerate():
    result = crossval.compare({"a": _p(np.ones((4, 1000)))}, SATURATED)
    assert result.verdict == "inconclusive"


def test_near_constant_draws_close_to_one_get_a_finite_mcse():
    values = 1 - 1e-9 * np.random.default_rng(5).uniform(size=(4, 1000))
    mcse = crossval.estimates(_p(values))["mcse"]
    assert np.all(np.isfinite(mcse)) and mcse.loc[("p", "mean")] > 0


def test_near_constant_draws_that_never_left_the_bound_pass_within_the_tolerance_only():
    values = 1 - 1e-9 * np.random.default_rng(5).uniform(size=(4, 1000))
    result = crossval.compare({"a": _p(values)}, SATURATED, saturation=TOLERANCE)
    row = result.table.set_index("statistic").loc["mean"]
    assert abs(row["z"]) > result.threshold and row["by_atol"] and result.verdict == "agree"


def test_chains_at_the_bound_next_to_moving_chains_are_trusted_and_compared():
    values = np.ones((4, 1000))
    rng = np.random.default_rng(2)
    values[1, rng.choice(1000, 40, replace=False)] = rng.uniform(0.2, 0.9, 40)  # rare dips in two chains
    values[3, rng.choice(1000, 40, replace=False)] = rng.uniform(0.2, 0.9, 40)
    result = crossval.compare({"a": _p(values)}, SATURATED.assign(mean=0.991), saturation=TOLERANCE)
    assert result.diagnostics["a"].saturated == ("p",) and not result.diagnostics["a"].untrusted
    mean = result.table.set_index("statistic").loc["mean"]  # the dips' expected mean: 1 - 0.02 x (1 - 0.55)
    assert mean["ok"] and not mean["by_atol"], result.reasons


def test_a_saturated_quantity_further_than_its_tolerance_disagrees():
    result = crossval.compare({"a": _p(np.ones((4, 1000)))}, SATURATED.assign(mean=0.99), saturation=TOLERANCE)
    assert result.verdict == "disagree"
    assert any("p mean differs" in r for r in result.reasons)


def test_a_chain_stuck_inside_the_range_stays_untrusted_even_with_saturation():
    values = np.random.default_rng(0).uniform(0.9, 1.0, size=(4, 1000))
    values[1] = 0.95
    result = crossval.compare({"a": _p(values)}, SATURATED, saturation=TOLERANCE)
    assert result.verdict == "inconclusive"
    assert any("constant chain" in r for r in result.reasons)


def test_the_tolerance_applies_only_to_the_named_variable():
    rng = np.random.default_rng(3)
    idata = az.from_dict(posterior={"p": np.ones((4, 1000)), "theta": rng.normal(0.3, 1.0, (4, 1000))})
    result = crossval.compare({"a": idata}, pd.concat([SATURATED, EXACT]), saturation={"p": 0.5})
    assert result.verdict == "disagree"  # theta's mean is 0.3 off: within 0.5, but theta is not named
    assert not result.table.loc[result.table["quantity"] == "theta", "by_atol"].any()


# ---------------------------------------------------------------------------------------------------------
# Deterministic identities
# ---------------------------------------------------------------------------------------------------------


def test_an_identity_holds_within_tolerance_and_fails_beyond_it():
    assert crossval.identity("same", [1.0, 2.0], [1.0, 2.0 + 1e-10])["ok"]
    row = crossval.identity("off", [1.0, 2.0], [1.0, 2.0 + 1e-6])
    assert not row["ok"] and row["max_difference"] == pytest.approx(1e-6)


def test_a_relative_identity_scales_by_the_reference():
    assert crossval.identity("big", 1e6 + 1e-3, 1e6, tol=1e-8, relative=True)["ok"]
    assert not crossval.identity("big", 1e6 + 1e-3, 1e6, tol=1e-8)["ok"]


@pytest.mark.parametrize("value, reference", [([np.nan], [np.nan]), ([1.0, 2.0], [1.0]), ([np.inf], [np.inf])])
def test_non_finite_values_or_mismatched_shapes_never_pass(value, reference):
    assert not crossval.identity("bad", value, reference, tol=1.0)["ok"]


def test_an_empty_identity_table_is_an_error():
    with pytest.raises(ValueError, match="^rows:"):
        crossval.identities([])


# ---------------------------------------------------------------------------------------------------------
# The calibrated protocol: quantiles on the probability scale, the low-ESS gate, the confirmatory stage, power
# ---------------------------------------------------------------------------------------------------------


def test_a_quantiles_z_is_the_score_z_of_the_share_of_draws_below_the_exact_quantile():
    # z = (p - F) / (mcse_F sqrt(p (1 - p) / (F (1 - F)))), F the share of draws below the exact quantile, mcse_F
    # ArviZ's MCSE of that share as a mean.  Caught: a Wald scale (mcse_F alone: skewed, heavy-tailed z), the
    # sign flipped (a quantile estimated too high must give z > 0), or the value-scale z back.
    idata = _normal_idata(loc=0.05, seed=4)
    values = idata.posterior["theta"].values
    result = crossval.compare({"a": idata}, EXACT)
    row = result.table.set_index(["quantity", "statistic"]).loc[("theta", "q05")]
    p, q = 0.05, EXACT.loc["theta", "q05"]
    share = np.mean(values < q)
    mcse = float(az.mcse(values < q * 1.0, method="mean"))
    assert row["cdf_left"] == pytest.approx(share) and row["cdf_right"] == p
    assert row["z"] == pytest.approx((p - share) / (mcse * np.sqrt(p * (1 - p) / (share * (1 - share)))), rel=1e-9)
    assert row["z"] > 0  # draws shifted up: their 5% quantile is above the exact one


def test_two_results_quantiles_meet_at_the_midpoint_of_their_estimates():
    # Caught: the reference point taken from one side only (then that side's share is p by construction).
    a, b = _normal_idata(seed=1), _normal_idata(loc=0.1, seed=2)
    row = crossval.compare({"a": a, "b": b}).table.set_index(["quantity", "statistic"]).loc[("theta", "q95")]
    c = 0.5 * (row["estimate_left"] + row["estimate_right"])
    assert row["cdf_left"] == pytest.approx(np.mean(a.posterior["theta"].values < c))
    assert row["cdf_right"] == pytest.approx(np.mean(b.posterior["theta"].values < c))
    assert row["z"] < 0  # b sits higher: a's quantile is the lower one


def _ar1(rho, chains=4, draws=250, seed=0, loc=0.0):
    """Stationary AR(1) draws with unit marginal variance: ESS about chains x draws x (1 - rho) / (1 + rho)."""
    rng = np.random.default_rng(seed)
    values = np.empty((chains, draws))
    values[:, 0] = rng.normal(size=chains)
    for t in range(1, draws):
        values[:, t] = rho * values[:, t - 1] + np.sqrt(1 - rho**2) * rng.normal(size=chains)
    return az.from_dict(posterior={"theta": values + loc})


def test_a_finding_with_too_few_effective_draws_is_inconclusive_and_says_how_much_longer_to_run():
    # ESS ~ 1000 x 0.5 / 1.5 ~ 330 < 400 and a mean off by ~5 MCSEs (between the threshold and twice it).
    # Caught: the gate dropped ("disagree" at chains whose MCSEs cannot be trusted), or k inverted.
    idata = _ar1(0.5, seed=5, loc=0.3)
    result = crossval.compare({"a": idata}, EXACT)
    ess = result.diagnostics["a"].table[["ess_bulk", "ess_tail"]].to_numpy().min()
    z = result.table.set_index("statistic").loc["mean", "z"]
    assert ess < 400 and result.threshold < abs(z) < crossval.GROSS_FACTOR * result.threshold  # the setting
    assert result.verdict == "inconclusive", result.reasons
    k = np.ceil(10 * 400 / ess) / 10
    assert any(f"run about {k:g}x longer" in r for r in result.reasons), result.reasons
    assert any("differs" in r for r in result.reasons)  # the finding is still shown


def test_a_gross_finding_disagrees_even_with_too_few_effective_draws():
    # The same chains shifted by 1 sd: |z| far beyond twice the threshold.  Caught: the gate hiding any finding.
    result = crossval.compare({"a": _ar1(0.5, seed=5, loc=1.0)}, EXACT)
    assert result.table["z"].abs().max() > crossval.GROSS_FACTOR * result.threshold
    assert result.verdict == "disagree"


def _stage(verdicts, reasons=None):
    """A CrossValidation of two results and exact with the given per-comparison verdicts (first stage or second)."""
    result = crossval.compare({"a": _normal_idata(seed=1), "b": _normal_idata(seed=2)}, EXACT)
    comparisons = result.comparisons.copy()
    comparisons["verdict"] = verdicts
    comparisons["reasons"] = reasons or [f"{c}: finding" if v == "disagree" else "" for c, v in
                                         zip(comparisons["comparison"], verdicts)]
    import dataclasses

    overall = "disagree" if "disagree" in verdicts else "agree"
    return dataclasses.replace(result, verdict=overall, comparisons=comparisons,
                               reasons=tuple(r for r in comparisons["reasons"] if r))


def test_a_disagreement_repeated_by_the_fresh_run_is_confirmed():
    confirmed = crossval.confirm(_stage(["agree", "disagree", "agree"]), _stage(["agree", "disagree", "agree"]),
                                 label="run 2")
    assert confirmed.verdict == "disagree" and confirmed.verdict_of("a", "exact") == "disagree"
    assert "a vs exact: finding" in confirmed.reasons and "confirmed by run 2: a vs exact: finding" in confirmed.reasons
    assert confirmed.confirmation is not None


def test_a_disagreement_the_fresh_run_does_not_repeat_is_not_a_verdict():
    # Caught: confirm keeping the first stage's "disagree" (the false-alarm rate of one stage again).
    confirmed = crossval.confirm(_stage(["agree", "disagree", "agree"]), _stage(["agree", "agree", "agree"]),
                                 label="run 2")
    assert confirmed.verdict == "agree"
    assert list(confirmed.comparisons["first_verdict"]) == ["agree", "disagree", "agree"]
    assert any("did not recur in run 2" in n for n in confirmed.notes)


def test_the_fresh_run_alone_cannot_make_a_disagreement():
    # Caught: confirm taking the second stage's verdict for every comparison (its own false alarms count).
    confirmed = crossval.confirm(_stage(["agree", "agree", "agree"]), _stage(["disagree", "agree", "agree"]))
    assert confirmed.verdict == "agree"
    assert any("alone disagrees" in n for n in confirmed.notes)


def test_confirm_refuses_stages_with_different_comparisons():
    first = _stage(["agree", "disagree", "agree"])
    other = crossval.compare({"a": _normal_idata(seed=1)}, EXACT)
    with pytest.raises(ValueError, match="second"):
        crossval.confirm(first, other)


def test_run_protocol_runs_the_fresh_stage_only_after_a_disagreement():
    # Caught: a second stage from the same seed (not independent), without more draws, or run after "agree".
    from bayes_zoo.inference.seeding import confirmation_seed

    calls = []

    def sample(seed, draws, chains, shifts):
        calls.append((seed, draws, chains))
        return {"a": _normal_idata(loc=shifts[len(calls) - 1], chains=chains, draws=draws, seed=seed % 2**32)}

    result = crossval.run_protocol(lambda *a: sample(*a, shifts=(0.3, 0.0)), seed=8, draws=500, chains=4, exact=EXACT)
    assert calls == [(8, 500, 4), (confirmation_seed(8), crossval.CONFIRM_FACTOR * 500, 4)]
    assert result.verdict == "agree" and result.confirmation.verdict == "agree", result.confirmation.reasons
    assert result.alpha == result.confirmation.alpha == crossval.STAGE_ALPHA  # each stage at the stage level
    calls.clear()
    assert crossval.run_protocol(lambda *a: sample(*a, shifts=(0.3, 0.3)), seed=8, draws=500, exact=EXACT).verdict \
        == "disagree"
    calls.clear()
    assert crossval.run_protocol(lambda *a: sample(*a, shifts=(0.0,)), seed=8, draws=500, exact=EXACT).verdict == "agree"
    assert len(calls) == 1


def test_run_protocol_refuses_bad_settings_before_sampling():
    def sample(seed, draws, chains):
        raise AssertionError("sampled")

    with pytest.raises(ValueError, match="factor"):
        crossval.run_protocol(sample, seed=0, draws=100, exact=EXACT, factor=0)
    with pytest.raises(ValueError, match="seed"):
        crossval.run_protocol(sample, seed=-1, draws=100, exact=EXACT)


def test_power_is_the_shift_detected_with_probability_power_in_posterior_sds():
    # detectable = (threshold + Phi^-1(0.8)) x combined MCSE.  Caught: one side's MCSE only, the threshold alone
    # (a shift detected half the time stated as detected), or a division by the MCSE instead of the sd.
    result = crossval.compare({"a": _normal_idata(seed=1), "b": _normal_idata(seed=2)}, EXACT)
    row = result.table.set_index(["comparison", "statistic"]).loc[("a vs b", "mean")]
    scale = np.hypot(row["mcse_left"], row["mcse_right"])
    assert row["detectable"] == pytest.approx((result.threshold + stats.norm.ppf(crossval.POWER)) * scale)
    assert row["detectable_sd"] == pytest.approx(row["detectable"] / 1.0)  # the exact sd is 1
    power = result.power()
    assert power.loc["mean", "detectable_sd"] == pytest.approx(
        result.table.loc[result.table["statistic"] == "mean", "detectable_sd"].max())
    assert f"{power.loc['mean', 'detectable_sd']:.2g} posterior sd in any mean" in result.power_summary()


def test_with_too_few_effective_draws_the_stated_power_uses_the_gross_threshold():
    # Caught: the power line claiming the ordinary threshold where the low-ESS gate needs twice it (a 0.3 sd
    # shift with |z| 5 would be "inconclusive" while the report said it would be detected).
    result = crossval.compare({"a": _ar1(0.5, seed=5)}, EXACT)
    assert result.diagnostics["a"].low_ess  # the setting
    row = result.table.set_index("statistic").loc["mean"]
    bound = crossval.GROSS_FACTOR * result.threshold + stats.norm.ppf(crossval.POWER)
    assert row["detectable"] == pytest.approx(bound * row["mcse_left"])


def test_a_large_rhat_disagrees_even_with_too_few_effective_draws():
    # Two chains near -2, two near +2: R-hat far above RHAT_GROSS, ESS tiny.  Caught: the gate hiding any R-hat.
    # The exact answer is the mixture the pooled draws come from, so every z passes: only R-hat can tell.
    from scipy import optimize

    values = np.random.default_rng(0).normal(size=(4, 500)) * 0.5 + np.array([-2, -2, 2, 2])[:, None]

    def cdf(t):
        return 0.5 * (stats.norm.cdf((t + 2) / 0.5) + stats.norm.cdf((t - 2) / 0.5))

    q05, q95 = (optimize.brentq(lambda t: cdf(t) - p, -10, 10) for p in (0.05, 0.95))
    exact = pd.DataFrame({"mean": [0.0], "sd": [np.sqrt(4.25)], "q05": [q05], "q95": [q95]},
                         index=pd.Index(["theta"], name="quantity"))
    result = crossval.compare({"a": az.from_dict(posterior={"theta": values})}, exact)
    assert result.table["ok"].all() and result.diagnostics["a"].low_ess  # the setting
    assert result.diagnostics["a"].table.loc["theta", "r_hat"] > crossval.RHAT_GROSS
    assert result.verdict == "disagree", result.reasons


def test_a_divergence_disagrees_even_with_too_few_effective_draws():
    # Caught: the divergence dropped from the gate's gross findings.
    idata = _ar1(0.5, seed=5)
    diverging = np.zeros((4, 250), dtype=bool)
    diverging[0, 10] = True
    idata.add_groups(sample_stats={"diverging": diverging}, dims={"diverging": ["chain", "draw"]})
    result = crossval.compare({"a": idata}, EXACT)
    assert result.diagnostics["a"].low_ess and result.table["ok"].all()  # the setting
    assert result.verdict == "disagree" and any("1 divergent" in r for r in result.reasons)


def test_a_side_whose_draws_all_sit_at_the_reference_point_counts_every_draw():
    # Every draw tied at c: mid-ECDF 0.5 with MCSE 0 on that side.  Caught: that side given zero variance
    # (then any difference on the other side is infinitely significant).
    tied = az.from_dict(posterior={"theta": np.ones((2, 200))})
    values = np.ones((2, 200))
    values[np.random.default_rng(1).random((2, 200)) < 0.03] = 0.9  # 3% excursions below the bound
    other = az.from_dict(posterior={"theta": values})
    row = crossval.compare({"a": tied, "b": other}).table.set_index("statistic").loc["q05"]
    assert row["cdf_left"] == 0.5 and row["cdf_mcse_left"] == 0.0  # the setting
    f, r = row["cdf_right"], 0.5 * (row["cdf_left"] + row["cdf_right"])
    variance = r * (1 - r) / 400 + row["cdf_mcse_right"] ** 2 * r * (1 - r) / (f * (1 - f))
    assert row["z"] == pytest.approx((row["cdf_right"] - row["cdf_left"]) / np.sqrt(variance))


def test_a_second_stage_that_is_inconclusive_makes_the_comparison_inconclusive():
    # Caught: an unconfirmed disagreement turned into "agree" whatever the fresh run said.
    confirmed = crossval.confirm(_stage(["agree", "disagree", "agree"]), _stage(["agree", "inconclusive", "agree"]))
    assert confirmed.verdict == "inconclusive"


def test_an_advisory_disagreement_starts_no_second_stage():
    # Caught: needs_confirmation reading every comparison (a rerun for a comparison that sets no verdict).
    calls = []

    def sample(seed, draws, chains):
        calls.append(seed)
        return {"a": _normal_idata(seed=1), "bad": _normal_idata(loc=0.5, seed=2)}

    result = crossval.run_protocol(sample, seed=3, draws=2000, exact=EXACT, advisory={"bad": "known to fail"})
    assert len(calls) == 1 and result.verdict == "agree"
    assert result.verdict_of("bad", "exact") == "disagree"


def test_settings_reproduce_the_comparison():
    # Caught: a setting dropped from CrossValidation.settings (the confirmatory stage would silently use defaults).
    results = {"a": _normal_idata(seed=1), "b": _normal_idata(seed=2)}
    first = crossval.compare(results, EXACT, alpha=0.2, ess_min=300, rhat_max=1.05, min_draws=50,
                             advisory={"b": "why"})
    again = crossval.compare(results, **first.settings)
    pd.testing.assert_frame_equal(first.table, again.table)
    assert again.threshold == first.threshold and list(again.comparisons["advisory"]) == list(first.comparisons["advisory"])
