"""The labelling loop, its per-round metrics, and learning curves with their standard errors.

Protocol (Pinsler et al. 2019, sec. 6, regression): per repeat, a random split of the data into a training
part and a test part (``test_fraction``, default 20%); ``init`` points of the training part are labelled at
random, the rest form the pool.  Each round the learner is fitted to the labelled points, scored on the test
set, and a strategy picks a batch of ``batch_size`` pool points whose labels the oracle (the data set) then
reveals; rounds go on until ``budget`` labels have been acquired beyond the initial ones (the last batch is
cut to what is left of the budget or of the pool).

Every strategy of a repeat sees the same split and the same initial labels (drawn from the repeat's seed
alone), and the learner's fit in round r gets the same random stream for every strategy (a network initialised
alike, the same NUTS seed; the strategies' own streams choose their batches), so differences between strategies
within a repeat are paired.  Repeat r uses seed ``seed + r``.
The time a strategy spends choosing each batch (scores, inner products, Frank–Wolfe) is recorded; fitting is
timed separately.

BLAS runs under the project's one thread policy inside the loop (:func:`bayes_zoo.inference.threads.blas_held`,
one thread): its matrices are small (P ~ 100) or N x P, and OpenBLAS's worker threads made each fit about 7x
slower on a loaded two-core machine.  The strategies and learners hold the same policy on their own
(:func:`~bayes_zoo.active_learning.strategies.select_batch`, each learner's ``fit``, ``gram`` ...), so calls
outside the loop run as fast.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from bayes_zoo.active_learning.strategies import check_strategies, select_batch, strategy_label
from bayes_zoo.inference.threads import blas_held
from bayes_zoo.models.checks import finite_vector, nonnegative_int, positive_int
from bayes_zoo.models.linear import check_inputs

__all__ = ["LoopSettings", "split", "run_repeat", "run", "on_grid", "learning_curves", "paired_differences",
           "final_table", "draw_curves", "plot_learning_curves", "METRICS"]

#: Per task, the metrics a round records, and whether larger is better.
METRICS = {"regression": {"rmse": False, "test_loglik": True},
           "classification": {"accuracy": True, "test_loglik": True}}
#: Each metric's axis label: quantity and unit.
METRIC_LABELS = {"rmse": "test RMSE (target units)", "test_loglik": "test log-likelihood (nats per point)",
                 "accuracy": "test accuracy (fraction correct)"}


@dataclass(frozen=True)
class LoopSettings:
    """Settings of the labelling loop (module docstring); validated on construction.

    Parameters
    ----------
    batch_size : int >= 1, default 10
    budget : int >= 1, default 100
        Labels acquired beyond the initial ones.
    init : int >= 2, default 20
        Initially labelled points.
    test_fraction : float in (0, 1), default 0.2
    projections : int >= 0, default 0
        ACS-FW's J (0: closed-form inner products).
    top_up : bool, default True
        See :func:`bayes_zoo.active_learning.strategies.select_batch`.
    """

    batch_size: int = 10
    budget: int = 100
    init: int = 20
    test_fraction: float = 0.2
    projections: int = 0
    top_up: bool = True

    def __post_init__(self):
        positive_int(self.batch_size, "batch_size")
        positive_int(self.budget, "budget")
        if positive_int(self.init, "init") < 2:
            raise ValueError(f"init: need at least 2 initial labels, got {self.init}")
        if not 0.0 < float(self.test_fraction) < 1.0:
            raise ValueError(f"test_fraction: must lie strictly between 0 and 1, got {self.test_fraction}")
        nonnegative_int(self.projections, "projections")


def split(n: int, settings: LoopSettings, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices ``(labelled, pool, test)`` of a random split of ``n`` points.

    Raises
    ------
    ValueError
        Naming ``init`` when the training part has no room for a pool.
    """
    order = rng.permutation(n)
    n_test = max(1, int(round(settings.test_fraction * n)))
    test, train = order[:n_test], order[n_test:]
    if settings.init >= train.size:
        raise ValueError(f"init: {settings.init} initial labels leave no pool in a training part of {train.size}")
    return np.sort(train[: settings.init]), np.sort(train[settings.init:]), np.sort(test)


def run_repeat(learner, X, y, strategies, settings: LoopSettings, seed: int, *,
               on_round: Callable[[dict], None] | None = None) -> list[dict]:
    """All strategies on one split (seed ``seed``): one row per strategy and round.

    Row keys: ``strategy``, ``seed``, ``round``, ``n_labelled``, the task's :data:`METRICS`,
    ``select_seconds`` (choosing the batch that follows; 0 in the last round), ``fit_seconds``, ``batch``
    (points chosen next).
    """
    X = check_inputs(X)
    y = finite_vector(y, "y")
    if y.size != X.shape[0]:
        raise ValueError(f"y: length {y.size} does not match X's {X.shape[0]} rows")
    strategies = check_strategies(strategies)
    labelled0, pool0, test = split(X.shape[0], settings, np.random.default_rng([seed, 0]))
    with blas_held():
        return _run_strategies(learner, X, y, strategies, settings, seed, labelled0, pool0, test, on_round)


def _run_strategies(learner, X, y, strategies, settings, seed, labelled0, pool0, test, on_round) -> list[dict]:
    rows = []
    for k, strategy in enumerate(strategies):
        rng = np.random.default_rng([seed, 1 + k])
        labelled, pool = list(labelled0), list(pool0)
        acquired, rnd = 0, 0
        while True:
            t0 = time.perf_counter()
            # the fit's stream is the round's, common to every strategy: equal labels give an equal fit (a network
            # initialised alike, the same NUTS seed), so paired differences hold no fitting noise at round 0
            fit = learner.fit(X[labelled], y[labelled], X[pool], np.random.default_rng([seed, 0, rnd]))
            fit_seconds = time.perf_counter() - t0
            row = {"strategy": strategy, "seed": seed, "round": rnd, "n_labelled": len(labelled),
                   **learner.metrics(fit, X[test], y[test]), "fit_seconds": fit_seconds}
            b = min(settings.batch_size, settings.budget - acquired, len(pool))
            if b <= 0:
                rows.append({**row, "select_seconds": 0.0, "batch": 0})
                if on_round:
                    on_round(rows[-1])
                break
            t0 = time.perf_counter()
            chosen = select_batch(strategy, learner, fit, X[pool], b, rng=rng, projections=settings.projections,
                                  top_up=settings.top_up)
            select_seconds = time.perf_counter() - t0
            rows.append({**row, "select_seconds": select_seconds, "batch": int(chosen.size)})
            if on_round:
                on_round(rows[-1])
            picked = set(int(i) for i in chosen)
            labelled += [pool[i] for i in sorted(picked)]  # the oracle reveals y for these
            pool = [p for i, p in enumerate(pool) if i not in picked]
            acquired += len(picked)
            rnd += 1
    return rows


def run(learner_factory: Callable[[int], object], X, y, strategies, settings: LoopSettings, *, repeats: int,
        seed: int = 0, on_round: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """:func:`run_repeat` for ``repeats`` seeds ``seed, seed + 1, ...``; ``learner_factory(seed)`` makes the
    learner of each repeat (so a random feature map is redrawn per repeat).  Returns every round as a table."""
    repeats = positive_int(repeats, "repeats")
    seed = nonnegative_int(seed, "seed")
    rows = []
    for r in range(repeats):
        rows += run_repeat(learner_factory(seed + r), X, y, strategies, settings, seed + r, on_round=on_round)
    return pd.DataFrame(rows)


def _summary(values: pd.Series) -> pd.Series:
    n = values.size
    sd = values.std(ddof=1) if n > 1 else np.nan
    return pd.Series({"mean": values.mean(), "se": sd / np.sqrt(n) if n > 1 else np.nan, "n": n})


def on_grid(rounds: pd.DataFrame, metric: str, grid) -> pd.DataFrame:
    """Each run's ``metric`` at the label counts of ``grid``: at ``g``, that of the last round fitted on at most
    ``g`` labels (a step function; NaN before the first round).  Runs whose batches were not all full (ACS-FW
    without top-up) reach other label counts than the rest; on a common grid their curves can be averaged.

    Returns
    -------
    pandas.DataFrame
        Columns ``strategy``, ``seed``, ``n_labelled`` (the grid), ``metric``.
    """
    if metric not in rounds:
        raise ValueError(f"metric: {metric!r} is not a column of rounds ({', '.join(rounds.columns)})")
    grid = np.asarray(sorted(set(int(g) for g in grid)))
    out = []
    for (strategy, seed), run in rounds.groupby(["strategy", "seed"], sort=False):
        run = run.sort_values("n_labelled")
        at = np.searchsorted(run["n_labelled"].to_numpy(), grid, side="right") - 1  # last round with n <= g
        values = np.where(at >= 0, run[metric].to_numpy()[np.maximum(at, 0)], np.nan)
        out.append(pd.DataFrame({"strategy": strategy, "seed": seed, "n_labelled": grid, metric: values}))
    return pd.concat(out, ignore_index=True)


def learning_curves(rounds: pd.DataFrame, metric: str, *, grid=None) -> pd.DataFrame:
    """Mean and standard error (sd / sqrt(repeats)) of ``metric`` per strategy and number of labels; with
    ``grid``, of every run's values on that grid of label counts (:func:`on_grid`)."""
    if metric not in rounds:
        raise ValueError(f"metric: {metric!r} is not a column of rounds ({', '.join(rounds.columns)})")
    if grid is not None:
        rounds = on_grid(rounds, metric, grid).dropna(subset=[metric])
    return (rounds.groupby(["strategy", "n_labelled"], sort=False)[metric].apply(_summary).unstack()
            .reset_index())


def paired_differences(rounds: pd.DataFrame, task: str, *, min_repeats: int = 3) -> pd.DataFrame:
    """Every ACS-FW variant (strategies named ``acs-fw`` or ``acs-fw:J``) against every other strategy, on the
    task's main metric at the last round (RMSE, lower better; accuracy, higher better), paired by seed (every
    strategy of a seed shares its split and initial labels).

    A verdict is "better" or "worse" when the mean of the n paired differences lies outside
    ``margin = t_{0.975, n-1} SE`` of 0 (the paired t-test at 5% two-sided: 2.26 SE at 10 pairs, 2.02 at 40; the
    normal rule of 2 SE fires 18% of the time at 3 pairs, 7% at 10, under no difference), "no clear difference"
    otherwise, and "too few repeats" with fewer than ``min_repeats`` pairs.

    Returns
    -------
    pandas.DataFrame
        Columns ``strategy``, ``baseline``, ``metric``, ``difference`` (strategy minus baseline, mean), ``se``,
        ``margin``, ``pairs``, ``verdict``; one row per (ACS-FW variant, baseline), in run order.
    """
    from scipy import stats

    if task not in METRICS:
        raise ValueError(f"task: expected one of {tuple(METRICS)}, got {task!r}")
    metric = "rmse" if task == "regression" else "accuracy"
    higher_better = METRICS[task][metric]
    last = rounds.loc[rounds.groupby(["strategy", "seed"], sort=False)["round"].idxmax()]
    table = last.pivot(index="seed", columns="strategy", values=metric)
    order = list(dict.fromkeys(last["strategy"]))
    out = []
    for acs in [s for s in order if s.split(":")[0] == "acs-fw"]:
        for base in [s for s in order if s.split(":")[0] != "acs-fw"]:
            diff = (table[acs] - table[base]).dropna()
            n = int(diff.size)
            mean = float(diff.mean()) if n else float("nan")
            se = float(diff.std(ddof=1) / np.sqrt(n)) if n > 1 else float("inf")
            if se < 1e-12:  # the same difference in every repeat: rounding, not spread
                se = 0.0
            margin = float(stats.t.ppf(0.975, n - 1) * se) if n > 1 else float("inf")
            if n < min_repeats:
                verdict = f"too few repeats (< {min_repeats})"
            elif abs(mean) > margin:
                verdict = "better" if (mean > 0) == higher_better else "worse"
            else:
                verdict = "no clear difference"
            out.append({"strategy": acs, "baseline": base, "metric": metric, "difference": mean, "se": se,
                        "margin": margin, "pairs": n, "verdict": verdict})
    return pd.DataFrame(out, columns=["strategy", "baseline", "metric", "difference", "se", "margin", "pairs",
                                      "verdict"])


def final_table(rounds: pd.DataFrame, task: str) -> pd.DataFrame:
    """Per strategy: each metric at the last round (mean and 2 SE over repeats), the mean selection time per
    batch, and the number of repeats; strategies in the order they were run."""
    if task not in METRICS:
        raise ValueError(f"task: expected one of {tuple(METRICS)}, got {task!r}")
    last = rounds.loc[rounds.groupby(["strategy", "seed"], sort=False)["round"].idxmax()]
    out = []
    for strategy, group in last.groupby("strategy", sort=False):
        row = {"strategy": strategy, "repeats": group["seed"].nunique(),
               "n_labelled": int(group["n_labelled"].max())}
        for metric in METRICS[task]:
            s = _summary(group[metric])
            row[metric] = s["mean"]
            row[f"{metric}_2se"] = 2.0 * s["se"]
        chosen = rounds[(rounds["strategy"] == strategy) & (rounds["batch"] > 0)]
        row["select_seconds"] = chosen["select_seconds"].mean()
        out.append(row)
    return pd.DataFrame(out)


def metric_label(metric: str, *, higher_better: bool) -> str:
    """``metric``'s axis label on two lines, the quantity over its unit and which way is better
    (``"test log-likelihood\n(nats per point; higher is better)"``): on one line it is taller than a panel."""
    label = METRIC_LABELS.get(metric, metric.replace("_", " "))
    better = "higher is better" if higher_better else "lower is better"
    quantity, paren, unit = label.rpartition(" (")
    if paren and unit.endswith(")"):
        return f"{quantity}\n({unit[:-1]}; {better})"
    return f"{label}\n({better})"


def draw_curves(ax, rounds: pd.DataFrame, metric: str, *, higher_better: bool, grid=None) -> None:
    """On one matplotlib axis: ``metric``'s mean over repeats per strategy against the number of labels, with a
    band of +- 2 SE (:func:`learning_curves`, on ``grid`` if given)."""
    curves = learning_curves(rounds, metric, grid=grid)
    for k, (strategy, c) in enumerate(curves.groupby("strategy", sort=False)):
        # line styles differ so that coinciding curves (MaxEnt and BALD for linear regression) stay visible
        ax.plot(c["n_labelled"], c["mean"], marker="o", ms=3, ls=("-", "--", "-.", ":")[k % 4],
                label=strategy_label(strategy))
        band = 2.0 * c["se"].fillna(0.0)  # ± 2 SE, as the tables
        ax.fill_between(c["n_labelled"], c["mean"] - band, c["mean"] + band, alpha=0.2)
    ax.set_xlabel("labelled points (count)")
    ax.set_ylabel(metric_label(metric, higher_better=higher_better))
    ax.grid(alpha=0.3)


def plot_learning_curves(rounds: pd.DataFrame, task: str, *, title: str = "", grid=None):
    """One panel per metric: mean over repeats against the number of labels, a band of +- 2 SE (on ``grid``
    of label counts if given: :func:`on_grid`); the strategies named in one legend under the panels."""
    import matplotlib.pyplot as plt

    from bayes_zoo.figures import legend_outside, style

    metrics = list(METRICS[task])
    with style():
        fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 3.8), squeeze=False)
        for ax, metric in zip(axes[0], metrics):
            draw_curves(ax, rounds, metric, higher_better=METRICS[task][metric], grid=grid)
        n_rep = rounds["seed"].nunique()
        fig.suptitle(f"{title} — mean ± 2 SE over {n_rep} repeat{'s' if n_rep != 1 else ''}".strip(" —"))
        fig.tight_layout()
        legend_outside(fig)
    return fig
