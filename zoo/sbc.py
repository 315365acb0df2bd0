"""``bayes-zoo sbc``: simulation-based calibration of a pair's samplers (:mod:`bayes_zoo.inference.sbc`).

::

    bayes-zoo sbc PROBLEM [--sims 500] [--sampler {handwritten,nuts,both}] [--jobs 1] [--scheduler ADDRESS]
                          [--planted-bug] [--seed 0] [--out DIR] [--quick] [--force]

Writes ``OUT/sbc-PROBLEM/``: ``ranks-SAMPLER.csv`` (every simulation's rank of every quantity, with its seed,
ESS and thinning), ``failures-SAMPLER.csv`` (simulations that raised, with seed and error; written only if
any did), ``ecdf-SAMPLER.png`` (ECDF-difference plots with simultaneous 95% bands), ``uniformity.csv`` and
``report.md``, written into a temporary folder beside it and moved into place when complete (see
:class:`bayes_zoo.report.Output`); an existing folder is replaced only with ``--force``, and only then.  The
verdict of a sampler is
"calibrated" when every quantity's ranks pass the uniformity test (chi-square, Bonferroni over its
quantities at family-wise level 1%) and no simulation failed, "miscalibrated" when a quantity fails it or a
simulation failed, "inconclusive" when there are too few simulations for the test (fewer than 5 a bin).
Exit status: 0 unless a sampler is miscalibrated (1), 2 for bad usage (an unreachable ``--scheduler``
included), 3 for an internal error, 130 when interrupted (:mod:`bayes_zoo.cli`).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SAMPLERS", "QUICK_SIMS", "bins_for", "p_value_text", "add_arguments", "SamplerSBC", "problems_for", "run", "write", "rich_table"]

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
                        help="which side to calibrate (default handwritten; nuts: NUTS compiled once, one fit a simulation)")
    parser.add_argument("--jobs", type=int, default=1, help="local worker processes (joblib; default 1)")
    parser.add_argument("--scheduler", help="a Dask scheduler address (tcp://host:8786): run the simulations there "
                                            "(needs pip install 'bayes-zoo[dask]')")
    parser.add_argument("--planted-bug", nargs="?", const="", default=None, metavar="BUG",
                        help="calibrate a deliberately wrong handwritten sampler the problem declares (its first "
                             "when BUG is not named; normal-gamma: rate-as-scale, the Gamma's rate used as a "
                             "scale); SBC must flag it")
    parser.add_argument("--seed", type=int, default=0,
                        help="root seed, 0 <= seed < 2**63; simulation i gets its own child seed (default 0)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="results folder (default ./results)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SIMS} simulations and the pair's small sampler settings")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing results folder (once the new one is complete)")


@dataclass
class SamplerSBC:
    """One sampler's calibration: the result, its uniformity table, its figure."""

    side: str
    result: "object"  # bayes_zoo.inference.sbc.SBCResult
    table: "object"  # pandas.DataFrame
    figure: "object"  # matplotlib Figure or None

    @property
    def sampler_failures(self):
        """The simulations where the sampler (not the generative model) raised."""
        f = self.result.failures
        return f[f["stage"] != "simulate"] if "stage" in f else f

    @property
    def simulation_failures(self):
        """The simulations whose generative model raised (a prior draw the model cannot simulate data from, such
        as a Poisson rate beyond NumPy's range): left out, not the sampler's fault; the report says how many."""
        f = self.result.failures
        return f[f["stage"] == "simulate"] if "stage" in f else f.iloc[:0]

    @property
    def verdict(self) -> str:
        """"miscalibrated" (a quantity's ranks are not uniform, or the sampler failed in a simulation),
        "inconclusive" (too few simulations for the test, or no ranks at all), else "calibrated"."""
        verdicts = set(self.table["verdict"])
        if len(self.sampler_failures) or "non-uniform" in verdicts:
            return "miscalibrated"
        if not len(self.table) or verdicts != {"uniform"}:
            return "inconclusive"
        return "calibrated"

    @property
    def ranked(self) -> int:
        """The simulations whose ranks were computed: those asked for, less those that failed (in the generative
        model or in the sampler)."""
        return self.result.sims - len(self.result.failures)

    @property
    def bins(self) -> int:
        """Bins of the chi-square test: 20, or 10 below 100 completed simulations."""
        return bins_for(self.ranked)

    def simulations_text(self) -> str:
        """``"100 simulations"``, or ``"100 simulations, 99 ranked"`` when some were not ranked."""
        sims = self.result.sims
        text = f"{sims} simulation{'' if sims == 1 else 's'}"
        return text if self.ranked == sims else f"{text}, {self.ranked} ranked"


def bins_for(sims: int) -> int:
    """Bins of the uniformity test for ``sims`` simulations: 20 (5 possible ranks each), 10 below 100."""
    return 20 if sims >= 100 else 10


def p_value_text(p: float) -> str:
    """A p-value for people: ``"< 1e-300"`` where it underflowed to 0."""
    return "< 1e-300" if p < 1e-300 else f"{p:.3g}"


def problems_for(pair, sampler: str, *, quick: bool, planted_bug: str | None) -> dict:
    """The problem's SBC problems for ``--sampler`` (:func:`bayes_zoo.problem.sbc_problems`).

    ``"handwritten"`` is every compared side but ``"nuts"`` (or the problem's ``sbc_sides``); ``planted_bug``
    (a name, or ``""`` for the problem's first) swaps in that planted bug's side.

    Raises
    ------
    ValueError
        Naming ``problem`` (the problem has no SBC), ``sampler`` (a side the problem does not calibrate) or
        ``planted_bug`` (the problem has no such bug, or it was asked with ``--sampler nuts/both``).
    """
    from bayes_zoo.problem import sbc_problems

    if pair.simulate is None and pair.model is None:
        raise ValueError(f"problem: the pair {pair.name!r} has no simulation-based calibration")
    if planted_bug is not None:
        if sampler != "handwritten":
            raise ValueError("planted_bug: only a handwritten sampler carries the planted bug; use --sampler handwritten")
        if not pair.bugs:
            raise ValueError(f"planted_bug: the pair {pair.name!r} has no planted-bug sampler "
                             f"(only normal-gamma has one)")
        pair = pair.with_bug(planted_bug or next(iter(pair.bugs)))
    compared = [k for k, s in pair.sides.items() if s.compared]
    handwritten = list(pair.sbc_sides) if pair.sbc_sides is not None else [k for k in compared if k != "nuts"]
    handwritten = [k for k in handwritten if k != "nuts"]
    calibrated = handwritten + (["nuts"] if "nuts" in compared and (pair.sbc_sides is None or "nuts" in pair.sbc_sides) else [])
    wanted = {"handwritten": handwritten, "nuts": ["nuts"], "both": handwritten + ["nuts"]}[sampler]
    missing = [k for k in wanted if k not in calibrated]
    if missing or not wanted:
        what = "nuts" if sampler == "nuts" else sampler
        raise ValueError(f"sampler: the pair {pair.name!r} calibrates {', '.join(calibrated) or 'nothing'} only "
                         f"(not {what})")
    problems = sbc_problems(pair, wanted, quick=quick)
    return {(k if k == "nuts" or len(handwritten) > 1 else "handwritten"): p for k, p in problems.items()}


def run(problems: dict, *, sims: int, seed: int, jobs: int, scheduler=None, progress=None,
        figures: bool = True) -> list[SamplerSBC]:
    """:func:`bayes_zoo.inference.sbc.run_sbc` for each side, its uniformity table and (``figures``) ECDF figure."""
    from bayes_zoo.inference.sbc import plot_ecdf, run_sbc, uniformity

    out = []
    for side, problem in problems.items():
        result = run_sbc(problem, sims=sims, seed=seed, jobs=jobs, scheduler=scheduler,
                         progress=(lambda r, _s=side: progress(_s, r)) if progress else None)
        table = uniformity(result, bins=bins_for(max(1, sims - len(result.failures))))  # no rows when all failed
        figure = plot_ecdf(result) if figures and len(result.ranks) else None
        out.append(SamplerSBC(side, result, table, figure))
    return out


def write(runs: list[SamplerSBC], folder: Path, *, problem: str, settings: dict) -> list[Path]:
    """Write the ranks, failures, figures, ``uniformity.csv``, ``report.md`` and ``report.html``
    (:func:`bayes_zoo.html_report.write_html`) into ``folder``."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from bayes_zoo.html_report import write_html
    from bayes_zoo.tables import markdown_table

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
            r.figure.savefig(folder / f"ecdf-{r.side}.png", dpi=110, bbox_inches="tight")
            plt.close(r.figure)
            paths.append(folder / f"ecdf-{r.side}.png")
        tables.append(r.table.assign(sampler=r.side, problem=r.result.problem))
        shown = r.table.assign(p_value=r.table["p_value"].map(p_value_text))
        lines += [f"## {r.result.problem}: **{r.verdict}**", "",
                  f"{r.simulations_text()}: {len(r.sampler_failures)} failed in the sampler, "
                  f"{len(r.simulation_failures)} left out because the generative model could not simulate them "
                  f"(not the sampler's fault); ranks among L = {r.result.kept} "
                  f"draws after thinning by ESS; chi-square test in {r.bins} bins.", "",
                  markdown_table(shown, index=False, floatfmt=".4g") if len(r.table) else "(no ranks)", ""]
        if r.figure is not None:
            lines += [f"![ECDF difference, {r.side}](ecdf-{r.side}.png)", ""]
        if len(r.result.failures):
            lines += ["Failed simulations (seed, error): see `failures-" + r.side + ".csv`.", ""]
    pd.concat(tables).to_csv(folder / "uniformity.csv", index=False)
    paths.append(folder / "uniformity.csv")
    header = [f"# Simulation-based calibration: {problem}", "",
              "Talts, Betancourt, Simpson, Vehtari & Gelman (2018).  A quantity is *uniform* when the chi-square "
              "test of its ranks passes at the Bonferroni level 1% / quantities (with fewer than 5 simulations a "
              "bin expected, *too few simulations*); a sampler is *calibrated* when all of its quantities are "
              "uniform and no simulation failed, *miscalibrated* when one is not uniform or a simulation failed, "
              "*inconclusive* otherwise.", "",
              "Settings: " + ", ".join(f"{k.replace('_', ' ')} = {v}" for k, v in settings.items()), ""]
    (folder / "report.md").write_text("\n".join(header + lines), encoding="utf-8")
    paths.append(folder / "report.md")
    paths.append(write_html(folder))
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
            table.add_row(r.result.problem, row.quantity, str(row.simulations), p_value_text(row.p_value),
                          f"{row.threshold:.3g}", str(row.ess_short),
                          f"[{style.get(row.verdict, 'yellow')}]{row.verdict}[/]")
    return table
