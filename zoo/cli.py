"""The ``bayes-zoo`` command line.

::

    bayes-zoo list
    bayes-zoo compare PROBLEM [--draws N --chains N --warmup N --seed N --out DIR --quick --force] [pair options]
    bayes-zoo compare all     [--draws N --chains N --warmup N --seed N --out DIR --quick --force]
    bayes-zoo sbc PROBLEM [--sims N --sampler {handwritten,nuts,both} --jobs N --scheduler ADDR --planted-bug
                           --seed N --out DIR --quick --force]
    bayes-zoo active-learn {--dataset NAME | --data PATH [--target COLUMN]}
                           [--strategies ... --batch-size --budget --init --repeats
                           --posterior {closed-form,nuts,advi} --projections J --features {rff,linear,neural}
                           --seed --out DIR --quick --force]
    bayes-zoo active-learn --protocol pinsler2019 [--repeats --budget --seed --posterior --jobs N --scheduler ADDR
                           --out DIR --quick --force]
    bayes-zoo check FILE.py[:NAME] [--reference POSTERIOR --trace FILE.nc ...]
    bayes-zoo bank list
    bayes-zoo bank run {NAME ... | all} [--draws --chains --warmup --seed --quick --jobs N --scheduler ADDR --out DIR --force]
    bayes-zoo bank calibrate {NAME ... | all} [--seeds N --draws --chains --warmup --quick --jobs N --out DIR --force]

Every sub-command that runs NUTS takes ``--nuts-sampler {nutpie,pymc}`` (default nutpie, or
``BAYES_ZOO_NUTS_SAMPLER``): :func:`bayes_zoo.inference.nuts.set_nuts_sampler` sets it for the process.

``compare`` runs each pair, prints its comparison as a Rich table as it finishes (a progress bar runs
meanwhile), and writes ``OUT/<problem>/`` (see :mod:`bayes_zoo.report`); ``compare all`` also writes
``OUT/report.md``.  ``active-learn`` runs the labelling loop with ACS-FW and its baselines on one data set
(:mod:`bayes_zoo.active`; a bundled set, or the user's ``--data``: a UCI-layout folder or a CSV file) and writes
``OUT/active-learning-NAME/``, or, with ``--protocol``, a published experiment's data sets and seeds in parallel
(:mod:`bayes_zoo.protocol`) into ``OUT/active-learning-PROTOCOL/``; ``bank`` runs our NUTS against posteriordb's
reference draws (:mod:`bayes_zoo.bank`) into ``OUT/bank/`` (one folder per posterior, and ``report.md`` with the
table after ``run all``) or, with ``calibrate``, over seeds into ``OUT/bank-calibration/``; ``sbc`` runs simulation-based calibration of a pair's samplers (:mod:`bayes_zoo.sbc`)
and writes ``OUT/sbc-PROBLEM/``.  Options are never abbreviated (``--draw`` is an error, not ``--draws``).

**Checked before any work**, each refusal exit status 2 with a message naming the option: every setting;
``--seed`` (an integer, ``0 <= seed < 2**63``, so that it is stored losslessly with the results; for
``active-learn`` the last repeat's seed, ``seed + repeats - 1``, too); sizes whose arrays would not fit in the
memory available (``--draws``/``--warmup``/``--chains`` by the pair's :attr:`~bayes_zoo.registry.Pair.stored_per_draw`,
``--sims`` of ``sbc``, ``--projections`` of ``active-learn`` by the pool size); and ``--out``: created if
missing, refused if it is or lies inside a file or cannot be written (``/proc/x``), if a result folder's name
is taken by a file, if results exist and ``--force`` is not given, or if another run is writing the same
target (:class:`bayes_zoo.report.Output`: one lock per target).

**Never lost, never half-written.**  Every result folder is written into a temporary folder beside it and moved
into place only when complete; ``--force`` replaces old results only then.  ``compare all`` moves each pair's
folder into place as that pair completes and writes ``OUT/report.md`` only after the last one; if it stops
early, the pairs finished are kept (new), the others keep their previous results, ``OUT/report.md`` is left
as it was, and the last line lists which is which.  A run that fails or is interrupted leaves no temporary
folder behind.

Exit status:

- 0: no pair disagrees (an "inconclusive" verdict exits 0 but is printed in yellow with its reasons); no
  sampler miscalibrated (``sbc``); ``active-learn`` finished.
- 1: some pair's verdict is "disagree" (``sbc``: a sampler is miscalibrated).
- 2: bad usage, refused before any work (including results that exist without ``--force``, a target locked
  by another run, and an unreachable ``--scheduler``).
- 3: an internal error: not a verdict.  The full traceback goes to ``OUT/bayes-zoo-error.log`` (``OUT`` created
  if needed; a file in the system's temporary folder if ``OUT`` cannot be written or is not known yet), and
  one line names it.
- 130: interrupted (Ctrl-C, at any moment, imports included): one line saying what was written in full and what
  was left as it was.

A pair's verdict is that of its required comparisons; an advisory comparison (a sampler the pair expects may
fail, see :func:`bayes_zoo.inference.crossval.compare`) is printed with its own verdict and reasons but does not
change it.

This module imports only the standard library; Rich, NumPy, PyMC, ArviZ and numba are imported inside
:func:`main` (after :func:`bayes_zoo.configure`), so ``--help``, ``list`` and usage errors answer at once and
Ctrl-C during those imports is handled like any other.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import sys
import tempfile
import threading
import traceback
import warnings
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

EXIT_OK, EXIT_DISAGREE, EXIT_USAGE, EXIT_CRASH, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
#: The traceback of an internal error, in ``--out`` (see the module docstring).
ERROR_LOG = "bayes-zoo-error.log"
_SETTING_OPTIONS = ("draws", "chains", "warmup", "seed")
#: Peak memory over the numbers a run stores: 1.8 measured (``compare normal-gamma --quick`` at 2,000 and
#: 20,000 draws: +80 MB of peak RSS for 36,000 chain-iterations of 157 stored numbers), rounded up.
_PEAK_OVER_STORED = 2.0
#: Bytes an SBC simulation holds in the main process (seeds, records, rank rows) at one quantity: 1,150
#: measured with tracemalloc (3,000 simulations), rounded down: a lower bound.
_SBC_BYTES_PER_SIMULATION = 1_100


#: ``--nuts-sampler``'s choices: :data:`bayes_zoo.inference.nuts.NUTS_SAMPLERS`, spelt out so that building the
#: parser imports no PyMC (a test keeps the two equal).
NUTS_SAMPLER_CHOICES = ("nutpie", "pymc")


def _nuts_sampler_option(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--nuts-sampler", choices=NUTS_SAMPLER_CHOICES,
                        help="the automatic side's NUTS: nutpie (default; compiled once per model, then ~20x PyMC's "
                             "ESS/s) or PyMC's own; also BAYES_ZOO_NUTS_SAMPLER")
    return parser


def _common_options(parser: argparse.ArgumentParser) -> None:
    _nuts_sampler_option(parser)
    parser.add_argument("--draws", type=int, help="kept draws per chain (default 1000; --quick: the pair's small setting)")
    parser.add_argument("--chains", type=int, help="chains per sampler (default 4)")
    parser.add_argument("--warmup", type=int, help="warm-up / tuning iterations per chain, discarded (default 1000)")
    parser.add_argument("--seed", type=int, default=0,
                        help="root seed, 0 <= seed < 2**63; same seed, same draws (default 0)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="results folder (default ./results)")
    parser.add_argument("--quick", action="store_true",
                        help="the pair's small settings for draws, chains and warm-up (explicit options still win)")
    parser.add_argument("--force", action="store_true",
                        help="replace existing results for these pairs (once the new ones are complete)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one ``compare`` sub-command per registered pair plus ``all``.  No parser
    accepts abbreviated options."""
    from bayes_zoo import pairs  # noqa: F401  (registers the pairs)
    from bayes_zoo.registry import REGISTRY

    parser = argparse.ArgumentParser(
        prog="bayes-zoo", allow_abbrev=False,
        description="A probabilistic-programming model zoo: each problem in PyMC and by hand, cross-validated.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the registered pairs", allow_abbrev=False)
    compare = sub.add_parser("compare", help="run pairs and cross-validate their posteriors", allow_abbrev=False)
    problems = compare.add_subparsers(dest="problem", required=True, metavar="PROBLEM")
    for pair in REGISTRY.values():
        p = problems.add_parser(pair.name, help=pair.title, allow_abbrev=False)
        _common_options(p)
        for option in pair.options:
            option.add_to(p)
    _common_options(problems.add_parser("all", help="every registered pair, plus OUT/report.md", allow_abbrev=False))
    from bayes_zoo.active import add_arguments as active_arguments

    active_arguments(_nuts_sampler_option(sub.add_parser(
        "active-learn", help="batch active learning by ACS-FW and baselines on a data set", allow_abbrev=False)))
    from bayes_zoo.sbc import add_arguments as sbc_arguments

    sbc_arguments(_nuts_sampler_option(sub.add_parser("sbc", help="simulation-based calibration of a pair's samplers",
                                                      allow_abbrev=False)), list(REGISTRY))
    _bank_arguments(sub.add_parser("bank", help="posteriordb's gold-standard posteriors: our NUTS against their "
                                               "reference draws", allow_abbrev=False))
    _check_arguments(sub.add_parser("check", help="check your own sampler: a Problem in a Python file, "
                                                  "cross-validated against NUTS and calibrated by SBC",
                                    allow_abbrev=False))
    return parser


def _bank_arguments(parser: argparse.ArgumentParser) -> None:
    """``bayes-zoo bank {list, run, calibrate}``'s arguments."""
    sub = parser.add_subparsers(dest="bank_command", required=True, metavar="{list,run,calibrate}")
    sub.add_parser("list", help="every bundled posterior, its kind and whether it has a PyMC version",
                   allow_abbrev=False)
    for name, text in (("run", "run our NUTS against the reference for posteriors (NAME ... or all)"),
                       ("calibrate", "the verdict's false-alarm rate over seeds on posteriors (NAME ... or all)")):
        p = sub.add_parser(name, help=text, allow_abbrev=False)
        p.add_argument("names", nargs="+", metavar="NAME", help="posteriors (bayes-zoo bank list), or all")
        p.add_argument("--nuts-sampler", choices=("nutpie", "pymc"),
                       help="the automatic side's NUTS (default nutpie; also BAYES_ZOO_NUTS_SAMPLER)")
        p.add_argument("--draws", type=int, help="kept draws per chain (default 1000)")
        p.add_argument("--chains", type=int, help="chains (default 4; --quick 2)")
        p.add_argument("--warmup", type=int, help="tuning iterations per chain (default 1000; --quick 500)")
        p.add_argument("--quick", action="store_true", help="2 chains x 1000 draws after 500 tuning")
        p.add_argument("--jobs", type=int, default=1, help="local worker processes, one posterior each (default 1)")
        p.add_argument("--scheduler", help="a Dask scheduler address (tcp://host:8786) to run the posteriors on")
        p.add_argument("--out", type=Path, default=Path("results"), help="results folder (default ./results)")
        p.add_argument("--force", action="store_true", help="replace existing results (once the new ones are complete)")
        if name == "run":
            p.add_argument("--seed", type=int, default=0, help="root seed, 0 <= seed < 2**63 (default 0)")
        else:
            p.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 per posterior (default 5)")


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    _nuts_sampler_option(parser)
    parser.add_argument("problem", metavar="FILE.py[:NAME]",
                        help="a Python file defining a bayes_zoo.Problem called NAME (default: problem)")
    parser.add_argument("--draws", type=int, help="kept draws per chain, every side (default 1000)")
    parser.add_argument("--chains", type=int, help="chains per side (default 4; --quick 2)")
    parser.add_argument("--warmup", type=int, help="warm-up / tuning iterations per chain (default 1000; --quick 500)")
    parser.add_argument("--seed", type=int, default=0, help="root seed, 0 <= seed < 2**63 (default 0)")
    parser.add_argument("--sims", type=int, help="SBC simulations per side of yours (default 100)")
    parser.add_argument("--no-sbc", dest="sbc", action="store_false", help="skip simulation-based calibration")
    parser.add_argument("--trace", type=Path, help="your own NUTS trace (.nc, InferenceData) instead of running NUTS")
    parser.add_argument("--reference", metavar="POSTERIOR",
                        help="judge your sides against a bundled posteriordb posterior's reference draws instead of "
                             "running NUTS (bayes-zoo bank list); your data must be that posterior's")
    parser.add_argument("--jobs", type=int, default=1, help="SBC's local worker processes (joblib; default 1)")
    parser.add_argument("--scheduler", help="a Dask scheduler address (tcp://host:8786): run SBC's simulations there "
                                            "(needs pip install 'bayes-zoo[dask]')")
    parser.add_argument("--out", type=Path, default=Path("results"), help="results folder (default ./results)")
    parser.add_argument("--quick", action="store_true", help="small settings (2 chains x 1000 draws after 500 warm-up)")
    parser.add_argument("--force", action="store_true", help="replace existing results (once the new ones are complete)")


def _version() -> str:
    import bayes_zoo

    return bayes_zoo.__version__


def _settings(pair, args, progress):
    base = pair.quick if args.quick else dataclasses.replace(pair.quick, draws=1000, chains=4, warmup=1000, quick=False)
    overrides = {k: getattr(args, k) for k in ("draws", "chains", "warmup") if getattr(args, k) is not None}
    return dataclasses.replace(base, seed=args.seed, progress=progress, **overrides)


def _pair_options(pair, args) -> dict:
    """The problem's declared options as given on the command line (None: not given); none for ``all``."""
    if getattr(args, "problem", None) == "all":
        return {}
    return {o.name: getattr(args, o.name, None) for o in pair.options}


def _as_option(message: str, options=(), aliases=None) -> str:
    """A check's message (``"draws: must be >= 1"``) with its argument written as the option (``--draws``)."""
    name = message.split(":")[0]
    if name.startswith("--") or not name.isidentifier():
        return message
    if aliases and name in aliases:
        return aliases[name] + message[len(name):]
    if options is None or name in options:
        return "--" + name.replace("_", "-") + message[len(name):]
    return message


def _environment_error() -> str | None:
    """What is wrong with the environment variables bayes-zoo reads (``BAYES_ZOO_BLAS_THREADS``,
    ``BAYES_ZOO_NUTS_SAMPLER``), checked before any work; None when nothing is."""
    from bayes_zoo.inference import threads

    try:
        threads.check_policy()
    except ValueError as err:
        return str(err)
    sampler = os.environ.get("BAYES_ZOO_NUTS_SAMPLER")
    if sampler is not None and sampler not in NUTS_SAMPLER_CHOICES:
        return f"BAYES_ZOO_NUTS_SAMPLER: expected one of {', '.join(map(repr, NUTS_SAMPLER_CHOICES))}, got {sampler!r}"
    return None


def _nuts_facts(problems) -> dict:
    """``{"NUTS": "<sampler> (...)"}`` when SBC's ``nuts`` problem samples with a ``NutsSide`` (its ``sample`` wraps
    the side: :class:`bayes_zoo.inference.sbc_model._SideSample`), read from that side; else empty."""
    side = getattr(getattr(problems.get("nuts"), "sample", None), "side", None)
    sampler = getattr(side, "sampler", None)
    return {} if sampler is None else {"NUTS": f"{sampler} (compiled once per worker process)"}


def _usage_error(console, message: str) -> int:
    from rich.markup import escape

    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return EXIT_USAGE


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


def _check_draw_memory(selected, args) -> None:
    """Refuse draws x chains that cannot fit (``Pair.stored_per_draw`` numbers a chain-iteration)."""
    from bayes_zoo.models.checks import available_memory, fits_in_memory

    available = available_memory()
    for pair in selected:
        s = _settings(pair, args, None)
        nbytes = _PEAK_OVER_STORED * 8.0 * s.chains * (s.draws + s.warmup) * pair.stored_per_draw
        blame = "--chains" if s.chains > s.draws + s.warmup else "--warmup" if s.warmup > s.draws else "--draws"
        what = (f"{s.draws:,} draws (+ {s.warmup:,} warm-up) x {s.chains:,} chains of {pair.name} "
                f"({pair.stored_per_draw} numbers each)")
        fits_in_memory(nbytes, blame, what, available=available)


def _compare(console, args, run) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from bayes_zoo import report
    from bayes_zoo.registry import REGISTRY, get

    selected = list(REGISTRY.values()) if args.problem == "all" else [get(args.problem)]
    try:
        for pair in selected:  # validate every setting before any work
            _settings(pair, args, None)
            pair.resolve_options(_pair_options(pair, args), quick=args.quick)
        _check_draw_memory(selected, args)
        run.output = report.Output(args.out, [p.name for p in selected], force=args.force,
                                   index=args.problem == "all")
        run.output.open()
    except ValueError as err:
        options = set(_SETTING_OPTIONS).union(*(_pair_options(p, args) for p in selected))
        return _usage_error(console, _as_option(str(err), options))

    from bayes_zoo.models.backend import blas_status

    console.print(f"[dim]{blas_status()}[/]")
    with _quiet_libraries():
        outcomes = _run_pairs(console, args, selected, run.output)

    if args.problem == "all":
        index = run.output.commit_index(lambda path: report.write_index(outcomes, args.out, path=path))
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


def _run_pairs(console, args, selected, output):
    """Run each pair, write its files into its temporary folder and move that into place (one pair at a time)."""
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from bayes_zoo import report
    from bayes_zoo.registry import run_pair

    outcomes = []
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.completed}/{task.total} pairs"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("starting", total=len(selected))
        for pair in selected:
            def stage(text, _name=pair.name):
                progress.update(task, description=f"{_name}: {text}")

            outcome = run_pair(pair, _settings(pair, args, stage), **_pair_options(pair, args))
            stage("writing results")
            report.write_outcome(outcome, output.staging(pair.name))
            folder = output.commit(pair.name)
            if outcome.checks is not None:
                progress.console.print(report.rich_checks(outcome))
            if outcome.crossval is not None:
                progress.console.print(report.rich_table(outcome))
                progress.console.print(f"  power: {escape(outcome.crossval.power_summary())}", highlight=False)
            for reason in outcome.reasons:
                progress.console.print(f"  [yellow]- {escape(reason)}[/]", highlight=False)
            for note in () if outcome.crossval is None else outcome.crossval.notes:
                progress.console.print(f"  [dim]- {escape(note)}[/]", highlight=False)
            progress.console.print(f"  written to {folder}/ (report.md and report.html, CSV tables, figures, netCDF)", highlight=False)
            outcomes.append(outcome)
            progress.advance(task)
    return outcomes


def _projection_bytes(args, task: str, dataset_rows: int, inputs: int, init: int, posterior_draws: int) -> tuple[float, int]:
    """Bytes ACS-FW's ``--projections J`` allocate in one selection, and the J used: about four J x N arrays
    over the pool of N (means, squared differences, the projections) and J draws of the D weights.  Measured on
    yacht (N = 226, D = 101): peak RSS +245 MB from J = 2,000 to 40,000, 805 numbers a projection; this counts
    4 N + D = 1,005.  With ``--posterior nuts`` or ``advi`` the projections come from the trace, so J is at most
    its ``posterior_draws``."""
    n_test = max(1, int(round(0.2 * dataset_rows)))
    pool = max(dataset_rows - n_test - init, 0)
    features = ((inputs + 1) if (args.features == "linear" or task == "classification")
                else 31 if args.features == "neural" else 101)
    used = args.projections if args.posterior == "closed-form" else min(args.projections, posterior_draws)
    return 8.0 * used * (4 * pool + features), used


def _active_protocol(console, args, run) -> int:
    """``active-learn --protocol NAME``: every (data set, seed) unit in parallel, with progress and a time estimate."""
    from rich.progress import (BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    from bayes_zoo import active, report
    from bayes_zoo import protocol as zprotocol
    from bayes_zoo.active_learning.learners import NutsSettings
    from bayes_zoo.models.checks import positive_int, seed as check_seed

    folder_name = f"active-learning-{args.protocol}"
    try:
        fixed = [k for k, default in active.PROTOCOL_FIXES.items() if getattr(args, k) != default]
        if fixed:
            flags = ", ".join("--no-top-up" if k == "top_up" else "--" + k.replace("_", "-") for k in fixed)
            raise ValueError(f"protocol: {args.protocol} sets {flags} itself (its published settings); drop "
                             f"{'it' if len(fixed) == 1 else 'them'} (it accepts --repeats, --budget, --seed, "
                             f"--posterior, --jobs, --scheduler, --quick)")
        quick = zprotocol.QUICK if args.quick else {}
        protocol = zprotocol.with_options(zprotocol.PROTOCOLS[args.protocol],
                                          seeds=args.repeats if args.repeats is not None else quick.get("seeds"),
                                          budget=args.budget if args.budget is not None else quick.get("budget"))
        positive_int(protocol.seeds, "repeats")
        protocol.loop_settings()
        check_seed(args.seed, "seed")
        if args.seed + protocol.seeds - 1 >= 2**63:
            raise ValueError(f"seed: the last seed, {args.seed + protocol.seeds - 1}, is beyond 2**63 - 1")
        positive_int(args.jobs, "jobs")
        if args.jobs != 1 and args.scheduler is not None:
            raise ValueError("jobs: local processes or a Dask --scheduler, not both")
        for dataset in protocol.datasets:
            active.check_budget(dataset, protocol.budget, init=protocol.init, test_fraction=protocol.test_fraction)
        if args.scheduler is not None:
            import importlib.util

            if importlib.util.find_spec("distributed") is None:
                raise ValueError("scheduler: Dask's distributed package is not installed; pip install 'bayes-zoo[dask]'")
        nuts = NutsSettings(**({k.removeprefix("nuts_"): v for k, v in active.QUICK.items() if k.startswith("nuts_")}
                               if args.quick else {}))
        run.output = report.Output(args.out, [folder_name], force=args.force)
        run.output.open()
    except ValueError as err:
        return _usage_error(console, _as_option(str(err), None, {"protocol": "--protocol"}))
    from bayes_zoo.models.backend import blas_status

    console.print(f"[dim]{blas_status()}[/]")
    units = len(protocol.datasets) * protocol.seeds
    console.print(f"{protocol.name}: {len(protocol.datasets)} data sets x {protocol.seeds} seeds = {units} units, "
                  f"strategies {', '.join(protocol.strategies)}, "
                  + (f"on {args.scheduler}" if args.scheduler else f"{args.jobs} process(es)"), highlight=False)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.completed}/{task.total} units"), TimeElapsedColumn(), TextColumn("left"),
               TimeRemainingColumn())
    try:
        with _quiet_libraries(), Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task(f"{protocol.name}", total=units)

            def on_unit(rows):
                progress.update(task, advance=1,
                                description=f"{protocol.name}: {rows[0]['dataset']} seed {rows[0]['seed']} done")

            result = zprotocol.run(protocol, seed=args.seed, jobs=args.jobs, scheduler=args.scheduler,
                                   posterior=args.posterior, nuts=nuts, progress=on_unit)
    except OSError as err:  # an unreachable Dask scheduler (distributed raises OSError on timeout)
        if args.scheduler is None:
            raise
        return _usage_error(console, f"--scheduler: could not reach {args.scheduler} ({err}); {run.output.state()}")
    zprotocol.write(result, run.output.staging(folder_name))
    folder = run.output.commit(folder_name)
    console.print(zprotocol.rich_final(result))
    for line in zprotocol.verdict_lines(result):
        console.print(line, highlight=False)
    console.print(f"{units} units in {result.wall_seconds:.0f} s; written to {folder}/ (report.md and report.html, rounds.csv, "
                  f"final.csv, verdicts.csv, learning_curves.png)", highlight=False)
    return EXIT_OK


def _active_learn(console, args, run) -> int:
    import matplotlib

    matplotlib.use("Agg")
    if args.protocol is not None:
        return _active_protocol(console, args, run)
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from bayes_zoo.active_learning.learners import NutsSettings
    from bayes_zoo.active_learning.loop import LoopSettings
    from bayes_zoo.active_learning.strategies import check_strategies, strategy_label
    from bayes_zoo.models.checks import fits_in_memory, positive_int, seed as check_seed
    from bayes_zoo import active, report

    options = {"repeats": args.repeats, "budget": args.budget}
    for key, default in (("repeats", 10), ("budget", 100)):
        if options[key] is None:
            options[key] = active.QUICK[key] if args.quick else default
    nuts = ({k: active.QUICK[k] for k in ("nuts_draws", "nuts_tune", "advi_iterations")} if args.quick else {})
    source = args.dataset if args.data is None else args.data
    name = active.data_name(source)
    folder_name = f"active-learning-{name}"
    try:
        strategies = check_strategies(args.strategies)
        settings = LoopSettings(batch_size=args.batch_size, budget=options["budget"], init=args.init,
                                projections=args.projections)
        positive_int(options["repeats"], "repeats")
        check_seed(args.seed, "seed")
        last = args.seed + options["repeats"] - 1
        if last >= 2**63:
            raise ValueError(f"seed: repeat r uses seed + r, and with --repeats {options['repeats']} the last, {last}, "
                             f"is beyond 2**63 - 1")
        if args.jobs != 1 or args.scheduler is not None:
            raise ValueError(f"{'jobs' if args.jobs != 1 else 'scheduler'}: applies to --protocol runs only")
        if args.features is not None and args.dataset == "breast-cancer":
            raise ValueError("features: breast-cancer uses probit regression on its 30 inputs; --features applies "
                             "to the regression sets")
        data, kind = active.load_data(source, target=args.target)  # a user's bad data: the loader's message
        rows, inputs = data.arrays["X"].shape
        n_train = rows - max(1, int(round(settings.test_fraction * rows)))
        if args.init + 1 > n_train:
            raise ValueError(f"init: {args.init} leaves no pool in the {n_train} training points of {name}")
        active.check_budget(source, options["budget"], init=args.init, test_fraction=settings.test_fraction,
                            target=args.target)
        trace = NutsSettings(**{k.removeprefix("nuts_"): v for k, v in nuts.items() if k.startswith("nuts_")})
        nbytes, used = _projection_bytes(args, kind, rows, inputs, args.init, trace.draws * trace.chains)
        fits_in_memory(nbytes, "--projections", f"{used:,} projections over the pool of {name}")
        run.output = report.Output(args.out, [folder_name], force=args.force)
        run.output.open()
    except ValueError as err:
        return _usage_error(console, _as_option(str(err), None))
    from bayes_zoo.models.backend import blas_status

    console.print(f"[dim]{blas_status()}[/]")
    rounds_per_run = -(-options["budget"] // args.batch_size) + 1
    total = options["repeats"] * len(strategies) * rounds_per_run
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.completed}/{task.total} rounds"), TimeElapsedColumn())
    with _quiet_libraries(), Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"{name}: starting", total=total)

        def on_round(row):
            progress.update(task, advance=1, description=(
                f"{name}: repeat seed {row['seed']}, {row['strategy']}, {row['n_labelled']} labels"))

        exp = active.run_experiment(
            source, target=args.target, strategies=strategies, batch_size=args.batch_size, budget=options["budget"],
            init=args.init, repeats=options["repeats"], posterior=args.posterior, projections=args.projections,
            features=args.features or "rff", top_up=args.top_up, seed=args.seed, on_round=on_round, **nuts)
    active.write_experiment(exp, run.output.staging(folder_name))
    folder = run.output.commit(folder_name)
    console.print(active.rich_final(exp))
    metric = "RMSE" if exp.task == "regression" else "accuracy"
    style = {"better": "green", "worse": "red"}
    for strategy, base, verdict, mean, margin in active.paired_verdicts(exp):
        console.print(f"{strategy_label(strategy)} vs {base}: [{style.get(verdict, 'yellow')}]{escape(verdict)}[/] (final {metric} "
                      f"difference {mean:+.3g} ± {margin:.2g} (95%), paired over {exp.settings['repeats']} repeats)",
                      highlight=False)
    console.print(f"written to {folder}/ (report.md and report.html, rounds.csv, final.csv, learning_curves.png)", highlight=False)
    return EXIT_OK


def _sbc(console, args, run) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from bayes_zoo.models.checks import fits_in_memory, positive_int, seed as check_seed
    from bayes_zoo import report
    from bayes_zoo import sbc as zsbc
    from bayes_zoo.registry import get

    sims = args.sims if args.sims is not None else (zsbc.QUICK_SIMS if args.quick else 500)
    folder_name = f"sbc-{args.problem}"
    try:
        positive_int(sims, "sims")
        positive_int(args.jobs, "jobs")
        check_seed(args.seed, "seed")
        problems = zsbc.problems_for(get(args.problem), args.sampler, quick=args.quick, planted_bug=args.planted_bug)
        fits_in_memory(float(_SBC_BYTES_PER_SIMULATION) * sims * len(problems), "--sims",
                       f"{sims:,} simulations x {len(problems)} sampler(s) (at least "
                       f"{_SBC_BYTES_PER_SIMULATION:,} bytes each)")
        if args.scheduler is not None:
            import importlib.util

            if importlib.util.find_spec("distributed") is None:
                raise ValueError("scheduler: Dask's distributed package is not installed; pip install 'bayes-zoo[dask]'")
        run.output = report.Output(args.out, [folder_name], force=args.force)
        run.output.open()
    except ValueError as err:
        return _usage_error(console, _as_option(str(err), None,
                                                {"planted_bug": "--planted-bug", "problem": "PROBLEM"}))
    from bayes_zoo.models.backend import blas_status

    console.print(f"[dim]{blas_status()}[/]")
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.completed}/{task.total} simulations"), TimeElapsedColumn())
    try:
        with _quiet_libraries(), Progress(*columns, console=console, transient=True) as progress:
            tasks = {side: progress.add_task(f"{p.name}", total=sims) for side, p in problems.items()}
            runs = zsbc.run(problems, sims=sims, seed=args.seed, jobs=args.jobs, scheduler=args.scheduler,
                            progress=lambda side, record: progress.advance(tasks[side]))
    except OSError as err:  # an unreachable Dask scheduler (distributed raises OSError on timeout)
        if args.scheduler is None:
            raise
        return _usage_error(console, f"--scheduler: could not reach {args.scheduler} ({err}); {run.output.state()}")
    settings = {"sims": sims, "sampler": args.sampler, "jobs": args.jobs, "scheduler": args.scheduler or "none",
                "seed": args.seed, "quick": args.quick, "planted_bug": args.planted_bug}
    settings.update(_nuts_facts(problems))
    zsbc.write(runs, run.output.staging(folder_name), problem=args.problem, settings=settings)
    folder = run.output.commit(folder_name)
    console.print(zsbc.rich_table(runs))
    for r in runs:
        colour = {"calibrated": "green", "miscalibrated": "red"}.get(r.verdict, "yellow")
        failed = (f", {len(r.sampler_failures)} simulation(s) failed in the sampler (see failures-{r.side}.csv)"
                  if len(r.sampler_failures) else "")
        if len(r.simulation_failures):
            failed += f", {len(r.simulation_failures)} left out (the generative model raised: see failures-{r.side}.csv)"
        console.print(f"{r.result.problem}: [bold {colour}]{r.verdict}[/]{failed}", highlight=False)
    console.print(f"written to {folder}/ (report.md and report.html, ranks and uniformity CSVs, ECDF plots)", highlight=False)
    return EXIT_DISAGREE if any(r.verdict == "miscalibrated" for r in runs) else EXIT_OK


def _check(console, args, run) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from rich.markup import escape
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from bayes_zoo import checking, report
    from bayes_zoo.models.checks import positive_int, seed as check_seed
    from bayes_zoo.problem import ResultMismatch, SamplerError

    try:
        problem = checking.load_problem(args.problem)
        check_seed(args.seed, "seed")
        for name in ("draws", "chains", "sims", "jobs"):
            if getattr(args, name) is not None:
                positive_int(getattr(args, name), name)
        if args.warmup is not None and args.warmup < 0:
            raise ValueError(f"warmup: must be >= 0, got {args.warmup}")
        if args.trace is not None and not args.trace.is_file():
            raise ValueError(f"trace: {args.trace} does not exist")
        if args.trace is not None and args.reference is not None:
            raise ValueError("reference: give --trace or --reference, not both (each replaces the NUTS side)")
        if args.reference is not None:
            from bayes_zoo.bank import with_reference

            with_reference(problem, args.reference)  # checked now: the name, the data, the model's variables
        if args.scheduler is not None:
            import importlib.util

            if importlib.util.find_spec("distributed") is None:
                raise ValueError("scheduler: Dask's distributed package is not installed; pip install 'bayes-zoo[dask]'")
        run.output = report.Output(args.out, [checking.folder_name(problem)], force=args.force)
        run.output.open()
        run.output.close()  # checked and free; check() takes the lock again while it writes
        run.output = None
    except ValueError as err:
        return _usage_error(console, _as_option(str(err), None, {"file": "FILE.py", "name": "FILE.py:NAME"}))
    from bayes_zoo.models.backend import blas_status

    console.print(f"[dim]{blas_status()}[/]")
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    try:
        with _quiet_libraries(), Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task(problem.name)
            result = checking.check(problem, draws=args.draws, chains=args.chains, warmup=args.warmup, seed=args.seed,
                                    sims=args.sims, sbc=args.sbc, quick=args.quick, trace=args.trace,
                                    reference=args.reference, jobs=args.jobs,
                                    scheduler=args.scheduler, out=args.out, force=args.force,
                                    progress=lambda text: progress.update(task, description=f"{problem.name}: {text}"))
    except OSError as err:  # an unreachable Dask scheduler (distributed raises OSError on timeout)
        if args.scheduler is None:
            raise
        return _usage_error(console, f"--scheduler: could not reach {args.scheduler} ({err})")
    except SamplerError as err:  # the user's code raised: exit 3, said as theirs, the traceback logged
        log = run.write_log(traceback.format_exc())
        console.print(f"[bold red]your sampler failed:[/] {escape(str(err))}; not a verdict"
                      + (f"; full traceback in {log}" if log else ""), highlight=False, soft_wrap=True)
        return EXIT_CRASH
    except ValueError as err:
        if not isinstance(err, ResultMismatch):
            return _usage_error(console, _as_option(str(err), None, {"file": "FILE.py", "name": "FILE.py:NAME"}))
        console.print("[bold red]error:[/] the results do not match the model:", highlight=False)
        for line in err.problems:
            console.print(f"  - {escape(line)}", highlight=False, soft_wrap=True)
        return EXIT_USAGE
    outcome = result.outcome
    if outcome.crossval is not None:
        console.print(report.rich_table(outcome))
        console.print(f"  power: {escape(outcome.crossval.power_summary())}", highlight=False)
    if result.sbc:
        from bayes_zoo import sbc as zsbc

        console.print(zsbc.rich_table(result.sbc))
    if result.sbc_skipped:
        console.print(f"  [dim]{escape(result.sbc_skipped)}[/]", highlight=False)
    style = {"agree": "green", "disagree": "red", "inconclusive": "yellow"}
    console.print(f"{problem.name}: [bold {style[result.verdict]}]{result.verdict}[/] (exit status {result.exit_status})",
                  highlight=False)
    for reason in result.reasons:
        console.print(f"  [yellow]- {escape(reason)}[/]", highlight=False)
    console.print(f"written to {result.folder}/ (report.md and report.html, CSV tables, figures, netCDF, sbc/)", highlight=False)
    return result.exit_status


def _bank(console, args, run) -> int:
    """``bayes-zoo bank list | run NAME... | calibrate NAME...`` (:mod:`bayes_zoo.bank`)."""
    from rich.markup import escape

    from bayes_zoo import bank
    from bayes_zoo.tables import markdown_table

    if args.bank_command == "list":
        frame = bank.list_frame()
        console.print(markdown_table(frame), highlight=False, soft_wrap=True)
        expressed = int((frame["status"] == "expressed").sum())
        console.print(f"{len(frame)} posteriors bundled, {expressed} with a PyMC version", highlight=False)
        return EXIT_OK
    import matplotlib

    matplotlib.use("Agg")
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from bayes_zoo import report
    from bayes_zoo.models.checks import nonnegative_int, positive_int, seed as check_seed
    from bayes_zoo.registry import RunSettings

    calibrating = args.bank_command == "calibrate"
    try:
        names = bank.selected_names(args.names)
        base = RunSettings(draws=1000, chains=2, warmup=500, quick=True) if args.quick else RunSettings()
        for name in ("draws", "chains", "jobs"):
            if getattr(args, name) is not None:
                positive_int(getattr(args, name), name)
        if args.warmup is not None:
            nonnegative_int(args.warmup, "warmup")
        seed = 0 if calibrating else check_seed(args.seed, "seed")
        if calibrating:
            positive_int(args.seeds, "seeds")
            names = [n for n in names if bank.status(n) == "expressed"] if args.names == ["all"] else names
            for name in names:
                if bank.status(name) != "expressed":
                    raise ValueError(f"NAME: {name}: {bank.status(name)}")
        settings = RunSettings(draws=args.draws or base.draws, chains=args.chains or base.chains,
                               warmup=base.warmup if args.warmup is None else args.warmup, seed=seed, quick=args.quick)
        if args.scheduler is not None:
            import importlib.util

            if importlib.util.find_spec("distributed") is None:
                raise ValueError("scheduler: Dask's distributed package is not installed; pip install 'bayes-zoo[dask]'")
        if calibrating:
            run.output = report.Output(args.out, ["bank-calibration"], force=args.force)
        else:
            run.output = report.Output(args.out / "bank", [n for n in names if bank.status(n) == "expressed"],
                                       force=args.force, index=args.names == ["all"])
        run.output.open()
    except ValueError as err:
        return _usage_error(console, _as_option(str(err), None, {"NAME": "NAME"}))
    from bayes_zoo.models.backend import blas_status

    console.print(f"[dim]{blas_status()}[/]")
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.completed}/{task.total} posteriors"), TimeElapsedColumn())
    with _quiet_libraries(), Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"bank: {len(names)} posterior(s), {args.jobs} process(es)", total=len(names))
        if calibrating:
            def arrived(rows):
                done = rows[0]["name"] if rows else "?"
                bad = sum(r["verdict"] == "disagree" for r in rows)
                progress.console.print(f"{done}: {len(rows)} seeds, {bad} disagree", highlight=False)
                progress.advance(task)

            frame = bank.calibrate(names, range(args.seeds), settings=settings, jobs=args.jobs,
                                   scheduler=args.scheduler, progress=arrived)
            summary = bank.calibration_summary(frame)
            staging = run.output.staging("bank-calibration")
            frame.to_csv(staging / "calibration.csv", index=False)
            by_kind = bank.calibration_summary(frame, by="kind")
            text = ("# Calibration of the verdict on posteriordb posteriors\n\n" + bank.calibration_markdown(by_kind)
                    + "\n\n## Per posterior\n\n" + bank.calibration_markdown(summary) + "\n")
            (staging / "report.md").write_text(text, encoding="utf-8")
            from bayes_zoo.html_report import write_html

            write_html(staging)
            folder = run.output.commit("bank-calibration")
            console.print(bank.calibration_markdown(by_kind), highlight=False, soft_wrap=True)
            console.print(f"written to {folder}/ (report.md and report.html, calibration.csv)", highlight=False)
            last = summary.iloc[-1]
            return EXIT_DISAGREE if last["disagree"] > last["allowed"] else EXIT_OK

        style = {"agree": "green", "disagree": "red", "inconclusive": "yellow"}

        def arrived(row):
            colour = style.get(row.verdict, "magenta")
            extra = "" if row.verdict in ("not run", "error") else (
                f" ({row.divergences} divergences, ESS/s {row.ess_per_second:,.0f}, {row.wall_time:.0f} s)")
            progress.console.print(f"{row.name}: [bold {colour}]{row.verdict}[/]{extra}", highlight=False)
            for reason in row.reasons[:3]:
                progress.console.print(f"  [yellow]- {escape(reason)}[/]", highlight=False, soft_wrap=True)
            if len(row.reasons) > 3:
                progress.console.print(f"  [yellow]- (+{len(row.reasons) - 3} more, in the report)[/]", highlight=False)
            if row.folder:
                progress.console.print(f"  written to {row.folder}/ (report.md and report.html)", highlight=False)
            progress.advance(task)

        rows = bank.run(names, settings=settings, jobs=args.jobs, scheduler=args.scheduler, output=run.output,
                        progress=arrived)
    if args.names == ["all"]:
        out = args.out / "bank"
        index = run.output.commit_index(lambda path: path.write_text(
            bank.index_markdown(rows, settings, base=out), encoding="utf-8"))
        console.print(f"bank report: {index}")
    counts = {v: sum(r.verdict == v for r in rows) for v in dict.fromkeys(r.verdict for r in rows)}
    console.print("bank: " + ", ".join(f"{n} {v}" for v, n in counts.items()), highlight=False)
    if any(r.verdict == "error" for r in rows):
        return EXIT_CRASH
    return EXIT_DISAGREE if any(r.verdict == "disagree" for r in rows) else EXIT_OK


class _Run:
    """What :func:`main` needs to say truthfully in its last line, whatever stopped the run."""

    def __init__(self, argv):
        self.argv = list(sys.argv[1:] if argv is None else argv)
        self.out: Path | None = None  # --out, once parsed
        self.output = None  # bayes_zoo.report.Output, once a command has one
        self.console = None

    def state(self) -> str:
        return "nothing was written" if self.output is None else self.output.state()

    def close(self) -> None:
        if self.output is not None:
            self.output.close()

    def say(self, label: str, style: str, text: str) -> None:
        """One line: through Rich once it is imported, else plain."""
        if self.console is not None:
            from rich.markup import escape

            self.console.print(f"[bold {style}]{label}[/]{escape(text)}", highlight=False, soft_wrap=True)
        else:
            print(label + text, flush=True)

    def write_log(self, text: str) -> Path | None:
        """The traceback in ``OUT/bayes-zoo-error.log`` (``OUT`` created if needed), else in the system's
        temporary folder; None if neither can be written."""
        header = (f"bayes-zoo internal error, {datetime.now(timezone.utc).isoformat(timespec='seconds')}, "
                  f"pid {os.getpid()}\ncommand: bayes-zoo {' '.join(self.argv)}\npython: {sys.version.split()[0]}\n\n")
        places = [] if self.out is None else [(self.out, ERROR_LOG)]
        places.append((Path(tempfile.gettempdir()), f"bayes-zoo-error-{os.getpid()}.log"))
        for folder, name in places:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                (folder / name).write_text(header + text, encoding="utf-8")
                return folder / name
            except OSError:
                continue
        return None


def _main(argv, run: _Run) -> int:
    import bayes_zoo

    bayes_zoo.configure()  # PyTensor's BLAS and the warning filters, before anything imports PyMC
    from rich.console import Console

    # Not a terminal (a pipe, a log file, CI): no terminal width to respect, so do not cut the table.
    console = run.console = Console() if sys.stdout.isatty() else Console(width=140)
    args = build_parser().parse_args(argv)
    run.out = getattr(args, "out", None)
    bad = _environment_error()
    if bad is not None:
        return _usage_error(console, bad)
    if getattr(args, "nuts_sampler", None) is not None:
        from bayes_zoo.inference.nuts import set_nuts_sampler

        set_nuts_sampler(args.nuts_sampler)  # the process default every NUTS call site reads
    if args.command == "list":
        return _list(console)
    if args.command == "active-learn":
        return _active_learn(console, args, run)
    if args.command == "sbc":
        return _sbc(console, args, run)
    if args.command == "check":
        return _check(console, args, run)
    if args.command == "bank":
        return _bank(console, args, run)
    return _compare(console, args, run)


def _hold_interrupts():
    """Ignore further Ctrl-C while cleaning up after one (main thread only); returns the handler to restore."""
    if threading.current_thread() is threading.main_thread():
        return signal.signal(signal.SIGINT, signal.SIG_IGN)
    return None


def main(argv=None) -> int:
    """Entry point of the ``bayes-zoo`` console script; returns the exit status (module docstring)."""
    run = _Run(argv)
    restore = None
    try:
        return _main(argv, run)
    except KeyboardInterrupt:
        restore = _hold_interrupts()
        run.close()
        run.say("interrupted", "yellow", f"; {run.state()}")
        return EXIT_INTERRUPTED
    except Exception as err:  # noqa: BLE001  a crash is not a verdict: its own status, the traceback logged
        restore = _hold_interrupts()
        text = traceback.format_exc()
        log = run.write_log(text)
        run.close()
        where = f"full traceback in {log}" if log is not None else "the traceback could not be written:\n" + text
        first = str(err).splitlines()[0] if str(err) else ""
        run.say("internal error", "red",
                f" ({type(err).__name__}{': ' + first if first else ''}), not a verdict; {where}; {run.state()}")
        return EXIT_CRASH
    finally:
        run.close()
        if restore is not None:
            signal.signal(signal.SIGINT, restore)


if __name__ == "__main__":
    sys.exit(main())
