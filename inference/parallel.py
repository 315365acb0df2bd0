"""One way to run independent tasks in parallel: joblib's local processes, or a Dask cluster through joblib's
Dask backend.

:func:`map_tasks` serves simulation-based calibration (:func:`bayes_zoo.inference.sbc.run_sbc`) and the active-
learning protocol (:mod:`bayes_zoo.protocol`).  Results come back in task order whatever the backend, so a run's
results depend only on its tasks' own seeds, never on the number of workers or the order in which tasks finish.
A task in a worker process first configures PyTensor as the parent did (:func:`bayes_zoo.models.backend.configure`:
a fresh process has no warning filters, and may not have the flags).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from bayes_zoo.models.checks import positive_int

__all__ = ["map_tasks"]


def map_tasks(function: Callable[..., Any], tasks: Iterable[tuple], *, jobs: int = 1, scheduler=None,
              progress: Callable[[Any], None] | None = None) -> list:
    """``[function(*args) for args in tasks]``, in parallel.

    Parameters
    ----------
    function : callable
        A module-level function (it is pickled to the workers).
    tasks : iterable of tuple
        The positional arguments of each call.
    jobs : int >= 1, default 1
        Local worker processes (joblib's loky backend; 1 runs in this process).  Ignored with ``scheduler``.
    scheduler : str or distributed.Client, optional
        A Dask scheduler address (``tcp://host:8786``) or a client: the tasks run on that cluster (needs the
        ``dask`` extra: ``pip install 'bayes-zoo[dask]'``).  A client made here from an address is closed on
        return.
    progress : callable, optional
        Called with each result as it arrives, in task order.

    Returns
    -------
    list
        The results, in task order.

    Raises
    ------
    ValueError
        Naming ``jobs``; ``scheduler`` when Dask's distributed package is missing.
    OSError
        From ``distributed`` when the scheduler cannot be reached.
    """
    from joblib import Parallel, delayed, parallel_config

    jobs = positive_int(jobs, "jobs")
    in_workers = scheduler is not None or jobs > 1
    calls = (delayed(_in_worker)(function, args) if in_workers else delayed(function)(*args) for args in tasks)
    results = []

    def collect(parallel):
        for result in parallel(calls):
            results.append(result)
            if progress:
                progress(result)

    if scheduler is None:
        collect(Parallel(n_jobs=jobs, return_as="generator"))
        return results
    try:
        from distributed import Client
    except ImportError:
        raise ValueError("scheduler: Dask's distributed package is not installed; "
                         "pip install 'bayes-zoo[dask]'") from None
    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        with parallel_config(backend="dask", client=client):  # this client, not Dask's default one
            collect(Parallel(return_as="generator"))
    finally:
        if client is not scheduler:
            client.close()
    return results


def _in_worker(function: Callable[..., Any], args: tuple) -> Any:
    from bayes_zoo.models.backend import configure

    configure()
    return function(*args)
