"""The SBC problems of spike-slab, gp, sparse-gp and active-learning, as ``bayes-zoo sbc`` picks them
(:func:`bayes_zoo.sbc.problems_for` over :func:`bayes_zoo.problem.sbc_problems`): the simulate/sample contract
of :class:`bayes_zoo.inference.sbc.SBCProblem`, a quick calibration of each handwritten sampler, and the refusals."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import bayes_zoo.pairs  # noqa: F401  (registers every pair)
from bayes_zoo.inference.sbc import SBCProblem, run_sbc, uniformity
from bayes_zoo import registry
from bayes_zoo.sbc import problems_for

PAIRS = ("spike-slab", "gp", "sparse-gp", "active-learning")
#: The quantities each pair's SBC problems calibrate.
LABELS = {
    "spike-slab": ["w[x0]", "w[x1]", "w[x2]", "sigma2", "theta"],  # features named as the PyMC builder names them
    "gp": [f"f[{i}]" for i in range(12)],
    "sparse-gp": [f"u[{m}]" for m in range(4)],
    "active-learning": ["w[0]", "w[1]", "w[2]", "sigma2"],
}
#: Simulations of the quick calibration: 10 bins of 10 possible ranks each (L = 99), 10 expected per bin.
QUICK_SIMS, BINS = 100, 10


#: The sides each pair calibrates (``--sampler both``, or ``handwritten`` alone).
SIDES = {"spike-slab": {"handwritten", "nuts"}, "gp": {"handwritten", "nuts"}, "sparse-gp": {"handwritten"},
         "active-learning": {"handwritten", "nuts"}}


def _problems(name, planted_bug=None):
    sampler = "both" if "nuts" in SIDES[name] else "handwritten"
    return problems_for(registry.get(name), sampler, quick=True, planted_bug=planted_bug)


@pytest.fixture(scope="module", params=PAIRS)
def quick_sbc(request):
    """``(pair name, SBCResult)`` of a quick SBC run of the pair's handwritten sampler, seed 0."""
    return request.param, run_sbc(_problems(request.param)["handwritten"], sims=QUICK_SIMS, seed=0, jobs=1)


@pytest.mark.parametrize("name", PAIRS)
def test_handwritten_problem_draws_every_simulated_quantity_as_finite_chains_by_draws(name):
    problem = _problems(name)["handwritten"]
    truth, data = problem.simulate(np.random.default_rng(3))
    draws = problem.sample(data, 11)
    assert list(truth) == LABELS[name] and set(draws) == set(truth)
    assert all(isinstance(v, float) and np.isfinite(v) for v in truth.values())
    shapes = {np.shape(v) for v in draws.values()}
    assert len(shapes) == 1 and shapes.pop() == (2, 500)
    assert all(np.all(np.isfinite(v)) for v in draws.values())


def test_quick_sbc_of_the_handwritten_sampler_gives_uniform_ranks_for_every_quantity(quick_sbc):
    name, result = quick_sbc
    table = uniformity(result, bins=BINS)
    assert sorted(table["quantity"]) == sorted(LABELS[name])
    assert (table["verdict"] == "uniform").all(), table.to_string()


def test_quick_sbc_of_the_handwritten_sampler_has_no_failed_simulation(quick_sbc):
    _, result = quick_sbc
    assert result.failures.empty, result.failures.to_string()
    assert result.ranks["sim"].nunique() == QUICK_SIMS


def test_quick_sbc_of_the_handwritten_sampler_keeps_enough_effective_draws(quick_sbc):
    _, result = quick_sbc
    assert not result.ranks["ess_short"].any()


@pytest.mark.parametrize("name", PAIRS)
def test_planted_bug_is_refused_naming_it(name):
    with pytest.raises(ValueError, match="planted_bug"):
        problems_for(registry.get(name), "handwritten", quick=True, planted_bug="")


@pytest.mark.parametrize("name", PAIRS)
def test_sbc_offers_the_sides_the_pair_can_calibrate_as_picklable_problems(name):
    problems = _problems(name)
    assert set(problems) == SIDES[name]
    if "nuts" not in SIDES[name]:
        with pytest.raises(ValueError, match="^sampler:"):
            problems_for(registry.get(name), "nuts", quick=True, planted_bug=None)
    for problem in problems.values():
        assert isinstance(problem, SBCProblem)
        restored = pickle.loads(pickle.dumps(problem))  # joblib/loky and Dask ship problems to workers
        assert restored.name == problem.name


def test_every_registered_pair_has_an_sbc():
    for pair in registry.REGISTRY.values():
        assert problems_for(pair, "handwritten", quick=True, planted_bug=None), pair.name
