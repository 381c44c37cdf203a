"""`agent-service`: serve, migrate, create an admin."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from agent_service import migrations
from agent_service.auth.passwords import passwords_for
from agent_service.db import create_engine, create_sessionmaker
from agent_service.evals.cli import eval_app
from agent_service.observability import configure_logging
from agent_service.settings import Settings
from agent_service.users import service as users
from agent_service.users.exceptions import EmailTaken

app = typer.Typer(help="Self-hostable AI-agent service.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(eval_app, name="eval")
console = Console(stderr=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    llm: Annotated[
        str | None,
        typer.Option(
            "--llm",
            help="'fake': answer chats with the test kit's fake model, offline (demos, e2e tests).",
        ),
    ] = None,
    migrate: Annotated[
        bool | None,
        typer.Option(
            "--migrate/--no-migrate",
            help="Apply migrations first (default: yes on embedded SQLite, no on PostgreSQL).",
        ),
    ] = None,
) -> None:
    """Run the HTTP service (docs at /docs)."""
    if llm == "fake":
        _serve_fake_llm()
    elif llm is not None:
        console.print(f"[red]--llm takes only 'fake', not {llm!r}.[/red]")
        raise typer.Exit(2)
    settings = Settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    url = settings.resolved_database_url
    if migrate if migrate is not None else url.startswith("sqlite"):
        migrations.upgrade(url)
    console.print(f"Serving on http://{host}:{port} (API docs at http://{host}:{port}/docs)")
    uvicorn.run(
        "agent_service.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=None,
    )


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Jobs run at once (default: JOB_CONCURRENCY).")
    ] = None,
) -> None:
    """Run background jobs from procrastinate on PostgreSQL (JOB_RUNNER=procrastinate)."""
    from agent_service.jobs.procrastinate_queue import run_worker

    settings = Settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    if settings.job_runner != "procrastinate":
        console.print(
            "[yellow]JOB_RUNNER is 'inline': `serve` runs jobs itself. Set JOB_RUNNER=procrastinate "
            "(with a PostgreSQL DATABASE_URL) on the API and the workers to scale out.[/yellow]"
        )
    try:
        asyncio.run(run_worker(settings, concurrency=concurrency))
    except RuntimeError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc


def _serve_fake_llm() -> None:
    """Start the kit's fake model on loopback and point this process's settings at it."""
    try:
        from agent_testkit import FakeLLMServer
    except ImportError as exc:
        console.print("[red]--llm fake needs the test kit: pip install agent-testkit[/red]")
        raise typer.Exit(2) from exc
    fake = FakeLLMServer(strict=False)
    fake.start()
    os.environ["LLM_BASE_URL"] = fake.base_url
    os.environ["LLM_API_KEY"] = "fake-llm"  # the fake accepts any key
    console.print(f"Fake LLM at {fake.base_url}: every chat gets its default reply.")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    settings = Settings()
    migrations.upgrade(settings.resolved_database_url, revision)
    console.print(f"Database at {migrations.head_revision() if revision == 'head' else revision}.")


@db_app.command("revision")
def db_revision(
    message: Annotated[str, typer.Option("-m", help="What the revision does.")],
) -> None:
    """Autogenerate a migration from the models (for developers)."""
    from alembic import command

    settings = Settings()
    config = migrations.alembic_config(settings.resolved_database_url)
    slug = "_".join(message.lower().split())[:40]
    rev_id = f"{datetime.now(UTC):%Y%m%d}_{slug}"
    command.revision(config, message=message, autogenerate=True, rev_id=rev_id)


async def _create_admin(settings: Settings, email: str, password: str) -> bool:
    engine = create_engine(settings.resolved_database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            existing = await users.get_user_by_email(session, email)
            if existing is not None:
                existing.is_admin = True
                await session.commit()
                return False
            await users.create_user(
                session,
                passwords_for(settings),
                email=email,
                password=password,
                is_admin=True,
                email_verified=True,
            )
            await session.commit()
            return True
    finally:
        await engine.dispose()


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Argument(help="The administrator's email.")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="ADMIN_PASSWORD",
            help="Prompted for when not given (or set ADMIN_PASSWORD).",
        ),
    ],
) -> None:
    """Create an administrator, or promote an existing user."""
    if len(password) < 8:
        console.print("[red]The password needs at least 8 characters.[/red]")
        raise typer.Exit(2)
    settings = Settings()
    try:
        created = asyncio.run(_create_admin(settings, email, password))
    except EmailTaken as exc:  # pragma: no cover - raced with a registration
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"{'Created' if created else 'Promoted'} admin {email!r}.")


def main() -> None:
    app()
