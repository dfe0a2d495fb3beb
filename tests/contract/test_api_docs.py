"""/docs and /redoc name no asset outside this server, and the server serves every one they
name (issue #11, item 6: the pages render offline). The browser half: tests/browser/test_docs.py."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.server import RunningServer

ABSOLUTE_URL = re.compile(r"""(?:https?:)?//[^\s"'<>)]+""")
# Where the pages load things from: src/href/spec-url attributes, Swagger UI's `url: '...'`.
ASSET_REF = re.compile(
    r"""\b(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|\burl:\s*["']([^"']+)["']"""
)


def _asset_refs(html: str) -> list[str]:
    return [a or b for a, b in ASSET_REF.findall(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_page_names_no_url_outside_this_server(server: RunningServer, page: str) -> None:
    response = httpx.get(server.base_url + page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    # The browser itself refuses anything the page's scripts would fetch from elsewhere.
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "img-src 'self' data:" in policy
    outside = [
        url for url in ABSOLUTE_URL.findall(response.text) if not url.startswith(server.base_url)
    ]
    assert outside == []


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("/docs", {"swagger-ui-bundle.js": "javascript", "swagger-ui.css": "text/css"}),
        ("/redoc", {"redoc.standalone.js": "javascript"}),
    ],
)
def test_every_asset_the_docs_page_names_is_served_here(
    server: RunningServer, page: str, expected: dict[str, str]
) -> None:
    refs = _asset_refs(httpx.get(server.base_url + page).text)
    assert "/openapi.json" in refs
    named = {ref.rsplit("/", 1)[-1]: ref for ref in refs}
    assert set(expected) <= set(named), refs
    for ref in refs:
        served = httpx.get(server.base_url + ref)
        assert served.status_code == 200, ref
        assert served.content, ref
    for name, content_type in expected.items():
        assert content_type in httpx.get(server.base_url + named[name]).headers["content-type"]


def test_an_unknown_docs_asset_is_a_linq_404(server: RunningServer) -> None:
    response = httpx.get(server.base_url + "/static/docs/nope.js")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == 1005


def test_the_docs_keep_the_api_title(server: RunningServer) -> None:
    assert "<title>openlinq - Swagger UI</title>" in httpx.get(server.base_url + "/docs").text
    assert "<title>openlinq - ReDoc</title>" in httpx.get(server.base_url + "/redoc").text
    info = httpx.get(server.base_url + "/openapi.json").json()["info"]
    assert info["title"] == "openlinq"
