"""Closing the connection after a response to a request whose body was not read (a refused upload)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class CloseConnectionOnUnreadBody:
    """ASGI middleware: a response sent before the request body was read asks to close the
    connection (`Connection: close`).

    Otherwise uvicorn keeps an HTTP/1.1 connection alive by reading and discarding the rest of the
    body, so a client that ignores a 413 could keep the server reading a body it already refused.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        unread = _expects_body(scope)

        async def receive_tracking() -> Message:
            nonlocal unread
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                unread = False
            return message

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start" and unread:
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"
                ]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive_tracking, send_closing)


def _expects_body(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return True
    return False
