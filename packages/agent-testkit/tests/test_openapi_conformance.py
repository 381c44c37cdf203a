"""Every body and chunk the fake sends, validated against OpenAI's published OpenAPI schemas."""

import json
from pathlib import Path

import httpx
import jsonschema
import pytest

from agent_testkit import FakeLLM, parse_sse


def honour_nullable(node: object) -> object:
    """Parts of the spec still say OpenAPI 3.0's `nullable: true`; JSON Schema spells it as a null type."""
    if isinstance(node, list):
        return [honour_nullable(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: honour_nullable(v) for k, v in node.items()}
    if not node.pop("nullable", False):
        return node
    if "$ref" in node:
        return {"anyOf": [{"$ref": node.pop("$ref")}, {"type": "null"}], **node}
    node["type"] = [node["type"], "null"]
    if "enum" in node:
        node["enum"] = [*node["enum"], None]
    return node


SPEC = honour_nullable(
    json.loads((Path(__file__).parent / "fixtures" / "openai_openapi_schemas.json").read_text())
)
MESSAGES = [{"role": "user", "content": "Hi"}]


def validate(body: object, schema_name: str) -> None:
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": SPEC["components"]}
    jsonschema.Draft202012Validator(schema).validate(body)


ANSWERS = {
    "reply": FakeLLM.reply("Hello there, how can I help?"),
    "tool_call": FakeLLM.tool_call("create_task", title="Write tests", priority="high"),
    "parallel": FakeLLM.tool_calls(
        [
            FakeLLM.tool_call("a", x=12345678),
            FakeLLM.tool_call("b", text="a longer argument value"),
        ],
        content="Both.",
    ),
}


@pytest.fixture
def fake():
    with FakeLLM(
        checked=False
    ) as fake:  # wire shapes: requests without the tools a real call offers
        yield fake


@pytest.fixture
async def client(fake):
    async with httpx.AsyncClient(base_url=fake.base_url) as client:
        yield client


@pytest.mark.parametrize("answer", ANSWERS.values(), ids=ANSWERS.keys())
async def test_completion(fake, client, answer):
    fake.script(answer)
    r = await client.post("/chat/completions", json={"model": "gpt-test", "messages": MESSAGES})
    validate(r.json(), "CreateChatCompletionResponse")


@pytest.mark.parametrize("include_usage", [True, False])
@pytest.mark.parametrize("answer", ANSWERS.values(), ids=ANSWERS.keys())
async def test_stream_chunks(fake, client, answer, include_usage):
    fake.script(answer)
    body = {"model": "gpt-test", "messages": MESSAGES, "stream": True}
    body["stream_options"] = {"include_usage": include_usage}
    r = await client.post("/chat/completions", json=body)
    assert r.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(r.text)
    assert events[-1].data == "[DONE]"
    chunks = [e.json() for e in events[:-1]]
    for chunk in chunks:
        validate(chunk, "CreateChatCompletionStreamResponse")
    finishing = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert len(finishing) == 1
    assert ("usage" in chunks[-1] and chunks[-1]["choices"] == []) is include_usage


async def test_parallel_tool_call_fragments_are_interleaved_by_index(fake, client):
    fake.script(ANSWERS["parallel"])
    body = {"model": "gpt-test", "messages": MESSAGES, "stream": True}
    r = await client.post("/chat/completions", json=body)
    indexes = [
        tc["index"]
        for e in parse_sse(r.text)[:-1]
        for choice in e.json()["choices"]
        for tc in choice["delta"].get("tool_calls", [])
        if "id" not in tc
    ]
    assert indexes[:4] == [0, 1, 0, 1]


@pytest.mark.parametrize(
    ("item", "status"),
    [(FakeLLM.rate_limited(), 429), (FakeLLM.server_error(502), 502), (None, 500)],
    ids=["rate_limited", "server_error", "beyond_script"],
)
async def test_errors(fake, client, item, status):
    if item is not None:
        fake.script(item)
    r = await client.post("/chat/completions", json={"model": "gpt-test", "messages": MESSAGES})
    assert r.status_code == status
    validate(r.json(), "ErrorResponse")
    fake.unexpected_calls.clear()


async def test_embeddings_are_deterministic_and_sized(fake, client):
    body = {
        "model": "text-embedding-3-small",
        "input": ["alpha", "beta", "alpha"],
        "encoding_format": "float",
    }
    data = (await client.post("/embeddings", json=body)).json()
    validate(data, "CreateEmbeddingResponse")
    vectors = [d["embedding"] for d in data["data"]]
    assert vectors[0] == vectors[2] != vectors[1]
    assert len(vectors[0]) == fake.embedding_dimensions
    sized = (await client.post("/embeddings", json=body | {"dimensions": 64})).json()
    assert len(sized["data"][0]["embedding"]) == 64


async def test_models(client):
    validate((await client.get("/models")).json(), "ListModelsResponse")
