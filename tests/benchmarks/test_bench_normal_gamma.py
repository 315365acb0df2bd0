"""benchmarks/bench_normal_gamma.py runs end to end at --quick size and writes its side-by-side table.

Speed itself is measured by `make bench`, never asserted here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_normal_gamma.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_normal_gamma", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_quick_benchmark_writes_the_ess_per_second_ratio(tmp_path):
    out = tmp_path / "bench.md"
    assert _load().main(["--quick", "--out", str(out)]) == 0
    table = out.read_text()
    ratio_line = next(line for line in table.splitlines() if line.startswith("| ESS/s"))
    ratio = float(ratio_line.rstrip(" |").split("|")[-1].strip().rstrip("x").replace(",", ""))
    assert ratio > 0
