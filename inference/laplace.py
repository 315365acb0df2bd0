"""The Laplace approximation to the posterior of Bayesian probit regression.

The log posterior of :mod:`bayes_zoo.models.probit` (``theta ~ N(0, v I)``, ``v = weight_sd^2``)::

    Psi(theta) = sum_n log Phi(s_n x_n^T theta) - theta^T theta / (2 v) + const

is strictly concave (the log-likelihood is concave, the prior strictly so), so it has one maximum, the mode
``theta_hat``, even when the data are linearly separable (where the likelihood alone has none).  The
Laplace approximation is ``N(theta_hat, A^-1)`` with ``A = -grad^2 Psi(theta_hat)`` (Bishop 2006, sec. 4.4
and 4.5.1; Rasmussen & Williams 2006, sec. 3.4, for the probit likelihood's derivatives, Table 3.1).

The mode is found by Newton's method with the exact Hessian (Rasmussen & Williams 2006, Algorithm 3.1, in
weight space), damped by a backtracking line search (Boyd & Vandenberghe 2004, Algorithm 9.5): from
``theta``, the Newton direction ``d = A(theta)^-1 g`` (``g = grad Psi``, ``A`` by Cholesky) is scaled by
``t = 1, 1/2, 1/4, ...`` until ``Psi(theta + t d) >= Psi(theta) + 1e-4 t g^T d`` (Armijo), so ``Psi`` never
decreases.  The iteration stops when half the squared Newton decrement, ``g^T A^-1 g / 2`` — the increase of
``Psi`` that Newton's quadratic model still predicts, in nats — is at most ``tol``; the last (full) Newton
step is then taken if it does not decrease ``Psi`` (convergence being quadratic, that step brings the
gradient to rounding level).

Nothing here imports PyMC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg

from bayes_zoo.models.checks import positive_int, positive_scalar
from bayes_zoo.models.probit import (ProbitPrior, check_problem, log_likelihood, log_likelihood_gradient,
                           log_likelihood_hessian)

__all__ = ["GaussianApproximation", "probit_laplace", "log_posterior"]

#: Armijo's sufficient-increase constant for the backtracking line search.
ARMIJO = 1e-4
#: Smallest step fraction tried by the line search before giving up.
MIN_STEP = 2.0**-40


@dataclass(frozen=True)
class GaussianApproximation:
    """A Gaussian approximation ``N(mean, cov)`` to a posterior over weights.

    Attributes
    ----------
    mean : numpy.ndarray, shape (D,)
        The mode of the log posterior.
    cov : numpy.ndarray, shape (D, D)
        ``A^-1``, the inverse of the negative Hessian of the log posterior at the mode (symmetric, positive
        definite).
    iterations : int
        Newton steps taken.
    converged : bool
        Always True for a returned result (failure raises); kept so a record says so.
    objective : numpy.ndarray, shape (iterations + 1,)
        The log posterior ``log p(y | theta) + log p(theta)`` (nats, unnormalised) at ``theta = 0`` and after
        each Newton step: never decreasing.
    """

    mean: np.ndarray
    cov: np.ndarray
    iterations: int
    converged: bool
    objective: np.ndarray


def log_posterior(X, y, theta, prior: ProbitPrior) -> float:
    """``log p(y | X, theta) + log p(theta)`` in nats (unnormalised posterior), for ``theta`` of shape ``(D,)``.

    Raises
    ------
    ValueError
        Naming ``X``, ``y``, ``theta`` or ``prior``.
    """
    if not isinstance(prior, ProbitPrior):
        raise ValueError(f"prior: expected a ProbitPrior, got {type(prior).__name__}")
    return log_likelihood(X, y, theta) + prior.log_density(theta)


def _value_gradient_precision(X, y, theta, precision0: float) -> tuple[float, np.ndarray, np.ndarray]:
    """``Psi`` (up to the prior's constant), its gradient ``(D,)`` and ``A = -Hessian`` ``(D, D)``."""
    value = log_likelihood(X, y, theta) - 0.5 * precision0 * float(theta @ theta)
    grad = log_likelihood_gradient(X, y, theta) - precision0 * theta  # [D]
    A = -log_likelihood_hessian(X, y, theta) + precision0 * np.eye(theta.size)  # [D, D]
    return value, grad, 0.5 * (A + A.T)


def probit_laplace(X, y, prior: ProbitPrior, *, tol: float = 1e-10, max_iter: int = 100) -> GaussianApproximation:
    """The Laplace approximation to the probit posterior (module docstring), by damped Newton's method.

    Parameters
    ----------
    X : array_like, shape (N, D)
        Features (bias column included).
    y : array_like, shape (N,)
        Labels, each 0 or 1.
    prior : ProbitPrior
    tol : float > 0, default 1e-10
        Stop when half the squared Newton decrement, ``g^T A^-1 g / 2`` (nats), is at most ``tol``.
    max_iter : int >= 1, default 100
        Newton steps allowed.

    Returns
    -------
    GaussianApproximation
        ``mean`` the mode (D,), ``cov`` ``A^-1`` at the mode (D, D), computed by Cholesky (``scipy.linalg``).

    Raises
    ------
    ValueError
        Naming ``X``, ``y`` (shape, non-finite, a label other than 0/1), ``prior``, ``tol`` or ``max_iter``;
        naming ``max_iter`` also when Newton's method has not met ``tol`` within ``max_iter`` steps, and
        ``tol`` when the line search finds no step that increases the log posterior while the decrement is
        still above rounding level (neither happens for a concave ``Psi`` in exact arithmetic).
    """
    X, y, _ = check_problem(X, y)
    if not isinstance(prior, ProbitPrior):
        raise ValueError(f"prior: expected a ProbitPrior, got {type(prior).__name__}")
    tol = positive_scalar(tol, "tol")
    max_iter = positive_int(max_iter, "max_iter")
    precision0 = 1.0 / prior.weight_sd**2
    theta = np.zeros(X.shape[1])  # [D]
    value, grad, A = _value_gradient_precision(X, y, theta, precision0)
    values = [value]
    for iteration in range(1, max_iter + 1):
        direction = linalg.cho_solve(linalg.cho_factor(A, lower=True), grad)  # [D]
        decrement = float(grad @ direction)  # g^T A^-1 g >= 0
        if 0.5 * decrement <= tol:
            candidate = theta + direction
            cand_value = _psi(X, y, candidate, precision0)
            if cand_value >= value:
                theta, value = candidate, cand_value
            values.append(value)
            return _at_mode(X, y, theta, precision0, values, prior)
        step = 1.0
        while step >= MIN_STEP:
            candidate = theta + step * direction
            cand_value = _psi(X, y, candidate, precision0)
            if cand_value >= value + ARMIJO * step * decrement:
                break
            step *= 0.5
        else:
            rounding = 64.0 * np.finfo(float).eps * (1.0 + abs(value))
            if 0.5 * decrement <= rounding:  # Psi cannot be resolved any further in floating point
                values.append(value)
                return _at_mode(X, y, theta, precision0, values, prior)
            raise ValueError(f"tol: the line search found no ascent step at iteration {iteration} although half "
                             f"the Newton decrement is {0.5 * decrement:.3g} nats (tol {tol:.3g}); the log "
                             f"posterior is not resolved that finely in floating point: raise tol")
        theta = candidate
        value, grad, A = _value_gradient_precision(X, y, theta, precision0)
        values.append(value)
    raise ValueError(f"max_iter: Newton's method did not reach tol = {tol:.3g} in {max_iter} steps "
                     f"(half Newton decrement {0.5 * decrement:.3g} nats); raise max_iter or tol")


def _psi(X, y, theta, precision0: float) -> float:
    """``Psi(theta)`` without the prior's normalising constant."""
    return log_likelihood(X, y, theta) - 0.5 * precision0 * float(theta @ theta)


def _at_mode(X, y, theta: np.ndarray, precision0: float, values: list[float],
             prior: ProbitPrior) -> GaussianApproximation:
    _, _, A = _value_gradient_precision(X, y, theta, precision0)
    cho = linalg.cho_factor(A, lower=True)
    cov = linalg.cho_solve(cho, np.eye(theta.size))  # [D, D]
    constant = prior.log_density(np.zeros(theta.size))  # the prior's normalising term, left out of Psi
    return GaussianApproximation(theta, 0.5 * (cov + cov.T), len(values) - 1, True, np.array(values) + constant)
