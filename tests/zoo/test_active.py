"""bayes_zoo.active and `bayes-zoo active-learn`: end to end at quick size, the files written, the paired verdicts,
and the usage errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayes_zoo import active, cli


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    status = cli.main(["active-learn", "--dataset", "yacht", "--quick", "--repeats", "3", "--out", str(out)])
    return status, out / "active-learning-yacht"


def test_active_learn_writes_rounds_final_figure_and_report(quick_run):
    status, folder = quick_run
    assert status == cli.EXIT_OK
    for name in ("rounds.csv", "final.csv", "learning_curves.png", "report.md"):
        assert (folder / name).exists()
    rounds = pd.read_csv(folder / "rounds.csv")
    assert set(rounds["strategy"]) == {"acs-fw", "random", "maxent", "bald"}
    assert rounds.groupby(["strategy", "seed"])["n_labelled"].max().eq(20 + active.QUICK["budget"]).all()


def test_report_states_each_verdict_of_acs_fw_against_a_baseline(quick_run):
    _, folder = quick_run
    report = (folder / "report.md").read_text()
    for base in ("random", "maxent", "bald"):
        assert f"ACS-FW vs {base}: **" in report


def test_active_learn_writes_its_report_as_a_page_with_the_curves_embedded(quick_run, report_html_check):
    report_html_check(quick_run[1])


def test_active_learn_refuses_to_overwrite_without_force(quick_run, capsys):
    _, folder = quick_run
    status = cli.main(["active-learn", "--dataset", "yacht", "--quick", "--out", str(folder.parent)])
    assert status == cli.EXIT_USAGE and "--force" in capsys.readouterr().out


def test_features_are_refused_for_the_classification_set(tmp_path, capsys):
    status = cli.main(["active-learn", "--dataset", "breast-cancer", "--features", "linear", "--out", str(tmp_path)])
    assert status == cli.EXIT_USAGE and "error: --features:" in capsys.readouterr().out


def test_the_same_difference_in_every_repeat_has_no_spread():
    (_, _, verdict, mean, margin), = active.paired_verdicts(_experiment([1.0, 1.2, 0.9], [1.1, 1.3, 1.0]))
    assert margin == 0.0 and mean == pytest.approx(-0.1) and verdict == "better"


@pytest.mark.parametrize("options, flag", [(["--strategies", "acs-fw,oracle"], "--strategies"),
                                           (["--batch-size", "0"], "--batch-size"), (["--repeats", "0"], "--repeats"),
                                           (["--projections", "-2"], "--projections")])
def test_bad_options_exit_with_usage_status_naming_the_option(tmp_path, capsys, options, flag):
    assert cli.main(["active-learn", "--dataset", "yacht", "--out", str(tmp_path), *options]) == cli.EXIT_USAGE
    assert f"error: {flag}:" in capsys.readouterr().out


def _experiment(acs, random_):
    rows = [{"strategy": s, "seed": k, "round": 1, "rmse": v} for k, (a, r) in enumerate(zip(acs, random_))
            for s, v in (("acs-fw", a), ("random", r))]
    rounds = pd.DataFrame(rows)
    final = pd.DataFrame({"strategy": ["acs-fw", "random"]})
    return active.Experiment("toy", "regression", "", rounds, final, {"repeats": len(acs)}, None)


@pytest.mark.parametrize("acs, random_, verdict", [
    ([1.0, 1.1, 0.9, 1.0], [2.0, 2.1, 1.9, 2.2], "better"),
    ([2.0, 2.1, 1.9, 2.2], [1.0, 1.1, 0.9, 1.0], "worse"),
    ([1.0, 2.0, 1.5, 1.2], [1.5, 1.2, 1.4, 1.6], "no clear difference"),
    ([1.0, 1.0, 1.0], [2.0, 3.0, 4.0], "no clear difference"),  # 3.5 SE: beyond 2 SE, within t(2)'s 4.3 SE
    ([1.0, 1.1], [2.0, 2.1], "too few repeats (< 3)"),
])
def test_paired_verdict_is_better_only_when_the_mean_difference_exceeds_the_paired_t_margin(acs, random_, verdict):
    from scipy import stats

    (_, base, got, mean, margin), = active.paired_verdicts(_experiment(acs, random_))
    diff = np.subtract(acs, random_)
    assert base == "random" and got == verdict
    assert mean == pytest.approx(diff.mean())
    assert margin == pytest.approx(stats.t.ppf(0.975, diff.size - 1) * diff.std(ddof=1) / np.sqrt(diff.size))
