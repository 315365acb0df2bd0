"""`bayes-zoo check` / `bayes_zoo.check`: a user's own model file, from a folder outside the repository; every
mismatch named; an exit status per verdict."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bayes_zoo import checking, cli

BIN = Path(sys.executable).parent

#: What a student writes: the pumps model (Gaver & O'Muircheartaigh 1987) and a Gibbs sampler, data inline.
USER_FILE = textwrap.dedent('''\
    import numpy as np
    import pymc as pm
    from bayes_zoo import Problem

    ALPHA = 1.802
    DATA = {"t": np.array([94.3, 15.7, 62.9, 126, 5.24, 31.4, 1.05, 1.05, 2.1, 10.5]),
            "y": np.array([5, 1, 5, 14, 3, 19, 1, 1, 4, 22])}


    def model(data):
        with pm.Model(coords={"pump": np.arange(1, 11)}) as m:
            beta = pm.Gamma("beta", alpha=0.1, beta=1.0)
            theta = pm.Gamma("theta", alpha=ALPHA, beta=beta, dims="pump")
            pm.Poisson("y", mu=theta * data["t"], observed=data["y"], dims="pump")
        return m


    def gibbs(data, *, seed, draws, chains, warmup=500):
        rng, t, y = np.random.default_rng(seed), data["t"], data["y"]
        beta = np.ones(chains)
        out = {"beta": np.empty((chains, draws)), "theta": np.empty((chains, draws, t.size))}
        for i in range(warmup + draws):
            theta = rng.gamma(ALPHA + y, 1 / (beta[:, None] + t))  # NumPy's Gamma takes a scale
            beta = rng.gamma(0.1 + t.size * ALPHA, 1 / (1.0 + theta.sum(axis=1)))
            if i >= warmup:
                out["theta"][:, i - warmup], out["beta"][:, i - warmup] = theta, beta
        return out


    problem = Problem(name="pumps", data=DATA, model=model, sides={"gibbs": gibbs})
    ''')


def _write(folder: Path, text: str = USER_FILE, extra: str = "") -> Path:
    path = folder / "my_pumps.py"
    path.write_text(text + textwrap.dedent(extra))
    return path


def _check(folder: Path, *args) -> subprocess.CompletedProcess:
    """``bayes-zoo check ARGS --out FOLDER/out`` as a user runs it: the installed console script, in its own
    process, from ``folder``."""
    return subprocess.run([str(BIN / "bayes-zoo"), "check", *map(str, args), "--out", str(folder / "out")],
                          capture_output=True, text=True, cwd=folder, timeout=900)


@pytest.fixture
def check_here(tmp_path, monkeypatch, capsys):
    """``check_here(*args)``: the same command through :func:`bayes_zoo.cli.main` in this process (what the console
    script returns), from ``tmp_path``; its status and printed text as a CompletedProcess.  A process of its own
    would only add the CLI's imports (about 3 s a test); that the console script's process exits with the status
    is read from real processes by the correct run (0) and the import error (2), through :func:`_check`."""

    def run(*args) -> subprocess.CompletedProcess:
        monkeypatch.chdir(tmp_path)
        capsys.readouterr()
        status = cli.main(["check", *map(str, args), "--out", str(tmp_path / "out")])
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, status, out, err)

    return run


@pytest.fixture(scope="module")
def correct(tmp_path_factory):
    folder = tmp_path_factory.mktemp("user")  # a temporary folder outside the repository
    path = _write(folder)
    return folder, path, _check(folder, path, "--quick")


@pytest.fixture(scope="module")
def correct_nuts(correct) -> Path:
    """The NUTS trace the correct run sampled (2 chains x 1000 draws, seed 0: what ``check --quick`` samples on this
    model), for the runs below that judge a sampler against it with ``--trace`` instead of compiling and sampling
    NUTS again (nutpie's compilation alone is about 10 s a process)."""
    path = correct[0] / "out" / "check-pumps" / "nuts.nc"
    assert path.is_file(), correct[2].stdout + correct[2].stderr
    return path


def test_the_user_file_is_at_most_forty_lines():
    assert len(USER_FILE.splitlines()) <= 40


def test_a_correct_gibbs_sampler_agrees_is_calibrated_and_exits_zero(correct):
    # Caught: the CLI not running SBC, or not comparing the user's side, or an exit status that ignores the verdict.
    folder, _, done = correct
    assert done.returncode == checking.EXIT_AGREE, done.stdout + done.stderr
    assert "pumps: agree" in done.stdout
    report = (folder / "out" / "check-pumps" / "report.md").read_text()
    assert "gibbs vs nuts" in report and "loglik" in report
    sbc = (folder / "out" / "check-pumps" / "sbc" / "report.md").read_text()
    assert "pumps/gibbs: **calibrated**" in sbc and "loglik" in sbc


def test_check_writes_its_reports_as_pages_linking_the_sbc_page(correct, report_html_check):
    folder = correct[0] / "out" / "check-pumps"
    for page in (folder, folder / "sbc"):
        report_html_check(page)
    assert 'href="sbc/report.html"' in (folder / "report.html").read_text()


def test_a_sampler_with_the_rate_used_as_a_scale_disagrees_and_exits_one(tmp_path, check_here, correct_nuts):
    buggy = USER_FILE.replace("1 / (beta[:, None] + t))", "beta[:, None] + t)")
    assert buggy != USER_FILE
    done = check_here(_write(tmp_path, buggy), "--quick", "--no-sbc", "--trace", correct_nuts)
    assert done.returncode == checking.EXIT_DISAGREE, done.stdout + done.stderr
    assert "pumps: disagree" in done.stdout


def test_too_few_draws_are_inconclusive_with_their_own_exit_status(tmp_path, check_here, correct_nuts):
    # Both sides short: the user's 2 x 150 draws, and the first 150 draws of each NUTS chain as the trace.
    import arviz as az

    short = tmp_path / "nuts150.nc"
    az.from_netcdf(correct_nuts).isel(draw=slice(150)).to_netcdf(short)
    done = check_here(_write(tmp_path), "--quick", "--no-sbc", "--draws", "150", "--trace", short)
    assert done.returncode == checking.EXIT_INCONCLUSIVE, done.stdout + done.stderr
    assert "run about" in done.stdout


def test_mismatched_coordinate_labels_are_named_and_exit_two(tmp_path, check_here):
    # The sampler labels the pumps 0..9, the model 1..10: which labels differ is said, nothing is compared.
    extra = '''
        import arviz as az


        def labelled(data, *, seed, draws, chains):
            return az.from_dict(posterior=gibbs(data, seed=seed, draws=draws, chains=chains),
                                dims={"theta": ["pump"]}, coords={"pump": np.arange(10)})


        relabelled = Problem(name="relabelled", data=DATA, model=model, sides={"gibbs": labelled})
        '''
    done = check_here(f"{_write(tmp_path, extra=extra)}:relabelled", "--quick", "--no-sbc")
    assert done.returncode == cli.EXIT_USAGE, done.stdout + done.stderr
    assert "theta's coordinate 'pump' labels differ from the model's" in done.stdout
    assert "labels only in gibbs: [0]" in done.stdout and "only in the model: [10]" in done.stdout


def test_a_missing_variable_is_named_with_its_side_and_exits_two(tmp_path, check_here):
    extra = '''

        def theta_only(data, *, seed, draws, chains):
            return {"theta": gibbs(data, seed=seed, draws=draws, chains=chains)["theta"]}


        forgetful = Problem(name="forgetful", data=DATA, model=model, sides={"gibbs": theta_only})
        '''
    done = check_here(f"{_write(tmp_path, extra=extra)}:forgetful", "--quick", "--no-sbc")
    assert done.returncode == cli.EXIT_USAGE, done.stdout + done.stderr
    assert "gibbs lacks variable(s) ['beta']" in done.stdout


def test_draws_returned_as_draws_by_chains_are_refused_before_any_plot_with_a_hint(tmp_path, check_here):
    # Caught: a transposed result read as 1000 chains of 2 draws, judged "inconclusive: too few draws".
    extra = '''

        def transposed(data, *, seed, draws, chains):
            out = gibbs(data, seed=seed, draws=draws, chains=chains)
            return {"beta": out["beta"].T, "theta": out["theta"].transpose(1, 0, 2)}


        swapped = Problem(name="swapped", data=DATA, model=model, sides={"gibbs": transposed})
        '''
    done = check_here(f"{_write(tmp_path, extra=extra)}:swapped", "--quick", "--no-sbc")
    assert done.returncode == cli.EXIT_USAGE, done.stdout + done.stderr
    assert "gibbs: its draws are 1000 chains x 2 draws, 2 x 1000 were asked for; transposed?" in done.stdout


def test_an_observed_variable_not_named_after_its_data_key_is_refused_before_any_work(tmp_path, check_here):
    text = USER_FILE.replace('pm.Poisson("y", mu=theta * data["t"], observed=data["y"]',
                             'pm.Poisson("failures", mu=theta * data["t"], observed=data["y"]')
    assert text != USER_FILE
    done = check_here(_write(tmp_path, text), "--quick")
    assert done.returncode == cli.EXIT_USAGE, done.stdout + done.stderr
    assert "the observed variable(s) ['failures'] are not keys of the data" in done.stdout
    assert not (tmp_path / "out" / "check-pumps").exists()


@pytest.mark.parametrize("spec, message", [
    ("nowhere.py", "FILE.py: nowhere.py does not exist"),
    ("my_pumps.py:nope", "FILE.py:NAME: my_pumps.py defines no Problem called 'nope' (Problems it defines: problem)"),
    ("my_pumps.txt", "FILE.py: expected a Python file"),
])
def test_a_file_or_name_that_cannot_be_used_is_a_usage_error_naming_it(tmp_path, check_here, spec, message):
    _write(tmp_path)
    (tmp_path / "my_pumps.txt").write_text("")
    done = check_here(spec, "--quick")
    assert done.returncode == cli.EXIT_USAGE and message in done.stdout, done.stdout + done.stderr


def test_a_file_that_fails_to_import_is_a_usage_error_quoting_the_error(tmp_path):
    done = _check(tmp_path, _write(tmp_path, "import numpy as np\nraise RuntimeError('my typo')\n"), "--quick")
    assert done.returncode == cli.EXIT_USAGE
    assert "importing" in done.stdout and "RuntimeError: my typo" in done.stdout


def test_a_sampler_that_raises_exits_three_not_as_a_verdict(tmp_path, check_here):
    extra = '''

        def broken(data, *, seed, draws, chains):
            raise ZeroDivisionError("my sampler's bug")


        crashing = Problem(name="crashing", data=DATA, model=model, sides={"gibbs": broken})
        '''
    done = check_here(f"{_write(tmp_path, extra=extra)}:crashing", "--quick", "--no-sbc")
    assert done.returncode == cli.EXIT_CRASH
    assert "your sampler failed: the sampler of side 'gibbs' raised ZeroDivisionError" in done.stdout
    assert "my_pumps.py:" in done.stdout and "not a verdict" in done.stdout  # the line of the user's code


def test_check_hands_its_sbc_to_the_dask_scheduler_it_is_given(monkeypatch, tmp_path):
    # Caught: a --scheduler that check accepts and then ignores (SBC silently local).
    import arviz as az
    import numpy as np
    import pymc as pm

    from bayes_zoo import Problem
    from bayes_zoo import sbc as zsbc

    def model(data):
        with pm.Model() as m:
            mu = pm.Normal("mu", 0.0, 1.0)
            pm.Normal("y", mu, 1.0, observed=data["y"])
        return m

    def conjugate(data, *, seed, draws, chains):  # the conjugate posterior's independent draws
        n = len(data["y"])
        return {"mu": np.random.default_rng(seed).normal(np.sum(data["y"]) / (n + 1), (n + 1) ** -0.5, (chains, draws))}

    data = {"y": np.array([0.3, -0.2, 1.1])}
    trace = az.from_dict(posterior=conjugate(data, seed=99, draws=1000, chains=4))
    seen = {}

    def run(problems, **kwargs):
        seen.update(kwargs)
        return []

    monkeypatch.setattr(zsbc, "run", run)
    checking.check(Problem("toy", data=data, model=model, sides={"conjugate": conjugate}), trace=trace, quick=True,
                   scheduler="tcp://cluster:8786")
    assert seen["scheduler"] == "tcp://cluster:8786"


def test_the_check_summary_says_how_many_simulations_were_ranked_when_some_were_left_out():
    # Caught: "SBC of `gibbs` calibrated (100 simulations ...)" when 99 were ranked, one left out because the
    # generative model raised (a Poisson rate beyond NumPy's range).
    from types import SimpleNamespace

    import pandas as pd

    from bayes_zoo.inference.sbc import SBCResult
    from bayes_zoo.sbc import SamplerSBC

    failures = pd.DataFrame({"sim": [7], "seed": [7], "stage": ["simulate"], "error": ["ValueError: lam value too large"]})
    result = SBCResult("pumps", pd.DataFrame(), failures, kept=100, sims=100, seed=0)
    side = SamplerSBC("gibbs", result, pd.DataFrame({"quantity": ["beta"], "verdict": ["uniform"]}), None)
    assert side.verdict == "calibrated" and side.ranked == 99
    text = checking._verdict_markdown(checking.CheckResult(None, SimpleNamespace(verdict="agree", reasons=()), [side]))
    assert "SBC of `gibbs` calibrated (100 simulations, 99 ranked, see" in text
