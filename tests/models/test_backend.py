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
