"""Pair: sparse GP with pseudo-inputs (FITC, Snelson & Ghahramani 2006) on Snelson's data — our O(N M^2)
marginal likelihood and predictive vs PyMC's ``gp.MarginalApprox`` and vs the exact GP.

Everything compared here is deterministic, so the verdict rests on identities (to 1e-8):

1. with ``Z = X`` FITC is the exact GP: log marginal likelihood and predictive at the test inputs;
2. our FITC log marginal likelihood and predictive equal PyMC's ``MarginalApprox(approx="FITC")`` at the
   same ``Z``, hyperparameters and jitter.

Then the pseudo-inputs are optimised (with the hyperparameters) by maximising the FITC marginal likelihood
(:func:`bayes_zoo.inference.gp.fitc.optimise`), and the report shows where Z moved and how the FITC predictive, from the
initial and the optimised Z, compares with the exact GP at the 301 held-out test inputs.
"""

from __future__ import annotations

import argparse

from bayes_zoo.registry import Pair, PairOutcome, RunSettings, register

NAME = "sparse-gp"
#: The Z = X identities use every ZX_STEP-th training input (sorted): 25 of Snelson's 200.
ZX_STEP = 8
TITLE = "Sparse GP with pseudo-inputs, FITC (Snelson's 1-D data)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The pair's own CLI options."""
    parser.add_argument("--inducing", type=int, default=10, help="number of pseudo-inputs M (default 10)")
    parser.add_argument("--restarts", type=int, default=4,
                        help="random restarts of the pseudo-input optimisation (default 4)")


def check_options(*, inducing: int = 10, restarts: int = 4) -> None:
    """Raise ``ValueError`` naming the option if :func:`run` would refuse these options."""
    from bayes_zoo.models.checks import nonnegative_int, positive_int

    if positive_int(inducing, "inducing") > 200:
        raise ValueError(f"inducing: at most the 200 training points, got {inducing}")
    nonnegative_int(restarts, "restarts")


def run(settings: RunSettings, *, inducing: int = 10, restarts: int = 4) -> PairOutcome:
    """Identities (Z = X; ours vs PyMC), then the optimisation of Z, on Snelson's data.

    ``settings`` only supplies the seed (nothing is sampled).

    Returns
    -------
    PairOutcome
        ``crossval`` None; ``checks`` the identities; figures and sections for the optimisation.
    """
    import warnings

    import numpy as np
    import pandas as pd

    from bayes_zoo.inference import crossval
    from bayes_zoo.inference.gp import exact, fitc
    from bayes_zoo.inference.gp.linalg import JitterWarning
    from bayes_zoo.models import gp as gpm
    from bayes_zoo.models import sparse_gp
    from bayes_zoo.models.datasets import load_snelson

    check_options(inducing=inducing, restarts=restarts)
    data = load_snelson()
    X, y, X_test = data.arrays["X"], data.arrays["y"], data.arrays["X_test"]
    jitter = gpm.PYMC_JITTER

    settings.progress("exact GP: type-II maximum likelihood")
    init = gpm.GPHyperparameters(eta=float(np.std(y)), lengthscale=float(np.ptp(X)) / 10, sigma=float(np.std(y)) / 4)
    ml = exact.fit_type2_ml(X, y, init, restarts=2, seed=settings.seed)
    hyper = ml.hyper
    stationary = exact.stationarity(X, y, ml)
    exact_post = exact.posterior(X, y, hyper)
    exact_mean, exact_var = exact.predict(exact_post, X_test)

    settings.progress("identities: Z = X, and ours vs PyMC MarginalApprox")
    Z0 = np.linspace(X.min(), X.max(), inducing)[:, None]
    # Z = X on every 8th input in sorted order (25 points): there K_uu factors without jitter.  With all 200,
    # K_uu's condition number is ~1e18, it needs jitter, and the two means then differ at the 1e-5 level.
    sub = np.argsort(X[:, 0])[::ZX_STEP]
    Xs, ys = X[sub], y[sub]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", JitterWarning)
        zx_post = fitc.posterior(Xs, ys, Xs, hyper, jitter=0.0)
        zx_mean, zx_var = fitc.predict(zx_post, X_test)
        zx_lml = fitc.log_marginal_likelihood(Xs, ys, Xs, hyper, jitter=0.0)
    zx_jitter = zx_post.jitter
    ex_mean, ex_var = exact.predict(exact.posterior(Xs, ys, hyper), X_test)
    pm_lml = sparse_gp.pymc_approx_log_likelihood(X, y, Z0, hyper, approx="FITC", jitter=jitter)
    pm_mean, pm_var = sparse_gp.pymc_approx_predict(X, y, Z0, X_test, hyper, approx="FITC", jitter=jitter)
    post0 = fitc.posterior(X, y, Z0, hyper, jitter=jitter)
    mean0, var0 = fitc.predict(post0, X_test)
    rows = [
        crossval.identity(f"Z = X ({len(sub)} inputs): FITC log marginal likelihood vs the exact GP's", zx_lml,
                          exact.log_marginal_likelihood(Xs, ys, hyper), relative=True),
        crossval.identity(f"Z = X ({len(sub)} inputs): FITC predictive mean vs the exact GP's (301 test inputs)",
                          zx_mean, ex_mean),
        crossval.identity(f"Z = X ({len(sub)} inputs): FITC predictive variance vs the exact GP's", zx_var, ex_var),
        crossval.identity(f"M = {inducing}: our FITC log marginal likelihood vs MarginalApprox's",
                          fitc.log_marginal_likelihood(X, y, Z0, hyper, jitter=jitter), pm_lml, relative=True),
        crossval.identity(f"M = {inducing}: our FITC predictive mean vs MarginalApprox.predict", mean0, pm_mean),
        crossval.identity(f"M = {inducing}: our FITC predictive variance vs MarginalApprox.predict", var0, pm_var),
        crossval.identity(
            f"exact GP's type-II ML optimum is stationary: norm of the gradient of the log marginal likelihood in "
            f"({', '.join(stationary.names)}) by central differences (h = {stationary.step:g}; not the analytic "
            "gradient the optimiser followed) vs 0", stationary.norm, 0.0, tol=stationary.tolerance),
    ]

    settings.progress("optimising the pseudo-inputs (FITC ML-II)")
    maxiter = fitc.MAXITER
    fit = fitc.optimise(X, y, Z0, hyper, restarts=restarts, seed=settings.seed, jitter=jitter, maxiter=maxiter)
    polished = fitc.polish(X, y, fit)
    rows.append(crossval.identity(
        f"FITC optimum (M = {inducing}) is a maximum: log marginal likelihood gained by restarting L-BFGS-B there "
        f"with central-difference gradients ({polished.nit} iteration{'' if polished.nit == 1 else 's'}, not the "
        "analytic gradient) vs 0 (nats)",
        polished.gain, 0.0, tol=polished.tolerance))
    checks = crossval.identities(rows)
    mean_opt, var_opt = fitc.predict(fitc.posterior(X, y, fit.Z, fit.hyper, jitter=jitter), X_test)

    quality = pd.DataFrame([
        _versus_exact("FITC, initial Z (evenly spaced)", mean0, var0, exact_mean, exact_var,
                      fitc.log_marginal_likelihood(X, y, Z0, hyper, jitter=jitter)),
        _versus_exact("FITC, optimised Z and hyperparameters", mean_opt, var_opt, exact_mean, exact_var, fit.log_ml),
        {"predictive": "exact GP", "log marginal likelihood": ml.log_marginal_likelihood},
    ])
    moved = pd.DataFrame({"initial Z": np.sort(Z0[:, 0]), "optimised Z": np.sort(fit.Z[:, 0])})
    figures = {"snelson_fitc": _plot(X, y, X_test, exact_mean, exact_var, mean0, var0, Z0, mean_opt, var_opt, fit.Z)}

    facts = [
        f"Data: {data.description}",
        " ".join(data.provenance),
        f"Hyperparameters: type-II ML of the exact GP ({len(ml.restarts)} runs, seed {settings.seed}): "
        f"eta = {hyper.eta:.4g}, ell = {hyper.lengthscale:.4g}, sigma = {hyper.sigma:.4g}, log marginal likelihood "
        f"{ml.log_marginal_likelihood:.4f}.",
        f"FITC with M = {inducing} pseudo-inputs, initially evenly spaced on the inputs' range; jitter {jitter:g} on "
        f"K_uu, as PyMC's MarginalApprox adds it.  Z = X identities on every {ZX_STEP}th input in sorted order "
        f"({len(sub)} points), no jitter"
        + (f" asked for; K_uu needed {zx_jitter:.2g} to factor ({len(caught)} warning(s) collected)" if zx_jitter > 0
           else " needed") + ": with all 200 inputs K_uu has condition number ~1e18 and needs jitter, after "
        "which FITC's and the exact GP's means agree only to ~1e-5 (floating point, not FITC).",
        f"Optimisation: L-BFGS-B over Z and log-hyperparameters, analytic gradient, {len(fit.runs)} runs "
        f"of at most {maxiter:,} iterations "
        f"(seed {settings.seed}); log marginal likelihood {fit.log_ml0:.3f} -> {fit.log_ml:.3f}; optimised "
        f"eta = {fit.hyper.eta:.4g}, ell = {fit.hyper.lengthscale:.4g}, sigma = {fit.hyper.sigma:.4g}.",
    ]
    fitc_stops = exact.stops_markdown("FITC optimisation", [r.stopped for r in fit.runs], [r.nit for r in fit.runs])
    exact_stops = exact.stops_markdown("The exact GP's type-II ML", [r.stopped for r in ml.restarts],
                                       [r.iterations for r in ml.restarts])
    sections = {
        "FITC against the exact GP at the held-out test inputs": (
            "The 301 test inputs (an even grid on [-3, 10], outside the data too) have no outputs; the exact GP's "
            "predictive is the reference.  RMS and largest differences of the predictive mean and sd of f.\n\n"
            + quality.to_markdown(index=False, floatfmt=".4g")),
        "Where the pseudo-inputs moved": moved.to_markdown(index=False, floatfmt=".4f"),
        "Optimisation runs": (
            "`stopped`: why L-BFGS-B stopped, from SciPy's status and message.\n\n"
            + fit.table().to_markdown(index=False, floatfmt=".4g") + "\n\n"
            + fitc_stops + "  " + exact_stops),
    }
    notes = [
        "FITC is an approximation: away from its pseudo-inputs its variance differs from the exact GP's, and "
        "optimised pseudo-inputs can merge (Bauer, van der Wilk & Rasmussen 2016).  The identities check that "
        "it is computed right; the comparison at the test inputs shows how good an approximation it is.",
    ]
    return PairOutcome(NAME, TITLE, {}, None, None, facts, figures, notes, sections, checks)


def _versus_exact(label, mean, var, exact_mean, exact_var, lml) -> dict:
    import numpy as np

    d_mean, d_sd = mean - exact_mean, np.sqrt(var) - np.sqrt(exact_var)
    return {"predictive": label, "log marginal likelihood": lml,
            "RMS mean difference": float(np.sqrt(np.mean(d_mean**2))), "max |mean difference|": float(np.abs(d_mean).max()),
            "RMS sd difference": float(np.sqrt(np.mean(d_sd**2))), "max |sd difference|": float(np.abs(d_sd).max())}


def _plot(X, y, X_test, exact_mean, exact_var, mean0, var0, Z0, mean_opt, var_opt, Z_opt):
    """Snelson's data, the exact GP and FITC from the initial and the optimised Z (mean and 2 sd), with the
    pseudo-inputs marked."""
    import matplotlib.pyplot as plt
    import numpy as np

    x = X_test[:, 0]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    for ax, (label, mean, var, Z) in zip(axes, [("initial Z (evenly spaced)", mean0, var0, Z0),
                                                ("optimised Z and hyperparameters", mean_opt, var_opt, Z_opt)]):
        ax.plot(X[:, 0], y, ".", color="0.5", ms=3, label="data")
        ax.plot(x, exact_mean, color="k", lw=1, label="exact GP")
        ax.plot(x, exact_mean - 2 * np.sqrt(exact_var), color="k", lw=0.6, ls="--")
        ax.plot(x, exact_mean + 2 * np.sqrt(exact_var), color="k", lw=0.6, ls="--")
        ax.plot(x, mean, color="C3", lw=1.2, label="FITC")
        ax.fill_between(x, mean - 2 * np.sqrt(var), mean + 2 * np.sqrt(var), color="C3", alpha=0.2, lw=0)
        bottom = min(y.min(), (exact_mean - 2 * np.sqrt(exact_var)).min()) - 0.3
        ax.plot(Z[:, 0], np.full(Z.shape[0], bottom), "|", color="C3", ms=14, mew=2, label="pseudo-inputs")
        ax.set_title(f"FITC, {label}", fontsize=9)
        ax.set_xlabel("x")
    axes[0].legend(fontsize=7, loc="upper left")
    fig.suptitle("Snelson's data: exact GP (black, ±2 sd dashed) and FITC (red, ±2 sd band)", fontsize=10)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------------------
# Simulation-based calibration (bayes_zoo.inference.sbc; `bayes-zoo sbc sparse-gp`)
# ---------------------------------------------------------------------------------------------------------

#: SBC data: SBC_N evenly spaced inputs on [0, 5], SBC_M pseudo-inputs evenly spaced on [0.5, 4.5], fixed
#: hyperparameters SBC_HYPER and PyMC's jitter.
SBC_N, SBC_M = 15, 4
SBC_HYPER = {"eta": 1.0, "lengthscale": 1.0, "sigma": 0.3}
#: Draws per chain (2 chains), quick and full.
SBC_DRAWS = {True: 500, False: 1000}
SBC_LABELS = tuple(f"u[{m}]" for m in range(SBC_M))


def _sbc_setup():
    """``(X [SBC_N, 1], Z [SBC_M, 1], hyper, jitter)``."""
    import numpy as np

    from bayes_zoo.models import gp as gpm

    return (np.linspace(0.0, 5.0, SBC_N)[:, None], np.linspace(0.5, 4.5, SBC_M)[:, None],
            gpm.GPHyperparameters(**SBC_HYPER), gpm.PYMC_JITTER)


def _sbc_simulate(rng):
    """The FITC generative model itself (the module docstring of :mod:`bayes_zoo.inference.gp.fitc`), with ``K_uu``
    carrying the jitter: ``u ~ N(0, K_uu + jitter I)``, ``f_n | u ~ N(k_nu (K_uu + jitter I)^-1 u,
    max(K_nn - Q_nn, 0))`` independently, ``y_n = f_n + N(0, max(sigma^2, jitter))``."""
    import numpy as np

    from bayes_zoo.models import gp as gpm

    X, Z, hyper, jitter = _sbc_setup()
    Kuu = gpm.exp_quad(Z, Z, hyper.eta, hyper.lengthscale) + jitter * np.eye(SBC_M)  # [M, M]
    Kfu = gpm.exp_quad(X, Z, hyper.eta, hyper.lengthscale)  # [N, M]
    P = np.linalg.solve(Kuu, Kfu.T).T  # [N, M] k_nu (K_uu + jitter I)^-1
    u = np.linalg.cholesky(Kuu) @ rng.standard_normal(SBC_M)
    conditional_var = np.maximum(gpm.exp_quad_diag(X, hyper.eta) - np.einsum("nm,nm->n", P, Kfu), 0.0)
    f = P @ u + np.sqrt(conditional_var) * rng.standard_normal(SBC_N)
    y = f + np.sqrt(max(hyper.sigma**2, jitter)) * rng.standard_normal(SBC_N)
    return {label: float(v) for label, v in zip(SBC_LABELS, u)}, y


def _sbc_fitc(y, seed, *, draws):
    import numpy as np

    from bayes_zoo.inference.gp import fitc

    X, Z, hyper, jitter = _sbc_setup()
    post = fitc.posterior(X, y, Z, hyper, jitter=jitter)
    L = np.linalg.cholesky(post.u_cov)  # [M, M]; well conditioned at these settings
    u = post.u_mean + np.random.default_rng(seed).standard_normal((2 * draws, SBC_M)) @ L.T
    u = u.reshape(2, draws, SBC_M)
    return {label: u[:, :, m] for m, label in enumerate(SBC_LABELS)}


def sbc(*, quick: bool = False, planted_bug: bool = False) -> dict:
    """The pair's handwritten side set up for simulation-based calibration: the FITC posterior of the
    pseudo-input values ``u = f(Z)`` (:attr:`bayes_zoo.inference.gp.fitc.FITCPosterior.u_mean` and ``u_cov``), which is
    exact for the FITC generative model, so data are simulated from that model (:func:`_sbc_simulate`) at
    fixed hyperparameters ``SBC_HYPER``, ``SBC_N`` inputs and ``SBC_M`` pseudo-inputs; independent draws
    (2 "chains"); quantities ``u[0] .. u[SBC_M - 1]``.

    There is no ``"nuts"`` side: PyMC's ``gp.MarginalApprox(approx="FITC")`` integrates ``u`` (and f) out and
    has no free variable at fixed hyperparameters, so NUTS samples nothing comparable (the pair checks it
    against ours by identities instead).

    Raises
    ------
    ValueError
        ``planted_bug``: this pair has no deliberately wrong sampler (only normal-gamma has one).
    """
    from functools import partial

    from bayes_zoo.inference.sbc import pair_problems

    draws = SBC_DRAWS[bool(quick)]
    return pair_problems(NAME, _sbc_simulate, handwritten=("fitc", partial(_sbc_fitc, draws=draws)),
                         planted_bug=planted_bug)


PAIR = register(
    Pair(
        name=NAME,
        title=TITLE,
        methods="handwritten FITC (O(N M^2)) vs PyMC MarginalApprox and the exact GP (identities)",
        run=run,
        quick=RunSettings(draws=500, chains=2, warmup=500, quick=True),
        stored_per_draw=0,  # no sampler: nothing stored per draw
        add_arguments=add_arguments,
        check_options=check_options,
        sbc=sbc,
    )
)
