"""bayes_zoo.active_learning.toys: the Frank–Wolfe path in the plane, the cluster toy, the batch table, and figures
that explain themselves (bayes_zoo.figures.audit_figure)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from bayes_zoo.active_learning import frank_wolfe, toys  # noqa: E402
from bayes_zoo.active_learning.gram import ProjectionGram  # noqa: E402
from bayes_zoo.figures import audit_figure  # noqa: E402

G = -np.array([[3.0, 1.0], [3.1, 0.85], [2.9, 1.15], [0.4, 2.6], [1.4, 1.6], [0.3, 1.1], [1.2, 0.3]])


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_the_path_is_l_of_w_after_each_step_from_the_origin():
    path = toys.frank_wolfe_path(G, 5)
    assert len(path.states) == 6 and np.all(path.points[0] == 0)
    for s, p in zip(path.states, path.points):
        np.testing.assert_allclose(p, G.T @ s.weights, atol=1e-14)


def test_the_path_follows_frank_wolfe_select():
    path = toys.frank_wolfe_path(G, 4)
    np.testing.assert_allclose([s.residual_norm for s in path.states],
                               frank_wolfe.select(ProjectionGram(G), 4).residual_norms, rtol=1e-12)


def test_the_first_step_lands_on_the_projection_of_l_onto_the_chosen_vector():
    path = toys.frank_wolfe_path(G, 1)
    g = G[path.states[1].vertex]
    np.testing.assert_allclose(path.points[1], (g @ path.target) / (g @ g) * g, rtol=1e-12)


def test_the_vertices_lie_on_the_circle_of_radius_sigma():
    path = toys.frank_wolfe_path(G, 1)
    np.testing.assert_allclose(np.linalg.norm(path.vertices, axis=1), path.problem.sigma, rtol=1e-12)


def test_frank_wolfe_path_refuses_no_iterations():
    with pytest.raises(ValueError, match="iterations"):
        toys.frank_wolfe_path(G, 0)


def test_the_geometry_figure_explains_itself():
    fig = toys.plot_frank_wolfe_geometry(toys.frank_wolfe_path(G, 8), highlight=[0, 1, 2])
    assert audit_figure(fig) == []


def test_the_geometry_figure_refuses_more_than_two_projections():
    with pytest.raises(ValueError, match="J = 2"):
        toys.plot_frank_wolfe_geometry(toys.frank_wolfe_path(np.abs(np.random.default_rng(0).normal(size=(4, 3))), 2))


def test_cluster_toy_leaves_the_gap_empty_and_puts_the_cluster_in_it():
    toy = toys.cluster_toy(3)
    assert not np.any((toy.x_labelled > -1.0) & (toy.x_labelled < 3.0))
    assert toy.in_cluster.sum() == 10 and np.all(np.abs(toy.x_pool[toy.in_cluster] - 1.0) < 0.2)
    assert toy.x_pool.shape == toy.in_cluster.shape == (50,)


def test_cluster_toy_is_notebook_05s_original_construction():
    rng = np.random.default_rng(0)
    x_lab = rng.uniform(-4.5, 0.5, 16)
    x_lab[x_lab > -1.0] += 4.0
    y_lab = np.sin(1.5 * x_lab) + 0.3 * x_lab + 0.2 * rng.standard_normal(16)
    x_pool = np.r_[np.linspace(-4.5, 4.5, 40), 1.0 + 0.02 * rng.standard_normal(10)]
    toy = toys.cluster_toy(0)
    for a, b in [(toy.x_labelled, x_lab), (toy.y_labelled, y_lab), (toy.x_pool, x_pool)]:
        np.testing.assert_array_equal(a, b)


def test_cluster_toy_refuses_a_negative_noise_sd():
    with pytest.raises(ValueError, match="noise_sd"):
        toys.cluster_toy(0, noise_sd=-0.1)


def test_batch_table_counts_the_points_in_the_cluster():
    toy = toys.cluster_toy(0)
    table = toys.batch_table(toy, {"a": np.array([0, 40, 41]), "b": np.array([1, 2])}, topped_up={"a": 1})
    assert table["in the cluster"].to_dict() == {"a": 2, "b": 0}
    assert table["topped up"].to_dict() == {"a": 1, "b": "—"}


def test_the_batches_figure_explains_itself():
    toy = toys.cluster_toy(0)
    grid = np.linspace(-5, 5, 50)
    fig = toys.plot_toy_batches(toy, grid, toy.f(grid), np.full(50, 0.1), np.abs(toy.x_pool - 1.0),
                                {"first ten": np.arange(10), "the cluster": np.arange(40, 50)})
    assert audit_figure(fig) == []


def test_the_projection_error_figure_explains_itself():
    rng = np.random.default_rng(0)
    errors = {J: 2.0 / np.sqrt(J) * (1 + 0.1 * rng.standard_normal(5)) for J in (10, 100, 1000)}
    fig = toys.plot_projection_error(errors, 2.0, trace=(400, 0.1), title="rate")
    assert audit_figure(fig) == []
    assert fig.axes[0].get_lines()[-1].get_label().startswith("sampler's trace, all 400")
    fig = toys.plot_projection_error(errors, 2.0, trace=(400, 0.1), trace_label="NUTS trace")
    assert fig.axes[0].get_lines()[-1].get_label() == "NUTS trace, all 400 draws"
    with pytest.raises(ValueError, match="no J"):
        toys.plot_projection_error({}, 1.0)
