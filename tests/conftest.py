"""Shared fixtures.  Expensive results (PyMC compilation and sampling) are built once per session."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import bayes_zoo  # noqa: E402
import pytest  # noqa: E402

from bayes_zoo.models.datasets import load_newcomb  # noqa: E402

bayes_zoo.configure()  # PyTensor's BLAS and the warning filters, before PyMC is imported


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", help="run the heavier validation tests (make validate)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="heavier validation: run with `make validate`")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def newcomb_x():
    """Newcomb's 66 measurements, shape (66,)."""
    return load_newcomb().arrays["x"]


@pytest.fixture(scope="session")
def newcomb_exact(newcomb_x):
    """Exact posterior of the default model on Newcomb's data."""
    from bayes_zoo.models.normal_gamma import exact_posterior

    return exact_posterior(newcomb_x)


@pytest.fixture(scope="session")
def newcomb_nuts(newcomb_x):
    """NUTS on Newcomb's data: 4 chains x 1000 draws, seed 11."""
    from bayes_zoo.inference.nuts import sample_nuts
    from bayes_zoo.models.normal_gamma import build_pymc_model

    return sample_nuts(build_pymc_model(newcomb_x), draws=1000, tune=1000, chains=4, seed=11)


@pytest.fixture
def plant_bug(monkeypatch):
    """``plant_bug(module, name, old, new)``: replace the function ``module.name`` by its own source with ``old``
    (which must occur exactly once) replaced by ``new`` — a planted one-line bug, undone after the test.  Other
    functions of ``module`` calling ``name`` by its global name call the mutant."""
    import inspect
    import textwrap

    def plant(module, name, old, new):
        source = textwrap.dedent(inspect.getsource(getattr(module, name)))
        assert source.count(old) == 1, f"{old!r} not once in {name}"
        namespace = dict(vars(module))
        exec(source.replace(old, new), namespace)
        monkeypatch.setattr(module, name, namespace[name])

    return plant


@pytest.fixture
def record_blas_threads(monkeypatch):
    """``record(module, name) -> list``: ``module.name`` replaced (for the test) by a wrapper that appends the
    thread counts of every BLAS library, as a set, at each call; the list fills as the code runs."""
    from threadpoolctl import threadpool_info

    def record(module, name: str) -> list[set[int]]:
        seen: list[set[int]] = []
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            seen.append({lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"})
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)
        return seen

    return record


@pytest.fixture(scope="session")
def dask_cluster():
    """A local Dask cluster of 2 worker processes, 1 thread each, started once per session and shared by the tests of
    SBC's Dask backend (its start and its workers' first imports cost seconds).  The repository root is on the path
    its workers start with (they unpickle problems defined in test modules, e.g. ``tests.inference.test_sbc``); this
    process's path is restored once they have started."""
    import logging
    from pathlib import Path

    from distributed import LocalCluster

    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(Path(__file__).resolve().parents[1]))
        local = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                             silence_logs=logging.ERROR)
    with local:
        yield local
