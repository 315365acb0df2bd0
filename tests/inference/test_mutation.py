"""inference.mutation.plant: a one-line bug planted in a copy of a module, the original left as it was."""

import inspect
import sys

import numpy as np
import pytest

from bayes_zoo.inference.gibbs import normal_gamma as gibbs
from bayes_zoo.inference.mutation import MUTANT_SUFFIX, plant


def _draws(module, x, seed=3):
    idata = module.sample(x, draws=200, chains=2, warmup=50, seed=seed, log_likelihood=False,
                          posterior_predictive=False)
    return idata.posterior["mu"].values, idata.posterior["beta"].values


def test_a_harmless_edit_gives_a_mutant_with_exactly_the_original_draws(newcomb_x):
    """The mutant recompiles every kernel from the edited source (cache off) and reproduces the original."""
    mutant = plant(gibbs, "# numba compiles the loop on its first call", "# (edited)")
    mu, beta = _draws(mutant, newcomb_x)
    mu0, beta0 = _draws(gibbs, newcomb_x)
    np.testing.assert_array_equal(mu, mu0)
    np.testing.assert_array_equal(beta, beta0)


def test_a_planted_bug_changes_the_sampler_and_its_numba_kernels_run_uncached(newcomb_x):
    mutant = plant(gibbs, "precision = 1.0 / s0_var + n * beta", "precision = n * beta")
    assert mutant.__name__.startswith(gibbs.__name__ + MUTANT_SUFFIX[:-1])
    assert mutant.__mutation__ == ("precision = 1.0 / s0_var + n * beta", "precision = n * beta")
    assert mutant.__mutant_of__ == gibbs.__name__
    # the compiled full conditional itself: precision without the prior term 1/s0_var
    _, precision = mutant._mu_conditional(0.01, 66, 26.2, 0.0, 4.0)
    _, correct = gibbs._mu_conditional(0.01, 66, 26.2, 0.0, 4.0)
    assert precision == pytest.approx(0.66) and correct == pytest.approx(0.66 + 0.25)
    for name in ("_mu_conditional", "_beta_conditional", "_transition", "_run_chains"):
        assert type(getattr(mutant, name)._cache).__name__ == "NullCache", name  # cache=False
        assert type(getattr(gibbs, name)._cache).__name__ != "NullCache", name
    mu, _ = _draws(mutant, newcomb_x)
    mu0, _ = _draws(gibbs, newcomb_x)
    assert not np.array_equal(mu, mu0)


def test_the_real_module_is_untouched_after_planting(newcomb_x):
    source = inspect.getsource(gibbs)
    with open(gibbs.__file__) as f:
        text = f.read()
    functions = {name: getattr(gibbs, name) for name in ("_transition", "_run_chains", "sample", "step")}
    before = _draws(gibbs, newcomb_x)
    modules = set(sys.modules)

    mutant = plant(gibbs, "return mu, g / rate", "return mu, g * rate")
    _draws(mutant, newcomb_x)

    assert sys.modules[gibbs.__name__] is gibbs
    assert not any(MUTANT_SUFFIX[:-1] in name for name in set(sys.modules) - modules)
    assert mutant.__name__ not in sys.modules
    assert all(getattr(gibbs, name) is f for name, f in functions.items())
    assert inspect.getsource(gibbs) == source
    with open(gibbs.__file__) as f:
        assert f.read() == text
    after = _draws(gibbs, newcomb_x)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)


def test_old_text_missing_or_ambiguous_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"^old: 'no such line' occurs 0 times .*exactly once"):
        plant(gibbs, "no such line", "x")
    with pytest.raises(ValueError, match=r"^old: 'np\.' occurs \d+ times"):
        plant(gibbs, "np.", "numpy.")


def test_bad_arguments_are_refused_naming_them():
    with pytest.raises(ValueError, match="^module:"):
        plant("bayes_zoo.inference.gibbs.normal_gamma", "a", "b")
    with pytest.raises(ValueError, match="^module: cannot read the source"):
        plant(sys, "a", "b")  # built in: no source
    with pytest.raises(ValueError, match="^old:"):
        plant(gibbs, "", "b")
    with pytest.raises(ValueError, match="^new:"):
        plant(gibbs, "return mu, g / rate", None)
    with pytest.raises(ValueError, match="^new: equals old"):
        plant(gibbs, "return mu, g / rate", "return mu, g / rate")
