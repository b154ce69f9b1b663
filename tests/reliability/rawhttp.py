"""A loopback HTTP(S) server that answers with exactly the bytes a test gives it.

Unlike a real HTTP framework it can send anything: a bad status line, garbage headers, a body
shorter than its ``Content-Length``, nothing at all. It runs in a daemon thread (one thread per
connection), so the sync and the async clients can both talk to it, and it is cheap to reuse
across many hypothesis examples: set :attr:`RawHttpServer.reply` before each call.

Each request is read up to the end of its headers plus ``Content-Length`` bytes and recorded in
:attr:`RawHttpServer.requests`; then the current :class:`Reply` is written and the connection is
closed (or reset, or left hanging), so no connection is ever reused between examples.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import struct
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

__all__ = ["RawHttpServer", "RawRequest", "Reply", "http_reply", "json_reply"]

After = Literal["close", "reset", "hang"]


@dataclass(frozen=True)
class Reply:
    """What to send back: ``data`` verbatim, then ``after`` (close with FIN, RST, or hang).

    A hanging connection is closed when the server stops, or after ``hang_seconds``.
    """

    data: bytes
    after: After = "close"
    hang_seconds: float = 5.0


@dataclass(frozen=True)
class RawRequest:
    """One request as received: the request line, headers (names lower-cased) and body."""

    line: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def http_reply(
    status: int = 200,
    body: bytes = b"",
    headers: list[tuple[str, str]] | None = None,
    *,
    reason: str = "X",
    content_length: int | None = None,
) -> bytes:
    """A well-framed HTTP/1.1 response; ``content_length`` overrides the true length."""
    lines = [f"HTTP/1.1 {status} {reason}"]
    names = set()
    for name, value in headers or []:
        lines.append(f"{name}: {value}")
        names.add(name.lower())
    if "content-length" not in names:
        lines.append(f"Content-Length: {len(body) if content_length is None else content_length}")
    if "connection" not in names:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def json_reply(obj: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> bytes:
    """A well-framed JSON response."""
    extra = [("Content-Type", "application/json; charset=utf-8"), *(headers or [])]
    return http_reply(status, json.dumps(obj).encode(), extra)


class RawHttpServer:
    """A threaded raw HTTP server on 127.0.0.1, port 0; optional TLS with ``ssl_context``.

    Use as a context manager. :attr:`base_url` is ``http(s)://127.0.0.1:PORT``.
    """

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.reply = Reply(http_reply(200, b"{}"))
        self.requests: list[RawRequest] = []
        self.tls_errors: list[BaseException] = []
        self._ssl = ssl_context
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._acceptor = threading.Thread(target=self._accept_loop, name="rawhttp", daemon=True)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https`` with TLS)."""
        return f"{'https' if self._ssl else 'http'}://127.0.0.1:{self.port}"

    def __enter__(self) -> RawHttpServer:
        self._acceptor.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop accepting, close every connection and join every thread."""
        self._stop.set()
        self._acceptor.join(5.0)
        self._sock.close()
        with self._lock:
            for conn in list(self._open):
                with contextlib.suppress(OSError):
                    conn.close()
        for thread in self._threads:
            thread.join(5.0)

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
            thread.start()

    def _serve(self, raw: socket.socket) -> None:
        conn = raw
        with self._lock:
            self._open.add(raw)
        try:
            conn.settimeout(5.0)
            if self._ssl is not None:
                try:
                    conn = self._ssl.wrap_socket(raw, server_side=True)
                except (ssl.SSLError, OSError) as exc:
                    self.tls_errors.append(exc)
                    return
            request = self._read_request(conn)
            if request is None:
                return
            self.requests.append(request)
            reply = self.reply
            conn.sendall(reply.data)
            if reply.after == "reset":
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif reply.after == "hang":
                self._stop.wait(reply.hang_seconds)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(raw)
            with contextlib.suppress(OSError):
                conn.close()

    @staticmethod
    def _read_request(conn: socket.socket) -> RawRequest | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for header in header_lines:
            name, _, value = header.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        return RawRequest(line, headers, body)
