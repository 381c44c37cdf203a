"""A small MCP server for the suite, run as a real process: `python -m tests.mcp_server
{stdio | streamable-http PORT | sse PORT}`.

Tools: `add` (typed integers), `shout` (text), `fail` (the tool's own error), `stall` (never
answers in time). Over HTTP every request must carry `Authorization: Bearer test-token`
(401 otherwise), so a test proves an assistant's headers reach the server.
"""

from __future__ import annotations

import sys

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from starlette.types import ASGIApp, Receive, Scope, Send

TOKEN = "test-token"
server = MCPServer("suite-tools")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def shout(text: str) -> str:
    """The text in capitals."""
    return text.upper()


@server.tool()
def fail(reason: str) -> str:
    """Always fails, with the reason given."""
    raise ToolError(f"failed on purpose: {reason}")


@server.tool()
async def stall() -> str:
    """Takes far longer than any caller waits."""
    await anyio.sleep(3600)
    return "too late"


class RequireToken:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            if headers.get(b"authorization") != f"Bearer {TOKEN}".encode():
                await send({"type": "http.response.start", "status": 401, "headers": []})
                await send({"type": "http.response.body", "body": b"no token"})
                return
        await self.app(scope, receive, send)


def main() -> None:
    transport = sys.argv[1]
    if transport == "stdio":
        server.run("stdio")
        return
    port = int(sys.argv[2])
    app = server.sse_app() if transport == "sse" else server.streamable_http_app()
    uvicorn.run(RequireToken(app), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
