"""The Cholesky factorisation every GP computation goes through, with jitter escalation.

A Gram matrix of the squared-exponential kernel is positive definite in exact arithmetic for distinct
inputs, but in floating point it is often numerically singular: long lengthscales, near-duplicate inputs,
zero noise.  :func:`cholesky` first adds the ``jitter`` it is asked for (the value PyMC would add, so that
answers can be compared), and if the factorisation still fails, adds more — ``1e-10``, ``1e-9``, ... up to
``1e-4`` times the mean diagonal — warning with :class:`JitterWarning` how much it took.  If even that fails
it raises ``ValueError`` naming the fix.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg

__all__ = ["JitterWarning", "cholesky", "MAX_RELATIVE_JITTER"]

#: The largest jitter tried, relative to the mean of the diagonal.
MAX_RELATIVE_JITTER = 1e-4


class JitterWarning(UserWarning):
    """More jitter than asked for was added to make a matrix positive definite in floating point."""


def cholesky(A, *, jitter: float = 0.0, what: str = "the Gram matrix") -> tuple[np.ndarray, float]:
    """Lower Cholesky factor of ``A + jitter I``, escalating the jitter if needed.

    Parameters
    ----------
    A : array_like, shape (N, N)
        Symmetric; only its lower triangle is read.
    jitter : float >= 0
        Added to the diagonal before the first attempt.
    what : str
        Names the matrix in the warning and the error.

    Returns
    -------
    L : numpy.ndarray, shape (N, N)
        Lower triangular with ``L L^T = A + j I``.
    j : float
        The jitter actually added (``jitter``, unless more was needed).

    Warns
    -----
    JitterWarning
        When more than ``jitter`` was needed (the message gives the amount).

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
        if j > jitter:
            warnings.warn(f"{what} was not positive definite in floating point; added jitter {j:.3g} "
                          f"(asked for {jitter:.3g}) to its diagonal", JitterWarning, stacklevel=2)
        return L, j
    raise ValueError(
        f"A: {what} is not positive definite even with jitter {tries[-1]:.3g} "
        f"({MAX_RELATIVE_JITTER:g} x its mean diagonal): the inputs may coincide with zero noise, or the "
        "lengthscale is far longer than the spread of the inputs; raise sigma (or the jitter), remove "
        "duplicate inputs, or shorten the lengthscale"
    )
