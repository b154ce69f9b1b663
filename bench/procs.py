"""The runner's side of the process plumbing: child processes that speak JSON lines.

:class:`Child` starts a scenario process and reads its event lines; :class:`ServerProc` starts
``bench/server.py`` (the emulator in its own process) and calls its commands by id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["BENCH_DIR", "PINS", "Child", "ChildError", "ServerProc", "pin"]

BENCH_DIR = Path(__file__).resolve().parent
_LIMIT = 1 << 26  # stdout lines can carry a few MB (the received seqs)


#: role -> CPU the processes of that role are pinned to (empty: no pinning); see :func:`pin`.
PINS: dict[str, int] = {}


def pin(enabled: bool) -> str:
    """Pin the server to one CPU and every client process to another (if there are two).

    On loopback, a client's write wakes the server; when both may run on the same CPU the
    scheduler often preempts the writer right there, which adds the server's run to the
    client's write and makes round trips depend on each process's recent CPU use. A real
    Slack server runs elsewhere: pinning them apart is the closer model. Returns a description.
    """
    PINS.clear()
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not enabled or len(cpus) < 2:
        return "not pinned"
    PINS.update(server=cpus[-1], client=cpus[0])
    return f"server on CPU {cpus[-1]}, clients on CPU {cpus[0]}"


class ChildError(Exception):
    """A child process failed, timed out, or said something unexpected."""


class Child:
    """A scenario process (``python bench/<script> args``) with JSON lines on stdin/stdout."""

    def __init__(self, proc: asyncio.subprocess.Process, name: str) -> None:
        self.proc = proc
        self.name = name
        self._stderr: list[bytes] = []
        self._err_task = asyncio.ensure_future(self._drain_stderr())

    @classmethod
    async def start(cls, script: str, *args: str, name: str | None = None,
                    role: str = "client") -> Child:
        """Start ``bench/<script>``, pinned to the CPU of its ``role`` (see :func:`pin`)."""
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(BENCH_DIR / script),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=_LIMIT,
            env=env,
        )
        cpu = PINS.get(role)
        if cpu is not None:
            with contextlib.suppress(OSError):  # the process may be gone already
                os.sched_setaffinity(proc.pid, {cpu})
        return cls(proc, name or script)

    async def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        while True:
            line = await self.proc.stderr.readline()
            if not line:
                return
            self._stderr.append(line)
            del self._stderr[:-40]

    def stderr_tail(self, lines: int = 8) -> str:
        """The last lines the process wrote to stderr (for error messages)."""
        return b"".join(self._stderr[-lines:]).decode(errors="replace").strip()

    async def next_event(self, timeout: float) -> dict[str, Any]:
        """The next JSON line from stdout; ChildError on EOF, timeout or a non-JSON line."""
        assert self.proc.stdout is not None
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        except asyncio.TimeoutError:
            raise ChildError(f"{self.name}: no answer within {timeout:.0f} s") from None
        if not line:
            await asyncio.sleep(0.05)
            tail = self.stderr_tail()
            raise ChildError(f"{self.name}: exited ({self.proc.returncode}) {tail}".strip())
        try:
            data = json.loads(line)
        except ValueError:
            raise ChildError(f"{self.name}: unexpected output {line[:200]!r}") from None
        if not isinstance(data, dict):
            raise ChildError(f"{self.name}: unexpected output {line[:200]!r}")
        return data

    async def send(self, **command: Any) -> None:
        """Write one JSON command line to the process's stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        await self.proc.stdin.drain()

    async def finish(self, timeout: float = 10.0) -> None:
        """Close stdin, wait for the exit, kill it if it does not go (never raises)."""
        if self.proc.stdin is not None:
            with contextlib.suppress(Exception):
                self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._err_task, 2.0)


class ServerProc:
    """``bench/server.py``: the emulator in its own process, called by command."""

    def __init__(self, child: Child, info: dict[str, Any]) -> None:
        self.child = child
        self.info = info
        self._next_id = 1
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, *args: str) -> ServerProc:
        child = await Child.start("server.py", *args, name="server", role="server")
        info = await child.next_event(30.0)
        if info.get("event") != "ready":
            raise ChildError(f"server: unexpected first line {info}")
        return cls(child, info)

    @property
    def api_url(self) -> str:
        return str(self.info["api_url"])

    @property
    def bot_token(self) -> str:
        return str(self.info["bot_token"])

    @property
    def bot_user_id(self) -> str:
        return str(self.info["bot_user_id"])

    async def _read(self) -> None:
        try:
            while True:
                msg = await self.child.next_event(timeout=3600.0)
                fut = self._pending.pop(int(msg.get("id", 0)), None)
                if fut is not None and not fut.done():
                    fut.set_result(msg)
        except ChildError as exc:
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(exc)
            self._pending.clear()

    async def call(self, cmd: str, timeout: float = 120.0, **args: Any) -> dict[str, Any]:
        """Run one server command; its answer (ChildError if it failed or timed out)."""
        if self._reader.done():
            raise ChildError("server: not running")
        cid = self._next_id
        self._next_id += 1
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[cid] = fut
        await self.child.send(id=cid, cmd=cmd, **args)
        try:
            answer = await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            self._pending.pop(cid, None)
            raise ChildError(f"server: {cmd} took over {timeout:.0f} s") from None
        if not answer.get("ok"):
            raise ChildError(f"server: {cmd} failed: {answer.get('error')}")
        return answer

    async def stop(self) -> None:
        """Ask the server to quit; kill it if it does not."""
        with contextlib.suppress(Exception):
            await self.call("quit", timeout=5.0)
        await self.child.finish(timeout=5.0)
        self._reader.cancel()
        with contextlib.suppress(BaseException):
            await self._reader
