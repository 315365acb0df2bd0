"""Configure PyTensor's BLAS and quiet three third-party warnings: one explicit, cached call.

Why this module exists
----------------------
PyTensor installed by pip cannot find a BLAS on its own and prints a long ``UserWarning``
("PyTensor could not link to a BLAS installation ...") on first use.  Where Debian's
``libopenblas-dev`` (or any ``libblas.so`` + ``liblapack.so`` pair the linker can see) is present,
:func:`configure` points PyTensor at it with ``blas__ldflags=-lblas -llapack``; GP models then run about 30%
faster.  Where it is absent PyTensor keeps its NumPy fallback, that one warning is silenced, and
:func:`blas_status` says so in one line (the CLI and the reports print it), so the warning never drowns what
a user reads.

A user's own ``PYTENSOR_FLAGS`` containing ``blas__ldflags`` is never touched, and
``BAYES_ZOO_SYSTEM_BLAS=0`` turns the detection off (PyTensor's fallback, warning silenced).

ArviZ 0.23 prints a ``FutureWarning`` about its coming 1.0 refactor on import, and a NumPy
``DeprecationWarning`` from its ``mcse(method="sd")`` and a matplotlib one from its plots; none says
anything about this project's results, and :func:`configure` filters all three by their exact message.

Importing this module (or any of ``bayes_zoo``) changes nothing in the process: no subprocess, no
environment variable, no warning filter.  All of that happens in :func:`configure`, which the CLI, the
notebooks, the benchmarks and SBC's worker processes call first, and a user may call (``bayes_zoo.configure()``)
before importing PyMC.  It runs once per process; later calls return the same line.  If PyTensor was
already imported, the environment can no longer change it, and the status says so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings

__all__ = ["configure", "blas_status", "system_blas_available"]

_BLAS_FLAGS = "blas__ldflags=-lblas -llapack"
_status: str | None = None


def system_blas_available() -> bool:
    """Whether the linker can find unversioned ``libblas.so`` and ``liblapack.so`` (``-lblas -llapack``).

    Reads ``ldconfig -p``; returns False where ``ldconfig`` is missing or fails.
    """
    ldconfig = shutil.which("ldconfig") or ("/sbin/ldconfig" if os.path.exists("/sbin/ldconfig") else None)
    if ldconfig is None:
        return False
    try:
        listing = subprocess.run([ldconfig, "-p"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    names = {line.split()[0] for line in listing.splitlines()[1:] if line.strip()}
    return {"libblas.so", "liblapack.so"} <= names


def configure() -> str:
    """Set ``PYTENSOR_FLAGS`` for the system BLAS if available; filter the noisy third-party warnings.

    Call it before PyMC or PyTensor is imported.  The first call does the work (runs ``ldconfig -p``, may
    append to ``os.environ["PYTENSOR_FLAGS"]``, adds three ``warnings`` filters); every later call returns the
    cached line and changes nothing.

    Returns
    -------
    str
        One line, ``"PyTensor BLAS: ..."``, saying which BLAS PyTensor will use (also :func:`blas_status`).
    """
    global _status
    if _status is not None:
        return _status
    warnings.filterwarnings("ignore", message=r"\s*ArviZ is undergoing a major refactor", category=FutureWarning)
    # arviz 0.23's mcse(method="sd") calls float() on a 1-element array when numba is present (NumPy
    # deprecates that, and 2.4 makes it an error: pyproject.toml keeps NumPy below 2.4).
    warnings.filterwarnings(
        "ignore", message="Conversion of an array with ndim > 0 to a scalar", category=DeprecationWarning,
        module="arviz",
    )
    # arviz 0.23's plotting calls a helper that matplotlib 3.11 deprecates.
    warnings.filterwarnings("ignore", message="Passing a dict or None as alias_mapping", category=DeprecationWarning)
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    if "blas__ldflags" in flags:
        _status = "PyTensor BLAS: as set in PYTENSOR_FLAGS by the user"
    elif "pytensor" in sys.modules:
        _status = "PyTensor BLAS: unchanged (PyTensor was imported before bayes-zoo could configure it)"
    elif os.environ.get("BAYES_ZOO_SYSTEM_BLAS", "1") != "0" and system_blas_available():
        os.environ["PYTENSOR_FLAGS"] = f"{flags},{_BLAS_FLAGS}" if flags else _BLAS_FLAGS
        _status = "PyTensor BLAS: system BLAS/LAPACK (-lblas -llapack)"
    else:
        _status = (
            "PyTensor BLAS: none found, using NumPy's fallback "
            "(install Debian's libopenblas-dev, e.g. `make blas`, for ~30% faster GP models)"
        )
    if "system BLAS" not in _status:
        warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS", category=UserWarning)
    return _status


def blas_status() -> str:
    """The one-line BLAS status decided by :func:`configure` (calling it first if nobody has)."""
    return configure()
