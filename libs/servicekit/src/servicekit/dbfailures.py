"""Which database failures are the database's fault, not the request's or the event's.

Requests answer those with a 503 problem and `Retry-After` (the client may simply try again), the inbox retries
them without ever dead-lettering the event, and the background jobs' supervisor restarts whatever they broke.
Everything else (a constraint violated, a bug) keeps its own treatment.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from servicekit.observability import get_logger
from servicekit.problems import Problem, problem_response

# SQLSTATE classes: 08 connection exception, 53 insufficient resources (too many connections, disk full),
# 57 operator intervention (shutdown, crash recovery, statement timeout cancelled the query).
UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57")
# Worth the same transaction again a moment later: serialization failure, deadlock, lock not available.
CONTENTION_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
DEFAULT_RETRY_AFTER_SECONDS = 5

_log = get_logger("servicekit.dbfailures")


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error, what it wraps (SQLAlchemy's `orig`) and what caused it, each once."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += [getattr(current, "orig", None), current.__cause__, current.__context__]


def _sqlstates(error: BaseException) -> set[str]:
    return {state for link in _chain(error) if isinstance(state := getattr(link, "sqlstate", None), str)}


def is_database_unavailable(error: BaseException) -> bool:
    """The server cannot be reached, went away, is starting up or shutting down, or the pool/connect timed out."""
    for link in _chain(error):
        if isinstance(link, ConnectionError | TimeoutError | DisconnectionError | PoolTimeoutError):
            return True
        if isinstance(link, DBAPIError) and link.connection_invalidated:
            return True
        if type(link).__name__ in {"InterfaceError", "ConnectionDoesNotExistError"} and \
                type(link).__module__.startswith("asyncpg"):
            return True
    return any(state[:2] in UNAVAILABLE_SQLSTATE_CLASSES for state in _sqlstates(error))


def is_transient_database_failure(error: BaseException) -> bool:
    """Unavailable, or lost a race for a lock or a serializable snapshot: the same work may succeed if retried."""
    return is_database_unavailable(error) or bool(_sqlstates(error) & CONTENTION_SQLSTATES)


def install_database_outage_handler(app: FastAPI, retry_after_seconds: int = DEFAULT_RETRY_AFTER_SECONDS) -> None:
    """Database failures of the unavailable kind answer 503 `temporarily-unavailable` with Retry-After, never 500.

    Handlers are keyed by exception class, so each class below also sees errors that are not outages: those are
    logged and answered as the generic handler would (500)."""

    async def _database_error(request: Request, exc: Exception) -> JSONResponse:
        if is_transient_database_failure(exc):
            _log.warning("database unavailable; answering 503", path=request.url.path, error=type(exc).__name__)
            return problem_response(request, Problem("temporarily-unavailable",
                                                     headers={"Retry-After": str(retry_after_seconds)}))
        _log.exception("unhandled error", path=request.url.path)
        return problem_response(request, Problem("internal-error"))

    for error_class in (DBAPIError, DisconnectionError, PoolTimeoutError, ConnectionError, TimeoutError):
        app.add_exception_handler(error_class, _database_error)
