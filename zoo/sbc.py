"""``bayes-zoo sbc``: simulation-based calibration of a pair's samplers (:mod:`inference.sbc`).

::

    bayes-zoo sbc PROBLEM [--sims 500] [--sampler {handwritten,nuts,both}] [--jobs 1] [--scheduler ADDRESS]
                          [--planted-bug] [--seed 0] [--out DIR] [--quick] [--force]

Writes ``OUT/sbc-PROBLEM/``: ``ranks-SAMPLER.csv`` (every simulation's rank of every quantity, with its seed,
ESS and thinning), ``failures-SAMPLER.csv`` (simulations that raised, with seed and error; written only if
any did), ``ecdf-SAMPLER.png`` (ECDF-difference plots with simultaneous 95% bands), ``uniformity.csv`` and
``report.md``.  Refuses to overwrite an existing folder without ``--force``.  The verdict of a sampler is
"calibrated" when every quantity's ranks pass the uniformity test (chi-square, Bonferroni over its
quantities at family-wise level 1%) and no simulation failed, "miscalibrated" otherwise.  Exit status: 0 when
every sampler is calibrated, 1 when one is not, 2 for bad usage, 130 when interrupted.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SAMPLERS", "QUICK_SIMS", "add_arguments", "SamplerSBC", "problems_for", "run", "write", "rich_table"]

#: ``--sampler`` choices.
SAMPLERS = ("handwritten", "nuts", "both")
#: Simulations with ``--quick`` (explicit ``--sims`` still wins); the default is 500.
QUICK_SIMS = 100


def add_arguments(parser: argparse.ArgumentParser, pair_names) -> None:
    """The options of ``sbc``."""
    parser.add_argument("problem", choices=list(pair_names), metavar="PROBLEM",
                        help=f"a registered pair: {', '.join(pair_names)}")
    parser.add_argument("--sims", type=int, help=f"simulations per sampler (default 500; --quick {QUICK_SIMS})")
    parser.add_argument("--sampler", choices=SAMPLERS, default="handwritten",
                        help="which side to calibrate (default handwritten; nuts is slow: one PyMC fit a simulation)")
    parser.add_argument("--jobs", type=int, default=1, help="local worker processes (joblib; default 1)")
    parser.add_argument("--scheduler", help="a Dask scheduler address (tcp://host:8786): run the simulations there "
                                            "(needs pip install 'bayes-zoo[dask]')")
    parser.add_argument("--planted-bug", action="store_true",
                        help="calibrate a deliberately wrong handwritten sampler (normal-gamma: the Gamma's rate "
                             "used as a scale); SBC must flag it")
    parser.add_argument("--seed", type=int, default=0, help="root seed; simulation i gets its own child seed (default 0)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="results folder (default ./results)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SIMS} simulations and the pair's small sampler settings")
    parser.add_argument("--force", action="store_true", help="overwrite an existing results folder")


@dataclass
class SamplerSBC:
    """One sampler's calibration: the result, its uniformity table, its figure."""

    side: str
    result: "object"  # inference.sbc.SBCResult
    table: "object"  # pandas.DataFrame
    figure: "object"  # matplotlib Figure or None

    @property
    def verdict(self) -> str:
        ok = len(self.result.failures) == 0 and (self.table["verdict"] == "uniform").all() and len(self.table)
        return "calibrated" if ok else "miscalibrated"


def problems_for(pair, sampler: str, *, quick: bool, planted_bug: bool) -> dict:
    """The pair's SBC problems for ``--sampler``.

    Raises
    ------
    ValueError
        Naming ``problem`` (the pair has no SBC), ``sampler`` (a side the pair does not calibrate) or
        ``planted_bug`` (the pair has none).
    """
    if pair.sbc is None:
        raise ValueError(f"problem: the pair {pair.name!r} has no simulation-based calibration")
    problems = pair.sbc(quick=quick, planted_bug=planted_bug)
    sides = ["handwritten", "nuts"] if sampler == "both" else [sampler]
    missing = [s for s in sides if s not in problems]
    if missing:
        raise ValueError(f"sampler: the pair {pair.name!r} calibrates {', '.join(problems)} only (not {', '.join(missing)})")
    return {s: problems[s] for s in sides}


def run(problems: dict, *, sims: int, seed: int, jobs: int, scheduler=None, progress=None) -> list[SamplerSBC]:
    """:func:`inference.sbc.run_sbc` for each side, its uniformity table and ECDF figure."""
    from inference.sbc import plot_ecdf, run_sbc, uniformity

    out = []
    for side, problem in problems.items():
        result = run_sbc(problem, sims=sims, seed=seed, jobs=jobs, scheduler=scheduler,
                         progress=(lambda r, _s=side: progress(_s, r)) if progress else None)
        table = uniformity(result, bins=20 if sims >= 100 else 10)  # no rows when every simulation failed
        figure = plot_ecdf(result) if len(result.ranks) else None
        out.append(SamplerSBC(side, result, table, figure))
    return out


def write(runs: list[SamplerSBC], folder: Path, *, problem: str, settings: dict) -> list[Path]:
    """Write the ranks, failures, figures, ``uniformity.csv`` and ``report.md`` into ``folder``."""
    import matplotlib.pyplot as plt
    import pandas as pd

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths, tables, lines = [], [], []
    for r in runs:
        r.result.ranks.to_csv(folder / f"ranks-{r.side}.csv", index=False)
        paths.append(folder / f"ranks-{r.side}.csv")
        if len(r.result.failures):
            r.result.failures.to_csv(folder / f"failures-{r.side}.csv", index=False)
            paths.append(folder / f"failures-{r.side}.csv")
        if r.figure is not None:
            r.figure.savefig(folder / f"ecdf-{r.side}.png", dpi=110)
            plt.close(r.figure)
            paths.append(folder / f"ecdf-{r.side}.png")
        tables.append(r.table.assign(sampler=r.side, problem=r.result.problem))
        lines += [f"## {r.result.problem}: **{r.verdict}**", "",
                  f"{r.result.sims} simulations, {len(r.result.failures)} failed; ranks among L = {r.result.kept} "
                  "draws after thinning by ESS.", "",
                  r.table.to_markdown(index=False, floatfmt=".4g") if len(r.table) else "(no ranks)", ""]
        if r.figure is not None:
            lines += [f"![ECDF difference, {r.side}](ecdf-{r.side}.png)", ""]
        if len(r.result.failures):
            lines += ["Failed simulations (seed, error): see `failures-" + r.side + ".csv`.", ""]
    pd.concat(tables).to_csv(folder / "uniformity.csv", index=False)
    paths.append(folder / "uniformity.csv")
    header = [f"# Simulation-based calibration: {problem}", "",
              "Talts, Betancourt, Simpson, Vehtari & Gelman (2018).  A quantity is *uniform* when the chi-square "
              "test of its ranks (20 bins; 10 below 100 simulations) passes at the Bonferroni level 1% / "
              "quantities; a sampler is *calibrated* when all of its quantities are and no simulation failed.", "",
              "Settings: " + ", ".join(f"{k} {v}" for k, v in settings.items()), ""]
    (folder / "report.md").write_text("\n".join(header + lines), encoding="utf-8")
    paths.append(folder / "report.md")
    return paths


def rich_table(runs: list[SamplerSBC]):
    """Every sampler's quantities with p-value and verdict, as a Rich table."""
    from rich import box
    from rich.table import Table

    table = Table(title="simulation-based calibration", title_justify="left", box=box.SIMPLE_HEAD)
    for col, justify in (("sampler", "left"), ("quantity", "left"), ("sims", "right"), ("p-value", "right"),
                         ("threshold", "right"), ("ESS short", "right"), ("verdict", "left")):
        table.add_column(col, justify=justify)
    style = {"uniform": "green", "non-uniform": "red"}
    for r in runs:
        for row in r.table.itertuples():
            table.add_row(r.result.problem, row.quantity, str(row.simulations), f"{row.p_value:.3g}",
                          f"{row.threshold:.3g}", str(row.ess_short),
                          f"[{style.get(row.verdict, 'yellow')}]{row.verdict}[/]")
    return table
