"""A hierarchical Beta-Binomial model with a Metropolis-within-Gibbs sampler, and two planted bugs.

y_j deaths among n_j patients at hospital j = 1..12:

    y_j ~ Binomial(n_j, theta_j),  theta_j ~ Beta(mu kappa, (1 - mu) kappa),
    mu ~ Beta(1, 1) (the mean rate),  kappa ~ LogNormal(log 20, 1) (the prior "sample size").

The data are *simulated* (no such real data set is bundled here): n_j and y_j from a fixed seed with mu = 0.1 and
kappa = 40, so the truth is known.

The sampler (BDA3, sec. 5.3 and 11.1): theta integrates out in closed form, so (mu, kappa) | y has the
Beta-Binomial likelihood prod_j B(a + y_j, b + n_j - y_j) / B(a, b), with a = mu kappa, b = (1 - mu) kappa.
Each sweep makes a few random-walk Metropolis steps on u = (logit mu, log kappa) -- on that scale the target
density gains the Jacobian |d(mu, kappa) / du| = mu (1 - mu) kappa -- then draws theta_j | mu, kappa, y ~
Beta(a + y_j, b + n_j - y_j) exactly.  The step sizes adapt during warm-up only.

Planted bugs (each a one-line change, marked BUG):

* ``swapped`` -- theta_j's conjugate update with successes and failures swapped, Beta(a + n_j - y_j, b + y_j);
* ``no_jacobian`` -- the Metropolis target on (logit mu, log kappa) forgets the Jacobian of the log:
  kappa's posterior is then divided by kappa (pulled towards small kappa: too much heterogeneity).

`bayes-zoo check examples/beta_binomial.py`, `...:swapped`, `...:no_jacobian`.
"""
import dataclasses
import functools

import numpy as np
import pymc as pm
from scipy.special import betaln, expit
from bayes_zoo import Problem

MU_A, MU_B, LOG_KAPPA_MEAN, LOG_KAPPA_SD = 1.0, 1.0, np.log(20.0), 1.0
_rng = np.random.default_rng(1975)  # the data: fixed seed, mu = 0.1, kappa = 40
_n = _rng.integers(20, 300, size=12)
DATA = {"n": _n, "y": _rng.binomial(_n, _rng.beta(0.1 * 40, 0.9 * 40, size=12))}


def model(data):
    with pm.Model(coords={"hospital": np.arange(1, len(data["n"]) + 1)}) as m:
        mu = pm.Beta("mu", MU_A, MU_B)
        kappa = pm.LogNormal("kappa", LOG_KAPPA_MEAN, LOG_KAPPA_SD)
        theta = pm.Beta("theta", mu * kappa, (1 - mu) * kappa, dims="hospital")
        pm.Binomial("y", n=data["n"], p=theta, observed=data["y"], dims="hospital")
    return m


def log_posterior(mu, kappa, n, y):
    """log p(mu, kappa | y) up to a constant: the Beta-Binomial likelihood (theta integrated out) and the prior."""
    a, b = (mu * kappa)[:, None], ((1 - mu) * kappa)[:, None]
    loglik = (betaln(a + y, b + n - y) - betaln(a, b)).sum(axis=1)
    log_prior = ((MU_A - 1) * np.log(mu) + (MU_B - 1) * np.log1p(-mu)
                 - np.log(kappa) - (np.log(kappa) - LOG_KAPPA_MEAN) ** 2 / (2 * LOG_KAPPA_SD**2))
    return loglik + log_prior


def log_target(u, n, y):
    """The Metropolis target on u = (logit mu, log kappa), shape (chains, 2): the posterior times the Jacobian."""
    mu, kappa = expit(u[:, 0]), np.exp(u[:, 1])
    return log_posterior(mu, kappa, n, y) + np.log(mu) + np.log1p(-mu) + u[:, 1]  # log|d(mu, kappa) / du|


def log_target_no_jacobian(u, n, y):
    mu, kappa = expit(u[:, 0]), np.exp(u[:, 1])
    return log_posterior(mu, kappa, n, y) + np.log(mu) + np.log1p(-mu)  # BUG: log kappa's Jacobian, + u[:, 1], is gone


def draw_theta(rng, a, b, n, y):
    """theta_j | mu, kappa, y ~ Beta(a + successes, b + failures)."""
    return rng.beta(a + y, b + n - y)


def draw_theta_swapped(rng, a, b, n, y):
    return rng.beta(a + n - y, b + y)  # BUG: successes and failures swapped


def metropolis_within_gibbs(data, *, seed, draws, chains, warmup=1000, steps=5, target=log_target,
                            theta_given=draw_theta):
    rng, n, y = np.random.default_rng(seed), data["n"], data["y"]
    u = np.column_stack([np.full(chains, np.log((y.sum() + 1) / (n.sum() - y.sum() + 1))),
                         np.full(chains, LOG_KAPPA_MEAN)])
    lp, scale, window = target(u, n, y), np.array([0.3, 0.5]), []
    out = {"mu": np.empty((chains, draws)), "kappa": np.empty((chains, draws)),
           "theta": np.empty((chains, draws, len(n)))}
    for i in range(warmup + draws):
        for _ in range(steps):  # random-walk Metropolis on (logit mu, log kappa), theta integrated out
            proposal = u + scale * rng.standard_normal(u.shape)
            lp_new = target(proposal, n, y)
            accept = np.log(rng.uniform(size=chains)) < lp_new - lp
            u, lp = np.where(accept[:, None], proposal, u), np.where(accept, lp_new, lp)
        if i < warmup:  # step sizes from the spread of the last 100 sweeps (warm-up only)
            window.append(u)
            if len(window) == 100:
                scale, window = 2.4 / np.sqrt(2) * np.std(window, axis=(0, 1)) + 0.01, []
        mu, kappa = expit(u[:, 0]), np.exp(u[:, 1])
        theta = theta_given(rng, (mu * kappa)[:, None], ((1 - mu) * kappa)[:, None], n, y)
        if i >= warmup:
            out["mu"][:, i - warmup], out["kappa"][:, i - warmup], out["theta"][:, i - warmup] = mu, kappa, theta
    return out


problem = Problem(name="beta-binomial", data=DATA, model=model, sides={"mwg": metropolis_within_gibbs})
swapped = dataclasses.replace(problem, name="beta-binomial/swapped",
                              sides={"mwg": functools.partial(metropolis_within_gibbs, theta_given=draw_theta_swapped)})
no_jacobian = dataclasses.replace(problem, name="beta-binomial/no-jacobian",
                                  sides={"mwg": functools.partial(metropolis_within_gibbs, target=log_target_no_jacobian)})
