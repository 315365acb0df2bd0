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

from bayes_zoo.figures import styled
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
#: A chain whose draws span at most this fraction of the quantity's size (at least 1) is a point mass to the
#: trace plot: drawn as a histogram, not a KDE.
POINT_MASS_SPREAD = 1e-8


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


def _quantities(idata: az.InferenceData, var_names) -> dict[str, np.ndarray]:
    """The scalar quantities ``var_names`` names, as ``{label: draws of shape (chain, draw)}`` in their order.

    An entry is a posterior variable (all its scalars, labelled as ArviZ labels them, ``w[age]``) or one such
    label.  Raises ``ValueError`` naming ``var_names`` for an entry that is neither.
    """
    post = select_posterior(idata)
    if var_names is None:
        var_names = list(post.data_vars)
    elif isinstance(var_names, str):
        var_names = [var_names]
    wanted = {str(n).split("[")[0] for n in var_names}
    missing = sorted(wanted - set(post.data_vars))
    if missing:
        raise ValueError(f"var_names: not in the posterior: {missing}")
    flat = flatten(post[sorted(wanted)])
    chosen: dict[str, np.ndarray] = {}
    for name in var_names:
        name = str(name)
        labels = [name] if name in flat else [k for k in flat if k.split("[")[0] == name and "[" not in name]
        if not labels:
            raise ValueError(f"var_names: {name!r} is neither a posterior variable nor one of its quantities")
        for label in labels:
            chosen.setdefault(label, flat[label])
    return chosen


def _scalar_idata(idata: az.InferenceData, chosen: dict[str, np.ndarray]) -> az.InferenceData:
    """One scalar posterior variable per chosen quantity (named by its label), with ``idata``'s sample stats
    (so ArviZ marks divergences)."""
    post = idata.posterior
    coords = {d: post[d].values for d in SAMPLE_DIMS}
    ds = xr.Dataset({label: (SAMPLE_DIMS, np.asarray(v, dtype=float)) for label, v in chosen.items()}, coords=coords)
    groups = {"posterior": ds}
    if "sample_stats" in idata.groups():
        groups["sample_stats"] = idata.sample_stats
    return az.InferenceData(**groups)


def _unit(label: str, units, *, short: bool = False) -> str:
    """``label`` with its variable's unit from ``units`` (``"sigma2 (response units²)"``; the joint quantity
    ``loglik`` is in nats), else ``label``; ``short``: a long one as "value (unit)", for an axis under a panel
    title that names the quantity."""
    unit = {"loglik": "nats", **(units or {})}.get(label.split("[")[0])
    if not unit:
        return label
    return f"value ({unit})" if short and len(label) + len(unit) > 24 else f"{label} ({unit})"


def _chain_legend(fig, chains: int):
    """One legend under the figure naming each chain's colour (matplotlib's cycle, as ArviZ's ``chain_prop``)."""
    from matplotlib.lines import Line2D

    from bayes_zoo.figures import legend_outside

    handles = [Line2D([], [], color=f"C{c % 10}", label=f"chain {c}") for c in range(chains)]
    return legend_outside(fig, where="below", handles=handles, labels=[h.get_label() for h in handles])


def _title_above(fig, title: str | None) -> None:
    """Lay the panels out tight, leaving ``title`` (the figure's suptitle, when given) room above them."""
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / fig.get_figheight()) if title else None)


#: Most major ticks on a value axis of a trace or rank panel: more run together on a half-width panel ("-0.100-0.075").
MAX_TICKS = 4


def _few_ticks(axis) -> None:
    """At most :data:`MAX_TICKS` major ticks on ``axis`` (a matplotlib XAxis or YAxis), at round values."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(MAX_TICKS, steps=[1, 2, 2.5, 5, 10]))


@styled
def plot_trace(idata: az.InferenceData, var_names=None, *, title: str | None = None, units=None):
    """Trace plot (``arviz.plot_trace``): each quantity's marginal density per chain (left) and its draws (right).

    Parameters
    ----------
    idata : arviz.InferenceData
        A posterior of dims ``(chain, draw, ...)``; divergent transitions in ``sample_stats.diverging`` are
        marked under the draws (ArviZ's ticks).
    var_names : sequence of str, optional
        Posterior variables (every scalar of each) or single quantities labelled as ArviZ labels them
        (``"w[s1]"``), in the order plotted: one row per quantity.  All variables by default.
    title : str, optional
        The figure's title.
    units : mapping of str to str, optional
        Variable name -> unit, added to the value axes (``{"sigma2": "response units²"}``).

    A quantity with a chain that (nearly) never moves (spread at most :data:`POINT_MASS_SPREAD` x its size: an
    inclusion probability stuck at 1.0, where ArviZ's KDE has no width or overflows) gets per-chain histograms
    instead of densities, and its draws without ArviZ's divergence ticks.  Every axis is labelled with its quantity and
    unit; the chains' colours are named in one legend under the panels.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        Naming ``var_names`` for an entry that is neither a posterior variable nor one of its quantities.
    """
    chosen = _quantities(idata, var_names)
    # A chain that (nearly) never moves has no KDE (ArviZ's bandwidth is 0 or overflows): ArviZ draws a
    # placeholder there, replaced below by per-chain histograms and the draws
    point_mass = {label for label, v in chosen.items()
                  if (np.ptp(v, axis=1) <= POINT_MASS_SPREAD * max(1.0, float(np.abs(v).max()))).any()}
    placeholder = np.random.default_rng(0).standard_normal(next(iter(chosen.values())).shape)
    shown = {label: placeholder if label in point_mass else v for label, v in chosen.items()}
    axes = az.plot_trace(_scalar_idata(idata, shown), kind="trace", chain_prop="color", legend=False,
                         show=False, figsize=(10, 1.9 * len(chosen) + 0.6))
    axes = np.asarray(axes).reshape(len(chosen), 2)
    fig = axes[0, 0].figure
    for (density, draws), (label, values) in zip(axes, chosen.items()):
        if label in point_mass:
            size = draws.title.get_fontsize()
            density.clear()
            draws.clear()
            low, high = float(values.min()), float(values.max())
            if high - low > POINT_MASS_SPREAD * max(1.0, abs(high)):
                edges = np.histogram_bin_edges(values, bins=20)
            else:  # one bin around the point mass
                half = 1e-3 * max(1.0, abs(low))
                edges = np.array([low - half, high + half])
            for c, chain in enumerate(values):
                density.hist(chain, bins=edges, density=True, histtype="step", color=f"C{c % 10}")
                draws.plot(np.asarray(idata.posterior["draw"]), chain, color=f"C{c % 10}", alpha=0.35)
            density.locator_params(axis="x", nbins=3)  # a point mass's tick labels would run together
            density.set_title(label, fontsize=size)
            draws.set_title(label, fontsize=size)
            density.set_ylabel("density per chain (histogram)")
        else:
            density.set_ylabel("density per chain (KDE)")
            _few_ticks(density.xaxis)
        # the density axis has no y tick labels, so its y label sits by the spine: clear of the first x tick label
        density.yaxis.labelpad = 20  # points: half of a label such as "−0.125"
        _few_ticks(draws.yaxis)
        density.set_xlabel(_unit(label, units))
        draws.set_xlabel("draw (iteration after warm-up)")
        draws.set_ylabel(_unit(label, units, short=True))
    _chain_legend(fig, values.shape[0])
    _title_above(fig, title)
    return fig


@styled
def plot_rank(idata: az.InferenceData, var_names=None, *, title: str | None = None, units=None):
    """Rank plot (``arviz.plot_rank``: each chain's histogram of the draws' ranks, Vehtari et al. 2021 sec. 4.1).

    Well-mixed chains give flat histograms.  ``var_names``, ``title`` and ``units`` as in :func:`plot_trace`
    (``units`` names the quantity in each panel's title).  Axes: x the rank of each draw among all chains'
    draws pooled, y the chains (each chain's bars sit on its own baseline; the dashed line is the uniform
    count).

    Returns
    -------
    matplotlib.figure.Figure
    """
    chosen = _quantities(idata, var_names)
    cols = min(len(chosen), 4)
    rows = -(-len(chosen) // cols)
    axes = az.plot_rank(_scalar_idata(idata, chosen), kind="bars", show=False,
                        figsize=(3.2 * cols, 2.5 * rows + 0.5))
    axes = np.atleast_1d(np.asarray(axes)).ravel()
    fig = axes[0].figure
    for ax, label in zip(axes, chosen):
        ax.set_title(_unit(label, units))
        _few_ticks(ax.xaxis)
        ax.set_xlabel("rank of the draws (pooled over chains)")
        ax.set_ylabel("chain (bars: draws per rank bin)")
    _title_above(fig, title)
    return fig


@styled
def plot_marginals_vs_exact(results, exact_pdfs, *, title="Marginal posteriors against the exact density",
                            units=None):
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
    units : mapping of str to str, optional
        Variable name -> unit, added to each panel's x label (``{"mu": "ns"}``); y is the posterior density
        (per unit of x).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    from bayes_zoo.figures import legend_outside

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
        ax.set_xlabel(_unit(var, units))
        ax.set_ylabel("posterior density (per unit of x)")
    legend_outside(axes[0, -1])
    fig.suptitle(title)
    fig.tight_layout()
    return fig
