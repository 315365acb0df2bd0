"""The ``bayes-zoo`` command line.

::

    bayes-zoo list
    bayes-zoo compare PROBLEM [--draws N --chains N --warmup N --seed N --out DIR --quick --force] [pair options]
    bayes-zoo compare all     [--draws N --chains N --warmup N --seed N --out DIR --quick --force]
    bayes-zoo sbc PROBLEM [--sims N --sampler {handwritten,nuts,both} --jobs N --scheduler ADDR --planted-bug
                           --seed N --out DIR --quick --force]
    bayes-zoo active-learn --dataset NAME [--strategies ... --batch-size --budget --init --repeats
                           --posterior {closed-form,nuts,advi} --projections J --seed --out DIR --quick --force]

``compare`` runs each pair, prints its comparison as a Rich table as it finishes (a progress bar runs
meanwhile), and writes ``OUT/<problem>/`` (see :mod:`bayes_zoo.report`); ``compare all`` also writes
``OUT/report.md``.  ``active-learn`` runs the labelling loop with ACS-FW and its baselines on one data set
(:mod:`bayes_zoo.active`) and writes ``OUT/active-learning-NAME/``; ``sbc`` runs simulation-based calibration of a
pair's samplers (:mod:`bayes_zoo.sbc`) and writes ``OUT/sbc-PROBLEM/``.  None overwrites an existing results folder
unless ``--force`` is given.

Exit status: 0 when no pair disagrees, 1 when some pair's verdict is "disagree", 2 for bad usage (including
a results folder that exists without ``--force``), 130 when interrupted (nothing is written then).
"inconclusive" exits 0 but is printed in yellow with its reasons.  A pair's verdict is that of its required
comparisons; an advisory comparison (a sampler the pair expects may fail, see
:func:`bayes_zoo.inference.crossval.compare`) is printed with its own verdict and reasons but does not change it.

PyMC, ArviZ and numba are imported only once a comparison starts, so ``--help``, ``list`` and usage errors
answer at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

from bayes_zoo.models.backend import blas_status

EXIT_OK, EXIT_DISAGREE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
_SETTING_OPTIONS = ("draws", "chains", "warmup", "seed")


def _common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--draws", type=int, help="kept draws per chain (default 1000; --quick: the pair's small setting)")
    parser.add_argument("--chains", type=int, help="chains per sampler (default 4)")
    parser.add_argument("--warmup", type=int, help="warm-up / tuning iterations per chain, discarded (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="root seed; same seed, same draws (default 0)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="results folder (default ./results)")
    parser.add_argument("--quick", action="store_true",
                        help="the pair's small settings for draws, chains and warm-up (explicit options still win)")
    parser.add_argument("--force", action="store_true", help="overwrite existing results for these pairs")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one ``compare`` sub-command per registered pair plus ``all``."""
    from bayes_zoo import pairs  # noqa: F401  (registers the pairs)
    from bayes_zoo.registry import REGISTRY

    parser = argparse.ArgumentParser(
        prog="bayes-zoo",
        description="A probabilistic-programming model zoo: each problem in PyMC and by hand, cross-validated.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the registered pairs")
    compare = sub.add_parser("compare", help="run pairs and cross-validate their posteriors")
    problems = compare.add_subparsers(dest="problem", required=True, metavar="PROBLEM")
    for pair in REGISTRY.values():
        p = problems.add_parser(pair.name, help=pair.title)
        _common_options(p)
        if pair.add_arguments is not None:
            pair.add_arguments(p)
    _common_options(problems.add_parser("all", help="every registered pair, plus OUT/report.md"))
    from bayes_zoo.active import add_arguments as active_arguments

    active_arguments(sub.add_parser("active-learn", help="batch active learning by ACS-FW and baselines on a data set"))
    from bayes_zoo.sbc import add_arguments as sbc_arguments

    sbc_arguments(sub.add_parser("sbc", help="simulation-based calibration of a pair's samplers"), list(REGISTRY))
    return parser


def _version() -> str:
    import bayes_zoo

    return bayes_zoo.__version__


def _settings(pair, args, progress):
    base = pair.quick if args.quick else dataclasses.replace(pair.quick, draws=1000, chains=4, warmup=1000, quick=False)
    overrides = {k: getattr(args, k) for k in ("draws", "chains", "warmup") if getattr(args, k) is not None}
    return dataclasses.replace(base, seed=args.seed, progress=progress, **overrides)


def _pair_options(pair, args) -> dict:
    if pair.add_arguments is None or args.problem == "all":
        return {}
    probe = argparse.ArgumentParser(add_help=False)
    pair.add_arguments(probe)
    return {a.dest: getattr(args, a.dest) for a in probe._actions if a.dest != "help"}


def _list(console) -> int:
    from rich.table import Table

    from bayes_zoo.registry import REGISTRY

    table = Table(title="bayes-zoo pairs", title_justify="left")
    table.add_column("name")
    table.add_column("problem")
    table.add_column("compared")
    for pair in REGISTRY.values():
        table.add_row(pair.name, pair.title, pair.methods)
    console.print(table)
    return EXIT_OK


def _compare(console, args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from bayes_zoo import report
    from bayes_zoo.registry import REGISTRY, get

    selected = list(REGISTRY.values()) if args.problem == "all" else [get(args.problem)]
    try:
        for pair in selected:  # validate every setting before any work
            _settings(pair, args, None)
            if pair.check_options is not None:
                pair.check_options(**_pair_options(pair, args))
        report.prepare_output(args.out, [p.name for p in selected], force=args.force, index=args.problem == "all")
    except ValueError as err:
        message = str(err)
        name = message.split(":")[0]
        if name in _SETTING_OPTIONS or any(name in _pair_options(p, args) for p in selected):
            message = "--" + message.replace("_", "-", name.count("_"))
        console.print(f"[bold red]error:[/] {message}", highlight=False)
        return EXIT_USAGE

    console.print(f"[dim]{blas_status()}[/]")
    try:
        with _quiet_libraries():
            outcomes = _run_pairs(console, args, selected)
    except KeyboardInterrupt as err:
        console.print(f"[bold yellow]interrupted[/]{': ' + str(err) if str(err) else ''}; nothing was written for the unfinished pair")
        return EXIT_INTERRUPTED

    if args.problem == "all":
        index = report.write_index(outcomes, args.out)
        console.print(f"overall report: {index}")
    from rich.markup import escape

    style = {"agree": "green", "disagree": "red", "inconclusive": "yellow"}
    for outcome in outcomes:
        console.print(f"{outcome.name}: [bold {style[outcome.verdict]}]{outcome.verdict}[/]")
        if outcome.checks is not None:
            held, total = int(outcome.checks["ok"].sum()), len(outcome.checks)
            verdict = "agree" if held == total else "disagree"
            console.print(f"  deterministic identities: [{style[verdict]}]{held}/{total} hold[/]", highlight=False)
        if outcome.crossval is not None:
            for row in outcome.crossval.comparisons.itertuples():
                note = f" [dim](advisory: {escape(row.advisory)})[/]" if row.advisory else ""
                console.print(f"  {row.comparison}: [{style[row.verdict]}]{row.verdict}[/]{note}", highlight=False)
    return EXIT_DISAGREE if any(o.verdict == "disagree" for o in outcomes) else EXIT_OK


@contextmanager
def _quiet_libraries():
    """Hide ArviZ's, matplotlib's and xarray's own warnings during a CLI run: the verdict's reasons already
    say, in one place, what is wrong with a result (too few draws, a constant chain ...)."""
    logger = logging.getLogger("arviz")
    level = logger.level
    with warnings.catch_warnings():
        for module in ("arviz", "matplotlib", "xarray"):
            warnings.filterwarnings("ignore", category=UserWarning, module=module)
            warnings.filterwarnings("ignore", category=RuntimeWarning, module=module)
        logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            logger.setLevel(level)


def _run_pairs(console, args, selected):
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from bayes_zoo import report

    outcomes = []
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.completed}/{task.total} pairs"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("starting", total=len(selected))
        for pair in selected:
            def stage(text, _name=pair.name):
                progress.update(task, description=f"{_name}: {text}")

            outcome = pair.run(_settings(pair, args, stage), **_pair_options(pair, args))
            stage("writing results")
            folder = Path(args.out) / pair.name
            report.write_outcome(outcome, folder)
            if outcome.checks is not None:
                progress.console.print(report.rich_checks(outcome))
            if outcome.crossval is not None:
                progress.console.print(report.rich_table(outcome))
            for reason in outcome.reasons:
                progress.console.print(f"  [yellow]- {escape(reason)}[/]", highlight=False)
            progress.console.print(f"  written to {folder}/ (report.md, CSV tables, figures, netCDF)")
            outcomes.append(outcome)
            progress.advance(task)
    return outcomes


def _active_learn(console, args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from bayes_zoo.active_learning.loop import LoopSettings
    from bayes_zoo.active_learning.strategies import check_strategies
    from bayes_zoo.models.checks import nonnegative_int, positive_int
    from bayes_zoo import active, report

    options = {"repeats": args.repeats, "budget": args.budget}
    for key, default in (("repeats", 10), ("budget", 100)):
        if options[key] is None:
            options[key] = active.QUICK[key] if args.quick else default
    nuts = ({k: active.QUICK[k] for k in ("nuts_draws", "nuts_tune", "advi_iterations")} if args.quick else {})
    folder_name = f"active-learning-{args.dataset}"
    try:
        strategies = check_strategies(args.strategies)
        LoopSettings(batch_size=args.batch_size, budget=options["budget"], init=args.init,
                     projections=args.projections)
        positive_int(options["repeats"], "repeats")
        nonnegative_int(args.seed, "seed")
        if args.features is not None and args.dataset == "breast-cancer":
            raise ValueError("features: breast-cancer uses probit regression on its 30 inputs; --features applies "
                             "to the regression sets")
        report.prepare_output(args.out, [folder_name], force=args.force, index=False)
    except ValueError as err:
        message = str(err)
        name = message.split(":")[0]
        console.print(f"[bold red]error:[/] {'--' + name.replace('_', '-') + message[len(name):] if name.isidentifier() else message}",
                      highlight=False)  # prepare_output's messages already start with "--out"
        return EXIT_USAGE
    console.print(f"[dim]{blas_status()}[/]")
    rounds_per_run = -(-options["budget"] // args.batch_size) + 1
    total = options["repeats"] * len(strategies) * rounds_per_run
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.completed}/{task.total} rounds"), TimeElapsedColumn())
    try:
        with _quiet_libraries(), Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task(f"{args.dataset}: starting", total=total)

            def on_round(row):
                progress.update(task, advance=1, description=(
                    f"{args.dataset}: repeat seed {row['seed']}, {row['strategy']}, {row['n_labelled']} labels"))

            exp = active.run_experiment(
                args.dataset, strategies=strategies, batch_size=args.batch_size, budget=options["budget"],
                init=args.init, repeats=options["repeats"], posterior=args.posterior, projections=args.projections,
                features=args.features or "rff", top_up=args.top_up, seed=args.seed, on_round=on_round, **nuts)
    except KeyboardInterrupt:
        console.print("[bold yellow]interrupted[/]; nothing was written")
        return EXIT_INTERRUPTED
    except ValueError as err:
        console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False)
        return EXIT_USAGE
    folder = Path(args.out) / folder_name
    active.write_experiment(exp, folder)
    console.print(active.rich_final(exp))
    metric = "RMSE" if exp.task == "regression" else "accuracy"
    style = {"better": "green", "worse": "red"}
    for base, verdict, mean, two_se in active.paired_verdicts(exp):
        console.print(f"ACS-FW vs {base}: [{style.get(verdict, 'yellow')}]{verdict}[/] (final {metric} difference "
                      f"{mean:+.3g} ± {two_se:.2g}, paired over {exp.settings['repeats']} repeats)", highlight=False)
    console.print(f"written to {folder}/ (report.md, rounds.csv, final.csv, learning_curves.png)")
    return EXIT_OK


def _sbc(console, args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from bayes_zoo.models.checks import nonnegative_int, positive_int
    from bayes_zoo import report
    from bayes_zoo import sbc as zsbc
    from bayes_zoo.registry import get

    sims = args.sims if args.sims is not None else (zsbc.QUICK_SIMS if args.quick else 500)
    folder_name = f"sbc-{args.problem}"
    try:
        positive_int(sims, "sims")
        positive_int(args.jobs, "jobs")
        nonnegative_int(args.seed, "seed")
        problems = zsbc.problems_for(get(args.problem), args.sampler, quick=args.quick, planted_bug=args.planted_bug)
        if args.scheduler is not None:
            import importlib.util

            if importlib.util.find_spec("distributed") is None:
                raise ValueError("scheduler: Dask's distributed package is not installed; pip install 'bayes-zoo[dask]'")
        report.prepare_output(args.out, [folder_name], force=args.force, index=False)
    except ValueError as err:
        message = str(err)
        name = message.split(":")[0]
        if not name.startswith("--"):
            flag = {"planted_bug": "--planted-bug", "problem": "PROBLEM"}.get(name, "--" + name.replace("_", "-"))
            message = flag + message[len(name):]
        console.print(f"[bold red]error:[/] {message}", highlight=False)
        return EXIT_USAGE
    console.print(f"[dim]{blas_status()}[/]")
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.completed}/{task.total} simulations"), TimeElapsedColumn())
    try:
        with _quiet_libraries(), Progress(*columns, console=console, transient=True) as progress:
            tasks = {side: progress.add_task(f"{p.name}", total=sims) for side, p in problems.items()}
            runs = zsbc.run(problems, sims=sims, seed=args.seed, jobs=args.jobs, scheduler=args.scheduler,
                            progress=lambda side, record: progress.advance(tasks[side]))
    except KeyboardInterrupt:
        console.print("[bold yellow]interrupted[/]; nothing was written")
        return EXIT_INTERRUPTED
    except OSError as err:  # an unreachable Dask scheduler (distributed raises OSError on timeout)
        if args.scheduler is None:
            raise
        console.print(f"[bold red]error:[/] --scheduler: could not reach {args.scheduler} ({err}); nothing was written",
                      highlight=False)
        return EXIT_USAGE
    folder = Path(args.out) / folder_name
    settings = {"sims": sims, "sampler": args.sampler, "jobs": args.jobs, "scheduler": args.scheduler or "none",
                "seed": args.seed, "quick": args.quick, "planted_bug": args.planted_bug}
    zsbc.write(runs, folder, problem=args.problem, settings=settings)
    console.print(zsbc.rich_table(runs))
    for r in runs:
        colour = {"calibrated": "green", "miscalibrated": "red"}.get(r.verdict, "yellow")
        failed = f", {len(r.result.failures)} simulation(s) failed (see failures-{r.side}.csv)" if len(r.result.failures) else ""
        console.print(f"{r.result.problem}: [bold {colour}]{r.verdict}[/]{failed}", highlight=False)
    console.print(f"written to {folder}/ (report.md, ranks and uniformity CSVs, ECDF plots)")
    return EXIT_DISAGREE if any(r.verdict == "miscalibrated" for r in runs) else EXIT_OK


def main(argv=None) -> int:
    """Entry point of the ``bayes-zoo`` console script; returns the exit status."""
    from rich.console import Console

    # Not a terminal (a pipe, a log file, CI): no terminal width to respect, so do not cut the table.
    console = Console() if sys.stdout.isatty() else Console(width=140)
    args = build_parser().parse_args(argv)
    if args.command == "list":
        return _list(console)
    if args.command == "active-learn":
        return _active_learn(console, args)
    if args.command == "sbc":
        return _sbc(console, args)
    return _compare(console, args)


if __name__ == "__main__":
    sys.exit(main())
