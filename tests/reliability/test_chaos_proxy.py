"""The chaos proxy does what each control says, measured over real loopback sockets."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

import pytest

from .chaos import ChaosProxy, ThreadedChaosProxy
from .conftest import EchoServer

PAYLOAD = b"ping-through-the-proxy"


async def _open(proxy: ChaosProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(proxy.host, proxy.port)


async def _round_trip(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes = PAYLOAD
) -> float:
    start = time.perf_counter()
    writer.write(data)
    await writer.drain()
    got = await asyncio.wait_for(reader.readexactly(len(data)), 5.0)
    assert got == data
    return time.perf_counter() - start


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def test_passes_bytes_both_ways_and_counts(echo_server: EchoServer) -> None:
    async with ChaosProxy("127.0.0.1", echo_server.port) as proxy:
        assert proxy.port != 0
        reader, writer = await _open(proxy)
        await _round_trip(reader, writer)
        big = bytes(range(256)) * 2000  # 512 KB, several chunks
        await _round_trip(reader, writer, big)
        stats = proxy.stats
        assert stats.connections_total == 1
        assert stats.connections_active == 1
        assert stats.bytes_up == stats.bytes_down == len(PAYLOAD) + len(big)
        assert echo_server.received == PAYLOAD + big
        await _close(writer)


@pytest.mark.parametrize(("up", "down"), [(0.1, 0.0), (0.0, 0.1), (0.06, 0.06)])
async def test_latency_adds_at_least_the_delay(
    echo_server: EchoServer, up: float, down: float
) -> None:
    async with ChaosProxy("127.0.0.1", echo_server.port) as proxy:
        reader, writer = await _open(proxy)
        baseline = await _round_trip(reader, writer)
        assert baseline < 0.05
        proxy.set_latency(up=up, down=down)
        rtt = await _round_trip(reader, writer)
        assert rtt >= up + down
        assert rtt < up + down + 0.5
        proxy.set_latency()
        assert await _round_trip(reader, writer) < 0.05
        await _close(writer)


async def test_latency_keeps_order(echo_server: EchoServer) -> None:
    async with ChaosProxy("127.0.0.1", echo_server.port) as proxy:
        proxy.set_latency(up=0.02, down=0.01)
        reader, writer = await _open(proxy)
        parts = [f"<{i}>".encode() for i in range(50)]
        for part in parts:
            writer.write(part)
            await writer.drain()
        expected = b"".join(parts)
        assert await asyncio.wait_for(reader.readexactly(len(expected)), 5.0) == expected
        await _close(writer)


async def test_blackhole_hold_stops_bytes_then_delivers_on_heal(echo_server: EchoServer) -> None:
    async with ChaosProxy("127.0.0.1", echo_server.port) as proxy:
        reader, writer = await _open(proxy)
        await _round_trip(reader, writer)
        proxy.blackhole("both")
        writer.write(b"held")
        await writer.drain()  # the socket stays open: writes still succeed
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(reader.readexactly(4), 0.3)
        assert echo_server.received == PAYLOAD  # nothing went up
        assert not writer.is_closing()
        proxy.heal()
        assert await asyncio.wait_for(reader.readexactly(4), 2.0) == b"held"
        await _close(writer)


async def test_blackhole_down_only_is_half_open(echo_server: EchoServer) -> None:
    async with ChaosProxy("127.0.0.1", echo_server.port) as proxy:
        reader, writer = await _open(proxy)
        proxy.blackhole("down", mode="drop")
        writer.write(b"lost-on-the-way-back")
        await writer.drain()
        for _ in range(100):  # the upstream gets it ...
            if echo_server.received == b"lost-on-the-way-back":
                break
            await asyncio.sleep(0.01)
        assert echo_server.received == b"lost-on-the-way-back"
        with pytest.raises(asyncio.TimeoutError):  # ... the answer never arrives
            await asyncio.wait_for(reader.read(100), 0.3)
        assert proxy.stats.dropped_down == len(b"lost-on-the-way-back")
        assert proxy.stats.bytes_down == 0
        proxy.heal("down")
        await _round_trip(reader, writer)  # dropped bytes stay lost, new ones flow
        await _close(writer)


async def test_blackhole_up_only(echo_server: EchoServer) -> None:
    async with ChaosProxy("127.0.0.1", echo_server.port) as proxy:
        _reader, writer = await _open(proxy)
        proxy.blackhole("up", mode="drop")
        writer.write(b"x" * 1000)
        await writer.drain()
        await asyncio.sleep(0.2)
        assert echo_server.received == b""
        assert proxy.stats.dropped_up == 1000
        await _close(writer)


async def test_blackhole_holds_fin_until_heal(echo_server: EchoServer) -> None:
    async with ChaosProxy("127.0.0.1", echo_server.port) as proxy:
        reader, writer = await _open(proxy)
        await _round_trip(reader, writer)
        proxy.blackhole("up")
        writer.write_eof()
        await asyncio.sleep(0.2)
        assert echo_server.eofs == 0
        proxy.heal()
        assert await asyncio.wait_for(reader.read(), 2.0) == b""  # FIN went up and came back
        assert echo_server.eofs == 1
        await _close(writer)


async def test_cut_reset_gives_connection_reset(echo_server: EchoServer) -> None:
    async with ChaosProxy("127.0.0.1", echo_server.port) as proxy:
        reader, writer = await _open(proxy)
        await _round_trip(reader, writer)
        assert await proxy.cut("reset") == 1
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(reader.read(100), 2.0)
        for _ in range(100):
            if echo_server.resets:
                break
            await asyncio.sleep(0.01)
        assert echo_server.resets == 1  # the upstream side was reset too
        assert proxy.stats.connections_active == 0
        await _close(writer)
        reader, writer = await _open(proxy)  # new connections still work
        await _round_trip(reader, writer)
        await _close(writer)


async def test_cut_fin_gives_eof(echo_server: EchoServer) -> None:
    async with ChaosProxy("127.0.0.1", echo_server.port) as proxy:
        reader, writer = await _open(proxy)
        await _round_trip(reader, writer)
        assert await proxy.cut("fin") == 1
        assert await asyncio.wait_for(reader.read(100), 2.0) == b""
        await _close(writer)


async def test_upstream_reset_reaches_the_client(echo_server: EchoServer) -> None:
    async with ChaosProxy("127.0.0.1", echo_server.port) as proxy:
        reader, writer = await _open(proxy)
        await _round_trip(reader, writer)
        echo_server.reset_all()
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(reader.read(100), 2.0)
        await _close(writer)


async def test_client_fin_is_forwarded(echo_server: EchoServer) -> None:
    async with ChaosProxy("127.0.0.1", echo_server.port) as proxy:
        reader, writer = await _open(proxy)
        writer.write(b"last words")
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), 2.0) == b"last words"
        for _ in range(100):
            if proxy.stats.connections_active == 0:
                break
            await asyncio.sleep(0.01)
        assert proxy.stats.connections_active == 0
        assert echo_server.eofs == 1
        await _close(writer)


async def test_throttle_limits_rate(echo_server: EchoServer) -> None:
    async with ChaosProxy("127.0.0.1", echo_server.port) as proxy:
        reader, writer = await _open(proxy)
        data = b"t" * 10_000
        assert await _round_trip(reader, writer, data) < 0.1
        proxy.throttle(20_000, "up")
        elapsed = await _round_trip(reader, writer, data)
        # 10 KB at 20 KB/s: about 0.5 s (the first slice goes at once)
        assert 0.4 <= elapsed < 2.0
        proxy.throttle(None)
        assert await _round_trip(reader, writer, data) < 0.1
        await _close(writer)


async def test_refuse_then_accept_on_the_same_port(echo_server: EchoServer) -> None:
    async with ChaosProxy("127.0.0.1", echo_server.port) as proxy:
        port = proxy.port
        reader, writer = await _open(proxy)
        await proxy.refuse()
        with pytest.raises(ConnectionRefusedError):
            await _open(proxy)
        await _round_trip(reader, writer)  # current connections are untouched
        await proxy.accept()
        assert proxy.port == port
        reader2, writer2 = await _open(proxy)
        await _round_trip(reader2, writer2)
        await _close(writer)
        await _close(writer2)


async def test_refuse_for_a_while(echo_server: EchoServer) -> None:
    async with ChaosProxy("127.0.0.1", echo_server.port) as proxy:
        await proxy.refuse(for_seconds=0.3)
        start = time.perf_counter()
        with pytest.raises(ConnectionRefusedError):
            await _open(proxy)
        while True:
            try:
                reader, writer = await _open(proxy)
                break
            except ConnectionRefusedError:
                assert time.perf_counter() - start < 3.0
                await asyncio.sleep(0.02)
        assert time.perf_counter() - start >= 0.25
        await _round_trip(reader, writer)
        await _close(writer)


async def test_refuse_by_reset(echo_server: EchoServer) -> None:
    async with ChaosProxy("127.0.0.1", echo_server.port) as proxy:
        await proxy.refuse(mode="reset")
        reader, writer = await _open(proxy)
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(reader.read(100), 2.0)
        await _close(writer)
        assert proxy.stats.connections_reset == 1
        assert proxy.stats.connections_total == 0
        await proxy.accept()
        reader, writer = await _open(proxy)
        await _round_trip(reader, writer)
        await _close(writer)


async def test_unreachable_upstream_resets_the_client() -> None:
    with socket.socket() as sock:  # a port with nobody listening
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    async with ChaosProxy("127.0.0.1", dead_port) as proxy:
        reader, writer = await _open(proxy)
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(reader.read(100), 2.0)
        assert proxy.stats.upstream_failures == 1
        await _close(writer)


async def test_stop_closes_everything_and_leaks_no_task(echo_server: EchoServer) -> None:
    before = asyncio.all_tasks()
    proxy = await ChaosProxy("127.0.0.1", echo_server.port).start()
    conns = [await _open(proxy) for _ in range(3)]
    for reader, writer in conns:
        await _round_trip(reader, writer)
    proxy.blackhole("both")
    proxy.set_latency(0.5, 0.5)
    conns[0][1].write(b"in flight")
    await proxy.wait_connections(3)
    await asyncio.wait_for(proxy.stop(), 2.0)
    await proxy.stop()  # idempotent
    for reader, writer in conns[1:]:
        assert await asyncio.wait_for(reader.read(), 2.0) == b""
        await _close(writer)
    # Linux answers a close() with unread bytes in the receive buffer with RST, not FIN.
    with contextlib.suppress(ConnectionResetError):
        assert await asyncio.wait_for(conns[0][0].read(), 2.0) == b""
    await _close(conns[0][1])
    assert asyncio.all_tasks() == before
    with pytest.raises(ConnectionRefusedError):
        await _open(proxy)


async def test_wait_connections_times_out(echo_server: EchoServer) -> None:
    async with ChaosProxy("127.0.0.1", echo_server.port) as proxy:
        with pytest.raises(TimeoutError):
            await proxy.wait_connections(1, timeout=0.05)


async def test_controls_validate_arguments(echo_server: EchoServer) -> None:
    with pytest.raises(TypeError, match="upstream_port"):
        ChaosProxy("127.0.0.1", "80")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="port"):
        ChaosProxy("127.0.0.1", 80, port=70000)
    async with ChaosProxy("127.0.0.1", echo_server.port) as proxy:
        with pytest.raises(ValueError, match="up"):
            proxy.set_latency(up=-1)
        with pytest.raises(TypeError, match="down"):
            proxy.set_latency(down="1")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="bytes_per_second"):
            proxy.throttle(0)
        with pytest.raises(ValueError, match="direction"):
            proxy.blackhole("sideways")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="mode"):
            proxy.blackhole("up", mode="eat")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="mode"):
            await proxy.cut("explode")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="mode"):
            await proxy.refuse(mode="maybe")  # type: ignore[arg-type]
        with pytest.raises(RuntimeError, match="already started"):
            await proxy.start()


def _sync_round_trip(sock: socket.socket, data: bytes = PAYLOAD) -> float:
    start = time.perf_counter()
    sock.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = sock.recv(65536)
        assert chunk
        got += chunk
    assert got == data
    return time.perf_counter() - start


async def test_threaded_proxy_from_sync_code(echo_server: EchoServer) -> None:
    def scenario() -> None:
        with ThreadedChaosProxy("127.0.0.1", echo_server.port) as proxy:
            with socket.create_connection(proxy.address, timeout=2.0) as sock:
                _sync_round_trip(sock)
                proxy.set_latency(up=0.05)
                assert _sync_round_trip(sock) >= 0.05
                proxy.set_latency()
                proxy.throttle(None)
                proxy.blackhole("down")
                sock.sendall(b"x")
                sock.settimeout(0.2)
                with pytest.raises(socket.timeout):
                    sock.recv(10)
                proxy.heal()
                sock.settimeout(2.0)
                assert sock.recv(10) == b"x"
                assert proxy.stats.connections_total == 1
                assert proxy.cut("reset") == 1
                with pytest.raises(ConnectionResetError):
                    sock.recv(10)
            proxy.refuse()
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(proxy.address, timeout=2.0)
            proxy.accept()
            with socket.create_connection(proxy.address, timeout=2.0) as sock:
                _sync_round_trip(sock)
            assert proxy.url("/api").endswith(f":{proxy.port}/api")

    # The echo server lives on this loop: run the blocking scenario in a worker thread.
    await asyncio.wait_for(asyncio.to_thread(scenario), 10.0)



@pytest.mark.parametrize("yields", [1, 2, 3])
async def test_timed_and_explicit_accept_do_not_race(echo_server: EchoServer, yields: int) -> None:
    async with ChaosProxy("127.0.0.1", echo_server.port) as proxy:
        for _ in range(5):
            await proxy.refuse(for_seconds=0.0)  # the timed re-accept fires at once ...
            for _ in range(yields):
                await asyncio.sleep(0)
            await proxy.accept()  # ... and may still be listening when this one starts
            await asyncio.sleep(0.01)
        reader, writer = await _open(proxy)
        await _round_trip(reader, writer)
        await _close(writer)
