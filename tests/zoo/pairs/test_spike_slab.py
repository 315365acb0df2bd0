"""bayes_zoo.pairs.spike_slab: `bayes-zoo compare spike-slab` end to end at --quick size, and its option checks."""

from __future__ import annotations

import pytest

from bayes_zoo import cli


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    status = cli.main(["compare", "spike-slab", "--quick", "--out", str(out)])
    return status, out / "spike-slab"


def test_every_saved_result_works_with_arviz(quick_run, saved_results_check):
    # ArviZ 0.23's KDE fails (infinite bandwidth) on an inclusion_probability chain at 1.0 but for a draw or two
    # (bmi, s5): the trace is plotted without it, as the module docstring of bayes_zoo.pairs.spike_slab says.
    assert saved_results_check(quick_run[1], trace_var_names=["~inclusion_probability"]) == ["gibbs", "nuts"]


def test_report_has_no_unformatted_placeholder(quick_run, report_formatted_check):
    report_formatted_check(quick_run[1])


def test_gibbs_agrees_with_exact_enumeration_and_the_run_exits_ok(quick_run):
    status, folder = quick_run
    assert status == cli.EXIT_OK
    report = (folder / "report.md").read_text()
    assert "**Verdict: agree**" in report
    assert "| gibbs vs exact | agree " in report


def test_nuts_comparisons_are_reported_as_advisory_with_their_own_verdict(quick_run):
    _, folder = quick_run
    report = (folder / "report.md").read_text()
    nuts_rows = [line for line in report.splitlines() if line.startswith("| nuts vs exact")]
    assert len(nuts_rows) == 1 and "may truly fail" in nuts_rows[0]
    assert any(word in nuts_rows[0] for word in ("agree", "disagree", "inconclusive"))


def test_report_has_inclusion_table_em_modes_v0_sweep_divergences_and_the_discrete_step(quick_run):
    _, folder = quick_run
    report = (folder / "report.md").read_text()
    for heading in ("## Inclusion probabilities", "## EM: the modes each start reached",
                    "## Sensitivity to the spike variance v0 (exact)", "## NUTS on the spiky mixture"):
        assert heading in report
    assert "divergent transitions** in 1000 draws" in report
    assert "BinaryGibbsMetropolis: [gamma]" in report
    assert "all-spike" in report and "exact rank" in report


def test_every_file_of_the_report_is_written(quick_run):
    _, folder = quick_run
    expected = {"report.md", "summary.csv", "diagnostics.csv", "gibbs.nc", "nuts.nc", "inclusion_probabilities.png",
                "spike_var_sweep.png", "pairs_nuts_divergences.png", "trace_gibbs.png", "rank_nuts.png"}
    assert expected <= {p.name for p in folder.iterdir()}


@pytest.mark.parametrize(
    "options, flag",
    [(["--spike-var", "2"], "--spike-var"), (["--slab-var", "-1"], "--slab-var"),
     (["--gibbs-thin", "0"], "--gibbs-thin"), (["--target-accept", "1.5"], "--target-accept")],
)
def test_bad_pair_options_exit_with_usage_status_before_any_work(tmp_path, capsys, options, flag):
    assert cli.main(["compare", "spike-slab", "--quick", "--out", str(tmp_path), *options]) == cli.EXIT_USAGE
    assert f"error: {flag}:" in capsys.readouterr().out
    assert not (tmp_path / "spike-slab").exists()



@pytest.mark.slow
def test_discrete_option_samples_the_compound_step_as_an_advisory_result(tmp_path):
    assert cli.main(["compare", "spike-slab", "--quick", "--discrete", "--out", str(tmp_path)]) == cli.EXIT_OK
    folder = tmp_path / "spike-slab"
    assert (folder / "discrete.nc").exists()
    report = (folder / "report.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| discrete vs exact"))
    assert "compound step on the discrete form" in row
    assert "sampled as result `discrete`" in report
