"""models.backend: PyTensor's BLAS is configured once, and the status says which."""

import os

from models import backend


def test_status_is_one_line_naming_the_blas():
    status = backend.blas_status()
    assert status.startswith("PyTensor BLAS:") and "\n" not in status


def test_flags_follow_the_status():
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    if "system BLAS" in backend.blas_status():
        assert "blas__ldflags=-lblas -llapack" in flags
    assert ("blas__ldflags" in flags) == ("none found" not in backend.blas_status())


def _fresh_python(code, **env):
    import subprocess
    import sys

    environ = {k: v for k, v in os.environ.items() if k != "PYTENSOR_FLAGS"} | env
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environ, timeout=600)


def test_without_a_system_blas_pytensor_stays_quiet_and_the_status_says_so():
    code = (
        "import models, pytensor, pytensor.tensor as pt\n"
        "x = pt.dmatrix('x'); f = pytensor.function([x], x @ x)\n"
        "from models.backend import blas_status; print(blas_status())\n"
    )
    run = _fresh_python(code, BAYES_ZOO_SYSTEM_BLAS="0")
    assert run.returncode == 0, run.stderr
    assert "none found" in run.stdout
    assert "could not link to a BLAS" not in run.stderr


def test_a_users_own_blas_flags_are_left_alone():
    run = _fresh_python("import models, os; print(os.environ['PYTENSOR_FLAGS'])", PYTENSOR_FLAGS="blas__ldflags=")
    assert run.stdout.strip() == "blas__ldflags="
