"""inference.gp.linalg: Cholesky with jitter escalation, a warning when more jitter was needed, a clear error."""

from __future__ import annotations

import numpy as np
import pytest

from inference.gp.linalg import JitterWarning, cholesky
from models.gp import exp_quad


def test_a_well_conditioned_matrix_gets_exactly_the_jitter_asked_for():
    A = np.array([[2.0, 0.5], [0.5, 1.0]])
    L, j = cholesky(A, jitter=1e-6)
    assert j == 1e-6
    np.testing.assert_allclose(L @ L.T, A + 1e-6 * np.eye(2), rtol=1e-14)


def test_duplicate_inputs_without_noise_get_more_jitter_with_a_warning():
    K = exp_quad(np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, 1.0]), 1.0, 1.0)  # rank 2
    with pytest.warns(JitterWarning, match="added jitter"):
        L, j = cholesky(K)
    assert 0 < j <= 1e-4 and np.all(np.isfinite(L))


def test_an_indefinite_matrix_is_a_clear_error_naming_the_fix():
    with pytest.raises(ValueError, match="raise sigma"):
        cholesky(np.array([[1.0, 0.0], [0.0, -1.0]]))


@pytest.mark.parametrize("A, jitter, name", [(np.ones((2, 3)), 0.0, "A"), (np.eye(2), -1.0, "jitter")])
def test_bad_arguments_are_named(A, jitter, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        cholesky(A, jitter=jitter)
