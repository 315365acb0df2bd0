"""bayes_zoo.problem: declarations (options, sides, planted bugs) and the harness's conversions and checks."""

from __future__ import annotations

from typing import NamedTuple

import arviz as az
import numpy as np
import pytest

from bayes_zoo import checking
from bayes_zoo.problem import Option, Problem, Side, as_inference_data, call_side, check_result
from bayes_zoo.registry import RunSettings


def _sampler(data, *, seed, draws, chains):
    return {"mu": np.random.default_rng(seed).normal(size=(chains, draws))}


def _positive(value):
    if value <= 0:
        raise ValueError(f"must be > 0, got {value}")
    return float(value)


# -- options ----------------------------------------------------------------------------------------------------

def test_an_option_is_one_declaration_flag_default_quick_value_and_check():
    option = Option("spike_var", 1e-3, "spike variance", check=_positive, quick=1e-2)
    assert option.flag == "--spike-var"
    assert option.value() == 1e-3 and option.value(quick=True) == 1e-2 and option.value(2) == 2.0
    with pytest.raises(ValueError, match=r"^spike_var: must be > 0, got -1"):
        option.value(-1)


def test_a_problem_refuses_an_option_it_does_not_declare_naming_it():
    problem = Problem("p", data={}, sides={"a": _sampler}, variables=("mu",),
                      options=(Option("n", 3, "n", check=_positive),))
    assert problem.resolve_options({}) == {"n": 3.0}
    with pytest.raises(ValueError, match=r"options: \['m'\] are not options of 'p'"):
        problem.resolve_options({"m": 1})


def test_an_option_declared_twice_is_refused():
    with pytest.raises(ValueError, match=r"^options: declared twice: \['n'\]"):
        Problem("p", data={}, sides={"a": _sampler}, options=(Option("n", 1, "a"), Option("n", 2, "b")))


# -- sides and planted bugs -------------------------------------------------------------------------------------

def test_a_users_data_given_as_lists_reach_the_samplers_as_arrays():
    data = Problem("p", data={"y": [1, 2, 3], "n": 3}, sides={"a": _sampler}, variables=("mu",)).load()
    assert isinstance(data["y"], np.ndarray) and data["y"].tolist() == [1, 2, 3] and data["n"] == 3


def test_a_side_may_not_take_the_exact_references_name():
    with pytest.raises(ValueError, match="^sides: the name 'exact' is reserved"):
        Problem("p", data={}, sides={"exact": _sampler})


def test_a_model_adds_a_nuts_side_unless_the_problem_declares_one():
    def model(data):
        return None

    assert list(Problem("p", data={}, model=model, sides={"gibbs": _sampler}).sides) == ["gibbs", "nuts"]
    assert list(Problem("p", data={}, model=model, sides={"gibbs": _sampler}, nuts=False).sides) == ["gibbs"]


def test_a_planted_bug_is_a_side_that_replaces_the_one_it_names():
    def buggy(data, *, seed, draws, chains):
        return {"mu": np.ones((chains, draws))}

    problem = Problem("p", data={}, sides={"gibbs": _sampler}, variables=("mu",), bugs={"ones": ("gibbs", buggy)})
    planted = problem.with_bug("ones")
    assert planted.name == "p/ones" and planted.sides["gibbs"].sample is buggy and not planted.bugs
    with pytest.raises(ValueError, match=r"^bug: 'p' has no planted bug 'nope' \(planted bugs: \['ones'\]\)"):
        problem.with_bug("nope")
    with pytest.raises(ValueError, match=r"^bugs\['x'\]"):
        Problem("p", data={}, sides={"gibbs": _sampler}, bugs={"x": ("other", buggy)})


def test_a_side_is_called_with_only_the_keywords_its_signature_names():
    seen = {}

    def with_warmup(data, *, seed, draws, chains, warmup, thin=1):
        seen.update(seed=seed, draws=draws, chains=chains, warmup=warmup, thin=thin)
        return {"mu": np.zeros((chains, draws))}

    call_side(Side(with_warmup), {}, RunSettings(draws=7, chains=2, warmup=3, seed=5), {"thin": 4, "other": 9})
    assert seen == {"seed": 5, "draws": 7, "chains": 2, "warmup": 3, "thin": 4}
    with pytest.raises(ValueError, match="must accept the keyword arguments seed, draws and chains"):
        call_side(Side(lambda data, seed: None), {}, RunSettings())


# -- results ----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pumps_model():
    import pymc as pm

    with pm.Model(coords={"pump": [1, 2, 3]}) as model:
        beta = pm.Gamma("beta", 0.1, 1.0)
        pm.Gamma("theta", 1.8, beta, dims="pump")
    return model


def test_a_dict_result_takes_the_models_dims_and_coordinates(pumps_model):
    idata = as_inference_data({"beta": np.ones((2, 5)), "theta": np.ones((2, 5, 3))}, pumps_model)
    assert idata.posterior["theta"].dims == ("chain", "draw", "pump")
    assert idata.posterior["pump"].values.tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match=r"result\['beta'\]: expected an array of shape \(chains, draws, ...\)"):
        as_inference_data({"beta": np.ones(5)}, pumps_model)


@pytest.mark.parametrize("result, message", [
    ({"theta": np.ones((2, 5, 3))}, "gibbs lacks variable(s) ['beta']"),
    ({"beta": np.ones((2, 5)), "theta": np.ones((2, 5, 4))}, "gibbs: theta has shape (4,) per draw, the model's is (3,)"),
])
def test_every_mismatch_with_the_model_is_named(pumps_model, result, message):
    problems = check_result("gibbs", az.from_dict(posterior=result), pumps_model, ["beta", "theta"])
    assert any(message in p for p in problems), problems


def test_matching_results_have_no_mismatch(pumps_model):
    idata = as_inference_data({"beta": np.ones((2, 5)), "theta": np.ones((2, 5, 3))}, pumps_model)
    assert check_result("gibbs", idata, pumps_model, ["beta", "theta"]) == []


# -- init/step samplers -----------------------------------------------------------------------------------------

class _State(NamedTuple):
    mu: float
    """The chain's current value."""


def _init(data, rng):
    return _State(0.0)


def _step(rng, state, data):  # an AR(1) chain whose stationary law is N(0, 1)
    return _State(0.5 * state.mu + np.sqrt(0.75) * rng.standard_normal()), {"accepted": True}


def test_an_init_step_pair_is_driven_into_chains_of_draws_after_warmup():
    sample = checking.from_kernel(_init, _step)
    first = sample({}, seed=3, draws=400, chains=3, warmup=50)
    assert first["mu"].shape == (3, 400)
    assert np.array_equal(first["mu"], sample({}, seed=3, draws=400, chains=3, warmup=50)["mu"])
    assert not np.array_equal(first["mu"][0], first["mu"][1])  # each chain its own stream
    draws = first["mu"].ravel()
    assert abs(draws.mean()) < 5 * np.sqrt(3.0 / draws.size)  # AR(1), rho 0.5: variance inflation 3
    with pytest.raises(ValueError, match="init, step"):
        checking.from_kernel(_init, None)
    with pytest.raises(ValueError, match="^draws:"):
        sample({}, seed=3, draws=0, chains=2)


def test_a_nuts_mapping_passes_its_arguments_to_sample_nuts(monkeypatch):
    # The bank runs NUTS at each reference run's adapt_delta: Problem(nuts={...}) must reach sample_nuts.
    import arviz as az
    import numpy as np
    import pymc as pm

    from bayes_zoo.inference import nuts
    from bayes_zoo.problem import Problem, _sample_all
    from bayes_zoo.registry import RunSettings

    seen = {}

    def fake(model, **kwargs):
        seen.update(kwargs)
        return az.from_dict(posterior={"mu": np.zeros((2, 10))})

    monkeypatch.setattr(nuts, "sample_nuts", fake)

    def model(data):
        with pm.Model() as m:
            pm.Normal("y", pm.Normal("mu"), 1.0, observed=data["y"])
        return m

    problem = Problem(name="p", data={"y": np.zeros(3)}, model=model, nuts={"target_accept": 0.99})
    _sample_all(problem, problem.sides, problem.load(), None, RunSettings(draws=10, chains=2), {})
    assert seen["target_accept"] == 0.99 and seen["draws"] == 10
    with pytest.raises(ValueError, match="^nuts:"):
        Problem(name="p", data={"y": np.zeros(3)}, model=model, nuts="yes")
