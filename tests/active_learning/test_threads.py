"""ACS-FW's selection, the learners and the labelling loop hold BLAS to the project's one thread policy
(issues 15 and 16: a selection of b = 100 from 45,710 points took 0.56-0.77 s of CPU but 2.4-6.1 s of
wall-clock time with OpenBLAS's default threads, because only the loop held BLAS).

Each test runs under a BLAS limit of two threads (what OpenBLAS takes on the two-core machine anyway) and
records, from inside the work, how many threads every BLAS library had.
"""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from bayes_zoo.active_learning import frank_wolfe, learners, loop, probit
from bayes_zoo.active_learning.gram import ProjectionGram
from bayes_zoo.active_learning.learners import LinearRegressionLearner
from bayes_zoo.active_learning.strategies import select_batch
from bayes_zoo.inference import threads

pytestmark = pytest.mark.skipif(threads.BLAS_THREADS != 1, reason="BAYES_ZOO_BLAS_THREADS overrides the policy")
HELD = {threads.BLAS_THREADS}


def _blas_threads() -> set[int]:
    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

def _under_two_threads(call):
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        result = call()
        assert _blas_threads() == before  # the hold restored what it found
    return result


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(3)
    X_lab, X_pool = rng.standard_normal((20, 3)), rng.standard_normal((300, 3))
    y_lab = X_lab @ np.array([1.0, -0.5, 0.2]) + 0.1 * rng.standard_normal(20)
    learner = LinearRegressionLearner()
    return learner, learner.fit(X_lab, y_lab, X_pool, np.random.default_rng(0)), X_pool


@pytest.mark.parametrize("projections", [0, 10])
def test_an_acs_fw_selection_runs_its_frank_wolfe_steps_on_one_blas_thread(record_blas_threads, regression,
                                                                          projections):
    learner, fit, X_pool = regression
    seen = record_blas_threads(frank_wolfe, "step")
    chosen = _under_two_threads(lambda: select_batch("acs-fw", learner, fit, X_pool, 5, rng=np.random.default_rng(1),
                                                     projections=projections))
    assert chosen.size == 5 and seen and all(s == HELD for s in seen), seen


def test_frank_wolfe_select_called_alone_holds_blas(record_blas_threads):
    G = np.random.default_rng(2).standard_normal((200, 8))
    seen = record_blas_threads(frank_wolfe, "step")
    _under_two_threads(lambda: frank_wolfe.select(ProjectionGram(G), 5))
    assert seen and all(s == HELD for s in seen), seen


@pytest.mark.parametrize("projections, inside", [(0, "LinearFisherGram"), (10, "gaussian_projections")])
def test_the_linear_learners_gram_holds_blas(record_blas_threads, regression, projections, inside):
    learner, fit, X_pool = regression
    seen = record_blas_threads(learners, inside)
    _under_two_threads(lambda: learner.gram(fit, X_pool, projections=projections, rng=np.random.default_rng(1)))
    assert seen == [HELD]


def test_the_probit_learners_gram_holds_blas(record_blas_threads):
    rng = np.random.default_rng(4)
    X_lab, X_pool = rng.standard_normal((30, 2)), rng.standard_normal((100, 2))
    y_lab = (X_lab[:, 0] + 0.3 * rng.standard_normal(30) > 0).astype(int)
    learner = probit.ProbitLearner()
    fit = learner.fit(X_lab, y_lab, X_pool, np.random.default_rng(0))
    seen = record_blas_threads(probit, "bernoulli_projections")
    _under_two_threads(lambda: learner.gram(fit, X_pool, projections=10, rng=np.random.default_rng(1)))
    assert seen == [HELD]


class _RecordingLearner:
    """A learner whose own methods hold nothing: what it sees is the loop's hold."""

    def __init__(self):
        self.seen: list[set[int]] = []

    def fit(self, X_labelled, y_labelled, X_pool, rng):
        self.seen.append(_blas_threads())
        return float(np.mean(y_labelled))

    def metrics(self, fit, X_test, y_test):
        self.seen.append(_blas_threads())
        return {"rmse": float(np.sqrt(np.mean((y_test - fit) ** 2))), "test_loglik": 0.0}


def test_the_labelling_loop_holds_blas_for_a_learner_that_does_not(monkeypatch):
    X = np.random.default_rng(5).standard_normal((60, 2))
    y = X[:, 0] + 0.1
    learner = _RecordingLearner()
    rows = _under_two_threads(lambda: loop.run_repeat(learner, X, y, ["random"],
                                                      loop.LoopSettings(batch_size=5, budget=10, init=5), seed=0))
    assert len(rows) == 3 and learner.seen and all(s == HELD for s in learner.seen), learner.seen
