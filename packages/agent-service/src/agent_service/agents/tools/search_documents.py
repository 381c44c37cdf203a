"""`search_documents`: find passages in the user's documents (researcher)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agent_service.agents.tool import JSONObject, Tool, ToolContext
from agent_service.db import parse_id
from agent_service.documents import service as documents
from agent_service.documents.exceptions import DocumentNotFound


class SearchDocumentsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=1000, description="Words to look for.")
    document_id: str | None = Field(
        default=None, description="Search only this document (an id from an earlier result)."
    )
    limit: int = Field(default=5, ge=1, le=20)


async def search_documents(context: ToolContext, args: SearchDocumentsArgs) -> JSONObject:
    document_id = None
    if args.document_id is not None and (document_id := parse_id(args.document_id)) is None:
        raise DocumentNotFound()
    hits = await documents.search_documents(
        context.session, context.user_id, args.query, document_id=document_id, limit=args.limit
    )
    return {"results": [hit.model_dump(mode="json") for hit in hits], "count": len(hits)}


TOOL = Tool(
    name="search_documents",
    description=(
        "Full-text search over the user's uploaded documents, best passages first. Returns each "
        "passage's chunk_id, document, page and an excerpt; read one whole with "
        "read_document_chunk."
    ),
    args_model=SearchDocumentsArgs,
    fn=search_documents,
)
