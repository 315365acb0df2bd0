"""FITC sparse GP regression with pseudo-inputs (SPGP; Snelson & Ghahramani 2006): the marginal likelihood,
its analytic gradient, the predictive distribution and type-II maximum likelihood over Z and hyperparameters.

Model (Snelson & Ghahramani 2006; Snelson 2007, PhD thesis, ch. 2; Quiñonero-Candela & Rasmussen 2005 named
it FITC).  ``M`` pseudo-inputs ``Z`` carry ``u = f(Z)``; given ``u`` the training values are independent::

    u ~ N(0, K_uu),   f_n | u ~ N(k_nu K_uu^-1 u, K_nn - Q_nn),   y_n | f_n ~ N(f_n, sigma^2)

so, with ``Q_ff = K_fu K_uu^-1 K_uf`` and ``Lambda = diag(K_ff - Q_ff) + sigma^2 I`` (a diagonal matrix)::

    log p(y) = log N(y | 0, Q_ff + Lambda)
             = -1/2 log|Q_ff + Lambda|  -  1/2 y^T (Q_ff + Lambda)^-1 y  -  N/2 log(2 pi)
               '-- log-determinant --'     '------ quadratic --------'     '- constant -'

Never forming an N x N matrix.  With ``L L^T = K_uu + jitter I``, ``A = L^-1 K_uf`` (so ``Q_ff = A^T A``),
``B = I + A Lambda^-1 A^T`` (M x M) and ``L_B L_B^T = B``, the determinant lemma and Woodbury give::

    log|Q_ff + Lambda|           = sum_n log Lambda_n + 2 sum_m log (L_B)_mm
    y^T (Q_ff + Lambda)^-1 y     = y^T Lambda^-1 y - c^T c,       c = L_B^-1 A Lambda^-1 y

in O(N M^2) time.  The N x M matrices are never held whole: ``BLOCK_ROWS`` rows of ``K_fu`` at a time are formed,
turned into rows of ``A^T`` by a triangular solve, scaled by ``Lambda^-1/2`` and folded into ``B`` and ``A Lambda^-1 y``
(O(P M^2 + T BLOCK_ROWS M + N) memory for P parts on T threads; the gradient's second pass, below, in the same
blocks and parts: O(P D M^2 + T BLOCK_ROWS M + N D), no N x M array either).
The fold is one compiled function that runs without the GIL (the kernel, BLAS ``dtrsm`` and ``dsyrk`` through
SciPy's ``cython_blas``), so the N inputs are cut into P contiguous parts (one per ``BLOCK_ROWS`` inputs, at most
``FOLD_PARTS`` = 16: fixed by N alone) folded on T threads, whose sums are added in part order: T is the number
of CPUs the process may use (``joblib.cpu_count``: affinity and cgroup quota; ``taskset -c 0`` gives one), at
most P.  Every sum is thus taken in an order fixed by N, and results do not depend on T at all.  Above
``BLOCK_ROWS`` inputs every BLAS library is held to one thread for the whole call (process-wide: other threads'
BLAS too, meanwhile).  These are PyMC's
``MarginalApprox(approx="FITC")`` formulae term for term (``pymc/gp/gp.py``): the same ``jitter`` on the
diagonal of ``K_uu`` only (PyMC's ``JITTER_DEFAULT = 1e-6``), the same clipping of ``K_nn - Q_nn`` at 0.

Predictive at ``x*`` (``f*``, without noise)::

    mean = k_*u (K_uu + K_uf Lambda^-1 K_fu)^-1 K_uf Lambda^-1 y  =  a_*^T L_B^-T c
    var  = k_** - Q_** + k_*u (K_uu + K_uf Lambda^-1 K_fu)^-1 k_u*  =  max(k_** - |a_*|^2, 0) + |L_B^-1 a_*|^2

with ``a_* = L^-1 k_u*``; never negative.  ``include_noise`` adds ``sigma^2``.

**Gradient** (derived here; cf. Snelson 2007 appendix).  Write ``Sigma = Q_ff + Lambda``, ``alpha = Sigma^-1 y``,
``W = alpha alpha^T - Sigma^-1`` (never formed), ``w = diag(W)``, ``m_n = [K_nn - Q_nn > 0]`` (the clip), and
``P = K_uu^-1 K_uf = L^-T A``.  Then ``d log p = 1/2 tr(W dSigma)`` with
``dSigma = dQ_ff + diag(m (dK_ff - dQ_ff)) + dsigma^2 I`` and ``dQ_ff = dK_fu P + P^T dK_uf - P^T dK_uu P``,
so with ``W~ = W - diag(m w)``::

    d log p = <G_uf, dK_uf> + <G_uu, dK_uu> + 1/2 sum_n m_n w_n dK_nn + 1/2 sum_n w_n dsigma^2
    G_uf = P W~ = L^-T R                 [M, N]
    G_uu = -1/2 P W~ P^T = -1/2 L^-T (R A^T) L^-1       [M, M]
    R    = A W~ = (A alpha) alpha^T - B^-1 A Lambda^-1 - A diag(m w)      [M, N]

using ``A Sigma^-1 = B^-1 A Lambda^-1``, ``alpha = Lambda^-1 (y - A^T B^-1 A Lambda^-1 y)`` and
``(Sigma^-1)_nn = 1/Lambda_n - (a_n^T B^-1 a_n) / Lambda_n^2``.  The kernel derivatives then contract with
``H = G_uf * K_uf`` and ``H_u = G_uu * K_uu`` (elementwise): ``dk/dz_d = -k (z_d - x_d) / ell_d^2``,
``dk/dlog ell_d = k (z_d - x_d)^2 / ell_d^2``, ``dk/dlog eta = 2 k``.  Only the row sums, column sums and
``H X`` of ``H`` enter, and with ``K_uf = L A`` they need no further N x M solve: ``colsum(H) = colsum(R * A)``,
``rowsum(H) = diag(L^-T (R A^T) L^T)``, ``(H X)_:d = diag(L^-T (R diag(x_d) A^T) L^T)``.

**Gradient, in blocks.**  ``R`` has a column per input, but only M x M sums of it enter: ``R A^T``,
``R diag(x_d) A^T`` and the scalars ``sum_n colsum(H)_n x_nd^2``, ``sum_n m_n w_n``, ``sum_n w_n``.  Column n of
``R`` needs only ``a_n`` and the factorisation's M x M results: ``A alpha = B^-1 A Lambda^-1 y = v`` (so
``alpha_n = (y_n - a_n . v) / Lambda_n``), ``(Sigma^-1)_nn`` from ``a_n^T B^-1 a_n``, and ``R_n = v alpha_n -
B^-1 a_n / Lambda_n - a_n m_n w_n``.  So after the factorisation a second pass over the same contiguous parts
(on the same threads, compiled, without the GIL) forms ``BLOCK_ROWS`` rows of ``K_fu`` at a time again, turns them
into rows of ``A^T`` (BLAS ``dtrsm``; ``Lambda`` kept from the first pass), the rows of ``R^T`` by one BLAS
``dgemm`` with ``-B^-1`` and an elementwise pass, and folds ``R A^T`` and each ``R diag(x_d) A^T`` by ``dgemm``
into the part's M x M sums, added in part order afterwards (results do not depend on the thread count).  The
gradient thus costs the likelihood's pass plus one more kernel evaluation, triangular solve and ``2 + D``
block products of N x M by M x M work, and holds no N x M array: O(P D M^2 + T BLOCK_ROWS M + N D) memory.
(Folding weighted Gram matrices of ``(L L_B)^-1 k_n`` instead would save two of those products, but was measured
to move ``d/dZ`` by 3% of its largest entry from the gradient that held ``A`` whole, with 20,000 inputs and 100
random pseudo-inputs on [0, 4] at ``ell = 0.5`` (``K_uu`` ill-conditioned), where the products above move it by
2e-8, no more than that gradient itself moved with another block size, 1.5e-8.)

**Numerics and choices.**

- *Noiseless case.*  The noise variance used is ``max(sigma^2, jitter)``: with ``sigma = 0`` the data get the
  same jitter as ``K_uu`` (PyMC's exact ``Marginal`` likewise adds its jitter to ``K + sigma^2 I``), so
  ``Lambda`` stays positive where ``K_nn - Q_nn`` rounds to 0.  Whenever ``sigma^2 >= jitter`` this is
  exactly PyMC's FITC; below that the gradient with respect to ``log sigma`` is 0.
  With both ``sigma = 0`` and ``jitter = 0``, an input on a pseudo-input has ``Lambda_n = 0`` and the
  covariance is singular: ``ValueError`` naming ``jitter``, whatever y (the noise variance is never
  escalated, so no jitter can turn data the model forbids, such as duplicate inputs with different outputs
  on a pseudo-input, into a confident answer).  Off the pseudo-inputs FITC's own model gives every input its
  own variance ``K_nn - Q_nn > 0``: duplicate inputs with different outputs are possible there, and their
  likelihood does not rest on a jitter.
- *Coincident pseudo-inputs* make ``K_uu`` singular; with ``jitter = 0`` (or too little) :func:`cholesky`
  escalates it with a :class:`~bayes_zoo.inference.gp.linalg.JitterWarning`, and the result stays finite.
- *M > N is allowed.*  FITC is defined for any ``M`` (``Q_ff`` then has rank at most N); it only costs
  O(M^3 + N M^2).  ``Z = X`` (``M = N``) is the case in which FITC equals the exact GP.
- Inputs: ``X`` of shape ``(N, D)`` or ``(N,)`` (one dimension), ``Z`` of shape ``(M, D)`` or ``(M,)``; bad
  arrays raise ``ValueError`` naming the argument.
"""

from __future__ import annotations

import ctypes
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

import numba
import numpy as np
from numba.extending import get_cython_function_address
from scipy import linalg, optimize

from bayes_zoo.inference.gp.exact import LIMITS, stop_reason
from bayes_zoo.inference.threads import blas_held
from bayes_zoo.inference.gp.linalg import DSYRK, DTRSM, JitterWarning, add_gram_rows, cholesky, solve_lower_rows
from bayes_zoo.models.checks import finite_scalar, instance, nonnegative_int, positive_int, positive_scalar
from bayes_zoo.models.gp import (PYMC_JITTER, GPHyperparameters, as_inputs, check_data, check_jitter, exp_quad, exp_quad_diag,
                       exp_quad_rows)

__all__ = [
    "HYPER_RANGE",
    "FITCGradient",
    "log_marginal_likelihood",
    "log_marginal_likelihood_and_grad",
    "FITCPosterior",
    "posterior",
    "predict",
    "MAXITER",
    "FITCRun",
    "FITCFit",
    "optimise",
    "POLISH_MAXITER",
    "POLISH_TOL",
    "Polish",
    "polish",
]

#: :func:`optimise` keeps each hyperparameter within this factor of its start (L-BFGS-B bounds).
HYPER_RANGE = 1e6
#: :func:`optimise`'s default L-BFGS-B iterations per run at most (measured need: its docstring).
MAXITER = 10_000

_LOG_2PI = np.log(2.0 * np.pi)


# --------------------------------------------------------------------------------------------- checks


def _check_problem(X, y, Z, hyper, jitter):
    """Validated ``(X [N, D], y [N], Z [M, D], hyper, ell [D], jitter)``."""
    X, y = check_data(X, y)
    Z = as_inputs(Z, "Z", dims=X.shape[1])
    hyper = instance(hyper, GPHyperparameters, "hyper")
    return X, y, Z, hyper, hyper.lengthscales(X.shape[1]), check_jitter(jitter)


# ------------------------------------------------------------------------------------ shared algebra
#
# Arrays of N x M entries are kept in the [N, M] row-major layout that ``exp_quad(X, Z)`` returns, so
# ``At[n]`` is column n of the math's M x N matrix; each is transformed in place where the algebra allows.

#: Rows of ``K_fu`` the factorisation forms at a time: a [BLOCK_ROWS, M] block (1.6 MB at M = 100) is built,
#: solved, scaled and folded into ``B`` while it is in cache, and its buffer reused for the next rows (one per
#: thread).
BLOCK_ROWS = 2048


def _blas_held(n: int):
    """The zoo's BLAS thread policy (:func:`bayes_zoo.inference.threads.blas_held`) while FITC works on
    ``n > BLOCK_ROWS`` training inputs; nothing for fewer (where changing the limits would cost more than it saves).

    The factorisation runs threads of its own (:func:`_fold_threads`), one BLAS call each, and threaded BLAS
    would not speed up the O(N) and O(M^3) rest either (nor, measured, the gradient's N x M products): OpenBLAS's
    idle workers spin for a while after each threaded call (by default about 2^28 cycles), taking a core from the
    factorisation's threads (a threaded dot product of ``y`` after one likelihood evaluation measurably slowed
    the next one), and BLAS threads beyond the CPUs the process may use (``taskset``) made it 15x slower."""
    return blas_held(n > BLOCK_ROWS)


class _Factors(NamedTuple):
    """What the likelihood, its gradient and the posterior share (shapes in the comments)."""

    Kuu: np.ndarray  # [M, M] kernel only (no jitter)
    L: np.ndarray  # [M, M] chol(K_uu + jitter I)
    jitter: float  # jitter actually added to K_uu
    Lam: np.ndarray  # [N] diag(K_ff - Q_ff) clipped at 0, + noise variance
    unclipped: np.ndarray  # [N] bool, K_nn - Q_nn > 0
    L_B: np.ndarray  # [M, M] chol(B), B = I + A Lambda^-1 A^T
    y_t: np.ndarray  # [N] Lambda^-1/2 y
    c: np.ndarray  # [M] L_B^-1 A Lambda^-1 y
    X_s: np.ndarray  # [N, D] inputs divided by the lengthscales (the gradient forms K_fu's rows again from them)
    Zt_s: np.ndarray  # [D, M] pseudo-inputs divided by the lengthscales, transposed
    eta2: float  # eta^2


# error_model: Lambda_n = 0 gives inf (caught after the fold); reassoc: the sums vectorise
@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc"})
def _lambda_and_scale(At, y, k_nn, noise_var, Lam, unclipped, y_t, Ay):
    """One pass over rows of ``A^T`` [n, M] (in cache): the FITC diagonal ``Lam`` [n] = ``max(K_nn - Q_nn, 0)
    + noise_var`` with ``Q_nn = |a_n|^2`` (``unclipped`` [n]: ``K_nn - Q_nn > 0``), then ``a_n`` and ``y_t`` [n]
    ``= y`` [n] scaled by ``Lambda_n^-1/2``, and ``Ay`` [M] ``+= sum_n a_n y_t[n]``; all written in place."""
    n, m = At.shape
    for i in range(n):
        q = 0.0
        for j in range(m):
            q += At[i, j] * At[i, j]
        resid = k_nn - q
        unclipped[i] = resid > 0.0
        Lam[i] = (resid if resid > 0.0 else 0.0) + noise_var
        scale = 1.0 / np.sqrt(Lam[i])
        y_t[i] = y[i] * scale
        for j in range(m):
            At[i, j] *= scale
            Ay[j] += At[i, j] * y_t[i]


@numba.njit(cache=True, nogil=True)
def _fold_rows(X_s, Zt_s, eta2, L, y, k_nn, noise_var, rows, block_rows, Lam, unclipped, y_t, AAt, Ay, dtrsm, dsyrk):
    """Fold training inputs ``X_s`` [n, D] (divided by the lengthscales) into ``AAt`` [M, M] (lower triangle of
    ``A Lambda^-1 A^T``) and ``Ay`` [M] (``A Lambda^-1 y``), ``block_rows`` at a time, without the GIL.

    Per block: its rows of ``K_fu`` (``Zt_s`` [D, M] the scaled pseudo-inputs transposed), turned into rows of
    ``A^T = K_fu L^-T`` by ``dtrsm`` in place, ``_lambda_and_scale``, then the rank-b update of ``AAt`` by
    ``dsyrk``.  ``rows`` is a buffer of at least ``min(n, block_rows)`` rows [., M], reused for every block;
    ``Lam``, ``unclipped``, ``y_t`` [n] are written.  A buffer too small raises ``ValueError``."""
    n = X_s.shape[0]
    if rows.shape[0] < min(n, block_rows) or rows.shape[1] != Zt_s.shape[1]:
        raise ValueError("rows: too small for the blocks")  # never silently write past its end
    for start in range(0, n, block_rows):
        stop = min(n, start + block_rows)
        Ab = rows[: stop - start]  # [b, M]
        exp_quad_rows(X_s[start:stop], Zt_s, eta2, Ab)  # rows of K_fu
        solve_lower_rows(dtrsm, L, Ab)  # rows of A^T = K_fu L^-T
        _lambda_and_scale(Ab, y[start:stop], k_nn, noise_var, Lam[start:stop], unclipped[start:stop],
                          y_t[start:stop], Ay)
        add_gram_rows(dsyrk, Ab, AAt)  # the rank-b update of A Lambda^-1 A^T


#: The factorisation cuts its inputs into at most this many parts (:func:`_fold_parts`), whatever the threads.
FOLD_PARTS = 16


def _fold_parts(n: int) -> int:
    """Into how many contiguous parts FITC's factorisation cuts ``n`` training inputs: one per ``BLOCK_ROWS``
    inputs, at most :data:`FOLD_PARTS`; a function of ``n`` alone, so the order of every sum is fixed."""
    return max(1, min(FOLD_PARTS, -(-n // BLOCK_ROWS)))


def _fold_threads(n: int) -> int:
    """How many threads FITC's factorisation folds ``n`` training inputs on: at most one per part
    (:func:`_fold_parts`), and no more than the CPUs this process may use (``joblib.cpu_count``: its affinity
    mask, so ``taskset -c 0`` gives one thread, and any cgroup CPU quota)."""
    parts = _fold_parts(n)
    if parts <= 1:
        return 1
    import joblib  # imported on use: it sets OpenMP variables on import

    return max(1, min(joblib.cpu_count(), parts))


def _parts(n: int) -> list[slice]:
    """The :func:`_fold_parts` contiguous parts of ``n`` training inputs, in order."""
    P = _fold_parts(n)
    return [slice(n * p // P, n * (p + 1) // P) for p in range(P)]


def _over_parts(work, n: int) -> None:
    """``work(p)`` for every part ``p`` of ``n`` inputs (:func:`_parts`), on :func:`_fold_threads` threads; each
    writes only its own part's sums, which the caller then adds in part order."""
    P = _fold_parts(n)
    T = min(P, _fold_threads(n))
    if T == 1:
        for p in range(P):
            work(p)
    else:
        with ThreadPoolExecutor(max_workers=T, thread_name_prefix="fitc-fold") as pool:
            list(pool.map(work, range(P)))


def _factorise(X, y, Z, hyper, ell, jitter) -> _Factors:
    """The FITC factorisation, ``BLOCK_ROWS`` training inputs at a time: O(N M^2) time and
    O(P M^2 + T BLOCK_ROWS M + N D) memory for P parts on T threads (no N x M array).

    The N inputs are cut into :func:`_fold_parts` contiguous parts (a number fixed by N), each folded by
    :func:`_fold_rows` into its own ``A Lambda^-1 A^T`` and ``A Lambda^-1 y`` on one of :func:`_fold_threads`
    threads; the parts' sums are then added in part order.  So results do not depend on the thread count (the
    same bits with 1 or 16 threads).  Callers hold BLAS to one thread meanwhile (:func:`_blas_held`).

    Raises ``ValueError`` (naming ``jitter``) when ``Lambda_n = 0`` somewhere (sigma = 0 and jitter = 0), and as
    :func:`cholesky` if ``K_uu`` or ``B`` cannot be factorised."""
    N, M = X.shape[0], Z.shape[0]
    X_s, Z_s, eta2 = np.ascontiguousarray(X / ell), np.ascontiguousarray(Z / ell), hyper.eta**2  # [N, D], [M, D]
    Zt_s = np.ascontiguousarray(Z_s.T)  # [D, M]
    # K_uu and its Cholesky factor
    Kuu = exp_quad_rows(Z_s, Zt_s, eta2, np.empty((M, M)), True)  # [M, M]
    L, used = cholesky(Kuu, jitter=jitter, what="K_uu (the pseudo-inputs' Gram matrix)")
    L = np.ascontiguousarray(L)
    noise_var = max(hyper.sigma**2, jitter)
    k_nn = eta2  # K_nn, the same at every input (a stationary kernel)
    Lam, unclipped, y_t = np.empty(N), np.empty(N, dtype=bool), np.empty(N)  # [N] each
    y = np.ascontiguousarray(y, dtype=np.float64)
    parts = _parts(N)
    AAts = [np.zeros((M, M), order="F") for _ in parts]  # [M, M] each, lower triangles
    Ays = [np.zeros(M) for _ in parts]  # [M] each

    def fold(p: int) -> None:
        r = parts[p]
        rows = np.empty((min(r.stop - r.start, BLOCK_ROWS), M))  # [BLOCK_ROWS, M] at most, this thread's buffer
        _fold_rows(X_s[r], Zt_s, eta2, L, y[r], k_nn, noise_var, rows, BLOCK_ROWS, Lam[r], unclipped[r],
                   y_t[r], AAts[p], Ays[p], DTRSM, DSYRK)

    _over_parts(fold, N)
    if noise_var == 0.0 and not np.all(Lam > 0.0):
        raise ValueError(f"jitter: with sigma = 0 and jitter = 0, Lambda_n = K_nn - Q_nn is 0 at {np.sum(Lam <= 0)} "
                         "input(s) (on or next to a pseudo-input) and the FITC covariance is singular: the model "
                         "pins y_n there to a function of u, and data it cannot produce (duplicate inputs with "
                         "different outputs) would have probability zero; use jitter > 0")
    AAt, Ay = AAts[0], Ays[0]
    for AAt_p, Ay_p in zip(AAts[1:], Ays[1:]):
        AAt += AAt_p
        Ay += Ay_p
    AAt.flat[:: M + 1] += 1.0  # B = I + A Lambda^-1 A^T (lower triangle, all that is read)
    L_B, _ = cholesky(AAt, what="B = I + A Lambda^-1 A^T")
    c = _tri_solve(L_B, Ay)  # [M]
    return _Factors(Kuu, L, used, Lam, unclipped, L_B, y_t, c, X_s, Zt_s, eta2)


class _Terms(NamedTuple):
    log_det: float  # -1/2 log|Q_ff + Lambda|
    quadratic: float  # -1/2 y^T (Q_ff + Lambda)^-1 y
    constant: float  # -N/2 log(2 pi)


def _terms(f: _Factors) -> _Terms:
    log_det = -0.5 * np.sum(np.log(f.Lam)) - np.sum(np.log(np.diag(f.L_B)))
    quadratic = -0.5 * (np.sum(np.square(f.y_t)) - f.c @ f.c)  # no BLAS call on N-vectors: see _blas_held
    return _Terms(float(log_det), float(quadratic), -0.5 * f.y_t.shape[0] * _LOG_2PI)


def _tri_solve(L, B, *, trans: bool = False, overwrite: bool = False) -> np.ndarray:
    """``L^-1 B`` (``L^-T B`` with ``trans``) for lower-triangular ``L``; ``B`` of shape (M,) or (M, K).

    BLAS ``trsm`` directly: LAPACK's ``trtrs`` (behind ``scipy.linalg.solve_triangular``) is threaded by
    OpenBLAS with no size threshold and was measured 100-700x slower for M = 10 on a busy 2-core machine.
    With ``overwrite`` and a Fortran-ordered ``B`` the solve is done in place.
    """
    vec = np.ndim(B) == 1
    X = linalg.blas.dtrsm(1.0, L, B[:, None] if vec else B, lower=1, trans_a=int(trans), overwrite_b=int(overwrite))
    return X[:, 0] if vec else X


# ------------------------------------------------------------------------------- gradient, in blocks
#
# The gradient's N x M work, BLOCK_ROWS rows at a time (module docstring, "Gradient"): after the factorisation,
# a second pass over the same parts forms each block's rows of K_fu and A^T again, and folds them into M x M and
# M x D sums; no N x M array is held.  Its BLAS calls (dgemm, dtrsm) go through SciPy's cython_blas, as the
# factorisation's do, so that the pass runs without the GIL on the factorisation's threads.

#: BLAS ``dgemm`` of ``scipy.linalg.cython_blas`` (Fortran calling convention: 13 pointers), for :func:`_rows_times`
#: and :func:`_add_cross_rows`.
DGEMM = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 13)(
    get_cython_function_address("scipy.linalg.cython_blas", "dgemm"))

_CH_N, _CH_T, _CH_L, _CH_U = (ord(ch) for ch in "NTLU")


@numba.njit(cache=True, nogil=True)
def _rows_times(dgemm, R, S, out):
    """``out = R S`` for ``R`` [n, M], ``S`` [M, M], ``out`` [n, M] (C-contiguous float64), by BLAS ``dgemm``.

    Column-major, ``R`` is ``R^T`` and ``S`` is ``S^T``: ``out^T = S^T R^T``.  Raises ``ValueError`` on shapes
    that do not match (BLAS would read or write past an array)."""
    n, m = R.shape
    if S.shape[0] != m or S.shape[1] != m or out.shape[0] != n or out.shape[1] != m:
        raise ValueError("R, S, out: _rows_times needs R (n, M), S (M, M), out (n, M)")
    if not (R.flags.c_contiguous and S.flags.c_contiguous and out.flags.c_contiguous):
        raise ValueError("R, S, out: _rows_times needs C-contiguous arrays")
    if n == 0 or m == 0:
        return
    chars = np.array([_CH_N, _CH_N], dtype=np.uint8)
    ints = np.array([m, n, m, m, m, m], dtype=np.int32)  # M, N, K, LDA, LDB, LDC
    scalars = np.array([1.0, 0.0])  # alpha, beta
    dgemm(chars[0:].ctypes, chars[1:].ctypes, ints[0:].ctypes, ints[1:].ctypes, ints[2:].ctypes,
          scalars[0:].ctypes, S.ctypes, ints[3:].ctypes, R.ctypes, ints[4:].ctypes, scalars[1:].ctypes,
          out.ctypes, ints[5:].ctypes)


@numba.njit(cache=True, nogil=True)
def _add_cross_rows(dgemm, R, A, C):
    """``C += R^T A`` for ``R``, ``A`` [n, M] (C-contiguous) and ``C`` [M, M] (Fortran-contiguous), by ``dgemm``.

    Column-major, ``R`` and ``A`` are ``R^T`` and ``A^T`` [M, n]: ``C += (R^T)(A^T)^T``.  Raises ``ValueError``
    on shapes or layouts that do not match."""
    n, m = R.shape
    if A.shape[0] != n or A.shape[1] != m or C.shape[0] != m or C.shape[1] != m:
        raise ValueError("R, A, C: _add_cross_rows needs R (n, M), A (n, M), C (M, M)")
    if not (R.flags.c_contiguous and A.flags.c_contiguous and C.flags.f_contiguous):
        raise ValueError("R, A, C: _add_cross_rows needs C-contiguous R and A, a Fortran-contiguous C")
    if n == 0 or m == 0:
        return
    chars = np.array([_CH_N, _CH_T], dtype=np.uint8)
    ints = np.array([m, m, n, m, m, m], dtype=np.int32)  # M, N, K, LDA, LDB, LDC
    one = np.ones(1)
    dgemm(chars[0:].ctypes, chars[1:].ctypes, ints[0:].ctypes, ints[1:].ctypes, ints[2:].ctypes, one.ctypes,
          R.ctypes, ints[3:].ctypes, A.ctypes, ints[4:].ctypes, one.ctypes, C.ctypes, ints[5:].ctypes)


@numba.njit(cache=True, nogil=True, fastmath={"reassoc"})
def _scale_rows(Ab, Lam):
    """``Ab`` [b, M] rows of ``A^T`` to rows of ``(A Lambda^-1/2)^T``, in place (as :func:`_lambda_and_scale`)."""
    for i in range(Ab.shape[0]):
        scale = 1.0 / np.sqrt(Lam[i])
        for j in range(Ab.shape[1]):
            Ab[i, j] *= scale


@numba.njit(cache=True, nogil=True, fastmath={"reassoc"})
def _residual_rows(Ab, Rb, X, y_t, Lam, unclipped, v, hx2, sums):
    """One block's rows of ``R`` from ``Rb = -(B^-1 A Lambda^-1/2)^T`` [b, M], in place, and its O(b) sums.

    Per row n (``a_n`` the row of ``Ab`` [b, M], ``(A Lambda^-1/2)^T``; ``v`` [M] ``= B^-1 A Lambda^-1 y = A alpha``):
    ``alpha_t = y_t - a_n . v`` (``Lambda^1/2 alpha``), ``(Sigma^-1)_nn = (1 + a_n . Rb_n) / Lambda_n``,
    ``w_n = alpha_n^2 - (Sigma^-1)_nn``, ``wm_n = m_n w_n``, then ``Rb_n += alpha_t v - wm_n Lambda_n a_n``
    (row n of ``(R Lambda^1/2)^T``).  Adds ``h_n x_n^2`` (``h_n = Rb_n . a_n``, the column sum of ``H``) to
    ``hx2`` [D] (``X`` [b, D], unscaled inputs), and ``wm_n`` and ``w_n`` to ``sums`` [2]."""
    b, m = Ab.shape
    d = X.shape[1]
    for i in range(b):
        av = 0.0
        ar = 0.0
        for j in range(m):
            av += Ab[i, j] * v[j]
            ar += Ab[i, j] * Rb[i, j]
        lam = Lam[i]
        alpha_t = y_t[i] - av
        w = alpha_t * alpha_t / lam - (1.0 + ar) / lam
        wm = w if unclipped[i] else 0.0
        sums[0] += wm
        sums[1] += w
        c = wm * lam
        h = 0.0
        for j in range(m):
            Rb[i, j] += alpha_t * v[j] - c * Ab[i, j]
            h += Rb[i, j] * Ab[i, j]
        for k in range(d):
            hx2[k] += h * X[i, k] * X[i, k]


@numba.njit(cache=True, nogil=True, fastmath={"reassoc"})
def _scaled_rows(Rb, x, out):
    """``out`` [b, M] = ``diag(x) Rb``: the rows of ``Rb`` [b, M] times ``x`` [b] (one input dimension)."""
    for i in range(Rb.shape[0]):
        for j in range(Rb.shape[1]):
            out[i, j] = Rb[i, j] * x[i]


@numba.njit(cache=True, nogil=True)
def _grad_rows(X_s, X, Zt_s, eta2, L, B_neg, v, y_t, Lam, unclipped, block_rows, buffers, RA, S, hx2, sums, dtrsm,
               dgemm):
    """The gradient's pass over training inputs ``X_s`` [n, D] (``X`` [n, D] unscaled), ``block_rows`` at a time,
    without the GIL: into ``RA`` [M, M] (Fortran; ``+= R A^T``), ``S`` [M, M, D] (Fortran; ``S[:, :, d] +=
    R diag(x_d) A^T``), ``hx2`` [D] (``+= sum_n colsum(H)_n x_n^2``) and ``sums`` [2] (``+= (sum m w, sum w)``).

    Per block: rows of ``K_fu`` turned into rows of ``(A Lambda^-1/2)^T`` (``buffers[0]``: the kernel, ``dtrsm``,
    the factorisation's own ``Lam`` [n]), rows of ``(R Lambda^1/2)^T = -(A Lambda^-1/2)^T B^-1 + ...``
    (``buffers[1]``: ``dgemm`` with ``B_neg = -B^-1`` [M, M], then :func:`_residual_rows`), then ``R A^T`` and
    each ``R diag(x_d) A^T`` by ``dgemm`` (``buffers[2]`` holds ``diag(x_d) (R Lambda^1/2)^T``).  ``buffers``
    [3, >= min(n, block_rows), M]; too small raises ``ValueError``."""
    n, d = X.shape
    m = Zt_s.shape[1]
    if buffers.shape[0] != 3 or buffers.shape[1] < min(n, block_rows) or buffers.shape[2] != m:
        raise ValueError("buffers: too small for the blocks")  # never silently write past their end
    for start in range(0, n, block_rows):
        stop = min(n, start + block_rows)
        Ab = buffers[0, : stop - start]  # [b, M] rows of K_fu, then of (A Lambda^-1/2)^T
        Rb = buffers[1, : stop - start]  # [b, M] rows of (R Lambda^1/2)^T
        Tb = buffers[2, : stop - start]  # [b, M] rows of diag(x_d) (R Lambda^1/2)^T
        exp_quad_rows(X_s[start:stop], Zt_s, eta2, Ab)  # rows of K_fu
        solve_lower_rows(dtrsm, L, Ab)  # rows of A^T = K_fu L^-T
        _scale_rows(Ab, Lam[start:stop])
        _rows_times(dgemm, Ab, B_neg, Rb)  # -(B^-1 A Lambda^-1/2)^T
        _residual_rows(Ab, Rb, X[start:stop], y_t[start:stop], Lam[start:stop], unclipped[start:stop], v, hx2,
                       sums)
        _add_cross_rows(dgemm, Rb, Ab, RA)  # R A^T += the block's
        for k in range(d):
            _scaled_rows(Rb, X[start:stop, k], Tb)
            _add_cross_rows(dgemm, Tb, Ab, S[:, :, k])  # R diag(x_d) A^T += the block's


# ---------------------------------------------------------------------------------- log ML and grad


def log_marginal_likelihood(X, y, Z, hyper: GPHyperparameters, *, jitter: float = PYMC_JITTER) -> float:
    """FITC log marginal likelihood ``log N(y | 0, Q_ff + Lambda)`` in O(N M^2) time, O(T (BLOCK_ROWS M + M^2) + N)
    memory on T threads (module docstring).

    Parameters
    ----------
    X : array_like, shape (N, D) or (N,)
        Training inputs.
    y : array_like, shape (N,)
        Training outputs.
    Z : array_like, shape (M, D) or (M,)
        Pseudo-inputs; any M >= 1 (M > N allowed).
    hyper : GPHyperparameters
        ``eta``, ``lengthscale`` (shared or ARD), ``sigma`` (0: noiseless).
    jitter : float >= 0, default :data:`bayes_zoo.models.gp.PYMC_JITTER` (1e-6, PyMC's)
        Added to the diagonal of ``K_uu`` (escalated, with a ``JitterWarning``, if that is not enough), and
        the floor of the noise variance.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Naming the argument: non-finite or badly shaped ``X``, ``y``, ``Z``; lengths of ``X`` and ``y`` that
        differ; ``Z`` with another number of columns; a ``hyper`` that is not :class:`GPHyperparameters`;
        ARD lengthscales of the wrong length; negative ``jitter``, or ``jitter = 0`` with ``sigma = 0`` where
        that leaves the covariance singular.
    """
    X, y, Z, hyper, ell, jitter = _check_problem(X, y, Z, hyper, jitter)
    with _blas_held(len(y)):
        return float(sum(_terms(_factorise(X, y, Z, hyper, ell, jitter))))


@dataclass(frozen=True)
class FITCGradient:
    """Gradient of the FITC log marginal likelihood.

    Attributes
    ----------
    Z : numpy.ndarray, shape (M, D)
        With respect to every pseudo-input coordinate.
    log_eta : float
    log_lengthscale : numpy.ndarray, shape (1,) or (D,)
        One entry for a shared lengthscale, one per dimension for ARD (as ``hyper.lengthscale``).
    log_sigma : float
        0 when ``sigma^2 < jitter`` (the noise variance is then held at the jitter).
    """

    Z: np.ndarray
    log_eta: float
    log_lengthscale: np.ndarray
    log_sigma: float


def log_marginal_likelihood_and_grad(
    X, y, Z, hyper: GPHyperparameters, *, jitter: float = PYMC_JITTER
) -> tuple[float, FITCGradient]:
    """FITC log marginal likelihood and its analytic gradient (derivation in the module docstring).

    With respect to ``Z`` (all M x D entries) and the log-hyperparameters ``log eta``, ``log ell`` (per ARD
    dimension, or the shared one) and ``log sigma``.  Same arguments and errors as
    :func:`log_marginal_likelihood`; O(D N M^2) time, O(P D M^2 + T BLOCK_ROWS M + N D) memory for P parts on T
    threads (no N x M array: a second pass in the factorisation's blocks, module docstring).

    ``H = G_uf * K_uf`` itself is never formed: only its row sums, column sums and ``H X`` enter the kernel
    derivatives, and with ``G_uf = L^-T R`` and ``K_uf = L A`` they are ``colsum(R * A)``,
    ``diag(L^-T (R A^T) L^T)`` and ``diag(L^-T (R diag(x_d) A^T) L^T)`` (one M x M product per dimension).

    Returns
    -------
    log_ml : float
    grad : FITCGradient
    """
    X, y, Z, hyper, ell, jitter = _check_problem(X, y, Z, hyper, jitter)
    with _blas_held(len(y)):  # the N x M products below, too: measured faster on one thread than threaded
        return _log_ml_and_grad(X, y, Z, hyper, ell, jitter)


def _log_ml_and_grad(X, y, Z, hyper, ell, jitter) -> tuple[float, FITCGradient]:
    """:func:`log_marginal_likelihood_and_grad` on checked arguments (the algebra: the module docstring).

    The factorisation (:func:`_factorise`, the likelihood's own pass), then a second pass over the same parts
    (:func:`_grad_rows`, on the same threads) that forms each block's rows of ``K_fu`` and ``A^T`` again and
    folds them into ``R A^T`` [M, M], ``H X`` [M, D], ``sum_n colsum(H)_n x_n^2`` [D], ``sum m w`` and ``sum w``;
    the parts' sums are added in part order, so the result does not depend on the thread count."""
    f = _factorise(X, y, Z, hyper, ell, jitter)
    log_ml = float(sum(_terms(f)))
    N, M, D = X.shape[0], Z.shape[0], X.shape[1]
    Lam, L = f.Lam, f.L

    # v = B^-1 A Lambda^-1 y = A alpha (A Sigma^-1 = B^-1 A Lambda^-1), and -B^-1
    v = _tri_solve(f.L_B, f.c, trans=True)  # [M]
    L_B_inv = _tri_solve(f.L_B, np.eye(M))  # [M, M]
    B_inv = L_B_inv.T @ L_B_inv  # [M, M]
    B_neg = np.ascontiguousarray(-B_inv)  # [M, M]

    X = np.ascontiguousarray(X, dtype=np.float64)  # [N, D]
    parts = _parts(N)
    RAs = [np.zeros((M, M), order="F") for _ in parts]  # [M, M] each: R A^T
    Ss = [np.zeros((M, M, D), order="F") for _ in parts]  # [M, M, D] each: R diag(x_d) A^T
    hx2s = [np.zeros(D) for _ in parts]  # [D] each: sum_n colsum(H)_n x_n^2
    sumss = [np.zeros(2) for _ in parts]  # [2] each: sum m w, sum w

    def fold(p: int) -> None:
        r = parts[p]
        buffers = np.empty((3, min(r.stop - r.start, BLOCK_ROWS), M))  # [3, BLOCK_ROWS, M] at most, this thread's
        _grad_rows(f.X_s[r], X[r], f.Zt_s, f.eta2, L, B_neg, v, f.y_t[r], Lam[r], f.unclipped[r], BLOCK_ROWS,
                   buffers, RAs[p], Ss[p], hx2s[p], sumss[p], DTRSM, DGEMM)

    _over_parts(fold, N)
    RA, S, hx2, sums = RAs[0], Ss[0], hx2s[0], sumss[0]
    for p in range(1, len(parts)):
        RA += RAs[p]
        S += Ss[p]
        hx2 += hx2s[p]
        sums += sumss[p]
    wm_sum, w_sum = sums  # sum_n m_n w_n, sum_n w_n

    # G_uu = -1/2 L^-T (R A^T) L^-1; the row sums and H X of H = G_uf * K_uf through M x M products
    LtRA = _tri_solve(L, RA, trans=True)  # [M, M]
    G_uu = -0.5 * _tri_solve(L, LtRA.T, trans=True)  # [M, M]
    G_uu = 0.5 * (G_uu + G_uu.T)
    h_row = np.einsum("mk,mk->m", LtRA, L)  # [M] diag(L^-T R A^T L^T)
    HX = np.column_stack([np.einsum("mk,mk->m", _tri_solve(L, S[:, :, k], trans=True), L)
                          for k in range(D)])  # [M, D] diag(L^-T R diag(x_d) A^T L^T)
    H_u = 2.0 * G_uu * f.Kuu  # [M, M] (G_uu * K_uu) + its transpose: K_uu depends on Z through both arguments
    hu_row = H_u.sum(axis=1)  # [M]
    HuZ = H_u @ Z  # [M, D]

    # contract with the kernel derivatives
    inv_ell2 = 1.0 / ell**2  # [D]
    grad_Z = -(Z * (h_row + hu_row)[:, None] - HX - HuZ) * inv_ell2  # [M, D]
    sq_dist_uf = (Z**2 * h_row[:, None]).sum(axis=0) + hx2 - 2.0 * (Z * HX).sum(axis=0)  # [D]
    sq_dist_uu = (Z**2 * hu_row[:, None]).sum(axis=0) - (Z * HuZ).sum(axis=0)  # [D]
    grad_log_ell = (sq_dist_uf + sq_dist_uu) * inv_ell2  # [D]
    if np.ndim(hyper.lengthscale) == 0:
        grad_log_ell = np.array([grad_log_ell.sum()])
    grad_log_eta = 2.0 * h_row.sum() + H_u.sum() + hyper.eta**2 * wm_sum
    grad_log_sigma = hyper.sigma**2 * w_sum if hyper.sigma**2 >= jitter else 0.0
    return log_ml, FITCGradient(grad_Z, float(grad_log_eta), grad_log_ell, float(grad_log_sigma))


# ------------------------------------------------------------------------------------- prediction


@dataclass(frozen=True)
class FITCPosterior:
    """The FITC posterior, ready for :func:`predict`.

    Attributes
    ----------
    Z : numpy.ndarray, shape (M, D)
        Pseudo-inputs.
    hyper : GPHyperparameters
    jitter : float
        The jitter actually added to ``K_uu`` (more than asked for if it had to be escalated).
    L_uu : numpy.ndarray, shape (M, M)
        ``chol(K_uu + jitter I)``.
    L_B : numpy.ndarray, shape (M, M)
        ``chol(I + A Lambda^-1 A^T)``, ``A = L_uu^-1 K_uf``.
    weights : numpy.ndarray, shape (M,)
        ``B^-1 A Lambda^-1 y``: the predictive mean at ``x*`` is ``(L_uu^-1 k_u*)^T weights``.
    log_ml : float
        The log marginal likelihood at these settings.
    """

    Z: np.ndarray
    hyper: GPHyperparameters
    jitter: float
    L_uu: np.ndarray
    L_B: np.ndarray
    weights: np.ndarray
    log_ml: float

    @property
    def u_mean(self) -> np.ndarray:
        """Posterior mean of ``u = f(Z)``, shape ``(M,)``: ``K_uu Sigma_B^-1 K_uf Lambda^-1 y = L_uu weights``,
        ``Sigma_B = K_uu + K_uf Lambda^-1 K_fu`` (``K_uu`` with its jitter)."""
        return self.L_uu @ self.weights

    @property
    def u_cov(self) -> np.ndarray:
        """Posterior covariance of ``u``, shape ``(M, M)``: ``L_uu B^-1 L_uu^T``."""
        C = _tri_solve(self.L_B, self.L_uu.T)  # [M, M]
        return C.T @ C


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    a.flags.writeable = False
    return a


def posterior(X, y, Z, hyper: GPHyperparameters, *, jitter: float = PYMC_JITTER) -> FITCPosterior:
    """Factorise once for :func:`predict` (O(N M^2)); arguments and errors as :func:`log_marginal_likelihood`."""
    X, y, Z, hyper, ell, jitter = _check_problem(X, y, Z, hyper, jitter)
    with _blas_held(len(y)):
        f = _factorise(X, y, Z, hyper, ell, jitter)
    weights = _tri_solve(f.L_B, f.c, trans=True)  # [M]
    return FITCPosterior(_frozen(Z), hyper, f.jitter, _frozen(f.L), _frozen(f.L_B), _frozen(weights),
                         float(sum(_terms(f))))


def predict(post: FITCPosterior, X_new, *, include_noise: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Predictive mean and variance of ``f*`` (or of ``y*`` with ``include_noise``) at ``X_new``.

    ``mean = a_*^T weights`` and ``var = max(k_** - |a_*|^2, 0) + |L_B^-1 a_*|^2`` with ``a_* = L_uu^-1 k_u*``
    (module docstring); O(S M^2).

    Parameters
    ----------
    post : FITCPosterior
    X_new : array_like, shape (S, D) or (S,)
    include_noise : bool, default False
        Add ``sigma^2`` (the predictive distribution of a new observation).

    Returns
    -------
    mean : numpy.ndarray, shape (S,)
    var : numpy.ndarray, shape (S,)
        Never negative.

    Raises
    ------
    ValueError
        Naming ``post`` or ``X_new``.
    """
    post = instance(post, FITCPosterior, "post")
    X_new = as_inputs(X_new, "X_new", dims=post.Z.shape[1])
    ell = post.hyper.lengthscales(post.Z.shape[1])
    As = _tri_solve(post.L_uu, exp_quad(X_new, post.Z, post.hyper.eta, ell).T, overwrite=True)  # [M, S]
    mean = As.T @ post.weights  # [S]
    Cs = _tri_solve(post.L_B, As)  # [M, S]
    var = np.maximum(exp_quad_diag(X_new, post.hyper.eta) - np.einsum("ms,ms->s", As, As), 0.0)
    var += np.einsum("ms,ms->s", Cs, Cs)
    if include_noise:
        var += post.hyper.sigma**2
    return mean, var


# ---------------------------------------------------------------------------------------- ML-II


@dataclass(frozen=True)
class FITCRun:
    """One L-BFGS-B run of :func:`optimise`.

    Attributes
    ----------
    Z_start, hyper_start, log_ml_start :
        Where the run began (run 0 at ``Z0`` itself, later runs at jittered copies of it) and the objective there.
    Z, hyper, log_ml :
        Where it ended (never below ``log_ml_start``: a run that ends lower keeps its start).
    nit, nfev : int
        L-BFGS-B iterations and objective evaluations.
    success : bool
        SciPy's (``status == 0``).
    message : str
        L-BFGS-B's.
    jitter_warnings : int
        How many evaluations needed more jitter on ``K_uu`` than asked for (the warnings are collected here
        instead of printed; :func:`optimise` issues one summary ``JitterWarning``).
    seconds : float
        Wall-clock time of the run.
    status : int
        SciPy's ``OptimizeResult.status``: 0 converged, 1 a limit, 2 anything else.
    stopped : str
        Why the run stopped (:func:`bayes_zoo.inference.gp.exact.stop_reason`): ``"converged"``, ``"iteration
        limit"``, ``"evaluation limit"``, ``"line-search failure"`` or ``"abnormal: <message>"``.
    """

    Z_start: np.ndarray
    hyper_start: GPHyperparameters
    log_ml_start: float
    Z: np.ndarray
    hyper: GPHyperparameters
    log_ml: float
    nit: int
    nfev: int
    success: bool
    message: str
    jitter_warnings: int
    seconds: float
    status: int
    stopped: str

    @property
    def at_limit(self) -> bool:
        """Whether the run was cut short by an iteration or evaluation limit."""
        return self.stopped in LIMITS


@dataclass(frozen=True)
class FITCFit:
    """Result of :func:`optimise`: the best run, and every run.

    Attributes
    ----------
    Z : numpy.ndarray, shape (M, D)
        Optimised pseudo-inputs (of the best run).
    hyper : GPHyperparameters
        Optimised hyperparameters (``hyper0`` when they were held fixed).
    log_ml : float
        The log marginal likelihood there; ``>= log_ml0``.
    Z0 : numpy.ndarray, shape (M, D)
    hyper0 : GPHyperparameters
    log_ml0 : float
        The starting point and its log marginal likelihood.
    runs : tuple of FITCRun
        Run 0 from ``Z0``, then one per restart; each with its start, end and objective values.
    best : int
        Index of the best run.
    seed : int
    jitter : float
        The jitter asked for on ``K_uu``.
    optimise_hyper : bool
        Whether the hyperparameters moved (else only ``Z``).
    """

    Z: np.ndarray
    hyper: GPHyperparameters
    log_ml: float
    Z0: np.ndarray
    hyper0: GPHyperparameters
    log_ml0: float
    runs: tuple[FITCRun, ...]
    best: int
    seed: int
    jitter: float
    optimise_hyper: bool

    @property
    def at_limit(self) -> tuple[int, ...]:
        """Indices of the runs cut short by an iteration or evaluation limit."""
        return tuple(i for i, r in enumerate(self.runs) if r.at_limit)

    def table(self):
        """One row per run (a ``pandas.DataFrame``): ``run``, ``log ML start``, ``log ML end``, ``iterations``,
        ``evaluations``, ``stopped`` (why), ``seconds``, ``best``."""
        import pandas as pd

        return pd.DataFrame([
            {"run": i, "log ML start": r.log_ml_start, "log ML end": r.log_ml, "iterations": r.nit,
             "evaluations": r.nfev, "stopped": r.stopped, "seconds": r.seconds, "best": i == self.best}
            for i, r in enumerate(self.runs)])


class _Packing(NamedTuple):
    """How ``(Z, hyper)`` map to the optimiser's vector ``[Z.ravel(), log eta, log ell..., log sigma]``."""

    shape: tuple[int, int]  # Z's
    n_ell: int  # 1 (shared) or D (ARD)
    hyper: bool  # hyperparameters free
    sigma: bool  # log sigma free (not when sigma = 0)
    fixed: GPHyperparameters  # the start (held values, and the centre of the bounds)

    def pack(self, Z, hyper: GPHyperparameters) -> np.ndarray:
        parts = [np.ravel(Z)]
        if self.hyper:
            parts += [[np.log(hyper.eta)], np.log(np.atleast_1d(hyper.lengthscale))]
            parts += [[np.log(hyper.sigma)]] if self.sigma else []
        return np.concatenate(parts)

    def unpack(self, theta) -> tuple[np.ndarray, GPHyperparameters]:
        k = self.shape[0] * self.shape[1]
        Z = theta[:k].reshape(self.shape)
        if not self.hyper:
            return Z, self.fixed
        ell = np.exp(theta[k + 1:k + 1 + self.n_ell])
        ell = float(ell[0]) if np.ndim(self.fixed.lengthscale) == 0 else tuple(ell)
        sigma = float(np.exp(theta[k + 1 + self.n_ell])) if self.sigma else self.fixed.sigma
        return Z, GPHyperparameters(float(np.exp(theta[k])), ell, sigma)

    def grad(self, g: FITCGradient) -> np.ndarray:
        parts = [g.Z.ravel()]
        if self.hyper:
            parts += [[g.log_eta], g.log_lengthscale]
            parts += [[g.log_sigma]] if self.sigma else []
        return np.concatenate(parts)

    def bounds(self) -> list[tuple[float | None, float | None]]:
        centre = self.pack(np.zeros(self.shape), self.fixed)[self.shape[0] * self.shape[1]:]
        half = np.log(HYPER_RANGE)
        return [(None, None)] * (self.shape[0] * self.shape[1]) + [(c - half, c + half) for c in centre]


def _run(X, y, Z_start, packing: _Packing, jitter, maxiter) -> FITCRun:
    start = time.perf_counter()
    theta0 = packing.pack(Z_start, packing.fixed)

    def objective(theta):
        Z, hyper = packing.unpack(theta)
        value, g = log_marginal_likelihood_and_grad(X, y, Z, hyper, jitter=jitter)
        return -value, -packing.grad(g)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", JitterWarning)
        log_ml_start = -objective(theta0)[0]
        res = optimize.minimize(objective, theta0, jac=True, method="L-BFGS-B", bounds=packing.bounds(),
                                options={"maxiter": maxiter})
    end = (res.x, -float(res.fun)) if -float(res.fun) >= log_ml_start else (theta0, log_ml_start)
    Z, hyper = packing.unpack(end[0])
    n_warn = sum(issubclass(w.category, JitterWarning) for w in caught)
    for w in caught:  # anything else is passed on
        if not issubclass(w.category, JitterWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return FITCRun(_frozen(Z_start), packing.fixed, float(log_ml_start), _frozen(Z), hyper, end[1], int(res.nit),
                   int(res.nfev), bool(res.success), str(res.message), n_warn, time.perf_counter() - start,
                   int(res.status), stop_reason(res))


def optimise(
    X,
    y,
    Z0,
    hyper0: GPHyperparameters,
    *,
    restarts: int = 4,
    seed: int = 0,
    optimise_hyper: bool = True,
    jitter: float = PYMC_JITTER,
    z_jitter: float = 0.1,
    maxiter: int = MAXITER,
) -> FITCFit:
    """Type-II maximum likelihood: maximise the FITC log marginal likelihood over ``Z`` (and hyperparameters).

    L-BFGS-B (``scipy.optimize.minimize``, ``jac=True``) on ``[Z, log eta, log ell, log sigma]`` with the
    analytic gradient of :func:`log_marginal_likelihood_and_grad`.  Run 0 starts at ``(Z0, hyper0)``; each
    of the ``restarts`` further runs starts at ``Z0`` plus Normal noise of sd ``z_jitter`` times the sd of
    each input column (``numpy.random.default_rng(seed)``), with ``hyper0``.  The best run wins.

    - ``log sigma`` is held at ``hyper0.sigma`` when that is 0 (the noiseless model stays noiseless).
    - Each hyperparameter is bounded within a factor :data:`HYPER_RANGE` of its start (bounds that keep trial
      steps from overflowing; far from any sensible optimum).
    - No run ends below its start: one whose final objective is lower keeps its start.  So
      ``fit.log_ml >= fit.log_ml0``.
    - Each run records why it stopped (``FITCRun.stopped``: converged, iteration limit, line-search failure);
      ``fit.at_limit`` lists the runs cut short by a limit.  The default :data:`MAXITER` (10,000) is set so
      that they converge: on Snelson's data with M = 15 (hyperparameters from the exact GP's type-II ML, Z
      evenly spaced, seed 0) the five runs needed 676 to 2,674 iterations and the best reached -50.41 (the old
      default, 500, stopped every run at the limit: -51.57 here, -51.90 or -51.43 by thread count in the
      issue); a rescaled Z (by the inputs' sd, by ell) was measured too and converged no faster.  Where the
      best run ends is chaotic in the rounding (the optimum has nearly merged pseudo-inputs): y scaled by
      1 + 1e-15, 1 + 1e-13 or 1 - 1e-14 gave -49.68, -50.36, -50.41 (the gradient held whole before issue 15,
      with its own rounding: -50.43, -49.68, -50.32, and -49.68 on y itself).
    - Every BLAS library is held to one thread for the whole call (as above ``BLOCK_ROWS`` inputs; a
      process-wide hold, shared with concurrent FITC calls).  The path of L-BFGS-B on this objective is
      sensitive to rounding (the optimum has nearly merged pseudo-inputs, the objective is ill-conditioned),
      so BLAS's thread-dependent summation order grew into different end points; held to one thread every
      reduction is in a fixed order, and 1 or 2 threads give the same result (tested on Snelson, M = 15).

    Parameters
    ----------
    X, y : array_like
        As :func:`log_marginal_likelihood`.
    Z0 : array_like, shape (M, D) or (M,)
        Starting pseudo-inputs.
    hyper0 : GPHyperparameters
        Starting (or, with ``optimise_hyper=False``, fixed) hyperparameters.
    restarts : int >= 0, default 4
        Runs besides the one from ``Z0``.
    seed : int >= 0, default 0
    optimise_hyper : bool, default True
        False: only ``Z`` moves.
    jitter : float >= 0
    z_jitter : float >= 0, default 0.1
    maxiter : int >= 1, default :data:`MAXITER` (10,000)
        L-BFGS-B iterations per run at most.

    Returns
    -------
    FITCFit

    Raises
    ------
    ValueError
        Naming the argument (as :func:`log_marginal_likelihood`, and for ``restarts``, ``seed``,
        ``z_jitter``, ``maxiter``).

    Warns
    -----
    JitterWarning
        Once, if any evaluation needed more jitter than asked for (counts per run in ``runs``).
    """
    X, y, Z0, hyper0, ell, jitter = _check_problem(X, y, Z0, hyper0, jitter)
    restarts = nonnegative_int(restarts, "restarts")
    seed = nonnegative_int(seed, "seed")
    maxiter = positive_int(maxiter, "maxiter")
    z_jitter = finite_scalar(z_jitter, "z_jitter")
    if z_jitter < 0:
        raise ValueError(f"z_jitter: must be >= 0, got {z_jitter}")
    if not isinstance(optimise_hyper, bool):
        raise ValueError(f"optimise_hyper: expected True or False, got {optimise_hyper!r}")
    packing = _Packing(Z0.shape, np.atleast_1d(hyper0.lengthscale).size, optimise_hyper,
                       optimise_hyper and hyper0.sigma > 0, hyper0)

    rng = np.random.default_rng(seed)
    scale = z_jitter * X.std(axis=0)  # [D]
    starts = [Z0] + [Z0 + scale * rng.standard_normal(Z0.shape) for _ in range(restarts)]
    with blas_held():  # one thread (the policy): a fixed reduction order, so the path does not depend on the thread count
        runs = tuple(_run(X, y, Z_start, packing, jitter, maxiter) for Z_start in starts)
    n_warn = sum(r.jitter_warnings for r in runs)
    if n_warn:
        warnings.warn(f"{n_warn} evaluation(s) during optimise needed more jitter on K_uu than {jitter:.3g} "
                      "(pseudo-inputs nearly coincide); counts per run in FITCFit.runs", JitterWarning,
                      stacklevel=2)
    best = int(np.argmax([r.log_ml for r in runs]))
    return FITCFit(runs[best].Z, runs[best].hyper, runs[best].log_ml, _frozen(Z0), hyper0, runs[0].log_ml_start,
                   runs, best, seed, jitter, optimise_hyper)


# ------------------------------------------------------------------------- stationarity, by a polish

#: L-BFGS-B iterations of :func:`polish` at most.
POLISH_MAXITER = 50
#: Largest log marginal likelihood gain (nats) of :func:`polish` at a maximum.
POLISH_TOL = 1e-3


@dataclass(frozen=True)
class Polish:
    """A restart of :func:`optimise`'s best run that uses no analytic gradient (:func:`polish`).

    Attributes
    ----------
    log_ml_start : float
        The reported optimum's log marginal likelihood (``fit.log_ml``).
    log_ml : float
        After the polish (never below ``log_ml_start``: a polish that ends lower keeps its start).
    gain : float
        ``log_ml - log_ml_start``, nats, >= 0.
    nit, nfev : int
        Iterations and objective evaluations of the polish.
    stopped : str
        Why the polish stopped (:func:`bayes_zoo.inference.gp.exact.stop_reason`).
    tolerance : float
        Largest gain of a stationary optimum (:data:`POLISH_TOL` unless given).
    """

    log_ml_start: float
    log_ml: float
    gain: float
    nit: int
    nfev: int
    stopped: str
    tolerance: float

    @property
    def ok(self) -> bool:
        """``gain <= tolerance`` (and finite)."""
        return bool(np.isfinite(self.gain) and self.gain <= self.tolerance)


def polish(X, y, fit: FITCFit, *, maxiter: int = POLISH_MAXITER, tolerance: float = POLISH_TOL) -> Polish:
    """Check that ``fit``'s optimum is a local maximum without the analytic gradient: restart L-BFGS-B there
    with gradients by central differences of :func:`log_marginal_likelihood` (``jac="3-point"``) and report
    what it gains.

    Same parametrisation, bounds and jitter as :func:`optimise` (``[Z, log eta, log ell, log sigma]``, or Z
    alone).  A term dropped from :func:`log_marginal_likelihood_and_grad` makes L-BFGS-B stop where the true
    gradient is not 0, and a polish that follows the true gradient then climbs: measured on Snelson's data with
    M = 10 (the ``sparse-gp`` pair's setting, 3 runs), dropping ``H_u``'s term from ``d/d log eta``, dropping
    ``H_u Z`` from ``d/dZ`` or inverting the condition that zeroes ``d/d log sigma`` gave polish gains of 0.61,
    3.8 and 2.4 nats in 50 iterations; the correct code gained 4e-9 nats (7e-8 at M = 15).

    Why not a finite-difference gradient norm as for the exact GP
    (:func:`bayes_zoo.inference.gp.exact.stationarity`): at FITC's optimum pseudo-inputs nearly merge, the
    curvature along their difference is huge, and the central-difference gradient there depends on the step
    (norm 2.5 at h = 1e-4, 0.63 at h = 1e-5 at the correct M = 15 optimum) although no step gains anything.
    The gain is the scale-free statement: in nats.  Why :data:`POLISH_TOL` = 1e-3 nats: 10^4 times the correct
    code's measured gains, 600 times below the smallest planted bug's, and below any difference of log
    marginal likelihood that matters for choosing a model.

    Parameters
    ----------
    X, y : array_like
        The data ``fit`` was fitted to.
    fit : FITCFit
    maxiter : int >= 1
        L-BFGS-B iterations of the polish (each ~2 (M D + 3) + 1 evaluations of the log marginal likelihood).
    tolerance : float > 0

    Returns
    -------
    Polish

    Raises
    ------
    ValueError
        Naming ``X``/``y``/``fit`` (bad data, not a :class:`FITCFit`, or ``Z`` of another dimension),
        ``maxiter`` or ``tolerance``.
    """
    fit = instance(fit, FITCFit, "fit")
    X, y, Z, hyper, _, jitter = _check_problem(X, y, fit.Z, fit.hyper, fit.jitter)
    maxiter = positive_int(maxiter, "maxiter")
    tolerance = positive_scalar(tolerance, "tolerance")
    hyper0 = fit.hyper0
    packing = _Packing(Z.shape, np.atleast_1d(hyper0.lengthscale).size, fit.optimise_hyper,
                       fit.optimise_hyper and hyper0.sigma > 0, hyper0)
    theta0 = packing.pack(Z, hyper)

    def objective(theta):
        Z_t, hyper_t = packing.unpack(theta)
        return -log_marginal_likelihood(X, y, Z_t, hyper_t, jitter=jitter)

    with warnings.catch_warnings(), blas_held():
        warnings.simplefilter("ignore", JitterWarning)  # counted by optimise; the objective is the same
        start = -objective(theta0)
        res = optimize.minimize(objective, theta0, jac="3-point", method="L-BFGS-B", bounds=packing.bounds(),
                                options={"maxiter": maxiter})
    end = max(start, -float(res.fun))
    return Polish(float(start), float(end), float(end - start), int(res.nit), int(res.nfev), stop_reason(res),
                  float(tolerance))
