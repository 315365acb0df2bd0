"""Normal data with unknown mean and precision, under independent Normal and Gamma priors.

Model (PyMC's conventions: a Normal by its mean and **variance** here, a Gamma by shape and **rate**)::

    mu   ~ Normal(mu0, s0_var)            s0_var is a variance
    beta ~ Gamma(a, b)                    b is a rate: density  b^a beta^(a-1) exp(-b beta) / Gamma(a)
    x_i | mu, beta ~ Normal(mu, 1/beta)   i = 1..n, beta is a precision

The priors are independent, so the joint posterior has no closed form (it is *semi*-conjugate: each full
conditional is standard, which is what the Gibbs sampler in :mod:`inference.gibbs.normal_gamma` uses).
This module holds what is modelled: the prior, the data checks, the PyMC model, a simulator, the exact
posterior by quadrature, and the fully conjugate Normal–Gamma variant whose posterior is closed-form
(Gelman et al., *Bayesian Data Analysis*, 3rd ed., sec. 3.3; Murphy 2007, "Conjugate Bayesian analysis of
the Gaussian distribution", sec. 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import integrate, optimize, special, stats

from models.checks import finite_scalar, finite_vector, positive_int, positive_scalar

__all__ = [
    "NormalGammaPrior",
    "DEFAULT_PRIOR",
    "SufficientStats",
    "sufficient_statistics",
    "build_pymc_model",
    "log_joint",
    "simulate",
    "ExactPosterior",
    "exact_posterior",
    "ConjugateNormalGammaPrior",
    "ConjugatePosterior",
    "conjugate_posterior",
    "VARIABLES",
]

#: Posterior variables shared by the PyMC model and the handwritten sampler, all of dims ``(chain, draw)``.
VARIABLES = ("mu", "beta", "sigma")


@dataclass(frozen=True)
class NormalGammaPrior:
    """Independent priors ``mu ~ Normal(mu0, s0_var)`` and ``beta ~ Gamma(a, rate=b)``.

    Parameters
    ----------
    mu0 : float
        Prior mean of ``mu``, in the data's units.
    s0_var : float
        Prior **variance** of ``mu`` (units squared), > 0.
    a : float
        Gamma shape of the precision ``beta``, > 0.
    b : float
        Gamma **rate** of ``beta`` (units squared), > 0.  NumPy and SciPy parametrise the Gamma by
        *scale* = 1 / b.

    Raises
    ------
    ValueError
        If any parameter is not finite, or ``s0_var``, ``a`` or ``b`` is not > 0.
    """

    mu0: float = 0.0
    s0_var: float = 50.0**2
    a: float = 1.0
    b: float = 10.0

    def __post_init__(self):
        object.__setattr__(self, "mu0", finite_scalar(self.mu0, "mu0"))
        for name in ("s0_var", "a", "b"):
            object.__setattr__(self, name, positive_scalar(getattr(self, name), name))

    def describe(self) -> str:
        """The prior in one line, for reports."""
        return (
            f"mu ~ Normal(mu0={self.mu0:g}, s0_var={self.s0_var:g}) [s0_var a variance]; "
            f"beta ~ Gamma(a={self.a:g}, b={self.b:g}) [b a rate]"
        )


#: Weakly informative defaults for Newcomb's data (ns as deviations from 24,800 ns).  ``mu`` has prior sd
#: 50 ns around 0, wide against any plausible deviation; ``beta`` has prior mean a/b = 0.1 ns^-2, i.e. a
#: measurement sd near 3 ns, with a 95% prior interval for sigma = beta^-1/2 of about (1.6 ns, 20 ns).
DEFAULT_PRIOR = NormalGammaPrior(mu0=0.0, s0_var=50.0**2, a=1.0, b=10.0)


class SufficientStats(NamedTuple):
    """What the likelihood needs of the data ``x`` (shape ``(n,)``)."""

    n: int
    """Number of observations."""
    mean: float
    """Sample mean, in the data's units."""
    ss: float
    """Sum of squared deviations from the sample mean, sum (x_i - mean)^2 (units squared)."""


def sufficient_statistics(x) -> SufficientStats:
    """Sufficient statistics of 1-D data ``x`` (shape ``(n,)``).

    Raises
    ------
    ValueError
        If ``x`` is not a non-empty 1-D array of finite numbers.
    """
    x = finite_vector(x, "x")
    mean = float(np.mean(x))
    return SufficientStats(int(x.size), mean, float(np.sum((x - mean) ** 2)))


def _check_prior(prior) -> NormalGammaPrior:
    if not isinstance(prior, NormalGammaPrior):
        raise ValueError(f"prior: expected a NormalGammaPrior, got {type(prior).__name__}")
    return prior


def build_pymc_model(x, prior: NormalGammaPrior = DEFAULT_PRIOR):
    """The model in PyMC, with coords ``{"obs": range(n)}``.

    Parameters
    ----------
    x : array_like, shape (n,)
        Observations.
    prior : NormalGammaPrior

    Returns
    -------
    pymc.Model
        Free variables ``mu`` (scalar) and ``beta`` (scalar, log-transformed for NUTS), the deterministic
        ``sigma = beta ** -0.5`` (the measurement sd), and the observed ``x`` with dims ``("obs",)``.

    Raises
    ------
    ValueError
        For bad ``x`` or ``prior``.
    """
    import pymc as pm

    x = finite_vector(x, "x")
    prior = _check_prior(prior)
    with pm.Model(coords={"obs": np.arange(x.size)}) as model:
        mu = pm.Normal("mu", mu=prior.mu0, sigma=np.sqrt(prior.s0_var))
        beta = pm.Gamma("beta", alpha=prior.a, beta=prior.b)
        pm.Deterministic("sigma", beta**-0.5)
        pm.Normal("x", mu=mu, tau=beta, observed=x, dims="obs")
    return model


def log_joint(mu, beta, x, prior: NormalGammaPrior = DEFAULT_PRIOR) -> np.ndarray:
    """Normalised log prior plus log likelihood, log p(mu) + log p(beta) + sum_i log N(x_i | mu, 1/beta).

    Written by hand in O(1) per point from the sufficient statistics; it equals PyMC's ``model.logp``
    without the Jacobian of the log transform.

    Parameters
    ----------
    mu, beta : array_like, broadcastable to a common shape S
        Points at which to evaluate; ``beta`` > 0.
    x : array_like, shape (n,)
    prior : NormalGammaPrior

    Returns
    -------
    numpy.ndarray, shape S

    Raises
    ------
    ValueError
        For bad ``x`` or ``prior``, non-finite ``mu`` or ``beta``, or ``beta`` <= 0.
    """
    n, xbar, ss = sufficient_statistics(x)
    prior = _check_prior(prior)
    mu = np.asarray(mu, dtype=np.float64)
    beta = np.asarray(beta, dtype=np.float64)
    if not np.all(np.isfinite(mu)):
        raise ValueError("mu: must be finite")
    if not np.all(np.isfinite(beta)) or np.any(beta <= 0):
        raise ValueError("beta: must be finite and > 0")
    log_prior_mu = -0.5 * np.log(2 * np.pi * prior.s0_var) - 0.5 * (mu - prior.mu0) ** 2 / prior.s0_var
    log_prior_beta = prior.a * np.log(prior.b) - special.gammaln(prior.a) + (prior.a - 1) * np.log(beta) - prior.b * beta
    log_lik = 0.5 * n * (np.log(beta) - np.log(2 * np.pi)) - 0.5 * beta * (ss + n * (xbar - mu) ** 2)
    return log_prior_mu + log_prior_beta + log_lik


def simulate(rng: np.random.Generator, prior: NormalGammaPrior, n: int):
    """Draw ``(mu, beta)`` from the prior and ``n`` observations given them.

    Parameters
    ----------
    rng : numpy.random.Generator
    prior : NormalGammaPrior
    n : int, >= 1

    Returns
    -------
    mu : float
    beta : float
    x : numpy.ndarray, shape (n,)
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    prior = _check_prior(prior)
    n = positive_int(n, "n")
    mu = rng.normal(prior.mu0, np.sqrt(prior.s0_var))
    beta = rng.gamma(prior.a, 1.0 / prior.b)  # NumPy's Gamma takes a scale = 1 / rate
    x = rng.normal(mu, 1.0 / np.sqrt(beta), size=n)
    return float(mu), float(beta), x


# --------------------------------------------------------------------------------------------------------
# Exact posterior by quadrature
# --------------------------------------------------------------------------------------------------------

_QUAD_EPSREL = 1e-12
_QUANTILE_XTOL = 1e-12


@dataclass(frozen=True)
class ExactPosterior:
    """Exact posterior of the independent-prior model, by quadrature (see :func:`exact_posterior`).

    Attributes
    ----------
    summary : pandas.DataFrame
        Index ``["mu", "beta", "sigma"]``; columns ``mean``, ``sd``, ``q05``, ``q95`` (5% and 95% quantiles).
    stats : SufficientStats
    prior : NormalGammaPrior
    bounds : tuple of float
        The interval of ``mu`` integrated over; the mass outside it is below 1e-15.
    log_norm : float
        log of the integral of ``exp(log_kernel(mu) - log_kernel(mode))``.
    mode : float
        Mode of the marginal posterior of ``mu``.
    """

    summary: pd.DataFrame
    stats: SufficientStats
    prior: NormalGammaPrior
    bounds: tuple[float, float]
    log_norm: float
    mode: float

    @property
    def shape_beta(self) -> float:
        """Shape a + n/2 of the conditional Gamma of ``beta`` given ``mu``."""
        return self.prior.a + 0.5 * self.stats.n

    def rate_beta(self, mu) -> np.ndarray:
        """Rate b + (ss + n (mean - mu)^2) / 2 of ``beta`` given ``mu``; shape of ``mu``."""
        n, xbar, ss = self.stats
        return self.prior.b + 0.5 * (ss + n * (xbar - np.asarray(mu)) ** 2)

    def pdf_mu(self, mu) -> np.ndarray:
        """Marginal posterior density of ``mu`` at ``mu`` (any shape)."""
        return np.exp(_log_kernel(np.asarray(mu, dtype=float), self.stats, self.prior) - self._log_peak - self.log_norm)

    def pdf_beta(self, beta) -> np.ndarray:
        """Marginal posterior density of ``beta`` at ``beta`` (any shape, values > 0), by quadrature over ``mu``."""
        beta = np.asarray(beta, dtype=float)
        flat = beta.ravel()
        shape = self.shape_beta

        def integrand(mu):
            return self.pdf_mu(mu) * stats.gamma.pdf(flat, shape, scale=1.0 / self.rate_beta(mu))

        return integrate.quad_vec(integrand, *self.bounds, points=[self.mode], epsrel=1e-10)[0].reshape(beta.shape)

    def pdf_sigma(self, sigma) -> np.ndarray:
        """Marginal posterior density of ``sigma = beta ** -0.5`` at ``sigma`` (any shape, values > 0)."""
        sigma = np.asarray(sigma, dtype=float)
        return self.pdf_beta(sigma**-2.0) * 2.0 * sigma**-3.0

    @property
    def _log_peak(self) -> float:
        return float(_log_kernel(np.float64(self.mode), self.stats, self.prior))


def _log_kernel(mu, stats_: SufficientStats, prior: NormalGammaPrior):
    """log p(mu | x) up to a constant, with beta integrated out in closed form.

    int_0^inf beta^(A-1) exp(-beta r(mu)) dbeta = Gamma(A) r(mu)^(-A), with A = a + n/2 and
    r(mu) = b + (ss + n (mean - mu)^2) / 2.
    """
    n, xbar, ss = stats_
    rate = prior.b + 0.5 * (ss + n * (xbar - mu) ** 2)
    return -0.5 * (mu - prior.mu0) ** 2 / prior.s0_var - (prior.a + 0.5 * n) * np.log(rate)


def exact_posterior(x, prior: NormalGammaPrior = DEFAULT_PRIOR) -> ExactPosterior:
    """Posterior moments and quantiles of ``mu``, ``beta`` and ``sigma`` by quadrature.

    The joint posterior is a 2-D integral; the inner integral over ``beta`` is done exactly (given ``mu``,
    ``beta`` is Gamma(A, r(mu)) with A = a + n/2, r(mu) = b + sum (x_i - mu)^2 / 2), so only the outer
    integral over ``mu`` is numerical: adaptive Gauss–Kronrod (``scipy.integrate.quad_vec``, relative
    tolerance 1e-12) of the vector of conditional moments, over an interval that leaves out less than 1e-15
    of the mass.  Quantiles solve the CDF by Brent's method to 1e-12.  Moments and quantiles are accurate
    to about 1e-9 relative; the tests check them against brute-force 2-D quadrature to 1e-6.

    Parameters
    ----------
    x : array_like, shape (n,)
    prior : NormalGammaPrior

    Returns
    -------
    ExactPosterior
        ``sd`` of ``sigma`` is ``inf`` when A <= 1 (then E[1/beta] diverges).

    Raises
    ------
    ValueError
        For bad ``x`` or ``prior``.
    """
    st = sufficient_statistics(x)
    prior = _check_prior(prior)
    n, xbar, ss = st
    A = prior.a + 0.5 * n

    # Mode of the mu-marginal lies between the prior mean and the sample mean.
    lo, hi = min(prior.mu0, xbar), max(prior.mu0, xbar)
    if hi > lo:
        mode = optimize.minimize_scalar(
            lambda m: -_log_kernel(m, st, prior), bounds=(lo, hi), method="bounded", options={"xatol": 1e-12 * (1 + abs(hi))}
        ).x
    else:
        mode = lo
    rate_at_mode = prior.b + 0.5 * (ss + n * (xbar - mode) ** 2)
    curvature = 1.0 / prior.s0_var + A * (n * rate_at_mode - (n * (mode - xbar)) ** 2) / rate_at_mode**2
    h = 1.0 / np.sqrt(max(curvature, 1.0 / prior.s0_var))
    # Cover the peak (t-like, possibly heavy-tailed for small n) and the Gaussian prior's tails.
    prior_sd = np.sqrt(prior.s0_var)
    bounds = (min(mode - 60 * h, prior.mu0 - 12 * prior_sd), max(mode + 60 * h, prior.mu0 + 12 * prior_sd))
    log_peak = _log_kernel(mode, st, prior)

    def moments(mu):
        w = np.exp(_log_kernel(mu, st, prior) - log_peak)
        r = prior.b + 0.5 * (ss + n * (xbar - mu) ** 2)
        e_inv_sqrt = np.exp(special.gammaln(A - 0.5) - special.gammaln(A)) * np.sqrt(r) if A > 0.5 else np.inf
        e_inv = r / (A - 1.0) if A > 1.0 else np.inf
        return w * np.array([1.0, mu, mu * mu, A / r, A * (A + 1.0) / r**2, e_inv_sqrt, e_inv])

    vals = integrate.quad_vec(moments, *bounds, points=[mode], epsrel=_QUAD_EPSREL, limit=400)[0]
    norm = vals[0]
    m1 = vals[1:] / norm
    mean_mu, var_mu = m1[0], m1[1] - m1[0] ** 2
    mean_beta, var_beta = m1[2], m1[3] - m1[2] ** 2
    mean_sigma = m1[4]
    var_sigma = m1[5] - m1[4] ** 2 if np.isfinite(m1[5]) else np.inf

    def cdf_mu(t):
        return integrate.quad(lambda m: np.exp(_log_kernel(m, st, prior) - log_peak), bounds[0], t,
                              points=[mode] if bounds[0] < mode < t else None, epsrel=_QUAD_EPSREL, limit=400)[0] / norm

    def cdf_beta(t):
        def f(mu):
            return np.exp(_log_kernel(mu, st, prior) - log_peak) * special.gammainc(A, t * (prior.b + 0.5 * (ss + n * (xbar - mu) ** 2)))
        return integrate.quad(f, *bounds, points=[mode], epsrel=_QUAD_EPSREL, limit=400)[0] / norm

    def quantile(cdf, p, lo_, hi_):
        while cdf(lo_) > p:
            lo_ = lo_ - (hi_ - lo_)
        while cdf(hi_) < p:
            hi_ = hi_ + (hi_ - lo_)
        return optimize.brentq(lambda t: cdf(t) - p, lo_, hi_, xtol=_QUANTILE_XTOL * (1 + abs(lo_) + abs(hi_)), rtol=1e-14)

    sd_mu, sd_beta = np.sqrt(var_mu), np.sqrt(var_beta)
    q_mu = [quantile(cdf_mu, p, mean_mu - 3 * sd_mu, mean_mu + 3 * sd_mu) for p in (0.05, 0.95)]
    beta_lo = max(mean_beta - 3 * sd_beta, mean_beta * 1e-3)
    q_beta = [quantile(cdf_beta, p, beta_lo, mean_beta + 3 * sd_beta) for p in (0.05, 0.95)]
    summary = pd.DataFrame(
        {
            "mean": [mean_mu, mean_beta, mean_sigma],
            "sd": [sd_mu, sd_beta, np.sqrt(var_sigma)],
            "q05": [q_mu[0], q_beta[0], q_beta[1] ** -0.5],  # sigma = beta^-1/2 is decreasing in beta
            "q95": [q_mu[1], q_beta[1], q_beta[0] ** -0.5],
        },
        index=pd.Index(list(VARIABLES), name="quantity"),
    )
    return ExactPosterior(summary, st, prior, (float(bounds[0]), float(bounds[1])), float(np.log(norm)), float(mode))


# --------------------------------------------------------------------------------------------------------
# The fully conjugate variant, for teaching
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConjugateNormalGammaPrior:
    """Conjugate prior ``beta ~ Gamma(a, rate=b)``, ``mu | beta ~ Normal(mu0, 1 / (kappa0 beta))``.

    Unlike :class:`NormalGammaPrior`, the prior variance of ``mu`` scales with the noise variance 1/beta;
    ``kappa0`` is the prior's worth in observations.

    Raises
    ------
    ValueError
        If ``mu0`` is not finite or ``kappa0``, ``a``, ``b`` are not > 0.
    """

    mu0: float = 0.0
    kappa0: float = 1.0
    a: float = 1.0
    b: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "mu0", finite_scalar(self.mu0, "mu0"))
        for name in ("kappa0", "a", "b"):
            object.__setattr__(self, name, positive_scalar(getattr(self, name), name))


@dataclass(frozen=True)
class ConjugatePosterior:
    """Posterior NormalGamma(mu_n, kappa_n, a_n, b_n) of the conjugate model (same form as the prior).

    Murphy (2007), eqs. 86–89; Gelman et al., BDA3, eqs. 3.7 (with beta = 1/sigma^2):
    kappa_n = kappa0 + n, mu_n = (kappa0 mu0 + n xbar) / kappa_n, a_n = a + n/2,
    b_n = b + ss/2 + kappa0 n (xbar - mu0)^2 / (2 kappa_n).
    """

    mu_n: float
    kappa_n: float
    a_n: float
    b_n: float

    @property
    def summary(self) -> pd.DataFrame:
        """Mean, sd, 5% and 95% quantiles of ``mu``, ``beta`` and ``sigma = beta ** -0.5``, in closed form.

        Same layout as :attr:`ExactPosterior.summary`; a moment that does not exist (the sd of ``mu`` or
        of ``sigma`` when a_n <= 1) is ``inf``.
        """
        t, g = self.marginal_mu(), self.marginal_beta()
        a, b = self.a_n, self.b_n
        mean_sigma = np.exp(special.gammaln(a - 0.5) - special.gammaln(a)) * np.sqrt(b) if a > 0.5 else np.inf
        var_sigma = b / (a - 1.0) - mean_sigma**2 if a > 1.0 else np.inf
        return pd.DataFrame(
            {
                "mean": [t.mean(), g.mean(), mean_sigma],  # t has 2 a_n > 1 degrees of freedom
                "sd": [t.std() if a > 1.0 else np.inf, g.std(), np.sqrt(var_sigma)],
                "q05": [t.ppf(0.05), g.ppf(0.05), g.ppf(0.95) ** -0.5],
                "q95": [t.ppf(0.95), g.ppf(0.95), g.ppf(0.05) ** -0.5],
            },
            index=pd.Index(list(VARIABLES), name="quantity"),
        )

    def marginal_mu(self):
        """``mu | x`` ~ Student-t(2 a_n, loc=mu_n, scale=sqrt(b_n / (a_n kappa_n))), a frozen SciPy law."""
        return stats.t(df=2 * self.a_n, loc=self.mu_n, scale=np.sqrt(self.b_n / (self.a_n * self.kappa_n)))

    def marginal_beta(self):
        """``beta | x`` ~ Gamma(a_n, rate=b_n), a frozen SciPy law (SciPy takes scale = 1 / b_n)."""
        return stats.gamma(a=self.a_n, scale=1.0 / self.b_n)

    def logpdf(self, mu, beta):
        """Joint posterior log-density at ``(mu, beta)`` (broadcastable arrays)."""
        mu, beta = np.asarray(mu, float), np.asarray(beta, float)
        return self.marginal_beta().logpdf(beta) + stats.norm.logpdf(mu, self.mu_n, 1.0 / np.sqrt(self.kappa_n * beta))


def conjugate_posterior(x, prior: ConjugateNormalGammaPrior) -> ConjugatePosterior:
    """Closed-form posterior of the conjugate Normal–Gamma model for data ``x`` (shape ``(n,)``).

    Raises
    ------
    ValueError
        For bad ``x`` or a ``prior`` that is not a :class:`ConjugateNormalGammaPrior`.
    """
    n, xbar, ss = sufficient_statistics(x)
    if not isinstance(prior, ConjugateNormalGammaPrior):
        raise ValueError(f"prior: expected a ConjugateNormalGammaPrior, got {type(prior).__name__}")
    kappa_n = prior.kappa0 + n
    return ConjugatePosterior(
        mu_n=(prior.kappa0 * prior.mu0 + n * xbar) / kappa_n,
        kappa_n=kappa_n,
        a_n=prior.a + 0.5 * n,
        b_n=prior.b + 0.5 * ss + prior.kappa0 * n * (xbar - prior.mu0) ** 2 / (2 * kappa_n),
    )
