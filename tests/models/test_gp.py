"""models.gp: the squared-exponential kernel, its hyperparameters and the input checks."""

from __future__ import annotations

import numpy as np
import pytest

from models import gp


def test_exp_quad_equals_pymc_expquad_with_ard_lengthscales():
    import pymc as pm

    rng = np.random.default_rng(0)
    X, Z = rng.normal(size=(7, 2)), rng.normal(size=(5, 2))
    ours = gp.exp_quad(X, Z, 1.7, [0.5, 2.0])
    theirs = (1.7**2 * pm.gp.cov.ExpQuad(2, ls=[0.5, 2.0]))(X, Z).eval()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


def test_exp_quad_is_symmetric_with_eta_squared_on_the_diagonal():
    X = np.linspace(0, 1, 6)
    K = gp.exp_quad(X, X, 0.8, 0.3)
    np.testing.assert_array_equal(K, K.T)
    np.testing.assert_allclose(np.diag(K), gp.exp_quad_diag(X, 0.8), rtol=0, atol=1e-15)


def test_exp_quad_matches_the_formula_elementwise():
    x, z = np.array([0.0, 1.0]), np.array([0.5])
    expected = 2.0**2 * np.exp(-((x[:, None] - z[None, :]) ** 2) / (2 * 0.7**2))
    np.testing.assert_allclose(gp.exp_quad(x, z, 2.0, 0.7), expected, rtol=1e-14)


def test_one_dimensional_inputs_become_a_column():
    assert gp.as_inputs([1.0, 2.0, 3.0]).shape == (3, 1)


@pytest.mark.parametrize(
    "X, message",
    [([[np.nan]], "^X: holds 1 non-finite"), (np.zeros((2, 2, 2)), "^X: expected shape"), ([], "^X: is empty"),
     ("abc", "^X: expected an array")],
)
def test_bad_inputs_are_named(X, message):
    with pytest.raises(ValueError, match=message):
        gp.as_inputs(X)


@pytest.mark.parametrize(
    "kwargs, name",
    [({"eta": 0.0}, "eta"), ({"eta": np.inf}, "eta"), ({"lengthscale": -1.0}, "lengthscale"),
     ({"lengthscale": [1.0, 0.0]}, "lengthscale"), ({"sigma": -0.1}, "sigma"), ({"sigma": np.nan}, "sigma")],
)
def test_hyperparameters_reject_bad_values_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        gp.GPHyperparameters(**{"eta": 1.0, "lengthscale": 1.0, "sigma": 0.1, **kwargs})


def test_ard_lengthscales_must_match_the_input_dimension():
    with pytest.raises(ValueError, match="^lengthscale: 2 ARD"):
        gp.exp_quad(np.zeros((3, 3)), np.zeros((2, 3)), 1.0, [1.0, 2.0])
