"""bayes_zoo.pairs.gp: `bayes-zoo compare gp` end to end at --quick size (the run the registry-wide test reads), and
its option checks."""

from __future__ import annotations

import pytest

from bayes_zoo import cli, pairs  # noqa: F401  (registers the pairs)
from bayes_zoo.problem import run_problem
from bayes_zoo.registry import RunSettings, get


@pytest.fixture(scope="module")
def quick_run(quick_compare):
    return quick_compare("gp")  # the run the registry-wide test reads too: 40 points, the default lengthscales


def test_pair_options_given_on_the_command_line_reach_the_pair(monkeypatch, tmp_path):
    # Caught: a CLI that parses --n-train/--lengthscales and then runs the pair at its defaults.  (That run_pair's
    # n_train reaches the sampler: test_rerun_is_the_latent_sampling_of_the_first_runs_data_under_new_settings.)
    from bayes_zoo import registry

    seen = {}

    def run_pair(pair, settings, **options):
        seen.update(options, pair=pair.name)
        raise RuntimeError("stopped by the test: nothing to run")

    monkeypatch.setattr(registry, "run_pair", run_pair)
    status = cli.main(["compare", "gp", "--quick", "--n-train", "15", "--lengthscales", "0.2,1,5", "--out", str(tmp_path)])
    assert status == cli.EXIT_CRASH
    assert seen == {"pair": "gp", "n_train": 15, "lengthscales": "0.2,1,5"}


def test_every_saved_result_works_with_arviz(quick_run, saved_results_check):
    assert saved_results_check(quick_run[1]) == ["latent", "marginal"]


def test_report_has_no_unformatted_placeholder(quick_run, report_formatted_check):
    report_formatted_check(quick_run[1])


def test_identities_hold_and_nuts_over_f_agrees_with_the_closed_form(quick_run):
    status, folder = quick_run
    assert status == cli.EXIT_OK
    report = (folder / "report.md").read_text()
    assert "**Verdict: agree**" in report and "| latent vs exact | agree " in report
    assert report.count("| yes  |") >= 3  # the three identities against gp.Marginal


def test_report_places_type2_ml_in_the_posterior_and_shows_the_lengthscale_study(quick_run):
    _, folder = quick_run
    report = (folder / "report.md").read_text()
    assert "## Type-II ML against the NUTS posterior of the hyperparameters" in report
    assert "posterior CDF at ML" in report and "(type-II ML)" in report
    assert {"lengthscale_study.png", "f_vs_exact.png", "latent.nc", "marginal.nc", "checks.csv"} <= {
        p.name for p in folder.iterdir()}


def test_the_run_that_sets_the_verdict_has_trace_and_rank_plots_of_the_quantities_its_verdict_names(
        quick_run, quick_compare):
    # Caught: only the advisory hyperparameter run was plotted; NUTS over f, which sets the verdict, had no trace or
    # rank plot (figures=False, as f has 40 components).
    import pandas as pd

    _, folder = quick_run
    assert {"trace_latent.png", "rank_latent.png"} <= {p.name for p in folder.iterdir()}
    tests = pd.read_csv(folder / "summary.csv")
    largest = tests.loc[tests["z"].abs().idxmax(), "quantity"]
    panels = quick_compare.figures["gp", 0]["figures"]["trace_latent"]["panels"]
    assert largest in panels and len(panels) <= 8, panels


@pytest.mark.parametrize("options, flag", [(["--lengthscales", "1,-2"], "--lengthscales"),
                                           (["--lengthscales", "a"], "--lengthscales"),
                                           (["--n-train", "2"], "--n-train"),
                                           (["--n-train", "100000000"], "--n-train")])
def test_bad_pair_options_exit_with_usage_status_before_any_work(tmp_path, capsys, options, flag):
    assert cli.main(["compare", "gp", "--quick", "--out", str(tmp_path), *options]) == cli.EXIT_USAGE
    assert f"error: {flag}:" in capsys.readouterr().out


def test_report_shows_the_hyperparameter_runs_diagnostics_and_why_type2_ml_runs_stopped(quick_run):
    _, folder = quick_run
    report = (folder / "report.md").read_text()
    assert "Diagnostics of the hyperparameter run (2 chains x 200 draws): largest R-hat" in report
    assert "divergent transition" in report and "thresholds" in report
    assert "| stopped" in report and "Type-II ML, why each run stopped: converged (5 of 5)." in report
    assert "type-II ML optimum is stationary" in report


def test_a_term_dropped_from_type2_mls_gradient_makes_the_pairs_verdict_disagree(monkeypatch):
    # The issue: on the pair's data (40 points, seed 0) a dropped gradient term moved the optimum from log ML
    # -28.84 to -31.01 and every verdict stayed "agree".  Here log sigma's -C^-1 term is dropped:
    # tr(W) = |alpha|^2 - tr(C^-1) becomes |alpha|^2.
    import inspect
    import textwrap

    from bayes_zoo.inference.crossval import identities
    from bayes_zoo.inference.gp import exact
    from bayes_zoo.pairs import gp as pair
    from bayes_zoo.registry import PairOutcome

    def verdict():
        setup = pair.load(40, seed=0)
        checks = identities([pair._stationarity_identity(exact.stationarity(setup["X"], setup["y"], setup["ml"]))])
        return setup["ml"].log_marginal_likelihood, PairOutcome("gp", "gp", {}, None, checks=checks).verdict

    lml, right = verdict()
    assert right == "agree" and lml == pytest.approx(-28.838, abs=1e-3)
    source = textwrap.dedent(inspect.getsource(exact._value_and_grad))
    old = "hyper.sigma**2 * trace]"
    assert source.count(old) == 1
    namespace = dict(vars(exact))
    exec(source.replace(old, "hyper.sigma**2 * float(alpha @ alpha)]"), namespace)
    monkeypatch.setattr(exact, "_value_and_grad", namespace["_value_and_grad"])
    lml, wrong = verdict()
    assert wrong == "disagree" and lml < -29.0


def test_latent_comparison_samples_exactly_as_the_pair_does(quick_run):
    # The pair at --quick: 4 chains x 500 draws after 500 tuning steps, seed 0, on its default 40 points.
    import arviz as az
    import numpy as np

    from bayes_zoo.inference.gp import exact
    from bayes_zoo.pairs import gp as pair

    _, folder = quick_run
    n = 40
    sample, reference = pair.latent_comparison(n)
    assert list(reference.index) == [f"f[{i}]" for i in range(n)] + ["loglik"] and list(reference.columns) == [
        "mean", "sd", "q05", "q95"]
    setup = pair.load(n, seed=0)
    gp = exact.posterior(setup["X"], setup["y"], setup["hyper"], jitter=setup["jitter"])
    np.testing.assert_array_equal(reference.iloc[:n].to_numpy(), exact.exact_summary(gp).to_numpy())
    np.testing.assert_array_equal(reference.iloc[n:].to_numpy(), exact.log_likelihood_summary(gp).to_numpy())
    saved = az.from_netcdf(folder / "latent.nc")
    drawn = sample(0, 500, 4)["latent"].posterior
    np.testing.assert_array_equal(drawn["f"].values, saved.posterior["f"].values)
    np.testing.assert_array_equal(drawn["loglik"].values, saved.posterior["loglik"].values)  # the joint quantity
    with pytest.raises(ValueError, match="^draws:"):
        sample(0, 0, 2)


SETTINGS = RunSettings(draws=100, chains=2, warmup=100, seed=4, quick=True)


@pytest.fixture(scope="module")
def outcome():
    return run_problem(get("gp"), SETTINGS, n_train=15, lengthscales="1")


def test_rerun_is_the_latent_sampling_of_the_first_runs_data_under_new_settings(outcome, rerun_check):
    # Caught: a rerun that fits type-II ML again, simulates other data, reruns the advisory hyperparameter run, or
    # ignores the seed or the draws; and it is latent_comparison's sampler (the false-alarm study's).
    import numpy as np

    from bayes_zoo.pairs import gp as pair

    assert set(outcome.results) == {"latent", "marginal"} and set(outcome.advisory_runs) == {"marginal"}
    rerun_check(outcome, SETTINGS, ("f",))
    again = outcome.rerun(RunSettings(draws=100, chains=2, warmup=100, seed=7))
    assert list(again) == ["latent"]
    sample, _ = pair.latent_comparison(15, seed=4)
    np.testing.assert_array_equal(again["latent"].posterior["f"].values,
                                  sample(7, 100, 2)["latent"].posterior["f"].values)


def test_the_pair_compares_at_the_protocols_stage_level_and_shortens_the_hyperparameter_run(outcome):
    from bayes_zoo.inference.crossval import STAGE_ALPHA

    assert outcome.crossval.alpha == STAGE_ALPHA
    sizes = outcome.results["marginal"].posterior.sizes
    assert (sizes["chain"], sizes["draw"]) == (2, 200)  # --quick: 2 chains x QUICK_MARGINAL_DRAWS, whatever --draws
    assert outcome.results["marginal"].log_likelihood["y"].dims == ("chain", "draw", "obs")


def test_the_hyperparameter_runs_diagnostics_sentence_flags_failed_thresholds():
    import pandas as pd

    from bayes_zoo.inference.diagnostics import Diagnostics
    from bayes_zoo.pairs import gp as pair

    table = pd.DataFrame({"r_hat": [1.001, 1.02, 1.003], "ess_bulk": [900.0, 162.0, 700.0],
                          "ess_tail": [800.0, 203.0, 650.0]}, index=["eta", "lengthscale", "sigma"])
    failing = Diagnostics("marginal", table, 4, 500, 3, (), ("marginal: lengthscale R-hat 1.02 > 1.01",
                                                             "marginal: 3 divergent transitions"),
                          ("marginal: lengthscale ess_bulk 162, ess_tail 203 (< 400: too few effective draws)",))
    text = pair._marginal_diagnostics_markdown(failing)
    assert "largest R-hat 1.02 (lengthscale), smallest bulk ESS 162 (lengthscale)" in text
    assert "smallest tail ESS 203 (lengthscale), 3 divergent transitions" in text
    assert "**These draws fail the zoo's thresholds" in text and "R-hat 1.02 > 1.01" in text
    passing = Diagnostics("marginal", table.assign(r_hat=1.001, ess_bulk=900.0, ess_tail=800.0), 4, 500, 0, (), ())
    text = pair._marginal_diagnostics_markdown(passing)
    assert "no divergent transitions" in text and "They pass the zoo's thresholds" in text and "**" not in text
