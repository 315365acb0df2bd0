"""models.datasets: the bundled data load as documented, with provenance."""

import numpy as np

from models.datasets import NEWCOMB_OUTLIERS, load_newcomb, load_snelson


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
    from models.datasets import DIABETES_FEATURES, load_diabetes

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
