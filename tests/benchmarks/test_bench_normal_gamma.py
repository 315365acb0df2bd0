"""benchmarks/bench_normal_gamma.py runs end to end at --quick size and writes its side-by-side table.

Speed itself is measured by `make bench`, never asserted here.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_normal_gamma.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_normal_gamma", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_quick_benchmark_writes_ess_per_second_ratios_and_the_readme_claims(tmp_path):
    out = tmp_path / "bench.md"
    assert _load().main(["--quick", "--out", str(out)]) == 0
    table = out.read_text()
    ratio_line = next(line for line in table.splitlines() if line.startswith("| ESS/s"))
    cells = [c.strip() for c in ratio_line.strip(" |").split("|")]
    assert len(cells) == 6  # metric, Gibbs, nutpie, PyMC, nutpie / PyMC, Gibbs / nutpie
    for cell in cells[4:]:
        assert float(cell.split("x")[0].replace(",", "")) > 0
    payload = json.loads(out.with_suffix(".json").read_text())
    assert payload["quick"] is True  # benchmarks/readme.py refuses it
    claims = {c["key"]: c for c in payload["claims"]}
    assert set(claims) == {"normal_gamma.nutpie_vs_pymc", "normal_gamma.nutpie_compile", "normal_gamma.gibbs_vs_nutpie",
                           "normal_gamma.gibbs_vs_pymc"}
    assert all(math.isfinite(c["median"]) and c["median"] >= 0 for c in claims.values())
