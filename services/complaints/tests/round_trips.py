"""A TCP proxy in front of PostgreSQL that counts round trips: the server ends every exchange the client waits for
(a simple query such as BEGIN or COMMIT, or an extended-protocol batch up to its Sync) with one ReadyForQuery
message, so the number of those it sends is the number of times the client waited for the server."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator

# Requests a client may send before its startup message; the server answers each with one unframed byte.
_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104
_READY_FOR_QUERY = b"Z"


class RoundTrips:
    """Counts ReadyForQuery messages on every connection made through it, since it started or was last reset."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.count = 0
        self.listening_port = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def reset(self) -> int:
        """The count so far, and start again from zero."""
        counted, self.count = self.count, 0
        return counted

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[RoundTrips]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.listening_port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection(self.host, self.port)
        unframed_replies = asyncio.Queue[None]()
        for task in (asyncio.create_task(self._from_client(client_reader, server_writer, unframed_replies)),
                     asyncio.create_task(self._from_server(server_reader, client_writer, unframed_replies))):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _from_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                           unframed_replies: asyncio.Queue[None]) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                length, code = struct.unpack("!ii", head := await reader.readexactly(8))
                if code in (_SSL_REQUEST, _GSSENC_REQUEST):
                    unframed_replies.put_nowait(None)
                    writer.write(head)
                    continue
                writer.write(head + await reader.readexactly(length - 8))
                break
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _from_server(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                           unframed_replies: asyncio.Queue[None]) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                kind = await reader.readexactly(1)
                if not unframed_replies.empty():
                    unframed_replies.get_nowait()
                    writer.write(kind)
                    continue
                head = await reader.readexactly(4)
                body = await reader.readexactly(struct.unpack("!i", head)[0] - 4)
                if kind == _READY_FOR_QUERY:
                    self.count += 1
                writer.write(kind + head + body)
                await writer.drain()
        writer.close()
