"""bayes_zoo.inference.threads: the one BLAS thread policy, held and restored as promised."""

from __future__ import annotations

import importlib
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from bayes_zoo.inference import threads


def _blas_threads() -> set[int]:
    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


@pytest.fixture
def two_threads():
    """BLAS at two threads outside the hold, so that a hold to one is visible (and restored afterwards)."""
    with threadpool_limits(limits=2, user_api="blas"):
        yield


def test_inside_the_hold_blas_runs_on_the_policys_threads_and_afterwards_as_before(two_threads):
    before = _blas_threads()
    with threads.blas_held():
        assert _blas_threads() == {threads.BLAS_THREADS}
    assert _blas_threads() == before


def test_nested_holds_restore_only_when_the_outermost_leaves(two_threads):
    before = _blas_threads()
    with threads.blas_held():
        with threads.blas_held():
            pass
        assert _blas_threads() == {1}  # the inner one left; the outer still holds
    assert _blas_threads() == before


def test_concurrent_holders_leave_the_limits_as_the_first_found_them(two_threads):
    before = _blas_threads()
    barrier = threading.Barrier(4)

    def work():
        with threads.blas_held():
            barrier.wait()
            np.linalg.cholesky(np.eye(50) * 2.0)
            barrier.wait()

    workers = [threading.Thread(target=work) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert _blas_threads() == before


def test_an_inactive_hold_changes_nothing(two_threads):
    before = _blas_threads()
    with threads.blas_held(False):
        assert _blas_threads() == before


def test_holds_blas_wraps_a_function_and_keeps_its_name(two_threads):
    @threads.holds_blas
    def seen():
        """Doc."""
        return _blas_threads()

    assert seen() == {1} and seen.__name__ == "seen" and seen.__doc__ == "Doc."


def test_the_environment_sets_the_policy_and_a_bad_value_is_named(monkeypatch, two_threads):
    try:
        monkeypatch.setenv("BAYES_ZOO_BLAS_THREADS", "0")
        off = importlib.reload(threads)
        before = _blas_threads()
        with off.blas_held():
            assert _blas_threads() == before  # 0: no limit set
        monkeypatch.setenv("BAYES_ZOO_BLAS_THREADS", "two")
        bad = importlib.reload(threads)  # importing never raises: the CLI reports it as a usage error
        for call in (bad.check_policy, bad.blas_held):
            with pytest.raises(ValueError, match="^BAYES_ZOO_BLAS_THREADS: expected an integer >= 0, got 'two'"):
                call()
    finally:
        monkeypatch.delenv("BAYES_ZOO_BLAS_THREADS")
        importlib.reload(threads)
