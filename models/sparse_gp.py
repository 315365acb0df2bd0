"""Sparse GP regression with pseudo-inputs in PyMC: ``pm.gp.MarginalApprox`` with FITC (and VFE to compare).

Model (Snelson & Ghahramani 2006; the kernel, hyperparameters and priors of :mod:`bayes_zoo.models.gp`): M pseudo-inputs
``Z`` (M << N) carry ``u = f(Z)``; with ``Q_ff = K_fu K_uu^-1 K_uf``::

    FITC:  log p(y) = log N(y | 0, Q_ff + diag(K_ff - Q_ff) + sigma^2 I)
    VFE:   log p(y) >= log N(y | 0, Q_ff + sigma^2 I) - tr(K_ff - Q_ff) / (2 sigma^2)    (Titsias 2009)

FITC is a different *model* (its marginal likelihood may exceed the exact GP's); VFE is a lower bound on the
exact GP's log marginal likelihood (Bauer, van der Wilk & Rasmussen 2016 compare the two).  With ``Z = X``
both equal the exact GP.  The handwritten FITC is :mod:`bayes_zoo.inference.gp.fitc`.

Where PyMC adds its jitter (``MarginalApprox`` in ``pymc/gp/gp.py``, PyMC 5.x; ``JITTER_DEFAULT = 1e-6``,
:data:`bayes_zoo.models.gp.PYMC_JITTER`):

- ``marginal_likelihood``: **only on K_uu**.  ``L = chol(K_uu + jitter I)``, ``A = L^-1 K_uf``,
  ``Q_nn = sum_m A_mn^2``; FITC ``Lambda = clip(K_nn - Q_nn, 0, inf) + sigma^2``, VFE ``Lambda = sigma^2``
  (plus the trace term above); ``B = I + A Lambda^-1 A^T`` with no jitter; the value is a ``pm.Potential``
  named ``marginalapprox_loglik_y``: ``-(N/2 log 2 pi + 1/2 sum log Lambda + sum log diag chol(B)
  + 1/2 (y^T Lambda^-1 y - c^T c) + trace)``, ``c = chol(B)^-1 A Lambda^-1 y``.
- ``conditional``/``predict``: the same ``L`` and ``B``; the diagonal (``diag=True``) has no extra jitter,
  ``pred_noise`` adds ``sigma^2``; the full covariance of f (``diag=False``, no noise) gets ``+ jitter I``.

So :func:`bayes_zoo.inference.gp.fitc.log_marginal_likelihood` and :func:`bayes_zoo.inference.gp.fitc.predict` with the same
``jitter`` reproduce PyMC's FITC whenever ``sigma^2 >= jitter`` (below that the handwritten FITC floors the
noise variance at the jitter, which PyMC does not).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from bayes_zoo.models.checks import generator, instance
from bayes_zoo.models.gp import (GPHyperparameters, GPPrior, PYMC_JITTER, as_inputs, check_data, check_jitter,
                                 exp_quad, exp_quad_diag)

__all__ = ["APPROXIMATIONS", "build_fitc_model", "pymc_approx_log_likelihood", "pymc_approx_predict", "simulate",
           "hyperparameters_of"]

#: The approximations of ``pm.gp.MarginalApprox`` built here.
APPROXIMATIONS = ("FITC", "VFE")


def _check_approx(approx) -> str:
    if approx not in APPROXIMATIONS:
        raise ValueError(f"approx: expected one of {APPROXIMATIONS}, got {approx!r}")
    return approx


def _build(X, y, Z, hyper, approx, ard, jitter):
    """The checked model: ``(model, gp, X [N, D])``."""
    import pymc as pm

    X, y = check_data(X, y)
    Z = as_inputs(Z, "Z", dims=X.shape[1])
    approx = _check_approx(approx)
    jitter = check_jitter(jitter)
    dims = X.shape[1]
    fixed = isinstance(hyper, GPHyperparameters)
    if fixed:
        eta, ell, sigma = hyper.eta, hyper.lengthscales(dims), hyper.sigma
        if approx == "VFE" and sigma == 0:
            raise ValueError("hyper: VFE needs sigma > 0 (its bound divides by sigma^2)")
    else:
        prior = GPPrior.from_data(X, y) if hyper is None else instance(hyper, GPPrior, "hyper")
    coords = {"input": [f"x{j}" for j in range(dims)]} if ard and not fixed else {}
    with pm.Model(coords=coords) as model:
        if not fixed:
            eta = pm.HalfNormal("eta", sigma=prior.eta_sd)
            ell = pm.InverseGamma("lengthscale", alpha=prior.ell_alpha, beta=prior.ell_beta,
                                  dims="input" if ard else None)
            sigma = pm.HalfNormal("sigma", sigma=prior.sigma_sd)
        gp = pm.gp.MarginalApprox(approx=approx, cov_func=eta**2 * pm.gp.cov.ExpQuad(dims, ls=ell))
        gp.marginal_likelihood("y", X=X, Xu=Z, y=y, sigma=sigma, jitter=jitter)
    return model, gp, X


def build_fitc_model(X, y, Z, hyper: GPHyperparameters | GPPrior | None = None, *, approx: str = "FITC",
                     ard: bool = False, jitter: float = PYMC_JITTER):
    """Sparse GP regression in PyMC: ``pm.gp.MarginalApprox`` at fixed pseudo-inputs ``Z``.

    Parameters
    ----------
    X : array_like, shape (N, D) or (N,)
    y : array_like, shape (N,)
    Z : array_like, shape (M, D) or (M,)
        Pseudo-inputs (held fixed; :func:`bayes_zoo.inference.gp.fitc.optimise` moves them).
    hyper : GPHyperparameters, GPPrior or None
        Fixed hyperparameters (the model then has no free variables and its log density is the approximate
        log marginal likelihood), or priors on them (free ``eta``, ``lengthscale``, ``sigma``, as
        :func:`bayes_zoo.models.gp.build_marginal_model`); default :meth:`GPPrior.from_data` ``(X, y)``.
    approx : {"FITC", "VFE"}
    ard : bool
        With priors: one lengthscale per input dimension (dims ``input``).  Ignored with fixed
        hyperparameters, whose ``lengthscale`` says it.
    jitter : float >= 0
        Added by PyMC to the diagonal of ``K_uu`` (see the module docstring).

    Returns
    -------
    pymc.Model
        The approximate log marginal likelihood as the potential ``marginalapprox_loglik_y``.

    Raises
    ------
    ValueError
        As :func:`bayes_zoo.models.gp.check_data`; ``Z`` badly shaped or non-finite; ``approx`` unknown; ``hyper`` of
        another type, or ``sigma == 0`` with VFE; ``jitter`` negative.
    """
    return _build(X, y, Z, hyper, approx, ard, jitter)[0]


def _fixed(X, y, Z, hyper, approx, jitter):
    return _build(X, y, Z, instance(hyper, GPHyperparameters, "hyper"), approx, False, jitter)


def pymc_approx_log_likelihood(X, y, Z, hyper: GPHyperparameters, *, approx: str = "FITC",
                               jitter: float = PYMC_JITTER) -> float:
    """PyMC's approximate log marginal likelihood at fixed ``Z`` and ``hyper``: the compiled potential of
    ``MarginalApprox.marginal_likelihood``.  Arguments and errors as :func:`build_fitc_model`."""
    model, _, _ = _fixed(X, y, Z, hyper, approx, jitter)
    return float(model.compile_logp()({}))


def pymc_approx_predict(X, y, Z, X_new, hyper: GPHyperparameters, *, approx: str = "FITC",
                        jitter: float = PYMC_JITTER, include_noise: bool = False):
    """PyMC's predictive mean and variance at ``X_new`` (``MarginalApprox.predict(..., diag=True)``).

    Parameters
    ----------
    X, y, Z, hyper, approx, jitter :
        As :func:`build_fitc_model` (``hyper`` fixed).
    X_new : array_like, shape (S, D) or (S,)
    include_noise : bool
        Predict y instead of f (PyMC's ``pred_noise=True``: ``+ sigma^2``).

    Returns
    -------
    mean : numpy.ndarray, shape (S,)
    var : numpy.ndarray, shape (S,)
    """
    model, gp, X = _fixed(X, y, Z, hyper, approx, jitter)
    X_new = as_inputs(X_new, "X_new", dims=X.shape[1])
    mean, var = gp.predict(X_new, point={}, diag=True, pred_noise=include_noise, jitter=jitter, model=model)
    return np.asarray(mean, dtype=np.float64), np.asarray(var, dtype=np.float64)


def hyperparameters_of(data) -> GPHyperparameters:
    """The fixed hyperparameters a data mapping carries: ``data["eta"]``, ``["lengthscale"]``, ``["sigma"]``."""
    return GPHyperparameters(eta=float(data["eta"]), lengthscale=float(data["lengthscale"]), sigma=float(data["sigma"]))


def simulate(rng: np.random.Generator, data, *, jitter: float = PYMC_JITTER):
    """The FITC generative model (:mod:`bayes_zoo.inference.gp.fitc`) at fixed hyperparameters, with ``K_uu``
    carrying the jitter: ``u ~ N(0, K_uu + jitter I)``, ``f_n | u ~ N(k_nu (K_uu + jitter I)^-1 u,
    max(K_nn - Q_nn, 0))`` independently, ``y_n = f_n + N(0, max(sigma^2, jitter))``.

    The signature every model module's ``simulate`` shares (simulation-based calibration,
    :attr:`bayes_zoo.problem.Problem.simulate`): a generator and a data template in, the truth and simulated
    data out.

    Parameters
    ----------
    rng : numpy.random.Generator
    data : mapping
        ``"X"`` (N, 1) inputs, ``"Z"`` (M, 1) pseudo-inputs and the hyperparameters ``"eta"``,
        ``"lengthscale"``, ``"sigma"`` (:func:`hyperparameters_of`); other keys are passed through.
    jitter : float, >= 0

    Returns
    -------
    truth : dict
        ``{"u[m]": float}``, the pseudo-input values ``u = f(Z)``.
    data : dict
        ``data`` with ``"y"`` (N,) simulated.

    Raises
    ------
    ValueError
        Naming ``rng``, ``data`` or ``jitter``.
    """
    generator(rng)
    missing = [k for k in ("X", "Z", "eta", "lengthscale", "sigma") if not isinstance(data, Mapping) or k not in data]
    if missing:
        raise ValueError(f"data: expected a mapping with keys X, Z, eta, lengthscale, sigma (missing {missing})")
    X = as_inputs(data["X"])
    Z = as_inputs(data["Z"], "Z", dims=X.shape[1])
    hyper, jitter = hyperparameters_of(data), check_jitter(jitter)
    n, m = X.shape[0], Z.shape[0]
    Kuu = exp_quad(Z, Z, hyper.eta, hyper.lengthscale) + jitter * np.eye(m)  # [M, M]
    Kfu = exp_quad(X, Z, hyper.eta, hyper.lengthscale)  # [N, M]
    P = np.linalg.solve(Kuu, Kfu.T).T  # [N, M] k_nu (K_uu + jitter I)^-1
    u = np.linalg.cholesky(Kuu) @ rng.standard_normal(m)
    conditional_var = np.maximum(exp_quad_diag(X, hyper.eta) - np.einsum("nm,nm->n", P, Kfu), 0.0)
    f = P @ u + np.sqrt(conditional_var) * rng.standard_normal(n)
    y = f + np.sqrt(max(hyper.sigma**2, jitter)) * rng.standard_normal(n)
    return {f"u[{i}]": float(v) for i, v in enumerate(u)}, {**data, "y": y}
