"""Test kit for LLM apps: a scripted fake of the OpenAI-compatible API (in-process for httpx and httpx2
clients, and as a loopback server), record/replay cassettes that keep streams, with SSE, webhook and
state-assertion helpers. pytest plugin: `agent_testkit.plugin`."""

from agent_testkit.cassettes import Cassette, RecordMode, use_cassette
from agent_testkit.fake_llm import (
    DEFAULT_BASE_URL,
    FakeLLM,
    RealLLMHostRefused,
    RecordedCall,
    ScriptItem,
)
from agent_testkit.fake_llm.server import FakeLLMServer
from agent_testkit.sse import SSEEvent, SSEParser, aiter_sse, iter_sse, parse_sse
from agent_testkit.state import StateChange, assert_changes, assert_unchanged
from agent_testkit.webhooks import github_webhook, github_webhook_headers, sign_github_webhook

__all__ = [
    "DEFAULT_BASE_URL",
    "Cassette",
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
