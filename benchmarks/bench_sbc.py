"""Simulation-based calibration throughput: simulations per second with 1 and with 2 local workers (joblib loky).

What is measured
----------------
The whole call ``bayes_zoo.inference.sbc.run_sbc(problem, sims=S, seed=--seed, jobs=J)`` for ``J = 1`` (every simulation
in this process) and ``J = --workers`` (default 2; joblib's loky processes), on the SBC problems the pairs
register (``bayes_zoo.registry.Pair.sbc``):

* **normal-gamma Gibbs**: ``bayes_zoo.pairs.normal_gamma.sbc(quick=False)["handwritten"]``, the settings of
  ``make validate`` (20 observations, 2 chains x 1000 draws after 200 warm-up), ``--sims`` (500) simulations;
* **spike-and-slab Gibbs** (SSVS), with small settings: ``bayes_zoo.pairs.spike_slab.sbc(quick=True)["handwritten"]``
  (its quick sampler settings), ``--spike-sims`` (200) simulations; left out, and the file says so, when the
  pair registers no ``sbc``.

A simulation is: a prior draw and a data set, the sampler, ArviZ's bulk ESS, thinning, the ranks
(:func:`bayes_zoo.inference.sbc.simulate_once`).  **simulations/s** is ``S`` over the median seconds of the whole call;
the last column is the 2-worker figure over the 1-worker one (2.0x at best on two free cores).  Both use the
same root seed, so they run the same simulations; the file says whether their ranks and failures came out
identical (they must: every simulation's randomness derives from its own seed).

Each call is run once untimed first (numba's compiled chains, ArviZ, and at 2 workers the worker processes all
loaded), then timed ``--repeats`` (3) times with ``time.perf_counter``, the 1- and 2-worker calls interleaved
(one of each in turn), so that other work on the machine weighs on both alike; the median is reported, the
minimum beside it.

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

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common.py, also when a test loads this file by path
import _common as common  # noqa: E402

import bayes_zoo.pairs  # noqa: E402,F401  (registers every pair)
from bayes_zoo.inference.sbc import DEFAULT_KEPT, run_sbc  # noqa: E402
from bayes_zoo.registry import REGISTRY  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "sbc.md"
FULL = {"sims": 500, "spike_sims": 200, "workers": 2, "startup_sims": 4, "repeats": 3}
QUICK = {"sims": 20, "spike_sims": 10, "workers": 2, "startup_sims": 4, "repeats": 1}
HELP = {
    "sims": "simulations per timed call, normal-gamma Gibbs",
    "spike_sims": "simulations per timed call, spike-and-slab Gibbs (quick sampler settings)",
    "workers": "local worker processes compared with 1 (joblib loky)",
    "startup_sims": "simulations of the cold and warm calls that measure the pool's start-up",
    "repeats": "timed calls per worker count; the median is reported",
}


def problems(s: common.Settings) -> list[tuple[str, object, int, str]]:
    """``(label, SBCProblem, simulations per call, sampler settings)`` of each benchmarked sampler."""
    from bayes_zoo.pairs import normal_gamma

    rows = [("normal-gamma Gibbs", normal_gamma.sbc(quick=s.quick)["handwritten"], s.sims,
             f"{normal_gamma.SBC_N} observations, 2 chains x {normal_gamma.SBC_DRAWS[s.quick]:,} draws after 200 "
             f"warm-up (`sbc(quick={s.quick})`)")]
    spike = REGISTRY.get("spike-slab")
    if spike is not None and spike.sbc is not None:
        rows.append(("spike-and-slab Gibbs", spike.sbc(quick=True)["handwritten"], s.spike_sims,
                     "the pair's quick SBC settings (`sbc(quick=True)`)"))
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
    start_frame = startup_frame(s, cold, warm)
    common.print_tables(*frames, (f"worker start-up{quick}", start_frame))
    if len(benched) == 1:
        body += ["The spike-and-slab pair registers no `sbc`: its row is left out.", ""]
    body += [
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
    return common.finish(s, _PROCESS_START, f"Simulation-based calibration throughput: 1 vs {s.workers} local workers",
                         Path(__file__).name, body, timing, timed_s)


if __name__ == "__main__":
    sys.exit(main())
