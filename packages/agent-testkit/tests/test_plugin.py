"""The plugin as a user meets it: the DESIGN example, strictness failures and their messages, opt-outs."""

import pytest

CLIENT = """
import httpx
import pytest
from agent_app import TASKS, app


@pytest.fixture
async def client():
    TASKS.clear()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as c:
        yield c
"""


@pytest.fixture
def agent_project(user_project: pytest.Pytester, copy_suite) -> pytest.Pytester:
    copy_suite("agent_app")
    user_project.makeconftest(CLIENT)
    return user_project


def test_design_example_passes(agent_project: pytest.Pytester) -> None:
    agent_project.makepyfile(
        """
        from agent_app import TASKS

        async def test_agent_creates_task(client, fake_llm):
            fake_llm.script(
                fake_llm.tool_call("create_task", title="Write tests", priority="high"),
                fake_llm.reply("I created the task."),
            )
            r = await client.post("/api/agent/chat", json={"message": "Add a high-priority task"})
            assert r.status_code == 200
            assert r.json() == {"response": "I created the task."}
            assert fake_llm.calls[1].tool_result_json("create_task")["title"] == "Write tests"
            assert fake_llm.calls[0].last_user_message == "Add a high-priority task"
            assert TASKS == [{"id": "t1", "title": "Write tests", "priority": "high"}]
        """
    )
    agent_project.runpytest().assert_outcomes(passed=1)


def test_a_call_beyond_the_script_fails_the_test_showing_its_messages(
    agent_project: pytest.Pytester,
) -> None:
    agent_project.makepyfile(
        """
        async def test_two_turns_scripted_one(client, fake_llm):
            fake_llm.script(fake_llm.tool_call("create_task", title="Write tests"))
            r = await client.post("/api/agent/chat", json={"message": "Add a task"})
            assert r.status_code == 503  # the app saw an error from the fake
        """
    )
    result = agent_project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*fake LLM got a call beyond the script:",
            "*call 2 of 2: /v1/chat/completions model='gpt-test' stream=False",
            "*system: 'You manage tasks.'",
            "*user: 'Add a task'",
            "*assistant: None tool_calls=?'create_task'?",
            '*tool: \'{"id": "t1"*tool_call_id=\'call_fake_1_0\'',
        ]
    )


def test_unused_script_items_fail_the_test_one_line_each(agent_project: pytest.Pytester) -> None:
    agent_project.makepyfile(
        """
        async def test_scripted_too_much(client, fake_llm):
            fake_llm.script(fake_llm.reply("Hi."), fake_llm.reply("Never sent."), fake_llm.rate_limited())
            r = await client.post("/api/agent/chat", json={"message": "Hello"})
            assert r.json() == {"response": "Hi."}
        """
    )
    result = agent_project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*fake LLM script item 2 was never used: reply('Never sent.')",
            "*fake LLM script item 3 was never used: rate_limited(retry_after=0.01)",
        ]
    )


def test_problems_are_added_to_a_test_that_fails_anyway(agent_project: pytest.Pytester) -> None:
    agent_project.makepyfile(
        """
        async def test_fails(client, fake_llm):
            fake_llm.script(fake_llm.reply("Hi."), fake_llm.reply("Unused."))
            await client.post("/api/agent/chat", json={"message": "Hello"})
            assert False, "the test's own failure"
        """
    )
    result = agent_project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*the test's own failure*", "*script item 2 was never used: reply('Unused.')"]
    )


def test_marker_opts_out_of_strictness(agent_project: pytest.Pytester) -> None:
    agent_project.makepyfile(
        """
        import pytest

        @pytest.mark.fake_llm(strict=False)
        async def test_not_strict(client, fake_llm):
            r = await client.post("/api/agent/chat", json={"message": "Hello"})
            assert r.json() == {"response": "This is the fake LLM's default reply."}

        @pytest.mark.fake_llm(strict=False, default=...)
        async def test_default_item(client, fake_llm):
            pass

        @pytest.mark.fake_llm(allow_unused=True)
        async def test_unused_allowed(client, fake_llm):
            fake_llm.script(fake_llm.reply("Hi."), fake_llm.reply("Spare."))
            await client.post("/api/agent/chat", json={"message": "Hello"})
        """.replace("default=...", "default=__import__('agent_testkit').FakeLLM.reply('Custom.')")
    )
    agent_project.runpytest().assert_outcomes(passed=3)


def test_unknown_marker_option_is_a_usage_error(user_project: pytest.Pytester) -> None:
    user_project.makepyfile(
        """
        import pytest

        @pytest.mark.fake_llm(stict=False)
        def test_typo(fake_llm):
            pass
        """
    )
    result = user_project.runpytest()
    result.stdout.fnmatch_lines(["*unknown option(s) ?'stict'?*"])
    assert result.ret != 0


def test_real_llm_host_is_refused_once_and_fails_the_test(user_project: pytest.Pytester) -> None:
    user_project.makepyfile(
        """
        import openai
        import pytest

        async def test_forgot_the_base_url(fake_llm):
            client = openai.AsyncOpenAI(base_url="https://api.groq.com/openai/v1", max_retries=2)
            client._calculate_retry_timeout = lambda *args: 0.01  # the SDK's backoff, not ours
            with pytest.raises(openai.APIConnectionError) as error:
                await client.models.list()
            assert "refused a request to the real LLM host 'api.groq.com'" in str(error.value.__cause__)
        """
    )
    # -rN: no short summary, whose echo of the message depends on the terminal's width (COLUMNS)
    result = user_project.runpytest("-rN")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*a request to a real LLM host was refused: https://api.groq.com/openai/v1/models*"]
    )
    assert result.stdout.str().count("was refused: https://api.groq.com") == 1


def test_provider_default_urls_need_no_configuration(user_project: pytest.Pytester) -> None:
    user_project.makepyfile(
        """
        import anthropic
        import openai
        import pytest

        @pytest.fixture
        def no_keys(monkeypatch):
            monkeypatch.delenv("OPENAI_API_KEY", raising=False)
            monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)

        def test_default_clients(no_keys, fake_llm):
            fake_llm.script(fake_llm.reply("From the fake."), fake_llm.reply("Anthropic too."))
            completion = openai.OpenAI().chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": "Hi"}]
            )
            assert completion.choices[0].message.content == "From the fake."
            message = anthropic.Anthropic().messages.create(
                model="claude-test", max_tokens=64, messages=[{"role": "user", "content": "Hi"}]
            )
            assert message.content[0].text == "Anthropic too."
            assert [c.api for c in fake_llm.calls] == ["chat", "messages"]

        def test_marker_base_urls_still_work(fake_llm):
            fake_llm.intercept("https://llm.example.test/v1")
            fake_llm.script(fake_llm.reply("Here too."))
            client = openai.OpenAI(base_url="https://llm.example.test/v1")
            completion = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "Hi"}])
            assert completion.choices[0].message.content == "Here too."

        @pytest.mark.fake_llm(provider_urls=False)
        def test_provider_urls_can_be_refused_instead(fake_llm):
            with pytest.raises(openai.APIConnectionError):
                openai.OpenAI(api_key="sk-test", max_retries=0).models.list()
            fake_llm.refused.clear()
        """
    )
    user_project.runpytest().assert_outcomes(passed=3)


def test_unknown_routes_fail_and_telemetry_is_quiet(user_project: pytest.Pytester) -> None:
    user_project.makepyfile(
        """
        import openai

        def test_unknown_route(fake_llm):
            client = openai.OpenAI(max_retries=3)
            try:
                client.audio.speech.create(model="tts", voice="alloy", input="Hi")
            except openai.NotFoundError as error:
                assert "does not implement POST /v1/audio/speech" in str(error)

        def test_telemetry(fake_llm):
            import httpx
            r = httpx.post("https://api.openai.com/v1/traces/ingest", json={"data": []})
            assert r.status_code == 200
            assert fake_llm.telemetry == [("/v1/traces/ingest", b'{"data":[]}')]
            assert fake_llm.calls == []
        """
    )
    result = user_project.runpytest("-rN")  # no short summary: its width depends on COLUMNS
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*fake LLM got a request to a route it does not implement: POST /v1/audio/speech"]
    )
    assert result.stdout.str().count("does not implement: POST") == 1


def test_other_traffic_passes_through_untouched(user_project: pytest.Pytester) -> None:
    user_project.makepyfile(
        """
        import httpx
        import respx

        async def test_respx_and_mock_transports_still_work(fake_llm):
            with respx.mock:
                respx.get("https://api.github.com/repos/o/r").respond(json={"name": "r"})
                async with httpx.AsyncClient() as client:
                    assert (await client.get("https://api.github.com/repos/o/r")).json() == {"name": "r"}
            mock = httpx.MockTransport(lambda request: httpx.Response(204))
            with httpx.Client(transport=mock) as client:
                assert client.get(fake_llm.base_url + "/models").status_code == 204
        """
    )
    user_project.runpytest().assert_outcomes(passed=1)


def test_base_url_option_and_option_group(user_project: pytest.Pytester) -> None:
    user_project.makepyfile(
        """
        def test_base_url(fake_llm):
            assert fake_llm.base_url == "http://llm.internal.test/openai/v1"
        """
    )
    user_project.runpytest(
        "--fake-llm-base-url", "http://llm.internal.test/openai/v1"
    ).assert_outcomes(passed=1)
    help_text = user_project.runpytest("--help").stdout.str()
    assert "agent_testkit: the scripted fake LLM" in help_text
    assert "--fake-llm-allow-real-hosts" in help_text
    markers = user_project.runpytest("--markers").stdout.str()
    assert "@pytest.mark.fake_llm(strict=True" in markers
