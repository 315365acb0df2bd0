"""bayes_zoo.pairs.active_learning: `bayes-zoo compare active-learning` end to end at quick size."""

from __future__ import annotations

import pytest

from bayes_zoo import cli


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    status = cli.main(["compare", "active-learning", "--quick", "--out", str(out)])
    return status, out / "active-learning"


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
