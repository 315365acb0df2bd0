"""The normal-gamma pair: its confirmatory rerun is the first run's sampling; its declaration drops the outliers
when asked and carries its planted bug as a side."""

from __future__ import annotations

import pytest

from bayes_zoo import pairs  # noqa: F401  (registers the pairs)
from bayes_zoo.registry import RunSettings, get

SETTINGS = RunSettings(draws=150, chains=2, warmup=150, seed=4, quick=True)


@pytest.fixture(scope="module")
def outcome():
    from bayes_zoo.problem import run_problem

    return run_problem(get("normal-gamma"), SETTINGS)


def test_rerun_is_the_first_runs_sampling_under_new_settings(outcome, rerun_check):
    # Caught: a rerun that drops the prior or the data the first run used, or ignores the seed or the draws.
    assert set(outcome.results) == {"gibbs", "nuts"}
    rerun_check(outcome, SETTINGS, ("mu", "beta"))


def test_the_pair_compares_at_the_protocols_stage_level(outcome):
    # Caught: a pair left at compare's single-stage default (0.01): the two-stage protocol's power and stated
    # level assume each stage at STAGE_ALPHA.
    from bayes_zoo.inference.crossval import STAGE_ALPHA

    assert outcome.crossval.alpha == STAGE_ALPHA


def test_the_drop_outliers_option_reaches_the_data_and_the_exact_reference():
    pair = get("normal-gamma")
    options = pair.resolve_options({"drop_outliers": True})
    data = pair.load(options)
    assert data["x"].size == 64 and pair.reference(data, options)[2].stats[0] == 64


def test_the_planted_bug_is_the_gibbs_side_with_the_rate_used_as_a_scale():
    import numpy as np

    planted = get("normal-gamma").with_bug("rate-as-scale")
    data = planted.load({"drop_outliers": False})
    buggy = planted.sides["gibbs"].sample(data, seed=0, draws=300, chains=2, warmup=100)
    correct = get("normal-gamma").sides["gibbs"].sample(data, seed=0, draws=300, chains=2, warmup=100)
    assert np.mean(buggy.posterior["beta"]) > 100 * np.mean(correct.posterior["beta"])
