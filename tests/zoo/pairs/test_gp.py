"""bayes_zoo.pairs.gp: `bayes-zoo compare gp` end to end at --quick size (small data), and its option checks."""

from __future__ import annotations

import pytest

from bayes_zoo import cli


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    status = cli.main(["compare", "gp", "--quick", "--n-train", "15", "--lengthscales", "0.2,1,5", "--out", str(out)])
    return status, out / "gp"


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


@pytest.mark.parametrize("options, flag", [(["--lengthscales", "1,-2"], "--lengthscales"),
                                           (["--lengthscales", "a"], "--lengthscales"),
                                           (["--n-train", "2"], "--n-train"),
                                           (["--n-train", "100000000"], "--n-train")])
def test_bad_pair_options_exit_with_usage_status_before_any_work(tmp_path, capsys, options, flag):
    assert cli.main(["compare", "gp", "--quick", "--out", str(tmp_path), *options]) == cli.EXIT_USAGE
    assert f"error: {flag}:" in capsys.readouterr().out
