"""Random projections of the ``L_n`` from posterior draws (Pinsler et al. 2019, sec. 4).

For pool point n (Pinsler et al. 2019, eq. 4)::

    L_n(theta) = E_{y_n ~ p(y | x_n, D0)} [log p(y_n | x_n, theta)] + H[y_n | x_n, D0]
               = -KL( p(y | x_n, D0) || p(y | x_n, theta) )

and with ``theta_1..theta_J`` drawn from the posterior, ``G[n] = J^-1/2 [L_n(theta_1), ..., L_n(theta_J)]`` has
``G G^T -> K_2``, the weighted Euclidean inner products ``<L_n, L_m> = E_theta[L_n(theta) L_m(theta)]``, at the
Monte Carlo rate ``J^-1/2``.  Three ways to the numbers ``L_n(theta_j)``:

* :func:`gaussian_projections` — a Gaussian likelihood ``N(y | mu_n(theta), s^2(theta))``: the expectation
  over ``y_n`` needs only the predictive mean ``m_n`` and variance ``v_n``::

      L_n(theta) = -1/2 log(2 pi s^2) - ((m_n - mu_n)^2 + v_n) / (2 s^2) + H_n

  with ``H_n`` the predictive entropy (Gaussian ``1/2 log(2 pi e v_n)`` unless given).
* :func:`bernoulli_projections` — a Bernoulli likelihood: the expectation is a sum over ``y in {0, 1}``.
* :func:`monte_carlo_projections` — any likelihood PyMC evaluates pointwise: ``S`` outcomes
  ``y_n^(s) ~ p(y | x_n, D0)`` per pool point from ``pm.sample_posterior_predictive``, then
  ``L_n(theta_j) = mean_s log p(y_n^(s) | theta_j) + H_n`` with
  ``H_n = -mean_s log mean_j p(y_n^(s) | theta_j)``; the model is compiled once for the whole pool.

:func:`linear_euclidean_gram` is the closed form of ``K_2`` for Bayesian linear regression with known noise
(derived here; the tests check the projections converge to it).  With ``u_n = x_n^T (theta - mu)``,
``S = X Sigma X^T`` and ``L_n = c_n - u_n^2 / (2 sigma^2)``, ``c_n = (log(1 + S_nn / sigma^2) - S_nn / sigma^2) / 2``,
Isserlis' theorem ``E[u_n^2 u_m^2] = S_nn S_mm + 2 S_nm^2`` gives::

    <L_n, L_m>_2 = e_n e_m + S_nm^2 / (2 sigma^4),        e_n = E[L_n] = c_n - S_nn / (2 sigma^2)
"""

from __future__ import annotations

import numpy as np
from scipy import special

from bayes_zoo.active_learning.gram import DenseGram, finite_matrix
from bayes_zoo.inference.threads import holds_blas
from bayes_zoo.models.checks import finite_vector, generator, positive_int

__all__ = ["gaussian_projections", "bernoulli_projections", "monte_carlo_projections", "linear_euclidean_gram",
           "bernoulli_entropy"]


def _as_projection(L: np.ndarray) -> np.ndarray:
    """``L`` [J, N] of values ``L_n(theta_j)`` -> ``G`` [N, J] scaled by ``J^-1/2``; never NaN."""
    if not np.all(np.isfinite(L)):
        raise ValueError("L_n(theta_j) is not finite for some draw and pool point (a draw with zero noise "
                         "or probability exactly 0/1?)")
    return np.ascontiguousarray(L.T) / np.sqrt(L.shape[0])


@holds_blas
def gaussian_projections(mu, sigma, *, pred_mean=None, pred_var=None, entropy=None) -> np.ndarray:
    """Projections for a Gaussian likelihood (module docstring).

    Parameters
    ----------
    mu : array_like, shape (J, N)
        ``mu_n(theta_j)``: the mean of ``y_n`` under draw j.
    sigma : array_like, shape (J,)
        The noise sd of each draw (> 0).
    pred_mean, pred_var : array_like, shape (N,), optional
        Moments of the posterior predictive ``p(y_n | D0)``; by default estimated from the draws
        (``m_n = mean_j mu_jn``, ``v_n = mean_j sigma_j^2 + var_j mu_jn``).
    entropy : array_like, shape (N,), optional
        ``H[y_n | D0]``; by default that of a Gaussian with variance ``v_n``.

    Returns
    -------
    numpy.ndarray, shape (N, J)

    Raises
    ------
    ValueError
        Naming the argument (shapes, non-finite values, ``sigma <= 0``, ``pred_var <= 0``).
    """
    mu = finite_matrix(mu, "mu")
    J, N = mu.shape
    sigma = finite_vector(sigma, "sigma")
    if sigma.size != J or np.any(sigma <= 0.0):
        raise ValueError(f"sigma: expected {J} positive values (one per draw)")
    m = mu.mean(axis=0) if pred_mean is None else finite_vector(pred_mean, "pred_mean")
    v = (np.mean(sigma**2) + mu.var(axis=0)) if pred_var is None else finite_vector(pred_var, "pred_var")
    if m.size != N or v.size != N or np.any(v <= 0.0):
        raise ValueError(f"pred_mean/pred_var: expected {N} values, variances > 0")
    H = 0.5 * np.log(2.0 * np.pi * np.e * v) if entropy is None else finite_vector(entropy, "entropy")
    if H.size != N:
        raise ValueError(f"entropy: expected {N} values")
    s2 = (sigma**2)[:, None]  # [J, 1]
    L = -0.5 * np.log(2.0 * np.pi * s2) - ((m - mu) ** 2 + v) / (2.0 * s2) + H  # [J, N]
    return _as_projection(L)


def bernoulli_entropy(p) -> np.ndarray:
    """``-p log p - (1 - p) log(1 - p)`` in nats (0 at p = 0 or 1)."""
    p = np.asarray(p, dtype=np.float64)
    return -(special.xlogy(p, p) + special.xlogy(1.0 - p, 1.0 - p))


@holds_blas
def bernoulli_projections(log_p1, log_p0, *, pred_prob=None) -> np.ndarray:
    """Projections for a Bernoulli likelihood: ``L_n(theta) = p_n log q_n + (1 - p_n) log(1 - q_n) + H(p_n)``.

    Parameters
    ----------
    log_p1, log_p0 : array_like, shape (J, N)
        ``log q_n(theta_j)`` and ``log(1 - q_n(theta_j))``, each computed stably by the caller (probit:
        ``scipy.special.log_ndtr(+-z)``).
    pred_prob : array_like, shape (N,), optional
        ``p_n = p(y_n = 1 | D0)``; by default ``mean_j q_n(theta_j)``.

    Returns
    -------
    numpy.ndarray, shape (N, J)
    """
    log_p1 = finite_matrix(log_p1, "log_p1")
    log_p0 = finite_matrix(log_p0, "log_p0", rows=log_p1.shape[0], cols=log_p1.shape[1])
    p = np.exp(log_p1).mean(axis=0) if pred_prob is None else finite_vector(pred_prob, "pred_prob")
    if p.size != log_p1.shape[1] or np.any((p < 0.0) | (p > 1.0)):
        raise ValueError(f"pred_prob: expected {log_p1.shape[1]} probabilities")
    L = p * log_p1 + (1.0 - p) * log_p0 + bernoulli_entropy(p)  # [J, N]
    return _as_projection(L)


@holds_blas
def monte_carlo_projections(model, idata, pool_data: dict, *, n_projections: int, n_outcomes: int,
                            rng: np.random.Generator, observed: str = "y", observed_data: str = "y_obs",
                            obs_dim: str = "obs") -> np.ndarray:
    """Projections for any likelihood PyMC evaluates pointwise, by Monte Carlo over the predictive outcomes.

    The model must hold its inputs and its observed outputs in ``pm.Data`` containers (as
    :func:`bayes_zoo.models.linear.build_linear_model` and :func:`bayes_zoo.models.probit.build_probit_model` do).  Steps: set the
    containers to the pool (``pool_data``; the observed container to placeholders), draw ``n_outcomes``
    outcomes per pool point from the posterior predictive (``pm.sample_posterior_predictive`` on as many
    posterior draws), then evaluate ``log p(y_n^(s) | theta_j)`` for ``n_projections`` other posterior draws
    with ``pm.compute_log_likelihood`` on the pool repeated ``n_outcomes`` times — one compiled function for
    the whole pool, no refitting.  The model's data are restored before returning.

    Parameters
    ----------
    model : pymc.Model
    idata : arviz.InferenceData
        With a ``posterior`` group of at least ``n_projections + n_outcomes`` draws (chains pooled); the
        projection draws and the outcome draws are disjoint.
    pool_data : dict of str to numpy.ndarray
        New values of the model's input containers at the N pool points (e.g. ``{"Phi": Phi_pool}``).
    n_projections : int >= 1
        J.
    n_outcomes : int >= 1
        S, outcomes per pool point for the expectation over ``y_n`` and for ``H_n``.
    rng : numpy.random.Generator
        Chooses the draws and seeds the predictive sampling.
    observed, observed_data, obs_dim : str
        Names of the likelihood variable, of the container of its observed values, and of its dimension.

    Returns
    -------
    numpy.ndarray, shape (N, J)

    Raises
    ------
    ValueError
        Naming ``idata`` (too few draws), ``pool_data`` (unknown container or inconsistent lengths), or the
        counts.
    """
    import pymc as pm

    from bayes_zoo.inference.nuts import quiet_pymc

    rng = generator(rng)
    J, S = positive_int(n_projections, "n_projections"), positive_int(n_outcomes, "n_outcomes")
    posterior = idata.posterior.stack(sample=("chain", "draw"))
    total = posterior.sizes["sample"]
    if total < J + S:
        raise ValueError(f"idata: {total} posterior draws, need n_projections + n_outcomes = {J + S}")
    named = {name for name in model.named_vars}
    lengths = {np.shape(v)[0] for v in pool_data.values()}
    if not pool_data or not set(pool_data) <= named or len(lengths) != 1:
        raise ValueError(f"pool_data: expected containers of the model ({sorted(named)}) with one common length")
    N = lengths.pop()
    order = rng.permutation(total)
    theta = posterior.isel(sample=order[:J])
    outcome_draws = posterior.isel(sample=order[J:J + S])

    def as_idata(sub):  # one chain of the chosen draws
        import arviz as az

        sub = sub.drop_vars(["chain", "draw", "sample"]).rename({"sample": "draw"}) if "sample" in sub.dims else sub
        return az.InferenceData(posterior=sub.expand_dims(chain=1).assign_coords(draw=np.arange(sub.sizes["draw"])))

    saved = {name: model[name].get_value() for name in list(pool_data) + [observed_data]}
    saved_coord = model.coords.get(obs_dim)
    with quiet_pymc():  # no "Sampling: [y]" line per call
        try:
            # outcomes y_n^(s) ~ p(y | x_n, D0): one per outcome draw and pool point
            pm.set_data({**pool_data, observed_data: np.zeros(N)}, model=model, coords={obs_dim: np.arange(N)})
            seed = int(rng.integers(2**31))
            pp = pm.sample_posterior_predictive(as_idata(outcome_draws), model=model, var_names=[observed],
                                                random_seed=seed, progressbar=False, return_inferencedata=True)
            outcomes = pp.posterior_predictive[observed].values.reshape(S, N)  # [S, N]
            # log p(y_n^(s) | theta_j) on the pool repeated S times
            repeated = {k: np.concatenate([np.asarray(v)] * S, axis=0) for k, v in pool_data.items()}
            pm.set_data({**repeated, observed_data: outcomes.reshape(-1)}, model=model,
                        coords={obs_dim: np.arange(N * S)})
            ll = pm.compute_log_likelihood(as_idata(theta), model=model, var_names=[observed],
                                           extend_inferencedata=False, progressbar=False)
            log_lik = ll[observed].values.reshape(J, S, N)  # [J, S, N]
        finally:
            pm.set_data(saved, model=model, coords={obs_dim: saved_coord} if saved_coord is not None else None)
    log_pred = special.logsumexp(log_lik, axis=0) - np.log(J)  # [S, N] log p^(y_n^(s) | D0)
    L = log_lik.mean(axis=1) - log_pred.mean(axis=0)  # [J, N]
    return _as_projection(L)


@holds_blas
def linear_euclidean_gram(X, cov, noise_var: float) -> DenseGram:
    """The closed-form ``K_2`` of Bayesian linear regression with known noise (module docstring).

    Parameters
    ----------
    X : array_like, shape (N, P)
        Pool features.
    cov : array_like, shape (P, P)
        The Gaussian posterior covariance ``Sigma`` of the weights.
    noise_var : float > 0
        ``sigma^2``.

    Returns
    -------
    DenseGram
        N x N: for tests and small pools.
    """
    X = finite_matrix(X, "X")
    cov = finite_matrix(cov, "cov", rows=X.shape[1], cols=X.shape[1])
    if not (np.isfinite(noise_var) and noise_var > 0):
        raise ValueError(f"noise_var: expected a positive number, got {noise_var}")
    S = X @ cov @ X.T  # [N, N]
    s = np.diag(S) / noise_var  # [N]
    e = 0.5 * (np.log1p(s) - s) - 0.5 * s  # [N] E[L_n]
    return DenseGram(np.outer(e, e) + S**2 / (2.0 * noise_var**2))
