"""The offline demo model behind `serve --llm demo`: rules over the user's words that make real tool calls.

It speaks the OpenAI wire format through the test kit's fake server, so the service runs exactly as
it does against a real provider: the same agent loop, tools, streaming, documents and triage jobs.
"""

from agent_service.demo.rules import Answer, Say, ToolRequest, decide

__all__ = ["Answer", "Say", "ToolRequest", "decide"]
