"""Argument checks shared by every public entry point.

Each check returns the cleaned value or raises ``ValueError`` whose message starts with the argument's name,
so a user sees at once which argument was wrong and why.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "finite_vector", "finite_scalar", "positive_scalar", "positive_int", "nonnegative_int", "probability",
    "instance", "generator", "input_matrix",
]


def finite_vector(value, name: str) -> np.ndarray:
    """A non-empty 1-D float64 array with only finite values.

    Raises
    ------
    ValueError
        If ``value`` is not 1-D (a 2-D array where 1-D belongs included), is empty, or holds NaN or inf.
    """
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: expected a 1-D array of numbers ({err})") from None
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: is empty")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}: holds {int(bad.sum())} non-finite value(s) (NaN or inf), first at index {first}")
    return arr


def finite_scalar(value, name: str) -> float:
    """A finite real number, as float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real | np.ndarray) or np.ndim(value) != 0:
        raise ValueError(f"{name}: expected a real number, got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{name}: must be finite, got {out}")
    return out


def positive_scalar(value, name: str) -> float:
    """A finite real number > 0, as float."""
    out = finite_scalar(value, name)
    if out <= 0.0:
        raise ValueError(f"{name}: must be > 0, got {out}")
    return out


def positive_int(value, name: str) -> int:
    """An integer >= 1 (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
    if value < 1:
        raise ValueError(f"{name}: must be >= 1, got {value}")
    return int(value)


def probability(value, name: str) -> float:
    """A number strictly between 0 and 1."""
    out = finite_scalar(value, name)
    if not 0.0 < out < 1.0:
        raise ValueError(f"{name}: must lie strictly between 0 and 1, got {out}")
    return out


def nonnegative_int(value, name: str) -> int:
    """An integer >= 0 (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}: expected an integer >= 0, got {value!r}")
    if value < 0:
        raise ValueError(f"{name}: must be >= 0, got {value}")
    return int(value)


def instance(value, cls: type, name: str):
    """``value`` itself, if it is an instance of ``cls``; otherwise a ValueError naming ``name``."""
    if not isinstance(value, cls):
        raise ValueError(f"{name}: expected a {cls.__name__}, got {type(value).__name__}")
    return value


def generator(rng, name: str = "rng") -> np.random.Generator:
    """``rng`` itself, if it is a ``numpy.random.Generator`` (randomness is always an argument)."""
    return instance(rng, np.random.Generator, name)


def input_matrix(X, name: str = "X", *, dims: int | None = None) -> np.ndarray:
    """Validate inputs (GP, regression features) as a float64 array of shape ``(N, D)``.

    Parameters
    ----------
    X : array_like, shape (N, D) or (N,)
        A 1-D array is taken as N points in one dimension and returned as shape ``(N, 1)``.
    name : str
        Argument name for error messages.
    dims : int, optional
        Required number of columns D.

    Returns
    -------
    numpy.ndarray, shape (N, D)

    Raises
    ------
    ValueError
        Naming ``name``: not numeric, more than 2-D, empty, non-finite values, or not ``dims`` columns.
    """
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: expected an array of numbers ({err})") from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected shape (N, D) or (N,), got {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: is empty (shape {arr.shape})")
    bad = ~np.isfinite(arr)
    if bad.any():
        row = int(np.flatnonzero(bad.any(axis=1))[0])
        raise ValueError(f"{name}: holds {int(bad.sum())} non-finite value(s) (NaN or inf), first in row {row}")
    if dims is not None and arr.shape[1] != dims:
        raise ValueError(f"{name}: expected {dims} column(s), got {arr.shape[1]}")
    return arr
