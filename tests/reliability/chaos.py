"""A TCP proxy on loopback that injects network faults under test control.

Put :class:`ChaosProxy` between a client and a server (for slack-rtm: in front of the whole
emulator port, which serves both ``rtm.connect`` over HTTP and the WebSocket) and steer it from the
test::

    async with ChaosProxy("127.0.0.1", emu_port) as proxy:
        base_url = proxy.url("/api")          # the client talks to the proxy
        proxy.set_latency(up=0.05, down=0.05)  # seconds added to each direction
        proxy.blackhole("down")                # half-open link: nothing reaches the client
        proxy.heal()                           # back to normal
        await proxy.cut("reset")               # RST every current connection
        await proxy.refuse(for_seconds=1.0)    # ECONNREFUSED for a second, then listen again
        proxy.throttle(8_000)                  # bytes/s per connection and direction
        proxy.stats.bytes_down                 # counters

With ``ssl=server_context`` the proxy terminates TLS (``https://`` / ``wss://`` to the client,
plain TCP to the upstream): a way to put TLS in front of the plain-text emulator.

Directions are named from the client's point of view: ``"up"`` is client → upstream, ``"down"``
is upstream → client. Every control takes effect immediately, for current and new connections.
Controls must be called from the proxy's event loop thread (use :class:`ThreadedChaosProxy` from
synchronous code). :meth:`ChaosProxy.stop` closes every socket and awaits every task it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl as ssl_module
import struct
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, TypeVar

__all__ = ["ChaosProxy", "Direction", "ProxyStats", "ThreadedChaosProxy"]

Direction = Literal["up", "down", "both"]
CutMode = Literal["reset", "fin"]
RefuseMode = Literal["refuse", "reset"]
BlackholeMode = Literal["hold", "drop"]

_CHUNK = 65536
_QUEUE_CHUNKS = 16  # per direction: beyond this, the proxy stops reading (back-pressure)
_T = TypeVar("_T")


@dataclass(frozen=True)
class ProxyStats:
    """A snapshot of the proxy's counters.

    Attributes:
        connections_total: client connections accepted and linked to the upstream.
        connections_active: of those, still open.
        connections_reset: connections rejected with RST while in ``refuse(mode="reset")``.
        upstream_failures: client connections closed because the upstream could not be reached.
        bytes_up: bytes delivered client → upstream.
        bytes_down: bytes delivered upstream → client.
        dropped_up: bytes discarded by a ``drop`` black hole, client → upstream.
        dropped_down: the same, upstream → client.
    """

    connections_total: int = 0
    connections_active: int = 0
    connections_reset: int = 0
    upstream_failures: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    dropped_up: int = 0
    dropped_down: int = 0


def _directions(direction: Direction) -> tuple[str, ...]:
    if direction == "both":
        return ("up", "down")
    if direction in ("up", "down"):
        return (direction,)
    raise ValueError(f"direction must be 'up', 'down' or 'both', got {direction!r}")


def _check_seconds(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close a socket with RST (SO_LINGER 0) instead of FIN, dropping anything unsent."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _Gate:
    """Per-direction fault settings, shared by every connection of the proxy."""

    def __init__(self) -> None:
        self.latency = 0.0
        self.rate: float | None = None
        self.blackhole: BlackholeMode | None = None
        self.open = asyncio.Event()
        self.open.set()


class _Link:
    """One client connection and its upstream connection, pumped in both directions."""

    def __init__(
        self,
        proxy: ChaosProxy,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> None:
        self.proxy = proxy
        self.client_reader, self.client_writer = client
        self.upstream_reader, self.upstream_writer = upstream
        self.tasks: list[asyncio.Task[None]] = []
        self.eof_sent = {"up": False, "down": False}
        self.closed = False

    def start(self) -> None:
        for direction, reader, writer in (
            ("up", self.client_reader, self.upstream_writer),
            ("down", self.upstream_reader, self.client_writer),
        ):
            queue: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue(_QUEUE_CHUNKS)
            self.tasks.append(asyncio.create_task(self._read(reader, queue, direction)))
            self.tasks.append(asyncio.create_task(self._write(writer, queue, direction)))

    async def _read(
        self,
        reader: asyncio.StreamReader,
        queue: asyncio.Queue[tuple[float, bytes | None]],
        direction: str,
    ) -> None:
        loop = asyncio.get_running_loop()
        gate = self.proxy._gates[direction]
        try:
            while True:
                data = await reader.read(_CHUNK)
                await queue.put((loop.time() + gate.latency, data or None))
                if not data:
                    return
        except OSError:
            # The sender reset its side: pass the reset on to the other side.
            self.close(reset=True)

    async def _write(
        self,
        writer: asyncio.StreamWriter,
        queue: asyncio.Queue[tuple[float, bytes | None]],
        direction: str,
    ) -> None:
        loop = asyncio.get_running_loop()
        gate = self.proxy._gates[direction]
        next_free = loop.time()
        try:
            while True:
                deliver_at, data = await queue.get()
                delay = deliver_at - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                while not gate.open.is_set():
                    if gate.blackhole == "drop" and data is not None:
                        self.proxy._count(f"dropped_{direction}", len(data))
                        data = b""
                        break
                    await gate.open.wait()
                if data is None:
                    self._half_close(writer, direction)
                    return
                view = memoryview(data)
                while view:
                    rate = gate.rate
                    piece = view if rate is None else view[: max(1, int(rate / 20))]
                    if rate is not None:
                        now = loop.time()
                        start = max(now, next_free)
                        if start > now:
                            await asyncio.sleep(start - now)
                        next_free = start + len(piece) / rate
                    writer.write(piece)
                    await writer.drain()
                    self.proxy._count(f"bytes_{direction}", len(piece))
                    view = view[len(piece) :]
        except OSError:
            self.close(reset=True)

    def _half_close(self, writer: asyncio.StreamWriter, direction: str) -> None:
        self.eof_sent[direction] = True
        if all(self.eof_sent.values()):
            self.close(reset=False)
        elif writer.can_write_eof():
            with contextlib.suppress(OSError):
                writer.write_eof()

    def close(self, *, reset: bool) -> None:
        """Close both sockets (RST or FIN) and cancel the pumps; safe to call more than once."""
        if self.closed:
            return
        self.closed = True
        for writer in (self.client_writer, self.upstream_writer):
            if reset:
                _reset(writer)
            else:
                writer.close()
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()
        self.proxy._forget(self)

    async def wait_closed(self) -> None:
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for writer in (self.client_writer, self.upstream_writer):
            with contextlib.suppress(OSError):
                await writer.wait_closed()


class ChaosProxy:
    """A fault-injecting TCP proxy on loopback in front of ``upstream_host:upstream_port``.

    Use it as an async context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl: ssl_module.SSLContext | None = None,
    ) -> None:
        if not isinstance(upstream_host, str) or not upstream_host:
            raise TypeError("upstream_host must be a non-empty str")
        for name, value in (("upstream_port", upstream_port), ("port", port)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if not 0 <= value <= 65535:
                raise ValueError(f"{name} must be in 0..65535, got {value}")
        if ssl is not None and not isinstance(ssl, ssl_module.SSLContext):
            raise TypeError(f"ssl must be an ssl.SSLContext or None, got {type(ssl).__name__}")
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.ssl = ssl
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._gates: dict[str, _Gate] = {}
        self._counters: dict[str, int] = dict.fromkeys(
            (
                "connections_total",
                "connections_reset",
                "upstream_failures",
                "bytes_up",
                "bytes_down",
                "dropped_up",
                "dropped_down",
            ),
            0,
        )
        self._refusing: RefuseMode | None = None
        self._listen_lock: asyncio.Lock | None = None
        self._reaccept: asyncio.TimerHandle | None = None
        self._started = False
        self._stopped = False

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> ChaosProxy:
        """Start listening; afterwards :attr:`port` is the bound port."""
        if self._started:
            raise RuntimeError("ChaosProxy already started")
        self._started = True
        self._gates = {"up": _Gate(), "down": _Gate()}
        self._listen_lock = asyncio.Lock()
        await self._listen()
        return self

    async def stop(self) -> None:
        """Stop listening, close every connection (FIN) and await every task the proxy started."""
        if self._stopped or not self._started:
            return
        self._stopped = True
        if self._reaccept is not None:
            self._reaccept.cancel()
        server, self._server = self._server, None
        if server is not None:
            server.close()
        links = list(self._links)
        for link in links:
            link.close(reset=False)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(link.wait_closed() for link in links), return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def __aenter__(self) -> ChaosProxy:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- addresses and counters ------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` the proxy listens on."""
        return (self.host, self.port)

    def url(self, path: str = "", scheme: str | None = None) -> str:
        """``scheme://host:port`` + ``path``: e.g. ``proxy.url("/api")`` as a client's base URL.

        The scheme defaults to ``https`` when the proxy terminates TLS, else ``http``.
        """
        if scheme is None:
            scheme = "https" if self.ssl is not None else "http"
        return f"{scheme}://{self.host}:{self.port}{path}"

    @property
    def stats(self) -> ProxyStats:
        """The counters right now (a frozen snapshot)."""
        return ProxyStats(connections_active=len(self._links), **self._counters)

    async def wait_connections(self, total: int, timeout: float = 5.0) -> None:
        """Wait until :attr:`ProxyStats.connections_total` reaches ``total``.

        Raises:
            TimeoutError: not reached within ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._counters["connections_total"] < total:
            if loop.time() > deadline:
                raise TimeoutError(
                    f"{self._counters['connections_total']} connections, expected {total}"
                )
            await asyncio.sleep(0.005)

    # -- controls --------------------------------------------------------------------------

    def set_latency(self, up: float = 0.0, down: float = 0.0) -> None:
        """Delay every chunk by ``up`` / ``down`` seconds (order kept); 0 removes the delay."""
        self._gates["up"].latency = _check_seconds("up", up)
        self._gates["down"].latency = _check_seconds("down", down)

    def throttle(self, bytes_per_second: float | None, direction: Direction = "both") -> None:
        """Limit each connection to ``bytes_per_second`` in ``direction``; None lifts it."""
        if bytes_per_second is not None:
            if isinstance(bytes_per_second, bool) or not isinstance(bytes_per_second, (int, float)):
                raise TypeError("bytes_per_second must be a number or None")
            if not bytes_per_second > 0:
                raise ValueError(f"bytes_per_second must be > 0, got {bytes_per_second!r}")
        for name in _directions(direction):
            self._gates[name].rate = bytes_per_second

    def blackhole(self, direction: Direction = "both", mode: BlackholeMode = "hold") -> None:
        """Stop delivering traffic in ``direction`` while keeping every socket open (half-open).

        Args:
            direction: ``"up"``, ``"down"`` or ``"both"``.
            mode: ``"hold"`` keeps the bytes and delivers them after :meth:`heal` (a partition
                TCP survives; the proxy stops reading once its small buffer is full, so the
                sender's socket buffers fill up); ``"drop"`` discards them for good (the stream
                is then corrupt: only useful when the connection is abandoned afterwards).
                A FIN waits for :meth:`heal` in both modes.
        """
        if mode not in ("hold", "drop"):
            raise ValueError(f"mode must be 'hold' or 'drop', got {mode!r}")
        for name in _directions(direction):
            gate = self._gates[name]
            gate.blackhole = mode
            gate.open.clear()

    def heal(self, direction: Direction = "both") -> None:
        """End a :meth:`blackhole` in ``direction``; held bytes are delivered in order."""
        for name in _directions(direction):
            gate = self._gates[name]
            gate.blackhole = None
            gate.open.set()

    async def cut(self, mode: CutMode = "reset") -> int:
        """Close every current connection on both sides and return how many were cut.

        ``"reset"`` sends RST (the peer's next read raises ``ConnectionResetError``);
        ``"fin"`` closes cleanly (the peer reads EOF). New connections are still accepted.
        """
        if mode not in ("reset", "fin"):
            raise ValueError(f"mode must be 'reset' or 'fin', got {mode!r}")
        links = list(self._links)
        for link in links:
            link.close(reset=mode == "reset")
        await asyncio.gather(*(link.wait_closed() for link in links), return_exceptions=True)
        return len(links)

    async def refuse(self, for_seconds: float | None = None, mode: RefuseMode = "refuse") -> None:
        """Stop accepting new connections; current ones are untouched.

        Args:
            for_seconds: accept again after this long; None until :meth:`accept` is called.
            mode: ``"refuse"`` stops listening (connects fail with ``ConnectionRefusedError``);
                ``"reset"`` keeps listening but resets each new connection at once.
        """
        if mode not in ("refuse", "reset"):
            raise ValueError(f"mode must be 'refuse' or 'reset', got {mode!r}")
        if for_seconds is not None:
            for_seconds = _check_seconds("for_seconds", for_seconds)
        if self._reaccept is not None:
            self._reaccept.cancel()
            self._reaccept = None
        self._refusing = mode
        if mode == "refuse" and self._server is not None:
            # Close the listening socket only; Server.wait_closed() would wait for the clients.
            self._server.close()
            self._server = None
        elif mode == "reset":
            await self._listen()
        if for_seconds is not None:
            self._reaccept = asyncio.get_running_loop().call_later(
                for_seconds, lambda: self._spawn(self.accept())
            )

    async def accept(self) -> None:
        """Accept new connections again after :meth:`refuse` (on the same port)."""
        if self._reaccept is not None:
            self._reaccept.cancel()
            self._reaccept = None
        self._refusing = None
        if not self._stopped:
            await self._listen()

    # -- internals -------------------------------------------------------------------------

    async def _listen(self) -> None:
        # One at a time: a timed re-accept may race an explicit accept() on the same port.
        assert self._listen_lock is not None
        async with self._listen_lock:
            if self._server is not None:
                return
            self._server = await asyncio.start_server(
                self._handle, self.host, self.port, ssl=self.ssl
            )
            self.port = self._server.sockets[0].getsockname()[1]

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _count(self, name: str, amount: int) -> None:
        self._counters[name] += amount

    def _forget(self, link: _Link) -> None:
        self._links.discard(link)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._link(reader, writer)
        except asyncio.CancelledError:
            # stop() cancels handlers; asyncio would log a cancelled client task as an error.
            return
        finally:
            self._tasks.discard(task)

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusing == "reset" or self._stopped:
            self._counters["connections_reset"] += 1
            _reset(writer)
            return
        try:
            upstream = await asyncio.wait_for(
                asyncio.open_connection(self.upstream_host, self.upstream_port), 5.0
            )
        except (OSError, asyncio.TimeoutError):
            self._counters["upstream_failures"] += 1
            _reset(writer)
            return
        except asyncio.CancelledError:
            _reset(writer)
            raise
        if self._stopped:
            _reset(writer)
            _reset(upstream[1])
            return
        link = _Link(self, (reader, writer), upstream)
        self._links.add(link)
        self._counters["connections_total"] += 1
        link.start()
        # Keep the handler task alive until the link ends so that stop() can await it.
        await link.wait_closed()


class ThreadedChaosProxy:
    """A :class:`ChaosProxy` running its own event loop in a daemon thread, for synchronous tests.

    Same controls, called from any thread; ``cut``, ``refuse`` and ``accept`` block until done.
    Use it as a context manager or call :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        host: str = "127.0.0.1",
        ssl: ssl_module.SSLContext | None = None,
    ) -> None:
        self._proxy = ChaosProxy(upstream_host, upstream_port, host=host, ssl=ssl)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="chaos-proxy", daemon=True
        )

    def _call(self, func: Callable[[], Awaitable[_T]], timeout: float = 10.0) -> _T:
        async def run() -> _T:
            return await func()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def _sync(self, func: Callable[[], _T]) -> _T:
        async def run() -> _T:
            return func()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10.0)

    def start(self) -> ThreadedChaosProxy:
        """Start the loop thread and the proxy."""
        self._thread.start()
        self._call(self._proxy.start)
        return self

    def stop(self) -> None:
        """Stop the proxy, then the loop and its thread."""
        if not self._thread.is_alive():
            return
        try:
            self._call(self._proxy.stop)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10.0)
            self._loop.close()

    def __enter__(self) -> ThreadedChaosProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port the proxy listens on."""
        return self._proxy.port

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` the proxy listens on."""
        return self._proxy.address

    def url(self, path: str = "", scheme: str | None = None) -> str:
        """See :meth:`ChaosProxy.url`."""
        return self._proxy.url(path, scheme)

    @property
    def stats(self) -> ProxyStats:
        """See :attr:`ChaosProxy.stats`."""
        return self._sync(lambda: self._proxy.stats)

    def set_latency(self, up: float = 0.0, down: float = 0.0) -> None:
        """See :meth:`ChaosProxy.set_latency`."""
        self._sync(lambda: self._proxy.set_latency(up, down))

    def throttle(self, bytes_per_second: float | None, direction: Direction = "both") -> None:
        """See :meth:`ChaosProxy.throttle`."""
        self._sync(lambda: self._proxy.throttle(bytes_per_second, direction))

    def blackhole(self, direction: Direction = "both", mode: BlackholeMode = "hold") -> None:
        """See :meth:`ChaosProxy.blackhole`."""
        self._sync(lambda: self._proxy.blackhole(direction, mode))

    def heal(self, direction: Direction = "both") -> None:
        """See :meth:`ChaosProxy.heal`."""
        self._sync(lambda: self._proxy.heal(direction))

    def cut(self, mode: CutMode = "reset") -> int:
        """See :meth:`ChaosProxy.cut`."""
        return self._call(lambda: self._proxy.cut(mode))

    def refuse(self, for_seconds: float | None = None, mode: RefuseMode = "refuse") -> None:
        """See :meth:`ChaosProxy.refuse`."""
        self._call(lambda: self._proxy.refuse(for_seconds, mode))

    def accept(self) -> None:
        """See :meth:`ChaosProxy.accept`."""
        self._call(self._proxy.accept)
