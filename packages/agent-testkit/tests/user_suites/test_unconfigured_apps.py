"""An outside project's tests: the apps keep their defaults, the tests only script the model."""

from unconfigured_apps import ask_task_agent, summarise


async def test_the_agent_creates_a_task(fake_llm):
    fake_llm.script(
        fake_llm.tool_call("create_task", title="Write tests"),
        fake_llm.reply("I created the task."),
    )
    assert await ask_task_agent("Add a task called Write tests") == "I created the task."
    assert fake_llm.calls[0].system_prompt == "You manage tasks."
    assert fake_llm.calls[1].tool_result_json("create_task") == {"id": "t1", "title": "Write tests"}


async def test_the_agent_survives_a_rate_limit(fake_llm):
    fake_llm.script(fake_llm.rate_limited(retry_after=0.01), fake_llm.reply("Hello."))
    assert await ask_task_agent("Hi") == "Hello."


async def test_the_summary(fake_llm):
    fake_llm.script(fake_llm.reply("It is short.", chunk_delay=0.001))
    assert await summarise("A long text.") == "It is short."
    assert fake_llm.calls[0].last_user_message == "A long text."


async def test_a_forgotten_script_fails_the_test(fake_llm):
    await summarise("Nothing scripted.")
