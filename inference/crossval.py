"""The cross-validation protocol: compare two or more posteriors, and optionally an exact answer.

For every scalar quantity ``q`` that the results share (each variable, each coordinate of a vector), and for
each statistic ``s`` in (mean, sd, 5% quantile, 95% quantile), each result gives an estimate with its Monte
Carlo standard error from ArviZ (``arviz.mcse`` with ``method="mean"``, ``"sd"``, ``"quantile"``).  Two
estimates are compared by ::

    z = (est_1 - est_2) / sqrt(mcse_1^2 + mcse_2^2)

and an estimate against an exact value (MCSE 0) by ``z = (est - exact) / mcse``.  Every pair of results is
compared, and each result against the exact answer when one is given.  With ``K`` z-tests in all, the
Bonferroni threshold at family-wise level ``alpha`` (two-sided) is ``Phi^-1(1 - alpha / (2K))``.

Verdicts, per comparison and overall:

1. **inconclusive** — a result involved is degenerate (:mod:`bayes_zoo.inference.diagnostics`: one chain, too few
   draws, a constant chain, non-finite draws or diagnostics): its MCSEs mean nothing, so neither do its z's;
2. **disagree** — otherwise, if some ``|z|`` exceeds the threshold, or a result involved fails its
   diagnostics (R-hat, divergences);
3. **inconclusive** — otherwise, if a result involved has an ESS below the minimum, or a quantity of a
   result was compared with nothing;
4. **agree** — otherwise.

Every reason found is reported, whichever verdict it leads to.

The overall verdict is "disagree" if any comparison disagrees, else "inconclusive" if any is, else "agree".

Two opt-in refinements, both stated in every report that uses them:

* ``advisory`` names results (with the reason) whose comparisons are run and reported with their own
  verdicts but do not enter the overall verdict — for a sampler known to struggle on the problem, whose
  failure is a finding to show rather than a fault of the zoo (NUTS on a spiky spike-and-slab mixture);
* ``saturation`` maps bounded variables to an absolute tolerance.  An inclusion probability is 1.0 in
  floating point (or within 1e-9 of it) whenever its coefficient is clearly in the slab: whole chains sit
  at the bound, and its Monte Carlo error rests on rare excursions that MCSE cannot see when too few of
  them happened — a posterior probability of 3e-5 of leaving the bound is invisible in 4,000 draws.  For
  these variables, chains at the bound do not make a result degenerate
  (:func:`bayes_zoo.inference.diagnostics.diagnose` with ``saturating``), a quantity with one value in every draw
  has MCSE 0, and a test passes when ``|z|`` is within the threshold *or* ``|difference| <= tolerance``.
  For a probability, 3 / (number of draws) is the "rule of three" bound (Hanley & Lippman-Hand 1983,
  JAMA 249(13)) on how far from 1 the true mean can be when no draw fell below 1.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd
from scipy import stats

from bayes_zoo.models.checks import finite_scalar, positive_scalar, probability
from bayes_zoo.inference.diagnostics import (ESS_MIN, MIN_DRAWS, RHAT_MAX, Diagnostics, beyond, diagnose, flatten,
                                              select_posterior)

__all__ = ["STATISTICS", "CrossValidation", "estimates", "compare", "bonferroni_threshold", "identity", "identities"]

#: The statistics compared for every quantity, in this order.
STATISTICS = ("mean", "sd", "q05", "q95")
_PROBS = {"q05": 0.05, "q95": 0.95}
EXACT = "exact"


def bonferroni_threshold(alpha: float, tests: int) -> float:
    """Two-sided |z| threshold for ``tests`` tests at family-wise level ``alpha``: Phi^-1(1 - alpha/(2 tests))."""
    alpha = probability(alpha, "alpha")
    if isinstance(tests, bool) or not isinstance(tests, int | np.integer) or tests < 1:
        raise ValueError(f"tests: must be >= 1, got {tests}")
    return float(stats.norm.isf(alpha / (2 * tests)))


def estimates(idata: az.InferenceData, var_names=None) -> pd.DataFrame:
    """Posterior mean, sd, 5% and 95% quantiles of every scalar quantity, each with its ArviZ MCSE.

    Parameters
    ----------
    idata : arviz.InferenceData
        Posterior of dims ``(chain, draw, ...)``.
    var_names : sequence of str, optional

    Returns
    -------
    pandas.DataFrame
        MultiIndex ``(quantity, statistic)``; columns ``estimate`` and ``mcse``.  The sd uses ``ddof=1`` and
        quantiles NumPy's default (linear) interpolation over all chains' draws.  The MCSEs
        are computed on the draws centred at their mean, which leaves them unchanged but keeps ArviZ 0.23
        from returning NaN by cancellation for near-constant draws far from 0 (a probability of 1 - 1e-9).
    """
    post = select_posterior(idata, var_names)
    draws = flatten(post)
    centred = post - post.mean(dim=["chain", "draw"])  # MCSEs do not depend on the location
    with np.errstate(invalid="ignore", divide="ignore"):
        mcse = {
            "mean": flatten(az.mcse(centred, method="mean")),
            "sd": flatten(az.mcse(centred, method="sd")),
            **{s: flatten(az.mcse(centred, method="quantile", prob=p)) for s, p in _PROBS.items()},
        }
    rows = []
    for label, values in draws.items():
        flat = values.ravel()
        est = {
            "mean": flat.mean(),
            "sd": flat.std(ddof=1) if flat.size > 1 else np.nan,
            **{s: np.quantile(flat, p) for s, p in _PROBS.items()},
        }
        for s in STATISTICS:
            rows.append((label, s, float(est[s]), float(mcse[s][label])))
    frame = pd.DataFrame(rows, columns=["quantity", "statistic", "estimate", "mcse"])
    return frame.set_index(["quantity", "statistic"])


def _exact_estimates(exact: pd.DataFrame) -> pd.DataFrame:
    missing = [s for s in STATISTICS if s not in exact.columns]
    if missing:
        raise ValueError(f"exact: missing columns {missing} (needs {list(STATISTICS)})")
    values = exact[list(STATISTICS)].astype(float)
    if np.isnan(values.values).any() or np.isneginf(values.values).any():
        bad = values.index[(np.isnan(values.values) | np.isneginf(values.values)).any(axis=1)].tolist()
        raise ValueError(f"exact: NaN or -inf reference values for {bad}")
    long = values.stack()
    long.index.names = ["quantity", "statistic"]
    long = long[np.isfinite(long)]  # an infinite moment does not exist: nothing to compare it with
    return pd.DataFrame({"estimate": long, "mcse": 0.0})


@dataclass(frozen=True)
class CrossValidation:
    """Outcome of :func:`compare`.

    Attributes
    ----------
    verdict : str
        ``"agree"``, ``"disagree"`` or ``"inconclusive"``.
    reasons : tuple of str
        Why, when not "agree" (names the quantities, statistics and diagnostics at fault).
    table : pandas.DataFrame
        One row per z-test: ``comparison`` (``"gibbs vs nuts"``), ``quantity``, ``statistic``, ``left``,
        ``right``, ``estimate_left``, ``mcse_left``, ``estimate_right``, ``mcse_right``, ``z``,
        ``atol`` (the variable's ``saturation`` tolerance, else 0), ``by_atol`` (passes only by that
        tolerance), ``ok``.
    comparisons : pandas.DataFrame
        One row per comparison: ``comparison``, ``verdict``, ``max_abs_z``, ``reasons``, ``advisory`` (why
        the comparison does not enter the overall verdict; ``""`` when it does).
    diagnostics : dict of str to Diagnostics
        Per result.
    estimates : dict of str to pandas.DataFrame
        Per result (and ``"exact"``), as :func:`estimates` returns.  The MCSEs of ``saturation`` quantities with one
        value in every draw are 0.
    threshold : float
        The Bonferroni |z| threshold.
    alpha : float
        Family-wise level.
    """

    verdict: str
    reasons: tuple[str, ...]
    table: pd.DataFrame
    comparisons: pd.DataFrame
    diagnostics: dict[str, Diagnostics]
    estimates: dict[str, pd.DataFrame]
    threshold: float
    alpha: float
    saturation: Mapping[str, float] | None = None

    def verdict_of(self, left: str, right: str) -> str:
        """Verdict of one comparison, e.g. ``verdict_of("gibbs", "exact")``."""
        row = self.comparisons.set_index("comparison").loc[f"{left} vs {right}"]
        return str(row["verdict"])


def _z_reason(what: str, z: float, threshold: float) -> str:
    """"gibbs vs exact: mu mean differs, z = +3.637 (|z| > 3.635)": as many decimals as it takes for the printed
    inequality to hold (:func:`bayes_zoo.inference.diagnostics.beyond`)."""
    if np.isnan(z):
        return f"{what} cannot be compared, z = nan"
    shown, bound = beyond(abs(z), threshold, decimals=2)
    return f"{what} differs, z = {'-' if z < 0 else '+'}{shown} (|z| > {bound})"


def compare(
    results: Mapping[str, az.InferenceData],
    exact: pd.DataFrame | None = None,
    *,
    var_names=None,
    alpha: float = 0.01,
    rhat_max: float = RHAT_MAX,
    ess_min: float = ESS_MIN,
    min_draws: int = MIN_DRAWS,
    advisory: Mapping[str, str] | None = None,
    saturation: Mapping[str, float] | None = None,
) -> CrossValidation:
    """Cross-validate posteriors against each other and, if given, against an exact answer.

    Parameters
    ----------
    results : mapping of str to arviz.InferenceData
        At least one result (two or more for a pairwise comparison), by name.  Quantities are matched by
        variable name and coordinate label.
    exact : pandas.DataFrame, optional
        Exact reference: index = quantity label (``"mu"``, ``"w[age]"``), columns ``mean``, ``sd``, ``q05``,
        ``q95``.  Only quantities it lists are compared with it; an infinite entry (a moment that does not
        exist) is left out of the comparison.
    var_names : sequence of str, optional
        Variables to compare; by default those all results share.
    alpha : float in (0, 1)
        Family-wise error level over all z-tests (Bonferroni).
    rhat_max, ess_min, min_draws
        Diagnostic thresholds, see :func:`bayes_zoo.inference.diagnostics.diagnose`.
    advisory : mapping of str to str, optional
        Result name -> why its comparisons are advisory: reported with their verdicts and reasons (prefixed
        "(advisory)"), left out of the overall verdict.
    saturation : mapping of str to float >= 0, optional
        Bounded variable -> absolute tolerance (see the module docstring), e.g.
        ``{"inclusion_probability": 3 / n_draws}``.  Other variables: a constant chain makes its result
        degenerate, whatever value it sits at.

    Returns
    -------
    CrossValidation

    Raises
    ------
    ValueError
        If ``results`` is empty or not InferenceData, no result may be compared with anything (one result
        and no exact answer), no quantity is shared, or ``exact`` is malformed (not a DataFrame, missing
        columns, NaN or -inf values, or quantities that match no posterior quantity of the results),
        ``advisory`` names an unknown result or leaves no comparison to set the verdict, or
        ``saturation`` names a variable not compared or holds a negative or non-finite tolerance.
    """
    if exact is not None and not isinstance(exact, pd.DataFrame):
        raise ValueError(f"exact: expected a pandas.DataFrame, got {type(exact).__name__}")
    if not isinstance(results, Mapping) or not results:
        raise ValueError("results: expected a non-empty mapping of name to InferenceData")
    if EXACT in results:
        raise ValueError(f"results: the name {EXACT!r} is reserved for the exact reference")
    if len(results) < 2 and exact is None:
        raise ValueError("results: need two results, or one and an exact reference")
    alpha = probability(alpha, "alpha")
    for name, idata in results.items():
        if not isinstance(idata, az.InferenceData) or "posterior" not in idata.groups():
            raise ValueError(f"results[{name!r}]: expected an arviz.InferenceData with a posterior group")
    if var_names is None:
        shared = set.intersection(*(set(map(str, r.posterior.data_vars)) for r in results.values()))
        var_names = [v for v in next(iter(results.values())).posterior.data_vars if v in shared]
    if not var_names:
        raise ValueError("results: the results share no posterior variable")
    advisory = dict(advisory or {})
    unknown = sorted(set(advisory) - set(results))
    if unknown:
        raise ValueError(f"advisory: {unknown} are not results (results: {list(results)})")
    saturation = dict(saturation or {})
    for var, tol in saturation.items():
        if var not in var_names:
            raise ValueError(f"saturation: {var!r} is not a compared variable ({list(var_names)})")
        saturation[var] = finite_scalar(tol, f"saturation[{var!r}]")
        if saturation[var] < 0:
            raise ValueError(f"saturation[{var!r}]: must be >= 0, got {tol}")

    diag = {
        name: diagnose(idata, var_names, name=name, rhat_max=rhat_max, ess_min=ess_min, min_draws=min_draws,
                       saturating=list(saturation))
        for name, idata in results.items()
    }
    est = {name: estimates(idata, var_names) for name, idata in results.items()}
    for name, idata in results.items():  # one value in every draw: no Monte Carlo error to estimate
        draws = flatten(select_posterior(idata, var_names))
        constant = [q for q in diag[name].saturated if np.ptp(draws[q]) == 0.0]  # and arviz gives NaN
        est[name].loc[est[name].index.get_level_values("quantity").isin(constant), "mcse"] = 0.0
    pairs = list(itertools.combinations(results, 2))
    if exact is not None:
        est[EXACT] = _exact_estimates(exact)
        known = set().union(*(e.index.get_level_values("quantity") for n, e in est.items() if n != EXACT))
        unmatched = sorted(set(est[EXACT].index.get_level_values("quantity")) - known)
        if unmatched:
            raise ValueError(f"exact: quantities {unmatched} match no posterior quantity of the results")
        pairs += [(name, EXACT) for name in results]
    if all(left in advisory or right in advisory for left, right in pairs):
        raise ValueError("advisory: every comparison would be advisory; at least one must set the verdict")

    blocks = []
    for left, right in pairs:
        joined = est[left].add_suffix("_left").join(est[right].add_suffix("_right"), how="inner")
        if joined.empty:
            raise ValueError(f"results: {left} and {right} share no quantity")
        joined.insert(0, "comparison", f"{left} vs {right}")
        joined.insert(1, "left", left)
        joined.insert(2, "right", right)
        blocks.append(joined.reset_index())
    table = pd.concat(blocks, ignore_index=True)
    table = table[["comparison", "quantity", "statistic", "left", "right",
                   "estimate_left", "mcse_left", "estimate_right", "mcse_right"]]
    diff = table["estimate_left"] - table["estimate_right"]
    scale = np.hypot(table["mcse_left"], table["mcse_right"])
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(scale > 0, diff / scale, np.where(diff == 0, 0.0, np.inf))
    table["z"] = z
    table["atol"] = [saturation.get(q.split("[")[0], 0.0) for q in table["quantity"]]
    threshold = bonferroni_threshold(alpha, len(table))
    z_ok = np.abs(table["z"]) <= threshold  # NaN compares False: never silently ok
    table["by_atol"] = ~z_ok & (table["atol"] > 0) & (diff.abs() <= table["atol"])
    table["ok"] = z_ok | table["by_atol"]

    untested = {}
    for name in results:
        tested = set(table.loc[(table["left"] == name) | (table["right"] == name), "quantity"])
        missing = [q for q in est[name].index.get_level_values("quantity").unique() if q not in tested]
        if missing:
            untested[name] = [f"{name}: {q} was compared with nothing" for q in missing]

    rows, required, advised = [], [], []
    for left, right in pairs:
        sub = table[(table["left"] == left) & (table["right"] == right)]
        involved = [diag[n] for n in (left, right) if n in diag]
        degenerate = [r for d in involved for r in d.untrusted]
        weak = [r for d in involved for r in d.low_ess] + [r for n in (left, right) for r in untested.get(n, [])]
        failures = [r for d in involved for r in d.failures]
        bad = sub[~sub["ok"]]
        z_reasons = [_z_reason(f"{left} vs {right}: {q} {s}", zv, threshold)
                     for q, s, zv in zip(bad["quantity"], bad["statistic"], bad["z"])]
        if degenerate:
            verdict, reasons = "inconclusive", degenerate + failures
        elif failures or z_reasons:
            verdict, reasons = "disagree", failures + z_reasons + weak
        elif weak:
            verdict, reasons = "inconclusive", weak
        else:
            verdict, reasons = "agree", []
        tested = sub[~sub["by_atol"]]
        max_z = float(np.nanmax(np.abs(tested["z"]))) if len(tested) else np.nan
        why = "; ".join(advisory[n] for n in (left, right) if n in advisory)
        rows.append({"comparison": f"{left} vs {right}", "verdict": verdict, "max_abs_z": max_z,
                     "reasons": "; ".join(reasons), "advisory": why})
        (advised if why else required).extend(reasons)
    # A reason that a required comparison gives too (a required result's own diagnostics) is not advisory.
    required = list(dict.fromkeys(required))
    all_reasons = required + [f"(advisory) {r}" for r in dict.fromkeys(advised) if r not in required]
    comparisons = pd.DataFrame(rows)
    verdicts = set(comparisons.loc[comparisons["advisory"] == "", "verdict"])
    overall = "disagree" if "disagree" in verdicts else "inconclusive" if "inconclusive" in verdicts else "agree"
    return CrossValidation(overall, tuple(all_reasons), table, comparisons, diag, est, threshold, alpha,
                           saturation or None)


# ---------------------------------------------------------------------------------------------------------
# Deterministic identities (no Monte Carlo error: two computations of the same number)
# ---------------------------------------------------------------------------------------------------------


def identity(name: str, value, reference, *, tol: float = 1e-8, relative: bool = False) -> dict:
    """One deterministic check: two computations of the same quantity must agree to ``tol``.

    Parameters
    ----------
    name : str
        What is checked, e.g. ``"log marginal likelihood: ours vs PyMC"``.
    value, reference : array_like
        The same shape (scalars or arrays).
    tol : float > 0, finite
        Tolerance on the largest absolute difference; with ``relative``, on that difference divided by the
        largest ``|reference|``.
    relative : bool

    Returns
    -------
    dict
        ``identity``, ``max_difference`` (absolute, or relative), ``tolerance``, ``kind`` (``"abs"`` or
        ``"rel"``), ``ok``.  Non-finite values or mismatched shapes give ``ok = False`` (never a silent pass).

    Raises
    ------
    ValueError
        If ``tol`` is not finite and > 0.
    """
    tol = positive_scalar(tol, "tol")
    a, b = np.asarray(value, dtype=float), np.asarray(reference, dtype=float)
    if a.shape != b.shape or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        diff = np.inf
    else:
        diff = float(np.max(np.abs(a - b))) if a.size else 0.0
        if relative:
            diff /= max(float(np.max(np.abs(b))) if b.size else 0.0, 1e-300)
    return {"identity": name, "max_difference": diff, "tolerance": float(tol),
            "kind": "rel" if relative else "abs", "ok": bool(np.isfinite(diff) and diff <= tol)}


def identities(rows) -> pd.DataFrame:
    """A table of :func:`identity` rows (columns ``identity``, ``max_difference``, ``tolerance``, ``kind``,
    ``ok``).

    Raises
    ------
    ValueError
        If ``rows`` is empty.
    """
    frame = pd.DataFrame(list(rows), columns=["identity", "max_difference", "tolerance", "kind", "ok"])
    if frame.empty:
        raise ValueError("rows: no identity to check")
    return frame
