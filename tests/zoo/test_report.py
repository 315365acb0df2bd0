"""bayes_zoo.report: every sampler run a report uses is shown with its diagnostics and its role; power is stated."""

from __future__ import annotations

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
