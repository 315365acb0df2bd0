"""benchmarks/bench_sbc.py runs end to end at --quick size and writes the 1-vs-2-worker rows, the start-up and the
NUTS sides (PyMC recompiled per simulation, PyMC compiled once, nutpie compiled once) and their README claims.

Speed itself is measured by `make bench`, never asserted here.  About 20 s, most of it the two loky workers'
cold start, which the script measures on purpose.
"""

from __future__ import annotations

import json
import math
import re
import runpy
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_sbc.py"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """The results file of one ``--quick`` run (runpy registers the module; the __main__ guard is not entered)."""
    out = tmp_path_factory.mktemp("bench_sbc") / "sbc.md"
    assert runpy.run_path(str(SCRIPT), run_name="bench_sbc")["main"](["--quick", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def results(run) -> str:
    return run.read_text()


@pytest.fixture(scope="module")
def results_json(run) -> dict:
    return json.loads(run.with_suffix(".json").read_text())


def _rows(text: str, first: str) -> list[list[str]]:
    """The cells of every Markdown row whose first cell starts with ``first``."""
    return [[cell.strip() for cell in line.strip(" |").split("|")] for line in text.splitlines()
            if line.startswith(f"| {first}")]


def _positive(cell: str) -> float:
    """A number or a ratio (``"1,234.5x"``) that is finite and > 0."""
    value = float(cell.rstrip("x").replace(",", ""))
    assert math.isfinite(value) and value > 0, cell
    return value


def test_no_silent_nan(results):
    assert not re.search(r"\b(nan|inf)\b", results, re.IGNORECASE)


def test_both_samplers_have_throughput_at_one_and_two_workers_with_their_ratio(results):
    assert "## normal-gamma Gibbs" in results and "## spike-and-slab Gibbs" in results
    rows = _rows(results, "simulations/s")
    assert len(rows) == 2
    for _, one, two, ratio in rows:
        _positive(one), _positive(two), _positive(ratio)
    for first in ("wall-clock s, median", "wall-clock s, min", "ms per simulation"):
        for row in _rows(results, first):
            _positive(row[1]), _positive(row[2])


def test_one_and_two_workers_ran_the_same_simulations_to_the_same_ranks(results):
    rows = _rows(results, "ranks and failures identical")
    assert len(rows) == 2 and all(row[2] == "yes" for row in rows)
    assert all(row[1:3] == ["0", "0"] for row in _rows(results, "failed simulations"))


def test_worker_start_up_is_reported_apart_from_the_throughput(results):
    cold, warm, startup = (_positive(_rows(results, first)[0][1])
                           for first in ("first call, cold pool", "the same call, warm pool", "one-off start-up"))
    assert startup == pytest.approx(cold - warm, abs=0.011)  # each shown to 0.01 s


def test_nuts_sides_are_timed_side_by_side_first_and_later_apart(results):
    assert "## NUTS-side SBC throughput" in results
    for first in ("first simulation s", "later simulations s, median", "later simulations s, min",
                  "later simulations s, max"):
        (row,) = _rows(results, first)
        assert all(_positive(cell) for cell in row[1:4])
    (timed,) = _rows(results, "simulations timed")
    assert timed[1] == timed[2] == timed[3] and int(timed[1]) >= 2  # a first and at least one later simulation


def test_nuts_sides_compiled_once_draw_what_a_fresh_sample_nuts_draws(results):
    (row,) = _rows(results, "same draws as a fresh sample_nuts")
    assert row[2:4] == ["yes", "yes"]


def test_nuts_side_claims_are_written_for_the_readme(results_json):
    claims = {c["key"]: c for c in results_json["claims"]}
    assert claims["sbc.nuts_side_seconds"]["unit"] == "s"
    assert all(math.isfinite(c["median"]) and c["median"] > 0 for c in claims.values())
