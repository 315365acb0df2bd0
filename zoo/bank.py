"""The posteriordb bank: gold-standard posteriors nobody here wrote, as problems the harness runs.

Each bundled posteriordb posterior (:mod:`bayes_zoo.models.posteriordb`) with a PyMC version
(:mod:`bayes_zoo.models.bank`) is a :class:`~bayes_zoo.problem.Problem` (:func:`problem`): its data (Stan's,
plus Stan's transformed data), its PyMC model, and two sides: ``reference``, the posteriordb reference draws
(Stan NUTS, 10 chains x 1,000 draws thinned from 10,000), returned as they are in every stage, with the MCSEs of
their own chains; and ``nuts``, the harness's NUTS (nutpie) on our model at the reference run's ``adapt_delta`` and
``max_treedepth`` (:func:`nuts_settings`).  The harness cross-validates the two on every parameter the reference
holds, on the scale it reports, and on ``loglik`` (the observed data's log-likelihood under our model at both
sides' draws: derived free variables, eight schools' ``theta_trans``, come from
:attr:`~bayes_zoo.models.bank.BankModel.from_reference`).  Each report adds, computed from the runs, where NUTS
struggles (:func:`struggles`) and which reference tails are heavy (:func:`heavy_tails`).

- :func:`run` runs our NUTS against the reference for some posteriors (one process each, joblib or Dask through
  :func:`bayes_zoo.inference.parallel.map_tasks`), writes each report and returns one :class:`BankRow` each;
  :func:`markdown` is the table of every bundled posterior, with why one is not run;
- :func:`with_reference` puts a bank posterior's draws in place of a user's NUTS side (``bayes-zoo check FILE.py
  --reference NAME``): anyone's sampler judged against gold-standard draws;
- :func:`calibrate` runs the protocol over seeds per posterior and counts "disagree" where our NUTS is healthy
  (no divergence, R-hat <= 1.01, bulk and tail ESS >= 400 in the first stage): the verdict's false-alarm rate on
  real models.

**One caveat of a fixed reference.**  The confirmatory stage reruns NUTS from a fresh seed, but the reference is
the same 10,000 draws in both stages: its Monte Carlo error is shared, so the two stages are not independent and
the false-alarm rate is not the product of theirs.  With ESS ~10,000 against NUTS's ~4,000 the reference holds a
quarter to a third of each z's variance; :func:`calibrate` measures the rate that results.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["REFERENCE", "HEALTH_RULES", "HEAVY_TAIL_K", "BankRow", "problem", "load_data", "ReferenceDraws",
           "target_accept", "max_treedepth", "nuts_settings", "status", "run", "rows_frame", "markdown",
           "index_markdown", "with_reference", "nuts_health", "struggles", "tail_khat", "heavy_tails", "calibrate",
           "calibration_summary", "calibration_markdown", "selected_names", "list_frame"]

#: The side that holds the reference draws.
REFERENCE = "reference"
#: What "healthy" means for our NUTS run (first stage), as the calibration and the table use it.
HEALTH_RULES = "no divergent transition, R-hat <= 1.01 and bulk and tail ESS >= 400 for every compared quantity"


def _bank():
    from bayes_zoo.models import bank, posteriordb

    return bank, posteriordb


def status(name: str) -> str:
    """``"expressed"`` if posterior ``name`` has a PyMC version, else why not (a sentence).

    Raises
    ------
    ValueError
        Naming ``name`` when it is not a bundled posterior.
    """
    bank, posteriordb = _bank()
    posterior = posteriordb.load(name)
    if bank.model_for(posterior.model_name) is None:
        return (f"not expressed yet: no PyMC version of posteriordb model `{posterior.model_name}` in "
                "bayes_zoo.models.bank")
    return "expressed"


def _model(name: str):
    bank, posteriordb = _bank()
    posterior = posteriordb.load(name)
    model = bank.model_for(posterior.model_name)
    if model is None:
        raise ValueError(f"name: {status(name)}")
    return posterior, model


def load_data(name: str):
    """Posterior ``name``'s data: Stan's data plus the model's transformed data, as a read-only
    :class:`~bayes_zoo.models.datasets.Dataset` (description and provenance from posteriordb)."""
    from bayes_zoo.models.datasets import Dataset

    bank, _ = _bank()
    posterior, model = _model(name)
    return Dataset(posterior.data.name, bank.bank_data(model, posterior.data), posterior.data.description,
                   posterior.data.provenance)


class ReferenceDraws:
    """The ``reference`` side: posterior ``name``'s posteriordb draws, the same in every call (``own_size``).

    Called as a side, ``(data, *, seed, draws, chains) -> dict`` of arrays ``(10, 1000, *shape)``: every
    parameter the reference holds and, where the bank has a PyMC version, the free variables it derives from them
    (:attr:`~bayes_zoo.models.bank.BankModel.from_reference`, on the posterior's own data) so that ``loglik`` is
    computed at these draws too.  ``seed``, ``draws`` and ``chains`` are ignored: the draws are what
    posteriordb made (``posterior.attrs["provenance"]`` says so in the report).
    """

    own_size = True

    def __init__(self, name: str, order: Mapping | None = None):
        self.name = name
        self.order = {k: list(v) for k, v in (order or {}).items()}
        self.__name__ = f"posteriordb reference draws of {name}"

    def __call__(self, data, *, seed, draws, chains) -> dict:
        bank, posteriordb = _bank()
        posterior = posteriordb.load(self.name)
        arrays = posteriordb.reference_arrays(self.name)
        model = bank.model_for(posterior.model_name)
        extra = {}
        if model is not None and model.from_reference is not None:
            extra = model.from_reference(arrays, bank.bank_data(model, posterior.data))
        out = {**arrays, **extra}
        for var, index in self.order.items():  # a user's labels in another order: the reference's, rearranged
            out[var] = np.asarray(out[var])[:, :, index]
        return out


def _bank_labels(name: str) -> dict:
    """The coordinate labels of each reference parameter in our PyMC version (Stan's order), where it has named
    ones (a regression's terms); not for 1..K indices."""
    bank, posteriordb = _bank()
    posterior = posteriordb.load(name)
    spec = bank.model_for(posterior.model_name)
    if spec is None:
        return {}
    model = spec.builder()(bank.bank_data(spec, posterior.data))
    labels = {}
    for var in posterior.dimensions:
        dims = model.named_vars_to_dims.get(var) if var in model.named_vars else None
        if dims and len(dims) == 1 and model.coords.get(dims[0]) is not None:
            values = list(model.coords[dims[0]])
            if values != list(range(1, len(values) + 1)):
                labels[var] = [str(v) for v in values]
    return labels


def _label_order(name: str, model, variables) -> dict:
    """For each compared variable with named reference labels: the reference's index for each of the user's labels
    (a permutation is matched by label).

    Raises
    ------
    ValueError
        Naming ``reference`` when the user's labels are not the reference's (they would be matched by position to
        other coefficients).
    """
    order = {}
    for var, theirs in _bank_labels(name).items():
        if var not in variables or var not in model.named_vars:
            continue
        dims = model.named_vars_to_dims.get(var) or ()
        mine = [str(v) for v in model.coords.get(dims[0], ())] if len(dims) == 1 and model.coords.get(dims[0]) is not None else None
        if mine == theirs:
            continue
        if mine is not None and sorted(mine) == sorted(theirs):
            order[var] = [theirs.index(label) for label in mine]
            continue
        raise ValueError(f"reference: `{var}`'s coordinate labels are {mine or 'none'}, posteriordb's `{name}` labels "
                         f"them {theirs} (Stan's beta[1], beta[2], ... in that order): label yours so (any order), "
                         "so each is compared with its own reference coefficient")
    return order


def _control(name: str) -> dict:
    _, posteriordb = _bank()
    return posteriordb.load(name).reference_info.get("inference", {}).get("method_arguments", {}).get("control") or {}


def target_accept(name: str) -> float:
    """The reference run's ``adapt_delta`` (Stan's target acceptance rate; posteriordb raised it to 0.95 or 0.99
    where the default 0.8 diverged), which our NUTS uses too; 0.8 (Stan's default) where the record states none."""
    return float(_control(name).get("adapt_delta", 0.8))


def max_treedepth(name: str) -> int:
    """The reference run's ``max_treedepth`` (posteriordb raised it to 15 or 20 where 10 cut trajectories short),
    which our NUTS uses too; 10 (Stan's and nutpie's default) where the record states none."""
    return int(_control(name).get("max_treedepth", 10))


def nuts_settings(name: str) -> dict:
    """Our NUTS's arguments for posterior ``name``: the reference run's ``target_accept`` and ``max_treedepth``."""
    return {"target_accept": target_accept(name), "max_treedepth": max_treedepth(name)}


def with_reference(problem, name: str):
    """``problem`` (a user's) with posterior ``name``'s reference draws in place of its NUTS side.

    The draws enter as the side ``reference`` with the problem's model's dims and coordinates; NUTS does not run.
    A variable the bank labels by name (a regression's terms: Stan's ``beta[1]`` is ``beta[intercept]``) is matched
    by label, in whatever order the user's coordinates list them; one labelled 1..K (eight schools' ``theta``) by
    position.  Checked before any work: the name; that the problem's data are the posterior's (every key both hold
    is equal, at least one is shared, and every observed variable observes one of posteriordb's arrays); that the
    reference holds every compared variable; and that named labels are the bank's.

    Raises
    ------
    ValueError
        Naming ``reference``: not a bundled posterior, data that differ or share no key, an observed variable that
        is none of the posterior's data, a compared variable the reference lacks, coefficient labels that are not
        the bank's; ``problem`` without a model; ``sides`` when the problem has a side called ``reference``.
    """
    from dataclasses import replace as _replace

    from bayes_zoo.problem import Problem, Side

    bank, posteriordb = _bank()
    if not isinstance(problem, Problem):
        raise ValueError(f"problem: expected a bayes_zoo.Problem, got {type(problem).__name__}")
    try:
        posterior = posteriordb.load(name)
    except ValueError as err:
        raise ValueError(str(err).replace("name:", "reference:", 1)) from None
    if problem.model is None:
        raise ValueError("problem: --reference labels the draws by the problem's model: give it a model")
    if REFERENCE in problem.sides and not isinstance(problem.sides[REFERENCE].sample, ReferenceDraws):
        raise ValueError(f"sides: the name {REFERENCE!r} is taken by the posteriordb draws; call your sampler otherwise")
    model = bank.model_for(posterior.model_name)
    theirs = bank.bank_data(model, posterior.data) if model is not None else dict(posterior.data)
    mine = problem.load(problem.resolve_options({}))
    shared = [k for k in mine if k in theirs]
    if not shared:
        raise ValueError(f"reference: the problem's data share no key with posteriordb's `{name}` data "
                         f"(theirs: {sorted(theirs)}; yours: {sorted(mine)})")
    differ = [k for k in shared if np.shape(mine[k]) != np.shape(theirs[k])
              or not np.allclose(np.asarray(mine[k], dtype=float), np.asarray(theirs[k], dtype=float), rtol=1e-12,
                                 atol=0.0)]
    if differ:
        raise ValueError(f"reference: the problem's data differ from posteriordb's `{name}` data in {differ}: "
                         "the reference draws are the posterior of its data (bayes_zoo.bank.load_data gives them)")
    built = problem.build(mine)
    arrays = {k: np.asarray(v) for k, v in theirs.items() if np.ndim(v) >= 1}
    for rv in built.observed_RVs:  # the observations must be the posterior's, whatever they are called
        value = np.asarray(mine[rv.name]) if rv.name in mine else None
        if value is None or not any(value.shape == a.shape and np.allclose(value.astype(float), a.astype(float),
                                                                           rtol=1e-12, atol=0.0) for a in arrays.values()):
            raise ValueError(f"reference: the observed `{rv.name}` is none of posteriordb's `{name}` data arrays "
                             f"({sorted(arrays)}): the reference draws are the posterior of those data "
                             "(bayes_zoo.bank.load_data gives them)")
    variables = list(problem.variables) if problem.variables is not None else [rv.name for rv in built.free_RVs]
    lacking = [v for v in variables if v not in posterior.dimensions]
    if lacking:
        raise ValueError(f"reference: posteriordb's `{name}` draws hold {list(posterior.dimensions)}, not the compared "
                         f"variable(s) {lacking}: name your variables as the reference does, or set "
                         f"Problem(variables=...) to those it holds")
    order = _label_order(name, built, variables)
    sides = {k: v for k, v in problem.sides.items() if k != "nuts"}
    sides[REFERENCE] = Side(ReferenceDraws(name, order), title="posteriordb reference (Stan NUTS)")
    return _replace(problem, sides=sides, nuts=False, variables=tuple(variables),
                    report=(*problem.report, partial(_reference_facts, name)))


def _reference_facts(name: str, run) -> "Any":
    """The reference's record (posterior, licence, how the draws were made) and the note on its two stages."""
    from bayes_zoo.problem import Addition

    _, posteriordb = _bank()
    posterior = posteriordb.load(name)
    facts = [f"Posterior: posteriordb `{name}` (model `{posterior.model_name}`; licence {posterior.licence}); Stan "
             f"code upstream at `posterior_database/models/stan/{posterior.model_name}.stan`.",
             f"Reference: {posterior.method}."]
    notes = []
    if run.crossval is not None and REFERENCE in run.results:
        notes.append("The reference is the same posteriordb draws in both stages of the protocol: its Monte Carlo "
                     "error is shared by them, so they are not independent as between two samplers run twice; "
                     "`bayes-zoo bank calibrate` measures the false-alarm rate this gives.")
    return Addition(facts=facts, notes=notes)


def _facts(name: str, run) -> "Any":
    from bayes_zoo.problem import Addition

    posterior, model = _model(name)
    given = _reference_facts(name, run)
    facts = [f"Model kind: {model.kind} (PyMC version in `bayes_zoo.models.bank`)."] + given.facts
    if model.departs:
        facts.append(f"Our PyMC version departs from the Stan code: {model.departs}")
    notes = list(given.notes)
    sections = {}
    nuts = run.results.get("nuts")
    reference = run.results.get(REFERENCE)
    if nuts is not None and reference is not None and run.crossval is not None:
        lines = struggles(nuts, reference, list(posterior.dimensions))
        if lines:
            sections["Where NUTS struggles"] = "\n".join(f"- {line}" for line in lines)
    if reference is not None:
        lines = heavy_tails(reference, list(posterior.dimensions))
        if lines:
            sections["Heavy tails"] = "\n".join(f"- {line}" for line in lines)
    return Addition(facts=facts, notes=notes, sections=sections)


def problem(name: str, *, sides: Mapping | None = None, nuts: bool = True, **fields) -> "Any":
    """The bank posterior ``name`` as a :class:`~bayes_zoo.problem.Problem`.

    Parameters
    ----------
    name : str
        A bundled posterior (``bayes-zoo bank list``), e.g. ``"eight_schools-eight_schools_noncentered"``.
    sides : mapping, optional
        Further samplers (a user's Gibbs sampler), by name; each called with the posterior's data
        (:func:`load_data`).
    nuts : bool
        Add NUTS on our PyMC model (the bank's own run, at the reference run's ``adapt_delta`` and
        ``max_treedepth``: :func:`nuts_settings`); False to judge only ``sides`` against the reference.
    **fields
        Other :class:`~bayes_zoo.problem.Problem` fields (``quick``, ``report`` ...).

    Returns
    -------
    Problem
        ``variables`` the parameters the reference holds; sides ``reference`` (:class:`ReferenceDraws`), the
        given ``sides`` and, with ``nuts``, ``nuts``.

    Raises
    ------
    ValueError
        Naming ``name`` when it is not bundled or has no PyMC version yet (why), ``sides`` when one is called
        ``reference``.
    """
    from bayes_zoo.problem import Problem, Side, nuts_side

    posterior, model = _model(name)
    given = dict(sides or {})
    if REFERENCE in given:
        raise ValueError(f"sides: the name {REFERENCE!r} is the posteriordb draws; call the sampler otherwise")
    all_sides = {REFERENCE: Side(ReferenceDraws(name), title="posteriordb reference (Stan NUTS)"), **given}
    if nuts and "nuts" not in all_sides:
        all_sides["nuts"] = Side(nuts_side, title=f"PyMC / NUTS (target_accept {target_accept(name):g}, max tree "
                                                  f"depth {max_treedepth(name)}: the reference run's)")
    report = (partial(_facts, name), *fields.pop("report", ()))
    return Problem(name=name, title=f"{posterior.title} (posteriordb)", data=partial(load_data, name),
                   model=model.builder(), sides=all_sides,
                   nuts=nuts_settings(name) if nuts else False, variables=tuple(posterior.dimensions),
                   report=report, **fields)


# ---------------------------------------------------------------------------------------------- NUTS's health
def nuts_health(idata, variables=None) -> dict:
    """The diagnostics of one NUTS result that say whether it is healthy (:data:`HEALTH_RULES`).

    Returns
    -------
    dict
        ``divergences`` (int), ``draws`` (chains x draws), ``max_treedepth_share`` (share of draws that reached
        the maximum tree depth), ``max_rhat``, ``min_ess_bulk``, ``min_ess_tail`` (over ``variables``, default
        every posterior variable), ``ess_per_second`` (smallest bulk ESS / sampling seconds), ``healthy`` (bool).
    """
    import arviz as az

    post = idata.posterior
    names = [v for v in (variables or list(post.data_vars)) if v in post.data_vars]
    stats = idata.sample_stats if "sample_stats" in idata.groups() else None
    divergences = int(stats["diverging"].sum()) if stats is not None and "diverging" in stats else 0
    depth = (float(stats["reached_max_treedepth"].mean()) if stats is not None and "reached_max_treedepth" in stats
             else 0.0)
    rhat = az.rhat(post[names])
    bulk = az.ess(post[names], method="bulk")
    tail = az.ess(post[names], method="tail")

    def extreme(ds, f):
        values = np.concatenate([np.atleast_1d(ds[v].values).ravel() for v in ds.data_vars])
        return float(f(values)) if values.size else float("nan")

    max_rhat, min_bulk, min_tail = extreme(rhat, np.max), extreme(bulk, np.min), extreme(tail, np.min)
    seconds = float(post.attrs.get("sampling_time", float("nan")))
    healthy = bool(divergences == 0 and max_rhat <= 1.01 and min(min_bulk, min_tail) >= 400)
    return {"divergences": divergences, "draws": int(post.sizes["chain"] * post.sizes["draw"]),
            "max_treedepth_share": depth, "max_rhat": max_rhat, "min_ess_bulk": min_bulk, "min_ess_tail": min_tail,
            "ess_per_second": min_bulk / seconds if seconds > 0 else float("nan"), "healthy": healthy}


def _scalars(idata, variables) -> dict:
    from bayes_zoo.inference.diagnostics import flatten

    post = idata.posterior
    present = [v for v in variables if v in post.data_vars]
    return {k: np.asarray(v) for k, v in flatten(post[present]).items()}


def struggles(nuts, reference, variables) -> list[str]:
    """Why NUTS struggles on this posterior, each line computed from the runs; empty when it is healthy.

    Divergent transitions (how many, and the quantity whose divergent draws sit furthest from its posterior mean,
    in posterior sds: a funnel's neck shows as a scale parameter far below its mean), draws at the maximum tree
    depth, the smallest ESS, the largest R-hat, and the reference posterior's strongest correlation (a diagonal mass
    matrix cannot undo it, so NUTS takes many small steps).

    Parameters
    ----------
    nuts, reference : arviz.InferenceData
    variables : sequence of str
        The compared variables.
    """
    health = nuts_health(nuts, list(variables))
    lines = []
    if health["divergences"]:
        line = (f"{health['divergences']} divergent transition(s) in {health['draws']} draws "
                f"({health['divergences'] / health['draws']:.2%}): the step size is too large somewhere in the posterior.")
        draws = _scalars(nuts, variables)
        flag = np.asarray(nuts.sample_stats["diverging"].values, dtype=bool)
        if flag.any() and draws:
            shift = {k: (v[flag].mean() - v.mean()) / (v.std() or 1.0) for k, v in draws.items()}
            worst = max(shift, key=lambda k: abs(shift[k]))
            line += (f"  Divergent draws sit furthest from the posterior at `{worst}`: mean "
                     f"{draws[worst][flag].mean():.3g} there against {draws[worst].mean():.3g} overall "
                     f"({shift[worst]:+.2f} posterior sd)" + (", the neck of a funnel" if shift[worst] < -0.5 and
                                                               worst.split("[")[0] in _scales(nuts) else "") + ".")
        lines.append(line)
    if health["max_treedepth_share"] > 0:
        lines.append(f"{health['max_treedepth_share']:.1%} of draws reached the maximum tree depth: trajectories "
                     "were cut short, so NUTS explores slowly.")
    if min(health["min_ess_bulk"], health["min_ess_tail"]) < 400:
        lines.append(f"Smallest ESS {min(health['min_ess_bulk'], health['min_ess_tail']):.0f} (bulk "
                     f"{health['min_ess_bulk']:.0f}, tail {health['min_ess_tail']:.0f}) of {health['draws']} draws.")
    if health["max_rhat"] > 1.01:
        lines.append(f"Largest R-hat {health['max_rhat']:.4f}: chains disagree (multimodality, or too short).")
    if lines:
        ref = _scalars(reference, variables)
        keys = list(ref)
        if len(keys) > 1:
            matrix = np.corrcoef(np.stack([ref[k].ravel() for k in keys]))
            np.fill_diagonal(matrix, 0.0)
            i, j = np.unravel_index(np.argmax(np.abs(matrix)), matrix.shape)
            lines.append(f"The reference posterior's strongest correlation is {matrix[i, j]:+.4f}, between `{keys[i]}` "
                         f"and `{keys[j]}`.")
    return lines


#: Pareto k-hat above which a tail is heavy for the protocol's tests: the sd's MCSE needs a finite fourth moment
#: (k < 1/4), the mean's a finite variance (k < 1/2) (Vehtari, Simpson, Gelman, Yao & Gabry 2024, "Pareto smoothed
#: importance sampling", JMLR 25; the tail index k of a generalised Pareto tail: moments of order < 1/k exist).
HEAVY_TAIL_K = 0.25


def tail_khat(draws) -> float:
    """The larger Pareto k-hat of the two tails of ``draws`` (any shape, pooled): a generalised Pareto distribution
    fitted (``scipy.stats.genpareto``, maximum likelihood, location 0) to the exceedances of the
    ``M = min(S / 5, 3 sqrt(S))`` most extreme draws of each tail over the next one (Vehtari et al. 2024's tail
    size).  NaN for fewer than 20 draws or a constant tail."""
    from scipy import stats

    x = np.sort(np.asarray(draws, dtype=float).ravel())
    S = x.size
    M = int(min(0.2 * S, 3 * np.sqrt(S)))
    if S < 20 or M < 5:
        return float("nan")
    ks = []
    for tail in (x[-M:] - x[-M - 1], x[M] - x[:M]):
        if np.ptp(tail) == 0:
            continue
        ks.append(float(stats.genpareto.fit(tail, floc=0)[0]))
    return max(ks) if ks else float("nan")


def heavy_tails(reference, variables) -> list[str]:
    """A line for each compared quantity whose reference draws have a heavy tail (:func:`tail_khat` >=
    :data:`HEAVY_TAIL_K`): what it means for the mean and sd tests; empty when none has."""
    lines = []
    for label, values in _scalars(reference, variables).items():
        k = tail_khat(values)
        if np.isfinite(k) and k >= HEAVY_TAIL_K:
            which = "the mean's and the sd's MCSEs rest" if k >= 0.5 else "the sd's MCSE rests"
            lines.append(f"`{label}`: Pareto k-hat {k:.2f} in the reference draws' tail: {which} on moments that "
                         f"{'do not exist' if k >= 0.5 else 'may not exist (the fourth)'}, so those z-tests may "
                         "flag a correct sampler more often than their level.  This does not explain a finding on "
                         "a quantile (their tests rest on no moment): such a finding may be a real difference.")
    return lines


def _scales(idata) -> set:
    """Variables that are positive in every draw (a scale such as ``tau``)."""
    post = idata.posterior
    return {str(v) for v in post.data_vars if np.all(np.asarray(post[v]) > 0)}


# ---------------------------------------------------------------------------------------------- running the bank
@dataclass(frozen=True)
class BankRow:
    """One posterior's line of the bank's table.

    Attributes
    ----------
    name, kind : str
    verdict : str
        ``"agree"``, ``"disagree"``, ``"inconclusive"``, ``"error"`` (the run raised: ``reasons`` says what), or
        ``"not run"`` (``reasons``: why, e.g. no PyMC version yet).
    reasons : tuple of str
    power : float
        The shift in any mean, in posterior sds, the verdict detects with probability 0.8 (NaN without one).
    divergences : int
    max_treedepth_share, max_rhat, min_ess_bulk, min_ess_tail, ess_per_second : float
        Our NUTS's first-stage diagnostics (:func:`nuts_health`).
    healthy : bool
    first_stage : str
        The first stage's verdict (before confirmation).
    max_abs_z : float
        The first stage's largest |z|.
    sampling_time, setup_time, wall_time : float
        Seconds: NUTS's sampling, its compiling and initialising, and the whole run (every stage and the
        report's figures).
    seed : int
    folder : str
        The report's folder (empty if none was written).
    """

    name: str
    kind: str
    verdict: str
    reasons: tuple = ()
    power: float = float("nan")
    divergences: int = 0
    max_treedepth_share: float = float("nan")
    max_rhat: float = float("nan")
    min_ess_bulk: float = float("nan")
    min_ess_tail: float = float("nan")
    ess_per_second: float = float("nan")
    healthy: bool = False
    first_stage: str = ""
    max_abs_z: float = float("nan")
    sampling_time: float = float("nan")
    setup_time: float = float("nan")
    wall_time: float = float("nan")
    seed: int = 0
    folder: str = ""


def _settings_tuple(settings) -> tuple:
    return settings.draws, settings.chains, settings.warmup, settings.seed, settings.quick


def _run_one(name: str, settings: tuple, staging: str | None, figures: bool = True) -> BankRow:
    """One posterior, in a worker: the harness, then (``staging``) its report written there."""
    from bayes_zoo.registry import RunSettings, run_pair

    draws, chains, warmup, seed, quick = settings
    posterior, model = _model(name)
    start = time.perf_counter()
    try:
        pair = problem(name, figures=figures)
        outcome = run_pair(pair, RunSettings(draws=draws, chains=chains, warmup=warmup, seed=seed, quick=quick))
    except Exception as err:  # noqa: BLE001  (a posterior whose run fails is a row of the table, with why)
        return BankRow(name, model.kind, "error", (f"{type(err).__name__}: {err}",), seed=seed,
                       wall_time=time.perf_counter() - start)
    cv = outcome.crossval
    nuts = outcome.results["nuts"]
    health = nuts_health(nuts, list(posterior.dimensions))
    power = cv.power()
    if staging is not None:
        from bayes_zoo import report

        report.write_outcome(outcome, Path(staging))
    attrs = nuts.posterior.attrs
    stage_one = _first_stage_verdict(cv)
    return BankRow(name, model.kind, outcome.verdict, tuple(outcome.reasons),
                   float(power.loc["mean", "detectable_sd"]) if "mean" in power.index else float("nan"),
                   health["divergences"], health["max_treedepth_share"], health["max_rhat"], health["min_ess_bulk"],
                   health["min_ess_tail"], health["ess_per_second"], health["healthy"], stage_one,
                   float(np.nanmax(np.abs(cv.table["z"]))) if len(cv.table) else float("nan"),  # first stage's table
                   float(attrs.get("sampling_time", float("nan"))), float(attrs.get("setup_time", float("nan"))),
                   time.perf_counter() - start, seed, "")


def _first_stage_verdict(cv) -> str:
    """The first stage's verdict: "disagree" if a confirmation was run (only a first-stage "disagree" triggers
    one), else the verdict itself."""
    return "disagree" if cv.confirmation is not None else cv.verdict


def run(names, *, settings=None, jobs: int = 1, scheduler=None, output=None, progress: Callable | None = None,
        figures: bool = True) -> list[BankRow]:
    """Run our NUTS against the reference for each posterior of ``names``; one :class:`BankRow` each, in order.

    Parameters
    ----------
    names : sequence of str
        Bundled posteriors; one without a PyMC version gives a "not run" row.
    settings : RunSettings, optional
        NUTS's chains, draws, warm-up and root seed (default 4 x 1000 after 1000, seed 0).
    jobs : int
        Local worker processes (one posterior per task); ``scheduler`` a Dask cluster instead.
    output : bayes_zoo.report.Output, optional
        Opened on ``names``; each posterior's report is written into its staging folder by the worker and
        committed here as the result arrives.
    progress : callable, optional
        ``progress(row)`` after each posterior.

    Raises
    ------
    ValueError
        Naming ``names`` for a name not bundled (before any work), ``jobs``.
    """
    from bayes_zoo.inference.parallel import map_tasks
    from bayes_zoo.registry import RunSettings

    _, posteriordb = _bank()
    names = list(names)
    for name in names:
        if name not in posteriordb.names():
            try:
                posteriordb.load(name)
            except ValueError as err:
                raise ValueError(f"names: {err}") from None
    settings = settings or RunSettings()
    runnable = [n for n in names if status(n) == "expressed"]
    tasks = [(n, _settings_tuple(settings), None if output is None else str(output.staging(n)), figures)
             for n in runnable]
    done = {}

    def arrived(row: BankRow):
        if output is not None and row.verdict != "error":
            row = replace(row, folder=str(output.commit(row.name)))
        done[row.name] = row
        if progress is not None:
            progress(row)

    map_tasks(_run_one, tasks, jobs=jobs, scheduler=scheduler, progress=arrived)
    rows = []
    for name in names:
        if name in done:
            rows.append(done[name])
        else:
            row = BankRow(name, "", "not run", (status(name),), seed=settings.seed)
            rows.append(row)
            if progress is not None:
                progress(row)
    return rows


def index_markdown(rows, settings, *, base: Path | None = None) -> str:
    """``OUT/bank/report.md``: how the bank was run (from ``settings`` and the rows), then :func:`markdown`."""
    from bayes_zoo.models.backend import blas_status
    from bayes_zoo.inference.nuts import nuts_sampler
    from bayes_zoo.models.posteriordb import RELEASE

    ran = [r for r in rows if r.verdict not in ("not run",)]
    counts = {v: sum(r.verdict == v for r in rows) for v in dict.fromkeys(r.verdict for r in rows)}
    wall = sum(r.wall_time for r in ran if np.isfinite(r.wall_time))
    return (f"# The posteriordb bank\n\nOur NUTS ({nuts_sampler()}, {settings.chains} chains x {settings.draws} draws "
            f"after {settings.warmup} warm-up, root seed {settings.seed}) against the reference draws of {RELEASE}, "
            f"through the two-stage protocol, on every parameter the reference holds and `loglik`.  "
            + ", ".join(f"{n} {v}" for v, n in counts.items()) + f"; {wall:,.0f} s of runs in all.  "
            f"{blas_status()}.\n\nHealthy NUTS: {HEALTH_RULES}.  *power*: the shift in any posterior mean, in "
            "posterior sds, the verdict detects with probability 0.8; *NUTS ESS/s*: smallest bulk ESS over the "
            "compared quantities per second of sampling; *wall time*: the whole run, figures and report "
            "included.\n\n" + markdown(rows, base=base) + "\n")


def rows_frame(rows):
    """The rows as a DataFrame (one column per :class:`BankRow` field)."""
    import pandas as pd

    return pd.DataFrame([r.__dict__ for r in rows])


def _cell(value: float, fmt: str) -> str:
    return "–" if value is None or not np.isfinite(value) else format(value, fmt)


def markdown(rows, *, links: bool = True, base: Path | None = None) -> str:
    """The bank's table: every row's verdict, power, ESS/s, divergences, wall time, and why (reasons, or why it
    was not run).  ``links``: the name links to the posterior's ``report.md`` (relative to ``base``)."""
    from bayes_zoo.tables import markdown_table

    table = []
    for r in rows:
        label = f"`{r.name}`"
        if links and r.folder:
            target = Path(r.folder) / "report.md"
            href = target.relative_to(base) if base is not None and target.is_relative_to(base) else target
            label = f"[`{r.name}`]({href.as_posix()})"
        why = "; ".join(r.reasons[:2]) + (f" (+{len(r.reasons) - 2} more)" if len(r.reasons) > 2 else "")
        table.append({"posterior": label, "kind": r.kind or "–", "verdict": r.verdict,
                      "power (sd of a mean)": _cell(r.power, ".2g"),
                      "NUTS ESS/s": _cell(r.ess_per_second, ",.0f"), "divergences": str(r.divergences)
                      if r.verdict not in ("not run", "error") else "–",
                      "max tree depth": _cell(100 * r.max_treedepth_share, ".1f") + ("%" if np.isfinite(
                          r.max_treedepth_share) else ""),
                      "wall time (s)": _cell(r.wall_time, ".1f"), "why": why or ""})
    import pandas as pd

    return markdown_table(pd.DataFrame(table), index=False)


# ---------------------------------------------------------------------------------------------- calibration
#: Columns of :func:`calibrate`'s frame.
CALIBRATION_COLUMNS = ("name", "kind", "seed", "verdict", "first_stage", "healthy", "divergences", "max_rhat",
                       "min_ess", "max_abs_z", "seconds")


def _calibrate_one(name: str, seeds: tuple, settings: tuple) -> list[dict]:
    """Every seed of one posterior in one process (NUTS compiled once), no report."""
    rows = []
    draws, chains, warmup, _, quick = settings
    for seed in seeds:
        row = _run_one(name, (draws, chains, warmup, int(seed), quick), None, figures=False)
        rows.append({"name": name, "kind": row.kind, "seed": int(seed), "verdict": row.verdict,
                     "first_stage": row.first_stage, "healthy": row.healthy, "divergences": row.divergences,
                     "max_rhat": row.max_rhat, "min_ess": min(row.min_ess_bulk, row.min_ess_tail),
                     "max_abs_z": row.max_abs_z, "seconds": row.wall_time})
    return rows


def calibrate(names, seeds, *, settings=None, jobs: int = 1, scheduler=None, progress: Callable | None = None):
    """The verdict's false-alarm rate on real models: our NUTS against the reference, over ``seeds``, per posterior.

    Each (posterior, seed) runs the whole protocol (:func:`bayes_zoo.registry.run_pair`: first stage at 5%, a
    confirmatory stage after a first "disagree"), without figures or report; one task per posterior, so NUTS
    compiles once per posterior and process.

    Parameters
    ----------
    names : sequence of str
        Bundled posteriors with a PyMC version.
    seeds : sequence of int
        Root seeds, distinct.
    settings : RunSettings, optional
        Chains, draws and warm-up (default 4 x 1000 after 1000); its seed is ignored.
    jobs, scheduler
        As :func:`run`.
    progress : callable, optional
        ``progress(rows)`` with each posterior's rows as they arrive.

    Returns
    -------
    pandas.DataFrame
        One row per (posterior, seed), columns :data:`CALIBRATION_COLUMNS` (``healthy``: :data:`HEALTH_RULES` in
        the first stage); ``attrs``: ``chains``, ``draws``, ``warmup``, ``wall_seconds``, ``jobs``.

    Raises
    ------
    ValueError
        Naming ``names`` (not bundled, or without a PyMC version) or ``seeds`` (empty, repeated, out of range),
        before any work.
    """
    import pandas as pd

    from bayes_zoo.inference.parallel import map_tasks
    from bayes_zoo.models.checks import seed as check_seed
    from bayes_zoo.registry import RunSettings

    names = list(names)
    for name in names:
        try:
            _model(name)
        except ValueError as err:
            raise ValueError(f"names: {err}") from None
    seeds = tuple(check_seed(s, "seeds") for s in seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds: expected distinct seeds, got {list(seeds)}")
    settings = settings or RunSettings()
    start = time.perf_counter()
    chunks = map_tasks(_calibrate_one, [(n, seeds, _settings_tuple(settings)) for n in names], jobs=jobs,
                       scheduler=scheduler, progress=progress)
    frame = pd.DataFrame([row for chunk in chunks for row in chunk], columns=list(CALIBRATION_COLUMNS))
    frame.attrs.update(chains=settings.chains, draws=settings.draws, warmup=settings.warmup,
                       wall_seconds=time.perf_counter() - start, jobs=jobs)
    return frame


def calibration_summary(frame, *, by: str = "name"):
    """Per posterior, then all posteriors together: runs, healthy runs, "disagree" among the healthy ones and its
    one-sided 95% Clopper–Pearson upper bound, the most a verdict at the stated 1% allows
    (:func:`bayes_zoo.studies.max_false_alarms`), first-stage "disagree", inconclusive, unhealthy runs.

    Parameters
    ----------
    frame : pandas.DataFrame
        From :func:`calibrate`.
    by : {"name", "kind"}
        One row per posterior, or per kind of model (``posterior`` then names the kind and how many posteriors).

    Returns
    -------
    pandas.DataFrame
        Columns ``posterior``, ``kind``, ``runs``, ``healthy``, ``disagree`` (healthy runs), ``rate``,
        ``rate_upper``, ``allowed``, ``first_disagree``, ``inconclusive``, ``unhealthy_disagree`` (runs where
        NUTS was not healthy and the verdict said so), ``seconds``; last row ``all healthy``.
    """
    import pandas as pd
    from scipy import stats

    from bayes_zoo.studies import max_false_alarms

    def line(label, kind, sub):
        ok = sub[sub["healthy"].astype(bool)]
        n, bad = len(ok), int((ok["verdict"] == "disagree").sum())
        return {"posterior": label, "kind": kind, "runs": len(sub), "healthy": n, "disagree": bad,
                "rate": bad / n if n else float("nan"),
                "rate_upper": float(stats.binomtest(bad, n, alternative="less").proportion_ci(0.95).high) if n else float("nan"),
                "allowed": max_false_alarms(n) if n else 0,
                "first_disagree": int((ok["first_stage"] == "disagree").sum()),
                "inconclusive": int((sub["verdict"] == "inconclusive").sum()),
                "unhealthy_disagree": int(((~sub["healthy"].astype(bool)) & (sub["verdict"] == "disagree")).sum()),
                "seconds": float(sub["seconds"].sum())}

    if by not in ("name", "kind"):
        raise ValueError(f"by: expected 'name' or 'kind', got {by!r}")
    if by == "name":
        rows = [line(name, str(sub["kind"].iloc[0]), sub) for name, sub in frame.groupby("name", sort=False)]
    else:
        rows = [line(f"{kind} ({sub['name'].nunique()} posterior{'s' if sub['name'].nunique() > 1 else ''})", kind, sub)
                for kind, sub in frame.groupby("kind", sort=True)]
    rows.append(line(f"all {frame['name'].nunique()} posteriors", "", frame))
    out = pd.DataFrame(rows)
    out.attrs.update(frame.attrs)
    out.attrs["by"] = by
    return out


def calibration_markdown(summary) -> str:
    """The calibration table with a header sentence generated from the study's settings."""
    from bayes_zoo.inference import crossval
    from bayes_zoo.tables import markdown_table

    a = summary.attrs
    table = summary.assign(
        rate=[("–" if not np.isfinite(r) else f"{100 * r:.2g}%") + ("" if not np.isfinite(u) else f" ({100 * u:.2g}%)")
              for r, u in zip(summary["rate"], summary["rate_upper"])],
        seconds=[f"{s:,.0f}" for s in summary["seconds"]]).drop(columns=["rate_upper"])
    if summary.attrs.get("by") == "kind":  # the row's label names the kind
        table = table.drop(columns=["kind"]).rename(columns={"posterior": "kind of model"})
    table = table.rename(columns={"rate": "rate (95% upper bound)", "disagree": '"disagree" (healthy runs)',
                                  "first_disagree": 'first stage "disagree"',
                                  "unhealthy_disagree": '"disagree" with NUTS unhealthy'})
    head = (f"Our NUTS (nutpie) against each posteriordb reference through the two-stage protocol, {a.get('chains')} "
            f"chains x {a.get('draws')} draws after {a.get('warmup')} warm-up, {int(summary['runs'].iloc[0])} seeds "
            f"per posterior; a run is healthy when its first stage has {HEALTH_RULES}; stated level "
            f"{crossval.PROTOCOL_ALPHA:.0%}; allowed: the 95% quantile of Binomial(healthy runs, 1%); "
            f"{a.get('wall_seconds', float('nan')):,.0f} s in all ({a.get('jobs')} process(es)).")
    return head + "\n\n" + markdown_table(table, index=False)


# ---------------------------------------------------------------------------------------------- `bayes-zoo bank`
# (its arguments are in bayes_zoo.cli: building the parser imports no NumPy)
def selected_names(given) -> list[str]:
    """``given`` (names, or ``["all"]``) as bundled posterior names.

    Raises
    ------
    ValueError
        Naming ``NAME`` for a name not bundled (close names suggested).
    """
    _, posteriordb = _bank()
    if list(given) == ["all"]:
        return list(posteriordb.names())
    if "all" in given:
        raise ValueError("NAME: give `all` alone, or names of posteriors (bayes-zoo bank list)")
    for name in given:
        try:
            posteriordb.load(name)
        except ValueError as err:
            raise ValueError(str(err).replace("name:", "NAME:", 1)) from None
    return list(dict.fromkeys(given))


def list_frame():
    """Every bundled posterior: name, kind, parameters (their sizes), data size, status."""
    import pandas as pd

    bank, posteriordb = _bank()
    rows = []
    for name in posteriordb.names():
        posterior = posteriordb.load(name)
        model = bank.model_for(posterior.model_name)
        rows.append({"posterior": name, "kind": model.kind if model else "–",
                     "parameters": ", ".join(f"{k}[{v}]" if v > 1 else k for k, v in posterior.dimensions.items()),
                     "status": status(name)})
    return pd.DataFrame(rows)
