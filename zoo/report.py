"""Reports: the Rich table printed as a pair finishes, and the files written under ``--out``.

Layout written by :func:`write_outcome` for a pair called ``NAME``::

    OUT/NAME/report.md          setup, verdict, comparison and diagnostics tables, the pair's own sections, figures
    OUT/NAME/summary.csv        every z-test of the cross-validation (one row per comparison x quantity x statistic)
    OUT/NAME/diagnostics.csv    R-hat, bulk and tail ESS per result and quantity
    OUT/NAME/checks.csv         the deterministic identities, when the pair has some
    OUT/NAME/<result>.nc        each result's InferenceData (netCDF, ArviZ's ``to_netcdf``)
    OUT/NAME/<figure>.png       figures

:func:`write_index` writes ``OUT/report.md`` over all pairs run.  Nothing is overwritten unless asked:
:func:`prepare_output` refuses an existing, non-empty folder unless ``force`` is set.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from rich.markup import escape
from rich.table import Table

from bayes_zoo.inference.crossval import STATISTICS
from bayes_zoo.models.backend import blas_status
from bayes_zoo.registry import PairOutcome

__all__ = ["prepare_output", "comparison_frame", "rich_table", "rich_checks", "write_outcome", "write_index"]

_VERDICT_STYLE = {"agree": "bold green", "disagree": "bold red", "inconclusive": "bold yellow"}


def prepare_output(out: Path, pair_names: list[str], *, force: bool, index: bool) -> None:
    """Check, before any work, that writing the pairs' folders (and ``out/report.md``) overwrites nothing.

    With ``force``, the existing pair folders are removed (and ``report.md`` replaced).

    Raises
    ------
    ValueError
        Naming ``--out`` and ``--force``, if something would be overwritten and ``force`` is False, or if
        ``out`` exists and is not a folder.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out: {out} exists and is not a folder")
    targets = [out / name for name in pair_names]
    taken = [t for t in targets if t.exists() and any(t.iterdir())]
    if index and (out / "report.md").exists():
        taken.append(out / "report.md")
    if taken and not force:
        listed = ", ".join(str(t) for t in taken)
        raise ValueError(f"--out: {listed} already exist(s); pass --force to overwrite, or choose another --out")
    for t in taken:
        if t.is_dir():
            shutil.rmtree(t)


def comparison_frame(outcome: PairOutcome) -> pd.DataFrame:
    """Wide table: one row per (quantity, statistic); each result's estimate and MCSE, the exact value, z's.

    Returns
    -------
    pandas.DataFrame
        Columns ``quantity``, ``statistic``, ``<result>`` and ``<result> mcse`` per result, ``exact`` (when
        there is one), ``z <left>-<right>`` and ``s <left>-<right>`` (the test passed only within its ``saturation``
        tolerance) per comparison, and ``ok`` (every test of the row passed).
    """
    cv = outcome.crossval
    frame = None
    for name, est in cv.estimates.items():
        cols = est.rename(columns={"estimate": name, "mcse": f"{name} mcse"})
        if name == "exact":
            cols = cols[[name]]
        frame = cols if frame is None else frame.join(cols, how="outer")
    wide = cv.table.set_index(["quantity", "statistic", "comparison"])[["z", "by_atol"]].unstack("comparison")
    order = list(cv.comparisons["comparison"])  # unstack sorts; keep the protocol's order
    names = [c.replace(" vs ", "-") for c in order]
    zs = wide["z"][order].set_axis([f"z {n}" for n in names], axis=1)
    marks = wide["by_atol"][order].fillna(False).astype(bool).set_axis([f"s {n}" for n in names], axis=1)
    frame = frame.join(zs, how="inner").join(marks)
    frame = frame.join(cv.table.groupby(["quantity", "statistic"], sort=False)["ok"].all())
    order = {s: i for i, s in enumerate(STATISTICS)}
    quantities = list(dict.fromkeys(cv.table["quantity"]))
    frame = frame.reset_index()
    frame["_q"] = frame["quantity"].map({q: i for i, q in enumerate(quantities)})
    frame["_s"] = frame["statistic"].map(order)
    return frame.sort_values(["_q", "_s"]).drop(columns=["_q", "_s"]).reset_index(drop=True)


def _fmt(value: float, mcse: float | None = None, digits: int = 5) -> str:
    if pd.isna(value):
        return "nan"
    text = f"{value:.{digits}g}"
    return text if mcse is None or pd.isna(mcse) else f"{text} ±{mcse:.1g}"


def _z_cell(z: float, by_atol: bool, ok: bool, threshold: float, *, rich: bool = False) -> str:
    """A z-score as text, sign kept; ``(s)`` marks a test passed within its ``saturation`` tolerance;
    ``–`` a statistic not compared (an exact moment that is not given)."""
    if pd.isna(z):
        return "–"
    text = f"{z:+.2f}" if abs(z) < 1000 else f"{'>+' if z > 0 else '<-'}999"
    text += " (s)" if by_atol else ""
    return f"[red]{text}[/]" if rich and abs(z) > threshold and not ok else text


def _saturation_note(cv) -> str:
    if not cv.table["by_atol"].any():
        return ""
    tolerances = ", ".join(f"{var} ±{tol:.2g}" for var, tol in (cv.saturation or {}).items())
    return (f"(s): saturated at a bound (e.g. a probability of 1.0), where the MCSE misses rare excursions; "
            f"passes within its tolerance ({tolerances}; rule of three)")


def rich_table(outcome: PairOutcome) -> Table:
    """The comparison as a Rich table (estimates ± MCSE, exact values, z-scores), titled with the verdict.

    Laid out to fit an 80-column terminal for two results and an exact answer: quantity and statistic share
    a column, and z-score headers stack the two names compared.
    """
    from rich import box

    cv = outcome.crossval
    frame = comparison_frame(outcome)
    results = [n for n in cv.estimates if n != "exact"]
    zcols = [c for c in frame.columns if c.startswith("z ")]
    table = Table(
        title=f"{outcome.name}: [{_VERDICT_STYLE[cv.verdict]}]{cv.verdict}[/] (|z| threshold {cv.threshold:.2f})",
        title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True,
        caption="\n".join(filter(None, ["z = difference / combined MCSE", _saturation_note(cv)])),
        caption_justify="left",
    )
    table.add_column("quantity", no_wrap=True)
    for name in results:
        table.add_column(f"{name}\n± MCSE", justify="right", no_wrap=True)
    if "exact" in frame.columns:
        table.add_column("exact", justify="right", no_wrap=True)
    for col in zcols:
        left, right = col[2:].split("-", 1)
        table.add_column(f"z\n{left}\n-{right}", justify="right", no_wrap=True)
    for _, row in frame.iterrows():
        cells = [escape(f"{row['quantity']} {row['statistic']}")]
        cells += [_fmt(row[n], row[f"{n} mcse"], digits=4) for n in results]
        if "exact" in frame.columns:
            cells.append(_fmt(row["exact"], digits=5) if pd.notna(row["exact"]) else "–")
        cells += [_z_cell(row[c], row["s" + c[1:]], row["ok"], cv.threshold, rich=True) for c in zcols]
        table.add_row(*cells)
    return table


def _markdown_comparison(outcome: PairOutcome) -> str:
    frame = comparison_frame(outcome)
    results = [n for n in outcome.crossval.estimates if n != "exact"]
    shown = pd.DataFrame({"quantity": frame["quantity"], "stat": frame["statistic"]})
    for n in results:
        shown[f"{n} ± MCSE"] = [_fmt(v, m) for v, m in zip(frame[n], frame[f"{n} mcse"])]
    if "exact" in frame.columns:
        shown["exact"] = [_fmt(v) if pd.notna(v) else "–" for v in frame["exact"]]
    for c in [c for c in frame.columns if c.startswith("z ")]:
        shown[c] = [_z_cell(v, by_atol, ok, outcome.crossval.threshold) for v, by_atol, ok in
                    zip(frame[c], frame["s" + c[1:]], frame["ok"])]
    shown["ok"] = ["yes" if ok else "**no**" for ok in frame["ok"]]
    return shown.to_markdown(index=False)


def _comparisons(cv) -> pd.DataFrame:
    """The per-comparison verdicts; the ``advisory`` column only when some comparison is advisory."""
    frame = cv.comparisons
    return frame if (frame["advisory"] != "").any() else frame.drop(columns="advisory")


def _checks_frame(checks: pd.DataFrame) -> pd.DataFrame:
    shown = checks.copy()
    shown["max_difference"] = [f"{v:.2e}" for v in shown["max_difference"]]
    shown["tolerance"] = [f"{v:g}" for v in shown["tolerance"]]
    shown["ok"] = ["yes" if ok else "**no**" for ok in shown["ok"]]
    return shown


def rich_checks(outcome: PairOutcome) -> Table:
    """The deterministic identities as a Rich table, titled with whether all hold."""
    from rich import box

    checks = outcome.checks
    held = int(checks["ok"].sum())
    style = "bold green" if held == len(checks) else "bold red"
    table = Table(title=f"{outcome.name}: [{style}]{held}/{len(checks)} identities hold[/]", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("identity")
    table.add_column("max difference", justify="right", no_wrap=True)
    table.add_column("tolerance", justify="right", no_wrap=True)
    for r in checks.itertuples():
        diff = f"{r.max_difference:.2e}" + ("" if r.ok else " [red]✗[/]")
        table.add_row(escape(r.identity), diff, f"{r.tolerance:g} {r.kind}")
    return table


def _diagnostics_frame(outcome: PairOutcome) -> pd.DataFrame:
    parts = []
    for name, diag in outcome.crossval.diagnostics.items():
        part = diag.table.reset_index()
        part.insert(0, "result", name)
        part["divergences"] = "n/a" if diag.divergences is None else diag.divergences
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def write_outcome(outcome: PairOutcome, folder: Path) -> list[Path]:
    """Write the pair's report, CSVs, netCDF files and figures into ``folder`` (created if missing).

    Call :func:`prepare_output` first: this function writes without asking.  Figures are closed.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cv = outcome.crossval
    written = []

    for name, idata in outcome.results.items():
        path = folder / f"{name}.nc"
        idata.to_netcdf(str(path))
        written.append(path)
    if cv is not None:
        cv.table.to_csv(folder / "summary.csv", index=False)
        diag = _diagnostics_frame(outcome)
        diag.to_csv(folder / "diagnostics.csv", index=False)
        written += [folder / "summary.csv", folder / "diagnostics.csv"]
    if outcome.checks is not None:
        outcome.checks.to_csv(folder / "checks.csv", index=False)
        written.append(folder / "checks.csv")
    for stem, fig in outcome.figures.items():
        path = folder / f"{stem}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    lines = [f"# {outcome.title}", "", f"**Verdict: {outcome.verdict}**", ""]
    if outcome.reasons:
        lines += ["Reasons:", ""] + [f"- {r}" for r in outcome.reasons] + [""]
    lines += ["## Setup", ""] + [f"- {f}" for f in outcome.facts] + [f"- {blas_status()}", ""]
    if outcome.checks is not None:
        lines += ["## Deterministic identities", "",
                  "Two computations of the same number (no Monte Carlo error): each must agree to its tolerance.",
                  "", _checks_frame(outcome.checks).to_markdown(index=False), ""]
    if cv is not None:
        lines += [
            "## Comparisons",
            "",
            f"Two-sided z-tests, Bonferroni-corrected over {len(cv.table)} tests at family-wise level "
            f"{cv.alpha:g}: |z| threshold {cv.threshold:.3f}.  MCSE from `arviz.mcse` (mean, sd, quantile).",
            "",
            _comparisons(cv).to_markdown(index=False, floatfmt=".2f"),
            "",
            _markdown_comparison(outcome),
            "",
        ]
        if _saturation_note(cv):
            lines += [_saturation_note(cv) + ".", ""]
        lines += ["## Diagnostics (ArviZ)", "", diag.to_markdown(index=False, floatfmt=".4g"), ""]
    for heading, body in outcome.sections.items():
        lines += [f"## {heading}", "", body, ""]
    if outcome.notes:
        lines += ["## Notes", ""] + outcome.notes + [""]
    if outcome.figures:
        lines += ["## Figures", ""] + [f"![{stem}]({stem}.png)" for stem in outcome.figures] + [""]
    (folder / "report.md").write_text("\n".join(lines), encoding="utf-8")
    written.append(folder / "report.md")
    return written


def write_index(outcomes: list[PairOutcome], out: Path) -> Path:
    """Write ``out/report.md``: one row per pair with its verdict, linking each pair's report."""
    rows = [
        {
            "pair": f"[{o.name}]({o.name}/report.md)",
            "verdict": o.verdict,
            "comparisons": "; ".join(_summary_lines(o)),
            "max abs z": f"{o.crossval.comparisons['max_abs_z'].max():.2f}" if o.crossval is not None else "–",
            "threshold": f"{o.crossval.threshold:.2f}" if o.crossval is not None else "–",
        }
        for o in outcomes
    ]
    text = "\n".join(["# bayes-zoo: all pairs", "", pd.DataFrame(rows).to_markdown(index=False), "",
                      f"Environment: {blas_status()}.", ""])
    path = Path(out) / "report.md"
    path.write_text(text, encoding="utf-8")
    return path


def _summary_lines(outcome: PairOutcome) -> list[str]:
    """One line per comparison (``"gibbs vs exact: agree"``, advisory marked) and one for the identities."""
    lines = []
    if outcome.checks is not None:
        held = int(outcome.checks["ok"].sum())
        lines.append(f"deterministic identities: {held}/{len(outcome.checks)} hold")
    if outcome.crossval is not None:
        lines += [f"{r.comparison}: {r.verdict}" + (" (advisory)" if r.advisory else "")
                  for r in outcome.crossval.comparisons.itertuples()]
    return lines
