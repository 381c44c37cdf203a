"""An outside project whose clients are built at import, tested with the kit and nothing else."""

from import_time_clients import anthropic_client, chat_model, openai_client
from support_agent import CustomerStore, SupportAnswer, SupportDeps, support_agent


async def test_the_support_agent_answers_with_the_balance(fake_llm):
    fake_llm.script(
        fake_llm.tool_call("customer_balance", with_pending=True),
        fake_llm.tool_call(
            "final_result", advice="Your balance is $250.50, Ada.", block_card=False, risk=1
        ),
    )
    deps = SupportDeps(customer_id=7, store=CustomerStore())
    result = await support_agent.run("What is my balance?", deps=deps)
    assert result.output == SupportAnswer(
        advice="Your balance is $250.50, Ada.", block_card=False, risk=1
    )
    assert "The customer's name is 'Ada'." in fake_llm.calls[0].system_prompt
    assert fake_llm.calls[1].tool_result("customer_balance") == "$250.50"


def test_module_level_sdk_clients(fake_llm):
    fake_llm.script(fake_llm.reply("From the module's client."), fake_llm.reply("From LangChain."))
    completion = openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}]
    )
    assert completion.choices[0].message.content == "From the module's client."
    assert chat_model.invoke("Hi").text == "From LangChain."


async def test_module_level_anthropic_client(fake_llm):
    fake_llm.script(fake_llm.reply("Hello from Claude."))
    message = await anthropic_client.messages.create(
        model="claude-test", max_tokens=64, messages=[{"role": "user", "content": "Hi"}]
    )
    assert message.content[0].text == "Hello from Claude."
