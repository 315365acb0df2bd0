"""Pair: Normal with unknown mean and precision on Newcomb's data — Gibbs vs PyMC/NUTS vs quadrature.

The heavy imports (ArviZ, PyMC, numba) happen inside :func:`run`, so registering the pair costs nothing.
"""

from __future__ import annotations

import argparse

from bayes_zoo.registry import Pair, PairOutcome, RunSettings, register

NAME = "normal-gamma"
TITLE = "Normal with unknown mean and precision (Newcomb's speed of light)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The pair's own CLI options."""
    parser.add_argument(
        "--drop-outliers", action="store_true",
        help="drop Newcomb's two well-known outliers (-44 and -2), leaving 64 values",
    )


def run(settings: RunSettings, *, drop_outliers: bool = False) -> PairOutcome:
    """Run Gibbs and NUTS on Newcomb's data, compute the exact posterior, and cross-validate.

    Parameters
    ----------
    settings : RunSettings
    drop_outliers : bool
        Drop the two outliers first.

    Returns
    -------
    PairOutcome
        Results ``"gibbs"`` and ``"nuts"``, each with ``posterior``, ``sample_stats`` (``lp``),
        ``observed_data`` and the pointwise ``log_likelihood`` and ``posterior_predictive`` of ``x`` (dims
        ``(chain, draw, obs)``); exact reference from :func:`bayes_zoo.models.normal_gamma.exact_posterior`.
    """
    import numpy as np

    from bayes_zoo.inference import crossval, diagnostics, nuts
    from bayes_zoo.inference.gibbs import normal_gamma as gibbs
    from bayes_zoo.models import normal_gamma
    from bayes_zoo.models.datasets import load_newcomb
    from bayes_zoo.report import sampling_times

    data = load_newcomb(drop_outliers=drop_outliers)
    x = data.arrays["x"]
    prior = normal_gamma.DEFAULT_PRIOR

    settings.progress("exact posterior (quadrature)")
    exact = normal_gamma.exact_posterior(x, prior)

    def samplers(run: RunSettings) -> dict:
        """Gibbs and NUTS under ``run``'s settings (the first stage, and the confirmatory one)."""
        run.progress("Gibbs sampler")
        gibbs_idata = gibbs.sample(x, prior, draws=run.draws, chains=run.chains, warmup=run.warmup, seed=run.seed)
        run.progress("PyMC / NUTS")
        nuts_idata = nuts.sample_nuts(normal_gamma.build_pymc_model(x, prior), draws=run.draws, tune=run.warmup,
                                      chains=run.chains, seed=run.seed)
        return {"gibbs": gibbs_idata, "nuts": nuts_idata}

    results = samplers(settings)
    gibbs_idata, nuts_idata = results["gibbs"], results["nuts"]
    settings.progress("cross-validation")
    cv = crossval.compare(results, exact.summary, var_names=list(normal_gamma.VARIABLES), alpha=crossval.STAGE_ALPHA)

    settings.progress("figures")
    pdfs = {"mu": exact.pdf_mu, "beta": exact.pdf_beta, "sigma": exact.pdf_sigma}
    figures = {"posterior_vs_exact": diagnostics.plot_marginals_vs_exact(
        results, pdfs, title="Marginal posteriors: Gibbs and NUTS against the exact density (quadrature)")}
    for label, idata in results.items():
        figures[f"trace_{label}"] = diagnostics.plot_trace(idata, list(normal_gamma.VARIABLES), title=f"{label}: trace")
        figures[f"rank_{label}"] = diagnostics.plot_rank(idata, list(normal_gamma.VARIABLES), title=f"{label}: rank plot")

    n, xbar, ss = exact.stats
    facts = [
        f"Data: {data.description} n = {n}, sample mean {xbar:.4f} ns, sample sd {np.sqrt(ss / (n - 1)):.4f} ns."
        if n > 1 else f"Data: {data.description}",
        " ".join(data.provenance[-2:]),
        f"Prior: {prior.describe()}.  Prior mean of beta a/b = {prior.a / prior.b:g} ns^-2 (sigma near "
        f"{(prior.a / prior.b) ** -0.5:.1f} ns); mu's prior sd {np.sqrt(prior.s0_var):g} ns.",
        f"Samplers: {settings.chains} chains x {settings.draws} draws after {settings.warmup} warm-up, "
        f"root seed {settings.seed}.  {sampling_times(gibbs_idata, 'Gibbs')}; "
        f"{sampling_times(nuts_idata, 'PyMC (' + nuts_idata.posterior.attrs['step_methods'] + ')')}.",
        f"Exact reference: {exact.method}.",
    ]
    notes = [
        "`sigma = beta^-1/2` is the measurement sd in ns; it is a deterministic function of `beta`, so its "
        "z-scores are not independent of `beta`'s (Bonferroni stays valid under dependence, only conservative).",
    ]
    return PairOutcome(NAME, TITLE, results, cv, exact.summary, facts, figures, notes, rerun=samplers)


#: SBC data size and sampler settings (quick, full): observations per simulated data set; draws per chain.
SBC_N = 20
SBC_DRAWS = {True: 500, False: 1000}


def _sbc_simulate(rng):
    from bayes_zoo.models import normal_gamma as ng

    mu, beta, x = ng.simulate(rng, ng.DEFAULT_PRIOR, SBC_N)
    return {"mu": float(mu), "beta": float(beta)}, x


def _sbc_gibbs(x, seed, *, draws, planted_bug):
    from bayes_zoo.inference.gibbs import normal_gamma as gibbs
    from bayes_zoo.models import normal_gamma as ng

    idata = gibbs.sample(x, ng.DEFAULT_PRIOR, draws=draws, chains=2, warmup=200, seed=seed, planted_bug=planted_bug,
                         log_likelihood=False, posterior_predictive=False)  # SBC reads the posterior only
    return {k: idata.posterior[k].values for k in ("mu", "beta")}


def _sbc_nuts(x, seed, *, draws):
    from bayes_zoo.inference.nuts import sample_nuts
    from bayes_zoo.models import normal_gamma as ng

    idata = sample_nuts(ng.build_pymc_model(x, ng.DEFAULT_PRIOR), draws=draws, tune=draws, chains=2, seed=seed,
                        log_likelihood=False, posterior_predictive=False)  # SBC reads the posterior only
    return {k: idata.posterior[k].values for k in ("mu", "beta")}


def sbc(*, quick: bool = False, planted_bug: bool = False) -> dict:
    """The pair's samplers for simulation-based calibration: ``(mu, beta)`` from the default prior (the one
    used on Newcomb's data), ``SBC_N`` observations; Gibbs (2 chains, 200 warm-up) and NUTS (2 chains).
    ``planted_bug`` runs the Gibbs sampler that draws beta's Gamma with its rate used as a scale."""
    from functools import partial

    from bayes_zoo.inference.sbc import SBCProblem

    draws = SBC_DRAWS[bool(quick)]
    name = "normal-gamma/gibbs" + (" (planted bug: Gamma rate used as scale)" if planted_bug else "")
    return {"handwritten": SBCProblem(name, _sbc_simulate, partial(_sbc_gibbs, draws=draws, planted_bug=planted_bug)),
            "nuts": SBCProblem("normal-gamma/nuts", _sbc_simulate, partial(_sbc_nuts, draws=draws))}


PAIR = register(
    Pair(
        name=NAME,
        title=TITLE,
        methods="handwritten Gibbs vs PyMC/NUTS vs exact quadrature",
        run=run,
        quick=RunSettings(draws=500, chains=2, warmup=500, quick=True),
        stored_per_draw=290,  # gibbs 136 + nuts 153 numbers a chain-iteration, all groups (measured on compare all --quick)
        add_arguments=add_arguments,
        sbc=sbc,
    )
)
