"""Registry over a real nats-server and the emulator's auth.test: kinds, one registration per
login, sealed secrets (never plaintext in KV), refusals, remove and list."""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.kv import KeyValue

from slack_rtm.emulator import Emulator
from slack_rtm.errors import SlackRtmError, StateError
from slack_rtm.gateway.contract import ContractError, Registration
from slack_rtm.gateway.kv import NatsUnavailableError, open_buckets
from slack_rtm.gateway.natsd import NatsServer
from slack_rtm.gateway.registry import (
    RegistrationError,
    Registry,
    check_registration_id,
    decode_registration,
    encode_registration,
    login_kind,
    registration_id,
)
from slack_rtm.gateway.secrets import GatewayKey, GatewayKeyError

_spec = importlib.util.spec_from_file_location(
    "leakcheck", Path(__file__).parent.parent / "reliability" / "leakcheck.py"
)
assert _spec is not None
assert _spec.loader is not None
_leakcheck = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_leakcheck)
cookie_forms = _leakcheck.cookie_forms

REG_ID = re.compile(r"r[0-9a-f]{16}")


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        yield emulator


@pytest.fixture
async def bucket(nc: NatsClient) -> KeyValue:
    return (await open_buckets(nc.jetstream())).registrations


@pytest.fixture
def key() -> GatewayKey:
    return GatewayKey(os.urandom(32))


@pytest.fixture
def registry(bucket: KeyValue, key: GatewayKey) -> Registry:
    return Registry(bucket, key)


async def _raw_values(bucket: KeyValue) -> bytes:
    """Every value in the bucket's stream, every revision, as stored."""
    out = b""
    try:
        keys = await bucket.keys()
    except nats.js.errors.NoKeysError:
        return out
    for key in keys:
        for entry in await bucket.history(key):
            out += (entry.value or b"") + b"\n"
    return out


# --- pure helpers ---------------------------------------------------------------------------


def test_ids_and_kinds() -> None:
    reg_id = registration_id("T1", "U1")
    assert REG_ID.fullmatch(reg_id)
    assert reg_id == registration_id("T1", "U1") != registration_id("T1", "U2")
    assert registration_id("T1", "U2") != registration_id("T2", "U1")
    assert check_registration_id(reg_id) == reg_id
    for bad in (
        "",
        "r0123",
        "R0123456789abcdef",
        "r0123456789ABCDEF",
        "r0123456789abcdef0",
        "x0123456789abcdef",
    ):
        with pytest.raises(ValueError, match="reg_id must be a registration id"):
            check_registration_id(bad)
    with pytest.raises(TypeError, match="reg_id must be a str"):
        check_registration_id(5)
    assert login_kind("xoxc-1-2") == "browser"
    assert login_kind("xoxb-1-2") == "bot"
    assert login_kind("xoxp-1-2", "B123") == "bot"  # auth.test says it is a bot
    assert login_kind("xoxp-1-2") == "user"
    assert login_kind("xoxp-1-2", "") == "user"


def test_record_round_trip() -> None:
    reg = Registration(
        id=registration_id("T1", "U1"),
        team_id="T1",
        user_id="U1",
        kind="bot",
        token="sealed",
        created=1.5,
    )
    assert decode_registration(encode_registration(reg)) == reg
    with pytest.raises(ContractError, match="not a registration"):
        decode_registration(b"{}")
    bad_id = msgspec.structs.replace(reg, id="../x")
    with pytest.raises(ContractError, match="not a registration"):
        decode_registration(encode_registration(bad_id))


def test_constructor_types(bucket: KeyValue, key: GatewayKey) -> None:
    with pytest.raises(TypeError, match="bucket must be"):
        Registry({}, key)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="key must be a GatewayKey or None"):
        Registry(bucket, b"x" * 32)  # type: ignore[arg-type]
    assert "slack_rtm_registrations" in repr(Registry(bucket, key))


# --- register -------------------------------------------------------------------------------


async def test_register_bot_user_and_browser(
    emu: Emulator, registry: Registry, bucket: KeyValue
) -> None:
    person = emu.workspace.people[0].id
    other = emu.workspace.people[1].id
    bot = await registry.register(emu.bot_token, None, api_url=emu.api_url)
    assert (bot.team_id, bot.user_id, bot.kind) == (emu.team_id, emu.bot_user_id, "bot")
    assert bot.id == registration_id(emu.team_id, emu.bot_user_id)
    assert bot.cookie is None
    assert bot.created > 0
    user = await registry.register(emu.user_tokens[person], None, api_url=emu.api_url)
    assert (user.user_id, user.kind) == (person, "user")
    session = emu.browser_session(other, d_s="1700000000")
    cookie = f"d={session.cookie}; d-s=1700000000"
    browser = await registry.register(session.token, cookie, api_url=emu.api_url)
    assert (browser.user_id, browser.kind) == (other, "browser")
    assert browser.cookie is not None

    assert registry.secrets(bot) == (emu.bot_token, None)
    assert registry.secrets(user) == (emu.user_tokens[person], None)
    assert registry.secrets(browser) == (session.token, cookie)
    assert await registry.get(bot.id) == bot
    assert await registry.get(registration_id("T9", "U9")) is None
    listed = await registry.list()
    assert sorted(r.id for r in listed) == sorted([bot.id, user.id, browser.id])
    assert listed == sorted(listed, key=lambda r: (r.team_id, r.user_id))

    # The bucket never holds a secret in plaintext, in any form.
    raw = await _raw_values(bucket)
    assert raw.count(b'"token"') == 3
    secrets = [
        emu.bot_token,
        emu.user_tokens[person],
        session.token,
        session.cookie,
        *cookie_forms(session.cookie),
        "1700000000",
    ]
    for secret in secrets:
        assert secret.encode() not in raw, secret[:8]


async def test_register_again_replaces_the_secrets_and_keeps_the_id(
    emu: Emulator, registry: Registry, bucket: KeyValue
) -> None:
    first = await registry.register(emu.bot_token, None, api_url=emu.api_url)
    again = await registry.register(f"  {emu.bot_token}\n", None, api_url=emu.api_url)
    assert again.id == first.id
    assert again.created == first.created
    assert again.token != first.token  # sealed anew
    assert [r.id for r in await registry.list()] == [first.id]
    assert len(await bucket.history(first.id)) == 1


async def test_a_sealed_token_does_not_open_elsewhere(
    emu: Emulator, registry: Registry, bucket: KeyValue
) -> None:
    bot = await registry.register(emu.bot_token, None, api_url=emu.api_url)
    moved = msgspec.structs.replace(bot, id=registration_id("T9", "U9"))
    with pytest.raises(GatewayKeyError, match="does not open"):
        registry.secrets(moved)
    swapped = msgspec.structs.replace(bot, cookie=bot.token)
    with pytest.raises(GatewayKeyError, match="does not open"):
        registry.secrets(swapped)
    with pytest.raises(GatewayKeyError, match="does not open"):
        Registry(bucket, GatewayKey(os.urandom(32))).secrets(bot)
    with pytest.raises(TypeError, match="reg must be a Registration"):
        registry.secrets(bot.id)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("token", "cookie", "error", "match"),
    [
        ("", None, ValueError, "token must not be empty"),
        ("  \n", None, ValueError, "token must not be empty"),
        (None, None, TypeError, "token must be a str"),
        ("xoxb-1 2", None, ValueError, "token must be printable ASCII"),
        ("xoxc-123-456", None, ValueError, "needs its cookie"),
        ("xoxc-123-456", " ", ValueError, "needs its cookie"),
        ("xoxb-123-456", "xoxd-abc", ValueError, "only used with an xoxc- token"),
        ("xoxc-123-456", "a=b", ValueError, "must include the 'd' session cookie"),
        ("xoxc-123-456", 5, TypeError, "cookie must be a str or None"),
    ],
)
async def test_register_refuses_before_any_call(
    registry: Registry,
    token: object,
    cookie: object,
    error: type[Exception],
    match: str,
) -> None:
    # Nothing listens on port 9: had it called auth.test first, the error would be a
    # TransportError, not this.
    with pytest.raises(error, match=match) as e:
        await registry.register(
            token,
            cookie,  # type: ignore[arg-type]
            api_url="http://127.0.0.1:9/api",
        )
    if isinstance(token, str) and token.strip():
        assert token.strip() not in str(e.value)
    if isinstance(cookie, str) and cookie.strip():
        assert cookie.strip() not in str(e.value)
    assert await registry.list() == []


async def test_register_refused_by_slack_names_the_code_not_the_token(
    emu: Emulator, registry: Registry
) -> None:
    wrong = "xoxb-999-888-notavalidtokenLEAKCHECK"
    with pytest.raises(RegistrationError, match="invalid_auth") as e:
        await registry.register(wrong, None, api_url=emu.api_url)
    assert e.value.error == "invalid_auth"
    assert isinstance(e.value, SlackRtmError)
    assert "LEAKCHECK" not in str(e.value) + repr(e.value)
    emu.set_token_error(emu.bot_token, "account_inactive")
    with pytest.raises(RegistrationError, match="account_inactive"):
        await registry.register(emu.bot_token, None, api_url=emu.api_url)
    # A browser token without the right cookie: Slack (the emulator) refuses it.
    session = emu.browser_session(emu.workspace.people[0].id)
    with pytest.raises(RegistrationError, match="invalid_auth"):
        await registry.register(session.token, "xoxd-wrong%2Fcookie", api_url=emu.api_url)
    assert await registry.list() == []


async def test_register_with_slack_unreachable(registry: Registry) -> None:
    with pytest.raises(SlackRtmError) as e:
        await registry.register(
            "xoxb-1-2-LEAKCHECK", None, api_url="http://127.0.0.1:9/api", timeout=2
        )
    assert "LEAKCHECK" not in str(e.value)
    with pytest.raises(ValueError, match="api_url"):
        await registry.register("xoxb-1", None, api_url="")


# --- remove, get, list ----------------------------------------------------------------------


async def test_remove(emu: Emulator, registry: Registry) -> None:
    bot = await registry.register(emu.bot_token, None, api_url=emu.api_url)
    user = await registry.register(next(iter(emu.user_tokens.values())), None, api_url=emu.api_url)
    assert await registry.remove(bot.id) is True
    assert await registry.remove(bot.id) is False
    assert await registry.get(bot.id) is None
    assert [r.id for r in await registry.list()] == [user.id]
    assert await registry.remove(registration_id("T9", "U9")) is False
    with pytest.raises(ValueError, match="registration id"):
        await registry.remove("../../x")
    with pytest.raises(ValueError, match="registration id"):
        await registry.get("x")
    # Registered again after a removal: the same id, a new record.
    back = await registry.register(emu.bot_token, None, api_url=emu.api_url)
    assert back.id == bot.id
    assert {r.id for r in await registry.list()} == {bot.id, user.id}


async def test_list_skips_unreadable_records(
    registry: Registry, bucket: KeyValue, caplog: pytest.LogCaptureFixture
) -> None:
    assert await registry.list() == []
    reg = Registration(
        id=registration_id("T1", "U1"), team_id="T1", user_id="U1", kind="user", token="x"
    )
    await bucket.put(reg.id, encode_registration(reg))
    await bucket.put("junk", b"not json")
    assert await registry.list() == [reg]
    assert "junk" in caplog.text
    await bucket.put(reg.id, b"{}")
    assert await registry.get(reg.id) is None


async def test_many_registrations_are_listed(registry: Registry, bucket: KeyValue) -> None:
    regs = [
        Registration(
            id=registration_id("T1", f"U{i}"),
            team_id="T1",
            user_id=f"U{i:04d}",
            kind="user",
            token="x",
        )
        for i in range(300)
    ]  # over a watcher's queue
    for reg in regs:
        await bucket.put(reg.id, encode_registration(reg))
    listed = await registry.list()
    assert len(listed) == 300
    assert listed == sorted(regs, key=lambda r: r.user_id)


async def test_nats_down(nats_server: NatsServer, key: GatewayKey) -> None:
    client = await nats.connect(nats_server.url, max_reconnect_attempts=1, reconnect_time_wait=0.05)
    try:
        registry = Registry((await open_buckets(client.jetstream(timeout=1))).registrations, key)
        nats_server.stop()
        with pytest.raises(NatsUnavailableError, match="cannot list the registrations"):
            await registry.list(timeout=1)
        with pytest.raises(NatsUnavailableError, match="cannot remove"):
            await registry.remove(registration_id("T1", "U1"))
        with pytest.raises(NatsUnavailableError, match="cannot read"):
            await registry.get(registration_id("T1", "U1"))
    finally:
        await client.close()


async def test_without_the_key_list_get_remove_work(
    emu: Emulator, registry: Registry, bucket: KeyValue
) -> None:
    bot = await registry.register(emu.bot_token, None, api_url=emu.api_url)
    keyless = Registry(bucket, None)
    assert await keyless.list() == [bot]
    assert await keyless.get(bot.id) == bot
    with pytest.raises(StateError, match="without the gateway key"):
        keyless.secrets(bot)
    with pytest.raises(StateError, match="cannot register"):
        await keyless.register(emu.bot_token, None, api_url=emu.api_url)
    assert await keyless.remove(bot.id) is True
    assert await registry.list() == []
