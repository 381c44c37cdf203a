"""The LLM-as-judge grader against the kit's own fake: what it asks (its own prompt, the rubric, the
conversation, a JSON schema for the answer), how it reads a score, and how it fails on malformed
answers and failed calls: as a grade with a reason, never an exception."""

import json

import pytest

from agent_testkit import FakeLLM
from agent_testkit.evals import (
    JUDGE_OUTPUT_SCHEMA,
    JUDGE_SYSTEM_PROMPT,
    GradeContext,
    JudgeError,
    LLMJudge,
    ToolCallRecord,
    Transcript,
    Turn,
    build_grader,
    parse_verdict,
)

CONVERSATION = Transcript(
    [
        Turn(
            "add a high priority task to renew my passport",
            200,
            reply="Added 'Renew passport' (high priority).",
            tool_calls=[
                ToolCallRecord("create_task", {"title": "Renew passport"}, {"task": {"id": "t-1"}})
            ],
        ),
        Turn("thanks", 503, error="llm_unavailable", detail="The provider is down."),
    ]
)
RUBRIC = "Confirms the task it created and its priority; claims nothing else."


@pytest.fixture
def judge(fake_llm: FakeLLM) -> LLMJudge:
    return LLMJudge(base_url=fake_llm.base_url, api_key="sk-test", model="judge-model")


async def judged(fake_llm: FakeLLM, judge: LLMJudge, *answers, pass_score: float = 0.7):
    fake_llm.script(*answers)
    grader = build_grader("llm_judge", {"rubric": RUBRIC, "pass_score": pass_score})
    return await grader.grade(GradeContext(CONVERSATION, judge=judge), weight=2)


async def test_a_score_is_read_and_weighed(fake_llm, judge):
    result = await judged(
        fake_llm, judge, fake_llm.reply('{"score": 0.85, "reasoning": "Names task and priority."}')
    )
    assert (result.score, result.passed, result.weight) == (0.85, True, 2)
    assert result.reason == "judge: 0.85 - Names task and priority."


async def test_a_low_score_fails_the_grade_but_keeps_its_value(fake_llm, judge):
    result = await judged(fake_llm, judge, fake_llm.reply('{"score": 0.4, "reasoning": "Vague."}'))
    assert (result.score, result.passed) == (0.4, False)


async def test_pass_score_is_per_expectation(fake_llm, judge):
    result = await judged(
        fake_llm, judge, fake_llm.reply('{"score": 0.6, "reasoning": "ok"}'), pass_score=0.5
    )
    assert result.passed


async def test_the_judge_request_has_its_own_prompt_rubric_conversation_and_schema(fake_llm, judge):
    await judged(fake_llm, judge, fake_llm.reply('{"score": 1, "reasoning": "fine"}'))

    [call] = fake_llm.calls
    assert call.model == "judge-model"
    assert call.system_prompt == JUDGE_SYSTEM_PROMPT
    prompt = call.last_user_message
    assert RUBRIC in prompt
    assert "[turn 1] USER: add a high priority task to renew my passport" in prompt
    assert 'TOOL create_task({"title": "Renew passport"}) -> OK {"task": {"id": "t-1"}}' in prompt
    assert "ASSISTANT: Added 'Renew passport' (high priority)." in prompt
    assert "HTTP 503 llm_unavailable" in prompt
    response_format = call.request["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["schema"] == JUDGE_OUTPUT_SCHEMA
    assert call.request["temperature"] == 0
    assert call.headers["authorization"] == "Bearer sk-test"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("I'd give it 8/10.", "not JSON"),
        ("", "the answer is empty"),
        ('["score", 0.9]', "expected a JSON object"),
        ('{"reasoning": "no score"}', "`score` is None, not a number"),
        ('{"score": "0.9", "reasoning": "a string"}', "`score` is '0.9', not a number"),
        ('{"score": true, "reasoning": "a bool"}', "`score` is True, not a number"),
        ('{"score": 1.5, "reasoning": "too much"}', "`score` 1.5 is outside 0..1"),
        ('{"score": -0.1, "reasoning": "too little"}', "outside 0..1"),
        ('{"score": 0.9}', "`reasoning` is None, not a string"),
    ],
)
async def test_malformed_judge_output_is_a_failed_grade_with_the_reason(
    fake_llm, judge, answer, reason
):
    result = await judged(fake_llm, judge, fake_llm.reply(answer, unchecked=True))
    assert (result.score, result.passed) == (0.0, False)
    assert result.reason.startswith("malformed judge output")
    assert reason in result.reason


async def test_a_fenced_json_answer_is_read(fake_llm, judge):
    answer = '```json\n{"score": 0.75, "reasoning": "fenced"}\n```'
    # not JSON as the judge's response_format asks, so unchecked: a model without structured output
    assert (await judged(fake_llm, judge, fake_llm.reply(answer, unchecked=True))).score == 0.75


async def test_a_body_that_is_not_a_completion_is_malformed(fake_llm, judge):
    result = await judged(fake_llm, judge, fake_llm.malformed('{"object": "error"}'))
    assert not result.passed
    assert "not a chat completion" in result.reason


async def test_a_failed_judge_call_is_a_failed_grade(fake_llm, judge):
    result = await judged(fake_llm, judge, fake_llm.server_error(503))
    assert not result.passed
    assert "the judge call answered HTTP 503" in result.reason


async def test_no_judge_configured_is_a_failed_grade():
    grader = build_grader("llm_judge", RUBRIC)
    result = await grader.grade(GradeContext(CONVERSATION))
    assert not result.passed and "no judge model" in result.reason


def test_parse_verdict_directly():
    assert parse_verdict('{"score": 0, "reasoning": "bad"}').score == 0.0
    with pytest.raises(JudgeError, match="not JSON"):
        parse_verdict("{")


async def test_the_judge_shares_a_client_when_given_one(fake_llm):
    import httpx

    async with httpx.AsyncClient() as client:
        judge = LLMJudge(base_url=fake_llm.base_url, api_key="k", model="m", http_client=client)
        fake_llm.script(fake_llm.reply(json.dumps({"score": 1, "reasoning": "ok"})))
        verdict = await judge.judge(RUBRIC, CONVERSATION)
    assert verdict.score == 1.0
