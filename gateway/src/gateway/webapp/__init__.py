"""The consumer web app: static ES modules served at /app/ with a strict Content-Security-Policy (no build step)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

MOUNT_PATH = "/app"
STATIC_DIR = Path(__file__).parent / "static"

# Everything comes from this origin; no inline script or style, and DOM sinks only take what Trusted Types allow
# (the app builds its DOM with createElement/textContent, so it needs no policy at all).
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "font-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "require-trusted-types-for 'script'",
])
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

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        media_type = MEDIA_TYPES.get(Path(path).suffix or ".html")
        if response.status_code in (200, 304) and media_type is not None:
            response.headers["Content-Type"] = media_type
        response.headers.update(SECURITY_HEADERS)
        return response


def mount_webapp(app: FastAPI) -> None:
    """Serve the app at /app/ (and send /app there); call before any catch-all route."""

    @app.get(MOUNT_PATH, include_in_schema=False)
    async def app_root() -> RedirectResponse:
        return RedirectResponse(MOUNT_PATH + "/", status_code=308)

    app.mount(MOUNT_PATH, WebAppFiles(directory=STATIC_DIR, html=True), name="webapp")
