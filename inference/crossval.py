"""The cross-validation protocol: compare two or more posteriors, and optionally an exact answer.

For every scalar quantity ``q`` that the results share (each variable, each coordinate of a vector), and for
each statistic ``s`` in (mean, sd, 5% quantile, 95% quantile), each result gives an estimate with its Monte
Carlo standard error from ArviZ (``arviz.mcse`` with ``method="mean"``, ``"sd"``, ``"quantile"``).  For the
mean and the sd two estimates are compared by ::

    z = (est_1 - est_2) / sqrt(mcse_1^2 + mcse_2^2)

and an estimate against an exact value (MCSE 0) by ``z = (est - exact) / mcse``.  A quantile's z is taken on
the probability scale: at a reference point ``c`` (the exact quantile, or the midpoint of the two estimates)
each side's mid-ECDF ``F = mean(1[x < c] + 1[x = c] / 2)`` is a mean of draws with ArviZ's MCSE of a mean,
taken at the null hypothesis's proportion as in a score test (:func:`_score_scale`); against the exact answer
the other side is ``p`` itself.  (At an atom, the test is of ``P(x < c) + P(x = c) / 2``.)  Every pair of
results is compared, and each result against the exact answer when one is given.  With ``K`` z-tests in all,
the Bonferroni threshold at family-wise level ``alpha`` (two-sided) is ``Phi^-1(1 - alpha / (2K))``.

Verdicts of one stage (:func:`compare`), per comparison and overall:

1. **inconclusive** — a result involved is degenerate (:mod:`bayes_zoo.inference.diagnostics`: one chain, too few
   draws, a constant chain, non-finite draws or diagnostics): its MCSEs mean nothing, so neither do its z's;
2. **disagree** — otherwise, if some ``|z|`` exceeds the threshold, or a result involved fails its
   diagnostics (R-hat, divergences), unless a result involved has an ESS below the minimum and the finding
   is not gross (no ``|z|`` above ``GROSS_FACTOR`` times the threshold, no R-hat above ``RHAT_GROSS``, no
   divergence): then
3. **inconclusive**, "run about k x longer" (``k`` from the smallest ESS); also when a result involved has an
   ESS below the minimum with no finding, or a quantity of a result was compared with nothing;
4. **agree** — otherwise.

Every reason found is reported, whichever verdict it leads to.

The overall verdict is "disagree" if any comparison disagrees, else "inconclusive" if any is, else "agree".

The two-stage protocol (:func:`run_protocol`; :func:`bayes_zoo.registry.run_pair` for a pair) runs each stage
at ``STAGE_ALPHA`` and confirms a non-advisory "disagree" by a fresh run with ``CONFIRM_FACTOR`` times the
draws (:func:`confirm`); its stated false-alarm rate is ``PROTOCOL_ALPHA``.  Every test states the shift it
would detect with probability about ``POWER`` (``detectable``; :meth:`CrossValidation.power`).

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

import dataclasses
import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd
from scipy import stats

from bayes_zoo.models.checks import finite_scalar, positive_int, positive_scalar, probability
from bayes_zoo.inference.diagnostics import (ESS_MIN, MIN_DRAWS, RHAT_MAX, Diagnostics, beyond, diagnose, flatten,
                                              select_posterior)

__all__ = ["STATISTICS", "GROSS_FACTOR", "RHAT_GROSS", "POWER", "CONFIRM_FACTOR", "STAGE_ALPHA", "PROTOCOL_ALPHA", "CrossValidation", "estimates", "compare", "confirm",
           "needs_confirmation", "mismatches", "run_protocol", "bonferroni_threshold", "identity", "identities"]

#: The statistics compared for every quantity, in this order.
STATISTICS = ("mean", "sd", "q05", "q95")
_PROBS = {"q05": 0.05, "q95": 0.95}
EXACT = "exact"
#: With too few effective draws, a finding makes "disagree" only when some |z| exceeds this times the threshold,
GROSS_FACTOR = 2.0
#: or an R-hat exceeds this (the older convergence threshold of Gelman & Rubin 1992, ten times 1.01's margin),
RHAT_GROSS = 1.1
#: (or a divergence happened).  The power each test states: the probability of |z| above the threshold for a shift
#: of ``detectable`` (to first order, z then has mean threshold + Phi^-1(POWER)).
POWER = 0.8
#: The confirmatory stage runs this many times the first stage's draws, from a fresh seed.
CONFIRM_FACTOR = 2
#: Family-wise level of each stage of the two-stage protocol (:func:`run_protocol`, the pairs).
STAGE_ALPHA = 0.05
#: The protocol's stated false-alarm rate: a correct sampler's stages are independent, so a confirmed "disagree"
#: has probability (stage rate)^2 = 0.25% at the stages' nominal 5%, and stays within 1% even if each stage's
#: true rate were twice its nominal level (measured on normal-gamma: at most 5.4% a stage, 0.1-0.3% confirmed).
PROTOCOL_ALPHA = 0.01


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


def _cdf_columns(table: pd.DataFrame, draws: Mapping[str, Mapping[str, np.ndarray]]) -> pd.DataFrame:
    """For the quantile rows of ``table``: each side's mid-ECDF at the row's reference point, with its MCSE.

    The reference point is the exact quantile in a comparison with the exact answer (whose side is then the
    probability ``p`` itself, MCSE 0), else the midpoint of the two estimated quantiles.  The mid-ECDF
    ``mean(1[x < c] + 1[x = c] / 2)`` is a mean of draws, so its MCSE is ArviZ's MCSE of a mean
    (``arviz.mcse(method="mean")``) of those indicators; an indicator constant over every draw has MCSE 0.
    Other rows get NaN.  Returns columns ``cdf_left``, ``cdf_mcse_left``, ``cdf_right``, ``cdf_mcse_right``.
    """
    out = pd.DataFrame(np.nan, index=table.index, columns=["cdf_left", "cdf_mcse_left", "cdf_right", "cdf_mcse_right"])
    rows = table[table["statistic"].isin(list(_PROBS))]
    point = np.where(rows["right"] == EXACT, rows["estimate_right"], 0.5 * (rows["estimate_left"] + rows["estimate_right"]))
    wanted: dict[str, list] = {}
    for (i, row), c in zip(rows.iterrows(), point):
        for side in ("left", "right"):
            if row[side] == EXACT:
                out.loc[i, [f"cdf_{side}", f"cdf_mcse_{side}"]] = (_PROBS[row["statistic"]], 0.0)
            else:
                wanted.setdefault(row[side], []).append((i, side, c, draws[row[side]][row["quantity"]]))
    for items in wanted.values():
        # [chain, draw, K]: one ArviZ call per result
        ind = np.stack([(x < c) + 0.5 * (x == c) for _, _, c, x in items], axis=-1).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            se = az.mcse(az.convert_to_dataset(ind - ind.mean(axis=(0, 1))), method="mean")["x"].values
        constant = np.ptp(ind.reshape(-1, ind.shape[-1]), axis=0) == 0
        se = np.where(constant, 0.0, se)
        for (i, side, _, _), f, e in zip(items, ind.mean(axis=(0, 1)), se):
            out.loc[i, [f"cdf_{side}", f"cdf_mcse_{side}"]] = (f, e)
    return out


def _score_scale(table: pd.DataFrame, draws: Mapping[str, int]) -> np.ndarray:
    """The scale of a quantile row's z: each side's mid-ECDF MCSE taken at the proportion the test assumes.

    A proportion's MCSE from its own estimate ``F`` shrinks with ``F (1 - F)``, so a Wald z is skewed and
    heavy-tailed: an estimate far into the tail brings its own small MCSE with it.  As the score test of a
    proportion does (Wilson 1927, JASA 22(158)), each side's variance is taken at the proportion of the null
    hypothesis — ``p`` against the exact answer, else the mean of the two sides — keeping the side's ESS:
    ``mcse * sqrt(r (1 - r) / (F (1 - F)))``.  A side whose indicator never varied (``F`` 0 or 1, or every draw
    tied at ``c``: no ESS to estimate) counts every one of its ``draws[name]`` draws as effective.
    """
    r = np.where(table["right"] == EXACT, table["cdf_right"], 0.5 * (table["cdf_left"] + table["cdf_right"]))
    out = np.zeros(len(table))
    for side in ("left", "right"):
        f, se = table[f"cdf_{side}"].to_numpy(float), table[f"cdf_mcse_{side}"].to_numpy(float)
        n = table[side].map(lambda name: draws.get(name, np.inf)).to_numpy(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            var = np.where((f * (1 - f) > 0) & (se > 0), se**2 * r * (1 - r) / (f * (1 - f)), r * (1 - r) / n)
        out += np.where(table[side] == EXACT, 0.0, var)
    return np.sqrt(out)


def _posterior_sd(table: pd.DataFrame, est: Mapping[str, pd.DataFrame]) -> np.ndarray:
    """Per row, the quantity's posterior sd: the exact one where given, else the mean of the results' estimates."""
    def sd_of(e):
        rows = e[e.index.get_level_values("statistic") == "sd"]
        return pd.Series(rows["estimate"].to_numpy(float), index=rows.index.get_level_values("quantity"))

    sds = pd.concat({n: sd_of(e) for n, e in est.items()}, axis=1)
    sampled = sds.drop(columns=[EXACT], errors="ignore").mean(axis=1)
    ref = sds[EXACT].fillna(sampled) if EXACT in sds else sampled
    return ref.reindex(table["quantity"]).to_numpy(dtype=float)


def _run_longer(left: str, right: str, involved, ess_min: float) -> str:
    """"gibbs vs exact: ... run about 1.4x longer", k = ess_min / (smallest bulk or tail ESS), rounded up."""
    smallest = min(float(np.nanmin(d.table[["ess_bulk", "ess_tail"]].to_numpy())) for d in involved)
    k = np.ceil(10 * ess_min / smallest) / 10 if smallest > 0 else np.inf
    return (f"{left} vs {right}: too few effective draws for the MCSEs to be trusted (smallest ESS {smallest:.0f} "
            f"< {ess_min:g}); run about {k:g}x longer")


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
    saturation : mapping of str to float or None
        As given to :func:`compare`.
    settings : mapping or None
        :func:`compare`'s keyword arguments that made this (``exact``, ``var_names``, ``alpha``, ``rhat_max``,
        ``ess_min``, ``min_draws``, ``advisory``, ``saturation``): ``compare(results, **settings)`` compares
        other results the same way (the confirmatory stage).
    confirmation : CrossValidation or None
        The confirmatory stage's cross-validation, after :func:`confirm`.
    notes : tuple of str
        What :func:`confirm` noted: first-stage findings that did not recur, fresh-run findings alone.

    The table also has ``cdf_left``, ``cdf_mcse_left``, ``cdf_right``, ``cdf_mcse_right`` (quantile rows: each
    side's mid-ECDF at the reference point and its MCSE; NaN elsewhere), ``detectable`` (the shift, in the
    variable's units, the test detects with probability about :data:`POWER`), ``posterior_sd`` and
    ``detectable_sd`` (``detectable`` in posterior sds).
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
    settings: Mapping | None = None
    confirmation: "CrossValidation | None" = None
    notes: tuple[str, ...] = ()

    def verdict_of(self, left: str, right: str) -> str:
        """Verdict of one comparison, e.g. ``verdict_of("gibbs", "exact")``."""
        row = self.comparisons.set_index("comparison").loc[f"{left} vs {right}"]
        return str(row["verdict"])

    def power(self) -> pd.DataFrame:
        """The smallest discrepancy the verdict could have detected, per statistic, worst case over quantities.

        Returns
        -------
        pandas.DataFrame
            Index: statistic (``mean``, ``sd``, ``q05``, ``q95``); columns ``detectable_sd`` (the largest
            ``detectable_sd`` of the table's rows for that statistic, over the comparisons that set the verdict,
            tests passed by a saturation tolerance and tests without a finite ``detectable_sd`` left out) and
            ``quantity`` (where it is largest).  A shift of that many posterior sds in that statistic of any
            quantity tested would give ``|z|`` above the threshold with probability about :data:`POWER`, to
            first order: ``detectable = (threshold + Phi^-1(POWER)) x combined MCSE``, the threshold doubled
            (``GROSS_FACTOR``) in a comparison with too few effective draws.  For quantiles the combined MCSE
            is ArviZ's value-scale one, so the statement is rougher there than the test itself.
        """
        required = set(self.comparisons.loc[self.comparisons["advisory"] == "", "comparison"])
        rows = self.table[self.table["comparison"].isin(required) & ~self.table["by_atol"]
                          & np.isfinite(self.table["detectable_sd"])]
        if rows.empty:
            return pd.DataFrame(columns=["detectable_sd", "quantity"], index=pd.Index([], name="statistic"))
        worst = rows.loc[rows.groupby("statistic")["detectable_sd"].idxmax()]
        return worst.set_index("statistic")[["detectable_sd", "quantity"]].reindex(
            [s for s in STATISTICS if s in set(worst["statistic"])])

    def power_summary(self) -> str:
        """One line: "would have detected, with probability 0.8, a shift of 0.08 posterior sd in any mean, ..."
        from :meth:`power`."""
        power = self.power()
        if power.empty:
            return "no test sets the verdict, so no power can be stated"
        words = {"mean": "mean", "sd": "sd", "q05": "5% quantile", "q95": "95% quantile"}
        parts = [f"{v:.2g} in any {words[s]}" for s, v in power["detectable_sd"].items()]
        parts[0] = parts[0].replace(" in any", " posterior sd in any", 1)
        required = set(self.comparisons.loc[self.comparisons["advisory"] == "", "comparison"])
        tested = self.table[self.table["comparison"].isin(required) & ~self.table["by_atol"]
                            & np.isfinite(self.table["detectable_sd"])]["quantity"].nunique()
        return (f"would have detected, with probability {POWER:g}, a shift of {', '.join(parts)} (the worst case "
                f"over {tested} quantities: (|z| threshold {self.threshold:.2f} + {stats.norm.ppf(POWER):.2f}) "
                f"x combined MCSE, in posterior sds)")


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
        and no exact answer), a result lacks a variable of ``var_names`` (by default: a variable another result
        has), a variable's dims or coordinate labels differ between results (every mismatch named, see
        :func:`mismatches`), no quantity is shared, or ``exact`` is malformed (not a DataFrame, missing
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
    problems = mismatches(results, var_names)
    if problems:
        hint = "; pass var_names= to compare a subset" if var_names is None else ""
        raise ValueError("results: " + "; ".join(problems) + hint)
    if var_names is None:
        var_names = [str(v) for v in next(iter(results.values())).posterior.data_vars]
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
    table = table.join(_cdf_columns(table, {n: flatten(select_posterior(r, var_names)) for n, r in results.items()}))
    sizes = {n: r.posterior.sizes["chain"] * r.posterior.sizes["draw"] for n, r in results.items()}
    quantile = table["statistic"].isin(list(_PROBS)).to_numpy()
    # a quantile's z is taken on the probability scale (module docstring); its sign follows the estimates'
    num = np.where(quantile, table["cdf_right"] - table["cdf_left"], diff)
    den = np.where(quantile, _score_scale(table, sizes), scale)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(den > 0, num / den, np.where(num == 0, 0.0, np.copysign(np.inf, num)))
    z = np.where(np.isnan(den) | np.isnan(num), np.nan, z)  # an MCSE ArviZ could not compute: never a finding
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

    rows, required, advised, gated = [], [], [], []
    for left, right in pairs:
        sub = table[(table["left"] == left) & (table["right"] == right)]
        involved = [diag[n] for n in (left, right) if n in diag]
        degenerate = [r for d in involved for r in d.untrusted]
        low_ess = [r for d in involved for r in d.low_ess]
        weak = low_ess + [r for n in (left, right) for r in untested.get(n, [])]
        failures = [r for d in involved for r in d.failures]
        bad = sub[~sub["ok"]]
        z_reasons = [_z_reason(f"{left} vs {right}: {q} {s}", zv, threshold)
                     for q, s, zv in zip(bad["quantity"], bad["statistic"], bad["z"])]
        # Too few effective draws: a finding may be Monte Carlo error the MCSEs cannot see, unless it is gross.
        gross = ((np.abs(bad["z"]) > GROSS_FACTOR * threshold).any() or any(d.divergences for d in involved)
                 or any((d.table["r_hat"] > RHAT_GROSS).any() for d in involved))
        longer = [_run_longer(left, right, involved, ess_min)] if low_ess else []
        if low_ess:
            gated.append(f"{left} vs {right}")
        if degenerate:
            verdict, reasons = "inconclusive", degenerate + failures
        elif (failures or z_reasons) and (gross or not low_ess):
            verdict, reasons = "disagree", failures + z_reasons + weak
        elif failures or z_reasons or weak:
            verdict, reasons = "inconclusive", failures + z_reasons + weak + longer
        else:
            verdict, reasons = "agree", []
        tested = sub[~sub["by_atol"]]
        max_z = float(np.nanmax(np.abs(tested["z"]))) if len(tested) else np.nan
        why = "; ".join(advisory[n] for n in (left, right) if n in advisory)
        rows.append({"comparison": f"{left} vs {right}", "verdict": verdict, "max_abs_z": max_z,
                     "reasons": "; ".join(reasons), "advisory": why})
        (advised if why else required).extend(reasons)
    # The shift each test detects with probability POWER: beyond the threshold, or twice it where ESS is low.
    bound = np.where(table["comparison"].isin(gated), GROSS_FACTOR * threshold, threshold)
    table["detectable"] = (bound + stats.norm.ppf(POWER)) * scale
    table["posterior_sd"] = _posterior_sd(table, est)
    with np.errstate(invalid="ignore", divide="ignore"):
        table["detectable_sd"] = table["detectable"] / table["posterior_sd"]
    # A reason that a required comparison gives too (a required result's own diagnostics) is not advisory.
    required = list(dict.fromkeys(required))
    all_reasons = required + [f"(advisory) {r}" for r in dict.fromkeys(advised) if r not in required]
    comparisons = pd.DataFrame(rows)
    verdicts = set(comparisons.loc[comparisons["advisory"] == "", "verdict"])
    overall = "disagree" if "disagree" in verdicts else "inconclusive" if "inconclusive" in verdicts else "agree"
    settings = {"exact": exact, "var_names": list(var_names), "alpha": alpha, "rhat_max": rhat_max,
                "ess_min": ess_min, "min_draws": min_draws, "advisory": advisory or None, "saturation": saturation or None}
    return CrossValidation(overall, tuple(all_reasons), table, comparisons, diag, est, threshold, alpha,
                           saturation or None, settings)


def mismatches(results: Mapping[str, az.InferenceData], var_names=None) -> list[str]:
    """Every way ``results`` fail to line up on ``var_names`` (default: every posterior variable of any), one
    sentence each: a variable a result lacks (naming the result and what it has), and for a shared variable
    dims that differ or coordinate labels that differ (naming the labels only one side has).  Empty when they
    line up.
    """
    names = list(results)
    have = {n: [str(v) for v in results[n].posterior.data_vars] for n in names}
    wanted = list(var_names) if var_names is not None else list(dict.fromkeys(v for n in names for v in have[n]))
    out = []
    for n in names:
        lacking = [v for v in wanted if v not in have[n]]
        if lacking:
            out.append(f"{n} lacks variable(s) {lacking} (it has {have[n]})")
    for v in wanted:
        holders = [n for n in names if v in have[n]]
        if len(holders) < 2:
            continue
        first = holders[0]
        a = results[first].posterior[v]
        for other in holders[1:]:
            b = results[other].posterior[v]
            if tuple(a.dims[2:]) != tuple(b.dims[2:]):
                out.append(f"{v}: dims differ: {first} has {tuple(a.dims[2:])} {tuple(a.shape[2:])}, "
                           f"{other} has {tuple(b.dims[2:])} {tuple(b.shape[2:])}")
                continue
            for d in a.dims[2:]:
                la, lb = [str(x) for x in a[d].values], [str(x) for x in b[d].values]
                if la != lb:
                    only_a = [x for x in la if x not in set(lb)]
                    only_b = [x for x in lb if x not in set(la)]
                    detail = (f"only {first} has {only_a[:5]}{' ...' if len(only_a) > 5 else ''}, only {other} has "
                              f"{only_b[:5]}{' ...' if len(only_b) > 5 else ''}" if only_a or only_b
                              else "the same labels in another order")
                    out.append(f"{v}: coordinate {d!r} labels differ between {first} and {other} ({detail})")
    return out


def needs_confirmation(cv: CrossValidation) -> bool:
    """Whether a comparison that sets the verdict says "disagree" (and no confirmatory stage has run yet)."""
    if cv.confirmation is not None:
        return False
    required = cv.comparisons[cv.comparisons["advisory"] == ""]
    return bool((required["verdict"] == "disagree").any())


def confirm(first: CrossValidation, second: CrossValidation, *, label: str = "a fresh run") -> CrossValidation:
    """The verdict of a two-stage comparison: a "disagree" of ``first`` stands only if ``second`` repeats it.

    ``second`` compares the same results, run again from a fresh seed (and more draws), with the same settings
    (:attr:`CrossValidation.settings`).  Per comparison: one that ``first`` calls "disagree" takes
    ``second``'s verdict — "disagree" (confirmed: both stages' reasons are given), else "agree" or
    "inconclusive" with a note that the first stage's findings did not recur; every other comparison keeps
    ``first``'s verdict (what ``second`` says of it is not a confirmation of anything and is only noted).
    For a correct sampler the two stages are independent, so the probability of a confirmed "disagree" is the
    product of the two stages' false-alarm rates (measured: :mod:`bayes_zoo.studies`).

    Parameters
    ----------
    first, second : CrossValidation
        From :func:`compare`, with the same comparisons.
    label : str
        How the reasons and notes name the second run, e.g. ``"a fresh run (seed 123, 4 x 2000 draws)"``.

    Returns
    -------
    CrossValidation
        ``first``'s table, estimates and diagnostics, with the confirmed ``comparisons`` (a column
        ``first_verdict`` added), ``verdict``, ``reasons`` and ``notes``, and ``confirmation = second``.

    Raises
    ------
    ValueError
        If the two do not hold the same comparisons, or ``first`` was confirmed already.
    """
    if first.confirmation is not None:
        raise ValueError("first: this cross-validation was confirmed already")
    one, two = (cv.comparisons.set_index("comparison") for cv in (first, second))
    if list(one.index) != list(two.index):
        raise ValueError(f"second: holds comparisons {list(two.index)}, the first stage {list(one.index)}")
    rows, reasons, advised, notes = [], [], [], []
    for name, row in one.iterrows():
        again = two.loc[name]
        verdict, why = row["verdict"], [r for r in str(row["reasons"]).split("; ") if r]
        if row["verdict"] == "disagree":
            later = [r for r in str(again["reasons"]).split("; ") if r]
            if again["verdict"] == "disagree":
                verdict, why = "disagree", why + [f"confirmed by {label}: {r}" for r in later]
            else:
                notes.append(f"{name}: the first run's findings ({'; '.join(why)}) did not recur in {label}")
                verdict, why = str(again["verdict"]), [f"in {label}: {r}" for r in later]
        elif again["verdict"] == "disagree":
            notes.append(f"{name}: {label} alone disagrees ({again['reasons']}); a single stage is not a verdict")
        rows.append({**row.to_dict(), "comparison": name, "verdict": verdict, "reasons": "; ".join(why),
                     "first_verdict": row["verdict"]})
        (advised if row["advisory"] else reasons).extend(why)
    comparisons = pd.DataFrame(rows)[["comparison", "verdict", "first_verdict", "max_abs_z", "reasons", "advisory"]]
    reasons = list(dict.fromkeys(reasons))
    all_reasons = reasons + [f"(advisory) {r}" for r in dict.fromkeys(advised) if r not in reasons]
    verdicts = set(comparisons.loc[comparisons["advisory"] == "", "verdict"])
    overall = "disagree" if "disagree" in verdicts else "inconclusive" if "inconclusive" in verdicts else "agree"
    return dataclasses.replace(first, verdict=overall, reasons=tuple(all_reasons), comparisons=comparisons,
                               confirmation=second, notes=tuple(notes))


def run_protocol(sample, *, seed: int, draws: int, chains: int = 4, exact: pd.DataFrame | None = None,
                 factor: int = CONFIRM_FACTOR, **compare_kwargs) -> CrossValidation:
    """The zoo's whole protocol on samplers given as a function: compare, and confirm any "disagree".

    Stage 1 compares ``sample(seed, draws, chains)`` (and ``exact``) by :func:`compare`.  If a comparison
    that sets the verdict disagrees, stage 2 compares ``sample(confirmation_seed(seed), factor * draws,
    chains)`` with the same settings, and :func:`confirm` gives the verdict.

    Parameters
    ----------
    sample : callable
        ``sample(seed: int, draws: int, chains: int) -> dict[str, arviz.InferenceData]``; the same names
        every call.
    seed : int >= 0
    draws, chains : int >= 1
        Stage 1's kept draws per chain and chains.
    exact : pandas.DataFrame, optional
    factor : int >= 1
        Stage 2 runs ``factor * draws`` draws per chain.
    **compare_kwargs
        Passed to :func:`compare` (``var_names``, ``advisory``, ``saturation``, ...); ``alpha``, each stage's
        family-wise level, defaults to :data:`STAGE_ALPHA` (the protocol's stated level is then
        :data:`PROTOCOL_ALPHA`).

    Returns
    -------
    CrossValidation

    Raises
    ------
    ValueError
        For a bad ``seed``, ``draws``, ``chains`` or ``factor`` (before any sampling), or as :func:`compare`.
    """
    from bayes_zoo.inference.seeding import confirmation_seed

    second_seed = confirmation_seed(seed)
    compare_kwargs.setdefault("alpha", STAGE_ALPHA)
    draws, chains, factor = (positive_int(v, n) for v, n in ((draws, "draws"), (chains, "chains"), (factor, "factor")))
    first = compare(sample(seed, draws, chains), exact, **compare_kwargs)
    if not needs_confirmation(first):
        return first
    second = compare(sample(second_seed, factor * draws, chains), exact, **compare_kwargs)
    return confirm(first, second, label=f"a fresh run (seed {second_seed}, {chains} x {factor * draws} draws)")


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
