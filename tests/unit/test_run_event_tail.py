"""The events a process keeps for its own followers: given only when they follow on without a gap."""

from __future__ import annotations

import uuid

from agent_service.runs.notifier import RECENT_EVENTS, CommittedEvent, RunNotifier


def events(first: int, last: int) -> list[CommittedEvent]:
    return [
        CommittedEvent(seq, "message.delta", {"delta": str(seq)}) for seq in range(first, last + 1)
    ]


def test_a_follower_gets_what_follows_its_last_event() -> None:
    notifier, run = RunNotifier(), uuid.uuid4()
    notifier.publish(run, events(2, 4))
    notifier.publish(run, events(5, 6))
    assert [e.seq for e in notifier.recent(run, 1)] == [2, 3, 4, 5, 6]
    assert [e.seq for e in notifier.recent(run, 4)] == [5, 6]


def test_nothing_new_a_gap_or_an_unknown_run_sends_the_follower_to_the_rows() -> None:
    notifier, run = RunNotifier(), uuid.uuid4()
    assert notifier.recent(run, 0) == []  # never published here
    notifier.publish(run, events(3, 4))
    assert notifier.recent(run, 4) == []  # nothing new
    assert notifier.recent(run, 1) == []  # event 2 was not kept: a gap
    notifier.forget(run)
    assert notifier.recent(run, 2) == []


def test_only_the_newest_events_are_kept() -> None:
    notifier, run = RunNotifier(), uuid.uuid4()
    notifier.publish(run, events(1, RECENT_EVENTS + 10))
    assert notifier.recent(run, 5) == []  # fell out of the tail: read the rows
    kept = notifier.recent(run, 10)
    assert [e.seq for e in kept] == list(range(11, RECENT_EVENTS + 11))
