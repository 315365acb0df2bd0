"""A problem is a declaration; one harness runs any problem.

A :class:`Problem` says *what* a problem is: its data, its PyMC model, its samplers (each a :class:`Side`: a
function that returns InferenceData), an optional exact reference, optional deterministic identities, its
options (one :class:`Option` each), its quick settings and its own report sections.  :func:`run_problem` does
the rest the same way for every problem -- the built-in pairs (``bayes_zoo.pairs``) and a user's model checked
with :func:`bayes_zoo.check`:

1. the options are checked and filled in (:meth:`Problem.resolve_options`), before any work;
2. the data are loaded (``Problem.data``: a mapping, or a loader called with the options it accepts);
3. the exact reference, if any (``Problem.exact``);
4. every side samples, each called with the run's root seed and the settings and options its signature
   accepts (:func:`call_side`); a dict of arrays is turned into InferenceData with the model's dims and
   coordinates (:func:`as_inference_data`) and checked against the model's names, dims and coordinate labels
   (:func:`check_result`), every mismatch named;
5. the joint quantity :data:`~bayes_zoo.inference.sbc_model.LOGLIK` (the log-likelihood of the observed data,
   summed, at every draw) is added to every compared result where the problem has a model
   (Modrák et al. 2023), so that a sampler with right marginals and a wrong joint is caught;
6. :func:`bayes_zoo.inference.crossval.compare` at ``STAGE_ALPHA``; the outcome's ``rerun`` samples the compared
   sides again for the confirmatory stage (:func:`bayes_zoo.registry.run_pair`);
7. identities, standard figures (trace and rank plots of every side), facts generated from the objects that
   did the work (data, settings, each side's times, the reference's method), then the problem's own sections.

Sources: the layout follows NumPyro's examples (declarations, one harness, one test over the registry).
"""

from __future__ import annotations

import copy
import inspect
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from bayes_zoo.registry import PairOutcome, RunSettings

if TYPE_CHECKING:  # heavy imports stay out of `bayes-zoo --help`
    import arviz as az
    import pandas as pd

__all__ = ["Option", "Side", "Problem", "Run", "Addition", "run_problem", "call_side", "as_inference_data", "resolve",
           "figure_quantities", "flagged_quantities", "side_figures", "MAX_PANELS",
           "SamplerError",
           "sbc_only", "nuts_side",
           "check_result", "ResultMismatch", "QUICK"]

#: The joint quantity's name (:data:`bayes_zoo.inference.sbc_model.LOGLIK`): the log-likelihood of the
#: observed data, summed over observations.
LOGLIK = "loglik"
#: The default ``--quick`` settings of a problem: 2 chains x 1000 draws after 500 warm-up (an ESS of 400, the
#: protocol's minimum, needs about 0.2 effective draws per draw of the slowest quantity, ``loglik`` included).
QUICK = RunSettings(draws=1000, chains=2, warmup=500, quick=True)
_UNSET = object()


@dataclass(frozen=True)
class Option:
    """One option of a problem, declared once: the CLI flag, the default, the check and the help come from here.

    Attributes
    ----------
    name : str
        A Python identifier (``"spike_var"``); the CLI flag is ``--spike-var``.
    default : object
        The value when the option is not given.  A ``bool`` default makes a flag (``store_true``).
    help : str
        One line for ``--help``.
    type : callable, optional
        Converts the CLI's text (``int``, ``float``, ``str``); by default the default's type (``str`` for None).
    check : callable, optional
        ``check(value) -> value``: returns the value to use (normalised) or raises ``ValueError`` (its message
        is prefixed with the option's name).
    quick : object, optional
        The value under ``--quick`` when the option is not given (default: ``default``).
    """

    name: str
    default: Any
    help: str
    type: Callable[[str], Any] | None = None
    check: Callable[[Any], Any] | None = None
    quick: Any = _UNSET

    @property
    def flag(self) -> str:
        """The CLI flag, ``--name-with-dashes``."""
        return "--" + self.name.replace("_", "-")

    def value(self, given: Any = None, *, quick: bool = False) -> Any:
        """The checked value: ``given``, or the (quick) default when ``given`` is None.

        Raises
        ------
        ValueError
            Naming the option, from ``check``.
        """
        value = given if given is not None else (self.quick if quick and self.quick is not _UNSET else self.default)
        if self.check is None:
            return value
        try:
            return self.check(value)
        except ValueError as err:
            message = str(err)
            raise ValueError(message if message.startswith(f"{self.name}:") else f"{self.name}: {message}") from None

    def add_to(self, parser) -> None:
        """Add the flag to an ``argparse`` parser (``dest`` = :attr:`name`, default None: "not given")."""
        if isinstance(self.default, bool):
            parser.add_argument(self.flag, dest=self.name, action="store_true", default=None, help=self.help)
            return
        kind = self.type or (type(self.default) if self.default is not None else str)
        parser.add_argument(self.flag, dest=self.name, type=kind, default=None, help=self.help)


@dataclass(frozen=True)
class Side:
    """One sampler of a problem.

    Attributes
    ----------
    sample : callable
        ``sample(data, *, seed, draws, chains[, warmup][, option=...]) -> arviz.InferenceData`` or a dict
        ``{variable: array (chains, draws, *shape)}``.  It is called with the keyword arguments its signature
        accepts (:func:`call_side`): ``warmup``, ``quick`` (whether the run has the ``--quick`` settings, for a
        side that shortens an advisory run) and the problem's options only if it names them (or takes
        ``**kwargs``).
    title : str
        How reports name it (``"handwritten Gibbs"``); by default its key in ``Problem.sides``.
    advisory : str, optional
        Why its comparisons do not set the verdict (they are reported with their own verdict).
    compared : bool, default True
        False for a run the problem reports on but does not cross-validate (``advisory`` then says why).
    when : callable, optional
        ``when(options) -> bool``: whether a run includes this side (default: always), e.g. a side behind a
        flag option; a side that returns False for every options is run only by SBC (``Problem.sbc_sides``).
        A module-level function, so that SBC problems pickle.
    """

    sample: Callable[..., Any]
    title: str = ""
    advisory: str | None = None
    compared: bool = True
    when: Callable[[Mapping], bool] | None = None

    def __post_init__(self):
        if not callable(self.sample) and not (isinstance(self.sample, str) and ":" in self.sample):
            raise ValueError(f"sample: expected a callable (or 'module:function'), got {type(self.sample).__name__}")
        if not self.compared and not self.advisory:
            raise ValueError("advisory: a side that is not compared must say why (advisory=...)")


@dataclass(frozen=True)
class Addition:
    """What a problem's own report function adds to the harness's outcome (each field optional).

    Attributes
    ----------
    facts : list of str
        Lines for the report's "Setup" section.
    figures : dict of str to matplotlib Figure
    notes : list of str
    sections : dict of str to str
        Heading -> markdown body.
    checks : list of dict
        Deterministic identities, rows of :func:`bayes_zoo.inference.crossval.identity`.
    advisory_runs : dict of str to str
        Further results the report should show diagnostics for (name -> why they are not compared); the
        result itself goes in ``results``.
    results : dict of str to arviz.InferenceData
    """

    facts: list = field(default_factory=list)
    figures: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    sections: dict = field(default_factory=dict)
    checks: list = field(default_factory=list)
    advisory_runs: dict = field(default_factory=dict)
    results: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    """A problem, declared: everything :func:`run_problem` needs, nothing it can work out itself.

    Every callable field (``data``, ``model``, ``exact``, ``simulate``, ``sbc_data``, a side's ``sample``) may be
    given as a ``"module:function"`` string, imported on first use (:func:`resolve`): registering the built-in
    problems then imports nothing heavy.

    Attributes
    ----------
    name : str
        Registry and CLI name (``"normal-gamma"``, ``"pumps"``).
    data : mapping or callable
        The observed data and covariates: a mapping (name -> array), or ``load(**options) -> data`` called
        with the options its signature names, and ``seed`` (the run's root seed: simulated data) if it names
        it (a data set object is fine for a built-in problem; a user's problem, checked with SBC from its
        model, needs a mapping).
    model : callable, optional
        ``model(data) -> pymc.Model``.  Each observed variable is named after the data key it observes.
        Gives the ``"nuts"`` side (``nuts=True``), the dims and coordinates of results returned as dicts, the
        compared variables by default, the joint quantity ``loglik`` and, for SBC, the generative model.
    sides : mapping of str to Side or callable
        The samplers, by result name.  A bare callable is ``Side(callable)``.
    title, methods : str
        One line each for ``bayes-zoo list`` and the reports.
    nuts : bool or mapping, default True
        Add a side ``"nuts"``: PyMC's NUTS on ``model(data)`` with the zoo's defaults
        (:func:`bayes_zoo.inference.nuts.sample_nuts`); a mapping is True with these keyword arguments of
        ``sample_nuts`` (``{"target_accept": 0.99}``) for the run (not for SBC).  Ignored without a model, or when
        ``sides`` has a ``"nuts"`` of its own (a ``Side`` whose ``sample`` is :func:`nuts_side` is this NUTS under
        another title).
    variables : tuple of str, optional
        The compared variables; by default the model's free random variables.
    exact : callable or DataFrame, optional
        The exact reference: ``exact(data[, option=...])`` returning an object with ``.summary`` (and
        ``.method``, a sentence), or a DataFrame directly (index = quantity label as ArviZ writes it,
        ``"theta[3]"``; columns ``mean``, ``sd``, ``q05``, ``q95``; see :func:`bayes_zoo.inference.crossval.compare`).
    joint : bool or callable, default True
        Add the joint quantity ``loglik`` (the observed data's log-likelihood, summed) to every compared result:
        from ``model`` (True; nothing without a model), or ``joint(data, idata) -> array (chain, draw)`` for a
        problem whose samplers' variables are not the model's free ones (the exact reference may then give its
        ``loglik`` row).
    compare_options : callable, optional
        ``compare_options(run) -> dict`` of further keyword arguments of ``compare`` (``saturation`` ...).
    options : tuple of Option
    check_options : callable, optional
        ``check_options(options) -> None``: raises ``ValueError`` naming an option, for values that are wrong
        together (spike-slab's ``spike_var >= slab_var``); called with every option's checked value.
    quick : RunSettings
        The ``--quick`` settings.
    report : tuple of callables
        ``f(run: Run) -> Addition``: the problem's own facts, figures, notes, sections and identities, in order.
    figures : bool or tuple of str, default True
        Add a trace and a rank plot of every side (``trace_<side>``, ``rank_<side>``): of the compared variables,
        or of the variables the tuple names, after the quantities the verdict names (failed diagnostics, failed
        or largest z-tests), at most :data:`MAX_PANELS` quantities (:func:`figure_quantities`).
    units : mapping of str to str
        Variable name -> its unit, for the value axes of the trace and rank plots (``{"sigma2": "mg/dL²"}``);
        a variable without one is labelled by its name alone.
    simulate : callable, optional
        SBC's generative model, ``simulate(rng, data) -> (truth, data)`` (the model module's ``simulate``);
        by default PyMC's forward sampling of ``model`` (:mod:`bayes_zoo.inference.sbc_model`).
    sbc_data : mapping or callable, optional
        The data template SBC simulates on (sizes, covariates), or ``sbc_data(quick) -> data``; default ``data``.
    sbc_settings : mapping, optional
        ``{True: RunSettings, False: RunSettings}``: each side's settings in SBC (quick, full); by default
        2 chains x 500 (quick) or 1000 draws after as many warm-up.
    sbc_sides : tuple of str, optional
        The sides SBC calibrates; by default every compared side.
    sbc_variables : tuple of str, optional
        The variables whose labels SBC ranks (they must cover the truth's); by default ``variables``.
    bugs : mapping of str to (str, Side)
        Planted bugs, for teaching and for the power studies: name -> (the side it replaces, the buggy side).
    stored_per_draw : int, default 1
        Numbers held per chain-iteration over all sides (the CLI's memory check, see ``bayes-zoo compare``).
    """

    name: str
    data: Any
    model: Callable[[Any], Any] | None = None
    sides: Mapping[str, Any] = field(default_factory=dict)
    title: str = ""
    methods: str = ""
    nuts: bool | Mapping = True
    variables: tuple | None = None
    exact: Any = None
    joint: Any = True
    compare_options: Callable[["Run"], dict] | None = None
    options: tuple = ()
    check_options: Callable[[dict], Any] | None = None
    quick: RunSettings = QUICK
    report: tuple = ()
    figures: bool | tuple = True
    units: Mapping[str, str] = field(default_factory=dict)
    simulate: Callable | None = None
    sbc_data: Callable[[bool], Any] | None = None
    sbc_settings: Mapping | None = None
    sbc_sides: tuple | None = None
    sbc_variables: tuple | None = None
    bugs: Mapping[str, tuple] = field(default_factory=dict)
    stored_per_draw: int = 1

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"name: expected a non-empty string, got {self.name!r}")
        if self.model is not None and not callable(self.model) and not isinstance(self.model, str):
            raise ValueError(f"model: expected a function data -> pymc.Model, got {type(self.model).__name__}")
        if not isinstance(self.sides, Mapping):
            raise ValueError(f"sides: expected a mapping of name to sampler, got {type(self.sides).__name__}")
        sides = {str(k): v if isinstance(v, Side) else Side(v) for k, v in self.sides.items()}
        if "exact" in sides:
            raise ValueError("sides: the name 'exact' is reserved for the exact reference; call the sampler otherwise")
        if not isinstance(self.nuts, (bool, Mapping)):
            raise ValueError(f"nuts: expected True, False or a mapping of sample_nuts arguments, got {self.nuts!r}")
        if self.nuts is not False and self.model is not None and "nuts" not in sides:
            sides["nuts"] = Side(_nuts_side, title="PyMC / NUTS")
        if not sides and not self.report:
            raise ValueError("sides: a problem needs at least one sampler (or a model, for NUTS), or report "
                             "functions that check identities")
        object.__setattr__(self, "sides", sides)
        if not self.title:
            object.__setattr__(self, "title", self.name)
        if not self.methods:
            object.__setattr__(self, "methods", " vs ".join(s.title or k for k, s in sides.items()))
        names = [o.name for o in self.options]
        if len(set(names)) != len(names):
            raise ValueError(f"options: declared twice: {sorted({n for n in names if names.count(n) > 1})}")
        for bug, entry in self.bugs.items():
            if not (isinstance(entry, tuple) and len(entry) == 2 and entry[0] in sides):
                raise ValueError(f"bugs[{bug!r}]: expected (side name, Side) with a side of {list(sides)}")

    # ------------------------------------------------------------------ options
    def resolve_options(self, given: Mapping | None = None, *, quick: bool = False) -> dict:
        """Every option's checked value, from ``given`` (None or missing: the default).

        Raises
        ------
        ValueError
            Naming the option for a bad value or an unknown option.
        """
        given = dict(given or {})
        known = {o.name for o in self.options}
        unknown = sorted(set(given) - known)
        if unknown:
            raise ValueError(f"options: {unknown} are not options of {self.name!r} (options: {sorted(known)})")
        values = {o.name: o.value(given.get(o.name), quick=quick) for o in self.options}
        if self.check_options is not None:
            self.check_options(values)
        return values

    # ------------------------------------------------------------------ pieces the harness calls
    def load(self, options: Mapping | None = None, *, seed: int = 0) -> Any:
        """The data: ``data`` itself, or the loader called with the options (and ``seed``) it accepts."""
        data = resolve(self.data)
        if callable(data):
            return _call(data, (), {**(options or {}), "seed": seed})
        if type(data) is dict:  # a user's dict: lists and tuples become arrays, as a sampler expects
            import numpy as np

            return {k: np.asarray(v) if isinstance(v, (list, tuple)) else v for k, v in data.items()}
        return data

    def build(self, data) -> Any:
        """``model(data)``; None without a model."""
        return None if self.model is None else resolve(self.model)(data)

    def reference(self, data, options: Mapping | None = None):
        """The exact reference as ``(summary DataFrame, method sentence, object)``, or None."""
        if self.exact is None:
            return None
        exact = resolve(self.exact)
        obj = _call(exact, (data,), options or {}) if callable(exact) else exact
        summary = getattr(obj, "summary", obj)
        return _as_summary(summary), getattr(obj, "method", "given by the problem"), obj

    def for_options(self, options: Mapping) -> "Problem":
        """This problem with only the sides a run under ``options`` includes (:attr:`Side.when`)."""
        if all(s.when is None for s in self.sides.values()):
            return self
        kept = copy.copy(self)  # not replace(): no side is added back, and a run may keep none (identities only)
        object.__setattr__(kept, "sides", {k: s for k, s in self.sides.items() if s.when is None or s.when(options)})
        return kept

    def sbc(self, *, quick: bool = False, planted_bug: bool | str = False) -> dict:
        """The problem's sides set up for SBC, ``{"handwritten": SBCProblem, "nuts": SBCProblem}`` (the sides it
        calibrates; :func:`bayes_zoo.sbc.problems_for`).  ``planted_bug`` (True: the first declared, or a name)
        gives the handwritten side with that bug, alone.

        Raises
        ------
        ValueError
            Naming ``problem`` (no SBC) or ``planted_bug`` (no such bug).
        """
        from bayes_zoo.sbc import problems_for

        bug = None if planted_bug is False else ("" if planted_bug is True else str(planted_bug))
        try:
            return problems_for(self, "handwritten" if bug is not None else "both", quick=quick, planted_bug=bug)
        except ValueError as err:
            if bug is not None or not str(err).startswith("sampler:"):
                raise
            return problems_for(self, "handwritten", quick=quick, planted_bug=None)

    def compared_sides(self) -> dict[str, Side]:
        """The sides whose results are cross-validated."""
        return {k: s for k, s in self.sides.items() if s.compared}

    def with_bug(self, bug: str) -> "Problem":
        """This problem with planted bug ``bug``'s side in place of the one it replaces.

        Raises
        ------
        ValueError
            Naming ``bug`` if the problem has no such planted bug.
        """
        if bug not in self.bugs:
            raise ValueError(f"bug: {self.name!r} has no planted bug {bug!r} (planted bugs: {list(self.bugs) or 'none'})")
        side, buggy = self.bugs[bug]
        buggy = buggy if isinstance(buggy, Side) else Side(buggy)
        sides = {k: (buggy if k == side else v) for k, v in self.sides.items()}
        return replace(self, name=f"{self.name}/{bug}", sides=sides, bugs={})


@dataclass
class Run:
    """What the harness computed for one run of a problem; the problem's report functions read it.

    Attributes
    ----------
    problem : Problem
    settings : RunSettings
    options : dict
        The checked options.
    data : object
        As loaded.
    model : pymc.Model or None
        ``problem.model(data)``.
    reference : tuple or None
        ``(summary, method, object)`` from :meth:`Problem.reference`.
    results : dict of str to arviz.InferenceData
        Every side's result, by name.
    crossval : CrossValidation or None
    """

    problem: Problem
    settings: RunSettings
    options: dict
    data: Any
    model: Any
    reference: Any
    results: dict
    crossval: Any = None

    @property
    def exact(self):
        """The reference's own object (e.g. ``ExactPosterior``), or None."""
        return None if self.reference is None else self.reference[2]


def resolve(ref):
    """A callable given as a ``"module:function"`` string (imported on first use, so that registering a problem
    costs no import), or the object itself.

    Raises
    ------
    ImportError, AttributeError
        If the module or the function named does not exist.
    """
    if isinstance(ref, str) and ":" in ref:
        import importlib

        module, _, name = ref.partition(":")
        return getattr(importlib.import_module(module), name)
    return ref


def sbc_only(options) -> bool:
    """``Side.when`` of a side that only SBC runs (never part of a ``compare`` run)."""
    return False


def _call(function, args: tuple, kwargs: Mapping):
    """``function(*args, **kwargs)`` with only the keyword arguments its signature accepts."""
    params = inspect.signature(function).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return function(*args, **kwargs)
    return function(*args, **{k: v for k, v in kwargs.items() if k in params})


def call_side(side: Side, data, settings: RunSettings, options: Mapping | None = None, *, model=None,
              name: str | None = None):
    """Run one side: ``side.sample(data, seed=, draws=, chains=[, warmup=][, options])`` as its signature allows.

    Returns
    -------
    arviz.InferenceData
        A dict result is converted with the model's dims and coordinates (:func:`as_inference_data`).

    Raises
    ------
    ValueError
        If the sampler does not take ``seed``, ``draws`` and ``chains``, or returns neither InferenceData nor a
        dict of arrays.
    SamplerError
        If the sampler raises (``name``, the side's name, in the message).
    """
    kwargs = {"seed": settings.seed, "draws": settings.draws, "chains": settings.chains, "warmup": settings.warmup,
              "quick": settings.quick, **(options or {})}
    sample = resolve(side.sample)
    params = inspect.signature(sample).parameters
    missing = [k for k in ("seed", "draws", "chains") if k not in params
               and not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())]
    if missing:
        raise ValueError(f"sides: the sampler {getattr(sample, '__name__', sample)!r} must accept the "
                         f"keyword arguments seed, draws and chains (it lacks {', '.join(missing)})")
    try:
        result = _call(sample, (data,), kwargs)
    except Exception as err:  # the sampler's own fault: say whose, and where in its code
        raise SamplerError(name or getattr(sample, "__name__", "sampler"), err) from err
    return as_inference_data(result, model)


def _nuts_side(data, *, seed, draws, chains, warmup):
    """Marks the side a model adds (``Problem.nuts``): the harness runs PyMC's NUTS on the model it built."""
    raise AssertionError("run by the harness, never called")  # pragma: no cover


#: The marker of the NUTS side, for a problem that gives it its own title (``Side(nuts_side, title=...)``).
nuts_side = _nuts_side


def as_inference_data(result, model=None) -> "az.InferenceData":
    """A sampler's result as InferenceData: InferenceData as is; a dict ``{variable: (chains, draws, *shape)}``
    as a posterior with the model's dims and coordinates (``model.named_vars_to_dims``, ``model.coords``).

    Raises
    ------
    ValueError
        If ``result`` is neither, or an array has fewer than two dimensions (chain, draw).
    """
    import arviz as az
    import numpy as np

    if isinstance(result, az.InferenceData):
        return result
    if not isinstance(result, Mapping):
        raise ValueError(f"result: a sampler must return arviz.InferenceData or a dict of arrays "
                         f"(chains, draws, ...), got {type(result).__name__}")
    arrays = {str(k): np.asarray(v) for k, v in result.items()}
    for name, a in arrays.items():
        if a.ndim < 2:
            raise ValueError(f"result[{name!r}]: expected an array of shape (chains, draws, ...), got shape {a.shape}")
    dims, coords = {}, {}
    if model is not None:
        for name, a in arrays.items():
            model_dims = model.named_vars_to_dims.get(name) if name in model.named_vars else None
            if model_dims and len(model_dims) == a.ndim - 2:
                dims[name] = list(model_dims)
                for d in model_dims:
                    if d in model.coords and model.coords[d] is not None:
                        coords[d] = list(model.coords[d])
    return az.from_dict(posterior=arrays, dims=dims, coords=coords)


class SamplerError(RuntimeError):
    """A side's sampler raised: not the harness's fault.  ``.side`` names it; ``.where`` is ``"file:line"`` of the
    deepest frame of the sampler's own code (outside bayes_zoo), when there is one; the original exception is
    ``__cause__``."""

    def __init__(self, side: str, err: BaseException):
        import traceback

        frames = [f for f in traceback.extract_tb(err.__traceback__) if "bayes_zoo" not in f.filename
                  and "/zoo/" not in f.filename and "site-packages" not in f.filename]
        self.side = side
        self.where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else None
        at = f" at {self.where}" if self.where else ""
        super().__init__(f"the sampler of side {side!r} raised {type(err).__name__}: {err}{at}")


class ResultMismatch(ValueError):
    """A result's names, dims or coordinate labels do not match the model's (or another result's).
    ``.problems`` lists every mismatch, one sentence each."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("results: " + "; ".join(self.problems))


def check_result(name: str, idata, model, variables) -> list[str]:
    """Every way ``idata``'s posterior fails to match ``model`` on ``variables``: a missing variable, a
    shape, dims or coordinate labels that differ (naming which labels).  Empty when it matches.

    Parameters
    ----------
    name : str
        The result's name, used in the sentences.
    idata : arviz.InferenceData
        Posterior draws of dims ``(chain, draw, *shape)``.
    model : pymc.Model
    variables : sequence of str
        The compared variables.

    Returns
    -------
    list of str
        One sentence per mismatch (nothing raised: :func:`run_problem` raises :class:`ResultMismatch` with them).
    """
    import numpy as np

    post = idata.posterior
    problems = []
    missing = [v for v in variables if v not in post.data_vars]
    if missing:
        problems.append(f"{name} lacks variable(s) {missing} (it has {sorted(map(str, post.data_vars))})")
    for var in variables:
        if var not in post.data_vars or var not in model.named_vars:
            continue
        got = post[var]
        shape = tuple(got.shape[2:])
        model_dims = tuple(model.named_vars_to_dims.get(var) or ())
        expected = _model_shape(model, var)
        if expected is not None and shape != expected:
            problems.append(f"{name}: {var} has shape {shape} per draw, the model's is {expected}")
            continue
        if model_dims:
            got_dims = tuple(got.dims[2:])
            if got_dims != model_dims:
                problems.append(f"{name}: {var} has dims {got_dims}, the model's are {model_dims}")
                continue
            for d in model_dims:
                want = model.coords.get(d)
                if want is None or d not in got.coords:
                    continue
                have = got.coords[d].values.tolist()
                want = np.asarray(want).tolist()
                if [str(x) for x in have] != [str(x) for x in want]:
                    only_here = [x for x in have if str(x) not in set(map(str, want))]
                    only_model = [x for x in want if str(x) not in set(map(str, have))]
                    detail = (f"labels only in {name}: {only_here[:5]}; only in the model: {only_model[:5]}"
                              if only_here or only_model else "the same labels in another order")
                    problems.append(f"{name}: {var}'s coordinate {d!r} labels differ from the model's ({detail})")
    return problems


def _model_shape(model, var) -> tuple | None:
    """The shape of one draw of ``var`` in ``model``, or None if it cannot be told cheaply."""
    import numpy as np

    rv = model.named_vars[var]
    try:
        return tuple(int(s) for s in np.atleast_1d(rv.shape.eval())) if rv.ndim else ()
    except Exception:  # noqa: BLE001  (a shape PyTensor cannot evaluate alone: do not guess)
        return None


def _as_summary(summary) -> "pd.DataFrame":
    """An exact reference as ``compare`` takes it: a DataFrame, or a mapping label -> {statistic: value}."""
    import pandas as pd

    if isinstance(summary, pd.DataFrame):
        return summary
    if isinstance(summary, Mapping):
        return pd.DataFrame.from_dict({str(k): dict(v) for k, v in summary.items()}, orient="index")
    raise ValueError(f"exact: expected a DataFrame (index: quantity labels; columns mean, sd, q05, q95) or a "
                     f"mapping label -> statistics, got {type(summary).__name__}")


# ---------------------------------------------------------------------------------------------- the harness
def _sample_all(problem: Problem, sides: Mapping[str, Side], data, model, settings: RunSettings, options,
                variables=None) -> dict:
    """Every side in ``sides`` under ``settings``.  With a model and ``variables``, each compared side's result
    is checked against the model as soon as it exists (:func:`check_result`): a mismatch stops the run before
    the next side samples.

    Raises
    ------
    ResultMismatch
        Naming every mismatch of the first side that has one.
    """
    from bayes_zoo.inference.nuts import sample_nuts

    results = {}
    for key, side in sides.items():
        settings.progress(side.title or key)
        start = time.perf_counter()
        if side.sample is _nuts_side:
            extra = dict(problem.nuts) if isinstance(problem.nuts, Mapping) else {}
            results[key] = sample_nuts(model if model is not None else problem.build(data), draws=settings.draws,
                                       tune=settings.warmup, chains=settings.chains, seed=settings.seed, **extra)
        else:
            results[key] = call_side(side, data, settings, options, model=model, name=key)
        post = results[key].posterior
        size = (post.sizes.get("chain"), post.sizes.get("draw"))
        if side.compared and not getattr(resolve(side.sample), "own_size", False) and size != (settings.chains,
                                                                                             settings.draws):
            hint = ("; transposed? arrays are (chains, draws, ...)" if size == (settings.draws, settings.chains)
                    else "")
            raise ResultMismatch([f"{key}: its draws are {size[0]} chains x {size[1]} draws, "
                                  f"{settings.chains} x {settings.draws} were asked for{hint}"])
        attrs = results[key].posterior.attrs
        given = getattr(resolve(side.sample), "own_size", False)  # draws given (a trace, posteriordb's): not timed
        if "sampling_time" not in attrs and not given:  # a sampler that does not time itself: the call's wall time
            attrs["sampling_time"] = time.perf_counter() - start
        if model is not None and variables is not None and side.compared:
            mismatches = check_result(key, results[key], model, variables)
            if mismatches:
                raise ResultMismatch(mismatches)
    return results


def _variables(problem: Problem, model) -> list[str]:
    if problem.variables is not None:
        return list(problem.variables)
    if model is None:
        if problem.compared_sides():
            raise ValueError("variables: a problem without a model must declare its variables")
        return []
    return [rv.name for rv in model.free_RVs]


def _add_joint(results: dict, compared, data, problem: Problem, model) -> list[str]:
    """Add ``loglik`` to every compared result: from the PyMC model (``joint=True``), or from the problem's own
    ``joint(data, idata) -> array (chain, draw)``; returns the notes (why it could not be added)."""
    import numpy as np
    import xarray as xr

    if problem.joint is False or (problem.joint is True and model is None):
        return []
    from bayes_zoo.inference import sbc_model

    for key in compared:
        try:
            if problem.joint is True:
                results[key] = sbc_model.add_loglik(results[key], problem.model, data, name=key)
            else:
                values = np.asarray(resolve(problem.joint)(data, results[key]), dtype=float)
                results[key].posterior[LOGLIK] = xr.DataArray(values, dims=("chain", "draw"))
        except ValueError as err:
            return [f"The joint quantity `{LOGLIK}` is not compared: {err}"]
    return []


def run_problem(problem: Problem, settings: RunSettings, **options) -> PairOutcome:
    """Run ``problem`` under ``settings`` (module docstring) and return its outcome.

    Raises
    ------
    ValueError
        For a bad option (naming it), before any work; :class:`ResultMismatch` when a side's result does not
        match the model (every mismatch named).
    """
    from bayes_zoo.inference import crossval
    from bayes_zoo.report import sampling_times

    options = problem.resolve_options(options, quick=settings.quick)
    problem = problem.for_options(options)
    settings.progress("data")
    data = problem.load(options, seed=settings.seed)
    model = problem.build(data)
    reference = None
    if problem.exact is not None:
        settings.progress("exact reference")
        reference = problem.reference(data, options)
    compared = problem.compared_sides()
    variables = _variables(problem, model)
    results = _sample_all(problem, problem.sides, data, model, settings, options, variables)
    notes = _add_joint(results, compared, data, problem, model)
    joint = [LOGLIK] if compared and all(LOGLIK in results[k].posterior for k in compared) else []
    run = Run(problem, settings, options, data, model, reference, results)

    cv = None
    if compared and (len(compared) > 1 or reference is not None):
        settings.progress("cross-validation")
        advisory = {k: s.advisory for k, s in compared.items() if s.advisory}
        extra = problem.compare_options(run) if problem.compare_options is not None else {}
        cv = crossval.compare({k: results[k] for k in compared}, None if reference is None else reference[0],
                              var_names=variables + joint, alpha=crossval.STAGE_ALPHA, advisory=advisory or None,
                              **extra)
        run.crossval = cv

    facts = _standard_facts(run, sampling_times)
    figures = {}
    if problem.figures:
        settings.progress("figures")
        plotted = problem.figures if isinstance(problem.figures, tuple) else variables
        for key in problem.sides:
            figures.update(side_figures(key, results[key], problem.sides[key].title or key, plotted, cv,
                                        units=problem.units))
    sections, checks, advisory_runs = {}, [], {k: s.advisory for k, s in problem.sides.items() if not s.compared}
    if joint:
        notes.append(f"`{LOGLIK}` is the log-likelihood of the observed data, summed over observations, at each "
                     "draw: a joint quantity, so a sampler with right marginals and a wrong joint distribution is "
                     "caught (Modrák et al. 2023).")
    for part in problem.report:
        add = part(run)
        facts += add.facts
        figures.update(add.figures)
        notes += add.notes
        sections.update(add.sections)
        checks += add.checks
        advisory_runs.update(add.advisory_runs)
        results.update(add.results)
    checks_frame = crossval.identities(checks) if checks else None

    def rerun(again: RunSettings) -> dict:
        """The compared sides again under ``again`` (the confirmatory stage), with the joint quantity."""
        redone = _sample_all(problem, compared, data, model, again, options)
        _add_joint(redone, compared, data, problem, model)
        return redone

    return PairOutcome(problem.name, problem.title, results, cv, None if reference is None else reference[0],
                       facts, figures, notes, sections, checks_frame, rerun=rerun if cv is not None else None,
                       advisory_runs=advisory_runs)


#: The most quantities a trace or rank plot shows (one row of a trace plot each).
MAX_PANELS = 8


def flagged_quantities(diag) -> list[str]:
    """The quantities whose diagnostics ``diag`` (a :class:`~bayes_zoo.inference.diagnostics.Diagnostics`, or
    None: none) reports, worst first.

    Those named in ``Diagnostics.untrusted`` (a constant chain, non-finite draws or R-hat), then in
    ``.failures`` by decreasing R-hat, then in ``.low_ess`` by increasing min(bulk, tail) ESS.
    """
    if diag is None:
        return []
    table = diag.table

    def named(messages):
        return [q for q in table.index if any(m.startswith(f"{diag.name}: {q} ") for m in messages)]

    untrusted = named(diag.untrusted)
    rhat = sorted(named(diag.failures), key=lambda q: -table.loc[q, "r_hat"])
    ess = sorted(named(diag.low_ess), key=lambda q: table.loc[q, ["ess_bulk", "ess_tail"]].min())
    return list(dict.fromkeys(untrusted + rhat + ess))


def side_figures(key: str, result, title: str, declared, crossval=None, *, units=None) -> dict:
    """``{"trace_<key>": ..., "rank_<key>": ...}``: the trace and rank plots of result ``key`` over
    :func:`figure_quantities` (empty when it names none), titled with how many quantities failed their diagnostics.

    ``declared=()`` plots only the quantities the verdict names (a pair whose variables are too many to plot).
    """
    from bayes_zoo.inference import diagnostics

    shown = figure_quantities(key, result, declared, crossval)
    if not shown:
        return {}
    flagged = len(flagged_quantities(None if crossval is None else crossval.diagnostics.get(key)))
    what = ("" if not flagged else f" of the {len(shown)} worst of {flagged} quantities with failed "
            "diagnostics" if flagged > len(shown) else
            f" ({flagged} quantit{'y' if flagged == 1 else 'ies'} with failed diagnostics first)")
    return {f"trace_{key}": diagnostics.plot_trace(result, shown, title=f"{title}: trace{what}", units=units),
            f"rank_{key}": diagnostics.plot_rank(result, shown, title=f"{title}: rank plot{what}", units=units)}


def figure_quantities(key: str, result, declared, crossval=None, *, cap: int = MAX_PANELS) -> list[str]:
    """The quantities the trace and rank plots of result ``key`` show: those the verdict names first, capped.

    In order, without repeats: the quantities whose diagnostics the cross-validation reports, worst first
    (:func:`flagged_quantities`: a constant chain or non-finite draws, R-hat above its limit, low ESS); those
    of the failed z-tests involving ``key``, largest |z| first; the two largest |z| of its tests that passed
    (not counting tests passed within a saturation tolerance, whose z says little); then every scalar of the
    ``declared`` variables.  Only quantities of ``result``'s
    posterior, labelled as ArviZ labels them (``w[s1]``, mapped to the variable and its coordinates by
    :func:`bayes_zoo.inference.diagnostics.flatten`).

    Parameters
    ----------
    key : str
        The result's name in the cross-validation (``"nuts"``).
    result : arviz.InferenceData
    declared : sequence of str
        Posterior variables (or single quantities) the problem plots when nothing is named.
    crossval : CrossValidation, optional
        The first stage's comparison; without it only ``declared`` is shown.
    cap : int
        The most quantities returned.

    Returns
    -------
    list of str
        At most ``cap`` labels.
    """
    import numpy as np

    from bayes_zoo.inference.diagnostics import flatten

    available = list(flatten(result.posterior[[v for v in result.posterior.data_vars]].isel(chain=0, draw=0)))
    named = flagged_quantities(None if crossval is None else crossval.diagnostics.get(key))
    if crossval is not None:
        table = crossval.table
        mine = table[(table["left"] == key) | (table["right"] == key)].assign(size=lambda t: np.abs(t["z"]))
        mine = mine[mine["size"].notna()].sort_values("size", ascending=False, kind="stable")
        passed = mine["ok"].astype(bool)
        named += list(mine.loc[~passed, "quantity"])
        # a test passed within its saturation tolerance has a z that says little (report.z_explanation)
        named += list(dict.fromkeys(mine.loc[passed & ~mine["by_atol"].astype(bool), "quantity"]))[:2]
    for name in declared:
        named += [q for q in available if q == name or q.split("[")[0] == name]
    return [q for q in dict.fromkeys(named) if q in available][:cap]


def _standard_facts(run: Run, sampling_times) -> list[str]:
    """Facts every report states, from the objects that did the work."""
    s, data = run.settings, run.data
    facts = []
    description = getattr(data, "description", None)
    if description:
        facts.append(f"Data: {description}")
        provenance = getattr(data, "provenance", None)
        if provenance:  # the bundled file's last source lines, on the same line: the data are described once
            source = " ".join(provenance[-2:])
            facts[-1] += "  " + (source if source.lower().startswith("source") else f"Source: {source}")
    elif isinstance(data, Mapping):
        import numpy as np

        shapes = ", ".join(f"`{k}` {tuple(np.shape(v))}" for k, v in data.items())
        facts.append(f"Data: {shapes}.")
    if run.results:
        times = []
        for key, idata in run.results.items():
            title = run.problem.sides[key].title or key if key in run.problem.sides else key
            if idata.posterior.attrs.get("step_methods"):  # PyMC's: which step method sampled which variable
                title += f" ({idata.posterior.attrs['step_methods']})"
            size = (idata.posterior.sizes.get("chain"), idata.posterior.sizes.get("draw"))
            if size != (s.chains, s.draws):  # a side that runs its own size: said, from the result itself
                title += f" ({size[0]} chains x {size[1]} draws)"
            try:
                times.append(sampling_times(idata, title))
            except KeyError:  # draws the run was given (a trace, posteriordb's reference), not sampled by it
                times.append(f"{title}: given, not sampled in this run")
        facts.append(f"Samplers: {s.chains} chains x {s.draws} draws after {s.warmup} warm-up, root seed {s.seed}."
                     + (f"  {'; '.join(times)}." if times else ""))
    if run.reference is not None:
        facts.append(f"Exact reference: {run.reference[1]}.")
    if run.options:
        facts.append("Options: " + ", ".join(f"{k.replace('_', ' ')} = {v}" for k, v in run.options.items()) + ".")
    return facts


# ---------------------------------------------------------------------------------------------- SBC
#: Each side's settings in SBC when a problem declares none: (quick, full).
SBC_SETTINGS = {True: RunSettings(draws=500, chains=2, warmup=500, quick=True),
                False: RunSettings(draws=1000, chains=2, warmup=1000)}


class _SideForSBC:
    """A side as :mod:`bayes_zoo.inference.sbc_model` calls it: ``sample(data, *, seed, draws, chains, warmup)``
    returning InferenceData with the model's dims and coordinates (so labels match the truth's).  Picklable;
    the template model (for dims and coordinates only) is built lazily in each worker."""

    def __init__(self, side: Side, build, template):
        self.side, self.build, self.template = side, build, template
        self._model = None
        self.__name__ = getattr(side.sample, "__name__", "sample")

    def __getstate__(self):
        return {**self.__dict__, "_model": None}

    def __call__(self, data, *, seed, draws, chains, warmup):
        if self._model is None and self.build is not None:
            self._model = self.build(self.template)
        return call_side(self.side, data, RunSettings(draws=draws, chains=chains, warmup=warmup, seed=seed),
                         model=self._model)


def _labels_of(idata, variables) -> dict:
    from bayes_zoo.inference.diagnostics import flatten, select_posterior

    present = [v for v in variables if v in idata.posterior]
    return flatten(select_posterior(idata, present))


class _CustomSBCSample:
    """``SBCProblem.sample`` for a problem with its own ``simulate``: the side's draws by label (the default NUTS
    side compiled once, :class:`bayes_zoo.inference.sbc_model.NutsSide`)."""

    def __init__(self, problem: Problem, key: str, settings: RunSettings, template):
        self.problem, self.key, self.settings, self.template = problem, key, settings, template
        self.nuts = None
        if problem.sides[key].sample is _nuts_side:
            from bayes_zoo.inference.sbc_model import NutsSide

            self.nuts = NutsSide(problem.model, template)

    def __call__(self, data, seed):
        s = replace(self.settings, seed=int(seed))
        if self.nuts is not None:
            draws = self.nuts(data, seed=s.seed, draws=s.draws, chains=s.chains, warmup=s.warmup)
            return _labels_of(as_inference_data(draws, None), list(draws))
        idata = call_side(self.problem.sides[self.key], data, s)
        variables = list(self.problem.sbc_variables or self.problem.variables or idata.posterior.data_vars)
        return _labels_of(idata, variables)


def _bound_simulate(simulate, template):
    from functools import partial

    return partial(_call_simulate, simulate, template)


def _call_simulate(simulate, template, rng):
    return simulate(rng, template)


def sbc_problems(problem: Problem, sides, *, quick: bool) -> dict:
    """The problem's sides set up for simulation-based calibration, ``{side: SBCProblem}``.

    With the problem's own ``simulate`` (the model module's generative model), each side's draws of the truth's
    labels; without one, SBC from the PyMC model itself (:func:`bayes_zoo.inference.sbc_model.model_sbc_problems`:
    PyMC's forward sampling, every scalar parameter and ``loglik`` as test quantities, the NUTS side compiled
    once).  Each side runs at ``problem.sbc_settings[quick]`` (default :data:`SBC_SETTINGS`).

    Raises
    ------
    ValueError
        Naming ``sampler`` for a side the problem does not have; ``problem`` when it has neither a model nor
        a ``simulate``.
    """
    from bayes_zoo.inference.sbc import SBCProblem

    sides = list(sides)
    unknown = [k for k in sides if k not in problem.sides]
    if unknown:
        raise ValueError(f"sampler: {problem.name!r} has no side(s) {unknown} (sides: {list(problem.sides)})")
    s = (problem.sbc_settings or SBC_SETTINGS)[bool(quick)]
    template = (problem.sbc_data if isinstance(problem.sbc_data, Mapping)
                else resolve(problem.sbc_data)(bool(quick)) if problem.sbc_data is not None
                else problem.load(problem.resolve_options({}, quick=bool(quick))))
    if problem.simulate is not None:
        simulate = _bound_simulate(resolve(problem.simulate), template)
        return {k: SBCProblem(f"{problem.name}/{k}", simulate, _CustomSBCSample(problem, k, s, template)) for k in sides}
    if problem.model is None:
        raise ValueError(f"problem: {problem.name!r} has neither a model nor a simulate function: no SBC")
    from bayes_zoo.inference import sbc_model

    handwritten = {k: _SideForSBC(problem.sides[k], problem.model, template) for k in sides
                   if problem.sides[k].sample is not _nuts_side}
    return sbc_model.model_sbc_problems(problem.name, problem.model, template, handwritten,
                                        nuts=any(problem.sides[k].sample is _nuts_side for k in sides),
                                        draws=s.draws, chains=s.chains, warmup=s.warmup)
