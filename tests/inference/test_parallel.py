"""bayes_zoo.inference.parallel: results in task order whatever the backend, progress in that order, bad jobs refused."""

from __future__ import annotations

import pytest

from bayes_zoo.inference.parallel import map_tasks


def _power(base, exponent):
    return base**exponent


TASKS = [(b, e) for b in range(2, 5) for e in range(3)]
EXPECTED = [b**e for b, e in TASKS]


def test_results_and_progress_come_in_task_order_in_this_process():
    seen = []
    assert map_tasks(_power, TASKS, progress=seen.append) == EXPECTED
    assert seen == EXPECTED


def test_local_processes_give_the_same_results_in_the_same_order():
    seen = []
    assert map_tasks(_power, TASKS, jobs=2, progress=seen.append) == EXPECTED
    assert seen == EXPECTED


@pytest.mark.parametrize("jobs", [0, -1, 1.5])
def test_bad_jobs_are_refused_naming_the_argument(jobs):
    with pytest.raises(ValueError, match="^jobs:"):
        map_tasks(_power, TASKS, jobs=jobs)
