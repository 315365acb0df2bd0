"""bayes_zoo.studies: the planted bugs stay valid against the code, a small power study runs end to end, the
false-alarm study's problems are the CLI's comparisons, and a small false-alarm study runs end to end."""

import dataclasses
import importlib
import inspect

import pytest

from bayes_zoo import studies
from bayes_zoo.studies import (BUGS, COLUMNS, CORRECT, FALSE_ALARM_COLUMNS, FALSE_ALARM_SUMMARY_COLUMNS, OTHER_BUGS,
                               PROBLEMS, SUMMARY_COLUMNS)

BY_NAME = {b.name: b for b in BUGS}


@pytest.mark.parametrize("bug", BUGS + OTHER_BUGS, ids=lambda b: b.name)
def test_every_planted_line_occurs_exactly_once_in_the_current_source(bug):
    """A bug whose line has changed fails here, never silently becoming a no-op."""
    source = inspect.getsource(importlib.import_module(bug.module))
    assert source.count(bug.old) == 1
    assert bug.new != bug.old and "\n" not in bug.old and "\n" not in bug.new
    assert PROBLEMS[bug.problem].module == bug.module
    assert bug.description


def test_the_bug_list_covers_issue_13_point_3_with_distinct_names():
    assert len(BUGS) == 6 and len({b.name for b in BUGS}) == 6 and CORRECT not in BY_NAME
    assert {b.problem for b in BUGS} == {"newcomb-informative", "diabetes"} <= set(PROBLEMS)


def test_a_stale_line_is_refused_before_any_sampling():
    stale = dataclasses.replace(BUGS[0], name="gone", old="return mu, g / rate_gone")
    with pytest.raises(ValueError, match="^old: 'return mu, g / rate_gone' occurs 0 times"):
        studies.power_study([stale], seeds=[0])


@pytest.mark.parametrize("kwargs, match", [
    ({"seeds": []}, "^seeds: is empty"),
    ({"seeds": [0, 0]}, "^seeds: holds repeated"),
    ({"seeds": [-1]}, "^seeds:"),
    ({"seeds": 3}, "^seeds: expected an iterable"),
    ({"draws": 0}, "^draws:"),
    ({"chains": 0}, "^chains:"),
    ({"warmup": -1}, "^warmup:"),
    ({"n_jobs": 0}, "^n_jobs:"),
    ({"bugs": ["rate-as-scale"]}, "^bugs: expected PlantedBug"),
    ({"bugs": [BUGS[0], BUGS[0]]}, "^bugs: the name 'rate-as-scale' is reserved or repeated"),
    ({"bugs": [dataclasses.replace(BUGS[0], problem="diabetes")]}, "^bugs: 'rate-as-scale' mutates"),
    ({"bugs": [], "correct": False}, "^bugs: is empty"),
])
def test_bad_arguments_are_refused_naming_them(kwargs, match):
    with pytest.raises(ValueError, match=match):
        studies.power_study(**{"bugs": BUGS[:1], "seeds": [0], **kwargs})


def test_a_tiny_study_returns_the_documented_columns_and_table():
    bugs = [BY_NAME["rate-as-scale"], BY_NAME["variance-for-sd"]]
    frame = studies.power_study(bugs, seeds=[0, 1], draws=200, chains=2, warmup=100)
    assert tuple(frame.columns) == COLUMNS
    assert list(frame["bug"]) == ["rate-as-scale"] * 2 + ["variance-for-sd"] * 2 + [CORRECT] * 2
    assert set(frame["problem"]) == {"newcomb-informative"} and list(frame["seed"]) == [0, 1] * 3
    assert set(frame["verdict"]) <= {"agree", "disagree", "inconclusive"}
    assert set(frame["stages"]) <= {1, 2} and (frame["seconds"] > 0).all()
    assert frame.attrs["draws"] == 200 and frame.attrs["protocol"] == "run_protocol"
    summary = studies.summarise(frame)
    assert tuple(summary.columns) == SUMMARY_COLUMNS and list(summary["bug"]) == [b.name for b in bugs] + [CORRECT]
    assert (summary["seeds"] == 2).all()
    assert (summary["disagree"] + summary["inconclusive"] + summary["agree"] == 2).all()
    table = studies.markdown(summary)
    for row in summary.itertuples():
        assert f"| {row.bug} | {row.problem} | {row.disagree} / 2 |" in table
    assert "2 chains x 200 draws after 100 warm-up" in table


def test_one_bug_is_caught_at_small_size_and_the_correct_sampler_agrees():
    row = studies.run_once(BY_NAME["mu-precision-no-prior"], "newcomb-informative", 0, draws=500, chains=4, warmup=500)
    assert row["verdict"] == "disagree" and row["stages"] == 2 and row["max_abs_z"] > 50
    assert row["quantity"] == "mu" and row["confirm_max_abs_z"] > 50
    correct = studies.run_once(None, "newcomb-informative", 0, draws=500, chains=4, warmup=500)
    assert correct["verdict"] == "agree" and correct["stages"] == 1 and correct["max_abs_z"] < correct["threshold"]


def test_run_once_refuses_a_problem_that_is_not_the_bugs():
    with pytest.raises(ValueError, match="^problem: 'diabetes' is not bug 'rate-as-scale'"):
        studies.run_once(BY_NAME["rate-as-scale"], "diabetes", 0)
    with pytest.raises(ValueError, match="^problem: unknown"):
        studies.run_once(None, "nowhere", 0)


def test_the_command_line_prints_the_table_and_takes_no_abbreviations(capsys):
    status = studies.main(["power", "--seeds", "1", "--draws", "500", "--warmup", "500",
                           "--bug", "mu-precision-no-prior", "--no-correct"])
    out = capsys.readouterr().out
    assert status == 0 and "| mu-precision-no-prior | newcomb-informative | 1 / 1 |" in out
    with pytest.raises(SystemExit) as err:
        studies.main(["power", "--seed", "1"])
    assert err.value.code == 2


def test_a_sampler_that_raises_is_recorded_as_an_error_and_counted_apart():
    crash = studies.PlantedBug("crash", "newcomb-informative", studies.NORMAL_GAMMA, "return mu, g / rate",
                               "return mu, g / 0.0", "divides by zero")
    frame = studies.power_study([crash], seeds=[0], draws=200, chains=2, warmup=100, correct=False)
    row = frame.iloc[0]
    assert row["verdict"] == studies.ERROR and row["stages"] == 0
    assert row["reasons"].startswith("ZeroDivisionError") and row["max_abs_z"] != row["max_abs_z"]
    summary = studies.summarise(frame).iloc[0]
    assert (summary["error"], summary["caught"], summary["disagree"]) == (1, 1, 0)
    assert "| crash | newcomb-informative | 0 / 1 | 1 |" in studies.markdown(studies.summarise(frame))


# -----------------------------------------------------------------------------------------------------------
# False-alarm study
# -----------------------------------------------------------------------------------------------------------


def test_newcomb_is_the_normal_gamma_pairs_gibbs_vs_exact_comparison(newcomb_x):
    """Same exact answer, variables, warm-up and posterior draws as ``compare normal-gamma``'s Gibbs result."""
    from bayes_zoo.inference.gibbs import normal_gamma as gibbs
    from bayes_zoo.models import normal_gamma as ng
    from bayes_zoo.registry import RunSettings

    setup = studies._setup("newcomb")
    assert setup.exact.equals(ng.exact_posterior(newcomb_x, ng.DEFAULT_PRIOR).summary)
    assert setup.var_names == tuple(ng.VARIABLES) and not setup.saturation
    spec = PROBLEMS["newcomb"]
    assert spec.warmup == RunSettings().warmup and not spec.seeded_data and spec.module == studies.NORMAL_GAMMA
    ours = setup.sample(gibbs, 3, 100, 2, spec.warmup)["gibbs"].posterior
    pairs = gibbs.sample(newcomb_x, ng.DEFAULT_PRIOR, draws=100, chains=2, warmup=spec.warmup, seed=3).posterior
    for name in ng.VARIABLES:
        assert (ours[name].values == pairs[name].values).all()


def test_gp_latent_draws_its_data_and_its_first_stage_from_the_same_seed(monkeypatch):
    """As ``compare gp --seed s``: data and type-II ML from s (built once per seed), first-stage NUTS seeded by s with
    tuning = draws, compared on f and loglik."""
    from bayes_zoo.pairs import gp

    calls = []

    def fake_latent_comparison(n_train=40, *, seed=0):
        calls.append(("data", n_train, seed))

        def sample(seed, draws, chains):
            calls.append(("sample", seed, draws, chains))
            raise RuntimeError("stop here")

        return sample, "reference"

    monkeypatch.setattr(gp, "latent_comparison", fake_latent_comparison)
    studies._setup.cache_clear()
    try:
        rows = [studies.run_once(None, "gp-latent", 7, draws=300, chains=3) for _ in range(2)]
        setup = studies._setup("gp-latent", 7)
    finally:
        studies._setup.cache_clear()
    assert calls == [("data", studies.GP_N_TRAIN, 7), ("sample", 7, 300, 3), ("sample", 7, 300, 3)]
    assert setup.exact == "reference" and setup.var_names == ("f", "loglik")
    assert rows[0]["verdict"] == studies.ERROR and rows[0]["reasons"] == "RuntimeError: stop here"
    assert studies.GP_N_TRAIN == 40 and PROBLEMS["gp-latent"].warmup is None and PROBLEMS["gp-latent"].seeded_data


def test_gp_latent_compares_every_quantity_of_its_reference():
    """The reference holds f and the joint quantity loglik; a variable left out of var_names makes every run an
    error (compare refuses a reference quantity no result has), as it did after loglik was added."""
    studies._setup.cache_clear()
    try:
        setup = studies._setup("gp-latent", 0)
    finally:
        studies._setup.cache_clear()
    names = {str(label).split("[")[0] for label in setup.exact.index}
    assert names == set(setup.var_names) == {"f", "loglik"}


def test_gp_latent_takes_no_warmup():
    with pytest.raises(ValueError, match="^warmup: the sampler of 'gp-latent' tunes"):
        studies.run_once(None, "gp-latent", 0, warmup=500)


def test_the_acceptance_bounds_are_the_95_percent_binomial_quantiles_of_issue_13():
    assert studies.max_false_alarms(1000) == 15 and studies.max_false_alarms(50) == 2
    assert studies.max_false_alarms(100) == 3
    with pytest.raises(ValueError, match="^seeds:"):
        studies.max_false_alarms(0)


def test_a_tiny_false_alarm_study_returns_the_documented_columns_and_counts():
    from scipy import stats

    frame = studies.false_alarm_study("newcomb", [100], range(3))
    assert tuple(frame.columns) == FALSE_ALARM_COLUMNS and len(frame) == 3
    assert list(frame["seed"]) == [0, 1, 2] and set(frame["draws"]) == {100} and set(frame["problem"]) == {"newcomb"}
    assert set(frame["verdict"]) <= {"agree", "disagree", "inconclusive"}
    assert ((frame["stages"] == 2) == (frame["first_verdict"] == "disagree")).all()
    assert frame.attrs["warmup"] == 1000 and frame.attrs["chains"] == 4 and frame.attrs["level"] == 0.01
    summary = studies.summarise_false_alarms(frame)
    assert tuple(summary.columns) == FALSE_ALARM_SUMMARY_COLUMNS and len(summary) == 1
    row = summary.iloc[0]
    assert row["seeds"] == 3 and row["disagree"] + row["inconclusive"] + row["agree"] + row["error"] == 3
    assert row["first_disagree"] == (frame["first_verdict"] == "disagree").sum()
    k = int(row["disagree"])
    assert row["rate"] == k / 3 and row["rate_upper"] == pytest.approx(stats.beta.ppf(0.95, k + 1, 3 - k))
    assert row["max_disagree"] == 0 and row["passed"] == (k == 0)
    assert row["seconds"] == pytest.approx(frame["seconds"].sum())
    table = studies.false_alarm_markdown(summary)
    assert f"| 4 x 100 | {k} / 3 | {100 * k / 3:.2g}% ({100 * row['rate_upper']:.2g}%) | 0 |" in table
    assert "1000 warm-up per chain" in table and "stated level 1%" in table


def test_the_confidence_bound_is_one_sided():
    """0 of 3: the one-sided 95% Clopper-Pearson bound 1 - 0.05^(1/3) = 63.2%, not the two-sided 70.8%."""
    import pandas as pd

    frame = pd.DataFrame([{"problem": "p", "draws": 10, "seed": s, "verdict": "agree", "first_verdict": "agree",
                           "stages": 1, "seconds": 1.0} for s in range(3)]).reindex(columns=list(FALSE_ALARM_COLUMNS))
    assert studies.summarise_false_alarms(frame)["rate_upper"].iloc[0] == pytest.approx(1 - 0.05 ** (1 / 3))


@pytest.mark.parametrize("kwargs, match", [
    ({"problem": "nowhere"}, "^problem: unknown 'nowhere'"),
    ({"lengths": []}, "^lengths: is empty"),
    ({"lengths": [100, 100]}, "^lengths: holds repeated"),
    ({"lengths": [0]}, "^lengths:"),
    ({"lengths": 100}, "^lengths: expected an iterable"),
    ({"seeds": []}, "^seeds: is empty"),
    ({"seeds": [-1]}, "^seeds:"),
    ({"chains": 0}, "^chains:"),
    ({"n_jobs": 0}, "^n_jobs:"),
])
def test_false_alarm_study_refuses_bad_arguments_naming_them(kwargs, match):
    with pytest.raises(ValueError, match=match):
        studies.false_alarm_study(**{"problem": "newcomb", "lengths": [100], "seeds": [0], **kwargs})


def test_the_false_alarm_command_line_prints_the_table_and_its_exit_status_follows_the_bound(capsys, monkeypatch):
    status = studies.main(["false-alarms", "--seeds", "2", "--lengths", "100,250"])
    out = capsys.readouterr().out
    assert status == 0 and "| 4 x 100 | 0 / 2 |" in out and "| 4 x 250 | 0 / 2 |" in out
    monkeypatch.setattr(studies, "max_false_alarms", lambda seeds: -1)
    assert studies.main(["false-alarms", "--seeds", "1", "--lengths", "100"]) == 1
    for argv in (["false-alarms", "--length", "100"], ["false-alarms", "--lengths", "1x"],
                 ["false-alarms", "--problem", "nowhere"], ["false-alarms", "--seeds", "0"]):
        with pytest.raises(SystemExit) as err:
            studies.main(argv)
        assert err.value.code == 2
