"""bayes_zoo.models.datasets: the bundled data load as documented, with provenance."""

import numpy as np
import pytest

from bayes_zoo.models.datasets import (
    NEWCOMB_OUTLIERS,
    UCI_DATASETS,
    load_breast_cancer,
    load_newcomb,
    load_snelson,
    load_uci,
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
