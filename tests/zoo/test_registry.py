"""bayes_zoo.registry: pairs register once, by a unique name, with validated settings."""

import pytest

from bayes_zoo import pairs  # noqa: F401  (registers the pairs)
from bayes_zoo import registry


def test_normal_gamma_is_registered_first():
    assert registry.names()[0] == "normal-gamma"
    assert registry.get("normal-gamma").quick.quick


def test_a_name_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="^pair.name"):
        registry.register(registry.get("normal-gamma"))


def test_unknown_names_list_the_registered_ones():
    with pytest.raises(ValueError, match="normal-gamma"):
        registry.get("nope")


@pytest.mark.parametrize("kwargs, name", [({"draws": 0}, "draws"), ({"chains": -1}, "chains"), ({"warmup": -1}, "warmup")])
def test_settings_are_validated(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        registry.RunSettings(**kwargs)


def _outcome(checks=None, crossval=None):
    return registry.PairOutcome("p", "P", {}, crossval, checks=checks)


def test_a_failed_identity_makes_the_pair_disagree_and_says_why():
    from bayes_zoo.inference.crossval import identities, identity

    checks = identities([identity("lml: ours vs PyMC", 1.0, 1.0), identity("mean: ours vs PyMC", 1.0, 1.1)])
    outcome = _outcome(checks)
    assert outcome.verdict == "disagree"
    assert outcome.reasons == ("mean: ours vs PyMC: difference 0.1 > 1e-08 (abs)",)


def test_identities_that_hold_alone_agree():
    from bayes_zoo.inference.crossval import identities, identity

    assert _outcome(identities([identity("lml", 2.0, 2.0)])).verdict == "agree"


def test_an_outcome_needs_a_cross_validation_or_identities():
    with pytest.raises(ValueError, match="^crossval:"):
        _outcome()
