"""Shared by the kit's own tests: copy a user suite into a pytester directory with a user's settings."""

from pathlib import Path

import httpcore  # noqa: F401 - imported here so in-process pytester runs, which drop the modules they
import httpcore2  # noqa: F401 - import, do not leave httpx/httpx2 mapping errors of a dropped copy
import pytest

USER_SUITES = Path(__file__).parent / "user_suites"
collect_ignore = ["user_suites"]  # user-side modules, run only inside pytester
INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings = error
addopts = --strict-markers -p no:cacheprovider -p no:hypothesispytest -p no:faker -p no:xdist -p no:xdist.looponfail
  -p no:schemathesis -p no:langsmith_plugin
"""
# Other plugins installed in the workspace are switched off inside pytester: re-importing them (and their
# assertion rewriting) in every in-process run would cost about a second a run. schemathesis and langsmith
# are off in the outer run too, so nothing of theirs was imported to reuse: with them, the 11 runs of
# test_plugin.py took 12.8 s, without them 2.3 s.


@pytest.fixture
def user_project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory with the user-side helpers (clients.py) and a user's pytest settings."""
    pytester.makeini(INI)
    pytester.makepyfile(clients=(USER_SUITES / "clients.py").read_text())
    return pytester


@pytest.fixture
def copy_suite(user_project: pytest.Pytester):
    """Copy a module of user_suites/ into the pytester directory, by name."""

    def copy(name: str) -> pytest.Pytester:
        user_project.makepyfile(**{name: (USER_SUITES / f"{name}.py").read_text()})
        return user_project

    return copy
