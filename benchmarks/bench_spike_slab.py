"""SSVS Gibbs vs NUTS on the diabetes data: ESS per second of the inclusion probabilities; EM's time to converge.

What is measured
----------------
All methods fit the same spike-and-slab regression (:mod:`bayes_zoo.models.spike_slab`, ``DEFAULT_PRIOR``, the 442
diabetes patients with their 10 features and the response standardised by
:func:`bayes_zoo.models.spike_slab.standardise`) in one process:

* Gibbs: :func:`bayes_zoo.inference.gibbs.spike_slab.sample` (SSVS, numba-compiled sweeps) with ``warmup = --tune``
  and ``--gibbs-draws`` kept draws per chain (default 50,000, ``thin=1``: a sweep costs a 10x10 Cholesky,
  so a long run is cheap);
* NUTS: :func:`bayes_zoo.inference.nuts.sample_nuts` on :func:`bayes_zoo.models.spike_slab.build_pymc_model` (gamma summed
  out, a two-component Normal mixture prior on each w_d) with ``--tune`` tuning steps and ``--nuts-draws``
  draws per chain, the chains run one after the other (``cores=1``);
* EM: :func:`bayes_zoo.inference.em.spike_slab.fit_map_em` and :func:`~bayes_zoo.inference.em.spike_slab.fit_emvs` from the
  ridge start, each run to convergence (their default ``tol``), with the iterations taken and the model
  selected; the exact posterior by enumeration of all 2^10 models
  (:func:`bayes_zoo.models.spike_slab.exact_posterior`) is timed as a reference.

**BLAS threads (issue 15).** The engines hold BLAS to the project's one thread policy themselves
(:mod:`bayes_zoo.inference.threads`: every EM fitter and :func:`~bayes_zoo.inference.gibbs.spike_slab.sample`
run inside ``blas_held()``, one thread).  Each EM algorithm is therefore also timed **as called** (default
process threads outside, the engine's own hold inside) against **pinned** (the same call with every BLAS
library set to one thread around it, by a ``threadpoolctl.ThreadpoolController`` found once:
``threadpool_limits()`` scans every loaded library on each call, 2.4 ms with PyMC loaded, as long as a MAP-EM
fit), interleaved (one call of each in turn, ``--thread-repeats`` rounds, paired ratios); the target is as
called / pinned <= 1.2x.  Then, in rounds of their own, **unheld** (the function without its hold,
``fit.__wrapped__``, at OpenBLAS's default threads: what the policy removes) against pinned again: an unheld
call leaves OpenBLAS's workers spinning, which slows the call after it, so it is kept apart from the first
pair.

Each method is first run once, untimed (the samplers at a small size), so that numba's JIT (Gibbs),
PyTensor's C compilation (PyMC, cached on disk afterwards) and first-call imports are not timed.  Then each
*whole call* is timed with ``time.perf_counter`` and the **median** is reported (the minimum is shown as
well): ``--repeats`` calls for Gibbs, EM and the enumeration, ``--nuts-repeats`` calls for NUTS (default 1:
one NUTS call takes about a minute on two cores, and its spread across calls is a few per cent of it; the
ratio it enters is far from the target).  For PyMC the whole call includes tuning and what ``pymc.sample``
redoes on every call (building the logp/gradient function, initialising, assembling the InferenceData); the
sampler's own ``posterior.attrs["sampling_time"]`` is shown beside it.  The PyMC model is built once,
outside the timed calls.

Why ESS/s of the inclusion probabilities is the fair figure
-----------------------------------------------------------
The question variable selection asks is P(gamma_d = 1 | y), and both samplers record the same estimator of
it: the Rao–Blackwellised ``inclusion_probability`` (P(gamma_d = 1 | w, theta, sigma2) at each draw; the
PyMC model's deterministic of the same name).  draws/s says how fast a sampler *emits* draws, not how much
it *learns*: a Gibbs sweep updates the blocks in turn and its indicators can stick, a NUTS draw costs many
gradient evaluations.  The bulk ESS (``arviz.ess(..., method="bulk")``, rank-normalised, over all chains)
puts both on one scale.  We take its **minimum over the features** (the slowest-mixing inclusion
probability limits the whole answer) and divide it by the same wall-clock seconds: **ESS/s** is the cost
of Monte Carlo precision.  The tail ESS (5% and 95% quantiles) and R-hat are shown beside it.

A feature whose inclusion probability is the same in every draw (in practice exactly 1.0: ``bmi``'s slab
can make ``P(gamma = 1 | ...)`` round to 1 in float64) carries no Monte Carlo error to measure.  ArviZ
0.23 reports the number of draws as its ESS (other versions NaN); either would mislead, so such a feature is
listed as *saturated, excluded* and left out of the minimum, and no ESS is printed for it.

Usage::

    .venv/bin/python benchmarks/bench_spike_slab.py             # full size, writes benchmarks/results/spike_slab.md
    .venv/bin/python benchmarks/bench_spike_slab.py --quick --out /tmp/bench.md   # ~30 s, for tests
"""

from __future__ import annotations

import time

_PROCESS_START = time.perf_counter()  # the reported total includes importing PyMC

import bayes_zoo

bayes_zoo.configure()  # first: PyTensor's BLAS, before PyMC is imported

import statistics
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_info

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common.py, also when a test loads this file by path
import _common as common  # noqa: E402

from bayes_zoo.inference.em import spike_slab as em  # noqa: E402
from bayes_zoo.inference.gibbs import spike_slab as gibbs  # noqa: E402
from bayes_zoo.inference.nuts import sample_nuts  # noqa: E402
from bayes_zoo.models import spike_slab as ss  # noqa: E402
from bayes_zoo.models.datasets import DIABETES_FEATURES, load_diabetes  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "spike_slab.md"
VARIABLE = "inclusion_probability"
FULL = {"gibbs_draws": 50_000, "nuts_draws": 1000, "tune": 1000, "chains": 4, "repeats": 3, "nuts_repeats": 1,
        "thread_repeats": 31}
QUICK = {"gibbs_draws": 2000, "nuts_draws": 100, "tune": 100, "chains": 2, "repeats": 1, "nuts_repeats": 1,
         "thread_repeats": 3}
HELP = {
    **common.SAMPLER_SIZE_HELP,
    "repeats": "timed calls of Gibbs, of each EM algorithm and of the enumeration; the median is reported",
    "nuts_repeats": "timed NUTS calls; the median is reported",
    "thread_repeats": "interleaved rounds of each EM algorithm as called vs pinned to one BLAS thread (and of "
                      "unheld vs pinned)",
}
EM_FITS = (("MAP-EM", em.fit_map_em), ("EMVS", em.fit_emvs))
EM_START = "ridge"
#: Issue targets: Gibbs ESS/s of the inclusion probabilities at least this times NUTS's (issue 3); EM as called
#: at most this times its time pinned to one BLAS thread (issue 15).
GIBBS_OVER_NUTS = 20.0
THREADS_TARGET = 1.2
#: Fits per timed call of the thread comparison: one MAP-EM fit takes about 2 ms, shorter than the scheduler's
#: noise on a shared two-core machine, so each timed call runs this many (each with its own hold or limit).
EM_BATCH = 10


@dataclass(frozen=True)
class InclusionDiagnostics:
    """Per-feature diagnostics of one sampler's ``inclusion_probability`` (features in model order).

    ``mean`` covers every feature; ``saturated`` lists the features whose draws are all equal (ArviZ's own
    test: range below the float resolution); their ESS and R-hat are not reported and they are left out of
    every minimum and maximum.
    """

    mean: dict[str, float]
    bulk: dict[str, float]
    tail: dict[str, float]
    rhat: dict[str, float]
    saturated: tuple[str, ...]

    @classmethod
    def of(cls, idata: az.InferenceData) -> InclusionDiagnostics:
        draws = idata.posterior[VARIABLE]
        names = [str(f) for f in draws["feature"].values]
        spread = (draws.max(("chain", "draw")) - draws.min(("chain", "draw"))).values
        saturated = tuple(f for f, r in zip(names, spread) if r < np.finfo(float).resolution)

        def per_feature(values):
            return {f: float(v) for f, v in zip(names, np.asarray(values)) if f not in saturated}

        with np.errstate(invalid="ignore", divide="ignore"):  # 0/0 in R-hat of a saturated feature, dropped below
            bulk, tail = (az.ess(idata, var_names=[VARIABLE], method=m)[VARIABLE].values for m in ("bulk", "tail"))
            rhat = az.rhat(idata, var_names=[VARIABLE])[VARIABLE].values
        means = {f: float(v) for f, v in zip(names, draws.mean(("chain", "draw")).values)}
        diagnostics = cls(means, per_feature(bulk), per_feature(tail), per_feature(rhat), saturated)
        bad = [f"{name} {f}" for name in ("bulk", "tail", "rhat") for f, v in getattr(diagnostics, name).items()
               if not np.isfinite(v)]
        if bad:
            raise FloatingPointError(f"non-finite diagnostics of a non-constant {VARIABLE}: {', '.join(bad)}")
        return diagnostics

    def extreme(self, name: str, pick=min) -> str:
        """``"1,234 (s1)"``: the min (or ``pick``) of ``bulk``/``tail``/``rhat`` over unsaturated features."""
        values = getattr(self, name)
        if not values:
            return "none (all saturated)"
        feature = pick(values, key=values.get)
        number = f"{values[feature]:.4f}" if name == "rhat" else f"{values[feature]:,.0f}"
        return f"{number} ({feature})"


@dataclass(frozen=True)
class EMTiming:
    """One EM algorithm's (or the enumeration's) timed calls and what its last call found."""

    name: str
    seconds: tuple[float, ...]
    own_s: str
    iterations: str
    converged: str
    model: str


def bulk_ess(idata: az.InferenceData) -> dict[str, float]:
    """Bulk ESS of ``inclusion_probability`` per unsaturated feature (the minimum enters ESS/s)."""
    return InclusionDiagnostics.of(idata).bulk


def verdict(met: bool, quick: bool) -> str:
    return ("met" if met else "NOT met") + (" (--quick sizes: not a measurement)" if quick else "")


def thread_facts() -> str:
    return "; ".join(f"{lib['internal_api']} {lib['version']} {Path(lib['filepath']).name}: "
                     f"{lib['num_threads']} thread(s)" for lib in threadpool_info())


def load_data():
    d = load_diabetes()
    X, y, _ = ss.standardise(d.arrays["X"], d.arrays["y"])
    return X, y


def run_samplers(s: common.Settings, X, y):
    """Gibbs and NUTS timings, and the diagnostics of each one's last call."""
    prior = ss.DEFAULT_PRIOR
    model = ss.build_pymc_model(X, y, prior, DIABETES_FEATURES)

    def gibbs_call(draws=s.gibbs_draws, warmup=s.tune):
        return gibbs.sample(X, y, prior, draws=draws, chains=s.chains, warmup=warmup, seed=s.seed,
                            feature_names=DIABETES_FEATURES, thin=1, **common.SAMPLING_ONLY)

    def nuts_call(draws=s.nuts_draws, tune=s.tune):
        return sample_nuts(model, draws=draws, tune=tune, chains=s.chains, seed=s.seed, **common.SAMPLING_ONLY)

    gibbs_call(draws=10, warmup=10)  # numba JIT (or its on-disk cache) loaded outside the timing
    nuts_call(draws=10, tune=10)  # PyTensor C compilation outside the timing
    g, g_idata = common.time_sampler("Gibbs (SSVS)", gibbs_call, s.chains * s.gibbs_draws, s.repeats, bulk_ess)
    n, n_idata = common.time_sampler("NUTS", nuts_call, s.chains * s.nuts_draws, s.nuts_repeats, bulk_ess)
    n = replace(n, name=f"NUTS ({n_idata.posterior.attrs.get('nuts_sampler', 'pymc')})")  # the one that ran
    divergences = int(n_idata.sample_stats["diverging"].sum())
    return g, n, InclusionDiagnostics.of(g_idata), InclusionDiagnostics.of(n_idata), divergences


def run_em(s: common.Settings, X, y) -> tuple[list[EMTiming], ss.SpikeSlabExact]:
    """EM from the ridge start to convergence, and the exact enumeration, each warmed up then timed."""
    prior = ss.DEFAULT_PRIOR
    rows = []
    for name, fit in EM_FITS:
        def call(fit=fit):
            return fit(X, y, prior, start=EM_START, feature_names=DIABETES_FEATURES)

        call()  # first-call costs (imports, caches) outside the timing
        seconds, result = common.time_calls(call, s.repeats)
        rows.append(EMTiming(name, seconds, f"{result.elapsed:.4f}", f"{result.n_iter:,}",
                             "yes" if result.converged else "NO", result.model_label))

    def enumerate_all():
        return ss.exact_posterior(X, y, prior, DIABETES_FEATURES)

    enumerate_all()
    seconds, exact = common.time_calls(enumerate_all, s.repeats)
    top = exact.top_models(1).iloc[0]
    rows.append(EMTiming("exact enumeration (reference)", seconds, "", f"{len(exact.models):,} models", "",
                         f"top: {top['included']} (p = {top['posterior_probability']:.3f})"))
    return rows, exact


def run_em_threads(s: common.Settings, X, y) -> dict[str, dict[str, tuple[float, ...]]]:
    """Per EM algorithm: seconds as called and pinned (one BLAS thread set around the call), interleaved over
    ``--thread-repeats`` rounds; then, in rounds of their own, unheld (``fit.__wrapped__``: no hold, the
    libraries' default threads) and pinned again.  Unheld calls leave OpenBLAS's worker threads spinning, which
    slows whatever runs next, so they are kept out of the first comparison."""
    from threadpoolctl import ThreadpoolController

    controller = ThreadpoolController()  # found once: threadpool_limits() would scan every loaded library per call
    prior = ss.DEFAULT_PRIOR
    out = {}
    for name, fit in EM_FITS:
        def as_called(fit=fit):
            for _ in range(EM_BATCH):
                fit(X, y, prior, start=EM_START)

        def pinned(fit=fit):
            for _ in range(EM_BATCH):
                with controller.limit(limits=1, user_api="blas"):
                    fit(X, y, prior, start=EM_START)

        def unheld(fit=fit):
            for _ in range(EM_BATCH):
                fit.__wrapped__(X, y, prior, start=EM_START)

        for call in (as_called, pinned, unheld):
            call()  # first-call costs outside the timing
        first = common.interleaved({"as called": as_called, "pinned": pinned}, s.thread_repeats)
        second = common.interleaved({"unheld": unheld, "pinned again": pinned}, unheld_rounds(s))
        out[name] = first | second
    return out


def unheld_rounds(s: common.Settings) -> int:
    """Rounds of unheld vs pinned: a third of ``--thread-repeats``, at least 3 (an unheld MAP-EM fit can take
    0.2 s)."""
    return max(3, s.thread_repeats // 3)


def summary(values) -> str:
    """``"1.02x (0.95-1.10)"``: median (min-max) of paired ratios."""
    return f"{statistics.median(values):,.2f}x ({min(values):,.2f}-{max(values):,.2f})"


def threads_table(timings: dict) -> pd.DataFrame:
    """Per EM algorithm: median ms of each way of calling it and the paired ratios to pinned."""
    rows = []
    for name, t in timings.items():
        per_fit = (f"{1e3 * common.median_s(t[way]) / EM_BATCH:.2f}" for way in ("as called", "pinned", "unheld"))
        rows.append((name, *per_fit,
                     summary(common.paired_ratios(t["as called"], t["pinned"])),
                     summary(common.paired_ratios(t["unheld"], t["pinned again"]))))
    return pd.DataFrame(rows, columns=["method", "as called, ms a fit", "pinned, ms a fit", "unheld, ms a fit",
                                       "as called / pinned", "unheld / pinned"]).set_index("method")


def claims(s: common.Settings, g, n, threads: dict) -> list:
    """The README's figures from this run (``benchmarks/results/spike_slab.json``)."""
    ratios = tuple(g.min_ess / t / n.ess_per_s for t in g.seconds)
    out = [common.Claim(
        "spike_slab.gibbs_vs_nuts_ess_per_s",
        f"spike-and-slab on diabetes (10 features), {s.chains} chains: ESS/s of the Rao–Blackwellised inclusion "
        f"probabilities (minimum bulk ESS over the unsaturated features / wall-clock seconds of the whole call), "
        f"SSVS Gibbs ({s.gibbs_draws:,} draws a chain) / {n.name} ({s.nuts_draws:,} draws a chain); one ratio "
        f"per timed Gibbs call, against NUTS's median", ratios, f">= {GIBBS_OVER_NUTS:g}x",
        None if s.quick else g.ess_per_s >= GIBBS_OVER_NUTS * n.ess_per_s)]
    for name, t in threads.items():
        tag = name.lower().replace("-", "_")
        called = common.paired_ratios(t["as called"], t["pinned"])
        out += [
            common.Claim(f"spike_slab.{tag}_threads", f"{name} on diabetes from the ridge start to convergence: "
                         "seconds as called (default threads, the engine's own BLAS hold) / pinned to one BLAS "
                         "thread (every BLAS library set to one thread around the call), interleaved pairs", called,
                         f"<= {THREADS_TARGET:g}x", None if s.quick else statistics.median(called) <= THREADS_TARGET),
            common.Claim(f"spike_slab.{tag}_unheld", f"{name} on diabetes: seconds without the engine's BLAS hold "
                         "(OpenBLAS's default threads) / pinned to one thread, interleaved pairs of their own: "
                         "what the policy removes", common.paired_ratios(t["unheld"], t["pinned again"])),
        ]
    return out


def sampler_table(g, n, gd: InclusionDiagnostics, nd: InclusionDiagnostics, divergences: int) -> pd.DataFrame:
    """The Gibbs | NUTS | ratio table; the ESS rows are over the inclusion probabilities of unsaturated features."""
    def saturated(d):
        return ", ".join(d.saturated) or "none"

    return common.sampler_frame(g, n, [
        ("min bulk ESS (feature)", gd.extreme("bulk"), nd.extreme("bulk"), ""),
        ("min tail ESS (feature)", gd.extreme("tail"), nd.extreme("tail"), ""),
        ("max R-hat (feature)", gd.extreme("rhat", max), nd.extreme("rhat", max), ""),
        ("saturated, excluded", saturated(gd), saturated(nd), ""),
        ("divergences", "n/a", f"{divergences:,}", ""),
    ])


def feature_table(gd: InclusionDiagnostics, nd: InclusionDiagnostics, exact: ss.SpikeSlabExact) -> pd.DataFrame:
    """Per feature: exact P(gamma_d = 1 | y), each sampler's estimate, bulk and tail ESS ("saturated" if constant)."""
    def cell(values, f, fmt):
        return format(values[f], fmt) if f in values else "saturated"

    rows = [(f, f"{p:.4f}", f"{gd.mean[f]:.4f}", f"{nd.mean[f]:.4f}", cell(gd.bulk, f, ",.0f"),
             cell(gd.tail, f, ",.0f"), cell(nd.bulk, f, ",.0f"), cell(nd.tail, f, ",.0f"))
            for f, p in zip(exact.feature_names, exact.inclusion_probability)]
    return pd.DataFrame(rows, columns=["feature", "exact P(incl)", "Gibbs mean", "NUTS mean", "Gibbs bulk ESS",
                                       "Gibbs tail ESS", "NUTS bulk ESS", "NUTS tail ESS"]).set_index("feature")


def em_table(rows: list[EMTiming]) -> pd.DataFrame:
    """One row per EM algorithm and the enumeration: median and min wall-clock s, iterations, model."""
    return pd.DataFrame(
        [(r.name, f"{common.median_s(r.seconds):.4f}", f"{min(r.seconds):.4f}", r.own_s, r.iterations, r.converged,
          r.model) for r in rows],
        columns=["method", "wall-clock s, median", "wall-clock s, min", "own .elapsed s", "iterations",
                 "converged", "selected model"],
    ).set_index("method")


def main(argv=None) -> int:
    s = common.parse_settings(__doc__.split("\n\n")[0], argv, helps=HELP, full=FULL, quick=QUICK,
                              default_out=DEFAULT_OUT)
    X, y = load_data()
    g, n, gd, nd, divergences = run_samplers(s, X, y)
    em_rows, exact = run_em(s, X, y)
    em_threads = run_em_threads(s, X, y)
    threads = threads_table(em_threads)
    samplers, features, ems = sampler_table(g, n, gd, nd, divergences), feature_table(gd, nd, exact), em_table(em_rows)
    quick = " (--quick)" if s.quick else ""
    common.print_tables((f"SSVS Gibbs vs NUTS, diabetes, {s.chains} chains{quick}", samplers),
                        ("inclusion probabilities per feature", features), ("EM wall time to convergence", ems),
                        ("EM and BLAS threads: as called, pinned to one thread, unheld", threads))
    target = (f"{common.ratio(g.ess_per_s, n.ess_per_s)}, "
              + ("met" if g.ess_per_s >= GIBBS_OVER_NUTS * n.ess_per_s else "NOT met")
              + (" (--quick sizes: not a measurement)" if s.quick else ""))
    median_probability = ", ".join(f for f, p in zip(exact.feature_names, exact.inclusion_probability) if p > 0.5)
    body = [
        "## SSVS Gibbs vs NUTS: ESS per second of the inclusion probabilities",
        "",
        common.markdown_table(samplers),
        "",
        f"ESS rows are over the {len(DIABETES_FEATURES)} features' Rao–Blackwellised `{VARIABLE}`, leaving out "
        "the saturated ones (the same value in every draw: no Monte Carlo error to measure).  "
        f"Target (issue 3): Gibbs at least 20x NUTS in ESS/s; this run: {target}.",
        "",
        "## Inclusion probabilities per feature (last timed call of each sampler)",
        "",
        common.markdown_table(features),
        "",
        f"## EM wall time to convergence ({EM_START} start)",
        "",
        common.markdown_table(ems, left=("selected model",)),
        "",
        f"Exact median-probability model (P(incl) > 0.5): {median_probability or '(none)'}.",
        "",
        "## EM and BLAS threads",
        "",
        common.markdown_table(threads),
        "",
        f"Each algorithm from the ridge start to convergence, {EM_BATCH} fits a timed call (ms a fit: the median "
        f"call / {EM_BATCH}): {s.thread_repeats} interleaved rounds of **as called** "
        "(the process's default BLAS threads outside; the fitters hold BLAS to the project's policy, "
        "`bayes_zoo.inference.threads.blas_held`, one thread) and **pinned** (every BLAS library set to one thread "
        f"around the same call), then {unheld_rounds(s)} rounds of **unheld** (`fit.__wrapped__`, the fitter "
        "without its hold, at OpenBLAS's default threads: what it cost before the policy) and pinned again "
        "(unheld calls leave OpenBLAS's workers spinning, which slows the next call: kept apart).  Ratios are "
        "paired (the calls of one round), median (min-max).  "
        f"Target (issue 15): as called / pinned <= {THREADS_TARGET:g}x: " + "; ".join(
            f"{name} {statistics.median(common.paired_ratios(t['as called'], t['pinned'])):.2f}x, "
            + verdict(statistics.median(common.paired_ratios(t["as called"], t["pinned"])) <= THREADS_TARGET, s.quick)
            for name, t in em_threads.items()) + f".  BLAS libraries outside the calls: {thread_facts()}.",
    ]
    timing = (f"median of {s.repeats} call(s) (Gibbs, EM, enumeration) and of {s.nuts_repeats} call(s) (NUTS), "
              "after one untimed warm-up call of each (samplers at a small size)")
    timed = {t.name: t.seconds for t in (g, n)} | {r.name: r.seconds for r in em_rows}
    timed |= {f"{name} {way}": v for name, t in em_threads.items() for way, v in t.items()}
    common.write_claims(Path(__file__).name, claims(s, g, n, em_threads), s)
    return common.finish(s, _PROCESS_START, "SSVS Gibbs vs NUTS and EM on the diabetes data (spike-and-slab "
                         "regression, default prior)", Path(__file__).name, body, timing, timed)


if __name__ == "__main__":
    sys.exit(main())
