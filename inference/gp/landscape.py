"""The hyperparameter landscape of GP regression on a grid, and the figures of notebook 03.

* :func:`log_ml_grid` evaluates ``log p(y | eta, ell, sigma)`` over a grid of all three hyperparameters with one
  eigendecomposition per lengthscale.  Writing ``K = eta^2 K1`` with ``K1 = Q diag(lam) Q^T`` the
  unit-amplitude kernel matrix and ``z = Q^T y``::

      log p(y) = -1/2 sum_i z_i^2 / (eta^2 lam_i + sigma^2) - 1/2 sum_i log(eta^2 lam_i + sigma^2) - N/2 log 2 pi

  which costs O(N) per ``(eta, sigma)`` instead of a Cholesky's O(N^3) (GPML eq. 2.30 in the eigenbasis).
* :func:`lengthscale_posterior` integrates that likelihood against the priors of :class:`GPPrior` over the grid
  of ``(eta, sigma)``: the marginal posterior density of the lengthscale by quadrature, a reference that needs
  no sampler (three hyperparameters are few enough for a grid).
* :func:`hyperparameter_placement` says where a point estimate (type-II ML) falls in posterior draws.
* Figures in the house style (:mod:`bayes_zoo.figures`): :func:`plot_prior_draws`, :func:`plot_log_ml_landscape`,
  :func:`plot_latent_vs_exact`, :func:`plot_hyperparameter_pairs`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special, stats

from bayes_zoo.figures import legend_outside, styled
from bayes_zoo.inference.gp import exact
from bayes_zoo.inference.gp.study import prior_samples
from bayes_zoo.models.gp import GPHyperparameters, GPPrior, as_inputs, check_data, exp_quad

__all__ = [
    "log_ml_grid",
    "lengthscale_posterior",
    "hyperparameter_placement",
    "HYPERPARAMETERS",
    "plot_prior_draws",
    "plot_log_ml_landscape",
    "plot_latent_vs_exact",
    "plot_hyperparameter_pairs",
]

#: The three hyperparameters of the squared-exponential GP, as the PyMC models name them.
HYPERPARAMETERS = ("eta", "lengthscale", "sigma")


def _grid(values, name: str) -> np.ndarray:
    a = np.atleast_1d(np.asarray(values, dtype=float))
    if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"{name}: expected a non-empty 1-D sequence of finite values > 0, got {values!r}")
    return a


def log_ml_grid(X, y, lengthscales, etas, sigmas, *, jitter: float = 0.0) -> np.ndarray:
    """``log p(y | eta, ell, sigma)`` (nats) on the grid ``lengthscales x sigmas x etas``.

    One ``eigh`` of the unit-amplitude kernel matrix per lengthscale (module doc); its round-off negative
    eigenvalues (long lengthscales) are set to 0.  Agrees with
    :func:`bayes_zoo.inference.gp.exact.log_marginal_likelihood` to about 1e-10 where ``C`` is well
    conditioned.

    Parameters
    ----------
    X : array_like, shape (N, D) or (N,)
    y : array_like, shape (N,)
    lengthscales : sequence of float > 0, length L
        Units of x (one shared lengthscale).
    etas : sequence of float > 0, length E
        Amplitudes, units of y.
    sigmas : sequence of float > 0, length S
        Noise sds, units of y.
    jitter : float >= 0
        Added to the diagonal of ``C`` as PyMC does (``PYMC_JITTER``).

    Returns
    -------
    numpy.ndarray, shape (L, S, E)

    Raises
    ------
    ValueError
        For bad data (naming ``X`` or ``y``), or naming ``lengthscales``, ``etas``, ``sigmas`` or ``jitter``.
    """
    X, y = check_data(X, y)
    ells = _grid(lengthscales, "lengthscales")
    etas = _grid(etas, "etas")
    sigmas = _grid(sigmas, "sigmas")
    jitter = float(jitter)
    if not np.isfinite(jitter) or jitter < 0:
        raise ValueError(f"jitter: expected a finite value >= 0, got {jitter!r}")
    n = y.size
    out = np.empty((ells.size, sigmas.size, etas.size))
    for i, ell in enumerate(ells):
        lam, Q = np.linalg.eigh(exp_quad(X, X, 1.0, ell))
        lam = np.maximum(lam, 0.0)
        z2 = (Q.T @ y) ** 2  # [N]
        c = etas[None, :, None] ** 2 * lam[None, None, :] + sigmas[:, None, None] ** 2 + jitter  # [S, E, N]
        out[i] = -0.5 * (z2 / c).sum(-1) - 0.5 * np.log(c).sum(-1) - 0.5 * n * np.log(2 * np.pi)
    return out


def _trapezoid_weights(log_grid: np.ndarray) -> np.ndarray:
    if log_grid.size == 1:
        return np.ones(1)
    step = np.diff(log_grid)
    w = np.zeros(log_grid.size)
    w[:-1] += step / 2
    w[1:] += step / 2
    return w


def lengthscale_posterior(X, y, prior: GPPrior, lengthscales, etas, sigmas, *, jitter: float = 0.0) -> pd.DataFrame:
    """The marginal posterior density of the lengthscale, by quadrature over ``(eta, sigma)``.

    ``p(ell | y) ∝ ∫∫ p(y | eta, ell, sigma) p(ell) p(eta) p(sigma) d eta d sigma`` with the priors of ``prior``
    (``ell ~ InverseGamma(ell_alpha, scale ell_beta)``, ``eta ~ HalfNormal(eta_sd)``,
    ``sigma ~ HalfNormal(sigma_sd)``, as :func:`bayes_zoo.models.gp.build_marginal_model` has them).  The
    integrals are trapezoid rules on the logarithms of the grids (Jacobian ``eta sigma`` included), and the
    density of ``ell`` is normalised by the trapezoid rule in ``log ell`` over ``lengthscales``.  The grids must
    cover the posterior's mass: check that ``density`` is negligible at both ends of ``lengthscales``.

    Parameters
    ----------
    X : array_like, shape (N, D) or (N,)
    y : array_like, shape (N,)
    prior : GPPrior
    lengthscales, etas, sigmas : sequence of float > 0, increasing
        Log-spaced grids (units of x, y, y) that cover the posterior.
    jitter : float >= 0
        As :func:`log_ml_grid`.

    Returns
    -------
    pandas.DataFrame
        Index ``lengthscale``; columns ``density`` (per unit of ell, so ``∫ density d ell = 1``) and ``cdf``
        (``P(ell' <= ell | y)``, 0 at the first grid point and 1 at the last).  Quantiles:
        ``np.interp(q, table["cdf"], table.index)``.

    Raises
    ------
    ValueError
        As :func:`log_ml_grid`; naming ``prior`` if it is not a GPPrior, or a grid that is not increasing or
        (``lengthscales``) has fewer than two points.
    """
    if not isinstance(prior, GPPrior):
        raise ValueError(f"prior: expected a GPPrior, got {type(prior).__name__}")
    grids = {"lengthscales": _grid(lengthscales, "lengthscales"), "etas": _grid(etas, "etas"),
             "sigmas": _grid(sigmas, "sigmas")}
    for name, g in grids.items():
        if np.any(np.diff(g) <= 0):
            raise ValueError(f"{name}: must be increasing")
    ells, etas, sigmas = grids["lengthscales"], grids["etas"], grids["sigmas"]
    if ells.size < 2:
        raise ValueError("lengthscales: need at least two points")
    log_lik = log_ml_grid(X, y, ells, etas, sigmas, jitter=jitter)  # [L, S, E]
    # log prior densities times the Jacobian of the log grid (d eta = eta d log eta, ...)
    log_eta = stats.halfnorm.logpdf(etas, scale=prior.eta_sd) + np.log(etas)
    log_sigma = stats.halfnorm.logpdf(sigmas, scale=prior.sigma_sd) + np.log(sigmas)
    log_w = (np.log(_trapezoid_weights(np.log(sigmas)))[:, None] + log_sigma[:, None]
             + np.log(_trapezoid_weights(np.log(etas)))[None, :] + log_eta[None, :])  # [S, E]
    log_ell = stats.invgamma.logpdf(ells, prior.ell_alpha, scale=prior.ell_beta)
    log_density = special.logsumexp(log_lik + log_w[None], axis=(1, 2)) + log_ell  # per unit ell, unnormalised
    log_u = np.log(ells)
    # normalise: ∫ p(ell) d ell = ∫ p(ell) ell d log ell, by the trapezoid rule in log ell
    log_norm = special.logsumexp(log_density + log_u + np.log(_trapezoid_weights(log_u)))
    density = np.exp(log_density - log_norm)
    mass = density * ells  # per unit log ell
    cdf = np.concatenate([[0.0], np.cumsum(np.diff(log_u) * (mass[1:] + mass[:-1]) / 2)])
    table = pd.DataFrame({"density": density, "cdf": cdf / cdf[-1]}, index=pd.Index(ells, name="lengthscale"))
    return table


def hyperparameter_placement(idata, hyper: GPHyperparameters, names=HYPERPARAMETERS) -> pd.DataFrame:
    """Where a point estimate of the hyperparameters falls among posterior draws.

    Parameters
    ----------
    idata : arviz.InferenceData
        With posterior variables ``names`` (scalars per draw), e.g. from
        :func:`bayes_zoo.models.gp.build_marginal_model` sampled by NUTS.
    hyper : GPHyperparameters
        The point (e.g. type-II ML), one shared lengthscale.
    names : sequence of str
        Hyperparameters to place, attributes of ``hyper``.

    Returns
    -------
    pandas.DataFrame
        Index ``hyperparameter``; columns ``point`` (the value in ``hyper``), ``posterior 5%``, ``posterior
        median``, ``posterior 95%`` (units of the hyperparameter) and ``posterior CDF at point`` (the share of
        draws at or below it: near 0 or 1, the point is in a tail).

    Raises
    ------
    ValueError
        Naming ``names`` if the posterior lacks one or ``hyper`` has no such attribute.
    """
    rows = []
    for name in names:
        if name not in idata.posterior or not hasattr(hyper, name):
            raise ValueError(f"names: {name!r} is not both a posterior variable and a hyperparameter")
        d = idata.posterior[name].values.ravel()
        value = float(np.asarray(getattr(hyper, name), dtype=float).ravel()[0])
        q = np.quantile(d, [0.05, 0.5, 0.95])
        rows.append({"hyperparameter": name, "point": value, "posterior 5%": q[0], "posterior median": q[1],
                     "posterior 95%": q[2], "posterior CDF at point": float(np.mean(d <= value))})
    return pd.DataFrame(rows).set_index("hyperparameter")


@styled
def plot_prior_draws(rng: np.random.Generator, X_grid, lengthscales, *, eta: float = 1.0, size: int = 4):
    """One panel per lengthscale: ``size`` draws of f from the GP prior (amplitude ``eta``) on ``X_grid``.

    Parameters
    ----------
    rng : numpy.random.Generator
    X_grid : array_like, shape (M, 1) or (M,)
        Sorted inputs.
    lengthscales : sequence of float > 0
        Units of x.
    eta : float > 0
        Units of y.
    size : int >= 1

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        As :func:`bayes_zoo.inference.gp.study.prior_samples`, and naming ``lengthscales``.
    """
    import matplotlib.pyplot as plt

    X_grid = as_inputs(X_grid, "X_grid")
    ells = _grid(lengthscales, "lengthscales")
    grid = X_grid[:, 0]
    fig, axes = plt.subplots(1, ells.size, figsize=(3 * ells.size, 2.6), sharey=True, squeeze=False,
                             layout="constrained")
    for ax, ell in zip(axes[0], ells):
        draws = prior_samples(rng, X_grid, GPHyperparameters(eta=eta, lengthscale=float(ell), sigma=0.0), size)
        ax.plot(grid, draws.T, lw=1)
        ax.set_title(f"ell = {ell:g}")
        ax.set_xlabel("input x")
        ax.set_ylabel("prior draw of f(x) (output units)")
    fig.suptitle(f"Draws from the GP prior, eta = {eta:g}")
    return fig


@styled
def plot_log_ml_landscape(lengthscales, sigmas, surface, fit: exact.Type2MLResult, *, true_sigma: float | None = None):
    """Contours of the profiled log marginal likelihood over ``(ell, sigma)`` below its optimum, with the end
    points of every type-II ML run (each annotated with its log ML) and the optimum.

    Parameters
    ----------
    lengthscales : array_like, shape (L,)
    sigmas : array_like, shape (S,)
    surface : array_like, shape (S, L)
        log p(y) (nats) with eta profiled out, e.g. ``log_ml_grid(...).max(axis=2).T``.
    fit : Type2MLResult
        From :func:`bayes_zoo.inference.gp.exact.fit_type2_ml`.
    true_sigma : float, optional
        The noise sd that simulated the data, drawn as a dotted line.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        Naming ``surface`` if its shape is not ``(S, L)``.
    """
    import matplotlib.pyplot as plt

    ells, sigmas = _grid(lengthscales, "lengthscales"), _grid(sigmas, "sigmas")
    surface = np.asarray(surface, dtype=float)
    if surface.shape != (sigmas.size, ells.size):
        raise ValueError(f"surface: expected shape {(sigmas.size, ells.size)} (sigmas, lengthscales), "
                         f"got {surface.shape}")
    top = fit.log_marginal_likelihood
    fig, ax = plt.subplots(figsize=(7.5, 4.8), layout="constrained")
    drop = np.clip(top - surface, 0, 200)
    levels = [0, 1, 2, 5, 10, 20, 30, 40, 50, 75, 100, 150, 200]
    cs = ax.contourf(ells, sigmas, drop, levels=levels, cmap="viridis_r")
    ax.contour(ells, sigmas, drop, levels=levels, colors="k", linewidths=0.4)
    fig.colorbar(cs, ax=ax, label="log ML below the optimum (nats; eta profiled out)")
    ends = np.array([[r.end.lengthscale, r.end.sigma, r.log_marginal_likelihood] for r in fit.restarts])
    inside = ends[ends[:, 1] >= sigmas[0]]
    ax.scatter(inside[:, 0], inside[:, 1], s=60, facecolors="w", edgecolors="k", lw=1.2,
               label="restart end points (log ML)")
    for ell, s, v in np.unique(np.round(inside, 6), axis=0):
        ax.annotate(f"{v:.1f}", (ell, s), textcoords="offset points", xytext=(7, 5), fontsize=8,
                    bbox=dict(boxstyle="round,pad=0.15", fc="w", ec="none", alpha=0.8))
    below = ends[ends[:, 1] < sigmas[0]]  # sigma below the grid: drawn at its lower edge
    if len(below):
        ax.plot(below[:, 0], np.full(len(below), sigmas[0] * 1.15), "v", mfc="w", mec="k", ms=9, clip_on=False,
                label="end points below the grid's sigma")
        for ell, s, v in below:
            ax.annotate(f"{v:.1f} (sigma = {s:.1g})", (ell, sigmas[0] * 1.15), textcoords="offset points",
                        xytext=(8, 6), fontsize=8, bbox=dict(boxstyle="round,pad=0.15", fc="w", ec="none", alpha=0.8))
    ax.plot(fit.hyper.lengthscale, fit.hyper.sigma, "r*", ms=14, label="type-II ML")
    if true_sigma is not None:
        ax.axhline(true_sigma, color="k", ls=":", lw=1, label="true noise sd")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(ells[0], ells[-1])
    ax.set_ylim(sigmas[0], sigmas[-1])
    ax.set_xlabel("lengthscale ell (units of x)")
    ax.set_ylabel("noise sd sigma (output units)")
    ax.set_title("log marginal likelihood over (ell, sigma)")
    legend_outside(ax, where="below", ncols=2)
    return fig


@styled
def plot_latent_vs_exact(gp: exact.ExactGP, latent, cv, reference: pd.DataFrame):
    """NUTS over f at the training inputs against the closed form: the means and 90% intervals (left), and
    each test's z-score with the Bonferroni threshold (right).

    Parameters
    ----------
    gp : ExactGP
        The exact posterior NUTS's model conditions on (1-D inputs, sorted).
    latent : arviz.InferenceData
        NUTS draws of ``f`` (from :func:`bayes_zoo.models.gp.build_latent_model`).
    cv : bayes_zoo.inference.crossval.CrossValidation
        ``compare({...: latent}, reference, var_names=["f"])``.
    reference : pandas.DataFrame
        The exact summary (:func:`bayes_zoo.inference.gp.exact.exact_summary`); its index orders the tests.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    mean_f, cov_f = exact.posterior_at_training_inputs(gp)
    sd_f = np.sqrt(np.diag(cov_f))
    n = gp.y.size
    draws = latent.posterior["f"].values.reshape(-1, n)
    lo, hi = np.quantile(draws, [0.05, 0.95], axis=0)
    centre = draws.mean(0)
    x = gp.X[:, 0]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4), gridspec_kw={"width_ratios": [2, 1]}, layout="constrained")
    ax = axes[0]
    ax.fill_between(x, mean_f - 1.645 * sd_f, mean_f + 1.645 * sd_f, color="C0", alpha=0.25, lw=0,
                    label="closed form, 90%")
    ax.plot(x, mean_f, color="C0", label="closed-form mean")
    ax.errorbar(x, centre, yerr=[centre - lo, hi - centre], fmt="o", ms=3, color="C1", elinewidth=0.8,
                label="NUTS mean and 90%")
    ax.plot(x, gp.y, "x", color="C3", ms=4, label="data y")
    ax.set_xlabel("input x")
    ax.set_ylabel("f at the training inputs (output units)")
    legend_outside(ax)
    ax = axes[1]
    z = cv.table.pivot_table(index="quantity", columns="statistic", values="z").reindex(reference.index)
    for s in z.columns:
        ax.plot(np.arange(len(z)), z[s].to_numpy(), ".", label=s)
    ax.axhline(cv.threshold, color="k", ls=":", lw=1, label="Bonferroni threshold")
    ax.axhline(-cv.threshold, color="k", ls=":", lw=1)
    ax.set_xlabel("training input i (sorted by x)")
    ax.set_ylabel("z-score against exact")
    ax.set_title("z-scores of mean, sd, 5% and 95% quantile")
    legend_outside(ax)
    return fig


@styled
def plot_hyperparameter_pairs(idata, hyper: GPHyperparameters,
                              pairs=(("lengthscale", "sigma"), ("lengthscale", "eta"), ("eta", "sigma"))):
    """Scatter plots of posterior draws of pairs of hyperparameters, with a point estimate (type-II ML) marked.

    Parameters
    ----------
    idata : arviz.InferenceData
        With posterior variables named in ``pairs``.
    hyper : GPHyperparameters
    pairs : sequence of (str, str)

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    units = {"eta": "output units", "sigma": "output units", "lengthscale": "input units"}
    fig, axes = plt.subplots(1, len(pairs), figsize=(3.7 * len(pairs), 3.3), squeeze=False, layout="constrained")
    for ax, (a, b) in zip(axes[0], pairs):
        ax.scatter(idata.posterior[a].values.ravel(), idata.posterior[b].values.ravel(), s=3, alpha=0.3,
                   color="C0", label="NUTS draws")
        ax.plot(getattr(hyper, a), getattr(hyper, b), "r*", ms=13, label="type-II ML")
        ax.set_xlabel(f"{a} ({units.get(a, 'units')})")
        ax.set_ylabel(f"{b} ({units.get(b, 'units')})")
    # legend markers of one size: the draws' dots (s=3) enlarged, the star shrunk
    legend_outside(fig, handles=[Line2D([], [], ls="", marker="o", ms=5, color="C0", alpha=0.6, label="NUTS draws"),
                                 Line2D([], [], ls="", marker="*", ms=9, color="r", label="type-II ML")])
    fig.suptitle("Posterior draws of the hyperparameters, with the type-II ML point")
    return fig
