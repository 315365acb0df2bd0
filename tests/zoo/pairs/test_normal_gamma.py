"""The normal-gamma pair: its confirmatory rerun is the first run's sampling."""

from __future__ import annotations

import pytest

from bayes_zoo import pairs  # noqa: F401  (registers the pairs)
from bayes_zoo.registry import RunSettings, get

SETTINGS = RunSettings(draws=150, chains=2, warmup=150, seed=4, quick=True)


@pytest.fixture(scope="module")
def outcome():
    return get("normal-gamma").run(SETTINGS)


def test_rerun_is_the_first_runs_sampling_under_new_settings(outcome, rerun_check):
    # Caught: a rerun that drops the prior or the data the first run used, or ignores the seed or the draws.
    assert set(outcome.results) == {"gibbs", "nuts"}
    rerun_check(outcome, SETTINGS, ("mu", "beta"))


def test_the_pair_compares_at_the_protocols_stage_level(outcome):
    # Caught: a pair left at compare's single-stage default (0.01): the two-stage protocol's power and stated
    # level assume each stage at STAGE_ALPHA.
    from bayes_zoo.inference.crossval import STAGE_ALPHA

    assert outcome.crossval.alpha == STAGE_ALPHA
