import asyncio
import threading

import pytest

from slack_rtm.loop_thread import LoopThread


async def _double(x: int) -> int:
    await asyncio.sleep(0)
    return 2 * x


async def _fail() -> None:
    raise KeyError("boom")


def test_runs_coroutines_from_another_thread_then_stops_cleanly() -> None:
    lt = LoopThread("test-loop")
    assert not lt.running
    lt.start()
    assert lt.running
    assert lt.thread is not None
    assert lt.thread.name == "test-loop"
    assert lt.run(_double(21)) == 42
    with pytest.raises(KeyError):
        lt.run(_fail())
    with pytest.raises(RuntimeError, match="already started"):
        lt.start()
    lt.stop()
    lt.stop()  # idempotent
    assert not lt.running
    assert lt.thread is None
    assert all(t.name != "test-loop" for t in threading.enumerate())


def test_refuses_work_when_not_running_and_times_out() -> None:
    lt = LoopThread("test-loop-2")
    coro = _double(1)
    with pytest.raises(RuntimeError, match="not running"):
        lt.submit(coro)
    lt.start()
    try:
        with pytest.raises(TimeoutError):
            lt.run(asyncio.sleep(5), timeout=0.05)
    finally:
        lt.stop()


def test_stop_cancels_what_is_left() -> None:
    lt = LoopThread("test-loop-3")
    lt.start()
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    future = lt.submit(forever())
    lt.run(asyncio.sleep(0.01))
    lt.stop()
    assert cancelled.is_set()
    assert future.cancelled()
