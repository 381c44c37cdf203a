"""`/docs` (Swagger UI) and `/redoc`, with their assets served by this service: they work offline.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so a self-hosted service on a closed
network showed blank pages. The assets come from the `fastapi-offline` package (Swagger UI under
Apache-2.0, ReDoc under MIT; the package's metadata names both licences).
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse

ASSETS_URL = "/docs-assets"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"

API_DESCRIPTION = """\
Tool-calling agents over your tasks and projects, conversations, document Q&A with citations and
GitHub issue triage, over JSON and server-sent events.

**Getting started.** 1. `POST /api/auth/register` with an email and a password (the verification
mail is a file in `./var/mail/` by default; its link opens the web app). 2. Press **Authorize**
and sign in with your email as the username (it calls `POST /api/auth/token`); from a script,
`POST /api/auth/login` and send `Authorization: Bearer <access_token>`. 3. Try `POST /api/tasks`,
then `POST /api/agent/chat` with `{"message": "add a task to write the report"}`: without an LLM
key, start the service with `agent-service serve --llm demo` for an offline model that acts.

Errors are one shape, `{"error": "<code>", "detail": "<sentence>"}`; lists are JSON arrays with
`X-Total-Count` and a `Link` header (`?limit=`, `?offset=`). The web app is at `/`.
"""


def install_offline_docs(app: FastAPI) -> None:
    """Mount the assets and add the two pages (the app is built with docs_url=redoc_url=None)."""
    assets = files("fastapi_offline") / "static"
    app.mount(ASSETS_URL, StaticFiles(directory=str(assets)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title}: API docs",
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_URL}",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True, "displayRequestDuration": True},
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title}: API reference",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
        # ReDoc's sidebar shows a logo from its CDN: images from here only, so nothing leaves.
        page.headers["Content-Security-Policy"] = "img-src 'self' data:"
        return page
