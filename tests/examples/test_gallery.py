"""The gallery of planted bugs (examples/, issue 14): every correct problem agrees with NUTS and is calibrated,
every planted bug is caught, and the joint bug passes every marginal test while ``loglik`` catches it, in
cross-validation and in SBC.

Small sizes (2 chains x 1000 draws after 500 warm-up, 60 SBC simulations), one NUTS run per model shared by its
correct and buggy samplers (``check(..., trace=...)``), no figures.  The rates at ``check``'s default settings
over 20 seeds are tests/validation/test_gallery_rates.py.
"""

import dataclasses
import functools
from pathlib import Path

import pytest

import bayes_zoo
from bayes_zoo.checking import load_problem
from bayes_zoo.inference.sbc_model import LOGLIK

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SEED = 1
#: check's quick settings (2 chains, 500 warm-up) with 1000 draws: at 500 draws the pumps Gibbs sampler's beta
#: and the Metropolis-within-Gibbs mu have bulk or tail ESS near 400, and the verdict would be "run longer".
SMALL = {"quick": True, "draws": 1000, "seed": SEED}
#: SBC's chi-square test needs 50 completed simulations (10 bins of 5); 2-3% of the pumps' are left out (its prior's
#: far tail gives Poisson means NumPy cannot draw: examples/README.md), so 60.
SIMS = 60


def gallery(spec: str):
    """The Problem ``examples/FILE.py[:NAME]`` as ``bayes-zoo check`` loads it, without figures."""
    return dataclasses.replace(load_problem(str(EXAMPLES / spec)), figures=False)


@functools.cache
def nuts_trace(file: str):
    """One NUTS run per model at the small settings, shared by its correct and buggy samplers."""
    from bayes_zoo.inference.nuts import sample_nuts

    p = gallery(file)
    return sample_nuts(p.model(p.data), draws=SMALL["draws"], tune=500, chains=2, seed=SEED)


def check(spec: str, **kwargs):
    return bayes_zoo.check(gallery(spec), trace=nuts_trace(spec.split(":")[0].replace("_bugs", "")), **SMALL,
                           **kwargs)


def test_pumps_file_is_at_most_40_lines():
    lines = (EXAMPLES / "pumps.py").read_text().splitlines()
    assert len(lines) <= 40, f"examples/pumps.py has {len(lines)} lines"


@pytest.mark.parametrize("spec", ["pumps.py", "beta_binomial.py", "kilpisjarvi.py"])
def test_correct_sampler_agrees_and_is_calibrated(spec):
    result = check(spec, sims=SIMS)
    assert result.outcome.verdict == "agree", result.reasons
    assert [r.verdict for r in result.sbc] == ["calibrated"], result.reasons
    assert result.verdict == "agree" and result.exit_status == 0


#: bug -> a variable whose statistics the cross-validation must flag (where the bug does its damage)
BUGS = {
    "pumps_bugs.py:rate_as_scale": "theta",
    "pumps_bugs.py:no_exposure": "theta",
    "pumps_bugs.py:n_minus_1": "beta",
    "beta_binomial.py:swapped": "theta",
    "beta_binomial.py:no_jacobian": "kappa",
}


@pytest.mark.parametrize("spec", list(BUGS))
def test_planted_bug_is_caught_by_cross_validation(spec):
    result = check(spec, sbc=False)
    assert result.verdict == "disagree" and result.exit_status == 1, result.reasons
    table = result.outcome.crossval.table
    flagged = set(table.loc[~table["ok"], "quantity"].str.split("[").str[0])
    assert BUGS[spec] in flagged, (flagged, result.reasons)


@functools.cache
def joint_bug():
    """``check`` of the reshape bug, with SBC: run once, read by the two halves below."""
    return check("kilpisjarvi.py:reshape_b", sims=SIMS)


def assert_marginals_pass(result):
    """Every marginal test passes: the first stage's z-tests of the means, sds and quantiles of a, b and sigma2,
    and the SBC ranks of a, b and sigma2."""
    table = result.outcome.crossval.table  # the first stage's z-tests
    marginal = table[table["quantity"] != LOGLIK]
    assert set(marginal["quantity"]) == {"a", "b", "sigma2"}
    assert marginal["ok"].all(), marginal.loc[~marginal["ok"]]
    (sbc,) = result.sbc
    ranks = sbc.table.set_index("quantity")["verdict"]
    assert (ranks.drop(LOGLIK) == "uniform").all(), sbc.table


def assert_loglik_fails(result):
    """The joint quantity fails: every loglik z-test (its mean lower: a and b of different draws make lines far
    from the data), the confirmed verdict names only loglik, and its SBC ranks are not uniform."""
    cv = result.outcome.crossval
    joint = cv.table[cv.table["quantity"] == LOGLIK].set_index("statistic")
    assert not joint["ok"].any(), joint
    assert joint.loc["mean", "z"] < 0
    findings = [r for r in cv.reasons if "differs" in r]
    assert cv.verdict == "disagree" and findings and all(LOGLIK in r for r in findings), cv.reasons
    (sbc,) = result.sbc
    assert sbc.table.set_index("quantity").loc[LOGLIK, "verdict"] == "non-uniform", sbc.table
    assert sbc.verdict == "miscalibrated"
    assert result.verdict == "disagree" and result.exit_status == 1


def test_joint_bug_passes_every_marginal_test():
    assert_marginals_pass(joint_bug())


def test_joint_bug_is_caught_by_loglik_in_cross_validation_and_sbc():
    assert_loglik_fails(joint_bug())
