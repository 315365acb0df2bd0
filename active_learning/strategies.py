"""Batch selection strategies: ACS-FW and the usual baselines.

* ``acs-fw`` — Frank–Wolfe sparse subset approximation (:func:`bayes_zoo.active_learning.frank_wolfe.select`) on the
  learner's inner products: closed-form weighted Fisher (``projections = 0``) or J random projections;
  ``acs-fw:J`` fixes J in the name, so that one run compares both variants (``acs-fw:0,acs-fw:10,random``).
* ``random`` — b pool points uniformly without replacement.
* ``maxent`` — the b points of highest predictive entropy ``H[y_n | D]`` (Shannon 1948; greedy top-b).
* ``bald`` — the b points of highest mutual information ``I[y_n; theta | D]`` (Houlsby et al. 2011; top-b).

Top-b on a score ignores what the other chosen points already tell: near-duplicates of the most uncertain
point are all chosen.  ACS-FW chooses a batch whose *sum* approximates the whole pool, which spreads it out.

:func:`select_batch` holds BLAS to the project's one thread policy
(:func:`bayes_zoo.inference.threads.blas_held`, one thread) for the whole selection: the learner's inner
products and scores are N x P products and Frank–Wolfe reads one column of ``K`` per step.  One ACS-FW batch
of b = 100 from 45,710 points took 0.56-0.77 s of CPU but 2.4-6.1 s of wall-clock time with OpenBLAS's
default threads on two cores (issue 16).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bayes_zoo.inference.threads import holds_blas
from bayes_zoo.models.checks import generator, nonnegative_int, positive_int

if TYPE_CHECKING:  # NumPy and Frank-Wolfe are imported on use: the CLI reads STRATEGIES for its --help
    import numpy as np

__all__ = ["STRATEGIES", "parse_strategy", "strategy_label", "top_b", "select_batch", "check_strategies"]

#: Names accepted by :func:`select_batch`, in the order reports list them.
STRATEGIES = ("acs-fw", "random", "maxent", "bald")


def parse_strategy(name: str) -> tuple[str, int | None]:
    """``(base, J)`` of a strategy name: ``"acs-fw:J"`` is ACS-FW with J random projections whatever the
    run's ``projections`` (J = 0: the closed form), so one run can hold both variants; other names have
    ``J = None``.

    Raises
    ------
    ValueError
        Naming ``strategies``: an unknown name, or a ``:J`` that is not an integer >= 0 or follows another
        strategy than ``acs-fw``.
    """
    base, sep, j = str(name).partition(":")
    if base not in STRATEGIES:
        raise ValueError(f"strategies: unknown {name}; choose from {', '.join(STRATEGIES)} (or acs-fw:J, "
                         f"J random projections)")
    if not sep:
        return base, None
    if base != "acs-fw" or not j.isdigit():
        raise ValueError(f"strategies: {name!r}: only acs-fw takes ':J', J an integer >= 0 (J random projections; "
                         f"0 the closed form)")
    return base, int(j)


def strategy_label(name: str) -> str:
    """How reports name a strategy: ``ACS-FW``, ``ACS-FW (closed form)``, ``ACS-FW (J = 10)``, ``random``..."""
    base, J = parse_strategy(name)
    if base != "acs-fw":
        return base
    return "ACS-FW" + ("" if J is None else " (closed form)" if J == 0 else f" (J = {J})")


def check_strategies(names) -> tuple[str, ...]:
    """Validated strategy names (:func:`parse_strategy`), duplicates removed (order kept); ``ValueError`` naming
    ``strategies``."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    names = tuple(dict.fromkeys(names))
    if not names:
        raise ValueError(f"strategies: none given; choose from {', '.join(STRATEGIES)}")
    for name in names:
        parse_strategy(name)
    return names


def top_b(scores, batch_size: int) -> np.ndarray:
    """Indices of the ``batch_size`` largest scores, largest first (ties: lower index first).

    Raises
    ------
    ValueError
        Naming ``scores`` (NaN) or ``batch_size`` (below 1 or above the number of scores).
    """
    import numpy as np

    scores = np.asarray(scores, dtype=np.float64)
    batch_size = positive_int(batch_size, "batch_size")
    if np.any(np.isnan(scores)):
        raise ValueError("scores: NaN acquisition scores")
    if batch_size > scores.size:
        raise ValueError(f"batch_size: {batch_size} is more than the {scores.size} points in the pool")
    return np.argsort(-scores, kind="stable")[:batch_size]


@holds_blas
def select_batch(strategy: str, learner, fit, X_pool, batch_size: int, *, rng: np.random.Generator,
                 projections: int = 0, top_up: bool = True) -> np.ndarray:
    """Pool indices to label next, distinct, at most ``batch_size`` of them.

    Parameters
    ----------
    strategy : str
        One of :data:`STRATEGIES`, or ``"acs-fw:J"`` (:func:`parse_strategy`).
    learner : bayes_zoo.active_learning.learners.Learner
    fit
        The learner's fitted posterior.
    X_pool : array_like, shape (N, D)
    batch_size : int, 1 <= b <= N
    rng : numpy.random.Generator
        Used by ``random`` and by projections.
    projections : int >= 0
        ACS-FW's J (0: closed-form inner products); ``"acs-fw:J"`` overrides it.
    top_up : bool, default True
        ACS-FW only: fill the batch to exactly b when Frank–Wolfe chose a point twice
        (:func:`bayes_zoo.active_learning.frank_wolfe.select`), so every strategy labels as many points per round.

    Returns
    -------
    numpy.ndarray of int, shape (B,)
        ``B = batch_size`` except for ACS-FW without ``top_up``.

    Raises
    ------
    ValueError
        Naming the argument.
    """
    import numpy as np

    from bayes_zoo.active_learning import frank_wolfe

    strategy, fixed = parse_strategy(strategy)
    rng = generator(rng)
    projections = nonnegative_int(projections, "projections") if fixed is None else fixed
    n = len(X_pool)
    batch_size = positive_int(batch_size, "batch_size")
    if batch_size > n:
        raise ValueError(f"batch_size: {batch_size} is more than the {n} points in the pool")
    if strategy == "random":
        return np.sort(rng.choice(n, size=batch_size, replace=False))
    if strategy == "maxent":
        return top_b(learner.predictive_entropy(fit, X_pool), batch_size)
    if strategy == "bald":
        return top_b(learner.bald(fit, X_pool), batch_size)
    gram = learner.gram(fit, X_pool, projections=projections, rng=rng)
    return frank_wolfe.select(gram, batch_size, top_up=top_up).indices
