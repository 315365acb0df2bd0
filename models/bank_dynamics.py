"""PyMC versions of posteriordb's dynamic models: hidden Markov models and ODEs (see :mod:`bayes_zoo.models.bank`).

Five models, written from the Stan code of posteriordb (``posterior_database/models/stan/NAME.stan``):

- ``hmm_example``: a two-state hidden Markov model with unit-variance normal emissions;
- ``hmm_drive_0`` and ``hmm_drive_1``: two-state HMMs of a basketball player's drives (Stan's case study data),
  two series observed jointly, exponential (``_0``) or normal (``_1``) emissions;
- ``lotka_volterra``: the predator-prey ODE on the Hudson's Bay lynx and hare pelts (Carpenter 2018, Stan case
  study "Predator-Prey Population Dynamics");
- ``one_comp_mm_elim_abs``: a one-compartment pharmacokinetic ODE with first-order absorption and
  Michaelis-Menten elimination.

**Hidden Markov models.**  Stan's forward algorithm marginalises the hidden states: with log emission densities
``E[t, k]`` and transition matrix ``theta[j, k] = P(z[t] = k | z[t-1] = j)`` (row ``j`` is the simplex
``theta1`` or ``theta2``), ``gamma[1] = E[1]``, ``gamma[t, k] = log_sum_exp_j(gamma[t-1, j] + log theta[j, k])
+ E[t, k]``, and the log-likelihood is ``log_sum_exp(gamma[N])``.  That is the log-semiring product
``E[1] (x) M[2] (x) ... (x) M[N]`` of the matrices ``M[t][j, k] = log theta[j, k] + E[t, k]``;
:func:`hmm_log_likelihood` multiplies them as a balanced tree (pairs, then pairs of pairs: ``ceil(log2 N)``
vectorised levels) instead of ``N - 1`` sequential steps, the same sum in another order.  Stan starts the
recursion without an initial distribution (``gamma[1] = E[1]``): an initial distribution uniform over the states,
times the constant ``K``; the simulator (:func:`simulate_hmm`) draws the first state uniformly.  The data are
observed by a ``pm.CustomDist`` as one multivariate draw (``y`` ``[N]``, or ``uv`` ``[N, 2]`` for the two drive
series, stacked in the transformed data), so the log-likelihood group holds one value per draw, the whole
series' (not pointwise: PSIS-LOO does not apply to a series' observations, which are dependent).

**Constrained normal parameters.**  Stan's ``positive_ordered[K]`` and ``ordered[K]`` emission parameters, and
the Lotka-Volterra ``theta`` (``<lower=0>``), with normal statements on their elements, are
:func:`constrained_normal` variables: the normal log density (Stan's statements; its normalising constant on the
support depends on no parameter), Stan's transform (``Ordered(positive=True)``, ``ordered``, ``log``), a forward
sampler that redraws the normal vector until it lies in the support (so prior predictive draws and SBC
simulations respect it), and a start point inside the support near the prior means.

**ODEs.**  The solutions are classical fourth-order Runge-Kutta on a fixed grid (:func:`rk4`, a PyTensor
``scan`` over the steps, differentiable and compiled by numba like the rest of the model), not Stan's adaptive
solvers (rk45, BDF); :func:`ode_grid` places the steps.  The accuracy is checked against SciPy's
``solve_ivp`` at rtol 1e-10 at reference draws (``tests/models/test_bank_dynamics.py``); each model's
:attr:`~bayes_zoo.models.bank.BankModel.departs` states the step and the difference measured over all 10,000
reference draws (5.4e-7 and 2.9e-7 relative).  A fixed step cannot adapt: far outside the posterior (early
warm-up, say) RK4 may lose accuracy or blow up, which NUTS sees as a divergence and rejects.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping
from functools import partial

import numpy as np

__all__ = ["MODELS", "hmm_log_likelihood", "simulate_hmm", "constrained_normal", "CONSTRAINTS", "ode_grid", "rk4",
           "lotka_volterra_rhs", "one_comp_rhs", "LV_STEP", "PK_STEP", "PK_GRADED", "UNROLL",
           "build_hmm_example", "build_hmm_drive_0", "build_hmm_drive_1", "build_lotka_volterra",
           "build_one_comp_mm_elim_abs"]

#: Lotka-Volterra: the RK4 step (years; 16 steps between the yearly measurements).
LV_STEP = 1.0 / 16.0
#: RK4 steps per scan iteration (:func:`rk4`'s ``unroll``), both ODE models.
UNROLL = 4
#: One-compartment PK: the RK4 step after the first measurement (days; 4 steps per half day).
PK_STEP = 0.125
#: One-compartment PK, the first interval ``[t0, times[0]]``: ``(steps, power)`` of the graded grid
#: ``t0 + (times[0] - t0) (j / steps) ** power``, fine where the concentration starts from 0 (module docstring).
PK_GRADED = (32, 4)

def _labels(n: int) -> list:
    return list(range(1, int(n) + 1))


def _int(data: Mapping, key: str, *, low: int = 1) -> int:
    value = np.asarray(data[key])
    if value.ndim or (value.dtype.kind not in "iu" and not float(value).is_integer()) or int(value) < low:
        raise ValueError(f"data: {key} must be an integer >= {low}, got {value!r}")
    return int(value)


def _vector(data: Mapping, key: str, n: int | None = None, *, positive: bool = False,
            nonnegative: bool = False) -> np.ndarray:
    x = np.asarray(data[key], dtype=float)
    if x.ndim != 1 or (n is not None and x.shape[0] != n):
        raise ValueError(f"data: {key} must be a vector of length {n if n is not None else 'N'}, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"data: {key} has non-finite values")
    if positive and not np.all(x > 0):
        raise ValueError(f"data: {key} must be positive (a lognormal or exponential outcome); min {x.min()}")
    if nonnegative and not np.all(x >= 0):
        raise ValueError(f"data: {key} must be >= 0 (an exponential outcome); min {x.min()}")
    return x


# ------------------------------------------------------------------------------------------- hidden Markov models
def _logsumexp(x, axis: int):
    """``log(sum(exp(x)))`` along ``axis`` (``pt.logsumexp``).  Stable once compiled with PyTensor's
    ``stabilize`` rewrites (every standard mode but ``FAST_COMPILE``: ``local_log_sum_exp`` takes the maximum
    out).  Writing the maximum out by hand here instead made nutpie's numba compilation several times slower
    (``hmm_example``, ``hmm_drive_0``: 160-200 s against 20-70 s with this, on a loaded 2-core machine)."""
    import pytensor.tensor as pt

    return pt.logsumexp(x, axis=axis)


def _log_matmul(a, b):
    """Log-semiring product over the last two axes: ``out[..., i, k] = log_sum_exp_j a[..., i, j] + b[..., j, k]``."""
    return _logsumexp(a[..., :, :, None] + b[..., None, :, :], axis=-2)


def hmm_log_likelihood(log_emission, log_theta, n: int):
    """Stan's forward algorithm: the log-likelihood of an HMM series, its states marginalised (PyTensor).

    Parameters
    ----------
    log_emission : tensor ``[n, K]``
        ``log p(y[t] | z[t] = k)``.
    log_theta : tensor ``[K, K]``
        Log transition probabilities, ``log P(z[t] = k | z[t-1] = j)`` at ``[j, k]``.
    n : int, >= 1
        The series' length (static: it shapes the tree of products).

    Returns
    -------
    scalar tensor
        ``log_sum_exp(gamma[n])`` of Stan's recursion, ``gamma[1] = log_emission[1]`` (no initial distribution):
        the matrices ``log_theta + log_emission[t]`` (``t = 2..n``) multiplied in the log semiring as a balanced
        tree, then by ``gamma[1]``.

    Raises
    ------
    ValueError
        If ``n`` is not a positive integer.
    """
    import pytensor.tensor as pt

    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n: expected a positive integer, got {n!r}")
    first = log_emission[0]
    if n == 1:
        return _logsumexp(first, axis=0)
    product = log_theta[None, :, :] + log_emission[1:n, None, :]  # [n - 1, K, K]: step t's matrix
    count = n - 1
    while count > 1:  # pair neighbours, keeping the order (the product is associative, not commutative)
        half = count // 2
        paired = _log_matmul(product[0:2 * half:2], product[1:2 * half:2])
        product = paired if count % 2 == 0 else pt.concatenate([paired, product[count - 1:count]], axis=0)
        count = half + count % 2
    return _logsumexp(pt.flatten(first[:, None] + product[0]), axis=0)


def _markov_states(rng: np.random.Generator, theta: np.ndarray, n: int) -> np.ndarray:
    k = theta.shape[-1]
    cum = [list(np.cumsum(row)[:-1]) for row in theta]  # the last boundary is 1: bisect gives at most k - 1
    u = rng.random(n).tolist()
    z = [int(rng.integers(k))]
    for t in range(1, n):
        z.append(bisect.bisect_right(cum[z[-1]], u[t]))
    return np.asarray(z)


def simulate_hmm(rng: np.random.Generator, theta, emit: Callable, n: int) -> np.ndarray:
    """One series of Stan's HMM: the first state uniform on ``0..K-1`` (Stan's recursion has no initial
    distribution), then Markov with transition matrix ``theta`` ``[K, K]`` (rows sum to 1); ``emit(rng, z)``
    draws the observations given the states ``z`` ``[n]`` (0-based).  Returns what ``emit`` returns."""
    theta = np.asarray(theta, dtype=float)
    return emit(rng, _markov_states(rng, theta, int(n)))


def _batched_random(emit: Callable, n: int, out_tail: tuple, cores: tuple, theta, *params, rng=None, size=None):
    """CustomDist's ``random``: ``size`` (batch) series of :func:`simulate_hmm`; ``params`` (the emission
    parameters, then the time index, unused) have ``cores`` core dimensions each, broadcast over the batch."""
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    theta = np.asarray(theta, dtype=float)
    params = [np.asarray(p, dtype=float) for p in params[:len(cores)]]
    batch = tuple(size) if size is not None else np.broadcast_shapes(
        theta.shape[:-2], *(p.shape[:p.ndim - c] for p, c in zip(params, cores)))
    theta = np.broadcast_to(theta, batch + theta.shape[-2:])
    params = [np.broadcast_to(p, batch + p.shape[p.ndim - c:]) for p, c in zip(params, cores)]
    out = np.empty(batch + (n, *out_tail))
    for idx in np.ndindex(*batch):
        out[idx] = simulate_hmm(rng, theta[idx], partial(emit, *(p[idx] for p in params)), n)
    return out


#: The supports :func:`constrained_normal` knows, as Stan declares them.
CONSTRAINTS = ("positive", "ordered", "positive_ordered")


def constrained_normal(name: str, mu, sigma, *, constraint: str, dims: str):
    """A vector parameter ``x`` with ``x[k] ~ normal(mu[k], sigma[k])`` on Stan's support ``constraint``:
    ``"positive"`` (``<lower=0>``: a normal truncated at 0), ``"ordered"`` (``x[1] < x[2] < ...``) or
    ``"positive_ordered"`` (and ``x[1] > 0``).

    Inside a model context.  The log density is the normal one (as Stan's statements: the support's
    normalising constant depends on no parameter); the transform ``log``, ``ordered`` or
    ``Ordered(positive=True)`` (Stan's own transforms); forward draws (prior predictive, SBC) are normal draws
    redrawn until they lie in the support; the initial point (support point) is ``mu`` moved into the support:
    ``max(mu, sigma)`` elementwise for ``"positive"``; for the ordered ones ``x[1] = mu[1]`` (``max(mu[1],
    sigma[1])`` when positive), ``x[k] = x[k-1] + max(mu[k] - mu[k-1], sigma[k])``.  (Not ``initval``: PyMC
    cannot turn a model with initial values into a graph, as ``pm.compute_log_likelihood`` and
    :mod:`bayes_zoo.inference.sbc_model` do; and ``pm.TruncatedNormal`` starts at ``lower + 1``, far from a
    prior like ``normal(0.05, 0.05)``.)

    Raises
    ------
    ValueError
        If ``mu`` and ``sigma`` are not equal-length vectors (sigma > 0), or ``constraint`` is not one of
        :data:`CONSTRAINTS`.
    """
    import pymc as pm
    import pytensor.tensor as pt
    from pymc.distributions import transforms
    from pymc.distributions.shape_utils import rv_size_is_none

    if constraint not in CONSTRAINTS:
        raise ValueError(f"constraint: expected one of {CONSTRAINTS}, got {constraint!r}")
    mu, sigma = (np.asarray(v, dtype=float) for v in (mu, sigma))
    if mu.ndim != 1 or not mu.size or sigma.shape != mu.shape or not np.all(sigma > 0):
        raise ValueError(f"{name}: mu and sigma must be vectors of one length, sigma > 0")
    positive, ordered = constraint != "ordered", constraint != "positive"

    def inside(x):
        if not ordered:
            return np.all(x > 0)
        return np.all(np.diff(x) > 0) and (not positive or x[0] > 0)

    def logp(value, mu, sigma):
        elementwise = pm.logp(pm.Normal.dist(mu, sigma), value)
        return elementwise if not ordered else pt.sum(elementwise, axis=-1)

    def random(mu, sigma, rng=None, size=None):
        core = () if not ordered else mu.shape[-1:]
        batch = tuple(size) if size is not None else np.broadcast_shapes(mu.shape[:mu.ndim - len(core)],
                                                                          sigma.shape[:sigma.ndim - len(core)])
        mu_b, sigma_b = np.broadcast_to(mu, batch + core), np.broadcast_to(sigma, batch + core)
        out = np.empty(batch + core)
        for idx in np.ndindex(*batch):
            for _ in range(100_000):
                x = rng.normal(mu_b[idx], sigma_b[idx])
                if inside(x):
                    break
            else:  # pragma: no cover - the supports here hold a sizeable share of the normal's mass
                raise RuntimeError(f"{name}: no prior draw in the {constraint} support in 100,000 tries")
            out[idx] = x
        return out

    def support_point(rv, size, mu, sigma):
        if not ordered:
            point = pt.maximum(mu, sigma)
            return point if rv_size_is_none(size) else pt.full(size, point)
        first = pt.maximum(mu[..., :1], sigma[..., :1]) if positive else mu[..., :1]
        steps = pt.maximum(mu[..., 1:] - mu[..., :-1], sigma[..., 1:])
        point = pt.cumsum(pt.concatenate([first, steps], axis=-1), axis=-1)
        return point if rv_size_is_none(size) else pt.full((*size, mu.shape[-1]), point)

    if not ordered:  # elementwise: a univariate CustomDist, as the log transform needs
        return pm.CustomDist(name, mu, sigma, logp=logp, random=random, support_point=support_point,
                             signature="(),()->()", transform=transforms.log, dims=dims)
    transform = transforms.Ordered(positive=True) if positive else transforms.ordered
    return pm.CustomDist(name, mu, sigma, logp=logp, random=random, support_point=support_point,
                         signature="(k),(k)->(k)", transform=transform, dims=dims)


def _check_hmm(data: Mapping, keys: tuple) -> tuple[int, int]:
    k = _int(data, "K")
    if k != 2:
        raise ValueError(f"data: K must be 2 (the Stan code writes theta from theta1 and theta2), got {k}")
    n = _int(data, "N")
    for key in keys:
        _vector(data, key, n)
    return n, k


def build_hmm_example(data: Mapping):
    """posteriordb ``hmm_example`` (Stan's "simple hmm example"): a two-state HMM, ``y[t] ~ normal(mu[z[t]], 1)``.

    Parameters
    ----------
    data : mapping
        ``N``, ``K`` (= 2), ``y`` ``[N]``.

    Returns
    -------
    pymc.Model
        Free: ``theta1``, ``theta2`` (dims ``state``, labels 1..K: rows of the transition matrix, uniform on the
        simplex as Stan's unstated prior), ``mu`` (``state``; positive and increasing, ``mu[1] ~ normal(3, 1)``,
        ``mu[2] ~ normal(10, 1)``).  Observed: ``y``, one multivariate draw (:func:`hmm_log_likelihood`).

    Raises
    ------
    ValueError
        If ``K`` is not 2, ``N`` not a positive integer, or ``y`` not a finite vector of length ``N``.
    """
    import pymc as pm
    import pytensor.tensor as pt

    n, k = _check_hmm(data, ("y",))
    y = _vector(data, "y", n)

    def logp(value, theta, mu, time):
        emission = pm.logp(pm.Normal.dist(mu[None, :], 1.0), value[:, None])  # [N, K]
        return hmm_log_likelihood(emission, pt.log(theta), n)

    def emit(mu, rng, z):
        return mu[z] + rng.standard_normal(len(z))

    with pm.Model(coords={"state": _labels(k), "time": _labels(n)}) as model:
        theta1 = pm.Dirichlet("theta1", a=np.ones(k), dims="state")
        theta2 = pm.Dirichlet("theta2", a=np.ones(k), dims="state")
        mu = constrained_normal("mu", [3.0, 10.0], [1.0, 1.0], constraint="positive_ordered", dims="state")
        pm.CustomDist("y", pt.stack([theta1, theta2]), mu, np.arange(1, n + 1), logp=logp,
                      random=partial(_batched_random, emit, n, (), (1,)), signature="(k,k),(k),(n)->(n)",
                      observed=y, dims="time")
    return model


def _stack_uv(data: Mapping) -> dict:
    n = _int(data, "N")
    return {"uv": np.column_stack([_vector(data, "u", n), _vector(data, "v", n)])}


def _build_drive(data: Mapping, *, exponential: bool):
    import pymc as pm
    import pytensor.tensor as pt

    n, k = _check_hmm(data, ("u", "v"))
    alpha = np.asarray(data["alpha"], dtype=float)
    if alpha.shape != (k, k) or not np.all(alpha > 0):
        raise ValueError(f"data: alpha must be a positive {k} x {k} matrix, got shape {alpha.shape}")
    if exponential:
        _vector(data, "u", n, nonnegative=True)
        _vector(data, "v", n, nonnegative=True)
        scale = None
    else:
        scale = np.array([float(data["tau"]), float(data["rho"])])
        if not np.all(scale > 0):
            raise ValueError(f"data: tau and rho must be positive, got {scale}")
    uv = np.asarray(data["uv"], dtype=float)
    if uv.shape != (n, 2) or not (np.array_equal(uv[:, 0], data["u"]) and np.array_equal(uv[:, 1], data["v"])):
        raise ValueError("data: uv must be the columns u and v (the transformed data of bank_data)")

    def emission(value, loc, *rest):  # [N, K]: both series, state k's parameters loc[k, :]
        if exponential:
            dist = pm.Exponential.dist(lam=loc[None, :, :])  # Stan's exponential(rate)
        else:
            dist = pm.Normal.dist(loc[None, :, :], rest[0])
        return pt.sum(pm.logp(dist, value[:, None, :]), axis=-1)

    def logp(value, theta, loc, *rest):
        return hmm_log_likelihood(emission(value, loc, *rest), pt.log(theta), n)

    def emit(loc, *rest):
        *sd, rng, z = rest
        if exponential:
            return rng.exponential(1.0 / loc[z])
        return loc[z] + sd[0] * rng.standard_normal((len(z), 2))

    with pm.Model(coords={"state": _labels(k), "time": _labels(n), "series": ["u", "v"]}) as model:
        theta1 = pm.Dirichlet("theta1", a=alpha[0], dims="state")
        theta2 = pm.Dirichlet("theta2", a=alpha[1], dims="state")
        constraint = "positive_ordered" if exponential else "ordered"
        phi = constrained_normal("phi", [0.0, 3.0], [1.0, 1.0], constraint=constraint, dims="state")
        lam = constrained_normal("lambda", [0.0, 3.0], [1.0, 1.0], constraint=constraint, dims="state")
        loc = pt.stack([phi, lam], axis=-1)  # [K, 2]
        params = (pt.stack([theta1, theta2]), loc) + (() if exponential else (scale,)) + (np.arange(1, n + 1),)
        signature = "(k,k),(k,c),(n)->(n,c)" if exponential else "(k,k),(k,c),(c),(n)->(n,c)"
        cores = (2,) if exponential else (2, 1)
        pm.CustomDist("uv", *params, logp=logp, random=partial(_batched_random, emit, n, (2,), cores),
                      signature=signature, observed=uv, dims=("time", "series"))
    return model


def build_hmm_drive_0(data: Mapping):
    """posteriordb ``hmm_drive_0`` (data ``bball_drive_event_0``): a two-state HMM of a basketball drive, the
    inverse speed ``u[t] ~ exponential(phi[z[t]])`` and the distance to the hoop ``v[t] ~
    exponential(lambda[z[t]])`` (rates, as Stan's ``exponential``), independent given the state.

    Parameters
    ----------
    data : mapping
        Stan's ``K`` (= 2), ``N``, ``u``, ``v`` ``[N]`` (>= 0), ``alpha`` ``[K, K]`` (the Dirichlet prior of
        each row of the transition matrix), and the transformed data's ``uv`` ``[N, 2]``
        (:func:`bayes_zoo.models.bank.bank_data`).

    Returns
    -------
    pymc.Model
        Free: ``theta1 ~ dirichlet(alpha[1, :])``, ``theta2 ~ dirichlet(alpha[2, :])``, ``phi``, ``lambda``
        (positive and increasing, ``[1] ~ normal(0, 1)``, ``[2] ~ normal(3, 1)``), all dims ``state`` (1..K).
        Observed: ``uv`` (dims ``time``, ``series``), one multivariate draw.

    Raises
    ------
    ValueError
        If ``K`` is not 2, a vector is not of length ``N`` or negative, ``alpha`` is not a positive K x K matrix, or
        ``uv`` is not ``u`` and ``v`` stacked.
    """
    return _build_drive(data, exponential=True)


def build_hmm_drive_1(data: Mapping):
    """posteriordb ``hmm_drive_1`` (data ``bball_drive_event_1``): as :func:`build_hmm_drive_0` with normal
    emissions of known sds, ``u[t] ~ normal(phi[z[t]], tau)``, ``v[t] ~ normal(lambda[z[t]], rho)``; ``phi`` and
    ``lambda`` increasing (Stan's ``ordered``, not positive) with the same normal priors.

    Raises
    ------
    ValueError
        As :func:`build_hmm_drive_0`, and if ``tau`` or ``rho`` is not positive.
    """
    return _build_drive(data, exponential=False)


# ------------------------------------------------------------------------------------------------------ ODEs
def ode_grid(t0: float, times, step: float, graded: tuple[int, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The fixed RK4 grid through the measurement times.

    Parameters
    ----------
    t0 : float
        Initial time.
    times : array ``[N]``
        Measurement times, strictly increasing, all > ``t0``.
    step : float > 0
        The largest step: each interval between measurements is cut into ``ceil(length / step)`` equal steps.
    graded : (int, float), optional
        ``(m, p)``: the first interval ``[t0, times[0]]`` cut at ``t0 + (times[0] - t0) (j / m) ** p``,
        ``j = 0..m`` instead (steps growing from ``(times[0] - t0) / m ** p``).

    Returns
    -------
    nodes : array ``[S + 1]``
        ``t0``, then the end of each of the S steps.
    at : array of int ``[N]``
        ``nodes[at[i]] == times[i]``.

    Raises
    ------
    ValueError
        If ``times`` is not a strictly increasing finite vector after ``t0``, ``step`` is not positive, or
        ``graded`` is not (m >= 1, p >= 1).
    """
    times = np.asarray(times, dtype=float)
    t0 = float(t0)
    if times.ndim != 1 or not times.size or not np.all(np.isfinite(times)) or not math.isfinite(t0):
        raise ValueError(f"times: expected a finite vector, got shape {times.shape}")
    if not np.all(np.diff(np.r_[t0, times]) > 0):
        raise ValueError(f"times: must increase strictly from t0 = {t0}")
    if not (isinstance(step, (int, float)) and step > 0):
        raise ValueError(f"step: expected a positive number, got {step!r}")
    if graded is not None and (int(graded[0]) < 1 or float(graded[1]) < 1):
        raise ValueError(f"graded: expected (steps >= 1, power >= 1), got {graded!r}")
    nodes, at, start = [t0], [], t0
    for i, end in enumerate(times):
        if i == 0 and graded is not None:
            m, power = int(graded[0]), float(graded[1])
            cuts = start + (end - start) * (np.arange(1, m + 1) / m) ** power
        else:
            m = max(1, math.ceil((end - start) / step - 1e-9))
            cuts = start + (end - start) * np.arange(1, m + 1) / m
        cuts[-1] = end
        nodes.extend(cuts.tolist())
        at.append(len(nodes) - 1)
        start = end
    return np.asarray(nodes), np.asarray(at)


def rk4(rhs: Callable, y0, nodes, *params, unroll: int = 1) -> list:
    """Classical fourth-order Runge-Kutta on the fixed grid ``nodes`` (PyTensor, a ``scan``).

    The state is a tuple of scalars, not a vector, so that a step is one elementwise expression that PyTensor
    fuses (with its gradient) into one kernel; and each scan iteration takes ``unroll`` steps, written out, so
    that the scan's per-iteration overhead is paid once per ``unroll`` steps.  Measured under nutpie on
    ``lotka_volterra`` (320 steps; a loaded 2-core machine): a state vector ``[2]`` sampled 3x slower than
    scalars; with scalars, per leapfrog step (log density and gradient) ~1 ms with one step per iteration,
    ~0.24 ms with ``unroll=4``, ~0.13 ms with 16, for compilation times of 23 s, 42 s and 313 s.

    Parameters
    ----------
    rhs : callable
        ``rhs(t, y, *params) -> dy/dt``, ``y`` and the result tuples of scalar tensors, one per state component.
    y0 : sequence of scalar tensors
        The state at ``nodes[0]``.
    nodes : array ``[S + 1]``
        Increasing times (:func:`ode_grid`); ``S`` a multiple of ``unroll``.
    *params : scalar tensors
        Passed to ``rhs``.
    unroll : int, >= 1
        Steps per scan iteration.

    Returns
    -------
    list of tensors ``[S / unroll]``
        Each component's values at ``nodes[unroll], nodes[2 unroll], ..., nodes[S]``.

    Raises
    ------
    ValueError
        If ``nodes`` is not a strictly increasing vector of at least two times, ``unroll`` is not a positive
        integer dividing its steps, or ``y0`` is empty.
    """
    import pytensor
    import pytensor.tensor as pt

    nodes = np.asarray(nodes, dtype=float)
    if nodes.ndim != 1 or nodes.size < 2 or not np.all(np.diff(nodes) > 0):
        raise ValueError("nodes: expected a strictly increasing vector of at least two times")
    steps = nodes.size - 1
    if isinstance(unroll, bool) or not isinstance(unroll, (int, np.integer)) or unroll < 1 or steps % unroll:
        raise ValueError(f"unroll: expected a positive integer dividing the {steps} steps, got {unroll!r}")
    y0 = [pt.as_tensor(y, dtype="float64") for y in y0]
    if not y0:
        raise ValueError("y0: expected at least one state component")
    size = len(y0)

    def iteration(starts, widths, *args):
        y, params = tuple(args[:size]), args[size:]
        for i in range(unroll):
            t, h = starts[i], widths[i]

            def shifted(k, by, y=y):
                return tuple(yi + by * ki for yi, ki in zip(y, k))

            k1 = rhs(t, y, *params)
            k2 = rhs(t + h / 2, shifted(k1, h / 2), *params)
            k3 = rhs(t + h / 2, shifted(k2, h / 2), *params)
            k4 = rhs(t + h, shifted(k3, h), *params)
            y = tuple(yi + h / 6 * (a + 2 * b + 2 * c + d) for yi, a, b, c, d in zip(y, k1, k2, k3, k4))
        return list(y)

    starts, widths = nodes[:-1].reshape(-1, unroll), np.diff(nodes).reshape(-1, unroll)
    out = pytensor.scan(iteration, sequences=[pt.as_tensor(starts), pt.as_tensor(widths)], outputs_info=y0,
                        non_sequences=list(params), return_updates=False, return_list=True)
    return list(out)


def _at_iterations(at: np.ndarray, unroll: int) -> np.ndarray:
    """The scan iterations of :func:`rk4` that end at grid nodes ``at``."""
    if np.any(at % unroll):
        raise ValueError(f"unroll: {unroll} steps per iteration do not end at every measurement (nodes {at})")
    return at // unroll - 1


def lotka_volterra_rhs(t, z, alpha, beta, gamma, delta):
    """``d(u, v)/dt = ((alpha - beta v) u, (-gamma + delta u) v)`` (prey ``u``, predator ``v``), ``z = (u, v)``."""
    u, v = z
    return (alpha - beta * v) * u, (-gamma + delta * u) * v


def build_lotka_volterra(data: Mapping, *, step: float = LV_STEP, unroll: int = UNROLL):
    """posteriordb ``lotka_volterra`` (data ``hudson_lynx_hare``; Carpenter 2018, "Predator-Prey Population
    Dynamics: the Lotka-Volterra model in Stan"): hare and lynx pelts, ``z(t)`` from
    :func:`lotka_volterra_rhs` with ``z(0) = z_init``, solved by :func:`rk4` (``step``), measured with
    multiplicative error: ``y_init[k] ~ lognormal(log z_init[k], sigma[k])``, ``y[n, k] ~
    lognormal(log z(ts[n])[k], sigma[k])``.

    Parameters
    ----------
    data : mapping
        ``N``, ``ts`` ``[N]`` (> 0, increasing), ``y_init`` ``[2]``, ``y`` ``[N, 2]`` (positive).
    step : float
        The RK4 step (default :data:`LV_STEP`).
    unroll : int
        RK4 steps per scan iteration (:func:`rk4`; default :data:`UNROLL`); it must divide the steps of each
        interval between measurements.

    Returns
    -------
    pymc.Model
        Free: ``theta`` (dims ``parameter``, 1..4: alpha, beta, gamma, delta; ``theta[1], theta[3] ~ normal(1,
        0.5)``, ``theta[2], theta[4] ~ normal(0.05, 0.05)``, truncated at 0), ``z_init ~ lognormal(log 10, 1)``
        and ``sigma ~ lognormal(-1, 1)`` (dims ``species``, 1 = hare, 2 = lynx).  Deterministic ``z`` (dims
        ``time``, ``species``).  Observed ``y_init`` and ``y``.

    Raises
    ------
    ValueError
        If the data's shapes disagree with ``N``, ``ts`` does not increase from 0, or a measurement is not
        positive.
    """
    import pymc as pm
    import pytensor.tensor as pt

    n = _int(data, "N")
    ts = _vector(data, "ts", n)
    y_init = _vector(data, "y_init", 2, positive=True)
    y = np.asarray(data["y"], dtype=float)
    if y.shape != (n, 2) or not np.all(y > 0):
        raise ValueError(f"data: y must be a positive N x 2 array (N = {n}), got shape {y.shape}")
    nodes, at = ode_grid(0.0, ts, step)
    mu = np.array([1.0, 0.05, 1.0, 0.05])
    sd = np.array([0.5, 0.05, 0.5, 0.05])
    with pm.Model(coords={"parameter": _labels(4), "species": _labels(2), "time": _labels(n)}) as model:
        theta = constrained_normal("theta", mu, sd, constraint="positive", dims="parameter")
        z_init = pm.LogNormal("z_init", mu=np.log(10.0), sigma=1.0, dims="species")
        sigma = pm.LogNormal("sigma", mu=-1.0, sigma=1.0, dims="species")
        u, v = rk4(lotka_volterra_rhs, (z_init[0], z_init[1]), nodes, *(theta[i] for i in range(4)), unroll=unroll)
        at = _at_iterations(at, unroll)
        z = pm.Deterministic("z", pt.stack([u[at], v[at]], axis=1), dims=("time", "species"))
        pm.LogNormal("y_init", mu=pt.log(z_init), sigma=sigma, observed=y_init, dims="species")
        pm.LogNormal("y", mu=pt.log(z), sigma=sigma[None, :], observed=y, dims=("time", "species"))
    return model


def one_comp_rhs(t, c, k_a, K_m, V_m, D, V):
    """``dC/dt = exp(-k_a t) D k_a / V - (V_m / V) C / (K_m + C)`` (PyTensor), ``c = (C,)``.  Stan's dose
    term is 0 at ``t = 0`` exactly; here it is its right limit there (one point changes no solution, and RK4's
    first stage at ``t0 = 0`` would otherwise see no dose)."""
    import pytensor.tensor as pt

    (conc,) = c
    dose = pt.exp(-k_a * t) * D * k_a / V
    return (dose - (V_m / V) * conc / (K_m + conc),)


def build_one_comp_mm_elim_abs(data: Mapping, *, step: float = PK_STEP, graded: tuple = PK_GRADED,
                               unroll: int = UNROLL):
    """posteriordb ``one_comp_mm_elim_abs``: one-compartment pharmacokinetics, first-order absorption of a dose
    ``D`` into volume ``V`` and Michaelis-Menten elimination, :func:`one_comp_rhs` from ``C(t0) = 0``, solved
    by :func:`rk4` on :func:`ode_grid` ``(t0, times, step, graded)``; ``C_hat[n] ~ lognormal(log C(times[n]),
    sigma)``.

    Parameters
    ----------
    data : mapping
        ``t0`` (>= 0), ``D``, ``V`` (> 0), ``N_t``, ``times`` ``[N_t]`` (increasing after ``t0``), ``C_hat``
        ``[N_t]`` (positive).
    step, graded
        The grid (defaults :data:`PK_STEP`, :data:`PK_GRADED`).
    unroll : int
        RK4 steps per scan iteration (default :data:`UNROLL`); it must divide the steps of each interval.

    Returns
    -------
    pymc.Model
        Free: ``k_a``, ``K_m``, ``V_m``, ``sigma``, each ``cauchy(0, 1)`` on (0, inf) (``pm.HalfCauchy``).
        Deterministic ``C`` (dims ``time``).  Observed ``C_hat`` (dims ``time``).

    Raises
    ------
    ValueError
        If ``t0 < 0`` (the dose term would switch on inside a step), ``D`` or ``V`` is not positive, or the
        times or concentrations are malformed.
    """
    import pymc as pm
    import pytensor.tensor as pt

    n = _int(data, "N_t")
    times = _vector(data, "times", n)
    c_hat = _vector(data, "C_hat", n, positive=True)
    t0, dose, volume = (float(data[k]) for k in ("t0", "D", "V"))
    if t0 < 0:
        raise ValueError(f"data: t0 must be >= 0 (the dose starts at t = 0), got {t0}")
    if not (dose > 0 and volume > 0):
        raise ValueError(f"data: D and V must be positive, got D = {dose}, V = {volume}")
    nodes, at = ode_grid(t0, times, step, graded)
    with pm.Model(coords={"time": _labels(n)}) as model:
        k_a = pm.HalfCauchy("k_a", beta=1.0)
        K_m = pm.HalfCauchy("K_m", beta=1.0)
        V_m = pm.HalfCauchy("V_m", beta=1.0)
        sigma = pm.HalfCauchy("sigma", beta=1.0)
        (path,) = rk4(one_comp_rhs, (0.0,), nodes, k_a, K_m, V_m, dose, volume, unroll=unroll)
        C = pm.Deterministic("C", path[_at_iterations(at, unroll)], dims="time")
        pm.LogNormal("C_hat", mu=pt.log(C), sigma=sigma, observed=c_hat, dims="time")
    return model


def _models() -> tuple:
    from bayes_zoo.models.bank import BankModel

    hmm = "hidden Markov model"
    same = ("None in the density (Stan's up to a constant, checked at reference draws by "
            "tests/models/test_bank_dynamics.py): the forward algorithm's products are taken as a balanced tree, "
            "and the series is observed as one multivariate draw{}, so the log-likelihood group holds one value "
            "per draw, not one per time.")
    return (
        BankModel("hmm_example", hmm, build_hmm_example, departs=same.format("")),
        BankModel("hmm_drive_0", hmm, build_hmm_drive_0, _stack_uv, departs=same.format(" (u and v stacked as uv)")),
        BankModel("hmm_drive_1", hmm, build_hmm_drive_1, _stack_uv, departs=same.format(" (u and v stacked as uv)")),
        BankModel("lotka_volterra", "ODE", build_lotka_volterra, departs=LV_DEPARTS),
        BankModel("one_comp_mm_elim_abs", "ODE", build_one_comp_mm_elim_abs, departs=PK_DEPARTS),
    )


#: Where ``lotka_volterra`` departs from Stan (the accuracy measured with SciPy over all 10,000 reference draws).
LV_DEPARTS = ("RK4 with a fixed step of 1/16 year (320 steps) instead of Stan's adaptive rk45 at rtol 1e-5, atol "
              "1e-3: largest relative difference from SciPy's DOP853 at rtol 1e-10 5.4e-7 over all 10,000 "
              "reference draws (tests/models/test_bank_dynamics.py checks 10 of them against 1e-6).")
#: Where ``one_comp_mm_elim_abs`` departs from Stan (measured likewise).
PK_DEPARTS = ("RK4 on a fixed grid (32 steps graded as 0.5 (j/32)^4 over the first half day, where the elimination "
              "is stiff while C < K_m, stiffness up to 3,100/day at the reference draws; then 1/8 day: 108 steps) "
              "instead of Stan's BDF: largest relative difference from SciPy's LSODA at rtol 1e-10 2.9e-7 over "
              "all 10,000 reference draws (tests/models/test_bank_dynamics.py checks 10 against 1e-6).")

_CACHE: dict = {}


def __getattr__(name: str):
    # MODELS is made on first use: bank.py imports this module while bank.py itself is being imported, and
    # this module needs bank.BankModel, so neither can build its table at the other's import time.
    if name == "MODELS":
        if "MODELS" not in _CACHE:
            _CACHE["MODELS"] = _models()
        return _CACHE["MODELS"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
