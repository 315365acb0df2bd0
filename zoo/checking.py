"""Check your own sampler: a user's :class:`~bayes_zoo.problem.Problem`, cross-validated and calibrated.

::

    bayes-zoo check PATH/TO/FILE.py[:NAME] [--draws N --chains N --warmup N --seed N --sims N --no-sbc
                                            --trace FILE.nc --jobs N --scheduler ADDRESS --out DIR --quick --force]

The file is an ordinary Python module that defines a :class:`~bayes_zoo.problem.Problem` (``NAME``, default
``problem``): a PyMC model builder ``model(data) -> pymc.Model``, the data (a dict of arrays), and the user's
samplers as ``sides``, each ``sample(data, *, seed, draws, chains) -> arviz.InferenceData`` or a dict
``{variable: array (chains, draws, *shape)}`` (or :func:`from_kernel` of an ``init``/``step`` pair).
Optionally an exact answer: ``exact=`` a DataFrame with index the quantity labels as ArviZ writes them
(``"beta"``, ``"theta[3]"``, or ``"theta[P1]"`` with coordinates) and columns ``mean``, ``sd``, ``q05``,
``q95`` -- or a mapping label -> those statistics, or a function of the data returning either.

:func:`check` runs the problem on the harness (:func:`bayes_zoo.problem.run_problem`: NUTS on the model with the
zoo's defaults, or the user's own ``trace``; every side; the names, dims and coordinate labels of every result
checked against the model, each mismatch named; cross-validation with the joint quantity ``loglik``; the
confirmatory stage), then simulation-based calibration of the user's sides with data simulated from the PyMC
model itself (:mod:`bayes_zoo.inference.sbc_model`), and writes ``OUT/check-NAME/`` (the usual report, and
``sbc/``).

Exit status of ``bayes-zoo check`` (an autograder can read it):

- 0 (:data:`EXIT_AGREE`): agree, and every checked side calibrated;
- 1 (:data:`EXIT_DISAGREE`): a comparison disagrees (confirmed) or a side is miscalibrated;
- 2 (:data:`EXIT_USAGE`): bad usage: the file cannot be loaded, names no Problem, a setting is out of range,
  or a result does not match the model (the message names every mismatch);
- 3 (:data:`EXIT_CRASH`): a crash (the user's sampler raised, or an internal error), traceback logged;
- 4 (:data:`EXIT_INCONCLUSIVE`): inconclusive (too few effective draws, a degenerate result ...), reasons printed;
- 130: interrupted.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = ["EXIT_AGREE", "EXIT_DISAGREE", "EXIT_USAGE", "EXIT_CRASH", "EXIT_INCONCLUSIVE", "CheckResult", "check",
           "load_problem", "from_kernel", "folder_name", "improper_priors", "DEFAULT_SIMS", "QUICK_SIMS"]

EXIT_AGREE, EXIT_DISAGREE, EXIT_USAGE, EXIT_CRASH, EXIT_INCONCLUSIVE = 0, 1, 2, 3, 4
#: SBC simulations of ``check`` by default, and with ``quick`` (ranks in 20 bins need 100, 5 a bin).
DEFAULT_SIMS, QUICK_SIMS = 100, 100


@dataclass
class CheckResult:
    """What :func:`check` found.

    Attributes
    ----------
    problem : Problem
    outcome : PairOutcome
        The harness's outcome: results, ``crossval`` (with ``loglik``), facts, figures.
    sbc : list of SamplerSBC
        One per calibrated side (:class:`bayes_zoo.sbc.SamplerSBC`: ``verdict``, ``table``, ``result``); empty
        with ``sbc=False``.
    folder : pathlib.Path or None
        Where the report was written (``out`` given).
    sbc_skipped : str
        Why SBC did not run although asked for (an improper prior: :func:`improper_priors`); empty otherwise.
    """

    problem: Any
    outcome: Any
    sbc: list = field(default_factory=list)
    folder: Path | None = None
    sbc_skipped: str = ""

    @property
    def verdict(self) -> str:
        """"disagree" if the cross-validation disagrees or a side is miscalibrated; "inconclusive" if either is
        inconclusive; else "agree"."""
        verdicts = {self.outcome.verdict} | {r.verdict for r in self.sbc}
        if verdicts & {"disagree", "miscalibrated"}:
            return "disagree"
        if "inconclusive" in verdicts:
            return "inconclusive"
        return "agree"

    @property
    def reasons(self) -> tuple[str, ...]:
        """The cross-validation's reasons, then each miscalibrated or inconclusive side's failing quantities."""
        out = list(self.outcome.reasons)
        for r in self.sbc:
            if r.verdict != "calibrated":
                bad = r.table.loc[r.table["verdict"] != "uniform", "quantity"].tolist() if len(r.table) else []
                failed = len(r.sampler_failures)
                first = (f": the first, seed {r.sampler_failures['seed'].iloc[0]}: "
                         f"{str(r.sampler_failures['error'].iloc[0]).splitlines()[0]} (all in sbc/failures-{r.side}.csv)"
                         if failed else "")
                out.append(f"SBC of {r.side}: {r.verdict}" + (f" (ranks not uniform: {', '.join(bad)})" if bad else "")
                           + (f"; {failed} simulation(s) failed in the sampler{first}" if failed else ""))
        return tuple(out)

    @property
    def exit_status(self) -> int:
        """The command's exit status for this verdict (module docstring)."""
        return {"agree": EXIT_AGREE, "disagree": EXIT_DISAGREE, "inconclusive": EXIT_INCONCLUSIVE}[self.verdict]


def improper_priors(problem) -> list[str]:
    """The free variables of ``problem``'s model with an improper prior (``pm.Flat``, ``pm.HalfFlat``), by name:
    SBC cannot draw a truth from them.  Empty without a model."""
    if problem.model is None:
        return []
    model = problem.build(problem.load(problem.resolve_options({})))
    improper = []
    for rv in model.free_RVs:
        op = type(rv.owner.op).__name__
        if op in ("FlatRV", "HalfFlatRV"):
            improper.append(f"{rv.name} ~ {op[:-2]}")
    return improper


def folder_name(problem) -> str:
    """``check-NAME``, with characters other than letters, digits, ``-``, ``_`` and ``.`` as ``-``."""
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in problem.name)
    return f"check-{safe}"


def load_problem(spec: str):
    """The :class:`~bayes_zoo.problem.Problem` that ``spec`` (``PATH/TO/FILE.py[:NAME]``) names.

    The file is imported as a fresh module (its folder first on ``sys.path`` while it loads, so it may import
    its neighbours).  ``NAME`` defaults to ``problem``.

    Raises
    ------
    ValueError
        Starting ``file:`` if the file does not exist, is not ``.py`` or fails to import (the error quoted);
        ``name:`` if it defines no Problem by that name (the Problems it does define are listed).
    """
    from bayes_zoo.problem import Problem

    text = str(spec)
    if Path(text).is_file() or ":" not in text:
        path_text, name = text, ""
    else:
        path_text, _, name = text.rpartition(":")
    path = Path(path_text)
    name = name or "problem"
    if path.suffix != ".py":
        raise ValueError(f"file: expected a Python file PATH.py[:NAME], got {text!r}")
    if not path.is_file():
        raise ValueError(f"file: {path} does not exist")
    module_name = f"_bayes_zoo_user_{abs(hash(path.resolve()))}"
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(loader_spec)
    sys.path.insert(0, str(path.resolve().parent))
    try:
        loader_spec.loader.exec_module(module)
    except Exception as err:  # noqa: BLE001  (the user's file: say what failed, as a usage error)
        raise ValueError(f"file: importing {path} failed: {type(err).__name__}: {err}") from err
    finally:
        sys.path.remove(str(path.resolve().parent))
    problems = sorted(k for k, v in vars(module).items() if isinstance(v, Problem))
    value = getattr(module, name, None)
    if not isinstance(value, Problem):
        raise ValueError(f"name: {path} defines no Problem called {name!r} "
                         f"(Problems it defines: {', '.join(problems) or 'none'})")
    return value


def from_kernel(init: Callable, step: Callable) -> Callable:
    """A sampler from an ``init``/``step`` pair, driven by the harness (blackjax's style).

    Parameters
    ----------
    init : callable
        ``init(data, rng) -> state``: the starting state of one chain.
    step : callable
        ``step(rng, state, data) -> state`` or ``(state, info)``: one transition.  ``state`` is a mapping of
        variable name -> value, or a NamedTuple whose fields are the variables.

    Returns
    -------
    callable
        ``sample(data, *, seed, draws, chains, warmup=draws) -> dict`` of arrays ``(chains, draws, *shape)``:
        chain ``c`` uses the generator ``numpy.random.default_rng(SeedSequence(seed).spawn(chains)[c])``, runs
        ``warmup`` steps (discarded), then ``draws`` steps, recording the state after each.

    Raises
    ------
    ValueError
        If ``init`` or ``step`` is not callable (at once); when sampling, naming ``seed``, ``draws``, ``chains``
        or ``warmup`` out of range, or ``state`` when a state is neither a mapping nor a NamedTuple.
    """
    if not callable(init) or not callable(step):
        raise ValueError("init, step: expected two callables, init(data, rng) -> state and step(rng, state, data)")

    def sample(data, *, seed, draws, chains, warmup=None):
        import numpy as np

        from bayes_zoo.models.checks import nonnegative_int, positive_int, seed as check_seed

        seed, draws, chains = check_seed(seed, "seed"), positive_int(draws, "draws"), positive_int(chains, "chains")
        warmup = draws if warmup is None else nonnegative_int(warmup, "warmup")
        records = []
        for child in np.random.SeedSequence(seed).spawn(chains):
            rng = np.random.default_rng(child)
            state = init(data, rng)
            kept = []
            for i in range(warmup + draws):
                out = step(rng, state, data)
                state = out[0] if isinstance(out, tuple) and not hasattr(out, "_fields") else out
                if i >= warmup:
                    kept.append(_as_mapping(state))
            records.append(kept)
        names = list(records[0][0])
        return {k: np.array([[np.asarray(s[k], dtype=float) for s in chain] for chain in records]) for k in names}

    sample.__name__ = f"from_kernel({getattr(init, '__name__', 'init')}, {getattr(step, '__name__', 'step')})"
    return sample


def _as_mapping(state) -> dict:
    if hasattr(state, "_asdict"):
        return dict(state._asdict())
    if isinstance(state, dict):
        return state
    raise ValueError(f"state: expected a mapping or a NamedTuple of variables, got {type(state).__name__}")


def _check_observed_names(problem, options) -> None:
    """Refuse, before any work, a model whose observed variables are not named after data keys (SBC and
    ``loglik`` put data into the model by those names)."""
    data = problem.load(options)
    try:
        model = problem.build(data)
    except Exception as err:  # noqa: BLE001  (the user's builder: a usage error, quoted)
        raise ValueError(f"model: building the model from the data raised {type(err).__name__}: {err}") from err
    observed = [rv.name for rv in model.observed_RVs]
    missing = [name for name in observed if name not in data]
    if missing:
        raise ValueError(f"model: the observed variable(s) {missing} are not keys of the data (keys: {list(data)}): "
                         f"name each observed variable after the data key it observes, e.g. "
                         f"pm.Poisson({missing[0]!r}, ..., observed=data[{missing[0]!r}])")


def _with_trace(problem, trace):
    """``problem`` with its NUTS side replaced by the user's own trace (returned as is, every stage)."""
    import arviz as az

    from bayes_zoo.problem import Side

    if isinstance(trace, (str, Path)):
        path = Path(trace)
        if not path.is_file():
            raise ValueError(f"trace: {path} does not exist")
        trace = az.from_netcdf(str(path))
    if not isinstance(trace, az.InferenceData) or "posterior" not in trace.groups():
        raise ValueError("trace: expected an arviz.InferenceData with a posterior group (or a .nc file of one)")

    def given_trace(data, *, seed, draws, chains):
        return trace

    given_trace.own_size = True  # the user's trace has the size it has
    sides = dict(problem.sides)
    sides["nuts"] = Side(given_trace, title="the user's NUTS trace")
    return replace(problem, sides=sides)


def check(problem, *, draws: int | None = None, chains: int | None = None, warmup: int | None = None, seed: int = 0,
          sims: int | None = None, sbc: bool = True, quick: bool = False, trace=None, reference: str | None = None,
          jobs: int = 1, scheduler=None,
          out=None,
          force: bool = False, progress: Callable[[str], None] | None = None, options: dict | None = None) -> CheckResult:
    """Cross-validate a user's samplers against NUTS (and an exact answer if given), then calibrate them.

    Parameters
    ----------
    problem : Problem
        With a ``model`` (for NUTS, the joint quantity and SBC) and the user's ``sides``.
    draws, chains, warmup : int, optional
        Per side; default 1000, 4, 1000 (``quick``: the problem's quick settings).
    seed : int
        Root seed, ``0 <= seed < 2**63``.
    sims : int, optional
        SBC simulations per side (default :data:`DEFAULT_SIMS`); SBC runs each side at 2 chains and the
        problem's quick draws (its ``sbc_settings`` if it declares them).
    sbc : bool
        Run SBC of the user's sides (needs ``model``).
    trace : arviz.InferenceData or path, optional
        The user's own NUTS trace, used instead of running NUTS.  The confirmatory stage (after a first
        "disagree") then reruns only the user's sides: NUTS's side is the same trace in both stages.
    reference : str, optional
        A bundled posteriordb posterior (``bayes-zoo bank list``): its gold-standard draws replace NUTS
        (:func:`bayes_zoo.bank.with_reference`; the problem's data must be that posterior's), the same draws in
        both stages.
    jobs : int
        SBC's local worker processes (joblib).
    scheduler : str or distributed.Client, optional
        Run SBC's simulations on a Dask cluster instead (as ``bayes-zoo sbc --scheduler``).
    out : path, optional
        Write ``OUT/check-NAME/`` (:func:`folder_name`): the report, CSVs, netCDF, figures and ``sbc/``.
    force : bool
        Replace an existing result folder (once the new one is complete).
    options : dict, optional
        The problem's declared options.

    Returns
    -------
    CheckResult

    Raises
    ------
    ValueError
        Naming the argument, before any work (``problem``, ``draws``, ``sims``, ``out``, ``trace``, ``model``: an
        observed variable not named after a data key, or a builder that raises...);
        :class:`bayes_zoo.problem.ResultMismatch` (a ValueError) when a side's names, dims, coordinate labels or
        (chains, draws) do not match the model and the settings, every mismatch named.
    bayes_zoo.problem.SamplerError
        When a side's sampler raises (naming the side and the line of its code; the exception as ``__cause__``).
    """
    from bayes_zoo.models.checks import positive_int
    from bayes_zoo.problem import Problem
    from bayes_zoo.registry import RunSettings, run_pair

    if not isinstance(problem, Problem):
        raise ValueError(f"problem: expected a bayes_zoo.Problem, got {type(problem).__name__}")
    base = problem.quick if quick else RunSettings(seed=seed)
    settings = RunSettings(draws=base.draws if draws is None else draws, chains=base.chains if chains is None else chains,
                           warmup=base.warmup if warmup is None else warmup, seed=seed, quick=quick,
                           progress=progress or (lambda stage: None))
    sims = positive_int(QUICK_SIMS if quick and sims is None else DEFAULT_SIMS if sims is None else sims, "sims")
    jobs = positive_int(jobs, "jobs")
    if sbc and problem.model is None and problem.simulate is None:
        raise ValueError("sbc: SBC needs the problem's model (or a simulate function); pass sbc=False")
    resolved = problem.resolve_options(options, quick=quick)
    if problem.model is not None and problem.joint is True:
        _check_observed_names(problem, resolved)
    if trace is not None and reference is not None:
        raise ValueError("reference: give trace or reference, not both (each replaces the NUTS side)")
    if trace is not None:
        problem = _with_trace(problem, trace)
    if reference is not None:
        from bayes_zoo.bank import with_reference

        problem = with_reference(problem, reference)
    skipped = improper_priors(problem) if sbc else []
    if skipped:
        sbc = False
    output = None
    if out is not None:
        from bayes_zoo.report import Output

        output = Output(out, [folder_name(problem)], force=force)
        output.open()
    try:
        outcome = run_pair(problem, settings, **resolved)
        runs = []
        if sbc:
            from bayes_zoo import sbc as zsbc
            from bayes_zoo.problem import sbc_problems

            settings.progress("simulation-based calibration")
            sides = [k for k, s in problem.sides.items() if s.compared and k != "nuts"]
            runs = zsbc.run(sbc_problems(problem, sides, quick=quick), sims=sims, seed=seed, jobs=jobs,
                            scheduler=scheduler, figures=out is not None)  # ECDF plots only for a report
        result = CheckResult(problem, outcome, runs, sbc_skipped=(
            f"SBC skipped: the model's prior is improper ({', '.join(skipped)}), so there is nothing to simulate "
            "from; the verdict is the cross-validation's" if skipped else ""))
        if output is not None:
            result.folder = _write(result, output, settings, sims)
        return result
    finally:
        if output is not None:
            output.close()


def _write(result: CheckResult, output, settings, sims: int) -> Path:
    from bayes_zoo import report
    from bayes_zoo import sbc as zsbc

    name = folder_name(result.problem)
    staging = output.staging(name)
    outcome = result.outcome
    outcome.sections = {**outcome.sections, "Check verdict": _verdict_markdown(result)}
    report.write_outcome(outcome, staging)
    if result.sbc:
        zsbc.write(result.sbc, staging / "sbc", problem=result.problem.name,
                   settings={"sims": sims, "seed": settings.seed, "quick": settings.quick})
    return output.commit(name)


def _verdict_markdown(result: CheckResult) -> str:
    lines = [f"**{result.verdict}** (exit status {result.exit_status}): cross-validation {result.outcome.verdict}"]
    for r in result.sbc:
        lines[0] += f"; SBC of `{r.side}` {r.verdict} ({r.simulations_text()}, see [sbc/report.md](sbc/report.md))"
    lines[0] += "."
    if result.sbc_skipped:
        lines.append(f"- {result.sbc_skipped}.")
    lines += [f"- {reason}" for reason in result.reasons]
    return "\n".join(lines)
