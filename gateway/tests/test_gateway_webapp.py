"""The consumer web app at /app/: served by the real gateway, self-contained, locked down by its CSP."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from gateway_testkit import assert_problem, in_process_gateway

from gateway.personal_data import router as personal_data_router
from gateway.routes import ROUTES, RouteTable
from gateway.settings import GatewaySettings
from gateway.webapp import BUILT_DIR, STATIC_DIR
from servicekit.auth import generate_private_key_pem

ORIGIN = "http://gateway"
APP = "/app/"
# Static and dynamic imports and re-exports: `import x from "./a.js"`, `import "./a.js"`, `import("./a.js")`,
# `export { x } from "./a.js"`.
IMPORT_SPECIFIER = re.compile(
    r"""(?:\bimport\s*(?:[\w*{}\s,$]+\s*from\s*)?|\bexport\s*[\w*{}\s,$]+\s*from\s*|\bimport\s*\(\s*)["']([^"']+)["']"""
)
ABSOLUTE_URL = re.compile(r"\b(?:https?:)?//[\w.-]+\.[a-z]{2,}", re.IGNORECASE)
API_PATH_LITERAL = re.compile(r"""["'`](/(?:v1|auth)/[^"'`?\s]*)""")
# navigator.serviceWorker.register("sw.js"), or register(scriptUrl("sw.js")) through a Trusted Types policy: the
# worker's URL is relative to the page, not to the module.
SERVICE_WORKER = re.compile(r"""serviceWorker\??\.register\(\s*(?:\w+\(\s*)?["']([^"']+)["']""")
JAVASCRIPT = "text/javascript"


class References(HTMLParser):
    """The URLs an HTML page makes the browser load: script src, link href, img src."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self.inline_styles = 0
        self._in_script_without_src = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if "style" in attributes:
            self.inline_styles += 1
        if any(name.startswith("on") for name in attributes):
            self.inline_scripts += 1
        if tag == "script":
            if attributes.get("src"):
                self.urls.append(attributes["src"] or "")
            else:
                self._in_script_without_src = True
        elif tag == "link" and attributes.get("href"):
            self.urls.append(attributes["href"] or "")
        elif tag == "img" and attributes.get("src"):
            self.urls.append(attributes["src"] or "")
        elif tag == "style":
            self.inline_styles += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script_without_src = False

    def handle_data(self, data: str) -> None:
        if self._in_script_without_src and data.strip():
            self.inline_scripts += 1


@pytest.fixture
async def webapp_gateway() -> AsyncIterator[httpx.AsyncClient]:
    # Nothing here reaches a service: the upstreams point at a closed port.
    settings = GatewaySettings(
        environment="test", jwt_private_key=generate_private_key_pem(), otp_secret="webapp-otp-secret",
        internal_token="webapp-internal-token", complaints_url="http://127.0.0.1:9",
        merchants_url="http://127.0.0.1:9", mediation_url="http://127.0.0.1:9", log_json=False, log_level="WARNING",
    )
    async with in_process_gateway(settings) as client:
        yield client


def csp_directives(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


async def crawl(client: httpx.AsyncClient) -> dict[str, httpx.Response]:
    """Every URL the app loads, starting from /app/: the page's references, then each module's imports."""
    seen: dict[str, httpx.Response] = {}
    queue = [urljoin(ORIGIN, APP)]
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        response = await client.get(url)
        seen[url] = response
        assert response.status_code == 200, f"{url} answered {response.status_code}"
        content_type = response.headers["content-type"]
        if content_type.startswith("text/html"):
            page = References()
            page.feed(response.text)
            queue += [urljoin(url, reference) for reference in page.urls]
        elif content_type.startswith(JAVASCRIPT):
            queue += [urljoin(url, specifier) for specifier in IMPORT_SPECIFIER.findall(response.text)]
            queue += [urljoin(urljoin(ORIGIN, APP), worker) for worker in SERVICE_WORKER.findall(response.text)]
    return seen


async def test_the_app_page_is_html_under_a_strict_content_security_policy(
        webapp_gateway: httpx.AsyncClient) -> None:
    response = await webapp_gateway.get(APP)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert '<html lang="zh-CN">' in response.text
    assert 'name="viewport"' in response.text
    directives = csp_directives(response.headers["content-security-policy"])
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["connect-src"] == ["'self'"]
    # Photos: evidence fetched with the bearer token, and the ones being uploaded, shown from blob: URLs.
    assert directives["img-src"] == ["'self'", "blob:"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["trusted-types"] == ["odr-sw"]
    assert not any("unsafe" in source or source == "*" for sources in directives.values() for source in sources)
    assert response.headers["x-content-type-options"] == "nosniff"
    page = References()
    page.feed(response.text)
    # The policy forbids inline code and styles, so the page must not need them.
    assert page.inline_scripts == 0
    assert page.inline_styles == 0


async def test_app_without_the_slash_redirects_to_the_page(webapp_gateway: httpx.AsyncClient) -> None:
    response = await webapp_gateway.get("/app")

    assert response.status_code == 308
    assert response.headers["location"] == APP


async def test_every_asset_the_page_and_its_modules_reference_is_served(webapp_gateway: httpx.AsyncClient) -> None:
    loaded = await crawl(webapp_gateway)

    paths = {urlsplit(url).path for url in loaded}
    modules = {path for path, response in ((urlsplit(url).path, response) for url, response in loaded.items())
               if response.headers["content-type"].startswith(JAVASCRIPT)}
    assert {"/app/js/main.js", "/app/app.css", "/app/icon.svg", "/app/manifest.webmanifest"} <= paths
    # Following the imports reaches every module on disk: the crawl sees the whole app, and no module is orphaned.
    on_disk = {"/app/" + path.relative_to(STATIC_DIR).as_posix() for path in STATIC_DIR.rglob("*.js")}
    assert modules == on_disk
    assert loaded[urljoin(ORIGIN, "/app/app.css")].headers["content-type"].startswith("text/css")
    for response in loaded.values():
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_the_offline_shell_caches_every_file_of_the_app_and_nothing_else(
        webapp_gateway: httpx.AsyncClient) -> None:
    worker = await webapp_gateway.get("/app/sw.js")

    assert worker.status_code == 200
    assert worker.headers["content-type"].startswith(JAVASCRIPT)
    listed = re.search(r"const SHELL = \[(.*?)\];", worker.text, re.DOTALL)
    assert listed is not None
    shell = set(re.findall(r'"([^"]+)"', listed.group(1)))
    on_disk = {path.relative_to(STATIC_DIR).as_posix() for path in STATIC_DIR.rglob("*") if path.is_file()}
    # The worker itself is fetched by the browser, never from the cache.
    assert shell == (on_disk - {"sw.js"}) | {"./"}


async def test_nothing_the_app_loads_comes_from_another_origin(webapp_gateway: httpx.AsyncClient) -> None:
    loaded = await crawl(webapp_gateway)

    assert {urlsplit(url).netloc for url in loaded} == {urlsplit(ORIGIN).netloc}
    for url, response in loaded.items():
        if url.endswith(".svg"):
            continue  # An SVG names its XML namespace with a URL that is never fetched.
        assert not ABSOLUTE_URL.search(response.text), f"{url} refers to another origin"
        if url.endswith(".js"):
            assert "http://" not in response.text, url
            assert "https://" not in response.text, url
        if url.endswith(".css"):
            assert "@import" not in response.text, url
            assert "url(" not in response.text, url


async def test_the_app_calls_only_endpoints_the_gateway_allows(webapp_gateway: httpx.AsyncClient) -> None:
    loaded = await crawl(webapp_gateway)
    table = RouteTable(ROUTES)
    literals = {
        re.sub(r"\$\{[^}]*\}", "x", literal)
        for url, response in loaded.items() if url.endswith(".js")
        for literal in API_PATH_LITERAL.findall(response.text)
    }

    assert {"/v1/consumer/complaints", "/v1/consumer/complaints/x", "/v1/consumer/cases/x", "/auth/otp",
            "/auth/token", "/v1/public/odr-enterprises"} <= literals
    # The gateway answers these itself: its token endpoints and the consumer's composed data export.
    answered_by_the_gateway = {"/auth/otp", "/auth/token", "/auth/revoke",
                               *(getattr(route, "path", "") for route in personal_data_router.routes)}
    for path in literals - answered_by_the_gateway:
        assert any(table.match(method, path) for method in ("GET", "POST")), f"{path} is not allow-listed"


async def test_a_missing_asset_is_a_404_problem_and_paths_cannot_climb_out(
        webapp_gateway: httpx.AsyncClient) -> None:
    assert_problem(await webapp_gateway.get("/app/js/nope.js"), 404, "not-found")
    # The package's Python files sit one directory above the static root.
    climbing = await webapp_gateway.get("/app/%2e%2e/__init__.py")
    assert climbing.status_code == 404
    assert "mount_webapp" not in climbing.text


@pytest.mark.parametrize("screen", ["console", "station", "portal"])
async def test_each_built_screen_is_its_page_under_the_policy_of_the_built_screens(
        webapp_gateway: httpx.AsyncClient, screen: str) -> None:
    assert (BUILT_DIR / screen / "index.html").exists(), "the screens are not built: run `make web`"
    response = await webapp_gateway.get(f"/{screen}/")

    assert response.status_code == 200
    assert '<html lang="zh-CN">' in response.text
    directives = csp_directives(response.headers["content-security-policy"])
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["img-src"] == ["'self'", "blob:"]
    assert directives["require-trusted-types-for"] == ["'script'"]
    assert directives["trusted-types"] == ["vue", "default"]
    # A licence PDF fetched with the token is framed from a blob: URL; nothing else may be framed.
    assert directives["frame-src"] == ["blob:"]
    assert not any("unsafe" in source or source == "*" for sources in directives.values() for source in sources)
    page = References()
    page.feed(response.text)
    assert page.inline_scripts == 0
    assert page.inline_styles == 0
    for reference in page.urls:
        asset = await webapp_gateway.get(urljoin(f"{ORIGIN}/{screen}/", reference))
        assert asset.status_code == 200, reference
        assert reference.startswith("/web/assets/")
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert asset.headers["content-security-policy"] == response.headers["content-security-policy"]


@pytest.mark.parametrize("screen", ["console", "station", "portal"])
async def test_a_built_screen_without_the_slash_redirects_to_the_page(webapp_gateway: httpx.AsyncClient,
                                                                      screen: str) -> None:
    response = await webapp_gateway.get(f"/{screen}")

    assert response.status_code == 308
    assert response.headers["location"] == f"/{screen}/"
