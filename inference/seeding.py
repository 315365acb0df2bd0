"""Independent, reproducible random streams per chain, from one integer seed.

Every handwritten sampler derives its chains' streams here: ``numpy.random.SeedSequence(seed).spawn(chains)``
(PyMC does the same inside ``pymc.sample(random_seed=seed)``).  The same seed gives the same draws, and no two chains
share a stream.  Posterior-predictive draws of a result come from :func:`predictive_generator`, one more child of
the same seed that no chain's stream equals.
"""

from __future__ import annotations

import numpy as np

from bayes_zoo.models.checks import nonnegative_int, positive_int

__all__ = ["chain_generators", "predictive_generator", "confirmation_seed", "PREDICTIVE_SPAWN_KEY", "CONFIRMATION_SPAWN_KEY"]

#: Spawn key of the posterior-predictive stream: ``SeedSequence(seed, spawn_key=(PREDICTIVE_SPAWN_KEY,))`` is
#: a child of ``SeedSequence(seed)`` that no chain's stream (spawn keys ``(0,) .. (chains - 1,)``) can equal.
PREDICTIVE_SPAWN_KEY = 2**32 - 1
#: Spawn key of the confirmatory stage's root seed (:func:`confirmation_seed`).
CONFIRMATION_SPAWN_KEY = 2**32 - 2


def chain_generators(seed: int, chains: int) -> list[np.random.Generator]:
    """One ``numpy.random.Generator`` per chain, spawned from ``SeedSequence(seed)``.

    Raises
    ------
    ValueError
        If ``seed`` is not an integer >= 0 or ``chains`` is not an integer >= 1.
    """
    seed = nonnegative_int(seed, "seed")
    chains = positive_int(chains, "chains")
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(chains)]


def predictive_generator(seed: int) -> np.random.Generator:
    """The stream for posterior-predictive draws of a result sampled with ``seed``:
    ``default_rng(SeedSequence(seed, spawn_key=(PREDICTIVE_SPAWN_KEY,)))``.

    Independent of every chain's stream from :func:`chain_generators` (a different spawn key), so drawing
    predictions changes no posterior draw, and the same seed gives the same predictions.

    Raises
    ------
    ValueError
        If ``seed`` is not an integer >= 0.
    """
    seed = nonnegative_int(seed, "seed")
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(PREDICTIVE_SPAWN_KEY,)))


def confirmation_seed(seed: int) -> int:
    """The root seed of a confirmatory run (:func:`bayes_zoo.inference.crossval.run_protocol`) after a run with
    ``seed``: 63 bits of ``SeedSequence(seed, spawn_key=(CONFIRMATION_SPAWN_KEY,))``.

    A different root seed gives every chain a different stream, so the confirmatory run's draws are independent
    of the first run's; the same ``seed`` always gives the same confirmation seed, in ``[0, 2**63)``.

    Raises
    ------
    ValueError
        If ``seed`` is not an integer >= 0.
    """
    seed = nonnegative_int(seed, "seed")
    state = np.random.SeedSequence(seed, spawn_key=(CONFIRMATION_SPAWN_KEY,)).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(1))
