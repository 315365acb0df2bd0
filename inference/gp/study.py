"""The lengthscale study: one closed-form posterior per lengthscale, against a known true function.

For each ``ell`` (eta and sigma held fixed, usually at their type-II ML values), :func:`lengthscale_study`
computes the exact posterior (:mod:`bayes_zoo.inference.gp.exact`) and reports

* the log marginal likelihood ``log p(y | ell)``, which type-II ML maximises;
* the training RMSE ``|y - E[f(X) | y]| / sqrt(N)``: it falls as ``ell`` shrinks (a spiky f interpolates
  the noise);
* the test RMSE against the true function on a grid, ``|f_true - E[f | y]| / sqrt(M)``: it is smallest at a
  moderate ``ell``; too short over-fits, too long under-fits;
* the 95% band's coverage of the true function on the grid.

:func:`plot_lengthscale_study` draws one panel per lengthscale: prior samples, the posterior mean with its
95% band, the data and the true function (GPML sec. 2.3 and 5.1 make the same point with Fig. 2.5 and 5.3).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from bayes_zoo.inference.gp import exact
from bayes_zoo.models.checks import generator, positive_int
from bayes_zoo.models.gp import GPHyperparameters, as_inputs, check_data, exp_quad

__all__ = ["lengthscale_study", "prior_samples", "plot_lengthscale_study"]

_Z975 = 1.959963984540054  # Phi^-1(0.975)


def _rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def lengthscale_study(X, y, X_test, f_test, hyper: GPHyperparameters, lengthscales, *,
                      jitter: float = 0.0) -> pd.DataFrame:
    """Exact posteriors of f for each lengthscale, the others fixed, scored against the true function.

    Parameters
    ----------
    X : array_like, shape (N, 1) or (N,)
    y : array_like, shape (N,)
    X_test : array_like, shape (M, 1) or (M,)
        A grid on which the true function is known.
    f_test : array_like, shape (M,)
        The true function on ``X_test`` (no noise).
    hyper : GPHyperparameters
        ``eta`` and ``sigma`` are used; its lengthscale is replaced by each of ``lengthscales``.
    lengthscales : sequence of float > 0
    jitter : float >= 0

    Returns
    -------
    pandas.DataFrame
        Index ``lengthscale``; columns ``log_marginal_likelihood``, ``train_rmse``, ``test_rmse`` and
        ``coverage_95`` (fraction of the grid where the true function lies in the 95% band of f).

    Raises
    ------
    ValueError
        For bad data (naming ``X``, ``y``, ``X_test``, ``f_test``) or an empty or non-positive
        ``lengthscales``.
    """
    X, y = check_data(X, y)
    X_test = as_inputs(X_test, "X_test", dims=X.shape[1])
    f_test = np.asarray(f_test, dtype=float)
    if f_test.shape != (X_test.shape[0],) or not np.all(np.isfinite(f_test)):
        raise ValueError(f"f_test: expected {X_test.shape[0]} finite values, got shape {f_test.shape}")
    ells = np.atleast_1d(np.asarray(lengthscales, dtype=float))
    if ells.size == 0 or not np.all(np.isfinite(ells)) or np.any(ells <= 0):
        raise ValueError(f"lengthscales: expected finite values > 0, got {lengthscales!r}")
    rows = []
    for ell in ells:
        h = dataclasses.replace(hyper, lengthscale=float(ell))
        gp = exact.posterior(X, y, h, jitter=jitter)
        fit, _ = exact.predict(gp, X)
        mean, var = exact.predict(gp, X_test)
        half = _Z975 * np.sqrt(var)
        rows.append({
            "lengthscale": float(ell),
            "log_marginal_likelihood": gp.log_marginal_likelihood,  # the posterior's own factorisation
            "train_rmse": _rmse(fit, y),
            "test_rmse": _rmse(mean, f_test),
            "coverage_95": float(np.mean(np.abs(f_test - mean) <= half)),
        })
    return pd.DataFrame(rows).set_index("lengthscale")


def prior_samples(rng: np.random.Generator, X, hyper: GPHyperparameters, size: int) -> np.ndarray:
    """Draws of f from the GP prior at ``X`` (units of y).

    Uses NumPy's ``multivariate_normal(method="eigh")``, which accepts the numerically singular Gram
    matrices of long lengthscales without jitter (GPML sec. 2.2 and appendix A.2).

    Parameters
    ----------
    rng : numpy.random.Generator
    X : array_like, shape (N, D) or (N,)
    hyper : GPHyperparameters
        ``eta`` and ``lengthscale`` are used.
    size : int >= 1
        Number of draws.

    Returns
    -------
    numpy.ndarray, shape (size, N)

    Raises
    ------
    ValueError
        Naming ``rng``, ``X``, ``lengthscale`` or ``size``.
    """
    rng = generator(rng)
    X = as_inputs(X)
    size = positive_int(size, "size")
    K = exp_quad(X, X, hyper.eta, hyper.lengthscales(X.shape[1]))  # [N, N]
    return rng.multivariate_normal(np.zeros(X.shape[0]), K, size=size, method="eigh")


def plot_lengthscale_study(X, y, X_test, f_test, hyper: GPHyperparameters, study: pd.DataFrame, *,
                           ml_lengthscale: float | None = None, seed: int = 0, n_prior: int = 3,
                           jitter: float = 0.0):
    """One panel per lengthscale of ``study`` (plus type-II ML's, when given), and the log marginal
    likelihood against the lengthscale.

    Each panel: ``n_prior`` prior draws of f (thin grey), the posterior mean and 95% band of f, the data and
    the true function against the input x; its title gives ell, the log marginal likelihood and the test RMSE.
    The last panel: the log marginal likelihood (nats) against ell (log scale).  One legend under the panels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    from bayes_zoo.figures import legend_outside, style

    with style():
        return _plot_lengthscale_study(plt, legend_outside, X, y, X_test, f_test, hyper, study,
                                       ml_lengthscale=ml_lengthscale, seed=seed, n_prior=n_prior, jitter=jitter)


def _plot_lengthscale_study(plt, legend_outside, X, y, X_test, f_test, hyper, study, *, ml_lengthscale, seed,
                            n_prior, jitter):
    X, y = check_data(X, y)
    X_test = as_inputs(X_test, "X_test", dims=X.shape[1])
    ells = list(study.index)
    if ml_lengthscale is not None:
        ells.append(float(ml_lengthscale))
    n_panels = len(ells) + 1
    cols = 4
    rows = -(-n_panels // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    axes = axes.ravel()
    rng = np.random.default_rng(seed)
    grid = X_test[:, 0]
    order = np.argsort(grid)
    for ax, ell in zip(axes, ells):
        h = dataclasses.replace(hyper, lengthscale=float(ell))
        gp = exact.posterior(X, y, h, jitter=jitter)
        mean, var = exact.predict(gp, X_test)
        half = _Z975 * np.sqrt(var)
        for i, draw in enumerate(prior_samples(rng, X_test, h, n_prior)):
            ax.plot(grid[order], draw[order], color="0.75", lw=0.7, label="prior draws of f" if i == 0 else None)
        ax.fill_between(grid[order], (mean - half)[order], (mean + half)[order], color="C0", alpha=0.25, lw=0,
                        label="posterior 95% band of f")
        ax.plot(grid[order], mean[order], color="C0", lw=1.3, label="posterior mean of f")
        ax.plot(grid[order], np.asarray(f_test)[order], color="k", ls="--", lw=1, label="true f")
        ax.plot(X[:, 0], y, ".", color="C3", ms=3, label="data y")
        ax.set_xlabel("input x")
        ax.set_ylabel("f(x), y (output units)")
        is_ml = ml_lengthscale is not None and ell == ells[-1]
        lml = gp.log_marginal_likelihood
        rmse = _rmse(mean, f_test)
        ax.set_title(f"{'type-II ML: ' if is_ml else ''}ell = {ell:.3g}\nlog ML {lml:.1f}, test RMSE {rmse:.3f}",
                     fontsize=8)
        ax.tick_params(labelsize=7)
    ax = axes[len(ells)]
    dense = np.geomspace(min(study.index) / 2, max(study.index) * 2, 80)
    curve = [exact.log_marginal_likelihood(X, y, dataclasses.replace(hyper, lengthscale=float(e)), jitter=jitter)
             for e in dense]
    ax.plot(dense, curve, color="C0")
    ax.plot(study.index, study["log_marginal_likelihood"], "o", color="C0", ms=4)
    if ml_lengthscale is not None:
        ax.axvline(ml_lengthscale, color="C3", ls=":", lw=1.2, label="type-II ML lengthscale")
    ax.set_xscale("log")
    ax.set_ylim(max(min(curve), max(curve) - 200), max(curve) + 0.05 * abs(max(curve)) + 1)
    ax.set_xlabel("lengthscale ell (input units; log scale)", fontsize=8)
    ax.set_ylabel("log marginal likelihood (nats)", fontsize=8)
    ax.set_title("log marginal likelihood (eta, sigma fixed)", fontsize=8)
    ax.tick_params(labelsize=7)
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    fig.suptitle("Lengthscale study: the exact GP posterior at each lengthscale", fontsize=10)
    fig.tight_layout()
    legend_outside(fig)
    return fig
