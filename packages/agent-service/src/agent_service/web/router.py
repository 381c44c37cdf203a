"""The web app's pages and assets: one HTML shell for every page path; the scripts do the rest."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

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
    "/admin/users",
    "/admin/deliveries",
)


def asset_response(asset: Asset, request: Request) -> Response:
    """The asset with the security headers; a client holding the same version gets a 304."""
    headers = {**SECURITY_HEADERS, "ETag": asset.etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


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
