"""Bayesian linear regression on a fixed feature map: the PyMC model and its conjugate posterior.

Model, on features ``phi(x)`` (P of them, a bias among them; see :class:`LinearFeatures`,
:class:`RandomFourierFeatures` and the learned :class:`NeuralFeatures`) of standardised inputs, for standardised outputs::

    known noise (``noise_sd`` given):           w ~ N(0, tau^2 I),            y_n | w ~ N(phi_n^T w, sigma^2)
    unknown noise (Normal-InverseGamma prior):  sigma^2 ~ InverseGamma(alpha, beta),
                                                w | sigma^2 ~ N(0, sigma^2 tau^2 I),  y_n | w, sigma^2 ~ N(phi_n^T w, sigma^2)

(``tau`` = ``weight_scale``; PyMC's InverseGamma(alpha, beta), beta a scale).  Both priors are conjugate
(Bishop 2006, sec. 3.3; O'Hagan & Forster 2004, ch. 11)::

    known noise:   Sigma = (Phi^T Phi / sigma^2 + I / tau^2)^-1,   mu = Sigma Phi^T y / sigma^2
                   predictive  y* ~ N(phi*^T mu, sigma^2 + phi*^T Sigma phi*)
    NIG:           V = (Phi^T Phi + I / tau^2)^-1,   mu = V Phi^T y,
                   a = alpha + n/2,   b = beta + (y^T y - mu^T V^-1 mu) / 2
                   w | sigma^2 ~ N(mu, sigma^2 V),  sigma^2 ~ InverseGamma(a, b)
                   predictive  y* ~ Student-t(2a, phi*^T mu, (b/a)(1 + phi*^T V phi*))

**Standardisation** (:class:`Standardisation`): inputs are centred and scaled by the mean and standard
deviation of the inputs the learner may look at — the labelled *and* the pool inputs (pool labels are unknown,
pool inputs are not) — and outputs by those of the labelled outputs only.  The test set is never used.  A
constant input column gets scale 1.  Metrics are reported back in the original units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, special, stats

from bayes_zoo.models.checks import finite_vector, generator, input_matrix, positive_int, positive_scalar

__all__ = [
    "Standardisation",
    "LinearFeatures",
    "RandomFourierFeatures",
    "NeuralFeatures",
    "LinearPrior",
    "LinearPosterior",
    "conjugate_posterior",
    "log_marginal_likelihood",
    "build_linear_model",
    "pointwise_log_likelihood",
    "log_joint",
    "simulate_observations",
    "simulate",
    "conjugate_draws",
    "check_inputs",
]


#: Relative spread below which a column counts as constant (:meth:`Standardisation.fit`): a thousand ulps.
_ROUNDING = 1e3 * np.finfo(np.float64).eps

#: Inputs of shape (N, D) or (N,), as a float64 (N, D) array: :func:`bayes_zoo.models.checks.input_matrix`.
check_inputs = input_matrix


@dataclass(frozen=True)
class Standardisation:
    """Centring and scaling of inputs and outputs (module docstring).

    Attributes
    ----------
    x_mean, x_scale : numpy.ndarray, shape (D,)
    y_mean, y_scale : float
    """

    x_mean: np.ndarray
    x_scale: np.ndarray
    y_mean: float
    y_scale: float

    @classmethod
    def fit(cls, X_known, y_labelled) -> Standardisation:
        """From the inputs the learner may see (labelled and pool, shape ``(N, D)``) and the labelled outputs
        (shape ``(n,)``); a zero spread (a constant column, or equal outputs: a standard deviation within a
        thousand ulps of the mean's size, rounding) gets scale 1.

        Raises
        ------
        ValueError
            Naming ``X_known`` or ``y_labelled`` (non-finite, wrong shape).
        """
        X = check_inputs(X_known, "X_known")
        y = finite_vector(y_labelled, "y_labelled")
        x_mean, x_scale = X.mean(axis=0), X.std(axis=0)
        y_mean = float(y.mean())
        y_scale = float(y.std()) if y.size > 1 else 0.0
        # a spread at rounding level is none: a constant 0.1 has a std of ~1e-17, and dividing by it would
        # turn the column into +-1 noise
        constant = x_scale <= _ROUNDING * np.maximum(np.abs(x_mean), 1.0)
        return cls(x_mean, np.where(constant, 1.0, x_scale), y_mean,
                   y_scale if y_scale > _ROUNDING * max(abs(y_mean), 1.0) else 1.0)

    def inputs(self, X) -> np.ndarray:
        """Standardised inputs, shape ``(N, D)``."""
        return (check_inputs(X, dims=self.x_mean.size) - self.x_mean) / self.x_scale

    def outputs(self, y) -> np.ndarray:
        """Standardised outputs, shape ``(N,)``."""
        return (finite_vector(y, "y") - self.y_mean) / self.y_scale

    def original_mean(self, mean) -> np.ndarray:
        """A predictive mean back in the original units of y."""
        return np.asarray(mean) * self.y_scale + self.y_mean


@dataclass(frozen=True)
class LinearFeatures:
    """``phi(x) = [1, x]``: a bias and the (standardised) inputs; P = D + 1."""

    def __call__(self, X) -> np.ndarray:
        X = check_inputs(X)
        return np.column_stack([np.ones(X.shape[0]), X])


@dataclass(frozen=True)
class RandomFourierFeatures:
    """Random Fourier features for the RBF kernel (Rahimi & Recht 2007), plus a bias; P = F + 1.

    ``phi(x) = [1, sqrt(2 / F) cos(omega x / ell + c)]`` with the rows of ``omega`` drawn from ``N(0, I)`` and
    ``c`` from ``Uniform(0, 2 pi)``, so that ``phi(x)^T phi(x') - 1`` approximates
    ``exp(-|x - x'|^2 / (2 ell^2))``.  Drawn once (:meth:`draw`) and then fixed: the linear model on it is a
    finite-rank GP.  :meth:`with_lengthscale` keeps the draws and changes ``ell``.

    Attributes
    ----------
    omega : numpy.ndarray, shape (F, D)
    c : numpy.ndarray, shape (F,)
    lengthscale : float
        ``ell``, in the units of the (standardised) inputs.
    """

    omega: np.ndarray
    c: np.ndarray
    lengthscale: float

    @classmethod
    def draw(cls, rng: np.random.Generator, dims: int, n_features: int, lengthscale: float) -> RandomFourierFeatures:
        """Draw ``omega`` and ``c``.

        Parameters
        ----------
        rng : numpy.random.Generator
        dims : int >= 1
            D, the number of input columns.
        n_features : int >= 1
            F.
        lengthscale : float > 0

        Raises
        ------
        ValueError
            Naming the argument.
        """
        rng = generator(rng)
        dims, n_features = positive_int(dims, "dims"), positive_int(n_features, "n_features")
        ell = positive_scalar(lengthscale, "lengthscale")
        return cls(rng.standard_normal((n_features, dims)), rng.uniform(0.0, 2.0 * np.pi, n_features), ell)

    def with_lengthscale(self, lengthscale: float) -> RandomFourierFeatures:
        """The same draws at another ``ell``."""
        return RandomFourierFeatures(self.omega, self.c, positive_scalar(lengthscale, "lengthscale"))

    def __call__(self, X) -> np.ndarray:
        X = check_inputs(X, dims=self.omega.shape[1])
        F = self.omega.shape[0]
        return np.column_stack([np.ones(X.shape[0]), np.sqrt(2.0 / F) * np.cos(X @ self.omega.T / self.lengthscale
                                                                                  + self.c)])


@dataclass(frozen=True)
class NeuralFeatures:
    """Learned features: the last hidden layer of a trained multilayer perceptron, plus a bias; P = H + 1.

    ``phi(x) = [1, h_L(x)]`` with ``h_0 = x`` and ``h_l = relu(h_{l-1} W_l + c_l)`` (``W_l`` of shape
    ``(H_{l-1}, H_l)``, ``c_l`` of shape ``(H_l,)``), for the hidden layers of a network whose output layer is
    then replaced by Bayesian linear regression: the neural-linear model (Snoek et al. 2015, sec. 3; Riquelme,
    Tucker & Snoek 2018; Pinsler et al. 2019, sec. 7.1).  Fixed once trained: the linear model on it is
    conjugate, as on any other feature map.  :meth:`from_mlp` reads a fitted scikit-learn ``MLPRegressor``.

    Attributes
    ----------
    weights : tuple of numpy.ndarray
        ``W_1 .. W_L``, shapes ``(D, H_1)``, ``(H_1, H_2)`` ...
    biases : tuple of numpy.ndarray
        ``c_1 .. c_L``, shapes ``(H_1,)``, ``(H_2,)`` ...
    """

    weights: tuple
    biases: tuple

    @classmethod
    def from_mlp(cls, mlp) -> NeuralFeatures:
        """The hidden layers of a fitted ``sklearn.neural_network.MLPRegressor`` with ``activation="relu"``
        (its ``coefs_`` and ``intercepts_`` but the output layer's).

        Raises
        ------
        ValueError
            Naming ``mlp`` if it is not fitted, has no hidden layer, or is not a ReLU network.
        """
        if getattr(mlp, "activation", None) != "relu" or not hasattr(mlp, "coefs_"):
            raise ValueError("mlp: expected a fitted scikit-learn MLPRegressor with activation='relu'")
        if len(mlp.coefs_) < 2:
            raise ValueError("mlp: the network has no hidden layer")
        weights = tuple(np.array(W, dtype=np.float64) for W in mlp.coefs_[:-1])
        biases = tuple(np.array(c, dtype=np.float64) for c in mlp.intercepts_[:-1])
        return cls(weights, biases)

    @property
    def n_features(self) -> int:
        """P: the last hidden layer's width plus the bias."""
        return self.biases[-1].size + 1

    def __call__(self, X) -> np.ndarray:
        h = check_inputs(X, dims=self.weights[0].shape[0])
        for W, c in zip(self.weights, self.biases):
            h = np.maximum(h @ W + c, 0.0)  # [N, H_l]
        return np.column_stack([np.ones(h.shape[0]), h])


@dataclass(frozen=True)
class LinearPrior:
    """Prior of Bayesian linear regression (module docstring).

    Parameters
    ----------
    weight_scale : float > 0, default 1
        ``tau``: the prior sd of each weight (times ``sigma`` under the Normal-InverseGamma prior).
    noise_sd : float > 0 or None, default None
        A known noise sd ``sigma``; ``None`` puts ``sigma^2 ~ InverseGamma(noise_alpha, noise_beta)`` on it.
    noise_alpha, noise_beta : float > 0, default 1, 1
        PyMC's InverseGamma(alpha, beta) (beta a scale) for ``sigma^2``.
    """

    weight_scale: float = 1.0
    noise_sd: float | None = None
    noise_alpha: float = 1.0
    noise_beta: float = 1.0

    def __post_init__(self):
        positive_scalar(self.weight_scale, "weight_scale")
        if self.noise_sd is not None:
            positive_scalar(self.noise_sd, "noise_sd")
        positive_scalar(self.noise_alpha, "noise_alpha")
        positive_scalar(self.noise_beta, "noise_beta")

    @property
    def known_noise(self) -> bool:
        return self.noise_sd is not None


@dataclass(frozen=True)
class LinearPosterior:
    """The conjugate posterior of :func:`conjugate_posterior`.

    Attributes
    ----------
    mean : numpy.ndarray, shape (P,)
        ``mu``.
    cov : numpy.ndarray, shape (P, P)
        ``Sigma`` (known noise) or ``V`` (Normal-InverseGamma: the covariance of w is ``sigma^2 V``).
    noise_var : float or None
        The known ``sigma^2``; None under the Normal-InverseGamma prior.
    a, b : float
        The InverseGamma(a, b) posterior of ``sigma^2`` (nan with known noise).
    """

    mean: np.ndarray
    cov: np.ndarray
    noise_var: float | None
    a: float
    b: float

    @property
    def known_noise(self) -> bool:
        return self.noise_var is not None

    def predictive(self, Phi) -> tuple[np.ndarray, np.ndarray, float]:
        """The predictive distribution of new outputs at features ``Phi`` (shape ``(S, P)``).

        Returns
        -------
        loc : numpy.ndarray, shape (S,)
        scale2 : numpy.ndarray, shape (S,)
            The variance (known noise) or the squared Student-t scale.
        df : float
            ``inf`` (Gaussian) or ``2a`` (Student-t).
        """
        Phi = check_inputs(Phi, "Phi", dims=self.mean.size)
        loc = Phi @ self.mean
        quad = np.einsum("sp,sp->s", Phi @ self.cov, Phi)  # [S] phi^T Sigma phi (or V)
        if self.known_noise:
            return loc, self.noise_var + quad, np.inf
        return loc, (self.b / self.a) * (1.0 + quad), 2.0 * self.a

    def predictive_variance(self, Phi) -> np.ndarray:
        """Variance of the predictive distribution, shape ``(S,)`` (``scale2 df / (df - 2)`` for Student-t,
        ``inf`` when ``df <= 2``)."""
        _, scale2, df = self.predictive(Phi)
        return _variance(scale2, df)

    def predictive_summary(self, Phi) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean, variance and entropy (nats) of the predictive distribution at ``Phi``, each shape ``(S,)``, from
        one evaluation of :meth:`predictive`."""
        loc, scale2, df = self.predictive(Phi)
        return loc, _variance(scale2, df), _entropy(scale2, df)

    def log_predictive_density(self, Phi, y) -> np.ndarray:
        """``log p(y_s | D)`` at features ``Phi`` (shape ``(S, P)``) and outputs ``y`` (shape ``(S,)``)."""
        loc, scale2, df = self.predictive(Phi)
        y = finite_vector(y, "y")
        if y.size != loc.size:
            raise ValueError(f"y: length {y.size} does not match Phi's {loc.size} rows")
        if np.isinf(df):
            return stats.norm.logpdf(y, loc, np.sqrt(scale2))
        return stats.t.logpdf(y, df, loc, np.sqrt(scale2))

    def predictive_entropy(self, Phi) -> np.ndarray:
        """``H[y* | D]`` in nats, shape ``(S,)``."""
        _, scale2, df = self.predictive(Phi)
        return _entropy(scale2, df)

    def expected_noise_entropy(self) -> float:
        """``E_sigma[H[y | w, sigma]] = (log(2 pi e) + E[log sigma^2]) / 2``; ``E[log sigma^2] = log b - digamma(a)``
        under InverseGamma(a, b)."""
        log_var = np.log(self.noise_var) if self.known_noise else np.log(self.b) - special.digamma(self.a)
        return 0.5 * (np.log(2.0 * np.pi * np.e) + log_var)

    def fisher_scale(self) -> float:
        """The factor of the weighted Fisher inner product: ``1 / sigma^4`` (known noise) or ``E[sigma^-2] = a/b``
        (see :class:`bayes_zoo.active_learning.gram.LinearFisherGram`)."""
        return 1.0 / self.noise_var**2 if self.known_noise else self.a / self.b

    def sample(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Independent posterior draws.

        Returns
        -------
        w : numpy.ndarray, shape (size, P)
        sigma : numpy.ndarray, shape (size,)
            The noise sd of each draw (constant with known noise).
        """
        rng = generator(rng)
        size = positive_int(size, "size")
        L = linalg.cholesky(self.cov, lower=True)
        z = rng.standard_normal((size, self.mean.size))
        if self.known_noise:
            sigma = np.full(size, np.sqrt(self.noise_var))
            return self.mean + z @ L.T, sigma
        sigma2 = stats.invgamma.rvs(self.a, scale=self.b, size=size, random_state=rng)
        sigma = np.sqrt(sigma2)
        return self.mean + (z @ L.T) * sigma[:, None], sigma


def _variance(scale2: np.ndarray, df: float) -> np.ndarray:
    """Variance of a Gaussian (``df = inf``) or Student-t of squared scale ``scale2``."""
    if np.isinf(df):
        return scale2
    return scale2 * df / (df - 2.0) if df > 2.0 else np.full_like(scale2, np.inf)


def _entropy(scale2: np.ndarray, df: float) -> np.ndarray:
    """Entropy in nats of a Gaussian (``df = inf``) or Student-t of squared scale ``scale2``."""
    if np.isinf(df):
        return 0.5 * np.log(2.0 * np.pi * np.e * scale2)
    return float(stats.t.entropy(df)) + 0.5 * np.log(scale2)  # H[scale T] = H[T] + log(scale)


def conjugate_posterior(Phi, y, prior: LinearPrior) -> LinearPosterior:
    """The exact posterior of Bayesian linear regression (module docstring), by Cholesky factorisation.

    Parameters
    ----------
    Phi : array_like, shape (n, P)
        Features of the labelled inputs.
    y : array_like, shape (n,)
        Labelled outputs (standardised).
    prior : LinearPrior

    Returns
    -------
    LinearPosterior

    Raises
    ------
    ValueError
        Naming ``Phi``, ``y`` or ``prior``.
    """
    Phi = check_inputs(Phi, "Phi")
    y = finite_vector(y, "y")
    if y.size != Phi.shape[0]:
        raise ValueError(f"y: length {y.size} does not match Phi's {Phi.shape[0]} rows")
    if not isinstance(prior, LinearPrior):
        raise ValueError(f"prior: expected a LinearPrior, got {type(prior).__name__}")
    P = Phi.shape[1]
    noise_var = prior.noise_sd**2 if prior.known_noise else 1.0  # NIG: the precision below is per unit sigma^2
    precision = Phi.T @ Phi / noise_var + np.eye(P) / prior.weight_scale**2  # [P, P]
    cho = linalg.cho_factor(precision, lower=True)
    cov = linalg.cho_solve(cho, np.eye(P))
    cov = 0.5 * (cov + cov.T)
    mean = linalg.cho_solve(cho, Phi.T @ y / noise_var)  # [P]
    if prior.known_noise:
        return LinearPosterior(mean, cov, noise_var, float("nan"), float("nan"))
    a = prior.noise_alpha + 0.5 * y.size
    b = prior.noise_beta + 0.5 * float(y @ y - mean @ precision @ mean)
    return LinearPosterior(mean, cov, None, float(a), float(max(b, prior.noise_beta)))


def log_marginal_likelihood(Phi, y, prior: LinearPrior) -> float:
    """``log p(y | Phi)`` of the model in the module docstring (the evidence, for type-II maximum likelihood).

    Known noise: ``y ~ N(0, tau^2 Phi Phi^T + sigma^2 I)``.  Normal-InverseGamma (O'Hagan & Forster 2004,
    ch. 11)::

        log p(y) = -n/2 log(2 pi) + 1/2 log|V| - P log tau + alpha log beta - a log b
                   + lgamma(a) - lgamma(alpha)

    with ``V``, ``a``, ``b`` as in :func:`conjugate_posterior`.  Both in O(n P^2 + P^3).

    Raises
    ------
    ValueError
        As :func:`conjugate_posterior`.
    """
    post = conjugate_posterior(Phi, y, prior)
    Phi, y = check_inputs(Phi, "Phi"), finite_vector(y, "y")
    n, P = Phi.shape
    log_det_cov = 2.0 * np.sum(np.log(np.diag(linalg.cholesky(post.cov, lower=True))))  # log|Sigma| or log|V|
    if prior.known_noise:
        s2 = post.noise_var
        resid = y - Phi @ post.mean
        quad = resid @ resid / s2 + post.mean @ post.mean / prior.weight_scale**2  # y^T C^-1 y (Woodbury)
        log_det_C = n * np.log(s2) + 2.0 * P * np.log(prior.weight_scale) - log_det_cov
        return float(-0.5 * (n * np.log(2.0 * np.pi) + log_det_C + quad))
    alpha, beta = prior.noise_alpha, prior.noise_beta
    return float(-0.5 * n * np.log(2.0 * np.pi) + 0.5 * log_det_cov - P * np.log(prior.weight_scale)
                 + alpha * np.log(beta) - post.a * np.log(post.b) + special.gammaln(post.a) - special.gammaln(alpha))


def build_linear_model(Phi, y, prior: LinearPrior):
    """The PyMC model of the module docstring, with coords ``obs`` and ``feature``.

    ``Phi`` and ``y`` are ``pm.Data`` (names ``"Phi"`` and ``"y_obs"``) so that the same compiled model can be
    evaluated at other inputs and outputs with ``pm.set_data`` (the pool, in
    :func:`bayes_zoo.active_learning.projections.monte_carlo_projections`).  Free variables: ``w`` (dims ``feature``)
    and, under the Normal-InverseGamma prior, ``sigma2``; ``sigma`` is deterministic.  The likelihood is ``y``.

    Raises
    ------
    ValueError
        As :func:`conjugate_posterior`.
    """
    import pymc as pm

    Phi = check_inputs(Phi, "Phi")
    y = finite_vector(y, "y")
    if y.size != Phi.shape[0]:
        raise ValueError(f"y: length {y.size} does not match Phi's {Phi.shape[0]} rows")
    coords = {"obs": np.arange(Phi.shape[0]), "feature": np.arange(Phi.shape[1])}
    # float64 constants: PyTensor makes a Python float that float32 holds exactly (3.0, 1.0) a float32 constant,
    # and PyMC's logp then folds log(3) or alpha log(beta) - gammaln(alpha) in float32 (errors of ~1e-8).
    f64 = np.float64
    with pm.Model(coords=coords) as model:
        Phi_data = pm.Data("Phi", Phi, dims=("obs", "feature"))
        y_data = pm.Data("y_obs", y, dims="obs")
        if prior.known_noise:
            sigma = pm.Deterministic("sigma", pm.math.constant(f64(prior.noise_sd)))
            w = pm.Normal("w", 0.0, f64(prior.weight_scale), dims="feature")
        else:
            sigma2 = pm.InverseGamma("sigma2", alpha=f64(prior.noise_alpha), beta=f64(prior.noise_beta))
            sigma = pm.Deterministic("sigma", pm.math.sqrt(sigma2))
            w = pm.Normal("w", 0.0, sigma * f64(prior.weight_scale), dims="feature")
        pm.Normal("y", mu=Phi_data @ w, sigma=sigma, observed=y_data, dims="obs")
    return model



def _check_draws(w, sigma, Phi):
    Phi = check_inputs(Phi, "Phi")
    w = np.asarray(w, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    if w.ndim < 1 or w.shape[-1] != Phi.shape[1]:
        raise ValueError(f"w: expected shape (..., {Phi.shape[1]}), got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("w: must be finite")
    if not np.all(np.isfinite(sigma)) or np.any(sigma <= 0):
        raise ValueError("sigma: must be finite and > 0")
    return w, np.broadcast_to(sigma, w.shape[:-1]), Phi


def pointwise_log_likelihood(w, sigma, Phi, y) -> np.ndarray:
    """``log N(y_n | phi_n^T w, sigma^2)`` for every observation: what ``pm.compute_log_likelihood`` returns for
    the observed ``y`` of :func:`build_linear_model` at the same ``w`` and ``sigma``.

    Parameters
    ----------
    w : array_like, shape (..., P)
    sigma : array_like > 0, shape (...) (broadcast against ``w`` without its last axis)
        The noise **sd**.
    Phi : array_like, shape (N, P)
    y : array_like, shape (N,)

    Returns
    -------
    numpy.ndarray, shape (..., N)

    Raises
    ------
    ValueError
        Naming ``Phi``, ``w``, ``sigma`` or ``y``: non-finite values, ``sigma <= 0``, shapes that do not match.
    """
    w, sigma, Phi = _check_draws(w, sigma, Phi)
    y = finite_vector(y, "y")
    if y.size != Phi.shape[0]:
        raise ValueError(f"y: length {y.size} does not match Phi's {Phi.shape[0]} rows")
    s = sigma[..., None]
    return stats.norm.logpdf(y, w @ Phi.T, s)


def log_joint(w, sigma, Phi, y, prior: LinearPrior) -> np.ndarray:
    """log prior + log likelihood on the constrained scale: ``model.compile_logp(jacobian=False)`` of
    :func:`build_linear_model` at the same point.

    Known noise: ``sum_p log N(w_p | 0, tau^2) + sum_n log N(y_n | phi_n^T w, sigma^2)`` (``sigma`` must be the
    prior's ``noise_sd``).  Normal-InverseGamma: ``log InverseGamma(sigma^2 | alpha, beta) + sum_p log N(w_p |
    0, sigma^2 tau^2) + sum_n log N(y_n | phi_n^T w, sigma^2)`` (the density of ``sigma^2``, PyMC's free
    variable, without the Jacobian of its log transform).

    Parameters
    ----------
    w : array_like, shape (..., P)
    sigma : array_like > 0, shape (...)
        The noise sd of each point.
    Phi : array_like, shape (N, P)
    y : array_like, shape (N,)
    prior : LinearPrior

    Returns
    -------
    numpy.ndarray, shape (...)

    Raises
    ------
    ValueError
        For bad arguments, or with known noise a ``sigma`` other than ``prior.noise_sd``.
    """
    w, sigma, Phi = _check_draws(w, sigma, Phi)
    log_lik = pointwise_log_likelihood(w, sigma, Phi, y).sum(axis=-1)
    if prior.known_noise:
        if not np.allclose(sigma, prior.noise_sd, rtol=1e-12, atol=0):
            raise ValueError(f"sigma: the prior's noise sd is known ({prior.noise_sd:g})")
        return stats.norm.logpdf(w, 0.0, prior.weight_scale).sum(axis=-1) + log_lik
    log_prior_w = stats.norm.logpdf(w, 0.0, (sigma * prior.weight_scale)[..., None]).sum(axis=-1)
    log_prior_sigma2 = stats.invgamma.logpdf(sigma**2, prior.noise_alpha, scale=prior.noise_beta)
    return log_prior_sigma2 + log_prior_w + log_lik


def simulate_observations(rng: np.random.Generator, w, sigma, Phi) -> np.ndarray:
    """New outputs ``y_n ~ N(phi_n^T w, sigma^2)`` at each point, shape ``(..., N)`` (``w`` of shape
    ``(..., P)``, ``sigma`` the noise sd, shape ``(...)``); standard normals drawn in C order over the output."""
    rng = generator(rng)
    w, sigma, Phi = _check_draws(w, sigma, Phi)
    mean = w @ Phi.T
    return mean + sigma[..., None] * rng.standard_normal(mean.shape)


def simulate(rng: np.random.Generator, data):
    """The generative model: under the Normal-InverseGamma prior ``sigma2 ~ InverseGamma(alpha, beta)``,
    ``w | sigma2 ~ N(0, sigma2 tau^2 I)``; with known noise ``w ~ N(0, tau^2 I)``; then ``y ~ N(Phi w, sigma2 I)``.

    The signature every model module's ``simulate`` shares (simulation-based calibration,
    :attr:`bayes_zoo.problem.Problem.simulate`): a generator and a data template in, the truth and simulated
    data out.

    Parameters
    ----------
    rng : numpy.random.Generator
    data : mapping
        ``"Phi"`` (N, P), the design, and ``"prior"`` (:class:`LinearPrior`); other keys are passed through.

    Returns
    -------
    truth : dict
        ``{"w[p]": float}`` and, under the Normal-InverseGamma prior, ``"sigma2"``.
    data : dict
        ``data`` with ``"y"`` (N,) added.

    Raises
    ------
    ValueError
        Naming ``rng`` or ``data``.
    """
    from collections.abc import Mapping

    generator(rng)
    if not isinstance(data, Mapping) or "Phi" not in data or not isinstance(data.get("prior"), LinearPrior):
        raise ValueError("data: expected a mapping with 'Phi' and 'prior' (a LinearPrior)")
    Phi, prior = check_inputs(data["Phi"], "data['Phi']"), data["prior"]
    if prior.known_noise:
        sigma2, scale = prior.noise_sd**2, prior.weight_scale
    else:
        sigma2 = prior.noise_beta / rng.standard_gamma(prior.noise_alpha)
        scale = np.sqrt(sigma2) * prior.weight_scale
    w = scale * rng.standard_normal(Phi.shape[1])
    y = Phi @ w + np.sqrt(sigma2) * rng.standard_normal(Phi.shape[0])
    truth = {f"w[{p}]": float(v) for p, v in enumerate(w)}
    return truth if prior.known_noise else {**truth, "sigma2": float(sigma2)}, {**data, "y": y}


def conjugate_draws(Phi, y, prior: LinearPrior, *, draws: int, chains: int, seed: int):
    """``chains x draws`` independent draws of the conjugate posterior (:meth:`LinearPosterior.sample`, from
    ``default_rng([seed, 1])``), as a PyMC user expects a result of :func:`build_linear_model`.

    Returns
    -------
    arviz.InferenceData
        ``posterior``: ``w`` (chain, draw, feature), ``sigma`` (the noise sd; constant with known noise) and, under
        the Normal-InverseGamma prior, ``sigma2``; ``attrs`` ``algorithm``, ``seed``, ``sampling_time`` (the draws'
        own time).  ``sample_stats.lp``: :func:`log_joint` (``compile_logp(jacobian=False)`` of the PyMC model;
        with known noise w has no transform, so NUTS's own ``lp`` is the same function).  ``log_likelihood`` and
        ``posterior_predictive`` of ``y`` (chain, draw, obs), the latter ``y_rep ~ N(Phi w, sigma^2)`` from
        ``default_rng([seed, 2])``; ``observed_data``.

    Raises
    ------
    ValueError
        As :func:`conjugate_posterior`, or naming ``draws`` or ``chains``.
    """
    import time

    import arviz as az

    draws, chains = positive_int(draws, "draws"), positive_int(chains, "chains")
    start = time.perf_counter()
    w, sigma = conjugate_posterior(Phi, y, prior).sample(np.random.default_rng([seed, 1]), draws * chains)
    seconds = time.perf_counter() - start
    Phi, y = check_inputs(Phi, "Phi"), finite_vector(y, "y")
    w, sigma = w.reshape(chains, draws, -1), sigma.reshape(chains, draws)
    posterior = {"w": w, "sigma": sigma, **({} if prior.known_noise else {"sigma2": sigma**2})}
    idata = az.from_dict(
        posterior=posterior, sample_stats={"lp": log_joint(w, sigma, Phi, y, prior)},
        log_likelihood={"y": pointwise_log_likelihood(w, sigma, Phi, y)},
        posterior_predictive={"y": simulate_observations(np.random.default_rng([seed, 2]), w, sigma, Phi)},
        observed_data={"y": y}, coords={"feature": np.arange(Phi.shape[1]), "obs": np.arange(Phi.shape[0])},
        dims={"w": ["feature"], "y": ["obs"]})
    idata.posterior.attrs.update(inference_library="bayes-zoo", algorithm="exact conjugate draws", seed=seed,
                                 sampling_time=seconds)
    return idata
