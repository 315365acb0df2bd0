"""Side-by-side timing of the handwritten Gibbs sampler and PyMC's NUTS on Newcomb's data.

What is measured
----------------
Both samplers target the same posterior (:mod:`models.normal_gamma`, ``DEFAULT_PRIOR``, Newcomb's 66
measurements) in one process, with the same number of chains run one after the other (PyMC with
``cores=1``, as :func:`inference.nuts.sample_nuts` always does):

* Gibbs: :func:`inference.gibbs.normal_gamma.sample` with ``warmup = --tune`` and ``--gibbs-draws`` kept
  draws per chain (default 250,000: a Gibbs sweep costs two scalar updates, so a large run is cheap);
* NUTS: :func:`inference.nuts.sample_nuts` with ``--tune`` tuning steps and ``--nuts-draws`` draws per chain.

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

import models  # noqa: F401  (first: configures PyTensor before PyMC is imported)

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
from rich.console import Console
from rich.table import Table

from inference.gibbs.normal_gamma import sample as gibbs_sample
from inference.nuts import sample_nuts
from models.backend import blas_status
from models.datasets import load_newcomb
from models.normal_gamma import DEFAULT_PRIOR, build_pymc_model

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "normal_gamma.md"
VARIABLES = ("mu", "beta")
FULL = {"gibbs_draws": 250_000, "nuts_draws": 1000, "tune": 1000, "chains": 4, "repeats": 3}
QUICK = {"gibbs_draws": 2000, "nuts_draws": 100, "tune": 100, "chains": 2, "repeats": 1}


@dataclass(frozen=True)
class Settings:
    gibbs_draws: int
    nuts_draws: int
    tune: int
    chains: int
    repeats: int
    seed: int
    quick: bool
    out: Path


@dataclass(frozen=True)
class Timing:
    """One sampler's timed calls and the ESS of its last run."""

    name: str
    kept_draws: int
    seconds: tuple[float, ...]
    own_sampling_time_s: float
    ess: dict[str, float]

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)

    @property
    def min_s(self) -> float:
        return min(self.seconds)

    @property
    def min_ess(self) -> float:
        return min(self.ess.values())

    @property
    def draws_per_s(self) -> float:
        return self.kept_draws / self.median_s

    @property
    def ess_per_s(self) -> float:
        return self.min_ess / self.median_s


def parse_args(argv=None) -> Settings:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gibbs-draws", type=int, help=f"kept Gibbs draws per chain (default {FULL['gibbs_draws']:,})")
    p.add_argument("--nuts-draws", type=int, help=f"kept NUTS draws per chain (default {FULL['nuts_draws']})")
    p.add_argument("--tune", type=int, help=f"NUTS tuning steps = Gibbs warm-up sweeps per chain (default {FULL['tune']})")
    p.add_argument("--chains", type=int, help=f"chains for both samplers (default {FULL['chains']})")
    p.add_argument("--repeats", type=int, help=f"timed calls per sampler; the median is reported (default {FULL['repeats']})")
    p.add_argument("--seed", type=int, default=0, help="root seed of both samplers (default 0)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown results file, overwritten (default %(default)s)")
    p.add_argument("--quick", action="store_true",
                   help="tiny settings for a smoke test: " + ", ".join(f"{k}={v}" for k, v in QUICK.items())
                   + " (explicit flags still win)")
    a = p.parse_args(argv)
    base = QUICK if a.quick else FULL
    values = {k: getattr(a, k) if getattr(a, k) is not None else v for k, v in base.items()}
    for k, v in values.items():
        if v < (0 if k == "tune" else 1):
            p.error(f"--{k.replace('_', '-')}: must be >= {0 if k == 'tune' else 1}, got {v}")
    return Settings(**values, seed=a.seed, quick=a.quick, out=a.out)


def min_bulk_ess(idata: az.InferenceData) -> dict[str, float]:
    ess = az.ess(idata, var_names=list(VARIABLES), method="bulk")
    return {v: float(ess[v]) for v in VARIABLES}


def time_calls(name: str, call, kept_draws: int, repeats: int) -> Timing:
    """Time ``call()`` ``repeats`` times; ESS and the sampler's own time come from the last call."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        idata = call()
        seconds.append(time.perf_counter() - start)
    return Timing(name, kept_draws, tuple(seconds), float(idata.posterior.attrs["sampling_time"]), min_bulk_ess(idata))


def run_benchmark(s: Settings) -> tuple[Timing, Timing]:
    x = load_newcomb().arrays["x"]
    model = build_pymc_model(x, DEFAULT_PRIOR)

    def gibbs(draws=s.gibbs_draws, warmup=s.tune):
        return gibbs_sample(x, DEFAULT_PRIOR, draws=draws, chains=s.chains, warmup=warmup, seed=s.seed)

    def nuts(draws=s.nuts_draws, tune=s.tune):
        return sample_nuts(model, draws=draws, tune=tune, chains=s.chains, seed=s.seed)

    gibbs(draws=10, warmup=10)  # numba JIT (or its on-disk cache) loaded outside the timing
    nuts(draws=10, tune=10)  # PyTensor C compilation outside the timing
    return (time_calls("Gibbs", gibbs, s.chains * s.gibbs_draws, s.repeats),
            time_calls("NUTS (PyMC)", nuts, s.chains * s.nuts_draws, s.repeats))


def results_frame(g: Timing, n: Timing) -> pd.DataFrame:
    """Metrics as rows, Gibbs | NUTS | Gibbs/NUTS as columns, formatted for display."""
    def ratio(a, b):
        return f"{a / b:,.1f}x"

    rows = [
        ("kept draws (all chains)", f"{g.kept_draws:,}", f"{n.kept_draws:,}", ""),
        ("wall-clock s, median of calls", f"{g.median_s:.3f}", f"{n.median_s:.3f}", ""),
        ("wall-clock s, min of calls", f"{g.min_s:.3f}", f"{n.min_s:.3f}", ""),
        ('own attrs["sampling_time"] s', f"{g.own_sampling_time_s:.3f}", f"{n.own_sampling_time_s:.3f}", ""),
        *[(f"bulk ESS {v}", f"{g.ess[v]:,.0f}", f"{n.ess[v]:,.0f}", "") for v in VARIABLES],
        ("min bulk ESS / kept draw", f"{g.min_ess / g.kept_draws:.2f}", f"{n.min_ess / n.kept_draws:.2f}",
         ratio(g.min_ess / g.kept_draws, n.min_ess / n.kept_draws)),
        ("draws/s", f"{g.draws_per_s:,.0f}", f"{n.draws_per_s:,.0f}", ratio(g.draws_per_s, n.draws_per_s)),
        ("ESS/s (min bulk ESS / median s)", f"{g.ess_per_s:,.0f}", f"{n.ess_per_s:,.0f}", ratio(g.ess_per_s, n.ess_per_s)),
    ]
    return pd.DataFrame(rows, columns=["metric", g.name, n.name, "Gibbs / NUTS"]).set_index("metric")


def rich_table(frame: pd.DataFrame, title: str) -> Table:
    table = Table(title=title)
    table.add_column(frame.index.name)
    for col in frame.columns:
        table.add_column(col, justify="right")
    for metric, row in frame.iterrows():
        style = "bold" if metric.startswith(("draws/s", "ESS/s")) else None
        table.add_row(metric, *row.tolist(), style=style)
    return table


def machine_facts() -> dict[str, str]:
    return {
        "date (UTC)": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "CPU count (os.cpu_count)": str(os.cpu_count()),
        "Python": platform.python_version(),
        "NumPy": np.__version__,
        "PyMC": pm.__version__,
        "ArviZ": az.__version__,
        "BLAS": blas_status(),
        "load average 1/5/15 min at the end (other work on the machine skews timings)":
            " / ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def write_markdown(path: Path, frame: pd.DataFrame, s: Settings, timings, facts: dict[str, str], total_s: float) -> None:
    settings = {k: v for k, v in asdict(s).items() if k != "out"}
    settings["timing"] = f"median of {s.repeats} call(s) after one untimed small warm-up call per sampler"
    for t in timings:
        settings[f"{t.name} timed calls s"] = ", ".join(f"{x:.3f}" for x in t.seconds)
    settings["total run time s (from loading the script, PyMC import included)"] = f"{total_s:.1f}"
    lines = [
        "# Gibbs vs NUTS on Newcomb's data (normal-gamma model, default prior)",
        "",
        "Written by `benchmarks/bench_normal_gamma.py`, overwritten on each run; see `benchmarks/README.md`.",
        "",
        frame.to_markdown(colalign=("left", "right", "right", "right"), disable_numparse=True),
        "",
        "## Settings",
        "",
        *[f"- {k}: {v}" for k, v in settings.items()],
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in facts.items()],
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")


def main(argv=None) -> int:
    settings = parse_args(argv)
    timings = run_benchmark(settings)
    frame = results_frame(*timings)
    Console().print(rich_table(frame, f"Gibbs vs NUTS, Newcomb, {settings.chains} chains"
                                      f"{' (--quick)' if settings.quick else ''}"))
    total = time.perf_counter() - _PROCESS_START
    write_markdown(settings.out, frame, settings, timings, machine_facts(), total)
    print(f"total {total:.1f} s; results written to {settings.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
