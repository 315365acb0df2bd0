"""bayes_zoo.studies: the planted bugs stay valid against the code, and a small power study runs end to end."""

import dataclasses
import importlib
import inspect

import pytest

from bayes_zoo import studies
from bayes_zoo.studies import BUGS, COLUMNS, CORRECT, OTHER_BUGS, PROBLEMS, SUMMARY_COLUMNS

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
    assert {b.problem for b in BUGS} == set(PROBLEMS)


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
