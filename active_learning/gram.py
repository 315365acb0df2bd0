"""The inner products ``K[n, m] = <L_n, L_m>`` that ACS-FW works with, never as an N x N matrix unless given one.

Frank–Wolfe (:mod:`bayes_zoo.active_learning.frank_wolfe`) needs ``K`` only through three things: its diagonal
(``sigma_n^2``), its row sums (``K 1``, the inner products with ``L = sum_n L_n``) and, once per iteration, one
column ``K[:, f]``.  Each class here provides those three for one way of forming ``K``:

* :class:`DenseGram` — a given symmetric positive semi-definite matrix (small pools, tests).
* :class:`ProjectionGram` — random projections (Pinsler et al. 2019, sec. 4):
  ``K = G G^T`` with ``G[n] = J^-1/2 [L_n(theta_1), ..., L_n(theta_J)]``; O(N J) memory.
* :class:`LinearFisherGram` — the weighted Fisher inner product of Bayesian linear regression in closed form
  (Pinsler et al. 2019, sec. 3.1)::

      <L_n, L_m>_F = scale * (x_n^T x_m) (x_n^T Sigma x_m)

  with ``scale = 1 / sigma^4`` when the noise variance is known and ``Sigma`` the posterior covariance of the
  weights; with the Normal-InverseGamma posterior ``w | sigma^2 ~ N(mu, sigma^2 V)``, ``sigma^2 ~ IG(a, b)``
  it is ``(x_n^T x_m)(x_n^T V x_m) E[sigma^-2]``, i.e. ``Sigma = V`` and ``scale = a / b``.  The product is an
  inner product of the D^2-dimensional features ``x_n (x) Sigma^1/2 x_n``, but neither those nor ``K`` are
  formed: a column is ``scale (X x_f) * (X Sigma x_f)`` (O(N D)) and the row sums are
  ``scale x_n^T (X^T X) Sigma x_n`` (O(N D^2)), so memory stays O(N D).

Every class validates its input (``ValueError`` naming the argument) and exposes ``size`` (N).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

__all__ = ["Gram", "DenseGram", "ProjectionGram", "LinearFisherGram", "finite_matrix", "COLUMN_BLOCK_ROWS"]

#: Rows of X per block of :meth:`LinearFisherGram.column` (2,048 x P float64: 1.6 MiB at P = 101, in cache).
COLUMN_BLOCK_ROWS = 2048


class Gram(Protocol):
    """What Frank–Wolfe reads of ``K`` (N x N, symmetric positive semi-definite)."""

    size: int

    def diag(self) -> np.ndarray:
        """``K[n, n] = sigma_n^2``, shape ``(N,)``."""

    def row_sums(self) -> np.ndarray:
        """``(K 1)[n] = <L_n, L>``, shape ``(N,)``."""

    def column(self, f: int) -> np.ndarray:
        """``K[:, f]``, shape ``(N,)``."""


def finite_matrix(value, name: str, *, rows: int | None = None, cols: int | None = None) -> np.ndarray:
    """A finite float64 2-D array, shape-checked; ``ValueError`` naming ``name`` otherwise."""
    a = np.asarray(value, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array, got shape {a.shape}")
    if (rows is not None and a.shape[0] != rows) or (cols is not None and a.shape[1] != cols):
        raise ValueError(f"{name}: expected shape ({rows}, {cols}), got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return a


class DenseGram:
    """``K`` given as a matrix.

    Parameters
    ----------
    K : array_like, shape (N, N)
        Symmetric (to 1e-10 relative) with a non-negative diagonal.

    Raises
    ------
    ValueError
        Naming ``K``: not square, not finite, not symmetric, or a negative diagonal entry.
    """

    def __init__(self, K):
        K = finite_matrix(K, "K")
        if K.shape[0] != K.shape[1]:
            raise ValueError(f"K: expected a square matrix, got shape {K.shape}")
        if not np.allclose(K, K.T, rtol=1e-10, atol=1e-12 * max(np.abs(K).max(initial=0.0), 1e-300)):
            raise ValueError("K: not symmetric")
        if np.any(np.diag(K) < 0.0):
            raise ValueError("K: negative diagonal entries (a Gram matrix has ||L_n||^2 >= 0 there)")
        self.K = K
        self.size = K.shape[0]

    def diag(self) -> np.ndarray:
        return np.diag(self.K).copy()

    def row_sums(self) -> np.ndarray:
        return self.K.sum(axis=1)

    def column(self, f: int) -> np.ndarray:
        return self.K[:, f]


class ProjectionGram:
    """``K = G G^T`` from projections ``G`` of shape ``(N, J)`` (already scaled by ``J^-1/2``).

    Parameters
    ----------
    G : array_like, shape (N, J)
        Row n is ``J^-1/2 [L_n(theta_1), ..., L_n(theta_J)]`` (see
        :func:`bayes_zoo.active_learning.projections.gaussian_projections`).

    Raises
    ------
    ValueError
        Naming ``G``: not 2-D or not finite.
    """

    def __init__(self, G):
        self.G = finite_matrix(G, "G")
        self.size = self.G.shape[0]

    def diag(self) -> np.ndarray:
        return np.einsum("nj,nj->n", self.G, self.G)

    def row_sums(self) -> np.ndarray:
        return self.G @ self.G.sum(axis=0)

    def column(self, f: int) -> np.ndarray:
        return self.G @ self.G[f]


class LinearFisherGram:
    """The closed-form weighted Fisher inner products of Bayesian linear regression (module docstring).

    Parameters
    ----------
    X : array_like, shape (N, D)
        Pool features (after any feature map; the same features the posterior is over).
    cov : array_like, shape (D, D)
        ``Sigma``: the posterior covariance of the weights (known noise), or ``V`` (Normal-InverseGamma).
    scale : float > 0
        ``1 / sigma^4`` (known noise) or ``E[sigma^-2] = a / b`` (Normal-InverseGamma).

    Raises
    ------
    ValueError
        Naming ``X``, ``cov`` or ``scale``.
    """

    def __init__(self, X, cov, scale: float):
        self.X = finite_matrix(X, "X")
        self.cov = finite_matrix(cov, "cov", rows=self.X.shape[1], cols=self.X.shape[1])
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"scale: expected a finite positive number, got {scale}")
        self.scale = float(scale)
        self.size = self.X.shape[0]
        self._X_cov = self.X @ self.cov  # [N, D] rows (Sigma x_n)^T

    def diag(self) -> np.ndarray:
        return self.scale * np.einsum("nd,nd->n", self.X, self.X) * np.einsum("nd,nd->n", self.X, self._X_cov)

    def row_sums(self) -> np.ndarray:
        gram = self.X.T @ self.X  # [D, D]
        return self.scale * np.einsum("nd,nd->n", self.X @ gram, self._X_cov)

    def column(self, f: int) -> np.ndarray:
        # Both products of a block of rows while the block is in cache: X is read from memory once a column,
        # not twice (1.7x faster at N = 200,000, P = 101; Frank-Wolfe's iterations are bound by these reads).
        x, x_cov = self.X[f], self._X_cov[f]
        out = np.empty(self.size)
        for start in range(0, self.size, COLUMN_BLOCK_ROWS):
            block, part = self.X[start:start + COLUMN_BLOCK_ROWS], out[start:start + COLUMN_BLOCK_ROWS]
            np.dot(block, x, out=part)
            part *= block @ x_cov
        out *= self.scale
        return out

    def dense(self) -> np.ndarray:
        """``K`` as an N x N matrix (tests and small pools only)."""
        return self.scale * (self.X @ self.X.T) * (self.X @ self._X_cov.T)
