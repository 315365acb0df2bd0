"""Titsias's (2009) variational free energy (VFE) for sparse GP regression: the collapsed lower bound and its
predictive, in ``O(N M^2)``, for comparison with :mod:`bayes_zoo.inference.gp.fitc`.

VFE keeps the exact GP model and approximates its posterior: ``q(f, u) = p(f | u) q(u)`` with ``u = f(Z)`` at
``M`` pseudo-inputs ``Z`` and ``q(u)`` optimal in closed form.  The evidence lower bound is then

    F(Z, theta) = log N(y | 0, Q_ff + sigma^2 I) - tr(K_ff - Q_ff) / (2 sigma^2)  <=  log p(y | theta),

with ``Q_ff = K_fu K_uu^-1 K_uf``; the gap is ``KL(q(f, u) || p(f, u | y)) >= 0``.  The algebra is FITC's with
``Lambda = sigma^2 I``: with ``L L^T = K_uu + jitter I``, ``A = L^-1 K_uf``, ``L_B L_B^T = I + A A^T / sigma^2``
and ``c = L_B^-1 A y / sigma^2``,

    log N(y | 0, Q_ff + sigma^2 I) = -(N log 2 pi + N log sigma^2 + 2 sum log diag(L_B) + y^T y / sigma^2 - c^T c) / 2,

and at ``x_*`` with ``a_* = L^-1 k_u*``: mean ``a_*^T L_B^-T c``, variance ``k_** - |a_*|^2 + |L_B^-1 a_*|^2``
(of ``f``; add ``sigma^2`` for ``y``).  The jitter goes on ``K_uu`` only, as in PyMC's
``gp.MarginalApprox(approx="VFE")``, against which the tests check both to rounding error.

Sources: Titsias, M. (2009), "Variational learning of inducing variables in sparse Gaussian processes",
AISTATS, eqs. 9-10; Bauer, van der Wilk & Rasmussen (2016), "Understanding probabilistic sparse Gaussian process
approximations", NeurIPS (the comparison with FITC).
"""

from __future__ import annotations

import numpy as np

from bayes_zoo.models.gp import PYMC_JITTER, GPHyperparameters, exp_quad

__all__ = ["bound", "predict"]


def _inputs(X) -> np.ndarray:
    X = np.asarray(X, float)
    return X[:, None] if X.ndim == 1 else X


def _factors(X, y, Z, hyper: GPHyperparameters, jitter: float):
    X, Z, y = _inputs(X), _inputs(Z), np.asarray(y, float)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X, y: {X.shape[0]} inputs but {y.shape[0]} outputs")
    if Z.shape[1] != X.shape[1]:
        raise ValueError(f"Z: {Z.shape[1]} input dimension(s) but X has {X.shape[1]}")
    if not hyper.sigma > 0:
        raise ValueError(f"hyper.sigma: VFE needs a positive noise sd, got {hyper.sigma}")
    if jitter < 0:
        raise ValueError(f"jitter: must be >= 0, got {jitter}")
    s2 = hyper.sigma**2
    L = np.linalg.cholesky(exp_quad(Z, Z, hyper.eta, hyper.lengthscale) + jitter * np.eye(len(Z)))
    # M is small: NumPy's general solve is faster here than SciPy's triangular one, whose call overhead dominates
    A = np.linalg.solve(L, exp_quad(Z, X, hyper.eta, hyper.lengthscale))  # [M, N]
    L_B = np.linalg.cholesky(np.eye(len(Z)) + A @ A.T / s2)                # [M, M]
    c = np.linalg.solve(L_B, A @ y) / s2                                   # [M]
    return Z, y, L, A, L_B, c, s2


def bound(X, y, Z, hyper: GPHyperparameters, *, jitter: float = PYMC_JITTER) -> float:
    """The VFE lower bound ``F(Z, theta)`` on the exact GP's log marginal likelihood, in nats.

    Parameters
    ----------
    X : array_like, shape (N, D) or (N,)
        Training inputs (a 1-D array is one input dimension).
    y : array_like, shape (N,)
        Training outputs.
    Z : array_like, shape (M, D) or (M,)
        Pseudo-inputs (a 1-D array is one input dimension).
    hyper : GPHyperparameters
        Squared-exponential kernel (``eta``, ``lengthscale``) and noise sd ``sigma > 0``.
    jitter : float >= 0, default ``PYMC_JITTER`` (1e-6)
        Added to the diagonal of ``K_uu`` only (as PyMC does).

    Returns
    -------
    float
        ``log N(y | 0, Q_ff + sigma^2 I) - tr(K_ff - Q_ff) / (2 sigma^2)``; never above the exact log marginal
        likelihood (:func:`bayes_zoo.inference.gp.exact.log_marginal_likelihood`) at the same ``hyper``.

    Raises
    ------
    ValueError
        If the shapes disagree, ``sigma`` is not positive or ``jitter`` is negative.
    numpy.linalg.LinAlgError
        If ``K_uu + jitter I`` is not positive definite in floating point (pseudo-inputs on top of each other:
        raise the jitter).
    """
    _, y, _, A, L_B, c, s2 = _factors(X, y, Z, hyper, jitter)
    n = y.size
    log_normal = -0.5 * (n * np.log(2 * np.pi) + n * np.log(s2) + 2 * np.sum(np.log(np.diag(L_B))) + y @ y / s2 - c @ c)
    trace = (n * hyper.eta**2 - np.sum(A * A)) / (2 * s2)  # tr(K_ff - Q_ff) / (2 sigma^2); diag K_ff = eta^2
    return float(log_normal - trace)


def predict(X, y, Z, hyper: GPHyperparameters, X_new, *, jitter: float = PYMC_JITTER) -> tuple[np.ndarray, np.ndarray]:
    """VFE's predictive mean and variance of the latent ``f`` at ``X_new`` (Titsias 2009, eq. 6 with the optimal
    ``q(u)``).

    Parameters
    ----------
    X, y, Z, hyper, jitter
        As :func:`bound`.
    X_new : array_like, shape (S, D) or (S,)
        Test inputs.

    Returns
    -------
    mean, var : numpy.ndarray, shape (S,)
        In output units and output units squared; ``var`` excludes the noise (add ``hyper.sigma**2`` for
        a new observation).

    Raises
    ------
    ValueError, numpy.linalg.LinAlgError
        As :func:`bound`; ``ValueError`` also if ``X_new`` has another input dimension than ``X``.
    """
    Z, _, L, _, L_B, c, _ = _factors(X, y, Z, hyper, jitter)
    X_new = _inputs(X_new)
    if X_new.shape[1] != Z.shape[1]:
        raise ValueError(f"X_new: {X_new.shape[1]} input dimension(s) but X has {Z.shape[1]}")
    As = np.linalg.solve(L, exp_quad(Z, X_new, hyper.eta, hyper.lengthscale))  # [M, S]
    Cs = np.linalg.solve(L_B, As)
    mean = As.T @ np.linalg.solve(L_B.T, c)
    var = hyper.eta**2 - np.sum(As * As, axis=0) + np.sum(Cs * Cs, axis=0)
    return mean, np.maximum(var, 0.0)
