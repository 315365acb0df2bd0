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

PyMC side (this module; the closed form by hand is :mod:`bayes_zoo.inference.gp.exact`):

- :func:`build_marginal_model`: ``pm.gp.Marginal`` with eta, lengthscale and sigma free under the weakly
  informative :class:`GPPrior`, for NUTS;
- :func:`build_latent_model`: ``pm.gp.Latent`` with f free at *fixed* hyperparameters, for NUTS over f;
- :func:`pymc_marginal_predict`, :func:`pymc_marginal_log_likelihood`: PyMC's own predictive moments and
  log marginal likelihood at fixed hyperparameters, for the deterministic cross-checks.

Where PyMC adds its jitter (``pymc.gp.util.JITTER_DEFAULT = 1e-6``, :data:`PYMC_JITTER`; PyMC 5.x,
``pymc/gp/gp.py``), in terms of ``K = k(X, X)``:

- ``Marginal.marginal_likelihood``: ``y ~ MvNormal(0, K + sigma^2 I + jitter I)``;
- ``Marginal.predict``/``conditional``: the Cholesky factor of ``K + jitter I + sigma^2 I``, with the
  cross-covariance ``k(X, X_new)`` and prior variance ``k(X_new, X_new)`` *without* jitter; the full
  predictive covariance of f (``diag=False``, ``pred_noise=False``) then gets ``+ jitter I`` once more,
  the diagonal (``diag=True``) and the noisy covariance (``pred_noise=True``) do not;
- ``Latent.prior``: f ~ MvNormal(0, K + jitter I), non-centred as ``f = chol(K + jitter I) f_rotated_``.

So ``bayes_zoo.inference.gp.exact.posterior(X, y, hyper, jitter=PYMC_JITTER)`` reproduces all of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from bayes_zoo.models.checks import finite_scalar, finite_vector, input_matrix, instance, positive_scalar

__all__ = [
    "as_inputs", "GPHyperparameters", "exp_quad", "exp_quad_diag", "exp_quad_columns", "exp_quad_gram_lower",
    "exp_quad_cross", "check_data", "conflicting_duplicates",
    "check_jitter", "PYMC_JITTER",
    "GPPrior", "build_marginal_model", "build_latent_model", "pymc_marginal_predict", "pymc_marginal_log_likelihood",
    "true_function", "simulate_dataset", "SIMULATION_NOISE_SD", "simulate",
]

#: The jitter PyMC's GP classes add by default (``pymc.gp.util.JITTER_DEFAULT``); see the module docstring.
PYMC_JITTER = 1e-6


#: Inputs of shape (N, D) or (N,), as a float64 (N, D) array: :func:`bayes_zoo.models.checks.input_matrix`.
as_inputs = input_matrix


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
        Noise sd (units of y); 0 is the noiseless model, which gives probability zero to data it cannot
        produce, e.g. duplicate inputs with different outputs (:func:`conflicting_duplicates`;
        :func:`bayes_zoo.inference.gp.exact.posterior` refuses them when no jitter is asked for either).

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
        values = ell.tolist()  # a float or a list of floats: checked in Python, faster than NumPy at this size
        if not all(math.isfinite(v) and v > 0 for v in ([values] if ell.ndim == 0 else values)):
            raise ValueError(f"lengthscale: every value must be finite and > 0, got {self.lengthscale!r}")
        object.__setattr__(self, "lengthscale", values if ell.ndim == 0 else tuple(values))
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


#: :func:`exp_quad_rows` sums squared differences directly up to this many input dimensions.
DIRECT_MAX_DIMS = 8


#: Tile edge of the mirroring pass of :func:`exp_quad_rows` (``symmetric``): a [64, 64] tile and its transpose
#: stay in cache.
_MIRROR_TILE = 64


@numba.njit(cache=True, nogil=True)
def exp_quad_rows(A, Bt, eta2, K, symmetric=False):
    """``K[i, j] = eta2 exp(-|a_i - b_j|^2 / 2)`` for inputs already divided by the lengthscale(s) (shapes checked,
    values not), row-major: compiled and free of the GIL (so that FITC can call it from its threads).  Its
    column-major twin for LAPACK and BLAS is :func:`exp_quad_columns` (the exact GP's ``K`` and ``k*``): the same
    squared differences summed in the same order, equal to the last bit or two of ``exp``.

    ``A`` [N1, D] and ``Bt`` [D, N2] (``B`` transposed), C-contiguous float64; ``K`` [N1, N2], written in place.
    Mismatched shapes raise ``ValueError``.  With ``symmetric`` (the caller's promise that ``Bt`` is ``A``
    transposed) only ``j <= i`` is computed, half the exponentials, and mirrored: ``K`` is exactly symmetric.
    Up to :data:`DIRECT_MAX_DIMS` input dimensions, one pass over each row of ``K`` sums the squared differences
    over the D columns in turn (loops over j, which vectorise) and exponentiates: no cancellation, no temporary
    arrays.  Above that, ``|a|^2 + |b|^2 - 2 a.b`` by a matrix product, clipped at 0 (as PyMC's ``ExpQuad``
    does).  Either way rounding cannot make a distance negative.
    """
    n1, d = A.shape
    n2 = Bt.shape[1]
    if Bt.shape[0] != d or K.shape[0] != n1 or K.shape[1] != n2 or (symmetric and n1 != n2):
        raise ValueError("A, Bt, K: exp_quad_rows needs A (N1, D), Bt (D, N2) and K (N1, N2), N1 = N2 if symmetric")
    if d > DIRECT_MAX_DIMS:
        np.dot(A, Bt, K)  # [N1, N2] a.b
        b2 = np.zeros(n2)  # [N2] |b_j|^2
        for k in range(d):
            for j in range(n2):
                b2[j] += Bt[k, j] * Bt[k, j]
        for i in range(n1):
            a2 = 0.0
            for k in range(d):
                a2 += A[i, k] * A[i, k]
            for j in range(i + 1 if symmetric else n2):
                K[i, j] = max(a2 + b2[j] - 2.0 * K[i, j], 0.0)
    else:
        for i in range(n1):
            row = i + 1 if symmetric else n2
            for j in range(row):
                K[i, j] = 0.0
            for k in range(d):
                a = A[i, k]
                for j in range(row):
                    t = a - Bt[k, j]
                    K[i, j] += t * t
    for i in range(n1):
        for j in range(i + 1 if symmetric else n2):
            K[i, j] = eta2 * np.exp(-0.5 * K[i, j])
    if symmetric:  # the upper triangle from the lower, tile by tile
        for ib in range(0, n1, _MIRROR_TILE):
            for jb in range(0, ib + 1, _MIRROR_TILE):
                for i in range(ib, min(ib + _MIRROR_TILE, n1)):
                    for j in range(jb, min(jb + _MIRROR_TILE, i)):
                        K[j, i] = K[i, j]
    return K


def exp_quad(X1, X2, eta: float, lengthscale) -> np.ndarray:
    """The squared-exponential kernel matrix ``K[i, j] = eta^2 exp(-|(x1_i - x2_j) / ell|^2 / 2)``.

    Validates, divides the inputs by ``ell`` and calls :func:`exp_quad_rows`; for ``exp_quad(X, X, ...)`` (the same
    object twice) its symmetric mode, half the exponentials.

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
    symmetric = X2 is X1  # the Gram matrix of one set of inputs
    X1 = as_inputs(X1, "X1")
    X2 = as_inputs(X2, "X2", dims=X1.shape[1])
    hyper = GPHyperparameters(eta, lengthscale, 0.0)
    ell = hyper.lengthscales(X1.shape[1])
    if symmetric:  # half the exponentials
        A = np.ascontiguousarray(X1 / ell)
        return exp_quad_rows(A, np.ascontiguousarray(A.T), hyper.eta**2, np.empty((len(A), len(A))), True)
    return exp_quad_scaled(X1 / ell, X2 / ell, hyper.eta**2, np.empty((X1.shape[0], X2.shape[0])))


def exp_quad_scaled(A: np.ndarray, B: np.ndarray, eta2: float, out: np.ndarray) -> np.ndarray:
    """``out[i, j] = eta2 exp(-|a_i - b_j|^2 / 2)`` on inputs already divided by the lengthscale(s), unchecked:
    :func:`exp_quad_rows` with ``B`` transposed.

    Parameters
    ----------
    A : numpy.ndarray, shape (N1, D), float64
        ``X1 / ell``.
    B : numpy.ndarray, shape (N2, D), float64
        ``X2 / ell``.
    eta2 : float
        ``eta^2``.
    out : numpy.ndarray, shape (N1, N2), float64, C-contiguous
        Written in place.

    Returns
    -------
    numpy.ndarray
        ``out``.
    """
    return exp_quad_rows(np.ascontiguousarray(A), np.ascontiguousarray(B.T), eta2, out)


#: Columns of :func:`exp_quad_columns` per block: the distances of a block are exponentiated while in cache.
COLUMN_BLOCK = 128


@numba.njit(cache=True, nogil=True)
def _neg_half_sq_dist_columns(At, Bt, out, j0, j1, i0):
    """``out[i, j] = -|a_i - b_j|^2 / 2`` for ``j0 <= j < j1`` and ``i0 <= i < N1``: ``At`` [D, N1] and ``Bt``
    [D, N2] (inputs divided by the lengthscale(s), transposed, C-contiguous), ``out`` [N1, N2] Fortran-ordered
    (a column is contiguous: the loop over ``i`` vectorises).  The squared differences are summed over the D
    dimensions in turn, as :func:`exp_quad_rows` sums them."""
    d, m = At.shape[0], out.shape[0] - i0
    if d == 0:
        out[i0:, j0:j1] = 0.0
        return
    for j in range(j0, j1):
        col = out[i0:, j]  # [m] contiguous; slices (not out[i, j]) let the loops over i vectorise
        a = At[0, i0:]
        b = Bt[0, j]
        for i in range(m):
            t = a[i] - b
            col[i] = t * t
        for k in range(1, d):
            a = At[k, i0:]
            b = Bt[k, j]
            for i in range(m):
                t = a[i] - b
                col[i] += t * t
        for i in range(m):
            col[i] *= -0.5


def exp_quad_columns(At: np.ndarray, Bt: np.ndarray, eta2: float, out: np.ndarray, *, lower: bool = False,
                     add_diagonal: float = 0.0) -> np.ndarray:
    """``out[i, j] = eta2 exp(-|a_i - b_j|^2 / 2)`` into a Fortran-ordered ``out``, on inputs already divided by
    the lengthscale(s) and transposed, unchecked: the layout LAPACK and BLAS read, with no copy or transpose.

    Column blocks of :data:`COLUMN_BLOCK`: the compiled :func:`_neg_half_sq_dist_columns` writes a block's
    ``-|a_i - b_j|^2 / 2`` (no GIL), then NumPy's ``exp`` (SIMD where the CPU has it: measured 0.8 ns an entry on
    AVX-512 against 4.3 ns for the scalar ``exp`` of compiled code) and ``eta2`` finish it while it is in cache
    (NumPy's ufuncs also release the GIL).  With ``lower`` (``Bt`` is ``At``: a Gram matrix), only the lower
    triangle and the diagonal are formed, half the exponentials (a block's columns from its first row: a
    little of the upper triangle next to the diagonal too); the rest of the upper triangle is left as it was
    (what LAPACK ``dpotrf`` with ``lower`` reads is the lower triangle only).  ``add_diagonal`` is then added
    to the diagonal (``sigma^2`` for ``K + sigma^2 I``).  Up to :data:`DIRECT_MAX_DIMS` dimensions; above,
    :func:`exp_quad_rows`.

    Parameters
    ----------
    At : numpy.ndarray, shape (D, N1), float64, C-contiguous
        ``(X1 / ell)^T``.
    Bt : numpy.ndarray, shape (D, N2), float64, C-contiguous
        ``(X2 / ell)^T``; ``At`` itself with ``lower``.
    eta2 : float
    out : numpy.ndarray, shape (N1, N2), float64, Fortran-contiguous
        Written in place.
    lower : bool
    add_diagonal : float
        With ``lower`` only.

    Returns
    -------
    numpy.ndarray
        ``out``.
    """
    n1, n2 = out.shape
    if lower and n1 != n2:
        raise ValueError("out: exp_quad_columns with lower needs a square out")
    for j0 in range(0, n2, COLUMN_BLOCK):
        j1 = min(j0 + COLUMN_BLOCK, n2)
        i0 = j0 if lower else 0
        _neg_half_sq_dist_columns(At, Bt, out, j0, j1, i0)
        block = out[i0:, j0:j1]  # [N1 - i0, j1 - j0], Fortran order: NumPy runs down the columns
        np.exp(block, out=block)
        if eta2 != 1.0:
            np.multiply(block, eta2, out=block)
    if lower and add_diagonal:
        out[np.diag_indices(n1)] += add_diagonal
    return out


def exp_quad_gram_lower(X: np.ndarray, eta: float, ell: np.ndarray, add_diagonal: float = 0.0) -> np.ndarray:
    """``K + add_diagonal I`` for checked inputs ``X`` [N, D] and lengthscales ``ell`` [D], Fortran-ordered, with
    only its lower triangle (and the diagonal) formed when ``D <=`` :data:`DIRECT_MAX_DIMS`
    (:func:`exp_quad_columns`; the upper triangle is then not meaningful), the whole symmetric matrix above
    (:func:`exp_quad`): what LAPACK ``dpotrf`` (lower) reads, for a caller that factorises it in place."""
    if X.shape[1] > DIRECT_MAX_DIMS:
        C = exp_quad(X, X, eta, ell).T  # symmetric: its transpose is itself, Fortran-ordered
        C[np.diag_indices(X.shape[0])] += add_diagonal
        return C
    At = np.ascontiguousarray((X / ell).T)  # [D, N]
    n = X.shape[0]
    return exp_quad_columns(At, At, float(eta) ** 2, np.empty((n, n), order="F"), lower=True,
                            add_diagonal=add_diagonal)


def exp_quad_cross(X1: np.ndarray, X2: np.ndarray, eta: float, ell: np.ndarray) -> np.ndarray:
    """``exp_quad(X1, X2, eta, ell)``, Fortran-ordered, for checked inputs ``X1`` [N1, D], ``X2`` [N2, D] and
    lengthscales ``ell`` [D] (:func:`exp_quad_columns` up to :data:`DIRECT_MAX_DIMS` dimensions, :func:`exp_quad`
    transposed above): the layout a triangular solve in place needs."""
    if X1.shape[1] > DIRECT_MAX_DIMS:
        return exp_quad(X2, X1, eta, ell).T  # [N1, N2], Fortran-ordered
    At = np.ascontiguousarray((X1 / ell).T)  # [D, N1]
    Bt = np.ascontiguousarray((X2 / ell).T)  # [D, N2]
    return exp_quad_columns(At, Bt, float(eta) ** 2, np.empty((X1.shape[0], X2.shape[0]), order="F"))


def exp_quad_diag(X, eta: float) -> np.ndarray:
    """The diagonal of ``exp_quad(X, X, ...)``: ``eta^2`` for every input, shape ``(N,)``."""
    X = as_inputs(X)
    return np.full(X.shape[0], positive_scalar(eta, "eta") ** 2)


def check_data(X, y) -> tuple[np.ndarray, np.ndarray]:
    """Validate GP training data.

    Parameters
    ----------
    X : array_like, shape (N, D) or (N,)
        Inputs, as :func:`as_inputs` takes them.
    y : array_like, shape (N,)
        Targets.

    Returns
    -------
    (X, y) : float64 arrays of shapes (N, D) and (N,)

    Raises
    ------
    ValueError
        Naming ``X`` or ``y``: as :func:`as_inputs`; ``y`` not 1-D, empty or non-finite; or ``y``'s length
        not ``X``'s number of rows.
    """
    X = as_inputs(X)
    y = finite_vector(y, "y")
    if y.size != X.shape[0]:
        raise ValueError(f"y: length {y.size} does not match X's {X.shape[0]} rows")
    return X, y


def conflicting_duplicates(X, y) -> list[tuple[int, int]]:
    """Pairs ``(i, j)``, ``i < j``, of identical inputs ``X[i] == X[j]`` with different outputs ``y[i] != y[j]``.

    Without noise (``sigma = 0`` and no jitter) ``f(X[i]) = f(X[j])`` exactly, so ``y = f(X)`` cannot hold
    for such data: the noiseless model gives them probability zero (its covariance of y is singular and y
    lies off the subspace it spans).  Each duplicate is paired with the first of its group.

    Parameters
    ----------
    X : array_like, shape (N, D) or (N,)
    y : array_like, shape (N,)

    Returns
    -------
    list of (int, int)
        In order of ``j``; empty when every group of identical inputs shares one output.

    Raises
    ------
    ValueError
        As :func:`check_data`.
    """
    X, y = check_data(X, y)
    _, first, group = np.unique(X, axis=0, return_index=True, return_inverse=True)
    leader = first[group.ravel()]  # [N] the first index with the same input
    return [(int(leader[j]), j) for j in range(y.size) if leader[j] != j and y[leader[j]] != y[j]]


# --------------------------------------------------------------------------------------------------------
# PyMC: the prior on the hyperparameters and the model builders
# --------------------------------------------------------------------------------------------------------


def _spacing_and_range(X: np.ndarray) -> tuple[float, float]:
    """The smallest mean spacing of an input column (its range over its number of distinct values less
    one) and the largest column range, over the columns of ``X`` (shape ``(N, D)``)."""
    spread = np.ptp(X, axis=0)  # [D]
    distinct = np.array([np.unique(col).size for col in X.T])  # [D]
    varying = distinct > 1
    if not varying.any():
        raise ValueError("X: all inputs coincide; the lengthscale prior is set from their spread")
    return float((spread[varying] / (distinct[varying] - 1)).min()), float(spread.max())


@dataclass(frozen=True)
class GPPrior:
    """Weakly informative priors on the hyperparameters, for :func:`build_marginal_model`::

        lengthscale ~ InverseGamma(ell_alpha, ell_beta)     PyMC's InverseGamma: ell_beta a scale (units of x)
        eta         ~ HalfNormal(eta_sd)                     units of y
        sigma       ~ HalfNormal(sigma_sd)                   units of y

    With ARD every lengthscale gets the same prior.  :meth:`from_data` sets them from the data (the usual
    choice; see there).

    Parameters
    ----------
    ell_alpha, ell_beta, eta_sd, sigma_sd : float > 0

    Raises
    ------
    ValueError
        Naming the parameter, if one is not finite and > 0.
    """

    ell_alpha: float
    ell_beta: float
    eta_sd: float
    sigma_sd: float

    #: Prior mass :meth:`from_data` puts below the input spacing and above the input range, each.
    TAIL = 0.01

    def __post_init__(self):
        for name in ("ell_alpha", "ell_beta", "eta_sd", "sigma_sd"):
            object.__setattr__(self, name, positive_scalar(getattr(self, name), name))

    @classmethod
    def from_data(cls, X, y) -> GPPrior:
        """Priors on the scale of the data.

        * ``lengthscale``: the InverseGamma with 1% of its mass below ``lo`` and 1% above ``hi``, where
          ``hi`` is the largest range of an input column and ``lo`` the smallest mean spacing of a column
          (range / (number of distinct values - 1)), or ``hi / 10`` if that is smaller (after Betancourt
          2017, "Robust Gaussian processes in Stan", part 3: a lengthscale much below the spacing of the
          inputs or above their range is not identified by the data, and the InverseGamma's light left
          tail keeps the sampler out of the first region).  The *mean* spacing, not the smallest gap:
          random inputs have some near-coincident pairs, and their gap would drag the prior towards
          lengthscales that only those pairs can inform.
          With ``ell = b / g``, ``g ~ Gamma(a, 1)``: ``hi / lo = G_a^-1(0.99) / G_a^-1(0.01)`` fixes ``a``
          (the ratio falls from infinity to 1 as ``a`` grows; solved by Brent's method, ``a`` kept in
          [0.1, 1e5]) and ``b = lo G_a^-1(0.99)``.
        * ``eta ~ HalfNormal(2 r)`` and ``sigma ~ HalfNormal(r)``, ``r = sqrt(mean(y^2))`` the root mean
          square of y: the mean function is zero, so r (not the sd) is the size the GP must reach.

        Parameters
        ----------
        X : array_like, shape (N, D) or (N,)
        y : array_like, shape (N,)

        Raises
        ------
        ValueError
            As :func:`check_data`; ``X`` if all inputs coincide, ``y`` if it is all zeros.
        """
        from scipy import optimize, stats

        X, y = check_data(X, y)
        lo, hi = _spacing_and_range(X)
        lo = min(lo, hi / 10.0)
        p = cls.TAIL

        def log_ratio(log_a):  # log(G^-1(1-p) / G^-1(p)) - log(hi / lo), decreasing in a
            a = np.exp(log_a)
            return np.log(stats.gamma.isf(p, a)) - np.log(stats.gamma.ppf(p, a)) - np.log(hi / lo)

        bracket = (np.log(0.1), np.log(1e5))
        alpha = 0.1 if log_ratio(bracket[0]) < 0 else float(np.exp(optimize.brentq(log_ratio, *bracket, xtol=1e-12)))
        beta = lo * float(stats.gamma.isf(p, alpha))
        rms = float(np.sqrt(np.mean(y**2)))
        if rms == 0.0:
            raise ValueError("y: is all zeros; the priors on eta and sigma are set from its size")
        return cls(ell_alpha=alpha, ell_beta=beta, eta_sd=2.0 * rms, sigma_sd=rms)

    def describe(self) -> str:
        """The prior in one line, for reports (the lengthscale's 98% central interval included)."""
        from scipy import stats

        q = stats.invgamma.ppf([self.TAIL, 1 - self.TAIL], self.ell_alpha, scale=self.ell_beta)
        return (
            f"lengthscale ~ InverseGamma({self.ell_alpha:.4g}, {self.ell_beta:.4g}) (98% in "
            f"[{q[0]:.3g}, {q[1]:.3g}]); eta ~ HalfNormal({self.eta_sd:.4g}); "
            f"sigma ~ HalfNormal({self.sigma_sd:.4g})"
        )


def _pymc_kernel(eta, lengthscale, dims: int):
    """``eta**2 * pm.gp.cov.ExpQuad(dims, ls=lengthscale)``: the kernel of :func:`exp_quad` in PyMC."""
    import pymc as pm

    return eta**2 * pm.gp.cov.ExpQuad(dims, ls=lengthscale)


def build_marginal_model(X, y, prior: GPPrior | None = None, *, ard: bool = False, jitter: float = PYMC_JITTER):
    """GP regression in PyMC with f integrated out (``pm.gp.Marginal``) and the hyperparameters free.

    Parameters
    ----------
    X : array_like, shape (N, D) or (N,)
    y : array_like, shape (N,)
    prior : GPPrior, optional
        Default :meth:`GPPrior.from_data` ``(X, y)``.
    ard : bool
        One lengthscale per input dimension (dims ``input``) instead of one shared.
    jitter : float >= 0
        Added by PyMC to the diagonal of ``K + sigma^2 I`` (see the module docstring).

    Returns
    -------
    pymc.Model
        Free ``eta``, ``lengthscale`` (scalar, or dims ``input`` with coords ``x0, x1, ...``), ``sigma``;
        observed ``y ~ MvNormal(0, K + sigma^2 I + jitter I)`` (dims ``obs``, coords ``0 .. N-1``).

    Raises
    ------
    ValueError
        As :func:`check_data`; ``prior`` not a :class:`GPPrior`; ``jitter`` negative or not finite.
    """
    import pymc as pm

    X, y = check_data(X, y)
    prior = GPPrior.from_data(X, y) if prior is None else instance(prior, GPPrior, "prior")
    jitter = check_jitter(jitter)
    dims = X.shape[1]
    coords = {"obs": np.arange(X.shape[0])} | ({"input": [f"x{j}" for j in range(dims)]} if ard else {})
    with pm.Model(coords=coords) as model:
        eta = pm.HalfNormal("eta", sigma=prior.eta_sd)
        ell = pm.InverseGamma("lengthscale", alpha=prior.ell_alpha, beta=prior.ell_beta,
                              dims="input" if ard else None)
        sigma = pm.HalfNormal("sigma", sigma=prior.sigma_sd)
        gp = pm.gp.Marginal(cov_func=_pymc_kernel(eta, ell, dims))
        gp.marginal_likelihood("y", X=X, y=y, sigma=sigma, jitter=jitter, dims="obs")
    return model


def check_jitter(jitter) -> float:
    """A jitter: a finite float >= 0 (ValueError naming ``jitter`` otherwise)."""
    jitter = finite_scalar(jitter, "jitter")
    if jitter < 0:
        raise ValueError(f"jitter: must be >= 0, got {jitter}")
    return jitter


def _fixed_hyper(hyper, dims: int) -> tuple[GPHyperparameters, np.ndarray]:
    hyper = instance(hyper, GPHyperparameters, "hyper")
    return hyper, hyper.lengthscales(dims)


def build_latent_model(X, y, hyper: GPHyperparameters, *, jitter: float = PYMC_JITTER):
    """GP regression in PyMC with f latent (``pm.gp.Latent``) at fixed hyperparameters, for NUTS over f.

    ``f ~ MvNormal(0, K + jitter I)`` (PyMC's non-centred form: free ``f_rotated_ ~ N(0, I)``,
    deterministic ``f = chol(K + jitter I) f_rotated_``), ``y ~ Normal(f, sigma)``.  The exact posterior
    of f is :func:`bayes_zoo.inference.gp.exact.posterior_at_training_inputs` with the same jitter.

    Parameters
    ----------
    X : array_like, shape (N, D) or (N,)
    y : array_like, shape (N,)
    hyper : GPHyperparameters
        Fixed; ``sigma`` must be > 0 (a Normal likelihood needs a positive sd).
    jitter : float >= 0
        Added to the prior covariance of f, as PyMC's ``Latent.prior`` does.

    Returns
    -------
    pymc.Model
        Free ``f_rotated_`` and deterministic ``f`` (both dims ``obs``, coords ``0 .. N-1``); observed ``y``
        (dims ``obs``).

    Raises
    ------
    ValueError
        As :func:`check_data`; ``hyper`` not a :class:`GPHyperparameters` or with ``sigma == 0``, or ARD
        lengthscales for another dimension; ``jitter`` negative.
    """
    import pymc as pm

    X, y = check_data(X, y)
    hyper, ell = _fixed_hyper(hyper, X.shape[1])
    if hyper.sigma == 0:
        raise ValueError("hyper: the latent model needs sigma > 0 (its likelihood is Normal(f, sigma))")
    jitter = check_jitter(jitter)
    with pm.Model(coords={"obs": np.arange(X.shape[0])}) as model:
        gp = pm.gp.Latent(cov_func=_pymc_kernel(hyper.eta, ell, X.shape[1]))
        f = gp.prior("f", X=X, jitter=jitter, dims="obs")
        pm.Normal("y", mu=f, sigma=hyper.sigma, observed=y, dims="obs")
    return model


def _fixed_marginal(X, y, hyper, jitter):
    """A ``pm.gp.Marginal`` model with every hyperparameter fixed: (model, gp, X [N, D])."""
    import pymc as pm

    X, y = check_data(X, y)
    hyper, ell = _fixed_hyper(hyper, X.shape[1])
    jitter = check_jitter(jitter)
    with pm.Model() as model:
        gp = pm.gp.Marginal(cov_func=_pymc_kernel(hyper.eta, ell, X.shape[1]))
        gp.marginal_likelihood("y", X=X, y=y, sigma=hyper.sigma, jitter=jitter)
    return model, gp, X


def pymc_marginal_predict(X, y, X_new, hyper: GPHyperparameters, *, jitter: float = PYMC_JITTER,
                          full_cov: bool = False, include_noise: bool = False):
    """PyMC's predictive mean and variance (or covariance) at ``X_new``, from ``pm.gp.Marginal.predict``.

    Exactly what PyMC returns, jitter included: with ``full_cov=True`` and ``include_noise=False`` PyMC adds
    ``jitter`` to the diagonal of the predictive covariance (see the module docstring).

    Parameters
    ----------
    X : array_like, shape (N, D) or (N,)
    y : array_like, shape (N,)
    X_new : array_like, shape (M, D) or (M,)
    hyper : GPHyperparameters
    jitter : float >= 0
    full_cov : bool
        Return the covariance ``(M, M)`` instead of the variances ``(M,)`` (PyMC's ``diag=False``).
    include_noise : bool
        Predict y instead of f (PyMC's ``pred_noise=True``: ``+ sigma^2``).

    Returns
    -------
    mean : numpy.ndarray, shape (M,)
    var : numpy.ndarray, shape (M,), or cov : numpy.ndarray, shape (M, M)
    """
    model, gp, X = _fixed_marginal(X, y, hyper, jitter)
    X_new = as_inputs(X_new, "X_new", dims=X.shape[1])
    mean, var = gp.predict(X_new, point={}, diag=not full_cov, pred_noise=include_noise, jitter=jitter,
                           model=model)
    return np.asarray(mean, dtype=np.float64), np.asarray(var, dtype=np.float64)


def pymc_marginal_log_likelihood(X, y, hyper: GPHyperparameters, *, jitter: float = PYMC_JITTER) -> float:
    """PyMC's log marginal likelihood ``log MvNormal(y | 0, K + sigma^2 I + jitter I)`` at ``hyper``: the
    compiled log-density of the observed ``y`` of ``pm.gp.Marginal.marginal_likelihood``.  Arguments as
    :func:`pymc_marginal_predict`.
    """
    model, _, _ = _fixed_marginal(X, y, hyper, jitter)
    return float(model.compile_logp(vars=model.observed_RVs)({}))


# --------------------------------------------------------------------------------------------------------
# A simulated data set with a known true function (the lengthscale study)
# --------------------------------------------------------------------------------------------------------

#: The noise sd of :func:`simulate_dataset`.
SIMULATION_NOISE_SD = 0.3


def true_function(x) -> np.ndarray:
    """The true function of :func:`simulate_dataset`: ``sin(3 x) + 0.3 x``, shape as ``x`` (a broad trend plus a
    wiggle of period about 2.1: a lengthscale near 0.5–1 suits it)."""
    x = np.asarray(x, dtype=np.float64)
    return np.sin(3.0 * x) + 0.3 * x


def simulate_dataset(seed: int = 0, *, n_train: int = 40, n_test: int = 200, low: float = 0.0, high: float = 5.0,
                     noise_sd: float = SIMULATION_NOISE_SD):
    """A 1-D regression data set with a known true function (:func:`true_function`).

    Training inputs uniform on ``[low, high]``, ``y = f(x) + N(0, noise_sd^2)``; the test inputs are an even
    grid on the same interval, with the noise-free ``f``.

    Parameters
    ----------
    seed : int >= 0
    n_train, n_test : int >= 1
    low, high : float, low < high
    noise_sd : float > 0

    Returns
    -------
    bayes_zoo.models.datasets.Dataset
        ``arrays``: ``X`` (n_train, 1), ``y`` (n_train,), ``X_test`` (n_test, 1), ``f_test`` (n_test,), and
        ``truth`` = ``[noise_sd]``.

    Raises
    ------
    ValueError
        Naming the argument.
    """
    from bayes_zoo.models.checks import nonnegative_int, positive_int
    from bayes_zoo.models.datasets import Dataset

    rng = np.random.default_rng(nonnegative_int(seed, "seed"))
    n_train, n_test = positive_int(n_train, "n_train"), positive_int(n_test, "n_test")
    low, high = finite_scalar(low, "low"), finite_scalar(high, "high")
    if not low < high:
        raise ValueError(f"high: must exceed low, got low = {low}, high = {high}")
    noise_sd = positive_scalar(noise_sd, "noise_sd")
    x = np.sort(rng.uniform(low, high, n_train))
    y = true_function(x) + noise_sd * rng.standard_normal(n_train)
    grid = np.linspace(low, high, n_test)
    description = (f"simulated, {n_train} points uniform on [{low:g}, {high:g}], y = sin(3x) + 0.3x + "
                   f"N(0, {noise_sd:g}^2), seed {seed}; test: an even grid of {n_test} points with the noise-free f.")
    return Dataset("gp-simulated", {"X": x[:, None], "y": y, "X_test": grid[:, None], "f_test": true_function(grid),
                                    "truth": np.array([noise_sd])}, description, ())


def simulate(rng: np.random.Generator, data, *, jitter: float = PYMC_JITTER):
    """The generative model at fixed hyperparameters: ``f ~ N(0, K + jitter I)`` at the inputs (``K = k(X, X)``,
    with PyMC's jitter, as ``gp.Latent`` has it), then ``y = f + N(0, sigma^2 I)``.

    The signature every model module's ``simulate`` shares (simulation-based calibration,
    :attr:`bayes_zoo.problem.Problem.simulate`): a generator and a data template in, the truth and simulated
    data out.

    Parameters
    ----------
    rng : numpy.random.Generator
    data : mapping
        ``"X"`` (N, D) inputs and ``"hyper"`` (:class:`GPHyperparameters`); other keys are passed through.
    jitter : float >= 0

    Returns
    -------
    truth : dict
        ``{"f[i]": float}``, f at each input.
    data : dict
        ``data`` with ``"y"`` (N,) added.

    Raises
    ------
    ValueError
        Naming ``rng``, ``data`` or ``jitter``.
    """
    from collections.abc import Mapping

    from bayes_zoo.models.checks import generator

    generator(rng)
    if not isinstance(data, Mapping) or "X" not in data or "hyper" not in data:
        raise ValueError(f"data: expected a mapping with keys 'X' and 'hyper', got {type(data).__name__}")
    X, hyper = as_inputs(data["X"]), instance(data["hyper"], GPHyperparameters, "data['hyper']")
    K = exp_quad(X, X, hyper.eta, hyper.lengthscale) + check_jitter(jitter) * np.eye(X.shape[0])
    f = np.linalg.cholesky(K) @ rng.standard_normal(X.shape[0])
    y = f + hyper.sigma * rng.standard_normal(X.shape[0])
    return {f"f[{i}]": float(v) for i, v in enumerate(f)}, {**data, "y": y}
