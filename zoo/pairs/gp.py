"""Pair: exact GP regression with the squared-exponential kernel — the closed form by hand vs PyMC's
``gp.Marginal`` and ``gp.Latent``, and the lengthscale study.

On a simulated 1-D data set with a known true function (:func:`bayes_zoo.models.gp.simulate`):

1. type-II maximum likelihood of (eta, ell, sigma) with restarts (:func:`bayes_zoo.inference.gp.exact.fit_type2_ml`);
2. deterministic identities at those hyperparameters: our predictive mean and variance and our log marginal
   likelihood against PyMC's ``gp.Marginal`` (same jitter), to 1e-8;
3. statistical: NUTS over f with ``gp.Latent`` at those hyperparameters against our closed-form posterior
   of f at the training inputs, with the zoo's MCSE-scaled protocol;
4. type-II ML against the NUTS posterior over the hyperparameters (``gp.Marginal`` with priors): where the
   mode sits in the posterior (reported, not tested: a mode is not a posterior summary);
5. the lengthscale study (:mod:`bayes_zoo.inference.gp.study`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bayes_zoo.registry import Pair, PairOutcome, RunSettings, register

if TYPE_CHECKING:
    import arviz as az
    import pandas as pd

NAME = "gp"
TITLE = "Gaussian-process regression, squared-exponential kernel (simulated 1-D data)"
#: The lengthscales of the study (the issue's list).
LENGTHSCALES = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
HYPER_NAMES = ("eta", "lengthscale", "sigma")
#: Draws (and tuning steps) per chain of the hyperparameter run: at most MARGINAL_DRAWS, QUICK_... at --quick.
MARGINAL_DRAWS = 500
QUICK_MARGINAL_DRAWS = 200


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The pair's own CLI options."""
    parser.add_argument("--lengthscales", type=str, default=",".join(f"{v:g}" for v in LENGTHSCALES),
                        help="comma-separated lengthscales of the study (default %(default)s)")
    parser.add_argument("--n-train", type=int, default=40, help="simulated training points (default 40)")


def _parse_lengthscales(text) -> tuple[float, ...]:
    import numpy as np

    try:
        values = tuple(float(v) for v in str(text).split(",") if v.strip())
    except ValueError:
        raise ValueError(f"lengthscales: expected comma-separated numbers, got {text!r}") from None
    if not values or not all(np.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"lengthscales: expected finite values > 0, got {text!r}")
    return values


def check_options(*, lengthscales: str = ",".join(map(str, LENGTHSCALES)), n_train: int = 40) -> None:
    """Raise ``ValueError`` naming the option if :func:`run` would refuse these options."""
    from bayes_zoo.models.checks import fits_in_memory, positive_int

    _parse_lengthscales(lengthscales)
    if positive_int(n_train, "n_train") < 3:
        raise ValueError(f"n_train: need at least 3 training points, got {n_train}")
    # A lower bound: the closed form holds K, K + sigma^2 I and its Cholesky factor, N x N each.
    fits_in_memory(3 * 8.0 * n_train**2, "n_train", f"{n_train:,} training points (three {n_train:,} x {n_train:,} "
                   f"matrices)")


@dataclass(frozen=True)
class _Setup:
    """What the pair computes once per data seed, before any sampler: the data, type-II ML and the exact
    reference of f at the training inputs (shared by :func:`run`, its ``rerun`` and :func:`latent_comparison`)."""

    data: Any  # bayes_zoo.models.datasets.Dataset
    init: Any  # GPHyperparameters, type-II ML's given start
    ml: Any  # exact.Type2MLResult
    jitter: float
    reference: "pd.DataFrame"

    @property
    def X(self):
        return self.data.arrays["X"]

    @property
    def y(self):
        return self.data.arrays["y"]

    @property
    def hyper(self):
        return self.ml.hyper


def _setup(seed: int, n_train: int) -> _Setup:
    """Simulate the data (:func:`bayes_zoo.models.gp.simulate` ``(seed, n_train)``), fit type-II ML (given start
    eta = sd(y), ell = range(X) / 5, sigma = sd(y) / 5, and 4 random restarts from ``seed``) and compute the
    exact posterior of f at the training inputs at those hyperparameters and PyMC's jitter."""
    import numpy as np

    from bayes_zoo.inference.gp import exact
    from bayes_zoo.models import gp as gpm

    data = gpm.simulate(seed, n_train=n_train)
    X, y = data.arrays["X"], data.arrays["y"]
    init = gpm.GPHyperparameters(eta=float(np.std(y)), lengthscale=float(np.ptp(X)) / 5, sigma=float(np.std(y)) / 5)
    ml = exact.fit_type2_ml(X, y, init, restarts=4, seed=seed)
    jitter = gpm.PYMC_JITTER
    reference = exact.exact_summary(exact.posterior(X, y, ml.hyper, jitter=jitter))
    return _Setup(data, init, ml, jitter, reference)


def _sample_latent(setup: _Setup, *, seed: int, draws: int, chains: int, warmup: int) -> "az.InferenceData":
    """NUTS over f (``gp.Latent`` at ``setup``'s type-II ML hyperparameters and jitter): the one code path of
    the pair's ``latent`` result, its confirmatory rerun and :func:`latent_comparison`."""
    from bayes_zoo.inference import nuts
    from bayes_zoo.models import gp as gpm

    return nuts.sample_nuts(gpm.build_latent_model(setup.X, setup.y, setup.hyper, jitter=setup.jitter), draws=draws,
                            tune=warmup, chains=chains, seed=seed)


def _rerun(setup: _Setup, settings: RunSettings) -> dict:
    """``PairOutcome.rerun``: the ``latent`` NUTS run again under ``settings`` (its seed, draws, chains and
    warm-up), at the first run's hyperparameters, against the same reference (no new type-II ML fit)."""
    return {"latent": _sample_latent(setup, seed=settings.seed, draws=settings.draws, chains=settings.chains,
                                     warmup=settings.warmup)}


def latent_comparison(n_train: int = 40, *, seed: int = 0
                      ) -> tuple[Callable[[int, int, int], dict], "pd.DataFrame"]:
    """The pair's statistical comparison, set up once for repeated runs (a false-alarm study).

    Simulates the data and fits type-II ML once, exactly as ``bayes-zoo compare gp --seed SEED --n-train
    N_TRAIN`` does, and returns a sampler and the closed-form reference that the pair compares it with
    (``crossval.compare({"latent": ...}, exact, var_names=["f"])``).

    Parameters
    ----------
    n_train : int >= 3
        Simulated training points (the pair's ``--n-train``; default 40, the pair's).
    seed : int
        The data and type-II ML seed (the pair's ``--seed``; default 0).  The sampler's seed is ``sample``'s.

    Returns
    -------
    sample : callable
        ``sample(seed, draws, chains) -> {"latent": arviz.InferenceData}``: NUTS over f (``gp.Latent``) at the
        fitted hyperparameters, through the same function as the pair's ``latent`` result, with ``draws``
        kept draws and ``draws`` tuning steps per chain (the pair's default: ``--warmup`` defaults to 1,000 =
        ``--draws``, and ``--quick`` has 500 and 500) and PyMC seeded by ``seed``.  Each call builds and
        compiles the PyMC model afresh, as the pair does.  Raises ``ValueError`` naming ``seed``, ``draws``
        or ``chains`` for a bad value, before any work.
    exact : pandas.DataFrame
        Index ``f[0] .. f[n_train - 1]``; columns ``mean``, ``sd``, ``q05``, ``q95`` of the exact Gaussian
        posterior of f at the training inputs (:func:`bayes_zoo.inference.gp.exact.exact_summary`).

    Raises
    ------
    ValueError
        Naming ``n_train`` (< 3, or too large for memory) or ``seed``.
    """
    from bayes_zoo.models.checks import positive_int
    from bayes_zoo.models.checks import seed as check_seed

    check_options(n_train=n_train)
    setup = _setup(check_seed(seed, "seed"), n_train)

    def sample(seed: int, draws: int, chains: int) -> dict:
        seed = check_seed(seed, "seed")
        draws = positive_int(draws, "draws")
        chains = positive_int(chains, "chains")
        return {"latent": _sample_latent(setup, seed=seed, draws=draws, chains=chains, warmup=draws)}

    return sample, setup.reference


def run(settings: RunSettings, *, lengthscales: str = ",".join(map(str, LENGTHSCALES)),
        n_train: int = 40) -> PairOutcome:
    """Type-II ML, identities against PyMC, NUTS over f vs the closed form, NUTS over the hyperparameters,
    and the lengthscale study.

    Parameters
    ----------
    settings : RunSettings
    lengthscales : str
        Comma-separated lengthscales of the study.
    n_train : int >= 3
        Simulated training points.

    Returns
    -------
    PairOutcome
        Results ``"latent"`` (NUTS over f; posterior ``f``, without PyMC's internal ``f_rotated_``) and
        ``"marginal"`` (NUTS over the hyperparameters; its ``log_likelihood`` holds the leave-one-out terms of
        :func:`_with_loo_log_likelihood`), each with ``sample_stats``, ``observed_data``, ``log_likelihood`` and
        ``posterior_predictive`` of ``y`` (dims ``(chain, draw, obs)``); the cross-validation of ``latent``
        against the closed form; the identities; the study's figure.
    """
    from functools import partial

    from bayes_zoo.inference import crossval, diagnostics, nuts
    from bayes_zoo.inference.gp import exact, study
    from bayes_zoo.models import gp as gpm
    from bayes_zoo.report import sampling_times

    check_options(lengthscales=lengthscales, n_train=n_train)
    ells = _parse_lengthscales(lengthscales)
    settings.progress("type-II maximum likelihood")
    setup = _setup(settings.seed, n_train)
    data, init, ml, hyper, jitter = setup.data, setup.init, setup.ml, setup.hyper, setup.jitter
    X, y, X_test, f_test = data.arrays["X"], data.arrays["y"], data.arrays["X_test"], data.arrays["f_test"]
    stationary = exact.stationarity(X, y, ml)

    settings.progress("identities against PyMC gp.Marginal")
    gp_post = exact.posterior(X, y, hyper, jitter=jitter)
    ours_mean, ours_var = exact.predict(gp_post, X_test)
    pm_mean, pm_var = gpm.pymc_marginal_predict(X, y, X_test, hyper, jitter=jitter)
    checks = crossval.identities([
        crossval.identity("predictive mean at 200 test inputs: ours vs gp.Marginal.predict", ours_mean, pm_mean),
        crossval.identity("predictive variance at 200 test inputs: ours vs gp.Marginal.predict", ours_var, pm_var),
        crossval.identity("log marginal likelihood: ours vs gp.Marginal's logp",
                          exact.log_marginal_likelihood(X, y, hyper, jitter=jitter),
                          gpm.pymc_marginal_log_likelihood(X, y, hyper, jitter=jitter), relative=True),
        _stationarity_identity(stationary),
    ])

    settings.progress("PyMC / NUTS over f (gp.Latent)")
    latent = _sample_latent(setup, seed=settings.seed, draws=settings.draws, chains=settings.chains,
                            warmup=settings.warmup)
    reference = setup.reference
    cv = crossval.compare({"latent": latent}, reference, var_names=["f"], alpha=crossval.STAGE_ALPHA)

    settings.progress("PyMC / NUTS over the hyperparameters (gp.Marginal)")
    prior = gpm.GPPrior.from_data(X, y)
    # Not part of the verdict (a mode is placed in a posterior, not tested), and gp.Marginal is the slowest
    # NUTS run of the zoo (~20 ms an iteration at N = 40: PyTensor's Cholesky and its gradient): at most
    # MARGINAL_DRAWS draws per chain, a short run at --quick size; the report says which.
    m_chains = 2 if settings.quick else settings.chains
    m_draws = QUICK_MARGINAL_DRAWS if settings.quick else min(settings.draws, MARGINAL_DRAWS)
    marginal = nuts.sample_nuts(gpm.build_marginal_model(X, y, prior), draws=m_draws, tune=m_draws,
                                chains=m_chains, seed=settings.seed)
    marginal = _with_loo_log_likelihood(marginal, X, y, jitter)
    placement = _placement(marginal, hyper)
    marginal_diag = diagnostics.diagnose(marginal, list(HYPER_NAMES), name="marginal")
    advisory_why = (f"NUTS over the hyperparameters ({', '.join(HYPER_NAMES)}; {marginal_diag.chains} chains x "
                    f"{marginal_diag.draws} draws) only places the type-II ML mode in their posterior (posterior CDF "
                    "at the mode); no exact posterior of the hyperparameters exists to compare it with")

    settings.progress("lengthscale study")
    scored = study.lengthscale_study(X, y, X_test, f_test, hyper, [*ells, hyper.lengthscale])  # last: type-II ML
    table, ml_row = scored.iloc[:-1], scored.iloc[-1]
    figures = {
        "lengthscale_study": study.plot_lengthscale_study(X, y, X_test, f_test, hyper, table,
                                                          ml_lengthscale=hyper.lengthscale, seed=settings.seed),
        "f_vs_exact": _plot_f(latent, gp_post, X),
        "trace_marginal": diagnostics.plot_trace(marginal, list(HYPER_NAMES), title="marginal: trace"),
        "rank_marginal": diagnostics.plot_rank(marginal, list(HYPER_NAMES), title="marginal: rank plot"),
    }

    truth = data.arrays["truth"]
    facts = [
        f"Data: {data.description}",
        f"Type-II ML ({len(ml.restarts)} L-BFGS-B runs from the start eta = {init.eta:.3g}, ell = {init.lengthscale:.3g}, "
        f"sigma = {init.sigma:.3g} and random restarts, seed {settings.seed}): eta = {hyper.eta:.4g}, "
        f"ell = {hyper.lengthscale:.4g}, sigma = {hyper.sigma:.4g}, log marginal likelihood "
        f"{ml.log_marginal_likelihood:.4f} (the simulation's true noise sd: {truth[0]:g}).",
        f"Jitter {jitter:g} on the diagonal, as PyMC adds it (`bayes_zoo.models.gp.PYMC_JITTER`), in both computations.",
        f"NUTS: {settings.chains} chains x {settings.draws} draws after {settings.warmup} tuning steps, seed "
        f"{settings.seed}.  " + sampling_times(latent, "Over f (`gp.Latent`, non-centred)") + ".  "
        + sampling_times(marginal, f"Over the hyperparameters (`gp.Marginal`, {m_chains} chains x {m_draws} draws "
                                   f"after {m_draws}{', a short run at --quick size' if settings.quick else ''})")
        + ".",
        f"Hyperparameter priors (`gp.Marginal` run): {prior.describe()}.",
    ]
    sections = {
        "Type-II ML against the NUTS posterior of the hyperparameters": _placement_markdown(placement, ml,
                                                                                            marginal_diag),
        "The lengthscale study": _study_markdown(table, ml_row, hyper),
    }
    notes = [
        "The identities compare two computations of the same numbers (no Monte Carlo error): a failure is a "
        "bug on one side.  The statistical comparison checks NUTS over the 40-dimensional f against the "
        "Gaussian posterior in closed form: mean, sd and 5%/95% quantiles of every f_i.",
    ]
    results = {"latent": latent, "marginal": marginal}
    return PairOutcome(NAME, TITLE, results, cv, reference, facts, figures, notes, sections, checks,
                       rerun=partial(_rerun, setup), advisory_runs={"marginal": advisory_why})


def _stationarity_identity(st) -> dict:
    """The pair's identity row (:func:`bayes_zoo.inference.crossval.identity`) for
    :func:`bayes_zoo.inference.gp.exact.stationarity`'s result ``st``: its norm against 0 within its tolerance."""
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


def _with_loo_log_likelihood(marginal, X, y, jitter):
    """``marginal`` with its ``log_likelihood.y`` replaced by the leave-one-out terms ``log p(y_i | y_-i, eta,
    lengthscale, sigma)`` at each draw (:func:`bayes_zoo.inference.gp.exact.loo_log_predictive`), dims
    ``(chain, draw, obs)``.

    ``gp.Marginal``'s ``y`` is one MvNormal: its observations are not independent given the hyperparameters,
    so PyMC's ``log_likelihood`` holds one joint term per draw, which ``az.loo`` would take for a single
    observation.  The conditional terms are what PSIS-LOO needs for such a model (Bürkner, Gabry & Vehtari
    2021); ``az.loo``/``az.compare`` then estimate the leave-one-out predictive density of each ``y_i``.  Their
    sum is not ``log p(y | theta)``; ``log_likelihood.attrs["y"]`` says so.
    """
    import numpy as np

    from bayes_zoo.inference.gp import exact
    from bayes_zoo.models import gp as gpm

    post = marginal.posterior
    chains, draws = post.sizes["chain"], post.sizes["draw"]
    terms = np.empty((chains, draws, len(y)))
    for c in range(chains):
        for t in range(draws):
            hyper = gpm.GPHyperparameters(eta=float(post["eta"].values[c, t]),
                                          lengthscale=post["lengthscale"].values[c, t],
                                          sigma=float(post["sigma"].values[c, t]))
            terms[c, t] = exact.loo_log_predictive(exact.posterior(X, y, hyper, jitter=jitter))
    ll = marginal.log_likelihood
    marginal.log_likelihood = ll.assign(y=(("chain", "draw", "obs"), terms)).assign_coords(obs=np.arange(len(y)))
    marginal.log_likelihood.attrs["y"] = (
        "log p(y_i | y_-i, eta, lengthscale, sigma), leave-one-out terms of the MvNormal y (GPML eqs. 5.10-5.12; "
        "Buerkner, Gabry & Vehtari 2021); their sum is not log p(y | theta)")
    return marginal


def _placement(marginal, hyper) -> "pd.DataFrame":
    """Where each type-II ML hyperparameter falls in NUTS's posterior: its posterior CDF and the posterior
    median and 90% interval."""
    import numpy as np
    import pandas as pd

    rows = []
    for name in HYPER_NAMES:
        draws = marginal.posterior[name].values.ravel()
        value = float(getattr(hyper, name))
        q = np.quantile(draws, [0.05, 0.5, 0.95])
        rows.append({"hyperparameter": name, "type-II ML": value, "posterior median": q[1],
                     "posterior 5%": q[0], "posterior 95%": q[2], "posterior CDF at ML": float(np.mean(draws <= value))})
    return pd.DataFrame(rows)


def _placement_markdown(placement, ml, marginal_diag) -> str:
    from bayes_zoo.inference.gp import exact

    return (
        "Type-II ML maximises p(y | eta, ell, sigma); NUTS samples p(eta, ell, sigma | y) under the priors "
        "above.  With weak priors the mode should sit inside the bulk of the posterior: a posterior CDF near "
        "0 or 1 means the prior pulls, or the likelihood is flat in that direction.\n\n"
        + placement.to_markdown(index=False, floatfmt=".4g")
        + "\n\n" + _marginal_diagnostics_markdown(marginal_diag)
        + "\n\nType-II ML runs (`stopped`: why L-BFGS-B stopped, from SciPy's status and message):\n\n"
        + ml.table().reset_index().to_markdown(index=False, floatfmt=".4g")
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
        "`lengthscale_study`.\n\n" + shown.to_markdown(index=False, floatfmt=".4g")
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
    fig, ax = plt.subplots(figsize=(8, 3.4))
    ax.fill_between(x, (mean - 1.645 * sd)[order], (mean + 1.645 * sd)[order], color="C0", alpha=0.25, lw=0,
                    label="closed form, 90%")
    ax.plot(x, mean[order], color="C0", label="closed-form mean")
    lo, hi = np.quantile(draws, [0.05, 0.95], axis=0)
    ax.errorbar(x, draws.mean(axis=0)[order], yerr=[(draws.mean(axis=0) - lo)[order], (hi - draws.mean(axis=0))[order]],
                fmt="o", ms=3, color="C1", elinewidth=0.8, label="NUTS (gp.Latent), mean and 90%")
    ax.set_xlabel("x")
    ax.set_ylabel("f at the training inputs")
    ax.set_title("Posterior of f: NUTS over f against the closed form")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------------------
# Simulation-based calibration (bayes_zoo.inference.sbc; `bayes-zoo sbc gp`)
# ---------------------------------------------------------------------------------------------------------

#: SBC data: f at SBC_N evenly spaced inputs on [0, 5], drawn from the GP prior at the fixed SBC_HYPER (with
#: PyMC's jitter on the prior covariance, as gp.Latent has it), and y = f + N(0, sigma^2).
SBC_N = 12
SBC_HYPER = {"eta": 1.0, "lengthscale": 1.0, "sigma": 0.3}
#: Draws per chain (2 chains), quick and full; NUTS tunes as many steps.
SBC_DRAWS = {True: 500, False: 1000}
SBC_LABELS = tuple(f"f[{i}]" for i in range(SBC_N))


def _sbc_setup():
    """``(X [SBC_N, 1], hyper, jitter)``."""
    import numpy as np

    from bayes_zoo.models import gp as gpm

    return np.linspace(0.0, 5.0, SBC_N)[:, None], gpm.GPHyperparameters(**SBC_HYPER), gpm.PYMC_JITTER


def _gaussian_draws(rng, mean, cov, size):
    """``size`` draws of N(mean, cov), shape ``(size, len(mean))``, through the symmetric eigendecomposition
    (a posterior covariance can be numerically singular in the directions the prior leaves at jitter level;
    eigenvalues that round below 0 are set to 0)."""
    import numpy as np

    values, vectors = np.linalg.eigh(0.5 * (cov + cov.T))
    root = vectors * np.sqrt(np.clip(values, 0.0, None))  # [N, N]
    return mean + rng.standard_normal((size, mean.size)) @ root.T


def _sbc_simulate(rng):
    import numpy as np

    from bayes_zoo.models import gp as gpm

    X, hyper, jitter = _sbc_setup()
    K = gpm.exp_quad(X, X, hyper.eta, hyper.lengthscale) + jitter * np.eye(SBC_N)
    f = np.linalg.cholesky(K) @ rng.standard_normal(SBC_N)
    y = f + hyper.sigma * rng.standard_normal(SBC_N)
    return {label: float(v) for label, v in zip(SBC_LABELS, f)}, y


def _sbc_exact(y, seed, *, draws):
    import numpy as np

    from bayes_zoo.inference.gp import exact

    X, hyper, jitter = _sbc_setup()
    mean, cov = exact.posterior_at_training_inputs(exact.posterior(X, y, hyper, jitter=jitter))
    f = _gaussian_draws(np.random.default_rng(seed), mean, cov, 2 * draws).reshape(2, draws, SBC_N)
    return {label: f[:, :, i] for i, label in enumerate(SBC_LABELS)}


def _sbc_nuts(y, seed, *, draws):
    from bayes_zoo.inference.nuts import sample_nuts
    from bayes_zoo.models import gp as gpm

    X, hyper, jitter = _sbc_setup()
    f = sample_nuts(gpm.build_latent_model(X, y, hyper, jitter=jitter), draws=draws, tune=draws, chains=2, seed=seed,
                    log_likelihood=False, posterior_predictive=False).posterior["f"].values  # [2, draws, SBC_N]
    return {label: f[:, :, i] for i, label in enumerate(SBC_LABELS)}


def sbc(*, quick: bool = False, planted_bug: bool = False) -> dict:
    """The pair's samplers for simulation-based calibration, at fixed hyperparameters ``SBC_HYPER``: f at
    ``SBC_N`` evenly spaced inputs on [0, 5] from the GP prior (covariance ``K + jitter I``, PyMC's jitter),
    ``y = f + N(0, sigma^2)``; quantities ``f[0] .. f[SBC_N - 1]``.  Handwritten: independent draws (2 "chains")
    from the closed-form Gaussian posterior of f (:func:`bayes_zoo.inference.gp.exact.posterior_at_training_inputs`).
    NUTS: ``gp.Latent`` (:func:`bayes_zoo.models.gp.build_latent_model`) at the same hyperparameters and jitter.

    Raises
    ------
    ValueError
        ``planted_bug``: this pair has no deliberately wrong sampler (only normal-gamma has one).
    """
    from functools import partial

    from bayes_zoo.inference.sbc import pair_problems

    draws = SBC_DRAWS[bool(quick)]
    return pair_problems(NAME, _sbc_simulate, handwritten=("closed-form", partial(_sbc_exact, draws=draws)),
                         nuts=("nuts (gp.Latent)", partial(_sbc_nuts, draws=draws)),
                         planted_bug=planted_bug)


PAIR = register(
    Pair(
        name=NAME,
        title=TITLE,
        methods="closed form (type-II ML) vs PyMC gp.Marginal (identities) and gp.Latent/NUTS",
        run=run,
        quick=RunSettings(draws=500, chains=4, warmup=500, quick=True),  # 2 short chains flag R-hat too often
        stored_per_draw=240,  # latent 138 + marginal 101 numbers a chain-iteration, all groups (marginal's draws are capped at 500)
        add_arguments=add_arguments,
        check_options=check_options,
        sbc=sbc,
    )
)
