"""Simulation-based calibration throughput: simulations per second with 1 and with 2 local workers (joblib loky).

What is measured
----------------
The whole call ``bayes_zoo.inference.sbc.run_sbc(problem, sims=S, seed=--seed, jobs=J)`` for ``J = 1`` (every simulation
in this process) and ``J = --workers`` (default 2; joblib's loky processes), on the SBC problems of the registered
problems (``bayes_zoo.problem.sbc_problems``):

* **normal-gamma Gibbs**: ``bayes_zoo.problem.sbc_problems(REGISTRY["normal-gamma"], ["gibbs"], quick=False)``,
  the settings of ``make validate`` (20 observations, 2 chains x 1000 draws after 1000 warm-up),
  ``--sims`` (500) simulations;
* **spike-and-slab Gibbs** (SSVS), with small settings: ``sbc_problems(REGISTRY["spike-slab"], ["gibbs"],
  quick=True)`` (its quick sampler settings), ``--spike-sims`` (200) simulations; left out, and the file says
  so, when the pair is not registered or has no Gibbs side.

A simulation is: a prior draw and a data set, the sampler, ArviZ's bulk ESS, thinning, the ranks
(:func:`bayes_zoo.inference.sbc.simulate_once`).  **simulations/s** is ``S`` over the median seconds of the whole call;
the last column is the 2-worker figure over the 1-worker one (2.0x at best on two free cores).  Both use the
same root seed, so they run the same simulations; the file says whether their ranks and failures came out
identical (they must: every simulation's randomness derives from its own seed).

Each call is run once untimed first (numba's compiled chains, ArviZ, and at 2 workers the worker processes all
loaded), then timed ``--repeats`` (3) times with ``time.perf_counter``, the 1- and 2-worker calls interleaved
(one of each in turn), so that other work on the machine weighs on both alike; the median is reported, the
minimum beside it.

NUTS-side SBC throughput
------------------------
One NUTS simulation of normal-gamma SBC (``NG_N`` = 20 observations from the default prior, 2 chains x
``--nuts-draws`` (1000) draws after as many tuning steps, the pair's ``sbc(quick=False)`` settings), done two ways
on the same ``--nuts-sims`` (6) data sets and seeds, side by side, the two interleaved (today's first):

* **recompile per simulation** (today's NUTS side): ``sample_nuts(build_pymc_model(x, DEFAULT_PRIOR), draws=,
  tune=, chains=2, seed=)`` per simulation, building the model and compiling its log density and gradient each
  time (called here directly, not through the pair's module);
* **compiled once**: :class:`bayes_zoo.inference.sbc_model.NutsSide` on the same model, built and compiled at
  its first simulation, later ones only setting the data.

Each simulation's call is timed once; the first simulation (compilation included) is reported apart from the
later ones (median and minimum), with the ratio; the file says whether both sides drew the same values (they
must: the compiled-once side reproduces ``pymc.sample`` step for step).

Worker start-up
---------------
Starting the pool is a one-off cost, paid by the first parallel call of a process and left out of the
throughput: loky spawns fresh Python processes, and each imports NumPy, ArviZ, PyTensor's configuration and
the pair's module and loads numba's cached code before its first simulation.  It is measured first, on its
own: loky's reusable pool is shut down (so the test that runs this script at ``--quick`` size measures a cold
start as well), then ``run_sbc(normal-gamma, sims=--startup-sims, jobs=--workers)`` is timed cold and then
warm; the difference is the start-up.
"""

from __future__ import annotations

import time

_PROCESS_START = time.perf_counter()  # the reported total includes importing PyMC

import bayes_zoo

bayes_zoo.configure()  # first: PyTensor's BLAS, before PyMC is imported

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common.py, also when a test loads this file by path
import _common as common  # noqa: E402

import bayes_zoo.pairs  # noqa: E402,F401  (registers every pair)
from bayes_zoo.inference.sbc import DEFAULT_KEPT, run_sbc, simulation_seeds  # noqa: E402
from bayes_zoo.registry import REGISTRY  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "sbc.md"
FULL = {"sims": 500, "spike_sims": 200, "workers": 2, "startup_sims": 4, "repeats": 3, "nuts_sims": 6,
        "nuts_draws": 1000}
QUICK = {"sims": 20, "spike_sims": 10, "workers": 2, "startup_sims": 4, "repeats": 1, "nuts_sims": 2,
         "nuts_draws": 100}
HELP = {
    "sims": "simulations per timed call, normal-gamma Gibbs",
    "spike_sims": "simulations per timed call, spike-and-slab Gibbs (quick sampler settings)",
    "workers": "local worker processes compared with 1 (joblib loky)",
    "startup_sims": "simulations of the cold and warm calls that measure the pool's start-up",
    "repeats": "timed calls per worker count; the median is reported",
    "nuts_sims": "normal-gamma NUTS simulations timed per side (recompile per simulation vs compiled once)",
    "nuts_draws": "NUTS draws per chain (and as many tuning steps), 2 chains, in the NUTS-side comparison",
}
#: Observations per simulated normal-gamma data set (as the pair's `sbc_data`).
NG_N = 20


def _settings_text(problem, quick: bool) -> str:
    from bayes_zoo.problem import SBC_SETTINGS

    r = (problem.sbc_settings or SBC_SETTINGS)[bool(quick)]
    return f"{r.chains} chains x {r.draws:,} draws after {r.warmup:,} warm-up"


def _template(problem, quick: bool):
    """The data template SBC simulates on (``Problem.sbc_data``: a mapping or a function of ``quick``)."""
    from collections.abc import Mapping

    return problem.sbc_data if isinstance(problem.sbc_data, Mapping) else problem.sbc_data(quick)


def problems(s: common.Settings) -> list[tuple[str, object, int, str]]:
    """``(label, SBCProblem, simulations per call, sampler settings)`` of each benchmarked sampler."""
    from bayes_zoo.problem import sbc_problems

    ng = REGISTRY["normal-gamma"]
    rows = [("normal-gamma Gibbs", sbc_problems(ng, ["gibbs"], quick=s.quick)["gibbs"], s.sims,
             f"{np.size(_template(ng, s.quick)['x'])} observations, {_settings_text(ng, s.quick)} "
             f"(`sbc_problems(quick={s.quick})`)")]
    spike = REGISTRY.get("spike-slab")
    if spike is not None and "gibbs" in spike.sides and (spike.simulate is not None or spike.model is not None):
        rows.append(("spike-and-slab Gibbs", sbc_problems(spike, ["gibbs"], quick=True)["gibbs"], s.spike_sims,
                     f"the pair's quick SBC settings ({_settings_text(spike, True)}; `sbc_problems(quick=True)`)"))
    return rows


def cold_pool() -> None:
    """Shut loky's reusable pool down, if one runs, so that the next parallel call starts fresh workers."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)


def startup(problem, s: common.Settings) -> tuple[float, float]:
    """Seconds of the same small call at ``--workers`` workers: first on a cold pool, then on the warm one."""
    cold_pool()
    cold = common.time_calls(lambda: run_sbc(problem, sims=s.startup_sims, seed=s.seed, jobs=s.workers), 1)[0][0]
    warm = common.time_calls(lambda: run_sbc(problem, sims=s.startup_sims, seed=s.seed, jobs=s.workers), 1)[0][0]
    return cold, warm


def timed(problem, sims: int, s: common.Settings):
    """One untimed call per worker count, then ``repeats`` interleaved rounds: jobs -> seconds, jobs -> result."""
    jobs = (1, s.workers)
    results = {j: run_sbc(problem, sims=sims, seed=s.seed, jobs=j) for j in jobs}
    seconds = {j: () for j in jobs}
    for _ in range(s.repeats):
        for j in jobs:
            took, results[j] = common.time_calls(lambda: run_sbc(problem, sims=sims, seed=s.seed, jobs=j), 1)
            seconds[j] += took
    return seconds, results


def identical(a, b) -> bool:
    return a.ranks.equals(b.ranks) and a.failures.equals(b.failures)


def throughput_frame(sims: int, seconds: dict, results: dict, workers: int) -> pd.DataFrame:
    """Metrics as rows, 1 worker | N workers | N / 1 as columns, formatted for display."""
    one, many = seconds[1], seconds[workers]
    med1, med2 = common.median_s(one), common.median_s(many)
    failed = [len(results[j].failures) for j in (1, workers)]
    rows = [
        ("simulations per call", f"{sims:,}", f"{sims:,}", ""),
        ("wall-clock s, median of calls", f"{med1:.3f}", f"{med2:.3f}", ""),
        ("wall-clock s, min of calls", f"{min(one):.3f}", f"{min(many):.3f}", ""),
        ("ms per simulation (median)", f"{1e3 * med1 / sims:.2f}", f"{1e3 * med2 / sims:.2f}", ""),
        ("failed simulations", f"{failed[0]}", f"{failed[1]}", ""),
        ("ranks and failures identical to 1 worker's", "", "yes" if identical(results[1], results[workers]) else "NO",
         ""),
        ("simulations/s (simulations / median s)", common.rate(sims / med1), common.rate(sims / med2),
         common.ratio(med1, med2)),
    ]
    columns = ["metric", "1 worker", f"{workers} workers", f"{workers} workers / 1"]
    return pd.DataFrame(rows, columns=columns).set_index("metric")


def startup_frame(s: common.Settings, cold: float, warm: float) -> pd.DataFrame:
    rows = [
        (f"first call, cold pool ({s.startup_sims} simulations)", f"{cold:.2f}"),
        ("the same call, warm pool", f"{warm:.2f}"),
        ("one-off start-up (difference)", f"{cold - warm:.2f}"),
    ]
    return pd.DataFrame(rows, columns=[f"{s.workers} loky workers, normal-gamma Gibbs", "s"]).set_index(
        f"{s.workers} loky workers, normal-gamma Gibbs")


def _ng_build(data):
    """Normal-gamma's PyMC model as a builder of a data mapping ``{"x": ...}`` (its observed variable is ``x``)."""
    from bayes_zoo.models.normal_gamma import DEFAULT_PRIOR, build_pymc_model

    return build_pymc_model(data["x"], DEFAULT_PRIOR)


def nuts_sides(s: common.Settings):
    """Per simulation, interleaved: PyMC's NUTS rebuilt and recompiled, PyMC's NUTS compiled once (``NutsSide``) and
    nutpie compiled once (``NutsSide``, the default); seconds per side and whether each compiled-once side drew
    what a fresh ``sample_nuts`` with the same NUTS draws."""
    from bayes_zoo.inference.nuts import sample_nuts
    from bayes_zoo.inference.sbc_model import NutsSide
    from bayes_zoo.models import normal_gamma as ng

    seeds = simulation_seeds(s.seed, s.nuts_sims)
    template = {"x": np.zeros(NG_N)}
    datasets = [ng.simulate(np.random.default_rng(seed), template)[1]["x"] for seed in seeds]
    sides = {name: NutsSide(_ng_build, {"x": datasets[0]}, sampler=name) for name in ("pymc", "nutpie")}
    seconds = {"pymc, recompile": [], "pymc": [], "nutpie": []}
    same = {"pymc": [], "nutpie": []}
    for i, (seed, x) in enumerate(zip(seeds, datasets)):
        fresh = {}
        for name in ("pymc", "nutpie")[: 2 if i == 0 else 1]:  # nutpie's fresh run compiles: first data set only
            took, idata = common.time_calls(
                lambda: sample_nuts(ng.build_pymc_model(x, ng.DEFAULT_PRIOR), draws=s.nuts_draws, tune=s.nuts_draws,
                                    chains=2, seed=seed, log_likelihood=False, posterior_predictive=False,
                                    sampler=name), 1)
            fresh[name] = idata
            if name == "pymc":
                seconds["pymc, recompile"].append(took[0])
        for name, side in sides.items():
            took, draws = common.time_calls(
                lambda: side({"x": x}, seed=seed, draws=s.nuts_draws, chains=2, warmup=s.nuts_draws), 1)
            seconds[name].append(took[0])
            if name in fresh:
                same[name].append(all(np.array_equal(fresh[name].posterior[k].values, draws[k])
                                      for k in ("mu", "beta")))
    return {k: tuple(v) for k, v in seconds.items()}, {k: all(v) for k, v in same.items()}


NUTS_COLUMNS = {"pymc, recompile": "PyMC NUTS, recompiled per simulation", "pymc": "PyMC NUTS, compiled once",
                "nutpie": "nutpie, compiled once (default)"}


def nuts_frame(seconds, same) -> pd.DataFrame:
    """Metrics as rows, one column per NUTS side (:data:`NUTS_COLUMNS`), formatted for display."""
    def later(v):
        return v[1:] or v

    rows = [
        ("simulations timed", *[f"{len(seconds[k])}" for k in NUTS_COLUMNS]),
        ("first simulation s (compilation included)", *[f"{seconds[k][0]:.3f}" for k in NUTS_COLUMNS]),
        ("later simulations s, min", *[f"{min(later(seconds[k])):.3f}" for k in NUTS_COLUMNS]),
        ("later simulations s, median", *[f"{common.median_s(later(seconds[k])):.3f}" for k in NUTS_COLUMNS]),
        ("later simulations s, max", *[f"{max(later(seconds[k])):.3f}" for k in NUTS_COLUMNS]),
        ("same draws as a fresh sample_nuts with that NUTS", "",
         *["yes" if same[k] else "NO" for k in ("pymc", "nutpie")]),
    ]
    return pd.DataFrame(rows, columns=["metric", *NUTS_COLUMNS.values()]).set_index("metric")


def nuts_claims(seconds) -> list:
    """The README's figures: nutpie's seconds per later simulation (target <= 1 s) and its speed-up over PyMC
    compiled once, paired per simulation."""
    later = seconds["nutpie"][1:] or seconds["nutpie"]
    per_sim = common.median_s(later)
    ratios = common.paired_ratios(seconds["pymc"][1:] or seconds["pymc"], later)
    return [
        common.Claim("sbc.nuts_side_seconds", f"NUTS-side SBC of normal-gamma (nutpie, compiled once): seconds per "
                     f"simulation after the first", later, "<= 1 s", per_sim <= 1.0, unit="s"),
        common.Claim("sbc.nutpie_vs_pymc", "NUTS-side SBC of normal-gamma, per simulation after the first: PyMC's "
                     "NUTS compiled once / nutpie compiled once", ratios),
    ]


def main(argv=None) -> int:
    s = common.parse_settings(__doc__.split("\n\n")[0], argv, helps=HELP, full=FULL, quick=QUICK,
                              default_out=DEFAULT_OUT)
    load_start = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    benched = problems(s)
    cold, warm = startup(benched[0][1], s)
    quick = " (--quick)" if s.quick else ""
    frames, timed_s, body = [], {}, []
    for label, problem, sims, settings in benched:
        seconds, results = timed(problem, sims, s)
        frame = throughput_frame(sims, seconds, results, s.workers)
        frames.append((f"SBC, {label}: 1 vs {s.workers} workers{quick}", frame))
        timed_s.update({f"{label}, {j} worker(s)": v for j, v in seconds.items()})
        body += [f"## {label}", "", common.markdown_table(frame), "",
                 f"Problem `{problem.name}`: {settings}; root seed {s.seed}, L = {DEFAULT_KEPT} kept draws per "
                 "simulation.", ""]
    nuts_seconds, same = nuts_sides(s)
    nuts = nuts_frame(nuts_seconds, same)
    frames.append((f"NUTS-side SBC throughput, normal-gamma{quick}", nuts))
    timed_s.update({f"NUTS side, {NUTS_COLUMNS[k]}": v for k, v in nuts_seconds.items()})
    start_frame = startup_frame(s, cold, warm)
    common.print_tables(*frames, (f"worker start-up{quick}", start_frame))
    if len(benched) == 1:
        body += ["The spike-and-slab pair is not registered (or has no Gibbs side): its row is left out.", ""]
    body += [
        "## NUTS-side SBC throughput",
        "",
        common.markdown_table(nuts),
        "",
        f"One simulation of normal-gamma SBC's NUTS side: {NG_N} observations from the default prior, 2 chains x "
        f"{s.nuts_draws:,} draws after {s.nuts_draws:,} tuning steps, in this process (1 worker).  **Recompiled per "
        "simulation**: `sample_nuts(build_pymc_model(x, DEFAULT_PRIOR), sampler=\"pymc\", ...)` per simulation, "
        "which builds the model and compiles its log density and gradient each time.  **Compiled once** is "
        "`bayes_zoo.inference.sbc_model.NutsSide`: the model built with its data as shared variables and compiled "
        "at the first simulation; later ones only hand over the data and sample (PyMC: jitter the starting points, "
        "reset the step size and mass-matrix adaptation; nutpie: `with_data`, then `nutpie.sample`).  The same "
        f"{s.nuts_sims} data sets and seeds on every side, interleaved per simulation, each call timed once; the "
        "first simulation (compilation included) apart from the later ones.  \"Same draws\" compares each "
        "compiled-once side with a fresh `sample_nuts` of the same NUTS on the same data and seed (nutpie: the "
        "first data set only, since a fresh nutpie run compiles).  What is left "
        "per simulation of PyMC's NUTS is its Python loop (one log-density-and-gradient call per leapfrog step); "
        "nutpie's loop is compiled (Rust, with the numba-compiled log density).",
        "",
        "## Worker start-up (one-off, left out of the throughput)",
        "",
        common.markdown_table(start_frame),
        "",
        "loky's reusable pool is shut down first; the first call then spawns the worker processes, each of which "
        "imports NumPy, ArviZ, PyTensor's configuration and the pair's module and loads numba's cached code "
        "before its first simulation.  Later calls of the same process reuse the pool.",
        "",
        f"How to read it: a run of S simulations at {s.workers} workers costs about the start-up plus S over the "
        f"{s.workers}-worker rate above, against S over the 1-worker rate.  On a machine with "
        f"{os.cpu_count()} CPU(s) the ratio cannot pass {min(s.workers, os.cpu_count() or 1)}.0x; what keeps it "
        "below is joblib's dispatch and result transfer per batch of simulations, and other work on the machine "
        "(load average below).",
    ]
    timing = (f"median of {s.repeats} call(s) per worker count, after one untimed call of each, the 1- and "
              f"{s.workers}-worker calls interleaved; load average 1/5/15 min at the start: {load_start}")
    timed_s["start-up cold, warm"] = (cold, warm)
    common.write_claims(Path(__file__).name, nuts_claims(nuts_seconds), s)
    return common.finish(s, _PROCESS_START, f"Simulation-based calibration throughput: 1 vs {s.workers} local workers",
                         Path(__file__).name, body, timing, timed_s)


if __name__ == "__main__":
    sys.exit(main())
