"""benchmarks/bench_spike_slab.py runs end to end at --quick size and writes its tables.

Speed itself is measured by `make bench`, never asserted here.
"""

from __future__ import annotations

import math
import re
import runpy
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_spike_slab.py"


def _cells(table: str, first: str) -> list[str]:
    """The cells of the Markdown row whose first cell is ``first``."""
    row = next(line for line in table.splitlines() if line.startswith(f"| {first} "))
    return [cell.strip() for cell in row.strip(" |").split("|")]


def test_quick_benchmark_writes_the_ess_per_second_ratio_and_the_em_rows(tmp_path):
    out = tmp_path / "bench.md"
    # runpy registers the module while it runs, as dataclasses need; the __main__ guard is not entered.
    main = runpy.run_path(str(SCRIPT), run_name="bench_spike_slab")["main"]
    assert main(["--quick", "--out", str(out)]) == 0
    table = out.read_text()
    assert not re.search(r"\b(nan|inf)\b", table, re.IGNORECASE)  # never a silent NaN
    ratio = float(_cells(table, "ESS/s (min bulk ESS / median s)")[-1].rstrip("x").replace(",", ""))
    assert math.isfinite(ratio) and ratio > 0
    for method in ("MAP-EM", "EMVS"):
        cells = _cells(table, method)
        assert float(cells[1]) > 0  # median wall-clock seconds
        assert cells[5] == "yes"  # converged
        assert "bmi" in cells[6]  # the selected model names its features
    assert _cells(table, "exact enumeration (reference)")[4] == "1,024 models"
