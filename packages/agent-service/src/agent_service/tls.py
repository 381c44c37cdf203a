"""The process's one TLS context for outgoing HTTPS (the LLM provider, GitHub).

Building a context loads the CA bundle, about 40 ms of CPU; httpx builds one per client unless it is
given one, and a GitHub client is made per tool call and per webhook job. Loaded once, it is shared:
an `ssl.SSLContext` is safe to use from many connections. It is httpx's own default context (certifi,
or `SSL_CERT_FILE` / `SSL_CERT_DIR` when set), so behaviour is unchanged.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()
