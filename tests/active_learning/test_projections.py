"""bayes_zoo.active_learning.projections: random projections converge to the closed-form weighted Euclidean inner products
at the Monte Carlo rate, from exact draws and through PyMC (Monte Carlo over the outcomes); Bernoulli L_n."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from bayes_zoo.active_learning.projections import (bernoulli_projections, gaussian_projections, linear_euclidean_gram,
                                         monte_carlo_projections)
from bayes_zoo.models.linear import LinearPrior, build_linear_model, conjugate_posterior

SIGMA = 0.5


def _posterior(seed=0, n=12, pool=5):
    """A known-noise linear-regression posterior (P = 3) and pool features."""
    rng = np.random.default_rng(seed)
    Phi = np.column_stack([np.ones(n + pool), rng.standard_normal((n + pool, 2))])
    y = Phi[:n] @ np.array([0.5, 1.0, -0.7]) + SIGMA * rng.standard_normal(n)
    prior = LinearPrior(weight_scale=2.0, noise_sd=SIGMA)
    return conjugate_posterior(Phi[:n], y[:n], prior), Phi[n:], Phi[:n], y[:n], prior


def _projections(post, Phi_pool, J, rng):
    w, sigma = post.sample(rng, J)
    loc, var, _ = post.predictive(Phi_pool)
    return gaussian_projections(w @ Phi_pool.T, sigma, pred_mean=loc, pred_var=var,
                                entropy=post.predictive_entropy(Phi_pool))


def test_projection_kernel_equals_the_closed_form_within_monte_carlo_error():
    post, Phi_pool, *_ = _posterior()
    J = 20_000
    G = _projections(post, Phi_pool, J, np.random.default_rng(1))  # [N, J], scaled by J^-1/2
    L = G * np.sqrt(J)  # L_n(theta_j)
    products = L[:, None, :] * L[None, :, :]  # [N, N, J]
    estimate, mcse = products.mean(axis=2), products.std(axis=2) / np.sqrt(J)
    exact = linear_euclidean_gram(Phi_pool, post.cov, SIGMA**2).K
    np.testing.assert_allclose(estimate, G @ G.T, rtol=1e-10)
    assert np.abs((estimate - exact) / mcse).max() < 4.0


def test_projection_error_shrinks_like_one_over_square_root_of_j():
    post, Phi_pool, *_ = _posterior()
    exact = linear_euclidean_gram(Phi_pool, post.cov, SIGMA**2).K
    Js = np.array([100, 400, 1600, 6400])
    errors = [np.mean([np.linalg.norm(G @ G.T - exact) for G in
                       (_projections(post, Phi_pool, J, np.random.default_rng([seed, J])) for seed in range(40))])
              for J in Js]
    slope = np.polyfit(np.log(Js), np.log(errors), 1)[0]
    assert -0.65 < slope < -0.35, f"log-log slope {slope:.3f}, errors {errors}"


def test_l_n_is_minus_the_kl_divergence_so_never_positive_and_zero_at_the_predictive():
    # a draw whose mean and noise equal the predictive's has L_n = 0; any other is below
    mu = np.array([[0.3], [1.0]])  # [J = 2, N = 1]
    sigma = np.array([np.sqrt(0.8), 0.5])
    G = gaussian_projections(mu, sigma, pred_mean=[0.3], pred_var=[0.8])
    L = G[0] * np.sqrt(2)
    assert L[0] == pytest.approx(0.0, abs=1e-12) and L[1] < 0.0


def test_bernoulli_l_n_is_minus_the_kl_divergence_between_bernoullis():
    p = np.array([0.2, 0.7])
    q = np.array([[0.2, 0.5], [0.9, 0.7]])  # [J, N]
    L = bernoulli_projections(np.log(q), np.log1p(-q), pred_prob=p).T * np.sqrt(2)
    kl = p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))
    np.testing.assert_allclose(L, -kl, atol=1e-12)


def test_monte_carlo_projections_through_pymc_converge_to_the_closed_form():
    import arviz as az

    post, Phi_pool, Phi, y, prior = _posterior(pool=4)
    model = build_linear_model(Phi, y, prior)
    w, _ = post.sample(np.random.default_rng(2), 1200)
    idata = az.from_dict(posterior={"w": w[None]}, coords={"feature": np.arange(3)}, dims={"w": ["feature"]})
    G = monte_carlo_projections(model, idata, {"Phi": Phi_pool}, n_projections=600, n_outcomes=600,
                                rng=np.random.default_rng(3))
    exact = linear_euclidean_gram(Phi_pool, post.cov, SIGMA**2).K
    assert G.shape == (4, 600)
    assert np.linalg.norm(G @ G.T - exact) / np.linalg.norm(exact) < 0.15
    # the model's data are restored afterwards
    np.testing.assert_array_equal(model["Phi"].get_value(), Phi)


def test_monte_carlo_projections_need_enough_draws():
    import arviz as az

    post, Phi_pool, Phi, y, prior = _posterior()
    idata = az.from_dict(posterior={"w": post.sample(np.random.default_rng(0), 10)[0][None]},
                         coords={"feature": np.arange(3)}, dims={"w": ["feature"]})
    with pytest.raises(ValueError, match="^idata:"):
        monte_carlo_projections(build_linear_model(Phi, y, prior), idata, {"Phi": Phi_pool}, n_projections=8,
                                n_outcomes=8, rng=np.random.default_rng(0))


def test_probit_projections_from_log_ndtr_stay_finite_far_in_the_tails():
    z = np.array([[-40.0, 0.0, 40.0]])
    G = bernoulli_projections(special.log_ndtr(z), special.log_ndtr(-z), pred_prob=[0.5, 0.5, 0.5])
    assert np.all(np.isfinite(G))


@pytest.mark.parametrize("kwargs, name", [
    ({"mu": np.full((3, 2), np.nan), "sigma": np.ones(3)}, "mu"),
    ({"mu": np.zeros((3, 2)), "sigma": np.array([1.0, 0.0, 1.0])}, "sigma"),
    ({"mu": np.zeros((3, 2)), "sigma": np.ones(3), "pred_var": [1.0, -1.0]}, "pred_mean/pred_var"),
])
def test_bad_inputs_raise_naming_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        gaussian_projections(**kwargs)
