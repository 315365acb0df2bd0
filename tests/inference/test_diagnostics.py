"""bayes_zoo.inference.diagnostics: the ArviZ numbers, and degenerate chains never pass."""

from __future__ import annotations

import re

import arviz as az
import numpy as np
import pytest

from bayes_zoo.inference import diagnostics


def _idata(values, **sample_stats):
    return az.from_dict(posterior={"theta": values}, sample_stats=sample_stats or None)


def test_iid_chains_pass_and_the_numbers_are_arviz_numbers():
    values = np.random.default_rng(0).normal(size=(4, 1000))
    d = diagnostics.diagnose(_idata(values), name="iid")
    assert d.passed
    assert d.table.loc["theta", "r_hat"] == pytest.approx(float(az.rhat(values)), rel=1e-12)
    assert d.table.loc["theta", "ess_bulk"] == pytest.approx(float(az.ess(values, method="bulk")), rel=1e-12)
    assert d.table.loc["theta", "ess_tail"] == pytest.approx(float(az.ess(values, method="tail")), rel=1e-12)


def test_constant_chain_is_untrusted():
    values = np.random.default_rng(0).normal(size=(4, 1000))
    values[2] = 1.5
    d = diagnostics.diagnose(_idata(values))
    assert not d.passed and any("constant chain" in r for r in d.untrusted)


def test_a_quantity_constant_in_every_chain_is_saturated_when_its_variable_may_saturate():
    values = np.ones((4, 500))
    assert diagnostics.diagnose(_idata(values)).untrusted
    allowed = diagnostics.diagnose(_idata(values), saturating=["theta"])
    assert allowed.saturated == ("theta",) and not allowed.untrusted


def test_chains_constant_at_different_values_are_untrusted_even_when_saturation_is_allowed():
    values = np.ones((4, 500))
    values[2:] = 0.0
    d = diagnostics.diagnose(_idata(values), saturating=["theta"])
    assert d.untrusted and not d.saturated


def test_single_chain_is_untrusted():
    d = diagnostics.diagnose(_idata(np.random.default_rng(0).normal(size=(1, 4000))))
    assert any("single chain" in r for r in d.untrusted)


def test_very_few_draws_are_untrusted():
    d = diagnostics.diagnose(_idata(np.random.default_rng(0).normal(size=(4, 10))))
    assert any("draws per chain" in r for r in d.untrusted)


def test_non_finite_draws_are_untrusted():
    values = np.random.default_rng(0).normal(size=(4, 500))
    values[1, 7] = np.nan
    d = diagnostics.diagnose(_idata(values))
    assert any("non-finite draws" in r for r in d.untrusted)


def test_low_ess_is_reported_as_such():
    # A sticky AR(1) chain: plenty of draws, few effective ones.
    rng = np.random.default_rng(0)
    values = np.zeros((4, 1000))
    for t in range(1, 1000):
        values[:, t] = 0.995 * values[:, t - 1] + rng.normal(size=4) * 0.1
    d = diagnostics.diagnose(_idata(values))
    assert any("too few effective draws" in r for r in d.low_ess) and not d.passed


def test_chains_in_different_places_fail_rhat():
    values = np.random.default_rng(0).normal(size=(4, 2000))
    values[0] += 1.0
    d = diagnostics.diagnose(_idata(values))
    assert any("R-hat" in r for r in d.failures)


def _printed(pattern, reason):
    return [float(v) for v in re.search(pattern, reason).groups()]


def test_a_failed_rhat_reads_true_as_printed():
    # Chains at -0.12 and +0.12 (sd 1): R-hat 1.0103, which three decimals print as "1.010 > 1.01".
    # Caught: the reason formatted as f"R-hat {r_hat:.3f} > {rhat_max:g}".
    values = np.random.default_rng(0).normal(size=(4, 2000)) + np.array([-0.12, -0.12, 0.12, 0.12])[:, None]
    d = diagnostics.diagnose(_idata(values))
    r_hat = d.table.loc["theta", "r_hat"]
    assert 1.01 < r_hat < 1.0105  # the setting
    shown, bound = _printed(r"R-hat (\S+) > (\S+)$", d.failures[0])
    assert shown > bound == 1.01 and shown == pytest.approx(r_hat, abs=1e-4)
    shown, bound = _printed(r"R-hat (\S+) > (\S+)$", diagnostics.diagnose(_idata(values), rhat_max=r_hat - 3e-6).failures[0])
    assert shown > bound and bound == pytest.approx(r_hat, abs=1e-5)


def test_too_few_effective_draws_read_true_as_printed():
    # An ESS of 399.6 must not read "400 (< 400": here a tail ESS of 243.6 against a minimum of 244.
    # Caught: the ESS printed with f"{ess:.0f}".
    values = np.random.default_rng(5).normal(size=(2, 150))
    low = float(diagnostics.diagnose(_idata(values)).table.loc["theta", ["ess_bulk", "ess_tail"]].min())
    minimum = float(np.ceil(low))
    assert round(low) == minimum  # the setting: zero decimals round the ESS up to the minimum
    (reason,) = diagnostics.diagnose(_idata(values), ess_min=minimum).low_ess
    bulk, tail, bound = _printed(r"ess_bulk (\S+), ess_tail (\S+) \(< (\S+):", reason)
    assert min(bulk, tail) < bound == minimum and min(bulk, tail) == pytest.approx(low, abs=0.05)


def test_divergences_are_counted_and_fail():
    values = np.random.default_rng(0).normal(size=(2, 1000))
    diverging = np.zeros((2, 1000), dtype=bool)
    diverging[1, [3, 50]] = True
    d = diagnostics.diagnose(_idata(values, diverging=diverging))
    assert d.divergences == 2
    assert any("2 divergent" in r for r in d.failures)


def test_vector_quantities_are_labelled_by_coordinate():
    idata = az.from_dict(
        posterior={"w": np.random.default_rng(0).normal(size=(2, 500, 2))},
        coords={"feature": ["age", "bmi"]},
        dims={"w": ["feature"]},
    )
    assert list(diagnostics.diagnose(idata).table.index) == ["w[age]", "w[bmi]"]


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="^idata:"):
        diagnostics.diagnose({"theta": np.zeros((2, 10))})
    with pytest.raises(ValueError, match="^var_names:"):
        diagnostics.diagnose(_idata(np.zeros((2, 10))), ["nope"])
    with pytest.raises(ValueError, match="^ess_min:"):
        diagnostics.diagnose(_idata(np.zeros((2, 10))), ess_min=0)


def _colliding_labels(fig) -> list[str]:
    """Text that collides on one panel: x tick labels less than an em apart (they read as one number), y tick labels
    less than a quarter em apart, an x tick label on the y label."""
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    found = []

    def shown(axis):  # the tick labels drawn: visible, with text, at a tick inside the axis's view
        low, high = sorted(axis.get_view_interval())
        return [t for t, loc in zip(axis.get_majorticklabels(), axis.get_majorticklocs())
                if t.get_visible() and t.get_text() and low - 1e-9 * abs(high - low) <= loc <= high + 1e-9 * abs(high - low)]

    for ax in fig.axes:
        for axis, side, up in ((ax.xaxis, 1 / 2, 0), (ax.yaxis, 0, 1 / 8)):  # side by side: an em apart at least
            boxes = [(t.get_text(), t.get_window_extent(renderer).padded(side * t.get_fontsize() * fig.dpi / 72,
                                                                        up * t.get_fontsize() * fig.dpi / 72))
                     for t in shown(axis)]
            found += [f"{ax.get_title()}: {a!r} and {b!r}" for i, (a, box) in enumerate(boxes)
                      for b, other in boxes[i + 1:] if box.overlaps(other)]
        ylabel = ax.yaxis.label
        if ylabel.get_text():
            found += [f"{ax.get_title()}: {t.get_text()!r} and the y label" for t in shown(ax.xaxis)
                      if t.get_window_extent(renderer).overlaps(ylabel.get_window_extent(renderer))]
    return found


def test_trace_and_rank_plots_tick_labels_do_not_collide():
    # Caught: spike-slab's w[age] density axis read "-0.100-0.075-0.050..." (ArviZ's default ticks at 5 decimals on a
    # 10-inch-wide figure's half), and a pumps theta density's "0.00" sat on its y label (a KDE panel has no y ticks).
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    idata = az.from_dict(posterior={"w": 0.025 * rng.standard_normal((4, 1000)),
                                    "theta": rng.gamma(3.0, 0.025, size=(4, 1000)),
                                    "big": 1e4 + 1e3 * rng.standard_normal((4, 1000))})
    for plot in (diagnostics.plot_trace, diagnostics.plot_rank):
        fig = plot(idata, ["w", "theta", "big"], title="t")
        try:
            assert _colliding_labels(fig) == [], plot.__name__
        finally:
            plt.close(fig)
