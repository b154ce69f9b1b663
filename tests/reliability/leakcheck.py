"""Catch secrets leaking into logs, output, exception texts and reprs.

:class:`LeakCheck` turns on DEBUG logging for the root logger and ``slack_rtm`` (through pytest's
``caplog``), records everything a test makes visible — every log record (message, arguments,
extras, exception text), stdout and stderr at the file-descriptor level (``capfd``, so output of
subprocesses and C code counts too), and the ``str``/``repr``/traceback of every object and
exception handed to :meth:`LeakCheck.see` — then :meth:`LeakCheck.assert_clean` fails if any
secret, or a distinctive part of one, shows up anywhere.

Use the ``leakcheck`` fixture from ``conftest.py``; :data:`SECRET_TOKEN` is the token to feed the
code under test. A browser session's cookie is a secret in every form it can take:
:meth:`LeakCheck.add_cookie` adds the raw value, its URL-encoded forms and the ``d=...`` piece
of a ``Cookie`` header, and the distinctive parts between its ``/ + =`` characters.
"""

from __future__ import annotations

import base64
import logging
import re
import traceback
from collections.abc import Iterable
from types import TracebackType
from urllib.parse import quote, quote_plus, unquote

import pytest

__all__ = ["SECRET_MARKER", "SECRET_TOKEN", "LeakCheck", "cookie_forms"]

#: A token shaped like a bot token, recognisable in any output.
SECRET_TOKEN = "xoxb-SECRET1234-leakcheck"
#: Its distinctive middle part: a partial leak (e.g. a token cut by a bad redaction) shows it.
SECRET_MARKER = "SECRET1234"

_LOGGERS = ("", "slack_rtm", "httpx", "httpcore", "aiohttp", "picows", "asyncio")
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({})))  # the standard LogRecord fields


def cookie_forms(value: str, name: str = "d") -> list[str]:
    """Every form a cookie value may take in output: raw, URL-encoded (upper- and lower-case
    hex, form-encoded), the ``name=...`` piece of a header in each, and each distinctive part
    (8+ characters) between the ``/ + =`` characters, so a half-redacted value shows too."""
    raw = unquote(value)  # an already encoded value counts as its raw form too
    encoded = quote(raw, safe="")
    lower = re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded)
    forms = [raw, value, encoded, lower, quote_plus(raw, safe=""), quote(encoded, safe="")]
    forms += [f"{name}={form}" for form in list(forms)]
    forms += [part for part in re.split(r"[/+=]", raw) if len(part) >= 8]
    return list(dict.fromkeys(forms))


def _exception_texts(exc: BaseException) -> list[str]:
    texts = ["".join(traceback.format_exception(type(exc), exc, exc.__traceback__))]
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        # Messages and reprs only: raw attributes such as ``ApiError.body`` hold what the
        # server sent, verbatim, by design.
        texts += [str(current), repr(current), repr(current.args)]
        current = current.__cause__ or current.__context__
    return texts


class LeakCheck:
    """Collects everything visible during a test and asserts no secret is in it.

    Args:
        caplog: pytest's log capture fixture.
        capfd: pytest's file-descriptor capture fixture (stdout and stderr).
        secrets: the secrets to look for; :data:`SECRET_TOKEN` and :data:`SECRET_MARKER` always.
    """

    def __init__(
        self,
        caplog: pytest.LogCaptureFixture,
        capfd: pytest.CaptureFixture[str],
        secrets: Iterable[str] = (),
    ) -> None:
        self._caplog = caplog
        self._capfd = capfd
        self._secrets: list[str] = []
        self._texts: list[str] = []
        self._formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        self._saved: list[tuple[logging.Logger, int, bool]] = []
        self.add_secret(SECRET_TOKEN)
        self.add_secret(SECRET_MARKER)
        for secret in secrets:
            self.add_secret(secret)

    def add_secret(self, secret: str) -> None:
        """Also look for ``secret`` (and its base64 form, as in a Basic auth header)."""
        if not isinstance(secret, str) or len(secret) < 6:
            raise ValueError("a secret must be a str of at least 6 characters")
        encoded = base64.b64encode(secret.encode()).decode()
        for variant in (secret, encoded):
            if variant not in self._secrets:
                self._secrets.append(variant)

    def add_cookie(self, value: str, name: str = "d") -> None:
        """Also look for a cookie value in every form (:func:`cookie_forms`)."""
        for form in cookie_forms(value, name):
            self.add_secret(form)

    def __enter__(self) -> LeakCheck:
        for name in _LOGGERS:
            logger = logging.getLogger(name)
            self._saved.append((logger, logger.level, logger.propagate))
            logger.propagate = True
            self._caplog.set_level(logging.DEBUG, logger=name or None)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for logger, _level, propagate in self._saved:
            logger.propagate = propagate  # caplog restores the levels itself

    def see(self, *objects: object) -> None:
        """Record the str and repr of each object; for exceptions, the whole chain and traceback."""
        for obj in objects:
            if isinstance(obj, BaseException):
                self._texts += _exception_texts(obj)
            else:
                self._texts += [str(obj), repr(obj)]

    def _collect(self) -> list[str]:
        out, err = self._capfd.readouterr()
        self._texts += [out, err]
        texts: list[str] = []
        for record in self._caplog.records:
            texts.append(self._formatter.format(record))
            texts.append(repr(record.msg))
            texts.append(repr(record.args))
            texts += [
                repr(value) for key, value in vars(record).items() if key not in _RECORD_ATTRS
            ]
            if record.exc_info and record.exc_info[1] is not None:
                texts += _exception_texts(record.exc_info[1])
        return self._texts + texts

    @property
    def record_count(self) -> int:
        """How many log records were captured so far (to prove the check saw something)."""
        return len(self._caplog.records)

    def text(self) -> str:
        """Everything captured so far, joined (drains the captured stdout/stderr)."""
        return "\n".join(self._collect())

    def assert_clean(self) -> None:
        """Fail if any secret appears in anything captured; show where, with the secret masked."""
        everything = self.text()
        self._texts = [everything]
        for secret in self._secrets:
            at = everything.find(secret)
            if at >= 0:
                context = everything[max(0, at - 120) : at + len(secret) + 120]
                masked = context.replace(secret, "<<LEAKED SECRET>>")
                raise AssertionError(f"secret leaked ({len(secret)} chars) in: {masked!r}")
