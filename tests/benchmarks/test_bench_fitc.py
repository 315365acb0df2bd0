"""benchmarks/bench_fitc.py runs end to end at --quick size: the FITC-vs-PyMC rows (and GPflow's, or the line that
says it is not installed), the million-input memory section and the claims file.

Speed and memory themselves are measured by `make bench`, never asserted here.
"""

from __future__ import annotations

import json
import math
import re
import runpy
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_fitc.py"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[str, dict]:
    """The results file and the claims of one ``--quick`` run (runpy registers the module; the __main__ guard is
    not entered)."""
    out = tmp_path_factory.mktemp("bench_fitc") / "fitc.md"
    main = runpy.run_path(str(SCRIPT), run_name="bench_fitc")["main"]
    # The rest before each timed call (SETTLE_S = 0.25 s: 8 calls x 3 rounds, 6 s of sleep) serves measurements,
    # which --quick runs are not; 1 ms keeps the rests (and their dropping from the tables) in the run.
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(main.__globals__, "SETTLE_S", 0.001)
        assert main(["--quick", "--out", str(out)]) == 0
    return out.read_text(), json.loads(out.with_suffix(".json").read_text())


def _row(text: str, first: str) -> list[str]:
    """The cells of the Markdown row whose first cell starts with ``first``."""
    line = next(line for line in text.splitlines() if line.startswith(f"| {first}"))
    return [cell.strip() for cell in line.strip(" |").split("|")]


def _positive(cell: str) -> float:
    """A number or a ratio (``"1,234.5x"``) that is finite and > 0."""
    value = float(cell.rstrip("x").replace(",", ""))
    assert math.isfinite(value) and value > 0, cell
    return value


def _spread(cell: str) -> list[float]:
    """``"1.0x / 2.0x / 3.0x"`` -> [1.0, 2.0, 3.0], each finite and > 0, in order."""
    values = [_positive(part.strip()) for part in cell.split("/")]
    assert len(values) == 3 and values == sorted(values), cell
    return values


def test_no_silent_nan(run):
    text, _ = run
    assert not re.search(r"\b(nan|inf)\b", text, re.IGNORECASE)


def test_fitc_rows_have_ours_and_pymc_with_paired_ratios(run):
    text, _ = run
    for first in ("log marginal likelihood", "value + gradient"):
        cells = _row(text, first)
        _positive(cells[1])  # ours median ms
        _positive(cells[3])  # PyMC median ms
        _spread(cells[4])  # PyMC / ours, min / median / max
    for first in ("posterior (factorise)", "predict at"):
        _positive(_row(text, first)[1])


def test_gpflow_is_compared_and_agrees_or_said_to_be_missing(run):
    text, claims = run
    keys = {c["key"] for c in claims["claims"]}
    if "GPflow not installed" in text:
        assert "fitc.log_ml_vs_gpflow" not in keys
    else:
        assert "fitc.log_ml_vs_gpflow" in keys and "GPflow / ours" in text
        difference = re.search(r"GPflow's log marginal likelihood .* relative difference (\S+?)\.?$", text,
                               re.MULTILINE)
        assert float(difference.group(1)) < 1e-8


def test_million_input_section_reports_memory_and_the_gradient_cost(run):
    text, _ = run
    assert "## FITC at N = 20,000, M = 20, D = 1: memory and the gradient's cost" in text
    for first in ("log marginal likelihood", "value + gradient"):
        line = [ln for ln in text.splitlines() if ln.startswith(f"| {first}") and "MiB" in ln]
        assert len(line) == 1
    values = re.search(r"their log marginal likelihoods (.+?); this process, on the same draw: (\S+?)\.$", text,
                       re.MULTILINE)
    assert values.group(1) == values.group(2)  # every child drew the same data as this process


def test_claims_file_has_every_figure_with_its_target_and_unit(run):
    _, claims = run
    by_key = {c["key"]: c for c in claims["claims"]}
    expected = {"fitc.log_ml_vs_pymc": (">= 3x", "x"), "fitc.grad_vs_pymc": (">= 4x", "x"),
                "fitc.grad_extra_peak": ("<= 300 MiB", "MiB"), "fitc.log_ml_extra_peak": ("", "MiB"),
                "fitc.grad_vs_log_ml": ("<= 3x", "x")}
    for key, (target, unit) in expected.items():
        claim = by_key[key]
        assert (claim["target"], claim["unit"]) == (target, unit)
        # three interleaved rounds; the memory figures one child each at --quick (full runs: --repeats children)
        assert len(claim["ratios"]) == (1 if claim["unit"] == "MiB" else 3)
        assert claim["min"] <= claim["median"] <= claim["max"]
        assert (claim["met"] is None) == (target == "")
    assert claims["script"] == "bench_fitc.py" and "load average" in " ".join(claims["machine"])


def test_targets_threads_and_agreement_are_stated(run):
    text, _ = run
    assert text.count("--quick sizes: not a measurement") >= 4  # log ML, gradient, memory, gradient cost
    assert "threadpool_limits(1)" in text and "load average" in text
    difference = re.search(r"largest relative difference (\S+?)\.?$", text, re.MULTILINE)
    assert float(difference.group(1)) < 1e-6  # our FITC gradient and PyMC's on the same input


def test_the_script_refuses_fewer_than_three_repeats():
    with pytest.raises(SystemExit, match="repeats"):
        runpy.run_path(str(SCRIPT), run_name="bench_fitc")["main"](["--quick", "--repeats", "2"])
