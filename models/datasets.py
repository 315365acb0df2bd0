"""Loaders for the data bundled in ``models/data/``.

Each loader returns a :class:`Dataset`: the arrays, a one-paragraph description, and the provenance lines
copied from the file's header (or from ``models/data/README.md``).  Nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from io import StringIO

import numpy as np

__all__ = ["Dataset", "load_newcomb", "NEWCOMB_OUTLIERS", "load_diabetes", "DIABETES_FEATURES", "load_snelson",
           "UCI_DATASETS", "load_uci", "load_breast_cancer"]

#: The two values of Newcomb's series that are well-known outliers (Gelman et al., BDA3, sec. 3.2).
NEWCOMB_OUTLIERS = (-44.0, -2.0)


@dataclass(frozen=True)
class Dataset(Mapping):
    """A bundled data set; read-only mapping of its arrays (``data["x"]`` is ``data.arrays["x"]``), so a
    problem's model builder and samplers read a bundled data set and a user's dict of arrays alike.

    Attributes
    ----------
    name : str
        Short identifier, e.g. ``"newcomb"``.
    arrays : dict of str to numpy.ndarray
        The data; shapes and units are given in ``description``.
    description : str
        What the data are, their shapes and units.
    provenance : tuple of str
        The source lines kept from the bundled file.
    """

    name: str
    arrays: dict[str, np.ndarray]
    description: str
    provenance: tuple[str, ...] = field(default=())

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]

    def __iter__(self):
        return iter(self.arrays)

    def __len__(self) -> int:
        return len(self.arrays)

    __hash__ = object.__hash__  # Mapping sets __hash__ to None; a frozen data set is hashed by identity


def _read_text(filename: str) -> str:
    return resources.files("bayes_zoo.models").joinpath("data", filename).read_text(encoding="utf-8")


def load_newcomb(*, drop_outliers: bool = False) -> Dataset:
    """Newcomb's 1882 speed-of-light measurements.

    Parameters
    ----------
    drop_outliers : bool, default False
        Drop the two well-known outliers (-44 and -2), leaving 64 values.

    Returns
    -------
    Dataset
        ``arrays["x"]`` has shape ``(66,)`` (``(64,)`` without outliers), float64, in nanoseconds as a
        deviation from 24,800 ns: the time light took to travel about 7442 m.
    """
    text = _read_text("newcomb_light.txt")
    header = tuple(line.lstrip("# ").rstrip() for line in text.splitlines() if line.startswith("#"))
    values = np.array(
        [float(tok) for line in text.splitlines() if not line.startswith("#") for tok in line.split()],
        dtype=np.float64,
    )
    if drop_outliers:
        values = values[~np.isin(values, NEWCOMB_OUTLIERS)]
    kept = "without" if drop_outliers else "with"
    description = (
        f"Newcomb's speed-of-light measurements, {values.size} values ({kept} the outliers -44 and -2), "
        "in ns as deviations from 24,800 ns."
    )
    return Dataset("newcomb", {"x": values}, description, header)


#: Column names of the diabetes data's ten baseline variables, in file order.
DIABETES_FEATURES = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")


def load_diabetes() -> Dataset:
    """The diabetes data of Efron, Hastie, Johnstone and Tibshirani (2004), raw and unstandardised.

    Returns
    -------
    Dataset
        ``arrays["X"]`` shape ``(442, 10)`` (age in years, sex coded 1/2, bmi, mean blood pressure, six
        blood serum measurements), ``arrays["y"]`` shape ``(442,)`` (a quantitative measure of disease
        progression one year after baseline); ``arrays["feature_names"]`` the ten column names.
        :func:`bayes_zoo.models.spike_slab.standardise` prepares them for the spike-and-slab model.
    """
    text = _read_text("diabetes.csv")
    lines = text.splitlines()
    header = tuple(line.lstrip("# ").rstrip() for line in lines if line.startswith("#"))
    body = [line for line in lines if not line.startswith("#")]
    columns = body[0].split(",")
    if tuple(columns[:10]) != DIABETES_FEATURES or columns[10] != "target":
        raise ValueError(f"diabetes.csv: unexpected columns {columns}")
    values = np.array([[float(v) for v in line.split(",")] for line in body[1:] if line.strip()])
    description = "Diabetes data (Efron et al. 2004): 442 patients, 10 baseline variables, disease progression after one year."
    return Dataset("diabetes", {"X": values[:, :10], "y": values[:, 10], "feature_names": np.array(DIABETES_FEATURES)},
                   description, header)


def _read_column(filename: str) -> tuple[np.ndarray, tuple[str, ...]]:
    text = _read_text(filename)
    header = tuple(line.lstrip("# ").rstrip() for line in text.splitlines() if line.startswith("#"))
    values = np.array([float(line) for line in text.splitlines() if line.strip() and not line.startswith("#")])
    return values, header


def load_snelson() -> Dataset:
    """Snelson's 1-D regression data, as distributed with the SPGP code (Snelson & Ghahramani 2006).

    Returns
    -------
    Dataset
        ``arrays["X"]`` shape ``(200, 1)`` and ``arrays["y"]`` shape ``(200,)``: the training inputs and
        outputs; ``arrays["X_test"]`` shape ``(301, 1)``: the test inputs (an even grid on [-3, 10], no
        outputs).  Unitless.
    """
    x, header = _read_column("snelson/train_inputs.dat")
    y, _ = _read_column("snelson/train_outputs.dat")
    x_test, _ = _read_column("snelson/test_inputs.dat")
    if x.shape != y.shape:
        raise ValueError(f"snelson: {x.size} training inputs but {y.size} outputs")
    description = ("Snelson's 1-D data (Snelson & Ghahramani 2006): 200 noisy training points on about [0, 6], "
                   "301 test inputs on [-3, 10].")
    return Dataset("snelson", {"X": x[:, None], "y": y, "X_test": x_test[:, None]}, description, header[:1])


#: Public names of the UCI regression sets bundled for active learning, as :func:`load_uci` takes them.
UCI_DATASETS = ("yacht", "boston", "energy", "concrete", "power-plant")

# public name -> (folder under data/uci, title, documented (N, D), what y is)
_UCI = {
    "yacht": ("yacht", "Yacht Hydrodynamics", (308, 6), "residuary resistance per unit weight of displacement (dimensionless)"),
    "boston": ("bostonHousing", "Boston Housing", (506, 13), "median value of owner-occupied homes in $1000s"),
    "energy": ("energy", "Energy Efficiency", (768, 8),
               "heating load in kWh/m^2 (the first of the original two targets; cooling load is not bundled)"),
    "concrete": ("concrete", "Concrete Compressive Strength", (1030, 8), "compressive strength in MPa"),
    "power-plant": ("power-plant", "Combined Cycle Power Plant", (9568, 4), "net hourly electrical energy output in MW"),
}


def _readme_source(filename: str) -> tuple[str, ...]:
    """The source cell of the row for ``filename`` in ``models/data/README.md``."""
    for line in _read_text("README.md").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].split(",")[0].strip() == filename:
            return (cells[2],)
    raise ValueError(f"README.md: no provenance row for {filename}")


def _load_matrix(filename: str) -> np.ndarray:
    return np.loadtxt(StringIO(_read_text(filename)), dtype=np.float64, ndmin=2)


def load_uci(name: str) -> Dataset:
    """One of the UCI regression sets used for active learning (as in Pinsler et al. 2019).

    Parameters
    ----------
    name : {"yacht", "boston", "energy", "concrete", "power-plant"}
        Which set; see :data:`UCI_DATASETS`.

    Returns
    -------
    Dataset
        ``arrays["X"]`` float64 of shape ``(N, D)``, the raw (unstandardised) features in their original
        units; ``arrays["y"]`` float64 of shape ``(N,)``, the target; ``arrays["feature_columns"]`` int64
        of shape ``(D,)``, the 0-based columns of ``data.txt`` that make up ``X`` (from
        ``index_features.txt``; the target column comes from ``index_target.txt``).

        =============  =====  ==  ============================================================
        name           N      D   y
        =============  =====  ==  ============================================================
        yacht          308    6   residuary resistance per unit weight of displacement
        boston         506    13  median value of owner-occupied homes, $1000s (capped at 50)
        energy         768    8   heating load, kWh/m^2
        concrete       1030   8   compressive strength, MPa
        power-plant    9568   4   net hourly electrical energy output, MW
        =============  =====  ==  ============================================================

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`UCI_DATASETS`, or the bundled file does not have the documented
        shape or holds a non-finite value.
    """
    if name not in _UCI:
        raise ValueError(f"name: unknown UCI data set {name!r}; expected one of {', '.join(UCI_DATASETS)}")
    folder, title, (n, d), target = _UCI[name]
    data = _load_matrix(f"uci/{folder}/data.txt")
    features = _load_matrix(f"uci/{folder}/index_features.txt").ravel().astype(np.int64)
    target_column = _load_matrix(f"uci/{folder}/index_target.txt").ravel().astype(np.int64)
    if target_column.size != 1:
        raise ValueError(f"{name}: index_target.txt gives {target_column.size} columns, expected 1")
    used = np.append(features, target_column)
    if np.any(used < 0) or np.any(used >= data.shape[1]) or np.unique(used).size != used.size:
        raise ValueError(f"{name}: index files name columns {used.tolist()} but data.txt has {data.shape[1]} columns")
    if (data.shape[0], features.size) != (n, d):
        raise ValueError(f"{name}: data.txt gives {data.shape[0]} x {features.size} features, expected {n} x {d}")
    if not np.all(np.isfinite(data[:, used])):
        raise ValueError(f"{name}: data.txt holds non-finite values")
    X = np.ascontiguousarray(data[:, features])
    y = data[:, target_column[0]].copy()
    description = f"UCI {title} ({name!r}): {n} rows, {d} features; y is the {target}."
    return Dataset(name, {"X": X, "y": y, "feature_columns": features}, description,
                   _readme_source(f"uci/{folder}/data.txt"))


def load_breast_cancer() -> Dataset:
    """Breast Cancer Wisconsin (Diagnostic) data (Wolberg, Street & Mangasarian 1995).

    Returns
    -------
    Dataset
        ``arrays["X"]`` float64 of shape ``(569, 30)``: ten cell-nucleus measurements from a digitised
        image of a fine-needle aspirate (radius, texture, perimeter, area, smoothness, compactness,
        concavity, concave points, symmetry, fractal dimension), each as mean, standard error and worst
        value; raw, unstandardised.  ``arrays["y"]`` int64 of shape ``(569,)``: 1 = benign (357),
        0 = malignant (212).  ``arrays["feature_names"]`` the 30 column names, in file order.
    """
    text = _read_text("breast_cancer.csv")
    lines = text.splitlines()
    header = tuple(line.lstrip("# ").rstrip() for line in lines if line.startswith("#"))
    body = [line for line in lines if line.strip() and not line.startswith("#")]
    columns = [c.strip() for c in body[0].split(",")]
    if len(columns) != 31 or columns[-1] != "label":
        raise ValueError(f"breast_cancer.csv: unexpected columns {columns}")
    values = np.loadtxt(StringIO("\n".join(body[1:])), delimiter=",", dtype=np.float64, ndmin=2)
    if values.shape != (569, 31) or not np.all(np.isfinite(values)):
        raise ValueError(f"breast_cancer.csv: expected 569 finite rows of 31 values, got shape {values.shape}")
    labels = values[:, -1]
    if not np.all(np.isin(labels, (0.0, 1.0))):
        raise ValueError("breast_cancer.csv: labels other than 0 and 1")
    y = labels.astype(np.int64)
    description = (f"Breast Cancer Wisconsin (Diagnostic): 569 tumours, 30 real-valued features; "
                   f"y = 1 benign ({int(y.sum())}), 0 malignant ({int((y == 0).sum())}).")
    return Dataset("breast_cancer", {"X": values[:, :30].copy(), "y": y, "feature_names": np.array(columns[:30])},
                   description, header)
