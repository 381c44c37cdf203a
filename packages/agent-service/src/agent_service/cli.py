"""`agent-service`: serve, migrate, create an admin."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console
from uvicorn.supervisors import Multiprocess

from agent_service import migrations
from agent_service.auth.passwords import passwords_for
from agent_service.auth.throttle import account_key, clear_account
from agent_service.db import create_engine, create_sessionmaker
from agent_service.evals.cli import eval_app
from agent_service.headers import uvicorn_options
from agent_service.observability import MetricsListener, configure_logging
from agent_service.ops.metrics import BIND_SERVED_BY_PARENT, shared_metrics_folder
from agent_service.settings import Settings
from agent_service.users import service as users
from agent_service.users.exceptions import EmailTaken

# Plain help (rich_markup_mode=None): no <bool>/<str> after every option, and it fits 80 columns.
app = typer.Typer(
    help="Self-hostable AI-agent service.", no_args_is_help=True, rich_markup_mode=None
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(eval_app, name="eval")
console = Console(stderr=True, soft_wrap=True)  # never break a URL across lines


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(metavar="HOST", help="Interface to bind; 0.0.0.0 for every one.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(metavar="PORT", help="Port to listen on; 0 picks a free one.")
    ] = 8000,
    workers: Annotated[
        int, typer.Option(metavar="N", min=1, help="Worker processes sharing the port.")
    ] = 1,
    llm: Annotated[
        str | None,
        typer.Option(
            "--llm",
            metavar="demo|fake",
            help="Answer chats offline: 'demo' acts on your words with real tool calls; "
            "'fake' answers with --llm-script or a fixed reply.",
        ),
    ] = None,
    llm_script: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE", help="With --llm fake: a test kit script file (YAML or JSON)."
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
    """Run the HTTP service: web pages at /, API docs at /docs."""
    offline = llm or ("fake" if llm_script is not None else None)
    if offline not in (None, "demo", "fake") or (offline == "demo" and llm_script is not None):
        console.print(
            f"[red]--llm takes 'demo' or 'fake' (--llm-script goes with 'fake'), not {llm!r}.[/red]"
        )
        raise typer.Exit(2)
    settings = _settings_or_exit()
    sock = _bind_or_exit(host, port)  # a port in use is the first thing a user hears of
    configure_logging(settings.log_level, log_format=settings.resolved_log_format)
    url = _base_url(host, sock.getsockname()[1])
    if not settings.public_url:  # mail links open this server unless PUBLIC_URL says otherwise
        os.environ["PUBLIC_URL"] = url
    if offline is not None:
        _start_offline_llm(offline, llm_script, settings)
    database_url = settings.resolved_database_url
    if migrate if migrate is not None else database_url.startswith("sqlite"):
        migrations.upgrade(database_url)
    config = uvicorn.Config(
        "agent_service.app:create_app",
        factory=True,
        workers=workers,
        access_log=False,
        log_config=None,
        # a worker answers uvicorn's health check only once it has imported the app: on a busy
        # host that took longer than uvicorn's 5 s, and workers were killed and restarted forever
        timeout_worker_healthcheck=60,
        **uvicorn_options(),  # h11 with a bounded request head: 431 past it
    )
    if workers > 1:
        with shared_metrics_folder(), _metrics_listener_or_exit(settings):
            console.print(f"Serving on {url} with {workers} workers (API docs at {url}/docs)")
            Multiprocess(config, sockets=[sock]).run()
        return
    config.load_app()
    server = _AnnouncingServer(config, f"Serving on {url} (API docs at {url}/docs)")
    server.run(sockets=[sock])
    if not server.started:
        raise typer.Exit(3)


class _AnnouncingServer(uvicorn.Server):
    """Prints the address once the app has started, so no start-up error follows it."""

    def __init__(self, config: uvicorn.Config, banner: str) -> None:
        super().__init__(config)
        self.banner = banner

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit:
            console.print(self.banner)


@contextmanager
def _metrics_listener_or_exit(settings: Settings) -> Iterator[None]:
    """With workers, METRICS_BIND is this process's: one port cannot be every worker's, and
    here it shows them all (the workers write their metrics to the shared folder)."""
    if not settings.metrics_bind:
        yield
        return
    try:
        listener = MetricsListener(settings.metrics_bind)
    except (OSError, ValueError) as exc:
        console.print(f"[red]METRICS_BIND {settings.metrics_bind!r}: {exc}[/red]")
        raise typer.Exit(2) from exc
    os.environ[BIND_SERVED_BY_PARENT] = "1"  # for the workers: not theirs to take
    try:
        yield
    finally:
        del os.environ[BIND_SERVED_BY_PARENT]
        listener.stop()


def _settings_or_exit() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])).upper() or 'settings'}: {e['msg']}"
            for e in exc.errors()
        )
        console.print(f"[red]Invalid settings: {problems}[/red]")
        raise typer.Exit(2) from exc


def _bind_or_exit(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything else runs (uvicorn and workers share it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = (
            "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be bound ({exc.strerror})"
        )
        console.print(
            f"[red]Port {port} on {host} {reason}: stop the other server, or pick another "
            f"port with --port (make run PORT=...).[/red]"
        )
        raise typer.Exit(1) from exc
    sock.set_inheritable(True)
    return sock


def _base_url(host: str, port: int) -> str:
    """The address a person on this machine opens: 0.0.0.0 and :: mean every interface."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(host)  # noqa: S104
    if shown is not None:
        console.print(
            f"[yellow]Listening on every interface; links in mails point at {shown}: set "
            "PUBLIC_URL to the address people use.[/yellow]"
        )
    shown = shown or (f"[{host}]" if ":" in host else host)
    return f"http://{shown}:{port}"


def _start_offline_llm(llm: str, script: Path | None, settings: Settings) -> None:
    """Start the demo model or the kit's fake on loopback; this process's settings point at it."""
    from agent_service.demo.server import start_demo_llm, start_script_llm

    if settings.llm_api_key is not None and settings.llm_api_key.get_secret_value():
        console.print(f"[yellow]LLM_API_KEY is set, but --llm {llm} answers instead.[/yellow]")
    try:
        server = start_demo_llm() if llm == "demo" else start_script_llm(script)
    except ImportError as exc:
        console.print(f"[red]--llm {llm} needs the test kit: pip install agent-testkit[/red]")
        raise typer.Exit(2) from exc
    except (OSError, ValueError) as exc:
        console.print(f"[red]Cannot read the script {str(script)!r}: {exc}[/red]")
        raise typer.Exit(2) from exc
    os.environ["LLM_BASE_URL"] = server.base_url
    os.environ["LLM_API_KEY"] = f"offline-{llm}"  # the fake accepts any key
    os.environ["LLM_MODEL"] = f"{llm}-model"
    what = "the demo model (rules over your words)" if llm == "demo" else "the kit's fake model"
    console.print(f"Chats are answered offline by {what} at {server.base_url}.")


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option(metavar="N", help="Jobs run at once (default: JOB_CONCURRENCY).")
    ] = None,
) -> None:
    """Run background jobs from procrastinate on PostgreSQL (JOB_RUNNER=procrastinate)."""
    from agent_service.jobs.procrastinate_queue import run_worker

    settings = Settings()
    configure_logging(settings.log_level, log_format=settings.resolved_log_format)
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


@db_app.command("upgrade")
def db_upgrade(
    # hidden: typer 0.29 prints "<str>" after a listed argument; the docstring says what it is
    revision: Annotated[str, typer.Argument(metavar="REVISION", hidden=True)] = "head",
) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    settings = Settings()
    migrations.upgrade(settings.resolved_database_url, revision)
    console.print(f"Database at {migrations.head_revision() if revision == 'head' else revision}.")


@db_app.command("revision")
def db_revision(
    message: Annotated[str, typer.Option("-m", metavar="MESSAGE", help="What the revision does.")],
) -> None:
    """Autogenerate a migration from the models (for developers)."""
    from alembic import command

    settings = Settings()
    config = migrations.alembic_config(settings.resolved_database_url)
    slug = "_".join(message.lower().split())[:40]
    rev_id = f"{datetime.now(UTC):%Y%m%d}_{slug}"
    command.revision(config, message=message, autogenerate=True, rev_id=rev_id)


async def _find_user(settings: Settings, email: str) -> bool:
    engine = create_engine(settings.resolved_database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return await users.get_user_by_email(session, email) is not None
    finally:
        await engine.dispose()


async def _make_admin(settings: Settings, email: str, password: str | None) -> bool:
    """Creates the admin (True), or promotes the user and sets `password` if given (False)."""
    engine = create_engine(settings.resolved_database_url)
    passwords = passwords_for(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            existing = await users.get_user_by_email(session, email)
            if existing is not None:
                existing.is_admin = True
                existing.is_active = True  # a disabled account is no way back in
                if password is not None:
                    await users.set_password(existing, password, passwords)  # revokes its tokens
                    await clear_account(session, account_key(email))  # and its login back-off
                await session.commit()
                return False
            assert password is not None
            await users.create_user(
                session,
                passwords,
                email=email,
                password=password,
                is_admin=True,
                email_verified=True,
            )
            await session.commit()
            return True
    finally:
        await engine.dispose()


def _email_or_exit(email: str) -> str:
    from agent_service.users.schemas import parse_email

    try:
        return users.normalise_email(parse_email(email))
    except ValueError as exc:
        console.print(f"[red]{email!r} is not a valid email address.[/red]")
        raise typer.Exit(2) from exc


def _password_or_exit(password: str | None) -> str:
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not 8 <= len(password) <= 128 or "\x00" in password:
        console.print("[red]The password needs at least 8 characters (at most 128, no NUL).[/red]")
        raise typer.Exit(2)
    return password


@app.command("create-admin")
def create_admin(
    # hidden: typer 0.29 prints "<str>" after a listed argument; the docstring says what it is
    email: Annotated[str, typer.Argument(metavar="EMAIL", hidden=True)],
    password: Annotated[
        str | None,
        typer.Option(
            metavar="PASSWORD",
            envvar="ADMIN_PASSWORD",
            help="For a new account; prompted for when not given (or set ADMIN_PASSWORD).",
        ),
    ] = None,
    set_password: Annotated[
        bool,
        typer.Option(
            "--set-password",
            help="The user exists: also replace its password (which logs it out everywhere).",
        ),
    ] = False,
) -> None:
    """Make EMAIL an administrator: a new account, or an existing user promoted (its password
    kept unless --set-password)."""
    email = _email_or_exit(email)
    settings = Settings()
    exists = asyncio.run(_find_user(settings, email))
    new_password = _password_or_exit(password) if set_password or not exists else None
    try:
        created = asyncio.run(_make_admin(settings, email, new_password))
    except EmailTaken as exc:  # pragma: no cover - raced with a registration
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from exc
    if created:
        console.print(f"Created admin {email!r}.")
    elif new_password is not None:
        console.print(f"Promoted {email!r} to admin and set the new password (older logins end).")
    else:
        unused = " The password given was not used: add --set-password." if password else ""
        console.print(f"Promoted {email!r} to admin; its password is unchanged.{unused}")


def main() -> None:
    app()
