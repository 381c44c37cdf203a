"""What a job may use (`JobContext`) and what runs it (`JobHandler`), by kind."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.llm.client import LLMClient
from agent_service.settings import Settings

Payload = dict[str, Any]


@dataclass(frozen=True)
class JobContext:
    """The resources of the process running a job: an API process or an `agent-service worker`."""

    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    llm: LLMClient  # built on the process's one pool to the provider (embeddings, triage)
    # set when the runner stops: a long handler checks it between steps (raising JobInterrupted)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True)
class JobHandler:
    """`run` does the work (idempotently: an interrupted job runs again); `on_failure` records a
    job's final failure where its owner will see it (e.g. a document marked failed)."""

    kind: str
    run: Callable[[JobContext, Payload], Awaitable[None]]
    on_failure: Callable[[JobContext, Payload, str], Awaitable[None]] | None = None


def default_handlers() -> Mapping[str, JobHandler]:
    """Every kind of job the service runs; a domain with background work adds its handler here."""
    from agent_service.documents.processing import PROCESS_DOCUMENT
    from agent_service.integrations.github.jobs import TRIAGE_ISSUE
    from agent_service.run_webhooks.delivery import DELIVER_WEBHOOK
    from agent_service.storage.jobs import DISCARD_UPLOAD

    handlers = (PROCESS_DOCUMENT, TRIAGE_ISSUE, DELIVER_WEBHOOK, DISCARD_UPLOAD)
    return {handler.kind: handler for handler in handlers}
