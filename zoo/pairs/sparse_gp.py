"""Sparse GP with pseudo-inputs (FITC, Snelson & Ghahramani 2006) on Snelson's data: our O(N M^2) marginal
likelihood and predictive vs PyMC's ``gp.MarginalApprox`` and vs the exact GP, declared.

Everything compared is deterministic, so the verdict rests on identities (to 1e-8): with ``Z = X`` FITC is the
exact GP; our FITC equals ``MarginalApprox(approx="FITC")`` at the same ``Z``, hyperparameters and jitter; the
exact GP's type-II ML optimum and the FITC optimum are stationary.  Then the pseudo-inputs are optimised with
the hyperparameters (:func:`bayes_zoo.inference.gp.fitc.optimise`), and the report shows where Z moved and how
FITC from the initial and the optimised Z compares with the exact GP at the 301 held-out test inputs.  Nothing
is sampled; the one side, FITC's posterior of ``u = f(Z)``, is run only by SBC (``Side.when``).
"""

from __future__ import annotations

from functools import partial

from bayes_zoo.models.checks import nonnegative_int, positive_int
from bayes_zoo.problem import Addition, Option, Problem, Side, sbc_only
from bayes_zoo.registry import RunSettings, register
from bayes_zoo.tables import markdown_table

#: The Z = X identities use every ZX_STEP-th training input (sorted): 25 of Snelson's 200.
ZX_STEP = 8


def _inducing(value) -> int:
    if positive_int(value, "inducing") > 200:
        raise ValueError(f"inducing: at most the 200 training points, got {value}")
    return int(value)


def fitc_u(data, *, seed, draws, chains):
    """Independent draws of FITC's posterior of ``u = f(Z)`` at the data's fixed hyperparameters, exact for the
    FITC generative model (:func:`bayes_zoo.models.sparse_gp.simulate`).  No NUTS side: PyMC's MarginalApprox
    integrates u out and has no free variable at fixed hyperparameters."""
    import numpy as np

    from bayes_zoo.inference.gp import fitc
    from bayes_zoo.models.gp import PYMC_JITTER
    from bayes_zoo.models.sparse_gp import hyperparameters_of

    post = fitc.posterior(data["X"], data["y"], data["Z"], hyperparameters_of(data), jitter=PYMC_JITTER)
    L = np.linalg.cholesky(post.u_cov)  # [M, M]; well conditioned at SBC's settings
    u = post.u_mean + np.random.default_rng(seed).standard_normal((chains * draws, len(L))) @ L.T
    return {"u": u.reshape(chains, draws, len(L))}


def _report(run) -> Addition:
    """The identities (Z = X; ours vs PyMC; stationarity), then the optimisation of Z and its report."""
    import warnings

    import numpy as np
    import pandas as pd

    from bayes_zoo.inference import crossval
    from bayes_zoo.inference.gp import exact, fitc
    from bayes_zoo.inference.gp.linalg import JitterWarning
    from bayes_zoo.models import gp as gpm
    from bayes_zoo.models import sparse_gp

    X, y, X_test = run.data["X"], run.data["y"], run.data["X_test"]
    jitter, m, seed, identity = gpm.PYMC_JITTER, run.options["inducing"], run.settings.seed, crossval.identity
    run.settings.progress("exact GP: type-II maximum likelihood")
    init = gpm.GPHyperparameters(eta=float(np.std(y)), lengthscale=float(np.ptp(X)) / 10, sigma=float(np.std(y)) / 4)
    ml = exact.fit_type2_ml(X, y, init, restarts=2, seed=seed)
    hyper, stationary = ml.hyper, exact.stationarity(X, y, ml)
    exact_mean, exact_var = exact.predict(exact.posterior(X, y, hyper), X_test)

    run.settings.progress("identities: Z = X, and ours vs PyMC MarginalApprox")
    Z0 = np.linspace(X.min(), X.max(), m)[:, None]
    # Z = X on every 8th input in sorted order (25 points): there K_uu factors without jitter.  With all 200,
    # K_uu's condition number is ~1e18, it needs jitter, and the two means then differ at the 1e-5 level.
    sub = np.argsort(X[:, 0])[::ZX_STEP]
    Xs, ys = X[sub], y[sub]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", JitterWarning)
        zx_post = fitc.posterior(Xs, ys, Xs, hyper, jitter=0.0)
        zx_mean, zx_var = fitc.predict(zx_post, X_test)
        zx_lml = fitc.log_marginal_likelihood(Xs, ys, Xs, hyper, jitter=0.0)
    ex_post = exact.posterior(Xs, ys, hyper)  # one factorisation: prediction and log marginal likelihood
    ex_mean, ex_var = exact.predict(ex_post, X_test)
    pm_mean, pm_var = sparse_gp.pymc_approx_predict(X, y, Z0, X_test, hyper, approx="FITC", jitter=jitter)
    mean0, var0 = fitc.predict(fitc.posterior(X, y, Z0, hyper, jitter=jitter), X_test)
    lml0 = fitc.log_marginal_likelihood(X, y, Z0, hyper, jitter=jitter)
    zx = f"Z = X ({len(sub)} inputs)"
    rows = [
        identity(f"{zx}: FITC log marginal likelihood vs the exact GP's", zx_lml,
                 ex_post.log_marginal_likelihood, relative=True),
        identity(f"{zx}: FITC predictive mean vs the exact GP's (301 test inputs)", zx_mean, ex_mean),
        identity(f"{zx}: FITC predictive variance vs the exact GP's", zx_var, ex_var),
        identity(f"M = {m}: our FITC log marginal likelihood vs MarginalApprox's", lml0,
                 sparse_gp.pymc_approx_log_likelihood(X, y, Z0, hyper, approx="FITC", jitter=jitter), relative=True),
        identity(f"M = {m}: our FITC predictive mean vs MarginalApprox.predict", mean0, pm_mean),
        identity(f"M = {m}: our FITC predictive variance vs MarginalApprox.predict", var0, pm_var),
        identity(f"exact GP's type-II ML optimum is stationary: norm of the gradient of the log marginal likelihood "
                 f"in ({', '.join(stationary.names)}) by central differences (h = {stationary.step:g}; not the "
                 "analytic gradient the optimiser followed) vs 0", stationary.norm, 0.0, tol=stationary.tolerance),
    ]

    run.settings.progress("optimising the pseudo-inputs (FITC ML-II)")
    fit = fitc.optimise(X, y, Z0, hyper, restarts=run.options["restarts"], seed=seed, jitter=jitter,
                        maxiter=fitc.MAXITER)
    polished = fitc.polish(X, y, fit)
    rows.append(identity(
        f"FITC optimum (M = {m}) is a maximum: log marginal likelihood gained by restarting L-BFGS-B there with "
        f"central-difference gradients ({polished.nit} iteration{'' if polished.nit == 1 else 's'}, not the "
        "analytic gradient) vs 0 (nats)", polished.gain, 0.0, tol=polished.tolerance))
    mean_opt, var_opt = fitc.predict(fitc.posterior(X, y, fit.Z, fit.hyper, jitter=jitter), X_test)

    def versus_exact(label, mean, var, lml) -> dict:
        d_mean, d_sd = mean - exact_mean, np.sqrt(var) - np.sqrt(exact_var)
        return {"predictive": label, "log marginal likelihood": lml, "RMS mean difference": np.sqrt(np.mean(d_mean**2)),
                "max |mean difference|": np.abs(d_mean).max(), "RMS sd difference": np.sqrt(np.mean(d_sd**2)),
                "max |sd difference|": np.abs(d_sd).max()}

    quality = pd.DataFrame([versus_exact("FITC, initial Z (evenly spaced)", mean0, var0, lml0),
                            versus_exact("FITC, optimised Z and hyperparameters", mean_opt, var_opt, fit.log_ml),
                            {"predictive": "exact GP", "log marginal likelihood": ml.log_marginal_likelihood}])
    moved = pd.DataFrame({"initial Z": np.sort(Z0[:, 0]), "optimised Z": np.sort(fit.Z[:, 0])})
    stops = (exact.stops_markdown("FITC optimisation", [r.stopped for r in fit.runs], [r.nit for r in fit.runs])
             + "  " + exact.stops_markdown("The exact GP's type-II ML", [r.stopped for r in ml.restarts],
                                           [r.iterations for r in ml.restarts]))
    return Addition(
        facts=[
            f"Hyperparameters: type-II ML of the exact GP ({len(ml.restarts)} runs, seed {seed}): eta = {hyper.eta:.4g}, "
            f"ell = {hyper.lengthscale:.4g}, sigma = {hyper.sigma:.4g}, log marginal likelihood "
            f"{ml.log_marginal_likelihood:.4f}.",
            f"FITC with M = {m} pseudo-inputs, initially evenly spaced on the inputs' range; jitter {jitter:g} on "
            f"K_uu, as PyMC's MarginalApprox adds it.  Z = X identities on every {ZX_STEP}th input in sorted order "
            f"({len(sub)} points), no jitter"
            + (f" asked for; K_uu needed {zx_post.jitter:.2g} to factor ({len(caught)} warning(s) collected)"
               if zx_post.jitter > 0 else " needed") + ": with all 200 inputs K_uu has condition number ~1e18 and "
            "needs jitter, after which FITC's and the exact GP's means agree only to ~1e-5 (floating point, not FITC).",
            f"Optimisation: L-BFGS-B over Z and log-hyperparameters, analytic gradient, {len(fit.runs)} runs of at "
            f"most {fitc.MAXITER:,} iterations (seed {seed}); log marginal likelihood {fit.log_ml0:.3f} -> "
            f"{fit.log_ml:.3f}; optimised eta = {fit.hyper.eta:.4g}, ell = {fit.hyper.lengthscale:.4g}, sigma = "
            f"{fit.hyper.sigma:.4g}."],
        figures={"snelson_fitc": _plot(run.data, exact_mean, exact_var, [("initial Z (evenly spaced)", mean0, var0, Z0),
                 ("optimised Z and hyperparameters", mean_opt, var_opt, fit.Z)])},
        notes=["FITC is an approximation: away from its pseudo-inputs its variance differs from the exact GP's, and "
               "optimised pseudo-inputs can merge (Bauer, van der Wilk & Rasmussen 2016).  The identities check that "
               "it is computed right; the comparison at the test inputs shows how good an approximation it is."],
        sections={
            "FITC against the exact GP at the held-out test inputs": (
                "The 301 test inputs (an even grid on [-3, 10], outside the data too) have no outputs; the exact "
                "GP's predictive is the reference.  RMS and largest differences of the predictive mean and sd of f "
                "(— for the exact GP: it is the reference, so it has no differences from itself)."
                "\n\n" + markdown_table(quality, index=False, floatfmt=".4g", missing="—")),
            "Where the pseudo-inputs moved": markdown_table(moved, index=False, floatfmt=".4f"),
            "Optimisation runs": ("`stopped`: why L-BFGS-B stopped, from SciPy's status and message.\n\n"
                                  + markdown_table(fit.table(), index=False, floatfmt=".4g") + "\n\n" + stops)},
        checks=rows)


def _plot(data, exact_mean, exact_var, panels):
    """Snelson's data, the exact GP and FITC of each panel ``(label, mean, var, Z)``: mean and 2 sd, Z marked."""
    import matplotlib.pyplot as plt
    import numpy as np

    from bayes_zoo.figures import legend_outside, style

    with style():
        return _draw(plt, np, legend_outside, data, exact_mean, exact_var, panels)


def _draw(plt, np, legend_outside, data, exact_mean, exact_var, panels):
    X, y, x = data["X"], data["y"], data["X_test"][:, 0]
    fig, axes = plt.subplots(1, len(panels), figsize=(11, 3.8), sharey=True)
    for ax, (label, mean, var, Z) in zip(axes, panels):
        ax.plot(X[:, 0], y, ".", color="0.5", ms=3, label="data")
        ax.plot(x, exact_mean, color="k", lw=1, label="exact GP")
        for sign in (-1, 1):
            ax.plot(x, exact_mean + sign * 2 * np.sqrt(exact_var), color="k", lw=0.6, ls="--",
                    label="exact GP ± 2 sd" if sign < 0 else None)
        ax.plot(x, mean, color="C3", lw=1.2, label="FITC")
        ax.fill_between(x, mean - 2 * np.sqrt(var), mean + 2 * np.sqrt(var), color="C3", alpha=0.2, lw=0,
                        label="FITC ± 2 sd")
        bottom = min(y.min(), (exact_mean - 2 * np.sqrt(exact_var)).min()) - 0.3
        ax.plot(Z[:, 0], np.full(Z.shape[0], bottom), "|", color="C3", ms=14, mew=2, label="pseudo-inputs")
        ax.set_title(f"FITC, {label}", fontsize=9)
        ax.set_xlabel("input x")
        ax.set_ylabel("f(x), y (output units)")
    fig.suptitle("Snelson's data: the exact GP and FITC, predictive mean of f and ± 2 sd", fontsize=10)
    fig.tight_layout()
    legend_outside(fig, ncols=6)
    return fig


def _sbc_data(quick: bool) -> dict:
    """SBC's data: 15 inputs evenly spaced on [0, 5], 4 pseudo-inputs on [0.5, 4.5], fixed hyperparameters."""
    import numpy as np

    return {"X": np.linspace(0.0, 5.0, 15)[:, None], "Z": np.linspace(0.5, 4.5, 4)[:, None], "eta": 1.0,
            "lengthscale": 1.0, "sigma": 0.3}


PAIR = register(Problem(
    name="sparse-gp",
    title="Sparse GP with pseudo-inputs, FITC (Snelson's 1-D data)",
    methods="handwritten FITC (O(N M^2)) vs PyMC MarginalApprox and the exact GP (identities)",
    data="bayes_zoo.models.datasets:load_snelson",
    sides={"fitc": Side(fitc_u, title="FITC posterior of u", when=sbc_only)},
    variables=("u",),
    options=(Option("inducing", 10, "number of pseudo-inputs M (default 10)", check=_inducing),
             Option("restarts", 4, "random restarts of the pseudo-input optimisation (default 4)",
                    check=partial(nonnegative_int, name="restarts"))),
    quick=RunSettings(draws=500, chains=2, warmup=500, quick=True),
    report=(_report,),
    simulate="bayes_zoo.models.sparse_gp:simulate",
    sbc_data=_sbc_data,
    stored_per_draw=0,  # nothing sampled
))
