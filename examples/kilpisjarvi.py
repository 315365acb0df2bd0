"""Right marginals, wrong joint: a straight line through 62 summers at Kilpisjarvi (Finnish Lapland), 1952-2013.

y_j = mean summer temperature (deg C) of year j, x_j = years since 1900 (an uncentred covariate: the intercept a
is the line's value in 1900, far from the data, so a and b are strongly correlated a posteriori, about -0.97):

    y_j ~ Normal(a + b x_j, sigma2),  a ~ Normal(9, 3^2),  b ~ Normal(0, 0.1^2),  sigma2 ~ InverseGamma(3, 2).

Gibbs in two blocks: (a, b) | sigma2 is bivariate Normal (drawn jointly, so the correlation costs nothing) and
sigma2 | a, b is InverseGamma(3 + n/2, 2 + SSR/2).  All chains run at once, vectorised: the trace is kept as
(draws, chains) and transposed at the end.

The planted bug (``reshape_b``) returns b's trace with ``reshape(chains, draws)`` instead of ``.T``: the same
numbers, so every marginal -- mean, sd, quantiles, each chain's R-hat and ESS -- is right, but draw k of b is no
longer paired with draw k of a.  Only a joint quantity sees it: ``loglik``, the log-likelihood of the data at
each draw (a and b of different draws give lines far from the data).  Check both with
`bayes-zoo check examples/kilpisjarvi.py` and `bayes-zoo check examples/kilpisjarvi.py:reshape_b`.

Data: examples/data/kilpisjarvi.csv (provenance in examples/README.md).
"""
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm
from bayes_zoo import Problem

A_MEAN, A_SD, B_MEAN, B_SD, S_SHAPE, S_RATE = 9.0, 3.0, 0.0, 0.1, 3.0, 2.0
_csv = pd.read_csv(Path(__file__).with_name("data") / "kilpisjarvi.csv")
DATA = {"x": _csv["year"].to_numpy(float) - 1900.0, "y": _csv["temperature_c"].to_numpy(float)}


def model(data):
    with pm.Model() as m:
        a = pm.Normal("a", A_MEAN, A_SD)
        b = pm.Normal("b", B_MEAN, B_SD)
        sigma2 = pm.InverseGamma("sigma2", alpha=S_SHAPE, beta=S_RATE)
        pm.Normal("y", mu=a + b * data["x"], sigma=pm.math.sqrt(sigma2), observed=data["y"])
    return m


def _gibbs_trace(data, seed, draws, chains, warmup):
    """Run the chains; returns the trace, each variable an array (draws, chains)."""
    rng, x, y = np.random.default_rng(seed), data["x"], data["y"]
    X = np.column_stack([np.ones_like(x), x])
    prior_prec = np.diag([A_SD**-2, B_SD**-2])
    prior_term = prior_prec @ np.array([A_MEAN, B_MEAN])
    sigma2 = np.full(chains, y.var())
    trace = {k: np.empty((draws, chains)) for k in ("a", "b", "sigma2")}
    for i in range(warmup + draws):
        cov = np.linalg.inv(prior_prec + X.T @ X / sigma2[:, None, None])  # (chains, 2, 2)
        mean = np.einsum("cij,cj->ci", cov, prior_term + (X.T @ y) / sigma2[:, None])
        ab = mean + np.einsum("cij,cj->ci", np.linalg.cholesky(cov), rng.standard_normal((chains, 2)))
        ssr = ((y - ab[:, :1] - ab[:, 1:] * x) ** 2).sum(axis=1)
        sigma2 = 1.0 / rng.gamma(S_SHAPE + len(y) / 2, 1.0 / (S_RATE + ssr / 2))
        if i >= warmup:
            trace["a"][i - warmup], trace["b"][i - warmup], trace["sigma2"][i - warmup] = ab[:, 0], ab[:, 1], sigma2
    return trace


def gibbs(data, *, seed, draws, chains, warmup=500):
    trace = _gibbs_trace(data, seed, draws, chains, warmup)
    return {"a": trace["a"].T, "b": trace["b"].T, "sigma2": trace["sigma2"].T}


def gibbs_reshape_b(data, *, seed, draws, chains, warmup=500):
    trace = _gibbs_trace(data, seed, draws, chains, warmup)
    return {"a": trace["a"].T, "b": trace["b"].reshape(chains, draws), "sigma2": trace["sigma2"].T}  # BUG


problem = Problem(name="kilpisjarvi", data=DATA, model=model, sides={"gibbs": gibbs})
reshape_b = dataclasses.replace(problem, name="kilpisjarvi/reshape-b", sides={"gibbs": gibbs_reshape_b})
