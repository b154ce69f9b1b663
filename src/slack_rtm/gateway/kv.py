"""The gateway's NATS connection and its four JetStream KV buckets.

:func:`connect` opens a NATS connection the way the gateway wants it: the first connection must
succeed within ``connect_timeout`` seconds (else :class:`NatsUnavailableError`, a clear one-line
error, no retry storm), later disconnections are retried for ever; errors and reconnections are
logged on one line each, with any credentials of the URL (``nats://user:pass@host``) removed.

:func:`open_buckets` opens the buckets of :mod:`slack_rtm.gateway.contract`, creating those
that are missing: history 1 (each key keeps its latest value only), file storage. Every bucket
supports compare-and-set (``update(key, value, last=revision)``, ``create``), which the
processes and assignments buckets are built on; two processes creating a bucket at the same
moment is harmless (the same configuration twice).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.kv import KeyValue

from slack_rtm.errors import SlackRtmError
from slack_rtm.gateway.contract import (
    ASSIGNMENTS_BUCKET,
    CURSORS_BUCKET,
    PROCESSES_BUCKET,
    REGISTRATIONS_BUCKET,
)
from slack_rtm.redact import redact_text

__all__ = [
    "BUCKET_NAMES",
    "Buckets",
    "NatsUnavailableError",
    "connect",
    "nats_url_secrets",
    "open_bucket",
    "open_buckets",
    "public_nats_url",
]

_log = logging.getLogger("slack_rtm.gateway.kv")

BUCKET_NAMES: tuple[str, ...] = (
    REGISTRATIONS_BUCKET,
    PROCESSES_BUCKET,
    ASSIGNMENTS_BUCKET,
    CURSORS_BUCKET,
)
"""The buckets :func:`open_buckets` opens, in the order of :class:`Buckets`' fields."""


class NatsUnavailableError(SlackRtmError):
    """NATS could not be reached, or JetStream did not answer (the message names the servers
    without their credentials)."""


def _servers(nats_url: str) -> list[str]:
    return [part.strip() for part in nats_url.split(",") if part.strip()]


def nats_url_secrets(nats_url: str) -> list[str]:
    """The user names, passwords and tokens embedded in the servers of ``nats_url`` (longest
    first), to keep out of messages: pass them to :func:`slack_rtm.redact.redact_text`."""
    found: list[str] = []
    for server in _servers(nats_url):
        try:
            parts = urlsplit(server if "://" in server else f"nats://{server}")
        except ValueError:
            continue
        for value in (parts.username, parts.password):
            if value:
                found += [value, unquote(value)]
        if "@" in parts.netloc:
            found.append(parts.netloc.rsplit("@", 1)[0])
    return sorted({s for s in found if s}, key=len, reverse=True)


def public_nats_url(nats_url: str) -> str:
    """``nats_url`` fit for a log line: each server as ``scheme://host:port``, without the
    ``user:password@`` or ``token@`` part."""
    shown = []
    for server in _servers(nats_url):
        try:
            parts = urlsplit(server if "://" in server else f"nats://{server}")
            host = parts.hostname or "?"
            port = f":{parts.port}" if parts.port else ""
        except ValueError:
            shown.append("<invalid url>")
            continue
        if ":" in host:
            host = f"[{host}]"
        shown.append(f"{parts.scheme}://{host}{port}")
    return ",".join(shown) or "<no servers>"


def _clean(text: str, nats_url: str) -> str:
    return redact_text(text, *nats_url_secrets(nats_url))


async def connect(
    nats_url: str,
    *,
    name: str | None = None,
    connect_timeout: float = 5.0,
    reconnect_time_wait: float = 1.0,
    max_reconnect_attempts: int = -1,
    **options: Any,
) -> NatsClient:
    """Connect to NATS.

    Args:
        nats_url: a server (``nats://host:4222``, credentials allowed) or a comma-separated
            list of a cluster's servers.
        name: the connection's name, as the server shows it (a process name).
        connect_timeout: seconds the *first* connection may take, every server and attempt
            included.
        reconnect_time_wait: seconds between reconnection attempts once connected.
        max_reconnect_attempts: reconnection attempts per server after a disconnection before
            the connection closes for good; -1 (default): for ever.
        **options: passed on to :func:`nats.connect` (callbacks given here replace the
            logging ones).

    Raises:
        TypeError, ValueError: an argument is invalid.
        NatsUnavailableError: no server answered within ``connect_timeout``.
    """
    if not isinstance(nats_url, str):
        raise TypeError(f"nats_url must be a str, got {type(nats_url).__name__}")
    if not _servers(nats_url):
        raise ValueError("nats_url must name at least one server, e.g. nats://127.0.0.1:4222")
    if name is not None and (not isinstance(name, str) or not name):
        raise ValueError("name must be a non-empty str or None")
    for label, value in (
        ("connect_timeout", connect_timeout),
        ("reconnect_time_wait", reconnect_time_wait),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{label} must be a number, got {type(value).__name__}")
        if not 0 < value < float("inf"):
            raise ValueError(f"{label} must be a finite number > 0, got {value!r}")
    if isinstance(max_reconnect_attempts, bool) or not isinstance(max_reconnect_attempts, int):
        raise TypeError("max_reconnect_attempts must be an int")
    shown = public_nats_url(nats_url)

    async def on_error(exc: Exception) -> None:
        _log.warning("NATS %s: %s: %s", shown, type(exc).__name__, _clean(str(exc), nats_url))

    async def on_disconnected() -> None:
        _log.info("NATS %s: disconnected", shown)

    async def on_reconnected() -> None:
        _log.info("NATS %s: reconnected", shown)

    settings: dict[str, Any] = {
        "error_cb": on_error,
        "disconnected_cb": on_disconnected,
        "reconnected_cb": on_reconnected,
        "allow_reconnect": True,
        "max_reconnect_attempts": max_reconnect_attempts,
        "reconnect_time_wait": reconnect_time_wait,
        "connect_timeout": max(1, round(min(connect_timeout, 60))),
    }
    if name is not None:
        settings["name"] = name
    settings.update(options)
    try:
        # Keep trying until the deadline (the first attempt may race a server starting up).
        client = await asyncio.wait_for(
            nats.connect(_servers(nats_url), **settings), connect_timeout
        )
    except (asyncio.TimeoutError, OSError, nats.errors.Error) as exc:
        reason = (
            "no answer" if isinstance(exc, asyncio.TimeoutError) else _clean(str(exc), nats_url)
        )
        raise NatsUnavailableError(
            f"cannot connect to NATS at {shown} within {connect_timeout:g} s: {reason}"
        ) from None
    _log.debug("NATS %s: connected as %r", shown, name)
    return client


@dataclass(frozen=True, slots=True)
class Buckets:
    """The gateway's KV buckets (see :mod:`slack_rtm.gateway.contract` for their records)."""

    registrations: KeyValue
    processes: KeyValue
    assignments: KeyValue
    cursors: KeyValue


async def open_bucket(js: JetStreamContext, bucket: str) -> KeyValue:
    """The KV bucket ``bucket``, created (history 1, file storage) when missing.

    Raises:
        NatsUnavailableError: JetStream did not answer or refused.
    """
    try:
        try:
            return await js.key_value(bucket)
        except nats.js.errors.BucketNotFoundError:
            pass
        try:
            kv = await js.create_key_value(
                KeyValueConfig(bucket=bucket, history=1, storage=StorageType.FILE)
            )
            _log.info("created KV bucket %s", bucket)
            return kv
        except nats.js.errors.APIError:
            # Another process created it meanwhile (perhaps with other settings): use it.
            return await js.key_value(bucket)
    except (asyncio.TimeoutError, nats.errors.Error) as exc:
        raise NatsUnavailableError(
            f"JetStream KV bucket {bucket}: {type(exc).__name__}: {exc}"
        ) from None


async def open_buckets(js: JetStreamContext) -> Buckets:
    """Every bucket of the gateway, created when missing (see :func:`open_bucket`).

    Raises:
        NatsUnavailableError: JetStream did not answer or refused.
    """
    if not isinstance(js, JetStreamContext):
        raise TypeError(f"js must be a JetStreamContext, got {type(js).__name__}")
    kvs = [await open_bucket(js, name) for name in BUCKET_NAMES]
    return Buckets(*kvs)
