"""The firehose: events pre-encoded as raw WebSocket frames, written straight to the socket.

So that the emulator is never the bottleneck of a benchmark, the events are encoded once, as
complete server-to-client text frames (unmasked: RFC 6455 §5.1, §5.2), and joined into chunks of
about 64 KiB that always end on a frame boundary. Each chunk goes to the asyncio transport in one
``write``; the writer then waits while the transport is paused (flow control), so memory stays
bounded whatever the client's speed. Because every ``write`` holds whole frames, frames that
aiohttp sends meanwhile (a ``pong``, say) land between two chunks, never inside a frame; the
emulator's WebSockets never negotiate compression, so the frames need no RSV1 bit.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Sequence
from typing import Any

import msgspec

from slack_rtm.emulator.connection import Connection
from slack_rtm.emulator.workspace import Workspace

__all__ = ["CHUNK_SIZE", "encode_messages", "encode_payloads", "frame", "stream"]

#: Target bytes per transport write.
CHUNK_SIZE = 64 * 1024

_FIN_TEXT = 0x81
_WORDS = (
    *("deploy", "build", "release", "review", "merge", "ship", "standup", "lunch", "coffee"),
    *("bug", "fix", "test", "green", "red", "latency", "throughput", "socket", "reconnect"),
    *("backoff", "presence", "thread", "channel", "emoji", "ticket", "pager", "incident"),
    *("rollback", "canary", "metrics", "dashboard", "on-call", "retro", "sprint", "demo"),
)

Chunk = tuple[bytes, int]  # (frames, how many events they hold)


def frame(payload: bytes) -> bytes:
    """One final, unmasked text frame carrying ``payload`` (RFC 6455 §5.2)."""
    n = len(payload)
    if n < 126:
        return bytes((_FIN_TEXT, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", _FIN_TEXT, 126, n) + payload
    return struct.pack("!BBQ", _FIN_TEXT, 127, n) + payload


def _chunks(frames: Sequence[bytes]) -> list[Chunk]:
    chunks: list[Chunk] = []
    buf: list[bytes] = []
    size = 0
    for f in frames:
        buf.append(f)
        size += len(f)
        if size >= CHUNK_SIZE:
            chunks.append((b"".join(buf), len(buf)))
            buf, size = [], 0
    if buf:
        chunks.append((b"".join(buf), len(buf)))
    return chunks


def _texts() -> list[bytes]:
    texts = []
    for i in range(64):
        words = [_WORDS[(i * 7 + k * 3) % len(_WORDS)] for k in range(3 + i % 8)]
        texts.append(" ".join(words).capitalize().encode() + b"!")
    return texts


def encode_messages(workspace: Workspace, n: int, first_us: int) -> list[Chunk]:
    """``n`` realistic ``message`` events (~300 bytes each) as frame-aligned chunks.

    Channels, users and texts vary; ``ts`` is ``first_us`` + i microseconds, so the events'
    ``ts`` strictly increase in sending order. Every field that changes per event has a fixed
    width, so each (channel, user, text) combination is one template with its frame header
    already in place, and an event costs one ``%`` formatting.
    """
    team = workspace.team.id.encode()
    pairs: list[tuple[bytes, bytes]] = []
    for ch in workspace.channels.values():
        for uid in sorted(workspace.members(ch.id)):
            pairs.append((ch.id.encode(), uid.encode()))
    if not pairs:
        pairs = [(b"C0000000000", uid.encode()) for uid in workspace.users]
    texts = _texts()
    np, nt = len(pairs), len(texts)
    # Per (channel/user, text) combination: the frame header and the fixed JSON around the
    # ts (twice) and the client_msg_id's 12 digits; each of those has a fixed width. The keys
    # come in the order of PROTOCOL §4.3's example.
    templates: dict[tuple[int, int], tuple[bytes, bytes, bytes, bytes]] = {}

    def template(pi: int, ti: int) -> tuple[bytes, bytes, bytes, bytes]:
        cid, user = pairs[pi]
        pre = b'{"type":"message","channel":"%s","user":"%s","text":"%s","ts":"' % (
            cid,
            user,
            texts[ti],
        )
        mid = b'","event_ts":"'
        mid2 = b'","team":"%s","client_msg_id":"00000000-0000-4000-8000-' % team
        tail = b'","suppress_notification":false,"source_team":"%s","user_team":"%s"}' % (
            team,
            team,
        )
        size = len(pre) + len(mid) + len(mid2) + len(tail) + 17 + 17 + 12
        header = frame(b"x" * size)[:-size]
        return header + pre, mid, mid2, tail

    three = [b"%03d" % k for k in range(1000)]
    frames: list[bytes] = []
    append = frames.append
    join = b"".join
    last_sec = -1
    sec_dot = sec6 = b""
    for i in range(n):
        key = (i % np, i % nt)
        parts = templates.get(key)
        if parts is None:
            parts = templates[key] = template(*key)
        sec, frac = divmod(first_us + i, 1_000_000)
        if sec != last_sec:
            last_sec = sec
            sec_dot = b"%010d." % sec
            sec6 = sec_dot[4:10]
        frac6 = three[frac // 1000] + three[frac % 1000]
        ts = sec_dot + frac6
        pre, mid, mid2, tail = parts
        append(join((pre, ts, mid, ts, mid2, sec6, frac6, tail)))
    return _chunks(frames)


def encode_payloads(payloads: Sequence[bytes | str | dict[str, Any]]) -> list[Chunk]:
    """The caller's events (JSON bytes, JSON text or dicts) as frame-aligned chunks.

    Raises:
        TypeError: an item is none of bytes, str or dict.
    """
    if isinstance(payloads, (str, bytes)) or not isinstance(payloads, Sequence):
        raise TypeError("payloads must be a sequence of bytes, str or dict")
    frames: list[bytes] = []
    for item in payloads:
        if isinstance(item, bytes):
            frames.append(frame(item))
        elif isinstance(item, str):
            frames.append(frame(item.encode("utf-8")))
        elif isinstance(item, dict):
            frames.append(frame(msgspec.json.encode(item)))
        else:
            raise TypeError("payloads items must be bytes, str or dict")
    return _chunks(frames)


async def _stream_one(conn: Connection, chunks: list[Chunk]) -> int:
    transport = conn.transport
    sent = 0
    for data, count in chunks:
        if conn.closed:
            break
        transport.write(data)
        sent += count
        try:
            await conn.drain()
        except ConnectionError:
            break
    return sent


async def stream(conns: Sequence[Connection], chunks: list[Chunk], n: int) -> int:
    """Write ``chunks`` to every connection concurrently; returns the events written in all.

    ``n`` is the event count per connection, used when there is nothing to stream.
    """
    if not conns or n == 0:
        return 0
    counts = await asyncio.gather(*(_stream_one(c, chunks) for c in conns))
    return sum(counts)
