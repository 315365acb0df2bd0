"""The one place that calls ``pymc.sample``, with the zoo's defaults.

Defaults: 4 chains of 1000 draws after 1000 tuning steps, ``target_accept=0.9``, chains run in one process
(``cores=1``: on the small models of the zoo, starting worker processes costs more than it saves), the
integer ``seed`` handed to PyMC, which spawns an independent stream per chain from it, PyMC's own convergence
warnings off (the zoo's diagnostics in :mod:`bayes_zoo.inference.diagnostics` judge convergence) and PyMC's
progress bar shown only when asked.
"""

from __future__ import annotations

import logging
import time
import warnings
from contextlib import contextmanager

import arviz as az

from bayes_zoo.inference.seeding import predictive_generator
from bayes_zoo.models.checks import nonnegative_int, positive_int, probability

__all__ = ["NUTS_DEFAULTS", "sample_nuts", "step_methods", "quiet_pymc", "internal_variables"]

#: Suffixes of PyMC's internal variables, never part of a result's posterior: the free variable of a
#: non-centred parametrisation (``gp.Latent``'s ``f_rotated_``) and transformed values (``beta_log__``,
#: ``theta_logodds__``, ``ell_interval__``, ...; PyMC normally leaves these out itself).
INTERNAL_SUFFIXES = ("_rotated_", "__")

NUTS_DEFAULTS = {"draws": 1000, "tune": 1000, "chains": 4, "target_accept": 0.9, "cores": 1}


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
    cores: int = NUTS_DEFAULTS["cores"],
    progressbar: bool = False,
    quiet: bool = True,
    log_likelihood: bool = True,
    posterior_predictive: bool = True,
    **kwargs,
) -> az.InferenceData:
    """Sample ``model`` with ``pymc.sample`` (NUTS for continuous variables, PyMC's choice otherwise).

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
    cores : int, >= 1
    progressbar : bool
        Show PyMC's progress bar.
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
    **kwargs
        Passed to ``pymc.sample`` (``step=``, ``idata_kwargs=`` ...).

    Returns
    -------
    arviz.InferenceData
        As PyMC returns it, ``C = chains``, ``T = draws``:

        * ``posterior``: free and deterministic variables, dims ``(chain, draw, ...)`` ``(C, T, ...)``, without
          PyMC's internal variables (names ending in ``_rotated_`` or ``__``: :data:`INTERNAL_SUFFIXES`);
          ``attrs``: ``sampling_time`` (PyMC's: seconds of the sampling loops, tuning included, compilation
          not), ``setup_time`` (the rest of the ``pymc.sample`` call: compiling the model's log-density and
          gradient, initialising, converting the trace), ``step_methods`` (the step method of each free
          variable), ``algorithm = "nuts"``, ``seed``.
        * ``sample_stats``: PyMC's, among them ``lp`` (the log density on NUTS's **unconstrained** scale: it
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
        If ``model`` is not a ``pymc.Model``, or ``draws``, ``tune``, ``chains``, ``seed``, ``cores`` or
        ``target_accept`` is out of range.
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
    seed = nonnegative_int(seed, "seed")
    with quiet_pymc(quiet), model:
        if "step" not in kwargs and model.continuous_value_vars:
            kwargs["nuts"] = {"target_accept": target_accept, **kwargs.get("nuts", {})}
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
        pymc_seconds = time.perf_counter() - start
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
    # pm.sample's time outside its own sampling_time: compiling the model's functions, initialising, packing
    idata.posterior.attrs["setup_time"] = max(pymc_seconds - float(idata.posterior.attrs["sampling_time"]), 0.0)
    idata.posterior.attrs["algorithm"] = "nuts"
    idata.posterior.attrs["seed"] = seed
    with model:
        idata.posterior.attrs["step_methods"] = step_methods(model, kwargs.get("step"))
    return idata


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
