"""Normal with unknown mean and precision on Newcomb's data: Gibbs vs PyMC/NUTS vs quadrature, declared."""

from __future__ import annotations

from functools import partial

from bayes_zoo.problem import Addition, Option, Problem, Side
from bayes_zoo.registry import RunSettings, register


def _model(data):
    from bayes_zoo.models import normal_gamma

    return normal_gamma.build_pymc_model(data["x"])


def _exact(data):
    from bayes_zoo.models import normal_gamma

    return normal_gamma.exact_posterior(data["x"])


def gibbs(data, *, seed, draws, chains, warmup, planted_bug: bool = False):
    """The handwritten Gibbs sampler (:func:`bayes_zoo.inference.gibbs.normal_gamma.sample`)."""
    from bayes_zoo.inference.gibbs import normal_gamma as sampler

    return sampler.sample(data["x"], draws=draws, chains=chains, warmup=warmup, seed=seed, planted_bug=planted_bug)


def _report(run) -> Addition:
    import numpy as np

    from bayes_zoo.inference import diagnostics
    from bayes_zoo.models.normal_gamma import DEFAULT_PRIOR as prior

    exact = run.exact
    n, xbar, ss = exact.stats
    pdfs = {"mu": exact.pdf_mu, "beta": exact.pdf_beta, "sigma": exact.pdf_sigma}
    return Addition(
        facts=[f"n = {n}, sample mean {xbar:.4f} ns, sample sd {np.sqrt(ss / (n - 1)):.4f} ns." if n > 1 else "",
               f"Prior: {prior.describe()}.  Prior mean of beta a/b = {prior.a / prior.b:g} ns^-2 (sigma near "
               f"{(prior.a / prior.b) ** -0.5:.1f} ns); mu's prior sd {np.sqrt(prior.s0_var):g} ns."],
        figures={"posterior_vs_exact": diagnostics.plot_marginals_vs_exact(
            run.results, pdfs, title="Marginal posteriors: Gibbs and NUTS against the exact density (quadrature)",
            units=PAIR.units)},
        notes=["`sigma = beta^-1/2` is the measurement sd in ns; it is a deterministic function of `beta`, so its "
               "z-scores are not independent of `beta`'s (Bonferroni stays valid under dependence, only "
               "conservative)."])


PAIR = register(Problem(
    name="normal-gamma",
    title="Normal with unknown mean and precision (Newcomb's speed of light)",
    methods="handwritten Gibbs vs PyMC/NUTS vs exact quadrature",
    data="bayes_zoo.models.datasets:load_newcomb",
    model=_model,
    sides={"gibbs": Side(gibbs, title="Gibbs")},
    variables=("mu", "beta", "sigma"),
    units={"mu": "ns after 24,800 ns", "beta": "ns⁻²", "sigma": "ns"},
    exact=_exact,
    options=(Option("drop_outliers", False, "drop Newcomb's two well-known outliers (-44 and -2), leaving 64 values"),),
    quick=RunSettings(draws=1000, chains=2, warmup=500, quick=True),  # loglik's NUTS ESS ~0.4 per draw: 400+
    report=(_report,),
    sbc_data={"x": (0.0,) * 20},  # SBC from the PyMC model itself (its forward sampling), 20 observations
    bugs={"rate-as-scale": ("gibbs", Side(partial(gibbs, planted_bug=True),  # beta's Gamma: its rate used as a scale
                                          title="Gibbs (planted bug: Gamma rate used as scale)"))},
    stored_per_draw=290,  # gibbs 136 + nuts 153 numbers a chain-iteration, all groups (compare all --quick)
))
