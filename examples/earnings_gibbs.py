"""A handwritten Gibbs sampler judged against gold-standard draws: log earnings on height (posteriordb).

posteriordb's ``earnings-logearn_height`` (Gelman & Hill 2007, ch. 4: 1,192 adults' earnings in dollars and
heights in inches) is the Stan model

    log(earn_i) ~ Normal(beta_1 + beta_2 height_i, sigma),  beta and sigma > 0 with no prior statement (flat),

and posteriordb holds 10,000 reference draws of (beta, sigma) from a long, checked Stan run.  With flat priors the
full conditionals are conjugate (p(sigma) constant is p(sigma^2) proportional to 1 / sigma):

    beta | sigma^2, y  ~ Normal((X'X)^-1 X'y, sigma^2 (X'X)^-1)
    sigma^2 | beta, y  ~ InverseGamma((n - 1) / 2, RSS(beta) / 2).

Judge it with one command, against the reference draws instead of NUTS (the data must be the posterior's own:
``bayes_zoo.bank.load_data`` gives them, Stan's data plus its transformed data, ``log_earn``):

    bayes-zoo check examples/earnings_gibbs.py --reference earnings-logearn_height
    bayes-zoo check examples/earnings_gibbs.py:rss_not_halved --reference earnings-logearn_height   # disagree

The flat prior is improper, so there is nothing for SBC to simulate from: ``check`` says so and the verdict is the
cross-validation's.  The planted bug (``rss_not_halved``) draws sigma^2 with rate RSS instead of RSS / 2.
"""
import dataclasses

import numpy as np
import pymc as pm
from bayes_zoo import Problem
from bayes_zoo.bank import load_data

DATA = dict(load_data("earnings-logearn_height"))  # earn, height, male, N and log_earn = log(earn)


def model(data):
    with pm.Model(coords={"term": ["intercept", "height"]}) as m:
        beta = pm.Flat("beta", dims="term")
        sigma = pm.HalfFlat("sigma")
        pm.Normal("log_earn", mu=beta[0] + beta[1] * data["height"], sigma=sigma, observed=data["log_earn"])
    return m


def gibbs(data, *, seed, draws, chains, warmup=1000, halve=True):
    y = np.asarray(data["log_earn"], dtype=float)
    X = np.column_stack([np.ones_like(y), np.asarray(data["height"], dtype=float)])
    xtx_inv = np.linalg.inv(X.T @ X)
    beta_hat, chol = xtx_inv @ X.T @ y, np.linalg.cholesky(xtx_inv)
    rng = np.random.default_rng(seed)
    sigma2 = np.full(chains, y.var())
    beta_trace, sigma_trace = np.empty((draws, chains, 2)), np.empty((draws, chains))
    for i in range(warmup + draws):
        beta = beta_hat + np.sqrt(sigma2)[:, None] * (rng.standard_normal((chains, 2)) @ chol.T)
        rss = ((y - beta @ X.T) ** 2).sum(axis=1)
        rate = rss / 2 if halve else rss  # BUG when halve=False
        sigma2 = rate / rng.gamma((len(y) - 1) / 2, size=chains)
        if i >= warmup:
            beta_trace[i - warmup], sigma_trace[i - warmup] = beta, np.sqrt(sigma2)
    return {"beta": beta_trace.transpose(1, 0, 2), "sigma": sigma_trace.T}


def gibbs_rss_not_halved(data, *, seed, draws, chains, warmup=1000):
    return gibbs(data, seed=seed, draws=draws, chains=chains, warmup=warmup, halve=False)


problem = Problem(name="earnings-gibbs", data=DATA, model=model, sides={"gibbs": gibbs})
rss_not_halved = dataclasses.replace(problem, name="earnings-gibbs-rss-not-halved",
                                     sides={"gibbs": gibbs_rss_not_halved})
