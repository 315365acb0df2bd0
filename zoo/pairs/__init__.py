"""The registered pairs.  Importing this package registers every pair, in this order."""

from zoo.pairs import normal_gamma, spike_slab  # noqa: F401
