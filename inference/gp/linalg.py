"""The Cholesky factorisation every GP computation goes through, with jitter escalation.

A Gram matrix of the squared-exponential kernel is positive definite in exact arithmetic for distinct
inputs, but in floating point it is often numerically singular: long lengthscales, near-duplicate inputs,
zero noise.  :func:`cholesky` first adds the ``jitter`` it is asked for (the value PyMC would add, so that
answers can be compared), and if the factorisation still fails, adds more — ``1e-10``, ``1e-9``, ... up to
``1e-4`` times the mean diagonal — warning with :class:`JitterWarning` how much it took.  If even that fails
it raises ``ValueError`` naming the fix.

:func:`cholesky_in_place` is the same escalation for a matrix its caller has just formed and does not need
again (the exact GP's ``K + sigma^2 I``): LAPACK ``dpotrf`` factorises it in its own memory, no copy, no
scan for non-finite entries (the caller formed it from checked inputs), and a failed attempt asks the caller
to form it again.  :func:`inverse_from_cholesky` is LAPACK ``dpotri`` on such a factor (``A^-1`` from ``L``,
``2 N^3 / 3`` flops: a third of the ``2 N^3`` of two triangular solves against the identity), mirrored to a
full symmetric matrix only when asked (:func:`mirror_lower`).

:func:`solve_lower_rows` and :func:`add_gram_rows` are the two BLAS-3 calls of FITC's factorisation
(``dtrsm`` and ``dsyrk``) as compiled functions that run without the GIL, so that FITC can fold blocks of
training inputs on several threads: SciPy's Python wrappers of BLAS keep the GIL.  They call SciPy's own
BLAS (``scipy.linalg.cython_blas``) through the C function pointers :data:`DTRSM` and :data:`DSYRK`, passed
as arguments rather than read as globals so that numba can cache the functions that call them.
"""

from __future__ import annotations

import contextlib
import ctypes
import warnings

import numba
import numpy as np
from numba import types
from numba.extending import get_cython_function_address, overload
from scipy import linalg
from scipy.linalg import lapack

__all__ = ["JitterWarning", "jitter_reported", "cholesky", "cholesky_in_place", "inverse_from_cholesky", "mirror_lower", "warn_jitter",
           "MAX_RELATIVE_JITTER", "DTRSM", "DSYRK", "solve_lower_rows",
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


@contextlib.contextmanager
def jitter_reported(where: str):
    """Collect the JitterWarnings (:class:`JitterWarning`) raised inside the block and print them as one line
    naming ``where`` (how many, and the first message); every other warning is passed on unchanged.  For notebooks, where a
    dozen repeated warnings would bury the output.

    Yields
    ------
    list of warnings.WarningMessage
        Every warning caught in the block (JitterWarnings and others), filled in when the block ends.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", JitterWarning)
        yield caught
    jitter = [w for w in caught if issubclass(w.category, JitterWarning)]
    for w in caught:
        if not issubclass(w.category, JitterWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if jitter:
        print(f"[{where}] {len(jitter)} JitterWarning(s) caught; the first: {jitter[0].message}")


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
    tries = _jitters(scale, jitter)
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


def _jitters(scale: float, jitter: float) -> list[float]:
    """The jitters :func:`cholesky` and :func:`cholesky_in_place` try, in order: ``jitter``, then ``jitter +
    scale x 1e-10 .. 1e-4``."""
    return [jitter] + [jitter + scale * 10.0**k for k in range(-10, int(np.log10(MAX_RELATIVE_JITTER)) + 1)]


def _not_positive_definite(what: str, largest: float) -> ValueError:
    return ValueError(
        f"A: {what} is not positive definite even with jitter {largest:.3g} "
        f"({MAX_RELATIVE_JITTER:g} x its mean diagonal): the inputs may coincide with zero noise, or the "
        "lengthscale is far longer than the spread of the inputs; raise sigma (or the jitter), remove "
        "duplicate inputs, or shorten the lengthscale"
    )


def cholesky_in_place(make, *, jitter: float = 0.0, what: str = "the Gram matrix",
                      warn: bool = True) -> tuple[np.ndarray, float]:
    """Lower Cholesky factor of ``A + j I`` computed in ``A``'s own memory (LAPACK ``dpotrf``, no copy), with the
    jitter escalation of :func:`cholesky`.

    For a matrix the caller has just formed and needs no more: ``make()`` forms it, and is called again
    only when an attempt fails (``dpotrf`` has then overwritten part of it).  ``A`` is not scanned for
    non-finite entries (:func:`cholesky` does): a caller forms it from checked inputs.

    Parameters
    ----------
    make : callable
        ``make()`` returns ``A``: numpy.ndarray, shape (N, N), float64, C- or Fortran-contiguous, symmetric
        (only one triangle is read: a Fortran-ordered ``A`` needs only its lower triangle and diagonal formed, a
        C-ordered one its upper), finite; it is overwritten.
    jitter : float >= 0
        Added to the diagonal before the first attempt.
    what : str
        Names the matrix in the warning and the error.
    warn : bool, default True
        Issue the :class:`JitterWarning` when more than ``jitter`` was needed.

    Returns
    -------
    L : numpy.ndarray, shape (N, N), Fortran-contiguous
        Lower triangular (upper triangle zero) with ``L L^T = A + j I``; it shares ``A``'s memory.
    j : float
        The jitter actually added.

    Raises
    ------
    ValueError
        ``make()`` not returning a square contiguous float64 array (naming ``A``), ``jitter`` negative or not
        finite, or ``A`` indefinite even with :data:`MAX_RELATIVE_JITTER` times its mean diagonal.
    """
    if not np.isfinite(jitter) or jitter < 0:
        raise ValueError(f"jitter: must be finite and >= 0, got {jitter}")
    tries = None
    for attempt in range(len(_jitters(1.0, jitter))):
        A = make()
        if not (isinstance(A, np.ndarray) and A.dtype == np.float64 and A.ndim == 2 and A.shape[0] == A.shape[1]
                and (A.flags.c_contiguous or A.flags.f_contiguous)):
            raise ValueError(f"A: {what} must be a square contiguous float64 array, got "
                             f"{getattr(A, 'shape', type(A).__name__)}")
        F = A if A.flags.f_contiguous else A.T  # [N, N] Fortran-ordered: A^T = A for the symmetric A
        n = F.shape[0]
        if tries is None:
            scale = float(np.mean(np.diagonal(F))) if n else 1.0
            tries = _jitters(scale if scale > 0 else 1.0, jitter)
        j = tries[attempt]
        if j > 0:
            F[np.diag_indices(n)] += j
        L, info = lapack.dpotrf(F, lower=1, clean=1, overwrite_a=1)  # in place: F is Fortran-contiguous
        if info == 0:
            if j > jitter and warn:
                warn_jitter(what, j, jitter, stacklevel=2)
            return L, j
        if info < 0:  # an argument LAPACK refused: a bug here, not the matrix
            raise RuntimeError(f"dpotrf: argument {-info} refused")
    raise _not_positive_definite(what, tries[-1])


def inverse_from_cholesky(L, *, overwrite: bool = False, full: bool = True) -> np.ndarray:
    """``A^-1`` from the lower Cholesky factor ``L`` of ``A`` by LAPACK ``dpotri`` (``2 N^3 / 3`` flops).

    Parameters
    ----------
    L : numpy.ndarray, shape (N, N), float64
        Lower triangular, ``L L^T = A``; its upper triangle is not read.
    overwrite : bool, default False
        Compute in ``L``'s memory (it must then be a writable Fortran-contiguous array); otherwise a copy.
    full : bool, default True
        Mirror the lower triangle onto the upper (:func:`mirror_lower`); False leaves the upper triangle as
        ``L``'s was (zeros for a clean factor): for callers that read the lower triangle only.

    Returns
    -------
    numpy.ndarray, shape (N, N), Fortran-contiguous
        ``A^-1`` (its lower triangle only, when not ``full``).

    Raises
    ------
    ValueError
        ``L`` not square float64 (naming ``L``), or ``overwrite`` with an array ``dpotri`` cannot work in;
        ``numpy.linalg.LinAlgError`` if ``L`` has a zero on its diagonal (``A`` singular).
    """
    L = np.asarray(L)
    if L.dtype != np.float64 or L.ndim != 2 or L.shape[0] != L.shape[1]:
        raise ValueError(f"L: expected a square float64 matrix, got {L.dtype} of shape {L.shape}")
    if overwrite and not (L.flags.f_contiguous and L.flags.writeable):
        raise ValueError("L: overwrite needs a writable Fortran-contiguous array")
    F = L if overwrite else np.array(L, order="F")  # [N, N]
    P, info = lapack.dpotri(F, lower=1, overwrite_c=1)
    if info > 0:
        raise np.linalg.LinAlgError(f"L: zero on the diagonal at {info - 1}: the matrix is singular")
    if info < 0:
        raise RuntimeError(f"dpotri: argument {-info} refused")
    return mirror_lower(P) if full else P


#: Tile edge of :func:`mirror_lower`: a [64, 64] tile and its transpose stay in cache.
_TILE = 64


@numba.njit(cache=True, nogil=True)
def _mirror(P):
    n = P.shape[0]
    for jb in range(0, n, _TILE):  # P[j, i] = P[i, j] for i > j, tile by tile
        for ib in range(jb, n, _TILE):
            for j in range(jb, min(jb + _TILE, n)):
                for i in range(max(ib, j + 1), min(ib + _TILE, n)):
                    P[j, i] = P[i, j]


def mirror_lower(P: np.ndarray) -> np.ndarray:
    """Copy the strict lower triangle of the square ``P`` onto its upper triangle, in place; returns ``P``.

    Raises
    ------
    ValueError
        ``P`` not a writable square float64 array (naming ``P``).
    """
    if not (isinstance(P, np.ndarray) and P.dtype == np.float64 and P.ndim == 2 and P.shape[0] == P.shape[1]
            and P.flags.writeable):
        raise ValueError(f"P: expected a writable square float64 array, got {getattr(P, 'shape', P)!r}")
    _mirror(P)
    return P


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
