"""Loaders for the data bundled in ``models/data/``.

Each loader returns a :class:`Dataset`: the arrays, a one-paragraph description, and the provenance lines
copied from the file's header (or from ``models/data/README.md``).  Nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

import numpy as np

__all__ = ["Dataset", "load_newcomb", "NEWCOMB_OUTLIERS", "load_diabetes", "DIABETES_FEATURES", "load_snelson"]

#: The two values of Newcomb's series that are well-known outliers (Gelman et al., BDA3, sec. 3.2).
NEWCOMB_OUTLIERS = (-44.0, -2.0)


@dataclass(frozen=True)
class Dataset:
    """A bundled data set.

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


def _read_text(filename: str) -> str:
    return resources.files("models").joinpath("data", filename).read_text(encoding="utf-8")


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
        :func:`models.spike_slab.standardise` prepares them for the spike-and-slab model.
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
