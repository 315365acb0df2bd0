"""bayes_zoo.active_learning.gram: the three ways of reading K agree with K itself; bad input is named."""

from __future__ import annotations

import numpy as np
import pytest

from bayes_zoo.active_learning.gram import DenseGram, LinearFisherGram, ProjectionGram


def _fisher_inputs(seed=0, n=9, d=3):
    """Pool features X (n, d), a factor C with Sigma = C C^T (SPD), and a scale."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    C = rng.standard_normal((d, d)) + 0.5 * np.eye(d)
    return X, C, C @ C.T, 0.7


def _methods(gram):
    """diag, row_sums and every column, stacked: what Frank-Wolfe reads of K."""
    return gram.diag(), gram.row_sums(), np.column_stack([gram.column(f) for f in range(gram.size)])


# ------------------------------------------------------------------------------------------- LinearFisherGram


def test_linear_fisher_diag_row_sums_and_columns_equal_its_dense_matrix():
    X, _, cov, scale = _fisher_inputs()
    gram = LinearFisherGram(X, cov, scale)
    K = gram.dense()
    diag, rows, cols = _methods(gram)
    np.testing.assert_allclose(diag, np.diag(K), rtol=1e-12)
    np.testing.assert_allclose(rows, K.sum(axis=1), rtol=1e-12, atol=1e-12 * np.abs(K).sum())
    np.testing.assert_allclose(cols, K, rtol=1e-12, atol=1e-14 * np.abs(K).max())


def test_linear_fisher_dense_matrix_is_the_explicit_formula():
    """K[n, m] = scale (x_n . x_m)(x_n^T Sigma x_m), entry by entry."""
    X, _, cov, scale = _fisher_inputs(seed=1)
    K = LinearFisherGram(X, cov, scale).dense()
    n = X.shape[0]
    explicit = np.array([[scale * (X[i] @ X[j]) * (X[i] @ cov @ X[j]) for j in range(n)] for i in range(n)])
    np.testing.assert_allclose(K, explicit, rtol=1e-12, atol=1e-14 * np.abs(explicit).max())


def test_linear_fisher_is_the_gram_matrix_of_the_kronecker_features():
    """With Sigma = C C^T, K = scale Phi Phi^T for the D^2 features phi_n = x_n (x) C^T x_n."""
    X, C, cov, scale = _fisher_inputs(seed=2, n=11, d=4)
    Phi = np.array([np.kron(x, C.T @ x) for x in X])  # [N, D^2]
    assert Phi.shape == (11, 16)
    expected = scale * Phi @ Phi.T
    gram = LinearFisherGram(X, cov, scale)
    diag, rows, cols = _methods(gram)
    np.testing.assert_allclose(cols, expected, rtol=1e-10, atol=1e-12 * np.abs(expected).max())
    np.testing.assert_allclose(diag, np.diag(expected), rtol=1e-10)
    np.testing.assert_allclose(rows, expected.sum(axis=1), rtol=1e-10, atol=1e-12 * np.abs(expected).sum())


@pytest.mark.parametrize("X, cov, scale, name", [
    (np.ones(4), np.eye(1), 1.0, "X"),                                     # 1-D X
    (np.ones((4, 2, 1)), np.eye(2), 1.0, "X"),                             # 3-D X
    (np.array([[1.0, np.nan], [0.0, 1.0]]), np.eye(2), 1.0, "X"),          # NaN in X
    (np.ones((4, 2)), np.eye(3), 1.0, "cov"),                              # cov not D x D
    (np.ones((4, 2)), np.ones((2, 3)), 1.0, "cov"),                        # cov not square
    (np.ones((4, 2)), np.array([[1.0, 0.0], [0.0, np.inf]]), 1.0, "cov"),  # inf in cov
    (np.ones((4, 2)), np.eye(2), 0.0, "scale"),
    (np.ones((4, 2)), np.eye(2), -1.0, "scale"),
    (np.ones((4, 2)), np.eye(2), np.nan, "scale"),
    (np.ones((4, 2)), np.eye(2), np.inf, "scale"),
])
def test_linear_fisher_rejects_bad_input_naming_the_argument(X, cov, scale, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        LinearFisherGram(X, cov, scale)


# --------------------------------------------------------------------------------------------- ProjectionGram


def test_projection_gram_methods_equal_those_of_G_G_transpose():
    G = np.random.default_rng(3).standard_normal((13, 5))
    K = G @ G.T
    diag, rows, cols = _methods(ProjectionGram(G))
    np.testing.assert_allclose(diag, np.diag(K), rtol=1e-12)
    np.testing.assert_allclose(rows, K.sum(axis=1), rtol=1e-12, atol=1e-12 * np.abs(K).sum())
    np.testing.assert_allclose(cols, K, rtol=1e-12, atol=1e-14 * np.abs(K).max())


@pytest.mark.parametrize("G", [np.ones(5), np.array([[1.0, np.nan], [0.0, 1.0]]), np.full((3, 2), -np.inf)])
def test_projection_gram_rejects_non_2d_or_non_finite_G(G):
    with pytest.raises(ValueError, match="^G:"):
        ProjectionGram(G)


# ------------------------------------------------------------------------------------------------- DenseGram


def test_dense_gram_methods_read_the_matrix_given():
    A = np.random.default_rng(4).standard_normal((6, 3))
    K = A @ A.T
    diag, rows, cols = _methods(DenseGram(K))
    np.testing.assert_allclose(diag, np.diag(K), rtol=1e-15)
    np.testing.assert_allclose(rows, K.sum(axis=1), rtol=1e-12)
    np.testing.assert_array_equal(cols, K)


@pytest.mark.parametrize("K, why", [
    (np.ones((2, 3)), "non-square"),
    (np.ones(4), "not 2-D"),
    (np.array([[1.0, 0.5], [0.4, 1.0]]), "asymmetric"),
    (np.array([[1.0, np.nan], [np.nan, 1.0]]), "NaN"),
    (np.array([[-1.0, 0.0], [0.0, 1.0]]), "negative diagonal"),
])
def test_dense_gram_rejects_a_matrix_that_is_not_a_gram_matrix(K, why):
    with pytest.raises(ValueError, match="^K:"):
        DenseGram(K)
