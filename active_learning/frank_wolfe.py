"""ACS-FW: batch selection as sparse subset approximation by Frank–Wolfe (Pinsler et al. 2019, Algorithm 1).

Each pool point n contributes a function ``L_n`` (its expected log-likelihood plus predictive entropy); the
whole pool gives ``L = sum_n L_n``.  The batch is the support of a sparse ``w >= 0`` for which
``L(w) = sum_n w_n L_n`` is close to ``L`` in a Hilbert space with inner products ``K[n, m] = <L_n, L_m>``::

    minimise  ||L - L(w)||^2 = (1 - w)^T K (1 - w)
    over      w >= 0,  sum_n w_n sigma_n = sigma         (sigma_n = ||L_n||, sigma = sum_n sigma_n)

The constraint set is the simplex with vertices ``(sigma / sigma_n) e_n``.  Frank–Wolfe starts at ``w = 0`` and
at each iteration (paper, eq. 8 and Algorithm 1)::

    f     = argmax_n  <L - L(w), L_n / sigma_n>  =  argmax_n ((K 1)_n - (K w)_n) / sigma_n
    d     = (sigma / sigma_f) e_f - w
    gamma = <d, 1 - w>_K / <d, d>_K              (exact line search), clipped to [0, 1]
    w     = w + gamma d

so that after b iterations at most b weights are non-zero.  Everything is kept as running sums — ``K w``
(N values), ``w^T K w`` and ``1^T K w`` — so one iteration reads one column of ``K`` (O(N) memory beyond the
:class:`~bayes_zoo.active_learning.gram.Gram`, and O(N) arithmetic plus the column's cost).

Choices (documented here, tested in ``tests/active_learning/test_frank_wolfe.py``):

* *Points with ``sigma_n = 0``* (``L_n = 0``: nothing to learn from them) are never chosen.  If every
  ``sigma_n`` is 0 (e.g. all posterior draws identical) there is nothing to approximate: ``ValueError``.
* *Early stop*: when ``||L - L(w)||^2`` falls to ``RESIDUAL_RTOL * ||L||^2`` (rounding level) the iteration
  stops; no step divides by zero, and ``gamma`` is kept in [0, 1].
* *Repeats*: Frank–Wolfe may choose a vertex again, so b iterations can give fewer than b distinct points.
  :func:`select` returns the distinct support in the order first chosen (as the paper does, which labels
  fewer points then); with ``top_up=True`` it fills the batch to exactly b with the unchosen points of highest
  final score ``<L - L(w), L_n / sigma_n>`` (points with ``sigma_n = 0`` last, in index order), which
  :attr:`Selection.topped_up` reports.

:func:`select` and :func:`dense_reference` hold BLAS to the project's one thread policy
(:func:`bayes_zoo.inference.threads.blas_held`); :func:`init` and :func:`step` hold nothing (a loop over them
should run inside ``with blas_held():``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from bayes_zoo.active_learning.gram import Gram
from bayes_zoo.inference.threads import holds_blas
from bayes_zoo.models.checks import positive_int

__all__ = ["FWProblem", "FWState", "RESIDUAL_RTOL", "init", "step", "scores", "Selection", "select",
           "objective", "dense_reference"]

#: Relative residual ``||L - L(w)||^2 / ||L||^2`` at which Frank–Wolfe stops: nothing is left to approximate.
RESIDUAL_RTOL = 1e-12


class FWProblem(NamedTuple):
    """What does not change between iterations."""

    gram: Gram
    """The inner products ``K`` (N x N), read through ``diag``, ``row_sums`` and ``column``."""
    sigmas: np.ndarray
    """``sigma_n = ||L_n||``, shape (N,)."""
    sigma: float
    """``sum_n sigma_n``."""
    K1: np.ndarray
    """``K 1``: ``<L_n, L>``, shape (N,)."""
    norm2: float
    """``||L||^2 = 1^T K 1``."""


class FWState(NamedTuple):
    """The Frank–Wolfe iterate after ``iteration`` steps."""

    weights: np.ndarray
    """``w``, shape (N,), non-negative (it starts at 0, outside the polytope, as in the paper's Algorithm 1; each
    step moves it towards a vertex by ``gamma``)."""
    Kw: np.ndarray
    """``K w``, shape (N,)."""
    wKw: float
    """``w^T K w``."""
    wK1: float
    """``w^T K 1``."""
    residual_norm: float
    """``||L - L(w)|| = sqrt((1 - w)^T K (1 - w))``."""
    step_size: float
    """``gamma`` of the last step (nan before the first)."""
    vertex: int
    """The point chosen by the last step (-1 before the first)."""
    iteration: int
    """Steps taken."""
    converged: bool
    """True once the residual is at rounding level: further steps change nothing."""


def init(gram: Gram) -> tuple[FWProblem, FWState]:
    """The problem's constants and the state at ``w = 0``.

    Raises
    ------
    ValueError
        Naming ``gram``: when every ``sigma_n`` is 0 (there is nothing to approximate), or when the diagonal or
        the row sums are not finite.
    """
    diag = np.asarray(gram.diag(), dtype=np.float64)
    K1 = np.asarray(gram.row_sums(), dtype=np.float64)
    if diag.shape != (gram.size,) or K1.shape != (gram.size,):
        raise ValueError(f"gram: diag and row_sums must have shape ({gram.size},)")
    if not (np.all(np.isfinite(diag)) and np.all(np.isfinite(K1))):
        raise ValueError("gram: non-finite inner products (NaN or inf in the pool's features or projections?)")
    sigmas = np.sqrt(np.maximum(diag, 0.0))
    sigma = float(sigmas.sum())
    norm2 = float(max(K1.sum(), 0.0))
    if sigma == 0.0:
        raise ValueError("gram: every ||L_n|| is 0 (e.g. all posterior draws identical): no point carries information")
    n = gram.size
    state = FWState(np.zeros(n), np.zeros(n), 0.0, 0.0, float(np.sqrt(norm2)), float("nan"), -1, 0,
                    norm2 <= RESIDUAL_RTOL * max(norm2, sigma**2))
    return FWProblem(gram, sigmas, sigma, K1, norm2), state


def scores(problem: FWProblem, state: FWState) -> np.ndarray:
    """``<L - L(w), L_n / sigma_n>`` for every point, shape (N,); ``-inf`` where ``sigma_n = 0``."""
    out = np.full(problem.sigmas.shape, -np.inf)
    live = problem.sigmas > 0.0
    out[live] = (problem.K1[live] - state.Kw[live]) / problem.sigmas[live]
    return out


def step(problem: FWProblem, state: FWState) -> FWState:
    """One Frank–Wolfe iteration (module docstring); a converged state is returned unchanged."""
    if state.converged:
        return state
    f = int(np.argmax(scores(problem, state)))
    c = problem.sigma / problem.sigmas[f]  # the vertex is c e_f
    K_f = np.asarray(problem.gram.column(f), dtype=np.float64)  # [N]
    K_ff, Kw_f = K_f[f], state.Kw[f]
    # <d, 1 - w>_K and <d, d>_K for d = c e_f - w
    numerator = c * (problem.K1[f] - Kw_f) - (state.wK1 - state.wKw)
    denominator = c * c * K_ff - 2.0 * c * Kw_f + state.wKw
    gamma = float(np.clip(numerator / denominator, 0.0, 1.0)) if denominator > 0.0 else 0.0
    weights = (1.0 - gamma) * state.weights
    weights[f] += gamma * c
    Kw = (1.0 - gamma) * state.Kw + (gamma * c) * K_f
    wKw = (1.0 - gamma) ** 2 * state.wKw + 2.0 * gamma * (1.0 - gamma) * c * Kw_f + (gamma * c) ** 2 * K_ff
    wK1 = (1.0 - gamma) * state.wK1 + gamma * c * problem.K1[f]
    residual2 = max(problem.norm2 - 2.0 * wK1 + wKw, 0.0)
    converged = residual2 <= RESIDUAL_RTOL * problem.norm2 or gamma == 0.0
    return FWState(weights, Kw, float(wKw), float(wK1), float(np.sqrt(residual2)), gamma, f, state.iteration + 1,
                   bool(converged))


def objective(gram: Gram, weights) -> float:
    """``(1 - w)^T K (1 - w)`` computed directly (column by column over the support of ``w``): for checks."""
    w = np.asarray(weights, dtype=np.float64)
    support = np.flatnonzero(w)
    K1 = np.asarray(gram.row_sums(), dtype=np.float64)
    Kw = sum((w[j] * np.asarray(gram.column(j), dtype=np.float64) for j in support), np.zeros(gram.size))
    return float(K1.sum() - 2.0 * w @ K1 + w @ Kw)


@dataclass(frozen=True)
class Selection:
    """A batch chosen by :func:`select`.

    Attributes
    ----------
    indices : numpy.ndarray of int, shape (B,)
        Distinct pool indices, in the order first chosen (then the top-up, if any); ``B <= batch_size``.
    weights : numpy.ndarray, shape (N,)
        The final Frank–Wolfe weights ``w``.
    residual_norms : numpy.ndarray, shape (T + 1,)
        ``||L - L(w)||`` at ``w = 0`` and after each of the T steps taken (never increasing).
    step_sizes : numpy.ndarray, shape (T,)
    vertices : numpy.ndarray of int, shape (T,)
        The point chosen at each step (repeats possible).
    topped_up : int
        How many indices were added by ``top_up`` (0 without it).
    """

    indices: np.ndarray
    weights: np.ndarray
    residual_norms: np.ndarray
    step_sizes: np.ndarray
    vertices: np.ndarray
    topped_up: int


@holds_blas
def select(gram: Gram, batch_size: int, *, top_up: bool = False) -> Selection:
    """Choose a batch of at most ``batch_size`` pool points by ACS-FW (Pinsler et al. 2019, Algorithm 1).

    Runs ``batch_size`` Frank–Wolfe iterations from ``w = 0`` (fewer if the residual reaches rounding level)
    and returns the support of ``w``.

    Parameters
    ----------
    gram : Gram
        The inner products of the pool's ``L_n`` (:mod:`bayes_zoo.active_learning.gram`).
    batch_size : int >= 1
        b, at most the pool size N.
    top_up : bool, default False
        Fill the batch to exactly ``batch_size`` distinct points when Frank–Wolfe chose some twice (module
        docstring).

    Returns
    -------
    Selection

    Raises
    ------
    ValueError
        Naming ``batch_size`` (below 1 or above the pool size) or ``gram`` (see :func:`init`).
    """
    batch_size = positive_int(batch_size, "batch_size")
    if batch_size > gram.size:
        raise ValueError(f"batch_size: {batch_size} is more than the {gram.size} points in the pool")
    problem, state = init(gram)
    residuals, steps, vertices = [state.residual_norm], [], []
    for _ in range(batch_size):
        if state.converged:
            break
        state = step(problem, state)
        residuals.append(state.residual_norm)
        steps.append(state.step_size)
        vertices.append(state.vertex)
    chosen = list(dict.fromkeys(v for v, g in zip(vertices, steps) if g > 0.0))
    chosen = [v for v in chosen if state.weights[v] > 0.0]
    topped = 0
    if top_up and len(chosen) < batch_size:
        final = scores(problem, state)
        unchosen = np.setdiff1d(np.arange(gram.size), chosen)  # [N - B] ascending
        order = unchosen[np.argsort(-final[unchosen], kind="stable")]  # zero-norm points (score -inf) last
        extra = [int(i) for i in order[: batch_size - len(chosen)]]
        chosen += extra
        topped = len(extra)
    return Selection(np.array(chosen, dtype=np.int64), state.weights, np.array(residuals), np.array(steps),
                     np.array(vertices, dtype=np.int64), topped)


@holds_blas
def dense_reference(K, iterations: int) -> tuple[np.ndarray, float]:
    """Algorithm 1 of Pinsler et al. (2019) written a second time, for checks: dense ``K``, no running sums.

    Independent of :func:`step`: each iteration forms the residual scores ``(K (1 - w))_n / sigma_n`` from the
    dense matrix, moves towards the vertex ``(sigma / sigma_f) e_f`` of the best score, and finds the step size
    from the objective ``q(g) = f(w + g (v - w))``, ``f(w) = (1 - w)^T K (1 - w)``, itself rather than from the
    closed-form line search: ``q`` is a quadratic in ``g``, so the parabola through ``q(0)``, ``q(1/2)``,
    ``q(1)`` is ``q`` (to round-off) and its minimiser on [0, 1] (the vertex ``-B / 2A`` clipped, or the
    better end when ``A <= 0``) is the exact line search.  (A bounded Brent search, SciPy's
    ``minimize_scalar``, was tried first: its relative tolerance ~1.5e-8 in ``g`` moved the objective after 10
    steps by ~2e-8 relative, too coarse to pin :func:`step` at 1e-8.)  It stops, as :func:`select` does, when
    the objective falls to ``RESIDUAL_RTOL ||L||^2``.  O(N^2) memory: small pools only.

    Parameters
    ----------
    K : array_like, shape (N, N)
        Symmetric positive semi-definite inner products ``<L_n, L_m>``.
    iterations : int, >= 1
        Frank–Wolfe iterations (the batch size b).

    Returns
    -------
    weights : numpy.ndarray, shape (N,)
    objective : float
        ``(1 - w)^T K (1 - w)`` at the returned weights.

    Raises
    ------
    ValueError
        Naming ``K`` (not square, not finite, every ``sigma_n`` 0) or ``iterations`` (< 1).
    """
    K = np.asarray(K, dtype=np.float64)
    if K.ndim != 2 or K.shape[0] != K.shape[1] or not np.all(np.isfinite(K)):
        raise ValueError(f"K: expected a finite square matrix, got shape {K.shape}")
    iterations = positive_int(iterations, "iterations")
    n = K.shape[0]
    sigmas = np.sqrt(np.maximum(np.diag(K), 0.0))
    if not np.any(sigmas > 0):
        raise ValueError("K: every ||L_n|| is 0")
    sigma = sigmas.sum()
    ones = np.ones(n)

    def f(w):
        r = ones - w
        return float(r @ K @ r)

    w = np.zeros(n)
    norm2 = f(w)
    for _ in range(iterations):
        if f(w) <= RESIDUAL_RTOL * norm2:
            break
        score = np.where(sigmas > 0, K @ (ones - w) / np.where(sigmas > 0, sigmas, 1.0), -np.inf)
        vertex = np.zeros(n)
        j = int(np.argmax(score))
        vertex[j] = sigma / sigmas[j]
        q0, q_half, q1 = (f(w + t * (vertex - w)) for t in (0.0, 0.5, 1.0))
        a = 2.0 * (q1 - 2.0 * q_half + q0)  # q(g) = a g^2 + b g + q0
        b = q1 - q0 - a
        candidates = [0.0, 1.0] + ([float(np.clip(-b / (2.0 * a), 0.0, 1.0))] if a > 0 else [])
        g = min(candidates, key=lambda t: f(w + t * (vertex - w)))
        w = w + g * (vertex - w)
    return w, f(w)
