"""bayes_zoo.active_learning.loop: the split, the rounds and their bookkeeping, learning curves and the final table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayes_zoo.active_learning import loop
from bayes_zoo.active_learning.learners import LinearRegressionLearner


def _data(n=80, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2.0, 2.0, size=(n, 2))
    return X, np.sin(2.0 * X[:, 0]) + X[:, 1] + 0.2 * rng.standard_normal(n)


SETTINGS = loop.LoopSettings(batch_size=5, budget=12, init=6, test_fraction=0.25)


@pytest.fixture(scope="module")
def rounds():
    X, y = _data()
    return loop.run(lambda s: LinearRegressionLearner(features="linear"), X, y, ["acs-fw", "random", "maxent"],
                    SETTINGS, repeats=2, seed=3)


def test_split_is_a_partition_with_init_labelled_points():
    labelled, pool, test = loop.split(80, SETTINGS, np.random.default_rng(0))
    assert labelled.size == 6 and test.size == 20 and pool.size == 54
    assert np.unique(np.concatenate([labelled, pool, test])).size == 80


def test_each_strategy_acquires_exactly_the_budget_with_a_short_last_batch(rounds):
    last = rounds.groupby(["strategy", "seed"])["n_labelled"].max()
    assert (last == 6 + 12).all()
    per_round = rounds[rounds["seed"] == 3].groupby("strategy")["batch"].apply(list)
    assert all(batches == [5, 5, 2, 0] for batches in per_round)


def test_strategies_of_a_repeat_share_the_split_and_initial_labels(rounds):
    first = rounds[rounds["round"] == 0]
    assert first.groupby("seed")["rmse"].nunique().eq(1).all()  # same data, same fit, same test set


def test_repeats_use_different_splits(rounds):
    first = rounds[(rounds["round"] == 0) & (rounds["strategy"] == "random")]
    assert first["rmse"].nunique() == 2


def test_selection_and_fit_times_are_recorded(rounds):
    chosen = rounds[rounds["batch"] > 0]
    assert (chosen["select_seconds"] > 0).all() and (rounds["fit_seconds"] > 0).all()


def test_learning_curves_are_the_mean_and_standard_error_over_repeats():
    frame = pd.DataFrame({"strategy": ["a"] * 4, "seed": [0, 1, 0, 1], "round": [0, 0, 1, 1],
                          "n_labelled": [5, 5, 10, 10], "rmse": [1.0, 3.0, 2.0, 2.0]})
    curves = loop.learning_curves(frame, "rmse")
    np.testing.assert_allclose(curves["mean"], [2.0, 2.0])
    np.testing.assert_allclose(curves["se"], [np.sqrt(2.0) / np.sqrt(2.0), 0.0])


def test_final_table_reports_the_last_round_with_two_standard_errors(rounds):
    final = loop.final_table(rounds, "regression")
    assert list(final["strategy"]) == ["acs-fw", "random", "maxent"]
    last = rounds[(rounds["strategy"] == "random") & (rounds["round"] == rounds["round"].max())]["rmse"]
    row = final.set_index("strategy").loc["random"]
    assert row["rmse"] == pytest.approx(last.mean())
    assert row["rmse_2se"] == pytest.approx(2.0 * last.std(ddof=1) / np.sqrt(2))


def test_learning_curve_figure_has_a_panel_per_metric(rounds):
    import matplotlib.pyplot as plt

    fig = loop.plot_learning_curves(rounds, "regression", title="toy")
    assert len(fig.axes) == 2
    plt.close(fig)


def test_learning_curve_y_labels_fit_beside_their_panels_clear_of_the_title(rounds):
    # Caught: "test log-likelihood (nats per point) (higher is better)" on one line, taller than its panel, ran into
    # the suptitle and was clipped (notebook 05, active-learn yacht).
    import matplotlib.pyplot as plt

    fig = loop.plot_learning_curves(rounds, "regression", title="yacht: batches of 10, closed-form posterior")
    try:
        fig.draw_without_rendering()
        renderer = fig.canvas.get_renderer()
        title = fig._suptitle.get_window_extent(renderer)
        for ax in fig.axes:
            label = ax.yaxis.label.get_window_extent(renderer)
            assert "better" in ax.get_ylabel() and label.height <= ax.get_window_extent(renderer).height, ax.get_ylabel()
            assert not label.overlaps(title), ax.get_ylabel()
    finally:
        plt.close(fig)


@pytest.mark.parametrize("kwargs, name", [({"batch_size": 0}, "batch_size"), ({"init": 1}, "init"),
                                          ({"test_fraction": 1.0}, "test_fraction"), ({"projections": -1}, "projections")])
def test_bad_settings_raise_naming_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        loop.LoopSettings(**kwargs)


def test_init_that_leaves_no_pool_is_an_error_naming_init():
    with pytest.raises(ValueError, match="^init:"):
        loop.split(10, loop.LoopSettings(init=8), np.random.default_rng(0))


def test_on_grid_reads_each_run_as_a_step_function_of_its_labels():
    rounds = pd.DataFrame({"strategy": "acs-fw", "seed": 0, "round": [0, 1, 2], "n_labelled": [20, 27, 35],
                           "rmse": [3.0, 2.0, 1.0]})
    grid = loop.on_grid(rounds, "rmse", [10, 20, 30, 40])
    np.testing.assert_array_equal(grid["rmse"], [np.nan, 3.0, 2.0, 1.0])


def test_paired_differences_set_every_acs_fw_variant_against_every_baseline():
    rows = [{"strategy": s, "seed": seed, "round": 0, "rmse": v}
            for seed in range(4) for s, v in (("acs-fw:0", 1.0 + seed), ("acs-fw:10", 2.0 + seed),
                                                ("random", 1.5 + seed + 0.01 * seed**2))]
    table = loop.paired_differences(pd.DataFrame(rows), "regression")
    assert list(zip(table["strategy"], table["baseline"])) == [("acs-fw:0", "random"), ("acs-fw:10", "random")]
    assert list(table["verdict"]) == ["better", "worse"]  # lower RMSE is better
    np.testing.assert_allclose(table["difference"], [-0.5 - 0.035, 0.5 - 0.035])


class _RecordingLearner(LinearRegressionLearner):
    """Records the first number of the random stream each fit is given."""

    def fit(self, X_labelled, y_labelled, X_pool, rng):
        self.seen.append((len(y_labelled), float(rng.random())))
        return super().fit(X_labelled, y_labelled, X_pool, rng)


def test_every_strategy_fits_round_r_from_the_same_random_stream():
    # equal labels then give an equal fit (a network initialised alike): paired differences hold no fitting noise
    X, y = _data()
    learner = _RecordingLearner(features="linear")
    learner.seen = []
    loop.run_repeat(learner, X, y, ["random", "maxent"], SETTINGS, 5)
    rounds = len(learner.seen) // 2
    first, second = learner.seen[:rounds], learner.seen[rounds:]
    assert [u for _, u in first] == [u for _, u in second]
    assert len({u for _, u in first}) == rounds  # and a fresh stream every round
