"""Argument checks and form parameters for the Web API methods, and cursor pagination. Pure.

Every check runs before any I/O and raises ``TypeError`` / ``ValueError`` naming the argument;
no message echoes a token, a cookie or a cursor. Booleans are sent as ``1``/``0`` (PROTOCOL.md
§1: one report says Slack honoured only ``1``), numbers as decimal strings, timestamps and ids
as given.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import msgspec

from slack_rtm.api.config import RequestOptions
from slack_rtm.api.response import ApiResponse
from slack_rtm.errors import ResponseValidationError

__all__ = [
    "CONVERSATION_TYPES",
    "MAX_LIMIT",
    "Pager",
    "check_method",
    "check_options",
    "check_token",
    "generic_params",
    "history_params",
    "info_params",
    "replies_params",
    "users_conversations_params",
]

MAX_LIMIT = 999
"""The largest ``limit`` the history methods take."""

CONVERSATION_TYPES = frozenset({"public_channel", "private_channel", "mpim", "im"})
"""The values ``users.conversations`` takes in ``types``."""

_ID_RE = re.compile(r"[A-Za-z0-9]{2,64}")
_TS_RE = re.compile(r"[0-9]{1,20}(?:\.[0-9]{1,20})?")
_METHOD_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*")
_MAX_CURSOR = 4096


def check_token(token: object) -> str:
    """``token`` checked: a non-empty str of printable ASCII without spaces.

    Raises:
        TypeError: not a str.
        ValueError: empty, or not sendable in a header (the token is never echoed).
    """
    if not isinstance(token, str):
        raise TypeError(f"token must be a str, got {type(token).__name__}")
    if not token:
        raise ValueError("token must not be empty")
    if not token.isascii() or not token.isprintable() or any(c.isspace() for c in token):
        raise ValueError("token must be printable ASCII without spaces or line breaks")
    return token


def check_options(request_options: object) -> None:
    """Raise ``TypeError`` unless ``request_options`` is a RequestOptions or None."""
    if request_options is not None and not isinstance(request_options, RequestOptions):
        raise TypeError(
            f"request_options must be a RequestOptions or None, got "
            f"{type(request_options).__name__}"
        )


def check_method(method: object) -> str:
    """A Web API method name such as ``"conversations.history"``.

    Raises:
        TypeError: not a str.
        ValueError: empty, or not dotted words of letters, digits and ``_``.
    """
    if not isinstance(method, str):
        raise TypeError(f"method must be a str, got {type(method).__name__}")
    if not method:
        raise ValueError("method must not be empty")
    if len(method) > 100 or not _METHOD_RE.fullmatch(method):
        raise ValueError(
            "method must be a Web API method name such as 'conversations.history' (letters, "
            "digits, '_' and dots)"
        )
    return method


def _check_id(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    if not _ID_RE.fullmatch(value):
        # Not echoed: a token passed in the wrong position would land here.
        raise ValueError(
            f"{name} must be a Slack id such as 'C0123ABCD' (letters and digits; a channel is "
            f"named by its id, not by #name)"
        )
    return value


def _check_ts(value: object, name: str) -> str:
    if isinstance(value, float):
        raise TypeError(
            f"{name} must be a str such as '1355517523.000005' (a float loses the digits)"
        )
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    if not _TS_RE.fullmatch(value):
        raise ValueError(f"{name} must be a Slack timestamp such as '1355517523.000005'")
    return value


def _check_bool(value: object, name: str) -> str:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool or None, got {type(value).__name__}")
    return "1" if value else "0"


def _check_limit(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"limit must be an int or None, got {type(value).__name__}")
    if not 1 <= value <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, got {value}")
    return str(value)


def _check_cursor(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"cursor must be a str or None, got {type(value).__name__}")
    if not value:
        raise ValueError("cursor must not be empty (pass None for the first page)")
    if len(value) > _MAX_CURSOR or not value.isascii() or not value.isprintable():
        raise ValueError("cursor must be the printable ASCII string Slack returned")
    if any(c.isspace() for c in value):
        raise ValueError("cursor must not contain whitespace")
    return value


def _range(
    params: dict[str, str],
    oldest: object,
    latest: object,
    inclusive: object,
    limit: object,
    cursor: object,
) -> dict[str, str]:
    if oldest is not None:
        params["oldest"] = _check_ts(oldest, "oldest")
    if latest is not None:
        params["latest"] = _check_ts(latest, "latest")
    if (
        oldest is not None
        and latest is not None
        and Decimal(params["oldest"]) > Decimal(params["latest"])
    ):
        raise ValueError("oldest must not be after latest")
    if inclusive is not None:
        params["inclusive"] = _check_bool(inclusive, "inclusive")
    if limit is not None:
        params["limit"] = _check_limit(limit)
    if cursor is not None:
        params["cursor"] = _check_cursor(cursor)
    return params


def history_params(
    channel: object,
    *,
    oldest: object = None,
    latest: object = None,
    inclusive: object = None,
    limit: object = None,
    cursor: object = None,
) -> dict[str, str]:
    """The form of ``conversations.history`` (None: not sent). Raises TypeError, ValueError."""
    params = {"channel": _check_id(channel, "channel")}
    return _range(params, oldest, latest, inclusive, limit, cursor)


def replies_params(
    channel: object,
    ts: object,
    *,
    oldest: object = None,
    latest: object = None,
    inclusive: object = None,
    limit: object = None,
    cursor: object = None,
) -> dict[str, str]:
    """The form of ``conversations.replies`` (None: not sent). Raises TypeError, ValueError."""
    params = {"channel": _check_id(channel, "channel"), "ts": _check_ts(ts, "ts")}
    return _range(params, oldest, latest, inclusive, limit, cursor)


def users_conversations_params(
    *,
    types: object = None,
    exclude_archived: object = None,
    limit: object = None,
    cursor: object = None,
    user: object = None,
) -> dict[str, str]:
    """The form of ``users.conversations`` (None: not sent). Raises TypeError, ValueError.

    ``types`` is a comma-separated str or an iterable of :data:`CONVERSATION_TYPES`.
    """
    params: dict[str, str] = {}
    if types is not None:
        params["types"] = _check_types(types)
    if exclude_archived is not None:
        params["exclude_archived"] = _check_bool(exclude_archived, "exclude_archived")
    if limit is not None:
        params["limit"] = _check_limit(limit)
    if cursor is not None:
        params["cursor"] = _check_cursor(cursor)
    if user is not None:
        params["user"] = _check_id(user, "user")
    return params


def _check_types(types: object) -> str:
    items: list[object]
    if isinstance(types, str):
        items = [part.strip() for part in types.split(",")]
    elif isinstance(types, Iterable) and not isinstance(types, (bytes, Mapping)):
        items = list(types)
    else:
        raise TypeError(f"types must be a str or an iterable of str, got {type(types).__name__}")
    if not items:
        raise ValueError("types must name at least one conversation type")
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"types must hold str, got {type(item).__name__}")
        if item not in CONVERSATION_TYPES:
            raise ValueError(
                f"types holds {item[:40]!r}; each must be one of {sorted(CONVERSATION_TYPES)}"
            )
    return ",".join(dict.fromkeys(str(item) for item in items))


def info_params(
    channel: object, *, include_locale: object = None, include_num_members: object = None
) -> dict[str, str]:
    """The form of ``conversations.info`` (None: not sent). Raises TypeError, ValueError."""
    params = {"channel": _check_id(channel, "channel")}
    if include_locale is not None:
        params["include_locale"] = _check_bool(include_locale, "include_locale")
    if include_num_members is not None:
        params["include_num_members"] = _check_bool(include_num_members, "include_num_members")
    return params


def generic_params(params: object) -> dict[str, str]:
    """The form of a generic call, from a mapping of names to values.

    Values: a str as is; a bool as ``1``/``0``; an int in decimal; a finite float in decimal;
    a list, tuple or dict JSON-encoded (as ``blocks`` wants); None leaves the name out.

    Raises:
        TypeError: not a mapping, a name that is not a str, or a value of another type.
        ValueError: an empty name, or ``token`` (it travels only in the header).
    """
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a mapping or None, got {type(params).__name__}")
    form: dict[str, str] = {}
    for key, value in params.items():
        if not isinstance(key, str):
            raise TypeError(f"params names must be str, got {type(key).__name__}")
        if not key:
            raise ValueError("params has an empty name")
        if key == "token":
            raise ValueError(
                "params must not hold 'token': pass the token as the token argument (it is "
                "sent only in the Authorization header)"
            )
        if value is None:
            continue
        form[key] = _form_value(key, value)
    return form


def _form_value(key: str, value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"params[{key!r}] must be a finite number")
        return repr(value)
    if isinstance(value, (list, tuple, dict)):
        try:
            return msgspec.json.encode(value).decode()
        except (TypeError, msgspec.EncodeError) as exc:
            raise TypeError(f"params[{key!r}] cannot be encoded as JSON: {exc}") from None
    raise TypeError(
        f"params[{key!r}] must be a str, bool, int, float, list, tuple, dict or None, got "
        f"{type(value).__name__}"
    )


class Pager:
    """Cursor pagination for one method: which form to send next, and when to stop.

    Follows ``response_metadata.next_cursor`` until it is empty or missing. A cursor the
    server already returned ends the pagination with an error instead of an endless loop.

    Args:
        api_method: the method, for messages.
        params: the form of the first page (its ``cursor``, if any, is the starting point).
    """

    def __init__(self, api_method: str, params: Mapping[str, str]) -> None:
        self.api_method = api_method
        self.pages = 0
        self._params = dict(params)
        self._seen: set[str] = set()
        first = self._params.get("cursor")
        if first:
            self._seen.add(first)
        self._done = False

    @property
    def done(self) -> bool:
        """True once the last page was fed."""
        return self._done

    def next_params(self) -> dict[str, str] | None:
        """The form of the next page, or None when there are no more pages."""
        return None if self._done else dict(self._params)

    def feed(self, response: ApiResponse[Any]) -> None:
        """Feed the answer of the page just fetched.

        Raises:
            slack_rtm.ResponseValidationError: its ``next_cursor`` is one already returned.
        """
        self.pages += 1
        metadata = getattr(response.result, "response_metadata", None)
        cursor = getattr(metadata, "next_cursor", None)
        if not isinstance(cursor, str) or not cursor:
            self._done = True
            return
        if cursor in self._seen:
            self._done = True
            raise ResponseValidationError(
                f"{self.api_method}: page {self.pages} returned a next_cursor already seen; "
                f"stopping so as not to loop forever. Slack (or a proxy) is misbehaving: "
                f"retry later.",
                status_code=response.status_code,
                headers=response.headers,
                body=response.body,
            )
        self._seen.add(cursor)
        self._params["cursor"] = cursor
