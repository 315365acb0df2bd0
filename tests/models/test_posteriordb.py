"""The bundled posteriordb files: every one reads, with the shapes posteriordb states and the draws in its order."""

import arviz as az
import numpy as np
import pytest

from bayes_zoo.models import posteriordb

NAMES = posteriordb.names()


def test_thirty_five_posteriors_are_bundled():
    assert len(NAMES) == 35
    assert "eight_schools-eight_schools_noncentered" in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_every_posterior_reads_with_its_stated_dimensions_and_ten_chains_of_a_thousand_draws(name):
    posterior = posteriordb.load(name)
    arrays = posteriordb.reference_arrays(name)
    assert list(arrays) == list(dict.fromkeys(posteriordb.parse_label(k)[0] for k in posteriordb.reference_labels(name)))
    assert set(arrays) == set(posterior.dimensions)
    for var, array in arrays.items():
        assert array.shape[:2] == (posteriordb.CHAINS, posteriordb.DRAWS)
        assert int(np.prod(array.shape[2:])) == posterior.dimensions[var]
        assert np.isfinite(array).all()
    assert len(posterior.data) > 0 and all(isinstance(v, np.ndarray) for v in posterior.data.values())
    assert posterior.title and posterior.licence and posterior.method.startswith(posteriordb.RELEASE)
    assert posterior.data.description and posterior.data.provenance


@pytest.mark.parametrize("name", NAMES)
def test_arviz_bulk_ess_of_the_draws_is_the_ess_posteriordb_recorded(name):
    # ArviZ's rank-normalised bulk ESS depends on which draw is in which chain and in what order: it equals the
    # ESS posteriordb recorded for the reference run (to 1e-14, measured) only when the draws are read back as
    # that run's chains, draw order and labels.  A transposed (chain, draw) or a shuffled label fails it.
    idata = posteriordb.reference_idata(name)
    ess = az.ess(idata, method="bulk")
    recorded = posteriordb.load(name).recorded_ess
    assert set(recorded) == set(posteriordb.reference_labels(name))
    for label, (bulk, _tail) in recorded.items():
        var, index = posteriordb.parse_label(label)
        assert float(ess[var].values[index]) == pytest.approx(bulk, rel=1e-9), label


def test_stan_labels_are_one_based_and_map_to_positions():
    assert posteriordb.parse_label("beta[2]") == ("beta", (1,))
    assert posteriordb.parse_label("mu") == ("mu", ())
    assert posteriordb.parse_label("z[2,3]") == ("z", (1, 2))
    theta = posteriordb.reference_arrays("eight_schools-eight_schools_noncentered")["theta"]
    labels, values = posteriordb._draws("eight_schools-eight_schools_noncentered")
    np.testing.assert_array_equal(theta[:, :, 2], values[:, labels.index("theta[3]"), :])
    for bad in ("beta[0]", "beta[]", "1beta", "beta[1"):
        with pytest.raises(ValueError, match="^label:"):
            posteriordb.parse_label(bad)


def test_reference_idata_takes_the_models_dims_and_coordinates():
    import pymc as pm

    with pm.Model(coords={"school": list("ABCDEFGH")}) as model:
        pm.Normal("theta", dims="school")
    idata = posteriordb.reference_idata("eight_schools-eight_schools_noncentered", model)
    assert idata.posterior["theta"].dims == ("chain", "draw", "school")
    assert list(idata.posterior["school"].values) == list("ABCDEFGH")
    assert "posteriordb" in idata.posterior.attrs["source"]


def test_an_unknown_name_is_refused_naming_it_with_close_names():
    with pytest.raises(ValueError, match=r"^name: 'eight_schools' is not a bundled .*eight_schools-eight_schools_noncentered"):
        posteriordb.load("eight_schools")
    with pytest.raises(ValueError, match="^name:"):
        posteriordb.reference_arrays("nope")
