"""Loaders for the data bundled in ``models/data/``, and for a user's regression data in the same UCI layout
(:func:`load_uci_folder`) or as a CSV file (:func:`load_csv`).

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
           "UCI_DATASETS", "UCI_FILES", "MIN_ROWS", "load_uci", "load_uci_folder", "load_csv", "load_breast_cancer"]

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


#: Fewest rows :func:`load_uci_folder` and :func:`load_csv` accept (one row has no spread to learn from).
MIN_ROWS = 2

#: The files of a folder in the UCI layout, as :func:`load_uci_folder` reads them.
UCI_FILES = ("data.txt", "index_features.txt", "index_target.txt")


def _parse_table(text: str, label: str) -> tuple[np.ndarray, np.ndarray]:
    """Whitespace-separated numbers (``#`` starts a comment line, blank lines skipped) as a float64 ``(rows,
    columns)`` array, and the 1-based line number of each row.  ``label`` names the file in the errors.

    Raises
    ------
    ValueError
        Naming ``label``: no numbers, a line with another number of values than the first, a non-numeric value
        (its line and 0-based column).  NaN and inf parse (see :func:`_check_finite`).
    """
    rows = [(number, line.split()) for number, line in enumerate(text.splitlines(), start=1)
            if line.strip() and not line.lstrip().startswith("#")]
    if not rows:
        raise ValueError(f"{label}: empty file (no numbers)")
    width = len(rows[0][1])
    for number, tokens in rows:
        if len(tokens) != width:
            raise ValueError(f"{label}: line {number} has {len(tokens)} values, but line {rows[0][0]} has {width}")
    lines = np.array([number for number, _ in rows], dtype=np.int64)
    try:
        return np.array([tokens for _, tokens in rows], dtype=np.float64), lines
    except ValueError:
        pass
    for number, tokens in rows:
        for column, token in enumerate(tokens):
            try:
                float(token)
            except ValueError:
                raise ValueError(f"{label}: non-numeric value {token!r} at line {number}, column {column} "
                                 f"(0-based)") from None
    raise AssertionError("unreachable: numpy refused a table every token of which parses")


def _check_finite(values: np.ndarray, label: str, lines: np.ndarray, names) -> None:
    """Refuse missing (NaN) and infinite values of the 2-D ``values``, whose row ``i`` is line ``lines[i]`` of
    the file ``label`` and whose column ``j`` is called ``names[j]``."""
    bad = ~np.isfinite(values)
    if bad.any():
        row, column = np.argwhere(bad)[0]
        raise ValueError(f"{label}: {int(bad.sum())} missing or non-finite value(s) (NaN, inf or empty); the first "
                         f"at line {lines[row]}, column {names[column]} ({float(values[row, column])})")


def _check_rows(rows: int, label: str) -> None:
    if rows < MIN_ROWS:
        raise ValueError(f"{label}: {rows} data row(s); at least {MIN_ROWS} are needed")


def _column_indices(text: str, label: str) -> np.ndarray:
    values, _ = _parse_table(text, label)
    values = values.ravel()
    if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
        raise ValueError(f"{label}: column indices must be whole numbers, got {values.tolist()}")
    return values.astype(np.int64)


def _parse_uci(texts: Mapping[str, str], labels: Mapping[str, str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """``(X, y, feature_columns, target_column)`` from the texts of a UCI folder's :data:`UCI_FILES`; ``labels``
    names each file in the errors.  The one parsing and validation path of :func:`load_uci` and
    :func:`load_uci_folder`."""
    data, lines = _parse_table(texts["data.txt"], labels["data.txt"])
    features = _column_indices(texts["index_features.txt"], labels["index_features.txt"])
    target = _column_indices(texts["index_target.txt"], labels["index_target.txt"])
    if target.size != 1:
        raise ValueError(f"{labels['index_target.txt']}: gives {target.size} target columns {target.tolist()}, "
                         f"expected 1")
    width = data.shape[1]
    outside = [int(c) for c in np.append(features, target) if not 0 <= c < width]
    if outside:
        raise ValueError(f"{labels['index_features.txt']} and {labels['index_target.txt']}: columns {outside} do not "
                         f"exist; {labels['data.txt']} has {width} columns (0 to {width - 1})")
    repeated = sorted({int(c) for c in features if c in target or np.count_nonzero(features == c) > 1})
    if repeated:
        raise ValueError(f"{labels['index_features.txt']} and {labels['index_target.txt']}: column(s) {repeated} "
                         f"named more than once (as a feature twice, or as a feature and the target)")
    _check_rows(data.shape[0], labels["data.txt"])
    used = np.append(features, target)
    _check_finite(data[:, used], labels["data.txt"], lines, [f"{c} (0-based)" for c in used])
    return np.ascontiguousarray(data[:, features]), data[:, target[0]].copy(), features, int(target[0])


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
        If ``name`` is not one of :data:`UCI_DATASETS`, or the bundled files fail the checks of
        :func:`load_uci_folder` or do not have the documented shape.
    """
    if name not in _UCI:
        raise ValueError(f"name: unknown UCI data set {name!r}; expected one of {', '.join(UCI_DATASETS)}")
    folder, title, (n, d), target = _UCI[name]
    files = {f: f"uci/{folder}/{f}" for f in UCI_FILES}
    X, y, features, _ = _parse_uci({f: _read_text(path) for f, path in files.items()}, files)
    if X.shape != (n, d):
        raise ValueError(f"{name}: data.txt gives {X.shape[0]} x {X.shape[1]} features, expected {n} x {d}")
    description = f"UCI {title} ({name!r}): {n} rows, {d} features; y is the {target}."
    return Dataset(name, {"X": X, "y": y, "feature_columns": features}, description,
                   _readme_source(f"uci/{folder}/data.txt"))


def load_uci_folder(path) -> Dataset:
    """A user's regression data in the UCI layout of the bundled sets (``models/data/uci/yacht/``).

    Parameters
    ----------
    path : str or os.PathLike
        A folder holding ``data.txt`` (whitespace-separated numbers, one row per line; ``#`` lines are
        comments), ``index_features.txt`` (the 0-based columns of ``data.txt`` that are features, one per
        line) and ``index_target.txt`` (the one 0-based target column).

    Returns
    -------
    Dataset
        Named after the folder.  ``arrays["X"]`` float64 of shape ``(N, D)``, the features as given (units
        are the user's); ``arrays["y"]`` float64 of shape ``(N,)``, the target; ``arrays["feature_columns"]``
        int64 of shape ``(D,)``, the columns of ``data.txt`` in ``X``.  ``description`` names the path, N and D;
        ``provenance`` is the path.  Constant feature columns are kept (the learners' standardisation gives
        them scale 1), as in the bundled sets.  Columns of ``data.txt`` the index files do not name must be
        numbers but may be missing or non-finite.

    Raises
    ------
    ValueError
        Naming the file, before anything is returned: ``path`` is not a folder or lacks a file; a file cannot
        be read as UTF-8 text or has no numbers; a line of ``data.txt`` has another number of values than the
        first; a value is not a number (its line and column); a used column holds missing (NaN), infinite or
        empty values (how many, the first line and column); the index files name columns ``data.txt`` lacks,
        name one twice or name the target as a feature; ``index_target.txt`` gives more than one column; fewer
        than :data:`MIN_ROWS` rows.
    """
    from pathlib import Path

    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder (expected one holding {', '.join(UCI_FILES)})")
    missing = [f for f in UCI_FILES if not (folder / f).is_file()]
    if missing:
        raise ValueError(f"{folder}: missing {', '.join(missing)} (a UCI folder holds {', '.join(UCI_FILES)})")
    labels = {f: str(folder / f) for f in UCI_FILES}
    texts = {}
    for f in UCI_FILES:
        try:
            texts[f] = (folder / f).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise ValueError(f"{labels[f]}: cannot be read as text ({err})") from None
    X, y, features, target = _parse_uci(texts, labels)
    description = (f"User data from {folder}: {X.shape[0]} rows, {X.shape[1]} features (data.txt columns "
                   f"{features.tolist()}); y is data.txt column {target}.")
    return Dataset(folder.name, {"X": X, "y": y, "feature_columns": features}, description, (str(folder),))


def load_csv(path, target: str) -> Dataset:
    """A user's regression data from a CSV file with a header row.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file (comma-separated, first line the column names), read with :func:`pandas.read_csv`.
    target : str
        The name of the target column; every other column is a feature.

    Returns
    -------
    Dataset
        Named after the file's stem.  ``arrays["X"]`` float64 of shape ``(N, D)``, the feature columns in file
        order (units are the user's); ``arrays["y"]`` float64 of shape ``(N,)``, the target;
        ``arrays["feature_columns"]`` int64 of shape ``(D,)``, their 0-based positions in the file;
        ``arrays["feature_names"]`` their names.  ``description`` names the path, N, D and the target;
        ``provenance`` is the path.  Constant feature columns are kept (the learners' standardisation gives
        them scale 1).

    Raises
    ------
    ValueError
        Naming the file, before anything is returned: it does not exist, cannot be read or is empty; ``target`` is not a
        column (the columns are listed); no column besides the target; fewer than :data:`MIN_ROWS` data
        rows; a line with more values than the header (a short line leaves missing values); a non-numeric
        value (its column and first line); missing (empty, NA, NaN) or infinite values (how many, the first
        line and column).  Lines are numbered in the file, the header being line 1.
    """
    from pathlib import Path

    import pandas as pd

    file = Path(path)
    if not file.is_file():
        raise ValueError(f"{file}: no such file")
    try:
        table = pd.read_csv(file, dtype=str, skip_blank_lines=False)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{file}: empty file (no header row)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as err:
        import re

        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(err))
        if found:
            header, line, seen = found.groups()
            raise ValueError(f"{file}: line {line} has {seen} values, but the header names {header} columns") from None
        raise ValueError(f"{file}: {' '.join(str(err).split())}") from None
    columns = [str(c) for c in table.columns]
    if target not in columns:
        raise ValueError(f"{file}: no column {target!r} for the target; the columns are "
                         f"{', '.join(map(repr, columns))}")
    if len(columns) < 2:
        raise ValueError(f"{file}: only the target column {target!r}; no feature columns")
    _check_rows(len(table), str(file))
    lines = np.arange(len(table), dtype=np.int64) + 2
    numbers = table.apply(pd.to_numeric, errors="coerce")
    for j, name in enumerate(columns):
        text = table.iloc[:, j]
        bad = numbers.iloc[:, j].isna() & text.notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(f"{file}: non-numeric value {text.iloc[i]!r} in column {name!r}, first at line "
                             f"{lines[i]} ({int(bad.sum())} in that column)")
    values = numbers.to_numpy(dtype=np.float64)
    _check_finite(values, str(file), lines, [repr(c) for c in columns])
    t = columns.index(target)
    features = np.array([j for j in range(len(columns)) if j != t], dtype=np.int64)
    X = np.ascontiguousarray(values[:, features])
    description = (f"User data from {file}: {X.shape[0]} rows, {X.shape[1]} features; y is column {target!r}.")
    return Dataset(file.stem, {"X": X, "y": values[:, t].copy(), "feature_columns": features,
                               "feature_names": np.array([columns[j] for j in features])},
                   description, (str(file),))


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
