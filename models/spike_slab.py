"""Spike-and-slab linear regression with a continuous spike, and its exact posterior by enumeration.

Model (George & McCulloch 1993, conjugate form; Ročková & George 2014, EMVS)::

    y | w, sigma2       ~ Normal(X w, sigma2 I)                      y: (N,), X: (N, D)
    w_d | gamma_d, sigma2 ~ Normal(0, sigma2 * v[gamma_d])           v[0] = spike_var (small), v[1] = slab_var (large)
    gamma_d | theta     ~ Bernoulli(theta)                           d = 1..D, independent
    theta               ~ Beta(a0, b0)
    sigma2              ~ InverseGamma(nu / 2, nu * lam / 2)         PyMC's InverseGamma(alpha, beta), beta a scale

``spike_var`` and ``slab_var`` are **variances relative to sigma2** (the prior sd of a spike coefficient is
``sigma * sqrt(spike_var)``).  Notation map: Ročková & George (2014) write v0 (spike) and v1 (slab) as here;
George & McCulloch (1993) write the spike variance tau^2 and the slab variance c^2 tau^2, so
``spike_var = tau^2`` and ``slab_var = c^2 tau^2``; some texts index the slab by 0 and the spike by 1 — in
this module index 1 always means *included* (slab).

Exact reference (:func:`exact_posterior`): given gamma, (w, sigma2) is Normal–InverseGamma conjugate, so
p(y | gamma) is closed-form; theta integrates out of p(gamma) into a beta-binomial prior, so all 2^D models
can be enumerated for D <= 15.

Data convention (:func:`standardise`): each column of X is centred and scaled to unit sd, y is centred and
scaled to unit sd, and no intercept is modelled (it is the mean of y, taken as known).  Coefficients are then
in sd of y per sd of x.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from bayes_zoo.figures import legend_outside, styled
from bayes_zoo.models.checks import generator, instance, positive_scalar

__all__ = [
    "SpikeSlabPrior",
    "DEFAULT_PRIOR",
    "Standardisation",
    "standardise",
    "check_regression_data",
    "simulate",
    "draw_from_prior",
    "log_joint_marginalised",
    "pointwise_log_likelihood",
    "simulate_observations",
    "inclusion_probability",
    "build_pymc_model",
    "build_pymc_model_discrete",
    "SpikeSlabExact",
    "exact_posterior",
    "MAX_ENUMERATION_DIM",
    "spike_var_sweep",
    "relevance_threshold",
    "spike_var_for_threshold",
    "model_size_distribution",
    "plot_correlations",
    "plot_inclusion_and_size",
    "plot_spike_var_sweep",
    "inclusion_table",
    "plot_inclusion_vs_exact",
    "plot_coefficient_pair",
]

MAX_ENUMERATION_DIM = 15


@dataclass(frozen=True)
class SpikeSlabPrior:
    """Hyperparameters of the spike-and-slab prior.

    Parameters
    ----------
    spike_var : float
        v0, the spike's prior variance of w_d relative to sigma2; > 0 and < ``slab_var``.
    slab_var : float
        v1, the slab's prior variance of w_d relative to sigma2.
    a0, b0 : float
        Beta(a0, b0) prior on the inclusion probability theta; > 0.
    nu, lam : float
        sigma2 ~ InverseGamma(nu/2, nu*lam/2) (a scaled inverse chi-square with nu degrees of freedom and
        scale lam); > 0.

    Raises
    ------
    ValueError
        If a parameter is not finite and > 0, or ``spike_var >= slab_var``.
    """

    spike_var: float = 1e-3
    slab_var: float = 1.0
    a0: float = 1.0
    b0: float = 1.0
    nu: float = 1.0
    lam: float = 1.0

    def __post_init__(self):
        for name in ("spike_var", "slab_var", "a0", "b0", "nu", "lam"):
            object.__setattr__(self, name, positive_scalar(getattr(self, name), name))
        if self.spike_var >= self.slab_var:
            raise ValueError(f"spike_var: must be < slab_var, got {self.spike_var} >= {self.slab_var}")

    @property
    def variances(self) -> np.ndarray:
        """``[spike_var, slab_var]``, indexed by gamma_d."""
        return np.array([self.spike_var, self.slab_var])

    def describe(self) -> str:
        """The prior in one line, for reports."""
        return (
            f"w_d ~ N(0, sigma2 * v[gamma_d]) with v0 = spike_var = {self.spike_var:g}, v1 = slab_var = "
            f"{self.slab_var:g}; gamma_d ~ Bernoulli(theta), theta ~ Beta({self.a0:g}, {self.b0:g}); "
            f"sigma2 ~ InverseGamma({self.nu / 2:g}, {self.nu * self.lam / 2:g})"
        )


#: Defaults for standardised data: a slab of sd sigma (a coefficient as large as the noise sd is plausible),
#: a spike of sd 0.03 sigma, a uniform prior on theta, and a vague scaled-inverse-chi-square on sigma2.
DEFAULT_PRIOR = SpikeSlabPrior()


@dataclass(frozen=True)
class Standardisation:
    """How the raw data were standardised: ``X_std = (X - x_mean) / x_sd``, ``y_std = (y - y_mean) / y_sd``.

    Attributes: ``x_mean``, ``x_sd`` of shape ``(D,)``; ``y_mean``, ``y_sd`` floats (raw units).
    """

    x_mean: np.ndarray
    x_sd: np.ndarray
    y_mean: float
    y_sd: float

    def coefficients_to_raw(self, w) -> np.ndarray:
        """Raw-unit slopes (units of y per unit of x_d) from standardised coefficients ``w`` (shape ``(..., D)``)."""
        return np.asarray(w) * self.y_sd / self.x_sd


def check_regression_data(X, y):
    """Validate a design matrix and response.

    Returns
    -------
    X : numpy.ndarray, shape (N, D)
    y : numpy.ndarray, shape (N,)

    Raises
    ------
    ValueError
        If ``X`` is not 2-D or holds non-finite values, ``y`` is not 1-D or holds non-finite values, their
        lengths differ, either is empty, or a column of ``X`` is constant (naming the column).
    """
    try:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"X, y: expected numeric arrays ({err})") from None
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X: expected a non-empty 2-D array (N, D), got shape {X.shape}")
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"y: expected a non-empty 1-D array (N,), got shape {y.shape}")
    if X.shape[0] != y.size:
        raise ValueError(f"y: length {y.size} does not match X's {X.shape[0]} rows")
    if not np.all(np.isfinite(X)):
        raise ValueError("X: holds non-finite values (NaN or inf)")
    if not np.all(np.isfinite(y)):
        raise ValueError("y: holds non-finite values (NaN or inf)")
    constant = np.flatnonzero(np.ptp(X, axis=0) == 0)
    if constant.size:
        raise ValueError(f"X: column(s) {constant.tolist()} are constant (no information; drop them)")
    return X, y


def standardise(X, y):
    """Centre and scale each column of ``X`` and ``y`` to unit sd (ddof = 0).

    Returns
    -------
    X_std : numpy.ndarray, shape (N, D)
    y_std : numpy.ndarray, shape (N,)
    Standardisation

    Raises
    ------
    ValueError
        As :func:`check_regression_data`, and if ``y`` is constant.
    """
    X, y = check_regression_data(X, y)
    if np.ptp(y) == 0:
        raise ValueError("y: is constant")
    x_mean, x_sd = X.mean(axis=0), X.std(axis=0)
    y_mean, y_sd = float(y.mean()), float(y.std())
    return (X - x_mean) / x_sd, (y - y_mean) / y_sd, Standardisation(x_mean, x_sd, y_mean, y_sd)


def _check_prior(prior) -> SpikeSlabPrior:
    return instance(prior, SpikeSlabPrior, "prior")


def draw_from_prior(rng: np.random.Generator, X, prior: SpikeSlabPrior = DEFAULT_PRIOR, *, theta=None, sigma2=None):
    """Draw (theta, gamma, sigma2, w) from the prior (or with ``theta``/``sigma2`` fixed) and y given X.

    Parameters
    ----------
    rng : numpy.random.Generator
    X : array_like, shape (N, D)
    prior : SpikeSlabPrior
    theta, sigma2 : float, optional
        Fix these instead of drawing them.

    Returns
    -------
    dict
        ``theta`` (float), ``gamma`` (D,) int, ``sigma2`` (float), ``w`` (D,), ``y`` (N,).
    """
    generator(rng)
    prior = _check_prior(prior)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or not np.all(np.isfinite(X)):
        raise ValueError("X: expected a finite 2-D array (N, D)")
    n, d = X.shape
    theta = rng.beta(prior.a0, prior.b0) if theta is None else float(theta)
    sigma2 = (prior.nu * prior.lam / 2) / rng.standard_gamma(prior.nu / 2) if sigma2 is None else float(sigma2)
    gamma = (rng.random(d) < theta).astype(int)
    w = rng.standard_normal(d) * np.sqrt(sigma2 * prior.variances[gamma])
    y = X @ w + rng.standard_normal(n) * np.sqrt(sigma2)
    return {"theta": float(theta), "gamma": gamma, "sigma2": float(sigma2), "w": w, "y": y}


def simulate(rng: np.random.Generator, data, prior: SpikeSlabPrior = DEFAULT_PRIOR):
    """The generative model on the design ``data["X"]``: (theta, gamma, sigma2, w) from the prior, then y
    (:func:`draw_from_prior`).

    The signature every model module's ``simulate`` shares (simulation-based calibration,
    :attr:`bayes_zoo.problem.Problem.simulate`): a generator and a data template in, the truth and simulated
    data out.

    Parameters
    ----------
    rng : numpy.random.Generator
    data : mapping
        ``{"X": array (N, D)}``, optionally ``"feature_names"`` (D names; default ``x0``, ``x1`` ... as the
        PyMC builders name them); other keys are passed through.
    prior : SpikeSlabPrior

    Returns
    -------
    truth : dict
        The continuous parameters (gamma, discrete, is left out), labelled as ArviZ labels a result:
        ``"w[<name>]"`` for each feature, ``"sigma2"``, ``"theta"``.
    data : dict
        ``data`` with ``"y"`` (N,) simulated.

    Raises
    ------
    ValueError
        Naming ``rng``, ``data``, ``X``, ``feature_names`` or ``prior``.
    """
    if not isinstance(data, Mapping) or "X" not in data:
        raise ValueError(f"data: expected a mapping with key 'X', got {type(data).__name__}")
    sim = draw_from_prior(rng, data["X"], prior)
    names = _coords(np.asarray(data["X"]), data.get("feature_names"))["feature"]
    truth = {f"w[{name}]": float(v) for name, v in zip(names, sim["w"])}
    truth.update(sigma2=sim["sigma2"], theta=sim["theta"])
    return truth, {**data, "y": sim["y"]}


def inclusion_probability(w, theta, sigma2, prior: SpikeSlabPrior = DEFAULT_PRIOR) -> np.ndarray:
    """P(gamma_d = 1 | w_d, theta, sigma2), the slab's responsibility for each coefficient.

    ``theta N(w_d | 0, sigma2 v1) / (theta N(w_d | 0, sigma2 v1) + (1 - theta) N(w_d | 0, sigma2 v0))``,
    computed on the log scale.  Its posterior mean is the posterior inclusion probability P(gamma_d = 1 | y).

    Parameters
    ----------
    w : array_like, shape (..., D)
    theta, sigma2 : array_like, shape (...)  (broadcast against ``w`` without its last axis)
    prior : SpikeSlabPrior

    Returns
    -------
    numpy.ndarray, shape (..., D)
    """
    prior = _check_prior(prior)
    w = np.asarray(w, dtype=float)
    theta = np.asarray(theta, dtype=float)[..., None]
    sigma2 = np.asarray(sigma2, dtype=float)[..., None]
    log_slab = np.log(theta) + stats.norm.logpdf(w, 0.0, np.sqrt(sigma2 * prior.slab_var))
    log_spike = np.log1p(-theta) + stats.norm.logpdf(w, 0.0, np.sqrt(sigma2 * prior.spike_var))
    return special.expit(log_slab - log_spike)


def log_joint_marginalised(w, theta, sigma2, X, y, prior: SpikeSlabPrior = DEFAULT_PRIOR):
    """log p(y | w, sigma2) + sum_d log[mixture prior of w_d] + log p(theta) + log p(sigma2), gamma summed out.

    Hand-written; equals the log-density of :func:`build_pymc_model` without Jacobians
    (``model.compile_logp(jacobian=False)``) at the same point.  The deterministic ``inclusion_probability``
    has no density of its own.

    Parameters
    ----------
    w : array_like, shape (..., D)
    theta : array_like in (0, 1), shape (...)
    sigma2 : array_like > 0, shape (...)
        ``theta`` and ``sigma2`` broadcast against ``w`` without its last axis.
    X : array_like, shape (N, D)
    y : array_like, shape (N,)
    prior : SpikeSlabPrior

    Returns
    -------
    float if ``w`` is 1-D (one point), else numpy.ndarray of shape ``(...)``
    """
    X, y = np.asarray(X, float), np.asarray(y, float)
    prior = _check_prior(prior)
    w = np.asarray(w, float)
    theta, sigma2 = np.asarray(theta, float), np.asarray(sigma2, float)
    log_lik = pointwise_log_likelihood(w, sigma2, X, y).sum(axis=-1)
    th, s2 = theta[..., None], sigma2[..., None]
    log_prior_w = np.logaddexp(
        np.log1p(-th) + stats.norm.logpdf(w, 0.0, np.sqrt(s2 * prior.spike_var)),
        np.log(th) + stats.norm.logpdf(w, 0.0, np.sqrt(s2 * prior.slab_var)),
    ).sum(axis=-1)
    log_prior_theta = stats.beta.logpdf(theta, prior.a0, prior.b0)
    log_prior_sigma2 = stats.invgamma.logpdf(sigma2, prior.nu / 2, scale=prior.nu * prior.lam / 2)
    total = log_lik + log_prior_w + log_prior_theta + log_prior_sigma2
    return float(total) if w.ndim == 1 else total


def _check_regression_draws(w, sigma2, X):
    """``X`` (N, D), draws ``w`` (..., D) and ``sigma2`` (...) as float arrays; ValueError naming the argument."""
    X = np.asarray(X, float)
    if X.ndim != 2 or not np.all(np.isfinite(X)):
        raise ValueError(f"X: expected a finite (N, D) matrix, got shape {X.shape}")
    w, sigma2 = np.asarray(w, float), np.asarray(sigma2, float)
    if w.ndim < 1 or w.shape[-1] != X.shape[1] or not np.all(np.isfinite(w)):
        raise ValueError(f"w: expected finite draws of shape (..., {X.shape[1]}), got {w.shape}")
    if not np.all(np.isfinite(sigma2)) or np.any(sigma2 <= 0):
        raise ValueError("sigma2: must be finite and > 0 (a variance)")
    try:
        np.broadcast_shapes(sigma2.shape, w.shape[:-1])
    except ValueError:
        raise ValueError(f"sigma2: shape {sigma2.shape} does not broadcast against w's {w.shape[:-1]}") from None
    return X, w, sigma2


def pointwise_log_likelihood(w, sigma2, X, y) -> np.ndarray:
    """``log N(y_i | x_i^T w, sigma2)`` for every observation: the terms whose sum is the log likelihood.

    The log density of the observed ``y`` of :func:`build_pymc_model` (and of
    :func:`build_pymc_model_discrete`) at each ``y_i``; what ``pm.compute_log_likelihood`` returns for it.

    Parameters
    ----------
    w : array_like, shape (..., D)
    sigma2 : array_like > 0, shape (...)
        The noise **variance** (broadcast against ``w`` without its last axis).
    X : array_like, shape (N, D)
    y : array_like, shape (N,)

    Returns
    -------
    numpy.ndarray, shape (..., N)

    Raises
    ------
    ValueError
        Naming ``X``, ``y``, ``w`` or ``sigma2``: shapes that do not match, non-finite values, or
        ``sigma2 <= 0`` (a log density there would be NaN or infinite).
    """
    X, w, sigma2 = _check_regression_draws(w, sigma2, X)
    y = np.asarray(y, float)
    if y.shape != (X.shape[0],) or not np.all(np.isfinite(y)):
        raise ValueError(f"y: expected {X.shape[0]} finite values (one per row of X), got shape {y.shape}")
    sigma2 = sigma2[..., None]
    resid = y - w @ X.T
    return -0.5 * np.log(2 * np.pi * sigma2) - 0.5 * resid**2 / sigma2


def simulate_observations(rng: np.random.Generator, w, sigma2, X) -> np.ndarray:
    """New responses ``y_i ~ Normal(x_i^T w, sigma2)`` at each point: ``X w + sqrt(sigma2) z``, ``z`` standard
    normal drawn in C order over the output.

    Parameters
    ----------
    rng : numpy.random.Generator
    w : array_like, shape (..., D)
    sigma2 : array_like > 0, shape (...)
    X : array_like, shape (N, D)

    Returns
    -------
    numpy.ndarray, shape (..., N)

    Raises
    ------
    ValueError
        Naming ``rng``, ``X``, ``w`` or ``sigma2`` (as :func:`pointwise_log_likelihood`).
    """
    generator(rng)
    X, w, sigma2 = _check_regression_draws(w, sigma2, X)
    sigma2 = sigma2[..., None]
    mean = w @ X.T
    return mean + np.sqrt(sigma2) * rng.standard_normal(mean.shape)


def _coords(X, feature_names):
    d = X.shape[1]
    names = list(feature_names) if feature_names is not None else [f"x{j}" for j in range(d)]
    if len(names) != d:
        raise ValueError(f"feature_names: {len(names)} names for {d} columns")
    return {"feature": names, "obs": np.arange(X.shape[0])}


def build_pymc_model(X, y, prior: SpikeSlabPrior = DEFAULT_PRIOR, feature_names=None):
    """The model in PyMC with gamma summed out: each w_d has a two-component Normal mixture prior.

    Suited to NUTS (all free variables continuous).  The deterministic ``inclusion_probability`` (dims
    ``feature``) is :func:`inclusion_probability` per draw.

    Parameters
    ----------
    X : array_like, shape (N, D)
    y : array_like, shape (N,)
    prior : SpikeSlabPrior
    feature_names : sequence of str, optional
        Coordinate values of ``feature`` (default ``x0, x1, ...``).

    Returns
    -------
    pymc.Model
        Free ``w`` (dims ``feature``), ``theta``, ``sigma2``; deterministic ``inclusion_probability``;
        observed ``y`` (dims ``obs``).
    """
    import pymc as pm
    import pytensor.tensor as pt

    X, y = check_regression_data(X, y)
    prior = _check_prior(prior)
    # float64 constants: PyTensor makes a Python float that float32 holds exactly (0.5, 1.0) a float32 constant,
    # and PyMC's logp then folds alpha log(beta) - gammaln(alpha) in float32 (an error of ~1.6e-8 in logp).
    f64 = np.float64
    with pm.Model(coords=_coords(X, feature_names)) as model:
        theta = pm.Beta("theta", alpha=f64(prior.a0), beta=f64(prior.b0))
        sigma2 = pm.InverseGamma("sigma2", alpha=f64(prior.nu / 2), beta=f64(prior.nu * prior.lam / 2))
        sds = pt.sqrt(sigma2 * pt.as_tensor(prior.variances))  # [2]: spike, slab
        w = pm.NormalMixture("w", w=pt.stack([1 - theta, theta]), mu=pt.zeros(2), sigma=sds, dims="feature")
        _pymc_inclusion_probability(w, theta, sds)
        pm.Normal("y", mu=pt.dot(X, w), sigma=pt.sqrt(sigma2), observed=y, dims="obs")
    return model


def _pymc_inclusion_probability(w, theta, sds):
    """The deterministic ``inclusion_probability`` (dims ``feature``): P(gamma_d = 1 | w, theta, sigma2), with
    ``sds`` the [spike, slab] prior sds of w_d given sigma2.  Call inside a model context."""
    import pymc as pm
    import pytensor.tensor as pt

    log_slab = pt.log(theta) + pm.logp(pm.Normal.dist(0.0, sds[1]), w)
    log_spike = pt.log1p(-theta) + pm.logp(pm.Normal.dist(0.0, sds[0]), w)
    return pm.Deterministic("inclusion_probability", pm.math.sigmoid(log_slab - log_spike), dims="feature")


def build_pymc_model_discrete(X, y, prior: SpikeSlabPrior = DEFAULT_PRIOR, feature_names=None):
    """The model in PyMC with gamma as Bernoulli variables (PyMC samples it with a compound step).

    Returns
    -------
    pymc.Model
        Free ``gamma`` (int, dims ``feature``), ``w`` (dims ``feature``), ``theta``, ``sigma2``; deterministic
        ``inclusion_probability`` (as in :func:`build_pymc_model`: P(gamma_d = 1 | w, theta, sigma2), the
        Rao–Blackwellised estimate, not the sampled gamma); observed ``y``.
    """
    import pymc as pm
    import pytensor.tensor as pt

    X, y = check_regression_data(X, y)
    prior = _check_prior(prior)
    # float64 constants: PyTensor makes a Python float that float32 holds exactly (0.5, 1.0) a float32 constant,
    # and PyMC's logp then folds alpha log(beta) - gammaln(alpha) in float32 (an error of ~1.6e-8 in logp).
    f64 = np.float64
    with pm.Model(coords=_coords(X, feature_names)) as model:
        theta = pm.Beta("theta", alpha=f64(prior.a0), beta=f64(prior.b0))
        sigma2 = pm.InverseGamma("sigma2", alpha=f64(prior.nu / 2), beta=f64(prior.nu * prior.lam / 2))
        gamma = pm.Bernoulli("gamma", p=theta, dims="feature")
        variance = pt.switch(pt.eq(gamma, 1), prior.slab_var, prior.spike_var)
        w = pm.Normal("w", mu=0.0, sigma=pt.sqrt(sigma2 * variance), dims="feature")
        _pymc_inclusion_probability(w, theta, pt.sqrt(sigma2 * pt.as_tensor(prior.variances)))
        pm.Normal("y", mu=pt.dot(X, w), sigma=pt.sqrt(sigma2), observed=y, dims="obs")
    return model


# --------------------------------------------------------------------------------------------------------
# Exact posterior by enumeration of all 2^D models
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpikeSlabExact:
    """Exact posterior over all 2^D models (see :func:`exact_posterior`).

    Attributes
    ----------
    models : numpy.ndarray, shape (2^D, D), int
        Every gamma, one per row.
    log_marginal_likelihood : numpy.ndarray, shape (2^D,)
        log p(y | gamma), w and sigma2 integrated out.
    log_model_prior : numpy.ndarray, shape (2^D,)
        log p(gamma) = log B(a0 + k, b0 + D - k) - log B(a0, b0), k = sum(gamma).
    posterior_probability : numpy.ndarray, shape (2^D,)
        p(gamma | y).
    inclusion_probability : numpy.ndarray, shape (D,)
        P(gamma_d = 1 | y).
    w_mean : numpy.ndarray, shape (D,)
        E[w | y].
    sigma2_shape : float
        alpha_n = nu/2 + N/2: sigma2 | gamma, y ~ InverseGamma(sigma2_shape, sigma2_scale[gamma]).
    sigma2_scale : numpy.ndarray, shape (2^D,)
        beta_n per model, nu lam / 2 + (|y - X m|^2 + m^T V^-1 m) / 2.
    summary : pandas.DataFrame
        Index ``w[name]``, ``theta``, ``sigma2``, ``inclusion_probability[name]``; columns ``mean``, ``sd``,
        ``q05``, ``q95`` (inclusion probabilities: ``mean`` only, the rest ``inf``, i.e. not compared).
    feature_names : list of str
    """

    models: np.ndarray
    log_marginal_likelihood: np.ndarray
    log_model_prior: np.ndarray
    posterior_probability: np.ndarray
    inclusion_probability: np.ndarray
    w_mean: np.ndarray
    sigma2_shape: float
    sigma2_scale: np.ndarray
    summary: pd.DataFrame
    feature_names: list

    @property
    def method(self) -> str:
        """How the reference was computed, one sentence for reports."""
        return (f"enumeration of all {len(self.models):,} models (w and sigma2 integrated out in closed form, theta "
                "giving a beta-binomial model prior); w and sigma2 quantiles by Brent's method on the mixture CDF.  "
                "Its inclusion probabilities are compared on their mean only")

    def sigma2_cdf(self, t: float) -> float:
        """P(sigma2 <= t | y) = sum over models of p(gamma | y) InverseGamma_CDF(t; alpha_n, beta_n(gamma))."""
        return float(self.posterior_probability @ stats.invgamma.cdf(t, self.sigma2_shape, scale=self.sigma2_scale))

    def top_models(self, k: int = 5) -> pd.DataFrame:
        """The ``k`` most probable models: included features, posterior probability, log marginal likelihood."""
        order = np.argsort(-self.posterior_probability)[:k]
        return pd.DataFrame(
            {
                "included": [", ".join(n for n, g in zip(self.feature_names, self.models[i]) if g) or "(none)"
                             for i in order],
                "posterior_probability": self.posterior_probability[order],
                "log_marginal_likelihood": self.log_marginal_likelihood[order],
            }
        )


def _mixture_quantile(cdf, p, lo, hi):
    while cdf(lo) > p:
        lo -= hi - lo
    while cdf(hi) < p:
        hi += hi - lo
    return optimize.brentq(lambda t: cdf(t) - p, lo, hi, xtol=1e-13, rtol=1e-13)


def exact_posterior(X, y, prior: SpikeSlabPrior = DEFAULT_PRIOR, feature_names=None) -> SpikeSlabExact:
    """Exact posterior of the spike-and-slab model by enumerating all 2^D inclusion patterns.

    For each gamma, with V = diag(v[gamma]), A = X^T X + V^-1, m = A^-1 X^T y, alpha = nu/2, beta = nu lam/2,
    alpha_n = alpha + N/2 and beta_n = beta + (y^T y - m^T A m) / 2 = beta + (|y - X m|^2 + m^T V^-1 m) / 2
(Normal–InverseGamma conjugacy)::

        log p(y | gamma) = -N/2 log(2 pi) - 1/2 log|V| - 1/2 log|A| + alpha log beta - alpha_n log beta_n
                           + log Gamma(alpha_n) - log Gamma(alpha)

    and w | gamma, y is multivariate Student-t with 2 alpha_n degrees of freedom, location m and scale matrix
    (beta_n / alpha_n) A^-1; sigma2 | gamma, y ~ InverseGamma(alpha_n, beta_n); theta | gamma ~
    Beta(a0 + k, b0 + D - k).  Marginals are finite mixtures over gamma of these laws; quantiles solve the
    mixture CDF by Brent's method.  Cholesky factors throughout; O(2^D D^3 + N D^2).

    Parameters
    ----------
    X : array_like, shape (N, D), D <= 15
    y : array_like, shape (N,)
    prior : SpikeSlabPrior
    feature_names : sequence of str, optional

    Returns
    -------
    SpikeSlabExact

    Raises
    ------
    ValueError
        For bad data or prior, or D > 15.
    """
    X, y = check_regression_data(X, y)
    prior = _check_prior(prior)
    n, d = X.shape
    if d > MAX_ENUMERATION_DIM:
        raise ValueError(f"X: D = {d} columns; exact enumeration is limited to D <= {MAX_ENUMERATION_DIM}")
    names = _coords(X, feature_names)["feature"]
    models = np.array(list(itertools.product((0, 1), repeat=d)), dtype=int)  # [K, D]
    variances = prior.variances[models]  # [K, D]
    xtx, xty = X.T @ X, X.T @ y  # [D, D], [D]

    # Intermediate matrices, one per model
    A = xtx[None] + np.einsum("kd,de->kde", 1.0 / variances, np.eye(d))  # [K, D, D]
    L = np.linalg.cholesky(A)  # [K, D, D]
    half_logdet_A = np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)  # [K]
    m = np.linalg.solve(A, np.broadcast_to(xty, (len(models), d))[..., None])[..., 0]  # [K, D]
    alpha, beta = prior.nu / 2, prior.nu * prior.lam / 2
    alpha_n = alpha + n / 2
    resid = y[None, :] - m @ X.T  # [K, N]
    # y^T y - m^T A m, in the residual form that keeps its precision: |y - X m|^2 + m^T V^-1 m
    beta_n = beta + 0.5 * (np.sum(resid**2, axis=1) + np.sum(m**2 / variances, axis=1))  # [K]

    # log p(y | gamma): log-determinant terms, then the quadratic (residual) term through beta_n
    log_det_term = -0.5 * np.log(variances).sum(axis=1) - half_logdet_A
    log_ml = (-0.5 * n * np.log(2 * np.pi) + log_det_term + alpha * np.log(beta) - alpha_n * np.log(beta_n)
              + special.gammaln(alpha_n) - special.gammaln(alpha))
    k = models.sum(axis=1)
    log_prior = special.betaln(prior.a0 + k, prior.b0 + d - k) - special.betaln(prior.a0, prior.b0)
    log_post = log_ml + log_prior
    post = np.exp(log_post - special.logsumexp(log_post))  # [K]

    inclusion = post @ models  # [D]
    w_mean = post @ m  # [D]
    a_inv_diag = np.diagonal(np.linalg.inv(A), axis1=1, axis2=2)  # [K, D]; D <= 15, only its diagonal is used
    df = 2 * alpha_n
    scale = np.sqrt(beta_n[:, None] / alpha_n * a_inv_diag)  # [K, D]
    var_w_given = (beta_n[:, None] / (alpha_n - 1.0)) * a_inv_diag if alpha_n > 1 else np.full_like(scale, np.inf)
    w_sd = np.sqrt(post @ (var_w_given + m**2) - w_mean**2)

    rows = {}
    for j, name in enumerate(names):
        def cdf_w(t, j=j):
            return float(post @ stats.t.cdf((t - m[:, j]) / scale[:, j], df))
        q = [_mixture_quantile(cdf_w, p, w_mean[j] - 3 * w_sd[j], w_mean[j] + 3 * w_sd[j]) for p in (0.05, 0.95)]
        rows[f"w[{name}]"] = (w_mean[j], w_sd[j], q[0], q[1])

    # sigma2: mixture of InverseGamma(alpha_n, beta_n)
    mean_s2 = post @ (beta_n / (alpha_n - 1)) if alpha_n > 1 else np.inf
    ex2_s2 = post @ (beta_n**2 / ((alpha_n - 1) * (alpha_n - 2))) if alpha_n > 2 else np.inf
    sd_s2 = np.sqrt(ex2_s2 - mean_s2**2) if np.isfinite(ex2_s2) else np.inf

    def cdf_s2(t):
        return float(post @ stats.invgamma.cdf(t, alpha_n, scale=beta_n))  # as SpikeSlabExact.sigma2_cdf

    centre = float(post @ (beta_n / (alpha_n + 1)))  # mixture of modes: a safe bracket start
    q_s2 = [_mixture_quantile(cdf_s2, p, 0.5 * centre, 2 * centre) for p in (0.05, 0.95)]
    rows["sigma2"] = (mean_s2, sd_s2, q_s2[0], q_s2[1])

    # theta: mixture of Beta(a0 + k, b0 + D - k)
    a_k, b_k = prior.a0 + k, prior.b0 + d - k
    mean_t = post @ (a_k / (a_k + b_k))
    ex2_t = post @ (a_k * (a_k + 1) / ((a_k + b_k) * (a_k + b_k + 1)))

    def cdf_t(t):
        return float(post @ stats.beta.cdf(t, a_k, b_k))

    q_t = [optimize.brentq(lambda t: cdf_t(t) - p, 0.0, 1.0, xtol=1e-14) for p in (0.05, 0.95)]
    rows["theta"] = (mean_t, np.sqrt(ex2_t - mean_t**2), q_t[0], q_t[1])
    for j, name in enumerate(names):
        rows[f"inclusion_probability[{name}]"] = (inclusion[j], np.inf, np.inf, np.inf)

    summary = pd.DataFrame.from_dict(rows, orient="index", columns=["mean", "sd", "q05", "q95"])
    summary.index.name = "quantity"
    return SpikeSlabExact(models, log_ml, log_prior, post, inclusion, w_mean, float(alpha_n), beta_n, summary, names)


def spike_var_sweep(X, y, spike_vars, prior: SpikeSlabPrior = DEFAULT_PRIOR, feature_names=None) -> pd.DataFrame:
    """Exact posterior inclusion probabilities as the spike variance v0 varies, the rest of ``prior`` fixed.

    The answer of a spike-and-slab analysis depends on v0: it sets the size below which a coefficient counts
    as "zero" (the spike and slab densities cross at ``|w| = sigma * sqrt(log(v1/v0) / (1/v0 - 1/v1))``,
    George & McCulloch 1993 sec. 2).  Each row is one :func:`exact_posterior`.

    Parameters
    ----------
    X : array_like, shape (N, D), D <= 15
    y : array_like, shape (N,)
    spike_vars : sequence of float, each in (0, prior.slab_var)
    prior : SpikeSlabPrior
        Everything but ``spike_var`` is kept.
    feature_names : sequence of str, optional

    Returns
    -------
    pandas.DataFrame
        Index ``spike_var``; one column per feature (P(gamma_d = 1 | y)), then ``threshold`` (the crossing
        point above, in sd of the noise), ``expected_size`` (E[sum gamma | y]), ``top_model``,
        ``top_probability`` and ``sigma2_mean`` (E[sigma2 | y]).

    Raises
    ------
    ValueError
        If ``spike_vars`` is empty or a value is not in (0, slab_var) (naming ``spike_var``), and as
        :func:`exact_posterior`.
    """
    import dataclasses

    prior = _check_prior(prior)
    spike_vars = [float(v) for v in np.atleast_1d(np.asarray(spike_vars, dtype=float))]
    if not spike_vars:
        raise ValueError("spike_vars: empty")
    rows = []
    for v0 in spike_vars:
        exact = exact_posterior(X, y, dataclasses.replace(prior, spike_var=v0), feature_names)
        top = exact.top_models(1).iloc[0]
        v1 = prior.slab_var
        rows.append({
            "spike_var": v0,
            **dict(zip(exact.feature_names, exact.inclusion_probability)),
            "threshold": np.sqrt(np.log(v1 / v0) / (1 / v0 - 1 / v1)),
            "expected_size": float(exact.inclusion_probability.sum()),
            "top_model": top["included"],
            "top_probability": float(top["posterior_probability"]),
            "sigma2_mean": float(exact.summary.loc["sigma2", "mean"]),
        })
    return pd.DataFrame(rows).set_index("spike_var")


# --------------------------------------------------------------------------------------------------------
# Teaching helpers (notebook 02): the relevance threshold, model sizes, and figures in the house style
# --------------------------------------------------------------------------------------------------------


def _spike_slab_pair(spike_var, slab_var):
    v1 = positive_scalar(slab_var, "slab_var")
    v0 = np.asarray(spike_var, dtype=float)
    if v0.size == 0 or not np.all(np.isfinite(v0)) or np.any(v0 <= 0) or np.any(v0 >= v1):
        raise ValueError(f"spike_var: expected values in (0, slab_var = {v1:g}), got {spike_var!r}")
    return v0, v1


def relevance_threshold(spike_var, slab_var=1.0):
    """Where the spike and slab densities of a coefficient cross, in units of the noise sd sigma.

    ``N(w | 0, sigma2 v0) = N(w | 0, sigma2 v1)`` at ``|w| = sigma * delta`` with
    ``delta = sqrt(log(v1 / v0) / (1/v0 - 1/v1))`` (George & McCulloch 1993, sec. 2): with theta = 1/2 a
    coefficient smaller than that is more likely spike than slab.  On standardised data ``delta`` is in sd of
    y per sd of x_d, per unit of sigma.

    Parameters
    ----------
    spike_var : float or array_like
        v0, each in (0, ``slab_var``).
    slab_var : float > 0
        v1.

    Returns
    -------
    float or numpy.ndarray
        ``delta`` (dimensionless: a multiple of sigma), the shape of ``spike_var``; it rises from 0 to
        ``sqrt(slab_var)`` as v0 rises from 0 to v1.

    Raises
    ------
    ValueError
        Naming ``spike_var`` if a value is not in (0, slab_var), or ``slab_var`` if it is not finite and > 0.
    """
    v0, v1 = _spike_slab_pair(spike_var, slab_var)
    delta = np.sqrt(np.log(v1 / v0) / (1.0 / v0 - 1.0 / v1))
    return float(delta) if delta.ndim == 0 else delta


def spike_var_for_threshold(threshold: float, slab_var: float = 1.0) -> float:
    """The spike variance v0 whose :func:`relevance_threshold` is ``threshold`` (the inverse function).

    Use it to set v0 from a *practical* question: "below what size, in units of sigma, is an effect
    negligible?".  Solved by Brent's method on log v0 (the threshold increases with v0).

    Parameters
    ----------
    threshold : float
        delta, a multiple of the noise sd sigma, in (0, sqrt(slab_var)).
    slab_var : float > 0
        v1.

    Returns
    -------
    float
        v0 in (0, slab_var), to a relative 1e-12.

    Raises
    ------
    ValueError
        Naming ``threshold`` if it is not in (0, sqrt(slab_var)), or ``slab_var``.
    """
    v1 = positive_scalar(slab_var, "slab_var")
    t = float(threshold)
    if not np.isfinite(t) or not 0 < t < np.sqrt(v1):
        raise ValueError(f"threshold: expected a value in (0, sqrt(slab_var) = {np.sqrt(v1):.4g}), got {threshold!r}")
    lo, hi = np.log(v1) - 80.0, np.log(v1) - 1e-12
    if relevance_threshold(np.exp(lo), v1) >= t:
        raise ValueError(f"threshold: {t:g} needs a spike variance below {np.exp(lo):.3g}")
    log_v0 = optimize.brentq(lambda s: relevance_threshold(np.exp(s), v1) - t, lo, hi, xtol=1e-14, rtol=1e-13)
    return float(np.exp(log_v0))


def model_size_distribution(exact: SpikeSlabExact) -> pd.DataFrame:
    """Prior and posterior probability of each model size k = sum_d gamma_d.

    Parameters
    ----------
    exact : SpikeSlabExact

    Returns
    -------
    pandas.DataFrame
        Index ``size`` 0..D; columns ``prior`` (the beta-binomial p(k)) and ``posterior`` (p(k | y)), each
        summing to 1.

    Raises
    ------
    ValueError
        If ``exact`` is not a SpikeSlabExact.
    """
    exact = instance(exact, SpikeSlabExact, "exact")
    size = exact.models.sum(axis=1)
    d = exact.models.shape[1]
    table = pd.DataFrame({
        "prior": np.bincount(size, weights=np.exp(exact.log_model_prior), minlength=d + 1),
        "posterior": np.bincount(size, weights=exact.posterior_probability, minlength=d + 1),
    })
    table.index.name = "size"
    return table


@styled
def plot_correlations(X, feature_names=None, *, annotate_above: float = 0.6):
    """Heat map of the correlations between the columns of ``X``, the strong ones printed.

    Parameters
    ----------
    X : array_like, shape (N, D)
    feature_names : sequence of str, optional
    annotate_above : float in [0, 1]
        Off-diagonal correlations with ``|r|`` at least this are written in their cells.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        As :func:`check_regression_data` for ``X``, and naming ``feature_names``.
    """
    import matplotlib.pyplot as plt

    X, _ = check_regression_data(X, np.zeros(np.shape(X)[0]))
    names = _coords(X, feature_names)["feature"]
    d = X.shape[1]
    corr = np.corrcoef(X.T)
    fig, ax = plt.subplots(figsize=(4.8, 4.0), layout="constrained")
    im = ax.imshow(corr, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(d), names, rotation=90)
    ax.set_yticks(range(d), names)
    for i in range(d):
        for j in range(d):
            if i != j and abs(corr[i, j]) >= annotate_above:
                ax.text(j, i, f"{corr[i, j]:.2f}", ha="center", va="center", fontsize=7)
    ax.set_xlabel("predictor")
    ax.set_ylabel("predictor")
    fig.colorbar(im, ax=ax, shrink=0.8, label="correlation r (dimensionless)")
    ax.set_title(f"correlations of the predictors (|r| >= {annotate_above:g} printed)")
    return fig


@styled
def plot_inclusion_and_size(exact: SpikeSlabExact):
    """Two panels: the exact inclusion probabilities, and the prior and posterior of the model size.

    Parameters
    ----------
    exact : SpikeSlabExact

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    exact = instance(exact, SpikeSlabExact, "exact")
    sizes = model_size_distribution(exact)
    names = list(exact.feature_names)
    k = sizes.index.to_numpy()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), layout="constrained")
    axes[0].barh(names[::-1], exact.inclusion_probability[::-1], color="C0")
    axes[0].axvline(0.5, color="gray", ls=":", lw=1)
    axes[0].set_xlim(0, 1)
    axes[0].set_xlabel(r"inclusion probability $P(\gamma_d = 1 \mid y)$")
    axes[0].set_ylabel("predictor")
    axes[0].set_title("exact inclusion probabilities")
    axes[1].bar(k - 0.2, sizes["prior"], width=0.4, color="C7", label="prior")
    axes[1].bar(k + 0.2, sizes["posterior"], width=0.4, color="C0", label="posterior")
    axes[1].set_xticks(k)
    axes[1].set_xlabel(r"model size $k = \sum_d \gamma_d$ (predictors included)")
    axes[1].set_ylabel("probability")
    axes[1].set_title("model size")
    legend_outside(axes[1])
    return fig


@styled
def plot_spike_var_sweep(sweep: pd.DataFrame, *, spike_var: float | None = None):
    """Three panels against the spike variance v0 (log scale): each feature's exact inclusion probability, the
    relevance threshold delta / sigma, and the expected model size.

    Parameters
    ----------
    sweep : pandas.DataFrame
        As :func:`spike_var_sweep` returns it.
    spike_var : float, optional
        A v0 to mark with a dotted line (the default prior's, say).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If ``sweep`` lacks the columns ``threshold`` and ``expected_size``.
    """
    import matplotlib.pyplot as plt

    if not isinstance(sweep, pd.DataFrame) or not {"threshold", "expected_size"} <= set(sweep.columns):
        raise ValueError("sweep: expected spike_var_sweep's table (columns threshold, expected_size, ...)")
    v0 = sweep.index.to_numpy(dtype=float)
    features = list(sweep.columns[: list(sweep.columns).index("threshold")])
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), layout="constrained",
                             gridspec_kw={"width_ratios": [1.5, 1, 1]})
    for i, f in enumerate(features):
        axes[0].plot(v0, sweep[f], "o-", ms=3, color=f"C{i % 10}", label=f)
    axes[0].set_ylabel(r"inclusion probability $P(\gamma_d = 1 \mid y)$")
    axes[0].set_title("inclusion probabilities")
    legend_outside(axes[0], title="predictor")
    axes[1].plot(v0, sweep["threshold"], "o-", ms=3, color="black")
    axes[1].set_ylabel(r"threshold $\delta / \sigma$ (multiples of $\sigma$)")
    axes[1].set_title("where spike and slab cross")
    axes[2].plot(v0, sweep["expected_size"], "s-", ms=3, color="C3")
    axes[2].set_ylabel(r"$E[\sum_d \gamma_d \mid y]$ (predictors)")
    axes[2].set_title("expected model size")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel(r"spike variance $v_0$ (relative to $\sigma^2$)")
        if spike_var is not None:
            ax.axvline(spike_var, color="gray", ls=":", lw=1)
    return fig


def inclusion_table(cv, exact: SpikeSlabExact, names=("gibbs", "nuts")) -> pd.DataFrame:
    """Each sampler's estimate of the inclusion probabilities, its MCSE and z-score against the exact values.

    Parameters
    ----------
    cv : bayes_zoo.inference.crossval.CrossValidation
        From ``compare`` over results that include ``inclusion_probability``.
    exact : SpikeSlabExact
    names : sequence of str
        Results of ``cv`` to tabulate.

    Returns
    -------
    pandas.DataFrame
        Index ``feature``; columns ``exact``, then for each name ``name``, ``name mcse`` and ``name z``
        (``(estimate - exact) / mcse``; infinite where the MCSE is 0).

    Raises
    ------
    ValueError
        Naming ``names`` if one is not a result of ``cv``.
    """
    exact = instance(exact, SpikeSlabExact, "exact")
    features = list(exact.feature_names)
    table = pd.DataFrame({"exact": exact.inclusion_probability}, index=pd.Index(features, name="feature"))
    for name in names:
        if name not in cv.estimates:
            raise ValueError(f"names: {name!r} is not a result of cv ({list(cv.estimates)})")
        est = cv.estimates[name].xs("mean", level="statistic").loc[[f"inclusion_probability[{f}]" for f in features]]
        table[name] = est["estimate"].to_numpy()
        table[f"{name} mcse"] = est["mcse"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            table[f"{name} z"] = (table[name] - table["exact"]) / table[f"{name} mcse"]
    return table


@styled
def plot_inclusion_vs_exact(table: pd.DataFrame, names=("gibbs", "nuts")):
    """Each sampler's inclusion probabilities with ±2 MCSE bars against the exact values (left), and their
    differences from exact (right).

    Parameters
    ----------
    table : pandas.DataFrame
        As :func:`inclusion_table` returns it.
    names : sequence of str
        Its samplers to draw.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    features = list(table.index)
    d = len(features)
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.6), sharey=True, layout="constrained")
    ypos = np.arange(d)[::-1]
    offsets = np.linspace(-0.15, 0.15, len(names)) if len(names) > 1 else [0.0]
    for i, (off, name) in enumerate(zip(offsets, names)):
        axes[0].errorbar(table[name], ypos + off, xerr=2 * table[f"{name} mcse"], fmt="o", ms=4, color=f"C{i}",
                         label=f"{name} ±2 MCSE")
        axes[1].errorbar(table[name] - table["exact"], ypos + off, xerr=2 * table[f"{name} mcse"], fmt="o", ms=4,
                         color=f"C{i}")
    axes[0].scatter(table["exact"], ypos, marker="|", s=250, color="black", label="exact", zorder=3)
    axes[0].set_yticks(ypos, features)
    axes[0].set_xlim(-0.02, 1.02)
    axes[0].set_xlabel(r"inclusion probability $P(\gamma_d = 1 \mid y)$")
    axes[0].set_ylabel("predictor")
    axes[1].axvline(0, color="black", lw=1)
    axes[1].set_xlabel("estimate - exact (probability, ±2 MCSE)")
    axes[1].set_ylabel("predictor")
    legend_outside(fig)
    return fig


@styled
def plot_coefficient_pair(results, a: str, b: str):
    """Scatter of the draws of ``w[a]`` against ``w[b]``, one panel per result, divergent NUTS transitions
    (``sample_stats.diverging``) in red.

    Parameters
    ----------
    results : mapping of str to arviz.InferenceData
        Each with a posterior ``w`` over the coordinate ``feature``.
    a, b : str
        Feature names.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If ``results`` is empty, or naming ``a`` or ``b`` if a result has no such feature.
    """
    import matplotlib.pyplot as plt

    if not results:
        raise ValueError("results: empty")
    fig, axes = plt.subplots(1, len(results), figsize=(4.6 * len(results) + 1.2, 3.6), sharex=True, sharey=True,
                             squeeze=False, layout="constrained")
    for i, (ax, (name, idata)) in enumerate(zip(axes[0], results.items())):
        w = idata.posterior["w"]
        for label in (a, b):
            if label not in list(w["feature"].values):
                raise ValueError(f"{'a' if label == a else 'b'}: {label!r} is not a feature of results[{name!r}]")
        xa, xb = w.sel(feature=a).values.ravel(), w.sel(feature=b).values.ravel()
        ax.scatter(xa, xb, s=2, alpha=0.25, color=f"C{i}", label=f"{name} draws")
        if "sample_stats" in idata.groups() and "diverging" in idata.sample_stats:
            div = idata.sample_stats["diverging"].values.ravel().astype(bool)
            if div.any():
                ax.scatter(xa[div], xb[div], s=12, color="red", label="divergent")
        ax.set_xlabel(f"w[{a}] (sd of y per sd of {a})")
        ax.set_ylabel(f"w[{b}] (sd of y per sd of {b})")
        ax.set_title(f"{name}: w[{a}] against w[{b}]")
    legend_outside(fig, markerscale=4)
    return fig
