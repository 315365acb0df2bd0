"""Simulation-based calibration from a PyMC model itself: forward simulation, a joint test quantity, NUTS compiled once.

:mod:`bayes_zoo.inference.sbc` runs SBC for any ``simulate``/``sample`` pair.  This module derives both from a
*model builder*, so that a sampler of a PyMC model is checked against that model's own generative process:

* a **data mapping** is a ``dict[str, numpy array or scalar]``; a **model builder** is ``build(data) ->
  pymc.Model`` in which each observed random variable is named after the data key it observes
  (``pm.Poisson("y", mu=theta * data["t"], observed=data["y"])``); the other keys are covariates;
* :func:`forward_simulator` draws every free and every observed variable with PyMC's own forward sampling,
  compiled once (``pymc.pytensorf.compile``, reseeded per call);
* :data:`LOGLIK`, the joint test quantity: the log-likelihood of the observed data, summed over the observed
  variables and observations, at a parameter value on the constrained scale.  Marginal ranks cannot see a
  sampler whose draws have the right marginals and the wrong dependence between parameters; the rank of the
  log-likelihood at the truth among its values at the draws can (Modrák, Moon, Kim, Kirkham & Vehtari 2023,
  "Simulation-based calibration checking for Bayesian computation: the choice of test quantities shapes
  sensitivity", Bayesian Analysis; their data-dependent test quantities).  :func:`log_likelihood_function`
  compiles it once, with the observed data and the covariates as shared variables;
* :class:`NutsSide`: PyMC's NUTS for SBC with the model built and its log-density and gradient compiled once,
  the data swapped per simulation.  Each simulation reproduces ``pymc.sample``'s default
  (``init="jitter+adapt_diag"``, one process) step for step: the same jittered starting points, a fresh
  diagonal mass matrix adaptation and step-size adaptation, the same per-chain random streams, so its draws
  are bit-identical to ``bayes_zoo.inference.nuts.sample_nuts(build(data), seed=seed, ...)`` (tested);
* :func:`model_sbc_problems`: one :class:`~bayes_zoo.inference.sbc.SBCProblem` per sampler ("side"), sharing
  the forward simulator; the quantities are every scalar label of every free variable, labelled as ArviZ
  labels them (:func:`bayes_zoo.inference.diagnostics.flatten`: ``"beta"``, ``"theta[P1]"``, ``"w[3]"``), and
  :data:`LOGLIK`.

**How data become inputs.**  The model is built once from ``data`` and converted to a PyMC ``FunctionGraph``
(``pymc.model.fgraph.fgraph_from_model``), where each observed variable's value (a constant when the builder
passed a NumPy array), every ``pm.Data`` container named after a data key, and every array constant equal to a
covariate array (``np.array_equal``; covariates holding at least two distinct values) is replaced by a shared
variable of the same type, then turned back into a model (``model_from_fgraph``).  Covariates that are scalars or
constant arrays, and covariates the builder transformed in NumPy before PyMC saw them (``np.log(data["t"])``),
stay compiled-in constants: a data mapping that changes one of them is refused (``ValueError`` naming the key),
never silently ignored.  (The one way to fool the matching: a constant of the graph that equals a covariate array
without coming from it; it would then follow that covariate.)  Observed data used by the builder as a covariate
too (``y[:-1]`` in an autoregression) stays the builder's: such models are out of scope.  Shapes are those of the
builder's data.

**Threads.**  A process holds one compiled state per object, so calls from several threads (a Dask worker's)
take turns on it (a lock per state): correct, not parallel within a process.

**Pickling.**  Every callable here pickles with (cloud)pickle, for joblib's loky workers and Dask: what is
pickled is the builder, the data and a token; the compiled functions are made on first use in each process and
kept in a per-process cache keyed by that token (:data:`CACHE_SIZE` entries), so a worker compiles once
however many simulations it runs.

PyMC and PyTensor are imported inside the functions: importing this module has no side effects.
"""

from __future__ import annotations

import inspect
import threading
import uuid
import warnings
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from bayes_zoo.models.checks import nonnegative_int, positive_int, probability

__all__ = ["LOGLIK", "CACHE_SIZE", "LogLikelihood", "log_likelihood_function", "add_loglik", "ForwardSimulator",
           "forward_simulator", "NutsSide", "model_sbc_problems", "free_variable_labels"]

#: Name of the joint test quantity: the summed log-likelihood of the observed data.
LOGLIK = "loglik"

#: Compiled states kept per process (least recently used dropped first).
CACHE_SIZE = 16

_CACHE: "OrderedDict[tuple[str, str], Any]" = OrderedDict()
_CACHE_LOCK = threading.RLock()


def _cached(kind: str, token: str, make: Callable[[], Any]):
    key = (kind, token)
    with _CACHE_LOCK:  # threads of one process compile a state once
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
        value = make()
        _CACHE[key] = value
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
        return value


class _Lazy:
    """Builder, data and a token; compiled state made on first use per process (never pickled)."""

    _kind = "lazy"

    def __init__(self, build: Callable, data: Mapping[str, Any]):
        if not callable(build):
            raise ValueError(f"build: expected a callable build(data) -> pymc.Model, got {type(build).__name__}")
        if not isinstance(data, Mapping):
            raise ValueError(f"data: expected a mapping of names to arrays, got {type(data).__name__}")
        self.build = build
        self.data = dict(data)
        self.token = uuid.uuid4().hex

    @property
    def _state(self):
        return _cached(self._kind, self.token, self._compile)

    def _compile(self):  # pragma: no cover - overridden
        raise NotImplementedError


# --------------------------------------------------------------------------------------------------------------
# The model with its data as shared variables


@dataclass
class _SharedModel:
    """``model`` (as built, NumPy data), ``shared_model`` (data as shared variables), ``shared`` (data key ->
    the shared variables holding it), ``observed`` (observed variable names), ``fixed`` (data keys left as
    constants), ``dims``/``coords`` (for labels)."""

    model: Any
    shared_model: Any
    shared: dict
    observed: list
    fixed: list
    dims: dict
    coords: dict


def _build(build: Callable, data: dict):
    import pymc as pm

    model = build(dict(data))
    if not isinstance(model, pm.Model):
        raise ValueError(f"build: expected build(data) to return a pymc.Model, got {type(model).__name__}")
    observed = [rv.name for rv in model.observed_RVs]
    missing = [name for name in observed if name not in data]
    if missing:
        raise ValueError(f"data: the model's observed variables {missing} are not keys of the data mapping "
                         f"(keys: {sorted(data)}); name each observed variable after the key it observes")
    if not model.free_RVs:
        raise ValueError("build: the model has no free random variables")
    return model, observed


def _constant_value(var):
    from pytensor.compile import SharedVariable
    from pytensor.tensor.variable import TensorConstant

    if isinstance(var, TensorConstant):
        return np.asarray(var.data)
    if isinstance(var, SharedVariable):
        return np.asarray(var.get_value(borrow=True))
    return None


@contextmanager
def without_initvals(model):
    """``model`` with its initial values (``initval=``: an ordered transform's start) set aside while PyMC converts
    it (``fgraph_from_model`` and the transforms built on it refuse a model that has any), then given back."""
    saved = dict(model.rvs_to_initial_values)
    for rv in saved:
        model.rvs_to_initial_values[rv] = None
    try:
        yield model
    finally:
        model.rvs_to_initial_values.update(saved)


def _shared_model(build: Callable, data: dict) -> _SharedModel:
    """Build the model and replace its observed values and data-valued constants by shared variables."""
    import pytensor
    from pymc.model.fgraph import ModelObservedRV, fgraph_from_model, model_from_fgraph
    from pytensor.compile import SharedVariable
    from pytensor.graph.traversal import ancestors
    from pytensor.tensor.variable import TensorConstant

    model, observed = _build(build, data)
    initvals = {rv.name: v for rv, v in model.rvs_to_initial_values.items() if v is not None}
    with without_initvals(model):
        fgraph, _ = fgraph_from_model(model)
    shared: dict[str, list] = {}

    def new_shared(key, var):
        value = np.array(_constant_value(var), dtype=var.type.dtype)
        s = pytensor.shared(value, name=key, shape=var.type.shape)
        s.tag.sbc_data_key = key
        shared.setdefault(key, []).append(s)
        return s

    replacements = []
    for node in fgraph.toposort():
        if isinstance(node.op, ModelObservedRV):
            key, value = node.outputs[0].name, node.inputs[1]
            held = _constant_value(value)
            if held is None:
                raise ValueError(f"build: observed variable {key!r} observes a computed expression, not data; "
                                 "pass the data array (or a pm.Data container) as observed=")
            given = np.asarray(data[key])
            if held.shape != given.shape or not np.array_equal(held, given):
                raise ValueError(f"build: observed variable {key!r} does not observe data[{key!r}] as given "
                                 f"(shape {held.shape} vs {given.shape}, or values differ): name each observed "
                                 "variable after the data key it observes, untransformed")
            replacements.append((value, new_shared(key, value)))
    for old, new in replacements:
        fgraph.replace(old, new, import_missing=True, reason="sbc_model data")
    # covariates: array constants equal to a covariate array that holds at least two distinct values (an
    # all-zeros template would match any zeros in the graph); pm.Data containers by name.  Observed keys are
    # bound through their observed variable only: a zero template of y must not capture a zero mean vector.
    arrays = {k: np.asarray(v) for k, v in data.items()
              if k not in observed and np.ndim(v) >= 1 and np.unique(np.asarray(v)).size >= 2}
    replacements = []
    for var in ancestors(fgraph.outputs):
        if isinstance(var, SharedVariable) and var.name in data and not hasattr(var.tag, "sbc_data_key"):
            held = _constant_value(var)
            if held.shape == np.shape(data[var.name]):
                replacements.append((var, new_shared(var.name, var)))
            continue
        if not isinstance(var, TensorConstant) or var.ndim == 0:
            continue
        for key, value in arrays.items():
            if var.data.shape == value.shape and np.array_equal(var.data, value):
                replacements.append((var, new_shared(key, var)))
                break
    for old, new in replacements:
        fgraph.replace(old, new, import_missing=True, reason="sbc_model data")
    shared_model = model_from_fgraph(fgraph, mutate_fgraph=True)
    # model_from_fgraph orders the free variables topologically; pymc.sample's jitter and the raveled vector
    # follow the model's order, so restore the builder's (then the draws equal a fresh pymc.sample's)
    order = {rv.name: i for i, rv in enumerate(model.free_RVs)}
    shared_model.free_RVs.sort(key=lambda rv: order[rv.name])
    for rv in shared_model.free_RVs:
        if rv.name in initvals:
            shared_model.set_initval(rv, initvals[rv.name])
    fixed = [k for k in data if k not in shared]
    dims = {name: tuple(d) for name, d in model.named_vars_to_dims.items()}
    coords = {k: tuple(v) for k, v in model.coords.items() if v is not None}
    return _SharedModel(model, shared_model, shared, observed, fixed, dims, coords)


def _set_data(state: _SharedModel, base: dict, data: Mapping | None, shared_vars) -> None:
    """Put ``data`` (missing keys from ``base``) into the shared variables ``shared_vars`` (key -> list)."""
    merged = dict(base) if data is None else {**base, **data}
    for key in state.fixed:
        if data is not None and key in data and not _same(data[key], base[key]):
            raise ValueError(f"data: {key!r} differs from the data the model was built with, but it enters the "
                             "model as a compiled-in constant (a scalar, or transformed in NumPy by the "
                             "builder); build a new function for these data")
    for key, variables in shared_vars.items():
        value = np.asarray(merged[key])
        for var in variables:
            shape = var.type.shape
            if value.ndim != len(shape) or any(s is not None and s != v for s, v in zip(shape, value.shape)):
                raise ValueError(f"data: {key!r} has shape {value.shape}, the model was built with "
                                 f"{tuple(shape)}; data must keep the builder's shapes")
            cast = value.astype(var.type.dtype)
            if not np.array_equal(cast, value):
                raise ValueError(f"data: {key!r} does not fit the model's dtype {var.type.dtype} exactly")
            var.set_value(cast, borrow=False)


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and bool(np.array_equal(a, b))


def _in_function(fn, state: _SharedModel) -> dict:
    """The data shared variables a compiled function reads, key -> list (clones share the originals' tag)."""
    out: dict[str, list] = {}
    for var in fn.get_shared():
        key = getattr(var.tag, "sbc_data_key", None)
        if key is not None:
            out.setdefault(key, []).append(var)
    return out


def _batched(inputs, outputs):
    """Compile ``outputs`` of ``inputs`` over a leading batch dimension: ``fn(*arrays (n, *shape)) -> list``.

    ``pytensor.graph.replace.vectorize_graph`` where every Op vectorises; otherwise a loop over the batch of
    the function compiled once.
    """
    import pytensor.tensor as pt
    from pymc.pytensorf import compile as compile_fn
    from pytensor.graph.replace import vectorize_graph

    outputs = list(outputs)
    batched = [pt.tensor(name=v.name, dtype=v.type.dtype, shape=(None, *v.type.shape)) for v in inputs]
    try:
        vectorised = vectorize_graph(outputs, replace=dict(zip(inputs, batched)))
        fn = compile_fn(batched, vectorised, on_unused_input="ignore")
        return fn, fn
    except Exception:  # an Op without a vectorised form: loop over the batch
        single = compile_fn(list(inputs), outputs, on_unused_input="ignore")

        def loop(*arrays):
            n = arrays[0].shape[0] if arrays else 1
            rows = [single(*(a[i] for a in arrays)) for i in range(n)]
            return [np.stack([np.asarray(r[j]) for r in rows]) for j in range(len(outputs))]

        return loop, single


# --------------------------------------------------------------------------------------------------------------
# Labels


def free_variable_labels(dims: dict, coords: dict, values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Split ``values`` (name -> array ``(chains, draws, *shape)``) into ArviZ's scalar labels, label ->
    ``(chains, draws)``, with the model's dims and coords (``"theta[P1]"``; ``"theta[3]"`` without coords), by
    :func:`bayes_zoo.inference.diagnostics.flatten`."""
    import xarray as xr

    from bayes_zoo.inference.diagnostics import flatten

    variables = {}
    for name, value in values.items():
        value = np.asarray(value)
        extra = value.shape[2:]
        names = list(dims.get(name, ()))
        if len(names) != len(extra):
            names = [f"{name}_dim_{i}" for i in range(len(extra))]
        var_coords = {d: list(coords[d]) for d, n in zip(names, extra) if d in coords and len(coords[d]) == n}
        variables[name] = xr.DataArray(value, dims=("chain", "draw", *names), coords=var_coords)
    return flatten(xr.Dataset(variables))


# --------------------------------------------------------------------------------------------------------------
# The log-likelihood


@dataclass
class _LoglikState:
    shared: _SharedModel
    fn: Any
    single: Any
    variables: list  # free variable names the log-likelihood depends on, in the model's order
    core_ndim: dict
    core_shape: dict
    data_vars: dict
    lock: Any = None


class LogLikelihood(_Lazy):
    """The summed log-likelihood of the observed data, compiled once (:func:`log_likelihood_function`)."""

    _kind = "loglik"

    def _compile(self) -> _LoglikState:
        import pytensor.tensor as pt
        from pymc.model.transform.conditioning import remove_value_transforms
        from pytensor.graph.traversal import ancestors

        state = _shared_model(self.build, self.data)
        with without_initvals(state.shared_model):
            model = remove_value_transforms(state.shared_model)  # value variables on the constrained scale
        terms = model.logp(vars=model.observed_RVs, sum=False, jacobian=False)
        total = pt.add(*[pt.sum(t) for t in terms]) if len(terms) > 1 else pt.sum(terms[0])
        needed = set(ancestors([total]))
        values = [(rv.name, model.rvs_to_values[rv]) for rv in model.free_RVs if model.rvs_to_values[rv] in needed]
        fn, single = _batched([v for _, v in values], [total])
        data_vars = _in_function(single, state)
        return _LoglikState(state, fn, single, [n for n, _ in values], {n: v.ndim for n, v in values},
                            {n: tuple(v.type.shape) for n, v in values}, data_vars, threading.RLock())

    @property
    def variables(self) -> list[str]:
        """The free variables the log-likelihood depends on (compiles on first use)."""
        return list(self._state.variables)

    def __call__(self, draws: Mapping[str, np.ndarray], data: Mapping[str, Any] | None = None) -> np.ndarray:
        """The log-likelihood at each draw.

        Parameters
        ----------
        draws : mapping of str to array
            Each free variable the likelihood depends on (:attr:`variables`; others are ignored), shape
            ``(..., *var_shape)`` with the same leading dims ``...`` for all, on the constrained scale (the
            values samplers report: ``beta``, not ``log(beta)``).
        data : mapping, optional
            A data mapping with the builder's shapes; keys not given are the builder's.  None: the builder's.

        Returns
        -------
        numpy.ndarray, shape ``(...)``
            ``sum over observed variables and observations of log p(y | theta)``; ``-inf`` outside the support.

        Raises
        ------
        ValueError
            Naming ``draws`` (a missing variable, mismatched leading dims or shape) or ``data`` (shape, dtype,
            or a changed key that is compiled in as a constant).
        """
        s = self._state
        missing = [v for v in s.variables if v not in draws]
        if missing:
            raise ValueError(f"draws: missing {missing}, on which the log-likelihood depends")
        arrays, lead = [], None
        for name in s.variables:
            value = np.asarray(draws[name], dtype=float)
            k = s.core_ndim[name]
            if value.ndim < k:
                raise ValueError(f"draws: {name!r} has {value.ndim} dims, the variable alone has {k}")
            here = value.shape[:value.ndim - k]
            core = value.shape[value.ndim - k:]
            if any(c is not None and c != g for c, g in zip(s.core_shape[name], core)):
                raise ValueError(f"draws: {name!r} has shape {core} per draw, the model's is {s.core_shape[name]}")
            if lead is None:
                lead = here
            elif here != lead:
                raise ValueError(f"draws: leading dims differ: {lead} and {here} ({name!r})")
            arrays.append(value.reshape((-1, *core)))
        with s.lock:  # one compiled state per process: threads (a Dask worker's) take turns with its data
            _set_data(s.shared, self.data, data, s.data_vars)
            if not s.variables:  # the likelihood depends on no free variable: a constant
                return np.full((), float(s.single()[0]))
            out = np.array(s.fn(*arrays)[0], dtype=float)
        return out.reshape(lead)


def log_likelihood_function(build: Callable, data: Mapping[str, Any]) -> LogLikelihood:
    """The summed observed log-likelihood of ``build(data)`` as a function of the parameters, compiled once.

    Parameters
    ----------
    build : callable
        ``build(data) -> pymc.Model``, each observed variable named after the data key it observes.
    data : mapping of str to array or scalar

    Returns
    -------
    LogLikelihood
        ``f(draws, data=None) -> array (...)``: ``draws`` maps each free variable (:attr:`LogLikelihood.variables`
        at least) to its values, shape ``(..., *var_shape)``, on the constrained scale; ``data`` None means
        ``data`` above.  Built from ``pymc.model.transform.conditioning.remove_value_transforms`` of the model
        with its data as shared variables and ``Model.logp(vars=observed_RVs)``, vectorised over the leading
        dims (``vectorize_graph``); compiled on the first call in each process, never again: a new data
        mapping (same shapes) only sets the shared variables.  Picklable.

    Raises
    ------
    ValueError
        Naming ``build`` or ``data`` (on the first call, when the model is built): an observed variable not a
        key of ``data`` or not observing it as given.
    """
    return LogLikelihood(build, data)


def add_loglik(idata, build: Callable, data: Mapping[str, Any], *, name: str = "idata",
               loglik: LogLikelihood | None = None):
    """Add :data:`LOGLIK` (dims ``chain, draw``) to ``idata.posterior``: the log-likelihood of ``data`` at each draw.

    Parameters
    ----------
    idata : arviz.InferenceData
        With a posterior holding the free variables the likelihood depends on, dims ``(chain, draw, ...)``.
    build, data
        As :func:`log_likelihood_function`: the data of the run.
    name : str
        What to call ``idata`` in error messages (e.g. the sampler's name).
    loglik : LogLikelihood, optional
        A compiled :func:`log_likelihood_function` ``(build, data)`` to reuse.

    Returns
    -------
    arviz.InferenceData
        ``idata`` itself, its posterior extended.

    Raises
    ------
    ValueError
        Starting with ``name``: no posterior group, or the posterior lacks free variables the likelihood
        depends on (named).
    """
    import arviz as az

    if not isinstance(idata, az.InferenceData) or "posterior" not in idata.groups():
        raise ValueError(f"{name}: expected an arviz.InferenceData with a posterior group")
    f = loglik if loglik is not None else log_likelihood_function(build, data)
    post = idata.posterior
    missing = [v for v in f.variables if v not in post.data_vars]
    if missing:
        raise ValueError(f"{name}: the posterior lacks {missing}, on which the log-likelihood of the observed "
                         f"data depends (it has {sorted(map(str, post.data_vars))})")
    draws = {v: post[v].transpose("chain", "draw", ...).values for v in f.variables}
    post[LOGLIK] = (("chain", "draw"), f(draws, data))
    return idata


# --------------------------------------------------------------------------------------------------------------
# Forward simulation


@dataclass
class _ForwardState:
    model: Any
    fn: Any
    rngs: list
    free: list
    observed: list
    dims: dict
    coords: dict
    shapes: dict
    lock: Any = None


class ForwardSimulator(_Lazy):
    """PyMC's forward sampling of a model, compiled once (:func:`forward_simulator`)."""

    _kind = "forward"

    def __init__(self, build: Callable, data: Mapping[str, Any], loglik: LogLikelihood | None = None):
        super().__init__(build, data)
        self.loglik = loglik if loglik is not None else LogLikelihood(build, data)

    def _compile(self) -> _ForwardState:
        from pymc.pytensorf import collect_default_updates
        from pymc.pytensorf import compile as compile_fn

        model, observed = _build(self.build, self.data)
        outputs = list(model.free_RVs) + list(model.observed_RVs)
        rngs = list(collect_default_updates(inputs=[], outputs=outputs))
        fn = compile_fn([], outputs)
        dims = {n: tuple(d) for n, d in model.named_vars_to_dims.items()}
        coords = {k: tuple(v) for k, v in model.coords.items() if v is not None}
        free = [rv.name for rv in model.free_RVs]
        shapes = {n: np.shape(v) for n, v in zip(free, fn())}
        return _ForwardState(model, fn, rngs, free, observed, dims, coords, shapes, threading.RLock())

    @property
    def free(self) -> list[str]:
        """The free random variables, in the model's order."""
        return list(self._state.free)

    def labels(self) -> list[str]:
        """The truth's labels: every scalar of every free variable, then :data:`LOGLIK`."""
        s = self._state
        values = {n: np.zeros((1, 1, *s.shapes[n])) for n in s.free}
        return [*free_variable_labels(s.dims, s.coords, values), LOGLIK]

    def __call__(self, rng: np.random.Generator) -> tuple[dict[str, float], dict]:
        """One draw of the parameters from the prior and of the data given them.

        Parameters
        ----------
        rng : numpy.random.Generator
            Its next 63-bit integer seeds PyMC's random streams (``pymc.pytensorf.reseed_rngs``): the same
            generator state gives the same output.

        Returns
        -------
        truth : dict of str to float
            Every scalar label of every free random variable (deterministics are not included: they are
            functions of these), then :data:`LOGLIK` at the truth on the simulated data.
        sim_data : dict
            ``data`` with each observed key replaced by its simulated values (same shape; float if either the
            given data or the draws are float).
        """
        from pymc.pytensorf import reseed_rngs

        s = self._state
        seed = int(rng.integers(2**63))
        with s.lock:
            reseed_rngs(s.rngs, seed)
            values = [np.array(v) for v in s.fn()]
        free = dict(zip(s.free, values[:len(s.free)]))
        sim_data = dict(self.data)
        for key, value in zip(s.observed, values[len(s.free):]):
            given = np.asarray(self.data[key])
            sim_data[key] = value.reshape(given.shape).astype(np.result_type(given.dtype, value.dtype))
        labelled = free_variable_labels(s.dims, s.coords, {n: v[None, None] for n, v in free.items()})
        truth = {label: float(v[0, 0]) for label, v in labelled.items()}
        truth[LOGLIK] = float(self.loglik(free, sim_data))
        return truth, sim_data


def forward_simulator(build: Callable, data: Mapping[str, Any]) -> ForwardSimulator:
    """``simulate(rng) -> (truth, sim_data)`` for SBC, by PyMC's own forward sampling of ``build(data)``.

    All free and observed random variables are drawn jointly by one function compiled once
    (``pymc.pytensorf.compile``, as ``pymc.draw`` does), its random streams reseeded from ``rng`` per call;
    ``truth`` holds the free variables' scalar labels and :data:`LOGLIK` (see :meth:`ForwardSimulator.__call__`).
    Picklable (compiled lazily per process).

    Raises
    ------
    ValueError
        On the first call, as :func:`log_likelihood_function`.
    """
    return ForwardSimulator(build, data)


# --------------------------------------------------------------------------------------------------------------
# NUTS compiled once


@dataclass
class _NutsState:
    shared: _SharedModel
    model: Any
    step: Any
    logp_dlogp: Any
    initial_point: Any
    constrain: Any
    value_names: list
    free: list
    data_vars: dict
    lock: Any = None


@dataclass
class _NutpieState:
    shared: _SharedModel
    compiled: Any
    free: list
    keys: list
    lock: Any = None


class NutsSide(_Lazy):
    """NUTS for SBC: the model built and compiled once, each simulation only sets the data.

    **nutpie** (the zoo's default NUTS, :func:`bayes_zoo.inference.nuts.nuts_sampler`): the model with its data as
    shared variables is compiled once per process by ``nutpie.compile_pymc_model`` (numba backend), and each
    simulation hands nutpie the simulated data (``CompiledPyMCModel.with_data``) and samples with ``seed``: the
    draws equal those of ``bayes_zoo.inference.nuts.sample_nuts(build(data), sampler="nutpie", ...)`` for the
    same seed (tested).  Where nutpie does not apply (a discrete free variable, or a data key held by two shared
    variables), or with ``sampler="pymc"``, PyMC's NUTS runs as below.

    **PyMC's NUTS:**

    ``side(data, *, seed, draws, chains, warmup=1000) -> dict[var -> array (chains, draws, *shape)]`` (the
    side contract of :func:`model_sbc_problems`).  Per call: the data go into the shared variables; ``chains``
    starting points are jittered as ``pymc.sample``'s ``init="jitter+adapt_diag"`` does (uniform(-1, 1) on the
    unconstrained scale, redrawn while the log density is not finite, up to ``jitter_max_retries``); a fresh
    ``QuadPotentialDiagAdapt`` (mean of the starting points, unit variances, weight 10) and the NUTS step
    (compiled once) with its step-size adaptation reset run each chain for ``warmup`` tuning and ``draws`` kept
    iterations, with ``pymc.sample``'s per-chain random streams for ``seed``.  The draws equal those of
    ``bayes_zoo.inference.nuts.sample_nuts(build(data), draws=, tune=warmup, chains=, seed=, target_accept=)``
    (NUTS only: every free variable continuous).

    Parameters
    ----------
    build, data
        The model builder and a data mapping of the shapes to be sampled (the values are replaced per call).
    target_accept : float in (0, 1), default 0.9 (the zoo's)
    jitter_max_retries : int >= 0, default 10 (PyMC's; PyMC's NUTS only)
    sampler : {"nutpie", "pymc"}, optional
        Default: the process default when the side is made (so that worker processes run the same NUTS).

    Raises
    ------
    ValueError
        If ``build`` is not callable, ``data`` not a mapping, ``target_accept``, ``jitter_max_retries`` or
        ``sampler`` out of range.
    """

    _kind = "nuts"

    def __init__(self, build: Callable, data: Mapping[str, Any], *, target_accept: float = 0.9,
                 jitter_max_retries: int = 10, sampler: str | None = None):
        from bayes_zoo.inference.nuts import NUTS_SAMPLERS, nuts_sampler

        super().__init__(build, data)
        self.target_accept = probability(target_accept, "target_accept")
        self.jitter_max_retries = nonnegative_int(jitter_max_retries, "jitter_max_retries")
        self.sampler = nuts_sampler() if sampler is None else sampler
        if self.sampler not in NUTS_SAMPLERS:
            raise ValueError(f"sampler: expected one of {', '.join(map(repr, NUTS_SAMPLERS))}, got {sampler!r}")
        self._kind = f"nuts-{self.sampler}"

    def _compile(self):
        state = _shared_model(self.build, self.data)
        if self.sampler == "nutpie":
            compiled = self._compile_nutpie(state)
            if compiled is not None:
                return compiled
        return self._compile_pymc(state)

    def _compile_nutpie(self, state: _SharedModel) -> _NutpieState | None:
        """nutpie's compiled model with the data keys as its shared data; None where nutpie does not apply."""
        import nutpie

        from bayes_zoo.inference.nuts import nutpie_applies

        model = state.shared_model
        if nutpie_applies(model) is not None or any(len(v) > 1 for v in state.shared.values()):
            return None
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module="nutpie")
            compiled = nutpie.compile_pymc_model(model, backend="numba")
        keys = [k for k in state.shared if k in compiled.shared_data]
        return _NutpieState(state, compiled, [rv.name for rv in model.free_RVs], keys, threading.RLock())

    def _compile_pymc(self, state: _SharedModel) -> _NutsState:
        import pymc as pm
        from pymc.initial_point import make_initial_point_fn

        from bayes_zoo.inference.nuts import quiet_pymc

        model = state.shared_model
        discrete = [model.values_to_rvs[v].name for v in model.value_vars if v not in model.continuous_value_vars]
        if discrete:
            raise ValueError(f"build: NUTS needs continuous free variables; {discrete} are discrete")
        with quiet_pymc(), model:
            logp_dlogp = model.logp_dlogp_function(ravel_inputs=True)
            logp_dlogp.trust_input = True
            initial_point = make_initial_point_fn(model=model, jitter_rvs=set(model.free_RVs),
                                                  return_transformed=True)
            step = pm.NUTS(model=model, target_accept=self.target_accept, logp_dlogp_func=logp_dlogp,
                           initial_point=model.initial_point(), rng=0)
        values = list(model.value_vars)
        constrain, single = _batched(values, model.replace_rvs_by_values(model.free_RVs))
        data_vars = _in_function(logp_dlogp._pytensor_function, state)
        return _NutsState(state, model, step, logp_dlogp, initial_point, constrain, [v.name for v in values],
                          [rv.name for rv in model.free_RVs], data_vars, threading.RLock())

    def _starts(self, s: _NutsState, seeds) -> list[dict]:
        """``pymc.sampling.mcmc._init_jitter`` with the compiled log density (as ``init_nuts`` passes it)."""
        from pymc.blocking import DictToArrayBijection

        points = []
        for seed in seeds:
            rng = np.random.default_rng(seed)
            for attempt in range(self.jitter_max_retries + 1):
                point = s.initial_point(seed)
                logp = s.logp_dlogp([DictToArrayBijection.map(point)[0]], extra_vars={})[0]
                if np.isfinite(logp):
                    break
                if attempt == self.jitter_max_retries:
                    s.model.check_start_vals(point)
                seed = rng.integers(2**30, dtype=np.int64)
            points.append({k: v for k, v in point.items() if k in s.value_names})
        return points

    def __call__(self, data: Mapping[str, Any], *, seed: int, draws: int = 1000, chains: int = 2,
                 warmup: int = 1000) -> dict[str, np.ndarray]:
        """NUTS draws of the free variables given ``data``.

        Returns
        -------
        dict of str to numpy.ndarray
            Each free variable, constrained scale, shape ``(chains, draws, *shape)``.

        Raises
        ------
        ValueError
            Naming ``seed``, ``draws``, ``chains``, ``warmup`` or ``data``.
        """
        seed = nonnegative_int(seed, "seed")
        draws, chains = positive_int(draws, "draws"), positive_int(chains, "chains")
        warmup = nonnegative_int(warmup, "warmup")
        s = self._state
        with s.lock:  # one compiled step per process: threads take turns
            if isinstance(s, _NutpieState):
                return self._sample_nutpie(s, data, seed, draws, chains, warmup)
            return self._sample(s, data, seed, draws, chains, warmup)

    def _sample_nutpie(self, s: _NutpieState, data, seed: int, draws: int, chains: int,
                       warmup: int) -> dict[str, np.ndarray]:
        import nutpie

        if warmup == 0:
            raise ValueError("warmup: nutpie needs at least one tuning step; NutsSide(..., sampler='pymc') takes 0")
        _set_data(s.shared, self.data, data, s.shared.shared)  # checks shapes, dtypes and constants
        values = {key: s.shared.shared[key][0].get_value(borrow=True) for key in s.keys}
        compiled = s.compiled.with_data(**values)
        raw = nutpie.sample(compiled, draws=draws, tune=warmup, chains=chains, cores=1, seed=seed,
                            target_accept=self.target_accept, save_warmup=False, progress_bar=False)
        post = raw.posterior
        return {name: post[name].transpose("chain", "draw", ...).values for name in s.free}

    def _sample(self, s: _NutsState, data, seed: int, draws: int, chains: int, warmup: int) -> dict[str, np.ndarray]:
        from pymc.blocking import DictToArrayBijection
        from pymc.step_methods.hmc import integration, quadpotential

        _set_data(s.shared, self.data, data, s.data_vars)
        step = s.step
        rngs = np.random.default_rng(seed).spawn(chains)  # pymc.sample's streams for an integer seed
        seeds = [rng.integers(2**30) for rng in rngs]
        starts = self._starts(s, seeds)
        mean = np.mean([DictToArrayBijection.map(p).data for p in starts], axis=0)
        potential = quadpotential.QuadPotentialDiagAdapt(len(mean), mean, np.ones_like(mean), 10, rng=seeds[0])
        step.potential = potential
        step.integrator = integration.CpuLeapfrogIntegrator(potential, step._logp_dlogp_func)
        kept = {name: [] for name in s.value_names}
        for chain in range(chains):  # pymc.sampling.mcmc._iter_sample, without the trace
            step.set_rng(rngs[chain])
            step.tune = bool(warmup)
            step.reset_tuning()
            point = starts[chain]
            for i in range(warmup + draws):
                if i == 0:
                    step.iter_count = 0
                if i == warmup:
                    step.stop_tuning()
                point, _ = step.step(point)
                if i >= warmup:
                    for name in s.value_names:
                        kept[name].append(point[name])
        out = s.constrain(*[np.asarray(kept[name]) for name in s.value_names])
        return {name: np.asarray(v).reshape(chains, draws, *np.shape(v)[1:]) for name, v in zip(s.free, out)}


# --------------------------------------------------------------------------------------------------------------
# SBC problems


def _accepts_warmup(sample: Callable) -> bool:
    try:
        params = inspect.signature(sample).parameters
    except (TypeError, ValueError):
        return False
    return "warmup" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _posterior_arrays(result, free: list[str], name: str) -> dict[str, np.ndarray]:
    """A side's result (InferenceData or dict) as free variable -> array ``(chains, draws, *shape)``."""
    import arviz as az

    if isinstance(result, az.InferenceData):
        if "posterior" not in result.groups():
            raise ValueError(f"{name}: the sampler's InferenceData has no posterior group")
        post = result.posterior
        missing = [v for v in free if v not in post.data_vars]
        if missing:
            raise ValueError(f"{name}: the sampler's posterior lacks the free variables {missing}")
        return {v: post[v].transpose("chain", "draw", ...).values for v in free}
    if isinstance(result, Mapping):
        missing = [v for v in free if v not in result]
        if missing:
            raise ValueError(f"{name}: the sampler's draws lack the free variables {missing}")
        out = {v: np.asarray(result[v]) for v in free}
        bad = [v for v, a in out.items() if a.ndim < 2]
        if bad:
            raise ValueError(f"{name}: draws of {bad} must have shape (chains, draws, *shape)")
        return out
    raise ValueError(f"{name}: the sampler returned {type(result).__name__}, expected arviz.InferenceData or a dict")


class _SideSample:
    """:attr:`SBCProblem.sample` of one side: the side's draws as labels, with :data:`LOGLIK` per draw."""

    def __init__(self, name: str, side: Callable, simulator: ForwardSimulator, *, draws: int, chains: int,
                 warmup: int):
        self.name, self.side, self.simulator = name, side, simulator
        self.draws, self.chains, self.warmup = draws, chains, warmup
        self.pass_warmup = _accepts_warmup(side)

    def __call__(self, data: dict, seed: int) -> dict[str, np.ndarray]:
        extra = {"warmup": self.warmup} if self.pass_warmup else {}
        result = self.side(data, seed=seed, draws=self.draws, chains=self.chains, **extra)
        fwd = self.simulator._state
        arrays = _posterior_arrays(result, fwd.free, self.name)
        bad = [v for v, a in arrays.items() if a.shape[2:] != fwd.shapes[v]]
        if bad:
            raise ValueError(f"{self.name}: draws of {bad} have shapes {[arrays[v].shape[2:] for v in bad]} per "
                             f"draw, the model's are {[fwd.shapes[v] for v in bad]}")
        out = free_variable_labels(fwd.dims, fwd.coords, arrays)
        out[LOGLIK] = self.simulator.loglik(arrays, data)
        return out


def model_sbc_problems(name: str, build: Callable, data: Mapping[str, Any], sides: Mapping[str, Callable], *,
                       nuts: bool = True, draws: int = 1000, chains: int = 2, warmup: int = 1000,
                       target_accept: float = 0.9) -> dict:
    """SBC problems for samplers of the PyMC model ``build(data)``, one per side, sharing its forward simulator.

    Parameters
    ----------
    name : str
        The problems are named ``"NAME/SIDE"``.
    build : callable
        ``build(data) -> pymc.Model``, each observed variable named after the data key it observes.
    data : mapping
        The data whose covariates and shapes the simulations keep (observed values are replaced by simulated
        ones).
    sides : mapping of str to callable
        ``sample(data, *, seed, draws, chains[, warmup]) -> arviz.InferenceData or dict[var -> array (chains,
        draws, *shape)]`` (``warmup`` passed only when its signature takes it); the free variables named as in
        the model, on the constrained scale.
    nuts : bool, default True
        Add the side ``"nuts"``: :class:`NutsSide` (compiled once).
    draws, chains, warmup : int
        Passed to every side.
    target_accept : float
        The ``"nuts"`` side's.

    Returns
    -------
    dict of str to SBCProblem
        ``simulate`` is :func:`forward_simulator`; each ``sample`` returns every scalar label of every free
        variable and :data:`LOGLIK` (the log-likelihood of the simulated data at each draw), shape
        ``(chains, draws)``.  A side whose result lacks a free variable raises ``ValueError`` naming the side
        and the variables (recorded as that simulation's failure by ``run_sbc``).  Picklable.

    Raises
    ------
    ValueError
        Naming ``sides`` (not a mapping of callables, empty with ``nuts=False``, or a side called ``"nuts"``
        with ``nuts=True``), ``draws``, ``chains`` or ``warmup``.
    """
    from bayes_zoo.inference.sbc import SBCProblem

    if not isinstance(sides, Mapping) or not all(callable(f) for f in sides.values()):
        raise ValueError("sides: expected a mapping of side names to sample(data, *, seed, draws, chains) callables")
    if nuts and "nuts" in sides:
        raise ValueError("sides: a side is called 'nuts' and nuts=True adds one; rename it or pass nuts=False")
    draws, chains = positive_int(draws, "draws"), positive_int(chains, "chains")
    warmup = nonnegative_int(warmup, "warmup")
    all_sides = dict(sides)
    if nuts:
        all_sides["nuts"] = NutsSide(build, data, target_accept=target_accept)
    if not all_sides:
        raise ValueError("sides: no samplers (empty, and nuts=False)")
    simulator = ForwardSimulator(build, data)
    return {side: SBCProblem(f"{name}/{side}", simulator,
                             _SideSample(f"{name}/{side}", f, simulator, draws=draws, chains=chains, warmup=warmup))
            for side, f in all_sides.items()}
