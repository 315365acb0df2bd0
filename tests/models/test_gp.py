"""bayes_zoo.models.gp: the squared-exponential kernel, its hyperparameters and the input checks."""

from __future__ import annotations

import numpy as np
import pytest

from bayes_zoo.models import gp


def test_exp_quad_equals_pymc_expquad_with_ard_lengthscales():
    import pymc as pm

    rng = np.random.default_rng(0)
    X, Z = rng.normal(size=(7, 2)), rng.normal(size=(5, 2))
    ours = gp.exp_quad(X, Z, 1.7, [0.5, 2.0])
    theirs = (1.7**2 * pm.gp.cov.ExpQuad(2, ls=[0.5, 2.0]))(X, Z).eval()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


def test_exp_quad_is_symmetric_with_eta_squared_on_the_diagonal():
    X = np.linspace(0, 1, 6)
    K = gp.exp_quad(X, X, 0.8, 0.3)
    np.testing.assert_array_equal(K, K.T)
    np.testing.assert_allclose(np.diag(K), gp.exp_quad_diag(X, 0.8), rtol=0, atol=1e-15)


def test_exp_quad_matches_the_formula_elementwise():
    x, z = np.array([0.0, 1.0]), np.array([0.5])
    expected = 2.0**2 * np.exp(-((x[:, None] - z[None, :]) ** 2) / (2 * 0.7**2))
    np.testing.assert_allclose(gp.exp_quad(x, z, 2.0, 0.7), expected, rtol=1e-14)


@pytest.mark.parametrize("dims", [gp.DIRECT_MAX_DIMS, gp.DIRECT_MAX_DIMS + 4])  # summed directly; by a product
def test_exp_quad_matches_the_formula_in_many_dimensions(dims):
    rng = np.random.default_rng(dims)
    X, Z, ell = rng.normal(size=(9, dims)), rng.normal(size=(4, dims)), rng.uniform(0.5, 2.0, size=dims)
    expected = 1.3**2 * np.exp(-0.5 * (((X[:, None, :] - Z[None, :, :]) / ell) ** 2).sum(axis=2))
    np.testing.assert_allclose(gp.exp_quad(X, Z, 1.3, ell), expected, rtol=1e-12)


@pytest.mark.parametrize("dims", [3, gp.DIRECT_MAX_DIMS + 4])
def test_the_gram_matrix_of_one_input_set_computed_by_halves_is_the_general_kernel_and_exactly_symmetric(dims):
    X = np.random.default_rng(dims).normal(size=(150, dims))  # 150 rows: three mirroring tiles
    K = gp.exp_quad(X, X, 1.1, 0.8)  # the same object twice: the symmetric mode
    np.testing.assert_array_equal(K, K.T)
    np.testing.assert_allclose(K, gp.exp_quad(X, X.copy(), 1.1, 0.8), rtol=1e-13, atol=1e-15)


def test_the_compiled_kernel_refuses_an_output_of_the_wrong_shape():
    A, Bt = np.zeros((5, 2)), np.zeros((2, 3))
    with pytest.raises(ValueError, match="exp_quad_rows needs"):
        gp.exp_quad_rows(A, Bt, 1.0, np.empty((2, 2)))


@pytest.mark.parametrize("dims", [1, 3, gp.DIRECT_MAX_DIMS])
def test_the_gram_matrix_formed_by_columns_is_the_kernel_on_and_below_the_diagonal_and_leaves_the_rest(dims):
    # N = 300: three column blocks, the last one short; the strict upper triangle away from the diagonal
    # blocks is left as it was (NaN here): only what dpotrf (lower) reads is formed
    rng = np.random.default_rng(dims)
    X = rng.normal(size=(300, dims))
    ell = np.linspace(0.6, 1.4, dims)
    At = np.ascontiguousarray((X / ell).T)
    out = np.full((300, 300), np.nan, order="F")
    C = gp.exp_quad_columns(At, At, 1.3**2, out, lower=True, add_diagonal=0.25)
    assert C is out and C.flags.f_contiguous
    expected = gp.exp_quad(X, X, 1.3, ell) + 0.25 * np.eye(300)
    rows, cols = np.tril_indices(300)
    np.testing.assert_allclose(C[rows, cols], expected[rows, cols], rtol=4e-16, atol=0)
    block = gp.COLUMN_BLOCK
    far = np.triu(np.ones((300, 300), dtype=bool), 1) & (np.arange(300)[:, None] // block
                                                          < np.arange(300)[None, :] // block)
    assert np.isnan(C[far]).all() and far.sum() > 300 * 299 // 4
    np.testing.assert_allclose(gp.exp_quad_gram_lower(X, 1.3, ell, 0.25)[rows, cols], expected[rows, cols],
                               rtol=4e-16, atol=0)


@pytest.mark.parametrize("dims", [1, 3, gp.DIRECT_MAX_DIMS + 1])
def test_the_cross_covariance_formed_by_columns_is_the_kernel_fortran_ordered(dims):
    rng = np.random.default_rng(10 + dims)
    X1, X2 = rng.normal(size=(257, dims)), rng.normal(size=(130, dims))
    ell = np.linspace(0.6, 1.4, dims)
    K = gp.exp_quad_cross(X1, X2, 0.7, ell)
    assert K.shape == (257, 130) and K.flags.f_contiguous
    np.testing.assert_allclose(K, gp.exp_quad(X1, X2, 0.7, ell), rtol=4e-16, atol=0)


def test_the_gram_matrix_above_the_direct_dimensions_is_the_whole_symmetric_kernel():
    X = np.random.default_rng(3).normal(size=(40, gp.DIRECT_MAX_DIMS + 2))
    C = gp.exp_quad_gram_lower(X, 1.1, np.full(X.shape[1], 2.0), 0.5)
    assert C.flags.f_contiguous
    np.testing.assert_array_equal(C, gp.exp_quad(X, X, 1.1, 2.0) + 0.5 * np.eye(40))


def test_one_dimensional_inputs_become_a_column():
    assert gp.as_inputs([1.0, 2.0, 3.0]).shape == (3, 1)


@pytest.mark.parametrize(
    "X, message",
    [([[np.nan]], "^X: holds 1 non-finite"), (np.zeros((2, 2, 2)), "^X: expected shape"), ([], "^X: is empty"),
     ("abc", "^X: expected an array")],
)
def test_bad_inputs_are_named(X, message):
    with pytest.raises(ValueError, match=message):
        gp.as_inputs(X)


@pytest.mark.parametrize(
    "kwargs, name",
    [({"eta": 0.0}, "eta"), ({"eta": np.inf}, "eta"), ({"lengthscale": -1.0}, "lengthscale"),
     ({"lengthscale": [1.0, 0.0]}, "lengthscale"), ({"sigma": -0.1}, "sigma"), ({"sigma": np.nan}, "sigma")],
)
def test_hyperparameters_reject_bad_values_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        gp.GPHyperparameters(**{"eta": 1.0, "lengthscale": 1.0, "sigma": 0.1, **kwargs})


def test_ard_lengthscales_must_match_the_input_dimension():
    with pytest.raises(ValueError, match="^lengthscale: 2 ARD"):
        gp.exp_quad(np.zeros((3, 3)), np.zeros((2, 3)), 1.0, [1.0, 2.0])


# --------------------------------------------------------------------------------------------------------
# Training data, the hyperparameter prior and the PyMC builders
# --------------------------------------------------------------------------------------------------------


def _sine(n=10, seed=0):
    rng = np.random.default_rng(seed)
    X = np.sort(rng.uniform(0, 5, n))
    return X, np.sin(X) + 0.2 * rng.normal(size=n)


def test_pymc_jitter_is_pymcs_default():
    from pymc.gp.util import JITTER_DEFAULT

    assert gp.PYMC_JITTER == JITTER_DEFAULT


@pytest.mark.parametrize(
    "X, y, message",
    [(np.zeros(3), np.zeros(2), "^y: length 2 does not match X's 3 rows"), (np.zeros(2), [0.0, np.nan], "^y: holds"),
     (np.zeros(2), np.zeros((2, 1)), "^y: expected a 1-D"), ([np.inf, 0.0], np.zeros(2), "^X: holds")],
)
def test_check_data_names_the_bad_argument(X, y, message):
    with pytest.raises(ValueError, match=message):
        gp.check_data(X, y)


def test_conflicting_duplicates_pair_identical_inputs_whose_outputs_differ():
    # Each duplicate is paired with the first of its group; equal outputs, or inputs equal in one column
    # only, are no conflict.  Caught: comparing neighbouring rows only (duplicates apart are missed).
    assert gp.conflicting_duplicates([0.0, 0.0, 1.0], [0.0, 1.0, 0.5]) == [(0, 1)]
    assert gp.conflicting_duplicates([0.0, 0.0, 1.0], [1.0, 1.0, 0.5]) == []
    assert gp.conflicting_duplicates([1.0, 0.0, 1.0, 0.0, 1.0], [1.0, 2.0, 3.0, 2.0, 1.0]) == [(0, 2)]
    X = np.array([[0.0, 1.0], [0.0, 2.0], [0.0, 1.0]])
    assert gp.conflicting_duplicates(X, [1.0, 1.5, 2.0]) == [(0, 2)]


def test_prior_from_data_puts_one_percent_of_the_lengthscale_below_the_spacing_and_above_the_range():
    from scipy import stats

    X = np.linspace(0.0, 19.0, 20)  # spacing 1, range 19
    prior = gp.GPPrior.from_data(X, np.sin(X))
    ell = stats.invgamma(prior.ell_alpha, scale=prior.ell_beta)
    np.testing.assert_allclose([ell.cdf(1.0), ell.sf(19.0)], [0.01, 0.01], rtol=1e-8)


def test_prior_from_data_takes_a_tenth_of_the_range_when_the_inputs_are_few():
    from scipy import stats

    prior = gp.GPPrior.from_data([0.0, 2.0], [1.0, -1.0])  # spacing 2 = range
    ell = stats.invgamma(prior.ell_alpha, scale=prior.ell_beta)
    np.testing.assert_allclose([ell.cdf(0.2), ell.sf(2.0)], [0.01, 0.01], rtol=1e-8)


def test_prior_from_data_scales_eta_and_sigma_by_the_root_mean_square_of_y():
    prior = gp.GPPrior.from_data([0.0, 1.0, 2.0, 3.0], [3.0, -3.0, 3.0, -3.0])
    assert (prior.eta_sd, prior.sigma_sd) == (6.0, 3.0)


@pytest.mark.parametrize(
    "X, y, name", [(np.ones(4), np.arange(4.0), "X"), (np.arange(4.0), np.zeros(4), "y")],
    ids=["coincident-inputs", "zero-targets"],
)
def test_prior_from_data_refuses_data_without_a_scale_naming_it(X, y, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        gp.GPPrior.from_data(X, y)


@pytest.mark.parametrize("name", ["ell_alpha", "ell_beta", "eta_sd", "sigma_sd"])
def test_prior_rejects_a_non_positive_parameter_naming_it(name):
    values = {"ell_alpha": 3.0, "ell_beta": 2.0, "eta_sd": 1.0, "sigma_sd": 0.5}
    with pytest.raises(ValueError, match=f"^{name}:"):
        gp.GPPrior(**{**values, name: 0.0})


def test_prior_describes_every_hyperparameter():
    text = gp.GPPrior(3.0, 2.0, 1.0, 0.5).describe()
    assert "lengthscale ~ InverseGamma(3, 2)" in text and "eta ~ HalfNormal(1)" in text
    assert "sigma ~ HalfNormal(0.5)" in text


def test_marginal_model_has_the_three_hyperparameters_free_and_y_observed_over_obs():
    model = gp.build_marginal_model(*_sine())
    assert [v.name for v in model.free_RVs] == ["eta", "lengthscale", "sigma"]
    assert model.named_vars_to_dims["y"] == ("obs",) and len(model.coords["obs"]) == 10


def test_marginal_model_with_ard_has_one_lengthscale_per_input_dimension():
    X, y = _sine()
    model = gp.build_marginal_model(np.c_[X, X**2], y, ard=True)
    assert model.named_vars_to_dims["lengthscale"] == ("input",) and list(model.coords["input"]) == ["x0", "x1"]


def test_marginal_model_log_density_is_our_log_marginal_likelihood_plus_the_log_priors():
    from scipy import stats

    from bayes_zoo.inference.gp.exact import log_marginal_likelihood

    X, y = _sine()
    prior = gp.GPPrior.from_data(X, y)
    model = gp.build_marginal_model(X, y, prior)
    hyper = gp.GPHyperparameters(eta=0.9, lengthscale=1.3, sigma=0.25)
    point = {"eta_log__": np.log(hyper.eta), "lengthscale_log__": np.log(hyper.lengthscale),
             "sigma_log__": np.log(hyper.sigma)}
    expected = (log_marginal_likelihood(X, y, hyper, jitter=gp.PYMC_JITTER)
                + stats.halfnorm.logpdf(hyper.eta, scale=prior.eta_sd)
                + stats.invgamma.logpdf(hyper.lengthscale, prior.ell_alpha, scale=prior.ell_beta)
                + stats.halfnorm.logpdf(hyper.sigma, scale=prior.sigma_sd))
    assert model.compile_logp(jacobian=False)(point) == pytest.approx(expected, rel=1e-10)


def test_marginal_model_refuses_a_prior_of_another_kind():
    with pytest.raises(ValueError, match="^prior:"):
        gp.build_marginal_model(*_sine(), prior={"eta_sd": 1.0})


def test_latent_model_samples_rotated_f_and_exposes_f_over_obs():
    model = gp.build_latent_model(*_sine(), gp.GPHyperparameters(1.0, 1.0, 0.2))
    assert [v.name for v in model.free_RVs] == ["f_rotated_"]
    assert model.named_vars_to_dims["f"] == ("obs",) and "f" in {v.name for v in model.deterministics}


def test_latent_model_f_is_the_cholesky_factor_of_k_plus_jitter_times_rotated_f():
    X, y = _sine(n=6)
    hyper = gp.GPHyperparameters(1.2, 0.7, 0.2)
    model = gp.build_latent_model(X, y, hyper, jitter=1e-3)
    z = np.linspace(-1.0, 1.0, 6)
    f = model.compile_fn(model["f"], inputs=[model["f_rotated_"]], point_fn=False)(z)
    L = np.linalg.cholesky(gp.exp_quad(X, X, hyper.eta, hyper.lengthscale) + 1e-3 * np.eye(6))
    np.testing.assert_allclose(f, L @ z, rtol=1e-10)


def test_latent_model_refuses_the_noiseless_model_naming_hyper():
    with pytest.raises(ValueError, match="^hyper: the latent model needs sigma > 0"):
        gp.build_latent_model(*_sine(), gp.GPHyperparameters(1.0, 1.0, 0.0))


@pytest.mark.parametrize("builder", ["latent", "predict", "log_likelihood"])
def test_fixed_hyperparameter_builders_refuse_a_negative_jitter(builder):
    X, y = _sine()
    hyper = gp.GPHyperparameters(1.0, 1.0, 0.2)
    call = {
        "latent": lambda: gp.build_latent_model(X, y, hyper, jitter=-1.0),
        "predict": lambda: gp.pymc_marginal_predict(X, y, X, hyper, jitter=-1.0),
        "log_likelihood": lambda: gp.pymc_marginal_log_likelihood(X, y, hyper, jitter=-1.0),
    }[builder]
    with pytest.raises(ValueError, match="^jitter:"):
        call()


def test_simulate_dataset_draws_noisy_values_of_the_true_function_reproducibly():
    a, b = gp.simulate_dataset(7, n_train=500), gp.simulate_dataset(7, n_train=500)
    np.testing.assert_array_equal(a.arrays["y"], b.arrays["y"])
    residual = a.arrays["y"] - gp.true_function(a.arrays["X"][:, 0])
    assert abs(residual.std() - gp.SIMULATION_NOISE_SD) < 0.05
    np.testing.assert_array_equal(a.arrays["f_test"], gp.true_function(a.arrays["X_test"][:, 0]))


@pytest.mark.parametrize("kwargs, name", [({"n_train": 0}, "n_train"), ({"low": 1.0, "high": 0.0}, "high"),
                                          ({"noise_sd": 0.0}, "noise_sd"), ({"seed": -1}, "seed")])
def test_simulate_dataset_rejects_bad_settings_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        gp.simulate_dataset(**{"seed": 0, **kwargs})


def test_simulate_draws_f_from_the_gp_prior_with_pymcs_jitter_and_noisy_y():
    # The generative model SBC simulates from (Problem.simulate): f ~ N(0, K + jitter I), y = f + N(0, sigma^2).
    X = np.linspace(0.0, 5.0, 6)[:, None]
    template = {"X": X, "hyper": gp.GPHyperparameters(1.3, 0.8, 0.3), "kept": "as is"}
    truth, data = gp.simulate(np.random.default_rng(2), template)
    assert list(truth) == [f"f[{i}]" for i in range(6)] and data["kept"] == "as is" and "y" not in template
    again = gp.simulate(np.random.default_rng(2), template)
    assert again[0] == truth and np.array_equal(again[1]["y"], data["y"])
    f = np.array([gp.simulate(np.random.default_rng(s), template)[0]["f[0]"] for s in range(4000)])
    assert abs(f.std() - 1.3) < 0.05  # prior sd eta at one input
    ys = np.array([(lambda t, d: d["y"][0] - t["f[0]"])(*gp.simulate(np.random.default_rng(s), template))
                   for s in range(4000)])
    assert abs(ys.std() - 0.3) < 0.015
    with pytest.raises(ValueError, match="^data:"):
        gp.simulate(np.random.default_rng(0), {"X": X})
