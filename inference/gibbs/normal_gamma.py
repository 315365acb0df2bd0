"""Gibbs sampler for Normal data with unknown mean and precision (independent Normal and Gamma priors).

Source: Gelman et al., *Bayesian Data Analysis*, 3rd ed., sec. 11.1 (Gibbs) with the semi-conjugate
full conditionals of sec. 3.3 / ex. 11.1; the model is in :mod:`bayes_zoo.models.normal_gamma`.  With
``xbar``, ``ss`` the sample mean and sum of squared deviations, the two full conditionals are ::

    mu   | x, beta ~ Normal(m, 1/p),  p = 1/s0_var + n beta,  m = (mu0/s0_var + beta n xbar) / p
    beta | x, mu   ~ Gamma(a + n/2, rate = b + (ss + n (xbar - mu)^2) / 2)

Both need only the sufficient statistics, so a sweep costs O(1), not O(n).  NumPy draws the Gamma by
*scale*: ``beta = standard_gamma(a + n/2) / rate``.

The sampler follows the blackjax pattern: :func:`init` and a pure :func:`step` (``rng`` is an argument,
never stored) on a small :class:`GibbsState`, vectorised over chains.  :func:`sample` runs the same chain
fast: the shape of the Gamma conditional never changes, so every chain's standard normals and standard
gammas are drawn in bulk up front from its own stream; what is left sequential is two scalar updates per
draw (:func:`transition`), run by a loop compiled with numba.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import arviz as az
import numba
import numpy as np

from bayes_zoo.models.checks import generator, instance, nonnegative_int, positive_int
from bayes_zoo.models.normal_gamma import (
    DEFAULT_PRIOR,
    NormalGammaPrior,
    SufficientStats,
    _check_prior,
    log_joint,
    pointwise_log_likelihood,
    simulate_observations,
    sufficient_statistics,
)
from bayes_zoo.inference.seeding import chain_generators, predictive_generator

__all__ = [
    "GibbsState",
    "full_conditional_mu",
    "full_conditional_beta",
    "transition",
    "init",
    "step",
    "sample",
]


class GibbsState(NamedTuple):
    """State of ``C`` Gibbs chains."""

    mu: np.ndarray
    """Current mean, shape ``(C,)``, in the data's units."""
    beta: np.ndarray
    """Current precision, shape ``(C,)``, in inverse squared units; > 0."""


@numba.njit(cache=True)
def _mu_conditional(beta, n, xbar, mu0, s0_var):
    precision = 1.0 / s0_var + n * beta
    mean = (mu0 / s0_var + beta * n * xbar) / precision
    return mean, precision


@numba.njit(cache=True)
def _beta_conditional(mu, n, xbar, ss, a, b):
    shape = a + 0.5 * n
    rate = b + 0.5 * (ss + n * (xbar - mu) ** 2)
    return shape, rate


@numba.njit(cache=True)
def _transition(beta, z, g, n, xbar, ss, mu0, s0_var, a, b, rate_as_scale=False):
    mean, precision = _mu_conditional(beta, n, xbar, mu0, s0_var)
    mu = mean + z / np.sqrt(precision)
    _, rate = _beta_conditional(mu, n, xbar, ss, a, b)
    if rate_as_scale:  # the planted bug: Gamma(shape, rate) drawn as Gamma(shape, scale = rate)
        return mu, g * rate
    return mu, g / rate


@numba.njit(cache=True)
def _run_chains(beta_start, z, g, n, xbar, ss, mu0, s0_var, a, b, rate_as_scale=False):
    chains, length = z.shape
    mu_out = np.empty((chains, length))
    beta_out = np.empty((chains, length))
    for c in range(chains):
        beta = beta_start[c]
        for t in range(length):
            mu, beta = _transition(beta, z[c, t], g[c, t], n, xbar, ss, mu0, s0_var, a, b, rate_as_scale)
            mu_out[c, t] = mu
            beta_out[c, t] = beta
    return mu_out, beta_out


def _as_float_array(value, name: str, *, positive: bool = False) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or (positive and np.any(arr <= 0)):
        raise ValueError(f"{name}: must be finite{' and > 0' if positive else ''}")
    return arr


def _check_stats(stats) -> SufficientStats:
    return instance(stats, SufficientStats, "stats")  # from bayes_zoo.models.normal_gamma.sufficient_statistics


def full_conditional_mu(beta, stats: SufficientStats, prior: NormalGammaPrior):
    """Parameters of ``mu | x, beta ~ Normal(mean, 1 / precision)``.

    Parameters
    ----------
    beta : array_like, shape S
        Precision(s), > 0.
    stats : SufficientStats
    prior : NormalGammaPrior

    Returns
    -------
    mean, precision : numpy.ndarray, shape S
        ``precision = 1/s0_var + n beta``; ``mean = (mu0/s0_var + beta n xbar) / precision``.
    """
    prior, stats = _check_prior(prior), _check_stats(stats)
    return _mu_conditional(_as_float_array(beta, "beta", positive=True), stats.n, stats.mean, prior.mu0, prior.s0_var)


def full_conditional_beta(mu, stats: SufficientStats, prior: NormalGammaPrior):
    """Parameters of ``beta | x, mu ~ Gamma(shape, rate)`` (a **rate**; NumPy/SciPy take scale = 1/rate).

    Parameters
    ----------
    mu : array_like, shape S
    stats : SufficientStats
    prior : NormalGammaPrior

    Returns
    -------
    shape : float
        ``a + n/2``.
    rate : numpy.ndarray, shape S
        ``b + (ss + n (xbar - mu)^2) / 2 = b + sum_i (x_i - mu)^2 / 2``.
    """
    prior, stats = _check_prior(prior), _check_stats(stats)
    return _beta_conditional(_as_float_array(mu, "mu"), stats.n, stats.mean, stats.ss, prior.a, prior.b)


def transition(state: GibbsState, z, g, stats: SufficientStats, prior: NormalGammaPrior) -> GibbsState:
    """One deterministic Gibbs sweep given its noise: ``mu`` from ``beta``, then ``beta`` from the new ``mu``.

    Parameters
    ----------
    state : GibbsState
        Only ``state.beta`` is read (``mu`` is redrawn first).
    z : array_like, shape (C,)
        Standard normal draws for ``mu``.
    g : array_like, shape (C,)
        Standard Gamma(a + n/2) draws (scale 1) for ``beta``.
    stats : SufficientStats
    prior : NormalGammaPrior

    Returns
    -------
    GibbsState
    """
    prior, stats = _check_prior(prior), _check_stats(stats)
    beta = _as_float_array(state.beta, "state.beta", positive=True)
    z, g = _as_float_array(z, "z"), _as_float_array(g, "g", positive=True)
    if not (beta.shape == z.shape == g.shape):
        raise ValueError(f"z, g: shapes {z.shape}, {g.shape} must equal state.beta's {beta.shape}")
    mu, beta = _transition(beta, z, g, stats.n, stats.mean, stats.ss, prior.mu0, prior.s0_var, prior.a, prior.b)
    return GibbsState(mu, beta)


def init(rng: np.random.Generator, chains: int, prior: NormalGammaPrior = DEFAULT_PRIOR) -> GibbsState:
    """Start ``chains`` chains at independent draws from the prior (over-dispersed, as R-hat wants).

    Returns
    -------
    GibbsState
        Arrays of shape ``(chains,)``.
    """
    prior = _check_prior(prior)
    chains = positive_int(chains, "chains")
    generator(rng)
    mu = rng.normal(prior.mu0, np.sqrt(prior.s0_var), size=chains)
    beta = rng.standard_gamma(prior.a, size=chains) / prior.b
    return GibbsState(mu, beta)


def step(rng: np.random.Generator, state: GibbsState, stats: SufficientStats, prior: NormalGammaPrior) -> GibbsState:
    """One Gibbs sweep for every chain: ``mu ~ p(mu | x, beta)``, then ``beta ~ p(beta | x, mu)``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the sweep's randomness (one standard normal and one standard gamma per chain).
    state : GibbsState
        Arrays of shape ``(C,)``.
    stats : SufficientStats
    prior : NormalGammaPrior

    Returns
    -------
    GibbsState
        The new state, arrays of shape ``(C,)``.
    """
    prior, stats = _check_prior(prior), _check_stats(stats)
    generator(rng)
    chains = np.shape(state.beta)[0]
    z = rng.standard_normal(chains)
    g = rng.standard_gamma(prior.a + 0.5 * stats.n, size=chains)
    return transition(state, z, g, stats, prior)


def sample(
    x,
    prior: NormalGammaPrior = DEFAULT_PRIOR,
    *,
    draws: int = 1000,
    chains: int = 4,
    warmup: int = 1000,
    seed: int = 0,
    planted_bug: bool = False,
    log_likelihood: bool = True,
    posterior_predictive: bool = True,
) -> az.InferenceData:
    """Run ``chains`` independent Gibbs chains and return their draws after ``warmup``.

    Chain ``c`` uses its own stream ``numpy.random.default_rng(SeedSequence(seed).spawn(chains)[c])``:
    it draws its start from the prior, then all ``warmup + draws`` standard normals, then all standard
    Gamma(a + n/2) variates.  The same seed gives the same draws.

    Parameters
    ----------
    x : array_like, shape (n,)
        Observations.
    prior : NormalGammaPrior
    draws : int, >= 1
        Kept draws per chain.
    chains : int, >= 1
    warmup : int, >= 0
        Discarded sweeps per chain.
    seed : int, >= 0
    planted_bug : bool, default False
        For teaching and for the tests of simulation-based calibration (:mod:`bayes_zoo.inference.sbc`): draw beta's
        full conditional Gamma(shape, rate) as Gamma(shape, scale = rate) — NumPy's ``gamma(shape, scale)``
        given the rate, a classic mistake.  The chains still look healthy; SBC flags it.
        ``posterior.attrs["algorithm"]`` then says so.
    log_likelihood : bool, default True
        Add the ``log_likelihood`` group (callers that use only the posterior draws, as SBC, may skip it).
    posterior_predictive : bool, default True
        Add the ``posterior_predictive`` group.

    Returns
    -------
    arviz.InferenceData
        Groups and variables as PyMC names them for :func:`bayes_zoo.models.normal_gamma.build_pymc_model`
        (``C = chains``, ``T = draws``, ``n = len(x)``):

        * ``posterior``: ``mu``, ``beta``, ``sigma = beta ** -0.5``, each ``(chain, draw)`` ``(C, T)``.
          ``posterior.attrs``: ``sampling_time`` (wall-clock seconds of the sampling alone, warm-up included,
          as PyMC), ``compile_time`` (seconds before it: numba compiling the loop, or loading it from its disk
          cache, on a first call in the process; ~1e-5 after), ``algorithm``, ``seed``, ``tuning_steps``,
          ``inference_library``.
        * ``sample_stats``: ``lp`` ``(C, T)``, the log joint density log p(mu) + log p(beta) + log p(x | mu,
          beta) on the constrained scale (:func:`bayes_zoo.models.normal_gamma.log_joint`): it equals
          ``model.compile_logp(jacobian=False)`` of the PyMC model at the same point, difference 0 (tested to
          1e-8).  PyMC's NUTS writes its own ``lp`` on the unconstrained scale, i.e. with the log-Jacobian of
          beta's log transform, ``log(beta)``, added, so the two ``lp`` differ by that Jacobian.  A Gibbs sweep
          accepts every update, so there are no acceptance, step-size or divergence statistics.
        * ``log_likelihood``: ``x`` ``(chain, draw, obs)`` ``(C, T, n)``, ``log N(x_i | mu, 1/beta)`` per
          observation (:func:`bayes_zoo.models.normal_gamma.pointwise_log_likelihood`), equal to
          ``pm.compute_log_likelihood`` at the same draws, so ``az.loo``/``az.waic``/``az.compare`` treat it
          as they treat NUTS's.
        * ``posterior_predictive``: ``x`` ``(chain, draw, obs)``, one replicate data set per draw,
          ``x_rep ~ Normal(mu, 1/beta)``, from the stream :func:`bayes_zoo.inference.seeding.predictive_generator`
          ``(seed)``, independent of the chains' streams (the posterior draws do not depend on it).
        * ``observed_data``: ``x`` ``(obs,)``.

    Raises
    ------
    ValueError
        For bad ``x`` or ``prior``, ``draws`` or ``chains`` < 1, ``warmup`` < 0, or a bad ``seed``.
    """
    stats = sufficient_statistics(x)
    x = np.asarray(x, dtype=np.float64)
    prior = _check_prior(prior)
    draws = positive_int(draws, "draws")
    chains = positive_int(chains, "chains")
    warmup = nonnegative_int(warmup, "warmup")
    rngs = chain_generators(seed, chains)

    start = time.perf_counter()  # numba compiles the loop on its first call (or loads it from its disk cache)
    _run_chains(np.ones(1), np.zeros((1, 1)), np.ones((1, 1)), stats.n, stats.mean, stats.ss, prior.mu0, prior.s0_var,
                prior.a, prior.b, bool(planted_bug))
    compile_time = time.perf_counter() - start

    start = time.perf_counter()
    length = warmup + draws
    shape = prior.a + 0.5 * stats.n
    beta0 = np.empty(chains)
    z = np.empty((chains, length))
    g = np.empty((chains, length))
    for c, rng in enumerate(rngs):
        beta0[c] = init(rng, 1, prior).beta[0]
        z[c] = rng.standard_normal(length)
        g[c] = rng.standard_gamma(shape, size=length)
    mu, beta = _run_chains(beta0, z, g, stats.n, stats.mean, stats.ss, prior.mu0, prior.s0_var, prior.a, prior.b,
                           bool(planted_bug))
    mu, beta = mu[:, warmup:], beta[:, warmup:]
    elapsed = time.perf_counter() - start

    idata = az.from_dict(
        posterior={"mu": mu, "beta": beta, "sigma": beta**-0.5},
        sample_stats={"lp": log_joint(mu, beta, x, prior)},
        log_likelihood={"x": pointwise_log_likelihood(mu, beta, x)} if log_likelihood else None,
        posterior_predictive=({"x": simulate_observations(predictive_generator(seed), mu, beta, stats.n)}
                              if posterior_predictive else None),
        observed_data={"x": x},
        coords={"obs": np.arange(stats.n)},
        dims={"x": ["obs"]},
    )
    idata.posterior.attrs.update(
        inference_library="bayes-zoo", algorithm="gibbs (planted bug: Gamma rate used as scale)" if planted_bug else "gibbs",
        sampling_time=elapsed, compile_time=compile_time, tuning_steps=warmup, seed=seed
    )
    return idata
