"""benchmarks/bench_gp_exact.py runs end to end at --quick size and writes its rows, its claims (JSON) and its checks.

Speed itself is measured by `make bench`, never asserted here.
"""

from __future__ import annotations

import json
import math
import re
import runpy
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_gp_exact.py"
KEYS = ["gp_exact.one_factorisation_vs_cholesky", "gp_exact.posterior_vs_cholesky", "gp_exact.grad_vs_sklearn",
        "gp_exact.grad_vs_sklearn_as_called",
        "gp_exact.grad_vs_floor"] + [f"gp_exact.type2_ml_{d}_{what}" for d in ("1d", "3d")
                                     for what in ("pinned", "as_called", "evaluations", "optimum_gap")]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[str, dict]:
    """The results file and claims of one ``--quick`` run (runpy registers the module; __main__ is not entered)."""
    out = tmp_path_factory.mktemp("bench_gp_exact") / "gp_exact.md"
    assert runpy.run_path(str(SCRIPT), run_name="bench_gp_exact")["main"](["--quick", "--out", str(out)]) == 0
    return out.read_text(), json.loads(out.with_suffix(".json").read_text())


def _row(text: str, first: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(f"| {first}"))
    return [cell.strip() for cell in line.strip(" |").split("|")]


def test_no_silent_nan(run):
    text, claims = run
    assert not re.search(r"\b(nan|inf)\b", text, re.IGNORECASE)


def test_every_claim_is_written_with_finite_paired_ratios(run):
    _, payload = run
    assert payload["script"] == "bench_gp_exact.py"
    claims = {c["key"]: c for c in payload["claims"]}
    assert list(claims) == KEYS
    for key, c in claims.items():
        assert c["ratios"] and all(math.isfinite(r) and r >= 0 for r in c["ratios"]), key
        assert c["min"] <= c["median"] <= c["max"], key
        if key != "gp_exact.posterior_vs_cholesky":  # a figure beside (a), with no target of its own
            assert c["target"] and isinstance(c["met"], bool), key
    for key in KEYS[:5] + [k for k in KEYS if k.endswith(("pinned", "as_called"))]:
        assert len(claims[key]["ratios"]) == 3, key  # --quick: 3 interleaved rounds


def test_rows_have_times_and_paired_ratios(run):
    text, _ = run
    for first in ("posterior + log ML + predict", "posterior + log ML alone", "ours: log_marginal_likelihood_and_grad",
                  "scikit-learn: log_marg",
                  "floor: dpotrf + dpotri", "1-D pinned", "1-D as called", "3-D pinned", "3-D as called"):
        cells = _row(text, first)
        assert float(cells[1].replace(",", "")) > 0, first
    assert text.count("--quick sizes: not a measurement") >= 6


def test_values_and_gradients_agree_with_scikit_learn_and_optima_coincide(run):
    text, payload = run
    value_rel = float(re.search(r"relative difference (\S+)\); largest", text).group(1))
    grad_rel = float(re.search(r"gradient entries (\S+?)\.$", text, re.MULTILINE).group(1))
    assert value_rel < 1e-10 and grad_rel < 1e-6
    gaps = [c for c in payload["claims"] if c["key"].endswith("optimum_gap")]
    assert all(c["unit"] == "nats" and c["median"] < 1e-4 for c in gaps)
    assert re.search(r"objective evaluations per start, ours \[\d", text)
