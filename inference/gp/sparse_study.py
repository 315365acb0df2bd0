"""Studying a sparse GP against the exact one on one-dimensional data: notebook 04's tables and figures.

* :func:`evenly_spaced` — ``M`` pseudo-inputs evenly spaced over the inputs' range (the usual start);
* :func:`fitc_noise` — FITC's input-dependent noise ``Lambda_n = K_nn - Q_nn + max(sigma^2, jitter)``;
* :func:`predictive_rms` — RMS differences of a predictive's mean and sd from a reference (the exact GP's);
* :func:`optimise_over_m` and :func:`m_sweep_table` — FITC optimised for each of several ``M``, and one row per
  ``M`` scored against the exact GP;
* figures in the house style (:mod:`bayes_zoo.figures`): :func:`plot_versus_exact` (approximate predictives
  over the data and the exact GP's), :func:`plot_fitc_noise` (``Lambda_n`` at the training inputs),
  :func:`plot_m_sweep` (log ML and RMS differences against ``M``), :func:`plot_pseudo_inputs_by_m` (where the
  optimised pseudo-inputs went, clumps marked) and :func:`plot_pseudo_input_moves` (start to end of one run).

* :func:`plot_cost` — seconds per marginal likelihood against ``N`` (log-log), with ``N^3`` and ``N`` guides.

Snelson's data have no stated units: axes say "(input units)" for ``x`` and "(output units)" for ``y``.  Sources:
Snelson & Ghahramani (2006) for FITC and the figures, Bauer, van der Wilk & Rasmussen (2016) for FITC's noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import linalg

from bayes_zoo.figures import legend_outside, styled
from bayes_zoo.models.gp import PYMC_JITTER, GPHyperparameters, exp_quad

__all__ = ["evenly_spaced", "fitc_noise", "predictive_rms", "optimise_over_m", "m_sweep_table", "plot_versus_exact",
           "plot_fitc_noise", "plot_m_sweep", "plot_pseudo_inputs_by_m", "plot_pseudo_input_moves", "plot_cost",
           "CLUMP"]

#: Pseudo-inputs closer than this fraction of the lengthscale to a neighbour count as one clump.
CLUMP = 0.01

X_LABEL = "input x (input units)"


def _one_dimensional(X, name: str = "X") -> np.ndarray:
    X = np.asarray(X, float)
    X = X[:, None] if X.ndim == 1 else X
    if X.ndim != 2 or X.shape[1] != 1:
        raise ValueError(f"{name}: one input dimension expected, got shape {X.shape}")
    return X


def evenly_spaced(X, m: int) -> np.ndarray:
    """``m`` pseudo-inputs evenly spaced from the smallest to the largest input (both ends included).

    Parameters
    ----------
    X : array_like, shape (N, 1) or (N,)
        One-dimensional inputs.
    m : int >= 1

    Returns
    -------
    numpy.ndarray, shape (m, 1)

    Raises
    ------
    ValueError
        If ``X`` has more than one input dimension or ``m < 1``.
    """
    X = _one_dimensional(X)
    if int(m) < 1:
        raise ValueError(f"m: at least one pseudo-input, got {m}")
    return np.linspace(X.min(), X.max(), int(m))[:, None]


def fitc_noise(X, Z, hyper: GPHyperparameters, *, jitter: float = PYMC_JITTER) -> np.ndarray:
    """FITC's noise variance at each training input: ``Lambda_n = max(K_nn - Q_nn, 0) + max(sigma^2, jitter)``
    with ``Q_nn = k_nu (K_uu + jitter I)^-1 k_un`` (the diagonal of the FITC covariance ``Q_ff + Lambda`` minus
    ``Q_ff``'s; :mod:`bayes_zoo.inference.gp.fitc` uses the same noise floor).

    Parameters
    ----------
    X : array_like, shape (N, D) or (N,)
    Z : array_like, shape (M, D) or (M,)
    hyper : GPHyperparameters
    jitter : float >= 0, default ``PYMC_JITTER``

    Returns
    -------
    numpy.ndarray, shape (N,)
        In output units squared; ``max(sigma^2, jitter)`` on a pseudo-input, up to ``eta^2 + sigma^2`` far
        from all of them.

    Raises
    ------
    numpy.linalg.LinAlgError
        If ``K_uu + jitter I`` is not positive definite in floating point.
    """
    X, Z = np.asarray(X, float), np.asarray(Z, float)
    X, Z = (X[:, None] if X.ndim == 1 else X), (Z[:, None] if Z.ndim == 1 else Z)
    L = np.linalg.cholesky(exp_quad(Z, Z, hyper.eta, hyper.lengthscale) + jitter * np.eye(len(Z)))
    A = linalg.solve_triangular(L, exp_quad(Z, X, hyper.eta, hyper.lengthscale), lower=True)  # [M, N]
    return np.maximum(hyper.eta**2 - np.sum(A * A, axis=0), 0.0) + max(hyper.sigma**2, jitter)


def predictive_rms(mean, var, ref_mean, ref_var, *, within=None, within_label: str = "data range") -> dict:
    """RMS differences of a predictive (mean and sd) from a reference one at the same inputs.

    Parameters
    ----------
    mean, var : array_like, shape (S,)
        The predictive's mean and variance (e.g. FITC's of ``f``).
    ref_mean, ref_var : array_like, shape (S,)
        The reference's (e.g. the exact GP's).
    within : array_like of bool, shape (S,), optional
        A subset of the inputs (e.g. those within the data's range) scored separately too.
    within_label : str
        Names that subset in the keys.

    Returns
    -------
    dict
        ``"RMS mean diff"``, ``"RMS sd diff"`` (output units), and with ``within`` the same two with
        ``" (<within_label>)"`` appended, in the order mean, mean within, sd, sd within.

    Raises
    ------
    ValueError
        If the shapes differ or ``within`` selects nothing.
    """
    mean, var, ref_mean, ref_var = (np.asarray(a, float) for a in (mean, var, ref_mean, ref_var))
    if not mean.shape == var.shape == ref_mean.shape == ref_var.shape:
        raise ValueError(f"mean, var, ref_mean, ref_var: shapes differ ({mean.shape}, {var.shape}, "
                         f"{ref_mean.shape}, {ref_var.shape})")
    d = {"mean": mean - ref_mean, "sd": np.sqrt(var) - np.sqrt(ref_var)}
    if within is not None:
        within = np.asarray(within, bool)
        if within.shape != mean.shape or not within.any():
            raise ValueError(f"within: a boolean mask of shape {mean.shape} selecting at least one input expected")
    out = {}
    for what, diff in d.items():
        out[f"RMS {what} diff"] = float(np.sqrt(np.mean(diff**2)))
        if within is not None:
            out[f"RMS {what} diff ({within_label})"] = float(np.sqrt(np.mean(diff[within] ** 2)))
    return out


def optimise_over_m(X, y, hyper: GPHyperparameters, ms, *, restarts: int = 0, maxiter: int = 500, seed: int = 0,
                    jitter: float = PYMC_JITTER, known=None) -> dict:
    """FITC's pseudo-inputs and hyperparameters optimised (:func:`bayes_zoo.inference.gp.fitc.optimise`) for each
    number of pseudo-inputs in ``ms``, each from :func:`evenly_spaced` ones and ``hyper``.

    JitterWarnings are summarised, one line per ``M`` (:func:`bayes_zoo.inference.gp.linalg.jitter_reported`).

    Parameters
    ----------
    X, y : array_like, shapes (N, 1) and (N,)
    hyper : GPHyperparameters
        The start (e.g. the exact GP's type-II ML values).
    ms : iterable of int
    restarts, maxiter, seed, jitter :
        As :func:`~bayes_zoo.inference.gp.fitc.optimise`.
    known : dict {int: FITCFit}, optional
        Fits already made (e.g. the running example's), reused instead of optimised again.

    Returns
    -------
    dict {int: FITCFit}
        In the order of ``ms``.

    Raises
    ------
    ValueError
        As :func:`evenly_spaced` and :func:`~bayes_zoo.inference.gp.fitc.optimise`.
    """
    from bayes_zoo.inference.gp import fitc
    from bayes_zoo.inference.gp.linalg import jitter_reported

    known = dict(known or {})
    fits = {}
    for m in ms:
        if m in known:
            fits[m] = known[m]
            continue
        with jitter_reported(f"fitc.optimise, M = {m}"):
            fits[m] = fitc.optimise(X, y, evenly_spaced(X, m), hyper, restarts=restarts, seed=seed, maxiter=maxiter,
                                    jitter=jitter)
    return fits


def _smallest_gap(Z) -> float:
    z = np.sort(np.asarray(Z, float)[:, 0])
    return float(np.diff(z).min()) if z.size > 1 else np.nan


def m_sweep_table(X, y, fits: dict, X_test, ref_mean, ref_var, *, within=None) -> pd.DataFrame:
    """One row per ``M`` of ``fits`` (:func:`optimise_over_m`): the log ML from the evenly spaced start and
    optimised, ``sigma``, the RMS differences of the predictive of ``f`` from the reference at ``X_test``
    (:func:`predictive_rms`), the smallest gap between optimised pseudo-inputs, the runs stopped at the iteration
    limit and the seconds spent.

    Parameters
    ----------
    X, y : array_like
        The training data the fits were made on.
    fits : dict {int: FITCFit}
    X_test : array_like, shape (S, 1)
    ref_mean, ref_var : array_like, shape (S,)
        The exact GP's predictive of ``f`` at ``X_test``.
    within : array_like of bool, shape (S,), optional
        As :func:`predictive_rms` (labelled "data range").

    Returns
    -------
    pandas.DataFrame
        Indexed by ``M``.
    """
    from bayes_zoo.inference.gp import fitc

    rows = []
    for m, fit in fits.items():
        mean, var = fitc.predict(fitc.posterior(X, y, fit.Z, fit.hyper, jitter=fit.jitter), X_test)
        rows.append({"M": m, "log ML, evenly spaced Z": fit.log_ml0, "log ML": fit.log_ml, "sigma": fit.hyper.sigma}
                    | predictive_rms(mean, var, ref_mean, ref_var, within=within)
                    | {"smallest gap in Z": _smallest_gap(fit.Z), "runs at iteration limit": len(fit.at_limit),
                       "seconds": sum(r.seconds for r in fit.runs)})
    return pd.DataFrame(rows).set_index("M")


def _ticks(ax, Z, level, color, label=None):
    ax.plot(np.asarray(Z, float).ravel(), np.full(len(Z), level), "|", color=color, ms=12, mew=2, label=label)


@styled
def plot_versus_exact(X, y, x_test, exact_mean, exact_var, panels, *, title: str = ""):
    """Approximate predictives of ``f`` over the data and the exact GP's, one panel per entry of ``panels``:
    the data (grey dots), the exact GP's mean (black) and ±2 sd (black dashed), each approximation's mean and
    shaded ±2 sd band, and its pseudo-inputs as ticks below the data.

    Parameters
    ----------
    X, y : array_like, shapes (N, 1) and (N,)
    x_test : array_like, shape (S,)
        The test inputs, sorted.
    exact_mean, exact_var : array_like, shape (S,)
    panels : list of (str, dict)
        A title and ``{label: (mean, var, Z)}`` per panel; colours C3, C0, C2, ... in order.
    title : str
        Over the whole figure.

    Returns
    -------
    matplotlib.figure.Figure
        The legend below all panels.
    """
    import matplotlib.pyplot as plt

    X = _one_dimensional(X)
    x_test, exact_mean, exact_sd = np.asarray(x_test, float), np.asarray(exact_mean), np.sqrt(exact_var)
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels) + 0.6, 3.6), sharey=True, squeeze=False,
                             layout="constrained")
    bottom = min(np.min(y), np.min(exact_mean - 2 * exact_sd))
    for ax, (panel_title, models) in zip(axes[0], panels):
        ax.plot(X[:, 0], y, ".", color="0.6", ms=3, label="data")
        ax.plot(x_test, exact_mean, "k", lw=1, label="exact GP: mean")
        ax.plot(x_test, exact_mean + 2 * exact_sd, "k--", lw=0.6, label="exact GP: ±2 sd of f")
        ax.plot(x_test, exact_mean - 2 * exact_sd, "k--", lw=0.6)
        for k, (label, (mean, var, Z)) in enumerate(models.items()):
            color = ["C3", "C0", "C2", "C4"][k % 4]
            sd = np.sqrt(var)
            ax.plot(x_test, mean, color=color, lw=1.2, label=f"{label}: mean")
            ax.fill_between(x_test, mean - 2 * sd, mean + 2 * sd, color=color, alpha=0.15, lw=0,
                            label=f"{label}: ±2 sd of f")
            _ticks(ax, Z, bottom - 0.3 - 0.35 * k, color, label=f"{label}: pseudo-inputs")
        ax.set_title(panel_title)
        ax.set_xlabel(X_LABEL)
        ax.set_ylabel("output y (output units)")
    if title:
        fig.suptitle(title)
    legend_outside(fig)
    return fig


@styled
def plot_fitc_noise(X, noise, Z, *, levels=None, log: bool = False, title: str = ""):
    """FITC's noise variance ``Lambda_n`` (:func:`fitc_noise`) at the training inputs, with reference levels
    (e.g. each model's ``sigma^2``, the jitter floor) as horizontal lines and the pseudo-inputs as ticks.

    Parameters
    ----------
    X : array_like, shape (N, 1) or (N,)
    noise : array_like, shape (N,)
        ``Lambda_n``, in output units squared.
    Z : array_like, shape (M, 1) or (M,)
    levels : dict {str: float}, optional
        Labelled horizontal lines.
    log : bool
        A logarithmic y axis (for noiseless data, where ``Lambda_n`` spans decades).
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    X = _one_dimensional(X)
    order = np.argsort(X[:, 0])
    noise = np.asarray(noise, float)
    fig, ax = plt.subplots(figsize=(5.6, 3.2), layout="constrained")
    ax.plot(X[order, 0], noise[order], "o-", color="C3", ms=2.5, lw=1, label=r"FITC $\Lambda_n$")
    for k, (label, value) in enumerate((levels or {}).items()):
        ax.axhline(value, color=["0.4", "C0", "k", "C2"][k % 4], ls=[":", "-", "--", "-."][k % 4], lw=1, label=label)
    if log:
        ax.set_yscale("log")
    low = min(noise.min(), *(levels or {}).values())
    _ticks(ax, Z, 0.5 * low if log else low - 0.05 * np.ptp(noise), "C3", label="pseudo-inputs")
    ax.set_xlabel(X_LABEL)
    ax.set_ylabel("noise variance (output units²)")
    if title:
        ax.set_title(title)
    legend_outside(ax)
    return fig


@styled
def plot_m_sweep(table: pd.DataFrame, exact_log_ml: float):
    """Two panels against ``M`` (:func:`m_sweep_table`): the log marginal likelihood from evenly spaced and from
    optimised pseudo-inputs with the exact GP's as a line; the RMS differences of FITC's predictive mean and sd
    from the exact GP's (log scale).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), layout="constrained")
    ms = table.index.to_numpy()
    ax = axes[0]
    ax.plot(ms, table["log ML, evenly spaced Z"], "o-", color="C0", label="FITC, evenly spaced Z (exact GP's θ)")
    ax.plot(ms, table["log ML"], "s-", color="C3", label="FITC, optimised Z and θ")
    ax.axhline(exact_log_ml, color="k", lw=1, ls="--", label="exact GP (type-II ML)")
    ax.set_ylim(table["log ML"].min() - 10, max(table["log ML"].max(), exact_log_ml) + 5)
    ax.set_ylabel("log marginal likelihood (nats)")
    ax.set_title("the objective")
    ax = axes[1]
    ax.semilogy(ms, table["RMS mean diff"], "o-", color="C3", label="RMS difference of the mean")
    ax.semilogy(ms, table["RMS sd diff"], "s-", color="C1", label="RMS difference of the sd")
    ax.set_ylabel("RMS difference from exact GP (output units)")
    ax.set_title("optimised FITC's predictive vs the exact GP's")
    for ax in axes:
        ax.set_xticks(ms)
        ax.set_xlabel("number of pseudo-inputs M")
    legend_outside(fig, ncols=3)
    return fig


def _clumps(z: np.ndarray, lengthscale: float) -> list[np.ndarray]:
    """Sorted ``z`` split where neighbours are more than :data:`CLUMP` lengthscales apart; the parts of size > 1."""
    z = np.sort(z)
    return [c for c in np.split(z, np.flatnonzero(np.diff(z) > CLUMP * lengthscale) + 1) if c.size > 1]


@styled
def plot_pseudo_inputs_by_m(X, fits: dict):
    """Where the optimised pseudo-inputs are, one row per ``M`` (``fits`` from :func:`optimise_over_m`), below the
    training inputs; ``×k`` marks ``k`` of them within :data:`CLUMP` of a lengthscale of each other.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    X = _one_dimensional(X)
    fig, ax = plt.subplots(figsize=(8, 0.9 + 0.45 * (len(fits) + 1)), layout="constrained")
    ax.plot(X[:, 0], np.full(len(X), -1.0), "|", color="0.6", ms=6)
    for row, (m, fit) in enumerate(fits.items()):
        z = np.asarray(fit.Z, float)[:, 0]
        ax.plot(np.sort(z), np.full(m, row), "o", color="C3", ms=5, alpha=0.5)
        for clump in _clumps(z, float(np.ravel(fit.hyper.lengthscale)[0])):
            ax.annotate(f"×{clump.size}", (clump.mean(), row), xytext=(0, 5), textcoords="offset points",
                        ha="center", fontsize=7)
    ax.set_yticks([-1, *range(len(fits))], ["training inputs", *[f"M = {m}" for m in fits]])
    ax.set_ylim(-1.5, len(fits) - 0.3)
    ax.set_xlabel(X_LABEL)
    ax.set_ylabel("number of pseudo-inputs")
    ax.set_title(f"optimised pseudo-inputs for each M (×k: k of them within {CLUMP:.0%} of a lengthscale)")
    return fig


@styled
def plot_pseudo_input_moves(X, Z_start, Z_end, *, start_label: str = "start", end_label: str = "optimised"):
    """Each pseudo-input's move from ``Z_start`` (top row) to ``Z_end`` (bottom row) as an arrow, with the training
    inputs between them.

    Parameters
    ----------
    X : array_like, shape (N, 1) or (N,)
    Z_start, Z_end : array_like, shape (M, 1) or (M,)
        The same pseudo-inputs before and after (row ``m`` of one is row ``m`` of the other).
    start_label, end_label : str
        Names of the two rows.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If ``Z_start`` and ``Z_end`` have different numbers of pseudo-inputs.
    """
    import matplotlib.pyplot as plt

    X, Z_start, Z_end = _one_dimensional(X), _one_dimensional(Z_start, "Z_start"), _one_dimensional(Z_end, "Z_end")
    if len(Z_start) != len(Z_end):
        raise ValueError(f"Z_start, Z_end: {len(Z_start)} and {len(Z_end)} pseudo-inputs")
    fig, ax = plt.subplots(figsize=(8, 2.4), layout="constrained")
    ax.plot(X[:, 0], np.full(len(X), 0.5), "|", color="0.6", ms=8)
    for a, b in zip(Z_start[:, 0], Z_end[:, 0]):
        ax.annotate("", xy=(b, 0.0), xytext=(a, 1.0), arrowprops=dict(arrowstyle="->", color="C3", lw=1))
    ax.plot(Z_start[:, 0], np.ones(len(Z_start)), "o", color="C0", ms=6)
    ax.plot(Z_end[:, 0], np.zeros(len(Z_end)), "o", color="C3", ms=6)
    ax.set_yticks([0, 0.5, 1], [end_label, "training inputs", start_label])
    ax.set_ylim(-0.4, 1.4)
    ax.set_xlabel(X_LABEL)
    ax.set_ylabel("pseudo-inputs")
    ax.set_title("pseudo-inputs: start -> optimised (FITC log ML)")
    return fig


@styled
def plot_cost(cost: pd.DataFrame, *, cubic: str, linear: str, title: str = "cost of one marginal likelihood"):
    """Seconds per call against the number of training inputs, log-log: one line per column of ``cost``, with a
    dotted ``N^3`` guide through the last timing of column ``cubic`` and a dashed ``N`` guide through the last
    timing of column ``linear``.

    Parameters
    ----------
    cost : pandas.DataFrame
        Index ``N`` (increasing), one column of seconds per method (NaN where not timed; up to four columns).
        Column names ending in " (s)" are shown without it.
    cubic, linear : str
        Columns of ``cost`` the guides pass through (each at its last timed ``N``).
    title : str

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If ``cubic`` or ``linear`` is not a column, or a guide's column has no timing.
    """
    import matplotlib.pyplot as plt

    for name in (cubic, linear):
        if name not in cost.columns:
            raise ValueError(f"{name!r} is not a column of cost: {list(cost.columns)}")
        if cost[name].dropna().empty:
            raise ValueError(f"{name!r}: no timing to draw a guide through")
    fig, ax = plt.subplots(figsize=(7, 3.4), layout="constrained")
    for col, style in zip(cost.columns, ["o-k", "s-C3", "^-C0", "D-C2"]):
        timed = cost[col].dropna()
        ax.loglog(timed.index, timed, style, ms=4, lw=1, label=col.removesuffix(" (s)"))
    for name, power, ls, label in [(cubic, 3, ":", r"$\propto N^3$"), (linear, 1, "--", r"$\propto N$")]:
        timed = cost[name].dropna()
        n = np.array([timed.index[0], timed.index[-1]], dtype=float)
        ax.loglog(n, timed.iloc[-1] * (n / n[-1]) ** power, ls, color="0.5", lw=0.8, label=label)
    ax.set_xlabel("number of training inputs N")
    ax.set_ylabel("time per log ML (s)")
    legend_outside(ax)
    ax.set_title(title)
    return fig
