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

import time

_PROCESS_START = time.perf_counter()  # the reported total includes importing PyMC

import bayes_zoo

bayes_zoo.configure()  # first: PyTensor's BLAS, before PyMC is imported

import sys
from pathlib import Path

import arviz as az

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


def run_benchmark(s: common.Settings) -> tuple[common.SamplerTiming, common.SamplerTiming]:
    x = load_newcomb().arrays["x"]
    model = build_pymc_model(x, DEFAULT_PRIOR)

    def gibbs(draws=s.gibbs_draws, warmup=s.tune):
        return gibbs_sample(x, DEFAULT_PRIOR, draws=draws, chains=s.chains, warmup=warmup, seed=s.seed,
                            **common.SAMPLING_ONLY)

    def nuts(draws=s.nuts_draws, tune=s.tune):
        return sample_nuts(model, draws=draws, tune=tune, chains=s.chains, seed=s.seed, **common.SAMPLING_ONLY)

    gibbs(draws=10, warmup=10)  # numba JIT (or its on-disk cache) loaded outside the timing
    nuts(draws=10, tune=10)  # PyTensor C compilation outside the timing
    return (common.time_sampler("Gibbs", gibbs, s.chains * s.gibbs_draws, s.repeats, min_bulk_ess)[0],
            common.time_sampler("NUTS (PyMC)", nuts, s.chains * s.nuts_draws, s.repeats, min_bulk_ess)[0])


def results_frame(g: common.SamplerTiming, n: common.SamplerTiming):
    """Metrics as rows, Gibbs | NUTS | Gibbs/NUTS as columns, formatted for display."""
    ess_rows = [(f"bulk ESS {v}", f"{g.ess[v]:,.0f}", f"{n.ess[v]:,.0f}", "") for v in VARIABLES]
    return common.sampler_frame(g, n, ess_rows)


def main(argv=None) -> int:
    settings = parse_args(argv)
    timings = run_benchmark(settings)
    frame = results_frame(*timings)
    quick = " (--quick)" if settings.quick else ""
    common.print_tables((f"Gibbs vs NUTS, Newcomb, {settings.chains} chains{quick}", frame))
    timing = f"median of {settings.repeats} call(s) after one untimed small warm-up call per sampler"
    return common.finish(settings, _PROCESS_START,
                         "Gibbs vs NUTS on Newcomb's data (normal-gamma model, default prior)",
                         Path(__file__).name, [common.markdown_table(frame)], timing,
                         {t.name: t.seconds for t in timings})


if __name__ == "__main__":
    sys.exit(main())
