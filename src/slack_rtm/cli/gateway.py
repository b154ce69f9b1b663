"""``slack-rtm gateway``: run a gateway process, and register the logins it holds.

- ``slack-rtm gateway --nats URL [options]`` runs one gateway process (see ``docs/gateway.md``)
  until SIGTERM or Ctrl-C, which drain it. It needs the key in ``$SLACK_RTM_GATEWAY_KEY``.
- ``slack-rtm gateway keygen`` prints a new key.
- ``slack-rtm gateway add --nats URL`` registers the token in ``$SLACK_TOKEN`` (else one line
  read from stdin) with the browser-session cookie in ``$SLACK_COOKIE`` if set, and prints the
  registration id (``auth.test`` is sent with ``$SLACK_USER_AGENT`` when set). It needs the
  key (it seals the token and cookie).
- ``slack-rtm gateway remove --nats URL ID`` and ``slack-rtm gateway list --nats URL`` do not
  need the key: an operator can see and remove logins without being able to read them.

Nothing here prints or logs a token, a cookie, the key or the credentials of a NATS URL. The
gateway's modules (and nats-py) are imported only when a gateway command runs, so the rest of
the command line works without the ``gateway`` extra.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from slack_rtm.redact import redact_text

if TYPE_CHECKING:
    from nats.aio.client import Client as NatsClient

    from slack_rtm.gateway.config import GatewayConfig

__all__ = ["build_config", "register", "run"]

T = TypeVar("T")

_EXAMPLES = """\
examples:
  export SLACK_RTM_GATEWAY_KEY=$(slack-rtm gateway keygen)   # once; keep it secret
  SLACK_TOKEN=xoxb-... slack-rtm gateway add --nats nats://127.0.0.1:4222
  slack-rtm gateway list --nats nats://127.0.0.1:4222
  slack-rtm gateway --nats nats://127.0.0.1:4222 --name gw-1 --capacity 5000 --metrics-port 9464
  slack-rtm gateway remove --nats nats://127.0.0.1:4222 r0123456789abcdef

exit status: 0 done (the process: drained); 1 NATS or Slack failed; 2 bad arguments or key.
"""

_NEEDS_EXTRA = (
    "slack-rtm gateway needs the gateway extra (nats-py, cryptography, prometheus-client): "
    "pip install 'slack-rtm[gateway]'"
)

# Run options that map 1:1 to GatewayConfig fields (dest -> field), typed by argparse.
_FLOAT_FIELDS = (
    "connect_rate",
    "takeover_rate",
    "health_timeout",
    "drain_timeout",
    "ping_interval",
    "ping_timeout",
    "max_age",
    "duplicate_window",
)
_LEASE_FIELDS = ("renew_every", "fence_after", "expire_after")


class _UsageError(Exception):
    """Bad arguments or key: exit status 2."""


def register(sub: Any) -> None:
    """Add the ``gateway`` command and its ``keygen``, ``add``, ``remove``, ``list``."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "gateway",
        help="hold many RTM sessions on NATS JetStream; register logins",
        description=(
            "Run a gateway process that holds the RTM sessions registered in a NATS cluster "
            "and publishes their events to JetStream, or manage the registered logins."
        ),
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_run_options(parser)
    parser.set_defaults(func=run)
    commands = parser.add_subparsers(dest="gateway_command", metavar="SUBCOMMAND")

    keygen = commands.add_parser(
        "keygen",
        help="print a new gateway key (32 random bytes, base64)",
        description="Print a new key for $SLACK_RTM_GATEWAY_KEY and nothing else.",
    )
    keygen.set_defaults(func=_keygen)

    add = commands.add_parser(
        "add",
        help="register a login: token from $SLACK_TOKEN or stdin, cookie from $SLACK_COOKIE",
        description=(
            "Check a login with auth.test and register it (token and cookie sealed with the "
            "key in $SLACK_RTM_GATEWAY_KEY); print its registration id. Registering a login "
            "again replaces its secrets and keeps its id."
        ),
    )
    _add_nats(add)
    add.add_argument(
        "--api-url",
        metavar="URL",
        help="Web API base URL for auth.test; default: $SLACK_API_URL or Slack's",
    )
    add.set_defaults(func=_add)

    remove = commands.add_parser(
        "remove",
        help="remove a registration (its holder closes the session)",
        description="Remove a registration by id; exit 1 when there is none.",
    )
    _add_nats(remove)
    remove.add_argument("reg_id", metavar="ID", help="the registration id (r + 16 hex digits)")
    remove.set_defaults(func=_remove)

    listing = commands.add_parser(
        "list",
        help="list registrations: id, team, user, kind, holder (tab-separated)",
        description=(
            "Print one line per registration, tab-separated: id, team id, user id, kind "
            "(bot, user, browser), holder (the process holding it, '-' when none)."
        ),
    )
    _add_nats(listing)
    listing.set_defaults(func=_list)


def _add_nats(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument(
        "--nats",
        metavar="URL",
        required=required,
        help="the NATS server, or a comma-separated list of a cluster's servers",
    )
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="warning" if required else "info",
        help="log to stderr from this level (never a secret)",
    )


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    _add_nats(parser, required=False)
    add = parser.add_argument
    add(
        "--name",
        metavar="NAME",
        help="this process's name, unique in the cluster (default: <host>-<pid>)",
    )
    add("--capacity", type=int, metavar="N", help="a hard cap on the sessions held (10000)")
    add(
        "--metrics-port",
        type=int,
        metavar="P",
        help="serve /metrics and /healthz on this port (0: any free port; default: none)",
    )
    add("--metrics-host", metavar="H", help="the address /metrics listens on (127.0.0.1)")
    add(
        "--api-url",
        metavar="URL",
        help="Web API base URL the sessions use; default: $SLACK_API_URL or Slack's",
    )
    add("--stream", metavar="NAME", help="the JetStream stream events go to (SLACK_RTM_EVENTS)")
    for field, text in (
        ("renew_every", "renew this process's lease every S seconds (1)"),
        ("fence_after", "close every session when the lease is S seconds old (3.5)"),
        ("expire_after", "count another process dead after S seconds unchanged (6)"),
        ("connect_rate", "sessions opened per second when rebalancing (5)"),
        ("takeover_rate", "sessions opened per second when taking over (200)"),
        ("health_timeout", "/healthz fails for a session reconnecting or silent this long (60)"),
        ("drain_timeout", "on SIGTERM, the longest to wait for others to take over (10)"),
        ("ping_interval", "the sessions' keepalive interval in seconds (20)"),
        ("ping_timeout", "the sessions' keepalive timeout in seconds (10)"),
        ("max_age", "seconds events stay in the stream, when creating it (86400)"),
        ("duplicate_window", "seconds the stream de-duplicates Nats-Msg-Id (120)"),
    ):
        metavar = "N" if field.endswith("_rate") else "S"
        add(f"--{field.replace('_', '-')}", type=float, metavar=metavar, help=text)
    add(
        "--allow-insecure",
        action="store_true",
        default=None,
        help="let sessions use http:// and ws:// to hosts other than loopback",
    )


# --- the process ----------------------------------------------------------------------------


def build_config(args: argparse.Namespace, environ: Any = None) -> GatewayConfig:
    """The :class:`~slack_rtm.gateway.config.GatewayConfig` for the run options in ``args`` and
    the key in ``$SLACK_RTM_GATEWAY_KEY``; options not given keep GatewayConfig's defaults.

    Raises:
        GatewayKeyError: the key is missing or invalid (never echoed).
        TypeError, ValueError: an option is out of range (the message names it).
    """
    from slack_rtm.gateway.config import GatewayConfig, default_api_url
    from slack_rtm.gateway.contract import LeaseTimings
    from slack_rtm.gateway.secrets import GatewayKey

    key = GatewayKey.from_env(environ)
    fields: dict[str, Any] = {"nats_url": args.nats, "key": key.raw}
    for name in (
        "name",
        "capacity",
        "metrics_port",
        "metrics_host",
        "stream",
        "allow_insecure",
        *_FLOAT_FIELDS,
    ):
        value = getattr(args, name, None)
        if value is not None:
            fields[name] = value
    fields["api_url"] = (args.api_url or "").strip() or default_api_url()
    lease = {
        name: getattr(args, name) for name in _LEASE_FIELDS if getattr(args, name, None) is not None
    }
    if lease:
        fields["lease"] = LeaseTimings(**lease)
    return GatewayConfig(**fields)


def run(args: argparse.Namespace) -> int:
    """Run ``slack-rtm gateway`` (the process); returns the exit status."""
    if not args.nats:
        return _usage("the gateway needs --nats URL (or a subcommand: keygen, add, remove, list)")
    try:
        config = build_config(args)
    except ImportError:
        return _fail(_NEEDS_EXTRA)
    except (TypeError, ValueError) as exc:  # GatewayKeyError included
        return _usage(str(exc))
    _setup_logging(args.log_level)
    try:
        process = importlib.import_module("slack_rtm.gateway.process")
    except ModuleNotFoundError as exc:
        if exc.name == "slack_rtm.gateway.process":
            return _fail("this slack-rtm has no gateway process (slack_rtm.gateway.process)")
        return _fail(_NEEDS_EXTRA)
    return int(asyncio.run(process.serve(config)))


# --- keygen, add, remove, list --------------------------------------------------------------


def _keygen(args: argparse.Namespace) -> int:
    try:
        from slack_rtm.gateway.secrets import GatewayKey
    except ImportError:
        return _fail(_NEEDS_EXTRA)
    print(GatewayKey.generate())
    return 0


def _read_token() -> str:
    token = os.environ.get("SLACK_TOKEN", "").strip()
    if token:
        return token
    if sys.stdin is None:
        return ""
    if sys.stdin.isatty():
        return getpass.getpass("token: ", stream=sys.stderr).strip()
    return sys.stdin.readline().strip()


def _add(args: argparse.Namespace) -> int:
    try:
        from slack_rtm.gateway.config import default_api_url
        from slack_rtm.gateway.registry import Registry
        from slack_rtm.gateway.secrets import GatewayKey
    except ImportError:
        return _fail(_NEEDS_EXTRA)
    try:
        key = GatewayKey.from_env()
    except ValueError as exc:
        return _usage(str(exc))
    token = _read_token()
    if not token:
        return _usage("no token: set SLACK_TOKEN or give it on stdin (one line)")
    cookie = os.environ.get("SLACK_COOKIE", "").strip() or None
    api_url = (args.api_url or "").strip() or default_api_url()
    user_agent = os.environ.get("SLACK_USER_AGENT", "").strip() or None
    _setup_logging(args.log_level)

    async def add(nc: NatsClient) -> str:
        from slack_rtm.gateway.contract import REGISTRATIONS_BUCKET
        from slack_rtm.gateway.kv import open_bucket

        registry = Registry(await open_bucket(nc.jetstream(), REGISTRATIONS_BUCKET), key)
        reg = await registry.register(token, cookie, api_url=api_url, user_agent=user_agent)
        return reg.id

    return _with_nats(args, add, lambda reg_id: print(reg_id), secrets=(token, cookie))


def _remove(args: argparse.Namespace) -> int:
    try:
        from slack_rtm.gateway.registry import Registry, check_registration_id
    except ImportError:
        return _fail(_NEEDS_EXTRA)
    try:
        check_registration_id(args.reg_id, "ID")
    except ValueError as exc:
        return _usage(str(exc))
    _setup_logging(args.log_level)

    async def remove(nc: NatsClient) -> bool:
        from slack_rtm.gateway.contract import REGISTRATIONS_BUCKET
        from slack_rtm.gateway.kv import open_bucket

        registry = Registry(await open_bucket(nc.jetstream(), REGISTRATIONS_BUCKET), None)
        return await registry.remove(args.reg_id)

    removed: list[bool] = []
    status = _with_nats(args, remove, removed.append)
    if status == 0 and not removed[0]:
        return _fail(f"no registration {args.reg_id}")
    return status


def _list(args: argparse.Namespace) -> int:
    try:
        from slack_rtm.gateway.registry import Registry
    except ImportError:
        return _fail(_NEEDS_EXTRA)
    _setup_logging(args.log_level)

    async def listing(nc: NatsClient) -> list[str]:
        from slack_rtm.gateway.contract import ASSIGNMENTS_BUCKET, REGISTRATIONS_BUCKET
        from slack_rtm.gateway.kv import open_bucket

        js = nc.jetstream()
        registry = Registry(await open_bucket(js, REGISTRATIONS_BUCKET), None)
        assignments = await open_bucket(js, ASSIGNMENTS_BUCKET)
        lines = []
        for reg in await registry.list():
            holder = await _holder(assignments, reg.id)
            lines.append("\t".join((reg.id, reg.team_id, reg.user_id, reg.kind, holder)))
        return lines

    def show(lines: list[str]) -> None:
        for line in lines:
            print(line)

    return _with_nats(args, listing, show)


async def _holder(assignments: Any, reg_id: str) -> str:
    """The holder named in the assignments bucket for ``reg_id``, ``-`` when none."""
    import msgspec
    import nats.js.errors

    from slack_rtm.gateway.contract import Assignment

    try:
        entry = await assignments.get(reg_id)
    except nats.js.errors.KeyNotFoundError:
        return "-"
    try:
        holder = msgspec.json.decode(entry.value or b"", type=Assignment).holder
    except msgspec.DecodeError:
        return "?"
    return holder or "-"


# --- shared ---------------------------------------------------------------------------------


def _with_nats(
    args: argparse.Namespace,
    work: Callable[[NatsClient], Awaitable[T]],
    done: Callable[[T], object],
    *,
    secrets: tuple[str | None, ...] = (),
) -> int:
    """Connect to ``--nats``, run ``work``, close, then hand its result to ``done``; errors
    become one line on stderr (exit 1; 2 for bad arguments), with no secret in it."""
    from slack_rtm.errors import SlackRtmError
    from slack_rtm.gateway.kv import connect, nats_url_secrets

    hidden = tuple(s for s in (*secrets, *nats_url_secrets(args.nats)) if s)

    async def main() -> T:
        nc = await connect(
            args.nats,
            name="slack-rtm-cli",
            connect_timeout=5.0,
            reconnect_time_wait=0.2,
            max_reconnect_attempts=1,
        )
        try:
            return await work(nc)
        finally:
            await nc.close()

    try:
        result = asyncio.run(main())
    except (TypeError, ValueError) as exc:
        return _usage(redact_text(str(exc), *hidden))
    except (SlackRtmError, OSError) as exc:
        return _fail(redact_text(str(exc), *hidden))
    done(result)
    return 0


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _usage(message: str) -> int:
    print(f"slack-rtm gateway: error: {redact_text(message)}", file=sys.stderr)
    return 2


def _fail(message: str) -> int:
    print(f"slack-rtm gateway: error: {redact_text(message)}", file=sys.stderr)
    return 1
