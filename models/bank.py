"""PyMC versions of the bundled posteriordb models (:mod:`bayes_zoo.models.posteriordb`), written from the Stan code.

Each model is a :class:`BankModel`: a builder ``build(data) -> pymc.Model`` over Stan's data plus Stan's
``transformed data`` block (:attr:`BankModel.transformed_data`, so that every observed variable is named after the
data key it observes, as :mod:`bayes_zoo.inference.sbc_model` needs: ``log_earn``, not ``earn``), the kind of
model, and, where the reference draws lack a free variable of our model (eight schools' ``theta_trans``, the GP's
``f_tilde``), how to derive it from them (:attr:`BankModel.from_reference`), so that the log-likelihood is
computed at the reference draws too.

How Stan's declarations become PyMC's, throughout:

- an unconstrained parameter with no prior statement (Stan's implicit uniform) is ``pm.Flat``; one declared
  ``<lower=0>`` with no prior is ``pm.HalfFlat``: both improper, as in Stan, so their posteriors exist only
  because the likelihood makes them proper;
- ``sigma ~ cauchy(0, s)`` on ``real<lower=0> sigma`` is ``pm.HalfCauchy(beta=s)`` (the truncation constant
  does not depend on a parameter); ``normal(0, s)`` likewise ``pm.HalfNormal(sigma=s)``;
- Stan's ``gamma(a, b)`` is shape ``a`` and rate ``b``: ``pm.Gamma(alpha=a, beta=b)``;
- ``sd(x)`` in Stan is the sample standard deviation (denominator N - 1): ``np.std(x, ddof=1)``;
- vector parameters take coordinates: a regression's ``beta`` is labelled by its terms in Stan's order
  (``beta[intercept]``, ``beta[height]`` for Stan's ``beta[1]``, ``beta[2]``), and an unnamed index by its
  1-based position (``theta[1]``), so Stan's labels and ours correspond by position
  (:func:`bayes_zoo.models.posteriordb.reference_idata`).

:data:`MODELS` maps each posteriordb model name to its :class:`BankModel`; :func:`model_for` gives the one of a
posterior, or says why there is none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

__all__ = ["BankModel", "Regression", "MODELS", "model_for", "bank_data", "INTERCEPT"]

#: The label of a regression's constant term (Stan's ``beta[1]`` in the models with an intercept).
INTERCEPT = "intercept"


@dataclass(frozen=True)
class BankModel:
    """One posteriordb model, in PyMC.

    Attributes
    ----------
    name : str
        posteriordb's model name (``"eight_schools_noncentered"``).
    kind : str
        What sort of model: ``"linear regression"``, ``"hierarchical"``, ``"time series"``,
        ``"hidden Markov model"``, ``"Gaussian process"``, ``"ODE"``.
    build : callable or str
        ``build(data) -> pymc.Model`` (or ``"module:function"``), ``data`` being Stan's data plus
        :attr:`transformed_data`'s keys; each observed variable named after the data key it observes.
    transformed_data : callable, optional
        Stan's ``transformed data`` block: ``transformed_data(data) -> dict`` of new keys (arrays).
    from_reference : callable, optional
        ``from_reference(arrays, data) -> dict``: the model's free variables the reference draws do not hold,
        computed from them (each ``(chain, draw, *shape)``), exactly.
    departs : str
        Where this version departs from the Stan code (a fixed-step ODE solver ...); empty when it does not.
    """

    name: str
    kind: str
    build: Any
    transformed_data: Callable[[Mapping], dict] | None = None
    from_reference: Callable[[Mapping, Mapping], dict] | None = None
    departs: str = ""

    def builder(self) -> Callable:
        """The builder as a callable (a ``"module:function"`` string imported)."""
        if isinstance(self.build, str):
            import importlib

            module, _, function = self.build.partition(":")
            return getattr(importlib.import_module(module), function)
        return self.build


def bank_data(model: BankModel, data: Mapping) -> dict:
    """Stan's data plus the model's transformed data, as one dict of arrays (the data a builder takes).

    Raises
    ------
    ValueError
        Naming ``data`` if a transformed-data key would replace a data key.
    """
    out = dict(data)
    if model.transformed_data is not None:
        extra = model.transformed_data(out)
        clash = sorted(set(extra) & set(out))
        if clash:
            raise ValueError(f"data: the transformed data of {model.name} would replace {clash}")
        out.update({k: np.asarray(v) for k, v in extra.items()})
    return out


# -------------------------------------------------------------------------------------------------- regressions
@dataclass(frozen=True)
class Regression:
    """A normal linear regression ``outcome ~ normal(X beta, sigma)`` as posteriordb's regressions write it.

    Attributes
    ----------
    outcome : str
        The data key of the outcome (after the transformed data).
    terms : tuple of str
        The columns of X in Stan's order, data keys or :data:`INTERCEPT` (ones); they label ``beta``.
    beta_scale : float, optional
        ``beta ~ normal(0, beta_scale)``; None: Stan's implicit flat prior.
    sigma_prior : str
        ``"flat"`` (none stated: ``pm.HalfFlat``), or ``"cauchy"`` / ``"normal"`` with :attr:`sigma_scale`.
    sigma_scale : float
    """

    outcome: str
    terms: tuple
    beta_scale: float | None = None
    sigma_prior: str = "flat"
    sigma_scale: float = 1.0

    def design(self, data: Mapping) -> np.ndarray:
        """X, ``(N, len(terms))`` float64."""
        n = np.asarray(data[self.outcome]).shape[0]
        return np.column_stack([np.ones(n) if t == INTERCEPT else np.asarray(data[t], dtype=float)
                                for t in self.terms])


def _sigma(prior: str, scale: float):
    import pymc as pm

    if prior == "flat":
        return pm.HalfFlat("sigma")
    if prior == "cauchy":
        return pm.HalfCauchy("sigma", beta=float(scale))
    if prior == "normal":
        return pm.HalfNormal("sigma", sigma=float(scale))
    raise ValueError(f"sigma_prior: expected 'flat', 'cauchy' or 'normal', got {prior!r}")


def build_regression(spec: Regression, data: Mapping):
    """The PyMC model of regression ``spec`` on ``data`` (Stan's data plus transformed data).

    Returns
    -------
    pymc.Model
        Free variables ``beta`` (dims ``term``, labelled by :attr:`Regression.terms`) and ``sigma``; the outcome
        observed under its data key.
    """
    import pymc as pm

    X = spec.design(data)  # [N, K]
    with pm.Model(coords={"term": list(spec.terms)}) as model:
        if spec.beta_scale is None:
            beta = pm.Flat("beta", dims="term")
        else:
            beta = pm.Normal("beta", mu=0.0, sigma=float(spec.beta_scale), dims="term")
        sigma = _sigma(spec.sigma_prior, spec.sigma_scale)
        pm.Normal(spec.outcome, mu=pm.math.dot(X, beta), sigma=sigma,
                  observed=np.asarray(data[spec.outcome], dtype=float))
    return model


def _sd(x) -> float:
    return float(np.std(np.asarray(x, dtype=float), ddof=1))  # Stan's sd(): denominator N - 1


def _earnings(data, *, log: str | None = None, z: bool = False, log_height: bool = False) -> dict:
    earn = np.asarray(data["earn"], dtype=float)
    height = np.asarray(data["height"], dtype=float)
    male = np.asarray(data["male"], dtype=float)
    out = {}
    if log == "log":
        out["log_earn"] = np.log(earn)
    elif log == "log10":
        out["log10_earn"] = np.log10(earn)
    if z:
        out["z_height"] = (height - height.mean()) / _sd(height)
        out["inter"] = out["z_height"] * male
    if log_height:
        out["log_height"] = np.log(height)
    return out


def _earnings_interaction(data) -> dict:
    out = _earnings(data, log="log")
    out["inter"] = np.asarray(data["height"], dtype=float) * np.asarray(data["male"], dtype=float)
    return out


def _kid_interaction(data) -> dict:
    return {"inter": np.asarray(data["mom_hs"], dtype=float) * np.asarray(data["mom_iq"], dtype=float)}


def _kid_centred(data, *, how: str) -> dict:
    hs, iq = np.asarray(data["mom_hs"], dtype=float), np.asarray(data["mom_iq"], dtype=float)
    if how == "c":
        a, b = hs - hs.mean(), iq - iq.mean()
    elif how == "c2":
        a, b = hs - 0.5, iq - 100.0
    else:  # "z": standardised by two standard deviations (Gelman 2008)
        a, b = (hs - hs.mean()) / (2 * _sd(hs)), (iq - iq.mean()) / (2 * _sd(iq))
    return {f"{how}_mom_hs": a, f"{how}_mom_iq": b, "inter": a * b}


def _kid_work(data) -> dict:
    work = np.asarray(data["mom_work"])
    return {f"work{k}": (work == k).astype(float) for k in (2, 3, 4)}


def _mesquite(data, *, terms: tuple) -> dict:
    d1, d2 = np.asarray(data["diam1"], dtype=float), np.asarray(data["diam2"], dtype=float)
    available = {
        "log_weight": lambda: np.log(np.asarray(data["weight"], dtype=float)),
        "log_canopy_volume": lambda: np.log(d1 * d2 * np.asarray(data["canopy_height"], dtype=float)),
        "log_canopy_area": lambda: np.log(d1 * d2),
        "log_canopy_shape": lambda: np.log(d1 / d2),
        "log_total_height": lambda: np.log(np.asarray(data["total_height"], dtype=float)),
        "log_density": lambda: np.log(np.asarray(data["density"], dtype=float)),
    }
    return {k: available[k]() for k in ("log_weight", *terms) if k in available}


def _nes(data) -> dict:
    age = np.asarray(data["age_discrete"])
    return {"age30_44": (age == 2).astype(float), "age45_64": (age == 3).astype(float),
            "age65up": (age == 4).astype(float)}


def _blr(data) -> dict:
    X = np.asarray(data["X"], dtype=float)
    return {f"x{k + 1}": X[:, k] for k in range(X.shape[1])}


def _regression(name: str, outcome: str, terms: tuple, transformed=None, **prior) -> BankModel:
    spec = Regression(outcome, terms, **prior)
    return BankModel(name, "linear regression", partial(build_regression, spec), transformed)


_MESQUITE_LOGVAS = ("log_canopy_volume", "log_canopy_area", "log_canopy_shape", "log_total_height", "log_density",
                    "group")
_MESQUITE_LOGVASH = ("log_canopy_volume", "log_canopy_area", "log_canopy_shape", "log_total_height", "group")
_NES_TERMS = (INTERCEPT, "real_ideo", "race_adj", "age30_44", "age45_64", "age65up", "educ1", "gender", "income")

_REGRESSIONS = (
    _regression("earn_height", "earn", (INTERCEPT, "height")),
    _regression("log10earn_height", "log10_earn", (INTERCEPT, "height"), partial(_earnings, log="log10")),
    _regression("logearn_height", "log_earn", (INTERCEPT, "height"), partial(_earnings, log="log")),
    _regression("logearn_interaction", "log_earn", (INTERCEPT, "height", "male", "inter"), _earnings_interaction),
    _regression("logearn_interaction_z", "log_earn", (INTERCEPT, "z_height", "male", "inter"),
                partial(_earnings, log="log", z=True)),
    _regression("logearn_logheight_male", "log_earn", (INTERCEPT, "log_height", "male"),
                partial(_earnings, log="log", log_height=True)),
    _regression("kidscore_interaction", "kid_score", (INTERCEPT, "mom_hs", "mom_iq", "inter"), _kid_interaction,
                sigma_prior="cauchy", sigma_scale=2.5),
    _regression("kidscore_momhs", "kid_score", (INTERCEPT, "mom_hs"), sigma_prior="cauchy", sigma_scale=2.5),
    _regression("kidscore_momhsiq", "kid_score", (INTERCEPT, "mom_hs", "mom_iq"), sigma_prior="cauchy",
                sigma_scale=2.5),
    _regression("kidscore_interaction_c", "kid_score", (INTERCEPT, "c_mom_hs", "c_mom_iq", "inter"),
                partial(_kid_centred, how="c")),
    _regression("kidscore_interaction_c2", "kid_score", (INTERCEPT, "c2_mom_hs", "c2_mom_iq", "inter"),
                partial(_kid_centred, how="c2")),
    _regression("kidscore_interaction_z", "kid_score", (INTERCEPT, "z_mom_hs", "z_mom_iq", "inter"),
                partial(_kid_centred, how="z")),
    _regression("kidscore_mom_work", "kid_score", (INTERCEPT, "work2", "work3", "work4"), _kid_work),
    _regression("logmesquite_logva", "log_weight", (INTERCEPT, "log_canopy_volume", "log_canopy_area", "group"),
                partial(_mesquite, terms=("log_canopy_volume", "log_canopy_area"))),
    _regression("logmesquite_logvas", "log_weight", (INTERCEPT, *_MESQUITE_LOGVAS),
                partial(_mesquite, terms=_MESQUITE_LOGVAS)),
    _regression("logmesquite_logvash", "log_weight", (INTERCEPT, *_MESQUITE_LOGVASH),
                partial(_mesquite, terms=_MESQUITE_LOGVASH)),
    _regression("logmesquite_logvolume", "log_weight", (INTERCEPT, "log_canopy_volume"),
                partial(_mesquite, terms=("log_canopy_volume",))),
    _regression("mesquite", "weight", (INTERCEPT, "diam1", "diam2", "canopy_height", "total_height", "density", "group")),
    _regression("nes", "partyid7", _NES_TERMS, _nes),
    _regression("blr", "y", ("x1", "x2", "x3", "x4", "x5"), _blr, beta_scale=10.0, sigma_prior="normal",
                sigma_scale=10.0),
)


# -------------------------------------------------------------------------------------------------- the others
def build_kilpisjarvi(data: Mapping):
    """Kilpisjärvi summer temperatures on year (posteriordb ``kilpisjarvi``): ``y ~ normal(alpha + beta x, sigma)``
    with ``alpha ~ normal(pmualpha, psalpha)``, ``beta ~ normal(pmubeta, psbeta)`` (the data's prior constants)
    and ``sigma`` flat on (0, inf).  ``x`` is not centred, so alpha and beta are nearly collinear a posteriori."""
    import pymc as pm

    x = np.asarray(data["x"], dtype=float)
    with pm.Model() as model:
        alpha = pm.Normal("alpha", mu=float(data["pmualpha"]), sigma=float(data["psalpha"]))
        beta = pm.Normal("beta", mu=float(data["pmubeta"]), sigma=float(data["psbeta"]))
        sigma = pm.HalfFlat("sigma")
        pm.Normal("y", mu=alpha + beta * x, sigma=sigma, observed=np.asarray(data["y"], dtype=float))
    return model


def _eight_schools_theta_trans(arrays: Mapping, data: Mapping) -> dict:
    tau = np.asarray(arrays["tau"])[..., None]
    return {"theta_trans": (np.asarray(arrays["theta"]) - np.asarray(arrays["mu"])[..., None]) / tau}


def build_eight_schools_noncentered(data: Mapping, *, mu_sd: float = 5.0):
    """Eight schools, non-centred (posteriordb ``eight_schools_noncentered``; Rubin 1981, Gelman et al. BDA3 5.5):
    ``theta = mu + tau theta_trans``, ``theta_trans ~ normal(0, 1)``, ``mu ~ normal(0, mu_sd)`` (Stan's: 5),
    ``tau ~ cauchy(0, 5)`` on (0, inf), ``y ~ normal(theta, sigma)`` with the schools' known ``sigma``.
    Schools are labelled 1..J as Stan indexes them."""
    import pymc as pm

    y, sigma = np.asarray(data["y"], dtype=float), np.asarray(data["sigma"], dtype=float)
    with pm.Model(coords={"school": list(range(1, len(y) + 1))}) as model:
        theta_trans = pm.Normal("theta_trans", 0.0, 1.0, dims="school")
        mu = pm.Normal("mu", 0.0, float(mu_sd))
        tau = pm.HalfCauchy("tau", beta=5.0)
        theta = pm.Deterministic("theta", theta_trans * tau + mu, dims="school")
        pm.Normal("y", mu=theta, sigma=sigma, observed=y, dims="school")
    return model


def _ar_lags(data) -> dict:
    y, K = np.asarray(data["y"], dtype=float), int(data["K"])
    T = y.shape[0]
    return {"y_next": y[K:], "y_lags": np.column_stack([y[K - k: T - k] for k in range(1, K + 1)])}


def build_ark(data: Mapping):
    """AR(K) (posteriordb ``arK``): ``y[t] ~ normal(alpha + sum_k beta[k] y[t - k], sigma)`` for t > K, with
    ``alpha, beta ~ normal(0, 10)``, ``sigma ~ cauchy(0, 2.5)`` on (0, inf); conditional on the first K values.
    The transformed data hold the outcomes ``y_next`` (y[K+1..T]) and the lags ``y_lags`` ``[T - K, K]``;
    ``beta`` is labelled by its lag 1..K."""
    import pymc as pm

    lags = np.asarray(data["y_lags"], dtype=float)  # [T - K, K]
    with pm.Model(coords={"lag": list(range(1, lags.shape[1] + 1))}) as model:
        alpha = pm.Normal("alpha", 0.0, 10.0)
        beta = pm.Normal("beta", 0.0, 10.0, dims="lag")
        sigma = pm.HalfCauchy("sigma", beta=2.5)
        pm.Normal("y_next", mu=alpha + pm.math.dot(lags, beta), sigma=sigma,
                  observed=np.asarray(data["y_next"], dtype=float))
    return model


def _gp_cholesky(x: np.ndarray, alpha, rho) -> np.ndarray:
    """chol(alpha^2 exp(-(x - x')^2 / (2 rho^2)) + 1e-10 I) per draw: ``[..., N, N]``."""
    alpha, rho = np.asarray(alpha, dtype=float), np.asarray(rho, dtype=float)
    d2 = (x[:, None] - x[None, :]) ** 2
    cov = alpha[..., None, None] ** 2 * np.exp(-d2 / (2 * rho[..., None, None] ** 2)) + 1e-10 * np.eye(len(x))
    return np.linalg.cholesky(cov)


def _gp_f_tilde(arrays: Mapping, data: Mapping) -> dict:
    x = np.asarray(data["x"], dtype=float)
    L = _gp_cholesky(x, arrays["alpha"], arrays["rho"])  # [chain, draw, N, N]
    f = np.asarray(arrays["f"])[..., None]
    return {"f_tilde": np.linalg.solve(L, f)[..., 0]}


def build_gp_pois_regr(data: Mapping):
    """GP Poisson regression (posteriordb ``gp_pois_regr``): ``f = L f_tilde``, L the Cholesky factor of the
    squared-exponential covariance ``alpha^2 exp(-(x - x')^2 / (2 rho^2)) + 1e-10 I``; ``f_tilde ~ normal(0, 1)``,
    ``rho ~ gamma(25, 4)`` (shape, rate), ``alpha ~ normal(0, 2)`` on (0, inf), ``k ~ poisson_log(f)``.  ``f`` is
    labelled by the input's 1-based index."""
    import pymc as pm
    import pytensor.tensor as pt

    x = np.asarray(data["x"], dtype=float)
    n = len(x)
    d2 = (x[:, None] - x[None, :]) ** 2
    with pm.Model(coords={"obs": list(range(1, n + 1))}) as model:
        rho = pm.Gamma("rho", alpha=25.0, beta=4.0)
        alpha = pm.HalfNormal("alpha", sigma=2.0)
        f_tilde = pm.Normal("f_tilde", 0.0, 1.0, dims="obs")
        cov = alpha**2 * pt.exp(-d2 / (2 * rho**2)) + 1e-10 * np.eye(n)
        f = pm.Deterministic("f", pt.dot(pt.linalg.cholesky(cov), f_tilde), dims="obs")
        pm.Poisson("k", mu=pt.exp(f), observed=np.asarray(data["k"]), dims="obs")
    return model


_OTHERS = (
    BankModel("kilpisjarvi", "linear regression", build_kilpisjarvi),
    BankModel("eight_schools_noncentered", "hierarchical", build_eight_schools_noncentered,
              from_reference=_eight_schools_theta_trans),
    BankModel("arK", "time series", build_ark, _ar_lags),
    BankModel("gp_pois_regr", "Gaussian process", build_gp_pois_regr, from_reference=_gp_f_tilde),
)



def _all_models() -> dict:
    from bayes_zoo.models import bank_dynamics

    return {m.name: m for m in (*_REGRESSIONS, *_OTHERS, *bank_dynamics.MODELS)}


#: posteriordb model name -> its PyMC version (the dynamic models from :mod:`bayes_zoo.models.bank_dynamics`).
MODELS: dict[str, BankModel] = _all_models()


def model_for(model_name: str) -> BankModel | None:
    """The PyMC version of posteriordb model ``model_name``, or None if there is none yet."""
    return MODELS.get(model_name)
