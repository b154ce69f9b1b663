"""The firehose: frame encoding, ordering, flow control, and a bench-like run with picows."""

from __future__ import annotations

import asyncio
import json
import re
import struct
import subprocess
import sys
import time
from typing import Any

import aiohttp
import httpx
import picows
import pytest

from slack_rtm.emulator import Emulator, Workspace
from slack_rtm.emulator.firehose import CHUNK_SIZE, encode_messages, encode_payloads, frame

# The keys of PROTOCOL §4.3's example ``message``, in its order.
PROTOCOL_MESSAGE_KEYS = ("type", "channel", "user", "text", "ts", "event_ts", "team",
                         "client_msg_id", "suppress_notification", "source_team", "user_team")


def _unframe(data: bytes) -> list[bytes]:
    """Split server frames (unmasked, final, text) back into payloads."""
    out, i = [], 0
    while i < len(data):
        assert data[i] == 0x81
        n = data[i + 1]
        assert n & 0x80 == 0  # server frames are never masked
        i += 2
        if n == 126:
            (n,) = struct.unpack("!H", data[i : i + 2])
            i += 2
        elif n == 127:
            (n,) = struct.unpack("!Q", data[i : i + 8])
            i += 8
        out.append(data[i : i + n])
        i += n
    return out


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
def test_frame_header_lengths(size: int) -> None:
    payload = b"x" * size
    raw = frame(payload)
    assert _unframe(raw) == [payload]
    header = 2 if size < 126 else 4 if size < 65536 else 10
    assert len(raw) == size + header


def test_encode_messages_realistic_and_chunked() -> None:
    ws = Workspace.default()
    chunks = encode_messages(ws, 1000, 1_700_000_000_999_990)
    assert sum(n for _, n in chunks) == 1000
    assert all(len(data) < CHUNK_SIZE + 1000 for data, _ in chunks)
    payloads = [p for data, _ in chunks for p in _unframe(data)]  # chunks end on frames
    events = [json.loads(p) for p in payloads]
    sizes = [len(p) for p in payloads]
    assert 250 <= sum(sizes) / len(sizes) <= 350
    assert {e["type"] for e in events} == {"message"}
    assert len({e["channel"] for e in events}) == len(ws.channels)
    assert len({e["user"] for e in events}) == len(ws.users)
    assert len({e["text"] for e in events}) > 10
    tss = [e["ts"] for e in events]
    assert tss[:12] == [f"1700000000.99999{d}" for d in range(10)] + [
        "1700000001.000000",
        "1700000001.000001",
    ]
    assert all(re.fullmatch(r"\d{10}\.\d{6}", t) for t in tss)
    assert tss == sorted(tss)
    assert all(e["user"] in ws.members(e["channel"]) for e in events)
    # Keys in the order of PROTOCOL §4.3's example message; the team and ts fields agree.
    assert {tuple(e) for e in events} == {PROTOCOL_MESSAGE_KEYS}
    assert all(e["event_ts"] == e["ts"] for e in events)
    team = ws.team.id
    assert {(e["team"], e["source_team"], e["user_team"]) for e in events} == {(team,) * 3}
    assert all(e["suppress_notification"] is False for e in events)
    assert len({e["client_msg_id"] for e in events}) == len(events)


def test_message_event_keys_in_protocol_order() -> None:
    ws = Workspace.default()
    emu = Emulator(ws)
    user = next(iter(ws.users.values()))
    channel = next(iter(ws.channels))
    event = emu.make_message_event(user, channel, "hi", None)
    expected = tuple(k for k in PROTOCOL_MESSAGE_KEYS if k != "client_msg_id")
    assert tuple(event)[: len(expected)] == expected


def test_encode_payloads_kinds_and_errors() -> None:
    chunks = encode_payloads([b'{"type":"a"}', '{"type":"é"}', {"type": "c"}])
    assert _unframe(chunks[0][0]) == [b'{"type":"a"}', '{"type":"é"}'.encode(), b'{"type":"c"}']
    with pytest.raises(TypeError, match="payloads"):
        encode_payloads("nope")
    with pytest.raises(TypeError, match="payloads"):
        encode_payloads([1])  # type: ignore[list-item]


async def test_firehose_to_two_sockets_in_order(emu: Emulator, open_rtm: Any) -> None:
    a = await open_rtm(emu)
    b = await open_rtm(emu, next(iter(emu.user_tokens.values())))
    task = asyncio.create_task(emu.firehose(2000))
    for rtm in (a, b):
        tss = [(await rtm.recv())["ts"] for _ in range(2000)]
        assert tss == sorted(tss)
        assert len(set(tss)) == 2000
    assert await task == 4000
    # later messages still get later timestamps
    ts = await emu.post_message(emu.workspace.people[0].id, emu.general_channel_id, "after")
    assert ts > tss[-1]


async def test_firehose_one_user_and_payloads(emu: Emulator, open_rtm: Any) -> None:
    alice, token = next(iter(emu.user_tokens.items()))
    bot = await open_rtm(emu)
    person = await open_rtm(emu, token)
    big = {"type": "big", "text": "z" * 70_000}
    sent = await emu.firehose_payloads([{"type": "one"}, big, b'{"type":"three"}'], user_id=alice)
    assert sent == 3
    assert [(await person.recv())["type"] for _ in range(3)] == ["one", "big", "three"]
    await bot.expect_nothing(0.2)
    assert await emu.firehose(0) == 0
    with pytest.raises(ValueError, match="n"):
        await emu.firehose(-1)
    with pytest.raises(ValueError, match="user_id"):
        await emu.firehose(1, user_id="UNOPE")


async def test_firehose_respects_flow_control(emu: Emulator, http: aiohttp.ClientSession) -> None:
    """A client that does not read: the emulator's buffer stays bounded; then all arrive."""
    async with http.post(
        emu.api_url + "/rtm.connect", headers={"Authorization": f"Bearer {emu.bot_token}"}
    ) as r:
        url = (await r.json())["url"]
    reader, writer = await asyncio.open_connection("127.0.0.1", emu.port)
    path = url.split(str(emu.port), 1)[1]
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await reader.readuntil(b"\r\n\r\n")
    await emu.wait_connections(1)
    n = 100_000  # ~33 MB, far more than socket buffers hold
    task = asyncio.create_task(emu.firehose(n))
    await asyncio.sleep(0.5)
    assert not task.done()
    buffered = emu.connections[0].transport.get_write_buffer_size()
    assert buffered < 2 * CHUNK_SIZE + 1024 * 1024
    data = bytearray()
    while True:
        try:
            chunk = await asyncio.wait_for(reader.read(1 << 20), 0.5 if task.done() else 10)
        except asyncio.TimeoutError:
            break
        assert chunk
        data += chunk
    assert await task == n
    payloads = _unframe(bytes(data))  # whole frames: reconnect_url events land between them
    payloads = [p for p in payloads if not p.startswith(b'{"type":"reconnect_url",')]
    assert payloads[0] == b'{"type":"hello"}'
    assert len(payloads) == n + 1
    writer.close()


def test_bench_picows_200k_from_cli_emulator(capsys: pytest.CaptureFixture[str]) -> None:
    """Bench-like: the emulator in its own process (the CLI), a bare picows client reading
    200,000 events; prints events/s and the emulator's CPU. Speed is not asserted here."""
    n = 200_000
    proc = subprocess.Popen(
        [sys.executable, "-m", "slack_rtm", "emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        api_url = ""
        for line in proc.stdout:
            if line.startswith("API URL:"):
                api_url = line.split()[-1]
                break
        assert api_url
        result = asyncio.run(_picows_run(api_url, n))
    finally:
        proc.send_signal(2)
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert result["received"] == n
    assert result["in_order"] is True
    assert result["sent"] == n
    with capsys.disabled():
        print(
            f"\nfirehose {n} events: client {result['rate']:,.0f} events/s "
            f"({result['mb_s']:.0f} MB/s); emulator CPU {result['cpu']:.2f} s "
            f"over {result['seconds']:.2f} s wall ({100 * result['cpu'] / result['seconds']:.0f}%)"
        )


async def _picows_run(api_url: str, n: int) -> dict[str, Any]:
    control = api_url.rsplit("/api", 1)[0] + "/_emulator"
    async with httpx.AsyncClient(timeout=60) as http:
        state = (await http.get(control + "/state")).json()
        # no reconnect_url frame among the n events counted (the CLI's emulator sends them)
        await http.post(control + "/set_reconnect_urls", json={"enabled": False})
        connect = await http.post(
            api_url + "/rtm.connect", headers={"Authorization": f"Bearer {state['bot_token']}"}
        )
        url = connect.json()["url"]
        done = asyncio.get_running_loop().create_future()

        class Listener(picows.WSListener):  # type: ignore[misc]
            def __init__(self) -> None:
                self.count = -1  # the hello
                self.bytes = 0
                self.last = b""
                self.in_order = True

            def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
                payload = frame.get_payload_as_bytes()
                self.count += 1
                self.bytes += len(payload)
                if self.count > 0:
                    i = payload.find(b'"ts":"') + 6
                    ts = payload[i : i + 17]
                    if ts <= self.last:
                        self.in_order = False
                    self.last = ts
                if self.count == n and not done.done():
                    done.set_result(None)

        transport, listener = await picows.ws_connect(Listener, url)
        try:
            prepared = await http.post(control + "/firehose", json={"n": n, "prepare": True})
            assert prepared.json()["prepared"] == n
            start = time.perf_counter()
            answer = await http.post(control + "/firehose", json={"n": n})
            await asyncio.wait_for(done, 60)
            seconds = time.perf_counter() - start
        finally:
            transport.disconnect()
        body = answer.json()
        return {
            "received": listener.count,
            "in_order": listener.in_order,
            "sent": body["sent"],
            "rate": n / seconds,
            "mb_s": listener.bytes / seconds / 1e6,
            "cpu": body["cpu_seconds"],
            "seconds": body["seconds"],
        }
