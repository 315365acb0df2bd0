"""Two EM algorithms for the spike-and-slab regression of :mod:`bayes_zoo.models.spike_slab`, multiple starts, and a
check of EM's answer against the exact posterior.

Model (see :mod:`bayes_zoo.models.spike_slab`; ``v = [spike_var, slab_var] = [v0, v1]``, relative to sigma2)::

    y | w, sigma2          ~ N(X w, sigma2 I)                 X: (N, D), y: (N,)
    w_d | gamma_d, sigma2  ~ N(0, sigma2 v[gamma_d])
    gamma_d | theta        ~ Bernoulli(theta)
    theta                  ~ Beta(a0, b0)
    sigma2                 ~ InverseGamma(nu/2, nu lam/2)

**MAP-EM, w latent** (Dempster, Laird & Rubin 1977; ECM of Meng & Rubin 1993).  Parameters
``(gamma, sigma2, theta)``, missing data ``w``.  E-step: ``w | y, gamma, sigma2 ~ N(mu, Sigma)`` with
``A = X^T X + diag(1/v[gamma])``, ``mu = A^-1 X^T y``, ``Sigma = sigma2 A^-1``, so
``E[w_d^2] = Sigma_dd + mu_d^2`` and ``E|y - X w|^2 = |y - X mu|^2 + tr(X Sigma X^T)``.  Conditional
M-steps, in this order, each maximising the expected complete-data log posterior ``Q``:

1. ``gamma_d``: ``Q`` separates over d; ``gamma_d = 1`` iff
   ``-log(v1)/2 - E[w_d^2] / (2 sigma2 v1) + log(theta) > -log(v0)/2 - E[w_d^2] / (2 sigma2 v0) + log(1 - theta)``
   (a tie keeps the current value).
2. ``sigma2 = (E|y - X w|^2 + sum_d E[w_d^2] / v[gamma_d] + nu lam) / (N + D + nu + 2)`` with the new gamma.
3. ``theta`` = mode of ``theta^(a0 + k - 1) (1 - theta)^(b0 + D - k - 1)``, ``k = sum(gamma)``; see
   :func:`theta_update` for the boundary cases.

Objective (never decreases, generalised EM): the log marginal posterior with ``w`` integrated out,
``log p(y | gamma, sigma2) + log p(gamma | theta) + log p(theta) + log p(sigma2)``, where
``y | gamma, sigma2 ~ N(0, sigma2 (I + X V X^T))``; by the determinant lemma and Woodbury,
``log|I + X V X^T| = log|V| + log|A|`` and ``y^T (I + X V X^T)^-1 y = |y - X mu|^2 + mu^T V^-1 mu``
(:func:`map_em_objective_terms`).  With gamma fixed the sigma2 update is the linear contraction
``sigma2' = (R + nu lam + D sigma2) / (N + D + nu + 2)``, ``R = |y - X mu|^2 + mu^T V^-1 mu`` (because
``tr(A^-1 X^T X) + tr(A^-1 V^-1) = D``), whose fixed point ``(R + nu lam) / (N + nu + 2)`` is the mode of
``p(sigma2 | y, gamma)``.

*Fixed corners.*  With ``a0 = 1`` the theta step sends ``k = 0`` to ``theta = 0`` exactly (the maximiser of
``Q``; the objective stays finite), after which ``log(theta) = -inf`` forbids any inclusion: the all-spike
state ``(gamma = 0, theta = 0)`` is a fixed point of MAP-EM for *any* data and sigma2 (only sigma2 moves, to
its conditional mode).  Symmetrically, with ``b0 = 1`` the all-slab state ``(gamma = 1, theta = 1)`` is a
fixed point.  They are genuine coordinate-wise maxima of the joint posterior of ``(gamma, sigma2, theta)``
(the Beta(1, 1) density is finite at the boundary), and MAP-EM started elsewhere can fall into them.

**EMVS, gamma latent** (Ročková & George 2014, JASA 109:828–846, "EMVS: The EM Approach to Bayesian
Variable Selection", sec. 2–3; their ``beta`` is ``w`` here and their ``p`` is ``D``).  Parameters
``(w, sigma2, theta)``, missing data ``gamma``.  E-step: ``p*_d = P(gamma_d = 1 | w_d, theta, sigma2)``
(:func:`bayes_zoo.models.spike_slab.inclusion_probability`) and ``d*_d = E[1 / v[gamma_d]] = p*_d / v1 + (1 - p*_d) / v0``.
M-step (exact, joint): ``w = (X^T X + diag(d*))^-1 X^T y`` (Cholesky of the D x D matrix; when D > N the
push-through identity ``w = diag(d*)^-1 X^T (I_N + X diag(d*)^-1 X^T)^-1 y``, an N x N Cholesky),
``sigma2 = (|y - X w|^2 + sum_d d*_d w_d^2 + nu lam) / (N + D + nu + 2)``,
``theta = (sum p* + a0 - 1) / (a0 + b0 + D - 2)`` (:func:`theta_update`).  Objective (never decreases, EM):
``log p(w, sigma2, theta | y)`` up to ``log p(y)``, i.e. :func:`bayes_zoo.models.spike_slab.log_joint_marginalised`
(gamma summed out).  Selected model: ``p* > 1/2`` at the final state.

Each algorithm is ``*_init`` -> pure ``*_step(state, data, prior) -> state`` -> driver ``fit_*`` returning a
frozen :class:`EMResult`.  :func:`multistart` runs both from several starts and ranks the end points by each
algorithm's own objective; :func:`place_in_exact` locates EM's answer in the exact posterior of
:func:`bayes_zoo.models.spike_slab.exact_posterior`; :func:`objective_gradient` checks an end point's
stationarity by central finite differences of the objective (never the M-step formulas), and
:func:`map_em_enumerate` finds MAP-EM's global optimum by enumerating gamma where D is small.

**MAP-EM's fixed points in gamma.**  When v0 is small every pattern can be a fixed point: in the E-step a
coefficient in the spike has ``E[w_d^2] ~ sigma2 v0``, below the gamma step's threshold, and one in the slab has
``E[w_d^2] >= sigma2 [A^-1]_dd ~ sigma2 / N``, above it.  Measured on the case of issue 13 (N = 100, D = 5,
v0 = 1e-3, v1 = 10): all 32 patterns are fixed points, so MAP-EM only ever returns its start's pattern.
:func:`multistart` therefore *polishes* each MAP-EM end point (``polish=True``): it evaluates the objective at
each single-flip neighbour of gamma with sigma2 and theta at their exact conditional maxima
(:func:`map_em_profile`) and, while one is higher, restarts MAP-EM there.  Each move raises the objective,
so the polished run is still monotone (an ECME-type step, Liu & Rubin 1994, Biometrika 81:633–648: a
conditional maximisation of the objective itself rather than of ``Q``).

Starts (:data:`START_NAMES`):

- ``"ridge"``: ``w0 = (X^T X + I)^-1 X^T y`` (unit penalty on the standardised scale), works for D > N.
- ``"least-squares"``: ``w0`` the least-squares fit; when D > N the minimum-norm solution of ``X w = y``
  (``numpy.linalg.lstsq``), which interpolates the data.
- ``"all-slab"``, ``"all-spike"``: the pattern ``gamma0 = 1`` or ``0``.
- ``"random"``: ``gamma0_d ~ Bernoulli(1/2)`` from ``numpy.random.default_rng(seed)``.

:func:`multistart` adds ``RANDOM_STARTS`` ``"random"`` starts, named ``"random-1"``, ``"random-2"``, ..., each with
its own seed spawned from its ``seed`` (:class:`numpy.random.SeedSequence`).

A *coefficient* start (ridge, least squares) sets ``sigma2_0 = (|y - X w0|^2 + nu lam) / (N + nu + 2)``,
``theta0 = 1/2``; MAP-EM takes ``gamma0_d = [P(gamma_d = 1 | w0_d, 1/2, sigma2_0) > 1/2]``, EMVS takes ``w0``.
A *pattern* start puts every parameter at its conditional optimum given ``gamma0``: MAP-EM takes
``theta0 = theta_update(sum gamma0)`` and ``sigma2_0 = (R + nu lam) / (N + nu + 2)``; EMVS starts at one
M-step with ``p* = gamma0``.  So with the default Beta(1, 1) the all-spike and all-slab starts are the fixed
corners described above, for both algorithms (for EMVS ``theta = 0`` gives ``p* = 0`` and ``theta = 1``
gives ``p* = 1``).

**BLAS threads.**  Every fitter (:func:`fit_map_em`, :func:`fit_emvs`, :func:`fit`, :func:`multistart`,
:func:`map_em_enumerate`, :func:`objective_gradient`, :func:`place_in_exact`) holds BLAS to the project's one
policy, :func:`bayes_zoo.inference.threads.blas_held` (one thread): their matrices are D x D and N x D, and on
two cores MAP-EM on diabetes ran about 10x slower with OpenBLAS's default threads than with one (issue 15;
``benchmarks/bench_spike_slab.py``).  The single steps (:func:`map_em_step`, :func:`emvs_step` ...) hold
nothing: a loop over them should run inside ``with blas_held():``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import linalg, special, stats

from bayes_zoo.figures import legend_outside, styled
from bayes_zoo.inference.threads import holds_blas
from bayes_zoo.models.checks import instance, nonnegative_int, positive_int, positive_scalar
from bayes_zoo.models.spike_slab import (
    MAX_ENUMERATION_DIM,
    SpikeSlabExact,
    SpikeSlabPrior,
    check_regression_data,
    inclusion_probability,
    log_joint_marginalised,
)

__all__ = [
    "START_NAMES",
    "ALGORITHMS",
    "THETA_EPS",
    "RegressionData",
    "prepare_data",
    "theta_update",
    "MapEMState",
    "WPosterior",
    "map_em_posterior",
    "map_em_objective_terms",
    "map_em_objective",
    "map_em_init",
    "map_em_step",
    "EMVSState",
    "emvs_e_step",
    "emvs_m_step",
    "emvs_objective",
    "emvs_init",
    "emvs_step",
    "EMResult",
    "fit_map_em",
    "fit_emvs",
    "fit",
    "multistart",
    "MULTISTART_STARTS",
    "RANDOM_STARTS",
    "map_em_profile",
    "map_em_enumerate",
    "map_em_enumerate_from_exact",
    "objective_gradient",
    "GRADIENT_STEP",
    "ExactPlacement",
    "place_in_exact",
    "modes_table",
    "plot_objective_traces",
]

START_NAMES = ("ridge", "least-squares", "all-slab", "all-spike", "random")
ALGORITHMS = ("map-em", "emvs")
#: The deterministic starts of :func:`multistart` (its ``random_starts`` random ones come after them).
MULTISTART_STARTS = ("ridge", "least-squares", "all-slab", "all-spike")
#: :func:`multistart`'s default number of random starts.  On the diabetes data EMVS's best mode (objective
#: -465.497, sex, bmi, bp, s3, s5) is reached from neither the ridge nor the least-squares start (-468.972):
#: with 4 random starts 3 of root seeds 0-4 found it, with 8 four, with 12 and 16 all five.
RANDOM_STARTS = 12

#: Distance from 0 or 1 at which theta stops when its Q has no maximiser in [0, 1] (a0 < 1 or b0 < 1 and
#: the data push theta to that side: the Beta conditional density is unbounded there).
THETA_EPS = 1e-10


# --------------------------------------------------------------------------------------------------------
# Data, prior and the theta step shared by both algorithms
# --------------------------------------------------------------------------------------------------------


class RegressionData(NamedTuple):
    """Validated data and the statistics every step reuses."""

    X: np.ndarray
    """Design matrix, shape ``(N, D)``."""
    y: np.ndarray
    """Response, shape ``(N,)``."""
    xtx: np.ndarray
    """``X^T X``, shape ``(D, D)``."""
    xty: np.ndarray
    """``X^T y``, shape ``(D,)``."""


def prepare_data(X, y) -> RegressionData:
    """Validate ``X`` (N, D) and ``y`` (N,) with :func:`bayes_zoo.models.spike_slab.check_regression_data`."""
    X, y = check_regression_data(X, y)
    return RegressionData(X, y, X.T @ X, X.T @ y)


def _check_prior(prior) -> SpikeSlabPrior:
    return instance(prior, SpikeSlabPrior, "prior")


def _check_data(data) -> RegressionData:
    return instance(data, RegressionData, "data")  # from prepare_data


def _theta_q(theta, alpha, beta):
    """``alpha log(theta) + beta log(1 - theta)`` with ``0 log 0 = 0``."""
    with np.errstate(divide="ignore"):
        return float(special.xlogy(alpha, theta) + special.xlog1py(beta, -theta))


def theta_update(k, d: int, prior: SpikeSlabPrior, theta_old: float) -> float:
    """The theta step of both algorithms: maximise ``Q(theta) = alpha log(theta) + beta log(1 - theta)``.

    ``alpha = a0 + k - 1``, ``beta = b0 + D - k - 1``; ``k = sum(gamma)`` (MAP-EM, an integer) or
    ``sum(p*)`` (EMVS, real).

    - ``alpha > 0`` and ``beta > 0``: the Beta mode ``(a0 + k - 1) / (a0 + b0 + D - 2)``, in (0, 1).
    - ``alpha = 0 <= beta`` (``a0 = 1``, ``k = 0``): ``Q`` decreases, its maximiser on [0, 1] is ``theta = 0``
      exactly, where the objective is finite (``0 log 0 = 0``).  Likewise ``beta = 0 <= alpha`` gives 1, and
      ``alpha = beta = 0`` (``Q`` constant) keeps ``theta_old``.
    - ``alpha < 0`` or ``beta < 0`` (only when ``a0 < 1`` or ``b0 < 1``): ``Q`` is unbounded at an end of
      (0, 1), so no maximiser exists (the MAP is degenerate there).  The step returns the best of
      ``theta_old``, ``min(theta_old, THETA_EPS)`` and ``max(theta_old, 1 - THETA_EPS)``; it never lowers
      ``Q``, so EM stays monotone, and theta stops at ``THETA_EPS`` from the boundary.  Prefer a0, b0 >= 1 for
      MAP estimation.

    Returns
    -------
    float in [0, 1]
    """
    alpha = prior.a0 + float(k) - 1.0
    beta = prior.b0 + d - float(k) - 1.0
    if alpha > 0 and beta > 0:
        return alpha / (alpha + beta)
    if alpha >= 0 and beta >= 0:
        if alpha == 0 and beta == 0:
            return float(theta_old)
        return 0.0 if alpha == 0 else 1.0
    candidates = [float(theta_old), min(theta_old, THETA_EPS), max(theta_old, 1.0 - THETA_EPS)]
    return max(candidates, key=lambda t: _theta_q(t, alpha, beta))


def _log_prior_theta(theta, prior) -> float:
    """log Beta(theta | a0, b0), with ``0 log 0 = 0`` so that theta = 0 (a0 = 1) or 1 (b0 = 1) is finite."""
    return _theta_q(theta, prior.a0 - 1.0, prior.b0 - 1.0) - float(special.betaln(prior.a0, prior.b0))


def _log_prior_sigma2(sigma2, prior) -> float:
    return float(stats.invgamma.logpdf(sigma2, prior.nu / 2, scale=prior.nu * prior.lam / 2))


# --------------------------------------------------------------------------------------------------------
# MAP-EM: parameters (gamma, sigma2, theta), w latent
# --------------------------------------------------------------------------------------------------------


class MapEMState(NamedTuple):
    """Parameters of MAP-EM."""

    gamma: np.ndarray
    """Inclusion pattern, shape ``(D,)``, int in {0, 1} (1 = slab)."""
    sigma2: float
    """Noise variance, > 0."""
    theta: float
    """Prior inclusion probability, in [0, 1] (0 or 1 only at the fixed corners, see the module doc)."""


class WPosterior(NamedTuple):
    """``w | y, gamma, sigma2 ~ N(mean, sigma2 A^-1)``, ``A = X^T X + diag(1 / v[gamma])``."""

    mean: np.ndarray
    """``mu = A^-1 X^T y``, shape ``(D,)`` (independent of sigma2)."""
    chol: np.ndarray
    """Lower Cholesky factor ``L`` of ``A``, shape ``(D, D)``."""
    a_inv_diag: np.ndarray
    """``diag(A^-1)``, shape ``(D,)``; ``Sigma_dd = sigma2 * a_inv_diag[d]``."""
    trace_x_ainv_xt: float
    """``tr(X A^-1 X^T)``; ``E|y - X w|^2 = |y - X mu|^2 + sigma2 * trace_x_ainv_xt``."""
    variances: np.ndarray
    """``v[gamma]``, shape ``(D,)``."""


def map_em_posterior(gamma, data: RegressionData, prior: SpikeSlabPrior) -> WPosterior:
    """The E-step's Gaussian for ``w`` given ``gamma`` (shape ``(D,)``); O(D^3 + N D^2)."""
    v = prior.variances[np.asarray(gamma, dtype=int)]
    A = data.xtx + np.diag(1.0 / v)
    L = linalg.cholesky(A, lower=True)
    mean = linalg.cho_solve((L, True), data.xty)
    L_inv = linalg.solve_triangular(L, np.eye(len(v)), lower=True)  # A^-1 = L^-T L^-1
    a_inv_diag = np.sum(L_inv**2, axis=0)
    trace = float(np.sum((data.X @ L_inv.T) ** 2))  # ||X L^-T||_F^2, no cancellation
    return WPosterior(mean, L, a_inv_diag, trace, v)


def _penalised_residual(post: WPosterior, data: RegressionData) -> float:
    """``R = |y - X mu|^2 + mu^T V^-1 mu`` (= y^T y - mu^T A mu, in the form that keeps its precision)."""
    resid = data.y - data.X @ post.mean
    return float(resid @ resid + np.sum(post.mean**2 / post.variances))


def map_em_objective_terms(state: MapEMState, data: RegressionData, prior: SpikeSlabPrior) -> dict:
    """The MAP-EM objective as named terms (their sum is :func:`map_em_objective`).

    ``log p(y | gamma, sigma2) = constant_term + log_det_term + quadratic_term`` with
    ``constant_term = -N/2 log(2 pi)``, ``log_det_term = -(N log sigma2 + sum log v[gamma] + log|A|) / 2``
    (``log|A| = 2 sum log diag L``), ``quadratic_term = -(|y - X mu|^2 + mu^T V^-1 mu) / (2 sigma2)``;
    then ``log_prior_gamma = k log theta + (D - k) log(1 - theta)``, ``log_prior_theta``, ``log_prior_sigma2``.

    Returns
    -------
    dict of float
    """
    n, d = data.X.shape
    gamma = np.asarray(state.gamma, dtype=int)
    sigma2, theta = float(state.sigma2), float(state.theta)
    post = map_em_posterior(gamma, data, prior)
    k = int(gamma.sum())
    with np.errstate(divide="ignore"):
        log_prior_gamma = float(special.xlogy(k, theta) + special.xlog1py(d - k, -theta))
    return {
        "constant_term": -0.5 * n * np.log(2 * np.pi),
        "log_det_term": -0.5 * (n * np.log(sigma2) + np.sum(np.log(post.variances))
                                + 2.0 * np.sum(np.log(np.diag(post.chol)))),
        "quadratic_term": -0.5 * _penalised_residual(post, data) / sigma2,
        "log_prior_gamma": log_prior_gamma,
        "log_prior_theta": _log_prior_theta(theta, prior),
        "log_prior_sigma2": _log_prior_sigma2(sigma2, prior),
    }


def map_em_objective(state: MapEMState, data: RegressionData, prior: SpikeSlabPrior) -> float:
    """``log p(y | gamma, sigma2) + log p(gamma | theta) + log p(theta) + log p(sigma2)`` (w integrated out)."""
    return float(sum(map_em_objective_terms(state, data, prior).values()))


def map_em_step(state: MapEMState, data: RegressionData, prior: SpikeSlabPrior) -> MapEMState:
    """One ECM iteration: E-step at ``state``, then the gamma, sigma2 and theta conditional M-steps.

    Parameters
    ----------
    state : MapEMState
    data : RegressionData
    prior : SpikeSlabPrior

    Returns
    -------
    MapEMState
        A new state; ``state`` is not modified.
    """
    gamma = np.asarray(state.gamma, dtype=int)
    sigma2, theta = float(state.sigma2), float(state.theta)
    n, d = data.X.shape
    post = map_em_posterior(gamma, data, prior)
    e_w2 = sigma2 * post.a_inv_diag + post.mean**2  # E[w_d^2], (D,)
    resid = data.y - data.X @ post.mean
    e_rss = resid @ resid + sigma2 * post.trace_x_ainv_xt  # E|y - X w|^2

    # gamma: compare Q at gamma_d = 1 and 0 (sigma2, theta at their current values); ties keep gamma_d
    v0, v1 = prior.spike_var, prior.slab_var
    with np.errstate(divide="ignore"):
        q1 = -0.5 * np.log(v1) - e_w2 / (2 * sigma2 * v1) + np.log(theta)
        q0 = -0.5 * np.log(v0) - e_w2 / (2 * sigma2 * v0) + np.log1p(-theta)
    new_gamma = np.where(q1 > q0, 1, np.where(q0 > q1, 0, gamma))

    # sigma2: closed form with the new gamma, including the InverseGamma(nu/2, nu lam/2) prior
    v_new = prior.variances[new_gamma]
    new_sigma2 = (e_rss + np.sum(e_w2 / v_new) + prior.nu * prior.lam) / (n + d + prior.nu + 2)

    # theta: mode of its Beta full conditional given the new gamma
    new_theta = theta_update(int(new_gamma.sum()), d, prior, theta)
    return MapEMState(new_gamma.astype(int), float(new_sigma2), float(new_theta))


# --------------------------------------------------------------------------------------------------------
# EMVS: parameters (w, sigma2, theta), gamma latent
# --------------------------------------------------------------------------------------------------------


class EMVSState(NamedTuple):
    """Parameters of EMVS."""

    w: np.ndarray
    """Coefficients, shape ``(D,)``, standardised units if the data are."""
    sigma2: float
    """Noise variance, > 0."""
    theta: float
    """Prior inclusion probability, in [0, 1]."""


def emvs_e_step(state: EMVSState, prior: SpikeSlabPrior):
    """``p*`` and ``d*``, each of shape ``(D,)`` (Ročková & George 2014, sec. 3)."""
    with np.errstate(divide="ignore"):
        p_star = inclusion_probability(state.w, state.theta, state.sigma2, prior)
    d_star = p_star / prior.slab_var + (1.0 - p_star) / prior.spike_var
    return p_star, d_star


def emvs_m_step(p_star, d_star, theta_old: float, data: RegressionData, prior: SpikeSlabPrior) -> EMVSState:
    """The EMVS M-step given the E-step's ``p*`` and ``d*`` (shape ``(D,)``); ``theta_old`` matters only in
    :func:`theta_update`'s degenerate cases."""
    n, d = data.X.shape
    if d <= n:
        L = linalg.cholesky(data.xtx + np.diag(d_star), lower=True)
        w = linalg.cho_solve((L, True), data.xty)
    else:  # push-through: (X^T X + D*)^-1 X^T = D*^-1 X^T (I_N + X D*^-1 X^T)^-1, an N x N solve
        X_scaled = data.X / d_star  # X D*^-1, (N, D)
        K = np.eye(n) + X_scaled @ data.X.T
        w = X_scaled.T @ linalg.cho_solve(linalg.cho_factor(K, lower=True), data.y)
    resid = data.y - data.X @ w
    sigma2 = (resid @ resid + np.sum(d_star * w**2) + prior.nu * prior.lam) / (n + d + prior.nu + 2)
    theta = theta_update(float(np.sum(p_star)), d, prior, theta_old)
    return EMVSState(w, float(sigma2), float(theta))


def emvs_step(state: EMVSState, data: RegressionData, prior: SpikeSlabPrior) -> EMVSState:
    """One EM iteration of EMVS: :func:`emvs_e_step` then :func:`emvs_m_step`.  Pure; returns a new state."""
    p_star, d_star = emvs_e_step(state, prior)
    return emvs_m_step(p_star, d_star, float(state.theta), data, prior)


def emvs_objective(state: EMVSState, data: RegressionData, prior: SpikeSlabPrior) -> float:
    """``log p(w, sigma2, theta | y) + log p(y)``: :func:`bayes_zoo.models.spike_slab.log_joint_marginalised`."""
    with np.errstate(divide="ignore"):
        return log_joint_marginalised(state.w, state.theta, state.sigma2, data.X, data.y, prior)


# --------------------------------------------------------------------------------------------------------
# Starts
# --------------------------------------------------------------------------------------------------------


def _start_point(start, data: RegressionData, seed):
    """``("coef", w0)`` or ``("pattern", gamma0)`` for a named start."""
    n, d = data.X.shape
    if not isinstance(start, str) or start not in START_NAMES:
        raise ValueError(f"start: expected one of {START_NAMES} or a state, got {start!r}")
    if start == "ridge":
        return "coef", linalg.solve(data.xtx + np.eye(d), data.xty, assume_a="pos")
    if start == "least-squares":  # D > N: lstsq returns the minimum-norm solution of X w = y
        return "coef", np.linalg.lstsq(data.X, data.y, rcond=None)[0]
    if start == "all-slab":
        return "pattern", np.ones(d, dtype=int)
    if start == "all-spike":
        return "pattern", np.zeros(d, dtype=int)
    rng = np.random.default_rng(nonnegative_int(seed, "seed"))
    return "pattern", (rng.random(d) < 0.5).astype(int)


def _coef_start_sigma2(w0, data, prior) -> float:
    resid = data.y - data.X @ w0
    n = data.X.shape[0]
    return float((resid @ resid + prior.nu * prior.lam) / (n + prior.nu + 2))


def _check_state(state, cls, d):
    name = cls.__name__
    first = np.asarray(state[0], dtype=float)
    if first.shape != (d,) or not np.all(np.isfinite(first)):
        raise ValueError(f"start: {name}.{cls._fields[0]} must be a finite array of shape ({d},)")
    if cls is MapEMState and not np.all(np.isin(first, (0, 1))):
        raise ValueError("start: MapEMState.gamma must hold only 0 and 1")
    positive_scalar(state.sigma2, "start")
    if not (np.isfinite(state.theta) and 0.0 <= state.theta <= 1.0):
        raise ValueError(f"start: theta must lie in [0, 1], got {state.theta}")
    if cls is MapEMState:
        return MapEMState(first.astype(int), float(state.sigma2), float(state.theta))
    return EMVSState(first, float(state.sigma2), float(state.theta))


def map_em_init(data: RegressionData, prior: SpikeSlabPrior, start="ridge", *, seed=0) -> MapEMState:
    """MAP-EM's starting state for a named start (see the module doc) or a given :class:`MapEMState`.

    Returns
    -------
    MapEMState
    """
    data, prior = _check_data(data), _check_prior(prior)
    d = data.X.shape[1]
    if isinstance(start, MapEMState):
        return _check_state(start, MapEMState, d)
    kind, value = _start_point(start, data, seed)
    if kind == "coef":
        sigma2 = _coef_start_sigma2(value, data, prior)
        gamma = (inclusion_probability(value, 0.5, sigma2, prior) > 0.5).astype(int)
        return MapEMState(gamma, sigma2, 0.5)
    return map_em_profile(value, data, prior)


def map_em_profile(gamma, data: RegressionData, prior: SpikeSlabPrior, theta_old: float = 0.5) -> MapEMState:
    """The state that maximises :func:`map_em_objective` over ``(sigma2, theta)`` with ``gamma`` fixed.

    ``sigma2 = (R + nu lam) / (N + nu + 2)``, ``R = |y - X mu|^2 + mu^T V^-1 mu`` (the mode of
    ``p(sigma2 | y, gamma)``: the objective's sigma2 terms are ``-(N + nu + 2)/2 log sigma2 - (R + nu lam) /
    (2 sigma2)``), and ``theta = theta_update(sum(gamma))``; so the objective at this state is its profile
    over gamma.  Used by the pattern starts, :func:`multistart`'s polish and :func:`map_em_enumerate`.

    Parameters
    ----------
    gamma : array_like of {0, 1}, shape (D,)
    data : RegressionData
    prior : SpikeSlabPrior
    theta_old : float
        Only for :func:`theta_update`'s degenerate cases.

    Returns
    -------
    MapEMState
    """
    gamma = np.asarray(gamma, dtype=int)
    post = map_em_posterior(gamma, data, prior)
    r = _penalised_residual(post, data)
    sigma2 = float((r + prior.nu * prior.lam) / (data.X.shape[0] + prior.nu + 2))
    return MapEMState(gamma, sigma2, theta_update(int(gamma.sum()), data.X.shape[1], prior, theta_old))


def emvs_init(data: RegressionData, prior: SpikeSlabPrior, start="ridge", *, seed=0) -> EMVSState:
    """EMVS's starting state for a named start (see the module doc) or a given :class:`EMVSState`.

    Returns
    -------
    EMVSState
    """
    data, prior = _check_data(data), _check_prior(prior)
    d = data.X.shape[1]
    if isinstance(start, EMVSState):
        return _check_state(start, EMVSState, d)
    kind, value = _start_point(start, data, seed)
    if kind == "coef":
        return EMVSState(value, _coef_start_sigma2(value, data, prior), 0.5)
    p = value.astype(float)
    return emvs_m_step(p, p / prior.slab_var + (1 - p) / prior.spike_var, 0.5, data, prior)


# --------------------------------------------------------------------------------------------------------
# Drivers
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EMResult:
    """The outcome of one EM run.

    Attributes
    ----------
    algorithm : str
        ``"map-em"`` or ``"emvs"``.
    start : str
        The start's name (``"custom"`` for a given state).
    state : MapEMState or EMVSState
        The final parameters.
    w : numpy.ndarray, shape (D,)
        Coefficients: EMVS's ``w``; for MAP-EM the conditional posterior mean ``E[w | y, gamma]``.
    sigma2, theta : float
        Final values.
    selected : numpy.ndarray, shape (D,), int
        The selected model: MAP-EM's ``gamma``; EMVS's ``p* > 1/2``.
    inclusion : numpy.ndarray, shape (D,)
        MAP-EM: ``gamma`` (as float); EMVS: ``p*`` at the final state.
    objective : numpy.ndarray, shape (n_iter + 1,)
        The objective at the start and after each iteration (nats; the two algorithms' objectives differ).
    n_iter : int
        Iterations run.
    converged : bool
        Whether the largest parameter change fell to ``tol`` or below before ``max_iter``.
    elapsed : float
        Wall-clock seconds of the iterations (start included).
    feature_names : list of str
    polish_moves : int
        Single-flip moves made by :func:`multistart`'s polish (MAP-EM; 0 otherwise).
    """

    algorithm: str
    start: str
    state: tuple
    w: np.ndarray
    sigma2: float
    theta: float
    selected: np.ndarray
    inclusion: np.ndarray
    objective: np.ndarray
    n_iter: int
    converged: bool
    elapsed: float
    feature_names: list = field(default_factory=list)
    polish_moves: int = 0

    @property
    def selected_names(self) -> list:
        """Names of the selected features."""
        return [n for n, g in zip(self.feature_names, self.selected) if g]

    @property
    def model_label(self) -> str:
        """The selected features joined by ``", "``, or ``"(none)"`` (as ``SpikeSlabExact.top_models``)."""
        return ", ".join(self.selected_names) or "(none)"


def _map_em_change(old: MapEMState, new: MapEMState) -> float:
    if not np.array_equal(old.gamma, new.gamma):
        return np.inf
    return max(abs(new.sigma2 - old.sigma2) / old.sigma2, abs(new.theta - old.theta))


def _emvs_change(old: EMVSState, new: EMVSState) -> float:
    dw = np.max(np.abs(new.w - old.w)) / (1.0 + np.max(np.abs(old.w)))
    return max(dw, abs(new.sigma2 - old.sigma2) / old.sigma2, abs(new.theta - old.theta))


def _feature_names(feature_names, d):
    names = [f"x{j}" for j in range(d)] if feature_names is None else [str(n) for n in feature_names]
    if len(names) != d:
        raise ValueError(f"feature_names: {len(names)} names for {d} columns")
    return names


def _run(algorithm, X, y, prior, start, max_iter, tol, seed, feature_names) -> EMResult:
    data = prepare_data(X, y)
    prior = _check_prior(prior)
    max_iter = positive_int(max_iter, "max_iter")
    tol = positive_scalar(tol, "tol")
    names = _feature_names(feature_names, data.X.shape[1])
    init, step, objective, change = {
        "map-em": (map_em_init, map_em_step, map_em_objective, _map_em_change),
        "emvs": (emvs_init, emvs_step, emvs_objective, _emvs_change),
    }[algorithm]
    t0 = time.perf_counter()
    state = init(data, prior, start, seed=seed)
    values = [objective(state, data, prior)]
    converged, n_iter = False, 0
    for n_iter in range(1, max_iter + 1):
        new = step(state, data, prior)
        values.append(objective(new, data, prior))
        delta = change(state, new)
        state = new
        if not (np.isfinite(values[-1]) and np.isfinite(state.sigma2) and state.sigma2 > 0):
            raise FloatingPointError(f"{algorithm}: non-finite objective or sigma2 at iteration {n_iter}")
        if delta <= tol:
            converged = True
            break
    elapsed = time.perf_counter() - t0
    if algorithm == "map-em":
        w = map_em_posterior(state.gamma, data, prior).mean
        selected = state.gamma.copy()
        inclusion = selected.astype(float)
    else:
        w = state.w
        inclusion = emvs_e_step(state, prior)[0]
        selected = (inclusion > 0.5).astype(int)
    return EMResult(algorithm, start if isinstance(start, str) else "custom", state, w, float(state.sigma2),
                    float(state.theta), selected, inclusion, np.array(values), n_iter, converged, elapsed, names)


@holds_blas
def fit_map_em(X, y, prior: SpikeSlabPrior, *, start="ridge", max_iter: int = 1000, tol: float = 1e-10,
               seed: int = 0, feature_names=None) -> EMResult:
    """MAP-EM (w latent) from ``start`` until the largest parameter change is <= ``tol``.

    Parameters
    ----------
    X : array_like, shape (N, D)
    y : array_like, shape (N,)
    prior : SpikeSlabPrior
    start : str or MapEMState
        One of :data:`START_NAMES`, or a state.
    max_iter : int, >= 1
    tol : float, > 0
        Convergence when gamma is unchanged and ``|d sigma2| / sigma2`` and ``|d theta|`` are <= ``tol``.
    seed : int, >= 0
        For the ``"random"`` start.
    feature_names : sequence of str, optional

    Returns
    -------
    EMResult

    Raises
    ------
    ValueError
        Naming the argument: bad data or prior, ``max_iter`` < 1, ``tol`` <= 0, an unknown start, a bad
        ``seed`` or ``feature_names``.
    """
    return _run("map-em", X, y, prior, start, max_iter, tol, seed, feature_names)


@holds_blas
def fit_emvs(X, y, prior: SpikeSlabPrior, *, start="ridge", max_iter: int = 1000, tol: float = 1e-10,
             seed: int = 0, feature_names=None) -> EMResult:
    """EMVS (gamma latent) from ``start`` until the largest parameter change is <= ``tol``.

    Convergence: ``max|dw| / (1 + max|w|)``, ``|d sigma2| / sigma2`` and ``|d theta|`` all <= ``tol``.
    Parameters, returns and errors as :func:`fit_map_em` (``start`` a name or an :class:`EMVSState`).
    """
    return _run("emvs", X, y, prior, start, max_iter, tol, seed, feature_names)


@holds_blas
def fit(X, y, prior: SpikeSlabPrior, *, algorithm: str = "emvs", start="ridge", max_iter: int = 1000,
        tol: float = 1e-10, seed: int = 0, feature_names=None) -> EMResult:
    """:func:`fit_map_em` (``algorithm="map-em"``) or :func:`fit_emvs` (``"emvs"``)."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm: expected one of {ALGORITHMS}, got {algorithm!r}")
    return _run(algorithm, X, y, prior, start, max_iter, tol, seed, feature_names)


def _polish_map_em(result: EMResult, data: RegressionData, prior: SpikeSlabPrior, max_iter, tol) -> EMResult:
    """MAP-EM's end point moved by single flips of gamma while one raises the objective (module doc)."""
    state, values = result.state, list(result.objective)
    moves, n_iter, converged, d = 0, result.n_iter, result.converged, data.X.shape[1]
    t0 = time.perf_counter()
    while True:
        current = values[-1]
        best, best_value = None, current + 1e-9 * (1.0 + abs(current))  # a move must gain beyond round-off
        for j in range(d):
            flipped = state.gamma.copy()
            flipped[j] = 1 - flipped[j]
            candidate = map_em_profile(flipped, data, prior, state.theta)
            value = map_em_objective(candidate, data, prior)
            if value > best_value:
                best, best_value = candidate, value
        if best is None:
            break
        moves += 1
        state = best
        values.append(best_value)
        for _ in range(max_iter):  # MAP-EM again from the neighbour
            new = map_em_step(state, data, prior)
            values.append(map_em_objective(new, data, prior))
            delta, state, n_iter = _map_em_change(state, new), new, n_iter + 1
            if delta <= tol:
                converged = True
                break
        else:
            converged = False
    if moves == 0:
        return result
    post = map_em_posterior(state.gamma, data, prior)
    selected = state.gamma.copy()
    return EMResult(result.algorithm, result.start, state, post.mean, float(state.sigma2), float(state.theta),
                    selected, selected.astype(float), np.array(values), n_iter, converged,
                    result.elapsed + time.perf_counter() - t0, result.feature_names, moves)


@holds_blas
def multistart(X, y, prior: SpikeSlabPrior, *, starts=MULTISTART_STARTS, random_starts: int = RANDOM_STARTS,
               algorithms=ALGORITHMS, seed: int = 0, polish: bool = True, max_iter: int = 1000, tol: float = 1e-10,
               feature_names=None) -> pd.DataFrame:
    """Run each algorithm from each start and rank where they ended by the algorithm's own objective.

    The objective each algorithm increases, and by which its end points are ranked: MAP-EM, the log marginal
    posterior density of ``(gamma, sigma2, theta)`` with ``w`` integrated out, up to ``log p(y)``
    (:func:`map_em_objective`; module doc); EMVS, the log posterior density of ``(w, sigma2, theta)`` with
    ``gamma`` summed out, up to ``log p(y)`` (:func:`emvs_objective`; Ročková & George 2014, JASA 109:828–846,
    sec. 3, the function their EM algorithm increases: the log of ``pi(beta, sigma, theta | Y)``, whose
    E-step expectation is their eq. (9), ``Q(beta, sigma, theta | ...)``).  The two are densities over
    different parameters, so objectives compare within an algorithm only.

    Parameters
    ----------
    X : array_like, shape (N, D)
    y : array_like, shape (N,)
    prior : SpikeSlabPrior
    starts : sequence of str
        Named starts from :data:`START_NAMES` (``"least-squares"`` is the minimum-norm solution when D > N).
    random_starts : int, >= 0
        How many ``"random"`` starts follow, named ``"random-1"``, ...; start i draws its pattern from the seed
        ``SeedSequence(seed).spawn(random_starts)[i]`` (randomness as an argument: the same ``seed``, the same
        table).
    algorithms : sequence of str
        From :data:`ALGORITHMS`.
    seed : int, 0 <= seed < 2**63
    polish : bool, default True
        Polish MAP-EM's end points by single flips of gamma (module doc); ``polish_moves`` counts the moves.
    max_iter, tol, feature_names
        As :func:`fit_map_em`.

    Returns
    -------
    pandas.DataFrame
        One row per (algorithm, start): ``algorithm``, ``start``, ``model`` (selected feature names),
        ``n_included``, ``objective`` (final, nats), ``iterations``, ``converged``, ``polish_moves``, ``sigma2``,
        ``theta``, ``seconds`` and ``mode``: within an algorithm, distinct end points (selected model,
        objective within ``1e-6 (1 + |objective|)``) numbered 1, 2, ... by decreasing objective, so
        ``mode == 1`` marks the end point with the highest objective found.  ``table.attrs["results"]`` holds
        the :class:`EMResult` objects by ``(algorithm, start)``; ``table.attrs["best"]`` the mode-1
        :class:`EMResult` of each algorithm.

    Raises
    ------
    ValueError
        Naming the argument, before any run: bad data or prior, an unknown start or algorithm,
        ``random_starts`` < 0, a bad ``seed``, ``max_iter``, ``tol`` or ``feature_names``.
    """
    from bayes_zoo.models.checks import seed as check_seed

    X, y = check_regression_data(X, y)
    prior = _check_prior(prior)
    starts = tuple(starts)
    for s in starts:
        if s not in START_NAMES:
            raise ValueError(f"starts: unknown start {s!r}; expected names from {START_NAMES}")
    algorithms = tuple(algorithms)
    for a in algorithms:
        if a not in ALGORITHMS:
            raise ValueError(f"algorithms: unknown algorithm {a!r}; expected names from {ALGORITHMS}")
    random_starts = nonnegative_int(random_starts, "random_starts")
    seed = check_seed(seed, "seed")
    positive_int(max_iter, "max_iter")
    positive_scalar(tol, "tol")
    _feature_names(feature_names, X.shape[1])
    if not starts and random_starts == 0:
        raise ValueError("starts: no start given (and random_starts = 0)")
    children = np.random.SeedSequence(seed).spawn(random_starts)
    plan = [(s, s, seed) for s in starts] + [
        ("random", f"random-{i + 1}", int(c.generate_state(1, np.uint64)[0] >> np.uint64(1)))
        for i, c in enumerate(children)]
    data = prepare_data(X, y)
    rows, results = [], {}
    for algorithm in algorithms:
        for start, label, start_seed in plan:
            r = _run(algorithm, X, y, prior, start, max_iter, tol, start_seed, feature_names)
            if polish and algorithm == "map-em":
                r = _polish_map_em(r, data, prior, max_iter, tol)
            r = EMResult(**{**r.__dict__, "start": label})
            results[(algorithm, label)] = r
            rows.append({"algorithm": algorithm, "start": label, "model": r.model_label,
                         "n_included": int(r.selected.sum()), "objective": float(r.objective[-1]),
                         "iterations": r.n_iter, "converged": r.converged, "polish_moves": r.polish_moves,
                         "sigma2": r.sigma2, "theta": r.theta, "seconds": r.elapsed})
    table = pd.DataFrame(rows)
    table["mode"] = 0
    best = {}
    for algorithm, group in table.groupby("algorithm", sort=False):
        modes = []  # (model, objective) representatives, best first
        for i in group.sort_values("objective", ascending=False, kind="stable").index:
            model, obj = table.at[i, "model"], table.at[i, "objective"]
            for j, (m, o) in enumerate(modes):
                if m == model and abs(o - obj) <= 1e-6 * (1 + abs(o)):
                    table.at[i, "mode"] = j + 1
                    break
            else:
                modes.append((model, obj))
                table.at[i, "mode"] = len(modes)
            if table.at[i, "mode"] == 1 and algorithm not in best:
                best[algorithm] = results[(algorithm, table.at[i, "start"])]
    table.attrs["skipped"] = []
    table.attrs["results"] = results
    table.attrs["best"] = best
    return table


@holds_blas
def map_em_enumerate(X, y, prior: SpikeSlabPrior, feature_names=None) -> pd.DataFrame:
    """MAP-EM's objective profiled over ``(sigma2, theta)`` (:func:`map_em_profile`) for every one of the 2^D
    patterns gamma: the global maximum of MAP-EM's objective, found without MAP-EM.

    Parameters
    ----------
    X : array_like, shape (N, D), D <= ``MAX_ENUMERATION_DIM``
    y : array_like, shape (N,)
    prior : SpikeSlabPrior
    feature_names : sequence of str, optional

    Returns
    -------
    pandas.DataFrame
        2^D rows sorted by decreasing ``objective`` (nats): ``model`` (names joined as
        :attr:`EMResult.model_label`), ``objective``, ``sigma2``, ``theta``; ``attrs["gamma"]``, the patterns in
        the same order, shape ``(2^D, D)``.  O(2^D (D^3 + N D^2)) time: 0.2 s for D = 10, N = 442 (2 cores).

    Raises
    ------
    ValueError
        Naming ``X`` when D > ``MAX_ENUMERATION_DIM``, or as :func:`prepare_data` and ``feature_names``.
    """
    data = prepare_data(X, y)
    prior = _check_prior(prior)
    d = data.X.shape[1]
    if d > MAX_ENUMERATION_DIM:
        raise ValueError(f"X: D = {d} > {MAX_ENUMERATION_DIM}: too many patterns to enumerate")
    names = _feature_names(feature_names, d)
    gammas = ((np.arange(2**d)[:, None] >> np.arange(d)[None, :]) & 1).astype(int)
    rows = []
    for gamma in gammas:
        state = map_em_profile(gamma, data, prior)
        rows.append({"model": ", ".join(n for n, g in zip(names, gamma) if g) or "(none)",
                     "objective": map_em_objective(state, data, prior), "sigma2": state.sigma2,
                     "theta": state.theta})
    table = pd.DataFrame(rows)
    order = np.argsort(-table["objective"].to_numpy(), kind="stable")
    table = table.iloc[order].reset_index(drop=True)
    table.attrs["gamma"] = gammas[order]
    return table


def map_em_enumerate_from_exact(exact: SpikeSlabExact, prior: SpikeSlabPrior) -> pd.DataFrame:
    """:func:`map_em_enumerate`'s table, vectorised from what exact enumeration already holds (no new solve).

    For each pattern gamma, ``beta_n = nu lam / 2 + R / 2`` gives the penalised residual ``R`` and
    ``log p(y | gamma)`` holds ``-N/2 log(2 pi) - (log|V| + log|A|)/2``, the only other gamma-dependent term
    of MAP-EM's objective (``log|I + X V X^T| = log|V| + log|A|``); sigma2 and theta then take their profile
    values as in :func:`map_em_profile`.  About 1 ms for D = 10 instead of :func:`map_em_enumerate`'s 0.2 s.

    Parameters
    ----------
    exact : SpikeSlabExact
        From :func:`bayes_zoo.models.spike_slab.exact_posterior` under the same ``prior`` (not checkable here,
        beyond N recovered from ``exact.sigma2_shape = nu/2 + N/2`` being a whole number).
    prior : SpikeSlabPrior

    Returns
    -------
    pandas.DataFrame
        As :func:`map_em_enumerate`: 2^D rows by decreasing ``objective`` (nats), ``model``, ``objective``,
        ``sigma2``, ``theta``; ``attrs["gamma"]`` the patterns in that order, shape ``(2^D, D)``.

    Raises
    ------
    ValueError
        Naming ``exact`` if it is not a SpikeSlabExact or its ``sigma2_shape`` does not fit ``prior.nu`` with a
        whole number of observations; naming ``prior``.
    """
    exact = instance(exact, SpikeSlabExact, "exact")
    prior = _check_prior(prior)
    alpha, beta = prior.nu / 2, prior.nu * prior.lam / 2
    alpha_n = exact.sigma2_shape
    n = 2 * (alpha_n - alpha)
    if not n >= 1 or abs(n - round(n)) > 1e-9:
        raise ValueError(f"exact: sigma2_shape {alpha_n} is not nu/2 + N/2 for nu = {prior.nu:g}; "
                         "was it computed under this prior?")
    n = round(n)
    models = exact.models
    k = models.sum(axis=1)
    d = models.shape[1]
    r = 2 * (exact.sigma2_scale - beta)  # |y - X mu|^2 + mu^T V^-1 mu per pattern
    half_log_det = (exact.log_marginal_likelihood - alpha * np.log(beta) + alpha_n * np.log(exact.sigma2_scale)
                    - special.gammaln(alpha_n) + special.gammaln(alpha))  # -N/2 log 2 pi - (log|V| + log|A|)/2
    sigma2 = (r + prior.nu * prior.lam) / (n + prior.nu + 2)
    theta = np.array([theta_update(int(kk), d, prior, 0.5) for kk in np.unique(k)])[np.searchsorted(np.unique(k), k)]
    with np.errstate(divide="ignore"):
        objective = (half_log_det - n / 2 * np.log(sigma2) - r / (2 * sigma2)
                     + special.xlogy(k, theta) + special.xlog1py(d - k, -theta)
                     + special.xlogy(prior.a0 - 1, theta) + special.xlog1py(prior.b0 - 1, -theta)
                     - special.betaln(prior.a0, prior.b0)
                     + stats.invgamma.logpdf(sigma2, prior.nu / 2, scale=prior.nu * prior.lam / 2))
    names = list(exact.feature_names)
    order = np.argsort(-objective, kind="stable")
    table = pd.DataFrame({
        "model": [", ".join(nm for nm, g in zip(names, models[i]) if g) or "(none)" for i in order],
        "objective": objective[order], "sigma2": sigma2[order], "theta": theta[order]})
    table.attrs["gamma"] = models[order]
    return table


#: Central-difference step in :func:`objective_gradient`'s coordinates (log sigma2, logit theta, and w in units
#: of the spike's sd sqrt(sigma2 v0)).
GRADIENT_STEP = 1e-5


@holds_blas
def objective_gradient(result: EMResult, X, y, prior: SpikeSlabPrior, *, step: float = GRADIENT_STEP) -> pd.Series:
    """The gradient of ``result``'s own objective at its end point, by central finite differences.

    It reads only the objective (:func:`map_em_objective` or :func:`emvs_objective`), never an M-step formula,
    so it is ~0 at a true stationary point whatever the M-steps compute: a wrong M-step (theta's count off by
    one) stops EM where the gradient is not 0.  Coordinates, chosen so that every component is in nats per
    unit of a dimensionless coordinate:

    - ``log sigma2``: ``sigma2 d/dsigma2``;
    - ``logit theta``: ``theta (1 - theta) d/dtheta``, for theta in (0, 1).  At theta = 0 or 1 (the fixed
      corners of the module doc, a boundary maximum) the component is the Karush–Kuhn–Tucker violation
      instead: the positive part of the one-sided derivative ``d/dtheta`` pointing into (0, 1);
    - EMVS only, ``w[name]``: ``s d/dw_d`` with ``s = sqrt(sigma2 v0)``, the spike's sd (the smallest scale
      on which the objective curves in w).

    Each component is ``(f(u + h e) - f(u - h e)) / (2 h)`` with ``h = step``.  Error: truncation
    ``h^2 |f'''| / 6`` (~1e-10 here: ``f'''`` is O(1) to O(N) in these coordinates) plus round-off
    ``~ eps |f| / h`` (``|f|`` ~ 1e3 nats gives ~2e-8); EM stopped at a relative parameter change of 1e-10
    adds ~1e-7 at most.  So ~1e-6 bounds a correct end point's components.

    Parameters
    ----------
    result : EMResult
        From :func:`fit`, :func:`fit_map_em`, :func:`fit_emvs` or :func:`multistart`, on these data.
    X : array_like, shape (N, D)
    y : array_like, shape (N,)
    prior : SpikeSlabPrior
    step : float, > 0
        ``h``.

    Returns
    -------
    pandas.Series
        Components indexed ``"log sigma2"``, ``"logit theta"`` (then ``"w[name]"`` for EMVS).

    Raises
    ------
    ValueError
        Naming ``result``, ``X``/``y``, ``prior`` or ``step``.
    """
    if not isinstance(result, EMResult):
        raise ValueError(f"result: expected an EMResult, got {type(result).__name__}")
    data = prepare_data(X, y)
    prior = _check_prior(prior)
    h = positive_scalar(step, "step")
    d = data.X.shape[1]
    if result.selected.shape != (d,):
        raise ValueError(f"result: fitted to {result.selected.shape[0]} features, the data have {d}")
    sigma2, theta = float(result.sigma2), float(result.theta)
    if result.algorithm == "map-em":
        gamma = np.asarray(result.state.gamma, dtype=int)

        def f(log_s2, th, w=None):
            return map_em_objective(MapEMState(gamma, float(np.exp(log_s2)), float(th)), data, prior)
    else:
        def f(log_s2, th, w=None):
            return emvs_objective(EMVSState(result.w if w is None else w, float(np.exp(log_s2)), float(th)),
                                  data, prior)
    u = np.log(sigma2)
    out = {"log sigma2": (f(u + h, theta) - f(u - h, theta)) / (2 * h)}
    if 0.0 < theta < 1.0:
        z = special.logit(theta)
        out["logit theta"] = (f(u, special.expit(z + h)) - f(u, special.expit(z - h))) / (2 * h)
    else:  # boundary: d/dtheta into (0, 1) must be <= 0
        inward = (f(u, h) - f(u, 0.0)) / h if theta == 0.0 else (f(u, 1.0 - h) - f(u, 1.0)) / h
        out["logit theta"] = max(inward, 0.0)
    if result.algorithm == "emvs":
        s = np.sqrt(sigma2 * prior.spike_var)
        names = result.feature_names or [f"x{j}" for j in range(d)]
        for j in range(d):
            e = np.zeros(d)
            e[j] = h * s
            out[f"w[{names[j]}]"] = (f(u, theta, result.w + e) - f(u, theta, result.w - e)) / (2 * h)
    return pd.Series(out, dtype=float)


# --------------------------------------------------------------------------------------------------------
# EM's answer in the exact posterior
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExactPlacement:
    """Where an EM answer sits in the exact posterior.

    Attributes
    ----------
    is_top : bool
        EM's selected model is the (a, if tied) highest-probability model.
    probability : float
        p(gamma_EM | y).
    rank : int
        1 + the number of models with larger posterior probability.
    top_model : str
        The highest-probability model's features (``"(none)"`` if empty).
    top_probability : float
    sigma2 : float
        EM's sigma2.
    sigma2_cdf : float
        ``P(sigma2 <= EM's sigma2 | y) = sum_gamma p(gamma | y) InverseGamma_CDF(sigma2; alpha_n, beta_n(gamma))``.
    """

    is_top: bool
    probability: float
    rank: int
    top_model: str
    top_probability: float
    sigma2: float
    sigma2_cdf: float


@holds_blas
def place_in_exact(result: EMResult, exact: SpikeSlabExact, X, y, prior: SpikeSlabPrior) -> ExactPlacement:
    """Locate ``result``'s selected model and sigma2 in the exact posterior ``exact``.

    ``exact`` must belong to ``X``, ``y`` and ``prior``: its log marginal likelihood of EM's model is
    recomputed from them as a check.

    Raises
    ------
    ValueError
        ``result:`` / ``exact:`` of the wrong kind, ``exact:`` not matching the data, prior or D.
    """
    if not isinstance(result, EMResult):
        raise ValueError(f"result: expected an EMResult, got {type(result).__name__}")
    if not isinstance(exact, SpikeSlabExact):
        raise ValueError(f"exact: expected a SpikeSlabExact, got {type(exact).__name__}")
    X, y = check_regression_data(X, y)
    prior = _check_prior(prior)
    d = X.shape[1]
    if exact.models.shape[1] != d or result.selected.shape != (d,):
        raise ValueError(f"exact: holds models of {exact.models.shape[1]} features, the data have {d}")
    if d > MAX_ENUMERATION_DIM:
        raise ValueError(f"X: D = {d} > {MAX_ENUMERATION_DIM}")
    post = exact.posterior_probability
    index = int(np.flatnonzero(np.all(exact.models == result.selected[None, :], axis=1))[0])
    data = prepare_data(X, y)
    beta_n = prior.nu * prior.lam / 2 + 0.5 * _penalised_residual(map_em_posterior(result.selected.astype(int), data, prior), data)
    if not np.isclose(beta_n, exact.sigma2_scale[index], rtol=1e-8):
        raise ValueError("exact: does not belong to these X, y and prior")
    top = int(np.argmax(post))
    rank = 1 + int(np.sum(post > post[index]))
    cdf = exact.sigma2_cdf(result.sigma2)
    top_label = ", ".join(n for n, g in zip(exact.feature_names, exact.models[top]) if g) or "(none)"
    return ExactPlacement(bool(rank == 1), float(post[index]), rank, top_label, float(post[top]),
                          float(result.sigma2), cdf)


# --------------------------------------------------------------------------------------------------------
# Reading a multistart (notebook 02): its modes, and its objective traces in the house figure style
# --------------------------------------------------------------------------------------------------------


def _check_multistart(starts) -> pd.DataFrame:
    if not isinstance(starts, pd.DataFrame) or "results" not in starts.attrs or not {
            "algorithm", "start", "mode", "model", "objective"} <= set(starts.columns):
        raise ValueError("starts: expected the table multistart returns (with attrs['results'])")
    return starts


def modes_table(starts: pd.DataFrame) -> pd.DataFrame:
    """The distinct end points of a :func:`multistart`, one row per (algorithm, mode), and how many starts
    reached each.

    Parameters
    ----------
    starts : pandas.DataFrame
        As :func:`multistart` returns it.

    Returns
    -------
    pandas.DataFrame
        Columns ``algorithm``, ``mode`` (1 = the highest objective found), ``model``, ``objective`` (nats, the
        algorithm's own; not comparable across algorithms), ``starts`` (how many runs ended there) and
        ``start_names``; sorted by algorithm (in :data:`ALGORITHMS` order) and mode.

    Raises
    ------
    ValueError
        Naming ``starts`` if it is not a multistart table.
    """
    starts = _check_multistart(starts)
    table = (starts.groupby(["algorithm", "mode"], sort=False)
             .agg(model=("model", "first"), objective=("objective", "max"), starts=("start", "size"),
                  start_names=("start", lambda s: ", ".join(s)))
             .reset_index())
    order = {a: i for i, a in enumerate(ALGORITHMS)}
    return (table.assign(_a=table["algorithm"].map(order)).sort_values(["_a", "mode"]).drop(columns="_a")
            .reset_index(drop=True))


@styled
def plot_objective_traces(starts: pd.DataFrame):
    """Each run's objective per iteration, minus the best end point of its algorithm (symlog scale), one panel
    per algorithm; the named starts in colour, the random ones in thin grey.

    Parameters
    ----------
    starts : pandas.DataFrame
        As :func:`multistart` returns it.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        Naming ``starts`` if it is not a multistart table.
    """
    import matplotlib.pyplot as plt

    starts = _check_multistart(starts)
    runs = starts.attrs["results"]
    algorithms = [a for a in ALGORITHMS if a in set(starts["algorithm"])]
    fig, axes = plt.subplots(1, len(algorithms), figsize=(5 * len(algorithms), 3.4), sharey=True, squeeze=False,
                             layout="constrained")
    for ax, algorithm in zip(axes[0], algorithms):
        rows = starts[starts["algorithm"] == algorithm]
        best = rows["objective"].max()
        named = 0
        for start in rows["start"]:
            r = runs[(algorithm, start)]
            gap = r.objective - best
            if start.startswith("random"):
                ax.plot(np.arange(gap.size), gap, "-", lw=0.8, color="0.6", label="random starts")
            else:
                ax.plot(np.arange(gap.size), gap, "o-", ms=3, color=f"C{named}", label=start)
                named += 1
        ax.set_yscale("symlog", linthresh=1)
        ax.set_xlabel("EM iteration")
        ax.set_ylabel("objective - best end point (nats)")
        ax.set_title(f"{algorithm}: {len(rows)} starts")
    legend_outside(fig)
    return fig
