"""Argument checks shared by every public entry point.

Each check returns the cleaned value or raises ``ValueError`` whose message starts with the argument's name,
so a user sees at once which argument was wrong and why.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where it is used: the CLI's option checks must not import it
    import numpy as np

__all__ = [
    "finite_vector", "finite_scalar", "positive_scalar", "positive_int", "nonnegative_int", "probability",
    "instance", "generator", "input_matrix", "SEED_LIMIT", "seed", "available_memory", "fits_in_memory",
]

#: Seeds are integers ``0 <= seed < SEED_LIMIT``: a signed 64-bit integer, which every place a seed is stored
#: (netCDF attributes, CSV and pandas int64 columns) holds losslessly.  NumPy's ``SeedSequence`` and PyMC take
#: larger integers, but ``2**64`` already fails when the first result is written to netCDF.
SEED_LIMIT = 2**63


def finite_vector(value, name: str) -> np.ndarray:
    """A non-empty 1-D float64 array with only finite values.

    Raises
    ------
    ValueError
        If ``value`` is not 1-D (a 2-D array where 1-D belongs included), is empty, or holds NaN or inf.
    """
    import numpy as np

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
    import numpy as np

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
    import numpy as np

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
    import numpy as np

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


def seed(value, name: str = "seed") -> int:
    """A seed: an integer with ``0 <= value < SEED_LIMIT`` (2**63, what netCDF attributes and int64 columns
    hold losslessly; bools refused).

    Raises
    ------
    ValueError
        Starting with ``name``: not an integer, or outside ``[0, 2**63)``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}: expected an integer seed, 0 <= seed < 2**63, got {value!r}")
    if not 0 <= value < SEED_LIMIT:
        raise ValueError(f"{name}: must satisfy 0 <= seed < 2**63 (a signed 64-bit integer, stored losslessly "
                         f"with the results), got {value}")
    return int(value)


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_available() -> int | None:
    """Room left under this process's cgroup memory limit (v2 ``memory.max``, v1 ``memory.limit_in_bytes``)."""
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_file, encoding="ascii") as f:
                limit = f.read().strip()
            with open(usage_file, encoding="ascii") as f:
                usage = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 2**60:  # "max" or v1's huge number: no limit
            return max(int(limit) - usage, 0)
    return None


def available_memory() -> int | None:
    """Bytes of memory a new allocation can get without swapping: ``MemAvailable`` of ``/proc/meminfo`` (else
    ``os.sysconf``'s available pages), lowered to the room left under a cgroup memory limit; None if unknown."""
    import os

    found = [_meminfo_available(), _cgroup_available()]
    if found[0] is None:
        try:
            found[0] = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            pass
    known = [b for b in found if b is not None]
    return min(known) if known else None


def fits_in_memory(nbytes: float, name: str, what: str, *, available: int | None = None) -> None:
    """Refuse, before any work, a run whose arrays cannot fit in the memory this machine has available.

    Parameters
    ----------
    nbytes : float
        The bytes the run would allocate (an estimate: its largest arrays).
    name : str
        The argument to blame, e.g. ``"--draws"``.
    what : str
        How ``nbytes`` arises, e.g. ``"1,000,000,000 draws x 4 chains"``.
    available : int, optional
        Bytes available; by default :func:`available_memory` (nothing is refused when it is unknown).

    Raises
    ------
    ValueError
        ``"NAME: WHAT would need about X GiB; this machine has Y GiB available"``.
    """
    available = available_memory() if available is None else available
    if available is not None and nbytes > available:
        raise ValueError(f"{name}: {what} would need about {_gib(nbytes)} GiB; this machine has "
                         f"{_gib(available)} GiB available")


def _gib(nbytes: float) -> str:
    gib = nbytes / 2**30
    return f"{gib:,.0f}" if gib >= 100 else f"{gib:.3g}"
