"""bayes_zoo.inference.sbc: calibration verdicts on samplers known right or wrong, identical results on every backend,
failures reported, seeds, ranks and ties, the uniformity test, the ECDF plot, bad arguments.

The toy problems are conjugate: ``mu ~ N(0, 1)``, ``y_i | mu ~ N(mu, 1)`` for ``i = 1..5``, whose posterior is
``N(sum(y) / 6, 1 / 6)`` exactly, so an iid sampler of it is right by construction and one with the posterior
sd halved is wrong by construction.  They live at module level so that worker processes can unpickle them:
loky ships them by value (``cloudpickle.register_pickle_by_value`` below, whatever path its workers started
with); Dask pickles them by reference, and its workers import this module, the repository root being on their
path (the ``cluster`` fixture).  Code shipped by value loses its file name (cloudpickle writes
``<dynamic-code>``), and a failure's error text holds the last frames of its traceback: the failing toy raises
inside importable code (``bayes_zoo.models.checks``), so that its error text is the same in every process.

Times on two idle cores: about 30 s for the whole file, of which ~5 s start loky's two workers (each imports
ArviZ and the models) and ~6 s start the Dask cluster and run its first tasks.
"""

from __future__ import annotations

import sys

import cloudpickle
import numpy as np
import pandas as pd
import pytest

from bayes_zoo.inference.sbc import SBCProblem, SBCResult, plot_ecdf, run_sbc, simulate_once, simulation_seeds, uniformity
from bayes_zoo.models.normal_gamma import sufficient_statistics
from bayes_zoo.pairs import normal_gamma

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # loky workers need not import this file

N_OBS = 5
#: Observations above it are lost (NaN) in the failing toy: some of the 5 are lost in 24% of simulations.
SATURATION = 2.0
#: Simulations of the calibration tests: 20 bins of 5 possible ranks (L = 99), 10 expected per bin.
SIMS = 200


# ------------------------------------------------------------------------------------------- toy problems


def _simulate(rng):
    mu = float(rng.normal())
    return {"mu": mu}, rng.normal(mu, 1.0, size=N_OBS)


def _exact(y, seed, *, sd_factor=1.0):
    """iid draws from the exact posterior N(sum(y) / (n + 1), 1 / (n + 1)), times ``sd_factor`` in sd."""
    rng = np.random.default_rng(seed)
    return {"mu": rng.normal(y.sum() / (y.size + 1), sd_factor * (y.size + 1) ** -0.5, size=(2, 200))}


def _too_narrow(y, seed):
    return _exact(y, seed, sd_factor=0.5)


def _simulate_saturating(rng):
    """As :func:`_simulate`, but an observation above ``SATURATION`` is lost (NaN), as from a saturated sensor."""
    truth, y = _simulate(rng)
    return truth, np.where(y > SATURATION, np.nan, y)


def _exact_from_sufficient_statistics(y, seed):
    """The exact sampler, fed by :func:`bayes_zoo.models.normal_gamma.sufficient_statistics`, which refuses NaN: it raises
    two calls down, inside importable code, so the error text is the same in every process."""
    n, mean, _ = sufficient_statistics(y)
    rng = np.random.default_rng(seed)
    return {"mu": rng.normal(n * mean / (n + 1), (n + 1) ** -0.5, size=(2, 200))}


def _nan_when_first_observation_below_minus_one(y, seed):
    draws = _exact(y, seed)
    if y[0] < -1.0:
        draws["mu"][1, 17] = np.nan
    return draws


def _simulate_truth_as_data(rng):
    mu = float(rng.normal())
    return {"mu": mu}, mu


def _every_draw_equals_the_truth(mu, seed):
    return {"mu": np.full((2, 100), mu)}


def _simulate_two(rng):
    mu = float(rng.normal())
    return {"fast": mu, "slow": mu}, mu


def _one_fast_one_slow(mu, seed):
    """2 chains x 2000 draws of each quantity: ``fast`` independent, ``slow`` an AR(1) with rho = 0.99 (ESS ~20)."""
    rng = np.random.default_rng(seed)
    slow = np.empty((2, 2000))
    slow[:, 0] = rng.normal(size=2)
    noise = rng.normal(size=(2, 2000)) * np.sqrt(1 - 0.99**2)
    for t in range(1, 2000):
        slow[:, t] = 0.99 * slow[:, t - 1] + noise[:, t]
    return {"fast": mu + rng.normal(size=(2, 2000)), "slow": mu + slow}


EXACT = SBCProblem("toy/exact", _simulate, _exact)
TOO_NARROW = SBCProblem("toy/sd halved", _simulate, _too_narrow)
FAILING = SBCProblem("toy/refuses lost observations", _simulate_saturating, _exact_from_sufficient_statistics)


def _synthetic(ranks: dict[str, np.ndarray], kept: int = 99) -> SBCResult:
    """An SBCResult holding the given ranks per quantity (no sampler run)."""
    frames = [pd.DataFrame({"sim": np.arange(len(r)), "seed": 0, "quantity": q, "rank": np.asarray(r), "ess": 400.0,
                            "thin": 1, "ess_short": False}) for q, r in ranks.items()]
    sims = max(len(r) for r in ranks.values())
    failures = pd.DataFrame(columns=["sim", "seed", "error"])
    return SBCResult("synthetic", pd.concat(frames, ignore_index=True), failures, kept, sims, 0)


# ---------------------------------------------------------------------------------- the planted bug


@pytest.mark.slow  # make test: tests/zoo/test_sbc_cli.py's correct-Gibbs test asserts the same at 100 simulations
def test_correct_normal_gamma_gibbs_gives_uniform_ranks():
    result = run_sbc(normal_gamma.PAIR.sbc(quick=True)["handwritten"], sims=SIMS, seed=0, jobs=2)
    table = uniformity(result)
    assert result.failures.empty, result.failures.to_string()
    assert sorted(table["quantity"]) == ["beta", "loglik", "mu"]
    assert (table["verdict"] == "uniform").all(), table.to_string()


def test_planted_bug_gamma_rate_as_scale_gives_non_uniform_ranks():
    result = run_sbc(normal_gamma.PAIR.sbc(quick=True, planted_bug=True)["handwritten"], sims=SIMS, seed=0, jobs=2)
    table = uniformity(result).set_index("quantity")
    assert result.failures.empty, result.failures.to_string()
    assert table.loc["beta", "verdict"] == "non-uniform", table.to_string()


# ------------------------------------------------------------------------- power on a case we control


def test_exact_posterior_sampler_gives_uniform_ranks():
    table = uniformity(run_sbc(EXACT, sims=SIMS, seed=1))
    assert table.loc[0, "verdict"] == "uniform", table.to_string()


def test_sampler_with_posterior_sd_halved_gives_non_uniform_ranks():
    table = uniformity(run_sbc(TOO_NARROW, sims=SIMS, seed=1))
    assert table.loc[0, "verdict"] == "non-uniform", table.to_string()


# ------------------------------------------------------------------------------- ranks and their ties


def test_ranks_take_only_the_values_zero_to_kept_and_reach_both_ends():
    # Too narrow a posterior puts the truth below or above every kept draw often: both ends are reached.
    ranks = run_sbc(TOO_NARROW, sims=SIMS, seed=1, kept=9).ranks["rank"]
    assert set(ranks) <= set(range(10))
    assert ranks.min() == 0 and ranks.max() == 9


def test_ties_with_the_truth_are_broken_at_random_over_zero_to_kept():
    # Every draw equals the truth: without tie-breaking every rank would be 0 (no draw below it).
    result = run_sbc(SBCProblem("toy/ties", _simulate_truth_as_data, _every_draw_equals_the_truth), sims=SIMS, seed=2)
    ranks = result.ranks["rank"]
    assert ranks.between(0, result.kept).all()
    assert ranks.nunique() > 50
    assert uniformity(result).loc[0, "verdict"] == "uniform"


def test_thinning_follows_the_slowest_quantity_and_flags_a_run_too_short_for_it():
    # One quantity mixes well (ESS ~4000), the other slowly (AR(1), rho = 0.99): the thinning is set by the
    # smaller bulk ESS (ArviZ's, computed here), so it keeps one draw in ~200, too few for L = 99 draws, and
    # the simulation is flagged "run longer".
    # Caught: thinning by the largest ESS (thin 1, no flag: the slow quantity's ranks come from correlated draws).
    import arviz as az

    record = simulate_once(SBCProblem("toy/one slow", _simulate_two, _one_fast_one_slow), 0, 123)
    assert record["error"] is None, record["error"]
    streams = np.random.SeedSequence(123).spawn(3)
    _, mu = _simulate_two(np.random.default_rng(streams[0]))
    draws = _one_fast_one_slow(mu, int(streams[1].generate_state(1)[0]))
    ess = {k: float(az.ess(v, method="bulk")) for k, v in draws.items()}
    assert ess["slow"] < 100 < 2000 < ess["fast"]  # the setting
    assert record["ess"] == pytest.approx(ess["slow"], rel=1e-12)
    assert record["thin"] == int(np.ceil(4000 / ess["slow"]))
    assert record["ess_short"]


# ----------------------------------------------------------------------------------------------- seeds


def test_simulation_seeds_of_the_first_sims_do_not_depend_on_how_many_are_asked():
    # SeedSequence.spawn(n)[i] is SeedSequence(seed, spawn_key=(i,)), whatever n: simulation i's seed is
    # a function of (seed, i) alone, so a longer run extends a shorter one.
    short, long = simulation_seeds(7, 10), simulation_seeds(7, 25)
    assert short == long[:10]
    assert len(set(long)) == 25
    assert simulation_seeds(8, 10) != short


def test_a_longer_run_repeats_the_ranks_of_a_shorter_one_with_the_same_seed():
    short, long = run_sbc(EXACT, sims=15, seed=4), run_sbc(EXACT, sims=30, seed=4)
    pd.testing.assert_frame_equal(short.ranks, long.ranks[long.ranks["sim"] < 15].reset_index(drop=True))


# -------------------------------------------------------------------------------------------- failures


def test_a_raising_simulation_is_reported_with_its_seed_and_error_and_the_others_keep_their_ranks():
    seen = []
    result = run_sbc(FAILING, sims=40, seed=5, progress=seen.append)
    failed, ranked = set(result.failures["sim"]), set(result.ranks["sim"])
    assert 0 < len(failed) < 40
    assert failed.isdisjoint(ranked) and failed | ranked == set(range(40))
    seeds = simulation_seeds(5, 40)
    for row in result.failures.itertuples():
        assert row.seed == seeds[row.sim]
        assert row.error.startswith("ValueError: x: holds "), row.error  # the sampler's input check
        assert "non-finite value(s)" in row.error and "finite_vector" in row.error  # message, traceback's last frame
        assert simulate_once(FAILING, row.sim, row.seed)["error"] == row.error  # it fails again, the same way
    assert [r["sim"] for r in seen] == list(range(40))  # progress saw the failures too


def test_nan_draws_make_a_simulation_fail_not_rank():
    problem = SBCProblem("toy/nan", _simulate, _nan_when_first_observation_below_minus_one)
    result = run_sbc(problem, sims=40, seed=5)
    assert not result.failures.empty
    assert result.failures["error"].str.startswith("ValueError: sample: non-finite draws").all()
    assert set(result.failures["sim"]).isdisjoint(result.ranks["sim"])
    assert result.failures["sim"].nunique() + result.ranks["sim"].nunique() == 40


# ------------------------------------------------------------------------------------ backends agree


@pytest.fixture(scope="module")
def cluster(dask_cluster):
    """The session's local Dask cluster (tests/conftest.py): 2 worker processes, 1 thread each; its workers can import
    this module."""
    return dask_cluster


PROBLEMS = {"normal-gamma gibbs": lambda: normal_gamma.PAIR.sbc(quick=True)["handwritten"],
            "toy that fails for some seeds": lambda: FAILING}


@pytest.fixture(scope="module", params=list(PROBLEMS))
def reference(request):
    """(problem, result) of 20 simulations, seed 11, in this process (jobs=1)."""
    problem = PROBLEMS[request.param]()
    result = run_sbc(problem, sims=20, seed=11, jobs=1)
    assert not result.ranks.empty and (result.failures.empty == (problem is not FAILING))  # both kinds of row
    return problem, result


def _assert_same(result, expected):
    pd.testing.assert_frame_equal(result.ranks, expected.ranks)
    pd.testing.assert_frame_equal(result.failures, expected.failures)


def test_two_loky_workers_give_the_same_ranks_and_failures_as_one_process(reference):
    problem, expected = reference
    _assert_same(run_sbc(problem, sims=20, seed=11, jobs=2), expected)


def test_a_dask_cluster_through_its_client_gives_the_same_ranks_and_failures_as_one_process(reference, cluster):
    from distributed import Client, get_task_stream

    problem, expected = reference
    with Client(cluster) as client, get_task_stream(client) as stream:
        result = run_sbc(problem, sims=20, seed=11, scheduler=client)
    assert len(stream.data) > 0  # the simulations ran on the cluster (joblib runs locally with 1 worker core)
    _assert_same(result, expected)


def test_a_dask_cluster_through_its_address_gives_the_same_ranks_and_failures_as_one_process(reference, cluster):
    problem, expected = reference
    _assert_same(run_sbc(problem, sims=20, seed=11, scheduler=cluster.scheduler_address), expected)


def test_a_client_that_is_not_dasks_default_one_runs_the_simulations_itself(cluster):
    # joblib's Dask backend falls back on Dask's default client: run_sbc must hand it the one it was given
    # (with none other about, a client made with set_as_default=False used to fail outright).
    from distributed import Client, get_task_stream

    with Client(cluster, set_as_default=False) as client, get_task_stream(client) as stream:
        result = run_sbc(EXACT, sims=6, seed=11, scheduler=client)
    assert len(stream.data) > 0
    _assert_same(result, run_sbc(EXACT, sims=6, seed=11, jobs=1))


# ------------------------------------------------------------------------------------------ uniformity


def test_uniformity_says_uniform_for_exactly_uniform_counts():
    table = uniformity(_synthetic({"mu": np.repeat(np.arange(100), 2)}))  # 10 per bin of 5 ranks
    assert table.loc[0, "chi2"] == 0.0 and table.loc[0, "p_value"] == pytest.approx(1.0)
    assert table.loc[0, "verdict"] == "uniform"


def test_uniformity_says_non_uniform_when_every_rank_is_zero():
    assert uniformity(_synthetic({"mu": np.zeros(200, dtype=int)})).loc[0, "verdict"] == "non-uniform"


def test_uniformity_says_too_few_simulations_below_five_expected_per_bin():
    fifty = _synthetic({"mu": np.arange(0, 100, 2)})  # 50 simulations spread evenly
    assert uniformity(fifty, bins=20).loc[0, "verdict"] == "too few simulations"  # 2.5 expected per bin
    assert uniformity(fifty, bins=10).loc[0, "verdict"] == "uniform"  # 5 expected per bin


def test_uniformity_applies_bonferroni_over_the_quantities():
    table = uniformity(_synthetic({q: np.repeat(np.arange(100), 2) for q in ("a", "b", "c", "d")}), alpha=0.02)
    assert np.allclose(table["threshold"], 0.005)


@pytest.mark.parametrize("bins", [7, 1, 0])
def test_uniformity_refuses_bins_that_do_not_divide_the_possible_ranks(bins):
    with pytest.raises(ValueError, match="^bins:"):
        uniformity(_synthetic({"mu": np.zeros(200, dtype=int)}), bins=bins)


# ----------------------------------------------------------------------------------------------- plot


def test_plot_ecdf_draws_one_visible_panel_per_quantity():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    quantities = ["mu", "beta", "w[0]", "w[1]", "sigma2"]
    fig = plot_ecdf(_synthetic({q: rng.integers(0, 100, size=100) for q in quantities}))
    try:
        visible = [ax for ax in fig.axes if ax.get_visible()]
        assert [ax.get_title() for ax in visible] == quantities  # 2 x 4 grid: 3 panels hidden
        assert len(fig.axes) == 8
    finally:
        plt.close(fig)


# ------------------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(problem=(_simulate, _exact), sims=10), "problem"),
        (dict(problem=EXACT, sims=0), "sims"),
        (dict(problem=EXACT, sims=2.5), "sims"),
        (dict(problem=EXACT, sims=10, jobs=0), "jobs"),
        (dict(problem=EXACT, sims=10, jobs=True), "jobs"),
        (dict(problem=EXACT, sims=10, seed=-1), "seed"),
        (dict(problem=EXACT, sims=10, kept=0), "kept"),
    ],
    ids=["not-a-problem", "zero-sims", "fractional-sims", "zero-jobs", "bool-jobs", "negative-seed", "zero-kept"],
)
def test_run_sbc_names_its_bad_argument(kwargs, name):
    problem = kwargs.pop("problem")
    with pytest.raises(ValueError, match=f"^{name}:"):
        run_sbc(problem, **kwargs)
