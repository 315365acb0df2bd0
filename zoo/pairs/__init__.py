"""The registered problems (declarations, :class:`bayes_zoo.problem.Problem`).  Importing this package registers
every one, in this order (the CLI's)."""

from bayes_zoo.pairs import normal_gamma, spike_slab, gp, sparse_gp, active_learning  # noqa: F401
