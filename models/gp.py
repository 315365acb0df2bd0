"""Gaussian-process regression with the squared-exponential kernel: the kernel, its hyperparameters, inputs.

Model (Rasmussen & Williams 2006, GPML ch. 2)::

    f ~ GP(0, k),   k(x, x') = eta^2 exp(-sum_d (x_d - x'_d)^2 / (2 ell_d^2))     PyMC: eta**2 * pm.gp.cov.ExpQuad
    y = f(X) + e,   e ~ N(0, sigma^2 I)                                           X: (N, D), y: (N,)

``eta`` is the amplitude (prior sd of f, units of y), ``ell`` the lengthscale (units of x; one per input
dimension for ARD, or one shared), ``sigma`` the noise sd (units of y; 0 is the noiseless case, where a
jitter keeps the Gram matrix positive definite).

The kernel is written once, in :func:`exp_quad`, vectorised over both sets of inputs; everything else in the
zoo (exact GP, FITC, the PyMC comparisons) calls it.

Inputs: 2-D ``(N, D)`` arrays.  A 1-D array is accepted as N points of one dimension and reshaped to
``(N, 1)`` (documented behaviour, never a silent transpose).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.checks import finite_scalar, positive_scalar

__all__ = ["as_inputs", "GPHyperparameters", "exp_quad", "exp_quad_diag"]


def as_inputs(X, name: str = "X", *, dims: int | None = None) -> np.ndarray:
    """Validate GP inputs as a float64 array of shape ``(N, D)``.

    Parameters
    ----------
    X : array_like, shape (N, D) or (N,)
        A 1-D array is taken as N points in one dimension and returned as shape ``(N, 1)``.
    name : str
        Argument name for error messages.
    dims : int, optional
        Required number of columns D.

    Returns
    -------
    numpy.ndarray, shape (N, D)

    Raises
    ------
    ValueError
        Naming ``name``: not numeric, more than 2-D, empty, non-finite values, or not ``dims`` columns.
    """
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: expected an array of numbers ({err})") from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected shape (N, D) or (N,), got {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: is empty (shape {arr.shape})")
    bad = ~np.isfinite(arr)
    if bad.any():
        row = int(np.flatnonzero(bad.any(axis=1))[0])
        raise ValueError(f"{name}: holds {int(bad.sum())} non-finite value(s) (NaN or inf), first in row {row}")
    if dims is not None and arr.shape[1] != dims:
        raise ValueError(f"{name}: expected {dims} column(s), got {arr.shape[1]}")
    return arr


@dataclass(frozen=True)
class GPHyperparameters:
    """Hyperparameters of the squared-exponential GP regression model.

    Parameters
    ----------
    eta : float > 0
        Amplitude: the prior sd of f (units of y).
    lengthscale : float > 0, or sequence of floats > 0 of length D
        ell: one shared lengthscale, or one per input dimension (ARD), in units of x.
    sigma : float >= 0
        Noise sd (units of y); 0 is the noiseless model.

    Raises
    ------
    ValueError
        Naming the parameter, if one is not finite or out of range.
    """

    eta: float
    lengthscale: float | tuple[float, ...]
    sigma: float

    def __post_init__(self):
        object.__setattr__(self, "eta", positive_scalar(self.eta, "eta"))
        ell = np.asarray(self.lengthscale, dtype=np.float64) if not isinstance(self.lengthscale, str) else None
        if ell is None or ell.ndim > 1 or ell.size == 0:
            raise ValueError(f"lengthscale: expected a number or a 1-D sequence, got {self.lengthscale!r}")
        if not np.all(np.isfinite(ell)) or np.any(ell <= 0):
            raise ValueError(f"lengthscale: every value must be finite and > 0, got {self.lengthscale!r}")
        object.__setattr__(self, "lengthscale", float(ell) if ell.ndim == 0 else tuple(float(v) for v in ell))
        sigma = finite_scalar(self.sigma, "sigma")
        if sigma < 0:
            raise ValueError(f"sigma: must be >= 0, got {sigma}")
        object.__setattr__(self, "sigma", sigma)

    def lengthscales(self, dims: int) -> np.ndarray:
        """The lengthscale per input dimension, shape ``(dims,)``.

        Raises
        ------
        ValueError
            If ARD lengthscales were given for a different number of dimensions.
        """
        ell = np.atleast_1d(np.asarray(self.lengthscale, dtype=np.float64))
        if ell.size == 1:
            return np.full(dims, ell[0])
        if ell.size != dims:
            raise ValueError(f"lengthscale: {ell.size} ARD lengthscales for {dims}-dimensional inputs")
        return ell


def exp_quad(X1, X2, eta: float, lengthscale) -> np.ndarray:
    """The squared-exponential kernel matrix ``K[i, j] = eta^2 exp(-|(x1_i - x2_j) / ell|^2 / 2)``.

    The one place the kernel is written.  Squared distances are formed as ``|a|^2 + |b|^2 - 2 a.b`` on the
    inputs divided by ``ell`` and clipped at 0 (as PyMC's ``ExpQuad`` does), so rounding can never make a
    distance negative.

    Parameters
    ----------
    X1 : array_like, shape (N1, D) or (N1,)
    X2 : array_like, shape (N2, D) or (N2,)
    eta : float > 0
    lengthscale : float > 0 or array_like, shape (D,)

    Returns
    -------
    numpy.ndarray, shape (N1, N2)

    Raises
    ------
    ValueError
        For bad inputs (naming ``X1``/``X2``), mismatched dimensions, or bad ``eta``/``lengthscale``.
    """
    X1 = as_inputs(X1, "X1")
    X2 = as_inputs(X2, "X2", dims=X1.shape[1])
    hyper = GPHyperparameters(eta, lengthscale, 0.0)
    ell = hyper.lengthscales(X1.shape[1])
    A, B = X1 / ell, X2 / ell  # [N1, D], [N2, D]
    sq = (A**2).sum(axis=1)[:, None] + (B**2).sum(axis=1)[None, :] - 2.0 * A @ B.T  # [N1, N2]
    return hyper.eta**2 * np.exp(-0.5 * np.maximum(sq, 0.0))


def exp_quad_diag(X, eta: float) -> np.ndarray:
    """The diagonal of ``exp_quad(X, X, ...)``: ``eta^2`` for every input, shape ``(N,)``."""
    X = as_inputs(X)
    return np.full(X.shape[0], positive_scalar(eta, "eta") ** 2)
