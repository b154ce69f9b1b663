"""Browser sessions (``xoxc-`` token + ``d`` cookie, PROTOCOL §7) and the WebSocket upgrade gate.

:meth:`BrowserControls.browser_session` makes a person's browser session: an ``xoxc-`` token
that authenticates only together with the session cookie ``d`` (and ``d-s`` when required),
sent URL-encoded exactly once in a ``Cookie`` header, on the Web API call and on the WebSocket
upgrade alike. Without them the Web API answers ``invalid_auth`` and the socket gets the in-band
``{"type": "error", "error": {"code": 401, ...}}`` frame (:data:`UNAUTHORIZED_EVENT`) and closes.

Every WebSocket upgrade is recorded (:class:`Upgrade`, :attr:`BrowserControls.upgrades`) with the
headers a browser-session client must get right: ``Cookie``, ``Origin`` and ``User-Agent``.
:meth:`BrowserControls.refuse_next_sockets` refuses the next upgrades in-band with the same 401
frame, before or after ``hello``. :class:`BrowserControls` is a mixin of
:class:`~slack_rtm.emulator.state.EmulatorState`, which calls
:meth:`BrowserControls._init_browser`. :class:`~slack_rtm.emulator.records.BrowserSession` lives
in :mod:`.records` (re-exported here).
"""

from __future__ import annotations

import secrets
import string
from collections import deque
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import unquote

import msgspec
from aiohttp import web

from slack_rtm.emulator.records import BrowserSession, Grant
from slack_rtm.emulator.validate import check_count
from slack_rtm.emulator.workspace import User, Workspace

__all__ = [
    "UNAUTHORIZED_EVENT",
    "BrowserControls",
    "BrowserSession",
    "Upgrade",
    "UpgradeOutcome",
    "admit_upgrade",
    "cookie_values",
    "cookies_match",
]

#: The in-band frame a refused WebSocket gets (then a close, 1008).
UNAUTHORIZED_EVENT: Final = {
    "type": "error",
    "error": {"code": 401, "msg": "invalid_auth: the session cookie is missing or wrong"},
}
_UNAUTHORIZED_TEXT: Final = msgspec.json.encode(UNAUTHORIZED_EVENT).decode()

#: Characters a ``d`` cookie value holds that a client must URL-encode (PROTOCOL §7).
MUST_ENCODE: Final = frozenset("/+=")

#: How an upgrade ended: ``hello`` (connected), ``expired`` (unknown, used or expired ticket),
#: ``invalid_auth`` (browser-session cookie missing or wrong), ``refused`` and
#: ``refused_after_hello`` (:meth:`BrowserControls.refuse_next_sockets`).
UpgradeOutcome = Literal["hello", "expired", "invalid_auth", "refused", "refused_after_hello"]


class Upgrade(msgspec.Struct, frozen=True):
    """One WebSocket upgrade as received (the URL path, a credential, is not kept).

    Attributes:
        user_id: the user the ticket was for, or ``None`` (unknown, used or expired ticket).
        outcome: how it ended (:data:`UpgradeOutcome`).
        resume: the ticket came from a ``reconnect_url`` event.
        cookie: the ``Cookie`` header as received, or ``None``.
        origin: the ``Origin`` header as received, or ``None``.
        user_agent: the ``User-Agent`` header as received, or ``None``.
    """

    user_id: str | None
    outcome: str
    resume: bool = False
    cookie: str | None = None
    origin: str | None = None
    user_agent: str | None = None

    def __repr__(self) -> str:
        # The cookie is a person's login: never in a repr.
        cookie = None if self.cookie is None else "<redacted>"
        return (
            f"Upgrade(user_id={self.user_id!r}, outcome={self.outcome!r}, "
            f"resume={self.resume!r}, cookie={cookie}, origin={self.origin!r}, "
            f"user_agent={self.user_agent!r})"
        )


def _random(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def new_session(user_id: str, d_s: str | None = None) -> BrowserSession:
    """A fresh browser session for ``user_id`` with a unique token and cookie."""
    digits, alnum = string.digits, string.ascii_letters + string.digits
    token = f"xoxc-{_random(digits, 12)}-{_random(digits, 13)}-{_random(digits, 13)}-" + (
        secrets.token_hex(32)
    )
    cookie = f"xoxd-{_random(alnum, 20)}/{_random(alnum, 20)}+{_random(alnum, 16)}=="
    return BrowserSession(user_id, token, cookie, d_s)


def cookie_values(header: str | None) -> dict[str, str]:
    """The raw (still encoded) values of a ``Cookie`` header by name; the first of a name wins.

    Pairs without ``=`` are skipped; names and values are stripped of spaces.
    """
    values: dict[str, str] = {}
    if not header:
        return values
    for part in header.split(";"):
        name, sep, value = part.partition("=")
        name = name.strip()
        if sep and name and name not in values:
            values[name] = value.strip()
    return values


def cookies_match(header: str | None, session: BrowserSession) -> bool:
    """Whether a ``Cookie`` header carries the session's cookie(s), each encoded exactly once.

    The ``d`` value must hold none of ``/ + =`` raw and, URL-decoded once, equal
    :attr:`BrowserSession.cookie` (so a raw or a double-encoded value fails); with
    :attr:`BrowserSession.d_s` set, a ``d-s`` value decoding to it must come too.
    """
    values = cookie_values(header)
    sent = values.get("d")
    if sent is None or MUST_ENCODE.intersection(sent) or unquote(sent) != session.cookie:
        return False
    if session.d_s is not None:
        d_s = values.get("d-s")
        return d_s is not None and unquote(d_s) == session.d_s
    return True


class BrowserControls:
    """Browser sessions, upgrade records and socket refusals, mixed into the Emulator."""

    # State owned by the Emulator (see _init_browser).
    workspace: Workspace
    upgrades: list[Upgrade]
    _browser_by_user: dict[str, BrowserSession]
    _browser_by_token: dict[str, BrowserSession]
    _refuse_next: deque[bool]

    def _init_browser(self) -> None:
        self.upgrades = []
        self._browser_by_user = {}
        self._browser_by_token = {}
        self._refuse_next = deque()

    if TYPE_CHECKING:

        def _notify(self) -> None: ...  # the Emulator's

    def browser_session(self, user_id: str, *, d_s: str | None = None) -> BrowserSession:
        """The browser session of person ``user_id``, made on first call.

        Its ``xoxc-`` token authenticates as that person on every Web API method and
        ``rtm.connect`` URL only with a ``Cookie`` header carrying ``d`` (and ``d-s`` when
        ``d_s`` is set) encoded once, on the Web API call and on the WebSocket upgrade alike.
        Calling it again for the same user returns the same token and cookie; ``d_s`` is the
        requirement from then on (another value, ``None`` included, replaces the earlier one for
        later calls and later ``rtm.connect`` URLs; URLs already handed out keep theirs).

        Raises:
            ValueError: unknown user, a bot, or an empty ``d_s``; TypeError: ``d_s`` not a str.
        """
        user = self.workspace.user(user_id)
        if user.is_bot:
            raise ValueError(f"user_id: {user_id!r} is a bot; browser sessions are people's")
        if d_s is not None:
            if not isinstance(d_s, str):
                raise TypeError("d_s must be a str or None")
            if not d_s or any(c in d_s for c in ";, \t\r\n"):
                raise ValueError("d_s must be a non-empty cookie value (no ';', ',' or spaces)")
        session = self._browser_by_user.get(user_id)
        if session is None:
            session = new_session(user_id, d_s)
        elif session.d_s != d_s:
            session = msgspec.structs.replace(session, d_s=d_s)
        else:
            return session
        self._browser_by_user[user_id] = session
        self._browser_by_token[session.token] = session
        return session

    def session_for_token(self, token: str) -> BrowserSession | None:
        """The browser session whose token this is, or ``None``."""
        return self._browser_by_token.get(token)

    def browser_user(self, token: str, cookie_header: str | None) -> User | None:
        """The person a browser-session token authenticates as with these cookies, or
        ``None`` (not a browser-session token, or the cookies are missing or wrong)."""
        session = self._browser_by_token.get(token)
        if session is None or not cookies_match(cookie_header, session):
            return None
        return self.workspace.users.get(session.user_id)

    def refuse_next_sockets(self, n: int, *, after_hello: bool = False) -> None:
        """Refuse the next ``n`` WebSocket upgrades that carry an otherwise valid ticket: each
        gets the in-band 401 ``error`` frame and a close (1008); with ``after_hello``, ``hello``
        comes first. The ticket is used up. Adds to any earlier request; ``n=0`` changes nothing.

        Raises:
            ValueError: ``n`` is not an int >= 0; TypeError: ``after_hello`` is not a bool.
        """
        check_count("n", n)
        if not isinstance(after_hello, bool):
            raise TypeError("after_hello must be a bool")
        self._refuse_next.extend(after_hello for _ in range(n))

    def record_upgrade(
        self, request: web.Request, grant: Grant | None, outcome: UpgradeOutcome
    ) -> None:
        """Record one WebSocket upgrade (called by the WebSocket handler)."""
        headers = request.headers
        self.upgrades.append(
            Upgrade(
                grant.user.id if grant is not None else None,
                outcome,
                grant is not None and grant.resume,
                headers.get("Cookie"),
                headers.get("Origin"),
                headers.get("User-Agent"),
            )
        )
        self._notify()

    def browser_state(self) -> dict[str, Any]:
        """The part of :meth:`Emulator.state` this mixin owns."""
        return {
            "browser_sessions": [msgspec.to_builtins(s) for s in self._browser_by_user.values()],
            "upgrade_count": len(self.upgrades),
            "refuse_next_sockets": len(self._refuse_next),
        }

    def take_refusal(self) -> bool | None:
        """The next configured socket refusal (its ``after_hello``), if any (consumes it)."""
        return self._refuse_next.popleft() if self._refuse_next else None


async def admit_upgrade(
    emu: BrowserControls, request: web.Request, ws: web.WebSocketResponse, grant: Grant
) -> bool:
    """Check a valid ticket's upgrade: the browser-session cookies, then a configured refusal.
    Records the upgrade. Returns True to go on; otherwise the 401 frame (after ``hello`` for a
    refusal ``after_hello``) was sent and the socket closed."""
    hello_first = False
    outcome: UpgradeOutcome
    session = grant.session
    if session is not None and not cookies_match(request.headers.get("Cookie"), session):
        outcome = "invalid_auth"
    else:
        refusal = emu.take_refusal()
        if refusal is None:
            emu.record_upgrade(request, grant, "hello")
            return True
        hello_first = refusal
        outcome = "refused_after_hello" if refusal else "refused"
    emu.record_upgrade(request, grant, outcome)
    try:
        if hello_first:
            await ws.send_str(hello_text(grant))
        await ws.send_str(_UNAUTHORIZED_TEXT)
        await ws.close(code=1008, message=b"invalid_auth")
    except (ConnectionError, RuntimeError):
        pass
    return False


def hello_text(grant: Grant) -> str:
    """The ``hello`` frame for a grant: with ``"fast_reconnect": true`` on a resume."""
    return '{"type":"hello","fast_reconnect":true}' if grant.resume else '{"type":"hello"}'
