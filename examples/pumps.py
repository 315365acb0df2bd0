"""Ten pumps (Gaver & O'Muircheartaigh 1987; the BUGS manual's 'pumps'): y_i failures in t_i thousand hours.

y_i ~ Poisson(theta_i t_i), theta_i ~ Gamma(1.802, rate beta), beta ~ Gamma(0.1, rate 1); check it with
`bayes-zoo check examples/pumps.py`.  Gibbs: both full conditionals are Gamma (see examples/README.md).
"""
from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm
from bayes_zoo import Problem

ALPHA = 1.802
_csv = pd.read_csv(Path(__file__).with_name("data") / "pumps.csv")
DATA = {"t": _csv["time_kilohours"].to_numpy(float), "y": _csv["failures"].to_numpy()}


def model(data):
    with pm.Model(coords={"pump": np.arange(1, len(data["t"]) + 1)}) as m:
        beta = pm.Gamma("beta", alpha=0.1, beta=1.0)
        theta = pm.Gamma("theta", alpha=ALPHA, beta=beta, dims="pump")
        pm.Poisson("y", mu=theta * data["t"], observed=data["y"], dims="pump")
    return m


def gibbs(data, *, seed, draws, chains, warmup=1000):
    rng, t, y = np.random.default_rng(seed), data["t"], data["y"]
    beta = np.ones(chains)
    out = {"beta": np.empty((chains, draws)), "theta": np.empty((chains, draws, len(t)))}
    for i in range(warmup + draws):
        theta = rng.gamma(ALPHA + y, 1 / (beta[:, None] + t))  # NumPy's Gamma takes the scale = 1 / rate
        beta = rng.gamma(0.1 + len(t) * ALPHA, 1 / (1.0 + theta.sum(axis=1)))
        if i >= warmup:
            out["theta"][:, i - warmup], out["beta"][:, i - warmup] = theta, beta
    return out


problem = Problem(name="pumps", data=DATA, model=model, sides={"gibbs": gibbs})
