"""Where a webhook may go: http(s) only, and, unless WEBHOOK_ALLOW_PRIVATE, never to a private,
loopback, link-local or otherwise internal address, checked on the addresses the name resolves
to (a public name that resolves to 127.0.0.1 is as refused as 127.0.0.1 itself), so that a
webhook cannot be used to reach the service's own network."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from agent_service.errors import InvalidRequest
from agent_service.run_webhooks.exceptions import WebhookTargetRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _internal(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _internal(address.ipv4_mapped)
    return not address.is_global or address.is_multicast


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host name resolves to (a literal address is itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise WebhookTargetRefused(f"The host {host!r} does not resolve ({exc}).") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


async def check_webhook_url(url: str, *, allow_private: bool) -> None:
    """400 `webhook_target_refused` unless the URL is http(s) and every address it resolves to
    is public (or private ones are allowed)."""
    await check_public_url(
        url,
        allow_private=allow_private,
        refused=WebhookTargetRefused,
        what="webhook",
        setting="WEBHOOK_ALLOW_PRIVATE",
    )


async def check_public_url(
    url: str,
    *,
    allow_private: bool,
    refused: type[InvalidRequest],
    what: str,
    setting: str,
) -> None:
    """`refused` unless the URL is http(s) and every address it resolves to is public (or
    private ones are allowed): for any URL a user gives the service to call (a webhook, an MCP
    server)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise refused(f"A {what} URL must be http:// or https://, not {url!r}.")
    if allow_private:
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise refused(f"The {what} URL {url!r} has an invalid port.") from None
    try:
        addresses = await resolve(parts.hostname, port)
    except WebhookTargetRefused as exc:
        raise refused(exc.detail) from None
    for address in addresses:
        if _internal(address):
            raise refused(
                f"The {what} URL {url!r} leads to {address}, a private, loopback or link-local "
                f"address: the service calls public addresses only ({setting}=true lifts this on "
                "a trusted network)."
            )
