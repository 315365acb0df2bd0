"""Shared fixtures of the zoo tests: the check that a pair's saved results are what a PyMC/ArviZ user expects."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

#: The groups every saved result has (docs/ARCHITECTURE.md, Conventions: Results).
GROUPS = ("posterior", "sample_stats", "observed_data", "log_likelihood", "posterior_predictive")


def check_saved_results(folder, *, trace_var_names=None) -> list[str]:
    """Open every ``*.nc`` in ``folder`` as a PyMC/ArviZ user would; return their stems, sorted.

    Each result must have :data:`GROUPS`; ``sample_stats.lp``; one ``log_likelihood`` and one
    ``posterior_predictive`` variable per observed variable, named after it, of dims ``(chain, draw)`` plus
    the observed variable's own; no PyMC internals (``*_rotated_``, ``*__``) in the posterior.  Then
    ``az.summary``, ``az.loo`` (one pointwise term per observation) and ``az.plot_trace`` (with
    ``var_names=trace_var_names``, default all) must run on it.
    """
    import warnings

    import arviz as az
    import matplotlib.pyplot as plt
    import numpy as np

    names = []
    for path in sorted(Path(folder).glob("*.nc")):
        idata = az.from_netcdf(path)
        missing = [g for g in GROUPS if g not in idata.groups()]
        assert not missing, f"{path.name}: no {missing}"
        assert "lp" in idata.sample_stats, f"{path.name}: no sample_stats.lp"
        observed = idata.observed_data
        for group in (idata.log_likelihood, idata.posterior_predictive):
            assert set(group.data_vars) == set(observed.data_vars), f"{path.name}: {list(group.data_vars)}"
            for var in observed.data_vars:
                assert group[var].dims == ("chain", "draw", *observed[var].dims), f"{path.name}: {var} {group[var].dims}"
        internal = [v for v in idata.posterior.data_vars if str(v).endswith(("_rotated_", "__"))]
        assert not internal, f"{path.name}: PyMC internals {internal} in the posterior"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a constant (a known noise sd): no R-hat, no KDE; Pareto k of outliers
            assert len(az.summary(idata)) > 0
            loo = az.loo(idata)
            az.plot_trace(idata, var_names=trace_var_names)
        plt.close("all")
        assert loo.n_data_points == sum(observed[v].size for v in observed.data_vars), path.name
        assert np.isfinite(loo.elpd_loo), path.name
        names.append(path.stem)
    return names


def check_rerun(outcome, settings, variables) -> None:
    """``outcome.rerun`` is the first run's sampling: under the first run's ``settings`` it gives the same draws of
    ``variables`` for every result, and under a fresh seed and more draws, fresh draws of that size."""
    import dataclasses

    import numpy as np

    assert outcome.rerun is not None
    again = outcome.rerun(settings)
    assert set(again) == set(outcome.results) - set(outcome.advisory_runs)
    for name in again:
        for var in variables:
            np.testing.assert_array_equal(again[name].posterior[var].values, outcome.results[name].posterior[var].values)
    fresh = outcome.rerun(dataclasses.replace(settings, draws=settings.draws + 50, seed=settings.seed + 1))
    assert {n: r.posterior.sizes["draw"] for n, r in fresh.items()} == {n: settings.draws + 50 for n in again}
    for name in fresh:
        first = outcome.results[name].posterior[variables[0]].values[0, :settings.draws]
        assert not np.array_equal(fresh[name].posterior[variables[0]].values[0, :settings.draws], first)


@pytest.fixture(scope="session")
def rerun_check():
    """:func:`check_rerun`, for the tests of each pair's quick run."""
    return check_rerun


@pytest.fixture(scope="session")
def saved_results_check():
    """:func:`check_saved_results`, for the tests of each pair's quick run."""
    return check_saved_results


#: A format field left in text, ``{ZX_STEP}``: the mark of an f-string that lost its ``f``.
PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")


def unformatted_placeholders(markdown: str) -> list[str]:
    """Every ``{name}`` in ``markdown`` outside fenced code blocks and inline code spans, as ``"line N: ..."``."""
    found, fenced = [], False
    for number, line in enumerate(markdown.splitlines(), start=1):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if fenced:
            continue
        prose = re.sub(r"(`+).*?\1", "", line)  # inline code spans
        found += [f"line {number}: {m.group(0)} in {line.strip()[:120]!r}" for m in PLACEHOLDER.finditer(prose)]
    return found


def check_report_formatted(folder) -> None:
    """Assert that ``folder/report.md`` holds no unformatted ``{name}`` placeholder (:func:`unformatted_placeholders`)."""
    text = (Path(folder) / "report.md").read_text(encoding="utf-8")
    left = unformatted_placeholders(text)
    assert not left, "report.md: unformatted placeholders\n" + "\n".join(left)


@pytest.fixture(scope="session")
def report_formatted_check():
    """:func:`check_report_formatted`, for the tests of each pair's quick run."""
    return check_report_formatted



def record_figures(outcome) -> dict:
    """What the figure tests read of ``outcome``'s figures, taken before ``write_outcome`` saves and closes them.

    Returns ``{"figures": {stem: {"audit": audit_figure(fig), "titles": [suptitle, each panel's title],
    "panels": the quantities a trace plot shows (its left column's titles)}}, "divergences": {run label:
    divergent transitions or None}, "flagged": {run label: flagged_quantities(its Diagnostics)}}``, or
    ``{"error": text}`` when reading them raised (the run itself goes on).
    """
    from bayes_zoo.figures import audit_figure
    from bayes_zoo.problem import flagged_quantities
    from bayes_zoo.report import run_diagnostics

    try:
        figures = {}
        for stem, fig in outcome.figures.items():
            figures[stem] = {"audit": audit_figure(fig),
                             "titles": [fig.get_suptitle()] + [ax.get_title() for ax in fig.axes],
                             "panels": [ax.get_title() for ax in fig.axes[::2]] if stem.startswith("trace_") else []}
        runs = run_diagnostics(outcome)
        return {"figures": figures, "divergences": {label: d.divergences for label, d, _ in runs},
                "flagged": {label: flagged_quantities(d) for label, d, _ in runs}}
    except Exception as err:  # noqa: BLE001 - reported by the figure test, not by every test of the run
        return {"error": f"{type(err).__name__}: {err}"}


@pytest.fixture(scope="session")
def quick_compare(tmp_path_factory):
    """``quick_compare(name, seed=0) -> (exit status, result folder)``: ``bayes-zoo compare NAME --quick``, run once
    per session and shared by every test that reads it (the registry-wide test and each pair's own).
    ``quick_compare.figures[name, seed]``: :func:`record_figures` of its outcome, read before saving."""
    from bayes_zoo import cli, report

    cache = {}

    def run(name: str, seed: int = 0):
        if (name, seed) not in cache:
            out = tmp_path_factory.mktemp(f"quick-{name}-{seed}")
            write = report.write_outcome

            def recorded(outcome, folder):
                run.figures[name, seed] = record_figures(outcome)
                return write(outcome, folder)

            report.write_outcome = recorded
            try:
                status = cli.main(["compare", name, "--quick", "--seed", str(seed), "--out", str(out)])
            finally:
                report.write_outcome = write
            cache[name, seed] = status, out / name
        return cache[name, seed]

    run.figures = {}
    return run


def check_report_html(folder) -> None:
    """Assert that ``folder/report.html`` is ``folder/report.md`` as one self-contained page, read with an HTML
    parser: every ``<img>`` is an embedded PNG that decodes (as many as the Markdown shows), and every verdict word
    of the Markdown's tables and bold text (:data:`bayes_zoo.html_report.VERDICT_CLASSES`) appears, in order, as
    a coloured verdict, the overall ``Verdict: ...`` in bold; no paragraph starts with ``|`` (a Markdown table that
    failed to parse, e.g. over an unescaped ``|`` in a cell, is printed as one paragraph of ``| ... |`` text)."""
    import base64
    import io
    from collections import Counter
    from html.parser import HTMLParser

    import matplotlib.image as mpimg

    from bayes_zoo.html_report import VERDICT_CLASSES

    class Page(HTMLParser):
        def __init__(self):
            super().__init__()
            self.images, self.verdicts, self.bold, self._in, self._bold = [], [], [], None, 0
            self.paragraphs, self._p = [], 0

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "img":
                self.images.append(attrs.get("src", ""))
            elif tag == "span" and "verdict" in (attrs.get("class") or "").split():
                self._in = [attrs["class"].split()[1], ""]
            elif tag == "strong":
                self._bold += 1
                self.bold.append("")
            if tag == "p":
                self._p += 1
                self.paragraphs.append("")

        def handle_endtag(self, tag):
            if tag == "span" and self._in is not None:
                self.verdicts.append(tuple(self._in))
                self._in = None
            elif tag == "strong":
                self._bold -= 1
            elif tag == "p":
                self._p -= 1

        def handle_data(self, data):
            if self._in is not None:
                self._in[1] += data
            if self._bold:
                self.bold[-1] += data
            if self._p:
                self.paragraphs[-1] += data

    folder = Path(folder)
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    page = Page()
    page.feed((folder / "report.html").read_text(encoding="utf-8"))
    assert len(page.images) == markdown.count("!["), f"{folder}: {len(page.images)} images"
    broken = [p[:120] for p in page.paragraphs if p.lstrip().startswith("|")]
    assert not broken, f"{folder}: tables printed as text (an unescaped | in a cell?): {broken}"
    for src in page.images:
        assert src.startswith("data:image/png;base64,"), f"{folder}: image not embedded: {src[:60]}"
        pixels = mpimg.imread(io.BytesIO(base64.b64decode(src.split(",", 1)[1], validate=True)), format="png")
        assert pixels.ndim == 3 and min(pixels.shape[:2]) > 50
    words = "|".join(sorted(map(re.escape, VERDICT_CLASSES), key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w-])({words})(?![\w-])")
    expected = []
    for line in markdown.splitlines():
        spans = [line] if line.lstrip().startswith("|") else re.findall(r"\*\*(.+?)\*\*", line)
        expected += [w for span in spans for w in pattern.findall(span)]
    assert Counter(w for _, w in page.verdicts) == Counter(expected), folder
    assert all(VERDICT_CLASSES[w] == kind for kind, w in page.verdicts)
    overall = re.search(r"\*\*Verdict: (\w+)\*\*", markdown)
    if overall:
        assert f"Verdict: {overall.group(1)}" in page.bold, f"{folder}: overall verdict not in bold"


@pytest.fixture(scope="session")
def report_html_check():
    """:func:`check_report_html`, for the tests of every command that writes a report."""
    return check_report_html
