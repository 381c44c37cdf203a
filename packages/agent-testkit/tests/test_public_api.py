"""The public names are a contract: adding or removing one is a decision, made here."""

import agent_testkit
import agent_testkit.fake_llm


def test_package_all():
    assert sorted(agent_testkit.__all__) == [
        "DEFAULT_BASE_URL",
        "FakeLLM",
        "FakeLLMServer",
        "RealLLMHostRefused",
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
    ]


def test_fake_llm_all():
    assert sorted(agent_testkit.fake_llm.__all__) == sorted(
        [
            "DEFAULT_BASE_URL",
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
    for module in (agent_testkit, agent_testkit.fake_llm):
        for name in module.__all__:
            assert getattr(module, name) is not None
