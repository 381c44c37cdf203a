"""The public names are a contract: adding or removing one is a decision, made here."""

import agent_testkit
import agent_testkit.cassettes
import agent_testkit.fake_llm


def test_package_all():
    assert sorted(agent_testkit.__all__) == [
        "Cassette",
        "DEFAULT_BASE_URL",
        "FakeLLM",
        "FakeLLMServer",
        "RealLLMHostRefused",
        "RecordMode",
        "RecordedCall",
        "SSEEvent",
        "SSEParser",
        "ScriptItem",
        "StateChange",
        "aiter_sse",
        "assert_changes",
        "assert_unchanged",
        "github_webhook",
        "github_webhook_headers",
        "iter_sse",
        "parse_sse",
        "sign_github_webhook",
        "use_cassette",
    ]


def test_cassettes_all():
    assert sorted(agent_testkit.cassettes.__all__) == [
        "Body",
        "Cassette",
        "CassetteError",
        "CassetteExpired",
        "CassetteFile",
        "CassetteFormatError",
        "CassetteNotFound",
        "CassetteOptions",
        "CassetteProblems",
        "DEFAULT_CHAT_MATCH_ON",
        "DEFAULT_MATCH_ON",
        "Interaction",
        "Matcher",
        "RecordMode",
        "RecordedRequest",
        "RecordedResponse",
        "Scrubber",
        "convert_vcr_cassette",
        "is_secret_name",
        "load_cassette",
        "save_cassette",
        "split_sse_events",
        "use_cassette",
    ]


def test_fake_llm_all():
    assert sorted(agent_testkit.fake_llm.__all__) == sorted(
        [
            "DEFAULT_BASE_URL",
            "PROVIDER_BASE_URLS",
            "REAL_LLM_HOSTS",
            "CutStream",
            "Disconnect",
            "FakeLLM",
            "Hang",
            "Malformed",
            "MalformedSSE",
            "RateLimited",
            "RealLLMHostRefused",
            "RecordedCall",
            "Reply",
            "Respond",
            "ScriptItem",
            "ServerError",
            "ToolCall",
            "ToolCalls",
            "cut_stream",
            "disconnect",
            "malformed",
            "malformed_sse",
            "overloaded",
            "rate_limited",
            "reply",
            "respond",
            "server_error",
            "timeout",
            "tool_call",
            "tool_calls",
        ]
    )


def test_every_public_name_exists():
    for module in (agent_testkit, agent_testkit.cassettes, agent_testkit.fake_llm):
        for name in module.__all__:
            assert getattr(module, name) is not None
