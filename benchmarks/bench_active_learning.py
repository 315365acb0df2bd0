"""ACS-FW batch selection: seconds per batch on the power-plant pool and on simulated pools up to 200,000 points.

What is measured
----------------
The timed call is the **whole selection** of one batch by ACS-FW (Pinsler et al. 2019, Algorithm 1) from a
fitted :class:`bayes_zoo.active_learning.learners.LinearRegressionLearner`::

    frank_wolfe.select(learner.gram(fit, X_pool, projections=J, rng=rng), b)

with ``b = --batch-size`` (100) and two kinds of inner products: **J = --projections** (100) random
projections from exact posterior draws (:class:`bayes_zoo.active_learning.gram.ProjectionGram`, O(N J) memory), and the
**closed form** (``projections=0``: :class:`bayes_zoo.active_learning.gram.LinearFisherGram`, the weighted Fisher inner
products ``scale (x_n^T x_m)(x_n^T Sigma x_m)``, never an N x N matrix, O(N P) memory for P features).  The
call includes the feature map of the pool, the posterior draws and predictive moments (projections) or
``X Sigma`` (closed form), the diagonal and row sums of ``K`` and the ``b`` Frank–Wolfe iterations.  Fitting
the learner (type-II maximum likelihood over its grid, the conjugate posterior) is done once per pool,
untimed, on ``--init`` (20) labelled points: the learner's defaults, i.e. 100 random Fourier features plus a
bias (P = 101), and on power-plant also ``features="linear"`` (the bias and the 4 inputs, P = 5: the
``D^2 = 25`` case of the closed form).

* **power-plant** (:func:`bayes_zoo.models.datasets.load_uci`, 9,568 x 4): the split of
  :func:`bayes_zoo.active_learning.loop.split` (20% test, ``--init`` labelled points, the rest of the 80% the pool:
  7,634 points) from ``numpy.random.default_rng(--seed)``.  Besides the whole call, its two halves are timed
  on their own: ``learner.gram(...)`` alone, and ``frank_wolfe.select`` on a Gram built beforehand.
* **simulated pools** of ``--sim-small``, ``--sim-mid`` and ``--sim-large`` (10,000, 50,000, 200,000)
  points: ``X ~ N(0, I)`` with D = 4 columns, ``y = sin(x_1) + cos(2 x_2) / 2 + x_3 / 3 - x_4^2 / 5 +
  0.1 e``; the learner is fitted on ``--init`` further labelled points from the same distribution.  Seconds
  per 1,000 pool points and the log-log slope of seconds against N show how the cost grows.

Each configuration is first run once untimed under ``tracemalloc`` (NumPy reports its allocations to it):
its **peak** is the memory the selection allocates, set beside the ``8 N^2`` bytes an N x N float64 matrix
would take; that call's selection is also checked (indices distinct and inside the pool) and described (how
many distinct points the ``b`` Frank–Wolfe iterations chose — FW may pick a point again — and the residual
``||L - L(w)|| / ||L||``).  Then each call is timed ``--repeats`` (power-plant) or ``--sim-repeats``
(simulated) times with ``time.perf_counter``, the calls of one pool interleaved (one of each in turn); the
**median** is reported, the minimum beside it.

BLAS threads
------------
Every timed call runs inside ``threadpoolctl.threadpool_limits(--blas-threads)`` (default 1; 0 leaves each
library's default), as in ``bench_gp.py`` and the labelling loop (:mod:`bayes_zoo.active_learning.loop`), whose
matrices are as small.  The results file lists the libraries and their thread counts.
"""

from __future__ import annotations

import time

_PROCESS_START = time.perf_counter()  # the reported total includes importing PyMC

import bayes_zoo

bayes_zoo.configure()  # first: PyTensor's BLAS, before PyMC is imported

import os
import sys
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_info, threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common.py, also when a test loads this file by path
import _common as common  # noqa: E402

from bayes_zoo.active_learning import frank_wolfe  # noqa: E402
from bayes_zoo.active_learning.learners import LinearRegressionLearner  # noqa: E402
from bayes_zoo.active_learning.loop import LoopSettings, split  # noqa: E402
from bayes_zoo.models.datasets import load_uci  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "active_learning.md"
FULL = {"batch_size": 100, "projections": 100, "init": 20, "sim_small": 10_000, "sim_mid": 50_000,
        "sim_large": 200_000, "repeats": 7, "sim_repeats": 3, "blas_threads": 1}
QUICK = {"batch_size": 20, "projections": 20, "init": 20, "sim_small": 500, "sim_mid": 1000, "sim_large": 2000,
         "repeats": 2, "sim_repeats": 2, "blas_threads": 1}
HELP = {
    "batch_size": "b: Frank-Wolfe iterations, at most b distinct points per batch",
    "projections": "J: random projections (posterior draws) of the projected rows",
    "init": "labelled points the learner is fitted on",
    "sim_small": "smallest simulated pool",
    "sim_mid": "middle simulated pool",
    "sim_large": "largest simulated pool",
    "repeats": "timed calls of each power-plant row; the median is reported",
    "sim_repeats": "timed calls of each simulated row; the median is reported",
    "blas_threads": "BLAS threads of every library during the timed calls (threadpoolctl); 0: the libraries' default",
}
#: Issue targets, seconds for one batch from the power-plant pool.
TARGETS = {"projected": 0.2, "closed form": 0.5}
#: Our reading of "cost linear in N": seconds per pool point at the largest N within this factor of the smallest.
LINEAR_FACTOR = 2.0
DIMS = 4
NOISE_SD = 0.1
FEATURES = {"rff": "100 random Fourier features + bias, P = 101 (default)", "linear": "bias + 4 inputs, P = 5"}


@dataclass(frozen=True)
class Probe:
    """What the untimed call under ``tracemalloc`` showed."""

    peak_bytes: int
    distinct: int
    iterations: int
    residual: float
    inside: bool

    @property
    def peak_mib(self) -> float:
        return self.peak_bytes / 2**20


def smooth(X: np.ndarray) -> np.ndarray:
    """The simulated regression function (module docstring), shape ``(N,)``."""
    return np.sin(X[:, 0]) + 0.5 * np.cos(2.0 * X[:, 1]) + X[:, 2] / 3.0 - X[:, 3] ** 2 / 5.0


def simulated(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` inputs ``N(0, I)`` with ``DIMS`` columns and ``y = smooth(X) + NOISE_SD e``."""
    X = rng.standard_normal((n, DIMS))
    return X, smooth(X) + NOISE_SD * rng.standard_normal(n)


def probe(call, pool_size: int) -> tuple[Probe, object]:
    """Run ``call()`` once under ``tracemalloc``: peak allocation during the call, and checks of its Selection."""
    tracemalloc.start()
    try:
        sel = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    idx = np.asarray(sel.indices)
    inside = bool(idx.size > 0 and np.all((idx >= 0) & (idx < pool_size)) and np.unique(idx).size == idx.size)
    residual = float(sel.residual_norms[-1] / sel.residual_norms[0])
    return Probe(int(peak), int(idx.size), int(sel.vertices.size), residual, inside), sel


def timed(calls: dict[str, object], repeats: int) -> dict[str, tuple[float, ...]]:
    """``repeats`` rounds timing each call once, in turn (the untimed first call was the probe): name -> seconds."""
    seconds = {name: () for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            seconds[name] += common.time_calls(call, 1)[0]
    return seconds


def sec(x: float) -> str:
    """Seconds: ``"0.123"``, two significant digits below 10 ms (``"0.00071"``)."""
    return f"{x:,.3f}" if x >= 0.01 else f"{x:.2g}"


def mib(x: float) -> str:
    return f"{x:,.1f}" if x < 1000 else f"{x:,.0f}"


def verdict(met: bool, quick: bool) -> str:
    return ("met" if met else "NOT met") + (" (--quick sizes: not a measurement)" if quick else "")


def kinds(s: common.Settings) -> dict[str, int]:
    """Row label -> ``projections`` argument."""
    return {f"J = {s.projections} projections": s.projections, "closed form": 0}


def selection_call(learner, fit, X_pool, J: int, b: int, rng):
    return lambda: frank_wolfe.select(learner.gram(fit, X_pool, projections=J, rng=rng), b)


# ----------------------------------------------------------------------------------------- power-plant


def run_power_plant(s: common.Settings):
    """Per feature set: the probes, the timed calls (whole, gram alone, FW alone) and the pool size."""
    data = load_uci("power-plant")
    X, y = data.arrays["X"], data.arrays["y"]
    labelled, pool, _ = split(X.shape[0], LoopSettings(init=s.init), np.random.default_rng(s.seed))
    X_pool = X[pool]
    probes, seconds = {}, {}
    for features in FEATURES:
        learner = LinearRegressionLearner(features=features)
        fit = learner.fit(X[labelled], y[labelled], X_pool, np.random.default_rng([s.seed, 0]))
        rng = np.random.default_rng([s.seed, 1])
        calls = {}
        for label, J in kinds(s).items():
            whole = selection_call(learner, fit, X_pool, J, s.batch_size, rng)
            probes[features, label], _ = probe(whole, X_pool.shape[0])
            gram = learner.gram(fit, X_pool, projections=J, rng=rng)  # built once for the FW-alone row
            calls[label, "whole"] = whole
            calls[label, "gram"] = lambda J=J: learner.gram(fit, X_pool, projections=J, rng=rng)
            calls[label, "fw"] = lambda gram=gram: frank_wolfe.select(gram, s.batch_size)
        for (label, part), t in timed(calls, s.repeats).items():
            seconds[features, label, part] = t
    return probes, seconds, X_pool.shape[0]


def power_plant_table(s, probes, seconds) -> pd.DataFrame:
    rows = []
    for features in FEATURES:
        for label in kinds(s):
            whole = seconds[features, label, "whole"]
            p = probes[features, label]
            rows.append((f"{features}, {label}", sec(common.median_s(whole)), sec(min(whole)),
                         sec(common.median_s(seconds[features, label, "gram"])),
                         sec(common.median_s(seconds[features, label, "fw"])),
                         f"{p.distinct} / {p.iterations}", f"{p.residual:.3g}", mib(p.peak_mib)))
    columns = ["features, inner products", "median s", "min s", "gram alone s", "FW alone s", "distinct / iters",
               "residual", "peak MiB"]
    return pd.DataFrame(rows, columns=columns).set_index(columns[0])


# ---------------------------------------------------------------------------------------- simulated


def run_simulated(s: common.Settings):
    """Per pool size: the probes and the timed whole calls of both kinds."""
    probes, seconds = {}, {}
    learner = LinearRegressionLearner()
    for i, n in enumerate((s.sim_small, s.sim_mid, s.sim_large)):
        data_rng = np.random.default_rng([s.seed, 2, i])
        X_lab, y_lab = simulated(s.init, data_rng)
        X_pool, _ = simulated(n, data_rng)
        fit = learner.fit(X_lab, y_lab, X_pool, np.random.default_rng([s.seed, 0]))
        rng = np.random.default_rng([s.seed, 3, i])
        calls = {}
        for label, J in kinds(s).items():
            calls[label] = selection_call(learner, fit, X_pool, J, s.batch_size, rng)
            probes[n, label], _ = probe(calls[label], n)
        for label, t in timed(calls, s.sim_repeats).items():
            seconds[n, label] = t
    return probes, seconds


def slope(sizes, medians) -> float:
    """Least-squares slope of log seconds against log N (1: linear)."""
    return float(np.polyfit(np.log(sizes), np.log(medians), 1)[0])


def simulated_table(s, probes, seconds) -> pd.DataFrame:
    rows = []
    for label in kinds(s):
        for n in (s.sim_small, s.sim_mid, s.sim_large):
            t, p = seconds[n, label], probes[n, label]
            dense = 8.0 * n * n / 2**20
            rows.append((f"N = {n:,}, {label}", sec(common.median_s(t)), sec(min(t)),
                         f"{1000.0 * common.median_s(t) / n:.4f}", mib(p.peak_mib), f"{p.peak_bytes / n:,.0f}",
                         mib(dense), common.ratio(dense, p.peak_mib), f"{p.distinct} / {p.iterations}"))
    columns = ["pool, inner products", "median s", "min s", "s per 1,000 points", "peak MiB", "peak B / point",
               "N x N MiB", "N x N / peak", "distinct / iters"]
    return pd.DataFrame(rows, columns=columns).set_index(columns[0])


# ------------------------------------------------------------------------------------------------ main


def thread_facts(limit: int) -> str:
    libraries = "; ".join(f"{lib['internal_api']} {lib['version']} {Path(lib['filepath']).name}: "
                          f"{lib['num_threads']} thread(s)" for lib in threadpool_info())
    asked = "the libraries' defaults (--blas-threads 0)" if limit == 0 else f"threadpool_limits({limit})"
    return f"{asked}; during the timed calls: {libraries}"


def main(argv=None) -> int:
    s = common.parse_settings(__doc__.split("\n\n")[0], argv, helps=HELP, full=FULL, quick=QUICK,
                              default_out=DEFAULT_OUT, zero_ok=("blas_threads",))
    if s.batch_size > min(s.sim_small, s.sim_mid, s.sim_large):
        raise SystemExit(f"--batch-size {s.batch_size} is larger than the smallest simulated pool")
    load_start = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    with threadpool_limits(limits=s.blas_threads or None):
        threads = thread_facts(s.blas_threads)
        pp_probes, pp_seconds, n_pool = run_power_plant(s)
        sim_probes, sim_seconds = run_simulated(s)
    pp_rows = power_plant_table(s, pp_probes, pp_seconds)
    sim_rows = simulated_table(s, sim_probes, sim_seconds)
    quick = " (--quick)" if s.quick else ""
    common.print_tables((f"ACS-FW, b = {s.batch_size}, power-plant pool N = {n_pool:,}{quick}", pp_rows),
                        (f"ACS-FW, b = {s.batch_size}, simulated pools, D = {DIMS}, default learner{quick}", sim_rows))

    projected, closed = kinds(s)
    med = {k: common.median_s(v) for k, v in pp_seconds.items()}
    target_lines = []
    for features in FEATURES:
        parts = []
        for label, key in ((projected, "projected"), (closed, "closed form")):
            m = med[features, label, "whole"]
            parts.append(f"{label} {m:.3f} s (target under {TARGETS[key]} s: "
                         f"{verdict(m < TARGETS[key], s.quick)})")
        target_lines.append(f"- {FEATURES[features]}: " + "; ".join(parts) + ".")
    sizes = (s.sim_small, s.sim_mid, s.sim_large)
    growth_lines = []
    for label in (projected, closed):
        medians = [common.median_s(sim_seconds[n, label]) for n in sizes]
        per_point = [m / n for m, n in zip(medians, sizes)]
        factor = per_point[-1] / per_point[0]
        mem_factor = (sim_probes[sizes[-1], label].peak_bytes / sizes[-1]) / (sim_probes[sizes[0], label].peak_bytes
                                                                               / sizes[0])
        growth_lines.append(
            f"- {label}: seconds per pool point at N = {sizes[-1]:,} are {factor:.2f}x those at N = {sizes[0]:,} "
            f"(log-log slope of seconds on N {slope(sizes, medians):.2f}; a quadratic cost would give "
            f"{sizes[-1] / sizes[0]:,.0f}x and slope 2): linear within {LINEAR_FACTOR:g}x, "
            f"{verdict(factor <= LINEAR_FACTOR, s.quick)}.  Peak memory per pool point at the largest N is "
            f"{mem_factor:.2f}x that at the smallest.")
    every = (*pp_probes.values(), *sim_probes.values())
    repeated = sum(p.distinct < p.iterations for p in every)
    all_inside = all(p.inside for p in every)
    body = [
        f"## Power-plant pool: N = {n_pool:,}, b = {s.batch_size}",
        "",
        common.markdown_table(pp_rows, left=("distinct / iters",)),
        "",
        f"Rows: the whole call `frank_wolfe.select(learner.gram(fit, X_pool, projections=J, rng=rng), "
        f"{s.batch_size})` with J = {s.projections} (`ProjectionGram` of exact conjugate posterior draws) or "
        "J = 0 (closed form: `LinearFisherGram`, no N x N matrix), for the learner's default features (`rff`) "
        "and for `features=\"linear\"`; **median s** and **min s** are of that whole call.  **gram alone** "
        "(median s) is `learner.gram(...)` alone (feature map, draws and predictive moments, or `X Sigma`); "
        "**FW alone** (median s) is `frank_wolfe.select` on a Gram built beforehand (the diagonal, the row sums "
        "and the iterations).  **distinct / iters**: points in the batch (`top_up=False`) over Frank–Wolfe "
        "iterations run; Frank–Wolfe may choose a point again.  **residual**: `||L - L(w)|| / ||L||` after the "
        "last iteration.  **peak MiB**: `tracemalloc` peak of one untimed whole "
        f"call (an N x N float64 matrix would take {mib(8.0 * n_pool**2 / 2**20)} MiB).  The learner is fitted "
        f"once on {s.init} labelled points (untimed); split of `bayes_zoo.active_learning.loop.split` (20% test) with "
        f"seed {s.seed}.",
        "",
        f"Targets (issue: one batch of b = 100 with J = 100 from the power-plant pool; this run b = "
        f"{s.batch_size}, J = {s.projections}):",
        "",
        *target_lines,
        "",
        f"## Simulated pools: N = {', '.join(f'{n:,}' for n in sizes)}, D = {DIMS}, b = {s.batch_size}, "
        "default learner",
        "",
        common.markdown_table(sim_rows, left=("distinct / iters",)),
        "",
        f"`X ~ N(0, I)` with {DIMS} columns, `y = sin(x_1) + cos(2 x_2) / 2 + x_3 / 3 - x_4^2 / 5 + "
        f"{NOISE_SD:g} e`; the default learner (P = 101) fitted on {s.init} labelled points from the same "
        "distribution, then the same whole call as above.  **N x N / peak**: how many times more memory a dense "
        "N x N float64 matrix (**N x N MiB**) would take than the selection's measured peak; **peak B / point**: "
        "that peak in bytes per pool point (constant when memory is linear in N).",
        "",
        f"Cost linear in N (target; \"linear\" read as: seconds per pool point at the largest N within "
        f"{LINEAR_FACTOR:g}x of those at the smallest):",
        "",
        *growth_lines,
        "",
        f"Checks: every selection's indices are distinct and inside its pool: {'yes' if all_inside else 'NO'}.  "
        f"Frank–Wolfe chose some point more than once (fewer distinct points than iterations, the **distinct / "
        f"iters** columns; `top_up=True` would fill the batch) in {repeated} of the {len(every)} probed "
        "selections.",
    ]
    timing = (f"median of {s.repeats} (power-plant) or {s.sim_repeats} (simulated) call(s) of each, interleaved, "
              f"after one untimed call under tracemalloc; BLAS threads: {threads}; load average 1/5/15 min at the "
              f"start: {load_start}")
    timed_s = {f"power-plant {features} {label} {part}": v for (features, label, part), v in pp_seconds.items()}
    timed_s |= {f"simulated N = {n:,} {label}": v for (n, label), v in sim_seconds.items()}
    return common.finish(s, _PROCESS_START, "ACS-FW batch selection: seconds and memory against pool size",
                         Path(__file__).name, body, timing, timed_s, seconds_format=".4g")


if __name__ == "__main__":
    sys.exit(main())
