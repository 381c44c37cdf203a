"""The web app's pages and assets as HTTP sees them: served, locked down by headers, no inline code.

What a browser does with them is in tests/e2e/test_web_*.py; these are the cheap checks.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from importlib.resources import files

import httpx
import pytest

from agent_service.web.router import PAGE_PATHS

STATIC = files("agent_service.web") / "static"
IMPORT = re.compile(r"""^\s*import\s[^"']*["']([^"']+)["'];""", re.MULTILINE)
#: Ways to turn a string into markup or code; output is built from text nodes only.
FORBIDDEN_IN_SCRIPTS = re.compile(
    r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setHTMLUnsafe"
)


class ShellParser(HTMLParser):
    """Collects what the shell loads and anything inline that the CSP would have to allow."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.stylesheets: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.inline += [f"{tag}[{name}]" for name in attributes if name.startswith("on")]
        if "style" in attributes or tag == "style":
            self.inline.append(f"{tag} style")
        if tag == "script":
            self.scripts.append(attributes)
            self._in_script = True
        if tag == "link" and attributes.get("rel") == "stylesheet":
            self.stylesheets.append(attributes["href"] or "")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append("script text")


def module_files() -> list[str]:
    folder = STATIC / "js"
    found = [f"js/{entry.name}" for entry in folder.iterdir() if entry.name.endswith(".js")]
    found += [
        f"js/pages/{entry.name}"
        for entry in (folder / "pages").iterdir()
        if entry.name.endswith(".js")
    ]
    return sorted(found)


@pytest.mark.parametrize("path", PAGE_PATHS)
async def test_every_page_is_the_shell_with_the_security_headers(
    client: httpx.AsyncClient, path: str
) -> None:
    r = await client.get(path, params={"token": "abc"} if "token" in path else None)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    csp = r.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-frame-options"] == "DENY"
    assert '<script type="module" src="/static/js/app.js"></script>' in r.text


async def test_the_shell_has_no_inline_script_style_or_handler(client: httpx.AsyncClient) -> None:
    parser = ShellParser()
    parser.feed((await client.get("/")).text)
    assert parser.inline == []
    assert parser.scripts and all(
        (s.get("src") or "").startswith("/static/") for s in parser.scripts
    )
    assert parser.stylesheets == ["/static/app.css"]


async def test_every_script_and_what_it_imports_is_served_as_javascript(
    client: httpx.AsyncClient,
) -> None:
    for name in module_files():
        r = await client.get(f"/static/{name}")
        assert r.status_code == 200, name
        assert r.headers["content-type"] == "text/javascript; charset=utf-8"
        assert "content-security-policy" in r.headers and r.headers["x-content-type-options"]
        base = name.rsplit("/", 1)[0]
        for target in IMPORT.findall(r.text):
            resolved = httpx.URL(f"http://x/static/{base}/").join(target).path
            assert (await client.get(resolved)).status_code == 200, f"{name} imports {target}"
    css = await client.get("/static/app.css")
    assert (css.status_code, css.headers["content-type"]) == (200, "text/css; charset=utf-8")


def test_no_script_turns_a_string_into_markup_or_code() -> None:
    for name in module_files():
        source = (STATIC / name).read_text()
        assert not FORBIDDEN_IN_SCRIPTS.search(source), name


async def test_an_unchanged_asset_is_not_sent_again(client: httpx.AsyncClient) -> None:
    first = await client.get("/static/js/app.js")
    again = await client.get("/static/js/app.js", headers={"If-None-Match": first.headers["etag"]})
    assert (again.status_code, again.content) == (304, b"")
    assert again.headers["content-security-policy"] == first.headers["content-security-policy"]


@pytest.mark.parametrize(
    "path",
    ["/static/nope.js", "/static/index.html", "/static/../web/router.py", "/static/%2e%2e/app.py"],
)
async def test_only_the_packaged_assets_are_served(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.status_code == 404
    assert r.json()["error"] in {"asset_not_found", "not_found"}


async def test_pages_stay_out_of_the_api_description(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert not [p for p in paths if p in PAGE_PATHS or p.startswith("/static")]
