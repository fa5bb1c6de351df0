"""The screens: the consumer web app (static ES modules at /app/, no build step) and the built screens of web/
(the regulator console at /console/, the station desk at /station/, the enterprise portal at /portal/, their shared
chunks at /web/), each with a strict Content-Security-Policy."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import ClassVar

import anyio
from fastapi import FastAPI
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

MOUNT_PATH = "/app"
STATIC_DIR = Path(__file__).parent / "static"
# What `make web` builds from web/ (Vite); absent until then, when its pages answer 404.
BUILT_DIR = Path(__file__).parent / "dist"
BUILT_ASSETS_PATH = "/web"
CONSOLE_PATH = "/console"
STATION_PATH = "/station"
PORTAL_PATH = "/portal"
# Each built screen: where it is served, and its folder in BUILT_DIR.
BUILT_SCREENS = {CONSOLE_PATH: "console", STATION_PATH: "station", PORTAL_PATH: "portal"}

# Everything comes from this origin; no inline script or style, and DOM sinks only take what Trusted Types allow.
# Photos are shown from blob: URLs of this origin: evidence fetched with the bearer token, and the ones being uploaded.
_POLICY = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob:",
    "connect-src 'self'",
    "font-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "require-trusted-types-for 'script'",
]
# The app builds its DOM with createElement/textContent; its one Trusted Types policy, "odr-sw", passes only the
# service worker's own URL to navigator.serviceWorker.register.
CONTENT_SECURITY_POLICY = "; ".join([*_POLICY, "trusted-types odr-sw"])
# The built screens run Vue, whose runtime creates a Trusted Types policy named "vue" (for the static parts of
# compiled templates), and a "default" policy of their own that passes only the empty string (the chart renderer
# clears its container with innerHTML = ''); no other policy may be created, and no other HTML may reach a DOM sink.
# They may also frame blob: URLs of this origin, and only those: the console shows a business licence PDF, fetched
# with the bearer token, in the browser's own PDF viewer (objects and embeds stay forbidden).
BUILT_CONTENT_SECURITY_POLICY = "; ".join([*_POLICY, "frame-src blob:", "trusted-types vue default"])
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    # Unversioned module URLs: the browser revalidates each time (a cheap 304) so an update is never half-applied.
    "Cache-Control": "no-cache",
}
# mimetypes reads the host's tables, which differ between machines; a module must be served as JavaScript.
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
               ".html": "text/html; charset=utf-8", ".svg": "image/svg+xml",
               ".webmanifest": "application/manifest+json"}


class WebAppFiles(StaticFiles):
    """StaticFiles with fixed media types and the security headers on every answer."""

    headers: ClassVar[dict[str, str]] = SECURITY_HEADERS

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        media_type = MEDIA_TYPES.get(Path(path).suffix or ".html")
        if response.status_code in (200, 304) and media_type is not None:
            response.headers["Content-Type"] = media_type
        response.headers.update(self.headers)
        return response


class BuiltFiles(WebAppFiles):
    """The Vite output: its pages under the built screens' policy; content-hashed chunks kept for a year."""

    headers: ClassVar[dict[str, str]] = {**SECURITY_HEADERS, "Content-Security-Policy": BUILT_CONTENT_SECURITY_POLICY}

    async def check_config(self) -> None:
        # Not built yet: answer 404 (the lookup finds nothing) rather than fail every request with a 500.
        if self.directory is not None and await anyio.Path(self.directory).is_dir():
            await super().check_config()

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200 and path.startswith("assets/"):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def mount_webapp(app: FastAPI) -> None:
    """Serve the app at /app/ (and send /app there); call before any catch-all route."""

    @app.get(MOUNT_PATH, include_in_schema=False)
    async def app_root() -> RedirectResponse:
        return RedirectResponse(MOUNT_PATH + "/", status_code=308)

    app.mount(MOUNT_PATH, WebAppFiles(directory=STATIC_DIR, html=True), name="webapp")

    for path, folder in BUILT_SCREENS.items():
        app.add_api_route(path, _redirect_to(path + "/"), include_in_schema=False)
        # check_dir=False: the gateway starts, and its API works, before the screens are built.
        app.mount(path, BuiltFiles(directory=BUILT_DIR / folder, html=True, check_dir=False), name=folder)
    app.mount(BUILT_ASSETS_PATH, BuiltFiles(directory=BUILT_DIR, check_dir=False), name="built")


def _redirect_to(location: str) -> Callable[[], Awaitable[RedirectResponse]]:
    async def redirect() -> RedirectResponse:
        return RedirectResponse(location, status_code=308)
    return redirect
