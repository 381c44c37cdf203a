"""Replay of committed cassettes: real OpenAI recordings (converted from pydantic-ai's vcrpy cassettes) through
the openai SDK on its default httpx2 client and on httpx, and GitHub REST cassettes made from GitHub's
documented shapes through plain httpx/httpx2. Nothing here can reach OpenAI or GitHub: replay only."""

import json
from pathlib import Path

import httpx
import httpx2
import jsonschema
import openai
import pytest

from agent_testkit.cassettes import load_cassette

FIXTURES = Path(__file__).parent / "fixtures"
OPENAI = "fixtures/cassettes/openai"
GITHUB = "fixtures/cassettes/github"
# Reference recordings of others' APIs: no age limit, and never re-recorded by `--record-mode`.
pytestmark = pytest.mark.cassette(max_age_days=None, record_mode="none")

SDK_KINDS = ["openai-async", "openai-sync", "openai-async-httpx", "openai-sync-httpx"]
PLAIN_KINDS = ["httpx-async", "httpx-sync", "httpx2-async", "httpx2-sync"]
QUESTION = "What is the capital of the UK? Use the tool, then answer."
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_capital",
            "description": "",
            "parameters": {
                "additionalProperties": False,
                "properties": {"country": {"type": "string"}},
                "required": ["country"],
                "type": "object",
            },
            "strict": True,
        },
    }
]


def sdk_client(kind: str):
    options = {"api_key": "sk-test-not-a-real-key", "max_retries": 0}
    if kind == "openai-async":  # the SDK's default client: httpx2
        return openai.AsyncOpenAI(**options)
    if kind == "openai-sync":
        return openai.OpenAI(**options)
    if kind == "openai-async-httpx":
        return openai.AsyncOpenAI(**options, http_client=httpx.AsyncClient())
    return openai.OpenAI(**options, http_client=httpx.Client())


async def call(client, method: str, **body):
    """`client.<method>(**body)` for sync and async SDK clients alike; streams are read to a list."""
    target = client
    for part in method.split("."):
        target = getattr(target, part)
    result = target(**body)
    if isinstance(client, openai.AsyncOpenAI):
        result = await result
        if body.get("stream"):
            return [chunk async for chunk in result]
        return result
    return list(result) if body.get("stream") else result


def tool_call_from(chunks) -> dict:
    call: dict = {"id": None, "name": None, "arguments": ""}
    for chunk in chunks:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                call["id"] = delta.id or call["id"]
                call["name"] = (delta.function and delta.function.name) or call["name"]
                call["arguments"] += (delta.function and delta.function.arguments) or ""
    return call


@pytest.mark.cassette(path=f"{OPENAI}/chat_stream_tool_calls_then_text.yaml")
@pytest.mark.parametrize("kind", SDK_KINDS)
async def test_streamed_tool_call_then_text(kind, cassette):
    client = sdk_client(kind)
    stream = {"stream": True, "stream_options": {"include_usage": True}}
    first = await call(
        client,
        "chat.completions.create",
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": QUESTION}],
        tools=TOOLS,
        tool_choice="auto",
        **stream,
    )
    assert len(first) == 8  # 7 chunks with a choice, then the usage-only chunk (choices: [])
    assert [c.choices[0].finish_reason for c in first[:-1]][-1] == "tool_calls"
    assert first[-1].choices == [] and first[-1].usage.total_tokens == 68
    tool_call = tool_call_from(first)
    assert tool_call == {
        "id": "call_ZR5UUuTt3pf61kjwAJIYdVMj",
        "name": "get_capital",
        "arguments": '{"country":"UK"}',
    }

    assistant = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": tool_call["id"],
                "type": "function",
                "function": {"name": "get_capital", "arguments": tool_call["arguments"]},
            }
        ],
    }
    tool_result = {"role": "tool", "tool_call_id": tool_call["id"], "content": "London"}
    second = await call(
        client,
        "chat.completions.create",
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": QUESTION}, assistant, tool_result],
        tools=TOOLS,
        tool_choice="auto",
        **stream,
    )
    text = "".join(c.choices[0].delta.content or "" for c in second if c.choices)
    assert text == "The capital of the UK is London."
    assert cassette.unused() == []


@pytest.mark.cassette(path=f"{OPENAI}/chat_stream_tool_calls_then_text.yaml")
async def test_chat_requests_match_on_meaning_not_bytes(cassette):
    """Temperature, seed, user, stream_options, tool-call ids and argument whitespace may differ."""
    client = sdk_client("openai-async")
    common = {"model": "gpt-4o-mini", "tools": TOOLS, "tool_choice": "auto", "stream": True}
    await call(
        client,
        "chat.completions.create",
        messages=[{"role": "user", "content": [{"type": "text", "text": QUESTION}]}],
        temperature=0.2,
        seed=7,
        user="someone",
        **common,
    )
    my_id = "call_made_up_by_my_app"
    assistant = {
        "role": "assistant",
        "tool_calls": [
            {
                "id": my_id,
                "type": "function",
                "function": {"name": "get_capital", "arguments": '{"country": "UK"}'},
            }
        ],
    }
    second = await call(
        client,
        "chat.completions.create",
        messages=[
            {"role": "user", "content": QUESTION},
            assistant,
            {"role": "tool", "tool_call_id": my_id, "content": "London"},
        ],
        **common,
    )
    assert "London" in "".join(c.choices[0].delta.content or "" for c in second if c.choices)


@pytest.mark.cassette(path=f"{OPENAI}/chat_stream_tool_calls_then_text.yaml", allow_unused=True)
@pytest.mark.parametrize("kind", PLAIN_KINDS)
async def test_stream_chunk_boundaries_are_replayed(kind):
    """Each recorded chunk reaches the client as its own read, as OpenAI sent it (one SSE event each)."""
    recorded = load_cassette(FIXTURES / "cassettes/openai/chat_stream_tool_calls_then_text.yaml")
    expected = recorded.interactions[0].response.body.chunks
    module = httpx2 if kind.startswith("httpx2") else httpx
    body = recorded.interactions[0].request.body.json
    url = "https://api.openai.com/v1/chat/completions"
    headers = {"Authorization": "Bearer sk-test-not-a-real-key"}
    if kind.endswith("async"):
        async with module.AsyncClient() as client, client.stream("POST", url, json=body) as r:
            chunks = [chunk async for chunk in r.aiter_raw()]
    else:
        with module.Client(headers=headers) as client, client.stream("POST", url, json=body) as r:
            chunks = list(r.iter_raw())
    assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert chunks == expected
    assert len(chunks) == 9 and chunks[-1] == b"data: [DONE]\n\n"


@pytest.mark.cassette(path=f"{OPENAI}/chat_stream_text_with_usage.yaml")
async def test_streamed_text_with_a_trailing_moderation_chunk():
    chunks = await call(
        sdk_client("openai-sync"),
        "chat.completions.create",
        model="gpt-5",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"moderation": {"model": "omni-moderation-latest"}},
    )
    assert "Paris" in "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].choices == [] and "moderation" in chunks[-1].model_dump(exclude_unset=True)


@pytest.mark.cassette(path=f"{OPENAI}/chat_error_404_model_not_found.yaml")
@pytest.mark.parametrize("kind", ["openai-async", "openai-sync-httpx"])
async def test_error_model_not_found(kind):
    with pytest.raises(openai.NotFoundError) as caught:
        await call(
            sdk_client(kind),
            "chat.completions.create",
            model="gpt-5.2-proo",
            messages=[{"role": "user", "content": "hello"}],
        )
    assert caught.value.status_code == 404
    assert caught.value.code == "model_not_found"
    assert "gpt-5.2-proo" in caught.value.message


@pytest.mark.cassette(path=f"{OPENAI}/chat_error_400_unsupported_value.yaml")
async def test_error_unsupported_value():
    with pytest.raises(openai.BadRequestError) as caught:
        await call(
            sdk_client("openai-async"),
            "chat.completions.create",
            model="o1-mini",
            messages=[
                {"role": "developer", "content": "You are a helpful assistant."},
                {"role": "user", "content": "Hello"},
            ],
        )
    assert (caught.value.code, caught.value.param) == ("unsupported_value", "messages[0].role")


@pytest.mark.cassette(path=f"{OPENAI}/embeddings_base64.yaml")
@pytest.mark.parametrize("kind", ["openai-async", "openai-sync-httpx"])
async def test_embeddings_base64_are_decoded_by_the_sdk(kind):
    result = await call(
        sdk_client(kind),
        "embeddings.create",
        model="text-embedding-3-small",
        input=["Hello, world!"],
    )
    vector = result.data[0].embedding
    assert len(vector) == 1536 and all(isinstance(x, float) for x in vector)
    assert result.usage.prompt_tokens > 0


@pytest.mark.cassette(path=f"{OPENAI}/embeddings_error_404.yaml")
async def test_embeddings_error():
    with pytest.raises(openai.NotFoundError, match="nonexistent"):
        await call(
            sdk_client("openai-async"),
            "embeddings.create",
            model="nonexistent",
            input=["Hello, world!"],
        )


@pytest.mark.cassette(path=f"{OPENAI}/chat_tool_calls_nonstream.yaml")
async def test_non_streamed_tool_calls():
    client = sdk_client("openai-sync")
    question = {"role": "user", "content": "What is the largest city in the user country?"}
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_user_country",
                "description": "",
                "parameters": {"additionalProperties": False, "properties": {}, "type": "object"},
            },
        },
        {
            "type": "function",
            "function": {
                "name": "final_result",
                "description": "The final response which ends this conversation",
                "parameters": {
                    "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
                    "required": ["city", "country"],
                    "type": "object",
                },
            },
        },
    ]
    first = await call(
        client, "chat.completions.create", model="gpt-4o", messages=[question], tools=tools,
        tool_choice="required",
    )  # fmt: skip
    country_call = first.choices[0].message.tool_calls[0]
    assert country_call.function.name == "get_user_country"
    second = await call(
        client,
        "chat.completions.create",
        model="gpt-4o",
        messages=[
            question,
            {"role": "assistant", "tool_calls": [country_call.model_dump()]},
            {"role": "tool", "tool_call_id": country_call.id, "content": "Mexico"},
        ],
        tools=tools,
        tool_choice="required",
    )
    final = second.choices[0].message.tool_calls[0].function
    assert final.name == "final_result"
    assert json.loads(final.arguments) == {"city": "Mexico City", "country": "Mexico"}


# -- GitHub REST, from the documented shapes ---------------------------------------------------------------

API = "https://api.github.com/repos/Codertocat/Hello-World"
GITHUB_HEADERS = {
    "Accept": "application/vnd.github+json",
    "Authorization": "Bearer ghp_not_a_real_token_0123456789",
    "X-GitHub-Api-Version": "2022-11-28",
}
COMMENT = "AI Triage: priority P2. Looks like a bug in the greeting; labelled `bug`."


def github_schemas() -> dict:
    """issue-comment from GitHub's REST description (refs outside the extract allowed as anything)."""
    extract = json.loads((FIXTURES / "github-rest/api.github.com.extract.json").read_text())
    text = json.dumps(extract["components"]["schemas"]["issue-comment"])
    for ref in extract["x-extract"]["unresolved_refs"]:
        text = text.replace(json.dumps({"$ref": ref}), "{}")
    label = json.loads((FIXTURES / "github-webhooks/label.schema.json").read_text())
    return {"issue-comment": json.loads(text), "label": label}


@pytest.mark.cassette(path=f"{GITHUB}/triage_labels_and_comment.yaml")
@pytest.mark.parametrize("module", [httpx, httpx2], ids=["httpx", "httpx2"])
async def test_github_add_labels_then_comment(module):
    schemas = github_schemas()
    async with module.AsyncClient(headers=GITHUB_HEADERS) as github:
        labels = await github.post(f"{API}/issues/1/labels", json={"labels": ["bug"]})
        comment = await github.post(f"{API}/issues/1/comments", json={"body": COMMENT})
    assert labels.status_code == 200
    for label in labels.json():
        jsonschema.validate(label, schemas["label"])
    assert comment.status_code == 201
    jsonschema.validate(comment.json(), schemas["issue-comment"])
    assert comment.json()["body"].startswith("AI Triage:")
    assert comment.headers["location"] == comment.json()["url"]


@pytest.mark.cassette(path=f"{GITHUB}/pull_request_diff.yaml")
def test_github_pull_request_diff():
    headers = {**GITHUB_HEADERS, "Accept": "application/vnd.github.diff"}
    with httpx.Client(headers=headers) as github:
        r = github.get(f"{API}/pulls/2")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.github.diff")
    assert r.text.startswith("diff --git a/README.md b/README.md")


@pytest.mark.cassette(path=f"{GITHUB}/rate_limited.yaml")
def test_github_rate_limits():
    with httpx.Client(headers=GITHUB_HEADERS) as github:
        primary = github.post(f"{API}/issues/1/comments", json={"body": COMMENT})
        secondary = github.post(f"{API}/issues/1/labels", json={"labels": ["bug"]})
    assert primary.status_code == 403
    assert primary.headers["x-ratelimit-remaining"] == "0"
    assert int(primary.headers["x-ratelimit-reset"]) > 0
    assert "rate limit" in primary.json()["message"]
    assert secondary.status_code == 429 and secondary.headers["retry-after"] == "60"
    with pytest.raises(httpx.HTTPStatusError):
        primary.raise_for_status()
