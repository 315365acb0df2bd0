"""Gaussian processes by hand: the exact posterior (:mod:`inference.gp.exact`) and FITC (:mod:`inference.gp.fitc`)."""
