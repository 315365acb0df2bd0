"""The one BLAS thread policy: how many threads BLAS may use while the zoo's own numerical code runs.

Why one policy
--------------
The handwritten engines (MAP-EM and EMVS, the SSVS Gibbs sampler, the exact GP, FITC, ACS-FW's Gram products and
Frank–Wolfe) make many BLAS calls on small or N x M matrices.  Threaded BLAS does not speed those up on a
2-core machine; it slows them: OpenBLAS's idle workers spin for a while after every threaded call (by
default about 2^28 cycles), taking a core from whatever runs next, and threads beyond the CPUs the process
may use (``taskset``) made FITC 15x slower.  MAP-EM on diabetes was measured 11-25x slower with default
threads than with one (the SSVS Gibbs sampler 1.5x, one ACS-FW batch from 45,710 points 1.6-2.5x; EMVS the same
either way).  Every engine therefore holds BLAS to :data:`BLAS_THREADS` threads through :func:`blas_held`,
which is the only place that sets the limit.

The limit is process-wide (threadpoolctl changes the BLAS library's own setting), so calls from several
threads share one hold: the first to enter sets it, the last to leave restores what the first found (a
``threadpool_limits`` per call would restore them out of order and could leave BLAS limited for good).
Other threads' BLAS calls run at the held limit meanwhile.  Nested holds cost one lock and a counter.

``BAYES_ZOO_BLAS_THREADS`` (an integer >= 1) overrides :data:`BLAS_THREADS`; ``0`` turns the policy off
(BLAS keeps whatever limit the process has).
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading

__all__ = ["BLAS_THREADS", "blas_held", "holds_blas", "check_policy"]


def _policy() -> int:
    raw = os.environ.get("BAYES_ZOO_BLAS_THREADS", "1")
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"BAYES_ZOO_BLAS_THREADS: expected an integer >= 0, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"BAYES_ZOO_BLAS_THREADS: expected an integer >= 0, got {raw!r}")
    return value


try:
    #: Threads BLAS may use inside the zoo's engines: 1, measured fastest on 2 cores for every engine
    #: (``benchmarks/``); 0 means no limit is set; None when ``BAYES_ZOO_BLAS_THREADS`` is not a count (then
    #: :func:`check_policy` and every hold raise, naming it: importing never does).
    BLAS_THREADS: int | None = _policy()
    _POLICY_ERROR: str | None = None
except ValueError as _error:
    BLAS_THREADS, _POLICY_ERROR = None, str(_error)


def check_policy() -> int:
    """:data:`BLAS_THREADS`, or ``ValueError`` naming ``BAYES_ZOO_BLAS_THREADS`` when it is not an integer >= 0
    (the CLI calls it before any work: a usage error)."""
    if _POLICY_ERROR is not None:
        raise ValueError(_POLICY_ERROR)
    return BLAS_THREADS


class _Hold:
    """Reference-counted, process-wide BLAS thread limit (see the module docstring)."""

    def __init__(self):
        self._controller = None  # the BLAS libraries, found on first use
        self._lock = threading.Lock()
        self._holders = 0
        self._limiter = None

    @contextlib.contextmanager
    def __call__(self, threads: int):
        with self._lock:
            if self._holders == 0:
                if self._controller is None:
                    from threadpoolctl import ThreadpoolController  # imported on use: it sets OpenMP variables

                    self._controller = ThreadpoolController()
                self._limiter = self._controller.limit(limits=threads, user_api="blas")
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0:
                    self._limiter.restore_original_limits()
                    self._limiter = None


_HOLD = _Hold()


def blas_held(active: bool = True):
    """A context in which every BLAS library runs on :data:`BLAS_THREADS` threads (process-wide).

    Parameters
    ----------
    active : bool, default True
        False gives a no-op context: for callers whose work is too small for the limit's few microseconds of
        setting and restoring to pay (FITC below ``BLOCK_ROWS`` inputs).

    Returns
    -------
    contextlib.AbstractContextManager
        Enter it around the engine's work; on leaving, the last holder restores the limits the first found.

    Raises
    ------
    ValueError
        If ``BAYES_ZOO_BLAS_THREADS`` is not an integer >= 0 (:func:`check_policy`).
    """
    check_policy()
    if not active or BLAS_THREADS == 0:
        return contextlib.nullcontext()
    return _HOLD(BLAS_THREADS)


def holds_blas(function):
    """Decorator: run ``function`` inside :func:`blas_held` (the public entry points of the engines)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with blas_held():
            return function(*args, **kwargs)

    return wrapper
