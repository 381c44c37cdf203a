"""The network guard, as a user meets it: a test that forgets `fake_llm` fails at once, naming itself, the
host and the fixture; `--allow-llm-network` and the marker lift it; fakes and cassettes are not hindered."""

import pytest

GUARD_LINE = (
    "*agent_testkit network guard: test_forgotten_fixture.py::{test} sent a request to the real LLM "
    "host '{host}'*Use the fake_llm fixture*"
)
# A real request that cannot leave this machine: through a proxy on a closed local port.
REACHES_THE_NETWORK = """
import httpx
import pytest


@pytest.fixture
def no_way_out(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")


def test_reaches_for_openai(no_way_out):
    with pytest.raises((httpx.ProxyError, httpx.ConnectError)):
        httpx.get("https://api.openai.com/v1/models", timeout=5)


@pytest.mark.allow_llm_network
def test_marked(no_way_out):
    with pytest.raises((httpx.ProxyError, httpx.ConnectError)):
        httpx.get("https://api.openai.com/v1/models", timeout=5)
"""


def test_a_forgotten_fixture_fails_naming_the_test_host_and_fixture(copy_suite) -> None:
    # -rN: no short summary, whose echo of the message depends on the terminal's width (COLUMNS)
    result = copy_suite("test_forgotten_fixture").runpytest("-q", "-rN")
    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines(
        [GUARD_LINE.format(test="test_forgot_the_fixture", host="api.openai.com")],
        consecutive=False,
    )
    result.stdout.fnmatch_lines(
        [GUARD_LINE.format(test="test_forgot_the_fixture_with_aiohttp", host="api.anthropic.com")]
    )
    result.stdout.fnmatch_lines(
        [
            GUARD_LINE.format(
                test="test_the_app_swallows_the_refusal_in_a_thread", host="api.openai.com"
            )
        ]
    )
    # once, in its failure section: the SDK did not retry the refusal
    assert result.stdout.str().count("test_forgot_the_fixture sent a request") == 1
    assert "Retrying" not in result.stdout.str()


def test_the_marker_lifts_the_guard_for_its_test(user_project: pytest.Pytester) -> None:
    user_project.makepyfile(test_network=REACHES_THE_NETWORK)
    result = user_project.runpytest("-q")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_network.py::test_reaches_for_openai sent a request*"])


def test_the_option_lifts_the_guard(user_project: pytest.Pytester) -> None:
    user_project.makepyfile(test_network=REACHES_THE_NETWORK)
    user_project.runpytest("-q", "--allow-llm-network").assert_outcomes(passed=2)


def test_fakes_and_cassettes_answer_under_the_guard(user_project: pytest.Pytester) -> None:
    user_project.makepyfile(
        """
        import openai
        import pytest

        def test_fake(fake_llm):
            fake_llm.script(fake_llm.reply("Hi."))
            answer = openai.OpenAI().chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": "Hi"}]
            )
            assert answer.choices[0].message.content == "Hi."

        @pytest.mark.fake_llm(base_urls=["https://api.mistral.ai/v1"])
        def test_a_real_host_the_fake_answers(fake_llm):
            fake_llm.script(fake_llm.reply("Bonjour."))
            client = openai.OpenAI(base_url="https://api.mistral.ai/v1")
            answer = client.chat.completions.create(
                model="mistral-test", messages=[{"role": "user", "content": "Hi"}]
            )
            assert answer.choices[0].message.content == "Bonjour."
        """
    )
    user_project.runpytest("-q").assert_outcomes(passed=2)


def test_a_refusal_during_a_fixture_errors_the_test(user_project: pytest.Pytester) -> None:
    user_project.makepyfile(
        """
        import httpx
        import pytest

        @pytest.fixture
        def warm_up():
            httpx.post("https://api.groq.com/openai/v1/chat/completions", json={})

        def test_uses_it(warm_up):
            pass
        """
    )
    result = user_project.runpytest("-q")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*test_uses_it sent a request to the real LLM host 'api.groq.com'*"]
    )
