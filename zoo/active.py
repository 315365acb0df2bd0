"""``bayes-zoo active-learn``: the labelling loop on a data set, its learning curves and final table (``--protocol``:
a published experiment, :mod:`bayes_zoo.protocol`).

::

    bayes-zoo active-learn {--dataset NAME | --data PATH [--target COLUMN]}
                           [--strategies acs-fw,random,maxent,bald] [--batch-size 10]
                           [--budget 100] [--init 20] [--repeats 10] [--posterior {closed-form,nuts,advi}]
                           [--projections J] [--features {rff,linear,neural}] [--no-top-up] [--seed 0]
                           [--out DIR] [--quick] [--force]
    bayes-zoo active-learn --protocol pinsler2019 [--repeats 40] [--budget 100] [--seed 0] [--posterior ...]
                           [--jobs N] [--scheduler ADDRESS] [--out DIR] [--quick] [--force]

Regression sets (``yacht``, ``boston``, ``energy``, ``concrete``, ``power-plant``) use Bayesian linear
regression on random Fourier features (:class:`bayes_zoo.active_learning.learners.LinearRegressionLearner`; with
``--features neural`` on a retrained network's features, :class:`~bayes_zoo.active_learning.learners.NeuralLinearLearner`);
``breast-cancer`` uses probit regression (:class:`bayes_zoo.active_learning.probit.ProbitLearner`).  ``--data PATH``
runs on a user's regression data instead, as the regression sets: a folder in the bundled UCI layout
(:func:`bayes_zoo.models.datasets.load_uci_folder`) or a ``.csv`` file with a header row and ``--target COLUMN``
(:func:`bayes_zoo.models.datasets.load_csv`); NAME is then the folder's name or the file's stem
(:func:`data_name`).  Writes ``OUT/active-learning-NAME/``: ``rounds.csv`` (every round of every strategy and repeat),
``final.csv`` (final metrics, mean and 2 SE, selection time), ``learning_curves.png`` and ``report.md``,
written into a temporary folder beside it and moved into place when complete (see
:class:`bayes_zoo.report.Output`); an existing folder is replaced only with ``--force``, and only then.

The verdict lines compare ACS-FW with each baseline on the **paired** per-repeat difference of the final
metric (every strategy of a repeat shares its split and initial labels): "better" or "worse" when the mean
difference lies outside the paired t-test's 95% margin (``t_{0.975, n-1}`` standard errors: 2.26 at 10 repeats),
otherwise "no clear difference"; with fewer than
:data:`MIN_REPEATS` repeats, "too few repeats".
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path


from bayes_zoo.active_learning.strategies import STRATEGIES, strategy_label
from bayes_zoo.protocol import PROTOCOLS, QUICK as PROTOCOL_QUICK

__all__ = ["DATASETS", "FEATURES", "PROTOCOL_FIXES", "QUICK", "MIN_REPEATS", "add_arguments", "data_name", "load_data", "check_budget",
           "Experiment", "run_experiment", "paired_verdicts",
           "final_markdown", "write_experiment", "rich_final"]

#: Data sets ``--dataset`` accepts: the five UCI regression sets, then the classification set.
DATASETS = ("yacht", "boston", "energy", "concrete", "power-plant", "breast-cancer")

#: Fewest repeats for a verdict of ACS-FW against a baseline (the spread of fewer paired differences means little).
MIN_REPEATS = 3

#: The last layer's features for regression (``--features``): :class:`~bayes_zoo.models.linear.RandomFourierFeatures`,
#: :class:`~bayes_zoo.models.linear.LinearFeatures`, or learned (:class:`~bayes_zoo.active_learning.learners.NeuralLinearLearner`).
FEATURES = ("rff", "linear", "neural")

#: Options ``--protocol`` fixes itself, with their defaults here (given otherwise, they are refused).
PROTOCOL_FIXES = {"strategies": ",".join(STRATEGIES), "batch_size": 10, "init": 20, "projections": 0,
                  "features": None, "top_up": True, "target": None}

#: What ``--quick`` sets (explicit options still win).
QUICK = {"repeats": 3, "budget": 30, "nuts_draws": 200, "nuts_tune": 200, "advi_iterations": 5000}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``active-learn``."""
    # Where the data come from: exactly one of the group (a later --protocol joins it here).
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", choices=DATASETS, help="bundled data set")
    source.add_argument("--data", type=Path, metavar="PATH",
                        help="your regression data: a folder in the UCI layout (data.txt, index_features.txt, "
                             "index_target.txt) or a .csv file with a header row (then --target)")
    source.add_argument("--protocol", choices=tuple(PROTOCOLS),
                        help="a published experiment with its own data sets, seeds and strategies: pinsler2019, "
                             "Pinsler et al. (2019) sec. 7.1 (yacht, boston, energy, power-plant; 40 seeds; "
                             "neural-linear learner; --repeats, --budget, --seed, --posterior, --jobs, --scheduler "
                             "and --quick apply)")
    parser.add_argument("--target", metavar="COLUMN", help="with --data FILE.csv: the target column's name")
    parser.add_argument("--strategies", default=",".join(STRATEGIES),
                        help=f"comma-separated, from {', '.join(STRATEGIES)} (default: all)")
    parser.add_argument("--batch-size", type=int, default=10, help="points labelled per round (default 10)")
    parser.add_argument("--budget", type=int, help="labels acquired beyond the initial ones (default 100; --quick 30)")
    parser.add_argument("--init", type=int, default=20, help="initially labelled points (default 20)")
    parser.add_argument("--repeats", type=int, help="random splits, seeds seed..seed+repeats-1 (default 10, --quick 3; "
                             "--protocol: seeds per data set, default 40)")
    parser.add_argument("--posterior", choices=("closed-form", "nuts", "advi"), default="closed-form",
                        help="conjugate / Laplace posterior, or PyMC refitted every round: NUTS, or the faster "
                             "mean-field ADVI (default closed-form)")
    parser.add_argument("--projections", type=int, default=0,
                        help="ACS-FW's random projections J from posterior draws (the PyMC trace with --posterior "
                             "nuts or advi); 0: closed-form inner products (default 0)")
    parser.add_argument("--features", choices=FEATURES,
                        help="regression only: the last layer's features: 100 random Fourier features, the inputs, "
                             "or a two-layer perceptron's learned features retrained every round (neural: the "
                             "neural-linear model of Pinsler et al. 2019) (default rff)")
    parser.add_argument("--no-top-up", dest="top_up", action="store_false",
                        help="let ACS-FW label fewer than --batch-size points when Frank–Wolfe repeats a point")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the first repeat, 0 <= seed and seed + repeats - 1 < 2**63 (default 0)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="results folder (default ./results)")
    parser.add_argument("--quick", action="store_true",
                        help="small settings: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in QUICK.items())
                             + "; with --protocol: " + ", ".join(f"{k} {v}" for k, v in PROTOCOL_QUICK.items()))
    parser.add_argument("--force", action="store_true",
                        help="replace an existing results folder (once the new one is complete)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="with --protocol: local worker processes, one (data set, seed) each (joblib; default 1)")
    parser.add_argument("--scheduler", help="with --protocol: a Dask scheduler address (tcp://host:8786) to run the "
                                            "units on (needs pip install 'bayes-zoo[dask]')")


@dataclass
class Experiment:
    """One ``active-learn`` run: its settings and what it measured."""

    dataset: str
    task: str
    description: str
    rounds: "object"  # pandas.DataFrame, every round
    final: "object"  # pandas.DataFrame, per strategy
    settings: dict
    figure: "object"  # matplotlib Figure


def data_name(dataset) -> str:
    """The name results go under (``active-learning-NAME``): a bundled name as it is; for a path, the folder's name
    or the file's stem, every run of characters other than letters, digits, ``.``, ``_`` and ``-`` made one ``-``."""
    import re

    if isinstance(dataset, str):
        return dataset
    path = Path(dataset).resolve()
    raw = path.stem if path.suffix.lower() == ".csv" else path.name
    return re.sub(r"[^A-Za-z0-9._-]+", "-", raw).strip("-.") or "data"


def load_data(dataset, *, target: str | None = None):
    """``(data, task)`` for a bundled name (``str``, one of :data:`DATASETS`) or a user's path (``os.PathLike``):
    a folder in the UCI layout, or a ``.csv`` file with the ``target`` column.  ``task`` is ``"classification"``
    for ``breast-cancer``, else ``"regression"``.

    Raises
    ------
    ValueError
        An unknown name (``"dataset: "``); ``target`` given for a bundled set or a folder, or missing for a CSV
        (``"target: "``); a path that is neither a folder nor a ``.csv`` file, a target that is the same in every
        row, and the loaders' errors (each naming the file), starting ``"data: "``.
    """
    from bayes_zoo.models import datasets

    if isinstance(dataset, str):
        if dataset not in DATASETS:
            raise ValueError(f"dataset: unknown {dataset!r}; choose from {', '.join(DATASETS)}")
        if target is not None:
            raise ValueError(f"target: applies to --data with a CSV file, not to the bundled {dataset}")
        if dataset == "breast-cancer":
            return datasets.load_breast_cancer(), "classification"
        return datasets.load_uci(dataset), "regression"
    path = Path(dataset)
    if path.is_dir() and target is not None:
        raise ValueError(f"target: {path} is a UCI folder, whose index_target.txt names the target; --target "
                         "applies to a CSV file")
    if not path.is_dir() and path.suffix.lower() != ".csv":
        raise ValueError(f"data: {path} is neither a folder (UCI layout) nor a .csv file"
                         + ("" if path.exists() else " (it does not exist)"))
    if not path.is_dir() and target is None:
        raise ValueError(f"target: required with a CSV file ({path}): the name of its target column")
    try:
        data = datasets.load_uci_folder(path) if path.is_dir() else datasets.load_csv(path, target)
    except ValueError as err:  # the loader names the file; "data: " names the option
        raise ValueError(f"data: {err}") from None
    y = data.arrays["y"]
    if y.min() == y.max():
        raise ValueError(f"data: {path}: the target is the same ({y[0]:g}) in every row: nothing to learn")
    return data, "regression"


def check_budget(dataset, budget: int, *, init: int = 20, test_fraction: float = 0.2,
                 target: str | None = None) -> None:
    """Refuse, before any work, a ``budget`` the pool of ``dataset`` cannot supply.

    The labelling loop fits every round on the points still unlabelled, so at least one must remain after
    ``budget`` labels beyond the ``init`` initial ones, in the training part of the split
    (:func:`bayes_zoo.active_learning.loop.split`: ``test_fraction`` of the rows, at least one, held out).

    ``dataset`` and ``target`` as :func:`load_data` takes them.

    Raises
    ------
    ValueError
        Starting ``"budget: "``, with the pool's size; :func:`load_data`'s errors.
    """
    data, _ = load_data(dataset, target=target)
    rows = data.arrays["X"].shape[0]
    pool = rows - max(1, int(round(test_fraction * rows))) - init
    if budget >= pool:
        raise ValueError(f"budget: {budget} labels beyond the {init} initial ones would empty the pool of "
                         f"{data_name(dataset)} "
                         f"({pool} points after the {test_fraction:.0%} test split); at most {max(pool - 1, 0)}")


def run_experiment(dataset, *, target: str | None = None, strategies=STRATEGIES, batch_size: int = 10,
                   budget: int = 100, init: int = 20,
                   repeats: int = 10, posterior: str = "closed-form", projections: int = 0, features: str = "rff",
                   top_up: bool = True, seed: int = 0, nuts_draws: int = 500, nuts_tune: int = 500,
                   advi_iterations: int = 20_000,
                   on_round=None) -> Experiment:
    """Run the labelling loop (:func:`bayes_zoo.active_learning.loop.run`) on a bundled data set or a user's
    (``dataset`` and ``target`` as :func:`load_data` takes them).

    Raises
    ------
    ValueError
        Naming the argument (or, for a user's data, the file), before any work.
    """
    from bayes_zoo.active_learning import loop
    from bayes_zoo.active_learning.learners import LinearRegressionLearner, NeuralLinearLearner, NutsSettings
    from bayes_zoo.active_learning.strategies import check_strategies
    from bayes_zoo.models.checks import positive_int

    strategies = check_strategies(strategies)
    settings = loop.LoopSettings(batch_size=batch_size, budget=budget, init=init, projections=projections,
                                 top_up=top_up)
    positive_int(repeats, "repeats")
    nuts = NutsSettings(draws=nuts_draws, tune=nuts_tune, advi_iterations=advi_iterations)
    data, task = load_data(dataset, target=target)
    name = data_name(dataset)
    X, y = data.arrays["X"], data.arrays["y"]
    n_train = X.shape[0] - max(1, int(round(settings.test_fraction * X.shape[0])))
    if init + 1 > n_train:
        raise ValueError(f"init: {init} leaves no pool in the {n_train} training points of {name}")
    if task == "regression":
        if features not in FEATURES:
            raise ValueError(f"features: expected one of {', '.join(FEATURES)}, got {features!r}")

        def factory(s):
            if features == "neural":  # a bundled set: the reference code's settings for it (defaults elsewhere)
                name = dataset if isinstance(dataset, str) else None
                return NeuralLinearLearner.pinsler2019(name, posterior=posterior, nuts=nuts)
            return LinearRegressionLearner(features=features, feature_seed=s, posterior=posterior, nuts=nuts)
    else:
        from bayes_zoo.active_learning.probit import ProbitLearner

        def factory(s):
            return ProbitLearner(posterior=posterior, nuts=nuts)
    rounds = loop.run(factory, X, y.astype(float), strategies, settings, repeats=repeats, seed=seed, on_round=on_round)
    rounds.insert(0, "dataset", name)
    final = loop.final_table(rounds, task)
    title = f"{name}: batches of {batch_size}, {posterior} posterior" + (
        f", {projections} projections" if projections else "")
    figure = loop.plot_learning_curves(rounds, task, title=title)
    record = {"dataset": name, **({} if isinstance(dataset, str) else {"data": str(dataset)}),
              **({} if target is None else {"target": target}), "strategies": ",".join(strategies),
              "batch_size": batch_size, "budget": budget,
              "init": init, "repeats": repeats, "posterior": posterior, "projections": projections,
              "features": features if task == "regression" else "bias + inputs", "top_up": top_up, "seed": seed,
              "test_fraction": settings.test_fraction}
    if posterior == "nuts":
        record.update(nuts_draws=nuts_draws, nuts_tune=nuts_tune, nuts_chains=nuts.chains)
    if posterior == "advi":
        record.update(advi_iterations=advi_iterations, advi_draws=nuts_draws * nuts.chains)
    return Experiment(name, task, data.description, rounds, final, record, figure)


def paired_verdicts(exp: Experiment) -> list[tuple[str, str, str, float, float]]:
    """Each ACS-FW variant against each other strategy: ``(strategy, baseline, verdict, mean difference, margin)`` on
    the main metric (RMSE for regression, lower is better; accuracy for classification), paired by repeat
    (:func:`bayes_zoo.active_learning.loop.paired_differences`)."""
    from bayes_zoo.active_learning.loop import paired_differences

    table = paired_differences(exp.rounds, exp.task, min_repeats=MIN_REPEATS)
    return [(r.strategy, r.baseline, r.verdict, r.difference, r.margin) for r in table.itertuples()]


def final_markdown(exp: Experiment) -> str:
    """The final table as Markdown: per strategy, labels, each metric as mean ± 2 SE, selection seconds."""
    from bayes_zoo.active_learning.loop import METRICS

    from bayes_zoo.tables import escape_pipes

    lines = ["| strategy | labels | " + " | ".join(escape_pipes(f"{m} (mean ± 2 SE)") for m in METRICS[exp.task])
             + " | selection s/batch |", "|---|---:|" + "---:|" * len(METRICS[exp.task]) + "---:|"]
    for r in exp.final.itertuples():
        cells = [f"{getattr(r, m):.4g} ± {getattr(r, m + '_2se'):.2g}" for m in METRICS[exp.task]]
        lines.append(f"| {escape_pipes(r.strategy)} | {r.n_labelled} | " + " | ".join(cells) + f" | {r.select_seconds:.3g} |")
    return "\n".join(lines)


def write_experiment(exp: Experiment, folder: Path) -> list[Path]:
    """Write ``rounds.csv``, ``final.csv``, ``learning_curves.png``, ``report.md`` and ``report.html``
    (:func:`bayes_zoo.html_report.write_html`) into ``folder``."""
    import matplotlib.pyplot as plt

    from bayes_zoo.html_report import write_html

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "rounds.csv", folder / "final.csv", folder / "learning_curves.png", folder / "report.md"]
    exp.rounds.to_csv(paths[0], index=False)
    exp.final.to_csv(paths[1], index=False)
    exp.figure.savefig(paths[2], dpi=120, bbox_inches="tight")  # legends sit outside the axes
    plt.close(exp.figure)
    metric = "RMSE" if exp.task == "regression" else "accuracy"
    verdicts = [f"- {strategy_label(a)} vs {b}: **{v}** (final {metric} difference {m:+.3g} ± {s:.2g} (95%), paired "
                f"over {exp.settings['repeats']} repeats)"
                for a, b, v, m, s in paired_verdicts(exp)]
    settings = "\n".join(f"- {k}: {v}" for k, v in exp.settings.items())
    text = (f"# Active learning on {exp.dataset}\n\n{exp.description}\n\n## Final metrics\n\n{final_markdown(exp)}\n\n"
            + ("\n".join(verdicts) + "\n\n" if verdicts else "")
            + "![learning curves](learning_curves.png)\n\n"
            + f"## Settings\n\n{settings}\n\nEvery round of every strategy and repeat: `rounds.csv`.\n")
    paths[3].write_text(text, encoding="utf-8")
    paths.append(write_html(folder))
    return paths


def rich_final(exp: Experiment):
    """The final table as a Rich table."""
    from rich import box
    from rich.table import Table

    from bayes_zoo.active_learning.loop import METRICS

    table = Table(title=f"{exp.dataset}: final metrics over {exp.settings['repeats']} repeat(s) (mean ± 2 SE)",
                  title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("strategy")
    table.add_column("labels", justify="right")
    for m in METRICS[exp.task]:
        table.add_column(m, justify="right")
    table.add_column("selection s/batch", justify="right")
    for r in exp.final.itertuples():
        table.add_row(r.strategy, str(r.n_labelled),
                      *[f"{getattr(r, m):.4g} ± {getattr(r, m + '_2se'):.2g}" for m in METRICS[exp.task]],
                      f"{r.select_seconds:.3g}")
    return table
