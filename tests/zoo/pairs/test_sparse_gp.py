"""bayes_zoo.pairs.sparse_gp: `bayes-zoo compare sparse-gp` end to end (identities only), and its option checks."""

from __future__ import annotations

import pytest

from bayes_zoo import cli


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    status = cli.main(["compare", "sparse-gp", "--quick", "--restarts", "1", "--out", str(out)])
    return status, out / "sparse-gp"


def test_the_pair_saves_no_sampler_result(quick_run, saved_results_check):
    # Identities only (FITC against the exact GP and against PyMC's MarginalApprox): nothing is sampled, so
    # there is no InferenceData to save.
    assert saved_results_check(quick_run[1]) == []


def test_report_has_no_unformatted_placeholder(quick_run, report_formatted_check):
    report_formatted_check(quick_run[1])  # caught "every {ZX_STEP}th input" (an f-string without its f)


def test_every_identity_holds_and_the_pair_agrees(quick_run):
    status, folder = quick_run
    assert status == cli.EXIT_OK
    report = (folder / "report.md").read_text()
    assert "**Verdict: agree**" in report
    assert report.count("| yes  |") == 8 and "**no**" not in report  # 6 identities, 2 stationarity checks


def test_report_shows_where_z_moved_and_the_snelson_figure(quick_run):
    _, folder = quick_run
    report = (folder / "report.md").read_text()
    assert "## Where the pseudo-inputs moved" in report and "optimised Z" in report
    assert (folder / "snelson_fitc.png").exists() and (folder / "checks.csv").exists()


def test_the_exact_gps_row_says_why_it_has_no_differences_instead_of_nan(quick_run):
    # Caught: the exact GP's row of "FITC against the exact GP" printed nan in four columns.
    _, folder = quick_run
    report = (folder / "report.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| exact GP "))
    assert "nan" not in row and row.count("—") == 4, row
    assert "— for the exact GP: it is the reference" in report


@pytest.mark.parametrize("options, flag", [(["--inducing", "0"], "--inducing"), (["--inducing", "201"], "--inducing"),
                                           (["--restarts", "-1"], "--restarts")])
def test_bad_pair_options_exit_with_usage_status_before_any_work(tmp_path, capsys, options, flag):
    assert cli.main(["compare", "sparse-gp", "--out", str(tmp_path), *options]) == cli.EXIT_USAGE
    assert f"error: {flag}:" in capsys.readouterr().out
