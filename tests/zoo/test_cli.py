"""bayes_zoo.cli: `bayes-zoo list` and `bayes-zoo compare` end to end at --quick size."""

from __future__ import annotations

import dataclasses

import pytest

from bayes_zoo.inference import crossval
from bayes_zoo import cli, pairs, registry  # noqa: F401  (pairs registered now, never into a test's patched registry)


@pytest.fixture(scope="module")
def quick_run(quick_compare):
    status, folder = quick_compare("normal-gamma", 3)  # the run the registry-wide test reads too (one stage)
    return status, folder.parent


def test_list_names_every_registered_pair(capsys):
    assert cli.main(["list"]) == 0
    printed = capsys.readouterr().out
    assert all(name in printed for name in registry.names())


def test_compare_normal_gamma_agrees_at_quick_size(quick_run):
    status, _ = quick_run
    assert status == cli.EXIT_OK


def test_compare_writes_report_csv_netcdf_and_figures(quick_run):
    _, out = quick_run
    folder = out / "normal-gamma"
    expected = {"report.md", "summary.csv", "diagnostics.csv", "gibbs.nc", "nuts.nc", "posterior_vs_exact.png",
                "trace_gibbs.png", "trace_nuts.png", "rank_gibbs.png", "rank_nuts.png"}
    assert expected <= {p.name for p in folder.iterdir()}
    report = (folder / "report.md").read_text()
    assert "**Verdict: agree**" in report and "Prior: mu ~ Normal" in report


def test_every_saved_result_opens_in_arviz_with_the_groups_a_pymc_user_expects(quick_run, saved_results_check):
    assert saved_results_check(quick_run[1] / "normal-gamma") == ["gibbs", "nuts"]


def test_report_has_no_unformatted_placeholder(quick_run, report_formatted_check):
    report_formatted_check(quick_run[1] / "normal-gamma")


def test_report_states_the_exact_method_from_the_object_and_times_compilation_apart(quick_run):
    # Caught: a hand-typed "adaptive Gauss–Kronrod quadrature" where a composite Gauss–Legendre rule did the
    # work, and sampling times that silently included numba's or PyMC's compilation.
    from bayes_zoo.models.datasets import load_newcomb
    from bayes_zoo.models.normal_gamma import exact_posterior

    report = (quick_run[1] / "normal-gamma" / "report.md").read_text()
    exact = exact_posterior(load_newcomb().arrays["x"])
    assert f"Exact reference: {exact.method}." in report and "Gauss–Legendre" in exact.method
    assert "Kronrod" not in report
    assert "Gibbs: " in report and "s compiling (numba" in report and "s compiling and initialising in nutpie" in report


def test_nuts_sampler_option_sets_the_process_default_before_the_run(tmp_path, monkeypatch):
    from bayes_zoo.inference import nuts

    monkeypatch.setattr(nuts, "_default_sampler", [])  # the option sets the process default: undone afterwards
    # --draws 0 is refused after the option took effect and before any sampling: a cheap run through _main
    status = cli.main(["compare", "normal-gamma", "--nuts-sampler", "pymc", "--draws", "0", "--out", str(tmp_path)])
    assert status == cli.EXIT_USAGE and nuts.nuts_sampler() == "pymc"


@pytest.mark.parametrize("attrs, says", [
    ({"nuts_sampler": "pymc"}, "s compiling and initialising in pymc.sample"),
    ({"nuts_sampler": "nutpie"}, "s compiling and initialising in nutpie (numba"),
    ({"nuts_sampler": "pymc", "nuts_sampler_note": "PyMC's NUTS sampled: nutpie does not apply (tune=0)"},
     "pymc.sample (PyMC's NUTS sampled: nutpie does not apply (tune=0))"),
])
def test_the_report_says_where_nuts_compiled_and_why_pymc_stood_in(attrs, says):
    import arviz as az
    import numpy as np

    from bayes_zoo.report import sampling_times

    idata = az.from_dict(posterior={"mu": np.zeros((1, 3))})
    idata.posterior.attrs.update(sampling_time=0.5, setup_time=1.5, **attrs)
    assert says in sampling_times(idata, "NUTS")


def test_the_nuts_sampler_choices_are_the_ones_sample_nuts_knows():
    from bayes_zoo.inference.nuts import NUTS_SAMPLERS

    assert cli.NUTS_SAMPLER_CHOICES == NUTS_SAMPLERS


def test_the_placeholder_check_finds_an_f_string_that_lost_its_f_outside_code(tmp_path, report_formatted_check):
    (tmp_path / "report.md").write_text("- Z = X identities on every {ZX_STEP}th input\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="ZX_STEP"):
        report_formatted_check(tmp_path)
    (tmp_path / "report.md").write_text("Set `{name}` or\n```\nf\"{x}\"\n```\n{0, 1}\n", encoding="utf-8")
    report_formatted_check(tmp_path)  # code spans, fenced blocks and sets are not placeholders


def test_compare_refuses_to_overwrite_without_force(quick_run, capsys):
    _, out = quick_run
    before = (out / "normal-gamma" / "report.md").stat().st_mtime_ns
    assert cli.main(["compare", "normal-gamma", "--quick", "--out", str(out)]) == cli.EXIT_USAGE
    assert "--force" in capsys.readouterr().out
    assert (out / "normal-gamma" / "report.md").stat().st_mtime_ns == before


@pytest.mark.parametrize("flag, value", [("--draws", "0"), ("--chains", "0"), ("--warmup", "-2"), ("--seed", "-1")])
def test_bad_settings_exit_with_usage_status_naming_the_argument(tmp_path, capsys, flag, value):
    assert cli.main(["compare", "normal-gamma", "--quick", "--out", str(tmp_path), flag, value]) == cli.EXIT_USAGE
    assert flag.lstrip("-") in capsys.readouterr().out
    assert not (tmp_path / "normal-gamma").exists()


def test_unknown_problem_is_a_usage_error():
    with pytest.raises(SystemExit) as info:
        cli.main(["compare", "no-such-pair"])
    assert info.value.code == 2


def test_disagree_exits_non_zero_and_compare_all_writes_the_index(tmp_path, monkeypatch, newcomb_exact):
    # A registered pair whose result is wrong: the CLI must say so through its exit status.
    import arviz as az
    import numpy as np

    from bayes_zoo.problem import Problem

    def wrong(data, *, seed, draws, chains):
        return az.from_dict(posterior={"mu": np.random.default_rng(0).normal(30.0, 1.3, (chains, draws))})

    wrong_pair = Problem("wrong", data={}, sides={"wrong": wrong}, exact=newcomb_exact.summary.loc[["mu"]],
                         variables=("mu",), title="A wrong sampler", figures=False, quick=registry.RunSettings(quick=True))
    monkeypatch.setattr(registry, "REGISTRY", {"wrong": wrong_pair})
    assert cli.main(["compare", "all", "--quick", "--out", str(tmp_path)]) == cli.EXIT_DISAGREE
    index = (tmp_path / "report.md").read_text()
    assert "[wrong](wrong/report.md)" in index and "disagree" in index


def test_compare_all_writes_the_index_as_a_page_linking_each_pairs_page(tmp_path, monkeypatch, newcomb_exact,
                                                                        report_html_check):
    import arviz as az
    import numpy as np

    from bayes_zoo.problem import Problem

    def wrong(data, *, seed, draws, chains):
        return az.from_dict(posterior={"mu": np.random.default_rng(0).normal(30.0, 1.3, (chains, draws))})

    wrong_pair = Problem("wrong", data={}, sides={"wrong": wrong}, exact=newcomb_exact.summary.loc[["mu"]],
                         variables=("mu",), title="A wrong sampler", figures=True, quick=registry.RunSettings(quick=True))
    monkeypatch.setattr(registry, "REGISTRY", {"wrong": wrong_pair})
    assert cli.main(["compare", "all", "--quick", "--out", str(tmp_path)]) == cli.EXIT_DISAGREE
    for folder in (tmp_path, tmp_path / "wrong"):
        report_html_check(folder)
    assert 'href="wrong/report.html"' in (tmp_path / "report.html").read_text()


def test_a_pair_checked_by_identities_only_reports_them_and_fails_on_a_broken_one(tmp_path, monkeypatch, capsys):
    from bayes_zoo.problem import Addition, Problem

    def identities(result):
        return Addition(checks=[crossval.identity("lml: ours vs reference", 1.0, 1.0),
                                crossval.identity("mean: ours vs reference", 0.0, 1e-3)])

    pair = Problem("ids", data={}, title="Identities only", report=(identities,), figures=False,
                   quick=registry.RunSettings(quick=True))
    monkeypatch.setattr(registry, "REGISTRY", {"ids": pair})
    assert cli.main(["compare", "ids", "--quick", "--out", str(tmp_path)]) == cli.EXIT_DISAGREE
    assert "1/2 hold" in capsys.readouterr().out
    report = (tmp_path / "ids" / "report.md").read_text()
    assert "## Deterministic identities" in report and "**Verdict: disagree**" in report
    assert (tmp_path / "ids" / "checks.csv").exists() and not (tmp_path / "ids" / "summary.csv").exists()


@pytest.mark.parametrize("variable, value", [("BAYES_ZOO_BLAS_THREADS", "abc"), ("BAYES_ZOO_BLAS_THREADS", "-1"),
                                             ("BAYES_ZOO_NUTS_SAMPLER", "stan")])
def test_a_bad_environment_variable_is_a_usage_error_naming_it_before_any_work(tmp_path, monkeypatch, capsys,
                                                                                variable, value):
    import importlib

    from bayes_zoo.inference import threads

    monkeypatch.setenv(variable, value)
    try:
        importlib.reload(threads)
        status = cli.main(["compare", "normal-gamma", "--quick", "--out", str(tmp_path / "out")])
    finally:
        monkeypatch.delenv(variable)
        importlib.reload(threads)
    assert status == cli.EXIT_USAGE
    assert f"{variable}: expected" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()
