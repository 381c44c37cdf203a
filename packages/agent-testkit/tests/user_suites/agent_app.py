"""A small agent service as a user would have: its own OpenAI client, built before any test runs."""

import json

import httpx
import openai
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

LLM_BASE_URL = "http://fake-llm.test/v1"  # what the service's settings would say in tests
TASKS: list[dict] = []
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "create_task",
            "parameters": {
                "type": "object",
                "properties": {"title": {"type": "string"}, "priority": {"type": "string"}},
            },
        },
    }
]
# Built at import time, long before the fake_llm fixture starts: interception must still apply.
llm = openai.AsyncOpenAI(
    base_url=LLM_BASE_URL, api_key="sk-test", http_client=httpx.AsyncClient(), max_retries=0
)


def create_task(title: str, priority: str = "medium") -> dict:
    task = {"id": f"t{len(TASKS) + 1}", "title": title, "priority": priority}
    TASKS.append(task)
    return task


async def chat(request: Request) -> JSONResponse:
    body = await request.json()
    messages = [
        {"role": "system", "content": "You manage tasks."},
        {"role": "user", "content": body["message"]},
    ]
    for _ in range(5):
        try:
            completion = await llm.chat.completions.create(
                model="gpt-test", messages=messages, tools=TOOLS
            )
        except openai.APIError as exc:
            return JSONResponse({"error": "llm_unavailable", "detail": str(exc)}, status_code=503)
        message = completion.choices[0].message
        if not message.tool_calls:
            return JSONResponse({"response": message.content})
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            result = create_task(**json.loads(call.function.arguments))
            messages.append(
                {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)}
            )
    return JSONResponse({"error": "agent_step_limit"}, status_code=502)


app = Starlette(routes=[Route("/api/agent/chat", chat, methods=["POST"])])
