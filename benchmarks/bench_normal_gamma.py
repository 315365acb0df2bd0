"""Side-by-side timing of the handwritten Gibbs sampler and PyMC's NUTS on Newcomb's data.

What is measured
----------------
Both samplers target the same posterior (:mod:`bayes_zoo.models.normal_gamma`, ``DEFAULT_PRIOR``, Newcomb's 66
measurements) in one process, with the same number of chains run one after the other (PyMC with
``cores=1``, as :func:`bayes_zoo.inference.nuts.sample_nuts` always does):

* Gibbs: :func:`bayes_zoo.inference.gibbs.normal_gamma.sample` with ``warmup = --tune`` and ``--gibbs-draws`` kept
  draws per chain (default 250,000: a Gibbs sweep costs two scalar updates, so a large run is cheap);
* NUTS: :func:`bayes_zoo.inference.nuts.sample_nuts` with ``--tune`` tuning steps and ``--nuts-draws`` draws per chain.

Each sampler is first run once at a small size, so that numba's JIT (Gibbs) and PyTensor's C compilation
(PyMC, cached on disk afterwards) are not timed.  Then each *whole call* is timed with
``time.perf_counter`` ``--repeats`` times and the **median** is reported (the minimum is shown as well).
For PyMC the whole call includes tuning and what ``pymc.sample`` redoes on every call (building the
logp/gradient function from the model graph, initialising, assembling the InferenceData); the sampler's
own ``posterior.attrs["sampling_time"]`` (PyMC: the draw loop, tuning included; Gibbs: the draw
generation, without assembling the InferenceData) is shown beside it.  The PyMC model is built once,
outside the timed calls.

Why ESS/s is the fair figure
----------------------------
draws/s (kept draws over all chains / wall-clock seconds) says how fast a sampler *emits* draws, not how
much it *learns*: a Gibbs draw and a NUTS draw are not worth the same.  Successive Gibbs draws are
correlated by the alternation of the two conditionals; a NUTS draw costs many gradient evaluations (one
per leapfrog step) and may even be anti-correlated with the previous one.  The effective sample size
puts both on one scale: the bulk ESS (``arviz.ess(..., method="bulk")``, rank-normalised, over all
chains) is the number of independent draws that would estimate the posterior's centre as well.  We take
the minimum over ``mu`` and ``beta`` (the slowest-mixing variable limits every estimate) and divide it by
the same wall-clock seconds: **ESS/s** is the cost of Monte Carlo precision, which is what one buys.
ESS per draw (min ESS / kept draws) is shown too, to separate speed per draw from quality per draw.

Usage::

    .venv/bin/python benchmarks/bench_normal_gamma.py             # full size, writes benchmarks/results/normal_gamma.md
    .venv/bin/python benchmarks/bench_normal_gamma.py --quick --out /tmp/bench.md   # a few seconds, for tests
"""

from __future__ import annotations

import statistics
import time

_PROCESS_START = time.perf_counter()  # the reported total includes importing PyMC

import bayes_zoo

bayes_zoo.configure()  # first: PyTensor's BLAS, before PyMC is imported

import sys
from pathlib import Path

import arviz as az
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common.py, also when a test loads this file by path
import _common as common  # noqa: E402

from bayes_zoo.inference.gibbs.normal_gamma import sample as gibbs_sample  # noqa: E402
from bayes_zoo.inference.nuts import sample_nuts  # noqa: E402
from bayes_zoo.models.datasets import load_newcomb  # noqa: E402
from bayes_zoo.models.normal_gamma import DEFAULT_PRIOR, build_pymc_model  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "normal_gamma.md"
VARIABLES = ("mu", "beta")
FULL = {"gibbs_draws": 250_000, "nuts_draws": 1000, "tune": 1000, "chains": 4, "repeats": 3}
QUICK = {"gibbs_draws": 2000, "nuts_draws": 100, "tune": 100, "chains": 2, "repeats": 1}
HELP = {**common.SAMPLER_SIZE_HELP, "repeats": "timed calls per sampler; the median is reported"}


def parse_args(argv=None) -> common.Settings:
    return common.parse_settings(__doc__.split("\n\n")[0], argv, helps=HELP, full=FULL, quick=QUICK,
                                 default_out=DEFAULT_OUT)


def min_bulk_ess(idata: az.InferenceData) -> dict[str, float]:
    ess = az.ess(idata, var_names=list(VARIABLES), method="bulk")
    return {v: float(ess[v]) for v in VARIABLES}


SAMPLERS = ("Gibbs", "NUTS (nutpie)", "NUTS (PyMC)")


def run_benchmark(s: common.Settings):
    """Gibbs, nutpie and PyMC's NUTS, interleaved (one call of each per round, ``s.repeats`` rounds, round ``r``
    seeded ``s.seed + r`` on all three): their timings with the ESS of each call, and nutpie's compile seconds."""
    from bayes_zoo.inference.nuts import compile_nutpie

    x = load_newcomb().arrays["x"]
    model = build_pymc_model(x, DEFAULT_PRIOR)

    def gibbs(seed, draws=s.gibbs_draws, warmup=s.tune):
        return gibbs_sample(x, DEFAULT_PRIOR, draws=draws, chains=s.chains, warmup=warmup, seed=seed,
                            **common.SAMPLING_ONLY)

    def nuts(sampler):
        def call(seed, draws=s.nuts_draws, tune=s.tune):
            return sample_nuts(model, draws=draws, tune=tune, chains=s.chains, seed=seed, sampler=sampler,
                               **common.SAMPLING_ONLY)
        return call

    calls = {"Gibbs": gibbs, "NUTS (nutpie)": nuts("nutpie"), "NUTS (PyMC)": nuts("pymc")}
    kept = {"Gibbs": s.chains * s.gibbs_draws, "NUTS (nutpie)": s.chains * s.nuts_draws,
            "NUTS (PyMC)": s.chains * s.nuts_draws}
    gibbs(s.seed, draws=10, warmup=10)  # numba JIT (or its on-disk cache) loaded outside the timing
    _, compile_s = compile_nutpie(model)  # nutpie's numba compilation, timed apart (0 if already compiled)
    for name in SAMPLERS[1:]:
        calls[name](s.seed, draws=10, tune=10)  # PyTensor's C compilation outside the timing
    seconds = {name: [] for name in SAMPLERS}
    ess = {name: [] for name in SAMPLERS}
    own = {}
    for r in range(s.repeats):
        for name in SAMPLERS:
            start = time.perf_counter()
            idata = calls[name](s.seed + r)
            seconds[name].append(time.perf_counter() - start)
            ess[name].append(min_bulk_ess(idata))
            own[name] = float(idata.posterior.attrs["sampling_time"])
    timings = {name: common.SamplerTiming(name, kept[name], tuple(seconds[name]), own[name],
                                          {v: statistics.median(e[v] for e in ess[name]) for v in VARIABLES})
               for name in SAMPLERS}
    ess_per_s = {name: tuple(min(e.values()) / t for e, t in zip(ess[name], seconds[name])) for name in SAMPLERS}
    return timings, ess_per_s, compile_s


def results_frame(t: dict, ess_per_s: dict, compile_s: float) -> pd.DataFrame:
    """Metrics as rows, one column per sampler, then nutpie / PyMC and Gibbs / nutpie, formatted for display."""
    g, n, p = (t[name] for name in SAMPLERS)

    def ratio_range(a, b):
        r = common.paired_ratios(ess_per_s[a], ess_per_s[b])
        return f"{statistics.median(r):,.1f}x [{min(r):,.1f}-{max(r):,.1f}]"

    rows = [
        ("kept draws (all chains)", *[f"{x.kept_draws:,}" for x in (g, n, p)], "", ""),
        ("wall-clock s, median of calls", *[f"{x.median_s:.3f}" for x in (g, n, p)], "", ""),
        ("wall-clock s, min of calls", *[f"{x.min_s:.3f}" for x in (g, n, p)], "", ""),
        ('own attrs["sampling_time"] s (last call)', *[f"{x.own_sampling_time_s:.3f}" for x in (g, n, p)], "", ""),
        ("one-off compilation s (not in the calls)", "", f"{compile_s:.2f}", "", "", ""),
        *[(f"bulk ESS {v} (median of calls)", *[f"{x.ess[v]:,.0f}" for x in (g, n, p)], "", "") for v in VARIABLES],
        ("draws/s", *[common.rate(x.draws_per_s) for x in (g, n, p)],
         common.ratio(n.draws_per_s, p.draws_per_s), common.ratio(g.draws_per_s, n.draws_per_s)),
        ("ESS/s per call, median [min-max of paired ratios]",
         *[common.rate(statistics.median(ess_per_s[name])) for name in SAMPLERS],
         ratio_range("NUTS (nutpie)", "NUTS (PyMC)"), ratio_range("Gibbs", "NUTS (nutpie)")),
    ]
    columns = ["metric", *SAMPLERS, "nutpie / PyMC", "Gibbs / nutpie"]
    return pd.DataFrame(rows, columns=columns).set_index("metric")


def claims(ess_per_s: dict, compile_s: float) -> list:
    """The README's figures from this run."""
    nutpie_vs_pymc = common.paired_ratios(ess_per_s["NUTS (nutpie)"], ess_per_s["NUTS (PyMC)"])
    return [
        common.Claim("normal_gamma.nutpie_vs_pymc", "NUTS side on Newcomb (normal-gamma): ESS/s of nutpie / ESS/s of "
                     "PyMC's default NUTS, whole calls, compilation apart", nutpie_vs_pymc, ">= 10x",
                     statistics.median(nutpie_vs_pymc) >= 10),
        common.Claim("normal_gamma.nutpie_compile", "nutpie's one-off compilation of the Newcomb model (numba)",
                     (compile_s,), unit="s"),
        common.Claim("normal_gamma.gibbs_vs_nutpie", "Gibbs ESS/s / nutpie ESS/s on Newcomb",
                     common.paired_ratios(ess_per_s["Gibbs"], ess_per_s["NUTS (nutpie)"])),
        common.Claim("normal_gamma.gibbs_vs_pymc", "Gibbs ESS/s / PyMC NUTS ESS/s on Newcomb",
                     common.paired_ratios(ess_per_s["Gibbs"], ess_per_s["NUTS (PyMC)"])),
    ]


def main(argv=None) -> int:
    settings = parse_args(argv)
    timings, ess_per_s, compile_s = run_benchmark(settings)
    frame = results_frame(timings, ess_per_s, compile_s)
    quick = " (--quick)" if settings.quick else ""
    common.print_tables((f"Gibbs vs nutpie vs PyMC's NUTS, Newcomb, {settings.chains} chains{quick}", frame))
    common.write_claims(Path(__file__).name, claims(ess_per_s, compile_s), settings)
    timing = (f"{settings.repeats} round(s), each one call of every sampler in turn (Gibbs, nutpie, PyMC), round r "
              f"seeded {settings.seed} + r; after one untimed small call per sampler and nutpie's compilation")
    return common.finish(settings, _PROCESS_START,
                         "Gibbs vs NUTS (nutpie and PyMC's) on Newcomb's data (normal-gamma model, default prior)",
                         Path(__file__).name, [common.markdown_table(frame)], timing,
                         {name: t.seconds for name, t in timings.items()})


if __name__ == "__main__":
    sys.exit(main())
