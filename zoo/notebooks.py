"""Execute the teaching notebooks: in place at full size (``make notebooks``), or a temporary copy at
``--quick`` size (the tests).

A notebook reads its size from the environment: ``BAYES_ZOO_QUICK=1`` asks for small settings.  Usage::

    python -m bayes_zoo.notebooks --in-place notebooks/*.ipynb       # full size, outputs saved in the notebooks
    python -m bayes_zoo.notebooks --quick notebooks/01_normal_gamma.ipynb   # quick, into a temporary copy
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

__all__ = ["execute_notebook", "main", "dashed", "seconds_per_call"]

QUICK_ENV = "BAYES_ZOO_QUICK"


def execute_notebook(path, *, quick: bool, in_place: bool = False, timeout: int = 600) -> Path:
    """Run every cell of the notebook at ``path`` with a fresh ``python3`` kernel.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.ipynb`` file.
    quick : bool
        Set ``BAYES_ZOO_QUICK=1`` for the kernel (small settings).
    in_place : bool
        Save the executed notebook over ``path``; otherwise into a temporary folder (``path`` untouched).
    timeout : int
        Seconds allowed per cell.

    Returns
    -------
    pathlib.Path
        Where the executed notebook was written.

    Raises
    ------
    ValueError
        If ``path`` is not an existing ``.ipynb`` file.
    nbclient.exceptions.CellExecutionError
        If a cell raises.
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    if path.suffix != ".ipynb" or not path.is_file():
        raise ValueError(f"path: {path} is not an existing .ipynb file")
    nb = nbformat.read(path, as_version=4)
    previous = os.environ.get(QUICK_ENV)
    os.environ[QUICK_ENV] = "1" if quick else "0"
    workdir = path.parent if in_place else Path(tempfile.mkdtemp(prefix="bayes-zoo-nb-"))
    # The kernel process's own stderr (jupyter's start-up chatter) goes to a log, shown only on failure;
    # cell outputs, errors included, come back through the notebook protocol as usual.
    log = tempfile.TemporaryFile(mode="w+")
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(workdir)}})
        client.execute(stderr=log)
    except Exception:
        log.seek(0)
        sys.stderr.write(log.read()[-4000:])
        raise
    finally:
        log.close()
        if previous is None:
            os.environ.pop(QUICK_ENV, None)
        else:
            os.environ[QUICK_ENV] = previous
    target = path if in_place else workdir / path.name
    nbformat.write(nb, target)
    return target


def dashed(df):
    """A table for display: floats to 4 significant digits, and a dash where an entry does not apply (NaN).

    Parameters
    ----------
    df : pandas.DataFrame

    Returns
    -------
    pandas.DataFrame
        The same index and columns, every float entry a string (``"0.01234"``, ``"—"``); other entries as they were.
    """
    import math

    return df.map(lambda v: "—" if isinstance(v, float) and math.isnan(v) else f"{v:.4g}" if isinstance(v, float) else v)


def seconds_per_call(fn, *, repeat: int = 3, target: float = 0.05) -> float:
    """Wall-clock seconds one call of ``fn()`` takes: the best of ``repeat`` timings of a batch of calls lasting at
    least ``target`` seconds (``timeit``), or one timing when a call takes more than 0.2 s.

    Parameters
    ----------
    fn : callable
        Called with no arguments; its result is discarded.
    repeat : int >= 1
        Timings of the batch; the fastest is kept (the others were slowed by other work on the machine).
    target : float > 0
        Seconds a batch should last: the number of calls per batch grows fourfold until it does.

    Returns
    -------
    float
        Seconds per call (a measurement, noisy on a shared machine).

    Raises
    ------
    ValueError
        If ``repeat`` < 1 or ``target`` <= 0.
    """
    import timeit

    if repeat < 1:
        raise ValueError(f"repeat: must be >= 1, got {repeat}")
    if not target > 0:
        raise ValueError(f"target: must be > 0, got {target}")
    number = 1
    while (elapsed := timeit.timeit(fn, number=number)) < target:
        number *= 4
    if elapsed > 0.2:
        return elapsed / number
    return min([elapsed] + timeit.repeat(fn, number=number, repeat=repeat - 1)) / number


def main(argv=None) -> int:
    """Command-line entry: ``python -m bayes_zoo.notebooks [--quick] [--in-place] NOTEBOOK...``."""
    parser = argparse.ArgumentParser(allow_abbrev=False,
        prog="python -m bayes_zoo.notebooks",
        description="Execute teaching notebooks: in place at full size, or at --quick size into a temporary copy.",
    )
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--quick", action="store_true", help="small settings (BAYES_ZOO_QUICK=1)")
    parser.add_argument("--in-place", action="store_true", help="save outputs into the notebooks themselves")
    args = parser.parse_args(argv)
    for nb in args.notebooks:
        out = execute_notebook(nb, quick=args.quick, in_place=args.in_place)
        print(f"executed {nb} -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
