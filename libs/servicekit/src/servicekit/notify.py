"""Wake-ups (PostgreSQL NOTIFY) sent after the writing transaction commits, not inside it.

A transaction that NOTIFYs takes one lock at commit that every notifying transaction on the server shares (every
service's database alike), and holds it through its commit's WAL flush. With a NOTIFY in every filing, every outbox
write and every case change, commits queued behind one another: at 340 filings/s on two cores, a fifth to a third
of the backends' non-idle samples were waiting for that lock, and the filing rate stopped there.

So a use case only records what it would announce (`notify_after_commit`). Once its transaction has committed, the
process sends what its transactions recorded within SEND_LINGER_SECONDS, in one statement that is its own
transaction and does not wait for its WAL flush (a notification is not durable anyway). The listeners hear it as
before, only after the rows are visible, and a rolled-back transaction announces nothing. What a crash between the
commit and the send loses, every listener already covers: the relay polls its outbox, the delivery worker its due
rows, and a stream reads its case again whenever its connection comes back.
"""

from __future__ import annotations

import asyncio
import weakref

from sqlalchemy import Engine, event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from servicekit.observability import get_logger

log = get_logger(__name__)

_PENDING = "servicekit.notify_after_commit"
# How long the first wake-up of a quiet moment waits for others to go with it: one send per commit cost a process
# a round trip per filing at 100/s (0.4 ms of complaints' CPU, 0.2 ms of PostgreSQL's). It is also what batches a
# burst of commits into one claim of the outbox relay (which claims as soon as it is woken), one produce request and
# one fetch of each consumer, so an event reaches the broker at most this much later than without it.
SEND_LINGER_SECONDS = 0.02
_SEND = text("""
SELECT set_config('synchronous_commit', 'off', true), count(pg_notify(note.channel, note.payload))
FROM unnest(CAST(:channels AS text[]), CAST(:payloads AS text[])) AS note(channel, payload)
""")


class _Sender:
    """Sends one process's notifications for one database: what arrives within SEND_LINGER_SECONDS of the first, or
    while a send runs, goes in one statement. It holds its engine only while it has something to send, so an engine
    disposed and dropped (tests make one per test) takes its sender with it."""

    def __init__(self) -> None:
        self._engine: AsyncEngine | None = None
        self._pending: dict[tuple[str, str], None] = {}
        self._sending: asyncio.Task[None] | None = None

    def send(self, engine: AsyncEngine, notes: dict[tuple[str, str], None]) -> None:
        self._engine = engine
        self._pending.update(notes)
        if self._sending is None:
            self._sending = asyncio.get_running_loop().create_task(self._send_pending())

    async def sent(self) -> None:
        while self._sending is not None:
            await asyncio.shield(self._sending)

    async def _send_pending(self) -> None:
        try:
            await asyncio.sleep(SEND_LINGER_SECONDS)
            while self._pending and self._engine is not None:
                notes = list(self._pending)
                self._pending.clear()
                try:
                    async with self._engine.connect() as connection:
                        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                        await autocommit.execute(_SEND, {"channels": [channel for channel, _ in notes],
                                                         "payloads": [payload for _, payload in notes]})
                except Exception as exc:  # every listener also finds its work without the wake-up
                    log.warning("notify.failed", channels=sorted({channel for channel, _ in notes}), error=str(exc))
        finally:
            self._sending = None
            self._engine = None


_senders: weakref.WeakKeyDictionary[Engine, _Sender] = weakref.WeakKeyDictionary()


async def notifications_sent() -> None:
    """Return once every wake-up recorded so far in this process has been sent: a service stopping waits for it
    before it closes its connections."""
    for sender in list(_senders.values()):
        await sender.sent()


def _send(engine: AsyncEngine, notes: dict[tuple[str, str], None]) -> None:
    sender = _senders.get(engine.sync_engine)
    if sender is None:
        sender = _senders[engine.sync_engine] = _Sender()
    sender.send(engine, notes)


def notify_after_commit(db: AsyncSession | AsyncConnection, channel: str, payload: str = "") -> None:
    """NOTIFY `channel` with `payload` once the transaction of `db` has committed; nothing if it rolls back. On a
    connection in autocommit, the statement just run has committed, so it is sent at once. The same (channel,
    payload) recorded several times is sent once."""
    if isinstance(db, AsyncConnection):
        connection = db.sync_connection
        if connection is None or connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            raise ValueError("notify_after_commit takes a session, or a connection in autocommit")
        _send(db.engine, {(channel, payload): None})
        return
    bind = db.bind
    engine = bind.engine if isinstance(bind, AsyncConnection) else bind
    if not isinstance(engine, AsyncEngine):
        raise ValueError("notify_after_commit takes a session bound to one engine or connection")
    recorded: tuple[AsyncEngine, dict[tuple[str, str], None]] = db.sync_session.info.setdefault(_PENDING, (engine, {}))
    recorded[1][(channel, payload)] = None


@event.listens_for(Session, "after_commit")
def _send_after_commit(session: Session) -> None:
    recorded: tuple[AsyncEngine, dict[tuple[str, str], None]] | None = session.info.pop(_PENDING, None)
    if recorded is not None:
        _send(*recorded)


@event.listens_for(Session, "after_transaction_end")
def _forget_unsent(session: Session, transaction: SessionTransaction) -> None:
    # After a commit nothing is left; after the rollback of the whole transaction, what it recorded never happened.
    # A savepoint's rollback forgets nothing: a wake-up for rows that are not there costs the listener one look.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
