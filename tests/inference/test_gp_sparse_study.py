"""bayes_zoo.inference.gp.sparse_study: the start, FITC's noise, the RMS scores, the sweep over M and its table, and
figures that explain themselves (bayes_zoo.figures.audit_figure)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from bayes_zoo.figures import audit_figure  # noqa: E402
from bayes_zoo.inference.gp import exact, fitc  # noqa: E402
from bayes_zoo.inference.gp import sparse_study as ss  # noqa: E402
from bayes_zoo.models.gp import GPHyperparameters, exp_quad  # noqa: E402

HYPER = GPHyperparameters(eta=1.0, lengthscale=0.6, sigma=0.2)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = np.sort(rng.uniform(0.0, 5.0, 30))[:, None]
    y = np.sin(2 * X[:, 0]) + 0.2 * rng.standard_normal(30)
    X_test = np.linspace(-1.0, 6.0, 40)[:, None]
    ref_mean, ref_var = exact.predict(exact.posterior(X, y, HYPER), X_test)
    return X, y, X_test, ref_mean, ref_var


@pytest.fixture(scope="module")
def fits(data):
    X, y = data[:2]
    return ss.optimise_over_m(X, y, HYPER, (3, 5), maxiter=15)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_evenly_spaced_runs_from_the_smallest_to_the_largest_input_in_equal_steps(data):
    X = data[0]
    Z = ss.evenly_spaced(X, 4)
    assert Z.shape == (4, 1) and Z[0, 0] == X.min() and Z[-1, 0] == X.max()
    np.testing.assert_allclose(np.diff(Z[:, 0]), np.ptp(X) / 3)


def test_evenly_spaced_refuses_two_input_dimensions():
    with pytest.raises(ValueError, match="one input dimension"):
        ss.evenly_spaced(np.zeros((5, 2)), 3)


def test_fitc_noise_is_the_diagonal_of_k_minus_q_plus_the_noise_variance(data):
    X = data[0]
    Z = ss.evenly_spaced(X, 5)
    Kuu = exp_quad(Z, Z, HYPER.eta, HYPER.lengthscale) + 1e-6 * np.eye(5)
    Kuf = exp_quad(Z, X, HYPER.eta, HYPER.lengthscale)
    Q_diag = np.diag(Kuf.T @ np.linalg.solve(Kuu, Kuf))
    np.testing.assert_allclose(ss.fitc_noise(X, Z, HYPER, jitter=1e-6), HYPER.eta**2 - Q_diag + HYPER.sigma**2,
                               atol=1e-10)


def test_fitc_noise_without_noise_falls_to_the_jitter_on_a_pseudo_input():
    X = np.linspace(0.0, 3.0, 7)[:, None]
    noise = ss.fitc_noise(X, X[::3], GPHyperparameters(1.0, 0.5, 0.0), jitter=1e-6)
    # the floor max(sigma^2, jitter), plus K_nn - Q_nn, itself about the jitter on K_uu's diagonal
    assert np.all((noise[::3] >= 1e-6) & (noise[::3] <= 2.001e-6)) and np.all(np.delete(noise, [0, 3, 6]) > 1e-3)


def test_predictive_rms_scores_mean_and_sd_over_all_inputs_and_within_the_subset():
    out = ss.predictive_rms([1.0, 2.0, 3.0], [4.0, 4.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0],
                           within=[True, False, False])
    assert out == {"RMS mean diff": pytest.approx(np.sqrt(5 / 3)), "RMS mean diff (data range)": 0.0,
                   "RMS sd diff": pytest.approx(np.sqrt(2 / 3)), "RMS sd diff (data range)": 1.0}


def test_predictive_rms_refuses_an_empty_subset():
    with pytest.raises(ValueError, match="within"):
        ss.predictive_rms([1.0], [1.0], [1.0], [1.0], within=[False])


def test_optimise_over_m_starts_each_m_evenly_spaced_and_reuses_a_known_fit(data, fits):
    X, y = data[:2]
    for m, fit in fits.items():
        np.testing.assert_array_equal(fit.Z0, ss.evenly_spaced(X, m))
    again = ss.optimise_over_m(X, y, HYPER, (3, 5), maxiter=15, known={5: fits[5]})
    assert again[5] is fits[5] and list(again) == [3, 5]


def test_m_sweep_table_scores_each_fits_predictive_against_the_reference(data, fits):
    X, y, X_test, ref_mean, ref_var = data
    table = ss.m_sweep_table(X, y, fits, X_test, ref_mean, ref_var)
    fit = fits[5]
    mean, var = fitc.predict(fitc.posterior(X, y, fit.Z, fit.hyper), X_test)
    assert table.loc[5, "log ML"] == fit.log_ml and table.loc[5, "log ML, evenly spaced Z"] == fit.log_ml0
    assert table.loc[5, "RMS sd diff"] == pytest.approx(ss.predictive_rms(mean, var, ref_mean, ref_var)["RMS sd diff"])


def test_plot_versus_exact_explains_itself(data, fits):
    X, y, X_test, ref_mean, ref_var = data
    mean, var = fitc.predict(fitc.posterior(X, y, fits[5].Z, fits[5].hyper), X_test)
    fig = ss.plot_versus_exact(X, y, X_test[:, 0], ref_mean, ref_var,
                               [("a", {"FITC": (mean, var, fits[5].Z)}), ("b", {"FITC": (mean, var, fits[5].Z),
                                                                               "VFE": (mean, var, fits[3].Z)})])
    assert audit_figure(fig) == []


@pytest.mark.parametrize("log", [False, True])
def test_plot_fitc_noise_explains_itself(data, log):
    X = data[0]
    Z = ss.evenly_spaced(X, 4)
    fig = ss.plot_fitc_noise(X, ss.fitc_noise(X, Z, HYPER), Z, levels={"σ²": HYPER.sigma**2}, log=log)
    assert audit_figure(fig) == []


def test_plot_m_sweep_explains_itself(data, fits):
    X, y, X_test, ref_mean, ref_var = data
    fig = ss.plot_m_sweep(ss.m_sweep_table(X, y, fits, X_test, ref_mean, ref_var), -20.0)
    assert audit_figure(fig) == []


def test_plot_pseudo_inputs_by_m_explains_itself_and_marks_a_clump(data, fits):
    class Merged:  # a fit whose pseudo-inputs 1 and 2 sit within 1% of a lengthscale
        Z = np.array([[0.5], [2.0], [2.001], [4.0]])
        hyper = HYPER

    fig = ss.plot_pseudo_inputs_by_m(data[0], dict(fits) | {4: Merged})
    assert audit_figure(fig) == []
    assert [t.get_text() for t in fig.axes[0].texts] == ["×2"]


def test_plot_pseudo_input_moves_explains_itself_and_refuses_unmatched_rows(data, fits):
    X = data[0]
    fig = ss.plot_pseudo_input_moves(X, fits[5].Z0, fits[5].Z)
    assert audit_figure(fig) == []
    with pytest.raises(ValueError, match="Z_start, Z_end"):
        ss.plot_pseudo_input_moves(X, fits[5].Z0, fits[3].Z)


def test_plot_cost_explains_itself_and_skips_untimed_sizes():
    import pandas as pd

    cost = pd.DataFrame({"exact GP (s)": [1e-3, 8e-3, np.nan], "FITC (s)": [1e-4, 2e-4, 2e-3]},
                        index=pd.Index([100, 200, 2000], name="N"))
    fig = ss.plot_cost(cost, cubic="exact GP (s)", linear="FITC (s)")
    assert audit_figure(fig) == []
    assert [line.get_label() for line in fig.axes[0].get_lines()][:2] == ["exact GP", "FITC"]
    assert len(fig.axes[0].get_lines()[0].get_xdata()) == 2  # the NaN is not drawn
    with pytest.raises(ValueError, match="not a column"):
        ss.plot_cost(cost, cubic="exact", linear="FITC (s)")
