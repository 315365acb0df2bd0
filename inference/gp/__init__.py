"""Gaussian processes by hand: the exact posterior (:mod:`bayes_zoo.inference.gp.exact`) and FITC (:mod:`bayes_zoo.inference.gp.fitc`)."""
