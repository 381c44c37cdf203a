"""Cassettes match Responses API and Anthropic Messages calls on meaning, as they do chat completions."""

from agent_testkit.cassettes import Matcher, RecordedRequest, Scrubber
from agent_testkit.cassettes.matching import summarize
from agent_testkit.cassettes.model import Body

RESPONSES_URL = "https://api.openai.com/v1/responses"
MESSAGES_URL = "https://api.anthropic.com/v1/messages"


def call(url: str, **body: object) -> RecordedRequest:
    return RecordedRequest("POST", url, {}, Body(kind="json", json={"model": "m", **body}))


def test_responses_calls_match_on_meaning() -> None:
    recorded = call(RESPONSES_URL, instructions="Be brief.", input="Hi", temperature=0.2)
    as_items = call(
        RESPONSES_URL,
        instructions="Be brief.",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "Hi"}]}],
        temperature=0.9,
    )
    assert Matcher().differences(recorded, as_items) == []
    other = call(RESPONSES_URL, instructions="Be brief.", input="Bye")
    assert Matcher().differences(recorded, other) == [
        "messages[1].content: sent 'Bye', recorded 'Hi'"
    ]


def test_responses_previous_response_id_counts() -> None:
    first = call(RESPONSES_URL, input="Hi", previous_response_id="resp_1")
    second = call(RESPONSES_URL, input="Hi", previous_response_id="resp_2")
    assert Matcher().differences(first, second) == [
        "previous_response_id: sent 'resp_2', recorded 'resp_1'"
    ]


def test_messages_calls_match_on_meaning_with_tool_ids_by_position() -> None:
    def turn(tool_id: str, max_tokens: int) -> RecordedRequest:
        return call(
            MESSAGES_URL,
            max_tokens=max_tokens,
            system="Be brief.",
            tools=[{"name": "t", "input_schema": {"type": "object"}}],
            messages=[
                {"role": "user", "content": "Hi"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": tool_id, "name": "t", "input": {}}],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": "ok"}],
                },
            ],
        )

    assert Matcher().differences(turn("toolu_a", 64), turn("toolu_b", 1024)) == []
    changed = turn("toolu_a", 64)
    changed.body.json["system"] = "Be long."
    assert Matcher().differences(turn("toolu_a", 64), changed) == [
        "messages[0].content: sent 'Be long.', recorded 'Be brief.'"
    ]


def test_summaries_name_the_last_user_message() -> None:
    assert "(last user message: 'Hi')" in summarize(call(RESPONSES_URL, input="Hi"))
    messages = [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}]
    assert "(last user message: 'Hello')" in summarize(call(MESSAGES_URL, messages=messages))


def test_anthropic_account_headers_are_scrubbed() -> None:
    scrubbed = Scrubber().headers_of(
        {"x-api-key": ["sk-ant-x"], "anthropic-organization-id": ["org-1"], "request-id": ["r"]}
    )
    assert scrubbed == {
        "x-api-key": ["<scrubbed>"],
        "anthropic-organization-id": ["<scrubbed>"],
        "request-id": ["r"],
    }
