"""Whether an enterprise principal's tokens may still be used: asked of merchants, each answer kept a few seconds.

A client's tokens live an hour (a portal user's 15 minutes), but a suspension or revocation must bite within 5 s,
so every enterprise request checks its principal against merchants, cached per principal for `ttl` seconds: an API
client by its client id (`GET /internal/v1/principals/{client_id}/active`), a person signed in to the enterprise
portal by their username (`GET /internal/v1/principals/portal-users/{username}/active`, false once the account is
disabled or reset or the enterprise is no longer approved). When merchants cannot answer, the request fails (503)
rather than trusting a principal that may have been revoked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import aiohttp

from servicekit.auth import Audience, Principal
from servicekit.observability import get_logger
from servicekit.problems import Problem

ACTIVE_PATH = "/internal/v1/principals/{client_id}/active"
PORTAL_USER_ACTIVE_PATH = "/internal/v1/principals/portal-users/{username}/active"

Fetch = Callable[[str], Awaitable[bool]]
log = get_logger("gateway.revocation")


def status_path(principal: Principal) -> str | None:
    """The merchants path answering whether this enterprise principal is still active (None: nothing to check)."""
    if principal.aud != Audience.MERCHANT:
        return None
    if principal.client_id is not None:
        return ACTIVE_PATH.format(client_id=quote(principal.client_id, safe=""))
    if principal.is_portal_user:
        return PORTAL_USER_ACTIVE_PATH.format(username=quote(principal.sub, safe=""))
    return None


class ClientStatusCache:
    """Remembers each principal's active flag for `ttl` seconds, keyed by its status path; concurrent misses for one
    principal share one fetch."""

    def __init__(self, fetch: Fetch, *, ttl: float, clock: Callable[[], float] = time.monotonic,
                 max_entries: int = 50_000) -> None:
        self.fetch = fetch
        self.ttl = ttl
        self.clock = clock
        self.max_entries = max_entries
        self._answers: dict[str, tuple[bool, float]] = {}
        self._pending: dict[str, asyncio.Future[bool]] = {}

    async def is_active(self, client_id: str) -> bool:
        """The client's status, fetched when the remembered answer is older than `ttl`."""
        remembered = self._answers.get(client_id)
        if remembered is not None and self.clock() - remembered[1] < self.ttl:
            return remembered[0]
        pending = self._pending.get(client_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending[client_id] = future
        try:
            asked_at = self.clock()
            active = await self.fetch(client_id)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # marks it retrieved when nobody else was waiting
            raise
        finally:
            self._pending.pop(client_id, None)
        if len(self._answers) >= self.max_entries:
            self._answers.pop(next(iter(self._answers)))
        # Stamped with the time of asking: an answer is never trusted beyond `ttl` after merchants gave it.
        self._answers[client_id] = (active, asked_at)
        future.set_result(active)
        return active


def merchants_fetch(session: Callable[[], aiohttp.ClientSession], base_url: str, internal_token: str,
                    timeout: float) -> Fetch:
    """A fetch asking the merchants service over the gateway's pooled session."""
    client_timeout = aiohttp.ClientTimeout(total=timeout)

    async def fetch(path: str) -> bool:
        url = base_url + path
        try:
            async with session().get(url, headers={"X-Internal-Token": internal_token},
                                     timeout=client_timeout) as answer:
                if answer.status != 200:
                    raise Problem("upstream-unavailable", "The credential status check failed", service="merchants")
                body = await answer.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("credential status check failed", error=repr(exc))
            raise Problem("upstream-unavailable", "The credential status check is unavailable",
                          service="merchants") from exc
        return body.get("active") is True

    return fetch
