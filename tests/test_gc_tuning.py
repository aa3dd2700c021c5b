"""tune_garbage_collector(): what it changes in the process, and what it refuses."""

import gc

import pytest

from django_live_notify.routing import tune_garbage_collector


@pytest.fixture
def collector_state():
    """Put the collector back as the test found it: thresholds, and nothing frozen."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_it_freezes_start_up_objects_and_raises_the_first_threshold(collector_state):
    gc.unfreeze()
    survivor = [object() for _ in range(10)]  # a container the collector tracks, alive across the call
    tune_garbage_collector()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (50_000, 20, 100)
    assert not any(survivor is tracked for tracked in gc.get_objects())  # frozen: no collection scans it
    tune_garbage_collector(threshold=10_000)
    assert gc.get_threshold()[0] == 10_000


@pytest.mark.parametrize("threshold", [0, -5, 1.5, "700", True, None])
def test_a_threshold_that_is_no_positive_int_is_refused_and_changes_nothing(collector_state, threshold):
    gc.unfreeze()
    before = gc.get_threshold()
    with pytest.raises(ValueError, match="threshold must be a positive int"):
        tune_garbage_collector(threshold=threshold)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
