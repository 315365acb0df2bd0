"""Simulation-based calibration (Talts, Betancourt, Simpson, Vehtari & Gelman 2018), run in parallel.

For a sampler of a model: draw ``theta~`` from the prior and data ``y~`` from the likelihood given it, run
the sampler on ``y~``, thin its draws to ``L`` roughly independent ones, and record, for every scalar
quantity, the rank of ``theta~`` among them: the number of draws below it, ties broken at random (so ranks
take the values ``0..L``).  If the sampler draws from the posterior, each rank is uniform on ``{0, ..., L}``
(Talts et al. 2018, Theorem 1), whatever the data.

* **Thinning by ESS** (Talts et al. 2018, sec. 4.1): each simulation's draws (chains pooled) are thinned by
  ``ceil(S / ESS)`` with ``S`` the number of draws and ESS ArviZ's smallest bulk ESS over the quantities,
  then ``L`` draws are taken evenly from what is left.  A simulation whose ESS is below ``L`` still gives a
  rank (from draws closer than independent) and is flagged ``ess_short``: the sampler should be run longer.
* **Uniformity** (:func:`uniformity`): per quantity, the chi-square test of the ranks in ``bins`` equal bins
  of ``{0, ..., L}`` (``bins`` divides ``L + 1``), Bonferroni over the quantities at family-wise level
  ``alpha``; and the ECDF-difference plot of the fractional ranks with ArviZ's simultaneous confidence band
  (:func:`plot_ecdf`, ``arviz.plot_ecdf(..., difference=True)``).
* **Seeds**: simulation ``i`` gets the integer seed ``SeedSequence(seed).spawn(sims)[i]`` generates, and
  everything in it (prior draw, data, sampler, tie-breaking) derives from that seed alone: the ranks do not
  depend on the backend, the number of workers or the order in which simulations finish.
* **Parallel**: :func:`run_sbc` maps the simulations with :func:`bayes_zoo.inference.parallel.map_tasks`: local
  processes (``jobs``; joblib's loky) by default, or a Dask distributed cluster (``scheduler``, an address such
  as ``tcp://host:8786`` or a ``distributed.Client``), through joblib's Dask backend.  A simulation that raises is recorded with its
  seed and error (``SBCResult.failures``), never dropped silently.

The ``simuk`` package runs SBC for PyMC models, but it is built on ``arviz_base`` (the ArviZ 1.x data
structures) and runs no handwritten sampler; the loop here serves both sides with the ArviZ 0.23 stack.
"""

from __future__ import annotations

import math
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd
from scipy import stats

from bayes_zoo.models.checks import nonnegative_int, positive_int, probability

__all__ = ["SBCProblem", "SBCResult", "DEFAULT_KEPT", "simulation_seeds", "simulate_once", "run_sbc",
           "uniformity", "plot_ecdf"]

#: Draws kept per simulation after thinning: ranks take the values 0..99 (100 possible ranks, 20 bins of 5).
DEFAULT_KEPT = 99


@dataclass(frozen=True)
class SBCProblem:
    """A sampler of a model, set up for SBC.

    Attributes
    ----------
    name : str
        E.g. ``"normal-gamma/gibbs"``.
    simulate : callable
        ``simulate(rng) -> (truth, data)``: ``truth`` maps each quantity label (as ArviZ writes them, ``"mu"``,
        ``"w[0]"``) to its true value (a float) drawn from the prior, ``data`` is whatever ``sample`` takes.
    sample : callable
        ``sample(data, seed) -> draws``: ``draws`` maps every label of ``truth`` to an array of shape
        ``(chains, draws)`` from the sampler.
    """

    name: str
    simulate: Callable[[np.random.Generator], tuple[dict[str, float], Any]]
    sample: Callable[[Any, int], dict[str, np.ndarray]]


def simulation_seeds(seed: int, sims: int) -> list[int]:
    """The integer seed of each simulation: ``SeedSequence(seed).spawn(sims)[i].generate_state(1)[0]``."""
    seed, sims = nonnegative_int(seed, "seed"), positive_int(sims, "sims")
    return [int(child.generate_state(1)[0]) for child in np.random.SeedSequence(seed).spawn(sims)]


def _min_ess(draws: dict[str, np.ndarray]) -> float:
    import arviz as az

    dataset = az.convert_to_dataset({k: np.asarray(v, dtype=float) for k, v in draws.items()})
    ess = az.ess(dataset, method="bulk")
    values = [float(ess[k]) for k in draws]
    return float(np.nanmin(values)) if np.any(np.isfinite(values)) else float("nan")


def simulate_once(problem: SBCProblem, sim: int, seed: int, kept: int = DEFAULT_KEPT) -> dict:
    """One SBC simulation (module docstring); never raises.

    Returns
    -------
    dict
        ``sim``, ``seed``, ``ranks`` (label -> int in ``0..kept``), ``ess`` (smallest bulk ESS), ``thin``,
        ``ess_short`` (bool), ``error`` (None, or the exception and the last lines of its traceback; then
        ``ranks`` is empty), ``stage`` (where it failed: ``"simulate"`` or ``"sample"``; None without error).
    """
    out = {"sim": sim, "seed": seed, "ranks": {}, "ess": float("nan"), "thin": 0, "ess_short": False, "error": None,
           "stage": None}
    try:
        streams = np.random.SeedSequence(seed).spawn(3)
        out["stage"] = "simulate"
        truth, data = problem.simulate(np.random.default_rng(streams[0]))
        out["stage"] = "sample"
        draws = problem.sample(data, int(streams[1].generate_state(1)[0]))
        missing = set(truth) - set(draws)
        if missing:
            raise ValueError(f"sample: no draws of {sorted(missing)}")
        flat = {k: np.asarray(draws[k], dtype=float).reshape(-1) for k in truth}
        if not all(np.all(np.isfinite(v)) for v in flat.values()):
            raise ValueError("sample: non-finite draws")
        total = min(v.size for v in flat.values())
        ess = _min_ess({k: np.asarray(draws[k], dtype=float) for k in truth})
        thin = max(1, math.ceil(total / ess)) if np.isfinite(ess) and ess > 0 else 1
        pool = np.arange(0, total, thin)
        index = pool[np.linspace(0, pool.size - 1, kept).round().astype(int)] if pool.size >= kept else \
            np.linspace(0, total - 1, kept).round().astype(int)
        tie_rng = np.random.default_rng(streams[2])
        ranks = {}
        for label, value in truth.items():
            kept_draws = flat[label][index]
            below, ties = int(np.sum(kept_draws < value)), int(np.sum(kept_draws == value))
            ranks[label] = below + (int(tie_rng.integers(ties + 1)) if ties else 0)
        out.update(ranks=ranks, ess=ess, thin=thin, ess_short=bool(pool.size < kept), stage=None)
    except Exception as err:  # recorded with its seed, never lost
        tail = "".join(traceback.format_exception(type(err), err, err.__traceback__)[-3:])
        out["error"] = f"{type(err).__name__}: {err}\n{tail}"
    return out


@dataclass(frozen=True)
class SBCResult:
    """The outcome of :func:`run_sbc`.

    Attributes
    ----------
    problem : str
    ranks : pandas.DataFrame
        One row per successful simulation and quantity: ``sim``, ``seed``, ``quantity``, ``rank`` (0..kept),
        ``ess``, ``thin``, ``ess_short``; sorted by ``sim``, quantities in the problem's order.
    failures : pandas.DataFrame
        One row per failed simulation: ``sim``, ``seed``, ``stage`` (``"simulate"``: the generative model raised
        drawing the truth or the data -- not the sampler's fault; ``"sample"``: the sampler or the ranks did),
        ``error``.
    kept : int
        L, draws kept per simulation.
    sims : int
        Simulations asked for.
    seed : int
        The root seed.
    """

    problem: str
    ranks: pd.DataFrame
    failures: pd.DataFrame
    kept: int
    sims: int
    seed: int


def run_sbc(problem: SBCProblem, *, sims: int, seed: int = 0, jobs: int = 1, scheduler=None,
            kept: int = DEFAULT_KEPT, progress: Callable[[dict], None] | None = None) -> SBCResult:
    """Run ``sims`` SBC simulations of ``problem`` in parallel (module docstring).

    Parameters
    ----------
    problem : SBCProblem
    sims : int >= 1
    seed : int >= 0
        Root seed (:func:`simulation_seeds`).
    jobs : int >= 1
        Local worker processes (joblib's loky backend; 1 runs in this process).  Ignored with ``scheduler``.
    scheduler : str or distributed.Client, optional
        A Dask scheduler address (or a client): the simulations run on that cluster through joblib's Dask
        backend (needs the ``dask`` extra: ``pip install 'bayes-zoo[dask]'``).
    kept : int >= 1, default :data:`DEFAULT_KEPT`
    progress : callable, optional
        Called with each simulation's record as it completes (in simulation order).

    Returns
    -------
    SBCResult

    Raises
    ------
    ValueError
        Naming ``problem``, ``sims``, ``seed``, ``jobs`` or ``kept``; ``scheduler`` when Dask's distributed
        package is missing.
    """
    from bayes_zoo.inference.parallel import map_tasks

    if not isinstance(problem, SBCProblem):
        raise ValueError(f"problem: expected an SBCProblem, got {type(problem).__name__}")
    seeds = simulation_seeds(seed, sims)
    jobs, kept = positive_int(jobs, "jobs"), positive_int(kept, "kept")
    records = map_tasks(simulate_once, ((problem, i, s, kept) for i, s in enumerate(seeds)), jobs=jobs,
                        scheduler=scheduler, progress=progress)
    rows = [{"sim": r["sim"], "seed": r["seed"], "quantity": q, "rank": k, "ess": r["ess"], "thin": r["thin"],
             "ess_short": r["ess_short"]} for r in records if r["error"] is None for q, k in r["ranks"].items()]
    columns = ["sim", "seed", "quantity", "rank", "ess", "thin", "ess_short"]
    # by simulation; within one, the quantities in the problem's order (f[2] before f[10])
    ranks = pd.DataFrame(rows, columns=columns).sort_values("sim", kind="stable").reset_index(drop=True)
    failures = pd.DataFrame([{"sim": r["sim"], "seed": r["seed"], "stage": r.get("stage") or "sample", "error": r["error"]}
                             for r in records
                             if r["error"] is not None], columns=["sim", "seed", "stage", "error"])
    return SBCResult(problem.name, ranks, failures, kept, sims, seed)


def uniformity(result: SBCResult, *, bins: int = 20, alpha: float = 0.01) -> pd.DataFrame:
    """Chi-square test of uniform ranks per quantity, Bonferroni over the quantities.

    Parameters
    ----------
    result : SBCResult
    bins : int >= 2, default 20
        Must divide ``kept + 1`` (the number of possible ranks), so each bin holds as many.
    alpha : float in (0, 1), default 0.01
        Family-wise level.

    Returns
    -------
    pandas.DataFrame
        One row per quantity: ``quantity``, ``simulations``, ``chi2``, ``p_value``, ``threshold``
        (``alpha / quantities``), ``ess_short`` (simulations flagged), ``verdict`` (``"uniform"``,
        ``"non-uniform"``, or ``"too few simulations"`` below 5 expected per bin).

    Raises
    ------
    ValueError
        Naming ``bins`` or ``alpha``.
    """
    alpha = probability(alpha, "alpha")
    bins = positive_int(bins, "bins")
    if bins < 2 or (result.kept + 1) % bins:
        raise ValueError(f"bins: must be >= 2 and divide the {result.kept + 1} possible ranks, got {bins}")
    quantities = list(dict.fromkeys(result.ranks["quantity"]))
    threshold = alpha / max(len(quantities), 1)
    rows = []
    for q in quantities:
        sub = result.ranks[result.ranks["quantity"] == q]
        counts = np.bincount(sub["rank"].to_numpy() * bins // (result.kept + 1), minlength=bins)
        n = int(counts.sum())
        chi2, p = stats.chisquare(counts)
        verdict = "too few simulations" if n / bins < 5 else ("uniform" if p >= threshold else "non-uniform")
        rows.append({"quantity": q, "simulations": n, "chi2": float(chi2), "p_value": float(p),
                     "threshold": threshold, "ess_short": int(sub["ess_short"].sum()), "verdict": verdict})
    return pd.DataFrame(rows, columns=["quantity", "simulations", "chi2", "p_value", "threshold", "ess_short",
                                       "verdict"])


def plot_ecdf(result: SBCResult, *, quantities=None, cols: int = 4):
    """ECDF-difference plots of the fractional ranks ``(rank + 0.5) / (kept + 1)`` against the uniform
    distribution, one panel per quantity, with ArviZ's simultaneous 95% band (``arviz.plot_ecdf`` with
    ``difference=True``, ``confidence_bands=True``).

    Axes: x the fractional rank (0 to 1, no unit), y the ECDF minus the uniform CDF (a difference of
    probabilities); a calibrated sampler's curve stays inside the band.  One legend under the panels names the
    curve and the band.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import arviz as az
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from bayes_zoo.figures import legend_outside, style

    quantities = list(dict.fromkeys(result.ranks["quantity"])) if quantities is None else list(quantities)
    cols = min(cols, max(len(quantities), 1))
    rows = math.ceil(len(quantities) / cols)
    with style():
        fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows + 0.4), squeeze=False)
        for ax, q in zip(axes.flat, quantities):
            u = (result.ranks.loc[result.ranks["quantity"] == q, "rank"].to_numpy() + 0.5) / (result.kept + 1)
            # the band at the evaluation points j / (L + 1) is exact for the discrete ranks; seeded, so the figure
            # does not change between runs
            az.plot_ecdf(u, cdf=stats.uniform(0, 1).cdf, difference=True, confidence_bands=True, ci_prob=0.95,
                         ax=ax, eval_points=np.linspace(0.0, 1.0, result.kept + 2), rvs=stats.uniform(0, 1).rvs,
                         random_state=np.random.default_rng(0))
            ax.set_title(q)
            ax.set_xlabel("fractional rank (rank + ½) / (L + 1)")
            ax.set_ylabel("ECDF difference\n(ECDF − uniform CDF)")
        for ax in list(axes.flat)[len(quantities):]:
            ax.set_visible(False)
        fig.suptitle(f"SBC: {result.problem}\nECDF of fractional ranks minus uniform, simultaneous 95% band "
                     f"({result.sims} simulations, L = {result.kept})")
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / fig.get_figheight()))
        line = axes.flat[0].get_lines()[0] if len(quantities) and axes.flat[0].get_lines() else None
        handles = [Line2D([], [], color=line.get_color() if line is not None else "C0",
                          label="ECDF − uniform CDF of the ranks"),
                   Patch(alpha=0.3, color=line.get_color() if line is not None else "C0",
                         label="simultaneous 95% band for uniform ranks")]
        legend_outside(fig, handles=handles)
    return fig
