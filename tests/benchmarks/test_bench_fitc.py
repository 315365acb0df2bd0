"""benchmarks/bench_gp.py runs end to end at --quick size and writes the exact-vs-floor and FITC-vs-PyMC rows.

Speed itself is measured by `make bench`, never asserted here.
"""

from __future__ import annotations

import math
import re
import runpy
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_gp.py"


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> str:
    """The results file of one ``--quick`` run (runpy registers the module; the __main__ guard is not entered)."""
    out = tmp_path_factory.mktemp("bench_gp") / "gp.md"
    assert runpy.run_path(str(SCRIPT), run_name="bench_gp")["main"](["--quick", "--out", str(out)]) == 0
    return out.read_text()


def _row(text: str, first: str) -> list[str]:
    """The cells of the Markdown row whose first cell starts with ``first``."""
    line = next(line for line in text.splitlines() if line.startswith(f"| {first}"))
    return [cell.strip() for cell in line.strip(" |").split("|")]


def _positive(cell: str) -> float:
    """A number or a ratio (``"1,234.5x"``) that is finite and > 0."""
    value = float(cell.rstrip("x").replace(",", ""))
    assert math.isfinite(value) and value > 0, cell
    return value


def test_no_silent_nan(results):
    assert not re.search(r"\b(nan|inf)\b", results, re.IGNORECASE)


def test_exact_rows_have_times_and_ratios_to_the_cholesky_floor(results):
    for first in ("posterior + predict", "posterior alone", "form K", "floor"):
        median_ms, _, ratio = _row(results, first)[1:]
        _positive(median_ms)
        _positive(ratio)
    assert _row(results, "floor")[3] == "1.0x"


def test_fitc_rows_have_ours_and_pymc_with_ratios(results):
    for first in ("log marginal likelihood", "value + gradient"):
        cells = _row(results, first)
        for cell in (cells[1], cells[3], cells[5]):  # ours median ms, PyMC median ms, PyMC / ours
            _positive(cell)
    for first in ("posterior (factorise)", "predict at"):
        _positive(_row(results, first)[1])


def test_targets_thread_setting_left_out_comparison_and_agreement_are_stated(results):
    assert results.count("--quick sizes: not a measurement") == 3  # exact, log ML, gradient
    assert "scikit-learn's `GaussianProcessRegressor` at fixed hyperparameters is **left out**" in results
    assert "threadpool_limits(1)" in results and "load average" in results
    difference = re.search(r"largest relative difference (\S+?)\.?$", results, re.MULTILINE)
    assert float(difference.group(1)) < 1e-6  # our FITC gradient and PyMC's on the same input
