"""The WebSocket side of the asyncio driver: picows listener, URL policy, secret-safe errors.

The listener collects a read buffer's text frames for the session core and tells the client once
per read buffer (``frame.last_in_buffer``) that a batch is complete, so a burst of events wakes
the consumer once, not once per event. An ack with nothing read before it goes to the driver at
once (``receive_reply``): a send's round trip is the latency users feel.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import ssl as ssl_module
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import picows
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport

from slack_rtm.errors import TransportError, TransportTimeoutError
from slack_rtm.redact import redact_text, redact_url
from slack_rtm.session.core import MESSAGE_PREFIX, REPLY_PREFIX

__all__ = [
    "RtmListener",
    "check_http_url",
    "check_ws_url",
    "is_loopback",
    "masked_text_frames",
    "open_websocket",
    "send_text_frames",
    "transport_error",
]

_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
_CONTINUATION = WSMsgType.CONTINUATION
_CLOSE = WSMsgType.CLOSE
_PONG = WSMsgType.PONG

_PREFIX_LEN = len(MESSAGE_PREFIX)
_REPLY_LEN = len(REPLY_PREFIX)

MAX_INBOUND_FRAME = 64 * 1024 * 1024
"""The largest frame (or fragmented message) accepted from the server, in bytes."""


# RFC 6455 §5.2: FIN + text opcode; the mask bit with a 7-bit length, or 126 and 16 bits after.
_MAX_JOINED = 65536  # payloads this long or longer go through picows, one frame at a time
_HEADS = [bytes((0x81, 0x80 | size)) for size in range(126)]  # by payload size, before the key
_NO_MASK_6 = bytes(6)  # a short frame's header and key: XORed with zeros, left as they are
_NO_MASK_8 = bytes(8)


def masked_text_frames(payloads: Sequence[bytes]) -> bytes:
    """``payloads`` as client text frames (RFC 6455 §5.2), each masked with its own key, joined.

    picows sends one frame per call and makes a ``send`` system call for each while its
    transport's buffer is empty: ~2.3 µs of CPU a frame over loopback, more than decoding the
    envelope an ack answers. The acks of one read buffer are written in one call instead.
    Masking (§5.3): a fresh 32-bit key per frame, all of them from one ``os.urandom`` call
    (a strong source, as §5.3 asks); the payloads are XORed with their repeated keys in one
    big-integer operation over the whole buffer (headers and keys XORed with zeros).

    Args:
        payloads: each frame's text (UTF-8), every one shorter than 64 KiB.

    Raises:
        ValueError: a payload is 64 KiB or longer (send it with ``WSTransport.send``).
    """
    keys = os.urandom(4 * len(payloads))
    plain: list[bytes] = []
    stream: list[bytes] = []
    heads = _HEADS
    at = 0
    for payload in payloads:
        size = len(payload)
        key = keys[at:at + 4]
        at += 4
        if size < 126:
            plain += (heads[size], key, payload)
            stream += (_NO_MASK_6, (key * ((size >> 2) + 1))[:size])
        elif size < _MAX_JOINED:
            plain += (bytes((0x81, 0x80 | 126, size >> 8, size & 0xFF)), key, payload)
            stream += (_NO_MASK_8, (key * ((size >> 2) + 1))[:size])
        else:
            raise ValueError(f"payloads must be shorter than {_MAX_JOINED} bytes, got {size}")
    data = b"".join(plain)
    mask = int.from_bytes(b"".join(stream), "little")
    return (int.from_bytes(data, "little") ^ mask).to_bytes(len(data), "little")


def send_text_frames(transport: WSTransport, payloads: Sequence[bytes]) -> None:
    """Send each of ``payloads`` as one text frame on ``transport``, in order, in one write when
    there are several and all are small (:func:`masked_text_frames`); nothing once a close
    frame was sent or the connection is gone (as ``WSTransport.send``)."""
    if not payloads or transport.is_close_frame_sent or transport.is_disconnected:
        return
    if len(payloads) == 1 or max(map(len, payloads)) >= _MAX_JOINED:
        send = transport.send
        for payload in payloads:
            send(_TEXT, payload)
        return
    transport.underlying_transport.write(masked_text_frames(payloads))


def is_loopback(host: str | None) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if not host:
        return False
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_ws_url(url: str, allow_insecure: bool, source: str = "rtm.connect") -> None:
    """Refuse a WebSocket URL that is not ``wss://`` (unless loopback or ``allow_insecure``).

    Raises:
        TransportError: the URL is not a WebSocket URL, or is plaintext to a remote host. The
            message shows the URL redacted.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise TransportError(f"{source} returned an invalid WebSocket URL") from None
    if parts.scheme not in ("ws", "wss") or not host:
        raise TransportError(
            f"{source} returned {redact_url(url)!r}, not a ws:// or wss:// URL"
        )
    if parts.scheme == "ws" and not allow_insecure and not is_loopback(host):
        raise TransportError(
            f"refusing an unencrypted WebSocket to {redact_url(url)}: the session would travel "
            "in clear text. Use wss://, or pass allow_insecure=True to accept it"
        )


def check_http_url(url: str, allow_insecure: bool) -> None:
    """Refuse an ``http://`` Web API base URL to a remote host unless ``allow_insecure``.

    Raises:
        ValueError: plaintext HTTP to a non-loopback host (the token would travel in clear).
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise ValueError("base_url is not a valid URL") from None
    if parts.scheme == "http" and not allow_insecure and not is_loopback(host):
        raise ValueError(
            "base_url uses http:// to a remote host: the token would travel in clear text. "
            "Use https://, or pass allow_insecure=True"
        )


def transport_error(exc: BaseException, url: str,
                    extra_secrets: Sequence[str] = ()) -> TransportError:
    """Map a picows/OS error while opening ``url`` to :class:`TransportError`, secrets removed.

    The original is chained as ``__cause__`` only when its text holds no part of the URL (nor
    of ``extra_secrets``, the session cookie).
    """
    parts = urlsplit(url)
    secrets = [url, parts.path, parts.query, *extra_secrets]
    text = str(exc)
    clean = redact_text(text, *[s for s in secrets if s and len(s) > 1])
    cls = TransportTimeoutError if isinstance(exc, TimeoutError) else TransportError
    error = cls(f"WebSocket to {redact_url(url)} failed: {type(exc).__name__}"
                f"{': ' + clean if clean else ''}")
    if clean == text:
        error.__cause__ = exc
    return error


class _RedactFilter(logging.Filter):
    """Removes the session URL and any other secret (the session cookie) from picows' log
    records (its debug log prints the request, headers included)."""

    def __init__(self, url: str, secrets: Sequence[str] = ()) -> None:
        super().__init__()
        path = urlsplit(url).path
        self._secrets = [s for s in (url, path, *secrets) if len(s) > 1]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_text(message, *self._secrets)
        if clean != message:
            record.msg = clean
            record.args = None
        return True


class RtmListener(WSListener):
    """Feeds one socket's frames to the session core, one read buffer at a time.

    Text frames are collected as ``bytes`` while picows parses a read buffer and handed to
    ``receive_many`` after its last frame, so the core is entered once per read.

    Args:
        conn_id: the core's id for this socket.
        receive_many: ``SessionCore.receive_many``.
        receive_messages: ``SessionCore.receive_messages``, for a buffer of messages only.
        receive_reply: called with ``(conn_id, frame)`` for a frame that starts like a reply
            when no frame of the same read waits before it (the driver's short way for acks).
        batch_done: called after each read buffer has been handed over.
        on_connected: called with the transport once the handshake is done.
        on_disconnected: called with ``(conn_id, close code or None, reason)`` at the end.
        clock: the event loop's clock.
        on_pong: called with ``conn_id`` for each WebSocket pong (Socket Mode's keepalive).
    """

    __slots__ = ("_abandoned", "_batch_done", "_clock", "_conn_id", "_frames", "_mixed",
                 "_on_connected", "_on_disconnected", "_on_pong", "_parts", "_receive_many",
                 "_receive_messages", "_receive_reply", "close_code", "close_reason",
                 "transport")

    def __init__(
        self,
        conn_id: int,
        receive_many: Callable[[int, list[bytes], float], None],
        receive_messages: Callable[[int, list[bytes], float], None],
        receive_reply: Callable[[int, bytes], None],
        batch_done: Callable[[], None],
        on_connected: Callable[[int, WSTransport], None],
        on_disconnected: Callable[[int, int | None, str], None],
        clock: Callable[[], float],
        on_pong: Callable[[int], None] | None = None,
    ) -> None:
        self._conn_id = conn_id
        self._on_pong = on_pong
        self._receive_many = receive_many
        self._receive_messages = receive_messages
        self._receive_reply = receive_reply
        self._mixed = False
        self._batch_done = batch_done
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._clock = clock
        self._frames: list[bytes] = []
        self._parts: bytearray | None = None
        self.transport: WSTransport | None = None
        self.close_code: int | None = None
        self.close_reason = ""
        self._abandoned = False

    def abandon(self) -> None:
        """The opening of this socket was given up (the session closed during the handshake):
        should the handshake still complete, the connection is dropped at once and nobody
        hears of it."""
        self._abandoned = True
        self._receive_many = self._receive_messages = _ignore
        self._receive_reply = self._on_connected = self._on_disconnected = _ignore
        self._batch_done = self._on_pong = _ignore

    def on_ws_connected(self, transport: WSTransport) -> None:
        if self._abandoned:
            transport.disconnect(graceful=False)
            return
        self.transport = transport
        self._on_connected(self._conn_id, transport)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        # Fast path: a whole frame that starts like a message event. Reading ``frame.msg_type``
        # builds an enum member and costs more than the rest of the path, so it is only read
        # for everything else (other events, fragments, close, pong).
        if frame.fin and self._parts is None:
            data = frame.get_payload_as_bytes()
            if data[:_PREFIX_LEN] == MESSAGE_PREFIX:
                self._frames.append(data)
            elif data[:_REPLY_LEN] == REPLY_PREFIX and not self._frames:
                self._receive_reply(self._conn_id, data)  # an ack, nothing queued before it
            else:
                self._other(transport, frame, data)
        else:
            self._other(transport, frame, None)
        if frame.last_in_buffer:
            self.flush()

    def flush(self) -> None:
        """Hand the frames collected so far to the core, then tell the client."""
        frames = self._frames
        if frames:
            self._frames = []
            if self._mixed:
                self._mixed = False
                self._receive_many(self._conn_id, frames, self._clock())
            else:
                self._receive_messages(self._conn_id, frames, self._clock())
        self._batch_done()

    def _other(self, transport: WSTransport, frame: WSFrame, data: bytes | None) -> None:
        if data is not None and data[:1] == b"{":
            self._frames.append(data)  # another event, a reply...: decoded by the core
            self._mixed = True
            return
        msg_type = frame.msg_type
        if msg_type is _TEXT or msg_type is _BINARY:
            if frame.fin:
                assert data is not None
                self._frames.append(data)  # text that is not a JSON object: a malformed event
                self._mixed = True
            else:
                self._parts = bytearray(frame.get_payload_as_memoryview())
        elif msg_type is _CONTINUATION:
            self._on_fragment(frame)
        elif msg_type is _CLOSE:
            self._on_close_frame(transport, frame)
        elif msg_type is _PONG and self._on_pong is not None:
            self._on_pong(self._conn_id)
        # PING is answered by picows; a PONG nobody asked to hear about needs nothing.

    def _on_fragment(self, frame: WSFrame) -> None:
        # The rest of a message split across frames (RFC 6455 §5.4): join, then decode once.
        if self._parts is None:
            return  # a continuation without a start: ignore it
        self._parts += frame.get_payload_as_memoryview()
        if len(self._parts) > MAX_INBOUND_FRAME:
            self._parts = None
            raise picows.WSProtocolError(WSCloseCode.MESSAGE_TOO_BIG, "message too big")
        if frame.fin:
            self._frames.append(bytes(self._parts))
            self._mixed = True
            self._parts = None

    def _on_close_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        try:
            self.close_code = frame.get_close_code().value
            self.close_reason = frame.get_close_reason()
        except Exception:  # a malformed close frame: keep what we have
            self.close_code = self.close_code or 1005
        if not transport.is_close_frame_sent:
            transport.send_close(WSCloseCode.OK)
        transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if self._abandoned:
            return
        if self._frames:
            self.flush()
        self._on_disconnected(self._conn_id, self.close_code, self.close_reason)


_ADAPTERS: dict[str, logging.LoggerAdapter[logging.Logger]] = {}

def _ignore(*args: object) -> None:
    """What an abandoned listener calls instead of the session's callbacks."""


ABANDON_GRACE = 1.0
"""Seconds a cancelled opening waits for its handshake to end, to drop the connection it made."""


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Done callback of an abandoned opening: read its outcome so that an error is not reported
    as never retrieved (a connection it made is dropped by the abandoned listener)."""
    if not task.cancelled():
        task.exception()


def _picows_logger(logger: logging.Logger) -> logging.LoggerAdapter[logging.Logger]:
    """One shared adapter per logger for picows: given a ``Logger``, picows builds a child
    ``Logger`` for every connection (about 0.5 KiB each); given an adapter, it logs through it."""
    adapter = _ADAPTERS.get(logger.name)
    if adapter is None or adapter.logger is not logger:
        adapter = _ADAPTERS[logger.name] = logging.LoggerAdapter(logger, {})
    return adapter


async def open_websocket(
    listener: RtmListener,
    url: str,
    *,
    ssl: ssl_module.SSLContext | None,
    proxy: str | None,
    timeout: float,
    read_buffer_size: int,
    logger: logging.Logger,
    headers: Sequence[tuple[str, str]] = (),
    secrets: Sequence[str] = (),
) -> WSTransport:
    """Open the WebSocket at ``url`` with ``listener`` attached.

    ``headers`` are added to the upgrade request (``Cookie``, ``Origin``, ``User-Agent``);
    ``secrets`` (the cookie in every form) are kept out of picows' log records like the URL.

    Raises:
        TransportError: the connection or handshake failed (the URL redacted in the message).
    """
    ws_logger = logging.getLogger(f"{logger.name}.websocket")
    redactor = _RedactFilter(url, secrets)
    ws_logger.addFilter(redactor)
    # picows leaves the TCP connection open when ws_connect is cancelled while it waits for
    # the handshake's answer (a session closed while a socket opens): the attempt runs in a
    # task of its own, shielded, and a connection it completes after a cancel is dropped (see
    # RtmListener.abandon), so no socket is leaked.
    connecting = asyncio.ensure_future(picows.ws_connect(
            lambda: listener,
            url,
            ssl_context=ssl,
            proxy=proxy,
            websocket_handshake_timeout=timeout,
            logger_name=_picows_logger(ws_logger),
            enable_auto_ping=False,
            enable_auto_pong=True,
            max_frame_size=MAX_INBOUND_FRAME,
            max_redirects=0,
            extra_headers=headers or None,
            read_buffer_init_size=read_buffer_size,
            # TLS goes through aiofastnet (faster than asyncio's SSL protocol, and without its
            # 256 KiB buffer per connection); plain ws:// through asyncio's own transport, as
            # fast here and ~4.7 KiB lighter per idle session (bench/README.md, density).
            use_aiofastnet=urlsplit(url).scheme == "wss",
        ))
    try:
        transport, _ = await asyncio.shield(connecting)
    except asyncio.CancelledError:
        listener.abandon()
        # Let the handshake end (briefly: it is under way) so that its connection is dropped
        # by the abandoned listener instead of leaked; a server that hangs gets cancelled.
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(asyncio.shield(connecting), ABANDON_GRACE)
        if not connecting.done():
            connecting.cancel()
        connecting.add_done_callback(_retrieve)
        raise
    except Exception as exc:  # OSError, WSError, SSLError, proxy errors, ...: all transport
        error = transport_error(exc, url, secrets)
        raise error from error.__cause__
    finally:
        ws_logger.removeFilter(redactor)
    return transport
