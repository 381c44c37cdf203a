"""`read_document_chunk`: one passage of the user's documents in full (researcher)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agent_service.agents.tool import JSONObject, Tool, ToolContext
from agent_service.db import parse_id
from agent_service.documents import service as documents
from agent_service.documents.exceptions import ChunkNotFound


class ReadDocumentChunkArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chunk_id: str = Field(description="A chunk_id from search_documents.")


async def read_document_chunk(context: ToolContext, args: ReadDocumentChunkArgs) -> JSONObject:
    chunk_id = parse_id(args.chunk_id)
    if chunk_id is None:
        raise ChunkNotFound()
    chunk = await documents.read_chunk(context.session, context.user_id, chunk_id)
    return {"chunk": chunk.model_dump(mode="json")}


TOOL = Tool(
    name="read_document_chunk",
    description=(
        "Read one passage of the user's documents in full, with its page and the ids of the "
        "passages before and after it."
    ),
    args_model=ReadDocumentChunkArgs,
    fn=read_document_chunk,
)
