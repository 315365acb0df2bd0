"""Normal data with unknown mean and precision, under independent Normal and Gamma priors.

Model (PyMC's conventions: a Normal by its mean and **variance** here, a Gamma by shape and **rate**)::

    mu   ~ Normal(mu0, s0_var)            s0_var is a variance
    beta ~ Gamma(a, b)                    b is a rate: density  b^a beta^(a-1) exp(-b beta) / Gamma(a)
    x_i | mu, beta ~ Normal(mu, 1/beta)   i = 1..n, beta is a precision

The priors are independent, so the joint posterior has no closed form (it is *semi*-conjugate: each full
conditional is standard, which is what the Gibbs sampler in :mod:`bayes_zoo.inference.gibbs.normal_gamma` uses).
This module holds what is modelled: the prior, the data checks, the PyMC model, a simulator, the exact
posterior by quadrature, and the fully conjugate Normal–Gamma variant whose posterior is closed-form
(Gelman et al., *Bayesian Data Analysis*, 3rd ed., sec. 3.3; Murphy 2007, "Conjugate Bayesian analysis of
the Gaussian distribution", sec. 3).
"""

from __future__ import annotations

from collections.abc import Mapping

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from bayes_zoo.models.checks import finite_scalar, finite_vector, generator, instance, positive_int, positive_scalar

__all__ = [
    "NormalGammaPrior",
    "DEFAULT_PRIOR",
    "SufficientStats",
    "sufficient_statistics",
    "build_pymc_model",
    "log_joint",
    "pointwise_log_likelihood",
    "simulate_observations",
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
    return instance(prior, NormalGammaPrior, "prior")


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
    # float64 constants: PyTensor makes a Python float that float32 holds exactly (1.0, 10.0) a float32
    # constant, and PyMC's logp then folds a log(b) or gammaln(a) in float32 (an error of ~3e-8 in logp).
    f64 = np.float64
    with pm.Model(coords={"obs": np.arange(x.size)}) as model:
        mu = pm.Normal("mu", mu=f64(prior.mu0), sigma=f64(np.sqrt(prior.s0_var)))
        beta = pm.Gamma("beta", alpha=f64(prior.a), beta=f64(prior.b))
        pm.Deterministic("sigma", beta**-0.5)
        pm.Normal("x", mu=mu, tau=beta, observed=x, dims="obs")
    return model


def log_joint(mu, beta, x, prior: NormalGammaPrior = DEFAULT_PRIOR) -> np.ndarray:
    """Normalised log prior plus log likelihood, log p(mu) + log p(beta) + sum_i log N(x_i | mu, 1/beta).

    Written by hand in O(1) per point from the sufficient statistics; it equals PyMC's
    ``model.compile_logp(jacobian=False)`` of :func:`build_pymc_model` at the same point (without the Jacobian
    of beta's log transform).

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
    mu, beta = _check_point(mu, beta)
    log_prior_mu = -0.5 * np.log(2 * np.pi * prior.s0_var) - 0.5 * (mu - prior.mu0) ** 2 / prior.s0_var
    log_prior_beta = prior.a * np.log(prior.b) - special.gammaln(prior.a) + (prior.a - 1) * np.log(beta) - prior.b * beta
    log_lik = 0.5 * n * (np.log(beta) - np.log(2 * np.pi)) - 0.5 * beta * (ss + n * (xbar - mu) ** 2)
    return log_prior_mu + log_prior_beta + log_lik


def _check_point(mu, beta):
    mu = np.asarray(mu, dtype=np.float64)
    beta = np.asarray(beta, dtype=np.float64)
    if not np.all(np.isfinite(mu)):
        raise ValueError("mu: must be finite")
    if not np.all(np.isfinite(beta)) or np.any(beta <= 0):
        raise ValueError("beta: must be finite and > 0")
    return mu, beta


def pointwise_log_likelihood(mu, beta, x) -> np.ndarray:
    """``log N(x_i | mu, 1/beta)`` for every observation: the terms whose sum is the log likelihood.

    ``0.5 log(beta / (2 pi)) - 0.5 beta (x_i - mu)^2``, the log density of PyMC's observed ``x`` of
    :func:`build_pymc_model` (``pm.Normal(mu, tau=beta)``) at each ``x_i``; what ``pm.compute_log_likelihood``
    returns for it.

    Parameters
    ----------
    mu, beta : array_like, broadcastable to a common shape S
        ``beta`` > 0 (a precision).
    x : array_like, shape (n,)

    Returns
    -------
    numpy.ndarray, shape S + (n,)

    Raises
    ------
    ValueError
        For bad ``x``, non-finite ``mu`` or ``beta``, or ``beta`` <= 0.
    """
    x = finite_vector(x, "x")
    mu, beta = _check_point(mu, beta)
    mu, beta = np.broadcast_arrays(mu, beta)
    return 0.5 * (np.log(beta) - np.log(2 * np.pi))[..., None] - 0.5 * beta[..., None] * (x - mu[..., None]) ** 2


def simulate_observations(rng: np.random.Generator, mu, beta, n: int) -> np.ndarray:
    """``n`` new observations ``x_i ~ Normal(mu, 1/beta)`` at each point: ``mu + z / sqrt(beta)``, ``z`` standard
    normal drawn in C order over the output.

    Parameters
    ----------
    rng : numpy.random.Generator
    mu, beta : array_like, broadcastable to a common shape S; ``beta`` > 0
    n : int, >= 1

    Returns
    -------
    numpy.ndarray, shape S + (n,)
    """
    generator(rng)
    mu, beta = _check_point(mu, beta)
    mu, beta = np.broadcast_arrays(mu, beta)
    n = positive_int(n, "n")
    z = rng.standard_normal(mu.shape + (n,))
    return mu[..., None] + z / np.sqrt(beta)[..., None]


def simulate(rng: np.random.Generator, data, prior: NormalGammaPrior = DEFAULT_PRIOR):
    """The generative model: ``(mu, beta)`` from the prior, then as many observations as ``data["x"]`` holds.

    The signature every model module's ``simulate`` shares (simulation-based calibration,
    :attr:`bayes_zoo.problem.Problem.simulate`): a generator and a data template in, the truth and simulated
    data out.

    Parameters
    ----------
    rng : numpy.random.Generator
    data : mapping
        ``{"x": array (n,)}``, ``n >= 1``: only its size is used.
    prior : NormalGammaPrior

    Returns
    -------
    truth : dict
        ``{"mu": float, "beta": float}`` (beta by rate: precision, ns^-2).
    data : dict
        ``{"x": array (n,)}``, ``x_i ~ Normal(mu, 1 / beta)``.

    Raises
    ------
    ValueError
        Naming ``rng``, ``data`` or ``prior``.
    """
    generator(rng)
    prior = _check_prior(prior)
    if not isinstance(data, Mapping) or "x" not in data:
        raise ValueError(f"data: expected a mapping with key 'x', got {type(data).__name__}")
    n = positive_int(int(np.size(data["x"])), "data['x'] size")
    mu = rng.normal(prior.mu0, np.sqrt(prior.s0_var))
    beta = rng.gamma(prior.a, 1.0 / prior.b)  # NumPy's Gamma takes a scale = 1 / rate
    x = rng.normal(mu, 1.0 / np.sqrt(beta), size=n)
    return {"mu": float(mu), "beta": float(beta)}, {"x": x}


# --------------------------------------------------------------------------------------------------------
# Exact posterior by quadrature
# --------------------------------------------------------------------------------------------------------

_GL_ORDER = 48  # Gauss–Legendre nodes per panel
_TRUNCATE = 80.0  # panels whose log-kernel lies more than this below the peak hold < e^-80 of the mass
_MAX_BRACKET_STEPS = 400


@dataclass(frozen=True)
class ExactPosterior:
    """Exact posterior of the independent-prior model, by quadrature (see :func:`exact_posterior`).

    Attributes
    ----------
    summary : pandas.DataFrame
        Index ``["mu", "beta", "sigma"]``; columns ``mean``, ``sd``, ``q05``, ``q95`` (5% and 95% quantiles).
    stats : SufficientStats
    prior : NormalGammaPrior
    mode : float
        Global mode of the marginal posterior of ``mu``.
    edges : numpy.ndarray, shape (P + 1,)
        Panel breakpoints in ``mu``; the ends lie more than 80 nats below the peak of the log-density.
    nodes : numpy.ndarray, shape (Q,)
        Quadrature nodes in ``mu``.
    weights : numpy.ndarray, shape (Q,)
        Normalised posterior weights of the nodes (they sum to 1): sum_i weights_i f(nodes_i) ~ E[f(mu) | x].
    method : str
        (Property) the computation in one sentence, from the rule and panels used: what reports print.
    """

    summary: pd.DataFrame
    stats: SufficientStats
    prior: NormalGammaPrior
    mode: float
    edges: np.ndarray
    nodes: np.ndarray
    weights: np.ndarray
    _log_peak: float
    _log_norm: float

    @property
    def method(self) -> str:
        """How this answer was computed, one sentence for a report, from the rule and the panels actually used
        (the layout is :func:`exact_posterior`'s)."""
        return (f"beta integrated in closed form given mu (Gamma(a + n/2, rate(mu))); the mu integral by a composite "
                f"{_GL_ORDER}-point Gauss–Legendre rule on {self.edges.size - 1} panels ({self.nodes.size} nodes) "
                f"over mu in [{self.edges[0]:.6g}, {self.edges[-1]:.6g}], whose ends lie more than {_TRUNCATE:g} nats below "
                "the log-density's peak; quantiles by Brent's method on the resulting CDFs")

    @property
    def shape_beta(self) -> float:
        """Shape A = a + n/2 of the conditional Gamma of ``beta`` given ``mu``."""
        return self.prior.a + 0.5 * self.stats.n

    def rate_beta(self, mu) -> np.ndarray:
        """Rate b + (ss + n (mean - mu)^2) / 2 of ``beta`` given ``mu``; shape of ``mu``."""
        return _rate(np.asarray(mu, dtype=float), self.stats, self.prior)

    def pdf_mu(self, mu) -> np.ndarray:
        """Marginal posterior density of ``mu`` at ``mu`` (any shape)."""
        mu = np.asarray(mu, dtype=float)
        return np.exp(_log_kernel(mu, self.stats, self.prior) - self._log_peak - self._log_norm)

    def pdf_beta(self, beta) -> np.ndarray:
        """Marginal posterior density of ``beta`` at ``beta`` (any shape, values > 0): E_mu[Gamma(beta; A, r(mu))]."""
        beta = np.asarray(beta, dtype=float)
        rates = self.rate_beta(self.nodes)  # [Q]
        dens = stats.gamma.pdf(beta.reshape(-1, 1), self.shape_beta, scale=1.0 / rates)  # [G, Q]
        return (dens @ self.weights).reshape(beta.shape)

    def pdf_sigma(self, sigma) -> np.ndarray:
        """Marginal posterior density of ``sigma = beta ** -0.5`` at ``sigma`` (any shape, values > 0)."""
        sigma = np.asarray(sigma, dtype=float)
        return self.pdf_beta(sigma**-2.0) * 2.0 * sigma**-3.0

    def cdf_mu(self, t: float) -> float:
        """P(mu <= t | x): the weights of whole panels below ``t``, plus a Gauss–Legendre integral of the
        density over the part of ``t``'s panel below ``t``."""
        if t <= self.edges[0]:
            return 0.0
        if t >= self.edges[-1]:
            return 1.0
        start = self.edges[np.searchsorted(self.edges, t, side="right") - 1]
        below = float(self.weights[self.nodes < start].sum())
        nodes, w = _gauss_legendre(np.array([start, t]))
        return min(max(below + float(w @ self.pdf_mu(nodes)), 0.0), 1.0)

    def cdf_beta(self, t: float) -> float:
        """P(beta <= t | x) = E_mu[P(Gamma(A, r(mu)) <= t)]."""
        return float(self.weights @ special.gammainc(self.shape_beta, t * self.rate_beta(self.nodes)))


def _rate(mu, stats_: SufficientStats, prior: NormalGammaPrior):
    n, xbar, ss = stats_
    return prior.b + 0.5 * ss + 0.5 * n * (xbar - mu) ** 2


def _log_kernel(mu, stats_: SufficientStats, prior: NormalGammaPrior):
    """log p(mu | x) up to a constant, with beta integrated out in closed form.

    int_0^inf beta^(A-1) exp(-beta r(mu)) dbeta = Gamma(A) r(mu)^(-A), with A = a + n/2 and
    r(mu) = b + (ss + n (mean - mu)^2) / 2.
    """
    return -0.5 * (mu - prior.mu0) ** 2 / prior.s0_var - (prior.a + 0.5 * stats_.n) * np.log(_rate(mu, stats_, prior))


def _stationary_points(stats_: SufficientStats, prior: NormalGammaPrior) -> np.ndarray:
    """Real roots of d/dmu log p(mu | x): with u = mu - xbar, d0 = xbar - mu0, c = b + ss/2, A = a + n/2,
    (n/2) u^3 + (n/2) d0 u^2 + (c + A n s0_var) u + c d0 = 0.  Returns mu values, shape (1 to 3,)."""
    n, xbar, ss = stats_
    c = prior.b + 0.5 * ss
    d0 = xbar - prior.mu0
    A = prior.a + 0.5 * n
    roots = np.roots([0.5 * n, 0.5 * n * d0, c + A * n * prior.s0_var, c * d0])  # in u
    real = roots[np.abs(roots.imag) <= 1e-9 * (1.0 + np.abs(roots.real))].real
    if real.size == 0:  # a cubic always has a real root; guard against round-off in the imaginary parts
        real = roots[[np.argmin(np.abs(roots.imag))]].real
    coeffs = [0.5 * n, 0.5 * n * d0, c + A * n * prior.s0_var, c * d0]
    for _ in range(3):  # Newton polish: np.roots alone is accurate to ~1e-8 relative
        slope = np.polyval(np.polyder(coeffs), real)
        real = np.where(slope != 0, real - np.polyval(coeffs, real) / np.where(slope != 0, slope, 1.0), real)
    return np.unique(xbar + real)


def _gauss_legendre(edges: np.ndarray):
    """Nodes and weights of a composite Gauss–Legendre rule on consecutive ``edges`` (shape (P+1,))."""
    x, w = special.roots_legendre(_GL_ORDER)
    half = 0.5 * np.diff(edges)[:, None]  # [P, 1]
    mid = 0.5 * (edges[1:] + edges[:-1])[:, None]  # [P, 1]
    return (mid + half * x).ravel(), (half * w).ravel()


def _panel_edges(stats_: SufficientStats, prior: NormalGammaPrior):
    """Breakpoints for the composite rule: geometric ladders around every local mode, around the sample mean
    (on the t-kernel's scale) and around the prior mean (on the prior's scale), cut where the log-kernel
    has fallen more than 80 nats below its peak.  Returns (edges, mode, log_peak)."""
    n, xbar, ss = stats_
    candidates = _stationary_points(stats_, prior)
    logk = _log_kernel(candidates, stats_, prior)
    mode = float(candidates[np.argmax(logk)])
    log_peak = float(np.max(logk))
    A = prior.a + 0.5 * n
    ladder = 2.0 ** (np.arange(-8, 121) / 2.0)  # 1/16 to 2^60 in steps of sqrt(2)
    centres_scales = [(prior.mu0, np.sqrt(prior.s0_var)), (xbar, np.sqrt(2.0 * (prior.b + 0.5 * ss) / n))]
    for m in candidates:
        r = float(_rate(m, stats_, prior))
        curvature = 1.0 / prior.s0_var + A * n * (r - n * (m - xbar) ** 2) / r**2
        if curvature > 0:
            centres_scales.append((float(m), 1.0 / np.sqrt(curvature)))
    points = [np.array([m]) for m, _ in centres_scales]
    for m, h in centres_scales:
        points += [m - h * ladder, m + h * ladder]
    edges = np.unique(np.concatenate(points))
    edges = edges[np.isfinite(edges)]
    with np.errstate(over="ignore", invalid="ignore"):
        keep = _log_kernel(edges, stats_, prior) > log_peak - _TRUNCATE
    inside = np.flatnonzero(keep)
    first, last = max(inside[0] - 1, 0), min(inside[-1] + 1, edges.size - 1)
    return edges[first : last + 1], mode, log_peak


def _solve_increasing(cdf, p, start, step, *, positive=False, what="quantile"):
    """Solve cdf(t) = p for an increasing cdf: bracket by expanding steps (multiplicative for positive
    quantities, which are solved in log t with a relative tolerance), then Brent's method."""
    if positive:
        lo = hi = np.log(start)
        f = lambda s: cdf(np.exp(s)) - p  # noqa: E731
        step = np.log(2.0)
    else:
        lo = hi = start
        f = lambda t: cdf(t) - p  # noqa: E731
    for _ in range(_MAX_BRACKET_STEPS):
        if f(lo) <= 0:
            break
        lo -= step
        step *= 1.5
    else:
        raise ValueError(f"x: could not bracket the {what} (the posterior is numerically degenerate)")
    for _ in range(_MAX_BRACKET_STEPS):
        if f(hi) >= 0:
            break
        hi += step
        step *= 1.5
    else:
        raise ValueError(f"x: could not bracket the {what} (the posterior is numerically degenerate)")
    if lo == hi:
        root = lo
    else:
        root = optimize.brentq(f, lo, hi, xtol=1e-14 * (1.0 + abs(lo) + abs(hi)) if not positive else 1e-13, rtol=1e-15)
    return float(np.exp(root)) if positive else float(root)


def exact_posterior(x, prior: NormalGammaPrior = DEFAULT_PRIOR) -> ExactPosterior:
    """Posterior moments and quantiles of ``mu``, ``beta`` and ``sigma = beta^-1/2`` by quadrature.

    The joint posterior is a 2-D integral; the inner integral over ``beta`` is done exactly (given ``mu``,
    ``beta`` is Gamma(A, r(mu)) with A = a + n/2, r(mu) = b + sum (x_i - mu)^2 / 2), so only the outer
    integral over ``mu`` is numerical.  The marginal of ``mu`` (a Normal prior times a t-like kernel) may
    have up to three stationary points, found as the real roots of a cubic; a composite 48-point
    Gauss–Legendre rule is laid on geometric ladders of breakpoints around each local mode, around the sample
    mean and around the prior mean, and cut where the log-density is 80 nats below its peak, so that a
    posterior far narrower than the prior, a bimodal one, and any choice of units are all resolved.
    Moments are central (two-pass), the moments of ``beta`` and ``sigma`` use the law of total variance with
    the Gamma's conditional moments, quantiles of ``beta`` are solved in log(beta).

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
        For bad ``x`` or ``prior``, or data whose sum of squares overflows.
    """
    st = sufficient_statistics(x)
    prior = _check_prior(prior)
    n, xbar, ss = st
    if not np.isfinite(ss):
        raise ValueError("x: the sum of squared deviations overflows float64; rescale the data")
    A = prior.a + 0.5 * n

    edges, mode, log_peak = _panel_edges(st, prior)
    nodes, gl_w = _gauss_legendre(edges)  # [Q], [Q]
    raw = np.exp(_log_kernel(nodes, st, prior) - log_peak) * gl_w
    norm = raw.sum()
    w = raw / norm  # [Q], sums to 1
    r = _rate(nodes, st, prior)  # [Q]

    mean_mu = mode + w @ (nodes - mode)
    var_mu = w @ (nodes - mean_mu) ** 2
    e_beta = A / r
    mean_beta = w @ e_beta
    var_beta = w @ (A / r**2) + w @ (e_beta - mean_beta) ** 2  # E[Var | mu] + Var[E | mu]
    g = np.exp(special.gammaln(A - 0.5) - special.gammaln(A))  # E[beta^-1/2 | mu] = g sqrt(r), A > 1/2 always
    e_sigma = g * np.sqrt(r)
    mean_sigma = w @ e_sigma
    var_sigma = (w @ (r * (1.0 / (A - 1.0) - g**2)) + w @ (e_sigma - mean_sigma) ** 2) if A > 1.0 else np.inf

    result = ExactPosterior(
        summary=pd.DataFrame(), stats=st, prior=prior, mode=mode, edges=edges,
        nodes=nodes, weights=w, _log_peak=log_peak, _log_norm=float(np.log(norm)),
    )
    sd_mu, sd_beta = np.sqrt(var_mu), np.sqrt(var_beta)
    q_mu = [_solve_increasing(result.cdf_mu, p, mean_mu, sd_mu, what="mu quantile") for p in (0.05, 0.95)]
    q_beta = [_solve_increasing(result.cdf_beta, p, mean_beta, None, positive=True, what="beta quantile")
              for p in (0.05, 0.95)]
    summary = pd.DataFrame(
        {
            "mean": [mean_mu, mean_beta, mean_sigma],
            "sd": [sd_mu, sd_beta, np.sqrt(var_sigma)],
            "q05": [q_mu[0], q_beta[0], q_beta[1] ** -0.5],  # sigma = beta^-1/2 is decreasing in beta
            "q95": [q_mu[1], q_beta[1], q_beta[0] ** -0.5],
        },
        index=pd.Index(list(VARIABLES), name="quantity"),
    )
    object.__setattr__(result, "summary", summary)
    return result


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
    instance(prior, ConjugateNormalGammaPrior, "prior")
    kappa_n = prior.kappa0 + n
    return ConjugatePosterior(
        mu_n=(prior.kappa0 * prior.mu0 + n * xbar) / kappa_n,
        kappa_n=kappa_n,
        a_n=prior.a + 0.5 * n,
        b_n=prior.b + 0.5 * ss + prior.kappa0 * n * (xbar - prior.mu0) ** 2 / (2 * kappa_n),
    )
