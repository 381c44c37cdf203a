"""The message store's rules, below HTTP: ordered appends, and racing turns refused, not interleaved."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from agent_service.conversations import service as conversations
from agent_service.conversations.exceptions import ConversationBusy
from agent_service.conversations.service import NewMessage
from agent_service.llm.messages import ChatMessage
from tests.factories import TestUser


def said(text: str) -> list[NewMessage]:
    return [NewMessage(ChatMessage("user", text))]


async def test_appends_keep_their_order_and_count(app: FastAPI, user: TestUser) -> None:
    async with app.state.sessionmaker() as session:
        conversation = await conversations.create_conversation(
            session, user.id, agent_type="assistant"
        )
        await conversations.append_messages(session, conversation, said("one"))
        await conversations.append_messages(
            session, conversation, [*said("two"), NewMessage(ChatMessage("assistant", "three"))]
        )
        await session.commit()
        rows = await conversations.list_messages(session, conversation)
    assert [(r.position, r.content) for r in rows] == [(0, "one"), (1, "two"), (2, "three")]
    assert conversation.message_count == 3
    assert conversation.title == "one"


async def test_a_turn_racing_on_the_same_conversation_is_refused(
    app: FastAPI, user: TestUser
) -> None:
    async with app.state.sessionmaker() as setup:
        conversation = await conversations.create_conversation(
            setup, user.id, agent_type="assistant"
        )
        await setup.commit()
    async with app.state.sessionmaker() as first, app.state.sessionmaker() as second:
        mine = await conversations.get_conversation(first, user.id, conversation.id)
        theirs = await conversations.get_conversation(second, user.id, conversation.id)
        assert mine is not None and theirs is not None
        await conversations.append_messages(first, mine, said("first"))
        await first.commit()
        with pytest.raises(ConversationBusy) as raised:
            await conversations.append_messages(second, theirs, said("second"))
        assert raised.value.status_code == 409
    async with app.state.sessionmaker() as session:
        rows = await conversations.list_messages(session, conversation)
        assert [r.content for r in rows] == ["first"]
