"""Exact GP regression with the squared-exponential kernel, declared: the closed form by hand vs PyMC's
``gp.Marginal`` and ``gp.Latent``, and the lengthscale study.

On data simulated from the run's seed, the loader fits type-II ML.  Identities against ``gp.Marginal`` at
those hyperparameters; NUTS over f (``gp.Latent``, side ``latent``) against the closed form; NUTS over the
hyperparameters (``marginal``, advisory: the mode placed in the posterior); the lengthscale study.  SBC, at
fixed hyperparameters: the closed form's draws (``handwritten``) and ``gp.Latent`` (``nuts``).
"""

from __future__ import annotations

from bayes_zoo.problem import Addition, Option, Problem, Side, sbc_only
from bayes_zoo.registry import RunSettings, register
from bayes_zoo.tables import markdown_table

#: The lengthscales of the study (the issue's list).
LENGTHSCALES = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
HYPER_NAMES = ("eta", "lengthscale", "sigma")
#: Each hyperparameter's unit, for the axes of the hyperparameter run's trace and rank plots.
HYPER_UNITS = {"eta": "output units", "lengthscale": "input units", "sigma": "output units"}
#: Draws (and tuning steps) per chain of the hyperparameter run: at most MARGINAL_DRAWS, QUICK_... at --quick.
MARGINAL_DRAWS = 500
QUICK_MARGINAL_DRAWS = 200
#: SBC data: f at SBC_N evenly spaced inputs on [0, 5] from the GP prior at the fixed SBC_HYPER.
SBC_N = 12
SBC_HYPER = {"eta": 1.0, "lengthscale": 1.0, "sigma": 0.3}


def _lengthscales(text) -> tuple[float, ...]:
    import numpy as np

    try:
        values = tuple(float(v) for v in (str(text).split(",") if isinstance(text, str) else text) if str(v).strip())
    except ValueError:
        raise ValueError(f"expected comma-separated numbers, got {text!r}") from None
    if not values or not all(np.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"expected finite values > 0, got {text!r}")
    return values


def _n_train(n_train) -> int:
    from bayes_zoo.models.checks import fits_in_memory, positive_int

    if positive_int(n_train, "n_train") < 3:
        raise ValueError(f"n_train: need at least 3 training points, got {n_train}")
    # A lower bound: the closed form holds K, K + sigma^2 I and its Cholesky factor, N x N each.
    fits_in_memory(3 * 8.0 * n_train**2, "n_train", f"{n_train:,} training points (three {n_train:,} x {n_train:,} "
                   f"matrices)")
    return n_train


def load(n_train: int = 40, seed: int = 0):
    """The data set (:func:`bayes_zoo.models.gp.simulate_dataset` ``(seed, n_train)``) with what the pair computes
    once, before any sampler: type-II ML (``ml``, ``hyper``; given start ``init`` eta = sd(y), ell = range(X) / 5,
    sigma = sd(y) / 5, and 4 random restarts from ``seed``) and the exact posterior ``post`` at PyMC's jitter."""
    from dataclasses import replace

    import numpy as np

    from bayes_zoo.inference.gp import exact
    from bayes_zoo.models import gp as gpm

    data = gpm.simulate_dataset(seed, n_train=n_train)
    X, y = data["X"], data["y"]
    init = gpm.GPHyperparameters(eta=float(np.std(y)), lengthscale=float(np.ptp(X)) / 5, sigma=float(np.std(y)) / 5)
    ml = exact.fit_type2_ml(X, y, init, restarts=4, seed=seed)
    post = exact.posterior(X, y, ml.hyper, jitter=gpm.PYMC_JITTER)
    return replace(data, arrays={**data.arrays, "init": init, "ml": ml, "hyper": ml.hyper, "jitter": gpm.PYMC_JITTER,
                                 "post": post})


def latent(data, *, seed, draws, chains, warmup):
    """NUTS over f (``gp.Latent`` at ``data["hyper"]`` and ``data["jitter"]``): the pair's ``latent`` result, its
    confirmatory rerun, :func:`latent_comparison` and SBC's ``nuts``."""
    from bayes_zoo.inference.nuts import sample_nuts
    from bayes_zoo.models import gp as gpm

    return sample_nuts(gpm.build_latent_model(data["X"], data["y"], data["hyper"], jitter=data["jitter"]),
                       draws=draws, tune=warmup, chains=chains, seed=seed)


def marginal(data, *, seed, draws, chains, quick=False):
    """NUTS over the hyperparameters (``gp.Marginal``, :meth:`GPPrior.from_data`) with leave-one-out log-likelihood
    terms.  The zoo's slowest NUTS run (~20 ms an iteration at N = 40: PyTensor's Cholesky and its gradient) and
    advisory: at most MARGINAL_DRAWS draws per chain, 2 chains x QUICK_MARGINAL_DRAWS at --quick."""
    from bayes_zoo.inference.gp import exact
    from bayes_zoo.inference.nuts import sample_nuts
    from bayes_zoo.models import gp as gpm

    m_chains, m_draws = (2, QUICK_MARGINAL_DRAWS) if quick else (chains, min(draws, MARGINAL_DRAWS))
    model = gpm.build_marginal_model(data["X"], data["y"], gpm.GPPrior.from_data(data["X"], data["y"]))
    idata = sample_nuts(model, draws=m_draws, tune=m_draws, chains=m_chains, seed=seed)
    return exact.with_loo_log_likelihood(idata, data["X"], data["y"], jitter=data["jitter"])


def closed_form(data, *, seed, draws, chains):
    """Independent draws of f from the closed-form posterior (SBC's handwritten side)."""
    import numpy as np

    from bayes_zoo.inference.gp import exact

    post = exact.posterior(data["X"], data["y"], data["hyper"], jitter=data["jitter"])
    f = exact.sample_at_training_inputs(post, np.random.default_rng(seed), chains * draws)
    return {"f": f.reshape(chains, draws, -1)}


def _exact(data):
    from types import SimpleNamespace

    import pandas as pd

    from bayes_zoo.inference.gp import exact

    summary = pd.concat([exact.exact_summary(data["post"]), exact.log_likelihood_summary(data["post"])])
    return SimpleNamespace(summary=summary, method=(
        "the Gaussian posterior of f at the training inputs in closed form (`bayes_zoo.inference.gp.exact`) at the "
        "type-II ML hyperparameters; the joint quantity `loglik`'s mean and sd in closed form"))


def _loglik(data, idata):
    """The joint quantity: the training outputs' log-likelihood at each draw of f."""
    from bayes_zoo.inference.gp.exact import log_likelihood_of_f

    return log_likelihood_of_f(data["post"], idata.posterior["f"].values)


def latent_comparison(n_train: int = 40, *, seed: int = 0):
    """The pair's statistical comparison, set up once (:func:`load`, as ``bayes-zoo compare gp --seed SEED --n-train
    N_TRAIN``) for repeated runs (a false-alarm study): ``(sample, exact)``, ``sample(seed, draws, chains) ->
    {"latent": InferenceData}`` the pair's :func:`latent` with ``draws`` tuning steps (``ValueError`` naming a bad
    argument before any work; with the joint quantity ``loglik``), ``exact`` the pair's reference (index ``f[0] ..``,
    ``loglik``; ``mean``, ``sd``, ``q05``, ``q95``).
    Raises ``ValueError`` naming ``n_train`` or ``seed``."""
    from bayes_zoo.models.checks import positive_int
    from bayes_zoo.models.checks import seed as check_seed

    setup = load(_n_train(n_train), check_seed(seed, "seed"))

    def sample(seed: int, draws: int, chains: int) -> dict:
        seed, draws, chains = check_seed(seed, "seed"), positive_int(draws, "draws"), positive_int(chains, "chains")
        idata = latent(setup, seed=seed, draws=draws, chains=chains, warmup=draws)
        idata.posterior["loglik"] = (("chain", "draw"), _loglik(setup, idata))  # the joint quantity, as the pair's
        return {"latent": idata}

    return sample, _exact(setup).summary


def _report(run) -> Addition:
    from bayes_zoo.inference import crossval, diagnostics
    from bayes_zoo.inference.gp import exact, study
    from bayes_zoo.models import gp as gpm
    from bayes_zoo.problem import flagged_quantities, side_figures

    d, s, marginal_run = run.data, run.settings, run.results["marginal"]
    X, y, ml, init, hyper, jitter = d["X"], d["y"], d["ml"], d["init"], d["hyper"], d["jitter"]
    ours_mean, ours_var = exact.predict(d["post"], d["X_test"])
    pm_mean, pm_var = gpm.pymc_marginal_predict(X, y, d["X_test"], hyper, jitter=jitter)
    diag = diagnostics.diagnose(marginal_run, list(HYPER_NAMES), name="marginal")
    worst = flagged_quantities(diag)  # the trace and rank plots show these first, worst first
    shown = list(dict.fromkeys(worst + list(HYPER_NAMES)))
    flagged = f" ({len(worst)} with failed diagnostics first)" if worst else ""
    scored = study.lengthscale_study(X, y, d["X_test"], d["f_test"], hyper, [*run.options["lengthscales"],
                                                                          hyper.lengthscale])  # last: type-II ML
    table, ml_row = scored.iloc[:-1], scored.iloc[-1]
    return Addition(
        checks=[
            crossval.identity("predictive mean at 200 test inputs: ours vs gp.Marginal.predict", ours_mean, pm_mean),
            crossval.identity("predictive variance at 200 test inputs: ours vs gp.Marginal.predict", ours_var, pm_var),
            crossval.identity("log marginal likelihood: ours vs gp.Marginal's logp",
                              d["post"].log_marginal_likelihood,  # the posterior's own factorisation
                              gpm.pymc_marginal_log_likelihood(X, y, hyper, jitter=jitter), relative=True),
            _stationarity_identity(exact.stationarity(X, y, ml))],
        facts=[f"Type-II ML ({len(ml.restarts)} L-BFGS-B runs from the start eta = {init.eta:.3g}, ell = "
               f"{init.lengthscale:.3g}, sigma = {init.sigma:.3g} and random restarts, seed {s.seed}): eta = "
               f"{hyper.eta:.4g}, ell = {hyper.lengthscale:.4g}, sigma = {hyper.sigma:.4g}, log marginal likelihood "
               f"{ml.log_marginal_likelihood:.4f} (the simulation's true noise sd: {d['truth'][0]:g}).",
               f"Jitter {jitter:g} on the diagonal, as PyMC adds it (`bayes_zoo.models.gp.PYMC_JITTER`), in both "
               "computations.",
               f"Hyperparameter run (`gp.Marginal`): {diag.chains} chains x {diag.draws} draws after {diag.draws} "
               f"tuning steps{', a short run at --quick size' if s.quick else ''}; priors "
               f"{gpm.GPPrior.from_data(X, y).describe()}."],
        figures={"lengthscale_study": study.plot_lengthscale_study(X, y, d["X_test"], d["f_test"], hyper, table,
                                                                   ml_lengthscale=hyper.lengthscale, seed=s.seed),
                 "f_vs_exact": _plot_f(run.results["latent"], d["post"], X),
                 "trace_marginal": diagnostics.plot_trace(marginal_run, shown, title="marginal: trace" + flagged,
                                                          units=HYPER_UNITS),
                 "rank_marginal": diagnostics.plot_rank(marginal_run, shown, title="marginal: rank plot" + flagged,
                                                        units=HYPER_UNITS),
                 # the run that sets the verdict: only the quantities the verdict names (f has 40 components)
                 **side_figures("latent", run.results["latent"], "latent, NUTS over f (the quantities its verdict names)", (),
                                run.crossval)},
        sections={"Type-II ML against the NUTS posterior of the hyperparameters": _placement_markdown(
                      marginal_run, ml, diag),
                  "The lengthscale study": _study_markdown(table, ml_row, hyper)},
        notes=["The identities compare two computations of the same numbers (no Monte Carlo error): a failure is a "
               f"bug on one side.  The statistical comparison checks NUTS over the {len(y)}-dimensional f against "
               "the Gaussian posterior in closed form: mean, sd and 5%/95% quantiles of every f_i."])


def _stationarity_identity(st) -> dict:
    """The identity row for :func:`bayes_zoo.inference.gp.exact.stationarity`'s ``st``: its norm vs 0."""
    from bayes_zoo.inference import crossval

    return crossval.identity(
        f"type-II ML optimum is stationary: norm of the gradient of the log marginal likelihood in "
        f"({', '.join(st.names)}) by central differences (h = {st.step:g}; not the analytic gradient the "
        "optimiser followed) vs 0", st.norm, 0.0, tol=st.tolerance)


def _marginal_diagnostics_markdown(diag) -> str:
    """The hyperparameter run's R-hat, ESS and divergences (``diag``: :func:`bayes_zoo.inference.diagnostics.diagnose`
    on ``marginal``), with a flag when they fail the zoo's thresholds."""
    from bayes_zoo.inference.diagnostics import ESS_MIN, RHAT_MAX

    t = diag.table
    worst_rhat, low_bulk, low_tail = t["r_hat"].idxmax(), t["ess_bulk"].idxmin(), t["ess_tail"].idxmin()
    text = (f"Diagnostics of the hyperparameter run ({diag.chains} chains x {diag.draws} draws): largest R-hat "
            f"{t.loc[worst_rhat, 'r_hat']:.4g} ({worst_rhat}), smallest bulk ESS {t.loc[low_bulk, 'ess_bulk']:.0f} "
            f"({low_bulk}), smallest tail ESS {t.loc[low_tail, 'ess_tail']:.0f} ({low_tail}), "
            f"{'no' if not diag.divergences else diag.divergences} divergent transition"
            f"{'' if diag.divergences == 1 else 's'}.")
    problems = list(diag.untrusted) + list(diag.failures) + list(diag.low_ess)
    if problems:
        text += (f"  **These draws fail the zoo's thresholds (R-hat <= {RHAT_MAX:g}, bulk and tail ESS >= {ESS_MIN:g}, "
                 "no divergences): " + "; ".join(problems) + ".  The placement above rests on them: read it as "
                 "indicative only; the run is advisory and does not enter the verdict.**")
    else:
        text += (f"  They pass the zoo's thresholds (R-hat <= {RHAT_MAX:g}, bulk and tail ESS >= {ESS_MIN:g}, no "
                 "divergences).")
    return text


def _placement_markdown(marginal, ml, marginal_diag) -> str:
    """Where each type-II ML hyperparameter falls in NUTS's posterior (its posterior CDF, the posterior median and
    90% interval), the run's diagnostics, and why each type-II ML run stopped."""
    import numpy as np
    import pandas as pd

    from bayes_zoo.inference.gp import exact

    rows = []
    for name in HYPER_NAMES:
        draws, value = marginal.posterior[name].values.ravel(), float(getattr(ml.hyper, name))
        q = np.quantile(draws, [0.05, 0.5, 0.95])
        rows.append({"hyperparameter": name, "type-II ML": value, "posterior median": q[1],
                     "posterior 5%": q[0], "posterior 95%": q[2], "posterior CDF at ML": float(np.mean(draws <= value))})
    return (
        "Type-II ML maximises p(y | eta, ell, sigma); NUTS samples p(eta, ell, sigma | y) under the priors "
        "above.  With weak priors the mode should sit inside the bulk of the posterior: a posterior CDF near "
        "0 or 1 means the prior pulls, or the likelihood is flat in that direction.\n\n"
        + markdown_table(pd.DataFrame(rows), index=False, floatfmt=".4g")
        + "\n\n" + _marginal_diagnostics_markdown(marginal_diag)
        + "\n\nType-II ML runs (`stopped`: why L-BFGS-B stopped, from SciPy's status and message):\n\n"
        + markdown_table(ml.table().reset_index(), index=False, floatfmt=".4g")
        + "\n\n" + exact.stops_markdown("Type-II ML", [r.stopped for r in ml.restarts],
                                          [r.iterations for r in ml.restarts])
    )


def _study_markdown(table, ml_row, hyper) -> str:
    shown = table.reset_index()
    shown.loc[len(shown)] = [hyper.lengthscale, *ml_row.to_numpy()]
    shown["lengthscale"] = [f"{v:g}" for v in shown["lengthscale"][:-1]] + [f"**{hyper.lengthscale:.4g} (type-II ML)**"]
    best = table["test_rmse"].idxmin()
    return (
        f"eta = {hyper.eta:.4g} and sigma = {hyper.sigma:.4g} fixed at their type-II ML values; one exact "
        "posterior per lengthscale.  Short lengthscales chase the noise (training RMSE falls below sigma, test "
        "RMSE rises); long ones flatten the function (both rise).  The log marginal likelihood balances the "
        f"two; among the study's values the test RMSE is lowest at ell = {best:g}.  See the figure "
        "`lengthscale_study`.\n\n" + markdown_table(shown, index=False, floatfmt=".4g")
    )


def _plot_f(latent, gp_post, X):
    """NUTS's posterior of f at the training inputs (mean and 90% interval) against the closed form."""
    import matplotlib.pyplot as plt
    import numpy as np

    from bayes_zoo.inference.gp import exact

    mean, cov = exact.posterior_at_training_inputs(gp_post)
    sd = np.sqrt(np.diag(cov))
    draws = latent.posterior["f"].values.reshape(-1, mean.size)
    order = np.argsort(X[:, 0])
    x = X[order, 0]
    from bayes_zoo.figures import legend_outside, style

    with style():
        fig, ax = plt.subplots(figsize=(8, 3.4))
    ax.fill_between(x, (mean - 1.645 * sd)[order], (mean + 1.645 * sd)[order], color="C0", alpha=0.25, lw=0,
                    label="closed form, 90%")
    ax.plot(x, mean[order], color="C0", label="closed-form mean")
    lo, hi = np.quantile(draws, [0.05, 0.95], axis=0)
    ax.errorbar(x, draws.mean(axis=0)[order], yerr=[(draws.mean(axis=0) - lo)[order], (hi - draws.mean(axis=0))[order]],
                fmt="o", ms=3, color="C1", elinewidth=0.8, label="NUTS (gp.Latent), mean and 90%")
    with style():
        ax.set(xlabel="input x", ylabel="f at the training inputs (output units)",
               title="Posterior of f: NUTS over f against the closed form")
        legend_outside(ax, where="below", ncols=3)
        fig.tight_layout()
    return fig


def _sbc_data(quick: bool) -> dict:
    import numpy as np

    from bayes_zoo.models import gp as gpm

    return {"X": np.linspace(0.0, 5.0, SBC_N)[:, None], "hyper": gpm.GPHyperparameters(**SBC_HYPER),
            "jitter": gpm.PYMC_JITTER}


PAIR = register(Problem(
    name="gp",
    title="Gaussian-process regression, squared-exponential kernel (simulated 1-D data)",
    methods="closed form (type-II ML) vs PyMC gp.Marginal (identities) and gp.Latent/NUTS",
    data=load,
    sides={"latent": Side(latent, title="NUTS over f (`gp.Latent`, non-centred)"),
           "marginal": Side(marginal, title="NUTS over the hyperparameters (`gp.Marginal`)", compared=False,
                            advisory="NUTS over the hyperparameters (eta, lengthscale, sigma) only places the type-II "
                            "ML mode in their posterior (posterior CDF at the mode); no exact posterior of the "
                            "hyperparameters exists to compare it with"),
           "closed-form": Side(closed_form, title="closed form (independent draws)", when=sbc_only),
           "nuts": Side(latent, title="NUTS over f (`gp.Latent`)", when=sbc_only)},
    variables=("f",),
    exact=_exact,
    joint=_loglik,
    options=(Option("lengthscales", ",".join(f"{v:g}" for v in LENGTHSCALES),
                    "comma-separated lengthscales of the study (default 0.2,0.5,1,2,5,10)", check=_lengthscales),
             Option("n_train", 40, "simulated training points (default 40)", check=_n_train)),
    quick=RunSettings(draws=500, chains=4, warmup=500, quick=True),  # 2 short chains flag R-hat too often
    report=(_report,),
    figures=False,  # f has 40 components: the report plots f against the closed form, the hyperparameter run, and the
    #               latent run over the quantities its verdict names only (side_figures with nothing declared)
    simulate="bayes_zoo.models.gp:simulate",
    sbc_data=_sbc_data,
    sbc_sides=("closed-form", "nuts"),
    stored_per_draw=240,  # latent 138 + marginal 101 numbers a chain-iteration, all groups (marginal's capped at 500)
))
