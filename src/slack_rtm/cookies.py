"""The browser session cookie (``d=xoxd-...``) that ``xoxc-`` tokens need (PROTOCOL.md §7).

Pure: no I/O. :meth:`SessionCookie.parse` turns what a user pastes into the ``Cookie`` header to
send on every Web API call and on the WebSocket upgrade, plus every form of the secret values
for redaction (:func:`slack_rtm.redact.redact_text`).

Accepted inputs:

- **A bare** ``d`` **value**: a string that starts with ``xoxd-``, or any string with no ``=``
  in it. It becomes the ``d`` cookie. (A raw ``xoxd-`` value may end in ``=`` padding; that is
  why a string starting ``xoxd-`` is always a bare value.)
- **A cookie string**: any other string, ``name=value`` pieces separated by ``;``, e.g.
  ``"d=xoxd-...; d-s=1700000000; lc=1700000000"``. Whitespace around pieces, names and values
  is ignored, as are empty pieces and a leading ``Cookie:``; a value in double quotes loses
  them. Each piece is split at its first ``=``, so a value may contain ``=``.
- **A mapping** of cookie names to values, e.g. ``{"d": "xoxd-...", "d-s": "1700000000"}``.

Whatever the form, a ``d`` cookie is required (an ``xoxc-`` token is refused without it, with
``invalid_auth``), names are unique, and values are non-empty.

Encoding, exactly once: in each value, a ``%`` followed by two hex digits is an escape already
made and is kept as it is (so a value copied, already encoded, from a browser is sent
unchanged, never double-encoded); every other character outside the unreserved set
``A-Za-z0-9-._~`` is percent-encoded as UTF-8 with upper-case hex. So ``/`` becomes ``%2F``,
``+`` becomes ``%2B`` (a literal plus, never a space), ``=`` becomes ``%3D``, and a ``%`` not
followed by two hex digits becomes ``%25``. Examples: ``xoxd-abc/def+g=`` and
``xoxd-abc%2Fdef%2Bg%3D`` both give ``d=xoxd-abc%2Fdef%2Bg%3D``.

Errors never echo a value: the cookie is as secret as the token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeAlias
from urllib.parse import quote, unquote

__all__ = ["CookieInput", "SessionCookie"]

CookieInput: TypeAlias = str | Mapping[str, str]
"""What :meth:`SessionCookie.parse` accepts: a bare ``d`` value, a cookie string, or a mapping."""

# RFC 6265 §4.1.1: a cookie name is an RFC 2616 token.
_NAME_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_ESCAPE_RE = re.compile(r"(%[0-9A-Fa-f]{2})")
_REQUIRED = "d"
# Forms of other cookies than ``d`` shorter than this are left out of ``secrets``: redacting a
# short value such as ``1`` everywhere would mangle unrelated text. ``d`` forms always count.
_MIN_SECRET = 8


class SessionCookie:
    """A parsed, encoded session cookie: build it with :meth:`parse`.

    Immutable. Its repr shows only the cookie names, never a value.

    Attributes:
        header: the ``Cookie`` header value, e.g. ``"d=xoxd-abc%2Fdef%2Bg%3D; d-s=1700000000"``.
        names: the cookie names, in order.
        secrets: every form a value can take, for redaction, longest first: the whole header,
            ``name=value`` pieces (encoded, as given, decoded) and each value encoded, as given
            and decoded. Forms of fewer than 8 characters are left out except for ``d``
            (``d-s`` and ``lc`` hold timestamps, not credentials).
    """

    __slots__ = ("header", "names", "secrets")

    header: str
    names: tuple[str, ...]
    secrets: tuple[str, ...]

    def __init__(self, pairs: tuple[tuple[str, str], ...]) -> None:
        """Use :meth:`parse`; ``pairs`` are checked ``(name, value as given)`` pairs."""
        encoded = [(name, _encode(value)) for name, value in pairs]
        header = "; ".join(f"{name}={value}" for name, value in encoded)
        forms = {header}
        for (name, given), (_, sent) in zip(pairs, encoded, strict=True):
            for value in (sent, given, unquote(sent)):
                for form in (f"{name}={value}", value):
                    if name == _REQUIRED or len(form) >= _MIN_SECRET:
                        forms.add(form)
        secrets = sorted(forms, key=lambda f: (-len(f), f))
        object.__setattr__(self, "header", header)
        object.__setattr__(self, "names", tuple(name for name, _ in pairs))
        object.__setattr__(self, "secrets", tuple(secrets))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"SessionCookie is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"SessionCookie is immutable: cannot delete {name!r}")

    def __repr__(self) -> str:
        return f"SessionCookie(names={self.names!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SessionCookie):
            return NotImplemented
        return self.header == other.header

    def __hash__(self) -> int:
        return hash(self.header)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a SessionCookie is a credential and cannot be pickled")

    @classmethod
    def parse(cls, value: CookieInput | SessionCookie, *, name: str = "cookie") -> SessionCookie:
        """Parse a bare ``d`` value, a cookie string or a mapping (see the module docstring).

        Args:
            value: the cookie as the user has it. A :class:`SessionCookie` is returned as is.
            name: what to call the argument in error messages (e.g. ``"SLACK_COOKIE"``).

        Raises:
            TypeError: ``value`` is not a str or a mapping of str to str.
            ValueError: an empty value or name, a control character or whitespace inside a
                value, ``;`` or ``,`` inside a value, a malformed piece, a repeated name, or no
                ``d`` cookie. The message names the cookie, never its value.
        """
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        if isinstance(value, SessionCookie):
            return value
        if isinstance(value, str):
            pairs = _parse_string(value, name)
        elif isinstance(value, Mapping):
            pairs = _parse_mapping(value, name)
        else:
            raise TypeError(
                f"{name} must be a str (the d value or a cookie string) or a mapping of "
                f"cookie names to values, got {type(value).__name__}"
            )
        if _REQUIRED not in (cookie for cookie, _ in pairs):
            raise ValueError(
                f"{name} must include the 'd' session cookie (its value starts with xoxd-): "
                f"an xoxc- token is refused without it"
            )
        return cls(tuple(pairs))


def _parse_string(text: str, arg: str) -> list[tuple[str, str]]:
    stripped = text.strip()
    if stripped[:7].lower() == "cookie:":
        stripped = stripped[7:].strip()
    if not stripped:
        raise ValueError(f"{arg} must not be empty")
    if stripped.startswith("xoxd-") or "=" not in stripped:
        return [(_REQUIRED, _check_value(stripped, _REQUIRED, arg, bare=True))]
    pairs: list[tuple[str, str]] = []
    for index, piece in enumerate(stripped.split(";"), 1):
        piece = piece.strip()
        if not piece:
            continue
        cookie, sep, raw = piece.partition("=")
        if not sep:
            raise ValueError(f"{arg}: piece {index} of the cookie string has no '=' (name=value)")
        cookie = _check_name(cookie.strip(), arg)
        raw = raw.strip()
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            raw = raw[1:-1]
        pairs.append((cookie, _check_value(raw, cookie, arg)))
    return _unique(pairs, arg)


def _parse_mapping(value: Mapping[Any, Any], arg: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for cookie, raw in value.items():
        if not isinstance(cookie, str):
            raise TypeError(
                f"{arg} must map str names to str values, got a {type(cookie).__name__} name"
            )
        checked = _check_name(cookie.strip(), arg)
        if not isinstance(raw, str):
            raise TypeError(f"{arg}[{checked!r}] must be a str, got {type(raw).__name__}")
        pairs.append((checked, _check_value(raw.strip(), checked, arg)))
    return _unique(pairs, arg)


def _check_name(cookie: str, arg: str) -> str:
    if not cookie:
        raise ValueError(f"{arg} has an empty cookie name")
    if not _NAME_RE.fullmatch(cookie):
        # A malformed name may be a value pasted in the wrong place: do not echo it.
        raise ValueError(
            f"{arg} has an invalid cookie name (letters, digits and !#$%&'*+-.^_`|~ only)"
        )
    return cookie


def _check_value(raw: str, cookie: str, arg: str, *, bare: bool = False) -> str:
    where = f"{arg}: the {cookie!r} value"
    if not raw:
        raise ValueError(f"{where} must not be empty")
    if any(ord(c) < 32 or ord(c) == 127 for c in raw):
        raise ValueError(f"{where} contains a control character (a line break?)")
    if ";" in raw or "," in raw:
        hint = " (for several cookies write 'd=xoxd-...; d-s=...')" if bare else ""
        raise ValueError(f"{where} must not contain ';' or ','{hint}")
    if any(c.isspace() for c in raw):
        raise ValueError(f"{where} contains whitespace")
    return raw


def _unique(pairs: list[tuple[str, str]], arg: str) -> list[tuple[str, str]]:
    seen: set[str] = set()
    for cookie, _ in pairs:
        if cookie in seen:
            raise ValueError(f"{arg} sets the {cookie!r} cookie twice")
        seen.add(cookie)
    if not pairs:
        raise ValueError(f"{arg} must not be empty")
    return pairs


def _encode(value: str) -> str:
    """Percent-encode ``value`` once: keep ``%XX`` escapes, encode the rest (module docstring)."""
    parts = _ESCAPE_RE.split(value)
    return "".join(part if index % 2 else quote(part, safe="") for index, part in enumerate(parts))
