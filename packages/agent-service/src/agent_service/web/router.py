"""The web app's pages and assets: one HTML shell for every page path; the scripts do the rest."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from agent_service.errors import error_response
from agent_service.web.assets import Asset, load_assets
from agent_service.web.exceptions import AssetNotFound
from agent_service.web.security import SECURITY_HEADERS

router = APIRouter(include_in_schema=False)

ASSETS = load_assets()
SHELL = "index.html"

#: Paths a person opens (and the mails link to); each answers the same shell, which routes itself.
PAGE_PATHS = (
    "/",
    "/login",
    "/register",
    "/forgot-password",
    "/verify-email",
    "/reset-password",
    "/chat",
    "/conversations",
    "/tasks",
    "/projects",
    "/documents",
    "/documents/page",
    "/assistants",
    "/admin/users",
    "/admin/deliveries",
)


#: Paths that are never pages: an unknown one there is the API's JSON 404.
NOT_PAGES = ("/api/", "/static/", "/docs", "/redoc", "/openapi.json", "/metrics", "/webhooks/")


def asset_response(asset: Asset, request: Request, status_code: int = 200) -> Response:
    """The asset with the security headers; a client holding the same version gets a 304."""
    headers = {**SECURITY_HEADERS, "ETag": asset.etag, "Cache-Control": "no-cache"}
    if status_code == 200 and request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, status_code, media_type=asset.media_type, headers=headers)


async def page_not_found(request: Request, exc: Exception) -> Response:
    """A person who opens a page that does not exist gets the app's "Page not found" page (a 404
    with the shell, which shows it); the API and its clients keep the JSON envelope."""
    path = request.url.path
    is_page = request.method in ("GET", "HEAD") and not path.startswith(NOT_PAGES)
    if is_page and "text/html" in request.headers.get("accept", ""):
        return asset_response(ASSETS[SHELL], request, status_code=404)
    headers = exc.headers if isinstance(exc, StarletteHTTPException) else None
    return error_response(
        404, {"error": "not_found", "detail": "No such route or resource."}, headers
    )


def install_page_not_found(app: FastAPI) -> None:
    """Routes nobody matched answer `page_not_found` (a 404 raised by the router, not a
    domain's NotFound, which keeps its own sentence)."""
    app.add_exception_handler(404, page_not_found)


async def page(request: Request) -> Response:
    """The web app's HTML shell."""
    return asset_response(ASSETS[SHELL], request)


for _path in PAGE_PATHS:
    router.add_api_route(_path, page, methods=["GET", "HEAD"], include_in_schema=False)


@router.api_route("/static/{asset_path:path}", methods=["GET", "HEAD"])
async def static_asset(asset_path: str, request: Request) -> Response:
    """A script, style sheet or image of the web app."""
    asset = ASSETS.get(asset_path)
    if asset is None or asset_path == SHELL:
        raise AssetNotFound(f"File {asset_path!r} not found.")
    return asset_response(asset, request)
