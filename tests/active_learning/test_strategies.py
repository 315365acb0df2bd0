"""bayes_zoo.active_learning.strategies: top-b, strategy names, random batches, and the point of ACS-FW — on a pool with a
tight cluster of near-duplicates, top-b on predictive entropy takes the whole cluster while ACS-FW spreads out."""

from __future__ import annotations

import numpy as np
import pytest

from bayes_zoo.active_learning.learners import LinearRegressionLearner
from bayes_zoo.active_learning.strategies import STRATEGIES, check_strategies, select_batch, top_b
from bayes_zoo.models.linear import LinearPrior

N_SPREAD, N_CLUSTER, BATCH = 60, 10, 10
CLUSTER_SEEDS = range(10)


def _cluster_pool(seed):
    """15 labelled points near the origin (y linear in x plus noise); a pool of 60 points spread over [-3, 3]^2
    followed by 10 near-duplicates at (6, 6) (sd 0.05), far from the labelled data: the largest predictive
    variance of a linear model is there."""
    rng = np.random.default_rng(seed)
    X_lab = rng.normal(0.0, 1.0, (15, 2))
    y_lab = X_lab @ np.array([1.5, -0.7]) + 0.3 * rng.standard_normal(15)
    spread = rng.uniform(-3.0, 3.0, (N_SPREAD, 2))
    cluster = np.array([6.0, 6.0]) + 0.05 * rng.standard_normal((N_CLUSTER, 2))
    return X_lab, y_lab, np.vstack([spread, cluster])


def _fitted(seed, prior=None):
    learner = LinearRegressionLearner(prior=prior or LinearPrior(), features="linear")
    X_lab, y_lab, X_pool = _cluster_pool(seed)
    return learner, learner.fit(X_lab, y_lab, X_pool, np.random.default_rng(0)), X_pool


def _from_cluster(indices):
    return int(np.sum(np.asarray(indices) >= N_SPREAD))


# --------------------------------------------------------------------------------------------------- top_b


def test_top_b_returns_the_largest_scores_largest_first():
    np.testing.assert_array_equal(top_b([0.1, 0.5, -2.0, 0.3, 0.4], 3), [1, 4, 3])


def test_top_b_breaks_ties_by_lower_index_first():
    np.testing.assert_array_equal(top_b([1.0, 2.0, 2.0, 0.0, 2.0], 2), [1, 2])
    np.testing.assert_array_equal(top_b([0.0, 0.0, 0.0], 3), [0, 1, 2])


def test_top_b_rejects_nan_scores_naming_scores():
    with pytest.raises(ValueError, match="^scores:"):
        top_b([0.1, np.nan, 0.3], 1)


@pytest.mark.parametrize("b", [0, 4, 1.5])
def test_top_b_rejects_a_batch_size_outside_1_to_n(b):
    with pytest.raises(ValueError, match="^batch_size:"):
        top_b([0.1, 0.2, 0.3], b)


# -------------------------------------------------------------------------------------------------- names


def test_check_strategies_parses_a_comma_separated_string():
    assert check_strategies("acs-fw, random") == ("acs-fw", "random")


def test_check_strategies_removes_duplicates_keeping_order():
    assert check_strategies(["maxent", "random", "maxent"]) == ("maxent", "random")
    assert set(check_strategies(",".join(STRATEGIES))) == set(STRATEGIES)


@pytest.mark.parametrize("names", ["acs-fw, foo", "", " , ", ["ACS-FW"], []])
def test_check_strategies_rejects_unknown_or_no_names(names):
    with pytest.raises(ValueError, match="^strategies:"):
        check_strategies(names)


def test_select_batch_rejects_an_unknown_strategy_naming_strategies():
    learner, fit, X_pool = _fitted(0)
    with pytest.raises(ValueError, match="^strategies:"):
        select_batch("entropy", learner, fit, X_pool, 5, rng=np.random.default_rng(0))


# -------------------------------------------------------------------------------------------------- random


def test_random_batch_is_distinct_and_reproducible_by_seed():
    learner, fit, X_pool = _fitted(0)
    a = select_batch("random", learner, fit, X_pool, BATCH, rng=np.random.default_rng(5))
    b = select_batch("random", learner, fit, X_pool, BATCH, rng=np.random.default_rng(5))
    c = select_batch("random", learner, fit, X_pool, BATCH, rng=np.random.default_rng(6))
    assert a.size == np.unique(a).size == BATCH
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_gives_distinct_indices_into_the_pool(strategy):
    learner, fit, X_pool = _fitted(0)
    idx = select_batch(strategy, learner, fit, X_pool, BATCH, rng=np.random.default_rng(1))
    assert idx.size == np.unique(idx).size == BATCH
    assert np.all((idx >= 0) & (idx < len(X_pool)))


# ----------------------------------------------------------------------------------- the cluster of duplicates


def test_maxent_takes_almost_all_of_a_batch_from_the_near_duplicate_cluster():
    """Measured on seeds 0-9 (and 0-49): all 10 of 10 from the cluster, every seed."""
    counts = []
    for seed in CLUSTER_SEEDS:
        learner, fit, X_pool = _fitted(seed)
        counts.append(_from_cluster(select_batch("maxent", learner, fit, X_pool, BATCH,
                                                 rng=np.random.default_rng(1))))
    print("maxent, from the cluster:", counts)
    assert min(counts) >= 9


def test_acs_fw_takes_at_most_a_few_points_from_the_near_duplicate_cluster():
    """Frank-Wolfe alone (no top-up).  Measured on seeds 0-9: 1, 3, 3, 2, 1, 1, 2, 3, 1, 2 of batches of 5-9
    distinct points (on seeds 0-49: at most 3, mean 2.1)."""
    counts = []
    for seed in CLUSTER_SEEDS:
        learner, fit, X_pool = _fitted(seed)
        counts.append(_from_cluster(select_batch("acs-fw", learner, fit, X_pool, BATCH,
                                                 rng=np.random.default_rng(1), top_up=False)))
    print("acs-fw, from the cluster:", counts)
    assert max(counts) <= 4


def test_acs_fw_topped_up_batch_still_comes_mostly_from_outside_the_cluster():
    """The default (top-up to exactly b).  Measured on seeds 0-9: 5, 5, 3, 2, 4, 1, 2, 3, 1, 4 of 10, mean 3.0
    (on seeds 0-49: at most 6, mean 2.6); bounded at mean <= 4.5 and at most 7 in any batch."""
    counts = []
    for seed in CLUSTER_SEEDS:
        learner, fit, X_pool = _fitted(seed)
        counts.append(_from_cluster(select_batch("acs-fw", learner, fit, X_pool, BATCH,
                                                 rng=np.random.default_rng(1))))
    print("acs-fw topped up, from the cluster:", counts)
    assert np.mean(counts) <= 4.5 and max(counts) <= 7


@pytest.mark.parametrize("prior", [LinearPrior(), LinearPrior(noise_sd=0.3)], ids=["nig", "known-noise"])
def test_bald_and_maxent_rank_the_pool_identically_for_a_homoscedastic_model(prior):
    """BALD = H[y_n | D] - E_theta H[y_n | theta].  The noise of Bayesian linear regression does not depend on
    x, so H[y_n | w, sigma] = log(2 pi e sigma^2) / 2 is the same for every pool point and so is its posterior
    mean: BALD is the predictive entropy (MaxEnt's score) minus a constant, and the two rank the pool alike."""
    learner, fit, X_pool = _fitted(3, prior)
    entropy, bald = learner.predictive_entropy(fit, X_pool), learner.bald(fit, X_pool)
    assert np.ptp(entropy) > 0.1  # the scores do vary over the pool
    np.testing.assert_allclose(entropy - bald, (entropy - bald)[0], atol=1e-12)
    np.testing.assert_array_equal(np.argsort(-bald, kind="stable"), np.argsort(-entropy, kind="stable"))
    np.testing.assert_array_equal(
        select_batch("bald", learner, fit, X_pool, BATCH, rng=np.random.default_rng(0)),
        select_batch("maxent", learner, fit, X_pool, BATCH, rng=np.random.default_rng(0)))


# ----------------------------------------------------------------------------------- acs-fw:J, a variant in its name


def test_acs_fw_with_j_in_its_name_uses_j_projections_whatever_the_runs_projections():
    learner, fit, X_pool = _fitted(0)
    named = select_batch("acs-fw:7", learner, fit, X_pool, BATCH, rng=np.random.default_rng(1), projections=0)
    given = select_batch("acs-fw", learner, fit, X_pool, BATCH, rng=np.random.default_rng(1), projections=7)
    closed = select_batch("acs-fw:0", learner, fit, X_pool, BATCH, rng=np.random.default_rng(1), projections=7)
    np.testing.assert_array_equal(named, given)
    np.testing.assert_array_equal(closed, select_batch("acs-fw", learner, fit, X_pool, BATCH,
                                                       rng=np.random.default_rng(1), projections=0))


@pytest.mark.parametrize("name", ["acs-fw:", "acs-fw:-1", "acs-fw:x", "random:3", "acsfw:3"])
def test_a_malformed_variant_is_refused_naming_strategies(name):
    with pytest.raises(ValueError, match="^strategies:"):
        check_strategies([name])


def test_reports_label_the_variants_by_their_inner_products():
    from bayes_zoo.active_learning.strategies import strategy_label

    assert [strategy_label(s) for s in ("acs-fw", "acs-fw:0", "acs-fw:10", "bald")] == [
        "ACS-FW", "ACS-FW (closed form)", "ACS-FW (J = 10)", "bald"]
