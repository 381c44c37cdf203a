"""An outside project, with default client settings and no configuration, tested with the kit."""

import pytest


def test_apps_on_default_settings_work_unconfigured(
    copy_suite, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    copy_suite("unconfigured_apps")
    result = copy_suite("test_unconfigured_apps").runpytest("-q")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*fake LLM got a call beyond the script*"])
    assert "refused" not in result.stdout.str()
