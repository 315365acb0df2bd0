"""`bayes-zoo`: results never lost or half-written, one run per target, everything checked before any work, and
exit statuses that tell a crash (3) and an interrupt (130) from a verdict.

Tiny problems (identity checks only: no sampler) stand in for the real ones; their `run` is where "work" happens,
so a check that comes too late shows up as a `run` that was called.  Interrupts are real SIGINTs, sent to this
process (the KeyboardInterrupt then arrives wherever the CLI is) or to a subprocess.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bayes_zoo import active, cli, pairs, registry, report  # noqa: F401  (pairs: registered before any patch)
from bayes_zoo import sbc as zsbc
from bayes_zoo.inference import crossval
from bayes_zoo.problem import Addition, Problem


def _pair(name="tiny", run=None, stored_per_draw=1):
    """A problem with no sampler, checked by one identity that holds; ``run(settings)`` is called where the
    work happens (its report function), so that a check which comes too late shows up as a call."""
    def identities(result):
        if run is not None:
            run(result.settings)
        return Addition(checks=[crossval.identity("one: ours vs reference", 1.0, 1.0)])

    return Problem(name, data={}, title="Tiny", methods="ours vs reference", report=(identities,), figures=False,
                   quick=registry.RunSettings(quick=True), stored_per_draw=stored_per_draw)


def _no_work(*args, **kwargs):
    raise AssertionError("work started: the check came too late")


def _interrupt_here():
    """A real Ctrl-C: SIGINT to this process; Python raises KeyboardInterrupt in the main thread at once."""
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(5)
    raise AssertionError("SIGINT did not interrupt")


@pytest.fixture
def tiny(monkeypatch):
    """Register pairs (by name -> Pair) in place of the real ones."""
    def use(*registered):
        monkeypatch.setattr(registry, "REGISTRY", {p.name: p for p in registered})
    return use


def _old_results(folder: Path) -> dict:
    folder.mkdir(parents=True)
    files = {"report.md": "old report\n", "nuts.nc": "old netCDF\n", "only-in-old.csv": "a,b\n"}
    for name, text in files.items():
        (folder / name).write_text(text)
    return files


def _contents(folder: Path) -> dict:
    return {p.name: p.read_text() for p in folder.iterdir()}


def _leftovers(out: Path) -> list[str]:
    return [p.name for p in out.iterdir() if p.name.startswith(".")] if out.exists() else []


# -- interrupted and failed runs ----------------------------------------------------------------------------------

def test_ctrl_c_while_writing_leaves_no_partial_results_and_says_so(tmp_path, tiny, monkeypatch, capsys):
    tiny(_pair())
    real_write = report.write_outcome

    def write_then_interrupted(outcome, folder):
        real_write(outcome, folder)
        (Path(folder) / "nuts.nc").write_bytes(b"CDF\x01 truncat")  # a file half-written when Ctrl-C comes
        _interrupt_here()

    monkeypatch.setattr(report, "write_outcome", write_then_interrupted)
    out = tmp_path / "out"
    assert cli.main(["compare", "tiny", "--quick", "--out", str(out)]) == cli.EXIT_INTERRUPTED
    printed = capsys.readouterr().out
    assert not out.exists()  # no folder, no temporary folder, not even the OUT this run created
    assert "interrupted" in printed and "nothing new was written" in printed and "written in full" not in printed


@pytest.mark.parametrize("phase", ["run", "write"])
def test_ctrl_c_during_a_force_run_leaves_the_old_results_untouched(tmp_path, tiny, monkeypatch, capsys, phase):
    if phase == "run":
        tiny(_pair(run=lambda settings: _interrupt_here()))
    else:
        tiny(_pair())
        monkeypatch.setattr(report, "write_outcome", lambda outcome, folder: _interrupt_here())
    old = _old_results(tmp_path / "tiny")
    assert cli.main(["compare", "tiny", "--quick", "--force", "--out", str(tmp_path)]) == cli.EXIT_INTERRUPTED
    assert _contents(tmp_path / "tiny") == old and _leftovers(tmp_path) == []
    assert f"previous results untouched: {tmp_path / 'tiny'}" in capsys.readouterr().out


def test_force_replaces_old_results_whole_never_mixed(tmp_path, tiny):
    tiny(_pair())
    _old_results(tmp_path / "tiny")
    assert cli.main(["compare", "tiny", "--quick", "--force", "--out", str(tmp_path)]) == cli.EXIT_OK
    assert sorted(p.name for p in (tmp_path / "tiny").iterdir()) == ["checks.csv", "report.html", "report.md"]
    assert "old report" not in (tmp_path / "tiny" / "report.md").read_text() and _leftovers(tmp_path) == []


def test_compare_all_interrupted_keeps_finished_pairs_and_lists_what_was_and_was_not_written(tmp_path, tiny, capsys):
    tiny(_pair("first"), _pair("second", run=lambda settings: _interrupt_here()), _pair("third"))
    second = _old_results(tmp_path / "second")
    (tmp_path / "report.md").write_text("old index\n")
    (tmp_path / "report.html").write_text("<p>old index</p>\n")
    status = cli.main(["compare", "all", "--quick", "--force", "--out", str(tmp_path)])
    assert status == cli.EXIT_INTERRUPTED
    assert (tmp_path / "first" / "checks.csv").exists() and _contents(tmp_path / "second") == second
    assert not (tmp_path / "third").exists() and (tmp_path / "report.md").read_text() == "old index\n"
    assert (tmp_path / "report.html").read_text() == "<p>old index</p>\n"
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert f"written in full: {tmp_path / 'first'};" in line
    assert (f"previous results untouched: {tmp_path / 'second'}, {tmp_path / 'report.md'}, "
            f"{tmp_path / 'report.html'};") in line
    assert line.endswith(f"not written: {tmp_path / 'third'}")


_INTERRUPT_AT_IMPORT = textwrap.dedent("""
    import os, signal, sys

    MODULE = sys.argv[1]

    class InterruptAtImport:  # a real SIGINT the moment MODULE is first imported
        def find_spec(self, name, path=None, target=None):
            if name == MODULE:
                os.kill(os.getpid(), signal.SIGINT)
            return None

    sys.meta_path.insert(0, InterruptAtImport())
    sys.argv = ["bayes-zoo", *sys.argv[2:]]
    from bayes_zoo.__main__ import main  # as the console script does

    sys.exit(main())
""")


@pytest.mark.parametrize("module, command", [
    ("bayes_zoo.cli", ["list"]), ("argparse", ["list"]),  # the CLI module itself and its standard library
    ("rich", ["list"]),  # the CLI's first import beyond the standard library
    ("numpy", ["compare", "normal-gamma", "--quick"]),  # a run's first heavy import (list and --help import none)
    ("arviz", ["compare", "normal-gamma", "--quick"]),  # before the checks
    ("pymc", ["compare", "normal-gamma", "--quick"]),  # inside the pair's run: OUT and its temporary folder exist
])
def test_ctrl_c_during_imports_prints_one_line_and_exits_130(tmp_path, module, command):
    out = tmp_path / "out"
    args = command + (["--out", str(out)] if command[0] == "compare" else [])
    done = subprocess.run([sys.executable, "-c", _INTERRUPT_AT_IMPORT, module, *args], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == cli.EXIT_INTERRUPTED, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and done.stdout.strip().splitlines()[-1].startswith("interrupted; nothing")
    assert "written in full" not in done.stdout and not out.exists()


_INTERRUPT_AT_SHUTDOWN = textwrap.dedent("""
    import os, signal, sys
    from bayes_zoo.__main__ import main  # as the console script does

    sys.argv = ["bayes-zoo", "list"]
    status = main()
    os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the interpreter shuts down, after the verdict
    sys.exit(status)
""")


def test_ctrl_c_after_the_verdict_is_printed_keeps_the_verdicts_exit_status(tmp_path):
    done = subprocess.run([sys.executable, "-c", _INTERRUPT_AT_SHUTDOWN], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == cli.EXIT_OK, done.stderr[-2000:]
    assert "Traceback" not in done.stderr


def test_the_console_entry_and_the_cli_agree_on_the_interrupted_status():
    from bayes_zoo import __main__ as entry

    assert entry.EXIT_INTERRUPTED == cli.EXIT_INTERRUPTED == 130


@pytest.mark.parametrize("command", [["active-learn", "--dataset", "yacht", "--budget", "300"],
                                     ["compare", "active-learning", "--quick", "--budget", "100000"]],
                         ids=["active-learn", "compare"])
def test_a_budget_the_pool_cannot_supply_is_refused_before_any_work(tmp_path, monkeypatch, capsys, command):
    monkeypatch.setattr(active, "run_experiment", _no_work)
    assert cli.main([*command, "--out", str(tmp_path / "out")]) == cli.EXIT_USAGE
    printed = capsys.readouterr().out
    assert "error: --budget: " in printed and "would empty the pool of yacht (226 points" in printed
    assert not (tmp_path / "out").exists()


def test_an_internal_error_exits_3_with_its_traceback_in_the_error_log(tmp_path, tiny, capsys):
    def crash(settings):
        raise RuntimeError("boom in the sampler")

    tiny(_pair(run=crash))
    out = tmp_path / "new"
    assert cli.main(["compare", "tiny", "--quick", "--out", str(out)]) == cli.EXIT_CRASH
    log = out / cli.ERROR_LOG
    assert "Traceback" in log.read_text() and "RuntimeError: boom in the sampler" in log.read_text()
    printed = capsys.readouterr().out
    assert str(log) in printed and "not a verdict" in printed
    assert sorted(p.name for p in out.iterdir()) == [cli.ERROR_LOG]  # no partial folder, no lock


# -- one run per target ---------------------------------------------------------------------------------------------

_HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path

    from bayes_zoo import cli, pairs, registry
    from bayes_zoo.problem import Problem

    def run(result):
        Path(sys.argv[1]).write_text("running")
        time.sleep(120)
        raise SystemExit("not stopped")

    registry.REGISTRY = {"tiny": Problem("tiny", data={}, report=(run,), figures=False,
                                         quick=registry.RunSettings(quick=True))}
    sys.exit(cli.main(sys.argv[2:]))
""")


def _start_holder(tmp_path, out):
    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(ready), "compare", "tiny", "--quick", "--out",
                             str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the first run never started: {proc.communicate()}")
        time.sleep(0.05)
    return proc


def test_a_second_run_to_the_same_target_is_refused_while_the_first_runs(tmp_path, tiny, capsys):
    out = tmp_path / "out"
    holder = _start_holder(tmp_path, out)
    try:
        tiny(_pair(run=_no_work))
        assert cli.main(["compare", "tiny", "--quick", "--out", str(out)]) == cli.EXIT_USAGE
        assert f"error: --out: another bayes-zoo run (pid {holder.pid}) is writing {out / 'tiny'}" in \
            capsys.readouterr().out
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_runs_lock_is_released_and_its_leftovers_removed(tmp_path, tiny):
    out = tmp_path / "out"
    holder = _start_holder(tmp_path, out)
    holder.kill()  # SIGKILL: no clean-up at all
    holder.wait()
    assert any(name.startswith(".tiny.partial-") for name in _leftovers(out))
    tiny(_pair())
    assert cli.main(["compare", "tiny", "--quick", "--out", str(out)]) == cli.EXIT_OK
    assert _leftovers(out) == [] and (out / "tiny" / "checks.csv").exists()


# -- checked before any work ----------------------------------------------------------------------------------------

@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux's /proc")
def test_an_out_folder_that_cannot_be_created_is_refused_before_any_work(tiny, capsys):
    tiny(_pair(run=_no_work))
    assert cli.main(["compare", "tiny", "--quick", "--out", "/proc/x"]) == cli.EXIT_USAGE
    assert "error: --out: cannot create /proc/x" in capsys.readouterr().out


def test_an_out_folder_inside_a_file_is_refused_before_any_work(tmp_path, tiny, capsys):
    (tmp_path / "afile").write_text("mine\n")
    tiny(_pair(run=_no_work))
    assert cli.main(["compare", "tiny", "--quick", "--out", str(tmp_path / "afile" / "sub")]) == cli.EXIT_USAGE
    assert "error: --out: cannot create" in capsys.readouterr().out and (tmp_path / "afile").read_text() == "mine\n"


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_a_file_where_the_results_folder_belongs_is_refused_before_any_work(tmp_path, tiny, capsys, force):
    (tmp_path / "tiny").write_text("my notes\n")
    tiny(_pair(run=_no_work))
    assert cli.main(["compare", "tiny", "--quick", "--out", str(tmp_path), *force]) == cli.EXIT_USAGE
    assert f"error: --out: {tmp_path / 'tiny'} is a file" in capsys.readouterr().out
    assert (tmp_path / "tiny").read_text() == "my notes\n" and _leftovers(tmp_path) == []


@pytest.mark.parametrize("command", [
    ["compare", "tiny", "--quick", "--seed", str(2**64)],
    ["sbc", "normal-gamma", "--seed", str(2**64)],
    ["active-learn", "--dataset", "yacht", "--seed", str(2**64)],
    ["active-learn", "--dataset", "yacht", "--seed", str(2**63 - 1), "--repeats", "2"],
], ids=["compare", "sbc", "active-learn", "active-learn-last-repeat"])
def test_a_seed_that_cannot_be_stored_is_refused_before_any_work(tmp_path, tiny, monkeypatch, capsys, command):
    registered = dict(registry.REGISTRY)
    tiny(_pair(run=_no_work), *[p for p in registered.values()])
    monkeypatch.setattr(zsbc, "run", _no_work)
    monkeypatch.setattr(active, "run_experiment", _no_work)
    assert cli.main([*command, "--out", str(tmp_path / "out")]) == cli.EXIT_USAGE
    assert "error: --seed: " in capsys.readouterr().out and not (tmp_path / "out").exists()


def test_the_largest_seed_accepted_is_stored_losslessly_in_netcdf(tmp_path):
    import arviz as az
    import numpy as np

    from bayes_zoo.models.checks import SEED_LIMIT, seed

    idata = az.from_dict(posterior={"mu": np.zeros((2, 5))})
    idata.posterior.attrs["seed"] = seed(SEED_LIMIT - 1)
    idata.to_netcdf(str(tmp_path / "r.nc"))
    assert int(az.from_netcdf(str(tmp_path / "r.nc")).posterior.attrs["seed"]) == 2**63 - 1


@pytest.mark.parametrize("command, option", [
    (["compare", "tiny", "--quick", "--draws", "1000000000"], "--draws"),
    (["sbc", "normal-gamma", "--sims", "1000000000"], "--sims"),
    (["active-learn", "--dataset", "yacht", "--projections", "100000000"], "--projections"),
], ids=["draws", "sims", "projections"])
def test_sizes_that_cannot_fit_in_memory_are_refused_before_any_work(tmp_path, tiny, monkeypatch, capsys,
                                                                      command, option):
    registered = dict(registry.REGISTRY)
    tiny(_pair(run=_no_work, stored_per_draw=100), *[p for p in registered.values()])
    monkeypatch.setattr(zsbc, "run", _no_work)
    monkeypatch.setattr(active, "run_experiment", _no_work)
    assert cli.main([*command, "--out", str(tmp_path / "out")]) == cli.EXIT_USAGE
    printed = capsys.readouterr().out
    assert f"error: {option}: " in printed and "GiB; this machine has" in printed
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", [["compare", "normal-gamma", "--draw", "100"], ["sbc", "normal-gamma", "--sim", "5"],
                                     ["active-learn", "--dataset", "yacht", "--batch", "5"]])
def test_an_abbreviated_option_is_an_error_not_the_option_it_abbreviates(tmp_path, capsys, command):
    with pytest.raises(SystemExit) as info:
        cli.main([*command, "--out", str(tmp_path)])
    assert info.value.code == cli.EXIT_USAGE and f"unrecognized arguments: {command[-2]}" in capsys.readouterr().err
