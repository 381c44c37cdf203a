"""Checked scripts: a scripted tool call must name a tool the request offered, with arguments that fit its
schema, and a scripted structured reply must fit the schema the request asked for; each mismatch fails
the test with the request's tool list and the schema error, and `unchecked=True` lets bad output through."""

import json
from typing import Any

import anthropic
import httpx
import openai
import pytest
from pydantic_ai import Agent as PydanticAgent
from pydantic_ai.exceptions import ModelHTTPError

from agent_testkit import FakeLLM

WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
ASK: Any = [{"role": "user", "content": "Weather in Paris?"}]
ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "celsius": {"type": "number"}},
    "required": ["city", "celsius"],
}


def failed_check(fake: FakeLLM) -> str:
    """The one problem the check left, taken out so the test's own teardown passes."""
    assert len(fake.errors) == 1, fake.errors
    return fake.errors.pop()


def test_a_misspelled_tool_name_fails_with_the_offered_tools(fake_llm):
    fake_llm.script(fake_llm.tool_call("get_wether", city="Paris"))
    with pytest.raises(openai.BadRequestError, match="'get_wether', a tool the request did not"):
        openai.OpenAI().chat.completions.create(model="m", messages=ASK, tools=[WEATHER])
    problem = failed_check(fake_llm)
    assert "does not fit call 1" in problem
    assert "the request offered the tools: ['get_weather']" in problem
    assert "unchecked=True" in problem
    assert len(fake_llm.calls) == 1  # a 400: the SDK did not retry


def test_a_tool_call_when_no_tool_was_offered_fails(fake_llm):
    fake_llm.script(fake_llm.tool_call("get_weather", city="Paris"))
    with pytest.raises(openai.BadRequestError):
        openai.OpenAI().chat.completions.create(model="m", messages=ASK)
    assert "the request offered the tools: []" in failed_check(fake_llm)


def test_arguments_must_fit_the_tool_schema_in_every_format(fake_llm):
    fake_llm.script(
        fake_llm.tool_call("get_weather", town="Paris"),
        fake_llm.tool_calls([("get_weather", {"city": "Paris", "days": "three"})]),
    )
    with pytest.raises(anthropic.BadRequestError):
        anthropic.Anthropic().messages.create(
            model="claude-test",
            max_tokens=64,
            messages=ASK,
            tools=[{"name": "get_weather", "input_schema": WEATHER["function"]["parameters"]}],
        )
    assert "'city' is a required property (at $)" in failed_check(fake_llm)
    responses_tool: Any = {"type": "function", **WEATHER["function"]}
    with pytest.raises(openai.BadRequestError):
        openai.OpenAI().responses.create(model="m", input="Weather?", tools=[responses_tool])
    assert "'three' is not of type 'integer' (at $.days)" in failed_check(fake_llm)


def test_fitting_calls_and_raw_invalid_json_pass(fake_llm):
    fake_llm.script(
        fake_llm.tool_call("get_weather", city="Paris", days=3),
        fake_llm.tool_calls([("get_weather", '{"city": ')]),  # raw, not JSON: deliberate
    )
    client = openai.OpenAI()
    for _ in range(2):
        client.chat.completions.create(model="m", messages=ASK, tools=[WEATHER])
    assert fake_llm.errors == []


def test_unchecked_sends_deliberate_bad_output(fake_llm):
    fake_llm.script(
        fake_llm.tool_call("get_wether", unchecked=True, city="Paris"),
        fake_llm.tool_calls([("get_weather", {"town": "Paris"})], unchecked=True),
        fake_llm.reply("not json", unchecked=True),
    )
    client = openai.OpenAI()
    first = client.chat.completions.create(model="m", messages=ASK, tools=[WEATHER])
    assert first.choices[0].message.tool_calls[0].function.name == "get_wether"  # type: ignore[union-attr,index]
    client.chat.completions.create(model="m", messages=ASK, tools=[WEATHER])
    answer = client.chat.completions.create(
        model="m", messages=ASK, response_format={"type": "json_object"}
    )
    assert answer.choices[0].message.content == "not json"


def response_format(schema: dict[str, Any]) -> Any:
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}


def test_structured_output_must_fit_response_format(fake_llm):
    fake_llm.script(
        fake_llm.reply(json.dumps({"city": "Paris", "celsius": 21.5})),
        fake_llm.reply(json.dumps({"city": "Paris"})),
        fake_llm.reply("It is sunny."),
    )
    client = openai.OpenAI()
    fmt = response_format(ANSWER_SCHEMA)
    ok = client.chat.completions.create(model="m", messages=ASK, response_format=fmt)
    assert json.loads(ok.choices[0].message.content or "") == {"city": "Paris", "celsius": 21.5}
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="m", messages=ASK, response_format=fmt)
    problem = failed_check(fake_llm)
    assert "does not fit the request's response_format schema: 'celsius' is a required" in problem
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model="m", messages=ASK, response_format={"type": "json_object"}
        )
    assert "asks for JSON (response_format) and the reply is not JSON: 'It is sunny.'" in (
        failed_check(fake_llm)
    )


def test_structured_output_must_fit_text_format(fake_llm):
    fake_llm.script(fake_llm.reply('{"city": 3, "celsius": 1}'))
    fmt: Any = {"format": {"type": "json_schema", "name": "answer", "schema": ANSWER_SCHEMA}}
    with pytest.raises(openai.BadRequestError):
        openai.OpenAI().responses.create(model="m", input="Weather?", text=fmt)
    assert "text.format schema: 3 is not of type 'string' (at $.city)" in failed_check(fake_llm)


def test_respond_answers_are_checked_and_defaults_are_not(fake_llm):
    fake_llm.script(fake_llm.respond(lambda call: fake_llm.tool_call("nope")))
    with pytest.raises(openai.BadRequestError):
        openai.OpenAI().chat.completions.create(model="m", messages=ASK, tools=[WEATHER])
    assert "'nope', a tool the request did not offer" in failed_check(fake_llm)


async def test_pydantic_ai_does_not_turn_a_misspelled_tool_into_a_retry(fake_llm):
    """Unchecked, pydantic-ai tells the model "unknown tool" and the next item answers: the test would
    pass. Checked, the call fails and says why."""
    agent = PydanticAgent("openai:gpt-test")

    @agent.tool_plain
    def get_weather(city: str) -> str:
        return "sunny"

    fake_llm.script(fake_llm.tool_call("get_wether", city="Paris"), fake_llm.reply("Sunny."))
    with pytest.raises(ModelHTTPError, match=r"get_wether.*, a tool the request did not offer"):
        await agent.run("Weather in Paris?")  # (run_sync would leave its event loop unclosed)
    assert "the request offered the tools: ['get_weather']" in failed_check(fake_llm)
    assert [item.describe() for item in fake_llm.remaining] == ["reply('Sunny.')"]  # no retry
    fake_llm.reset()


def test_a_mismatch_fails_the_test_that_swallowed_it(user_project: pytest.Pytester):
    user_project.makepyfile(
        """
        import openai

        def test_swallowed(fake_llm):
            fake_llm.script(fake_llm.tool_call("get_wether"))
            try:
                openai.OpenAI().chat.completions.create(model="m", messages=[], tools=[])
            except openai.APIError:
                pass
        """
    )
    result = user_project.runpytest("-rN")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*fake LLM error: script item tool_call(get_wether({})) does not fit call 1*",
            "*the request offered the tools: [[][]]",
        ]
    )


def test_structured_output_must_fit_anthropic_output_format(fake_llm):
    fake_llm.script(fake_llm.reply('{"city": "Paris", "celsius": 20}'), fake_llm.reply("{}"))
    body = {
        "model": "claude-test",
        "max_tokens": 64,
        "messages": ASK,
        "output_format": {"type": "json_schema", "schema": ANSWER_SCHEMA},
    }
    url = "https://api.anthropic.com/v1/messages"
    ok = httpx.post(url, json=body)
    assert ok.json()["content"][0]["text"] == '{"city": "Paris", "celsius": 20}'
    refused = httpx.post(url, json=body)
    assert refused.status_code == 400 and refused.json()["type"] == "error"
    assert "output_format schema: 'city' is a required property" in failed_check(fake_llm)
