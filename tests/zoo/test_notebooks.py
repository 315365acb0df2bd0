"""bayes_zoo.notebooks's display helpers (the runner itself is exercised by tests/notebooks/test_notebooks.py)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from bayes_zoo.notebooks import dashed, seconds_per_call


def test_dashed_writes_floats_to_four_digits_a_dash_for_nan_and_leaves_other_entries():
    df = pd.DataFrame({"a": [0.0123456, np.nan], "b": ["x", "y"]}, index=["r", "s"])
    out = dashed(df)
    assert out.to_dict() == {"a": {"r": "0.01235", "s": "—"}, "b": {"r": "x", "s": "y"}}


def test_seconds_per_call_measures_a_call_of_known_length():
    assert seconds_per_call(lambda: time.sleep(0.02), repeat=2, target=0.05) == pytest.approx(0.02, rel=0.5)


def test_seconds_per_call_times_a_slow_call_once():
    calls = []
    seconds_per_call(lambda: (calls.append(1), time.sleep(0.25)), repeat=3)
    assert len(calls) == 1


@pytest.mark.parametrize("kwargs, name", [(dict(repeat=0), "repeat"), (dict(target=0.0), "target")])
def test_seconds_per_call_refuses_bad_arguments_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        seconds_per_call(lambda: None, **kwargs)
