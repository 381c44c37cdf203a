"""The scripted model's seeded variation for offline epochs: only the final reply changes, at the
rate asked for, the same way for the same seed."""

import random

from agent_testkit.evals import vary_script
from agent_testkit.evals.scripts import VAGUE_REPLY

SCRIPT = [
    {"tool_call": {"name": "create_task", "arguments": {"title": "Renew passport"}}},
    {"reply": "Added 'Renew passport'."},
    {"tool_call": {"name": "list_tasks", "arguments": {}}},
    {"reply": "You have one task."},
]


def test_only_the_final_reply_varies_at_the_rate_asked_for():
    varied = [vary_script(SCRIPT, random.Random(f"0:case:{n}"), 0.2) for n in range(2000)]
    changed = [v for v in varied if v != SCRIPT]
    assert 0.17 < len(changed) / len(varied) < 0.23
    for script in changed:
        assert script[:3] == SCRIPT[:3] and script[3] == {"reply": VAGUE_REPLY}
    assert SCRIPT[3] == {"reply": "You have one task."}  # the case's own script is untouched


def test_the_same_seed_varies_the_same_way_and_rate_zero_never():
    first = [vary_script(SCRIPT, random.Random(f"7:c:{n}"), 0.5) for n in range(50)]
    again = [vary_script(SCRIPT, random.Random(f"7:c:{n}"), 0.5) for n in range(50)]
    assert first == again
    assert all(vary_script(SCRIPT, random.Random(n), 0.0) == SCRIPT for n in range(50))


def test_a_script_without_a_text_reply_is_left_alone():
    faults = ["timeout", {"tool_call": {"name": "list_tasks", "arguments": {}}}]
    assert vary_script(faults, random.Random(1), 1.0) == faults
