"""GatewayKey (slack_rtm.gateway.secrets) without I/O: sealing, opening, refusing, never echoing."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest

from slack_rtm.gateway.config import KEY_ENV, GatewayConfig
from slack_rtm.gateway.secrets import KEY_SIZE, NONCE_SIZE, GatewayKey, GatewayKeyError

PLAIN = "xoxb-SECRET1234-sealed"


@pytest.fixture
def key() -> GatewayKey:
    return GatewayKey(os.urandom(KEY_SIZE))


def test_seal_open_round_trip(key: GatewayKey) -> None:
    sealed = key.seal(PLAIN, "r0123456789abcdef:token")
    assert PLAIN not in sealed
    assert "SECRET1234" not in sealed
    assert key.open(sealed, "r0123456789abcdef:token") == PLAIN
    blob = base64.b64decode(sealed, validate=True)
    assert len(blob) == NONCE_SIZE + len(PLAIN.encode()) + 16  # nonce + ciphertext + tag
    # A fresh nonce each time: the same secret never seals to the same text.
    assert key.seal(PLAIN, "a") != key.seal(PLAIN, "a")
    # Any text, including the empty string and non-ASCII.
    for text in ("", "d=xoxd-a%2Fb%2Bc%3D; d-s=1700000000", "naïve ☃"):
        assert key.open(key.seal(text, "x"), "x") == text


def test_open_refuses_another_place_another_key_or_tampering(key: GatewayKey) -> None:
    sealed = key.seal(PLAIN, "r1:token")
    with pytest.raises(GatewayKeyError, match="does not open") as e:
        key.open(sealed, "r1:cookie")  # another field
    assert PLAIN not in str(e.value)
    assert sealed not in str(e.value)
    with pytest.raises(GatewayKeyError, match="does not open"):
        key.open(sealed, "r2:token")  # another registration
    with pytest.raises(GatewayKeyError, match="does not open"):
        GatewayKey(os.urandom(KEY_SIZE)).open(sealed, "r1:token")  # another key
    blob = bytearray(base64.b64decode(sealed))
    for index in (0, NONCE_SIZE, len(blob) - 1):  # nonce, ciphertext, tag
        tampered = bytearray(blob)
        tampered[index] ^= 1
        with pytest.raises(GatewayKeyError, match="does not open"):
            key.open(base64.b64encode(bytes(tampered)).decode(), "r1:token")
    with pytest.raises(GatewayKeyError, match="not base64"):
        key.open("not base64!", "r1:token")
    with pytest.raises(GatewayKeyError, match="too short"):
        key.open(base64.b64encode(b"short").decode(), "r1:token")


@pytest.mark.parametrize(
    ("method", "args"),
    [("seal", (1, "a")), ("seal", ("a", None)), ("open", (b"x", "a")), ("open", ("x", 5))],
)
def test_seal_open_check_types(key: GatewayKey, method: str, args: tuple[Any, Any]) -> None:
    with pytest.raises(TypeError, match="must be a str"):
        getattr(key, method)(*args)


def test_constructor() -> None:
    raw = os.urandom(KEY_SIZE)
    assert GatewayKey(raw).raw == raw
    assert GatewayKey(bytearray(raw)).raw == raw
    for bad in (b"", b"x" * 31, b"x" * 33, b"x" * 16):
        with pytest.raises(GatewayKeyError, match="32 bytes"):
            GatewayKey(bad)
    with pytest.raises(TypeError, match="key must be bytes"):
        GatewayKey("x" * 32)  # type: ignore[arg-type]
    assert issubclass(GatewayKeyError, ValueError)


def test_generate_and_from_base64() -> None:
    text = GatewayKey.generate()
    assert len(base64.b64decode(text, validate=True)) == KEY_SIZE
    assert text != GatewayKey.generate()
    key = GatewayKey.from_base64(text)
    assert key.raw == base64.b64decode(text)
    assert GatewayKey.from_base64(f"  {text}\n").raw == key.raw
    urlsafe = base64.urlsafe_b64encode(key.raw).decode()
    assert GatewayKey.from_base64(urlsafe).raw == key.raw
    # The key works in a GatewayConfig and is not in its repr.
    config = GatewayConfig(nats_url="nats://127.0.0.1:4222", key=key.raw)
    assert text not in repr(config)


SECRETISH = "c2VjcmV0LWtleS1tYXRlcmlhbA"  # base64 of "secret-key-material": 19 bytes


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("not*base64", "not base64"),
        (SECRETISH + "==", "32 bytes in base64, got 19"),
        (base64.b64encode(os.urandom(64)).decode(), "got 64 bytes"),
    ],
)
def test_from_base64_refuses_without_echo(text: str, match: str) -> None:
    with pytest.raises(GatewayKeyError, match=match) as e:
        GatewayKey.from_base64(text)
    if text.strip():
        assert text.strip() not in str(e.value)
        assert "keygen" in str(e.value)


def test_from_base64_type() -> None:
    with pytest.raises(TypeError, match="text must be a str"):
        GatewayKey.from_base64(b"abc")  # type: ignore[arg-type]


def test_from_env() -> None:
    text = GatewayKey.generate()
    assert GatewayKey.from_env({KEY_ENV: text}).raw == base64.b64decode(text)
    with pytest.raises(GatewayKeyError, match=f"{KEY_ENV} is not set"):
        GatewayKey.from_env({})
    with pytest.raises(GatewayKeyError, match=f"{KEY_ENV} is not set"):
        GatewayKey.from_env({KEY_ENV: " "})
    bad = SECRETISH + "=="
    with pytest.raises(GatewayKeyError, match=f"^{KEY_ENV}: the gateway key must be 32") as e:
        GatewayKey.from_env({KEY_ENV: bad})
    assert SECRETISH not in str(e.value)
    with pytest.raises(TypeError, match="environ must be a mapping"):
        GatewayKey.from_env([(KEY_ENV, text)])  # type: ignore[arg-type]


def test_from_env_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    text = GatewayKey.generate()
    monkeypatch.setenv(KEY_ENV, text)
    assert GatewayKey.from_env().raw == base64.b64decode(text)
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(GatewayKeyError, match="is not set"):
        GatewayKey.from_env()


def test_repr_shows_nothing_secret() -> None:
    raw = os.urandom(KEY_SIZE)
    key = GatewayKey(raw)
    shown = repr(key) + str(key)
    assert base64.b64encode(raw).decode() not in shown
    assert raw.hex() not in shown
    assert repr(raw) not in shown
    assert shown.count("hidden") == 2
