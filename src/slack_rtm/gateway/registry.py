"""The registered logins: :class:`Registry` over the registrations KV bucket.

A registration is one login the cluster holds a session for (a bot token, a person's user token
or a browser session), stored as a :class:`~slack_rtm.gateway.contract.Registration` under its
id in :data:`~slack_rtm.gateway.contract.REGISTRATIONS_BUCKET`:

- ``id``: ``"r"`` + 16 lowercase hex digits, the first 64 bits of SHA-256 of
  ``"<team_id>:<user_id>"``: one registration per (team, user), so registering the same login
  again replaces its secrets and keeps its id (and its cursors, and its place); safe in a NATS
  subject, a KV key and a ``Nats-Msg-Id``;
- ``team_id``, ``user_id``: as ``auth.test`` answered;
- ``kind``: ``"browser"`` for an ``xoxc-`` token (its cookie is required), ``"bot"`` when
  ``auth.test`` names a ``bot_id`` or the token is ``xoxb-``, else ``"user"``;
- ``token``, ``cookie``: sealed with the gateway key
  (:class:`~slack_rtm.gateway.secrets.GatewayKey`, associated data ``"<id>:token"`` /
  ``"<id>:cookie"``); the bucket never holds either in plaintext. ``cookie`` is the cookie
  exactly as given (its ``d`` value or a ``d=...; d-s=...`` string) or null;
- ``created``: when it was first registered (Unix time).

The value is the record's JSON (msgspec), e.g. ``{"id":"r5f0c...","team_id":"T0123",
"user_id":"U0456","kind":"bot","token":"<base64>","cookie":null,"created":1718000000.5}``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time

import msgspec
import nats.errors
import nats.js.errors
from nats.js.kv import KeyValue

from slack_rtm.api import AsyncClient, AsyncWebApi
from slack_rtm.api.params import check_token
from slack_rtm.cookies import SessionCookie
from slack_rtm.errors import RateLimitedError, SlackApiError, SlackRtmError, StateError
from slack_rtm.gateway.contract import ContractError, Kind, Registration, check_id
from slack_rtm.gateway.kv import NatsUnavailableError
from slack_rtm.gateway.secrets import GatewayKey

__all__ = [
    "RegistrationError",
    "Registry",
    "check_registration_id",
    "decode_registration",
    "encode_registration",
    "login_kind",
    "registration_id",
]

_log = logging.getLogger("slack_rtm.gateway.registry")

_REG_ID = re.compile(r"r[0-9a-f]{16}")
_decode = msgspec.json.Decoder(Registration).decode
_encode = msgspec.json.Encoder().encode
_MAX_ATTEMPTS = 20


class RegistrationError(SlackRtmError):
    """Slack refused the login (``auth.test`` answered ``ok: false``), or answered something
    that is not a login the gateway can hold.

    Attributes:
        error: Slack's error code (e.g. ``"invalid_auth"``), or None when Slack said ok.
    """

    def __init__(self, message: str, *, error: str | None = None) -> None:
        super().__init__(message)
        self.error = error


def registration_id(team_id: str, user_id: str) -> str:
    """The id of the registration of ``user_id`` on ``team_id`` (see the module docstring)."""
    digest = hashlib.sha256(f"{team_id}:{user_id}".encode()).hexdigest()
    return f"r{digest[:16]}"


def check_registration_id(value: object, name: str = "reg_id") -> str:
    """``value`` if it is a registration id (``r`` + 16 lowercase hex digits).

    Raises:
        TypeError: not a str.
        ValueError: not a registration id (the message names ``name``).
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if _REG_ID.fullmatch(value) is None:
        raise ValueError(
            f"{name} must be a registration id like 'r0123456789abcdef', got {value[:20]!r}"
        )
    return value


def login_kind(token: str, bot_id: object = None) -> Kind:
    """What ``token`` logs in as: ``"browser"`` (``xoxc-``), ``"bot"`` (``auth.test`` gave a
    ``bot_id``, or an ``xoxb-`` token), else ``"user"``."""
    if token.startswith("xoxc-"):
        return "browser"
    if (isinstance(bot_id, str) and bot_id) or token.startswith("xoxb-"):
        return "bot"
    return "user"


def encode_registration(reg: Registration) -> bytes:
    """The KV value of ``reg`` (its JSON)."""
    return _encode(reg)


def decode_registration(data: bytes) -> Registration:
    """A registration read from KV.

    Raises:
        ContractError: not a registration's JSON, or its id is not a registration id.
    """
    try:
        reg = _decode(data)
    except msgspec.DecodeError as exc:
        raise ContractError(f"not a registration: {exc}") from None
    try:
        check_registration_id(reg.id, "id")
    except ValueError as exc:
        raise ContractError(f"not a registration: {exc}") from None
    return reg


class Registry:
    """Register, list, read and remove logins in the registrations bucket.

    Args:
        bucket: the registrations KV bucket (:attr:`slack_rtm.gateway.kv.Buckets.registrations`).
        key: the gateway key; :meth:`register` seals with it, :meth:`secrets` opens with it.
            :meth:`list`, :meth:`get` and :meth:`remove` never use it: None lets an operator
            without the key list and remove registrations (``register`` and ``secrets`` then
            raise StateError).

    Raises:
        TypeError: an argument is of the wrong type.
    """

    def __init__(self, bucket: KeyValue, key: GatewayKey | None) -> None:
        if not isinstance(bucket, KeyValue):
            raise TypeError(f"bucket must be a nats.js.kv.KeyValue, got {type(bucket).__name__}")
        if key is not None and not isinstance(key, GatewayKey):
            raise TypeError(f"key must be a GatewayKey or None, got {type(key).__name__}")
        self._kv = bucket
        self._gateway_key = key

    def _key(self, what: str) -> GatewayKey:
        if self._gateway_key is None:
            raise StateError(f"cannot {what}: this Registry was made without the gateway key")
        return self._gateway_key

    def __repr__(self) -> str:
        return f"<Registry {getattr(self._kv, '_name', 'KV')}>"

    async def register(
        self,
        token: str,
        cookie: str | None,
        *,
        api_url: str,
        user_agent: str | None = None,
        timeout: float = 30.0,
    ) -> Registration:
        """Check a login with ``auth.test`` and store it (sealed).

        Args:
            token: the token (``xoxb-``, ``xoxp-`` or a browser session's ``xoxc-``).
            cookie: the browser session's cookie (its ``d`` value or a ``d=...; d-s=...``
                string); required with an ``xoxc-`` token, refused with any other.
            api_url: the Web API root ``auth.test`` is called on (Slack, or the emulator).
            user_agent: the User-Agent of that call (default: slack-rtm's).
            timeout: seconds for the call.

        Returns:
            The stored registration (its ``token`` and ``cookie`` sealed). Registering a login
            already registered replaces its secrets and keeps its id and ``created``.

        Raises:
            TypeError, ValueError: an empty or malformed token, an ``xoxc-`` token without a
                cookie, a cookie with another token, a malformed cookie or URL (never echoed).
            RegistrationError: Slack refused the login (``.error``: its code, e.g.
                ``"invalid_auth"``) or answered without a team and user id.
            slack_rtm.errors.SlackRtmError: the call failed otherwise (network, rate limit,
                HTTP error).
            NatsUnavailableError: NATS failed while storing.
            StateError: this Registry has no key.
        """
        if not isinstance(token, str):
            raise TypeError(f"token must be a str, got {type(token).__name__}")
        token = token.strip()
        if not token:
            raise ValueError("token must not be empty")
        check_token(token)
        if cookie is not None:
            if not isinstance(cookie, str):
                raise TypeError(f"cookie must be a str or None, got {type(cookie).__name__}")
            cookie = cookie.strip() or None
        browser = token.startswith("xoxc-")
        if browser and cookie is None:
            raise ValueError(
                "an xoxc- token (a browser session) needs its cookie: set SLACK_COOKIE to the "
                "d cookie's value"
            )
        if not browser and cookie is not None:
            raise ValueError("a cookie is only used with an xoxc- token (a browser session)")
        if cookie is not None:
            SessionCookie.parse(cookie, name="cookie")  # refuse a malformed one before any I/O
        if not isinstance(api_url, str) or not api_url:
            raise ValueError("api_url must be a non-empty str")
        key = self._key("register")

        async with AsyncClient(
            base_url=api_url, cookie=cookie, user_agent=user_agent, timeout=timeout
        ) as client:
            try:
                response = await AsyncWebApi(client).api_call("auth.test", token)
            except RateLimitedError:
                raise
            except SlackApiError as exc:
                raise RegistrationError(
                    f"Slack refused the login: auth.test answered {exc.error!r}", error=exc.error
                ) from None
        data = response.result.data
        try:
            team_id = check_id(data.get("team_id"), "auth.test team_id")
            user_id = check_id(data.get("user_id"), "auth.test user_id")
        except (TypeError, ValueError) as exc:
            raise RegistrationError(f"Slack's auth.test answer is not usable: {exc}") from None
        kind = login_kind(token, data.get("bot_id"))
        reg_id = registration_id(team_id, user_id)
        sealed_token = key.seal(token, f"{reg_id}:token")
        sealed_cookie = None if cookie is None else key.seal(cookie, f"{reg_id}:cookie")
        reg = await self._store(reg_id, team_id, user_id, kind, sealed_token, sealed_cookie)
        _log.info("registered %s (%s %s, %s)", reg.id, team_id, user_id, kind)
        return reg

    async def _store(
        self, reg_id: str, team_id: str, user_id: str, kind: Kind, token: str, cookie: str | None
    ) -> Registration:
        """Create or replace the record by compare-and-set, keeping ``created``."""
        try:
            for _ in range(_MAX_ATTEMPTS):
                old, revision = await self._read(reg_id)
                created = old.created if old is not None else time.time()
                reg = Registration(
                    id=reg_id,
                    team_id=team_id,
                    user_id=user_id,
                    kind=kind,
                    token=token,
                    cookie=cookie,
                    created=created,
                )
                try:
                    if revision is None:
                        await self._kv.create(reg_id, encode_registration(reg))
                    else:
                        await self._kv.update(reg_id, encode_registration(reg), last=revision)
                    return reg
                except nats.js.errors.KeyWrongLastSequenceError:
                    continue  # registered at the same moment elsewhere: read again
        except (asyncio.TimeoutError, nats.errors.Error) as exc:
            raise _nats_error("store the registration", exc) from exc
        raise NatsUnavailableError(  # pragma: no cover - needs 20 writers racing on one login
            f"registration {reg_id}: too many concurrent writes, try again"
        )

    async def _read(self, reg_id: str) -> tuple[Registration | None, int | None]:
        try:
            entry = await self._kv.get(reg_id)
        except nats.js.errors.KeyNotFoundError:
            return None, None
        if entry.value is None:  # pragma: no cover - get() never returns a value-less entry
            return None, None
        try:
            return decode_registration(entry.value), entry.revision
        except ContractError:
            _log.warning("registration %s in KV is not readable; it will be replaced", reg_id)
            return None, entry.revision

    async def remove(self, reg_id: str) -> bool:
        """Remove a registration; the process holding it closes its session.

        Returns:
            True if it existed, False if there was no such registration.

        Raises:
            TypeError, ValueError: ``reg_id`` is not a registration id.
            NatsUnavailableError: NATS failed.
        """
        check_registration_id(reg_id)
        try:
            try:
                await self._kv.get(reg_id)
            except nats.js.errors.KeyNotFoundError:
                return False
            await self._kv.delete(reg_id)
        except (asyncio.TimeoutError, nats.errors.Error) as exc:
            raise _nats_error("remove the registration", exc) from exc
        _log.info("removed %s", reg_id)
        return True

    async def get(self, reg_id: str) -> Registration | None:
        """The registration ``reg_id``, or None when there is none (or it is unreadable).

        Raises:
            TypeError, ValueError: ``reg_id`` is not a registration id.
            NatsUnavailableError: NATS failed.
        """
        check_registration_id(reg_id)
        try:
            reg, _ = await self._read(reg_id)
        except (asyncio.TimeoutError, nats.errors.Error) as exc:
            raise _nats_error("read the registration", exc) from exc
        return reg

    async def list(self, *, timeout: float = 10.0) -> list[Registration]:
        """Every registration, sorted by team and user id (unreadable records are skipped
        with a warning).

        Raises:
            NatsUnavailableError: NATS failed, or did not list them within ``timeout`` s.
        """
        regs: list[Registration] = []
        try:
            watcher = await self._kv.watchall(ignore_deletes=True)
            try:
                while True:
                    entry = await watcher.updates(timeout)  # type: ignore[no-untyped-call]
                    if entry is None:
                        break
                    if entry.value is None or entry.operation is not None:
                        continue
                    try:
                        regs.append(decode_registration(entry.value))
                    except ContractError:
                        _log.warning(
                            "registration %s in KV is not readable; skipped", entry.key[:40]
                        )
            finally:
                await watcher.stop()  # type: ignore[no-untyped-call]
        except (asyncio.TimeoutError, nats.errors.Error) as exc:
            raise _nats_error("list the registrations", exc) from exc
        regs.sort(key=lambda r: (r.team_id, r.user_id))
        return regs

    def secrets(self, reg: Registration) -> tuple[str, str | None]:
        """``(token, cookie)`` of ``reg``, opened with the gateway key.

        Raises:
            TypeError: ``reg`` is not a Registration.
            GatewayKeyError: they were sealed with another key, or for another registration, or
                tampered with.
            StateError: this Registry has no key.
        """
        if not isinstance(reg, Registration):
            raise TypeError(f"reg must be a Registration, got {type(reg).__name__}")
        key = self._key("open secrets")
        token = key.open(reg.token, f"{reg.id}:token")
        cookie = None if reg.cookie is None else key.open(reg.cookie, f"{reg.id}:cookie")
        return token, cookie


def _nats_error(what: str, exc: BaseException) -> NatsUnavailableError:
    return NatsUnavailableError(f"cannot {what}: NATS: {str(exc) or type(exc).__name__}")
