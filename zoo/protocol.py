"""``bayes-zoo active-learn --protocol pinsler2019``: the regression experiment of Pinsler et al. (2019, sec. 7.1).

Their settings (reference code ``rpinsler/active-bayesian-coresets``, ``scripts/run_active_regression*.sh``):
yacht, boston, energy and power-plant; 40 seeds, each a random 80/20 train/test split with 20 random initial
labels; batches of 10 until 100 labels have been acquired; a batch may hold fewer than 10 points (Frank–Wolfe may
choose a point twice; no top-up); the neural-linear learner retrained from scratch every round
(:class:`bayes_zoo.active_learning.learners.NeuralLinearLearner`, their per-data-set settings).  Strategies:
ACS-FW with the closed-form weighted Fisher inner products (``acs-fw:0``) and with J = 10 random projections
(``acs-fw:10``: the projections script takes J as an argument; 10 is its Python entry point's default and the
README's example), random, MaxEnt and BALD.

A unit of work is one (data set, seed): every strategy on that seed's split and initial labels
(:func:`bayes_zoo.active_learning.loop.run_repeat`), so ACS-FW's final RMSE is compared with each baseline's as
a paired difference per seed (:func:`bayes_zoo.active_learning.loop.paired_differences`).  Units run in parallel
(:func:`bayes_zoo.inference.parallel.map_tasks`: joblib processes, or a Dask cluster); a unit's result depends
on its seed alone.

What differs from the paper: no year data set (not bundled; 515,345 rows); our own splits from seeds 0..39 (the
loop's, not the reference's NumPy seeding; a test part of round(0.2 N) points, theirs floor(0.2 N)); and the
learner's differences, listed in :class:`~bayes_zoo.active_learning.learners.NeuralLinearLearner`'s docstring
(scikit-learn's perceptron without batch normalisation, trained on squared error, stopped by its tolerance;
standardisation per round; ACS-FW's projections as the paper defines ``L_n``, where the reference's code draws
``w`` at unit noise and drops the entropy; the test log-likelihood in original units).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = ["Protocol", "PROTOCOLS", "QUICK", "ProtocolResult", "run_unit", "run", "final_table", "verdicts",
           "plot", "report_markdown", "verdict_lines", "rich_final", "write", "with_options"]


@dataclass(frozen=True)
class Protocol:
    """An active-learning protocol: what it runs and on what.

    Attributes
    ----------
    name : str
    datasets : tuple of str
        Bundled regression sets (:data:`bayes_zoo.models.datasets.UCI_DATASETS`).
    seeds : int
        Seeds per data set: ``seed .. seed + seeds - 1``.
    strategies : tuple of str
        As :func:`bayes_zoo.active_learning.strategies.check_strategies` takes them.
    batch_size, budget, init : int
    test_fraction : float
    top_up : bool
    source : str
        Where the settings come from.
    """

    name: str
    datasets: tuple
    seeds: int
    strategies: tuple
    batch_size: int
    budget: int
    init: int
    test_fraction: float
    top_up: bool
    source: str

    def loop_settings(self):
        """The :class:`bayes_zoo.active_learning.loop.LoopSettings` of every unit."""
        from bayes_zoo.active_learning.loop import LoopSettings

        return LoopSettings(batch_size=self.batch_size, budget=self.budget, init=self.init,
                            test_fraction=self.test_fraction, top_up=self.top_up)


#: The protocols ``--protocol`` accepts.
PROTOCOLS = {
    "pinsler2019": Protocol(
        name="pinsler2019", datasets=("yacht", "boston", "energy", "power-plant"), seeds=40,
        strategies=("acs-fw:0", "acs-fw:10", "random", "maxent", "bald"), batch_size=10, budget=100, init=20,
        test_fraction=0.2, top_up=False,
        source="Pinsler et al. (2019), sec. 7.1; rpinsler/active-bayesian-coresets, "
               "scripts/run_active_regression.sh and run_active_regression_projections.sh"),
}

#: What ``--quick`` changes (explicit options still win): 2 seeds, one batch of labels beyond the initial ones.
QUICK = {"seeds": 2, "budget": 10}


@dataclass(frozen=True)
class ProtocolResult:
    """A protocol's run.

    Attributes
    ----------
    protocol : Protocol
        As run (``seeds`` and ``budget`` as given).
    rounds : pandas.DataFrame
        Every round of every strategy, seed and data set (:func:`bayes_zoo.active_learning.loop.run_repeat`'s
        rows with a ``dataset`` column first).
    seed : int
        The first seed.
    posterior : str
        The learner's last-layer posterior.
    wall_seconds : float
        Wall-clock time of all units.
    jobs : int
    scheduler : str or None
    """

    protocol: Protocol
    rounds: object = field(repr=False)
    seed: int
    posterior: str
    wall_seconds: float
    jobs: int
    scheduler: str | None


def run_unit(dataset: str, seed: int, protocol: Protocol, posterior: str, nuts) -> list[dict]:
    """Every strategy of ``protocol`` on ``dataset`` with seed ``seed``: the rounds' rows with ``dataset``."""
    from bayes_zoo.active_learning import loop
    from bayes_zoo.active_learning.learners import NeuralLinearLearner
    from bayes_zoo.models.datasets import load_uci

    data = load_uci(dataset)
    learner = NeuralLinearLearner.pinsler2019(dataset, posterior=posterior, nuts=nuts)
    rows = loop.run_repeat(learner, data["X"], data["y"], protocol.strategies, protocol.loop_settings(), seed)
    return [{"dataset": dataset, **row} for row in rows]


def run(protocol: Protocol, *, seed: int = 0, jobs: int = 1, scheduler=None, posterior: str = "closed-form",
        nuts=None, progress=None) -> ProtocolResult:
    """Run every (data set, seed) unit of ``protocol``.

    Parameters
    ----------
    protocol : Protocol
    seed : int >= 0
        The first seed; unit seeds are ``seed .. seed + protocol.seeds - 1``.
    jobs : int >= 1
        Local worker processes (joblib); ignored with ``scheduler``.
    scheduler : str or distributed.Client, optional
        A Dask scheduler address or client.
    posterior : {"closed-form", "nuts", "advi"}
        The neural-linear learner's last layer.
    nuts : NutsSettings, optional
    progress : callable, optional
        Called with each unit's rows as it completes (in unit order).

    Raises
    ------
    ValueError
        Naming the argument, before any work.
    """
    import pandas as pd

    from bayes_zoo.active_learning.learners import POSTERIORS, NutsSettings
    from bayes_zoo.active_learning.strategies import check_strategies
    from bayes_zoo.inference.parallel import map_tasks
    from bayes_zoo.models.checks import nonnegative_int, positive_int
    from bayes_zoo.models.datasets import UCI_DATASETS

    if not isinstance(protocol, Protocol):
        raise ValueError(f"protocol: expected a Protocol, got {type(protocol).__name__}")
    unknown = [d for d in protocol.datasets if d not in UCI_DATASETS]
    if unknown:
        raise ValueError(f"protocol: unknown data sets {unknown}; expected from {', '.join(UCI_DATASETS)}")
    check_strategies(protocol.strategies)
    protocol.loop_settings()
    positive_int(protocol.seeds, "seeds")
    seed = nonnegative_int(seed, "seed")
    if posterior not in POSTERIORS:
        raise ValueError(f"posterior: expected one of {POSTERIORS}, got {posterior!r}")
    nuts = nuts if nuts is not None else NutsSettings()
    units = [(d, s, protocol, posterior, nuts) for d in protocol.datasets for s in range(seed, seed + protocol.seeds)]
    t0 = time.perf_counter()
    results = map_tasks(run_unit, units, jobs=jobs, scheduler=scheduler, progress=progress)
    wall = time.perf_counter() - t0
    rounds = pd.DataFrame([row for rows in results for row in rows])
    return ProtocolResult(protocol, rounds, seed, posterior, wall, jobs,
                          None if scheduler is None else str(getattr(scheduler, "scheduler_info", lambda: {})()
                                                             .get("address", scheduler)))


def _by_dataset(result: ProtocolResult):
    for dataset in result.protocol.datasets:
        yield dataset, result.rounds[result.rounds["dataset"] == dataset]


def final_table(result: ProtocolResult):
    """Per data set and strategy: final RMSE and test log-likelihood (mean and 2 SE over seeds), labels, seeds,
    selection seconds per batch and the mean points per batch (below the batch size when Frank–Wolfe repeated a
    point)."""
    import pandas as pd

    from bayes_zoo.active_learning import loop

    tables = []
    for dataset, rounds in _by_dataset(result):
        table = loop.final_table(rounds, "regression")
        chosen = rounds[rounds["batch"] > 0].groupby("strategy", sort=False)["batch"].mean()
        table["points_per_batch"] = table["strategy"].map(chosen)
        table.insert(0, "dataset", dataset)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def verdicts(result: ProtocolResult):
    """Per data set: each ACS-FW variant against each baseline on the final RMSE, paired by seed
    (:func:`bayes_zoo.active_learning.loop.paired_differences`)."""
    import pandas as pd

    from bayes_zoo.active_learning import loop

    tables = []
    for dataset, rounds in _by_dataset(result):
        table = loop.paired_differences(rounds, "regression")
        table.insert(0, "dataset", dataset)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def plot(result: ProtocolResult):
    """One panel per data set: test RMSE against the number of labels, mean ± 2 SE over seeds, every run read
    on the grid of full batches (:func:`bayes_zoo.active_learning.loop.on_grid`)."""
    import matplotlib.pyplot as plt

    from bayes_zoo.active_learning import loop

    p = result.protocol
    grid = sorted(set(range(p.init, p.init + p.budget + 1, p.batch_size)) | {p.init + p.budget})
    from bayes_zoo.figures import legend_outside, style

    with style():
        fig, axes = plt.subplots(1, len(p.datasets), figsize=(4.2 * len(p.datasets), 3.6), squeeze=False)
        for ax, (dataset, rounds) in zip(axes[0], _by_dataset(result)):
            loop.draw_curves(ax, rounds, "rmse", higher_better=False, grid=grid)
            ax.set_title(dataset)
        seeds = result.rounds.groupby("dataset")["seed"].nunique().min()
        fig.suptitle(f"{p.name}: test RMSE (original units), neural-linear, {result.posterior} last layer — "
                     f"mean ± 2 SE over {seeds} seeds")
        fig.tight_layout()
        legend_outside(fig)
    return fig


def _markdown_table(frame) -> str:
    from bayes_zoo.tables import markdown_table

    return markdown_table(frame, index=False, floatfmt=".4g")


def report_markdown(result: ProtocolResult) -> str:
    """The report: settings, the final table, the verdicts with their stated false-alarm rate, the figure."""
    from bayes_zoo.active_learning.strategies import strategy_label

    p = result.protocol
    final, paired = final_table(result), verdicts(result)
    final["strategy"], paired["strategy"] = final["strategy"].map(strategy_label), paired["strategy"].map(strategy_label)
    rmse = final[["dataset", "strategy", "n_labelled", "repeats", "rmse", "rmse_2se", "test_loglik",
                  "test_loglik_2se", "points_per_batch", "select_seconds"]]
    tally = paired["verdict"].value_counts()
    same = _same_runs(result.rounds, "maxent", "bald")
    counted = paired[paired["baseline"] != "bald"] if same else paired  # BALD's repeat MaxEnt's: counted once
    decided = int(counted["verdict"].isin(["better", "worse", "no clear difference"]).sum())
    chance = (f"of {decided} distinct verdicts about {0.05 * decided:.1f} would say better or worse by chance alone"
              if decided else f"no verdict was reached (fewer than 3 seeds)")
    wide = ["| data set | " + " | ".join(dict.fromkeys(final["strategy"])) + " |",
            "|---|" + "---:|" * final["strategy"].nunique()]
    for dataset, rows in final.groupby("dataset", sort=False):
        wide.append(f"| {dataset} | " + " | ".join(f"{r.rmse:.3g} ± {r.rmse_2se:.2g}" for r in rows.itertuples()) + " |")
    lines = [
        f"# Active learning: protocol {p.name}",
        "",
        f"Settings from {p.source}.",
        "",
        f"## Final test RMSE with {p.init + p.budget} labels (mean ± 2 SE over seeds)",
        "",
        *wide,
        "",
        "In full:",
        "",
        _markdown_table(rmse),
        "",
        "## ACS-FW against each baseline (final RMSE, paired by seed)",
        "",
        _markdown_table(paired),
        "",
        f"Each verdict is the paired t-test of the final RMSE at 5% two-sided: \"better\" or \"worse\" when the mean "
        f"paired difference lies outside ± margin (t quantile x standard error), so under no difference each fires "
        f"5% of the time; {chance}.  Tally of all rows: " + ", ".join(f"{v} {n}" for v, n in tally.items()) + "."
        + (f"  MaxEnt and BALD chose the same batches in every run (for this model BALD is the predictive entropy "
           f"less a constant), so BALD's verdicts repeat MaxEnt's." if same else ""),
        "",
        "![learning curves](learning_curves.png)",
        "",
        "## Settings",
        "",
        f"- data sets: {', '.join(p.datasets)}",
        f"- seeds: {result.seed}..{result.seed + p.seeds - 1} ({p.seeds} per data set)",
        f"- strategies: {', '.join(p.strategies)}",
        f"- batch size {p.batch_size}, budget {p.budget}, initial labels {p.init}, test fraction {p.test_fraction}, "
        f"top-up {p.top_up}",
        f"- learner: neural-linear (NeuralLinearLearner.pinsler2019), last-layer posterior {result.posterior}",
        f"- wall time {result.wall_seconds:.0f} s with "
        + (f"the Dask scheduler {result.scheduler}" if result.scheduler else f"{result.jobs} local process(es)"),
        "",
        "Every round of every strategy, seed and data set: `rounds.csv`; the tables: `final.csv`, `verdicts.csv`.",
        "",
    ]
    return "\n".join(lines)


def _same_runs(rounds, a: str, b: str) -> bool:
    """Whether strategies ``a`` and ``b`` labelled the same points with the same results in every run."""
    columns = ["dataset", "seed", "round", "n_labelled", "rmse", "test_loglik"]
    first, second = (rounds[rounds["strategy"] == s][columns].reset_index(drop=True) for s in (a, b))
    return len(first) > 0 and first.equals(second)


def verdict_lines(result: ProtocolResult) -> list[str]:
    """One Rich-markup line per data set and ACS-FW variant: its verdict against each baseline."""
    from rich.markup import escape

    from bayes_zoo.active_learning.strategies import strategy_label

    style = {"better": "green", "worse": "red"}
    lines = []
    for (dataset, strategy), table in verdicts(result).groupby(["dataset", "strategy"], sort=False):
        cells = [f"vs {r.baseline} [{style.get(r.verdict, 'yellow')}]{escape(r.verdict)}[/] "
                 f"({r.difference:+.3g} ± {r.margin:.2g})" for r in table.itertuples()]
        lines.append(f"{dataset}, {strategy_label(strategy)}: " + "; ".join(cells))
    return lines


def rich_final(result: ProtocolResult):
    """The final RMSE per data set (rows) and strategy (columns), mean ± 2 SE over seeds, as a Rich table."""
    from rich import box
    from rich.table import Table

    from bayes_zoo.active_learning.strategies import strategy_label

    final = final_table(result)
    strategies = list(dict.fromkeys(final["strategy"]))
    seeds = int(final["repeats"].min())
    p = result.protocol
    table = Table(title=f"{p.name}: final test RMSE with {p.init + p.budget} labels ({p.init} initial), mean ± 2 SE "
                        f"over {seeds} seed(s)", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("data set")
    for s in strategies:
        table.add_column(strategy_label(s), justify="right")
    for dataset, rows in final.groupby("dataset", sort=False):
        by = rows.set_index("strategy")
        table.add_row(dataset, *[f"{by.loc[s, 'rmse']:.3g} ± {by.loc[s, 'rmse_2se']:.2g}" for s in strategies])
    return table


def write(result: ProtocolResult, folder: Path) -> list[Path]:
    """Write ``rounds.csv``, ``final.csv``, ``verdicts.csv``, ``learning_curves.png``, ``report.md`` and
    ``report.html`` (:func:`bayes_zoo.html_report.write_html`)."""
    import matplotlib.pyplot as plt

    from bayes_zoo.html_report import write_html

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / name for name in ("rounds.csv", "final.csv", "verdicts.csv", "learning_curves.png",
                                        "report.md")]
    result.rounds.to_csv(paths[0], index=False)
    final_table(result).to_csv(paths[1], index=False)
    verdicts(result).to_csv(paths[2], index=False)
    fig = plot(result)
    fig.savefig(paths[3], dpi=120, bbox_inches="tight")  # legends sit outside the axes
    plt.close(fig)
    paths[4].write_text(report_markdown(result), encoding="utf-8")
    paths.append(write_html(folder))
    return paths


def with_options(protocol: Protocol, **changes) -> Protocol:
    """``protocol`` with ``seeds``/``budget`` changed where given (``None`` keeps them)."""
    return replace(protocol, **{k: v for k, v in changes.items() if v is not None})
