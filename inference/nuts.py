"""The one place that runs NUTS on a PyMC model, with the zoo's defaults: nutpie, or PyMC's own sampler.

**Which NUTS.**  The default is **nutpie** (Seyboldt et al., ``pymc-devs/nutpie``): PyMC's model compiled by
PyTensor's numba backend and sampled by nutpie's Rust NUTS.  On Newcomb's data it gives about 20x PyMC's ESS per
second once compiled (``make bench``, ``benchmarks/results/normal_gamma.md``); compiling costs a few seconds the
first time a model is seen in a process (reported as ``setup_time``), and a model is compiled once per process
however often it is sampled or rebuilt (:func:`compile_nutpie`).  PyMC's own NUTS (``pymc.sample``) stays one argument away:
``sampler="pymc"``, the process default :func:`set_nuts_sampler`, or ``BAYES_ZOO_NUTS_SAMPLER=pymc``.  nutpie
applies when every free variable is continuous and no ``step=`` is given; otherwise PyMC samples and the result
says so (``posterior.attrs["nuts_sampler"]`` and ``["step_methods"]``).

Both give the same result layout, PyMC's: ``posterior`` (dims ``chain``, ``draw``, the model's coords),
``sample_stats`` under PyMC's names (nutpie's ``logp``, ``depth``, ``maxdepth_reached`` and
``mean_tree_accept`` become ``lp``, ``tree_depth``, ``reached_max_treedepth`` and ``acceptance_rate``),
``log_likelihood``, ``posterior_predictive``, ``observed_data`` and ``constant_data``.  The two samplers adapt
differently (nutpie's mass matrix uses the gradients' variance as well as the draws'), so their draws differ;
both target the same posterior, and the zoo's verdicts hold for either (``tests/validation``).

Defaults: 4 chains of 1000 draws after 1000 tuning steps, ``target_accept=0.9``, chains run one after the
other in one process (``cores=1``; nutpie's draws do not depend on ``cores``), the integer ``seed`` handed to
the sampler, which derives an independent stream per chain from it, PyMC's own convergence warnings off (the
zoo's diagnostics in :mod:`bayes_zoo.inference.diagnostics` judge convergence) and progress bars shown only
when asked.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from collections import OrderedDict
from contextlib import contextmanager

import arviz as az
import numpy as np

from bayes_zoo.inference.seeding import predictive_generator
from bayes_zoo.models.checks import nonnegative_int, positive_int, probability

__all__ = ["NUTS_DEFAULTS", "NUTS_SAMPLERS", "sample_nuts", "step_methods", "quiet_pymc", "internal_variables",
           "nuts_sampler", "set_nuts_sampler", "nutpie_applies", "compile_nutpie", "nutpie_to_pymc"]

#: Suffixes of PyMC's internal variables, never part of a result's posterior: the free variable of a
#: non-centred parametrisation (``gp.Latent``'s ``f_rotated_``) and transformed values (``beta_log__``,
#: ``theta_logodds__``, ``ell_interval__``, ...; PyMC normally leaves these out itself).
INTERNAL_SUFFIXES = ("_rotated_", "__")

NUTS_DEFAULTS = {"draws": 1000, "tune": 1000, "chains": 4, "target_accept": 0.9, "max_treedepth": 10, "cores": 1}

#: The NUTS implementations :func:`sample_nuts` can run, the default first.
NUTS_SAMPLERS = ("nutpie", "pymc")

#: nutpie's sample statistics renamed to PyMC's (the rest keep nutpie's names; ``tuning`` is dropped).
NUTPIE_STATS = {"logp": "lp", "depth": "tree_depth", "maxdepth_reached": "reached_max_treedepth",
                "mean_tree_accept": "acceptance_rate"}


def _checked_sampler(name, what: str) -> str:
    if name not in NUTS_SAMPLERS:
        raise ValueError(f"{what}: expected one of {', '.join(map(repr, NUTS_SAMPLERS))}, got {name!r}")
    return name


_default_sampler: list[str] = []  # set by set_nuts_sampler; else the environment; else NUTS_SAMPLERS[0]


def nuts_sampler() -> str:
    """The process default NUTS: :func:`set_nuts_sampler`'s, else ``BAYES_ZOO_NUTS_SAMPLER``, else ``"nutpie"``.

    Raises
    ------
    ValueError
        If ``BAYES_ZOO_NUTS_SAMPLER`` names neither ``"nutpie"`` nor ``"pymc"``.
    """
    if _default_sampler:
        return _default_sampler[-1]
    return _checked_sampler(os.environ.get("BAYES_ZOO_NUTS_SAMPLER", NUTS_SAMPLERS[0]), "BAYES_ZOO_NUTS_SAMPLER")


def set_nuts_sampler(name: str | None) -> str | None:
    """Make ``name`` (``"nutpie"`` or ``"pymc"``) the process default of :func:`sample_nuts`, or with None go
    back to ``BAYES_ZOO_NUTS_SAMPLER`` / ``"nutpie"``; returns what was set before (None if nothing was), so
    ``set_nuts_sampler(previous)`` restores it.  The CLI's ``--nuts-sampler`` calls it.

    Raises
    ------
    ValueError
        If ``name`` is neither None nor one of :data:`NUTS_SAMPLERS`.
    """
    previous = _default_sampler[-1] if _default_sampler else None
    _default_sampler[:] = [] if name is None else [_checked_sampler(name, "nuts_sampler")]
    return previous


def nutpie_applies(model, step=None, tune: int = 1) -> str | None:
    """Why nutpie cannot sample ``model`` (a sentence), or None when it can: every free variable continuous,
    no ``step=`` given, at least one tuning step (nutpie's adaptation panics with ``tune=0``)."""
    if step is not None:
        return "a step method was given"
    if tune == 0:
        return "no tuning steps (tune=0; nutpie needs at least one)"
    discrete = [model.values_to_rvs[v].name for v in model.value_vars if v not in model.continuous_value_vars]
    if discrete:
        return f"discrete free variables {discrete}"
    if _shared_data(_graph(model)[2]) is None:
        return "a shared variable without a name, or two with one name (nutpie keys its data by name)"
    return None


#: Compiled nutpie models kept per process (least recently used dropped first).
COMPILED_CACHE_SIZE = 16
_COMPILED: "OrderedDict" = OrderedDict()  # id(model) -> (signature, model, compiled)
_COMPILE_LOCK = threading.Lock()


def _signature(model) -> tuple:
    """What :func:`_same_model`'s graph comparison does not see: names, dims, coords, initial values.

    A coordinate that labels no free or deterministic variable (only data: ``obs`` of a regression) enters by its
    name alone, so a rebuild on more or fewer observations reuses the compiled model: ``with_data`` hands over
    data of another length, and the draws are those of a fresh compile, bit for bit (tested)."""
    def names(vs):
        return tuple(v.name for v in vs)

    labelled = {d for v in [*model.free_RVs, *model.deterministics] for d in model.named_vars_to_dims.get(v.name, ())}
    coords = tuple((k, tuple(map(str, v)) if v is not None and k in labelled else None)
                   for k, v in model.coords.items())
    dims = tuple(sorted((k, tuple(v)) for k, v in model.named_vars_to_dims.items()))
    initial = tuple((rv.name, repr(v)) for rv, v in model.rvs_to_initial_values.items())
    return (names(model.free_RVs), names(model.value_vars), names(model.deterministics), names(model.observed_RVs),
            coords, dims, initial)


def _graph(model):
    """The outputs nutpie compiles from (log density, free and deterministic variables), their non-constant
    leaves (value variables, then shared variables in traversal order) and those shared variables."""
    from pytensor.compile import SharedVariable
    from pytensor.graph.traversal import ancestors

    outputs = [model.logp(), *model.free_RVs, *model.deterministics]
    shared = [v for v in ancestors(outputs) if isinstance(v, SharedVariable)]
    return outputs, list(model.value_vars) + shared, shared


def _shared_data(shared) -> dict | None:
    """The tensor shared variables among ``shared`` (``pm.Data`` and the like), name -> current value; None when
    one is unnamed or two share a name (nutpie keys its shared data by name: such a model is never reused)."""
    from pytensor.tensor.sharedvar import TensorSharedVariable

    tensors = [v for v in shared if isinstance(v, TensorSharedVariable)]
    names = [v.name for v in tensors]
    if any(n is None for n in names) or len(set(names)) != len(names):
        return None
    return {v.name: v.get_value() for v in tensors}


def _same_model(a, b) -> bool:
    """Whether two models compile to the same nutpie model up to their shared variables' values: graphs equal node
    for node with equal constants (``pytensor.graph.basic.equal_computations``; the data are constants unless in
    ``pm.Data``), their shared variables named alike in the same places.  Names, dims, coords and initial values
    are :func:`_signature`'s.  Models with symbolic random variables (``HalfCauchy``, mixtures: PyTensor
    compares their ops by identity) are never equal to a rebuild, so those are compiled again: slower, never
    wrong."""
    from pytensor.graph.basic import equal_computations

    out_a, in_a, shared_a = _graph(a)
    out_b, in_b, shared_b = _graph(b)
    return (len(in_a) == len(in_b) and [v.name for v in shared_a] == [v.name for v in shared_b]
            and equal_computations(out_a, out_b, in_xs=in_a, in_ys=in_b))


def compile_nutpie(model):
    """nutpie's compiled form of ``model`` (``nutpie.compile_pymc_model``, numba backend), holding the model's
    current shared data; returns ``(compiled, seconds)``, the seconds this call spent compiling.

    Compiling costs seconds (numba); it is done once per model *structure* and process: a model object seen
    before, or a rebuild of one (the same graph, names, coords, initial values and constants:
    :func:`_same_model`), reuses the compiled form (0.0 seconds returned), with the values its shared variables
    hold *now* (``pm.set_data``, or a rebuild's new ``pm.Data``) handed over by ``with_data``.  A model with an
    unnamed or twice-named shared tensor is not cached (nutpie cannot sample it: :func:`nutpie_applies`).  The last :data:`COMPILED_CACHE_SIZE` are kept.
    """
    _, _, shared = _graph(model)
    data = _shared_data(shared)
    with _COMPILE_LOCK:
        if data is not None:
            signature = _signature(model)
            for key, (sig, other, compiled) in list(_COMPILED.items()):
                if other is model or (sig == signature and _same_model(model, other)):
                    _COMPILED.move_to_end(key)
                    values = {k: v for k, v in data.items() if k in compiled.shared_data}
                    return (compiled.with_data(**values) if values else compiled), 0.0
        import nutpie

        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module="nutpie")
            compiled = nutpie.compile_pymc_model(model, backend="numba")
        if data is not None:
            _COMPILED[id(model)] = (_signature(model), model, compiled)
            while len(_COMPILED) > COMPILED_CACHE_SIZE:
                _COMPILED.popitem(last=False)
        return compiled, time.perf_counter() - start


def nutpie_to_pymc(idata, model, *, seed: int, sampling_time: float, tune: int) -> az.InferenceData:
    """nutpie's ``InferenceData`` in PyMC's layout: stats renamed (:data:`NUTPIE_STATS`), ``tuning`` dropped,
    ``observed_data`` and ``constant_data`` added as ``pymc.sample`` adds them, PyMC's attributes.

    Parameters
    ----------
    idata : arviz.InferenceData
        ``nutpie.sample``'s result, ``save_warmup=False``: ``posterior`` and ``sample_stats``, dims
        ``(chain, draw, ...)``.
    model : pymc.Model
        The model sampled (its observed data, constants, coords and dims).
    seed : int
        Unused here beyond the record kept by :func:`sample_nuts`.
    sampling_time : float
        Seconds of ``nutpie.sample``, tuning included (``posterior.attrs["sampling_time"]``).
    tune : int
        Tuning steps per chain (``attrs["tuning_steps"]``).

    Returns
    -------
    arviz.InferenceData
        ``posterior`` (as nutpie's), ``sample_stats`` (PyMC's names: ``lp``, ``tree_depth``,
        ``reached_max_treedepth`` bool, ``acceptance_rate``, ``diverging``, ...), ``observed_data`` and
        ``constant_data`` where the model has them.
    """
    import pymc as pm
    from pymc.backends.arviz import coords_and_dims_for_inferencedata, find_constants, find_observations
    from arviz.data.base import dict_to_dataset, make_attrs

    stats = idata.sample_stats.drop_vars([v for v in ("tuning",) if v in idata.sample_stats])
    stats = stats.rename({k: v for k, v in NUTPIE_STATS.items() if k in stats})
    stats["reached_max_treedepth"] = stats["reached_max_treedepth"].astype(bool)
    stats["tree_depth"] = stats["tree_depth"].astype(np.int64)
    coords, dims = coords_and_dims_for_inferencedata(model)
    groups = {"posterior": idata.posterior, "sample_stats": stats}
    for name, values in (("observed_data", find_observations(model)), ("constant_data", find_constants(model))):
        if values:
            groups[name] = dict_to_dataset(values, library=pm, coords=coords, dims=dims, default_dims=[])
    out = az.InferenceData(**groups)
    attrs = make_attrs({"sampling_time": sampling_time, "tuning_steps": tune}, library=pm)
    out.posterior.attrs.update(attrs)
    out.sample_stats.attrs.update(attrs)
    return out


@contextmanager
def quiet_pymc(quiet: bool = True):
    """Hide PyMC's informational log lines ("Initializing NUTS ...", "Sampling: [y]") within the block."""
    logger = logging.getLogger("pymc")
    level = logger.level
    if quiet:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def sample_nuts(
    model,
    *,
    draws: int = NUTS_DEFAULTS["draws"],
    tune: int = NUTS_DEFAULTS["tune"],
    chains: int = NUTS_DEFAULTS["chains"],
    seed: int = 0,
    target_accept: float = NUTS_DEFAULTS["target_accept"],
    max_treedepth: int = NUTS_DEFAULTS["max_treedepth"],
    cores: int = NUTS_DEFAULTS["cores"],
    progressbar: bool = False,
    quiet: bool = True,
    log_likelihood: bool = True,
    posterior_predictive: bool = True,
    sampler: str | None = None,
    **kwargs,
) -> az.InferenceData:
    """Sample ``model`` with NUTS: nutpie where it applies, else ``pymc.sample`` (module docstring).

    Parameters
    ----------
    model : pymc.Model
    draws : int, >= 1
        Kept draws per chain.
    tune : int, >= 0
        Tuning (warm-up) steps per chain, discarded.
    chains : int, >= 1
    seed : int, >= 0
        Root seed; PyMC spawns one independent stream per chain from it.  Same seed, same draws.
    target_accept : float in (0, 1)
        NUTS's target acceptance rate (used when PyMC assigns NUTS; a ``nuts={...}`` dict wins).
    max_treedepth : int, >= 1
        The most doublings of a trajectory (Stan's ``max_treedepth``, nutpie's ``maxdepth``; default 10, both
        samplers' own default); a ``nuts={...}`` dict wins for PyMC.
    cores : int, >= 1
        Chains run at once (nutpie: threads; PyMC: processes).  nutpie's draws are the same for any ``cores``.
    progressbar : bool
        Show the sampler's progress bar.
    quiet : bool
        Hide PyMC's informational log lines ("Initializing NUTS ...").
    log_likelihood : bool, default True
        Add the ``log_likelihood`` group (``pm.compute_log_likelihood``) when the model has observed
        variables.  Callers that use only the posterior draws (SBC, the active-learning learners) turn it off.
        Measured on normal-gamma (Newcomb, 4 x 1000, 2 CPUs): 0.11–0.15 s on a 2.7–3 s call (~5%).
    posterior_predictive : bool, default True
        Add the ``posterior_predictive`` group (``pm.sample_posterior_predictive``, one draw of every observed
        variable per posterior draw, from :func:`bayes_zoo.inference.seeding.predictive_generator` ``(seed)``)
        when the model has observed variables.  Measured as above: 0.11 s (~4%).  Both together 0.23–0.27 s,
        8–9%; with PyTensor's compilation cache cold, the first call adds up to ~1 s of compilation.
    sampler : {"nutpie", "pymc"}, optional
        Which NUTS; default :func:`nuts_sampler` (``"nutpie"`` unless set otherwise).  ``"nutpie"`` falls back
        to PyMC where it does not apply (:func:`nutpie_applies`: discrete free variables, a ``step=``).
    **kwargs
        Passed to ``pymc.sample`` (``step=``, ``idata_kwargs=`` ...); any of them makes PyMC sample.

    Returns
    -------
    arviz.InferenceData
        As PyMC returns it, ``C = chains``, ``T = draws``:

        * ``posterior``: free and deterministic variables, dims ``(chain, draw, ...)`` ``(C, T, ...)``, without
          PyMC's internal variables (names ending in ``_rotated_`` or ``__``: :data:`INTERNAL_SUFFIXES`);
          ``attrs``: ``sampling_time`` (seconds of the sampling loops, tuning included, compilation not),
          ``setup_time`` (the rest: compiling the model's log-density and gradient — nutpie: 0 when this model
          object was compiled before in the process — initialising, converting the trace), ``step_methods``
          (the step method of each free variable), ``nuts_sampler`` (``"nutpie"`` or ``"pymc"``, the one that
          ran), ``nuts_sampler_note`` (why PyMC ran when nutpie was asked; absent otherwise),
          ``algorithm = "nuts"``, ``seed``.
        * ``sample_stats``: PyMC's names, among them ``lp`` (the log density on NUTS's **unconstrained** scale: it
          includes the log-Jacobians of the transforms, so it differs from a handwritten sampler's ``lp``,
          which is ``model.compile_logp(jacobian=False)``, by those Jacobians), ``diverging``, ``step_size``,
          ``tree_depth``, ``acceptance_rate``, ``energy``.
        * ``log_likelihood`` (``log_likelihood=True`` and observed variables): one variable per observed
          variable, named after it, dims ``(chain, draw, *its dims)``: the pointwise log-likelihood that
          ``az.loo``, ``az.waic`` and ``az.compare`` read.
        * ``posterior_predictive`` (``posterior_predictive=True`` and observed variables): the observed
          variables, dims as in ``log_likelihood``.
        * ``observed_data``.

    Raises
    ------
    ValueError
        If ``model`` is not a ``pymc.Model``, or ``draws``, ``tune``, ``chains``, ``seed``, ``cores``,
        ``target_accept`` or ``max_treedepth`` is out of range, or ``sampler`` is not one of :data:`NUTS_SAMPLERS`.
    KeyboardInterrupt
        If sampling was interrupted (PyMC then returns fewer chains or draws than asked; they are not
        returned as if complete).
    """
    import pymc as pm

    if not isinstance(model, pm.Model):
        raise ValueError(f"model: expected a pymc.Model, got {type(model).__name__}")
    draws = positive_int(draws, "draws")
    tune = nonnegative_int(tune, "tune")
    chains = positive_int(chains, "chains")
    cores = positive_int(cores, "cores")
    target_accept = probability(target_accept, "target_accept")
    max_treedepth = positive_int(max_treedepth, "max_treedepth")
    seed = nonnegative_int(seed, "seed")
    asked = nuts_sampler() if sampler is None else _checked_sampler(sampler, "sampler")
    note = None
    if asked == "nutpie":
        note = nutpie_applies(model, kwargs.get("step"), tune)
        if note is None and kwargs:
            note = f"pymc.sample arguments were given ({', '.join(sorted(kwargs))})"
    used = "nutpie" if asked == "nutpie" and note is None else "pymc"
    if used == "nutpie":
        idata, setup_seconds = _sample_nutpie(model, draws=draws, tune=tune, chains=chains, seed=seed,
                                              target_accept=target_accept, max_treedepth=max_treedepth, cores=cores,
                                              progressbar=progressbar)
    else:
        with quiet_pymc(quiet), model:
            if "step" not in kwargs and model.continuous_value_vars:
                kwargs["nuts"] = {"target_accept": target_accept, "max_treedepth": max_treedepth,
                                  **kwargs.get("nuts", {})}
            start = time.perf_counter()
            idata = pm.sample(
                draws=draws,
                tune=tune,
                chains=chains,
                cores=cores,
                random_seed=seed,
                progressbar=progressbar,
                compute_convergence_checks=False,
                **kwargs,
            )
            setup_seconds = time.perf_counter() - start - float(idata.posterior.attrs["sampling_time"])
    got = (idata.posterior.sizes["chain"], idata.posterior.sizes["draw"])
    if got != (chains, draws):
        # PyMC catches Ctrl-C and returns the draws made so far; a partial run must not pass as a full one.
        raise KeyboardInterrupt(f"NUTS sampling was interrupted: got {got[0]} chains x {got[1]} draws of {chains} x {draws}")
    if model.observed_RVs:
        with quiet_pymc(quiet), model:
            if log_likelihood and "log_likelihood" not in idata.groups():
                with warnings.catch_warnings():
                    # PyMC clones the model without its transforms and warns when it sees a GP's
                    # "f_rotated_": a warning about reusing the GP objects with the clone, which nothing does.
                    warnings.filterwarnings("ignore", message="Detected variables likely created by GP objects",
                                            category=UserWarning)
                    pm.compute_log_likelihood(idata, extend_inferencedata=True, progressbar=False)
            if posterior_predictive and "posterior_predictive" not in idata.groups():
                # var_names given: without it PyMC 5.28 appends the observed variables to the model's own
                # observed_RVs list a second time (``observed_vars += ...`` on the list the model returns),
                # after which model.logp() fails.
                pm.sample_posterior_predictive(idata, var_names=[rv.name for rv in model.observed_RVs],
                                               extend_inferencedata=True, progressbar=False,
                                               random_seed=predictive_generator(seed))
    internal = internal_variables(idata.posterior)  # after the groups above: PyMC evaluates them from these
    if internal:
        idata.posterior = idata.posterior.drop_vars(internal)
    # the time outside the sampler's own sampling_time: compiling the model's functions, initialising, packing
    attrs = idata.posterior.attrs
    attrs["setup_time"] = max(setup_seconds, 0.0)
    attrs["algorithm"] = "nuts"
    attrs["nuts_sampler"] = used
    if asked == "nutpie" and used == "pymc":
        attrs["nuts_sampler_note"] = f"PyMC's NUTS sampled: nutpie does not apply ({note})"
    attrs["seed"] = seed
    if used == "nutpie":
        attrs["step_methods"] = f"nutpie NUTS: [{', '.join(rv.name for rv in model.free_RVs)}]"
    else:
        with model:
            attrs["step_methods"] = step_methods(model, kwargs.get("step"))
    return idata


def _sample_nutpie(model, *, draws, tune, chains, seed, target_accept, max_treedepth, cores, progressbar):
    """nutpie on ``model`` (compiled once per model structure); the result in PyMC's layout and its setup seconds."""
    import nutpie

    start = time.perf_counter()
    compiled, _ = compile_nutpie(model)
    begin = time.perf_counter()
    try:
        raw = nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, cores=cores, seed=seed,
                            target_accept=target_accept, maxdepth=max_treedepth, save_warmup=False,
                            progress_bar=progressbar)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as err:  # a panic in nutpie's Rust core is a BaseException (pyo3's PanicException)
        raise RuntimeError(f"nutpie failed ({type(err).__name__}: {err}); sampler='pymc' runs PyMC's NUTS "
                           "instead") from err
    sampling = time.perf_counter() - begin
    idata = nutpie_to_pymc(raw, model, seed=seed, sampling_time=sampling, tune=tune)
    return idata, time.perf_counter() - start - sampling


def internal_variables(posterior) -> list[str]:
    """The names in ``posterior`` (an ``xarray.Dataset``) that are PyMC internals, by :data:`INTERNAL_SUFFIXES`."""
    return [name for name in posterior.data_vars if str(name).endswith(INTERNAL_SUFFIXES)]


def step_methods(model, step=None) -> str:
    """Which step method PyMC uses for each free variable, e.g. ``"NUTS: [mu, beta]"``.

    Parameters
    ----------
    model : pymc.Model
    step : pymc step method or list of them, optional
        The ``step=`` given to ``pymc.sample``; the variables it does not cover are reported with the step
        method PyMC assigns automatically (``pymc.sampling.mcmc.assign_step_methods``).
    """
    from pymc.sampling.mcmc import assign_step_methods

    provided, selected = assign_step_methods(model, step)
    parts = []
    for method in provided:
        for sub in getattr(method, "methods", [method]):
            parts.append(f"{type(sub).__name__}: [{', '.join(v.name for v in sub.vars)}]")
    for cls, value_vars in selected.items():
        names = [model.values_to_rvs[v].name if v in model.values_to_rvs else v.name for v in value_vars]
        parts.append(f"{cls.__name__}: [{', '.join(names)}]")
    return "; ".join(parts)
