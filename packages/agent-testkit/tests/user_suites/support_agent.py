"""A bank-support agent written the way pydantic-ai's bank_support example is: every object built at
import, on the model's defaults (`Agent("openai:gpt-4o")`, no key, no base URL), with dependencies, a
dynamic system prompt, a tool and a structured output. Written for the kit (see tests/fixtures/SOURCES.md).
"""

from dataclasses import dataclass

from pydantic import BaseModel, Field
from pydantic_ai import Agent, RunContext


class CustomerStore:
    """Stands for the bank's database."""

    async def name(self, customer_id: int) -> str | None:
        return {7: "Ada"}.get(customer_id)

    async def balance(self, customer_id: int, *, with_pending: bool) -> float:
        return 250.5 if with_pending else 200.0


@dataclass
class SupportDeps:
    customer_id: int
    store: CustomerStore


class SupportAnswer(BaseModel):
    advice: str = Field(description="What to tell the customer")
    block_card: bool = Field(description="Whether to block the customer's card")
    risk: int = Field(description="How risky the query is", ge=0, le=10)


support_agent = Agent(
    "openai:gpt-4o",
    deps_type=SupportDeps,
    output_type=SupportAnswer,
    instructions="You support the bank's customers and judge the risk of their query.",
)


@support_agent.instructions
async def customer_name(ctx: RunContext[SupportDeps]) -> str:
    return f"The customer's name is {await ctx.deps.store.name(ctx.deps.customer_id)!r}."


@support_agent.tool
async def customer_balance(ctx: RunContext[SupportDeps], with_pending: bool) -> str:
    """The customer's balance."""
    return f"${await ctx.deps.store.balance(ctx.deps.customer_id, with_pending=with_pending):.2f}"
