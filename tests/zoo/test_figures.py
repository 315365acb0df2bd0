"""bayes_zoo.figures and every figure the zoo draws: labelled axes, legends off the data, titles that are true, and
trace plots that show what the verdict names."""

from __future__ import annotations

import re

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from bayes_zoo import pairs  # noqa: E402,F401  (registers the pairs)
from bayes_zoo import registry  # noqa: E402
from bayes_zoo.figures import audit_figure, legend_outside, style  # noqa: E402

#: The seeds of the registry-wide test's quick runs (tests/zoo/test_registry.SEEDS): the same runs, no new one.
SEEDS = {"normal-gamma": 3}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _line(ax, label=None):
    x = np.linspace(0.0, 1.0, 50)
    ax.plot(x, x ** 2, label=label)


def test_the_audit_names_a_panel_without_an_x_or_a_y_label():
    fig, (left, right) = plt.subplots(1, 2)
    _line(left)
    _line(right)
    left.set(xlabel="x (m)", ylabel="y (s)")
    right.set(title="right", xlabel="x (m)")
    assert audit_figure(fig) == ["panel 2 ('right'): no y label"]


def test_the_audit_finds_a_legend_sitting_on_the_data():
    fig, ax = plt.subplots()
    ax.scatter(*np.random.default_rng(0).uniform(size=(2, 2000)), s=2, label="draws")  # the whole panel covered
    ax.set(xlabel="x (m)", ylabel="y (s)")
    ax.legend(loc="center")
    problems = audit_figure(fig)
    assert len(problems) == 1 and "legend covers" in problems[0]


def test_a_figure_with_labels_and_legend_outside_passes_the_audit():
    with style():
        fig, axes = plt.subplots(1, 2, sharey=True)
        for ax in axes:
            _line(ax, label="x²")
            ax.set_xlabel("x (m)")
        axes[0].set_ylabel("x² (m²)")  # the second panel shares it
        assert legend_outside(axes[1]) is not None
        assert legend_outside(fig, where="below") is not None
    assert audit_figure(fig) == []


def test_legend_outside_refuses_an_unknown_place_naming_the_argument():
    fig, ax = plt.subplots()
    _line(ax, label="x²")
    with pytest.raises(ValueError, match="^where: 'bad'"):
        legend_outside(ax, where="bad")


def _stuck_result():
    """Two chains x 200 draws of ``a``, ``b``, ``c`` and ``w[s1..s3]``: chain 1 of ``w[s2]`` never moves (a
    constant chain: untrusted) and chain 1 of ``c`` sits 3 sds away (R-hat fails)."""
    import arviz as az

    rng = np.random.default_rng(7)
    w = rng.standard_normal((2, 200, 3))
    w[1, :, 1] = 1.0
    c = rng.standard_normal((2, 200))
    c[1] += 3.0
    return az.from_dict(posterior={"a": rng.standard_normal((2, 200)), "b": rng.standard_normal((2, 200)), "c": c,
                                   "w": w}, coords={"feature": ["s1", "s2", "s3"]}, dims={"w": ["feature"]})


def test_the_trace_plot_of_a_result_with_failed_diagnostics_shows_the_failed_quantities_first():
    # the harness's own choice (figure_quantities) on the cross-validation's own diagnostics, then the plot
    from bayes_zoo.inference import crossval, diagnostics
    from bayes_zoo.problem import figure_quantities

    stuck = _stuck_result()
    cv = crossval.compare({"gibbs": stuck, "other": _stuck_result()}, var_names=["a", "b", "c", "w"])
    shown = figure_quantities("gibbs", stuck, ("a", "b"), cv, cap=4)
    assert shown[:2] == ["w[s2]", "c"] and len(shown) == 4
    fig = diagnostics.plot_trace(stuck, shown, title="gibbs: trace")
    assert [ax.get_title() for ax in fig.axes[::2]] == shown
    assert audit_figure(fig) == []
    assert fig.axes[0].get_ylabel() == "density per chain (histogram)"  # the constant chain has no KDE


def _divergence_claims(title: str) -> list[str]:
    """What ``title`` claims about divergences: the counts it states (``"0"`` for "no divergent ..."), or
    ``["unstated"]`` when it mentions them without a count."""
    if not re.search(r"diverg", title, re.IGNORECASE):
        return []
    counts = re.findall(r"\b(no|\d[\d,]*) divergen", title, re.IGNORECASE)
    return [("0" if c.lower() == "no" else c.replace(",", "")) for c in counts] or ["unstated"]


@pytest.mark.parametrize("name", registry.names())
def test_every_figure_of_a_quick_compare_is_labelled_titled_truly_and_traces_the_failed_quantities(
        name, quick_compare):
    # Read from the registry-wide test's run (tests/zoo/conftest.record_figures), before the figures were saved.
    from bayes_zoo.problem import MAX_PANELS

    seed = SEEDS.get(name, 0)
    quick_compare(name, seed)
    record = quick_compare.figures[name, seed]
    assert "error" not in record, record.get("error")
    assert record["figures"], f"{name}: no figure"
    divergences = {k: v for k, v in record["divergences"].items() if v is not None}
    for stem, figure in record["figures"].items():
        assert figure["audit"] == [], f"{name}/{stem}: {figure['audit']}"
        for title in figure["titles"]:
            for claim in _divergence_claims(title):
                assert claim != "unstated", f"{name}/{stem}: {title!r} mentions divergences without their count"
                assert int(claim) in divergences.values(), f"{name}/{stem}: {title!r}, but the runs had {divergences}"
        if stem.startswith("trace_"):
            # every quantity with a failed diagnostic, or, beyond MAX_PANELS of them, only such quantities
            flagged = record["flagged"].get(stem[len("trace_"):], [])
            panels = figure["panels"]
            assert (set(flagged) <= set(panels) if len(flagged) <= MAX_PANELS else
                    set(panels) <= set(flagged) and len(panels) == MAX_PANELS), \
                f"{name}/{stem}: shows {panels}, the diagnostics flag {flagged}"


def test_style_keeps_the_interactive_mode_a_backend_switched_on_inside_it():
    # In a notebook, pyplot's first use inside a styled function resolves the inline backend, which turns
    # interactive mode on; leaving the style must not turn it off (the notebook would show no more figures).
    import matplotlib

    from bayes_zoo.figures import style

    before = matplotlib.is_interactive()
    try:
        matplotlib.interactive(False)
        with style():
            matplotlib.interactive(True)  # what matplotlib_inline does when the backend is first resolved
        assert matplotlib.is_interactive()
    finally:
        matplotlib.interactive(before)


def test_the_audit_refuses_an_axes_in_place_of_a_figure_naming_the_argument():
    import matplotlib.pyplot as plt

    from bayes_zoo.figures import audit_figure

    fig, ax = plt.subplots()
    try:
        with pytest.raises(ValueError, match="^fig: expected a matplotlib Figure, got Axes"):
            audit_figure(ax)
    finally:
        plt.close(fig)
