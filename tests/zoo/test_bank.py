"""The posteriordb bank: our NUTS against gold-standard draws, a wrong model caught, anyone's sampler judged by
`check --reference`, and the tables that report it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from bayes_zoo import bank, cli
from bayes_zoo.registry import RunSettings, run_pair

QUICK = RunSettings(draws=1000, chains=2, warmup=500, seed=0, quick=True)
SCHOOLS = "eight_schools-eight_schools_noncentered"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "earnings_gibbs.py"


@pytest.fixture(scope="module")
def schools():
    """Eight schools at quick size: our NUTS (nutpie) against the reference, no figures."""
    return run_pair(bank.problem(SCHOOLS, figures=False), QUICK)


def test_eight_schools_agrees_with_its_reference_at_quick_size(schools):
    assert schools.verdict == "agree", schools.reasons
    compared = set(schools.crossval.table["quantity"])
    assert {"mu", "tau", "theta[1]", "theta[8]", "loglik"} <= compared  # the reference's scale, and the joint
    assert schools.results["reference"].posterior.sizes["chain"] == 10


def test_bank_run_of_a_regression_agrees_and_writes_its_report_and_row(tmp_path, capsys):
    status = cli.main(["bank", "run", "kidiq-kidscore_momhs", "--quick", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == cli.EXIT_OK, out
    assert "kidiq-kidscore_momhs: agree" in out
    report = (tmp_path / "bank" / "kidiq-kidscore_momhs" / "report.md").read_text()
    assert "**Verdict: agree**" in report and "beta[mom_hs]" in report
    assert "reference draws by Stan's NUTS with 10 chains" in report  # the reference's own record, not ours
    assert "The draws of reference were given, not sampled" in report  # so the two stages are not independent
    assert (tmp_path / "bank" / "kidiq-kidscore_momhs" / "report.html").is_file()


def test_a_prior_scale_off_by_ten_is_caught_against_the_reference():
    from functools import partial

    from bayes_zoo.models.bank import build_eight_schools_noncentered

    narrow = partial(build_eight_schools_noncentered, mu_sd=0.5)  # mu ~ normal(0, 0.5): Stan's scale / 10
    wrong = dataclasses.replace(bank.problem(SCHOOLS, figures=False), model=narrow)
    outcome = run_pair(wrong, QUICK)
    assert outcome.verdict == "disagree"
    assert outcome.crossval.confirmation is not None  # confirmed by a fresh NUTS run
    assert any("mu mean differs" in r for r in outcome.reasons)


def test_a_users_gibbs_sampler_is_judged_against_the_banks_draws(tmp_path, capsys):
    user = tmp_path / "my_gibbs.py"  # a user's file, in a folder of their own
    user.write_text(EXAMPLE.read_text())
    status = cli.main(["check", str(user), "--reference", "earnings-logearn_height", "--quick",
                       "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert status == cli.EXIT_OK, out
    assert "SBC skipped: the model's prior is improper (beta ~ Flat, sigma ~ HalfFlat)" in out
    report = (tmp_path / "out" / "check-earnings-gibbs" / "report.md").read_text()
    assert "gibbs vs reference" in report and "given, not sampled in this run" in report
    assert "reference draws by Stan's NUTS with 10 chains" in report  # the reference's own record
    status = cli.main(["check", f"{user}:rss_not_halved", "--reference", "earnings-logearn_height", "--quick",
                       "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert status == cli.EXIT_DISAGREE, out
    assert "sigma mean differs" in out


def test_with_reference_refuses_other_data_and_variables_the_reference_lacks():
    import importlib.util

    spec = importlib.util.spec_from_file_location("earnings_gibbs_for_test", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    problem = module.problem
    moved = dataclasses.replace(problem, data={**module.DATA, "log_earn": module.DATA["log_earn"] + 1.0})
    with pytest.raises(ValueError, match=r"^reference: the problem's data differ .* \['log_earn'\]"):
        bank.with_reference(moved, "earnings-logearn_height")
    with pytest.raises(ValueError, match="^reference: .*not a bundled posteriordb posterior"):
        bank.with_reference(problem, "earnings")
    with pytest.raises(ValueError, match=r"^reference: the problem's data share no key"):
        bank.with_reference(problem, SCHOOLS)
    renamed = dataclasses.replace(problem, variables=("beta", "s"))
    with pytest.raises(ValueError, match=r"^reference: .* not the compared variable\(s\) \['s'\]"):
        bank.with_reference(renamed, "earnings-logearn_height")
    judged = bank.with_reference(problem, "earnings-logearn_height")
    assert set(judged.sides) == {"gibbs", "reference"}  # NUTS does not run


def test_bank_list_names_every_posterior_and_its_status(capsys):
    assert cli.main(["bank", "list"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "35 posteriors bundled" in out
    for name in ("arK-arK", "sblri-blr", SCHOOLS):
        assert name in out


def test_an_unknown_posterior_is_a_usage_error_before_any_work(tmp_path, capsys):
    assert cli.main(["bank", "run", "eight_schools", "--out", str(tmp_path)]) == cli.EXIT_USAGE
    assert "NAME: 'eight_schools' is not a bundled posteriordb posterior" in capsys.readouterr().out
    assert not (tmp_path / "bank").exists() or not any((tmp_path / "bank").iterdir())


def test_the_table_lists_every_row_with_its_verdict_and_why():
    rows = [bank.BankRow("a-b", "linear regression", "agree", power=0.12, divergences=0, max_treedepth_share=0.0,
                         ess_per_second=812.0, wall_time=3.2, folder="/x/bank/a-b"),
            bank.BankRow("c-d", "hierarchical", "disagree", ("nuts: 18 divergent transitions",), divergences=18,
                         max_treedepth_share=0.02, wall_time=9.0),
            bank.BankRow("e-f", "", "not run", ("not expressed yet: no PyMC version",))]
    table = bank.markdown(rows, base=Path("/x/bank"))
    lines = table.splitlines()
    assert len(lines) == 2 + len(rows)
    assert "[`a-b`](a-b/report.md)" in table and "| 812 " in table
    assert "18 divergent transitions" in table and "2.0%" in table
    assert "not expressed yet" in table


def test_calibration_counts_disagree_among_healthy_runs_only():
    import pandas as pd

    frame = pd.DataFrame({"name": ["a"] * 4 + ["b"] * 4, "kind": ["k"] * 8, "seed": list(range(4)) * 2,
                          "verdict": ["agree", "disagree", "agree", "agree", "disagree", "disagree", "agree", "agree"],
                          "first_stage": ["agree", "disagree", "disagree", "agree"] + ["disagree"] * 2 + ["agree"] * 2,
                          "healthy": [True] * 4 + [False, True, True, True], "divergences": [0] * 8,
                          "max_rhat": [1.0] * 8, "min_ess": [900.0] * 8, "max_abs_z": [1.0] * 8, "seconds": [1.0] * 8})
    summary = bank.calibration_summary(frame).set_index("posterior")
    assert summary.loc["a", "disagree"] == 1 and summary.loc["a", "healthy"] == 4
    assert summary.loc["a", "first_disagree"] == 2
    assert summary.loc["b", "healthy"] == 3 and summary.loc["b", "disagree"] == 1
    assert summary.loc["b", "unhealthy_disagree"] == 1
    total = summary.loc["all 2 posteriors"]
    assert total["healthy"] == 7 and total["disagree"] == 2 and total["rate"] == pytest.approx(2 / 7)


def test_struggles_name_divergences_at_a_funnels_neck():
    import arviz as az

    rng = np.random.default_rng(0)
    tau = np.exp(rng.normal(size=(2, 500)))
    diverging = tau < np.quantile(tau, 0.02)  # divergences where tau is smallest
    idata = az.from_dict(posterior={"tau": tau, "mu": rng.normal(size=(2, 500))},
                         sample_stats={"diverging": diverging, "reached_max_treedepth": np.zeros((2, 500), bool)})
    idata.posterior.attrs["sampling_time"] = 1.0
    reference = az.from_dict(posterior={"tau": np.exp(rng.normal(size=(10, 100))), "mu": rng.normal(size=(10, 100))})
    lines = bank.struggles(idata, reference, ["mu", "tau"])
    assert lines[0].startswith("20 divergent transition(s) in 1000 draws")
    assert "`tau`" in lines[0] and "the neck of a funnel" in lines[0]
    assert bank.nuts_health(idata)["healthy"] is False


def test_calibration_by_kind_pools_the_posteriors_of_each_kind():
    import pandas as pd

    frame = pd.DataFrame({"name": ["a", "a", "b", "c"], "kind": ["k", "k", "k", "m"], "seed": [0, 1, 0, 0],
                          "verdict": ["agree", "disagree", "agree", "agree"], "first_stage": ["agree"] * 4,
                          "healthy": [True] * 4, "divergences": [0] * 4, "max_rhat": [1.0] * 4,
                          "min_ess": [900.0] * 4, "max_abs_z": [1.0] * 4, "seconds": [1.0] * 4})
    summary = bank.calibration_summary(frame, by="kind").set_index("posterior")
    assert summary.loc["k (2 posteriors)", "runs"] == 3 and summary.loc["k (2 posteriors)", "disagree"] == 1
    assert summary.loc["all 3 posteriors", "healthy"] == 4
    with pytest.raises(ValueError, match="^by:"):
        bank.calibration_summary(frame, by="seed")


def test_a_heavy_tail_is_named_with_its_pareto_k_and_a_light_one_is_not():
    # Student-t with nu degrees of freedom has tail index k = 1 / nu: nu = 2 (k 0.5, no variance) is heavy,
    # a normal (k 0) is not.
    import arviz as az

    rng = np.random.default_rng(1)
    assert bank.tail_khat(rng.standard_t(2, size=10_000)) == pytest.approx(0.5, abs=0.12)
    assert bank.tail_khat(rng.normal(size=10_000)) < 0.1
    reference = az.from_dict(posterior={"K_m": rng.standard_t(2, size=(10, 1000)), "k_a": rng.normal(size=(10, 1000))})
    lines = bank.heavy_tails(reference, ["K_m", "k_a"])
    assert len(lines) == 1 and lines[0].startswith("`K_m`: Pareto k-hat")


def _user_problem(terms, *, outcome="kid_score", shift=0.0):
    """A user's own model for kidiq_with_mom_work-kidscore_mom_work, its coefficients labelled ``terms``."""
    import pymc as pm

    from bayes_zoo.problem import Problem

    data = dict(bank.load_data("kidiq_with_mom_work-kidscore_mom_work"))
    data = {**data, "y": np.asarray(data["kid_score"], float) + shift}
    columns = {"intercept": np.ones(len(data["y"])), "work2": data["work2"], "work3": data["work3"],
               "work4": data["work4"]}

    def model(d):
        X = np.column_stack([columns.get(t, list(columns.values())[i]) for i, t in enumerate(terms)])
        with pm.Model(coords={"term": list(terms)}) as m:
            beta = pm.Flat("beta", dims="term")
            sigma = pm.HalfFlat("sigma")
            pm.Normal(outcome, mu=pm.math.dot(X, beta), sigma=sigma, observed=d[outcome])
        return m

    def sampler(d, *, seed, draws, chains):  # never called by these tests
        raise AssertionError

    return Problem(name="mine", data=data, model=model, sides={"mine": sampler})


def test_with_reference_matches_coefficients_by_label_and_refuses_other_labels():
    # Stan's beta[1..4] are (intercept, work2, work3, work4): a user's labels in another order are matched by
    # label, never by position; labels the reference does not have are refused before any work.
    shuffled = bank.with_reference(_user_problem(["intercept", "work4", "work3", "work2"]),
                                   "kidiq_with_mom_work-kidscore_mom_work")
    reference = shuffled.sides["reference"].sample
    draws = reference({}, seed=0, draws=1, chains=1)
    from bayes_zoo.models import posteriordb

    stan = posteriordb.reference_arrays("kidiq_with_mom_work-kidscore_mom_work")["beta"]
    np.testing.assert_array_equal(draws["beta"][..., 1], stan[..., 3])  # the user's work4 is Stan's beta[4]
    with pytest.raises(ValueError, match=r"^reference: `beta`'s coordinate labels are \['b1'"):
        bank.with_reference(_user_problem(["b1", "b2", "b3", "b4"]), "kidiq_with_mom_work-kidscore_mom_work")


def test_with_reference_refuses_observations_that_are_not_the_posteriors():
    # Renaming a key is no way around the data check: every observed variable must observe posteriordb's data.
    with pytest.raises(ValueError, match=r"^reference: the observed `y` is none of posteriordb's"):
        bank.with_reference(_user_problem(["intercept", "work2", "work3", "work4"], outcome="y", shift=5.0),
                            "kidiq_with_mom_work-kidscore_mom_work")
    fine = bank.with_reference(_user_problem(["intercept", "work2", "work3", "work4"], outcome="y"),
                               "kidiq_with_mom_work-kidscore_mom_work")
    assert "reference" in fine.sides
