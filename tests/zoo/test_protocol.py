"""bayes_zoo.protocol and `bayes-zoo active-learn --protocol pinsler2019`: the quick run end to end (files, the
paper's settings, no top-up, the paired verdicts), units that depend on their seed alone, and the options the
protocol fixes refused before any work."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from bayes_zoo import cli
from bayes_zoo import protocol as zprotocol

PAPER = zprotocol.PROTOCOLS["pinsler2019"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    status = cli.main(["active-learn", "--protocol", "pinsler2019", "--quick", "--out", str(out)])
    return status, out / "active-learning-pinsler2019"


def test_protocol_holds_the_papers_settings():
    assert PAPER.datasets == ("yacht", "boston", "energy", "power-plant") and PAPER.seeds == 40
    assert (PAPER.batch_size, PAPER.init, PAPER.budget, PAPER.test_fraction, PAPER.top_up) == (10, 20, 100, 0.2, False)
    assert PAPER.strategies == ("acs-fw:0", "acs-fw:10", "random", "maxent", "bald")


def test_quick_protocol_writes_its_tables_figure_and_report(quick_run):
    status, folder = quick_run
    assert status == cli.EXIT_OK
    for name in ("rounds.csv", "final.csv", "verdicts.csv", "learning_curves.png", "report.md"):
        assert (folder / name).stat().st_size > 0


def test_quick_protocol_writes_its_report_as_a_page_with_the_curves_embedded(quick_run, report_html_check):
    report_html_check(quick_run[1])


def test_quick_protocol_runs_every_data_set_seed_and_strategy_to_the_budget(quick_run):
    rounds = pd.read_csv(quick_run[1] / "rounds.csv")
    last = rounds.loc[rounds.groupby(["dataset", "strategy", "seed"])["round"].idxmax()]
    assert len(last) == 4 * 5 * zprotocol.QUICK["seeds"]
    assert set(last["n_labelled"]) == {PAPER.init + zprotocol.QUICK["budget"]}
    assert rounds["batch"].max() <= PAPER.batch_size
    acs = rounds[rounds["strategy"].str.startswith("acs-fw") & (rounds["batch"] > 0)]
    assert acs["batch"].min() < PAPER.batch_size  # no top-up: Frank–Wolfe's repeats leave batches short


def test_quick_protocol_verdicts_compare_both_acs_fw_variants_with_each_baseline(quick_run):
    verdicts = pd.read_csv(quick_run[1] / "verdicts.csv")
    assert len(verdicts) == 4 * 2 * 3
    assert set(verdicts["strategy"]) == {"acs-fw:0", "acs-fw:10"}
    assert set(verdicts["baseline"]) == {"random", "maxent", "bald"}
    assert set(verdicts["verdict"]) == {"too few repeats (< 3)"}  # 2 seeds: no verdict is claimed


def test_quick_protocol_report_states_the_verdicts_false_alarm_rate_and_wall_time(quick_run):
    report = (quick_run[1] / "report.md").read_text()
    assert "paired t-test of the final RMSE at 5% two-sided" in report and "wall time" in report
    for dataset in PAPER.datasets:
        assert f"| {dataset}" in report


def test_a_unit_depends_on_its_seed_alone():
    small = replace(PAPER, datasets=("yacht",), budget=10, strategies=("acs-fw:10", "random"))
    first = pd.DataFrame(zprotocol.run_unit("yacht", 7, small, "closed-form", None))
    again = pd.DataFrame(zprotocol.run_unit("yacht", 7, small, "closed-form", None))
    other = pd.DataFrame(zprotocol.run_unit("yacht", 8, small, "closed-form", None))
    columns = ["strategy", "round", "n_labelled", "rmse", "test_loglik", "batch"]
    pd.testing.assert_frame_equal(first[columns], again[columns])
    assert not first["rmse"].equals(other["rmse"])


def test_protocol_run_refuses_an_unknown_posterior_before_any_work():
    with pytest.raises(ValueError, match="^posterior:"):
        zprotocol.run(PAPER, posterior="laplace")


@pytest.mark.parametrize("options, flag", [
    (["--strategies", "random"], "--strategies"), (["--batch-size", "5"], "--batch-size"),
    (["--init", "10"], "--init"), (["--projections", "5"], "--projections"), (["--features", "rff"], "--features"),
    (["--no-top-up"], "--no-top-up"), (["--repeats", "0"], "--repeats"), (["--jobs", "0"], "--jobs"),
])
def test_protocol_refuses_what_it_fixes_and_bad_values_naming_the_option(tmp_path, capsys, options, flag):
    status = cli.main(["active-learn", "--protocol", "pinsler2019", *options, "--out", str(tmp_path)])
    assert status == cli.EXIT_USAGE
    assert flag in capsys.readouterr().out
    assert not any(tmp_path.iterdir())  # nothing written


def test_protocol_refuses_local_processes_and_a_scheduler_together(tmp_path, capsys):
    status = cli.main(["active-learn", "--protocol", "pinsler2019", "--jobs", "2", "--scheduler", "tcp://x:1",
                       "--out", str(tmp_path)])
    assert status == cli.EXIT_USAGE and "not both" in capsys.readouterr().out and not any(tmp_path.iterdir())


def test_quick_protocol_report_says_no_verdict_was_reached_with_two_seeds(quick_run):
    assert "no verdict was reached (fewer than 3 seeds)" in (quick_run[1] / "report.md").read_text()


@pytest.mark.parametrize("options, flag", [(["--jobs", "2"], "--jobs"), (["--scheduler", "tcp://x:1"], "--scheduler")])
def test_parallel_options_apply_to_protocol_runs_only(tmp_path, capsys, options, flag):
    status = cli.main(["active-learn", "--dataset", "yacht", *options, "--out", str(tmp_path)])
    assert status == cli.EXIT_USAGE and flag in capsys.readouterr().out


def test_quick_protocol_report_says_bald_repeats_maxent_when_their_runs_are_identical(quick_run):
    # homoscedastic noise: BALD = entropy - constant, and round r's fit is common to every strategy
    assert "BALD's verdicts repeat MaxEnt's" in (quick_run[1] / "report.md").read_text()


def test_learning_curves_end_at_the_budget_when_it_is_not_a_whole_number_of_batches():
    rows = [{"dataset": "yacht", "strategy": "random", "seed": 0, "round": r, "n_labelled": n, "rmse": 1.0 / (r + 1),
             "batch": 10 if n < 35 else 0} for r, n in enumerate((20, 30, 35))]
    result = zprotocol.ProtocolResult(replace(PAPER, datasets=("yacht",), budget=15), pd.DataFrame(rows), 0,
                                      "closed-form", 1.0, 1, None)
    figure = zprotocol.plot(result)
    assert max(figure.axes[0].lines[0].get_xdata()) == 35


def test_readme_shows_the_committed_runs_table_wall_time_and_figure():
    # the README's protocol section is copied from docs/results/active-learning-pinsler2019/, the full run's output
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    run = root / "docs" / "results" / "active-learning-pinsler2019"
    report, readme = (run / "report.md").read_text(), (root / "README.md").read_text()
    lines = report.splitlines()
    start = lines.index(next(l for l in lines if l.startswith("| data set |")))
    table = lines[start:start + 2 + len(PAPER.datasets)]
    assert "\n".join(table) in readme
    wall = next(l for l in lines if l.startswith("- wall time ")).split()[3]
    assert f"**{wall} s**" in readme and "40 per data set" in report
    assert (run / "learning_curves.png").stat().st_size > 0
    assert "docs/results/active-learning-pinsler2019/learning_curves.png" in readme


def test_a_dask_scheduler_gives_the_same_rounds_as_this_process(dask_cluster):
    small = replace(PAPER, datasets=("yacht",), seeds=2, budget=10, strategies=("acs-fw:10", "random"))
    here = zprotocol.run(small, seed=3)
    there = zprotocol.run(small, seed=3, scheduler=dask_cluster.scheduler_address)
    columns = ["dataset", "strategy", "seed", "round", "n_labelled", "rmse", "test_loglik", "batch"]
    pd.testing.assert_frame_equal(here.rounds[columns], there.rounds[columns])
    assert there.scheduler == dask_cluster.scheduler_address
