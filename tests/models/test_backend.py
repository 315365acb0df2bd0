"""bayes_zoo.models.backend: PyTensor's BLAS is configured by one explicit, cached call, and the status says
which."""

import os
import subprocess
import sys

from bayes_zoo.models import backend


def _fresh_python(code, **env):
    environ = {k: v for k, v in os.environ.items() if k != "PYTENSOR_FLAGS"} | env
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environ, timeout=600)


def test_status_is_one_line_naming_the_blas():
    status = backend.blas_status()
    assert status.startswith("PyTensor BLAS:") and "\n" not in status


def test_flags_follow_the_status():
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    if "system BLAS" in backend.blas_status():
        assert "blas__ldflags=-lblas -llapack" in flags
    assert ("blas__ldflags" in flags) == ("none found" not in backend.blas_status())


def test_configure_runs_once_and_later_calls_change_nothing():
    code = (
        "import os, warnings, bayes_zoo\n"
        "first = bayes_zoo.configure()\n"
        "env, filters = dict(os.environ), list(warnings.filters)\n"
        "assert bayes_zoo.configure() == first == bayes_zoo.blas_status()\n"
        "assert dict(os.environ) == env and list(warnings.filters) == filters\n"
        "print(first)\n"
    )
    run = _fresh_python(code)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("PyTensor BLAS:")


def test_without_a_system_blas_pytensor_stays_quiet_and_the_status_says_so():
    code = (
        "import bayes_zoo; bayes_zoo.configure()\n"
        "import pytensor, pytensor.tensor as pt\n"
        "x = pt.dmatrix('x'); f = pytensor.function([x], x @ x)\n"
        "print(bayes_zoo.blas_status())\n"
    )
    run = _fresh_python(code, BAYES_ZOO_SYSTEM_BLAS="0")
    assert run.returncode == 0, run.stderr
    assert "none found" in run.stdout
    assert "could not link to a BLAS" not in run.stderr


def test_the_arviz_refactor_notice_is_filtered_whatever_its_leading_white_space():
    code = (
        "import warnings, bayes_zoo; bayes_zoo.configure()\n"
        "with warnings.catch_warnings(record=True) as seen:\n"
        "    warnings.warn('\\nArviZ is undergoing a major refactor to improve flexibility', FutureWarning)\n"
        "print(len(seen))\n"
    )
    run = _fresh_python(code)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "0"


def test_a_users_own_blas_flags_are_left_alone():
    code = "import os, bayes_zoo; bayes_zoo.configure(); print(os.environ['PYTENSOR_FLAGS'])"
    run = _fresh_python(code, PYTENSOR_FLAGS="blas__ldflags=")
    assert run.stdout.strip() == "blas__ldflags="
