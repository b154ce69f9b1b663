"""The gateway's key: AES-GCM sealing of the tokens and cookies stored in NATS KV.

A :class:`GatewayKey` holds 32 random bytes (AES-256), read from the environment variable
:data:`~slack_rtm.gateway.config.KEY_ENV` (``SLACK_RTM_GATEWAY_KEY``, base64) and made by
``slack-rtm gateway keygen`` (:meth:`GatewayKey.generate`).

A sealed value is ``base64(nonce + ciphertext + tag)``: a fresh random 12-byte nonce for each
seal, then AES-GCM's ciphertext and 16-byte tag. The *associated data* binds a sealed value to
where it belongs (the registry uses ``"<registration id>:token"`` and ``"<registration
id>:cookie"``): a sealed token copied into another registration, or into the cookie field,
does not open. Nothing here ever puts the key or a plaintext into a message or a repr.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from slack_rtm.gateway.config import KEY_ENV

__all__ = ["KEY_SIZE", "NONCE_SIZE", "GatewayKey", "GatewayKeyError"]

KEY_SIZE = 32
"""Bytes in a key (AES-256)."""

NONCE_SIZE = 12
"""Bytes in each sealed value's random nonce."""

_TAG_SIZE = 16


class GatewayKeyError(ValueError):
    """A key that is missing or not 32 bytes of base64, or a sealed value that does not open
    (tampered with, sealed with another key, or for another place). The message never holds the
    key, the sealed text or a plaintext."""


def _check_str(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    return value


class GatewayKey:
    """A 32-byte AES-GCM key that seals and opens the secrets stored in KV.

    Args:
        key: exactly 32 bytes.

    Raises:
        TypeError: ``key`` is not bytes.
        GatewayKeyError: ``key`` is not 32 bytes long.
    """

    __slots__ = ("_aead", "_key")

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, (bytes, bytearray)):
            raise TypeError(f"key must be bytes, got {type(key).__name__}")
        if len(key) != KEY_SIZE:
            raise GatewayKeyError(
                f"key must be {KEY_SIZE} bytes, got {len(key)} (see 'slack-rtm gateway keygen')"
            )
        self._key = bytes(key)
        self._aead = AESGCM(self._key)

    @classmethod
    def from_base64(cls, text: str) -> GatewayKey:
        """The key in ``text``: standard base64 (URL-safe accepted) of 32 bytes.

        Surrounding whitespace is ignored.

        Raises:
            TypeError: ``text`` is not a str.
            GatewayKeyError: not base64, or not 32 bytes once decoded (the text is not echoed).
        """
        text = _check_str(text, "text").strip()
        if not text:
            raise GatewayKeyError("the gateway key is empty (see 'slack-rtm gateway keygen')")
        try:
            raw = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            raise GatewayKeyError(
                "the gateway key is not base64 (see 'slack-rtm gateway keygen')"
            ) from None
        if len(raw) != KEY_SIZE:
            raise GatewayKeyError(
                f"the gateway key must be {KEY_SIZE} bytes in base64, got {len(raw)} bytes "
                "(see 'slack-rtm gateway keygen')"
            )
        return cls(raw)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GatewayKey:
        """The key in ``$SLACK_RTM_GATEWAY_KEY`` (of ``environ``, default ``os.environ``).

        Raises:
            GatewayKeyError: the variable is unset or empty, or not a valid key (its value is
                never echoed).
        """
        env = os.environ if environ is None else environ
        if not isinstance(env, Mapping):
            raise TypeError(f"environ must be a mapping, got {type(env).__name__}")
        text = env.get(KEY_ENV, "")
        if not text.strip():
            raise GatewayKeyError(
                f"{KEY_ENV} is not set: it must hold the gateway key (32 random bytes in "
                "base64; 'slack-rtm gateway keygen' prints a new one)"
            )
        try:
            return cls.from_base64(text)
        except GatewayKeyError as exc:
            raise GatewayKeyError(f"{KEY_ENV}: {exc}") from None

    @staticmethod
    def generate() -> str:
        """A new key: 32 bytes from the operating system's random source, in standard base64."""
        return base64.b64encode(os.urandom(KEY_SIZE)).decode("ascii")

    @property
    def raw(self) -> bytes:
        """The key's 32 bytes (for :class:`~slack_rtm.gateway.config.GatewayConfig`)."""
        return self._key

    def seal(self, plaintext: str, aad: str) -> str:
        """``plaintext`` encrypted and authenticated, bound to ``aad``.

        Args:
            plaintext: the secret (UTF-8 encoded before sealing).
            aad: where it belongs, e.g. ``"r0123456789abcdef:token"``; :meth:`open` must be
                given the same.

        Returns:
            ``base64(nonce12 + ciphertext + tag16)``, ASCII.

        Raises:
            TypeError: an argument is not a str.
        """
        data = _check_str(plaintext, "plaintext").encode("utf-8")
        bound = _check_str(aad, "aad").encode("utf-8")
        nonce = os.urandom(NONCE_SIZE)
        return base64.b64encode(nonce + self._aead.encrypt(nonce, data, bound)).decode("ascii")

    def open(self, sealed: str, aad: str) -> str:
        """The plaintext of a value made by :meth:`seal` with this key and the same ``aad``.

        Raises:
            TypeError: an argument is not a str.
            GatewayKeyError: not a sealed value, tampered with, sealed with another key or for
                another ``aad`` (the message says which check failed, never a value).
        """
        text = _check_str(sealed, "sealed")
        bound = _check_str(aad, "aad").encode("utf-8")
        try:
            blob = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise GatewayKeyError("a sealed value is not base64") from None
        if len(blob) < NONCE_SIZE + _TAG_SIZE:
            raise GatewayKeyError("a sealed value is too short")
        try:
            data = self._aead.decrypt(blob[:NONCE_SIZE], blob[NONCE_SIZE:], bound)
        except InvalidTag:
            raise GatewayKeyError(
                "a sealed value does not open: another key, another place, or tampered with"
            ) from None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:  # pragma: no cover - only a value sealed by other code
            raise GatewayKeyError("a sealed value is not UTF-8 text") from None

    def __repr__(self) -> str:
        return "<GatewayKey (hidden)>"
