"""Two small worked examples of batch active learning (notebook 05's sections 2 and 3), as tested functions.

* **The geometry in the plane.** With ``J = 2`` projections every ``L_n`` is a point of the plane:
  :func:`frank_wolfe_path` runs Frank–Wolfe (:mod:`~bayes_zoo.active_learning.frank_wolfe`) on the rows of a
  hand-made ``G`` and keeps every iterate's ``L(w) = G^T w``; :func:`plot_frank_wolfe_geometry` draws the ``L_n``,
  the image of the polytope and the path.
* **A cluster of near-duplicates in a gap.** :func:`cluster_toy` makes the 1-D regression toy (labelled points
  around a gap, a pool spread evenly plus a tight cluster in the gap, where the model is least sure);
  :func:`batch_table` and :func:`plot_toy_batches` say and show where each strategy's batch went.
* **The Monte Carlo rate.** :func:`plot_projection_error` draws the error of ``K`` estimated from ``J`` random
  projections against ``J`` (replicates, their RMS, a ``c / sqrt(J)`` reference, and optionally one trace's error).

Source: Pinsler, Gordon, Nalisnick & Hernández-Lobato (2019), "Bayesian Batch Active Learning as Sparse Subset
Approximation", NeurIPS, sec. 3–4 and Algorithm 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayes_zoo.figures import legend_outside, styled

__all__ = ["FrankWolfePath", "frank_wolfe_path", "plot_frank_wolfe_geometry", "ClusterToy", "cluster_toy",
           "batch_table", "plot_toy_batches", "plot_projection_error"]


@dataclass(frozen=True)
class FrankWolfePath:
    """Frank–Wolfe on explicit vectors, every iterate kept (:func:`frank_wolfe_path`).

    Attributes
    ----------
    G : numpy.ndarray, shape (N, J)
        The vectors ``L_n`` (rows).
    problem : FWProblem
    states : list of FWState
        The state after 0, 1, ..., ``iterations`` steps.
    points : numpy.ndarray, shape (iterations + 1, J)
        ``L(w) = G^T w`` after each step (row 0 is the origin, ``w = 0``).
    """

    G: np.ndarray
    problem: object
    states: list
    points: np.ndarray

    @property
    def target(self) -> np.ndarray:
        """``L = sum_n L_n``, shape (J,)."""
        return self.G.sum(axis=0)

    @property
    def vertices(self) -> np.ndarray:
        """The polytope's vertices mapped by ``w -> L(w)``: ``(sigma / sigma_n) L_n``, shape (N, J), all of norm
        ``sigma``."""
        return (self.problem.sigma / self.problem.sigmas)[:, None] * self.G


def frank_wolfe_path(G, iterations: int) -> FrankWolfePath:
    """Run ``iterations`` Frank–Wolfe steps on ``K = G G^T`` (:class:`~bayes_zoo.active_learning.gram.ProjectionGram`)
    and keep every state and every ``L(w)``.

    Parameters
    ----------
    G : array_like, shape (N, J)
        Row ``n`` is ``L_n`` (already scaled, as projections are, by ``J^-1/2``).
    iterations : int >= 1

    Returns
    -------
    FrankWolfePath

    Raises
    ------
    ValueError
        If ``iterations < 1``, or as :class:`~bayes_zoo.active_learning.gram.ProjectionGram` and
        :func:`~bayes_zoo.active_learning.frank_wolfe.init` (``G`` not a finite matrix, every row zero).
    """
    from bayes_zoo.active_learning import frank_wolfe
    from bayes_zoo.active_learning.gram import ProjectionGram
    from bayes_zoo.models.checks import positive_int

    iterations = positive_int(iterations, "iterations")
    gram = ProjectionGram(G)
    problem, state = frank_wolfe.init(gram)
    states = [state]
    for _ in range(iterations):
        states.append(frank_wolfe.step(problem, states[-1]))
    points = np.array([gram.G.T @ s.weights for s in states])
    return FrankWolfePath(gram.G, problem, states, points)


@styled
def plot_frank_wolfe_geometry(path: FrankWolfePath, *, highlight=(), label_offsets=None):
    """Three panels, for two-dimensional ``L_n`` (``J = 2``): the vectors ``L_n`` with the direction of ``L``; the
    image of the polytope (the convex hull of the vertices ``(sigma / sigma_n) L_n``, on the circle of radius
    ``sigma``), ``L`` and the Frank–Wolfe path from the origin; a zoom on the path from iteration 2 on.

    Parameters
    ----------
    path : FrankWolfePath
        From :func:`frank_wolfe_path` with ``J = 2``.
    highlight : sequence of int
        Points drawn in red (e.g. near-duplicates), the others grey.
    label_offsets : dict {int: (float, float)}, optional
        Offsets in points of the index labels of the first panel's arrows, where they would overlap.

    Returns
    -------
    matplotlib.figure.Figure
        Legend below the panels.

    Raises
    ------
    ValueError
        If the vectors are not two-dimensional.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Polygon
    from scipy.spatial import ConvexHull

    G = path.G
    if G.shape[1] != 2:
        raise ValueError(f"path: the geometry is drawn for J = 2 projections, got J = {G.shape[1]}")
    highlight = np.isin(np.arange(len(G)), list(highlight))
    names = f"{', '.join(map(str, np.flatnonzero(highlight)))}" if highlight.any() else ""
    label_offsets = label_offsets or {}
    sigma, L, V, pts = path.problem.sigma, path.target, path.vertices, path.points
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 5.2), gridspec_kw={"width_ratios": [1, 1.35, 1]},
                             layout="constrained")

    ax = axes[0]
    for n, g in enumerate(G):
        color = "C3" if highlight[n] else "0.35"
        ax.annotate("", xy=g, xytext=(0, 0), arrowprops=dict(arrowstyle="->", color=color, lw=1.3))
        ax.annotate(str(n), g, textcoords="offset points", xytext=label_offsets.get(n, (3, -3)), fontsize=8,
                    color=color)
    reach = 1.1 * np.abs(G).max()
    direction = L / np.linalg.norm(L) * reach
    ax.plot([0, direction[0]], [0, direction[1]], "k--", lw=1, label="the direction of $L$")
    ax.plot([], [], color="C3", label=f"$L_n$: {names}" if names else None)
    ax.plot([], [], color="0.35", label="$L_n$: the others" if names else "$L_n$")
    lim = np.array([min(G.min(), 0.0), max(G.max(), 0.0)]) + np.array([-0.1, 0.1]) * reach
    ax.set_xlim(*lim)
    ax.set_ylim(*lim)
    ax.set_title(f"the {len(G)} $L_n$ (J = 2 projections)")

    for ax, zoom in zip(axes[1:], (False, True)):
        ax.add_patch(Polygon(V[ConvexHull(V).vertices], closed=True, color="C0", alpha=0.12, lw=0,
                             label=r"image of the polytope $\mathcal{W}$"))
        ax.plot(*L, "k*", ms=12, label=r"$L = \sum_n L_n$", zorder=3)
        ax.plot(pts[:, 0], pts[:, 1], "-o", color="C1", ms=3.5, lw=1, label="$L(w)$ after each Frank–Wolfe iteration")
        for t, p in enumerate(pts if zoom else pts[:2]):
            ax.annotate(str(t), p, textcoords="offset points", xytext=(4, 3), fontsize=8, color="C1")
        if not zoom:
            arc = np.linspace(np.pi, 1.5 * np.pi, 100)  # projections are <= 0: the negative quadrant
            ax.plot(sigma * np.cos(arc), sigma * np.sin(arc), ":", color="0.6", lw=1, label=f"radius σ = {sigma:.1f}")
            ax.plot(V[highlight, 0], V[highlight, 1], "o", color="C3", ms=4,
                    label=rf"vertices $(\sigma/\sigma_n) L_n$: {names}" if names else None)
            ax.plot(V[~highlight, 0], V[~highlight, 1], "o", color="C0", ms=4,
                    label="vertices: the others" if names else r"vertices $(\sigma/\sigma_n) L_n$")
            for n in np.flatnonzero(~highlight):
                ax.annotate(str(n), V[n], textcoords="offset points", xytext=(5, -3), fontsize=8, color="C0")
            ax.set_title("the polytope's image, $L$, and the Frank–Wolfe path")
        else:
            near = np.vstack([pts[2:], L])  # the path from iteration 2 on, and its target
            lo, hi = near.min(axis=0), near.max(axis=0)
            pad = 0.1 * np.ptp(near, axis=0).max() + 0.01 * np.linalg.norm(L)
            ax.set_xlim(lo[0] - pad, hi[0] + pad)
            ax.set_ylim(lo[1] - pad, hi[1] + pad)
            ax.xaxis.set_major_locator(plt.MaxNLocator(4))
            ax.set_title(f"zoom: iterations 2–{len(pts) - 1} and $L$")
    for ax in axes:
        ax.set_xlabel(r"projection 1, $\hat L_n[1]$ (nats)")
        ax.set_ylabel(r"projection 2, $\hat L_n[2]$ (nats)")
        ax.set_aspect("equal")
        ax.grid(alpha=0.3)
    legend_outside(fig, ncols=4)
    return fig


@dataclass(frozen=True)
class ClusterToy:
    """The regression toy of :func:`cluster_toy`: inputs and outputs have no stated units.

    Attributes
    ----------
    x_labelled, y_labelled : numpy.ndarray, shape (n_labelled,)
    x_pool : numpy.ndarray, shape (n_spread + n_cluster,)
        The spread points first, then the cluster.
    in_cluster : numpy.ndarray of bool, shape like ``x_pool``
    gap : tuple of float
        The interval left without labelled points.
    cluster_at : float
    noise_sd : float
    """

    x_labelled: np.ndarray
    y_labelled: np.ndarray
    x_pool: np.ndarray
    in_cluster: np.ndarray
    gap: tuple
    cluster_at: float
    noise_sd: float

    @staticmethod
    def f(x):
        """The true function, ``sin(1.5 x) + 0.3 x``."""
        return np.sin(1.5 * np.asarray(x, float)) + 0.3 * np.asarray(x, float)


def cluster_toy(seed: int, *, n_labelled: int = 16, n_spread: int = 40, n_cluster: int = 10,
                cluster_sd: float = 0.02, noise_sd: float = 0.2) -> ClusterToy:
    """Labelled points uniform on ``[-4.5, 4.5]`` except the gap ``(-1, 3)``; a pool of ``n_spread`` points evenly
    spaced on ``[-4.5, 4.5]`` plus ``n_cluster`` near-duplicates at ``x = 1 ± cluster_sd`` (the middle of the gap);
    ``y = f(x) + Normal(0, noise_sd)`` noise.

    Parameters
    ----------
    seed : int
        ``numpy.random.default_rng(seed)`` draws, in order, the labelled inputs, their noise and the cluster.
    n_labelled, n_spread, n_cluster : int >= 1
    cluster_sd, noise_sd : float >= 0

    Returns
    -------
    ClusterToy

    Raises
    ------
    ValueError
        Naming the argument.
    """
    from bayes_zoo.models.checks import positive_int

    for name, value in (("n_labelled", n_labelled), ("n_spread", n_spread), ("n_cluster", n_cluster)):
        positive_int(value, name)
    for name, value in (("cluster_sd", cluster_sd), ("noise_sd", noise_sd)):
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"{name}: expected a number >= 0, got {value}")
    rng = np.random.default_rng(seed)
    x_lab = rng.uniform(-4.5, 0.5, n_labelled)
    x_lab[x_lab > -1.0] += 4.0  # (-1, 0.5] -> (3, 4.5]: the gap (-1, 3) stays empty
    y_lab = ClusterToy.f(x_lab) + noise_sd * rng.standard_normal(n_labelled)
    x_pool = np.r_[np.linspace(-4.5, 4.5, n_spread), 1.0 + cluster_sd * rng.standard_normal(n_cluster)]
    in_cluster = np.r_[np.zeros(n_spread, bool), np.ones(n_cluster, bool)]
    return ClusterToy(x_lab, y_lab, x_pool, in_cluster, (-1.0, 3.0), 1.0, noise_sd)


def batch_table(toy: ClusterToy, batches: dict, *, topped_up=None) -> pd.DataFrame:
    """One row per batch: its size, how many of it are in the cluster, how many were topped up (if known), how many
    distinct inputs to 0.1, and the chosen inputs.

    Parameters
    ----------
    toy : ClusterToy
    batches : dict {str: array of int}
        Indices into ``toy.x_pool``.
    topped_up : dict {str: int}, optional
        :attr:`~bayes_zoo.active_learning.frank_wolfe.Selection.topped_up` per batch; "—" where absent.

    Returns
    -------
    pandas.DataFrame
        Indexed by the batches' names.
    """
    topped_up = topped_up or {}
    return pd.DataFrame([{
        "batch": name, "points": len(idx), "in the cluster": int(toy.in_cluster[idx].sum()),
        "topped up": topped_up.get(name, "—"),
        "distinct x (to 0.1)": np.unique(np.round(toy.x_pool[idx], 1)).size,
        "chosen x": ", ".join(f"{v:.2f}" for v in np.sort(toy.x_pool[idx]))} for name, idx in batches.items()
    ]).set_index("batch")


@styled
def plot_toy_batches(toy: ClusterToy, grid, mean, var, scores, batches: dict, *, score_label: str = "H[y_n | D] (nats)"):
    """Three stacked panels over ``x``: the toy with the predictive (mean, ±2 sd of ``y``), the labelled points and
    the pool; a score at the pool points (e.g. MaxEnt's predictive entropy); where each batch's points are.  The
    cluster is shaded in every panel.

    Parameters
    ----------
    toy : ClusterToy
    grid : array_like, shape (S,)
        Inputs of the predictive curve.
    mean, var : array_like, shape (S,)
        The predictive of ``y`` there.
    scores : array_like, shape like ``toy.x_pool``
    batches : dict {str: array of int}
        Indices into ``toy.x_pool``; one row of the last panel each.
    score_label : str
        The second panel's y label.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    x_pool, in_cluster = toy.x_pool, toy.in_cluster
    grid, mean, sd = np.asarray(grid, float), np.asarray(mean, float), np.sqrt(var)
    fig, axes = plt.subplots(3, 1, figsize=(10, 7.4), sharex=True, layout="constrained",
                             gridspec_kw={"height_ratios": [2.2, 1.2, 0.35 + 0.35 * len(batches)]})
    span = toy.cluster_at + np.array([-0.1, 0.1])
    for ax in axes:
        ax.axvspan(*span, color="C3", alpha=0.1, lw=0)
        ax.set_xlabel("input x (input units)")
    ax = axes[0]
    ax.plot(grid, toy.f(grid), "k--", lw=1, label="true f")
    ax.plot(grid, mean, "C0", lw=1.2, label="predictive mean")
    ax.fill_between(grid, mean - 2 * sd, mean + 2 * sd, color="C0", alpha=0.15, lw=0, label="±2 sd of y")
    ax.plot(toy.x_labelled, toy.y_labelled, "ko", ms=4, label=f"labelled ({toy.x_labelled.size})")
    floor = min(np.min(mean - 2 * sd), np.min(toy.y_labelled)) - 0.3
    ax.plot(x_pool[~in_cluster], np.full((~in_cluster).sum(), floor), "|", color="0.4", ms=10,
            label=f"pool ({(~in_cluster).sum()} spread)")
    ax.plot(x_pool[in_cluster], np.full(in_cluster.sum(), floor), "|", color="C3", ms=10,
            label=f"pool ({in_cluster.sum()} near-duplicates)")
    ax.set_ylabel("output y (output units)")
    ax.set_title("the toy: a gap in the labelled data, and a cluster of near-duplicates in it (shaded)")
    legend_outside(ax)
    ax = axes[1]
    ax.plot(x_pool[~in_cluster], np.asarray(scores)[~in_cluster], "o", color="0.4", ms=3)
    ax.plot(x_pool[in_cluster], np.asarray(scores)[in_cluster], "o", color="C3", ms=3)
    ax.set_ylabel(score_label)
    ax.set_title("the score at the pool points")
    ax = axes[2]
    markers = ["v", "^", "s", "D", "o"]
    for k, (name, idx) in enumerate(batches.items()):
        offset = 0.12 * (np.argsort(np.argsort(x_pool[idx])) % 3 - 1)  # spread coinciding markers vertically
        ax.plot(x_pool[idx], k + offset, markers[k % len(markers)], color=f"C{k + 1}", ms=6, alpha=0.8, ls="none")
    ax.set_yticks(range(len(batches)), [f"{name}:\n{int(in_cluster[idx].sum())} of {len(idx)} in the cluster"
                                        for name, idx in batches.items()], fontsize=8)
    ax.set_ylim(-0.6, len(batches) - 0.4)
    ax.invert_yaxis()
    ax.set_ylabel("batch")
    ax.set_title("where each batch's points are")
    return fig


@styled
def plot_projection_error(errors: dict, reference: float, *, trace=None, trace_label: str = "sampler's trace",
                          title: str = ""):
    """The relative error of a Gram matrix estimated from ``J`` random projections, against ``J`` (log-log).

    Parameters
    ----------
    errors : dict {int: array_like}
        Per ``J`` (increasing), the errors of independent replicates: drawn as dots, their RMS as a line.
    reference : float
        ``c`` of the dashed ``c / sqrt(J)`` reference line.
    trace : tuple (int, float), optional
        ``(J, error)`` of one estimate from a sampler's trace, drawn as a star.
    trace_label : str
        What the star is called in the legend (followed by ", all J draws").
    title : str

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If ``errors`` is empty.
    """
    import matplotlib.pyplot as plt

    if not errors:
        raise ValueError("errors: no J to draw")
    Js = np.array(sorted(errors), dtype=float)
    fig, ax = plt.subplots(figsize=(7.5, 3.8), layout="constrained")
    for J in Js:
        e = np.asarray(errors[int(J)], float)
        ax.loglog(np.full(e.size, J), e, ".", color="C0", alpha=0.3, ms=4)
    replicates = min(np.size(errors[int(J)]) for J in Js)
    rms = [np.sqrt(np.mean(np.square(errors[int(J)]))) for J in Js]
    ax.loglog(Js, rms, "o-", color="C0", ms=4, label=f"independent draws: RMS over {replicates} replicates (dots)")
    line = Js[[0, -1]]
    ax.loglog(line, reference / np.sqrt(line), "k--", lw=1, label=rf"reference ${reference:.2g}\,/\sqrt{{J}}$")
    if trace is not None:
        ax.loglog([trace[0]], [trace[1]], "*", color="C3", ms=11, label=f"{trace_label}, all {trace[0]} draws")
    ax.set_xlabel("number of projections J (posterior draws)")
    ax.set_ylabel(r"relative Frobenius error of $\hat K$")
    legend_outside(ax)
    ax.grid(alpha=0.3, which="both")
    if title:
        ax.set_title(title)
    return fig
