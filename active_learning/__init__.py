"""Active learning by ACS-FW (Pinsler et al. 2019, "Bayesian Batch Active Learning as Sparse Subset
Approximation") and its baselines.

Modules: :mod:`~bayes_zoo.active_learning.gram` (the inner products ACS-FW reads, never N x N),
:mod:`~bayes_zoo.active_learning.frank_wolfe` (the algorithm: ``init``, ``step``, ``select``),
:mod:`~bayes_zoo.active_learning.projections` (``L_n(theta_j)`` from posterior draws, PyMC traces included),
:mod:`~bayes_zoo.active_learning.probit` (the probit closed form and learner), :mod:`~bayes_zoo.active_learning.learners`
(linear regression), :mod:`~bayes_zoo.active_learning.strategies` (ACS-FW, random, MaxEnt, BALD) and
:mod:`~bayes_zoo.active_learning.loop` (the labelling loop and learning curves); :mod:`~bayes_zoo.active_learning.toys`
holds notebook 05's two worked examples (Frank–Wolfe in the plane, a cluster of near-duplicates).  See
docs/ARCHITECTURE.md.
"""
