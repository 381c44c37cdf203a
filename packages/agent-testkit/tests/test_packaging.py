"""Ready to publish: `uv build` makes a wheel and an sdist, and the wheel installs alone in a fresh virtualenv
with only its own dependencies (from uv's cache, or the package registry when the cache lacks one), where
its plugin loads and a user's tests pass. The README's examples are checked in test_readme_examples.py."""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1]
UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
USER_TEST = """
import openai


def test_a_tool_round_trip(fake_llm):
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    fake_llm.script(fake_llm.tool_call("get_weather"), fake_llm.reply("Sunny."))
    client = openai.OpenAI()
    ask = [{"role": "user", "content": "Weather?"}]
    first = client.chat.completions.create(model="m", messages=ask, tools=[tool])
    assert first.choices[0].message.tool_calls[0].function.name == "get_weather"
    assert client.chat.completions.create(model="m", messages=ask).choices[0].message.content == "Sunny."


def test_an_upload(fake_llm):
    fake_llm.route("files")
    uploaded = openai.OpenAI().files.create(file=("a.jsonl", b"{}"), purpose="batch")
    assert fake_llm.files[uploaded.id].content == b"{}"
"""

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(UV is None, reason="uv is not installed"),
    pytest.mark.timeout(300),
]


def run(*command: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run(  # noqa: S603 - fixed commands of our own
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home())},  # no PYTHONPATH: the wheel alone
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def uv(*command: str | Path) -> str:
    """A uv command from its cache alone (`--offline`); if the cache lacks something, from the package
    registry (the only network a test may use)."""
    try:
        return run(UV or "uv", *command, "--offline")
    except AssertionError:
        return run(UV or "uv", *command)


def test_the_wheel_installs_alone_and_its_plugin_works(tmp_path: Path) -> None:
    assert UV is not None
    version = tomllib.loads((PACKAGE / "pyproject.toml").read_text())["project"]["version"]
    dist = tmp_path / "dist"
    uv("build", "--out-dir", dist, PACKAGE)
    wheel = dist / f"agent_testkit-{version}-py3-none-any.whl"
    assert sorted(p.name for p in dist.glob("agent_testkit-*")) == [
        wheel.name,
        f"agent_testkit-{version}.tar.gz",
    ]
    venv = tmp_path / "venv"
    run(UV, "venv", "--quiet", "--python", sys.executable, venv)
    uv("pip", "install", "--quiet", "--python", venv / "bin" / "python", wheel)
    installed = run(UV, "pip", "freeze", "--python", venv / "bin" / "python")
    assert f"agent-testkit @ file://{wheel}" in installed
    assert "agent-service" not in installed and "aiohttp" not in installed  # its own deps only
    (tmp_path / "test_user.py").write_text(USER_TEST)
    output = run(
        venv / "bin" / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=tmp_path
    )
    assert "2 passed" in output
