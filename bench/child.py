"""What every benchmark scenario process needs: the line protocol, resources, ``rtm.connect``.

A scenario process talks to the runner (``bench/run.py``) in JSON lines: it writes events to
stdout (``{"event": "ready", ...}``, ``{"event": "result", ...}``) and may read commands from
stdin. Logs go to stderr. Resource figures come from ``/proc`` (Linux), so no extra package is
needed to read them.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Coroutine
from typing import Any

__all__ = [
    "NotBuilt",
    "cpu_seconds",
    "emit",
    "fail",
    "raise_fd_limit",
    "read_command",
    "rss_bytes",
    "rtm_connect_url",
    "run_scenario",
    "thread_count",
]


class NotBuilt(Exception):
    """The code a scenario measures does not exist (yet), or a package it needs is missing."""


def emit(event: str, **fields: Any) -> None:
    """Write one JSON event line to stdout for the runner."""
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def fail(message: str) -> None:
    """Report an error result and exit the process at once (threads left running die too)."""
    emit("error", message=message)
    sys.stderr.flush()
    os._exit(1)


def run_scenario(main: Coroutine[Any, Any, None]) -> None:
    """Run a scenario's coroutine; report "na" when its code is missing, else any error."""
    try:
        asyncio.run(main)
    except NotBuilt as exc:
        emit("na", reason=str(exc))
    except Exception as exc:
        fail(f"{type(exc).__name__}: {exc}")


def read_command() -> dict[str, Any]:
    """Block until the runner writes one JSON command line on stdin; EOF raises SystemExit."""
    line = sys.stdin.readline()
    if not line:
        raise SystemExit(0)
    data = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError("command must be a JSON object")
    return data


def raise_fd_limit(wanted: int = 65536) -> int:
    """Raise RLIMIT_NOFILE towards ``wanted`` (past the hard limit when allowed); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for target in (max(wanted, hard), hard):
        if target == resource.RLIM_INFINITY:
            continue
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, max(target, hard)))
            return target
        except (ValueError, OSError):
            continue
    return soft


def _status_field(name: str) -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise LookupError(name)


def rss_bytes() -> int:
    """This process's resident set size now, in bytes."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: fall back to psutil if it is there
        import psutil

        return int(psutil.Process().memory_info().rss)


def thread_count() -> int:
    """OS threads in this process now (the main thread included)."""
    try:
        return _status_field("Threads")
    except OSError:
        import threading

        return threading.active_count()


def cpu_seconds() -> float:
    """CPU time (user + system) used by this process, every thread included."""
    return time.process_time()


def rtm_connect_url(api_url: str, token: str, timeout: float = 10.0) -> str:
    """Call the emulator's ``rtm.connect`` (token in the Authorization header); the ws URL."""
    body = urllib.parse.urlencode({}).encode()
    req = urllib.request.Request(  # noqa: S310 - the runner passes an http://127.0.0.1 URL
        api_url.rstrip("/") + "/rtm.connect",
        data=body,
        headers={"Authorization": f"Bearer {token}"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
        data = json.loads(resp.read())
    if not data.get("ok"):
        raise RuntimeError(f"rtm.connect failed: {data.get('error')}")
    return str(data["url"])
