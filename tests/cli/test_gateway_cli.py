"""``slack-rtm gateway`` keygen/add/remove/list and the run command's checks: the real command
in a subprocess against a real nats-server and the emulator (on a thread here).

The run command itself (``slack_rtm.gateway.process.serve``) is tested with the process; here
it is tested up to the key check and the options it turns into a GatewayConfig.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import nats
import pytest

from slack_rtm.cli import build_parser
from slack_rtm.cli.gateway import build_config
from slack_rtm.emulator import EmulatorThread
from slack_rtm.gateway.config import KEY_ENV, GatewayConfig
from slack_rtm.gateway.contract import (
    ASSIGNMENTS_BUCKET,
    REGISTRATIONS_BUCKET,
    Assignment,
    LeaseTimings,
    Registration,
)
from slack_rtm.gateway.kv import open_bucket
from slack_rtm.gateway.natsd import NatsServer
from slack_rtm.gateway.registry import encode_registration, registration_id
from slack_rtm.gateway.secrets import GatewayKey

CLI = [sys.executable, "-m", "slack_rtm", "gateway"]
REG_ID = re.compile(r"r[0-9a-f]{16}")
NATS_PASSWORD = "NatsPaSsLEAK"


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread() as emulator:
        yield emulator


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    with NatsServer(tmp_path / "nats") as server:
        yield server


@pytest.fixture
def key() -> str:
    return GatewayKey.generate()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(emu: EmulatorThread | None = None, **extra: str | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SLACK_TOKEN", "SLACK_COOKIE", "SLACK_API_URL", KEY_ENV)
    }
    env["PYTHONUNBUFFERED"] = "1"
    if emu is not None:
        env["SLACK_API_URL"] = emu.api_url
    for name, value in extra.items():
        if value is not None:
            env[name] = value
    return env


def _run(
    args: list[str], env: dict[str, str], stdin: str | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        CLI + args, env=env, input=stdin, capture_output=True, text=True, timeout=timeout
    )


def _kv_put(url: str, bucket: str, key: str, value: bytes) -> None:
    async def put() -> None:
        nc = await nats.connect(url)
        try:
            kv = await open_bucket(nc.jetstream(), bucket)
            await kv.put(key, value)
        finally:
            await nc.close()

    asyncio.run(put())


def _kv_raw(url: str, bucket: str) -> bytes:
    async def read() -> bytes:
        nc = await nats.connect(url)
        try:
            kv = await nc.jetstream().key_value(bucket)
            out = b""
            for key in await kv.keys():
                for entry in await kv.history(key):
                    out += (entry.value or b"") + b"\n"
            return out
        finally:
            await nc.close()

    return asyncio.run(read())


# --- keygen ---------------------------------------------------------------------------------


def test_keygen_prints_a_key_and_nothing_else() -> None:
    first = _run(["keygen"], _env())
    second = _run(["keygen"], _env())
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    lines = first.stdout.splitlines()
    assert len(lines) == 1
    assert len(base64.b64decode(lines[0], validate=True)) == 32
    assert GatewayKey.from_base64(lines[0]).raw == base64.b64decode(lines[0])
    assert first.stdout != second.stdout


# --- add, list, remove ----------------------------------------------------------------------


def test_add_three_kinds_and_list(emu: EmulatorThread, nats_server: NatsServer, key: str) -> None:
    url = nats_server.url
    person, other = emu.workspace.people[0].id, emu.workspace.people[1].id
    # A bot token from SLACK_TOKEN.
    bot = _run(["add", "--nats", url], _env(emu, SLACK_TOKEN=emu.bot_token, **{KEY_ENV: key}))
    assert bot.returncode == 0, bot.stderr
    bot_id = bot.stdout.strip()
    assert REG_ID.fullmatch(bot_id), bot.stdout
    assert bot.stdout == bot_id + "\n"  # the id only
    # A user token as one line on stdin, --api-url instead of SLACK_API_URL.
    user = _run(
        ["add", "--nats", url, "--api-url", emu.api_url],
        _env(**{KEY_ENV: key}),
        stdin=emu.user_tokens[person] + "\n",
    )
    assert user.returncode == 0, user.stderr
    user_id = user.stdout.strip()
    # A browser session: xoxc- token with its cookie from SLACK_COOKIE.
    session = emu.browser_session(other)
    browser = _run(
        ["add", "--nats", url],
        _env(emu, SLACK_TOKEN=session.token, SLACK_COOKIE=session.cookie, **{KEY_ENV: key}),
    )
    assert browser.returncode == 0, browser.stderr
    browser_id = browser.stdout.strip()
    assert len({bot_id, user_id, browser_id}) == 3

    # One of them is held by a process.
    _kv_put(
        url, ASSIGNMENTS_BUCKET, user_id, msgspec.json.encode(Assignment(holder="gw-1", since=1.0))
    )
    listed = _run(["list", "--nats", url], _env())  # no key needed
    assert listed.returncode == 0, listed.stderr
    rows = sorted(line.split("\t") for line in listed.stdout.splitlines())
    assert rows == sorted(
        [
            [bot_id, emu.team_id, emu.bot_user_id, "bot", "-"],
            [user_id, emu.team_id, person, "user", "gw-1"],
            [browser_id, emu.team_id, other, "browser", "-"],
        ]
    )
    secrets = [emu.bot_token, emu.user_tokens[person], session.token, session.cookie, key]
    raw = _kv_raw(url, REGISTRATIONS_BUCKET)
    for text in (listed.stdout + listed.stderr, raw.decode()):
        for secret in secrets:
            assert secret not in text

    # Registering again keeps the id.
    again = _run(["add", "--nats", url], _env(emu, SLACK_TOKEN=emu.bot_token, **{KEY_ENV: key}))
    assert again.stdout.strip() == bot_id


def test_remove_without_the_key(nats_server: NatsServer) -> None:
    url = nats_server.url
    regs = [
        Registration(
            id=registration_id("T1", user), team_id="T1", user_id=user, kind="user", token="sealed"
        )
        for user in ("U1", "U2")
    ]
    for reg in regs:
        _kv_put(url, REGISTRATIONS_BUCKET, reg.id, encode_registration(reg))
    removed = _run(["remove", "--nats", url, regs[0].id], _env())
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout == ""
    gone = _run(["remove", "--nats", url, regs[0].id], _env())
    assert gone.returncode == 1
    assert f"no registration {regs[0].id}" in gone.stderr
    bad = _run(["remove", "--nats", url, "../x"], _env())
    assert bad.returncode == 2
    assert "registration id" in bad.stderr
    listed = _run(["list", "--nats", url], _env())
    assert listed.stdout == f"{regs[1].id}\tT1\tU2\tuser\t-\n"


def test_list_of_an_empty_cluster_prints_nothing(nats_server: NatsServer) -> None:
    out = _run(["list", "--nats", nats_server.url], _env())
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""


def test_add_needs_the_key_before_connecting(emu: EmulatorThread, key: str) -> None:
    dead = f"nats://127.0.0.1:{_free_port()}"  # nothing there: exit 2, not a NATS error
    for value in (None, "", "bm90IGEga2V5", "***"):
        out = _run(
            ["add", "--nats", dead], _env(emu, SLACK_TOKEN=emu.bot_token, **{KEY_ENV: value})
        )
        assert out.returncode == 2, out.stderr
        assert KEY_ENV in out.stderr
        assert "NATS" not in out.stderr
        assert "Traceback" not in out.stderr
        if value:
            assert value not in out.stderr


def test_add_refusals(emu: EmulatorThread, nats_server: NatsServer, key: str) -> None:
    url = nats_server.url
    wrong = "xoxb-999-888-notavalidtokenLEAKCHECK"
    out = _run(["add", "--nats", url], _env(emu, SLACK_TOKEN=wrong, **{KEY_ENV: key}))
    assert out.returncode == 1
    assert "invalid_auth" in out.stderr
    assert "LEAKCHECK" not in out.stdout + out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    session = emu.browser_session(emu.workspace.people[0].id)
    out = _run(["add", "--nats", url], _env(emu, SLACK_TOKEN=session.token, **{KEY_ENV: key}))
    assert out.returncode == 2
    assert "cookie" in out.stderr
    assert session.token not in out.stdout + out.stderr
    out = _run(["add", "--nats", url], _env(emu, **{KEY_ENV: key}), stdin="")
    assert out.returncode == 2
    assert "no token" in out.stderr
    assert _run(["list", "--nats", url], _env()).stdout == ""


def test_nats_unreachable_is_one_line_exit_1(emu: EmulatorThread, key: str) -> None:
    dead = f"nats://admin:{NATS_PASSWORD}@127.0.0.1:{_free_port()}"
    commands = [
        (["list", "--nats", dead], _env()),
        (["remove", "--nats", dead, "r0123456789abcdef"], _env()),
        (["add", "--nats", dead], _env(emu, SLACK_TOKEN=emu.bot_token, **{KEY_ENV: key})),
    ]
    for args, env in commands:
        out = _run(args, env)
        assert out.returncode == 1, (args, out.stderr)
        assert "cannot connect to NATS at nats://127.0.0.1:" in out.stderr
        assert "Traceback" not in out.stderr
        errors = [line for line in out.stderr.splitlines() if "error:" in line]
        assert len(errors) == 1, out.stderr
        assert NATS_PASSWORD not in out.stdout + out.stderr
        assert "admin" not in out.stdout + out.stderr


def test_nothing_secret_at_debug_logging(
    emu: EmulatorThread, nats_server: NatsServer, key: str
) -> None:
    url = nats_server.url.replace("nats://", f"nats://admin:{NATS_PASSWORD}@")
    session = emu.browser_session(emu.workspace.people[2].id, d_s="1700000123")
    cookie = f"d={session.cookie}; d-s=1700000123"
    env = _env(emu, SLACK_TOKEN=session.token, SLACK_COOKIE=cookie, **{KEY_ENV: key})
    outputs = []
    added = _run(["add", "--nats", url, "--log-level", "debug"], env)
    assert added.returncode == 0, added.stderr
    outputs.append(added)
    reg_id = added.stdout.strip()
    for args in (
        ["list", "--nats", url, "--log-level", "debug"],
        ["remove", "--nats", url, "--log-level", "debug", reg_id],
    ):
        outputs.append(_run(args, env))
        assert outputs[-1].returncode == 0, outputs[-1].stderr
    text = "".join(o.stdout + o.stderr for o in outputs)
    assert "DEBUG" in text  # it did log at debug level
    from urllib.parse import quote

    for secret in (
        session.token,
        session.cookie,
        quote(session.cookie, safe=""),
        "1700000123",
        key,
        NATS_PASSWORD,
    ):
        assert secret not in text, secret[:6]


# --- the run command ------------------------------------------------------------------------


def test_run_refuses_without_a_valid_key_before_connecting(key: str) -> None:
    dead = f"nats://127.0.0.1:{_free_port()}"
    for value in (None, "short", base64.b64encode(b"x" * 16).decode()):
        out = _run(["--nats", dead], _env(**{KEY_ENV: value}))
        assert out.returncode == 2, out.stderr
        assert KEY_ENV in out.stderr
        assert "Traceback" not in out.stderr


def test_run_refuses_bad_options(key: str) -> None:
    dead = f"nats://127.0.0.1:{_free_port()}"
    out = _run([], _env(**{KEY_ENV: key}))
    assert out.returncode == 2
    assert "--nats" in out.stderr
    out = _run(["--nats", dead, "--capacity", "0"], _env(**{KEY_ENV: key}))
    assert out.returncode == 2
    assert "capacity" in out.stderr
    out = _run(["--nats", dead, "--renew-every", "5"], _env(**{KEY_ENV: key}))
    assert out.returncode == 2
    assert "renew_every" in out.stderr
    out = _run(["--nats", dead, "--capacity", "many"], _env(**{KEY_ENV: key}))
    assert out.returncode == 2
    assert "--capacity" in out.stderr


def _parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["gateway", *argv])


def test_run_options_map_to_gateway_config(monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:1/api")
    env = {KEY_ENV: key}
    config = build_config(_parse("--nats", "nats://h:1"), env)
    defaults = GatewayConfig(nats_url="nats://h:1", key=base64.b64decode(key), name=config.name)
    assert config == defaults
    assert config.api_url == "http://127.0.0.1:1/api"  # $SLACK_API_URL, then Slack
    config = build_config(
        _parse(
            "--nats",
            "nats://a:1,nats://b:2",
            "--name",
            "gw-7",
            "--capacity",
            "12",
            "--metrics-port",
            "0",
            "--metrics-host",
            "0.0.0.0",
            "--api-url",
            "http://e/api",
            "--renew-every",
            "0.5",
            "--fence-after",
            "2",
            "--expire-after",
            "4",
            "--connect-rate",
            "3",
            "--takeover-rate",
            "30",
            "--health-timeout",
            "9",
            "--drain-timeout",
            "7",
            "--ping-interval",
            "11",
            "--ping-timeout",
            "6",
            "--max-age",
            "3600",
            "--duplicate-window",
            "60",
            "--stream",
            "EVENTS_2",
            "--allow-insecure",
        ),
        env,
    )
    assert config == GatewayConfig(
        nats_url="nats://a:1,nats://b:2",
        key=base64.b64decode(key),
        name="gw-7",
        capacity=12,
        metrics_port=0,
        metrics_host="0.0.0.0",
        api_url="http://e/api",
        lease=LeaseTimings(renew_every=0.5, fence_after=2, expire_after=4),
        connect_rate=3,
        takeover_rate=30,
        health_timeout=9,
        drain_timeout=7,
        ping_interval=11,
        ping_timeout=6,
        max_age=3600,
        duplicate_window=60,
        stream="EVENTS_2",
        allow_insecure=True,
    )
    assert key not in repr(config)
