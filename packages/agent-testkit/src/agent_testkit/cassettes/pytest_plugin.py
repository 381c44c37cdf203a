"""pytest side of cassettes (loaded by `agent_testkit.plugin`): the `cassette` marker and fixture,
`--record-mode`, the ini settings, and the orphan-cassette report at the end of the session.

A test's cassette lives next to its module, `cassettes/<module>/<test>.yaml`, like pytest-recording's,
so `git rm` of a test and of its recordings go together, and orphans can be found.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agent_testkit.cassettes.cassette import OPENED_PATHS, Cassette, CassetteError
from agent_testkit.cassettes.files import CassetteFormatError
from agent_testkit.cassettes.options import DEFAULT_MAX_AGE_DAYS, CassetteOptions, RecordMode
from agent_testkit.plugin import track_problems

MARKER = (
    "cassette(name=None, *, path=None, record_mode=None, max_age_days=90, allow_unused=False, "
    "match_on=..., chat_match_on=..., ignore_hosts=(), timing=0, scrub_headers=(), scrub_query=(), "
    "scrub_fields=(), scrub_values=()): record and replay this test's HTTP traffic (agent_testkit)"
)
RECORD_MODES = [*(m.value for m in RecordMode), "rewrite"]
OTHER_RECORD_MODE_PLUGINS = {"pytest_recording.plugin", "cassetter.pytest_plugin"}
ACTIVE = pytest.StashKey[Cassette]()
_UNSAFE_IN_NAME = re.compile(r"[^\w.\[\]@=+-]")


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    group = parser.getgroup("agent-testkit")
    if not _record_mode_taken(parser, pluginmanager):
        group.addoption(
            "--record-mode",
            dest="record_mode",
            default=None,
            choices=RECORD_MODES,
            help="cassette record mode: none (default: replay only, no network), once, "
            "new_episodes, all",
        )
    group.addoption(
        "--cassette-fail-on-orphans",
        action="store_true",
        default=False,
        help="fail the run when a cassette file in a test module's cassettes/ dir is used by no test",
    )
    parser.addini("cassette_record_mode", "default cassette record mode", default="none")
    parser.addini(
        "cassette_max_age_days",
        "age limit of a replayed cassette in days (none or 0: no limit)",
        default=str(DEFAULT_MAX_AGE_DAYS),
    )
    parser.addini(
        "cassette_timing", "scale of recorded stream delays on replay (0: at once)", default="0"
    )
    parser.addini(
        "cassette_fail_on_orphans",
        "fail the run on orphan cassette files",
        type="bool",
        default=False,
    )


def _record_mode_taken(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> bool:
    """pytest-recording and cassetter define `--record-mode` too; share theirs rather than clash."""
    groups = [*getattr(parser, "_groups", []), getattr(parser, "_anonymous", None)]
    names = {n for g in groups if g is not None for opt in g.options for n in opt.names()}
    if "--record-mode" in names:
        return True
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return False
    return any(
        ep.value.split(":")[0] in OTHER_RECORD_MODE_PLUGINS
        and not pluginmanager.is_blocked(ep.name)
        for ep in importlib.metadata.entry_points(group="pytest11")
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)
    config.stash[STATE] = SessionCassettes()


# -- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _agent_testkit_cassette_marker(request: pytest.FixtureRequest) -> Iterator[None]:
    """Start the marked test's cassette before any other fixture, so app startup traffic is covered."""
    if request.node.get_closest_marker("cassette") is None:
        yield
        return
    yield from _activated(request)


@pytest.fixture
def cassette(request: pytest.FixtureRequest) -> Iterator[Cassette]:
    """This test's cassette (`cassettes/<module>/<test>.yaml` unless the `cassette` marker says)."""
    active = request.node.stash.get(ACTIVE, None)
    if active is not None:
        yield active
        return
    for _ in _activated(request):
        yield request.node.stash[ACTIVE]


def _activated(request: pytest.FixtureRequest) -> Iterator[None]:
    name, options = _marker_options(request.node)
    path = cassette_path(request.node, name, options.pop("path", None))
    cassette = Cassette(path, _cassette_options(request, options))
    problem = None
    try:
        cassette.start()
    except (CassetteError, CassetteFormatError) as exc:
        problem = str(exc)
    if (
        problem is not None
    ):  # outside the except block: the message once, without a chained traceback
        pytest.fail(problem, pytrace=False)
    request.node.stash[ACTIVE] = cassette
    track_problems(request, cassette)
    try:
        yield
    finally:
        cassette.stop()


def _marker_options(node: Any) -> tuple[str | None, dict[str, Any]]:
    name: str | None = None
    options: dict[str, Any] = {}
    for marker in reversed(list(node.iter_markers("cassette"))):  # closest marker wins
        if len(marker.args) > 1:
            raise pytest.UsageError("@pytest.mark.cassette takes one name, and options by keyword")
        name = marker.args[0] if marker.args else name
        options.update(marker.kwargs)
    return name, options


def _cassette_options(request: pytest.FixtureRequest, options: dict[str, Any]) -> CassetteOptions:
    config = request.config
    settings: dict[str, Any] = {
        "record_mode": config.getoption("record_mode", None)
        or config.getini("cassette_record_mode"),
        "max_age_days": _days(config.getini("cassette_max_age_days")),
        "timing": float(config.getini("cassette_timing")),
    }
    settings.update(options)
    settings["record_command"] = _record_command(request)
    try:
        return CassetteOptions.build(**settings)
    except (TypeError, ValueError) as exc:
        raise pytest.UsageError(f"@pytest.mark.cassette: {exc}") from exc


def _days(value: str) -> float | None:
    return None if value.strip().lower() in ("", "none", "0") else float(value)


def _record_command(request: pytest.FixtureRequest) -> str:
    config = request.config
    command = f"pytest {shlex.quote(request.node.nodeid)} --record-mode={{mode}}"
    if config.invocation_params.dir != config.rootpath:
        command = f"cd {shlex.quote(str(config.rootpath))} && {command}"
    return command


def cassette_path(item: Any, name: str | None, path: str | os.PathLike[str] | None) -> Path:
    """Where a test's cassette lives: `path` (relative to the test module) or the module's dir."""
    module_dir = Path(item.path).parent
    if path is not None:
        return module_dir / Path(path)
    if name is None:
        name = f"{item.cls.__name__}.{item.name}" if getattr(item, "cls", None) else item.name
    file_name = _UNSAFE_IN_NAME.sub("-", name)
    file_name = file_name if file_name.endswith((".yaml", ".yml")) else file_name + ".yaml"
    return module_dir / "cassettes" / Path(item.path).stem / file_name


# -- orphan cassettes ---------------------------------------------------------------------------------


@dataclass
class SessionCassettes:
    """Cassettes the collected tests name, and the directories to check (with those opened while
    running, by marker, fixture or a plain `use_cassette`, they are the cassettes in use)."""

    named: set[Path] = field(default_factory=set)
    directories: dict[Path, bool] = field(
        default_factory=dict
    )  # -> every test of its module collected
    orphans: list[Path] = field(default_factory=list)

    def note(self, items: list[pytest.Item], narrowed: set[Path]) -> None:
        for item in items:
            if not isinstance(item, pytest.Function):
                continue
            directory = item.path.parent / "cassettes" / item.path.stem
            self.directories.setdefault(directory.resolve(), item.path.resolve() not in narrowed)
            markers = list(item.iter_markers("cassette"))
            if markers or "cassette" in item.fixturenames:
                name, options = _marker_options(item)
                self.named.add(cassette_path(item, name, options.get("path")).resolve())

    def find_orphans(self) -> list[Path]:
        known = self.named | OPENED_PATHS
        return [
            path
            for directory, complete in sorted(self.directories.items())
            if complete and directory.is_dir()
            for path in sorted(directory.glob("*.y*ml"))
            if path.resolve() not in known
        ]


STATE = pytest.StashKey[SessionCassettes]()


@pytest.hookimpl(
    tryfirst=True
)  # before -k/-m/--deselect drop items: they still name their cassettes
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    narrowed = {
        (config.invocation_params.dir / arg.split("::")[0]).resolve()
        for arg in config.args
        if "::" in arg
    }
    config.stash[STATE].note(items, narrowed)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    skip = (
        hasattr(config, "workerinput")  # an xdist worker sees only its share of the run
        or config.getoption("collectonly", False)
        or config.getoption("lf", False)  # --lf collects only the failed tests of each module
        or exitstatus == pytest.ExitCode.INTERRUPTED
    )
    state = config.stash[STATE]
    state.orphans = [] if skip else state.find_orphans()
    fail = config.getoption("cassette_fail_on_orphans") or config.getini("cassette_fail_on_orphans")
    if state.orphans and fail and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    orphans = config.stash[STATE].orphans
    if not orphans:
        return
    terminalreporter.write_sep("-", "agent_testkit: orphan cassettes")
    for path in orphans:
        shown = os.path.relpath(path, config.invocation_params.dir)
        terminalreporter.write_line(f"orphan cassette (no collected test uses it): {shown}")
    if not (
        config.getoption("cassette_fail_on_orphans") or config.getini("cassette_fail_on_orphans")
    ):
        terminalreporter.write_line(
            "delete them, or fail the run on orphans with --cassette-fail-on-orphans "
            "(ini: cassette_fail_on_orphans = true)"
        )
