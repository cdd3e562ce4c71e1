"""`reloader/service.py` in process: the start-up's phases and the activity that sleeping
reads. The reloader itself, end to end, is tested through its control port
(test_sync_endpoint.py, test_recovery.py and others)."""

from __future__ import annotations

import itertools

from streamlit_preview.reloader.service import NEXT_PHASES, Activity, Phase

START_UP = [Phase.CLONING, Phase.INSTALLING, Phase.STARTING, Phase.SERVING]


def test_the_start_up_goes_through_its_phases_in_order_only():
    for here, there in itertools.pairwise(START_UP):
        assert NEXT_PHASES[here] - {Phase.FAILED} == {there}


def test_every_step_before_serving_can_fail_and_the_ends_are_final():
    assert all(Phase.FAILED in NEXT_PHASES[phase] for phase in START_UP[:-1])
    assert NEXT_PHASES[Phase.SERVING] == frozenset() and NEXT_PHASES[Phase.FAILED] == frozenset()


def test_setup_is_no_step_of_its_own():
    """SETUP is what `phase` reads while a setup run is under way, never a state entered."""
    assert Phase.SETUP not in NEXT_PHASES
    assert all(Phase.SETUP not in after for after in NEXT_PHASES.values())


def test_activity_moves_with_an_open_tab_or_a_commit_not_with_an_empty_count():
    activity = Activity(active_at="2026-12-07T10:00:00.000Z")
    activity.saw(0)
    assert activity.as_dict() == {"viewers": 0, "active_at": "2026-12-07T10:00:00.000Z"}
    activity.saw(2)
    assert activity.viewers == 2 and activity.active_at > "2026-12-07T10:00:00.000Z"
    moved = Activity(active_at="2026-12-07T10:00:00.000Z")
    assert moved.touch() == moved.active_at > "2026-12-07T10:00:00.000Z"


def test_the_first_ready_answer_after_a_start_restarts_the_sleep_clock():
    """A woken preview's first visitor can come only once it answers ready: a slow start
    must not let the receiver put it back to sleep before that tab connects."""
    activity = Activity(active_at="2026-12-07T10:00:00.000Z")
    activity.answered_ready(False)
    assert activity.active_at == "2026-12-07T10:00:00.000Z"
    activity.answered_ready(True)
    first_ready = activity.active_at
    assert first_ready > "2026-12-07T10:00:00.000Z"
    activity.active_at = "2026-12-07T10:00:00.000Z"
    activity.answered_ready(True)  # still ready: no visitor came because of it
    assert activity.active_at == "2026-12-07T10:00:00.000Z"
