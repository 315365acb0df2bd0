"""bayes_zoo.inference.seeding: independent, reproducible chain streams."""

import numpy as np
import pytest

from bayes_zoo.inference.seeding import chain_generators, predictive_generator


def test_streams_are_reproducible_and_distinct():
    a = [g.standard_normal(5) for g in chain_generators(3, 4)]
    b = [g.standard_normal(5) for g in chain_generators(3, 4)]
    np.testing.assert_array_equal(a, b)
    assert len({tuple(v) for v in a}) == 4


def test_adding_chains_keeps_the_first_streams():
    two = [g.standard_normal(3) for g in chain_generators(8, 2)]
    five = [g.standard_normal(3) for g in chain_generators(8, 5)]
    np.testing.assert_array_equal(two, five[:2])


def test_the_predictive_stream_is_reproducible_and_no_chains_stream():
    chains = [g.standard_normal(5) for g in chain_generators(3, 64)]
    pred = predictive_generator(3).standard_normal(5)
    np.testing.assert_array_equal(pred, predictive_generator(3).standard_normal(5))
    assert not any(np.array_equal(pred, c) for c in chains)


@pytest.mark.parametrize("seed, chains, name", [(-1, 2, "seed"), (1.5, 2, "seed"), (0, 0, "chains")])
def test_bad_arguments_are_named(seed, chains, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        chain_generators(seed, chains)


def test_the_confirmation_seed_is_reproducible_distinct_and_a_valid_seed():
    # Caught: the confirmatory stage reusing the first seed (its draws would repeat the first run's).
    from bayes_zoo.inference.seeding import confirmation_seed

    seeds = [confirmation_seed(s) for s in range(50)]
    assert seeds == [confirmation_seed(s) for s in range(50)]
    assert len(set(seeds)) == 50 and not set(seeds) & set(range(50))
    assert all(0 <= s < 2**63 for s in seeds)
    with pytest.raises(ValueError, match="seed"):
        confirmation_seed(-1)
