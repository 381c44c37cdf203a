"""Pagination of every list route: `?limit=&offset=` in, a JSON array out, the rest in headers.

A list route answers a plain JSON array (what clients index and `len()`), with the total in
`X-Total-Count` and its neighbours in a `Link` header (`rel="next"`, `rel="prev"`, `rel="first"`,
`rel="last"`), as GitHub's API does. A route takes `page: PageDep` and calls
`page.set_headers(response, total)` once it knows the total:

    @router.get("", response_model=list[TaskPublic], responses=PAGINATED)
    async def list_tasks(user: CurrentUser, page: PageDep, response: Response) -> ...:
        items, total = await service.list_tasks(..., limit=page.limit, offset=page.offset)
        page.set_headers(response, total)
        return [TaskPublic.model_validate(t) for t in items]

Bounds are checked at the query (422 in the error envelope), so no value reaches SQL that the
database cannot hold (an `offset` of 2**63 is past PostgreSQL's bigint). Links start with
PUBLIC_URL, never the request's Host header.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_OFFSET = 1_000_000

TOTAL_HEADER = "X-Total-Count"

# For the route decorator (`responses=PAGINATED`): the headers of a 200, in the OpenAPI.
PAGINATED: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            TOTAL_HEADER: {
                "description": "How many items match, over all pages.",
                "schema": {"type": "integer", "minimum": 0},
            },
            "Link": {
                "description": (
                    'The neighbouring pages, as `<url>; rel="next"`, `rel="prev"`, '
                    '`rel="first"` and `rel="last"` (RFC 8288); absent when there is no other page.'
                ),
                "schema": {"type": "string"},
            },
        }
    }
}


class Page:
    """One page of a list: the `limit` and `offset` asked for, and the URL they came with."""

    def __init__(self, request: Request, limit: int = DEFAULT_LIMIT, offset: int = 0) -> None:
        self.limit = limit
        self.offset = offset
        self._url = request.url
        # PUBLIC_URL, never the Host header: a client must not choose where links point
        self._base: str = request.app.state.settings.resolved_public_url

    def links(self, total: int) -> dict[str, int]:
        """The offsets of the neighbouring pages, by relation; none when this page is all."""
        last = max(0, (total - 1) // self.limit * self.limit) if total else 0
        links: dict[str, int] = {}
        if self.offset + self.limit < total and self.offset + self.limit <= MAX_OFFSET:
            links["next"] = self.offset + self.limit  # never a link that would be refused
        if self.offset > 0:
            links["prev"] = min(max(0, self.offset - self.limit), last)
        if links:
            links["first"] = 0
            links["last"] = min(last, MAX_OFFSET)
        return links

    def url(self, offset: int) -> str:
        """This request's URL (filters kept) at another offset, under PUBLIC_URL."""
        here = self._url.include_query_params(limit=self.limit, offset=offset)
        return f"{self._base}{here.path}?{here.query}"

    def set_headers(self, response: Response, total: int) -> None:
        """`X-Total-Count` and, when there are other pages, `Link`."""
        response.headers[TOTAL_HEADER] = str(total)
        links = self.links(total)
        if links:
            response.headers["Link"] = ", ".join(
                f'<{self.url(offset)}>; rel="{rel}"' for rel, offset in links.items()
            )


async def page_of(
    request: Request,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="How many items to return.")
    ] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="How many items to skip.")] = 0,
) -> Page:
    """The `limit` and `offset` query parameters, validated (`async`: no threadpool hop, which
    FastAPI makes for a class used as a dependency)."""
    return Page(request, limit, offset)


PageDep = Annotated[Page, Depends(page_of)]
