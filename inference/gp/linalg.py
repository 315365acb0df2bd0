"""The Cholesky factorisation every GP computation goes through, with jitter escalation.

A Gram matrix of the squared-exponential kernel is positive definite in exact arithmetic for distinct
inputs, but in floating point it is often numerically singular: long lengthscales, near-duplicate inputs,
zero noise.  :func:`cholesky` first adds the ``jitter`` it is asked for (the value PyMC would add, so that
answers can be compared), and if the factorisation still fails, adds more — ``1e-10``, ``1e-9``, ... up to
``1e-4`` times the mean diagonal — warning with :class:`JitterWarning` how much it took.  If even that fails
it raises ``ValueError`` naming the fix.

:func:`solve_lower_rows` and :func:`add_gram_rows` are the two BLAS-3 calls of FITC's factorisation
(``dtrsm`` and ``dsyrk``) as compiled functions that run without the GIL, so that FITC can fold blocks of
training inputs on several threads: SciPy's Python wrappers of BLAS keep the GIL.  They call SciPy's own
BLAS (``scipy.linalg.cython_blas``) through the C function pointers :data:`DTRSM` and :data:`DSYRK`, passed
as arguments rather than read as globals so that numba can cache the functions that call them.
"""

from __future__ import annotations

import ctypes
import warnings

import numba
import numpy as np
from numba import types
from numba.extending import get_cython_function_address, overload
from scipy import linalg

__all__ = ["JitterWarning", "cholesky", "warn_jitter", "MAX_RELATIVE_JITTER", "DTRSM", "DSYRK", "solve_lower_rows",
           "add_gram_rows"]

#: The largest jitter tried, relative to the mean of the diagonal.
MAX_RELATIVE_JITTER = 1e-4


class JitterWarning(UserWarning):
    """More jitter than asked for was added to make a matrix positive definite in floating point."""


def warn_jitter(what: str, used: float, asked: float, *, stacklevel: int = 2) -> None:
    """Issue the :class:`JitterWarning` that :func:`cholesky` issues when it added ``used`` instead of ``asked``
    (for a caller that checks the outcome first: :func:`bayes_zoo.inference.gp.exact.posterior`)."""
    warnings.warn(f"{what} was not positive definite in floating point; added jitter {used:.3g} "
                  f"(asked for {asked:.3g}) to its diagonal", JitterWarning, stacklevel=stacklevel + 1)


def cholesky(A, *, jitter: float = 0.0, what: str = "the Gram matrix", warn: bool = True) -> tuple[np.ndarray, float]:
    """Lower Cholesky factor of ``A + jitter I``, escalating the jitter if needed.

    The factorisation sees no data.  A caller that factorises the covariance of data must itself check that an
    escalated jitter does not carry the data's fit: :func:`bayes_zoo.inference.gp.exact.posterior` refuses
    noiseless data that the matrix, singular in floating point, cannot produce.

    Parameters
    ----------
    A : array_like, shape (N, N)
        Symmetric; only its lower triangle is read.
    jitter : float >= 0
        Added to the diagonal before the first attempt.
    what : str
        Names the matrix in the warning and the error.
    warn : bool, default True
        Issue the :class:`JitterWarning`; False leaves it to the caller (:func:`warn_jitter`), which compares
        ``j`` with ``jitter``.

    Returns
    -------
    L : numpy.ndarray, shape (N, N)
        Lower triangular with ``L L^T = A + j I``.
    j : float
        The jitter actually added (``jitter``, unless more was needed).

    Warns
    -----
    JitterWarning
        When more than ``jitter`` was needed (the message gives the amount) and ``warn``.

    Raises
    ------
    ValueError
        If ``A`` is not square and finite, ``jitter`` is negative, or ``A`` stays numerically indefinite with
        a jitter of :data:`MAX_RELATIVE_JITTER` times its mean diagonal (the message says what to change).
    """
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or not np.all(np.isfinite(A)):
        raise ValueError(f"A: {what} must be a finite square matrix, got shape {A.shape}")
    if not np.isfinite(jitter) or jitter < 0:
        raise ValueError(f"jitter: must be finite and >= 0, got {jitter}")
    scale = float(np.mean(np.diag(A))) if A.size else 1.0
    scale = scale if scale > 0 else 1.0
    tries = [jitter] + [jitter + scale * 10.0**k for k in range(-10, int(np.log10(MAX_RELATIVE_JITTER)) + 1)]
    n = A.shape[0]
    for j in tries:
        M = A
        if j > 0:  # one copy, factorised in place; A itself is never modified
            M = A.copy()
            M.flat[:: n + 1] += j
        try:
            L = linalg.cholesky(M, lower=True, check_finite=False, overwrite_a=M is not A)
        except linalg.LinAlgError:
            continue
        if j > jitter and warn:
            warn_jitter(what, j, jitter, stacklevel=2)
        return L, j
    raise ValueError(
        f"A: {what} is not positive definite even with jitter {tries[-1]:.3g} "
        f"({MAX_RELATIVE_JITTER:g} x its mean diagonal): the inputs may coincide with zero noise, or the "
        "lengthscale is far longer than the spread of the inputs; raise sigma (or the jitter), remove "
        "duplicate inputs, or shorten the lengthscale"
    )


def _cython_blas(name: str, n_args: int):
    """SciPy's BLAS routine ``name`` (Fortran calling convention: every argument a pointer) as a ctypes function."""
    address = get_cython_function_address("scipy.linalg.cython_blas", name)
    return ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * n_args)(address)


#: BLAS ``dtrsm`` and ``dsyrk`` of ``scipy.linalg.cython_blas``, for :func:`solve_lower_rows` and
#: :func:`add_gram_rows`.
DTRSM = _cython_blas("dtrsm", 11)
DSYRK = _cython_blas("dsyrk", 10)

_LEFT, _LOWER, _UPPER, _NOTRANS, _TRANS, _NONUNIT = (ord(c) for c in "LLUNTN")


def _is_float64(a) -> bool:
    """Whether ``a`` is a float64 array; in compiled code, a constant of its type (numba cannot compare dtypes)."""
    return isinstance(a, np.ndarray) and a.dtype == np.float64


@overload(_is_float64)
def _is_float64_compiled(a):
    answer = isinstance(a, types.Array) and a.dtype == types.float64
    return lambda a: answer


@numba.njit(cache=True, nogil=True)
def solve_lower_rows(dtrsm, L, R):
    """Replace every row ``r_i`` of ``R`` by ``L^-1 r_i`` (``R <- R L^-T``), in place, by BLAS ``dtrsm``.

    Parameters
    ----------
    dtrsm : :data:`DTRSM`
    L : numpy.ndarray, shape (M, M), float64, C-contiguous
        Lower triangular (the upper triangle is not read).
    R : numpy.ndarray, shape (n, M), float64, C-contiguous
        Overwritten.

    Raises
    ------
    ValueError
        If ``L`` or ``R`` is not float64 and C-contiguous, or ``L`` is not M x M (BLAS would read past it).
    """
    n, m = R.shape
    if not (_is_float64(L) and _is_float64(R) and L.flags.c_contiguous and R.flags.c_contiguous):
        raise ValueError("L, R: solve_lower_rows needs C-contiguous float64 arrays")
    if L.shape[0] != m or L.shape[1] != m:
        raise ValueError("L: solve_lower_rows needs L of shape (M, M) for R of shape (n, M)")
    if n == 0 or m == 0:
        return
    # in BLAS's column-major view R is R^T [M, n] and L is L^T (upper): solve (L^T)^T X = R^T
    chars = np.array([_LEFT, _UPPER, _TRANS, _NONUNIT], dtype=np.uint8)
    ints = np.array([m, n, m, m], dtype=np.int32)  # M, N, LDA, LDB
    one = np.ones(1)
    dtrsm(chars[0:].ctypes, chars[1:].ctypes, chars[2:].ctypes, chars[3:].ctypes, ints[0:].ctypes, ints[1:].ctypes,
          one.ctypes, L.ctypes, ints[2:].ctypes, R.ctypes, ints[3:].ctypes)


@numba.njit(cache=True, nogil=True)
def add_gram_rows(dsyrk, R, C):
    """``C += R^T R`` on the lower triangle of ``C`` (the upper is not touched), by BLAS ``dsyrk``.

    Parameters
    ----------
    dsyrk : :data:`DSYRK`
    R : numpy.ndarray, shape (n, M), float64, C-contiguous
    C : numpy.ndarray, shape (M, M), float64, Fortran-contiguous
        Updated in place.

    Raises
    ------
    ValueError
        If ``R`` is not C-contiguous or ``C`` not Fortran-contiguous, either is not float64, or ``C`` is not
        M x M (BLAS would write past it).
    """
    n, m = R.shape
    if not (_is_float64(R) and _is_float64(C) and R.flags.c_contiguous and C.flags.f_contiguous):
        raise ValueError("R, C: add_gram_rows needs a C-contiguous R and a Fortran-contiguous C, both float64")
    if C.shape[0] != m or C.shape[1] != m:
        raise ValueError("C: add_gram_rows needs C of shape (M, M) for R of shape (n, M)")
    if n == 0 or m == 0:
        return
    # column-major: R is A = R^T [M, n] and C += A A^T
    chars = np.array([_LOWER, _NOTRANS], dtype=np.uint8)
    ints = np.array([m, n, m, m], dtype=np.int32)  # N, K, LDA, LDC
    one = np.ones(1)
    dsyrk(chars[0:].ctypes, chars[1:].ctypes, ints[0:].ctypes, ints[1:].ctypes, one.ctypes, R.ctypes, ints[2:].ctypes,
          one.ctypes, C.ctypes, ints[3:].ctypes)
