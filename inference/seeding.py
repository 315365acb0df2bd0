"""Independent, reproducible random streams per chain, from one integer seed.

Every handwritten sampler derives its chains' streams here: ``numpy.random.SeedSequence(seed).spawn(chains)``
(PyMC does the same inside ``pymc.sample(random_seed=seed)``).  The same seed gives the same draws, and no two chains
share a stream.
"""

from __future__ import annotations

import numpy as np

from bayes_zoo.models.checks import nonnegative_int, positive_int

__all__ = ["chain_generators"]


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
