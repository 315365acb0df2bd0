"""bayes_zoo.inference.gp.linalg: Cholesky with jitter escalation, a warning when more jitter was needed, a clear error;
the compiled BLAS calls FITC folds with."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from bayes_zoo.inference.gp.linalg import DSYRK, DTRSM, JitterWarning, add_gram_rows, cholesky, solve_lower_rows
from bayes_zoo.models.gp import exp_quad


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


def _lower_and_rows(m=6, n=11, seed=0):
    rng = np.random.default_rng(seed)
    L = np.linalg.cholesky(np.cov(rng.normal(size=(m, 3 * m))) + np.eye(m))
    return L, rng.normal(size=(n, m))


def test_solve_lower_rows_solves_every_row_with_l_in_place():
    L, R = _lower_and_rows()
    expected = linalg.solve_triangular(L, R.T, lower=True).T
    solve_lower_rows(DTRSM, L + np.triu(np.full_like(L, 9.0), 1), R)  # the upper triangle is not read
    np.testing.assert_allclose(R, expected, rtol=1e-13, atol=1e-14)


def test_add_gram_rows_adds_r_transpose_r_to_the_lower_triangle_only():
    _, R = _lower_and_rows()
    C = np.asfortranarray(np.arange(36.0).reshape(6, 6))
    before = C.copy()
    add_gram_rows(DSYRK, R, C)
    np.testing.assert_allclose(np.tril(C), np.tril(before + R.T @ R), rtol=1e-13)
    np.testing.assert_array_equal(np.triu(C, 1), np.triu(before, 1))


def test_compiled_blas_calls_refuse_arrays_in_the_other_memory_order():
    L, R = _lower_and_rows()
    with pytest.raises(ValueError, match="C-contiguous"):
        solve_lower_rows(DTRSM, np.asfortranarray(L), R)
    with pytest.raises(ValueError, match="Fortran-contiguous C"):
        add_gram_rows(DSYRK, R, np.zeros((6, 6)))


def test_compiled_blas_calls_refuse_other_dtypes_and_shapes_blas_would_overrun():
    L, R = _lower_and_rows()  # L: 6 x 6, R: 11 x 6
    with pytest.raises(ValueError, match="float64"):
        solve_lower_rows(DTRSM, L, R.astype(np.float32))
    with pytest.raises(ValueError, match="float64"):
        add_gram_rows(DSYRK, R.astype(np.int64), np.zeros((6, 6), order="F"))
    with pytest.raises(ValueError, match="^L: "):
        solve_lower_rows(DTRSM, L[:3, :3].copy(), R)
    with pytest.raises(ValueError, match="^C: "):
        add_gram_rows(DSYRK, R, np.zeros((2, 2), order="F"))


def test_jitter_reported_prints_the_jitter_warnings_as_one_line_and_passes_other_warnings_on(capsys):
    import warnings

    from bayes_zoo.inference.gp.linalg import jitter_reported

    X = np.zeros((3, 1))  # three identical inputs: K is singular, jitter escalates
    with pytest.warns(RuntimeWarning, match="other"):
        with jitter_reported("here") as caught:
            cholesky(exp_quad(X, X, 1.0, 1.0))
            cholesky(exp_quad(X, X, 1.0, 1.0))
            warnings.warn("other", RuntimeWarning)
    assert sum(issubclass(w.category, JitterWarning) for w in caught) == 2
    out = capsys.readouterr().out
    assert out.startswith("[here] 2 JitterWarning(s) caught; the first: ") and out.count("\n") == 1


def test_jitter_reported_prints_nothing_without_jitter_warnings(capsys):
    from bayes_zoo.inference.gp.linalg import jitter_reported

    with jitter_reported("here"):
        cholesky(np.eye(3))
    assert capsys.readouterr().out == ""
