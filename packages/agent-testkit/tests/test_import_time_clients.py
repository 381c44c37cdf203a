"""Clients built at import work with no key in the environment: the plugin sets placeholder keys before
any test module is imported. Without them (`--no-llm-placeholder-keys`) the same suite cannot be
collected, which is what users met before."""

import pytest

PROVIDER_ENV = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_BASE_URL",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
)


@pytest.fixture
def import_time_suite(copy_suite, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    copy_suite("support_agent")
    copy_suite("import_time_clients")
    return copy_suite("test_import_time_clients")


def test_clients_built_at_import_work_unconfigured(import_time_suite: pytest.Pytester) -> None:
    import os

    import_time_suite.runpytest("-q").assert_outcomes(passed=3)
    assert "OPENAI_API_KEY" not in os.environ  # the session's placeholders are gone after it


def test_without_placeholder_keys_they_fail_at_collection(
    import_time_suite: pytest.Pytester,
) -> None:
    result = import_time_suite.runpytest("-q", "--no-llm-placeholder-keys")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*OPENAI_API_KEY*"])


def test_the_ini_setting_turns_them_off_too(import_time_suite: pytest.Pytester) -> None:
    ini = (import_time_suite.path / "tox.ini").read_text()
    import_time_suite.makeini(ini.replace("[pytest]", "[pytest]\nllm_placeholder_keys = false", 1))
    import_time_suite.runpytest("-q").assert_outcomes(errors=1)


def test_a_key_already_set_is_kept(user_project: pytest.Pytester, monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-mine")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    user_project.makepyfile(
        """
        import os

        def test_keys():
            assert os.environ["ANTHROPIC_API_KEY"] == "sk-ant-mine"
            assert os.environ["OPENAI_API_KEY"] == "sk-fake-llm"
            assert os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
        """
    )
    user_project.runpytest("-q").assert_outcomes(passed=1)
