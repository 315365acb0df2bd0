"""Bayesian probit regression: the prior, the PyMC model and the log-likelihood by hand.

Model, on features ``x_n`` (D of them, a bias among them; the learner builds them with
:class:`bayes_zoo.models.linear.LinearFeatures` on standardised inputs) and labels ``y_n`` in {0, 1}::

    theta ~ N(0, weight_sd^2 I),        y_n | theta ~ Bernoulli(Phi(x_n^T theta))

with ``Phi`` the standard normal CDF (Bishop 2006, sec. 4.3.5).  With ``s_n = 2 y_n - 1`` and
``u_n = s_n x_n^T theta`` (because ``1 - Phi(z) = Phi(-z)``)::

    log p(y | theta)      = sum_n log Phi(u_n)
    gradient              = sum_n s_n lambda(u_n) x_n,                    lambda(u) = phi(u) / Phi(u)
    Hessian               = -sum_n lambda(u_n) (u_n + lambda(u_n)) x_n x_n^T

(``lambda`` is the inverse Mills ratio and ``lambda'(u) = -lambda(u) (u + lambda(u))``, which lies in
(-1, 0), so the log-likelihood is concave; Rasmussen & Williams 2006, sec. 3.4.1 and Table 3.1).  ``log Phi``
is computed by ``scipy.special.log_ndtr`` and ``lambda`` as ``exp(log phi - log Phi)``, both finite for
every finite ``u`` (no underflow of ``Phi(u)`` for ``u`` far below 0).

The PyMC likelihood ``y`` is a ``pm.CustomDist`` whose log-probability is ``log Phi(z)`` for a 1 and
``log Phi(-z)`` for a 0 (with ``z = x^T w``), and whose draws are Bernoulli(``Phi(z)``): the same distribution
as ``pm.Bernoulli("y", p=pm.math.invprobit(z))``, written so that it stays finite.  In PyMC 5.28
``invprobit(z)`` is ``0.5 erfc(-z / sqrt 2)``, which rounds to 1 above z ~ 8.3, so a label 0 there gets
log-probability ``-inf`` (``log1p(-1)``); ``pm.Bernoulli(logit_p=log Phi(z) - log Phi(-z))`` has the right
value but a NaN gradient there (PyTensor differentiates ``log1p(-sigmoid(l))`` as ``s (1 - s) / (1 - s)``).
``log Phi`` in PyTensor is written with ``erfcx`` on clamped arguments, so the log-probability and its
gradient are finite for every finite ``z``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from bayes_zoo.models.checks import finite_vector, positive_scalar
from bayes_zoo.models.linear import check_inputs

__all__ = [
    "ProbitPrior",
    "check_labels",
    "check_problem",
    "log_likelihood",
    "log_likelihood_gradient",
    "log_likelihood_hessian",
    "inverse_mills",
    "build_probit_model",
]

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


@dataclass(frozen=True)
class ProbitPrior:
    """The prior ``theta ~ N(0, weight_sd^2 I)`` on the probit weights (bias included).

    Parameters
    ----------
    weight_sd : float > 0, default 2.5
        The prior standard deviation of each weight (a standard deviation, not a variance), in units of the
        latent ``z = x^T theta`` per unit of the (standardised) feature.

    Raises
    ------
    ValueError
        Naming ``weight_sd`` if it is not a finite number > 0.
    """

    weight_sd: float = 2.5

    def __post_init__(self):
        positive_scalar(self.weight_sd, "weight_sd")

    def log_density(self, theta) -> float:
        """``log N(theta | 0, weight_sd^2 I)`` for ``theta`` of shape ``(D,)``."""
        theta = finite_vector(theta, "theta")
        v = self.weight_sd**2
        return float(-0.5 * theta @ theta / v - theta.size * (0.5 * np.log(v) + _LOG_SQRT_2PI))


def check_labels(y, name: str = "y") -> np.ndarray:
    """Labels as a float64 vector of zeros and ones.

    Raises
    ------
    ValueError
        Naming ``name``: not 1-D, empty, non-finite, or holding a value other than 0 and 1.
    """
    y = finite_vector(y, name)
    bad = (y != 0.0) & (y != 1.0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}: labels must be 0 or 1, got {y[first]!r} at index {first}")
    return y


def check_problem(X, y, theta=None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validate features ``X`` (N, D), labels ``y`` (N,) in {0, 1} and, if given, weights ``theta`` (D,).

    Raises
    ------
    ValueError
        Naming ``X``, ``y`` or ``theta``.
    """
    X = check_inputs(X, "X")
    y = check_labels(y, "y")
    if y.size != X.shape[0]:
        raise ValueError(f"y: length {y.size} does not match X's {X.shape[0]} rows")
    if theta is not None:
        theta = finite_vector(theta, "theta")
        if theta.size != X.shape[1]:
            raise ValueError(f"theta: length {theta.size} does not match X's {X.shape[1]} columns")
    return X, y, theta


def inverse_mills(u) -> np.ndarray:
    """``lambda(u) = phi(u) / Phi(u)``, elementwise, finite for every finite ``u`` (about ``-u`` far below 0)."""
    u = np.asarray(u, dtype=np.float64)
    return np.exp(-0.5 * u * u - _LOG_SQRT_2PI - special.log_ndtr(u))


def _signed_margins(X: np.ndarray, y: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = 2.0 * y - 1.0  # [N]
    return s, s * (X @ theta)  # [N], [N]


def log_likelihood(X, y, theta) -> float:
    """``sum_n log Phi(s_n x_n^T theta)`` (module docstring), in nats.

    Parameters
    ----------
    X : array_like, shape (N, D)
        Features (bias column included).
    y : array_like, shape (N,)
        Labels, each 0 or 1.
    theta : array_like, shape (D,)

    Raises
    ------
    ValueError
        Naming ``X``, ``y`` (shape, non-finite, a label other than 0/1) or ``theta``.
    """
    X, y, theta = check_problem(X, y, theta)
    _, u = _signed_margins(X, y, theta)
    return float(np.sum(special.log_ndtr(u)))


def log_likelihood_gradient(X, y, theta) -> np.ndarray:
    """The gradient of :func:`log_likelihood` in ``theta``, shape ``(D,)`` (module docstring)."""
    X, y, theta = check_problem(X, y, theta)
    s, u = _signed_margins(X, y, theta)
    return X.T @ (s * inverse_mills(u))


def log_likelihood_hessian(X, y, theta) -> np.ndarray:
    """The Hessian of :func:`log_likelihood` in ``theta``, shape ``(D, D)``, negative semi-definite.

    The curvature weight ``lambda(u) (u + lambda(u))`` lies in (0, 1); far below ``u = 0`` it is computed
    with cancellation in ``u + lambda(u)`` and is clipped to [0, 1] (it tends to 1 there).
    """
    X, y, theta = check_problem(X, y, theta)
    _, u = _signed_margins(X, y, theta)
    lam = inverse_mills(u)
    weight = np.clip(lam * (u + lam), 0.0, 1.0)  # [N]
    return -(X * weight[:, None]).T @ X


def _pt_log_ndtr(z):
    """``log Phi(z)`` in PyTensor, finite with a finite gradient for every finite ``z``.

    Below ``z = -1``: ``log(erfcx(-z / sqrt 2) / 2) - z^2 / 2`` (as PyMC's ``normal_lcdf``); above:
    ``log1p(-erfc(z / sqrt 2) / 2)``.  Each branch sees its argument clamped to its own side, so the branch
    not taken never overflows and never puts ``inf * 0`` into the gradient.
    """
    import pytensor.tensor as pt

    low = pt.minimum(z, -1.0)
    high = pt.maximum(z, -1.0)
    below = pt.log(pt.erfcx(-low / np.sqrt(2.0)) / 2.0) - pt.sqr(low) / 2.0
    above = pt.log1p(-pt.erfc(high / np.sqrt(2.0)) / 2.0)
    return pt.switch(pt.lt(z, -1.0), below, above)


def build_probit_model(X, y, prior: ProbitPrior):
    """The PyMC model of the module docstring, with coords ``obs`` and ``feature``.

    ``X`` and ``y`` are ``pm.Data`` (names ``"X"`` and ``"y_obs"``) so that the same compiled model can be
    evaluated at other inputs and outputs with ``pm.set_data`` (the pool, in
    :func:`bayes_zoo.active_learning.projections.monte_carlo_projections`).  The free variable is ``w`` (dims
    ``feature``); the likelihood is ``y`` (dims ``obs``), a Bernoulli with probability ``Phi(X w)`` given by its
    stable logit (module docstring).

    Parameters
    ----------
    X : array_like, shape (N, D)
        Features (bias column included).
    y : array_like, shape (N,)
        Labels, each 0 or 1.
    prior : ProbitPrior

    Returns
    -------
    pymc.Model

    Raises
    ------
    ValueError
        Naming ``X``, ``y`` or ``prior``.
    """
    import pymc as pm

    X, y, _ = check_problem(X, y)
    if not isinstance(prior, ProbitPrior):
        raise ValueError(f"prior: expected a ProbitPrior, got {type(prior).__name__}")
    coords = {"obs": np.arange(X.shape[0]), "feature": np.arange(X.shape[1])}
    with pm.Model(coords=coords) as model:
        X_data = pm.Data("X", X, dims=("obs", "feature"))
        y_data = pm.Data("y_obs", y, dims="obs")
        # a float64 array: a Python float exact in float32 (2.5) would become a float32 constant in PyTensor
        # and PyMC's log-density would carry log(weight_sd) to float32 precision (~3e-8 per weight)
        w = pm.Normal("w", 0.0, np.asarray(prior.weight_sd, dtype=np.float64), dims="feature")
        pm.CustomDist("y", X_data @ w, logp=_bernoulli_probit_logp, random=_bernoulli_probit_random,
                      dtype="int64", observed=y_data, dims="obs")
    return model


def _bernoulli_probit_logp(value, z):
    """``log Phi(z)`` where ``value`` is 1, ``log Phi(-z)`` where it is 0, ``-inf`` elsewhere (PyTensor)."""
    import pytensor.tensor as pt

    res = pt.switch(pt.eq(value, 1), _pt_log_ndtr(z), _pt_log_ndtr(-z))
    return pt.switch(pt.or_(pt.eq(value, 0), pt.eq(value, 1)), res, -np.inf)


def _bernoulli_probit_random(z, rng=None, size=None) -> np.ndarray:
    """Bernoulli(Phi(z)) draws for ``pm.sample_posterior_predictive`` (NumPy)."""
    z = np.asarray(z, dtype=np.float64)
    return (rng.uniform(size=size if size is not None else z.shape) < special.ndtr(z)).astype(np.int64)
