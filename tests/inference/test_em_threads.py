"""The spike-and-slab engines hold BLAS to the project's one thread policy (issue 15, item 3).

Each test runs an engine under a BLAS limit of two threads (what OpenBLAS takes on the two-core machine
anyway) and records, from inside the engine's own loop, how many threads every BLAS library had: the
engine's hold (:func:`bayes_zoo.inference.threads.blas_held`) must have lowered them to
:data:`~bayes_zoo.inference.threads.BLAS_THREADS`, and the limits must be as found afterwards.
"""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from bayes_zoo.inference import threads
from bayes_zoo.inference.em import spike_slab as em
from bayes_zoo.inference.gibbs import spike_slab as gibbs
from bayes_zoo.models import spike_slab as ss
from bayes_zoo.models.datasets import load_diabetes

pytestmark = pytest.mark.skipif(threads.BLAS_THREADS != 1, reason="BAYES_ZOO_BLAS_THREADS overrides the policy")


def _blas_threads() -> set[int]:
    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

@pytest.fixture(scope="module")
def diabetes():
    d = load_diabetes()
    X, y, _ = ss.standardise(d.arrays["X"], d.arrays["y"])
    return X, y


def _under_two_threads(call):
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        result = call()
        assert _blas_threads() == before  # the engine's hold restored what it found
    return result


@pytest.mark.parametrize("fit, step", [(em.fit_map_em, "map_em_step"), (em.fit_emvs, "emvs_step"),
                                       (lambda *a, **k: em.fit(*a, algorithm="map-em", **k), "map_em_step")],
                         ids=["fit_map_em", "fit_emvs", "fit"])
def test_the_em_fitters_run_their_steps_on_one_blas_thread(record_blas_threads, diabetes, fit, step):
    seen = record_blas_threads(em, step)
    result = _under_two_threads(lambda: fit(*diabetes, ss.DEFAULT_PRIOR))
    assert result.converged and seen
    assert all(s == {threads.BLAS_THREADS} for s in seen), seen


def test_multistart_and_the_enumeration_hold_blas(record_blas_threads, diabetes):
    seen = record_blas_threads(em, "map_em_posterior")
    _under_two_threads(lambda: em.multistart(*diabetes, ss.DEFAULT_PRIOR, random_starts=1, algorithms=("map-em",)))
    _under_two_threads(lambda: em.map_em_enumerate(diabetes[0][:, :4], diabetes[1], ss.DEFAULT_PRIOR))
    assert seen and all(s == {threads.BLAS_THREADS} for s in seen), seen


def test_the_gibbs_sampler_runs_its_sweeps_on_one_blas_thread(record_blas_threads, diabetes):
    seen = record_blas_threads(gibbs, "_run_block")
    _under_two_threads(lambda: gibbs.sample(*diabetes, draws=20, chains=2, warmup=5, seed=1))
    assert seen and all(s == {threads.BLAS_THREADS} for s in seen), seen


@pytest.mark.parametrize("block", [7, 1024])
def test_the_gibbs_lp_summed_in_blocks_is_the_marginalised_log_joint(monkeypatch, diabetes, block):
    """lp's likelihood is summed LL_BLOCK draws at a time (no (chains, draws, N) array): it must equal
    log_joint_marginalised at every draw, blocks cut short included."""
    monkeypatch.setattr(gibbs, "LL_BLOCK", block)
    idata = gibbs.sample(*diabetes, draws=60, chains=3, warmup=5, seed=4, log_likelihood=False,
                         posterior_predictive=False)
    post = idata.posterior
    expected = ss.log_joint_marginalised(post["w"].values, post["theta"].values, post["sigma2"].values, *diabetes)
    assert idata.sample_stats["lp"].shape == (3, 60)
    np.testing.assert_allclose(idata.sample_stats["lp"].values, expected, rtol=1e-12)
