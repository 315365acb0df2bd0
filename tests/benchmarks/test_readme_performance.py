"""benchmarks/readme.py: the README's performance section is generated from benchmarks/results/*.json, never typed."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "readme.py"


@pytest.fixture(scope="module")
def readme():
    return runpy.run_path(str(SCRIPT), run_name="bench_readme")


def _results(folder: Path, ratios, target=">= 10x", met=True, quick=False) -> Path:
    payload = {"script": "bench_x", "quick": quick, "machine": {"date (UTC)": "2026-12-05T00:00:00+00:00",
                                                 "CPU count (os.cpu_count)": "2"},
               "claims": [{"key": "x.ratio", "text": "x seconds / ours", "ratios": ratios, "min": min(ratios),
                           "median": sorted(ratios)[len(ratios) // 2], "max": max(ratios), "target": target,
                           "met": met, "unit": "x"}]}
    (folder / "x.json").write_text(json.dumps(payload))
    return folder


def test_the_committed_readme_is_what_the_committed_results_give(readme):
    assert readme["main"](["--check"]) == 0, "run .venv/bin/python benchmarks/readme.py after make bench"


def test_each_claim_becomes_a_row_with_min_median_max_target_and_whether_it_is_met(readme, tmp_path):
    text = readme["section"](_results(tmp_path, [12.0, 19.5, 25.25]))
    row = next(line for line in text.splitlines() if line.startswith("| x seconds / ours"))
    assert [c.strip() for c in row.strip(" |").split("|")][1:] == ["12.0x", "19.5x", "25.2x", ">= 10x", "yes"]
    assert "2026-12-05T00:00:00+00:00" in text


def test_other_results_give_another_section(readme, tmp_path):
    first = readme["section"](_results(tmp_path, [12.0, 19.5, 25.25]))
    second = readme["section"](_results(tmp_path, [1.262, 1.3, 1.31], met=False))
    assert first != second and "**no**" in second
    assert "| 1.26x | 1.30x | 1.31x |" in second  # below 10x two decimals: 1.26 is not shown as 1.3


def test_a_readme_without_its_markers_is_refused(readme):
    with pytest.raises(SystemExit, match="bench:begin"):
        readme["render"]("# no markers here\n", "generated")


def test_quick_results_are_refused_they_are_not_measurements(readme, tmp_path):
    with pytest.raises(SystemExit, match="--quick"):
        readme["section"](_results(tmp_path, [12.0, 19.5, 25.25], quick=True))
