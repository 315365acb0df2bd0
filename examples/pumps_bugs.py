"""Three one-line bugs planted in the pumps Gibbs sampler of examples/pumps.py (same model, same data).

Each buggy sampler is the correct one with one line changed, marked BUG:

* ``rate_as_scale`` -- theta_i's Gamma gets its rate where NumPy wants the scale (NumPy's ``gamma(shape, scale)``);
* ``no_exposure`` -- theta_i's conditional forgets the exposure t_i: Gamma(alpha + y_i, rate beta + 1), the
  conditional of y_i ~ Poisson(theta_i) rather than Poisson(theta_i t_i);
* ``n_minus_1`` -- beta's Gamma shape counts one pump too few: 0.1 + (n - 1) alpha instead of 0.1 + n alpha.

`bayes-zoo check examples/pumps_bugs.py:rate_as_scale` (and so on) says "disagree" for each.
"""
import dataclasses

import numpy as np

from pumps import ALPHA, problem  # examples/pumps.py: `bayes-zoo check` puts this file's folder on sys.path


def gibbs_rate_as_scale(data, *, seed, draws, chains, warmup=1000):
    rng, t, y = np.random.default_rng(seed), data["t"], data["y"]
    beta = np.ones(chains)
    out = {"beta": np.empty((chains, draws)), "theta": np.empty((chains, draws, len(t)))}
    for i in range(warmup + draws):
        theta = rng.gamma(ALPHA + y, beta[:, None] + t)  # BUG: the rate passed as NumPy's scale
        beta = rng.gamma(0.1 + len(t) * ALPHA, 1 / (1.0 + theta.sum(axis=1)))
        if i >= warmup:
            out["theta"][:, i - warmup], out["beta"][:, i - warmup] = theta, beta
    return out


def gibbs_no_exposure(data, *, seed, draws, chains, warmup=1000):
    rng, t, y = np.random.default_rng(seed), data["t"], data["y"]
    beta = np.ones(chains)
    out = {"beta": np.empty((chains, draws)), "theta": np.empty((chains, draws, len(t)))}
    for i in range(warmup + draws):
        theta = rng.gamma(ALPHA + y, 1 / (beta[:, None] + 1.0))  # BUG: the exposure t_i forgotten (+ 1, not + t)
        beta = rng.gamma(0.1 + len(t) * ALPHA, 1 / (1.0 + theta.sum(axis=1)))
        if i >= warmup:
            out["theta"][:, i - warmup], out["beta"][:, i - warmup] = theta, beta
    return out


def gibbs_n_minus_1(data, *, seed, draws, chains, warmup=1000):
    rng, t, y = np.random.default_rng(seed), data["t"], data["y"]
    beta = np.ones(chains)
    out = {"beta": np.empty((chains, draws)), "theta": np.empty((chains, draws, len(t)))}
    for i in range(warmup + draws):
        theta = rng.gamma(ALPHA + y, 1 / (beta[:, None] + t))
        beta = rng.gamma(0.1 + (len(t) - 1) * ALPHA, 1 / (1.0 + theta.sum(axis=1)))  # BUG: n - 1 pumps
        if i >= warmup:
            out["theta"][:, i - warmup], out["beta"][:, i - warmup] = theta, beta
    return out


rate_as_scale = dataclasses.replace(problem, name="pumps/rate-as-scale", sides={"gibbs": gibbs_rate_as_scale})
no_exposure = dataclasses.replace(problem, name="pumps/no-exposure", sides={"gibbs": gibbs_no_exposure})
n_minus_1 = dataclasses.replace(problem, name="pumps/n-minus-1", sides={"gibbs": gibbs_n_minus_1})
