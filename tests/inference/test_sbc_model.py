"""SBC from the PyMC model itself (bayes_zoo.inference.sbc_model): the joint test quantity, forward simulation,
NUTS compiled once, problems that pickle.

The builders and samplers live in this file; loky ships them by value (``cloudpickle.register_pickle_by_value``
below), as in test_sbc.py.
"""

from __future__ import annotations

import pickle
import sys

import cloudpickle
import numpy as np
import pytest
from scipy import stats

from bayes_zoo.inference import sbc_model
from bayes_zoo.inference.sbc import run_sbc, uniformity
from bayes_zoo.inference.sbc_model import (LOGLIK, NutsSide, add_loglik, forward_simulator, log_likelihood_function,
                                           model_sbc_problems)

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # loky workers need not import this file

# pumps-like Poisson-Gamma: exposure times t (covariate), failure counts y (observed)
PUMPS = {"t": np.array([94.3, 15.7, 62.9, 126.0, 5.24, 31.4, 1.05, 1.05, 2.1, 10.5]),
         "y": np.array([5, 1, 5, 14, 3, 19, 1, 1, 4, 22])}
PUMP_SHAPE, BETA_SHAPE, BETA_RATE = 1.8, 2.0, 1.0


def pumps(data):
    import pymc as pm

    with pm.Model(coords={"pump": [f"P{i + 1}" for i in range(len(data["y"]))]}) as model:
        beta = pm.Gamma("beta", BETA_SHAPE, BETA_RATE)
        theta = pm.Gamma("theta", PUMP_SHAPE, beta, dims="pump")
        pm.Poisson("y", mu=theta * data["t"], observed=data["y"], dims="pump")
    return model


# linear regression with an uncentred covariate and known noise: a and b strongly (negatively) correlated
PRIOR_SD, NOISE_SD = 2.0, 1.0
REGRESSION = {"x": np.linspace(4.0, 6.0, 10), "y": np.zeros(10)}


def regression(data):
    import pymc as pm

    with pm.Model() as model:
        a = pm.Normal("a", 0.0, PRIOR_SD)
        b = pm.Normal("b", 0.0, PRIOR_SD)
        pm.Normal("y", mu=a + b * data["x"], sigma=NOISE_SD, observed=data["y"])
    return model


def exact_regression(data, *, seed, draws, chains):
    """Independent draws from the conjugate Gaussian posterior of (a, b)."""
    X = np.column_stack([np.ones_like(data["x"]), data["x"]])
    precision = X.T @ X / NOISE_SD**2 + np.eye(2) / PRIOR_SD**2
    mean = np.linalg.solve(precision, X.T @ data["y"] / NOISE_SD**2)
    chol = np.linalg.cholesky(precision)
    z = np.random.default_rng(seed).standard_normal((chains, draws, 2))
    ab = mean + np.linalg.solve(chol.T, z[..., None])[..., 0]
    return {"a": ab[..., 0], "b": ab[..., 1]}


def permuted_regression(data, *, seed, draws, chains):
    """Right marginals, wrong joint: each chain's b draws shuffled independently of its a draws."""
    out = exact_regression(data, seed=seed, draws=draws, chains=chains)
    rng = np.random.default_rng([seed, 1])
    out["b"] = np.stack([rng.permutation(chain) for chain in out["b"]])
    return out


def without_b(data, *, seed, draws, chains):
    return {"a": exact_regression(data, seed=seed, draws=draws, chains=chains)["a"]}


def _scipy_pumps_loglik(theta, data):
    return stats.poisson.logpmf(data["y"], theta * data["t"]).sum(-1)


# ---------------------------------------------------------------------------------------------------------------
# log-likelihood


def test_loglik_equals_scipy_poisson_sum_at_random_constrained_points():
    f = log_likelihood_function(pumps, PUMPS)
    rng = np.random.default_rng(1)
    theta = rng.gamma(PUMP_SHAPE, 1.0, size=(2, 5, 10))
    got = f({"theta": theta, "beta": rng.gamma(2.0, 1.0, size=(2, 5))})
    assert got.shape == (2, 5)
    np.testing.assert_allclose(got, _scipy_pumps_loglik(theta, PUMPS), rtol=1e-12)
    assert f.variables == ["theta"]  # beta enters the likelihood only through theta


def test_loglik_on_new_data_matches_scipy_without_compiling_again(monkeypatch):
    from pytensor.compile.function.types import FunctionMaker

    f = log_likelihood_function(pumps, PUMPS)
    theta = np.random.default_rng(2).gamma(PUMP_SHAPE, 1.0, size=(7, 10))
    f({"theta": theta})  # compiles
    compiled = []
    original = FunctionMaker.__init__

    def counting(self, *args, **kwargs):
        compiled.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(FunctionMaker, "__init__", counting)
    new = {"t": PUMPS["t"][::-1].copy(), "y": np.arange(10)}
    np.testing.assert_allclose(f({"theta": theta}, new), _scipy_pumps_loglik(theta, new), rtol=1e-12)
    np.testing.assert_allclose(f({"theta": theta}), _scipy_pumps_loglik(theta, PUMPS), rtol=1e-12)  # back
    assert compiled == []


def regression_with_data_containers(data):
    import pymc as pm

    with pm.Model() as model:
        x = pm.Data("x", data["x"])
        a = pm.Normal("a", 0.0, PRIOR_SD)
        b = pm.Normal("b", 0.0, PRIOR_SD)
        pm.Normal("y", mu=a + b * x, sigma=NOISE_SD, observed=pm.Data("y_values", data["y"]))
    return model


def _scipy_regression_loglik(a, b, data):
    return stats.norm.logpdf(data["y"], a[..., None] + b[..., None] * data["x"], NOISE_SD).sum(-1)


def test_loglik_of_a_builder_with_pm_data_containers_follows_new_data():
    f = log_likelihood_function(regression_with_data_containers, REGRESSION)
    a, b = np.array([0.5, -1.0]), np.array([1.0, 2.0])
    new = {"x": np.linspace(0.0, 1.0, 10), "y": np.arange(10.0)}
    for data in (REGRESSION, new):
        np.testing.assert_allclose(f({"a": a, "b": b}, data), _scipy_regression_loglik(a, b, data), rtol=1e-12)


def test_loglik_loops_over_draws_where_the_graph_does_not_vectorise(monkeypatch):
    import pytensor.graph.replace

    def refuse(*args, **kwargs):
        raise NotImplementedError("no vectorised form")

    monkeypatch.setattr(pytensor.graph.replace, "vectorize_graph", refuse)
    f = log_likelihood_function(regression, REGRESSION)
    a, b = np.random.default_rng(11).normal(size=(2, 3, 4))
    np.testing.assert_allclose(f({"a": a, "b": b}), _scipy_regression_loglik(a, b, REGRESSION), rtol=1e-12)


def test_loglik_refuses_data_of_another_shape_naming_the_key():
    f = log_likelihood_function(pumps, PUMPS)
    with pytest.raises(ValueError, match="'y' has shape"):
        f({"theta": np.ones(10)}, {"y": np.ones(11, dtype=int)})


def test_add_loglik_adds_chain_draw_values_and_names_missing_variables():
    import arviz as az

    theta = np.random.default_rng(3).gamma(PUMP_SHAPE, 1.0, size=(2, 4, 10))
    idata = add_loglik(az.from_dict(posterior={"theta": theta}), pumps, PUMPS)
    assert idata.posterior[LOGLIK].dims == ("chain", "draw")
    np.testing.assert_allclose(idata.posterior[LOGLIK].values, _scipy_pumps_loglik(theta, PUMPS), rtol=1e-12)
    with pytest.raises(ValueError, match=r"my-sampler: the posterior lacks \['theta'\]"):
        add_loglik(az.from_dict(posterior={"beta": np.ones((2, 4))}), pumps, PUMPS, name="my-sampler")


# ---------------------------------------------------------------------------------------------------------------
# forward simulation


def test_forward_draws_have_the_prior_mean_and_data_distributed_as_the_likelihood():
    simulate = forward_simulator(pumps, PUMPS)
    rng = np.random.default_rng(4)
    runs = [simulate(rng) for _ in range(1500)]
    beta = np.array([truth["beta"] for truth, _ in runs])
    theta = np.array([[truth[f"theta[P{i + 1}]"] for i in range(10)] for truth, _ in runs])
    y = np.array([data["y"] for _, data in runs])

    def z(values, expected):  # z-score of a Monte Carlo mean, scaled by its standard error
        return (values.mean() - expected) / (values.std(ddof=1) / np.sqrt(values.size))

    assert abs(z(beta, BETA_SHAPE / BETA_RATE)) < 4
    assert abs(z((theta * beta[:, None]).ravel(), PUMP_SHAPE)) < 4  # theta * beta ~ Gamma(1.8, 1) given beta
    mu = theta * PUMPS["t"]
    standard = ((y - mu) / np.sqrt(mu)).ravel()  # Poisson(mu): mean 0, variance 1
    assert abs(z(standard, 0.0)) < 4 and abs(z(standard**2, 1.0)) < 4
    assert np.array_equal(runs[0][1]["t"], PUMPS["t"])  # covariates kept
    truth, data = runs[0]
    assert truth[LOGLIK] == pytest.approx(_scipy_pumps_loglik(theta[0], data), rel=1e-12)


def test_forward_simulator_same_seed_same_output_and_labels_follow_the_coords():
    simulate = forward_simulator(pumps, PUMPS)
    (t1, d1), (t2, d2) = simulate(np.random.default_rng(5)), simulate(np.random.default_rng(5))
    assert t1 == t2 and np.array_equal(d1["y"], d2["y"])
    assert simulate(np.random.default_rng(6))[0] != t1
    assert list(t1) == ["beta", *[f"theta[P{i + 1}]" for i in range(10)], LOGLIK] == simulate.labels()


# ---------------------------------------------------------------------------------------------------------------
# the joint test quantity catches what marginal ranks cannot


def test_permuted_joint_passes_marginal_ranks_and_fails_the_loglik_rank():
    problems = model_sbc_problems("regression", regression, REGRESSION,
                                  {"exact": exact_regression, "permuted": permuted_regression},
                                  nuts=False, draws=100, chains=2)
    verdicts = {}
    for side, problem in problems.items():
        result = run_sbc(problem, sims=100, seed=7)
        assert result.failures.empty
        table = uniformity(result, bins=10).set_index("quantity")
        verdicts[side] = table
    assert (verdicts["exact"]["verdict"] == "uniform").all()
    permuted = verdicts["permuted"]
    assert permuted.loc["a", "verdict"] == permuted.loc["b", "verdict"] == "uniform"
    assert permuted.loc[LOGLIK, "verdict"] == "non-uniform"
    assert permuted.loc[LOGLIK, "p_value"] < 1e-10


def test_a_side_without_a_free_variable_fails_each_simulation_naming_it():
    problem = model_sbc_problems("regression", regression, REGRESSION, {"no-b": without_b}, nuts=False,
                                 draws=100, chains=2)["no-b"]
    result = run_sbc(problem, sims=2, seed=0)
    assert len(result.failures) == 2
    assert "regression/no-b: the sampler's draws lack the free variables ['b']" in result.failures["error"][0]


# ---------------------------------------------------------------------------------------------------------------
# NUTS compiled once


@pytest.mark.parametrize("sampler", ["nutpie", "pymc"])
def test_compiled_once_nuts_reused_gives_a_fresh_runs_draws(sampler):
    """Both NUTS: the side compiled for other data, then given new data, draws what a fresh sample_nuts draws."""
    from bayes_zoo.inference.nuts import sample_nuts

    side = NutsSide(regression, REGRESSION, sampler=sampler)
    rng = np.random.default_rng(8)
    first = {"x": REGRESSION["x"], "y": rng.normal(3.0, 1.0, 10)}
    second = {"x": REGRESSION["x"], "y": rng.normal(-2.0, 1.0, 10) + REGRESSION["x"]}
    # warm-up past the mass matrix's first adaptation window (50 discarded + 101)
    side(first, seed=1, draws=60, chains=2, warmup=200)  # adapts a step size and mass matrix to other data
    reused = side(second, seed=2, draws=60, chains=2, warmup=200)
    fresh = sample_nuts(regression(second), draws=60, tune=200, chains=2, seed=2, log_likelihood=False,
                        posterior_predictive=False, sampler=sampler)
    assert fresh.posterior.attrs["nuts_sampler"] == sampler
    for name in ("a", "b"):
        assert reused[name].shape == (2, 60)
        np.testing.assert_array_equal(reused[name], fresh.posterior[name].values)


@pytest.mark.slow
def test_compiled_once_nuts_side_is_calibrated_at_small_size():
    """About 30 s on 2 busy cores (a, b correlated -0.99: long trajectories under a diagonal mass matrix)."""
    problem = model_sbc_problems("regression", regression, REGRESSION, {}, draws=150, chains=2, warmup=150)["nuts"]
    result = run_sbc(problem, sims=60, seed=9, kept=19)
    assert result.failures.empty
    table = uniformity(result, bins=4)
    assert list(table["quantity"]) == ["a", "b", LOGLIK]
    assert (table["verdict"] == "uniform").all(), table


# ---------------------------------------------------------------------------------------------------------------
# pickling


def test_problems_pickle_without_compiled_state_and_still_run():
    problem = model_sbc_problems("pumps", pumps, PUMPS, {}, draws=20, chains=2, warmup=20)["nuts"]
    problem.simulate(np.random.default_rng(0))  # compiles here
    blob = cloudpickle.dumps(problem)
    assert len(blob) < 100_000  # builder, data and tokens; no compiled function
    copy = pickle.loads(blob)
    truth, data = copy.simulate(np.random.default_rng(0))
    assert truth == problem.simulate(np.random.default_rng(0))[0]
    draws = copy.sample(data, 3)
    assert set(draws) == set(truth) and all(v.shape == (2, 20) for v in draws.values())


@pytest.mark.slow
def test_two_loky_workers_give_the_same_ranks_as_one_process():
    problem = model_sbc_problems("regression", regression, REGRESSION, {"exact": exact_regression}, nuts=False,
                                 draws=100, chains=2)["exact"]
    one = run_sbc(problem, sims=12, seed=10, jobs=1)
    two = run_sbc(problem, sims=12, seed=10, jobs=2)
    assert one.failures.empty and two.failures.empty
    assert one.ranks.equals(two.ranks)


def test_module_keeps_compiled_state_out_of_the_pickled_objects():
    simulate = forward_simulator(regression, REGRESSION)
    simulate(np.random.default_rng(0))
    assert set(vars(simulate)) == {"build", "data", "token", "loglik"}
    assert (("forward", simulate.token) in sbc_model._CACHE)


def zero_mean_normal(data):
    import pymc as pm

    with pm.Model() as model:
        sigma = pm.HalfNormal("sigma", 1.0)
        pm.Normal("y", mu=np.zeros(len(data["y"])), sigma=sigma, observed=data["y"])
    return model


def test_a_zero_template_of_the_data_does_not_capture_a_zero_mean_vector():
    f = log_likelihood_function(zero_mean_normal, {"y": np.zeros(5)})
    new = {"y": np.arange(5.0)}
    np.testing.assert_allclose(f({"sigma": np.array([0.5, 2.0])}, new),
                               stats.norm.logpdf(new["y"], 0.0, np.array([[0.5], [2.0]])).sum(-1), rtol=1e-12)


def test_a_changed_covariate_compiled_in_as_a_constant_is_refused_naming_it():
    def scaled(data):
        import pymc as pm

        with pm.Model() as model:
            a = pm.Normal("a", 0.0, 1.0)
            pm.Normal("y", mu=a * data["scale"], sigma=1.0, observed=data["y"])
        return model

    f = log_likelihood_function(scaled, {"y": np.zeros(3), "scale": 2.0})
    f({"a": np.zeros(2)}, {"y": np.ones(3), "scale": 2.0})  # unchanged: fine
    with pytest.raises(ValueError, match="'scale' differs"):
        f({"a": np.zeros(2)}, {"y": np.ones(3), "scale": 3.0})


def test_threads_sharing_one_compiled_loglik_each_get_their_own_datas_values():
    from concurrent.futures import ThreadPoolExecutor

    f = log_likelihood_function(regression, REGRESSION)
    a, b = np.random.default_rng(12).normal(size=(2, 50))
    f({"a": a, "b": b})  # compiled before the threads start
    datasets = [{"x": REGRESSION["x"], "y": np.full(10, float(k))} for k in range(8)]

    def check(data):
        return all(np.allclose(f({"a": a, "b": b}, data), _scipy_regression_loglik(a, b, data), rtol=1e-12)
                   for _ in range(40))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: a race shows at once
    try:
        with ThreadPoolExecutor(4) as pool:
            assert all(pool.map(check, datasets))
    finally:
        sys.setswitchinterval(interval)


def flat_theta(data, *, seed, draws, chains):
    return {"beta": np.ones((chains, draws)), "theta": np.ones((chains, draws, 5))}


def test_a_side_whose_draws_have_the_wrong_shape_fails_naming_the_variable():
    problem = model_sbc_problems("pumps", pumps, PUMPS, {"short": flat_theta}, nuts=False, draws=20, chains=2)["short"]
    with pytest.raises(ValueError, match=r"pumps/short: draws of \['theta'\] have shapes \[\(5,\)\].*\[\(10,\)\]"):
        problem.sample(PUMPS, 0)


def test_a_model_with_initial_values_gets_its_loglik_and_keeps_its_start():
    # PyMC refuses to convert a model with initval= (an ordered transform needs a valid start): the conversion
    # sets them aside and gives them back, so loglik works and NUTS's start is still the user's.
    import pymc as pm
    from scipy import stats

    def build(data):
        with pm.Model() as m:
            mu = pm.Normal("mu", [0.0, 3.0], 1.0, transform=pm.distributions.transforms.ordered, initval=[0.5, 2.0])
            pm.Normal("y", mu.sum(), 1.0, observed=data["y"])
        return m

    data = {"y": np.array([1.0, 2.0, 3.0])}
    got = sbc_model.log_likelihood_function(build, data)({"mu": np.array([[0.5, 1.0]])})
    np.testing.assert_allclose(got, [stats.norm(1.5, 1.0).logpdf(data["y"]).sum()], rtol=1e-12)
    state = sbc_model._shared_model(build, data)
    np.testing.assert_allclose(state.shared_model.initial_point()["mu_ordered__"], [0.5, np.log(1.5)])
    assert build(data).rvs_to_initial_values  # the builder's own model untouched
