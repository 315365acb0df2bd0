"""The registry of problems: each problem written twice (PyMC and by hand), run and cross-validated.

A problem is a declaration (:class:`bayes_zoo.problem.Problem`) that registers itself with :func:`register`
(see ``zoo/pairs/``); the harness (:func:`bayes_zoo.problem.run_problem`) runs it.  The CLI, the reports and
``compare all`` only ever see :class:`~bayes_zoo.problem.Problem` and :class:`PairOutcome`, so a new problem
needs no change outside its own module beyond one import line in ``zoo/pairs/__init__.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bayes_zoo.models.checks import nonnegative_int, positive_int, seed as check_seed

if TYPE_CHECKING:  # kept out of the import path so that `bayes-zoo --help` and `list` start at once
    import arviz as az
    import pandas as pd

    from bayes_zoo.inference.crossval import CrossValidation
    from bayes_zoo.problem import Problem

__all__ = ["RunSettings", "PairOutcome", "register", "get", "names", "run_pair", "REGISTRY"]


def _silent(stage: str) -> None:
    """Default progress callback: does nothing."""


@dataclass(frozen=True)
class RunSettings:
    """Sampler settings shared by every pair.

    Attributes
    ----------
    draws : int
        Kept draws per chain, for every sampler of the pair.
    chains : int
    warmup : int
        Warm-up (NUTS tuning) iterations per chain, discarded.
    seed : int
        Root seed, ``0 <= seed < 2**63`` (:func:`bayes_zoo.models.checks.seed`); every sampler derives its
        chains' streams from it.
    quick : bool
        Whether these are the small ``--quick`` settings.
    progress : callable
        ``progress(stage)`` is called as each stage of a pair starts, for progress display.
    """

    draws: int = 1000
    chains: int = 4
    warmup: int = 1000
    seed: int = 0
    quick: bool = False
    progress: Callable[[str], None] = field(default=_silent, compare=False, repr=False)

    def __post_init__(self):
        positive_int(self.draws, "draws")
        positive_int(self.chains, "chains")
        nonnegative_int(self.warmup, "warmup")
        check_seed(self.seed, "seed")


@dataclass
class PairOutcome:
    """What running a pair produced; the report writer turns it into files.

    Attributes
    ----------
    name : str
        The pair's registry name.
    title : str
    results : dict of str to arviz.InferenceData
        Each sampler's result, by name (``"gibbs"``, ``"nuts"``); saved as ``<name>.nc``.
    crossval : CrossValidation or None
        The statistical cross-validation; None for a pair checked by deterministic identities only.
    exact : pandas.DataFrame or None
        The exact reference summary (index quantity; mean, sd, q05, q95).
    facts : list of str
        Markdown lines for the report's "Setup" section (data, priors, settings, step methods, timings).
    figures : dict of str to matplotlib.figure.Figure
        By file stem; saved as ``<stem>.png``.
    notes : list of str
        Markdown paragraphs for the report's "Notes" section.
    sections : dict of str to str
        The pair's own report sections (heading -> markdown body), after the diagnostics.
    checks : pandas.DataFrame or None
        Deterministic identities (:func:`bayes_zoo.inference.crossval.identities`): two computations of the same
        number that must agree to a tolerance (ours vs PyMC's closed form, FITC with Z = X vs the exact GP).
    rerun : callable or None
        ``rerun(settings: RunSettings) -> dict[str, arviz.InferenceData]``: runs again, under ``settings`` (a
        fresh seed, more draws), every sampler whose result enters ``crossval``, and returns the results by the
        same names.  :func:`run_pair` calls it for the confirmatory stage
        (:func:`bayes_zoo.inference.crossval.confirm`) when the first comparison disagrees; None for a pair with
        no cross-validation.
    confirmation : dict of str to arviz.InferenceData
        The confirmatory stage's results, by name (empty when there was none); saved as ``<name>.confirm.nc``.
    advisory_runs : dict of str to str
        Results of ``results`` that ``crossval`` does not compare (a run the pair reports on, such as NUTS over
        a GP's hyperparameters), each with why it does not enter the verdict.  The report shows their ArviZ
        diagnostics with that reason.
    """

    name: str
    title: str
    results: dict[str, "az.InferenceData"]
    crossval: "CrossValidation | None"
    exact: "pd.DataFrame | None" = None
    facts: list[str] = field(default_factory=list)
    figures: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sections: dict[str, str] = field(default_factory=dict)
    checks: "pd.DataFrame | None" = None
    rerun: "Callable[[RunSettings], dict] | None" = field(default=None, repr=False)
    confirmation: dict = field(default_factory=dict)
    advisory_runs: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if self.crossval is None and self.checks is None:
            raise ValueError("crossval: a pair outcome needs a cross-validation, identity checks, or both")
        unknown = sorted(set(self.advisory_runs) - set(self.results))
        if unknown:
            raise ValueError(f"advisory_runs: {unknown} are not results (results: {list(self.results)})")

    @property
    def verdict(self) -> str:
        """The pair's verdict: the cross-validation's, made "disagree" by any failed identity."""
        if self.checks is not None and not self.checks["ok"].all():
            return "disagree"
        return self.crossval.verdict if self.crossval is not None else "agree"

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why the verdict is not "agree": failed identities, then the cross-validation's reasons."""
        failed = [] if self.checks is None else [
            f"{r.identity}: difference {r.max_difference:.3g} > {r.tolerance:g} ({r.kind})"
            for r in self.checks.itertuples() if not r.ok]
        return tuple(failed) + (self.crossval.reasons if self.crossval is not None else ())


REGISTRY: dict[str, "Problem"] = {}


def register(pair: "Problem") -> "Problem":
    """Add the problem ``pair`` (a :class:`bayes_zoo.problem.Problem` declaration) to the registry.

    Raises
    ------
    ValueError
        If a pair of that name is registered already, or the name is ``"all"``.
    """
    if pair.name == "all" or pair.name in REGISTRY:
        raise ValueError(f"pair.name: {pair.name!r} is reserved or registered already")
    REGISTRY[pair.name] = pair
    return pair


def get(name: str) -> "Problem":
    """The registered pair called ``name``.

    Raises
    ------
    ValueError
        If no pair has that name (the message lists the registered names).
    """
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"problem: unknown pair {name!r}; registered: {', '.join(names())}") from None


def names() -> list[str]:
    """Registered pair names, in registration order."""
    return list(REGISTRY)


def run_pair(pair: "Problem", settings: RunSettings, **options) -> PairOutcome:
    """Run the problem ``pair`` on the harness (:func:`bayes_zoo.problem.run_problem`) under ``settings`` and,
    if its cross-validation disagrees, the confirmatory stage.

    The protocol of :func:`bayes_zoo.inference.crossval.run_protocol`: when a comparison that sets the verdict
    says "disagree" and the outcome has a ``rerun``, the samplers run again with a fresh seed
    (:func:`bayes_zoo.inference.seeding.confirmation_seed`) and ``CONFIRM_FACTOR`` times the draws, are compared
    with the same settings, and :func:`bayes_zoo.inference.crossval.confirm` gives the verdict.  The outcome then
    holds the confirmed cross-validation and the confirmatory results (``confirmation``).

    Raises
    ------
    ValueError
        Naming the option, for a bad option (before any work).
    """
    from dataclasses import replace

    from bayes_zoo.inference import crossval
    from bayes_zoo.inference.seeding import confirmation_seed

    from bayes_zoo.problem import run_problem

    outcome = run_problem(pair, settings, **options)
    if outcome.crossval is None or outcome.rerun is None or not crossval.needs_confirmation(outcome.crossval):
        return outcome
    again = replace(settings, seed=confirmation_seed(settings.seed), draws=crossval.CONFIRM_FACTOR * settings.draws)
    settings.progress(f"confirmatory run (seed {again.seed}, {again.chains} x {again.draws} draws)")
    results = outcome.rerun(again)
    second = crossval.compare(results, **outcome.crossval.settings)
    label = f"a fresh run (seed {again.seed}, {again.chains} x {again.draws} draws)"
    outcome.crossval = crossval.confirm(outcome.crossval, second, label=label)
    outcome.confirmation = dict(results)
    return outcome
