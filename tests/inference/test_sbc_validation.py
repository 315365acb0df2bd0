"""Simulation-based calibration of every registered pair's handwritten sampler at full size (``make validate``).

For each pair with an ``sbc`` (``bayes_zoo.registry.Pair.sbc``): 500 simulations of its handwritten sampler
(``quick=False``), two local workers, root seed 0, must give ranks the chi-square test calls uniform for every
quantity (20 bins, Bonferroni at family-wise 1%) and no failed simulation; and the normal-gamma planted bug
(the Gamma's rate used as a scale) must be caught in ``beta`` at the same size.  About 45 s on two cores
(per simulation: normal-gamma 15 ms, spike-slab 60 ms, gp 35 ms, sparse-gp and active-learning 15 ms).
Run with ``pytest -s`` to see each uniformity table.
"""

from __future__ import annotations

import pytest

import bayes_zoo.pairs  # noqa: F401  (registers every pair)
from bayes_zoo.inference.sbc import run_sbc, uniformity
from bayes_zoo.registry import REGISTRY

SIMS, JOBS, SEED = 500, 2, 0
PAIRS = [name for name, pair in REGISTRY.items() if pair.sbc is not None]

pytestmark = pytest.mark.slow


def test_the_registry_has_pairs_with_sbc_problems():
    assert "normal-gamma" in PAIRS


@pytest.fixture(scope="module", params=PAIRS)
def calibration(request):
    """``(SBCResult, uniformity table)`` of the pair's handwritten sampler: 500 simulations, 2 workers, seed 0."""
    problem = REGISTRY[request.param].sbc(quick=False)["handwritten"]
    result = run_sbc(problem, sims=SIMS, seed=SEED, jobs=JOBS)
    table = uniformity(result)
    print(f"\n{problem.name}\n{table.to_string()}")
    return result, table


def test_handwritten_sampler_gives_uniform_ranks_for_every_quantity(calibration):
    result, table = calibration
    assert table["simulations"].eq(SIMS - len(result.failures)).all()
    assert (table["verdict"] == "uniform").all(), table.to_string()


def test_handwritten_sampler_has_no_failed_simulation(calibration):
    result, _ = calibration
    assert result.failures.empty, result.failures.to_string()
    assert result.ranks["sim"].nunique() == SIMS


def test_planted_bug_gamma_rate_as_scale_is_caught_in_beta():
    problem = REGISTRY["normal-gamma"].sbc(quick=False, planted_bug=True)["handwritten"]
    table = uniformity(run_sbc(problem, sims=SIMS, seed=SEED, jobs=JOBS)).set_index("quantity")
    print(f"\n{problem.name}\n{table.to_string()}")
    assert table.loc["beta", "verdict"] == "non-uniform", table.to_string()
