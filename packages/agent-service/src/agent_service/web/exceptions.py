"""Errors of the web app's routes."""

from __future__ import annotations

from agent_service.errors import NotFound


class AssetNotFound(NotFound):
    code = "asset_not_found"
