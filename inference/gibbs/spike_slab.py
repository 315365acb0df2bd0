"""SSVS Gibbs sampler for spike-and-slab linear regression (George & McCulloch 1993, conjugate form).

The model is in :mod:`bayes_zoo.models.spike_slab`::

    y | w, sigma2          ~ Normal(X w, sigma2 I_N)                  X: (N, D)
    w_d | gamma_d, sigma2  ~ Normal(0, sigma2 v[gamma_d])             v[0] = spike_var, v[1] = slab_var
    gamma_d | theta        ~ Bernoulli(theta)
    theta                  ~ Beta(a0, b0)
    sigma2                 ~ InverseGamma(nu/2, scale nu lam/2)

Full conditionals: stochastic search variable selection (SSVS) of George & McCulloch (1993), "Variable
selection via Gibbs sampling", JASA 88, 881–889, in the conjugate form where w's prior variance scales with
sigma2 (George & McCulloch 1997, "Approaches for Bayesian variable selection", Statistica Sinica 7, 339–373;
Ročková & George 2014).  Each follows from the joint density by keeping the factors that hold the block.  With
``V = diag(v[gamma])`` and ``A = X^T X + V^-1``:

* ``w | gamma, sigma2, y ~ Normal(A^-1 X^T y, sigma2 A^-1)``: the log-density in w is
  ``-(|y - X w|^2 + w^T V^-1 w) / (2 sigma2) = -(w^T A w - 2 w^T X^T y + y^T y) / (2 sigma2)``; complete the
  square.
* ``sigma2 | w, gamma, y ~ InverseGamma(nu/2 + N/2 + D/2, scale nu lam/2 + |y - X w|^2/2 + sum_d w_d^2 / (2 v_d))``:
  sigma2 appears in the prior (power ``-(nu/2 + 1)``), the likelihood (``-N/2``) and the D Normal priors of
  w (``-D/2``, because their variances are ``sigma2 v_d``).
* ``gamma_d | w, theta, sigma2 ~ Bernoulli(p_d)``, independently over d, where ``p_d`` is
  :func:`bayes_zoo.models.spike_slab.inclusion_probability` (the gammas enter only ``p(w_d | gamma_d, sigma2)`` and
  ``p(gamma_d | theta)``; y is independent of gamma given w).
* ``theta | gamma ~ Beta(a0 + k, b0 + D - k)``, ``k = sum_d gamma_d`` (Beta–Bernoulli conjugacy).

A sweep draws w, then sigma2, then gamma, then theta.

**Drawing w.**  Two exact samplers of the same Normal law, chosen by ``method="auto"``:

* ``"cholesky"`` (taken when D <= N).  ``A = L L^T`` (Cholesky), then ``w = L^-T (L^-1 X^T y + sqrt(sigma2) z)``
  with ``z ~ N(0, I_D)``: one forward and one back substitution, never an explicit inverse.  Mean
  ``A^-1 X^T y``, covariance ``sigma2 L^-T L^-1 = sigma2 A^-1``.  ``X^T X``, ``X^T y`` and ``y^T y`` are
  computed once, so a sweep costs O(D^3) and nothing in N.
* ``"woodbury"`` (taken when D > N).  Bhattacharya, Chakraborty & Mallick (2016), "Fast sampling with
  Gaussian scale mixture priors in high-dimensional regression", Biometrika 103(4), steps (i)–(iv), with
  ``Phi = X / sigma``, ``alpha = y / sigma``, prior covariance ``sigma2 V``:  draw ``u ~ N(0, sigma2 V)`` and
  ``delta ~ N(0, I_N)``, set ``r = alpha - (Phi u + delta)``, solve ``(Phi sigma2 V Phi^T + I_N) s = r``
  (the matrix is ``X V X^T + I_N``, by Cholesky), and return ``w = u + sigma2 V Phi^T s``.  It is exact and
  costs O(N^2 D + N^3) instead of O(D^3).

The reference :func:`full_conditional_w` uses ``scipy.linalg.cho_factor``/``cho_solve``; the compiled loop
uses numba's ``np.linalg.cholesky`` (LAPACK ``potrf``) and hand-written triangular substitutions.  Tests
check that both samplers have exactly the law of :func:`full_conditional_w` (the draw is affine in the
noise, so its mean and covariance can be read off the code itself).

**Noise drawn in bulk.**  Every random variate of a sweep has a law fixed in advance, so a chain's noise is
drawn in blocks from its own stream and the sequential part runs compiled (numba), as in
:mod:`bayes_zoo.inference.gibbs.normal_gamma`:

* ``z``: D standard normals (``"woodbury"``: D + N, the last N are ``delta``);
* ``g ~ Gamma(nu/2 + N/2 + D/2, 1)``: ``sigma2 = scale / g``;
* ``u``: D uniforms on [0, 1): ``gamma_d = 1`` if ``u_d < p_d``;
* ``e``: D standard exponentials and ``ga ~ Gamma(a0, 1)``, ``gb ~ Gamma(b0, 1)``: ``theta = G1 / (G1 + G2)``
  with ``G1 = ga + sum_{d: gamma_d = 1} e_d ~ Gamma(a0 + k)`` and ``G2 = gb + sum_{d: gamma_d = 0} e_d ~
  Gamma(b0 + D - k)`` (sums of independent unit-scale Gammas add their shapes; the ratio is Beta(a0 + k,
  b0 + D - k)).  The noise is independent of the state, so given gamma this is the exact Beta draw.

:func:`transition` is the deterministic sweep given its noise; :func:`step` draws the noise and calls it;
:func:`sample` runs the same compiled sweep over blocks of pre-drawn noise.

**BLAS threads.**  :func:`sample` holds BLAS to the project's one policy
(:func:`bayes_zoo.inference.threads.blas_held`, one thread): numba's ``np.linalg.cholesky`` calls SciPy's
OpenBLAS on a D x D matrix every sweep and the log-likelihood is a (draws, D) x (D, N) product.  On two
cores 4 chains x 5,000 draws on diabetes took 1.5x longer with OpenBLAS's default threads than with one
(median of 5 interleaved pairs; issue 15).
"""

from __future__ import annotations

import time
from typing import NamedTuple

import arviz as az
import numba
import numpy as np
from scipy import linalg

from bayes_zoo.inference.threads import holds_blas
from bayes_zoo.models.checks import generator, nonnegative_int, positive_int
from bayes_zoo.models.spike_slab import (
    DEFAULT_PRIOR,
    SpikeSlabPrior,
    _check_prior,
    _coords,
    check_regression_data,
    inclusion_probability,
    log_joint_marginalised,
    pointwise_log_likelihood,
    simulate_observations,
)
from bayes_zoo.inference.seeding import chain_generators, predictive_generator

__all__ = [
    "GibbsState",
    "RegressionStats",
    "SweepNoise",
    "METHODS",
    "regression_stats",
    "resolve_method",
    "full_conditional_w",
    "full_conditional_sigma2",
    "full_conditional_gamma",
    "full_conditional_theta",
    "draw_w",
    "draw_noise",
    "transition",
    "init",
    "step",
    "sample",
    "run_steps",
]

#: Samplers for the w-conditional; ``"auto"`` is ``"woodbury"`` when D > N, else ``"cholesky"``.
METHODS = ("auto", "cholesky", "woodbury")

#: Sweeps of noise drawn at once per chain by :func:`sample` (bounds memory; the draws depend on it).
BLOCK = 1024


#: Draws per block of the log-likelihood sums in ``lp`` (:func:`_log_likelihood_sums`): the block's residuals,
#: LL_BLOCK x N float64 (3.6 MB on diabetes), stay in cache.
LL_BLOCK = 1024


class GibbsState(NamedTuple):
    """State of ``C`` SSVS Gibbs chains."""

    w: np.ndarray
    """Coefficients, shape ``(C, D)``, in units of y per unit of x."""
    sigma2: np.ndarray
    """Noise variance, shape ``(C,)``; > 0."""
    theta: np.ndarray
    """Prior inclusion probability, shape ``(C,)``, in [0, 1]."""
    gamma: np.ndarray
    """Inclusion indicators, shape ``(C, D)``, int64 in {0, 1} (1 = slab)."""


class RegressionStats(NamedTuple):
    """Validated data and the statistics a sweep needs (computed once by :func:`regression_stats`)."""

    X: np.ndarray
    """Design matrix, shape ``(N, D)``, C-contiguous float64 (read by the ``"woodbury"`` path only)."""
    y: np.ndarray
    """Response, shape ``(N,)``."""
    xtx: np.ndarray
    """``X^T X``, shape ``(D, D)``."""
    xty: np.ndarray
    """``X^T y``, shape ``(D,)``."""
    yty: float
    """``y^T y``."""


class SweepNoise(NamedTuple):
    """The random variates of one sweep, for ``S`` chains (or ``S`` sweeps of one chain): leading axis ``S``."""

    z: np.ndarray
    """Standard normals for w, shape ``(S, D)`` (``"cholesky"``) or ``(S, D + N)`` (``"woodbury"``)."""
    g: np.ndarray
    """Standard Gamma(nu/2 + N/2 + D/2) variates for sigma2, shape ``(S,)``."""
    u: np.ndarray
    """Uniforms on [0, 1) for gamma, shape ``(S, D)``."""
    e: np.ndarray
    """Standard exponentials for theta, shape ``(S, D)``."""
    ga: np.ndarray
    """Standard Gamma(a0) variates for theta, shape ``(S,)``."""
    gb: np.ndarray
    """Standard Gamma(b0) variates for theta, shape ``(S,)``."""


# --------------------------------------------------------------------------------------------------------
# Compiled kernels
# --------------------------------------------------------------------------------------------------------


@numba.njit(cache=True)
def _forward(L, b):
    """Solve ``L x = b``, L lower triangular."""
    n = b.shape[0]
    x = np.empty(n)
    for i in range(n):
        s = b[i]
        for k in range(i):
            s -= L[i, k] * x[k]
        x[i] = s / L[i, i]
    return x


@numba.njit(cache=True)
def _backward_t(L, b):
    """Solve ``L^T x = b``, L lower triangular."""
    n = b.shape[0]
    x = np.empty(n)
    for i in range(n - 1, -1, -1):
        s = b[i]
        for k in range(i + 1, n):
            s -= L[k, i] * x[k]
        x[i] = s / L[i, i]
    return x


@numba.njit(cache=True)
def _draw_w_cholesky(xtx, xty, v, sigma, z):
    """``w = L^-T (L^-1 X^T y + sigma z)``, ``L L^T = X^T X + diag(1/v)``."""
    d = v.shape[0]
    a = xtx.copy()
    for j in range(d):
        a[j, j] += 1.0 / v[j]
    chol = np.linalg.cholesky(a)
    t = _forward(chol, xty)
    for j in range(d):
        t[j] += sigma * z[j]
    return _backward_t(chol, t)


@numba.njit(cache=True)
def _draw_w_woodbury(X, y, v, sigma, z):
    """Bhattacharya et al. (2016), steps (i)-(iv), with Phi = X/sigma, alpha = y/sigma, prior cov sigma2 V."""
    n, d = X.shape
    su = np.empty(d)  # u / sigma = sqrt(v) z_D
    for j in range(d):
        su[j] = np.sqrt(v[j]) * z[j]
    r = y / sigma - X @ su - z[d:]  # alpha - (Phi u + delta)
    xv = X * v  # X V, (N, D)
    m = xv @ X.T  # X V X^T = Phi (sigma2 V) Phi^T
    for i in range(n):
        m[i, i] += 1.0
    chol = np.linalg.cholesky(m)
    s = _backward_t(chol, _forward(chol, r))
    xts = X.T @ s
    w = np.empty(d)
    for j in range(d):
        w[j] = sigma * (su[j] + v[j] * xts[j])  # u + sigma2 V Phi^T s
    return w


@numba.njit(cache=True)
def _slab_logit(w_d, logit_theta, sigma2, v0, v1):
    """log[theta N(w_d | 0, sigma2 v1)] - log[(1 - theta) N(w_d | 0, sigma2 v0)]."""
    return logit_theta + 0.5 * np.log(v0 / v1) + 0.5 * w_d * w_d / sigma2 * (1.0 / v0 - 1.0 / v1)


@numba.njit(cache=True)
def _expit(x):
    if x >= 0:
        return 1.0 / (1.0 + np.exp(-x))
    ex = np.exp(x)
    return ex / (1.0 + ex)


@numba.njit(cache=True)
def _sigma2_scale(w, v, xtx, xty, yty, X, y, nu_lam_half, direct):
    """nu lam/2 + |y - X w|^2 / 2 + sum_d w_d^2 / (2 v_d); the residual from X (``direct``) or from X^T X."""
    d = w.shape[0]
    if direct:
        res = y - X @ w
        rss = res @ res
    else:
        rss = yty - 2.0 * (w @ xty) + w @ (xtx @ w)
        rss = max(rss, 0.0)
    prior_term = 0.0
    for j in range(d):
        prior_term += w[j] * w[j] / v[j]
    return nu_lam_half + 0.5 * (rss + prior_term)


@numba.njit(cache=True)
def _inclusion_matrix(w, logit_theta, sigma2, v0, v1):
    out = np.empty_like(w)
    for i in range(w.shape[0]):
        for j in range(w.shape[1]):
            out[i, j] = _expit(_slab_logit(w[i, j], logit_theta[i], sigma2[i], v0, v1))
    return out


@numba.njit(cache=True)
def _sigma2_scales(w, v, xtx, xty, yty, X, y, nu_lam_half, direct):
    out = np.empty(w.shape[0])
    for i in range(w.shape[0]):
        out[i] = _sigma2_scale(w[i], v[i], xtx, xty, yty, X, y, nu_lam_half, direct)
    return out


@numba.njit(cache=True)
def _sweep(gamma, sigma2, theta, z, g, u, e, ga, gb, xtx, xty, yty, X, y, v0, v1, nu_lam_half, woodbury):
    """One sweep for one chain: w | gamma, sigma2; sigma2 | w, gamma; gamma | w, theta, sigma2; theta | gamma.

    Returns ``(w, sigma2, theta, gamma)`` (new arrays; the inputs are not modified).
    """
    d = gamma.shape[0]
    v = np.empty(d)
    for j in range(d):
        v[j] = v1 if gamma[j] == 1 else v0
    sigma = np.sqrt(sigma2)
    if woodbury:
        w = _draw_w_woodbury(X, y, v, sigma, z)
    else:
        w = _draw_w_cholesky(xtx, xty, v, sigma, z)
    sigma2 = _sigma2_scale(w, v, xtx, xty, yty, X, y, nu_lam_half, woodbury) / g
    logit_theta = np.log(theta) - np.log1p(-theta)
    new_gamma = np.empty(d, dtype=np.int64)
    g1, g2 = ga, gb
    for j in range(d):
        p = _expit(_slab_logit(w[j], logit_theta, sigma2, v0, v1))
        if u[j] < p:
            new_gamma[j] = 1
            g1 += e[j]
        else:
            new_gamma[j] = 0
            g2 += e[j]
    theta = g1 / (g1 + g2)
    return w, sigma2, theta, new_gamma


@numba.njit(cache=True)
def _transition_chains(w, sigma2, theta, gamma, z, g, u, e, ga, gb, xtx, xty, yty, X, y, v0, v1, nu_lam_half,
                       woodbury):
    chains = gamma.shape[0]
    w_out = np.empty_like(w)
    s2_out = np.empty(chains)
    th_out = np.empty(chains)
    g_out = np.empty_like(gamma)
    for c in range(chains):
        w_c, s2_c, th_c, g_c = _sweep(gamma[c], sigma2[c], theta[c], z[c], g[c], u[c], e[c], ga[c], gb[c],
                                      xtx, xty, yty, X, y, v0, v1, nu_lam_half, woodbury)
        w_out[c] = w_c
        s2_out[c] = s2_c
        th_out[c] = th_c
        g_out[c] = g_c
    return w_out, s2_out, th_out, g_out


@numba.njit(cache=True)
def _run_block(gamma, sigma2, theta, z, g, u, e, ga, gb, xtx, xty, yty, X, y, v0, v1, nu_lam_half, woodbury,
               first, warmup, thin, w_out, s2_out, th_out, g_out):
    """Run one chain through a block of sweeps (global sweep index ``first`` onwards), storing every
    ``thin``-th sweep after ``warmup`` into the ``*_out`` arrays (shape ``(draws, ...)``).  Returns the final
    ``(sigma2, theta, gamma)``."""
    for t in range(g.shape[0]):
        w, sigma2, theta, gamma = _sweep(gamma, sigma2, theta, z[t], g[t], u[t], e[t], ga[t], gb[t],
                                         xtx, xty, yty, X, y, v0, v1, nu_lam_half, woodbury)
        k = first + t - warmup
        if k >= 0 and (k + 1) % thin == 0:
            k = (k + 1) // thin - 1
            w_out[k] = w
            s2_out[k] = sigma2
            th_out[k] = theta
            g_out[k] = gamma
    return sigma2, theta, gamma


# --------------------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------------------


def _log_likelihood_sums(w, sigma2, X, y) -> np.ndarray:
    """``sum_i log N(y_i | x_i^T w, sigma2)`` for each draw (shape ``sigma2.shape``): the sum over the last axis
    of :func:`bayes_zoo.models.spike_slab.pointwise_log_likelihood`, from the residuals of :data:`LL_BLOCK`
    draws at a time.  Formed for all draws at once, the residuals were a (chains, draws, N) array (707 MB for
    4 x 50,000 draws on diabetes) and took 1.7-12 s of a call whose sweeps take 0.4 s (issue 15)."""
    n = X.shape[0]
    flat_w, flat_s2 = w.reshape(-1, w.shape[-1]), sigma2.reshape(-1)
    out = np.empty(flat_s2.size)
    for start in range(0, out.size, LL_BLOCK):
        resid = y - flat_w[start:start + LL_BLOCK] @ X.T  # [B, N]
        s2 = flat_s2[start:start + LL_BLOCK]
        rss = np.einsum("sn,sn->s", resid, resid)
        out[start:start + LL_BLOCK] = -0.5 * n * np.log(2.0 * np.pi * s2) - 0.5 * rss / s2
    return out.reshape(sigma2.shape)


def _check_stats(stats) -> RegressionStats:
    if not isinstance(stats, RegressionStats):
        raise ValueError(
            f"stats: expected RegressionStats (bayes_zoo.inference.gibbs.spike_slab.regression_stats), got {type(stats).__name__}"
        )
    return stats


def _float_array(value, name, shape, *, positive=False, unit=False):
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: must be finite")
    if positive and np.any(arr <= 0):
        raise ValueError(f"{name}: must be > 0")
    if unit and np.any((arr < 0) | (arr > 1)):
        raise ValueError(f"{name}: must lie in [0, 1]")
    return np.ascontiguousarray(arr)


def _indicator_array(value, name, shape):
    arr = np.asarray(value)
    if arr.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {arr.shape}")
    if arr.dtype == bool:
        arr = arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer) or np.any((arr != 0) & (arr != 1)):
        raise ValueError(f"{name}: must hold integers 0 or 1")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _chains_of(value, name) -> int:
    arr = np.asarray(value)
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected shape (C, D), got {arr.shape}")
    return arr.shape[0]


def regression_stats(X, y) -> RegressionStats:
    """Validate ``X``, ``y`` (:func:`bayes_zoo.models.spike_slab.check_regression_data`) and compute X^T X, X^T y, y^T y.

    Raises
    ------
    ValueError
        As :func:`bayes_zoo.models.spike_slab.check_regression_data` (the message names ``X`` or ``y``).
    """
    X, y = check_regression_data(X, y)
    X, y = np.ascontiguousarray(X), np.ascontiguousarray(y)
    return RegressionStats(X, y, np.ascontiguousarray(X.T @ X), X.T @ y, float(y @ y))


def resolve_method(method: str, stats: RegressionStats) -> str:
    """``"cholesky"`` or ``"woodbury"``: ``"auto"`` picks ``"woodbury"`` exactly when D > N.

    Raises
    ------
    ValueError
        If ``method`` is not one of :data:`METHODS`.
    """
    stats = _check_stats(stats)
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    if method != "auto":
        return method
    n, d = stats.X.shape
    return "woodbury" if d > n else "cholesky"


# --------------------------------------------------------------------------------------------------------
# Full conditionals (reference forms, vectorised over chains)
# --------------------------------------------------------------------------------------------------------


def full_conditional_w(gamma, sigma2, stats: RegressionStats, prior: SpikeSlabPrior = DEFAULT_PRIOR):
    """Parameters of ``w | gamma, sigma2, y ~ Normal(mean, precision^-1)``, by ``scipy.linalg`` Cholesky.

    Parameters
    ----------
    gamma : array_like of int, shape (C, D)
    sigma2 : array_like, shape (C,), > 0
    stats : RegressionStats
    prior : SpikeSlabPrior

    Returns
    -------
    mean : numpy.ndarray, shape (C, D)
        ``A^-1 X^T y`` with ``A = X^T X + diag(1 / v[gamma])``.
    precision : numpy.ndarray, shape (C, D, D)
        ``A / sigma2`` (the covariance is ``sigma2 A^-1``; it is not formed).
    """
    stats, prior = _check_stats(stats), _check_prior(prior)
    c = _chains_of(gamma, "gamma")
    d = stats.xtx.shape[0]
    gamma = _indicator_array(gamma, "gamma", (c, d))
    sigma2 = _float_array(sigma2, "sigma2", (c,), positive=True)
    v = prior.variances[gamma]
    mean = np.empty((c, d))
    precision = np.empty((c, d, d))
    for i in range(c):
        a = stats.xtx + np.diag(1.0 / v[i])
        mean[i] = linalg.cho_solve(linalg.cho_factor(a, lower=True), stats.xty)
        precision[i] = a / sigma2[i]
    return mean, precision


def full_conditional_sigma2(w, gamma, stats: RegressionStats, prior: SpikeSlabPrior = DEFAULT_PRIOR):
    """Parameters of ``sigma2 | w, gamma, y ~ InverseGamma(shape, scale)`` (scale as SciPy's ``invgamma``).

    Returns
    -------
    shape : float
        ``nu/2 + N/2 + D/2``.
    scale : numpy.ndarray, shape (C,)
        ``nu lam/2 + |y - X w|^2 / 2 + sum_d w_d^2 / (2 v[gamma_d])`` (the residual computed from ``X``).
    """
    stats, prior = _check_stats(stats), _check_prior(prior)
    c = _chains_of(w, "w")
    n, d = stats.X.shape
    w = _float_array(w, "w", (c, d))
    gamma = _indicator_array(gamma, "gamma", (c, d))
    v = prior.variances[gamma]
    scale = _sigma2_scales(w, np.ascontiguousarray(v), stats.xtx, stats.xty, stats.yty, stats.X, stats.y,
                           prior.nu * prior.lam / 2, True)
    return prior.nu / 2 + n / 2 + d / 2, scale


def full_conditional_gamma(w, theta, sigma2, prior: SpikeSlabPrior = DEFAULT_PRIOR) -> np.ndarray:
    """``P(gamma_d = 1 | w, theta, sigma2)``, shape ``(C, D)``: the compiled form of
    :func:`bayes_zoo.models.spike_slab.inclusion_probability` that the sweep uses."""
    prior = _check_prior(prior)
    c = _chains_of(w, "w")
    w = _float_array(w, "w", (c, np.shape(w)[1]))
    theta = _float_array(theta, "theta", (c,), unit=True)
    sigma2 = _float_array(sigma2, "sigma2", (c,), positive=True)
    with np.errstate(divide="ignore"):
        logit_theta = np.log(theta) - np.log1p(-theta)
    return _inclusion_matrix(w, logit_theta, sigma2, prior.spike_var, prior.slab_var)


def full_conditional_theta(gamma, prior: SpikeSlabPrior = DEFAULT_PRIOR):
    """Parameters of ``theta | gamma ~ Beta(a, b)``: ``a = a0 + k``, ``b = b0 + D - k``, each of shape ``(C,)``."""
    prior = _check_prior(prior)
    c = _chains_of(gamma, "gamma")
    gamma = _indicator_array(gamma, "gamma", (c, np.shape(gamma)[1]))
    k = gamma.sum(axis=1)
    return prior.a0 + k, prior.b0 + gamma.shape[1] - k


def draw_w(gamma, sigma2, z, stats: RegressionStats, prior: SpikeSlabPrior = DEFAULT_PRIOR, method: str = "auto"):
    """The sweep's draw of ``w | gamma, sigma2, y`` given its standard normals ``z`` (deterministic).

    Parameters
    ----------
    gamma : array_like of int, shape (C, D)
    sigma2 : array_like, shape (C,)
    z : array_like, shape (C, D) for ``"cholesky"``, (C, D + N) for ``"woodbury"``
    stats : RegressionStats
    prior : SpikeSlabPrior
    method : {"auto", "cholesky", "woodbury"}

    Returns
    -------
    numpy.ndarray, shape (C, D)
        Affine in ``z``: with ``z ~ N(0, I)`` it is distributed as :func:`full_conditional_w` says.
    """
    stats, prior = _check_stats(stats), _check_prior(prior)
    method = resolve_method(method, stats)
    c = _chains_of(gamma, "gamma")
    n, d = stats.X.shape
    gamma = _indicator_array(gamma, "gamma", (c, d))
    sigma2 = _float_array(sigma2, "sigma2", (c,), positive=True)
    z = _float_array(z, "z", (c, d + n if method == "woodbury" else d))
    v = prior.variances[gamma]
    out = np.empty((c, d))
    for i in range(c):
        sigma = np.sqrt(sigma2[i])
        if method == "woodbury":
            out[i] = _draw_w_woodbury(stats.X, stats.y, v[i], sigma, z[i])
        else:
            out[i] = _draw_w_cholesky(stats.xtx, stats.xty, v[i], sigma, z[i])
    return out


# --------------------------------------------------------------------------------------------------------
# Sampler: init, draw_noise, transition, step, sample
# --------------------------------------------------------------------------------------------------------


def draw_noise(rng: np.random.Generator, size: int, stats: RegressionStats, prior: SpikeSlabPrior = DEFAULT_PRIOR,
               method: str = "auto") -> SweepNoise:
    """Draw the variates of ``size`` sweeps (or of one sweep of ``size`` chains), in this order: ``z``, ``g``,
    ``u``, ``e``, ``ga``, ``gb`` (see :class:`SweepNoise`)."""
    generator(rng)
    stats, prior = _check_stats(stats), _check_prior(prior)
    size = positive_int(size, "size")
    method = resolve_method(method, stats)
    n, d = stats.X.shape
    z = rng.standard_normal((size, d + n if method == "woodbury" else d))
    g = rng.standard_gamma(prior.nu / 2 + n / 2 + d / 2, size)
    u = rng.random((size, d))
    e = rng.standard_exponential((size, d))
    ga = rng.standard_gamma(prior.a0, size)
    gb = rng.standard_gamma(prior.b0, size)
    return SweepNoise(z, g, u, e, ga, gb)


def _kernel_args(stats: RegressionStats, prior: SpikeSlabPrior, method: str):
    return (stats.xtx, stats.xty, stats.yty, stats.X, stats.y, prior.spike_var, prior.slab_var,
            prior.nu * prior.lam / 2, method == "woodbury")


def transition(state: GibbsState, noise: SweepNoise, stats: RegressionStats,
               prior: SpikeSlabPrior = DEFAULT_PRIOR, method: str = "auto") -> GibbsState:
    """One deterministic sweep for every chain given its noise (``noise`` has leading axis ``C``).

    ``state.w`` is not read (w is redrawn first).  The inputs are not modified.
    """
    stats, prior = _check_stats(stats), _check_prior(prior)
    method = resolve_method(method, stats)
    if not isinstance(state, GibbsState):
        raise ValueError(f"state: expected a GibbsState, got {type(state).__name__}")
    if not isinstance(noise, SweepNoise):
        raise ValueError(f"noise: expected a SweepNoise, got {type(noise).__name__}")
    n, d = stats.X.shape
    c = _chains_of(state.gamma, "state.gamma")
    gamma = _indicator_array(state.gamma, "state.gamma", (c, d))
    w = _float_array(state.w, "state.w", (c, d))
    sigma2 = _float_array(state.sigma2, "state.sigma2", (c,), positive=True)
    theta = _float_array(state.theta, "state.theta", (c,), unit=True)
    z = _float_array(noise.z, "noise.z", (c, d + n if method == "woodbury" else d))
    g = _float_array(noise.g, "noise.g", (c,), positive=True)
    u = _float_array(noise.u, "noise.u", (c, d), unit=True)
    e = _float_array(noise.e, "noise.e", (c, d))
    ga = _float_array(noise.ga, "noise.ga", (c,))
    gb = _float_array(noise.gb, "noise.gb", (c,))
    out = _transition_chains(w, sigma2, theta, gamma, z, g, u, e, ga, gb, *_kernel_args(stats, prior, method))
    return GibbsState(*out)


def _ridge(stats: RegressionStats, prior: SpikeSlabPrior):
    """All-slab posterior mean ``(X^T X + I / slab_var)^-1 X^T y`` and ``(nu lam + RSS) / (nu + N)``."""
    n, d = stats.X.shape
    v = np.full(d, prior.slab_var)
    if d > n:
        w = _draw_w_woodbury(stats.X, stats.y, v, 1.0, np.zeros(d + n))
    else:
        w = _draw_w_cholesky(stats.xtx, stats.xty, v, 1.0, np.zeros(d))
    res = stats.y - stats.X @ w
    return w, (prior.nu * prior.lam + res @ res) / (prior.nu + n)


def init(rng: np.random.Generator, chains: int, stats: RegressionStats,
         prior: SpikeSlabPrior = DEFAULT_PRIOR) -> GibbsState:
    """Over-dispersed starts for ``chains`` chains.

    ``theta ~ Beta(a0, b0)`` and ``gamma_d ~ Bernoulli(theta)`` from the prior; ``sigma2 = s2 exp(xi)``,
    ``xi ~ N(0, 1)``, around the ridge (all-slab) estimate ``s2 = (nu lam + RSS) / (nu + N)`` (a draw from the
    prior itself can be absurd under a vague ``nu``); ``w`` is the all-slab posterior mean (it is redrawn
    before it is read).  Variates are drawn in that order: ``theta``, then ``C x D`` uniforms, then ``C``
    normals.

    Returns
    -------
    GibbsState
    """
    generator(rng)
    stats, prior = _check_stats(stats), _check_prior(prior)
    chains = positive_int(chains, "chains")
    d = stats.X.shape[1]
    theta = rng.beta(prior.a0, prior.b0, size=chains)
    gamma = (rng.random((chains, d)) < theta[:, None]).astype(np.int64)
    w_ridge, s2 = _ridge(stats, prior)
    sigma2 = s2 * np.exp(rng.standard_normal(chains))
    return GibbsState(np.tile(w_ridge, (chains, 1)), sigma2, theta, gamma)


def step(rng: np.random.Generator, state: GibbsState, stats: RegressionStats,
         prior: SpikeSlabPrior = DEFAULT_PRIOR, method: str = "auto") -> GibbsState:
    """One Gibbs sweep for every chain: ``noise = draw_noise(rng, C, ...)``, then :func:`transition`."""
    generator(rng)
    if not isinstance(state, GibbsState):
        raise ValueError(f"state: expected a GibbsState, got {type(state).__name__}")
    noise = draw_noise(rng, _chains_of(state.gamma, "state.gamma"), stats, prior, method)
    return transition(state, noise, stats, prior, method)


@holds_blas
def sample(
    X,
    y,
    prior: SpikeSlabPrior = DEFAULT_PRIOR,
    *,
    draws: int = 1000,
    chains: int = 4,
    warmup: int = 1000,
    seed: int = 0,
    feature_names=None,
    method: str = "auto",
    thin: int = 1,
    log_likelihood: bool = True,
    posterior_predictive: bool = True,
) -> az.InferenceData:
    """Run ``chains`` SSVS Gibbs chains and return every ``thin``-th draw after ``warmup``.

    Chain ``c`` uses its own stream ``numpy.random.default_rng(SeedSequence(seed).spawn(chains)[c])``: it
    draws its start (:func:`init` with one chain), then, for each block of up to :data:`BLOCK` sweeps,
    :func:`draw_noise` for the block, which the compiled sweep consumes.  The same seed gives the same draws.

    Parameters
    ----------
    X : array_like, shape (N, D)
    y : array_like, shape (N,)
    prior : SpikeSlabPrior
    draws : int, >= 1
        Kept draws per chain (``warmup + draws * thin`` sweeps are run).
    chains : int, >= 1
    warmup : int, >= 0
        Discarded sweeps per chain.
    seed : int, >= 0
    feature_names : sequence of str, optional
        Coordinate values of ``feature`` (default ``x0, x1, ...``).
    method : {"auto", "cholesky", "woodbury"}
        How w is drawn; ``"auto"`` takes ``"woodbury"`` when D > N.
    thin : int, >= 1
        Keep one sweep in ``thin``.  A sweep is cheap, so thinning buys effective draws per stored draw
        when the indicators of correlated features mix slowly.
    log_likelihood : bool, default True
        Add the ``log_likelihood`` group (callers that use only the posterior draws, as SBC, may skip it).
    posterior_predictive : bool, default True
        Add the ``posterior_predictive`` group.

    Returns
    -------
    arviz.InferenceData
        Named as PyMC names :func:`bayes_zoo.models.spike_slab.build_pymc_model` (the gamma-marginalised model
        NUTS samples); ``C = chains``, ``T = draws``:

        * ``posterior``: ``w``, ``gamma`` (int), ``inclusion_probability`` of dims ``(chain, draw, feature)``
          ``(C, T, D)``, ``sigma2`` and ``theta`` of dims ``(chain, draw)``.  ``inclusion_probability`` is the
          Rao–Blackwellised ``P(gamma_d = 1 | w, theta, sigma2)`` at each draw
          (:func:`bayes_zoo.models.spike_slab.inclusion_probability`), as the deterministic of the PyMC model;
          its posterior mean estimates ``P(gamma_d = 1 | y)``.  ``posterior.attrs``: ``sampling_time``
          (seconds, sampling only, warm-up included), ``compile_time`` (seconds before it: numba compiling the
          sweep, or loading it from its disk cache, on a first call in the process), ``algorithm =
          "ssvs-gibbs"``, ``seed``, ``w_method``, ``tuning_steps``, ``thin``, ``inference_library``.
        * ``sample_stats``: ``lp`` ``(C, T)``, the log density of the gamma-marginalised model at the draw's
          ``(w, sigma2, theta)`` on the constrained scale
          (:func:`bayes_zoo.models.spike_slab.log_joint_marginalised`; gamma is summed out, as in the model
          NUTS samples, so the two are comparable; ``inclusion_probability`` is deterministic and adds no
          density): it equals ``model.compile_logp(jacobian=False)`` of the PyMC model at the same point,
          difference 0 (tested to 1e-8).  PyMC's NUTS writes its own ``lp`` on the unconstrained scale, i.e.
          with the log-Jacobians of the transforms of ``theta`` (log-odds: ``log theta + log(1 - theta)``)
          and ``sigma2`` (log: ``log sigma2``) added, so the two ``lp`` differ by those Jacobians.  A Gibbs
          sweep accepts every update: there are no acceptance, step-size or divergence statistics.
        * ``log_likelihood``: ``y`` ``(chain, draw, obs)`` ``(C, T, N)``, ``log N(y_i | x_i^T w, sigma2)`` per
          observation (:func:`bayes_zoo.models.spike_slab.pointwise_log_likelihood`), equal to
          ``pm.compute_log_likelihood`` at the same draws, so ``az.loo``/``az.waic``/``az.compare`` treat it
          as they treat NUTS's.
        * ``posterior_predictive``: ``y`` ``(chain, draw, obs)``, one replicate data set per draw,
          ``y_rep ~ Normal(X w, sigma2 I)``, from the stream
          :func:`bayes_zoo.inference.seeding.predictive_generator` ``(seed)``, independent of the chains'
          streams (the posterior draws do not depend on it).
        * ``observed_data``: ``y`` ``(obs,)``.

    Raises
    ------
    ValueError
        For bad data (naming ``X`` or ``y``), ``prior``, ``feature_names``, ``method``, ``draws`` or
        ``chains`` or ``thin`` < 1, ``warmup`` < 0, or a bad ``seed``.
    """
    stats = regression_stats(X, y)
    prior = _check_prior(prior)
    draws = positive_int(draws, "draws")
    chains = positive_int(chains, "chains")
    warmup = nonnegative_int(warmup, "warmup")
    thin = positive_int(thin, "thin")
    method = resolve_method(method, stats)
    coords = _coords(stats.X, feature_names)
    rngs = chain_generators(seed, chains)
    n, d = stats.X.shape
    args = _kernel_args(stats, prior, method)

    start = time.perf_counter()  # numba compiles the sweep on its first call (or loads it from its disk cache)
    _run_block(np.zeros(d, dtype=np.int64), 1.0, 0.5, np.zeros((1, d + n if method == "woodbury" else d)), np.ones(1),
               np.full((1, d), 0.5), np.ones((1, d)), np.ones(1), np.ones(1), *args, 0, 0, 1, np.empty((1, d)),
               np.empty(1), np.empty(1), np.empty((1, d), dtype=np.int64))
    compile_time = time.perf_counter() - start

    start = time.perf_counter()
    w_out = np.empty((chains, draws, d))
    s2_out = np.empty((chains, draws))
    th_out = np.empty((chains, draws))
    g_out = np.empty((chains, draws, d), dtype=np.int64)
    length = warmup + draws * thin
    for c, rng in enumerate(rngs):
        state = init(rng, 1, stats, prior)
        sigma2, theta, gamma = float(state.sigma2[0]), float(state.theta[0]), state.gamma[0]
        for first in range(0, length, BLOCK):
            noise = draw_noise(rng, min(BLOCK, length - first), stats, prior, method)
            sigma2, theta, gamma = _run_block(gamma, sigma2, theta, *noise, *args, first, warmup, thin,
                                              w_out[c], s2_out[c], th_out[c], g_out[c])
    elapsed = time.perf_counter() - start

    with np.errstate(divide="ignore"):  # theta at 0 or 1 in floating point: log 0 = -inf, as PyMC has it
        incl = inclusion_probability(w_out, th_out, s2_out, prior)
        # log_joint_marginalised with no observations is its prior terms; the likelihood is added in blocks
        lp = (log_joint_marginalised(w_out, th_out, s2_out, stats.X[:0], stats.y[:0], prior)
              + _log_likelihood_sums(w_out, s2_out, stats.X, stats.y))
    idata = az.from_dict(
        posterior={"w": w_out, "sigma2": s2_out, "theta": th_out, "gamma": g_out, "inclusion_probability": incl},
        sample_stats={"lp": lp},
        log_likelihood={"y": pointwise_log_likelihood(w_out, s2_out, stats.X, stats.y)} if log_likelihood else None,
        posterior_predictive=({"y": simulate_observations(predictive_generator(seed), w_out, s2_out, stats.X)}
                              if posterior_predictive else None),
        observed_data={"y": stats.y},
        coords=coords,
        dims={"w": ["feature"], "gamma": ["feature"], "inclusion_probability": ["feature"], "y": ["obs"]},
    )
    idata.posterior.attrs.update(
        inference_library="bayes-zoo", algorithm="ssvs-gibbs", sampling_time=elapsed, compile_time=compile_time,
        tuning_steps=warmup,
        seed=seed, w_method=method, thin=thin,
    )
    return idata


def run_steps(rng: np.random.Generator, state: GibbsState, stats: RegressionStats,
              prior: SpikeSlabPrior = DEFAULT_PRIOR, *, draws: int, warmup: int = 0, thin: int = 1, step_fn=None,
              feature_names=None) -> az.InferenceData:
    """Run chains sweep by sweep in Python with any one-sweep function, and keep their draws as :func:`sample`
    names them: to study a hand-modified sampler (a planted bug, a different conditional) with the same tools.

    ``step_fn(rng, state, stats, prior)`` must return the next :class:`GibbsState` of every chain; the default
    is :func:`step`.  ``warmup + draws * thin`` sweeps are run and every ``thin``-th after the warm-up kept.
    About 60 microseconds a sweep for D = 10 (2 chains); :func:`sample` is the fast path for the real sampler.

    Parameters
    ----------
    rng : numpy.random.Generator
        The one stream every sweep draws from.
    state : GibbsState
        The start, C chains (e.g. :func:`init`).
    stats : RegressionStats
    prior : SpikeSlabPrior
    draws : int >= 1
        Kept draws per chain.
    warmup : int >= 0
    thin : int >= 1
    step_fn : callable, optional
    feature_names : sequence of str, optional
        Coordinate values of ``feature``.

    Returns
    -------
    arviz.InferenceData
        ``posterior`` only: ``w``, ``gamma``, ``inclusion_probability`` ``(C, draws, D)`` (the last
        Rao–Blackwellised, as :func:`sample`'s, from the *model's* conditional whatever ``step_fn`` does), and
        ``sigma2``, ``theta`` ``(C, draws)``; ``attrs["algorithm"] = "run_steps"``, ``sampling_time``
        (seconds).

    Raises
    ------
    ValueError
        Naming ``state``, ``draws``, ``warmup``, ``thin``, ``step_fn`` (not callable, or it returned something
        other than a GibbsState) or ``feature_names``.
    """
    generator(rng)
    stats, prior = _check_stats(stats), _check_prior(prior)
    if not isinstance(state, GibbsState):
        raise ValueError(f"state: expected a GibbsState, got {type(state).__name__}")
    draws = positive_int(draws, "draws")
    warmup = nonnegative_int(warmup, "warmup")
    thin = positive_int(thin, "thin")
    step_fn = step if step_fn is None else step_fn
    if not callable(step_fn):
        raise ValueError(f"step_fn: expected a callable, got {type(step_fn).__name__}")
    coords = _coords(stats.X, feature_names)
    c = _chains_of(state.gamma, "state.gamma")
    d = stats.X.shape[1]
    w_out, g_out = np.empty((c, draws, d)), np.empty((c, draws, d), dtype=np.int64)
    s2_out, th_out = np.empty((c, draws)), np.empty((c, draws))
    start = time.perf_counter()
    for t in range(warmup + draws * thin):
        state = step_fn(rng, state, stats, prior)
        if not isinstance(state, GibbsState):
            raise ValueError(f"step_fn: returned a {type(state).__name__}, not a GibbsState")
        kept, rest = divmod(t - warmup, thin)
        if t >= warmup and rest == thin - 1:
            w_out[:, kept], g_out[:, kept] = state.w, state.gamma
            s2_out[:, kept], th_out[:, kept] = state.sigma2, state.theta
    elapsed = time.perf_counter() - start
    with np.errstate(divide="ignore"):
        incl = inclusion_probability(w_out, th_out, s2_out, prior)
    idata = az.from_dict(
        posterior={"w": w_out, "sigma2": s2_out, "theta": th_out, "gamma": g_out, "inclusion_probability": incl},
        coords=coords, dims={"w": ["feature"], "gamma": ["feature"], "inclusion_probability": ["feature"]},
    )
    idata.posterior.attrs.update(inference_library="bayes-zoo", algorithm="run_steps", sampling_time=elapsed,
                                 thin=thin)
    return idata
