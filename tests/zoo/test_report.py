"""bayes_zoo.report: every sampler run a report uses is shown with its diagnostics and its role; power is stated."""

from __future__ import annotations

import re

import arviz as az
import numpy as np
import pandas as pd

from bayes_zoo import report
from bayes_zoo.inference import crossval
from bayes_zoo.registry import PairOutcome

EXACT = pd.DataFrame({"mean": [0.0], "sd": [1.0], "q05": [-1.6448536269514722], "q95": [1.6448536269514722]},
                     index=pd.Index(["theta"], name="quantity"))


def _outcome():
    rng = np.random.default_rng(0)
    compared = az.from_dict(posterior={"theta": rng.normal(size=(4, 1000))})
    # an advisory run whose chains disagree (R-hat far above 1.01) and with one divergence
    stuck = az.from_dict(posterior={"eta": rng.normal(size=(4, 300)) + np.arange(4)[:, None]},
                         sample_stats={"diverging": np.eye(4, 300, dtype=bool)})
    cv = crossval.compare({"sampler": compared}, EXACT)
    return PairOutcome("fake", "Fake pair", {"sampler": compared, "hyper": stuck}, cv,
                       advisory_runs={"hyper": "it places the mode in the posterior; no exact answer"})


def test_an_advisory_run_shows_its_failing_diagnostics_and_its_reason(tmp_path):
    # Caught: a run the report uses whose diagnostics appear nowhere (the gp hyperparameter run, issue 13).
    report.write_outcome(_outcome(), tmp_path)
    diag = pd.read_csv(tmp_path / "diagnostics.csv")
    hyper = diag[diag["result"] == "hyper"]
    assert len(hyper) == 1 and hyper["r_hat"].iloc[0] > 1.01 and float(hyper["divergences"].iloc[0]) == 4
    assert hyper["role"].iloc[0] == "advisory: it places the mode in the posterior; no exact answer"
    assert (diag.loc[diag["result"] == "sampler", "role"] == "verdict").all()
    text = (tmp_path / "report.md").read_text()
    assert "hyper: 4 divergent transitions" in text and "R-hat" in text


def test_the_report_states_the_power_from_the_cross_validation(tmp_path):
    # Caught: a hand-typed or stale power sentence (it must be the object's own).
    outcome = _outcome()
    report.write_outcome(outcome, tmp_path)
    text = (tmp_path / "report.md").read_text()
    assert f"Power: {outcome.crossval.power_summary()}." in text
    assert "detectable (sd)" in text


def _absurd_z_outcome():
    """A result whose ``p`` never moves (MCSE 0, against an exact reference with MCSE 0: z infinite) and whose
    ``q`` moves by 1e-15 (MCSE ~1e-17: |z| ~1e13), both 1e-4 from the exact value."""
    rng = np.random.default_rng(0)
    result = az.from_dict(posterior={"p": np.ones((4, 500)), "q": 1.0 - 1e-15 * rng.uniform(size=(4, 500)),
                                     "theta": rng.normal(size=(4, 500))})
    exact = pd.concat([EXACT, pd.DataFrame({"mean": [0.9999] * 2, "sd": [np.inf] * 2, "q05": [np.inf] * 2,
                                            "q95": [np.inf] * 2}, index=pd.Index(["p", "q"], name="quantity"))])
    return PairOutcome("fake", "Fake pair", {"sampler": result}, crossval.compare({"sampler": result}, exact))


def test_a_z_that_is_infinite_or_absurd_says_why_in_the_report_and_the_terminal_table(tmp_path):
    # Caught: a z cell that prints inf, ">+999" or 1.5e13 with no word on why (issue 17).
    from rich.console import Console

    outcome = _absurd_z_outcome()
    report.write_outcome(outcome, tmp_path)
    text = (tmp_path / "report.md").read_text()
    assert "| undef [1] " in text and "| >+999 [2] " in text
    assert ("[1] sampler vs exact, p mean: z undefined: sampler's MCSE is 0 and the exact reference has MCSE 0, so "
            "their combined MCSE is 0") in text
    assert "[2] sampler vs exact, q mean: |z| = 1.5e+13, beyond 999: sampler's MCSE is 7e-18" in text
    assert not re.search(r"\binf\b", text) and "e+13 |" not in text
    console = Console(width=80, record=True, color_system=None)
    console.print(report.rich_table(outcome))
    shown = console.export_text()
    assert "undef†" in shown and ">+999†" in shown and "† sampler vs exact, p mean: z undefined" in shown
    assert max(map(len, shown.splitlines())) <= 80


def test_a_failing_r_hat_never_prints_as_the_threshold_in_the_report_tables(tmp_path):
    # Caught: an R-hat of 1.0101 printed "1.01" (4 significant digits) beside the reason "1.0101 > 1.01" (gp report).
    import dataclasses

    outcome = _outcome()
    diag = outcome.crossval.diagnostics["sampler"]
    outcome.crossval.diagnostics["sampler"] = dataclasses.replace(diag, table=diag.table.assign(r_hat=1.0101))
    report.write_outcome(outcome, tmp_path)
    runs = (tmp_path / "report.md").read_text().split("## Sampler runs")[1].split("\n## ")[0]
    rows = [line for line in runs.splitlines() if line.startswith("| sampler ")]
    assert len(rows) == 2, runs  # the runs summary and the per-quantity table
    assert all(re.search(r"\|\s*1\.0101\s*\|", row) for row in rows), rows
    assert not re.search(r"\|\s*1\.01\s*\|", runs)


def test_advisory_findings_are_listed_apart_from_the_reasons_that_set_the_verdict(tmp_path):
    # Caught: "Verdict: agree" followed by "Reasons:" and 16 advisory-only items (spike-slab report).
    rng = np.random.default_rng(1)
    good = az.from_dict(posterior={"theta": rng.normal(size=(4, 1000))})
    off = az.from_dict(posterior={"theta": rng.normal(size=(4, 1000)) + 0.3})
    outcome = PairOutcome("fake", "Fake pair", {"good": good, "off": off},
                          crossval.compare({"good": good, "off": off}, EXACT, advisory={"off": "known to struggle"}))
    assert outcome.verdict == "agree" and outcome.reasons
    report.write_outcome(outcome, tmp_path)
    head = (tmp_path / "report.md").read_text().split("## Setup")[0]
    assert "Reasons:" not in head
    advisory = head.split(f"{report.ADVISORY_HEADING}:")[1]
    assert "- off vs exact: theta mean differs" in advisory and "(advisory)" not in advisory
