"""Active learning by ACS-FW (Pinsler et al. 2019, "Bayesian Batch Active Learning as Sparse Subset
Approximation") and its baselines.

Modules: :mod:`~active_learning.gram` (the inner products ACS-FW reads, never N x N),
:mod:`~active_learning.frank_wolfe` (the algorithm: ``init``, ``step``, ``select``),
:mod:`~active_learning.projections` (``L_n(theta_j)`` from posterior draws, PyMC traces included),
:mod:`~active_learning.probit` (the probit closed form and learner), :mod:`~active_learning.learners`
(linear regression), :mod:`~active_learning.strategies` (ACS-FW, random, MaxEnt, BALD) and
:mod:`~active_learning.loop` (the labelling loop and learning curves).  See docs/ARCHITECTURE.md.
"""
