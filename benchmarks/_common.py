"""What the benchmark scripts share: flags, timing whole calls, the Gibbs-vs-NUTS rows, machine facts, the file.

Each ``benchmarks/bench_*.py`` script imports this module (it sits beside them; the scripts put their own
folder on ``sys.path`` so that a test loading a script by its path finds it too).  The conventions, which
``benchmarks/README.md`` describes for every script:

* a whole call is timed with ``time.perf_counter``, ``repeats`` times; the **median** is reported and the
  minimum shown beside it (:func:`time_calls`);
* a sampler's figures are kept draws, those seconds, the sampler's own ``posterior.attrs["sampling_time"]``
  and the bulk ESS of the quantities that matter; ESS/s is the minimum of those ESS over the median seconds
  (:class:`SamplerTiming`), and :func:`sampler_frame` lays Gibbs and NUTS side by side with their ratio;
* results go to one Markdown file, overwritten on each run: tables, settings, machine facts
  (:func:`write_results`).
"""

from __future__ import annotations

import bayes_zoo

bayes_zoo.configure()  # first: PyTensor's BLAS, before PyMC is imported

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
from rich.console import Console
from rich.table import Table

from bayes_zoo.models.backend import blas_status

__all__ = [
    "SAMPLING_ONLY",
    "SAMPLER_SIZE_HELP",
    "Settings",
    "parse_settings",
    "time_calls",
    "median_s",
    "SamplerTiming",
    "time_sampler",
    "rate",
    "ratio",
    "sampler_frame",
    "print_tables",
    "markdown_table",
    "machine_facts",
    "settings_facts",
    "write_results",
    "finish",
    "Claim",
    "paired_ratios",
    "interleaved",
    "write_claims",
]


#: Keyword arguments of both samplers that time the sampling alone: no ``log_likelihood`` or
#: ``posterior_predictive`` groups (they are computed after sampling and would be timed with it).
SAMPLING_ONLY = {"log_likelihood": False, "posterior_predictive": False}

#: ``--help`` of the sizes every Gibbs-vs-NUTS script has; a script adds its ``repeats`` flags.
SAMPLER_SIZE_HELP = {
    "gibbs_draws": "kept Gibbs draws per chain",
    "nuts_draws": "kept NUTS draws per chain",
    "tune": "NUTS tuning steps = Gibbs warm-up sweeps per chain",
    "chains": "chains for both samplers",
}


@dataclass(frozen=True)
class Settings:
    """A run's sizes (``s.chains``, ``s.repeats`` ... read them by name), seed, ``--quick`` and output file."""

    sizes: dict[str, int]
    seed: int
    quick: bool
    out: Path

    def __getattr__(self, name: str) -> int:
        try:
            return self.__dict__["sizes"][name]
        except KeyError:
            raise AttributeError(name) from None

    def as_dict(self) -> dict:
        """The sizes in their declared order, then ``seed`` and ``quick`` (not the output file)."""
        return {**self.sizes, "seed": self.seed, "quick": self.quick}


def parse_settings(description: str, argv, *, helps: dict[str, str], full: dict[str, int], quick: dict[str, int],
                   default_out: Path, zero_ok=("tune",)) -> Settings:
    """Parse ``--<size>`` for each key of ``full`` (help ``helps[key]``), ``--seed``, ``--out`` and ``--quick``.

    ``--quick`` takes the sizes from ``quick``, otherwise from ``full``; a size given explicitly wins.  Sizes
    must be >= 1, those in ``zero_ok`` >= 0 (argparse exits with status 2 otherwise).
    """
    p = argparse.ArgumentParser(description=description, allow_abbrev=False)
    for key, text in helps.items():
        p.add_argument(f"--{key.replace('_', '-')}", type=int, help=f"{text} (default {full[key]:,})")
    p.add_argument("--seed", type=int, default=0, help="root seed of every sampler (default 0)")
    p.add_argument("--out", type=Path, default=default_out,
                   help="Markdown results file, overwritten (default %(default)s)")
    p.add_argument("--quick", action="store_true",
                   help="tiny settings for a smoke test: " + ", ".join(f"{k}={v}" for k, v in quick.items())
                   + " (explicit flags still win)")
    a = p.parse_args(argv)
    base = quick if a.quick else full
    values = {k: getattr(a, k) if getattr(a, k) is not None else v for k, v in base.items()}
    for k, v in values.items():
        least = 0 if k in zero_ok else 1
        if v < least:
            p.error(f"--{k.replace('_', '-')}: must be >= {least}, got {v}")
    return Settings(values, seed=a.seed, quick=a.quick, out=a.out)


def time_calls(call, repeats: int) -> tuple[tuple[float, ...], object]:
    """Time ``call()`` ``repeats`` times (``time.perf_counter``); the seconds and the last call's result."""
    seconds = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - start)
    return tuple(seconds), result


def median_s(seconds) -> float:
    """The median of timed calls, the figure every table reports."""
    return statistics.median(seconds)


@dataclass(frozen=True)
class SamplerTiming:
    """One sampler's timed calls and the bulk ESS (of the quantities that count) of its last run."""

    name: str
    kept_draws: int
    seconds: tuple[float, ...]
    own_sampling_time_s: float
    ess: dict[str, float]

    @property
    def median_s(self) -> float:
        return median_s(self.seconds)

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


def time_sampler(name: str, call, kept_draws: int, repeats: int, ess_of) -> tuple[SamplerTiming, az.InferenceData]:
    """Time ``call()`` (returning InferenceData); ESS (``ess_of(idata)``) and own time come from the last call."""
    seconds, idata = time_calls(call, repeats)
    own = float(idata.posterior.attrs["sampling_time"])
    return SamplerTiming(name, kept_draws, seconds, own, ess_of(idata)), idata


def rate(x: float) -> str:
    """A per-second figure: ``"5,428,964"``, to 3 significant digits below 100 (``"3.41"``)."""
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def ratio(a: float, b: float) -> str:
    """``a / b`` as ``"1,234.5x"``."""
    return f"{a / b:,.1f}x"


def sampler_frame(g: SamplerTiming, n: SamplerTiming, ess_rows) -> pd.DataFrame:
    """Metrics as rows, Gibbs | NUTS | Gibbs/NUTS as columns, formatted for display.

    ``ess_rows`` (``(metric, gibbs, nuts, ratio)`` tuples of strings) stand between the timings and the
    per-draw and per-second rows.
    """
    rows = [
        ("kept draws (all chains)", f"{g.kept_draws:,}", f"{n.kept_draws:,}", ""),
        ("wall-clock s, median of calls", f"{g.median_s:.3f}", f"{n.median_s:.3f}", ""),
        ("wall-clock s, min of calls", f"{g.min_s:.3f}", f"{n.min_s:.3f}", ""),
        ('own attrs["sampling_time"] s', f"{g.own_sampling_time_s:.3f}", f"{n.own_sampling_time_s:.3f}", ""),
        *ess_rows,
        ("min bulk ESS / kept draw", f"{g.min_ess / g.kept_draws:.2f}", f"{n.min_ess / n.kept_draws:.2f}",
         ratio(g.min_ess / g.kept_draws, n.min_ess / n.kept_draws)),
        ("draws/s", rate(g.draws_per_s), rate(n.draws_per_s), ratio(g.draws_per_s, n.draws_per_s)),
        ("ESS/s (min bulk ESS / median s)", rate(g.ess_per_s), rate(n.ess_per_s), ratio(g.ess_per_s, n.ess_per_s)),
    ]
    return pd.DataFrame(rows, columns=["metric", g.name, n.name, "Gibbs / NUTS"]).set_index("metric")


def rich_table(frame: pd.DataFrame, title: str) -> Table:
    """``frame`` (string cells) for the terminal: index left, columns right, draws/s and ESS/s rows bold."""
    table = Table(title=title)
    table.add_column(frame.index.name)
    for col in frame.columns:
        table.add_column(col, justify="right")
    for metric, row in frame.iterrows():
        style = "bold" if metric.startswith(("draws/s", "ESS/s")) else None
        table.add_row(metric, *row.tolist(), style=style)
    return table


def print_tables(*titled_frames: tuple[str, pd.DataFrame]) -> None:
    """Print each ``(title, frame)`` to the terminal."""
    console = Console()
    for title, frame in titled_frames:
        console.print(rich_table(frame, title))


def markdown_table(frame: pd.DataFrame, left=()) -> str:
    """``frame`` as a Markdown table, cells as written: the index and the columns in ``left`` left-aligned."""
    align = ("left",) + tuple("left" if c in left else "right" for c in frame.columns)
    return frame.to_markdown(colalign=align, disable_numparse=True)


def machine_facts() -> dict[str, str]:
    """Date, platform, CPU count, versions, PyTensor's BLAS and the load average (last: it is read at the end)."""
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


def settings_facts(s: Settings, timing: str, timed: dict[str, tuple[float, ...]], total_s: float,
                   seconds_format: str = ".3f") -> dict[str, str]:
    """The settings list of a results file: sizes, seed, quick, how calls were timed, each call's seconds
    (formatted with ``seconds_format``: ``".4g"`` keeps millisecond calls readable)."""
    facts = dict(s.as_dict())
    facts["timing"] = timing
    for name, seconds in timed.items():
        facts[f"{name} timed calls s"] = ", ".join(format(x, seconds_format) for x in seconds)
    facts["total run time s (from loading the script, PyMC import included)"] = f"{total_s:.1f}"
    return facts


def write_results(path: Path, title: str, script: str, body: list[str], settings: dict, facts: dict[str, str]) -> None:
    """Write the results file: title, provenance, ``body`` (Markdown lines), ``## Settings``, ``## Machine``."""
    lines = [
        f"# {title}",
        "",
        f"Written by `benchmarks/{script}`, overwritten on each run; see `benchmarks/README.md`.",
        "",
        *body,
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


def finish(s: Settings, process_start: float, title: str, script: str, body: list[str], timing: str,
           timed: dict[str, tuple[float, ...]], seconds_format: str = ".3f") -> int:
    """Write the results file (settings with the run time since ``process_start``), say where; exit status 0."""
    total = time.perf_counter() - process_start
    write_results(s.out, title, script, body, settings_facts(s, timing, timed, total, seconds_format),
                  machine_facts())
    print(f"total {total:.1f} s; results written to {s.out}")
    return 0


# ------------------------------------------------------------------------------------- claims for the README


@dataclass(frozen=True)
class Claim:
    """One performance figure the README states, as measured in one run (``benchmarks/readme.py`` prints it).

    Attributes
    ----------
    key : str
        Stable identifier, ``"<script>.<what>"`` (e.g. ``"gp_exact.grad_vs_sklearn"``); the README rows are
        ordered by script, then in the order the script wrote them.
    text : str
        What the ratio compares, which side is divided by which, sizes included, e.g. ``"exact GP value +
        gradient, 8-D, N = 2,000: scikit-learn seconds / ours"``.
    ratios : tuple of float
        The paired ratios, one per interleaved repeat (the README prints min / median / max).
    target : str
        The acceptance bound in words, e.g. ``">= 10x"``; ``""`` for a figure with none.
    met : bool or None
        Whether the median meets ``target`` (None when there is none).
    unit : str
        ``"x"`` for a ratio (default), or a unit such as ``"s"`` or ``"MiB"`` for a measured quantity.
    """

    key: str
    text: str
    ratios: tuple[float, ...]
    target: str = ""
    met: bool | None = None
    unit: str = "x"

    def as_dict(self) -> dict:
        values = [float(r) for r in self.ratios]
        if not values:
            raise ValueError(f"claim {self.key!r}: no ratios measured")
        return {"key": self.key, "text": self.text, "ratios": values, "min": min(values),
                "median": statistics.median(values), "max": max(values), "target": self.target,
                "met": self.met, "unit": self.unit}


def paired_ratios(numerator: tuple[float, ...], denominator: tuple[float, ...]) -> tuple[float, ...]:
    """Ratios of the i-th timings of two interleaved calls (``numerator[i] / denominator[i]``)."""
    if len(numerator) != len(denominator):
        raise ValueError(f"paired_ratios: {len(numerator)} vs {len(denominator)} timings")
    return tuple(a / b for a, b in zip(numerator, denominator))


def interleaved(calls: dict[str, object], repeats: int) -> dict[str, tuple[float, ...]]:
    """Time each of ``calls`` once per round, ``repeats`` rounds, in turn (A B C A B C ...): the i-th timings of
    two calls were taken moments apart, so their ratio sees the same machine load (:func:`paired_ratios`)."""
    seconds: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            seconds[name].append(time.perf_counter() - start)
    return {name: tuple(v) for name, v in seconds.items()}


def write_claims(script: str, claims, settings: Settings, facts: dict[str, str] | None = None) -> Path:
    """Write ``claims`` (a sequence of :class:`Claim`) as JSON beside the run's results file ``settings.out``
    (same stem, ``.json``).

    The file holds the script's name, whether the run was ``--quick`` (``benchmarks/readme.py`` refuses such a
    file: quick sizes are not measurements), the claims with min/median/max, and the machine facts (date, load
    average ...) of :func:`machine_facts`; ``benchmarks/readme.py`` regenerates the README's performance
    section from every such file in ``benchmarks/results/``.  Written to a temporary file and renamed, so an
    interrupted run leaves the previous file whole.
    """
    path = Path(settings.out).with_suffix(".json")
    payload = {"script": script, "quick": bool(settings.quick), "claims": [c.as_dict() for c in claims],
               "machine": facts if facts is not None else machine_facts()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
