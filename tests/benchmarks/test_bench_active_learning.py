"""benchmarks/bench_active_learning.py runs end to end at --quick size and writes the ACS-FW selection rows.

Speed itself is measured by `make bench`, never asserted here.
"""

from __future__ import annotations

import math
import re
import runpy
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_active_learning.py"
QUICK_SIZES = (500, 1000, 2000)  # the script's --quick simulated pools
J = 20  # the script's --quick projections
DIRECT_POOL = 1500  # the script's --quick pool of select_batch called directly vs as the loop calls it
WAYS = ("direct", "as the loop calls it")
TAGS = {f"J = {J} projections": "projections", "closed form": "closed_form"}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> str:
    """The results file of one ``--quick`` run (runpy registers the module; the __main__ guard is not entered)."""
    out = tmp_path_factory.mktemp("bench_active_learning") / "active_learning.md"
    assert runpy.run_path(str(SCRIPT), run_name="bench_active_learning")["main"](["--quick", "--out", str(out)]) == 0
    return out.read_text()


@pytest.fixture(scope="module")
def claims(results, tmp_path_factory) -> dict[str, dict]:
    """The JSON claims of the same run, by key."""
    import json

    out = next(tmp_path_factory.getbasetemp().glob("bench_active_learning*/active_learning.json"))
    return {c["key"]: c for c in json.loads(out.read_text())["claims"]}


def _row(text: str, first: str) -> list[str]:
    """The cells of the Markdown row whose first cell starts with ``first``."""
    line = next(line for line in text.splitlines() if line.startswith(f"| {first}"))
    return [cell.strip() for cell in line.strip(" |").split("|")]


def _positive(cell: str) -> float:
    """A number or a ratio (``"1,234.5x"``) that is finite and > 0."""
    value = float(cell.rstrip("x").replace(",", ""))
    assert math.isfinite(value) and value > 0, cell
    return value


def _distinct(cell: str) -> tuple[int, int]:
    distinct, iterations = (int(x) for x in cell.split("/"))
    assert 1 <= distinct <= iterations, cell
    return distinct, iterations


def test_no_silent_nan(results):
    assert not re.search(r"\b(nan|inf)\b", results, re.IGNORECASE)


def test_power_plant_rows_have_times_breakdown_and_memory(results):
    assert "## Power-plant pool: N = 7,634, b = 20" in results
    for features in ("rff", "linear"):
        for kind in (f"J = {J} projections", "closed form"):
            cells = _row(results, f"{features}, {kind}")
            for cell in cells[1:5] + cells[6:8]:  # median, min, gram alone, FW alone; residual, peak MiB
                _positive(cell)
            assert _distinct(cells[5])[1] == 20


def test_simulated_rows_have_times_per_point_and_memory_against_n_by_n(results):
    for n in QUICK_SIZES:
        for kind in (f"J = {J} projections", "closed form"):
            cells = _row(results, f"N = {n:,}, {kind}")
            # median, min, per 1,000 points (whole, gram alone, FW alone), peak MiB, bytes/point, N x N MiB, ratio
            for cell in cells[1:10]:
                _positive(cell)
            assert _positive(cells[8]) == pytest.approx(8 * n * n / 2**20, rel=0.01)  # shown to one decimal
            _distinct(cells[10])


def test_targets_growth_and_checks_are_stated(results):
    # 4 power-plant targets, the reference's, 2 growth verdicts, 2 x 2 of select_batch called directly
    assert results.count("--quick sizes: not a measurement") == 11
    assert len(re.findall(r"log-log slope of seconds on N -?\d+\.\d+", results)) == 2
    assert len(re.findall(r"Frank–Wolfe alone: \d+\.\d+x \(", results)) == 2
    assert "indices are distinct and inside its pool: yes" in results
    assert "blas_held()" in results and "BLAS_THREADS = 1" in results and "load average" in results


def test_the_reference_closed_form_is_timed_against_ours_and_chooses_the_same_batch(results):
    assert "## The reference implementation's closed form: N = 200, b = 20" in results
    assert "The same batch: yes" in results
    ratio = re.search(r"reference / ours (\d[\d,.]*)x \(", results)
    assert ratio and _positive(ratio.group(1))


def test_claims_are_written_beside_the_results(results, tmp_path_factory):
    import json

    out = next(tmp_path_factory.getbasetemp().glob("bench_active_learning*/active_learning.json"))
    claims = {c["key"]: c for c in json.loads(out.read_text())["claims"]}
    expected = {f"active_learning.power_plant_{f}_{k}" for f in ("rff", "linear")
                for k in ("projections", "closed_form")}
    expected |= {f"active_learning.{g}_{k}" for g in ("linear_growth", "linear_growth_beyond_cache")
                 for k in ("projections", "closed_form")}
    expected.add("active_learning.reference_closed_form_vs_ours")
    expected |= {f"active_learning.select_batch_{w}_{k}" for w in ("direct", "loop", "direct_vs_loop")
                 for k in ("projections", "closed_form")}
    assert set(claims) == expected
    for claim in claims.values():
        assert claim["ratios"] and all(math.isfinite(r) and r > 0 for r in claim["ratios"])
        assert claim["met"] is None  # --quick sizes: no verdict
    assert claims["active_learning.power_plant_rff_projections"]["unit"] == "s"
    assert len(claims["active_learning.reference_closed_form_vs_ours"]["ratios"]) == 2  # --quick ref_repeats


def test_select_batch_rows_give_wall_and_cpu_seconds_and_blas_threads_both_ways(results):
    assert f"## select_batch called directly and as the labelling loop calls it: N = {DIRECT_POOL:,}, b = 20" in results
    for kind in TAGS:
        for way in WAYS:
            cells = _row(results, f"{kind}, {way}")
            for cell in cells[1:5]:  # median, min, max wall s; median CPU s
                _positive(cell)
            assert int(cells[5]) >= 1 and cells[6] == "1"  # threads around the call; inside select_batch: one
        assert _row(results, f"{kind}, as the loop calls it")[5] == "1"  # the loop's hold
        assert re.fullmatch(r"\d+\.\d+x \(\d+\.\d+-\d+\.\d+\)", _row(results, f"{kind}, direct")[7])


@pytest.mark.parametrize("kind", TAGS)
def test_the_direct_call_claim_is_seconds_at_the_pool_size_with_the_one_second_target(claims, kind):
    claim = claims[f"active_learning.select_batch_direct_{TAGS[kind]}"]
    assert f"simulated pool of {DIRECT_POOL:,} points" in claim["text"] and kind in claim["text"]
    assert "called directly" in claim["text"] and claim["unit"] == "s" and claim["target"] == "< 1 s"
    assert len(claim["ratios"]) == 2 and all(math.isfinite(r) and r > 0 for r in claim["ratios"])


@pytest.mark.parametrize("kind", TAGS)
def test_the_loop_call_claim_stands_beside_it(claims, kind):
    claim = claims[f"active_learning.select_batch_loop_{TAGS[kind]}"]
    assert f"simulated pool of {DIRECT_POOL:,} points" in claim["text"] and "inside blas_held()" in claim["text"]
    assert claim["unit"] == "s" and claim["target"] == "" and claim["met"] is None
    assert len(claim["ratios"]) == 2 and all(math.isfinite(r) and r > 0 for r in claim["ratios"])


@pytest.mark.parametrize("kind", TAGS)
def test_the_direct_over_loop_claim_is_the_paired_ratio(claims, kind):
    tag = TAGS[kind]
    claim = claims[f"active_learning.select_batch_direct_vs_loop_{tag}"]
    direct = claims[f"active_learning.select_batch_direct_{tag}"]["ratios"]
    loop = claims[f"active_learning.select_batch_loop_{tag}"]["ratios"]
    assert claim["ratios"] == pytest.approx([a / b for a, b in zip(direct, loop)])
    assert claim["unit"] == "x" and claim["target"] == "<= 1.2x"


def test_the_direct_call_ran_unheld_while_select_batch_held_blas_itself(results):
    assert re.search(r"the direct call ran as a user's, BLAS around it at the process's own threads \(\d[^)]*\): "
                     r"yes", results)
    assert "Inside `select_batch` BLAS ran at the policy's 1 thread(s) both ways: yes" in results
    assert "Both ways chose the same batch: yes" in results
