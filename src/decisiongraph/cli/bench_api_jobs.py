"""Jobs of ``decisiongraph bench api``'s client processes: what one client does in one
round, and the sessions that do it.

An :class:`HttpJob` sends requests on one keep-alive HTTP/1.1 socket; a :class:`SqlJob`
runs the raw-database side on one psycopg connection. Both are plain picklable data,
sent to a spawned worker; the worker opens the job's session, which encodes every item
before the timed window and then performs one item per call.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from decisiongraph.cli.bench_store import RawDriver

__all__ = ["HttpJob", "HttpRequest", "Job", "LoadError", "Session", "SqlJob"]


class LoadError(Exception):
    """An item of a job failed (its message says which and why)."""


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request, encoded in advance; ``body`` is sent as ``application/json``."""

    method: str
    path: str
    body: bytes | None = None


@dataclass(frozen=True)
class HttpJob:
    """Requests on one keep-alive connection; every answer must have ``expect_status``."""

    host: str
    port: int
    headers: dict[str, str]
    expect_status: int
    items: list[HttpRequest]
    warmup: list[HttpRequest] = field(default_factory=list)

    def open(self) -> Session:
        return _HttpSession(self)


@dataclass(frozen=True)
class SqlJob:
    """Raw SQL on one psycopg connection of ``driver`` (a bench_store driver).

    ``kind``: ``insert`` (items are rows: one INSERT and one COMMIT each), ``copy``
    (items are lists of rows: one COPY and one COMMIT each) or ``select`` (items are
    parameter tuples of ``query``, autocommit; an empty result fails the item).
    """

    driver: RawDriver[Any]
    kind: str
    items: list[Any]
    warmup: list[Any] = field(default_factory=list)
    query: str = ""

    def open(self) -> Session:
        return _SqlSession(self)


Job = HttpJob | SqlJob


class Session:
    """An open connection performing a job's items."""

    def encode(self, item: Any) -> Any:
        """``item`` as the session sends it (done for every item before the window)."""
        return item

    def __call__(self, item: Any) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _HttpSession(Session):
    """HTTP/1.1 over one keep-alive socket, with requests encoded in advance.

    A plain socket instead of ``http.client``: http.client parses every response's
    headers with the email package (about 100 µs of client CPU per request), CPU that
    the clients would take from the server on a small machine. Responses must carry
    ``Content-Length`` (the service's do) and must not close the connection.
    """

    def __init__(self, job: HttpJob) -> None:
        self._sock = socket.create_connection((job.host, job.port), timeout=120)
        # Requests go out in one sendall; Nagle would only delay the next one.
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        fields = [f"Host: {job.host}:{job.port}", *(f"{k}: {v}" for k, v in job.headers.items())]
        self._head = "".join(f"{field}\r\n" for field in fields)
        self._expect = job.expect_status
        self._buffer = bytearray()

    def encode(self, item: HttpRequest) -> tuple[bytes, str]:
        head = f"{item.method} {item.path} HTTP/1.1\r\n{self._head}"
        if item.body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(item.body)}\r\n"
        return (head + "\r\n").encode() + (item.body or b""), f"{item.method} {item.path}"

    def __call__(self, item: tuple[bytes, str]) -> None:
        wire, what = item
        self._sock.sendall(wire)
        status, body = self._response()
        if status != self._expect:
            raise LoadError(
                f"{what}: HTTP {status}, expected {self._expect}: "
                f"{body[:400].decode('utf-8', 'replace')}"
            )

    def _receive(self) -> None:
        chunk = self._sock.recv(262144)
        if not chunk:
            raise LoadError("The server closed the connection")
        self._buffer += chunk

    def _response(self) -> tuple[int, bytes]:
        buffer = self._buffer
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            self._receive()
        lines = bytes(buffer[:end]).split(b"\r\n")
        length: int | None = None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and b"close" in value.lower():
                raise LoadError("The server closes the connection after this response")
        if length is None:
            raise LoadError("A response without Content-Length")
        total = end + 4 + length
        while len(self._buffer) < total:
            self._receive()
        body = bytes(self._buffer[end + 4 : total])
        del self._buffer[:total]
        return int(lines[0].split(b" ", 2)[1]), body

    def close(self) -> None:
        self._sock.close()


class _SqlSession(Session):
    def __init__(self, job: SqlJob) -> None:
        self._driver = job.driver
        self._kind = job.kind
        self._query = job.query
        self._conn: Any = self._driver.connect()
        # A read is one statement: autocommit, so no transaction brackets it.
        self._conn.autocommit = job.kind == "select"

    def __call__(self, item: Any) -> None:
        if self._kind == "insert":
            self._driver.insert_each(self._conn, [item])
        elif self._kind == "copy":
            self._driver.insert_batch(self._conn, item)
        elif not self._conn.execute(self._query, item).fetchall():
            raise LoadError(f"The raw SELECT found no rows for {item!r}")

    def close(self) -> None:
        self._conn.close()
