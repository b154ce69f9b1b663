"""Event handlers: registered by type, subtype or ``"*"``; sync or async; failures contained.

:class:`HandlerRegistry` holds the handlers of one client. :meth:`HandlerRegistry.lookup`
is the hot path: one dict access per event, answered from a cache of the handlers that apply
to each type (type-specific first, then ``"*"``, each in registration order).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from slack_rtm.session.events import Event, UnknownEvent, validate_type_name

__all__ = ["Entry", "Found", "Handler", "HandlerRegistry", "event_subtype", "handler_name"]

Handler = Callable[[Any], Any]
"""A handler: ``def f(event)`` or ``async def f(event)``; its return value is ignored."""

Entry = tuple[str | None, Handler, bool]
"""(subtype or None, the function, True when it is a coroutine function)."""

Found = tuple[tuple[Entry, ...], bool, Entry | None]
"""What :meth:`HandlerRegistry.lookup` answers: the entries, whether any is async, and the entry
itself when it is the only one, sync and without a subtype filter (the dispatcher's short way)."""

_NONE: Found = ((), False, None)


class HandlerRegistry:
    """The handlers of one client, by event type.

    Args:
        shortcut: answer a lone sync handler as the third item of :meth:`lookup` (the
            dispatcher then calls it directly). False when every event must go through the
            client's ``_handle`` (Socket Mode acks after the handlers).
    """

    __slots__ = ("_by_type", "_shortcut", "_star", "cache")

    def __init__(self, *, shortcut: bool = True) -> None:
        self._shortcut = shortcut
        self._by_type: dict[str, list[Entry]] = {}
        self._star: list[Entry] = []
        self.cache: dict[str, Found] = {}
        """What :meth:`lookup` answered per type (read it directly on the hot path)."""

    def __bool__(self) -> bool:
        return bool(self._by_type) or bool(self._star)

    def add(self, event_type: str, handler: Handler, subtype: str | None = None) -> None:
        """Register ``handler`` for ``event_type`` (``"*"`` for every event), maybe a subtype.

        Raises:
            TypeError: ``handler`` is not callable, or a name is not a ``str``.
            ValueError: ``event_type`` is not ``"*"`` or a lowercase type name, or ``subtype``
                is empty.
        """
        validate_type_name(event_type)
        if subtype is not None:
            if not isinstance(subtype, str):
                raise TypeError(f"subtype must be a str or None, got {type(subtype).__name__}")
            if not subtype:
                raise ValueError("subtype must not be empty (use None for any subtype)")
        if not callable(handler):
            raise TypeError(f"handler must be callable, got {type(handler).__name__}")
        entry: Entry = (subtype, handler, inspect.iscoroutinefunction(handler))
        if event_type == "*":
            self._star.append(entry)
        else:
            self._by_type.setdefault(event_type, []).append(entry)
        self.cache.clear()

    def remove(self, handler: Handler) -> bool:
        """Unregister ``handler`` everywhere it was registered; True if it was found."""
        found = False
        for entries in (*self._by_type.values(), self._star):
            kept = [e for e in entries if e[1] is not handler]
            if len(kept) != len(entries):
                found = True
                entries[:] = kept
        self._by_type = {k: v for k, v in self._by_type.items() if v}
        self.cache.clear()
        return found

    def lookup(self, event_type: str) -> Found:
        """The handlers for events of ``event_type``, whether any of them is async, and the
        entry alone when it is the only one, sync and for every subtype (else None).

        Subtype filters are not applied here (see :func:`event_subtype`).
        """
        cached = self.cache.get(event_type)
        if cached is None:
            entries = (*self._by_type.get(event_type, ()), *self._star)
            only = entries[0] if len(entries) == 1 else None
            sole = (only if self._shortcut and only is not None and only[0] is None
                    and not only[2] else None)
            cached = (entries, any(e[2] for e in entries), sole) if entries else _NONE
            self.cache[event_type] = cached
        return cached


def event_subtype(event: Event) -> str | None:
    """The event's ``subtype`` (a :class:`Message`'s field, or the raw one of other events)."""
    subtype = getattr(event, "subtype", None)
    if subtype is None and isinstance(event, UnknownEvent):
        subtype = event.raw.get("subtype")
    return subtype if isinstance(subtype, str) else None


def handler_name(handler: Callable[..., Any]) -> str:
    """A readable name for logs and :class:`~slack_rtm.session.events.HandlerError`."""
    name = getattr(handler, "__qualname__", None) or getattr(handler, "__name__", None)
    module = getattr(handler, "__module__", None)
    if isinstance(name, str):
        return f"{module}.{name}" if isinstance(module, str) else name
    return repr(handler)
