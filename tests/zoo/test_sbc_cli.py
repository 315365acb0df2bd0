"""`bayes-zoo sbc`: calibrated and planted-bug runs end to end, the files written, and the usage errors."""

from __future__ import annotations

import pandas as pd
import pytest

from bayes_zoo import cli


#: Per sampler side of the quick run: its ECDF figure as read before saving (:func:`_read_figure`).
ECDF_FIGURES = {}


def _read_figure(fig) -> dict:
    """The audit (:func:`bayes_zoo.figures.audit_figure`), the visible panels' axis labels and the figure
    legends' texts of one ECDF figure."""
    from bayes_zoo.figures import audit_figure

    panels = [ax for ax in fig.axes if ax.get_visible()]
    return {"audit": audit_figure(fig), "xlabels": [ax.get_xlabel() for ax in panels],
            "ylabels": [ax.get_ylabel() for ax in panels],
            "legend": [t.get_text() for legend in fig.legends for t in legend.get_texts()]}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    from bayes_zoo import sbc as zsbc

    out = tmp_path_factory.mktemp("results")
    write = zsbc.write

    def recorded(runs, folder, **kwargs):  # the figures as the command made them, before they are saved
        ECDF_FIGURES.update({r.side: _read_figure(r.figure) for r in runs if r.figure is not None})
        return write(runs, folder, **kwargs)

    zsbc.write = recorded
    try:
        status = cli.main(["sbc", "normal-gamma", "--quick", "--jobs", "2", "--out", str(out)])
    finally:
        zsbc.write = write
    return status, out / "sbc-normal-gamma"


def test_the_correct_gibbs_sampler_is_calibrated_and_exits_zero(quick_run, capsys):
    status, folder = quick_run
    assert status == cli.EXIT_OK
    table = pd.read_csv(folder / "uniformity.csv")
    assert set(table["quantity"]) == {"mu", "beta", "loglik"} and (table["verdict"] == "uniform").all()


def test_sbc_writes_ranks_ecdf_plot_and_report(quick_run):
    _, folder = quick_run
    ranks = pd.read_csv(folder / "ranks-handwritten.csv")
    assert len(ranks) == 3 * 100 and ranks["rank"].between(0, 99).all()
    assert (folder / "ecdf-handwritten.png").exists() and "**calibrated**" in (folder / "report.md").read_text()


def test_sbc_writes_its_report_as_a_page_with_the_ecdf_plot_embedded(quick_run, report_html_check):
    report_html_check(quick_run[1])


def test_the_ecdf_figure_labels_rank_and_ecdf_difference_and_names_the_band(quick_run):
    assert set(ECDF_FIGURES) == {"handwritten"}
    figure = ECDF_FIGURES["handwritten"]
    assert figure["audit"] == []
    assert all("rank" in x for x in figure["xlabels"]) and all("ECDF difference" in y for y in figure["ylabels"])
    assert any("band" in text for text in figure["legend"])


def test_the_planted_bug_is_miscalibrated_and_exits_one(tmp_path, capsys):
    status = cli.main(["sbc", "normal-gamma", "--quick", "--planted-bug", "--jobs", "2", "--out", str(tmp_path)])
    assert status == cli.EXIT_DISAGREE
    assert "normal-gamma/rate-as-scale/gibbs: miscalibrated" in capsys.readouterr().out


def test_a_planted_bug_is_named_and_an_unknown_one_is_refused_naming_the_bugs(tmp_path, capsys):
    assert cli.main(["sbc", "normal-gamma", "--quick", "--planted-bug", "nope", "--out", str(tmp_path)]) == cli.EXIT_USAGE
    assert "has no planted bug 'nope' (planted bugs: ['rate-as-scale'])" in capsys.readouterr().out


def test_sbc_refuses_to_overwrite_without_force(quick_run, capsys):
    _, folder = quick_run
    assert cli.main(["sbc", "normal-gamma", "--quick", "--out", str(folder.parent)]) == cli.EXIT_USAGE
    out = capsys.readouterr().out
    assert "error: --out: " in out and "--force" in out


def test_too_few_simulations_are_inconclusive_not_miscalibrated(tmp_path, capsys):
    assert cli.main(["sbc", "normal-gamma", "--sims", "20", "--out", str(tmp_path)]) == cli.EXIT_OK
    assert "normal-gamma/gibbs: inconclusive" in capsys.readouterr().out


def test_the_planted_bug_p_value_that_underflows_is_shown_as_a_bound(tmp_path):
    cli.main(["sbc", "normal-gamma", "--quick", "--planted-bug", "--out", str(tmp_path)])
    report = (tmp_path / "sbc-normal-gamma" / "report.md").read_text()
    assert "< 1e-300" in report and "**miscalibrated**" in report


def test_an_unreachable_scheduler_is_a_usage_error_naming_it(tmp_path, capsys):
    import dask
    import distributed  # noqa: F401  (loads distributed's config defaults before one is overridden)

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        status = cli.main(["sbc", "normal-gamma", "--sims", "4", "--scheduler", "tcp://127.0.0.1:1",
                           "--out", str(tmp_path)])
    assert status == cli.EXIT_USAGE and "error: --scheduler: could not reach" in capsys.readouterr().out


@pytest.mark.parametrize("options, flag", [(["normal-gamma", "--sims", "0"], "--sims"),
                                           (["normal-gamma", "--jobs", "0"], "--jobs"),
                                           (["gp", "--planted-bug"], "--planted-bug"),
                                           (["normal-gamma", "--planted-bug", "--sampler", "nuts"], "--planted-bug"),
                                           (["sparse-gp", "--sampler", "nuts"], "--sampler")])
def test_bad_options_exit_with_usage_status_naming_the_option(tmp_path, capsys, options, flag):
    assert cli.main(["sbc", *options, "--out", str(tmp_path)]) == cli.EXIT_USAGE
    assert f"error: {flag}" in capsys.readouterr().out


def test_a_dask_scheduler_gives_the_same_ranks_as_local_processes(tmp_path, dask_cluster):
    assert cli.main(["sbc", "normal-gamma", "--sims", "30", "--scheduler", dask_cluster.scheduler_address,
                     "--out", str(tmp_path / "dask")]) in (cli.EXIT_OK, cli.EXIT_DISAGREE)
    assert cli.main(["sbc", "normal-gamma", "--sims", "30", "--jobs", "1", "--out", str(tmp_path / "local")]) in (
        cli.EXIT_OK, cli.EXIT_DISAGREE)  # 30 simulations: too few for a verdict, enough to compare ranks
    dask = pd.read_csv(tmp_path / "dask" / "sbc-normal-gamma" / "ranks-handwritten.csv")
    local = pd.read_csv(tmp_path / "local" / "sbc-normal-gamma" / "ranks-handwritten.csv")
    pd.testing.assert_frame_equal(dask, local)


def test_the_nuts_side_report_says_which_nuts_sampled():
    """Read from the NutsSide that SBC's nuts problem wraps (the sampler fixed when the side was made)."""
    from types import SimpleNamespace

    from bayes_zoo.inference.sbc_model import NutsSide
    from bayes_zoo.models.normal_gamma import build_pymc_model

    side = NutsSide(lambda data: build_pymc_model(data["x"]), {"x": [1.0, 2.0]}, sampler="pymc")  # compiles nothing
    problems = {"gibbs": SimpleNamespace(sample=print), "nuts": SimpleNamespace(sample=SimpleNamespace(side=side))}
    assert cli._nuts_facts(problems) == {"NUTS": "pymc (compiled once per worker process)"}
    assert cli._nuts_facts({"gibbs": problems["gibbs"]}) == {}
