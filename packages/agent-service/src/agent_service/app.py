"""`create_app(settings)`: the FastAPI application and the resources it owns for its lifetime."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from agent_service import __version__
from agent_service.admin.router import router as admin_router
from agent_service.agents.router import router as agents_router
from agent_service.api_docs import API_DESCRIPTION, install_offline_docs
from agent_service.assistants.router import router as assistants_router
from agent_service.auth.router import router as auth_router
from agent_service.background.router import router as background_runs_router
from agent_service.conversations.router import router as conversations_router
from agent_service.db import create_engine, create_sessionmaker
from agent_service.documents.middleware import CloseConnectionOnUnreadBody
from agent_service.documents.router import router as documents_router
from agent_service.errors import install_error_handlers
from agent_service.headers import HeaderLimit, TrustedHosts
from agent_service.idempotency.middleware import IdempotencyMiddleware
from agent_service.integrations.github.router import router as github_router
from agent_service.jobs.queue import build_job_queue
from agent_service.jobs.registry import JobContext
from agent_service.limits import JsonBodyCheck, RequestBodyLimit
from agent_service.llm.client import LLMClient, build_http_client
from agent_service.mail.service import build_mailer
from agent_service.observability import RequestIdMiddleware, start_metrics_listener
from agent_service.openapi import install_openapi
from agent_service.ops.metrics import PROCESS_STARTS, MetricsMiddleware
from agent_service.ops.router import router as ops_router
from agent_service.projects.router import router as projects_router
from agent_service.quotas.router import router as quotas_router
from agent_service.run_webhooks.router import router as run_webhooks_router
from agent_service.runs.executor import start_executor
from agent_service.runs.router import router as runs_router
from agent_service.schedules.router import router as schedules_router
from agent_service.schedules.ticker import Ticker
from agent_service.settings import Settings
from agent_service.storage import build_storage
from agent_service.tasks.router import router as tasks_router
from agent_service.users import bootstrap
from agent_service.users.router import router as users_router
from agent_service.web.router import install_page_not_found
from agent_service.web.router import router as web_router

logger = logging.getLogger("agent_service.app")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        settings.resolved_database_url,
        sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout_s=settings.db_pool_timeout_s,
        answer_timeout_s=settings.db_answer_timeout_s,
    )
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.mailer = build_mailer(settings)
    app.state.storage = build_storage(settings)  # one pool to an object store per process
    llm_http = build_http_client(settings)  # one pool to the LLM provider per process
    app.state.llm = LLMClient(settings, llm_http)
    try:
        await bootstrap.ensure_first_admin(app.state.sessionmaker, settings)
    except SQLAlchemyError:
        logger.exception("could not create the first admin: is the database migrated?")
    # inline: this process runs due jobs, including ones an earlier run left unfinished
    app.state.job_queue = build_job_queue(
        JobContext(settings, app.state.sessionmaker, app.state.llm)
    )
    await app.state.job_queue.start()
    app.state.runs = await start_executor(settings, app.state.sessionmaker, app.state.llm)
    PROCESS_STARTS.inc()
    metrics_listener = start_metrics_listener(settings)  # METRICS_BIND: off the public port
    app.state.metrics_listener = metrics_listener
    app.state.schedules = Ticker(app.state.runs)  # due schedule ticks start background runs
    app.state.schedules.start()
    try:
        yield
    finally:
        await app.state.schedules.stop()
        if metrics_listener is not None:
            await asyncio.to_thread(metrics_listener.stop)
        await app.state.runs.stop()  # runs still working end `interrupted`, histories repaired
        await app.state.job_queue.stop()
        await llm_http.aclose()
        await engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(
        title="Agent service",
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served offline by install_offline_docs
        redoc_url=None,
    )
    install_offline_docs(app)
    app.state.settings = settings
    install_error_handlers(app)
    install_openapi(app)  # every error status documented with the envelope
    app.add_middleware(IdempotencyMiddleware)  # inside the body limit: repeats are read limited
    app.add_middleware(JsonBodyCheck)  # depth, NaN, 2**64: 400 before a route parses the body
    app.add_middleware(RequestBodyLimit)  # MAX_JSON_BYTES, read per request
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(TrustedHosts)  # TRUSTED_HOSTS, read per request
    app.add_middleware(HeaderLimit)  # 431 before anything reads a header
    app.add_middleware(CloseConnectionOnUnreadBody)  # a refused upload is not read on
    for router in (ops_router, auth_router, users_router, admin_router):
        app.include_router(router)
    for router in (tasks_router, projects_router, conversations_router, agents_router):
        app.include_router(router)
    app.include_router(background_runs_router)  # before runs: POST /api/runs, /wait
    app.include_router(runs_router)
    app.include_router(assistants_router)
    app.include_router(run_webhooks_router)
    app.include_router(schedules_router)
    app.include_router(quotas_router)
    app.include_router(documents_router)
    app.include_router(github_router)
    app.include_router(web_router)  # the pages at / (last: API routes win)
    install_page_not_found(app)  # an unknown page path: the app's 404 page, not JSON
    return app
