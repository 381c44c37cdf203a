"""Two small apps as their authors wrote them, with every client on its defaults: no base URL, no key."""

import json

import anthropic
from agents import Agent, Runner, function_tool


@function_tool
def create_task(title: str) -> str:
    """Create a task."""
    return json.dumps({"id": "t1", "title": title})


async def ask_task_agent(message: str) -> str:
    """An openai-agents app: the default Agent, on the Responses API and the default OpenAI client."""
    agent = Agent(name="Tasks", instructions="You manage tasks.", tools=[create_task])
    result = await Runner.run(agent, message)
    return str(result.final_output)


async def summarise(text: str) -> str:
    """An anthropic-SDK app, streaming its answer."""
    client = anthropic.AsyncAnthropic()
    async with client.messages.stream(
        model="claude-test",
        max_tokens=256,
        system="Summarise in one sentence.",
        messages=[{"role": "user", "content": text}],
    ) as stream:
        return await stream.get_final_text()
