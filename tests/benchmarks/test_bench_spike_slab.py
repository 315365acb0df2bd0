"""benchmarks/bench_spike_slab.py runs end to end at --quick size and writes its tables.

Speed itself is measured by `make bench`, never asserted here.
"""

from __future__ import annotations

import json
import math
import re
import runpy
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_spike_slab.py"


def _cells(table: str, first: str) -> list[str]:
    """The cells of the Markdown row whose first cell is ``first``."""
    row = next(line for line in table.splitlines() if line.startswith(f"| {first} "))
    return [cell.strip() for cell in row.strip(" |").split("|")]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """The results file of one ``--quick`` run, shared by the tests below."""
    out = tmp_path_factory.mktemp("bench_spike_slab") / "bench.md"
    # runpy registers the module while it runs, as dataclasses need; the __main__ guard is not entered.
    main = runpy.run_path(str(SCRIPT), run_name="bench_spike_slab")["main"]
    assert main(["--quick", "--out", str(out), "--gibbs-draws", "200", "--nuts-draws", "20", "--tune", "20"]) == 0
    return out


def test_quick_benchmark_writes_the_ess_per_second_ratio_and_the_em_rows(run):
    table = run.read_text()
    assert not re.search(r"\b(nan|inf)\b", table, re.IGNORECASE)  # never a silent NaN
    ratio = float(_cells(table, "ESS/s (min bulk ESS / median s)")[-1].rstrip("x").replace(",", ""))
    assert math.isfinite(ratio) and ratio > 0
    for method in ("MAP-EM", "EMVS"):
        cells = _cells(table, method)
        assert float(cells[1]) > 0  # median wall-clock seconds
        assert cells[5] == "yes"  # converged
        assert "bmi" in cells[6]  # the selected model names its features
    assert _cells(table, "exact enumeration (reference)")[4] == "1,024 models"


def test_quick_benchmark_writes_the_em_thread_rows_and_the_claims(run):
    out = run
    table = out.read_text()
    assert "## EM and BLAS threads" in table
    for method in ("MAP-EM", "EMVS"):
        cells = [line for line in table.split("## EM and BLAS threads")[1].splitlines()
                 if line.startswith(f"| {method} ")][0].strip(" |").split("|")
        assert all(float(c) > 0 for c in cells[1:4])  # median ms as called, pinned, unheld
        assert re.fullmatch(r"\s*\d[\d,.]*x \(\d[\d,.]*-\d[\d,.]*\)\s*", cells[4])  # paired ratios
    claims = {c["key"]: c for c in json.loads(out.with_suffix(".json").read_text())["claims"]}
    assert set(claims) == {"spike_slab.gibbs_vs_nuts_ess_per_s", "spike_slab.map_em_threads",
                           "spike_slab.map_em_unheld", "spike_slab.emvs_threads", "spike_slab.emvs_unheld"}
    assert len(claims["spike_slab.map_em_threads"]["ratios"]) == 3  # --quick thread_repeats
    assert len(claims["spike_slab.map_em_unheld"]["ratios"]) == 3  # at least 3 rounds
    assert claims["spike_slab.map_em_threads"]["target"] == "<= 1.2x"
    assert all(c["met"] is None for c in claims.values())  # --quick sizes: no verdict
    assert all(math.isfinite(r) and r > 0 for c in claims.values() for r in c["ratios"])
