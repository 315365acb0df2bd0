"""bayes_zoo.pairs.active_learning: `bayes-zoo compare active-learning` end to end at quick size."""

from __future__ import annotations

import pytest

from bayes_zoo import cli


@pytest.fixture(scope="module")
def quick_run(quick_compare):
    return quick_compare("active-learning")  # the run the registry-wide test reads too


def test_every_saved_result_works_with_arviz(quick_run, saved_results_check):
    assert saved_results_check(quick_run[1]) == ["exact-draws", "nuts"]


def test_report_has_no_unformatted_placeholder(quick_run, report_formatted_check):
    report_formatted_check(quick_run[1])


def test_projections_from_nuts_and_exact_draws_agree_with_the_closed_form(quick_run):
    status, folder = quick_run
    assert status == cli.EXIT_OK
    report = (folder / "report.md").read_text()
    assert "**Verdict: agree**" in report and "nuts vs exact" in report


def test_identities_hold_and_the_report_has_the_exhaustive_search_and_learning_curves(quick_run):
    _, folder = quick_run
    report = (folder / "report.md").read_text()
    assert "## Frank–Wolfe vs exhaustive search" in report and "## Learning curves" in report
    assert (folder / "learning_curves.png").exists() and (folder / "checks.csv").exists()
    assert "**no**" not in report


def test_bad_pair_options_exit_with_usage_status(tmp_path, capsys):
    assert cli.main(["compare", "active-learning", "--out", str(tmp_path), "--repeats", "0"]) == cli.EXIT_USAGE
    assert "error: --repeats:" in capsys.readouterr().out


# ------------------------------------------------------------- Frank–Wolfe's objective in the verdict; rerun


def _fw_verdict(seed=0, b=3):
    import numpy as np

    from bayes_zoo.active_learning.gram import ProjectionGram
    from bayes_zoo.inference import crossval
    from bayes_zoo.pairs import active_learning as pair
    from bayes_zoo.registry import PairOutcome

    rng = np.random.default_rng(seed)
    G = rng.standard_normal((12, 6)) + rng.standard_normal(6)
    checks = crossval.identities([pair.frank_wolfe_checks(ProjectionGram(G), G @ G.T, b, "12 random points")])
    return checks, PairOutcome(pair.PAIR.name, pair.PAIR.title, {}, None, checks=checks).verdict


@pytest.mark.parametrize("seed", range(5))
def test_frank_wolfe_identity_holds_for_acs_fw(seed):
    checks, verdict = _fw_verdict(seed)
    assert verdict == "agree" and checks["max_difference"].iloc[0] < 1e-12


@pytest.mark.parametrize("seed", range(5))
def test_a_frank_wolfe_step_rule_bug_makes_the_pair_disagree(seed, plant_bug):
    # The textbook step size 2 / (t + 2) in place of ACS-FW's exact line search (issue 13: 82 -> 242).
    from bayes_zoo.active_learning import frank_wolfe

    plant_bug(frank_wolfe, "step", "gamma = float(np.clip(numerator / denominator, 0.0, 1.0)) if denominator > 0.0 else 0.0",
              "gamma = 2.0 / (state.iteration + 2.0)")
    checks, verdict = _fw_verdict(seed)
    assert verdict == "disagree" and checks["max_difference"].iloc[0] > 1e-3


def test_exhaustive_check_fails_only_when_frank_wolfe_beats_the_lower_bound():
    from bayes_zoo.pairs import active_learning as pair

    assert pair.exhaustive_check(81.5, 65.6, 3, 12)["ok"]
    assert not pair.exhaustive_check(60.0, 65.6, 3, 12)["ok"]


def test_report_lists_the_frank_wolfe_identities(quick_run):
    _, folder = quick_run
    checks = (folder / "checks.csv").read_text()
    assert checks.count("re-implemented densely") == 2 and "not below the best subset" in checks


@pytest.fixture(scope="module")
def outcome():
    from bayes_zoo import pairs  # noqa: F401  (registers the pairs)
    from bayes_zoo.problem import run_problem
    from bayes_zoo.registry import RunSettings, get

    return run_problem(get("active-learning"), RunSettings(draws=100, chains=2, warmup=100, seed=4, quick=True),
                       repeats=1, budget=10)


def test_rerun_is_the_first_runs_sampling_under_new_settings(outcome, rerun_check):
    # Caught: a rerun with other options than the first run (thinning, data), or ignoring the seed.
    from bayes_zoo.registry import RunSettings

    assert set(outcome.results) >= {"exact-draws", "nuts"}
    rerun_check(outcome, RunSettings(draws=100, chains=2, warmup=100, seed=4, quick=True), ("w", "K"))


def test_the_sides_on_sbc_data_draw_w_and_sigma2_without_products():
    # SBC runs the pair's own sides on the unknown-noise model (Problem.simulate = models.linear.simulate): no pool
    # points picked, so no K; sigma2 from both.
    import numpy as np

    from bayes_zoo.models.linear import simulate
    from bayes_zoo.pairs import active_learning as pair

    _, data = simulate(np.random.default_rng(0), pair._sbc_data(True))
    draws = pair.exact_draws(data, seed=1, draws=50, chains=2).posterior
    assert {"w", "sigma2"} <= set(draws.data_vars) and "K" not in draws and draws["w"].shape == (2, 50, 3)
