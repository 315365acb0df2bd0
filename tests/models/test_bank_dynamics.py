"""bayes_zoo.models.bank_dynamics: the HMMs' and ODEs' log densities at posteriordb's reference draws against
straightforward NumPy versions of the Stan programs, the RK4 solutions against SciPy, the free variables against
the reference draws', the tree-ordered forward algorithm against the recursion, and the data checks.  No NUTS."""

from __future__ import annotations

import numpy as np
import pytest
from pytensor.compile.mode import get_mode
from scipy import stats
from scipy.integrate import solve_ivp
from scipy.special import logsumexp

from bayes_zoo.models import bank, bank_dynamics as bd, posteriordb

POSTERIORS = {
    "hmm_example": "hmm_example-hmm_example",
    "hmm_drive_0": "bball_drive_event_0-hmm_drive_0",
    "hmm_drive_1": "bball_drive_event_1-hmm_drive_1",
    "lotka_volterra": "hudson_lynx_hare-lotka_volterra",
    "one_comp_mm_elim_abs": "one_comp_mm_elim_abs-one_comp_mm_elim_abs",
}
HMMS = ("hmm_example", "hmm_drive_0", "hmm_drive_1")
ODES = ("lotka_volterra", "one_comp_mm_elim_abs")
#: The RK4 solutions' largest relative difference from SciPy's (rtol 1e-10) allowed at the sampled draws.
ODE_RTOL = 1e-6
#: PyTensor's Python implementations (no C compilation in this file), with the rewrite that makes logsumexp
#: stable (all the standard modes but FAST_COMPILE apply it; the HMMs' densities need it: -inf without).
_MODE = get_mode("FAST_COMPILE").including("local_log_sum_exp")


def _data(model_name: str) -> dict:
    post = posteriordb.load(POSTERIORS[model_name])
    return bank.bank_data(bank.model_for(model_name), post.data)


def _model(model_name: str):
    return bank.model_for(model_name).builder()(_data(model_name))


def _draws(model_name: str, count: int, seed: int = 0) -> list[dict]:
    """``count`` reference draws spread over the 10 chains: {name: value} each."""
    arrays = posteriordb.reference_arrays(POSTERIORS[model_name])
    flat = {k: v.reshape(-1, *v.shape[2:]) for k, v in arrays.items()}
    picks = np.random.default_rng(seed).choice(len(next(iter(flat.values()))), count, replace=False)
    return [{k: v[i] for k, v in flat.items()} for i in picks]


def _model_log_density(model, draws: list[dict]) -> np.ndarray:
    """The model's log density (no Jacobians: the constrained variables' density) at each draw."""
    from pymc.model.transform.conditioning import remove_value_transforms

    plain = remove_value_transforms(model)
    logp = plain.compile_fn(plain.logp(jacobian=False), mode=_MODE)
    return np.array([logp({rv.name: np.asarray(d[rv.name], dtype=float) for rv in plain.free_RVs}) for d in draws])


# ---------------------------------------------------------------------------------------- NumPy versions of Stan's
def _forward(log_emission: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Stan's loops, for a batch of draws: ``gamma[1, k] = E[1, k]``, ``gamma[t, k] = log_sum_exp_j(gamma[t-1, j] +
    log theta[j, k] + E[t, k])``, the result ``log_sum_exp(gamma[N])``; ``log_emission`` ``[draws, N, K]``, ``theta``
    ``[draws, K, K]`` (``[j, k]``: from j to k)."""
    _, n, k = log_emission.shape
    gamma = log_emission[:, 0, :]
    for t in range(1, n):
        gamma = np.stack([logsumexp(gamma + np.log(theta[:, :, kk]) + log_emission[:, t, None, kk], axis=1)
                          for kk in range(k)], axis=1)
    return logsumexp(gamma, axis=1)


def _normal(x, mu, sd):
    return -0.5 * np.log(2 * np.pi) - np.log(sd) - 0.5 * ((x - mu) / sd) ** 2


def _stan_hmm(model_name: str, data: dict, draws: list[dict]) -> np.ndarray:
    """Stan's target at each draw (the statements of the model block, constants kept)."""
    d = {k: np.stack([draw[k] for draw in draws]) for k in draws[0]}  # [draws, ...]
    theta = np.stack([d["theta1"], d["theta2"]], axis=1)  # [draws, K, K]: theta[1] = theta1, theta[2] = theta2
    if model_name == "hmm_example":
        mu, y = d["mu"], data["y"]
        target = _normal(mu[:, 0], 3, 1) + _normal(mu[:, 1], 10, 1)  # theta: no statement (uniform on the simplex)
        emission = np.stack([_normal(y[None, :], mu[:, k, None], 1.0) for k in range(2)], axis=-1)
        return target + _forward(emission, theta)
    alpha, u, v, phi, lam = data["alpha"], data["u"][None, :], data["v"][None, :], d["phi"], d["lambda"]
    target = sum(np.array([stats.dirichlet.logpdf(row, alpha[k, :]) for row in theta[:, k]]) for k in range(2))
    target += _normal(phi[:, 0], 0, 1) + _normal(phi[:, 1], 3, 1) + _normal(lam[:, 0], 0, 1) + _normal(lam[:, 1], 3, 1)
    if model_name == "hmm_drive_0":  # exponential_lpdf(x | rate) = log(rate) - rate x
        emission = np.stack([np.log(phi[:, k, None]) - phi[:, k, None] * u + np.log(lam[:, k, None])
                             - lam[:, k, None] * v for k in range(2)], axis=-1)
    else:
        emission = np.stack([_normal(u, phi[:, k, None], data["tau"]) + _normal(v, lam[:, k, None], data["rho"])
                             for k in range(2)], axis=-1)
    return target + _forward(emission, theta)


def _lv_rhs(t, z, a, b, g, dd):
    return [(a - b * z[1]) * z[0], (-g + dd * z[0]) * z[1]]


def _pk_rhs(t, c, ka, km, vm, dose, volume):
    return [(np.exp(-ka * t) * dose * ka / volume if t > 0 else 0.0) - vm / volume * c[0] / (km + c[0])]


def _scipy_solution(model_name: str, data: dict, d: dict) -> np.ndarray:
    """SciPy's solution at the measurement times: ``[N, 2]`` (LV) or ``[N]`` (PK)."""
    if model_name == "lotka_volterra":
        sol = solve_ivp(_lv_rhs, (0.0, float(data["ts"][-1])), d["z_init"], t_eval=data["ts"], args=tuple(d["theta"]),
                        method="DOP853", rtol=1e-10, atol=1e-10)
        return sol.y.T
    times = data["times"].astype(float)
    sol = solve_ivp(_pk_rhs, (float(data["t0"]), times[-1]), [0.0], t_eval=times, method="LSODA", rtol=1e-10,
                    atol=1e-10, args=(d["k_a"], d["K_m"], d["V_m"], float(data["D"]), float(data["V"])))
    return sol.y[0]


def _rk4_numpy(model_name: str, data: dict, d: dict) -> np.ndarray:
    """RK4 on the model's own grid, as a plain loop: the solution the model's density should use."""
    if model_name == "lotka_volterra":
        nodes, at = bd.ode_grid(0.0, data["ts"], bd.LV_STEP)
        f = lambda t, y: np.array(_lv_rhs(t, y, *d["theta"]))  # noqa: E731
        y = np.array(d["z_init"], dtype=float)
    else:
        nodes, at = bd.ode_grid(float(data["t0"]), data["times"], bd.PK_STEP, bd.PK_GRADED)
        args = (d["k_a"], d["K_m"], d["V_m"], float(data["D"]), float(data["V"]))
        f = lambda t, y: np.array([np.exp(-args[0] * t) * args[3] * args[0] / args[4]  # noqa: E731
                                   - args[2] / args[4] * y[0] / (args[1] + y[0])])
        y = np.zeros(1)
    path = [y]
    for t, h in zip(nodes[:-1], np.diff(nodes)):
        k1 = f(t, y)
        k2 = f(t + h / 2, y + h / 2 * k1)
        k3 = f(t + h / 2, y + h / 2 * k2)
        k4 = f(t + h, y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        path.append(y)
    out = np.array(path)[at]
    return out if model_name == "lotka_volterra" else out[:, 0]


def _lognormal(x, log_median, sd):
    return _normal(np.log(x), log_median, sd) - np.log(x)


def _stan_ode(model_name: str, data: dict, d: dict, solution: np.ndarray) -> float:
    if model_name == "lotka_volterra":
        theta, z_init, sigma = d["theta"], d["z_init"], d["sigma"]
        target = _normal(theta[[0, 2]], 1, 0.5).sum() + _normal(theta[[1, 3]], 0.05, 0.05).sum()
        target += _lognormal(sigma, -1, 1).sum() + _lognormal(z_init, np.log(10), 1).sum()
        for k in range(2):
            target += _lognormal(data["y_init"][k], np.log(z_init[k]), sigma[k])
            target += _lognormal(data["y"][:, k], np.log(solution[:, k]), sigma[k]).sum()
        return float(target)
    half_cauchy = sum(stats.cauchy.logpdf(d[k], 0, 1) for k in ("k_a", "K_m", "V_m", "sigma"))
    return float(half_cauchy + _lognormal(data["C_hat"], np.log(solution), d["sigma"]).sum())


# ------------------------------------------------------------------------------------------------------ tests
@pytest.mark.parametrize("model_name", HMMS)
def test_hmm_log_density_at_reference_draws_is_the_stan_programs_up_to_a_constant(model_name):
    data, model = _data(model_name), _model(model_name)
    draws = _draws(model_name, 20)
    ours = _model_log_density(model, draws)
    stan = _stan_hmm(model_name, data, draws)
    diff = ours - stan
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(diff - diff[0], 0.0, atol=1e-8)
    assert np.ptp(stan) > 1.0  # the draws differ enough for the identity to mean something


@pytest.mark.parametrize("model_name", HMMS)
def test_hmm_log_density_on_short_random_series_is_the_stan_programs_up_to_a_constant(model_name):
    # The reference data can hide an indexing bug: hmm_drive_1's emissions are so sharp that the states are
    # known, and its path switches 1 -> 2 as often as 2 -> 1, so theta and its transpose give one likelihood.
    # Short series with overlapping emissions at random parameter values cannot.
    rng = np.random.default_rng(7)
    n = 7
    data = {"N": np.array(n), "K": np.array(2), "y": rng.normal(5.0, 3.0, n), "u": rng.exponential(1.0, n),
            "v": rng.exponential(2.0, n), "alpha": np.array([[4.0, 2.0], [2.0, 4.0]]), "tau": np.array(0.7),
            "rho": np.array(1.3)}
    if model_name == "hmm_drive_1":
        data["u"], data["v"] = rng.normal(1.0, 1.0, n), rng.normal(2.0, 1.5, n)
    data = bank.bank_data(bank.model_for(model_name), data)
    model = bank.model_for(model_name).builder()(data)
    draws = []
    for _ in range(10):
        draw = {"theta1": rng.dirichlet([1.0, 1.0]), "theta2": rng.dirichlet([1.0, 1.0])}
        for var in ("mu",) if model_name == "hmm_example" else ("phi", "lambda"):
            draw[var] = np.sort(rng.uniform(0.2, 4.0, 2) if model_name != "hmm_drive_1" else rng.normal(1.5, 1.5, 2))
        draws.append(draw)
    diff = _model_log_density(model, draws) - _stan_hmm(model_name, data, draws)
    np.testing.assert_allclose(diff - diff[0], 0.0, atol=1e-10)


@pytest.mark.parametrize("model_name", ODES)
def test_ode_rk4_solution_at_reference_draws_matches_scipy(model_name):
    data, model = _data(model_name), _model(model_name)
    draws = _draws(model_name, 10, seed=1)
    name = "z" if model_name == "lotka_volterra" else "C"
    from pymc.model.transform.conditioning import remove_value_transforms

    plain = remove_value_transforms(model)
    solve = plain.compile_fn(plain.replace_rvs_by_values([plain[name]])[0], inputs=plain.value_vars, mode=_MODE,
                             on_unused_input="ignore")
    for d in draws:
        ours = solve({rv.name: np.asarray(d[rv.name], dtype=float) for rv in plain.free_RVs})
        reference = _scipy_solution(model_name, data, d)
        np.testing.assert_allclose(ours, reference, rtol=ODE_RTOL, atol=0)
        np.testing.assert_allclose(ours, _rk4_numpy(model_name, data, d), rtol=1e-12, atol=0)


@pytest.mark.parametrize("model_name", ODES)
def test_ode_log_density_at_reference_draws_is_the_stan_programs_up_to_a_constant(model_name):
    data, model = _data(model_name), _model(model_name)
    draws = _draws(model_name, 10, seed=2)
    ours = _model_log_density(model, draws)
    stan = np.array([_stan_ode(model_name, data, d, _rk4_numpy(model_name, data, d)) for d in draws])
    diff = ours - stan
    np.testing.assert_allclose(diff - diff[0], 0.0, atol=1e-8)
    # with SciPy's solution instead of RK4's, the difference moves by no more than the solver's error allows
    exact = np.array([_stan_ode(model_name, data, d, _scipy_solution(model_name, data, d)) for d in draws])
    np.testing.assert_allclose(ours - exact - diff[0], 0.0, atol=1e-3)
    assert np.ptp(stan) > 1.0


@pytest.mark.parametrize("model_name", list(POSTERIORS))
def test_free_variables_are_the_reference_draws_with_their_shapes_and_one_based_labels(model_name):
    post = posteriordb.load(POSTERIORS[model_name])
    model = _model(model_name)
    assert {rv.name for rv in model.free_RVs} == set(post.dimensions)
    arrays = posteriordb.reference_arrays(POSTERIORS[model_name])
    assert np.isfinite(model.compile_fn(model.logp(), mode=_MODE)(model.initial_point()))  # NUTS's start
    shapes = model.eval_rv_shapes()
    for rv in model.free_RVs:
        assert shapes[rv.name] == arrays[rv.name].shape[2:], rv.name
        for dim in model.named_vars_to_dims.get(rv.name) or ():
            assert list(model.coords[dim]) == list(range(1, len(model.coords[dim]) + 1))
    assert bank.model_for(model_name).kind == ("ODE" if model_name in ODES else "hidden Markov model")
    assert bank.model_for(model_name).departs


def test_every_dynamic_model_is_in_the_bank():
    assert {m.name for m in bd.MODELS} == set(POSTERIORS)
    assert all(bank.MODELS[m.name] is m for m in bd.MODELS)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 12])
def test_tree_ordered_forward_algorithm_is_the_sequential_recursion(n):
    import pytensor
    import pytensor.tensor as pt

    rng = np.random.default_rng(n)
    k = 3
    emission = rng.normal(scale=3.0, size=(n, k))
    theta = rng.dirichlet(np.ones(k), size=k)
    E, T = pt.matrix("E"), pt.matrix("T")
    f = pytensor.function([E, T], bd.hmm_log_likelihood(E, pt.log(T), n), mode=_MODE, on_unused_input="ignore")
    assert f(emission, theta) == pytest.approx(_forward(emission[None], theta[None])[0], rel=1e-13)


def test_hmm_log_likelihood_refuses_a_length_that_is_not_a_positive_integer():
    import pytensor.tensor as pt

    with pytest.raises(ValueError, match="n: expected a positive integer"):
        bd.hmm_log_likelihood(pt.matrix(), pt.matrix(), 0)


@pytest.mark.parametrize("model_name,var,positive", [("hmm_example", "mu", True), ("hmm_drive_0", "phi", True),
                                                     ("hmm_drive_1", "lambda", False)])
def test_ordered_priors_draw_inside_their_cone_and_start_there(model_name, var, positive):
    import pymc as pm

    model = _model(model_name)
    draws = pm.draw(model[var], draws=300, random_seed=3)
    assert np.all(np.diff(draws, axis=-1) > 0)
    assert not positive or np.all(draws[:, 0] > 0)
    from pymc.model.transform.conditioning import remove_value_transforms

    start = remove_value_transforms(model).initial_point()[var]  # the support point, on the constrained scale
    assert np.all(np.diff(start) > 0) and (not positive or start[0] > 0)


@pytest.mark.parametrize("model_name", HMMS)
def test_hmm_prior_predictive_draws_whole_series_in_the_data_shape(model_name):
    import pymc as pm

    model = _model(model_name)
    observed = model.observed_RVs[0]
    draws = pm.draw(observed, draws=3, random_seed=5)
    data = _data(model_name)
    assert draws.shape == (3, *np.shape(data[observed.name])) and np.all(np.isfinite(draws))
    assert model_name != "hmm_drive_0" or np.all(draws > 0)  # exponential emissions


def test_hmm_simulator_draws_the_first_state_uniformly_and_follows_the_transitions():
    rng = np.random.default_rng(4)
    theta = np.array([[0.9, 0.1], [0.3, 0.7]])
    z = np.array([bd.simulate_hmm(rng, theta, lambda r, states: states, 2) for _ in range(4000)])
    assert np.mean(z[:, 0] == 0) == pytest.approx(0.5, abs=0.03)
    for j in range(2):
        assert np.mean(z[z[:, 0] == j, 1] == 0) == pytest.approx(theta[j, 0], abs=0.04)


def test_ode_grid_passes_through_the_measurement_times_and_grades_the_first_interval():
    nodes, at = bd.ode_grid(0.0, [0.5, 1.0, 2.0], 0.25, graded=(4, 2))
    np.testing.assert_allclose(nodes[:5], 0.5 * (np.arange(5) / 4) ** 2)
    np.testing.assert_array_equal(nodes[at], [0.5, 1.0, 2.0])
    assert np.all(np.diff(nodes) <= 0.25 + 1e-12)
    with pytest.raises(ValueError, match="increase strictly"):
        bd.ode_grid(0.0, [1.0, 1.0], 0.1)
    with pytest.raises(ValueError, match="increase strictly"):
        bd.ode_grid(1.0, [0.5, 2.0], 0.1)
    with pytest.raises(ValueError, match="step"):
        bd.ode_grid(0.0, [1.0], 0.0)


@pytest.mark.parametrize("model_name,change,message", [
    ("hmm_example", {"K": np.array(3)}, "K must be 2"),
    ("hmm_example", {"y": np.zeros(5)}, "y must be a vector of length"),
    ("hmm_drive_0", {"u": -np.ones(416), "uv": np.column_stack([-np.ones(416), np.ones(416)])}, "u must be >= 0"),
    ("hmm_drive_1", {"uv": np.zeros((416, 2))}, "uv must be the columns u and v"),
    ("hmm_drive_1", {"tau": np.array(0.0)}, "tau and rho must be positive"),
    ("lotka_volterra", {"ts": np.arange(20.0)}, "increase strictly"),
    ("lotka_volterra", {"y": np.zeros((20, 2))}, "y must be a positive"),
    ("one_comp_mm_elim_abs", {"t0": np.array(-1.0)}, "t0 must be >= 0"),
    ("one_comp_mm_elim_abs", {"C_hat": -np.ones(20)}, "C_hat must be positive"),
])
def test_builders_refuse_malformed_data_naming_it(model_name, change, message):
    data = {**_data(model_name), **change}
    with pytest.raises(ValueError, match=message):
        bank.model_for(model_name).builder()(data)
