"""Posterior diagnostics, all computed by ArviZ: R-hat, bulk and tail ESS, MCSE, divergences, and plots.

Thresholds follow Vehtari, Gelman, Simpson, Carpenter, Bürkner (2021), "Rank-normalization, folding, and
localization: an improved R-hat for assessing convergence of MCMC", Bayesian Analysis 16(2): rank-normalised
split R-hat <= 1.01, bulk and tail ESS >= 400.

A result is judged in three tiers:

* **untrusted** — degenerate, nothing can be concluded: fewer than 2 chains, fewer than ``min_draws`` draws
  per chain, non-finite draws, a chain that never moves, R-hat or ESS not finite;
* **saturated** — only for the variables named in ``saturating`` (bounded quantities such as an inclusion
  probability, which is 1.0 in floating point whenever the coefficient is clearly in the slab): whole chains
  at the largest (or smallest) value the quantity takes, or an R-hat/ESS that cannot be computed on such
  draws, are listed, not distrusted; :mod:`bayes_zoo.inference.crossval` then also accepts a stated tolerance;
* **failed** — the sampler is flagged: R-hat above ``rhat_max``, or divergent transitions;
* **low ESS** — bulk or tail ESS below ``ess_min``: too few effective draws for the Monte Carlo standard
  errors to mean much.

:mod:`bayes_zoo.inference.crossval` turns the first into "inconclusive" whatever else it finds, the second into
"disagree", and the third into "inconclusive" unless something fails.
"""

from __future__ import annotations

from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from bayes_zoo.models.checks import positive_int, positive_scalar

__all__ = [
    "RHAT_MAX",
    "ESS_MIN",
    "MIN_DRAWS",
    "Diagnostics",
    "diagnose",
    "flatten",
    "select_posterior",
    "plot_trace",
    "plot_rank",
    "plot_marginals_vs_exact",
    "beyond",
]

RHAT_MAX = 1.01
ESS_MIN = 400
MIN_DRAWS = 100
SAMPLE_DIMS = ("chain", "draw")


def beyond(value: float, limit: float, *, above: bool = True, decimals: int = 3) -> tuple[str, str]:
    """``value`` and ``limit`` as text that compares as the numbers do, for reasons such as "R-hat 1.0104 > 1.01".

    Rounded to ``decimals`` places, an R-hat of 1.0104 reads "1.010 > 1.01", which is false as printed.  The
    limit is printed by ``:g`` when that is exact (``1.01``, ``400``), else with the value's decimals; the
    value gets as many decimals as it takes (``decimals`` at least) for the printed numbers to compare as
    ``value > limit`` (``above``) or ``value < limit`` do.

    Parameters
    ----------
    value, limit : float
        ``value`` strictly beyond ``limit`` (otherwise, NaN for one, ``repr(value)`` and the limit as above,
        at ``decimals`` places when ``:g`` is not exact).
    above : bool
    decimals : int >= 0

    Returns
    -------
    value_text, limit_text : str
    """
    value, limit = float(value), float(limit)
    exact = f"{limit:g}" if float(f"{limit:g}") == limit else None
    for places in range(decimals, 18):
        shown, bound = f"{value:.{places}f}", exact or f"{limit:.{places}f}"
        if (float(shown) > float(bound)) if above else (float(shown) < float(bound)):
            return shown, bound
    return repr(value), exact or f"{limit:.{decimals}f}"


def _label(name: str, da: xr.DataArray, extra: list[str], index: tuple[int, ...]) -> str:
    if not extra:
        return name
    parts = [str(da[d].values[i]) if d in da.coords else str(i) for d, i in zip(extra, index)]
    return f"{name}[{', '.join(parts)}]"


def flatten(ds: xr.Dataset) -> dict[str, np.ndarray]:
    """Split every variable of ``ds`` into scalar quantities, labelled as ArviZ labels them (``w[age]``).

    Parameters
    ----------
    ds : xarray.Dataset
        Variables of dims ``(chain, draw, *extra)`` or ``(*extra)``.

    Returns
    -------
    dict of str to numpy.ndarray
        One entry per scalar quantity: an array of shape ``(chain, draw)``, or a 0-d array for a
        statistic that has no sample dims.
    """
    out: dict[str, np.ndarray] = {}
    for name, da in ds.data_vars.items():
        extra = [d for d in da.dims if d not in SAMPLE_DIMS]
        values = da.transpose(*[d for d in SAMPLE_DIMS if d in da.dims], *extra).values
        shape = [da.sizes[d] for d in extra]
        for index in np.ndindex(*shape):
            out[_label(str(name), da, extra, index)] = values[(..., *index)]
    return out


def select_posterior(idata: az.InferenceData, var_names=None) -> xr.Dataset:
    """The posterior group of ``idata``, restricted to ``var_names`` when given.

    Raises
    ------
    ValueError
        If ``idata`` has no posterior group or ``var_names`` names a variable it lacks.
    """
    if not isinstance(idata, az.InferenceData) or "posterior" not in idata.groups():
        raise ValueError("idata: expected an arviz.InferenceData with a posterior group")
    post = idata.posterior
    if var_names is None:
        return post
    if isinstance(var_names, str):
        var_names = [var_names]
    missing = [v for v in var_names if v not in post.data_vars]
    if missing:
        raise ValueError(f"var_names: not in the posterior: {missing}")
    return post[list(var_names)]


@dataclass(frozen=True)
class Diagnostics:
    """ArviZ diagnostics of one result and what they mean for a comparison.

    Attributes
    ----------
    name : str
        The result's name (``"gibbs"``, ``"nuts"`` ...).
    table : pandas.DataFrame
        Index: quantity label; columns ``r_hat``, ``ess_bulk``, ``ess_tail``.
    chains, draws : int
        Number of chains and of kept draws per chain.
    divergences : int or None
        Divergent transitions over all chains; None when the sampler has no such notion.
    untrusted : tuple of str
        Reasons why nothing can be concluded from this result (empty when it can be used).
    failures : tuple of str
        Diagnostics the result fails (empty when it passes).
    low_ess : tuple of str
        Quantities whose bulk or tail ESS is below the minimum.
    saturated : tuple of str
        Quantities of the ``saturating`` variables with a chain constant at the quantity's extreme value, or
        with a non-finite R-hat or ESS.
    """

    name: str
    table: pd.DataFrame
    chains: int
    draws: int
    divergences: int | None
    untrusted: tuple[str, ...]
    failures: tuple[str, ...]
    low_ess: tuple[str, ...] = ()
    saturated: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """True when the result is trustworthy and passes every check."""
        return not self.untrusted and not self.failures and not self.low_ess


def _at_an_extreme(values: np.ndarray, stuck: np.ndarray) -> bool:
    """Whether every constant chain of ``values`` ([chain, draw]) sits at one value, the overall max or min."""
    levels = np.unique(values[stuck, 0])
    return levels.size == 1 and levels[0] in (values.min(), values.max())


def diagnose(
    idata: az.InferenceData,
    var_names=None,
    *,
    name: str = "result",
    rhat_max: float = RHAT_MAX,
    ess_min: float = ESS_MIN,
    min_draws: int = MIN_DRAWS,
    saturating=(),
) -> Diagnostics:
    """R-hat (rank-normalised, split), bulk and tail ESS by ArviZ, and divergences, with the verdict tiers.

    Parameters
    ----------
    idata : arviz.InferenceData
        Needs a ``posterior`` of dims ``(chain, draw, ...)``; ``sample_stats.diverging`` is read if present.
    var_names : sequence of str, optional
        Variables to check; all posterior variables by default.
    name : str
        Label for messages.
    rhat_max, ess_min : float
        Thresholds (Vehtari et al. 2021).
    min_draws : int
        Fewer kept draws per chain than this make the result untrusted.
    saturating : collection of str
        Variables whose quantities may sit at a bound of their support.  For them (with 2 chains or more), a
        quantity whose constant chains all sit at its largest or smallest value over all draws, or whose
        R-hat or ESS is not finite, is listed in ``saturated`` instead of making the result untrusted; a
        finite R-hat or ESS is still checked.  A chain constant at any other value, or chains constant at
        different values, stay untrusted.

    Returns
    -------
    Diagnostics

    Raises
    ------
    ValueError
        If ``idata`` has no posterior, ``var_names`` names a missing variable, or a threshold is not > 0.
    """
    post = select_posterior(idata, var_names)
    rhat_max = positive_scalar(rhat_max, "rhat_max")
    ess_min = positive_scalar(ess_min, "ess_min")
    min_draws = positive_int(min_draws, "min_draws")
    chains, draws = post.sizes["chain"], post.sizes["draw"]
    draws_by_quantity = flatten(post)

    untrusted: list[str] = []
    failures: list[str] = []
    low_ess: list[str] = []
    saturated: list[str] = []
    if chains < 2:
        untrusted.append(f"{name}: a single chain (R-hat needs at least 2)")
    if draws < min_draws:
        untrusted.append(f"{name}: {draws} draw{'s' if draws != 1 else ''} per chain (fewer than {min_draws})")

    rows = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        stats = {
            "r_hat": flatten(az.rhat(post)) if chains >= 2 and draws >= 4 else {},
            "ess_bulk": flatten(az.ess(post, method="bulk")) if draws >= 4 else {},
            "ess_tail": flatten(az.ess(post, method="tail")) if draws >= 4 else {},
        }
    for label, values in draws_by_quantity.items():
        row = {k: float(v.get(label, np.nan)) for k, v in stats.items()}
        rows[label] = row
        if not np.all(np.isfinite(values)):
            untrusted.append(f"{name}: {label} has non-finite draws")
            continue
        stuck = np.ptp(values, axis=1) == 0.0  # [chain]
        finite = all(np.isfinite(list(row.values())))
        at_bound = stuck.any() and _at_an_extreme(values, stuck)
        if label.split("[")[0] in saturating and chains >= 2 and (at_bound or not (stuck.any() or finite)):
            saturated.append(label)
            if not finite:
                continue  # nothing more to check
        elif stuck.any():
            untrusted.append(f"{name}: {label} has a constant chain")
            continue
        if chains >= 2 and draws >= min_draws:
            if not finite:
                untrusted.append(f"{name}: {label} has a non-finite R-hat or ESS")
                continue
            if min(row["ess_bulk"], row["ess_tail"]) < ess_min:
                # each ESS below the minimum printed so that it reads below it (399.6 is not "400 < 400")
                shown = {k: beyond(row[k], ess_min, above=False, decimals=0) if row[k] < ess_min
                         else (f"{row[k]:.0f}", None) for k in ("ess_bulk", "ess_tail")}
                bound = next(b for _, b in shown.values() if b is not None)
                low_ess.append(f"{name}: {label} ess_bulk {shown['ess_bulk'][0]}, ess_tail {shown['ess_tail'][0]} "
                               f"(< {bound}: too few effective draws)")
            if row["r_hat"] > rhat_max:
                shown, bound = beyond(row["r_hat"], rhat_max)
                failures.append(f"{name}: {label} R-hat {shown} > {bound}")

    divergences = None
    if "sample_stats" in idata.groups() and "diverging" in idata.sample_stats:
        divergences = int(idata.sample_stats["diverging"].values.sum())
        if divergences > 0:
            failures.append(f"{name}: {divergences} divergent transitions")

    table = pd.DataFrame.from_dict(rows, orient="index", columns=["r_hat", "ess_bulk", "ess_tail"])
    table.index.name = "quantity"
    return Diagnostics(name, table, chains, draws, divergences, tuple(untrusted), tuple(failures), tuple(low_ess),
                       tuple(saturated))


def plot_trace(idata: az.InferenceData, var_names=None, *, title: str | None = None):
    """ArviZ trace plot (``arviz.plot_trace``: marginal densities per chain and the draws); returns the Figure."""
    axes = az.plot_trace(idata, var_names=var_names, kind="trace", chain_prop="color", legend=True, show=False)
    fig = np.asarray(axes).ravel()[0].figure
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_rank(idata: az.InferenceData, var_names=None, *, title: str | None = None):
    """ArviZ rank plot (``arviz.plot_rank``: a rank histogram per chain, Vehtari et al. 2021 sec. 4.1).

    Returns the matplotlib Figure.  Well-mixed chains give flat histograms.
    """
    axes = az.plot_rank(idata, var_names=var_names, kind="bars", show=False)
    fig = np.asarray(axes).ravel()[0].figure
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_marginals_vs_exact(results, exact_pdfs, *, title="Marginal posteriors against the exact density"):
    """Histograms of each result's marginals, overlaid with the exact density (black line).

    Histograms rather than KDEs: a KDE's smoothing lowers a peak, which would look like a disagreement.

    Parameters
    ----------
    results : dict of str to arviz.InferenceData
        Results by name; colours follow matplotlib's cycle (C0, C1, ...).
    exact_pdfs : dict of str to callable
        Variable name to its exact marginal density, ``pdf(grid)`` for a grid of shape ``(G,)``.  One
        panel per entry; variables that are positive (all grid values > 0 in the data) get a grid above 0.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    names = list(exact_pdfs)
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4), squeeze=False)
    for ax, var in zip(axes[0], names):
        lowest = np.inf
        for i, (label, idata) in enumerate(results.items()):
            values = idata.posterior[var].values.ravel()
            lowest = min(lowest, values.min())
            ax.hist(values, bins=60, density=True, alpha=0.45, color=f"C{i}", histtype="stepfilled", label=label)
        lo, hi = ax.get_xlim()
        grid = np.linspace(max(lo, 1e-12 * hi) if lowest > 0 else lo, hi, 400)
        ax.plot(grid, exact_pdfs[var](grid), color="black", lw=1.5, label="exact")
        ax.set_title(var)
        ax.set_yticks([])
    axes[0, 0].legend(loc="upper left", fontsize=8, frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
