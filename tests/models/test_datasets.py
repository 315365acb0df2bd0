"""bayes_zoo.models.datasets: the bundled data load as documented, with provenance; a user's UCI folder and CSV
file load through the same checks, and bad files are refused naming the file and the problem."""

import shutil
from importlib import resources

import numpy as np
import pytest

from bayes_zoo.models.datasets import (
    NEWCOMB_OUTLIERS,
    UCI_DATASETS,
    load_breast_cancer,
    load_csv,
    load_newcomb,
    load_snelson,
    load_uci,
    load_uci_folder,
)


def test_newcomb_has_66_values_with_known_summary():
    data = load_newcomb()
    x = data.arrays["x"]
    assert x.shape == (66,) and x.dtype == np.float64
    assert x.sum() == 1730.0  # Stigler (1977): mean 26.21
    assert set(NEWCOMB_OUTLIERS) <= set(x)


def test_dropping_outliers_leaves_64_values():
    x = load_newcomb(drop_outliers=True).arrays["x"]
    assert x.shape == (64,) and not set(NEWCOMB_OUTLIERS) & set(x)


def test_provenance_lines_are_kept():
    assert any("Stigler (1977)" in line for line in load_newcomb().provenance)


def test_diabetes_has_442_rows_of_ten_named_features():
    from bayes_zoo.models.datasets import DIABETES_FEATURES, load_diabetes

    data = load_diabetes()
    assert data.arrays["X"].shape == (442, 10) and data.arrays["y"].shape == (442,)
    assert tuple(data.arrays["feature_names"]) == DIABETES_FEATURES
    assert set(np.unique(data.arrays["X"][:, 1])) == {1.0, 2.0}  # sex coded 1/2
    assert any("Efron" in line for line in data.provenance)


def test_snelson_has_200_training_pairs_and_301_test_inputs_as_columns():
    data = load_snelson()
    assert data.arrays["X"].shape == (200, 1) and data.arrays["y"].shape == (200,)
    assert data.arrays["X_test"].shape == (301, 1)
    assert np.all(np.isfinite(data.arrays["y"])) and "Snelson" in data.provenance[0]


# --- active-learning data: UCI regression sets and breast cancer -------------------------------------------------

UCI_SHAPES = {"yacht": (308, 6), "boston": (506, 13), "energy": (768, 8), "concrete": (1030, 8),
              "power-plant": (9568, 4)}


def test_uci_datasets_lists_the_five_documented_names():
    assert set(UCI_DATASETS) == set(UCI_SHAPES)


@pytest.mark.parametrize("name", sorted(UCI_SHAPES))
def test_uci_set_has_documented_shape_and_dtype(name):
    arrays = load_uci(name).arrays
    n, d = UCI_SHAPES[name]
    assert arrays["X"].shape == (n, d) and arrays["y"].shape == (n,)
    assert arrays["X"].dtype == np.float64 and arrays["y"].dtype == np.float64
    assert arrays["feature_columns"].shape == (d,)


@pytest.mark.parametrize("name", sorted(UCI_SHAPES))
def test_uci_set_values_are_finite(name):
    arrays = load_uci(name).arrays
    assert np.all(np.isfinite(arrays["X"])) and np.all(np.isfinite(arrays["y"]))


@pytest.mark.parametrize("name", sorted(UCI_SHAPES))
def test_uci_provenance_is_the_readme_row(name):
    assert load_uci(name).provenance[0].startswith("UCI Machine Learning Repository")


def test_boston_first_row_matches_raw_file():
    # first line of uci/bostonHousing/data.txt: 0.00632 18.00 2.310 0 0.5380 6.5750 65.20 4.0900 1 296.0 15.30
    # 396.90 4.98 24.00 (features are columns 0-12, target column 13)
    arrays = load_uci("boston").arrays
    assert arrays["X"][0, 0] == 0.00632 and arrays["X"][0, 12] == 4.98 and arrays["y"][0] == 24.0


def test_energy_target_is_heating_load_not_cooling_load():
    # first line of uci/energy/data.txt ends in 15.55, the heating load of UCI row 1 (its cooling load is 21.33)
    assert load_uci("energy").arrays["y"][0] == 15.55


def test_unknown_uci_name_raises_value_error_naming_the_argument():
    with pytest.raises(ValueError, match=r"^name:"):
        load_uci("nope")


def test_breast_cancer_has_569_rows_of_30_named_features():
    arrays = load_breast_cancer().arrays
    assert arrays["X"].shape == (569, 30) and arrays["X"].dtype == np.float64
    names = arrays["feature_names"]
    assert names.shape == (30,) and len(set(names)) == 30
    assert names[0] == "mean_radius" and names[-1] == "worst_fractal_dimension"


def test_breast_cancer_labels_are_357_benign_ones_and_212_malignant_zeros():
    y = load_breast_cancer().arrays["y"]
    assert y.shape == (569,) and y.dtype == np.int64
    assert set(np.unique(y)) == {0, 1}
    assert int((y == 1).sum()) == 357 and int((y == 0).sum()) == 212


def test_breast_cancer_provenance_lines_are_kept():
    provenance = load_breast_cancer().provenance
    assert any("Wolberg" in line for line in provenance)
    assert any("1 = benign" in line for line in provenance)


# --- a user's data: load_uci_folder and load_csv -------------------------------------------------------------


def _yacht_copy(tmp_path):
    folder = tmp_path / "yacht"
    with resources.as_file(resources.files("bayes_zoo.models").joinpath("data", "uci", "yacht")) as bundled:
        shutil.copytree(bundled, folder)
    return folder


def test_folder_loader_gives_the_bundled_yacht_exactly(tmp_path):
    mine, bundled = load_uci_folder(_yacht_copy(tmp_path)), load_uci("yacht")
    assert mine.name == "yacht" and sorted(mine) == sorted(bundled)
    for key in bundled:
        np.testing.assert_array_equal(mine[key], bundled[key])
        assert mine[key].dtype == bundled[key].dtype


def test_folder_loader_describes_the_path_rows_and_features(tmp_path):
    folder = _yacht_copy(tmp_path)
    data = load_uci_folder(folder)
    assert str(folder) in data.description and "308 rows, 6 features" in data.description
    assert data.provenance == (str(folder),)


def _write_folder(folder, data="1 2 3\n4 5 6\n7 8 10\n", features="0\n1\n", target="2\n"):
    folder.mkdir()
    for name, text in (("data.txt", data), ("index_features.txt", features), ("index_target.txt", target)):
        if text is not None:
            (folder / name).write_text(text, encoding="utf-8", errors="surrogateescape")  # \udcff: the byte 0xff
    return folder


def test_folder_loader_takes_the_columns_the_index_files_name(tmp_path):
    data = load_uci_folder(_write_folder(tmp_path / "mine", features="2\n0\n", target="1\n"))
    np.testing.assert_array_equal(data["X"], [[3, 1], [6, 4], [10, 7]])
    np.testing.assert_array_equal(data["y"], [2, 5, 8])


def test_csv_loader_round_trips_features_and_target(tmp_path):
    path = tmp_path / "plants.csv"
    path.write_text("width,yield,height\n1.5,10,3\n2.5,20,4\n-1e3,30,5\n")
    data = load_csv(path, "yield")
    assert data.name == "plants" and data.provenance == (str(path),)
    np.testing.assert_array_equal(data["X"], [[1.5, 3], [2.5, 4], [-1e3, 5]])
    np.testing.assert_array_equal(data["y"], [10, 20, 30])
    assert data["feature_names"].tolist() == ["width", "height"] and data["feature_columns"].tolist() == [0, 2]
    assert data["X"].dtype == np.float64 and data["X"].flags.c_contiguous


def test_a_constant_feature_column_is_kept_not_refused(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("a,k,y\n1,0.1,1\n2,0.1,2\n3,0.1,4\n")
    np.testing.assert_array_equal(load_csv(path, "y")["X"][:, 1], [0.1, 0.1, 0.1])


# (file written, its text or None to leave it out; what the message must say besides the file's name)
BAD_FOLDERS = {
    "missing data file": ({"data": None}, "data.txt", "missing data.txt"),
    "missing index file": ({"target": None}, "mine", "missing index_target.txt"),
    "empty data file": ({"data": ""}, "data.txt", "empty file"),
    "comments only": ({"data": "# nothing\n"}, "data.txt", "empty file"),
    "row of wrong length": ({"data": "1 2 3\n4 5\n7 8 9\n"}, "data.txt", "line 2 has 2 values, but line 1 has 3"),
    "non-numeric value": ({"data": "1 2 3\n4 five 6\n7 8 9\n"}, "data.txt", "'five' at line 2, column 1"),
    "NaN in a feature": ({"data": "1 2 3\n4 nan 6\nnan 8 9\n"}, "data.txt",
                         "2 missing or non-finite value(s) (NaN, inf or empty); the first at line 2, column 1"),
    "inf in the target": ({"data": "1 2 3\n4 5 6\n7 8 -inf\n"}, "data.txt", "first at line 3, column 2"),
    "feature column beyond the data": ({"features": "0\n3\n"}, "index_features.txt", "columns [3] do not exist"),
    "negative column": ({"target": "-1\n"}, "index_target.txt", "columns [-1] do not exist"),
    "target also a feature": ({"features": "0\n2\n"}, "index_target.txt", "column(s) [2] named more than once"),
    "feature named twice": ({"features": "0\n0\n"}, "index_features.txt", "column(s) [0] named more than once"),
    "two target columns": ({"target": "1\n2\n"}, "index_target.txt", "2 target columns [1, 2], expected 1"),
    "fractional index": ({"features": "0.5\n1\n"}, "index_features.txt", "whole numbers"),
    "empty index file": ({"features": ""}, "index_features.txt", "empty file"),
    "one row": ({"data": "1 2 3\n"}, "data.txt", "1 data row(s); at least 2"),
    "not UTF-8": ({"data": "1 2 \udcff\n"}, "data.txt", "cannot be read as text"),
}


@pytest.mark.parametrize("case", sorted(BAD_FOLDERS))
def test_bad_uci_folder_raises_naming_the_file_and_the_problem(tmp_path, case):
    files, name, problem = BAD_FOLDERS[case]
    folder = _write_folder(tmp_path / "mine", **files)
    with pytest.raises(ValueError) as err:
        load_uci_folder(folder)
    assert name in str(err.value) and problem in str(err.value)


def test_unused_columns_may_hold_missing_values(tmp_path):
    folder = _write_folder(tmp_path / "mine", data="1 2 3 nan\n4 5 6 inf\n", features="0\n1\n", target="2\n")
    assert load_uci_folder(folder)["X"].shape == (2, 2)


# (CSV text or None for no file, target; what the message must say besides the file's name)
BAD_CSVS = {
    "no such file": (None, "y", "no such file"),
    "empty file": ("", "y", "empty file"),
    "unknown target": ("a,b,y\n1,2,3\n4,5,6\n", "z", "no column 'z' for the target; the columns are 'a', 'b', 'y'"),
    "only the target": ("y\n1\n2\n", "y", "no feature columns"),
    "header only": ("a,y\n", "y", "0 data row(s); at least 2"),
    "one row": ("a,y\n1,2\n", "y", "1 data row(s); at least 2"),
    "row too long": ("a,y\n1,2\n3,4,5\n", "y", "line 3 has 3 values, but the header names 2 columns"),
    "non-numeric": ("a,y\n1,2\n3,4\nx,6\nz,7\n", "y", "non-numeric value 'x' in column 'a', first at line 4 (2 in"),
    "empty field": ("a,b,y\n1,2,3\n4,,6\n", "y",
                    "1 missing or non-finite value(s) (NaN, inf or empty); the first at line 3, column 'b'"),
    "short row": ("a,b,y\n1,2,3\n4,5\n", "y", "the first at line 3, column 'y'"),
    "NA and inf": ("a,y\n1,2\nNA,inf\n", "y", "2 missing or non-finite value(s)"),
}


@pytest.mark.parametrize("case", sorted(BAD_CSVS))
def test_bad_csv_raises_naming_the_file_and_the_problem(tmp_path, case):
    text, target, problem = BAD_CSVS[case]
    path = tmp_path / "mine.csv"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ValueError) as err:
        load_csv(path, target)
    assert str(path) in str(err.value) and problem in str(err.value)
