"""One plotting style for every figure the zoo draws, and the audit that says whether a figure explains itself.

Every function that makes a figure (the reports', the notebooks') draws inside :func:`style` (or is decorated
with :func:`styled`), labels every axis that shows data with its quantity and unit, puts legends off the data
(:func:`legend_outside`), and titles only what is true.  :func:`audit_figure` checks the parts a program can
check; the tests run it on every figure a quick ``compare all`` and a quick ``sbc`` produce.

Usage::

    from bayes_zoo.figures import styled, legend_outside, audit_figure

    @styled
    def plot_something(...):
        fig, ax = plt.subplots()
        ax.plot(x, y, label="exact")
        ax.set_xlabel("lengthscale ℓ (input units)")
        ax.set_ylabel("log marginal likelihood (nats)")
        legend_outside(ax)
        return fig

    assert audit_figure(fig) == []
"""

from __future__ import annotations

import contextlib
import functools

import numpy as np

__all__ = ["STYLE", "style", "styled", "legend_outside", "audit_figure"]

#: matplotlib rcParams of every zoo figure: readable at a class's projector and in a report at 110 dpi.
STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 110,
    "savefig.bbox": "tight",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "figure.titlesize": 11,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "lines.linewidth": 1.4,
}


@contextlib.contextmanager
def style():
    """A context in which figures are drawn in :data:`STYLE` (``matplotlib.rc_context``).

    Interactive mode is left as the context found it *or as a backend set it inside*: in a notebook, pyplot's
    first use resolves the inline backend, which switches interactive mode on; ``rc_context`` alone would switch
    it off again on leaving, and the notebook would show no further figure.
    """
    import matplotlib
    import matplotlib.pyplot as plt

    interactive = matplotlib.is_interactive()
    try:
        with plt.rc_context(STYLE):
            try:
                yield
            finally:
                interactive = matplotlib.is_interactive()
    finally:
        matplotlib.interactive(interactive)


def styled(function):
    """Decorator: run a figure-making ``function`` inside :func:`style`."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with style():
            return function(*args, **kwargs)

    return wrapper


def legend_outside(target, *, where: str = "right", **kwargs):
    """A legend placed off the data: to the right of one Axes, or below a whole Figure.

    Parameters
    ----------
    target : matplotlib.axes.Axes or matplotlib.figure.Figure
        An Axes gets its own legend beside it (``where="right"``) or under it (``where="below"``); a Figure
        gets one legend under all its panels, from the handles of its Axes (duplicate labels once).
    where : {"right", "below"}
    **kwargs
        Passed to ``legend`` (e.g. ``ncols``, ``title``); ``handles`` (with ``labels``, default each handle's
        own) names what to show instead of the labelled artists (e.g. one line per chain's colour).

    Returns
    -------
    matplotlib.legend.Legend or None
        None when nothing is labelled.

    Raises
    ------
    ValueError
        If ``where`` is neither "right" nor "below".
    """
    from matplotlib.figure import Figure
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    if where not in ("right", "below"):
        raise ValueError(f"where: {where!r} is neither 'right' nor 'below'")
    handles = kwargs.pop("handles", None)
    labels = kwargs.pop("labels", None)
    if handles is not None:
        labels = [h.get_label() for h in handles] if labels is None else list(labels)
    if isinstance(target, Figure):
        seen = {}
        for ax in target.axes if handles is None else ():
            for handle, label in zip(*ax.get_legend_handles_labels()):
                seen.setdefault(label, handle)
        if handles is not None:
            seen = dict(zip(labels, handles))
        if not seen:
            return None
        kwargs.setdefault("ncols", min(len(seen), 5))
        legend = target.legend(list(seen.values()), list(seen), loc="outside lower center", **kwargs) \
            if isinstance(target.get_layout_engine(), ConstrainedLayoutEngine) else \
            target.legend(list(seen.values()), list(seen), loc="upper center", bbox_to_anchor=(0.5, 0.0), **kwargs)
        return legend
    if handles is None:
        handles, labels = target.get_legend_handles_labels()
    if not handles:
        return None
    if where == "right":
        return target.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                             **kwargs)
    kwargs.setdefault("ncols", min(len(handles), 4))
    return target.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.18), borderaxespad=0.0,
                         **kwargs)


def _shows_data(ax) -> bool:
    """Whether an Axes draws data (lines of two or more points, collections, bars, images), not only decoration."""
    if not ax.get_visible() or hasattr(ax, "_colorbar"):
        return False
    lines = [line for line in ax.get_lines() if np.size(line.get_xdata()) > 1 and line.get_visible()]
    return bool(lines or ax.collections or ax.patches or ax.images)


def _data_points(ax) -> np.ndarray:
    """The data's points in display coordinates: line vertices, scatter offsets, bars' corners, centres and tops;
    shape (P, 2)."""
    points = []
    for line in ax.get_lines():
        if line.get_visible() and np.size(line.get_xdata()) > 0:
            xy = np.column_stack([np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)])
            points.append(line.get_transform().transform(xy))
    for collection in ax.collections:
        offsets = np.asarray(collection.get_offsets(), float)
        if offsets.size and len(offsets) > 1:
            points.append(collection.get_offset_transform().transform(offsets))
    for patch in ax.patches:  # a bar's corners and centre: a legend over its body covers data
        e = patch.get_window_extent()
        if e.width > 0 and e.height > 0:
            points.append(np.array([[e.x0, e.y0], [e.x0, e.y1], [e.x1, e.y0], [e.x1, e.y1],
                                    [(e.x0 + e.x1) / 2, (e.y0 + e.y1) / 2], [(e.x0 + e.x1) / 2, e.y1]]))
    points = [p for p in points if p.size]
    return np.vstack(points) if points else np.empty((0, 2))


def _labelled(ax, which: str) -> bool:
    """Whether ``ax``'s ``which`` ("x" or "y") axis has a label, its own or, in a grid of panels sharing that
    axis (``sharex="col"``, ArviZ's pair plots), one of the panels it shares it with."""
    shared = ax.get_shared_x_axes() if which == "x" else ax.get_shared_y_axes()
    return any(getattr(other, f"get_{which}label")().strip() for other in shared.get_siblings(ax))


def audit_figure(fig) -> list[str]:
    """What keeps a figure from explaining itself, as sentences; an empty list when nothing does.

    Checks every visible Axes that shows data (:func:`_shows_data`): it has an x label and a y label (a panel
    that shares an axis with a labelled panel, as in a grid with ``sharex``/``sharey``, counts as labelled),
    and no legend drawn inside it covers a data point (line vertices, scatter points, the tops of bars).
    Titles are the caller's to check (only it knows, e.g., whether there were divergences).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        Laid out once here (``fig.draw_without_rendering()``: the layout and legend placement, ``loc="best"``
        included, without rasterising; about a third of a full draw's time) so that positions are final.

    Returns
    -------
    list of str
        E.g. ``["panel 2 ('sigma2'): no y label"]``.

    Raises
    ------
    ValueError
        If ``fig`` is not a matplotlib Figure (an Axes or an array of them, say).
    """
    from matplotlib.figure import Figure

    if not isinstance(fig, Figure):
        raise ValueError(f"fig: expected a matplotlib Figure, got {type(fig).__name__} (an Axes has .figure)")
    fig.draw_without_rendering()
    problems = []
    for number, ax in enumerate(fig.axes, start=1):
        if not _shows_data(ax):
            continue
        name = f"panel {number}" + (f" ({ax.get_title()!r})" if ax.get_title() else "")
        if not _labelled(ax, "x"):
            problems.append(f"{name}: no x label")
        if not _labelled(ax, "y"):
            problems.append(f"{name}: no y label")
        legend = ax.get_legend()
        if legend is not None and legend.get_visible():
            box = legend.get_window_extent()
            axes_box = ax.get_window_extent()
            if box.overlaps(axes_box):
                points = _data_points(ax)
                inside = ((points[:, 0] > box.x0) & (points[:, 0] < box.x1)
                          & (points[:, 1] > box.y0) & (points[:, 1] < box.y1)) if len(points) else np.array([])
                if inside.any():
                    problems.append(f"{name}: the legend covers {int(inside.sum())} data point(s)")
    return problems
