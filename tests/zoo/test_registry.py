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


#: Root seeds of the quick runs the registry-wide test shares with other tests (test_cli reads normal-gamma's at a
#: seed whose first stage agrees, so that its folder holds no confirmatory results).
SEEDS = {"normal-gamma": 3}


@pytest.mark.parametrize("name", registry.names())
def test_every_registered_problem_runs_on_the_harness_at_quick_size_and_agrees(name, quick_compare):
    # One test over the registry (as NumPyro's examples): a declaration the harness cannot run, or a problem that
    # no longer agrees at its quick settings, fails here whichever it is.
    from bayes_zoo import cli

    status, folder = quick_compare(name, SEEDS.get(name, 0))
    report = (folder / "report.md").read_text()
    assert status == cli.EXIT_OK, report[:2000]
    assert "**Verdict: agree**" in report and registry.get(name).title in report


@pytest.mark.parametrize("name", registry.names())
def test_every_registered_pairs_report_html_embeds_its_figures_and_shows_every_verdict(name, quick_compare,
                                                                                         report_html_check):
    # The page `compare all` writes for each pair (the same writer as `compare NAME`; the index is tested in
    # test_cli): parsed, every <img> a PNG that decodes, every verdict of report.md coloured in it.
    status, folder = quick_compare(name, SEEDS.get(name, 0))
    report_html_check(folder)


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


def _fake_pair(verdicts, calls):
    """A pair whose first cross-validation has the given verdict per run (one entry per call of run or rerun)."""
    import arviz as az
    import numpy as np
    import pandas as pd

    from bayes_zoo.inference import crossval

    exact = pd.DataFrame({"mean": [0.0], "sd": [1.0], "q05": [-1.6448536269514722], "q95": [1.6448536269514722]},
                         index=pd.Index(["theta"], name="quantity"))

    from bayes_zoo.problem import Problem

    def sample(data, *, seed, draws, chains):
        calls.append(registry.RunSettings(seed=seed, draws=draws, chains=chains))
        loc = 0.5 if verdicts[len(calls) - 1] == "disagree" else 0.0
        return az.from_dict(posterior={"theta": np.random.default_rng(seed % 2**32).normal(loc, 1.0, (chains, draws))})

    return Problem("fake", data={}, sides={"a": sample}, exact=exact, variables=("theta",), figures=False)


def test_run_pair_confirms_a_disagreement_with_a_fresh_seed_and_more_draws():
    # Caught: the CLI's driver skipping the confirmatory stage (one stage's false alarms), or rerunning with the
    # same seed or draws.
    from bayes_zoo.inference import crossval
    from bayes_zoo.inference.seeding import confirmation_seed

    calls = []
    outcome = registry.run_pair(_fake_pair(["disagree", "agree"], calls), registry.RunSettings(draws=500, seed=3))
    assert [(c.seed, c.draws) for c in calls] == [(3, 500), (confirmation_seed(3), crossval.CONFIRM_FACTOR * 500)]
    assert outcome.verdict == "agree" and set(outcome.confirmation) == {"a"}
    calls.clear()
    outcome = registry.run_pair(_fake_pair(["disagree", "disagree"], calls), registry.RunSettings(draws=500, seed=3))
    assert outcome.verdict == "disagree" and any("confirmed by" in r for r in outcome.reasons)


def test_run_pair_runs_once_when_the_first_stage_agrees():
    calls = []
    outcome = registry.run_pair(_fake_pair(["agree"], calls), registry.RunSettings(draws=500, seed=3))
    assert len(calls) == 1 and outcome.verdict == "agree" and outcome.confirmation == {}


def test_an_advisory_run_must_be_a_result():
    from bayes_zoo.inference.crossval import identities, identity

    with pytest.raises(ValueError, match="advisory_runs"):
        registry.PairOutcome("x", "x", {}, None, checks=identities([identity("one", 1.0, 1.0)]),
                             advisory_runs={"marginal": "why"})
