"""An asyncio event loop on a daemon thread, driven from other threads: one home for that.

Used by the synchronous client (:mod:`slack_rtm.sync`) and by
:class:`~slack_rtm.emulator.EmulatorThread`: both run asyncio code for callers that block.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")


class LoopThread:
    """A private event loop running on one daemon thread.

    Call :meth:`start` once, :meth:`submit` / :meth:`run` coroutines from any other thread, then
    :meth:`stop`, which cancels what is left, closes the loop and joins the thread.

    Args:
        name: the thread's name (shows in ``threading.enumerate()``).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopping = False
        # Futures of submitted coroutines: one submitted just as the loop stops may never start,
        # so stop() cancels whatever is left rather than leave its waiter blocked for ever.
        self._futures: set[concurrent.futures.Future[Any]] = set()

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return not self._stopping and self._loop is not None and self._loop.is_running()

    @property
    def thread(self) -> threading.Thread | None:
        """The thread while it is alive, else None."""
        thread = self._thread
        return thread if thread is not None and thread.is_alive() else None

    def start(self) -> None:
        """Start the thread and wait until its loop runs.

        Raises:
            RuntimeError: already started (a LoopThread is started once).
        """
        if self._thread is not None:
            raise RuntimeError(f"{self.name} is already started")
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        thread = threading.Thread(target=_serve, args=(loop, ready), name=self.name, daemon=True)
        self._loop, self._thread = loop, thread
        thread.start()
        ready.wait()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop; returns its future.

        Raises:
            RuntimeError: the loop is not running (``coro`` is closed, never started).
        """
        with self._lock:
            loop = self._loop
            if loop is None or self._stopping or not loop.is_running():
                coro.close()
                raise RuntimeError(f"{self.name} is not running")
            future = asyncio.run_coroutine_threadsafe(coro, loop)
            self._futures.add(future)
        future.add_done_callback(self._futures.discard)
        return future

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for its result (blocking the calling thread).

        Raises:
            RuntimeError: the loop is not running.
            TimeoutError: ``timeout`` seconds passed (the coroutine is cancelled).
            Whatever ``coro`` raises.
        """
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no result within {timeout} s") from None
        except KeyboardInterrupt:
            future.cancel()
            raise

    def stop(self, timeout: float | None = None) -> None:
        """Cancel the loop's remaining tasks, close it and join the thread. Idempotent.

        Futures of coroutines that never got to run are cancelled too.
        """
        with self._lock:
            loop, thread = self._loop, self._thread
            if loop is None or thread is None or self._stopping:
                return
            self._stopping = True
            if loop.is_running():
                loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        for future in list(self._futures):
            future.cancel()


def _serve(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
    asyncio.set_event_loop(loop)
    loop.call_soon(ready.set)
    try:
        loop.run_forever()
    finally:
        # Let cancelled tasks run their clean-up before the loop closes.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
