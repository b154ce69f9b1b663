"""Typed, frozen records for the ``rtm.connect`` response bodies (PROTOCOL.md §1).

Unknown keys are never rejected: msgspec skips them while decoding, and the decoded JSON object
stays reachable as :attr:`RtmConnectSchema.raw` / :attr:`RtmConnectErrorSchema.raw`. Every field
Slack may omit has a default. ``ok`` is a real JSON boolean: the string ``"True"`` is rejected.

The ``url`` of a success is a single-use session credential: the repr of
:class:`RtmConnectSchema` redacts it.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from slack_rtm.redact import redact_url

__all__ = [
    "ResponseMetadata",
    "RtmConnectErrorSchema",
    "RtmConnectSchema",
    "RtmConnectSelf",
    "RtmConnectTeam",
]

_RAW_KEY = "_raw"
_BodyT = TypeVar("_BodyT", bound="_Body")


class _Body(msgspec.Struct, frozen=True, dict=True, omit_defaults=True):
    """Base of a whole response body: keeps the decoded JSON object for :attr:`raw`."""

    @property
    def raw(self) -> dict[str, Any]:
        """The whole decoded JSON object, unknown keys included (treat it as read-only).

        For an instance built by hand rather than decoded: its fields, encoded to JSON and back.
        """
        raw = self.__dict__.get(_RAW_KEY)
        if isinstance(raw, dict):
            return raw
        built: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(self))
        return built

    def _keep_raw(self, raw: dict[str, Any]) -> None:
        # A frozen Struct refuses attribute assignment, but ``dict=True`` gives it a __dict__
        # for private runtime state that is not a field (not compared, hashed or encoded).
        self.__dict__[_RAW_KEY] = raw

    def _keep_nested_raw(self, raw: dict[str, Any]) -> None:
        """Hand nested records their JSON objects; overridden by bodies that have some."""


class _Raw(msgspec.Struct, frozen=True, dict=True, omit_defaults=True):
    """Base of a nested record that keeps its decoded JSON object (a history message, say)."""

    @property
    def raw(self) -> dict[str, Any]:
        """The whole decoded JSON object, unknown keys included (treat it as read-only).

        For an instance built by hand rather than decoded: its fields, encoded to JSON and back.
        """
        raw = self.__dict__.get(_RAW_KEY)
        if isinstance(raw, dict):
            return raw
        built: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(self))
        return built


def keep_raw_items(items: tuple[_Raw, ...], raw: object) -> None:
    """Give each decoded item of a JSON array its object, for ``.raw`` (``raw``: the array)."""
    if isinstance(raw, list) and len(raw) == len(items):
        for item, obj in zip(items, raw, strict=True):
            if isinstance(obj, dict):
                item.__dict__[_RAW_KEY] = obj


class ResponseMetadata(msgspec.Struct, frozen=True, omit_defaults=True):
    """Slack's ``response_metadata``: warnings and ``[WARN] ...`` messages, if any.

    Attributes:
        warnings: Slack's warning codes.
        messages: Slack's ``[WARN] ...`` messages.
        next_cursor: the cursor of the next page of a paginated method; empty or None when
            this is the last page.
    """

    warnings: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()
    next_cursor: str | None = None


class RtmConnectSelf(msgspec.Struct, frozen=True, omit_defaults=True):
    """Who we are connected as (JSON key ``self``): a user id such as ``U4X318ZMZ``."""

    id: str
    name: str


class RtmConnectTeam(msgspec.Struct, frozen=True, omit_defaults=True):
    """The workspace; Enterprise Grid workspaces add ``enterprise_id`` / ``enterprise_name``."""

    id: str
    name: str
    domain: str
    enterprise_id: str | None = None
    enterprise_name: str | None = None


class RtmConnectSchema(_Body, frozen=True, dict=True, omit_defaults=True):
    """A successful ``rtm.connect`` answer.

    Attributes:
        ok: always True for this schema (a real JSON boolean).
        url: the WebSocket URL: single-use, valid for about 30 seconds, a credential (never log
            it; see :func:`slack_rtm.redact.redact_url`). Open it exactly as given.
        self_: the connected user or bot (JSON key ``self``).
        team: the workspace.
        warning: Slack's comma-separated ``warning`` string, if any.
        response_metadata: Slack's ``response_metadata``, if any.
    """

    ok: bool
    url: str
    self_: RtmConnectSelf = msgspec.field(name="self")
    team: RtmConnectTeam
    warning: str | None = None
    response_metadata: ResponseMetadata | None = None

    def __post_init__(self) -> None:
        # Raised while decoding, msgspec turns this into a ValidationError naming ``$``.
        if not self.url.startswith(("wss://", "ws://")):
            raise ValueError("`url` must be a ws:// or wss:// URL")

    def __repr__(self) -> str:
        return (
            f"RtmConnectSchema(ok={self.ok!r}, url={redact_url(self.url)!r}, "
            f"self_={self.self_!r}, team={self.team!r})"
        )


class RtmConnectErrorSchema(_Body, frozen=True, dict=True, omit_defaults=True):
    """A failed ``rtm.connect`` answer, ``{"ok": false, "error": CODE, ...}``.

    Attributes:
        ok: always False for this schema.
        error: the Slack error code; any string parses (compare with :mod:`slack_rtm.codes`).
        needed: for ``missing_scope``, the scope the method needs.
        provided: for ``missing_scope``, the scopes the token has.
        callstack: a debugging aid Slack sometimes adds.
        warning: Slack's comma-separated ``warning`` string, if any.
        response_metadata: Slack's ``response_metadata``, if any.
    """

    ok: bool
    error: str
    needed: str | None = None
    provided: str | None = None
    callstack: str | None = None
    warning: str | None = None
    response_metadata: ResponseMetadata | None = None


def convert_body(obj: dict[str, Any], kind: type[_BodyT]) -> _BodyT:
    """Convert a decoded JSON object to ``kind``, keeping the object for ``.raw``.

    Raises:
        msgspec.ValidationError: the object does not match the schema.
    """
    body = msgspec.convert(obj, kind)
    body._keep_raw(obj)
    body._keep_nested_raw(obj)
    return body
