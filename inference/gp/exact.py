"""The exact GP regression posterior by hand: Cholesky predictive, log marginal likelihood and its gradient,
type-II maximum likelihood.

Model (see :mod:`bayes_zoo.models.gp`)::

    f ~ GP(0, k),  k(x, x') = eta^2 exp(-sum_d (x_d - x'_d)^2 / (2 ell_d^2))     X: (N, D), y: (N,)
    y = f(X) + e,  e ~ N(0, sigma^2 I)

Throughout, ``K = k(X, X)`` (``[N, N]``), ``j`` the jitter and ``C = K + (sigma^2 + j) I = L L^T``.

**Prediction** (Rasmussen & Williams 2006, GPML Algorithm 2.1, eqs. 2.25–2.26).  ``alpha = C^-1 y``
(two triangular solves), and at test inputs ``X*`` with ``k* = k(X, X*)`` (``[N, M]``),
``v = L^-1 k*``::

    mean = k*^T alpha                      [M]
    var  = k(x*, x*) - |v|^2 (per column)  [M]      cov = k(X*, X*) - v^T v   [M, M]

The variance is a difference of two nearly equal positive numbers where the data pin f down, so rounding
can make it slightly negative; it is clipped at 0 only after checking that the negative part is at
round-off level (:data:`NEGATIVE_VARIANCE_RTOL` times the prior variance ``eta^2``); anything larger raises
``FloatingPointError`` — it would be a bug, not round-off.  ``include_noise`` adds ``sigma^2`` (y instead of f).

The jitter is a stabiliser of ``C`` only: ``k*`` and ``k(x*, x*)`` carry none, exactly as PyMC's
``Marginal.predict(diag=True)`` (see :mod:`bayes_zoo.models.gp` for where PyMC puts its jitter).

**f at the training inputs** (:func:`posterior_at_training_inputs`) treats the jitter as part of f's prior
covariance, ``f ~ N(0, K + j I)``, as PyMC's ``Latent.prior`` does, so that it is the exact posterior of
:func:`bayes_zoo.models.gp.build_latent_model` at the same jitter.  With ``K_j = K + j I = C - sigma^2 I``::

    E[f | y]   = K_j C^-1 y = y - sigma^2 alpha                                      [N]
    Cov[f | y] = K_j - K_j C^-1 K_j = sigma^2 I - sigma^4 C^-1                       [N, N]

(GPML eqs. 2.25–2.26 at X* = X with ``K_j`` for ``K``, rewritten with ``K_j C^-1 = I - sigma^2 C^-1``:
no cross-covariance to form, and with sigma = 0 it gives f = y and a zero covariance exactly).

**Log marginal likelihood** (GPML eq. 2.30, Algorithm 2.1 line 8), as named terms
(:func:`log_marginal_likelihood_terms`)::

    log p(y | X, theta) = -1/2 y^T alpha            "data_fit"
                          - sum_i log L_ii          "complexity"   (= -1/2 log|C|)
                          - N/2 log(2 pi)           "constant"

**Gradient** (GPML eq. 5.9) with respect to the log-hyperparameters ``theta``::

    d log p / d theta = 1/2 tr((alpha alpha^T - C^-1) dC/dtheta)

    dC / d log eta   = 2 K
    dC / d log ell_d = K o (x_d - x_d')^2 / ell_d^2       (o: elementwise; summed over d for a shared ell)
    dC / d log sigma = 2 sigma^2 I

Computed without forming any of them: LAPACK ``dpotri`` turns ``L`` into ``C^-1`` (lower triangle, ``2 N^3 / 3``
flops, a third of two triangular solves against the identity), and one compiled pass over the pairs ``i > j``
(``W`` and ``K`` are symmetric) accumulates ``sum W o K`` and, per input dimension ``d``, ``1/2 sum W o K o
(x_d - x_d')^2 / ell_d^2``, recomputing ``K[i, j]`` from the pair's distance: O(N^2 D) time, O(N) memory beyond
``C^-1``, no ``N x N x D`` tensor.

The jitter is held fixed (it is not a hyperparameter).  With ``sigma = 0`` (the noiseless model) log sigma
is ``-inf`` and no gradient in it exists: the parameter vector (:func:`log_parameters`) then leaves it out,
and :func:`fit_type2_ml` keeps sigma at 0.

**Type-II maximum likelihood** (GPML sec. 5.4.1): :func:`fit_type2_ml` maximises the log marginal
likelihood over the log-hyperparameters with L-BFGS-B and the analytic gradient, from the given start and
from random starts drawn uniformly in the log-bounds (``numpy.random.default_rng(seed)``).  L-BFGS-B moves
``log eta^2``, ``log ell``, ``log sigma^2`` (:data:`LBFGSB_SCALE`) with SciPy's default tolerances
(:data:`LBFGSB_OPTIONS`): scikit-learn's ``GaussianProcessRegressor`` parameterisation and settings, so from
the same start both follow the same path to the same optimum in the same number of evaluations (measured in
``benchmarks/bench_gp_exact.py``; tested).

**One factorisation.**  ``C`` is formed once, its lower triangle only (what ``dpotrf`` reads; half the
exponentials), Fortran-ordered (:func:`bayes_zoo.models.gp.exp_quad_gram_lower`), and factorised in its own memory
(:func:`bayes_zoo.inference.gp.linalg.cholesky_in_place`, LAPACK ``dpotrf``, no copy): a matrix that is not
positive definite in floating point is formed again with more jitter and a
:class:`~bayes_zoo.inference.gp.linalg.JitterWarning`, then a ``ValueError`` names the fix.  The
:class:`ExactGP` that :func:`posterior` returns carries what everything else needs: prediction
(:func:`predict`), the log marginal likelihood (:attr:`ExactGP.log_marginal_likelihood`, O(N) from ``L`` and
``alpha``) and its gradient (:meth:`ExactGP.log_marginal_likelihood_and_grad`).  :func:`predict` forms ``k*`` in the
Fortran order the triangular solve (LAPACK ``dtrtrs``) overwrites (:func:`bayes_zoo.models.gp.exp_quad_cross`):
no copy or transpose.  Measured (``benchmarks/bench_gp_exact.py``, N = 2,000, one thread): ``dpotrf`` ~65 ms,
the solve for 200 test points ~19 ms, everything else ~7 ms (K's lower triangle ~4 ms).  The functions of ``(X, y,
hyper)`` (:func:`log_marginal_likelihood`, :func:`log_marginal_likelihood_and_grad`) factorise once each; the
latter, and :func:`fit_type2_ml`'s objective, run ``dpotri`` in the factor's own memory.

**Threads.**  Every public entry point runs its BLAS and LAPACK work under the project's one policy,
:func:`bayes_zoo.inference.threads.holds_blas` (one thread by default; measured on 2 cores in
``benchmarks/bench_gp_exact.py``); nothing here sets a thread limit of its own.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd
from scipy import linalg, optimize, stats

from bayes_zoo.inference.gp.linalg import JitterWarning, cholesky_in_place, inverse_from_cholesky, warn_jitter
from bayes_zoo.inference.threads import blas_held, holds_blas
from bayes_zoo.models.checks import instance, nonnegative_int, positive_int, positive_scalar
from bayes_zoo.models.gp import (GPHyperparameters, as_inputs, check_data, check_jitter, conflicting_duplicates,
                                  exp_quad, exp_quad_cross, exp_quad_gram_lower)

__all__ = [
    "NEGATIVE_VARIANCE_RTOL",
    "ExactGP",
    "log_likelihood_of_f",
    "log_likelihood_summary",
    "posterior",
    "predict",
    "posterior_at_training_inputs",
    "loo_log_predictive",
    "sample_at_training_inputs",
    "with_loo_log_likelihood",
    "exact_summary",
    "log_marginal_likelihood_terms",
    "log_marginal_likelihood",
    "log_parameter_names",
    "log_parameters",
    "from_log_parameters",
    "log_marginal_likelihood_and_grad",
    "Type2MLBounds",
    "LBFGSB_OPTIONS",
    "default_bounds",
    "CONVERGED",
    "ITERATION_LIMIT",
    "EVALUATION_LIMIT",
    "LINE_SEARCH_FAILURE",
    "LIMITS",
    "stop_reason",
    "stops_markdown",
    "Restart",
    "Type2MLResult",
    "fit_type2_ml",
    "STATIONARITY_STEP",
    "STATIONARITY_TOL",
    "Stationarity",
    "stationarity",
]

#: A computed variance below ``-NEGATIVE_VARIANCE_RTOL * eta^2`` is not round-off: ``FloatingPointError``.
NEGATIVE_VARIANCE_RTOL = 1e-8

_Z95 = float(stats.norm.ppf(0.95))  # 1.6449: q05 and q95 of a Gaussian marginal are mean -/+ _Z95 sd


def _frozen(a: np.ndarray, *, copy: bool = True) -> np.ndarray:
    """A read-only float64 array: a copy (the caller's arrays stay writable), or, for an array this module
    just made (``copy=False``), the array itself."""
    a = np.array(a, dtype=np.float64) if copy else np.asarray(a, dtype=np.float64)
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class ExactGP:
    """The exact posterior of GP regression given data and hyperparameters (see :func:`posterior`).

    Attributes
    ----------
    X : numpy.ndarray, shape (N, D)
    y : numpy.ndarray, shape (N,)
    hyper : GPHyperparameters
    L : numpy.ndarray, shape (N, N), Fortran-ordered
        Lower Cholesky factor of ``C = K + (sigma^2 + jitter) I`` (upper triangle zero).
    alpha : numpy.ndarray, shape (N,)
        ``C^-1 y``.
    jitter : float
        The jitter actually added (more than asked for if the factorisation needed it).

    The arrays are read-only (and instances compare by identity).  The log marginal likelihood and its
    gradient come from the same factorisation: :attr:`log_marginal_likelihood`,
    :meth:`log_marginal_likelihood_terms`, :meth:`log_marginal_likelihood_and_grad`.
    """

    X: np.ndarray
    y: np.ndarray
    hyper: GPHyperparameters
    L: np.ndarray
    alpha: np.ndarray
    jitter: float

    @holds_blas
    def covariance_inverse(self) -> np.ndarray:
        """``C^-1``, shape ``(N, N)``, symmetric, from the Cholesky factor by LAPACK ``dpotri``
        (:func:`~bayes_zoo.inference.gp.linalg.inverse_from_cholesky`; a new, writable array)."""
        return inverse_from_cholesky(self.L)

    def log_marginal_likelihood_terms(self) -> dict[str, float]:
        """The log marginal likelihood of the data under this posterior's hyperparameters and jitter, as the
        named terms of :func:`log_marginal_likelihood_terms` (GPML eq. 2.30), from this factorisation: O(N),
        no second Cholesky."""
        return _terms(self)

    @property
    def log_marginal_likelihood(self) -> float:
        """``log p(y | X, hyper)`` in nats (GPML eq. 2.30) with this posterior's jitter, from its own factor
        ``L`` and ``alpha`` (O(N): the Cholesky that conditioned the GP is the one the likelihood needs).
        Equals :func:`log_marginal_likelihood` ``(X, y, hyper, jitter=gp.jitter)`` (to rounding)."""
        return float(sum(_terms(self).values()))

    @holds_blas
    def log_marginal_likelihood_and_grad(self) -> tuple[float, np.ndarray]:
        """The log marginal likelihood (nats) and its gradient in :func:`log_parameters` (GPML eq. 5.9), from
        this factorisation: one ``dpotri`` on a copy of ``L`` (the posterior stays usable) and one pass over
        the lower triangle of ``C^-1`` (no ``N x N x D`` tensor).

        Returns
        -------
        value : float
        grad : numpy.ndarray, shape (P + 2,) or (P + 1,)
            As :func:`log_marginal_likelihood_and_grad`.
        """
        return _value_and_grad(self.X, self.y, self.hyper, self.L, self.alpha, overwrite=False)


@holds_blas
def posterior(X, y, hyper: GPHyperparameters, *, jitter: float = 0.0) -> ExactGP:
    """Condition the GP on data: the Cholesky factor of ``C = K + (sigma^2 + jitter) I`` and ``alpha``.

    GPML Algorithm 2.1, lines 2–3: ``C`` formed once, factorised in its own memory (LAPACK ``dpotrf``).  The
    result also gives the log marginal likelihood (:attr:`ExactGP.log_marginal_likelihood`) and its gradient
    without factorising again.

    Parameters
    ----------
    X : array_like, shape (N, D) or (N,)
        A 1-D array is N points of one dimension.
    y : array_like, shape (N,)
    hyper : GPHyperparameters
    jitter : float >= 0
        Added to the diagonal of ``K + sigma^2 I`` (``bayes_zoo.models.gp.PYMC_JITTER`` reproduces PyMC).

    Returns
    -------
    ExactGP

    Warns
    -----
    JitterWarning
        If ``C`` needed more jitter than asked for (duplicate inputs with sigma = 0, very long lengthscales).

    Raises
    ------
    ValueError
        Naming ``X``, ``y``, ``hyper``, ``lengthscale`` or ``jitter`` for bad input; naming the fix when
        ``C`` stays numerically singular whatever the jitter.  With no noise at all (``sigma = 0`` and
        ``jitter = 0``), naming ``y`` when the data are impossible under the model, before any jitter could
        turn the contradiction into certainty:

        * identical inputs with different outputs (:func:`bayes_zoo.models.gp.conflicting_duplicates`):
          probability zero, refused before factorising;
        * in general, when ``C`` needed an escalated jitter ``j`` (it is singular in floating point) and that
          jitter carries the data's fit: ``j |alpha|^2``, the part of ``y^T C^-1 y`` it accounts for (the
          sensitivity ``-d(y^T C^-1 y) / d log j``), exceeds ``N``, what the whole fit averages under the
          model.  Data the singular matrix can produce (equal duplicates, smooth data at a long lengthscale)
          give a share near 0 and pass, with the ``JitterWarning``.  Near-duplicates with different outputs,
          or rough data at a lengthscale far longer than their spacing, do not.

        Any ``sigma > 0`` or ``jitter > 0`` is a model with that much noise, which gives every data set
        positive probability: never refused on these grounds.
    """
    X, y, hyper, jitter = _checked(X, y, hyper, jitter)
    L, alpha, used = _factorise(X, y, hyper, jitter)
    return ExactGP(_frozen(X), _frozen(y), hyper, _frozen(L, copy=False), _frozen(alpha, copy=False), float(used))


def _checked(X, y, hyper, jitter):
    """The arguments of :func:`posterior`, checked (ValueError naming the bad one), before any O(N^2) work;
    noiseless data with conflicting duplicates refused."""
    X, y = check_data(X, y)
    hyper = instance(hyper, GPHyperparameters, "hyper")
    hyper.lengthscales(X.shape[1])  # ARD lengthscales of the right dimension
    jitter = check_jitter(jitter)
    noiseless = hyper.sigma**2 + jitter == 0.0  # the model asked for puts no variance on y beyond f's
    if noiseless:
        conflicts = conflicting_duplicates(X, y)
        if conflicts:
            i, j = conflicts[0]
            raise ValueError(
                f"y: inputs X[{i}] and X[{j}] coincide but y[{i}] = {y[i]:.6g} and y[{j}] = {y[j]:.6g} differ "
                f"({len(conflicts)} such pair{'s' if len(conflicts) > 1 else ''}), and with sigma = 0 and no jitter "
                "the model has no noise: it gives these data probability zero (f takes one value at one input).  "
                "Use sigma > 0 or a jitter > 0 (the model then has that much noise), or drop the conflicting "
                "duplicates")
    return X, y, hyper, jitter


def _factorise(X: np.ndarray, y: np.ndarray, hyper: GPHyperparameters, jitter: float):
    """``L`` (Fortran-ordered, in the memory ``K`` was formed in), ``alpha`` and the jitter used, for checked
    arguments; refuses data a noiseless model cannot produce (see :func:`posterior`)."""
    ell = hyper.lengthscales(X.shape[1])
    s2 = hyper.sigma**2

    def make():  # [N, N] Fortran-ordered K + sigma^2 I, its lower triangle only (what dpotrf reads)
        return exp_quad_gram_lower(X, hyper.eta, ell, s2)

    what = "K + sigma^2 I (the GP's covariance of y)"
    L, used = cholesky_in_place(make, jitter=jitter, what=what, warn=False)  # [N, N], Fortran order
    alpha = linalg.cho_solve((L, True), y, check_finite=False)  # [N]
    if used > jitter:
        share = (used - jitter) * float(alpha @ alpha)  # the escalated jitter's part of y^T C^-1 y
        if s2 + jitter == 0.0 and share > y.size:
            raise ValueError(
                f"y: the noiseless model (sigma = 0, no jitter) cannot produce these data: {what} is singular "
                f"in floating point and y lies off the subspace it spans.  The jitter that made it factorise "
                f"({used:.3g}) would account for {share:.3g} of the data fit y^T C^-1 y, whose expectation under "
                f"the model is N = {y.size}: the answer would be the jitter's, not the model's (a posterior sure "
                "of what the model forbids).  Use sigma > 0 or a jitter > 0, or a shorter lengthscale")
        warn_jitter(what, used, jitter, stacklevel=4)  # the caller of posterior (through holds_blas)
    return L, alpha, used


def _nonnegative(var: np.ndarray, scale: float, what: str) -> np.ndarray:
    """``var`` clipped at 0, after checking that what is negative is at round-off level relative to ``scale``."""
    worst = float(np.min(var)) if var.size else 0.0
    if worst < -NEGATIVE_VARIANCE_RTOL * scale:
        raise FloatingPointError(
            f"{what}: a variance came out {worst:.3g}, beyond round-off ({NEGATIVE_VARIANCE_RTOL:g} x {scale:.3g}); "
            "the covariance of y is too ill-conditioned: raise sigma or the jitter")
    return np.maximum(var, 0.0)


@holds_blas
def predict(gp: ExactGP, X_new, *, full_cov: bool = False, include_noise: bool = False):
    """Predictive mean and variance (or covariance) of f (or y) at new inputs.

    GPML Algorithm 2.1, lines 4–6 (eqs. 2.25–2.26); see the module docstring for the variance's clipping.

    Parameters
    ----------
    gp : ExactGP
    X_new : array_like, shape (M, D) or (M,)
    full_cov : bool
        Return the ``(M, M)`` covariance instead of the ``(M,)`` variances (its diagonal clipped as the
        variances are).
    include_noise : bool
        Predict ``y* = f* + e`` (adds ``sigma^2``) instead of ``f*``.

    Returns
    -------
    mean : numpy.ndarray, shape (M,)
    var : numpy.ndarray, shape (M,), every entry >= 0; or cov : numpy.ndarray, shape (M, M)

    Raises
    ------
    ValueError
        ``gp`` not an :class:`ExactGP`; ``X_new`` bad or of another dimension.
    FloatingPointError
        A variance negative beyond round-off.
    """
    gp = instance(gp, ExactGP, "gp")
    X_new = as_inputs(X_new, "X_new", dims=gp.X.shape[1])
    hyper = gp.hyper
    ell = hyper.lengthscales(gp.X.shape[1])
    Ks = exp_quad_cross(gp.X, X_new, hyper.eta, ell)  # [N, M], Fortran order: solved in place below
    mean = Ks.T @ gp.alpha  # [M]
    v = linalg.solve_triangular(gp.L, Ks, lower=True, check_finite=False, overwrite_b=True)  # [N, M]
    noise = hyper.sigma**2 if include_noise else 0.0
    if full_cov:
        cov = exp_quad(X_new, X_new, hyper.eta, ell) - v.T @ v  # [M, M]
        np.fill_diagonal(cov, _nonnegative(np.diag(cov).copy(), hyper.eta**2, "X_new") + noise)
        return mean, cov
    var = hyper.eta**2 - np.einsum("nm,nm->m", v, v)  # [M]
    return mean, _nonnegative(var, hyper.eta**2, "X_new") + noise


@holds_blas
def posterior_at_training_inputs(gp: ExactGP):
    """Exact posterior of f at the training inputs, with f's prior covariance ``K + jitter I``.

    ``E[f | y] = y - sigma^2 alpha``, ``Cov[f | y] = sigma^2 I - sigma^4 C^-1`` (module docstring): the
    posterior of :func:`bayes_zoo.models.gp.build_latent_model` at the same jitter.

    Parameters
    ----------
    gp : ExactGP

    Returns
    -------
    mean : numpy.ndarray, shape (N,)
    cov : numpy.ndarray, shape (N, N), diagonal >= 0
    """
    gp = instance(gp, ExactGP, "gp")
    s2 = gp.hyper.sigma**2
    mean = gp.y - s2 * gp.alpha  # [N]
    cov = -(s2**2) * gp.covariance_inverse()  # [N, N]
    cov[np.diag_indices_from(cov)] = _nonnegative(np.diag(cov) + s2, gp.hyper.eta**2, "X")
    return mean, cov


@holds_blas
def loo_log_predictive(gp: ExactGP) -> np.ndarray:
    """Leave-one-out log predictive densities ``log p(y_i | y_-i, X, theta)`` in closed form (GPML eqs.
    5.10–5.12): with ``P = C^-1`` and ``alpha = C^-1 y``, ``y_i | y_-i`` is Gaussian with mean
    ``y_i - alpha_i / P_ii`` and variance ``1 / P_ii``, so ::

        log p(y_i | y_-i) = -1/2 log(2 pi) + 1/2 log P_ii - alpha_i^2 / (2 P_ii)

    These are the pointwise terms that leave-one-out cross-validation needs for a model whose observations
    are not independent given its parameters (y of ``gp.Marginal``, one MvNormal): Bürkner, Gabry & Vehtari
    (2021), "Efficient leave-one-out cross-validation for Bayesian non-factorized normal and Student-t models",
    Computational Statistics 36, 1243–1261.  Their sum is not ``log p(y | theta)``.

    Parameters
    ----------
    gp : ExactGP

    Returns
    -------
    numpy.ndarray, shape (N,)
    """
    gp = instance(gp, ExactGP, "gp")
    p_diag = np.diag(gp.covariance_inverse())  # [N]
    return -0.5 * np.log(2 * np.pi) + 0.5 * np.log(p_diag) - 0.5 * gp.alpha**2 / p_diag


@holds_blas
def sample_at_training_inputs(gp: ExactGP, rng: np.random.Generator, size: int) -> np.ndarray:
    """``size`` independent draws of f at the training inputs from :func:`posterior_at_training_inputs`, shape
    ``(size, N)``, through the symmetric eigendecomposition of the covariance (it can be numerically singular
    where the prior leaves only the jitter; eigenvalues that round below 0 are set to 0)."""
    mean, cov = posterior_at_training_inputs(gp)
    values, vectors = np.linalg.eigh(0.5 * (cov + cov.T))
    root = vectors * np.sqrt(np.clip(values, 0.0, None))  # [N, N]
    return mean + rng.standard_normal((positive_int(size, "size"), mean.size)) @ root.T


@holds_blas
def with_loo_log_likelihood(idata, X, y, *, jitter: float = 0.0):
    """``idata`` (NUTS on :func:`bayes_zoo.models.gp.build_marginal_model`) with its ``log_likelihood.y`` replaced
    by the leave-one-out terms ``log p(y_i | y_-i, eta, lengthscale, sigma)`` at each draw
    (:func:`loo_log_predictive`), dims ``(chain, draw, obs)``.

    ``gp.Marginal``'s ``y`` is one MvNormal: its observations are not independent given the hyperparameters,
    so PyMC's ``log_likelihood`` holds one joint term per draw, which ``az.loo`` would take for a single
    observation.  The conditional terms are what PSIS-LOO needs for such a model (Bürkner, Gabry & Vehtari
    2021); ``az.loo``/``az.compare`` then estimate the leave-one-out predictive density of each ``y_i``.  Their
    sum is not ``log p(y | theta)``; ``log_likelihood.attrs["y"]`` says so.
    """
    post = idata.posterior
    chains, draws = post.sizes["chain"], post.sizes["draw"]
    terms = np.empty((chains, draws, len(y)))
    for c in range(chains):
        for t in range(draws):
            hyper = GPHyperparameters(eta=float(post["eta"].values[c, t]), lengthscale=post["lengthscale"].values[c, t],
                                      sigma=float(post["sigma"].values[c, t]))
            terms[c, t] = loo_log_predictive(posterior(X, y, hyper, jitter=jitter))
    ll = idata.log_likelihood
    idata.log_likelihood = ll.assign(y=(("chain", "draw", "obs"), terms)).assign_coords(obs=np.arange(len(y)))
    idata.log_likelihood.attrs["y"] = (
        "log p(y_i | y_-i, eta, lengthscale, sigma), leave-one-out terms of the MvNormal y (GPML eqs. 5.10-5.12; "
        "Buerkner, Gabry & Vehtari 2021); their sum is not log p(y | theta)")
    return idata


@holds_blas
def exact_summary(gp: ExactGP, labels=None, *, var_name: str = "f") -> pd.DataFrame:
    """The exact reference table for :func:`bayes_zoo.inference.crossval.compare`: f's marginals at the training inputs.

    Each marginal is Gaussian, so ``q05 = mean - 1.6449 sd`` and ``q95 = mean + 1.6449 sd``.

    Parameters
    ----------
    gp : ExactGP
    labels : sequence, length N, optional
        Coordinate values of ``obs`` (default ``0 .. N-1``, as :func:`bayes_zoo.models.gp.build_latent_model` sets).
    var_name : str
        The variable's name in the sampled results.

    Returns
    -------
    pandas.DataFrame
        Index ``f[<label>]``, columns ``mean``, ``sd``, ``q05``, ``q95``.
    """
    mean, cov = posterior_at_training_inputs(gp)
    labels = list(range(mean.size)) if labels is None else list(labels)
    if len(labels) != mean.size:
        raise ValueError(f"labels: {len(labels)} labels for {mean.size} training inputs")
    sd = np.sqrt(np.diag(cov))  # [N]
    return pd.DataFrame(
        {"mean": mean, "sd": sd, "q05": mean - _Z95 * sd, "q95": mean + _Z95 * sd},
        index=pd.Index([f"{var_name}[{label}]" for label in labels], name="quantity"),
    )


def log_likelihood_of_f(gp: ExactGP, f) -> np.ndarray:
    """The log-likelihood of the training outputs at draws of f: ``sum_i log N(y_i | f_i, sigma^2)``.

    Parameters
    ----------
    gp : ExactGP
    f : array_like, shape (..., N)
        Draws of f at the training inputs.

    Returns
    -------
    numpy.ndarray, shape (...)
        Nats.

    Raises
    ------
    ValueError
        If ``f``'s last axis is not N long.
    """
    gp = instance(gp, ExactGP, "gp")
    f = np.asarray(f, dtype=float)
    if f.shape[-1:] != gp.y.shape:
        raise ValueError(f"f: expected draws of shape (..., {gp.y.size}), got {f.shape}")
    s2 = gp.hyper.sigma**2
    return -0.5 * gp.y.size * np.log(2.0 * np.pi * s2) - 0.5 * np.sum((gp.y - f) ** 2, axis=-1) / s2


@holds_blas
def log_likelihood_summary(gp: ExactGP, *, name: str = "loglik") -> pd.DataFrame:
    """The exact mean and sd of :func:`log_likelihood_of_f` under f's posterior: a joint quantity's reference.

    With ``f | y ~ N(m, S)`` (:func:`posterior_at_training_inputs`), ``r = y - m`` and ``e = f - m``,
    ``||y - f||^2 = ||r||^2 - 2 r'e + e'e``; Gaussian odd moments vanish, so its mean is ``||r||^2 + tr S`` and
    its variance ``4 r'S r + 2 tr(S^2)``.  The log-likelihood is ``-N/2 log(2 pi sigma^2) - ||y - f||^2 /
    (2 sigma^2)``.  Its quantiles (of a generalised chi-square) have no closed form: they are given as
    ``inf``, which :func:`bayes_zoo.inference.crossval.compare` leaves out.

    Returns
    -------
    pandas.DataFrame
        One row, index ``name``; ``mean``, ``sd`` (nats), ``q05 = q95 = inf``.
    """
    mean, cov = posterior_at_training_inputs(gp)
    s2 = gp.hyper.sigma**2
    r = gp.y - mean  # [N]
    expected = -0.5 * gp.y.size * np.log(2.0 * np.pi * s2) - (r @ r + np.trace(cov)) / (2.0 * s2)
    sd = np.sqrt(4.0 * r @ cov @ r + 2.0 * np.sum(cov * cov)) / (2.0 * s2)
    return pd.DataFrame({"mean": [expected], "sd": [sd], "q05": [np.inf], "q95": [np.inf]},
                        index=pd.Index([name], name="quantity"))


def _terms_of(L: np.ndarray, alpha: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """GPML eq. 2.30's terms from ``L`` [N, N], ``alpha`` [N] and ``y`` [N]: O(N)."""
    return {
        "data_fit": float(-0.5 * y @ alpha),
        "complexity": float(-np.sum(np.log(np.diagonal(L)))),
        "constant": float(-0.5 * y.size * np.log(2 * np.pi)),
    }


def _terms(gp: ExactGP) -> dict[str, float]:
    return _terms_of(gp.L, gp.alpha, gp.y)


@holds_blas
def log_marginal_likelihood_terms(X, y, hyper: GPHyperparameters, *, jitter: float = 0.0) -> dict[str, float]:
    """The log marginal likelihood ``log N(y | 0, K + (sigma^2 + jitter) I)`` as named terms (GPML eq. 2.30).

    Parameters
    ----------
    X : array_like, shape (N, D) or (N,)
    y : array_like, shape (N,)
    hyper : GPHyperparameters
    jitter : float >= 0

    Returns
    -------
    dict
        ``data_fit`` (``-y^T alpha / 2``), ``complexity`` (``-log|C| / 2``), ``constant``
        (``-N log(2 pi) / 2``); their sum is :func:`log_marginal_likelihood`.
    """
    return _terms(posterior(X, y, hyper, jitter=jitter))


@holds_blas
def log_marginal_likelihood(X, y, hyper: GPHyperparameters, *, jitter: float = 0.0) -> float:
    """``log p(y | X, hyper)`` in nats, the sum of :func:`log_marginal_likelihood_terms` (same arguments; one
    factorisation).  Holding a posterior of the same arguments, read :attr:`ExactGP.log_marginal_likelihood`
    instead: no second factorisation."""
    return float(sum(log_marginal_likelihood_terms(X, y, hyper, jitter=jitter).values()))


# --------------------------------------------------------------------------------------------------------
# Log-hyperparameters and the gradient
# --------------------------------------------------------------------------------------------------------


def log_parameter_names(hyper: GPHyperparameters) -> list[str]:
    """Names of the entries of :func:`log_parameters`: ``log_eta``, ``log_lengthscale`` (or
    ``log_lengthscale[d]`` per ARD dimension), then ``log_sigma`` unless ``sigma == 0``."""
    ell = np.atleast_1d(hyper.lengthscale)
    names = ["log_eta"] + (["log_lengthscale"] if np.ndim(hyper.lengthscale) == 0
                           else [f"log_lengthscale[{d}]" for d in range(ell.size)])
    return names + (["log_sigma"] if hyper.sigma > 0 else [])


def log_parameters(hyper: GPHyperparameters) -> np.ndarray:
    """``[log eta, log ell_1 .. log ell_P, log sigma]``, shape ``(P + 2,)`` (P = 1 for a shared lengthscale,
    D for ARD); without ``log sigma`` (shape ``(P + 1,)``) when ``sigma == 0``, the noiseless model."""
    hyper = instance(hyper, GPHyperparameters, "hyper")
    ell = np.atleast_1d(np.asarray(hyper.lengthscale, dtype=np.float64))
    tail = [np.log(hyper.sigma)] if hyper.sigma > 0 else []
    return np.concatenate([[np.log(hyper.eta)], np.log(ell), tail])


def from_log_parameters(theta, template: GPHyperparameters) -> GPHyperparameters:
    """The inverse of :func:`log_parameters`; ``template`` says whether the lengthscale is shared or ARD and
    whether sigma is 0 (kept at 0)."""
    theta = np.asarray(theta, dtype=np.float64)
    expected = log_parameters(template).size
    if theta.shape != (expected,):
        raise ValueError(f"theta: expected shape ({expected},), got {theta.shape}")
    p = expected - 1 - (template.sigma > 0)
    ell = np.exp(theta[1:1 + p])
    return GPHyperparameters(
        eta=float(np.exp(theta[0])),
        lengthscale=float(ell[0]) if np.ndim(template.lengthscale) == 0 else tuple(ell),
        sigma=float(np.exp(theta[-1])) if template.sigma > 0 else 0.0,
    )


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract", "nsz"})
def _gradient_sums(At, alpha, P, eta2):
    """The sums GPML eq. 5.9 needs, over the lower triangle of ``W = alpha alpha^T - C^-1`` only (``W`` and
    ``K`` are symmetric), one column of pairs at a time: no ``[N, N]`` ``W`` or ``K`` and no ``[N, N, D]``
    tensor is formed; ``K[i, j] = eta2 exp(-r2 / 2)`` is recomputed from the pair's scaled distance.

    ``At`` [D, N] (``(X / ell)^T``, C-contiguous), ``alpha`` [N], ``P`` [N, N] with ``C^-1`` in its lower
    triangle (``dpotri``'s output; the upper triangle is not read), ``eta2 = eta^2``.  Returns
    ``(sum_ij W_ij K_ij, s [D], tr W)`` with ``s_d = 1/2 sum_ij W_ij K_ij (x_id - x_jd)^2 / ell_d^2``.
    """
    d, n = At.shape
    r2 = np.empty(n)  # [N] scaled squared distances of column j's pairs
    wk = np.empty(n)  # [N] W_ij K_ij of column j's pairs
    s = np.zeros(d)  # [D]
    total = 0.0
    trace = 0.0
    for j in range(n):
        aj = alpha[j]
        w = aj * aj - P[j, j]
        trace += w
        total += w * eta2  # the diagonal once (K_jj = eta^2, no distance)
        for i in range(j + 1, n):
            r2[i] = 0.0
        for k in range(d):
            xj = At[k, j]
            for i in range(j + 1, n):
                t = At[k, i] - xj
                r2[i] += t * t
        col = 0.0
        for i in range(j + 1, n):
            v = (alpha[i] * aj - P[i, j]) * (eta2 * np.exp(-0.5 * r2[i]))
            wk[i] = v
            col += v
        total += 2.0 * col  # (i, j) and (j, i)
        for k in range(d):
            xj = At[k, j]
            acc = 0.0
            for i in range(j + 1, n):
                t = At[k, i] - xj
                acc += wk[i] * t * t
            s[k] += acc  # 1/2 x 2: both halves of the symmetric pair
    return total, s, trace


def _value_and_grad(X, y, hyper: GPHyperparameters, L, alpha, *, overwrite: bool) -> tuple[float, np.ndarray]:
    """GPML eq. 2.30 and 5.9 from the factor ``L`` [N, N] and ``alpha`` [N]; ``overwrite`` lets ``dpotri`` work
    in ``L``'s memory (a factor nobody needs afterwards)."""
    value = float(sum(_terms_of(L, alpha, y).values()))
    P = inverse_from_cholesky(L, overwrite=overwrite, full=False)  # [N, N], C^-1 in the lower triangle
    ell = hyper.lengthscales(X.shape[1])
    At = np.ascontiguousarray((X / ell).T)  # [D, N]
    total, s, trace = _gradient_sums(At, alpha, P, hyper.eta**2)
    d_log_eta = total  # 1/2 tr(W 2K)
    d_log_ell = s if np.ndim(hyper.lengthscale) != 0 else s.sum(keepdims=True)  # [D] or [1] (shared ell)
    tail = [hyper.sigma**2 * trace] if hyper.sigma > 0 else []  # 1/2 tr(W 2 sigma^2 I)
    return value, np.concatenate([[d_log_eta], d_log_ell, tail])


def _checked_value_and_grad(X, y, hyper, jitter) -> tuple[float, np.ndarray]:
    """Checked arguments, one factorisation, ``dpotri`` in its memory: the optimiser's objective."""
    L, alpha, _ = _factorise(X, y, hyper, jitter)
    return _value_and_grad(X, y, hyper, L, alpha, overwrite=True)


@holds_blas
def log_marginal_likelihood_and_grad(X, y, hyper: GPHyperparameters, *, jitter: float = 0.0):
    """The log marginal likelihood and its gradient in the log-hyperparameters (GPML eq. 5.9).

    Arguments as :func:`log_marginal_likelihood_terms`; the jitter is held fixed (not differentiated).

    Returns
    -------
    value : float
    grad : numpy.ndarray, shape (P + 2,) or (P + 1,)
        In the order of :func:`log_parameters` (no ``log sigma`` entry when ``sigma == 0``: there the
        noiseless model has no log sigma to differentiate), nats per unit of log-hyperparameter.

    One Cholesky (``dpotrf``) and one ``dpotri`` in its memory (``N^3`` flops in all), then one O(N^2 D) pass
    over the pairs (module docstring); O(N^2) memory, no ``N x N x D`` tensor.  Given a posterior already,
    :meth:`ExactGP.log_marginal_likelihood_and_grad` skips the Cholesky.

    Raises
    ------
    ValueError
        As :func:`posterior`, naming the argument, before any O(N^2) work.
    """
    X, y, hyper, jitter = _checked(X, y, hyper, jitter)
    return _checked_value_and_grad(X, y, hyper, jitter)


# --------------------------------------------------------------------------------------------------------
# Type-II maximum likelihood
# --------------------------------------------------------------------------------------------------------


def _interval(value, name: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a pair (low, high), got {value!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo < hi):
        raise ValueError(f"{name}: expected finite 0 < low < high, got ({lo}, {hi})")
    return lo, hi


@dataclass(frozen=True)
class Type2MLBounds:
    """Box constraints of type-II ML, in the hyperparameters' own units: ``(low, high)`` with ``0 < low < high``.

    ``lengthscale`` applies to every ARD dimension; ``sigma`` is unused when the start has ``sigma == 0``.
    """

    eta: tuple[float, float]
    lengthscale: tuple[float, float]
    sigma: tuple[float, float]

    def __post_init__(self):
        for name in ("eta", "lengthscale", "sigma"):
            object.__setattr__(self, name, _interval(getattr(self, name), name))

    def log_bounds(self, template: GPHyperparameters) -> list[tuple[float, float]]:
        """``(low, high)`` of each entry of :func:`log_parameters` ``(template)``, on the log scale."""
        rows = [self.eta] + [self.lengthscale] * (log_parameters(template).size - 1 - (template.sigma > 0))
        rows += [self.sigma] if template.sigma > 0 else []
        return [(float(np.log(lo)), float(np.log(hi))) for lo, hi in rows]


def default_bounds(X, y) -> Type2MLBounds:
    """Bounds on the scale of the data: ``eta`` in ``r x [1e-3, 1e3]``, ``sigma`` in ``r x [1e-6, 1e3]``
    (``r = sqrt(mean(y^2))``, 1 if y is all zeros), ``lengthscale`` in ``s x [1e-3, 1e3]`` (``s`` the largest
    range of an input column, 1 if all inputs coincide).

    Parameters
    ----------
    X : array_like, shape (N, D) or (N,)
    y : array_like, shape (N,)
    """
    X, y = check_data(X, y)
    r = float(np.sqrt(np.mean(y**2))) or 1.0
    s = float(np.ptp(X, axis=0).max()) or 1.0
    return Type2MLBounds(eta=(1e-3 * r, 1e3 * r), lengthscale=(1e-3 * s, 1e3 * s), sigma=(1e-6 * r, 1e3 * r))


#: L-BFGS-B's stopping tolerances in :func:`fit_type2_ml` (``scipy.optimize.minimize`` options; see the
#: function's docstring for why these values).
LBFGSB_OPTIONS = {"ftol": 2.220446049250313e-09, "gtol": 1e-5}
#: L-BFGS-B in :func:`fit_type2_ml` moves ``LBFGSB_SCALE x log eta`` and ``LBFGSB_SCALE x log sigma`` (with
#: 2: the log-variances ``log eta^2``, ``log sigma^2``) and ``log ell`` as they are.
LBFGSB_SCALE = 2.0

#: Why an L-BFGS-B run stopped (:func:`stop_reason`): its own convergence test passed (SciPy status 0) ...
CONVERGED = "converged"
#: ... it reached ``maxiter`` iterations (status 1) ...
ITERATION_LIMIT = "iteration limit"
#: ... or SciPy's limit on objective evaluations (status 1) ...
EVALUATION_LIMIT = "evaluation limit"
#: ... or its line search found no acceptable step (status 2, message "ABNORMAL"); any other status-2 stop is
#: reported as ``"abnormal: <SciPy's message>"``.
LINE_SEARCH_FAILURE = "line-search failure"
#: The reasons that mean a run was cut short by a limit, not stopped by its own test.
LIMITS = (ITERATION_LIMIT, EVALUATION_LIMIT)


def stop_reason(result) -> str:
    """Why ``scipy.optimize.minimize(method="L-BFGS-B")`` stopped, from its ``OptimizeResult``.

    SciPy (1.15+) sets ``status`` 0 when L-BFGS-B's convergence test passed (projected gradient <= ``gtol``
    or relative reduction of f <= ``ftol``), 1 when the iteration limit (``maxiter``, message "... ITERATIONS
    REACHED LIMIT") or the evaluation limit (``maxfun``, "... EVALUATIONS EXCEEDS LIMIT") stopped it, and 2
    otherwise; with 2, a message starting "ABNORMAL" is a failed line search (no step satisfying the Wolfe
    conditions: often rounding noise in f or an inconsistent gradient).

    Parameters
    ----------
    result : scipy.optimize.OptimizeResult
        With ``status`` (int) and ``message`` (str).

    Returns
    -------
    str
        :data:`CONVERGED`, :data:`ITERATION_LIMIT`, :data:`EVALUATION_LIMIT`, :data:`LINE_SEARCH_FAILURE`, or
        ``"abnormal: <message>"``.

    Raises
    ------
    ValueError
        ``result`` without an integer ``status`` in (0, 1, 2) or a ``message``.
    """
    status, message = getattr(result, "status", None), getattr(result, "message", None)
    if isinstance(status, bool) or not isinstance(status, int | np.integer) or status not in (0, 1, 2) \
            or not isinstance(message, str):
        raise ValueError(f"result: expected an L-BFGS-B OptimizeResult (status 0, 1 or 2 and a message), got "
                         f"status {status!r}, message {message!r}")
    if status == 0:
        return CONVERGED
    if status == 1:
        return EVALUATION_LIMIT if "EVALUATIONS" in message.upper() else ITERATION_LIMIT
    return LINE_SEARCH_FAILURE if message.upper().startswith("ABNORMAL") else f"abnormal: {message}"


def stops_markdown(label: str, stopped, iterations) -> str:
    """One markdown paragraph on why each optimiser run stopped, for a report; runs cut short by a limit
    (:data:`LIMITS`) are flagged in bold.

    Parameters
    ----------
    label : str
        What ran, e.g. ``"Type-II ML"``.
    stopped : sequence of str, length R
        Each run's :func:`stop_reason`, in run order (run 0 first).
    iterations : sequence of int, length R
        Each run's iteration count.

    Returns
    -------
    str
        E.g. ``"Type-II ML, why each run stopped: converged (5 of 5)."``, or with ``"**Run 2 stopped at a limit (iteration limit
        after 500 iterations) before converging: an end point that may not be an optimum.**"`` appended.

    Raises
    ------
    ValueError
        ``stopped`` and ``iterations`` of different lengths, or empty.
    """
    from collections import Counter

    stopped, iterations = list(stopped), list(iterations)
    if not stopped or len(stopped) != len(iterations):
        raise ValueError(f"iterations: expected one per run ({len(stopped)} runs), got {len(iterations)}")
    counts = Counter(stopped)
    text = f"{label}, why each run stopped: " + ", ".join(f"{why} ({n} of {len(stopped)})"
                                                          for why, n in counts.items()) + "."
    limited = [i for i, why in enumerate(stopped) if why in LIMITS]
    if limited:
        text += (f"  **Run{'s' if len(limited) > 1 else ''} {', '.join(map(str, limited))} stopped at "
                 f"{'a limit' if len(limited) == 1 else 'limits'} ("
                 + ", ".join(f"{stopped[i]} after {iterations[i]} iterations" for i in limited)
                 + ") before converging: an end point that may not be an optimum.**")
    return text


@dataclass(frozen=True)
class Restart:
    """One L-BFGS-B run of :func:`fit_type2_ml`.

    Attributes
    ----------
    start, end : GPHyperparameters
    log_marginal_likelihood : float
        At ``end``.
    gradient_norm : float
        Euclidean norm of the gradient in the log-hyperparameters at ``end`` (entries at an active bound
        included).
    success : bool
        SciPy's (``status == 0``).
    message : str
        SciPy's.
    iterations : int
    jitter_escalations : int
        Evaluations at which the Cholesky needed more jitter than asked for (their warnings are collected
        here instead of being raised; the objective there is that of a slightly stabilised matrix).
    status : int
        SciPy's ``OptimizeResult.status``: 0 converged, 1 a limit, 2 anything else.
    stopped : str
        Why the run stopped (:func:`stop_reason`): ``"converged"``, ``"iteration limit"``, ``"evaluation
        limit"``, ``"line-search failure"`` or ``"abnormal: <message>"``.
    evaluations : int
        Objective evaluations (value and gradient, one Cholesky each; SciPy's ``nfev``).
    """

    start: GPHyperparameters
    end: GPHyperparameters
    log_marginal_likelihood: float
    gradient_norm: float
    success: bool
    message: str
    iterations: int
    jitter_escalations: int
    status: int
    stopped: str
    evaluations: int = 0

    @property
    def at_limit(self) -> bool:
        """Whether the run was cut short by an iteration or evaluation limit (:data:`LIMITS`)."""
        return self.stopped in LIMITS


@dataclass(frozen=True)
class Type2MLResult:
    """Outcome of :func:`fit_type2_ml`.

    Attributes
    ----------
    hyper : GPHyperparameters
        The best end point over all runs.
    log_marginal_likelihood : float
        Its log marginal likelihood (with ``jitter``).
    best : int
        Index of the run that found it (0 = the given start).
    restarts : tuple of Restart
        Every run, the given start first.
    seed : int
    bounds : Type2MLBounds
    jitter : float
    """

    hyper: GPHyperparameters
    log_marginal_likelihood: float
    best: int
    restarts: tuple[Restart, ...]
    seed: int
    bounds: Type2MLBounds
    jitter: float

    @property
    def at_limit(self) -> tuple[int, ...]:
        """Indices of the runs cut short by an iteration or evaluation limit (:attr:`Restart.at_limit`)."""
        return tuple(i for i, r in enumerate(self.restarts) if r.at_limit)

    def table(self) -> pd.DataFrame:
        """One row per run: start and end hyperparameters, log marginal likelihood, analytic gradient norm,
        iterations, objective evaluations, why it stopped (``stopped``, :func:`stop_reason`) and whether it is the
        best."""
        rows = []
        for i, r in enumerate(self.restarts):
            row = {"run": i, "start": "given" if i == 0 else "random"}
            for label, h in (("start", r.start), ("end", r.end)):
                row |= {f"{label}_eta": h.eta, f"{label}_lengthscale": h.lengthscale, f"{label}_sigma": h.sigma}
            row |= {"log_marginal_likelihood": r.log_marginal_likelihood, "gradient_norm": r.gradient_norm,
                    "iterations": r.iterations, "evaluations": r.evaluations, "stopped": r.stopped,
                    "best": i == self.best}
            rows.append(row)
        return pd.DataFrame(rows).set_index("run")


def _check_within(hyper: GPHyperparameters, log_bounds) -> None:
    for name, value, (lo, hi) in zip(log_parameter_names(hyper), log_parameters(hyper), log_bounds):
        if not lo <= value <= hi:
            raise ValueError(f"init: {name[4:]} = {np.exp(value):.4g} lies outside its bounds "
                             f"[{np.exp(lo):.4g}, {np.exp(hi):.4g}]")


def _run(X, y, start: GPHyperparameters, log_bounds, jitter: float, maxiter: int) -> Restart:
    escalations = 0
    theta0 = log_parameters(start)  # [P]
    scale = np.ones(theta0.size)  # [P]: L-BFGS-B's variables are u = scale * theta (see LBFGSB_SCALE)
    scale[0] = LBFGSB_SCALE
    if start.sigma > 0:
        scale[-1] = LBFGSB_SCALE

    def objective(u):
        nonlocal escalations
        hyper = from_log_parameters(u / scale, start)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", JitterWarning)
            L, alpha, _ = _factorise(X, y, hyper, jitter)
            value, grad = _value_and_grad(X, y, hyper, L, alpha, overwrite=True)
        escalations += sum(issubclass(w.category, JitterWarning) for w in caught)
        return -value, -grad / scale

    res = optimize.minimize(objective, scale * theta0, jac=True, method="L-BFGS-B",
                            bounds=[(s * lo, s * hi) for s, (lo, hi) in zip(scale, log_bounds)],
                            options={"maxiter": maxiter, **LBFGSB_OPTIONS})
    # res.fun and res.jac are the objective at res.x (L-BFGS-B returns its best evaluated point): no extra call
    theta = np.clip(res.x / scale, *np.array(log_bounds).T)  # [P], rounding of the division kept in the box
    return Restart(start=start, end=from_log_parameters(theta, start), log_marginal_likelihood=float(-res.fun),
                   gradient_norm=float(np.linalg.norm(res.jac * scale)), success=bool(res.success),
                   message=str(res.message), iterations=int(res.nit), jitter_escalations=escalations,
                   status=int(res.status), stopped=stop_reason(res), evaluations=int(res.nfev))


@holds_blas
def fit_type2_ml(X, y, init: GPHyperparameters, *, restarts: int = 4, seed: int = 0,
                 bounds: Type2MLBounds | None = None, jitter: float = 0.0, maxiter: int = 1000) -> Type2MLResult:
    """Type-II maximum likelihood: the hyperparameters that maximise the log marginal likelihood.

    L-BFGS-B (``scipy.optimize.minimize``) over :func:`log_parameters` with the analytic gradient of
    :func:`log_marginal_likelihood_and_grad`, from ``init`` and from ``restarts`` random starts drawn
    uniformly in the log-bounds by ``numpy.random.default_rng(seed)``.  ``init`` decides the structure:
    shared or ARD lengthscale, and sigma free (> 0) or held at 0 (the noiseless model).  The best end point
    over all runs wins (the first, on a tie).  Same seed, same result.

    Parameters
    ----------
    X : array_like, shape (N, D) or (N,)
    y : array_like, shape (N,)
    init : GPHyperparameters
        The first start; must lie within ``bounds``.
    restarts : int >= 0
        Random starts besides ``init``.
    seed : int >= 0
    bounds : Type2MLBounds, optional
        Default :func:`default_bounds` ``(X, y)``.
    jitter : float >= 0
        As in :func:`posterior`.
    maxiter : int >= 1
        L-BFGS-B iterations per run at most.

    L-BFGS-B runs on ``u = (log eta^2, log ell, log sigma^2)`` (:data:`LBFGSB_SCALE` times the log eta and
    log sigma of :func:`log_parameters`) with :data:`LBFGSB_OPTIONS`, SciPy's defaults (``ftol`` 2.2e-9,
    ``gtol`` 1e-5): scikit-learn's ``GaussianProcessRegressor`` parameterisation and settings.  Measured
    (``benchmarks/bench_gp_exact.py``, N = 500, 5 starts): the same optimum as scikit-learn's to 1e-7 nats in
    as many or fewer evaluations (on log eta with ``ftol`` 1e-13, ``gtol`` 1e-9, the settings before, 3x the
    evaluations in 8-D to the same optimum).  Each evaluation is one Cholesky and one ``dpotri``
    (:func:`log_marginal_likelihood_and_grad`); ``Restart.evaluations`` counts them.

    Returns
    -------
    Type2MLResult

    Raises
    ------
    ValueError
        Naming the argument: bad data, ``init`` not a :class:`~bayes_zoo.models.gp.GPHyperparameters` or outside
        ``bounds``, ``restarts``/``seed``/``maxiter`` out of range, ``bounds`` not a :class:`Type2MLBounds`;
        naming ``y`` when a noiseless start (``sigma = 0``) with ``jitter = 0`` meets hyperparameters under
        which the data are impossible (:func:`posterior`): pass a ``jitter > 0`` for a noiseless fit.
    """
    X, y = check_data(X, y)
    init = instance(init, GPHyperparameters, "init")
    init.lengthscales(X.shape[1])  # ARD lengthscales for the right dimension
    restarts = nonnegative_int(restarts, "restarts")
    seed = nonnegative_int(seed, "seed")
    maxiter = positive_int(maxiter, "maxiter")
    jitter = check_jitter(jitter)
    bounds = default_bounds(X, y) if bounds is None else instance(bounds, Type2MLBounds, "bounds")
    log_bounds = bounds.log_bounds(init)
    _check_within(init, log_bounds)
    rng = np.random.default_rng(seed)
    lo, hi = np.array(log_bounds).T  # [P], [P]
    starts = [init] + [from_log_parameters(rng.uniform(lo, hi), init) for _ in range(restarts)]
    runs = tuple(_run(X, y, start, log_bounds, jitter, maxiter) for start in starts)
    best = int(np.argmax([r.log_marginal_likelihood for r in runs]))
    return Type2MLResult(hyper=runs[best].end, log_marginal_likelihood=runs[best].log_marginal_likelihood,
                         best=best, restarts=runs, seed=seed, bounds=bounds, jitter=jitter)


# --------------------------------------------------------------------------------------------------------
# Stationarity of the optimum, checked without the analytic gradient
# --------------------------------------------------------------------------------------------------------

#: Step of the central differences of :func:`stationarity`, in the log-hyperparameters.
STATIONARITY_STEP = 1e-4
#: Largest projected finite-difference gradient norm (nats per unit of log-hyperparameter) of a stationary point.
STATIONARITY_TOL = 1e-3


@dataclass(frozen=True)
class Stationarity:
    """The gradient of the log marginal likelihood at a type-II ML optimum, by central differences of the
    objective alone (never the analytic gradient that the optimiser followed).

    Attributes
    ----------
    names : tuple of str
        The log-hyperparameters (:func:`log_parameter_names`).
    gradient : numpy.ndarray, shape (P,)
        ``(f(theta + h e_i) - f(theta - h e_i)) / (2 h)`` per log-hyperparameter (nats per unit of log), with
        ``f`` the log marginal likelihood and ``h`` = ``step``.
    projected : numpy.ndarray, shape (P,)
        ``gradient`` with the entries that push out of the box set to 0 (at a lower bound, within ``step``,
        a negative entry; at an upper bound, a positive one): what first-order optimality asks to be 0.
    norm : float
        Euclidean norm of ``projected``.
    step : float
    tolerance : float
        :data:`STATIONARITY_TOL` unless given.
    """

    names: tuple[str, ...]
    gradient: np.ndarray
    projected: np.ndarray
    norm: float
    step: float
    tolerance: float

    @property
    def ok(self) -> bool:
        """``norm <= tolerance`` (and finite)."""
        return bool(np.isfinite(self.norm) and self.norm <= self.tolerance)


@holds_blas
def stationarity(X, y, fit: Type2MLResult, *, step: float = STATIONARITY_STEP,
                 tolerance: float = STATIONARITY_TOL) -> Stationarity:
    """Whether ``fit``'s optimum is a stationary point of the log marginal likelihood, checked independently of
    the analytic gradient (:func:`log_marginal_likelihood_and_grad`) that L-BFGS-B followed.

    Central differences of :func:`log_marginal_likelihood` in each log-hyperparameter (2 P evaluations, each
    one Cholesky factorisation), projected on the box ``fit.bounds``.  A term dropped from the analytic
    gradient moves the point where that gradient vanishes, and L-BFGS-B then stops where the true gradient
    does not (measured on the ``gp`` pair's data, 40 points, seed 0: dropping the ``-C^-1`` term of one
    hyperparameter's derivative, or using ``alpha^T alpha`` for ``tr(W)`` in log sigma's, left a true
    gradient norm of 3.7 to 14.8 and log marginal likelihoods of -29.68 to -31.74 instead of -28.84).

    Why :data:`STATIONARITY_STEP` = 1e-4 and :data:`STATIONARITY_TOL` = 1e-3: the central difference's
    truncation error is ``h^2 f''' / 6`` and its rounding error ``~ eps |f| / h``; at the correct optimum on
    that data, with the optimiser's gradient below 1e-8, the measured norm fell as ``h^2`` (8e-5, 8e-7, 8e-9 at
    h = 1e-3, 1e-4, 1e-5: truncation, with rounding ~1e-10 at h = 1e-4); :func:`fit_type2_ml` now stops with
    its gradient near 1e-5 (SciPy's default ``gtol``, :data:`LBFGSB_OPTIONS`) and the correct code reads
    ~6e-6 at h = 1e-4, under a hundredth of the tolerance, and the planted bugs read 3,700 times above it.  In nats: a
    gradient of norm ``g`` leaves ``g^2 / (2 lambda)`` nats on the table for a Hessian's smallest eigenvalue
    ``lambda``; at 1e-3 that is below 1e-6 nats unless the likelihood is flat (``lambda < 0.5``).

    Parameters
    ----------
    X : array_like, shape (N, D) or (N,)
    y : array_like, shape (N,)
        The data ``fit`` was fitted to.
    fit : Type2MLResult
        Its ``hyper``, ``jitter`` and ``bounds`` are used.
    step : float > 0
        Central-difference step in the log-hyperparameters.
    tolerance : float > 0

    Returns
    -------
    Stationarity

    Raises
    ------
    ValueError
        Naming ``X``/``y`` (bad data), ``fit`` (not a :class:`Type2MLResult`), ``step`` or ``tolerance``
        (not finite and > 0).
    """
    X, y = check_data(X, y)
    fit = instance(fit, Type2MLResult, "fit")
    step = positive_scalar(step, "step")
    tolerance = positive_scalar(tolerance, "tolerance")
    theta = log_parameters(fit.hyper)  # [P]
    lo, hi = np.array(fit.bounds.log_bounds(fit.hyper)).T  # [P], [P]

    def f(t):
        return log_marginal_likelihood(X, y, from_log_parameters(t, fit.hyper), jitter=fit.jitter)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", JitterWarning)  # the objective as the optimiser saw it
        grad = np.array([(f(theta + step * e) - f(theta - step * e)) / (2 * step) for e in np.eye(theta.size)])
    blocked = ((theta <= lo + step) & (grad < 0)) | ((theta >= hi - step) & (grad > 0))  # [P]
    projected = np.where(blocked, 0.0, grad)
    return Stationarity(tuple(log_parameter_names(fit.hyper)), _frozen(grad), _frozen(projected),
                        float(np.linalg.norm(projected)), float(step), float(tolerance))
