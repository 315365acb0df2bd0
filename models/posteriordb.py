"""The bundled posteriordb posteriors: data, gold-standard reference draws, and how they were made.

posteriordb (Magnusson, Bürkner, Vehtari et al., "posteriordb: Testing, benchmarking and developing Bayesian
inference algorithms", 2024; stan-dev/posteriordb release v1.0, commit 28f8d3d) is the field's shared set of
posteriors with reference draws from long, checked Stan runs.  ``models/data/posteriordb/`` holds 35 of them,
files as upstream (layout in its README):

- ``posteriors/NAME.json``: a posterior is a data set (``data_name``) and a model (``model_name``), with the
  dimensions of its parameters (``{"beta": 4, "sigma": 1}``);
- ``data/DATA.json.zip``: the data, Stan's names (``J``, ``y``, ``sigma``);
- ``reference_draws/NAME.json.zip``: 10 chains, each mapping Stan's labels (``theta[1]``, 1-based) to 1,000
  draws (thinned from 10,000: 10,000 draws in all);
- ``reference_info/NAME.info.json``: how they were made (Stan NUTS, iterations, warm-up, thinning, seed,
  ``adapt_delta``) and the checks they passed (bulk and tail ESS per parameter, R-hat < 1.01, no divergences);
- ``model_info/MODEL.info.json``, ``data_info/DATA.info.json``: title, description, references, licence.

:func:`load` reads one posterior into a :class:`BankPosterior`; :func:`reference_arrays` turns the reference
draws into arrays ``(chain, draw, *shape)`` (Stan's ``beta[k]`` is index ``k - 1``), and :func:`reference_idata`
into InferenceData with a model's dims and coordinates, ready to compare, its MCSEs those of the reference run's
own 10 chains (ArviZ).  Nothing is downloaded; the model code is upstream (``posterior_database/models/stan``),
and our PyMC versions are :mod:`bayes_zoo.models.bank`.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from bayes_zoo.models.datasets import Dataset

__all__ = ["BankPosterior", "RELEASE", "CHAINS", "DRAWS", "names", "load", "reference_labels", "reference_arrays",
           "reference_idata", "parse_label"]

#: The posteriordb release the files come from.
RELEASE = "posteriordb v1.0 (stan-dev/posteriordb, commit 28f8d3d)"
#: Chains and draws per chain of every bundled reference posterior.
CHAINS, DRAWS = 10, 1000
_FOLDER = ("data", "posteriordb")
_LABEL = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)(?:\[(\d+(?:,\d+)*)\])?$")


def _root():
    return resources.files("bayes_zoo.models").joinpath(*_FOLDER)


def _json(*parts: str) -> Any:
    return json.loads(_root().joinpath(*parts).read_text(encoding="utf-8"))


def _zipped_json(folder: str, stem: str) -> Any:
    path = _root().joinpath(folder, f"{stem}.json.zip")
    with path.open("rb") as handle, zipfile.ZipFile(handle) as archive:
        members = archive.namelist()
        if members != [f"{stem}.json"]:
            raise ValueError(f"{folder}/{stem}.json.zip: expected one member {stem}.json, found {members}")
        return json.loads(archive.read(members[0]))


@dataclass(frozen=True)
class BankPosterior:
    """One posteriordb posterior, as bundled.

    Attributes
    ----------
    name : str
        ``DATA-MODEL``, e.g. ``"eight_schools-eight_schools_noncentered"``.
    model_name, data_name : str
        The model's and the data set's posteriordb names.
    dimensions : dict of str to int
        Each parameter the reference holds and its length (1 for a scalar), as ``posteriors/NAME.json``.
    keywords : tuple of str
    data : Dataset
        The data under Stan's names (integers as ``int64``, reals as ``float64``, arrays as NumPy arrays,
        scalars as 0-d arrays); ``description`` the data set's title and description, ``provenance`` its
        URLs, references and licence lines.
    model_info, data_info, reference_info : dict
        The ``*.info.json`` files as read.
    """

    name: str
    model_name: str
    data_name: str
    dimensions: dict
    keywords: tuple
    data: Dataset
    model_info: dict = field(repr=False)
    data_info: dict = field(repr=False)
    reference_info: dict = field(repr=False)

    @property
    def title(self) -> str:
        """The model's title (posteriordb's), e.g. ``"A non-centered hiearchical model for 8 schools"``."""
        return str(self.model_info.get("title") or self.model_name).strip()

    @property
    def licence(self) -> str:
        """The model's licence, and the data's where it states one (``"BSD3"``)."""
        model = self.model_info.get("licence")
        data = self.data_info.get("licence")
        parts = [f"model: {model}" if model else "", f"data: {data}" if data else ""]
        return "; ".join(p for p in parts if p) or "not stated (posteriordb's New BSD licence)"

    @property
    def method(self) -> str:
        """How the reference draws were made, one sentence from ``reference_info`` (Stan NUTS, chains, iterations)."""
        inference = self.reference_info.get("inference", {})
        args = inference.get("method_arguments", {})
        control = args.get("control") or {}
        extra = "".join(f", {k} = {v}" for k, v in control.items())
        checks = self.reference_info.get("checks_made") or {}
        passed = [k for k, v in checks.items() if v is True]
        how = {"stan_sampling": "Stan's NUTS"}.get(inference.get("method"), inference.get("method", "?"))
        return (f"{RELEASE}, reference draws by {how} with {args.get('chains')} "
                f"chains of {args.get('iter')} iterations, {args.get('warmup')} warm-up, thinned by "
                f"{args.get('thin')} (seed {args.get('seed')}{extra}); checks passed: "
                f"{', '.join(passed) if passed else 'none recorded'}")

    @property
    def recorded_ess(self) -> dict:
        """The reference run's bulk and tail ESS per Stan label, as posteriordb recorded them:
        ``{label: (bulk, tail)}``."""
        diag = self.reference_info.get("diagnostics", {})
        labels = diag.get("diagnostic_information", {}).get("names", [])
        bulk = diag.get("effective_sample_size_bulk", [])
        tail = diag.get("effective_sample_size_tail", [])
        return {label: (float(b), float(t)) for label, b, t in zip(labels, bulk, tail)}


@lru_cache(maxsize=1)
def names() -> tuple[str, ...]:
    """Every bundled posterior's name, sorted."""
    return tuple(sorted(p.name[: -len(".json")] for p in _root().joinpath("posteriors").iterdir()
                        if p.name.endswith(".json")))


def _check_name(name) -> str:
    if not isinstance(name, str) or name not in names():
        close = [n for n in names() if isinstance(name, str) and name and (name in n or n.startswith(name.split("-")[0]))]
        hint = f" (did you mean {', '.join(close[:4])}?)" if close else " (`bayes-zoo bank list` lists them)"
        raise ValueError(f"name: {name!r} is not a bundled posteriordb posterior{hint}")
    return name


def _as_array(value):
    array = np.asarray(value)
    if array.dtype.kind in "iub":
        return array.astype(np.int64)
    if array.dtype.kind == "f":
        return array.astype(np.float64)
    raise ValueError(f"a data value of dtype {array.dtype} (expected numbers)")


def _dataset(data_name: str, info: dict) -> Dataset:
    raw = _zipped_json("data", data_name)
    arrays = {}
    for key, value in raw.items():
        try:
            arrays[key] = _as_array(value)
        except ValueError as err:
            raise ValueError(f"data/{data_name}.json.zip: {key}: {err}") from None
    title = str(info.get("title") or data_name).strip()
    description = " ".join(str(info.get("description") or "").split())
    sizes = ", ".join(f"`{k}` {a.shape}" if a.ndim else f"`{k}` = {a.item()}" for k, a in arrays.items())
    def listed(value) -> str:
        return ", ".join(map(str, value)) if isinstance(value, list) else str(value)

    cited = "; ".join(part for part in (
        f"references {listed(info['references'])}" if info.get("references") else "",
        f"{listed(info['urls'])}" if info.get("urls") else "",
        f"licence {info['licence']}" if info.get("licence") else "") if part)
    provenance = (f"Source: {RELEASE}, data/{data_name}.json.", f"({cited})." if cited else "")
    provenance = tuple(line for line in provenance if line)
    return Dataset(data_name, arrays, f"{title} (posteriordb `{data_name}`): {description} Arrays: {sizes}.".replace(
        ":  Arrays", ": Arrays"), provenance)


@lru_cache(maxsize=64)
def load(name: str) -> BankPosterior:
    """The bundled posterior ``name`` (its data and information; the draws by :func:`reference_arrays`).

    Raises
    ------
    ValueError
        Naming ``name`` when no such posterior is bundled (close names suggested).
    """
    _check_name(name)
    spec = _json("posteriors", f"{name}.json")
    model_info = _json("model_info", f"{spec['model_name']}.info.json")
    data_info = _json("data_info", f"{spec['data_name']}.info.json")
    reference_info = _json("reference_info", f"{spec['reference_posterior_name']}.info.json")
    keywords = spec.get("keywords") or []
    return BankPosterior(name=spec["name"], model_name=spec["model_name"], data_name=spec["data_name"],
                         dimensions={k: int(v) for k, v in spec["dimensions"].items()},
                         keywords=tuple(keywords if isinstance(keywords, list) else [keywords]),
                         data=_dataset(spec["data_name"], data_info), model_info=model_info, data_info=data_info,
                         reference_info=reference_info)


def parse_label(label: str) -> tuple[str, tuple[int, ...]]:
    """Stan's label as (name, 0-based index): ``"beta[2]"`` -> ``("beta", (1,))``, ``"mu"`` -> ``("mu", ())``.

    Raises
    ------
    ValueError
        Naming ``label`` if it is not ``name`` or ``name[i,j,...]`` with 1-based indices.
    """
    match = _LABEL.match(str(label))
    if not match or (match.group(2) and any(int(i) < 1 for i in match.group(2).split(","))):
        raise ValueError(f"label: {label!r} is not a Stan label name or name[i,...] with 1-based indices")
    index = tuple(int(i) - 1 for i in match.group(2).split(",")) if match.group(2) else ()
    return match.group(1), index


@lru_cache(maxsize=8)
def _draws(name: str) -> tuple:
    chains = _zipped_json("reference_draws", name)
    if not isinstance(chains, list) or not chains or not all(isinstance(c, dict) for c in chains):
        raise ValueError(f"reference_draws/{name}.json.zip: expected a list of chains, each a mapping label -> draws")
    labels = list(chains[0])
    for i, chain in enumerate(chains):
        if list(chain) != labels:
            raise ValueError(f"reference_draws/{name}.json.zip: chain {i + 1} has labels {list(chain)}, "
                             f"chain 1 has {labels}")
    values = np.array([[chain[label] for label in labels] for chain in chains], dtype=np.float64)  # (chain, label, draw)
    values.setflags(write=False)
    return tuple(labels), values


def reference_labels(name: str) -> tuple[str, ...]:
    """The Stan labels of posterior ``name``'s reference draws, in file order (``("theta[1]", ..., "tau")``)."""
    return _draws(_check_name(name))[0]


def reference_arrays(name: str) -> dict[str, np.ndarray]:
    """The reference draws of posterior ``name`` by parameter, each ``(chain, draw, *shape)`` (10, 1000, ...).

    Stan's ``beta[k]`` goes to index ``k - 1`` of ``beta``'s last axis (``z[i,j]`` to ``[i - 1, j - 1]``); a
    parameter of dimension 1 in ``posteriors/NAME.json`` without brackets in its labels is a scalar,
    ``(chain, draw)``.

    Raises
    ------
    ValueError
        Naming the file when the labels do not fill the dimensions posteriordb states (a missing or extra
        index), or draws are not finite.
    """
    labels, values = _draws(_check_name(name))
    dims = load(name).dimensions
    parsed = [parse_label(label) for label in labels]
    out = {}
    for var in dict.fromkeys(n for n, _ in parsed):
        idx = [(i, index) for i, (n, index) in enumerate(parsed) if n == var]
        if len(idx) == 1 and idx[0][1] == ():
            shape = ()
        else:
            if any(index == () for _, index in idx):
                raise ValueError(f"reference_draws/{name}.json.zip: {var} appears both as a scalar and indexed")
            shape = tuple(max(index[d] for _, index in idx) + 1 for d in range(len(idx[0][1])))
        size = int(np.prod(shape)) if shape else 1
        if var not in dims or dims[var] != size or len(idx) != size:
            raise ValueError(f"reference_draws/{name}.json.zip: {var} has {len(idx)} labels of shape {shape}, "
                             f"posteriors/{name}.json states dimension {dims.get(var)}")
        array = np.empty(values.shape[::2] + shape)  # (chain, draw, *shape)
        for i, index in idx:
            array[(slice(None), slice(None), *index)] = values[:, i, :]
        if not np.all(np.isfinite(array)):
            raise ValueError(f"reference_draws/{name}.json.zip: {var} has non-finite draws")
        out[var] = array
    missing = sorted(set(dims) - set(out))
    if missing:
        raise ValueError(f"reference_draws/{name}.json.zip: no draws of {missing} (posteriors/{name}.json states them)")
    return out


def reference_idata(name: str, model=None, *, extra: dict | None = None):
    """The reference draws of posterior ``name`` as InferenceData: a posterior group ``(chain: 10, draw: 1000)``.

    Parameters
    ----------
    name : str
    model : pymc.Model, optional
        Gives each variable its dims and coordinate labels (``beta[intercept]`` for Stan's ``beta[1]``), by
        position along each axis; without it ArviZ's default dims.
    extra : dict of str to array, optional
        Further variables, ``(chain, draw, *shape)`` (e.g. a model's free variables derived from the
        reference's, for the log-likelihood).

    Returns
    -------
    arviz.InferenceData
        Posterior attributes: ``source`` (:data:`RELEASE` and the posterior), ``method`` (:attr:`BankPosterior.method`),
        ``licence``, and ``sampling_time`` 0 (not ours to time).  MCSEs computed from it with ArviZ are the
        reference run's own (10 chains).
    """
    import arviz as az

    arrays = {**reference_arrays(name), **(extra or {})}
    dims, coords = {}, {}
    for var, array in arrays.items():
        model_dims = model.named_vars_to_dims.get(var) if model is not None and var in model.named_vars else None
        if model_dims and len(model_dims) == array.ndim - 2:
            dims[var] = list(model_dims)
            coords.update({d: list(model.coords[d]) for d in model_dims if model.coords.get(d) is not None})
    idata = az.from_dict(posterior=arrays, dims=dims, coords=coords)
    posterior = load(name)
    idata.posterior.attrs.update({"source": f"{RELEASE}: reference_draws/{name}.json", "method": posterior.method,
                                  "licence": posterior.licence, "sampling_time": 0.0})
    return idata
