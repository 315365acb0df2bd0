"""The registered pairs.  Importing this package registers every pair, in this order (the CLI's)."""

from bayes_zoo.pairs import normal_gamma, spike_slab, gp, sparse_gp, active_learning  # noqa: F401
