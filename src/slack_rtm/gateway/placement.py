"""Where each registration should be held: rendezvous hashing with capacity (pure, no I/O).

Rendezvous (highest random weight) hashing gives every pair (registration, process) a weight
from a stable hash (:func:`weight`: BLAKE2b of ``"<reg>|<process>"``, never Python's salted
``hash``) and puts each registration on the process of highest weight. Every process that sees
the same registrations and the same processes computes the same answer, with nothing to agree
on; when a process joins, only the registrations that now rank it first move to it (about
``1/(n+1)`` of them), and when one leaves, only its own registrations move.

Capacity: :func:`place` walks every pair from the highest weight down and gives a registration
to a process while that process has room; a registration whose best process is full goes to its
next best one with room, and registrations beyond the total capacity stay unplaced. While no
process is full the answer is plain rendezvous hashing, so the movement bounds above hold.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

__all__ = ["place", "ranking", "weight"]


def weight(registration: str, process: str) -> int:
    """The stable 64-bit weight of the pair (the same in every process and every run)."""
    digest = hashlib.blake2b(f"{registration}|{process}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _check_processes(processes: Mapping[str, int]) -> None:
    if not isinstance(processes, Mapping):
        raise TypeError("processes must be a mapping of process name to capacity")
    for name, capacity in processes.items():
        if not isinstance(name, str) or not name:
            raise TypeError("processes: every name must be a non-empty str")
        if isinstance(capacity, bool) or not isinstance(capacity, int):
            raise TypeError(f"processes: the capacity of {name!r} must be an int")
        if capacity < 0:
            raise ValueError(f"processes: the capacity of {name!r} must be >= 0")


def _check_registrations(registrations: Iterable[str]) -> list[str]:
    if isinstance(registrations, (str, bytes)):
        raise TypeError("registrations must be an iterable of ids, not a single str")
    try:
        regs = list(dict.fromkeys(registrations))
    except TypeError:
        raise TypeError("registrations must be an iterable of str ids") from None
    for reg in regs:
        if not isinstance(reg, str) or not reg:
            raise TypeError("registrations: every id must be a non-empty str")
    return regs


def ranking(registration: str, processes: Iterable[str]) -> list[str]:
    """The processes in the order ``registration`` prefers them: highest weight first (a tie,
    which needs a 64-bit collision, goes to the greater name, as in :func:`place`).

    Raises:
        TypeError: ``registration`` is not a non-empty str, or a process name is not one.
    """
    if not isinstance(registration, str) or not registration:
        raise TypeError("registration must be a non-empty str")
    names = list(processes)
    for name in names:
        if not isinstance(name, str) or not name:
            raise TypeError("processes: every name must be a non-empty str")
    return sorted(names, key=lambda p: (weight(registration, p), p), reverse=True)


def _first_choice(registration: str, names: list[str]) -> str:
    return max(names, key=lambda p: (weight(registration, p), p))


def place(registrations: Iterable[str], processes: Mapping[str, int]) -> dict[str, str]:
    """Registration id → process name: rendezvous hashing, each process at most its capacity.

    Deterministic: the same sets give the same answer, whatever their order. Registrations
    beyond the total capacity are left out of the answer (unplaced); a process of capacity 0
    gets nothing. Repeated ids count once.

    Args:
        registrations: the registration ids to place.
        processes: the live processes that take sessions, each with its capacity.

    Raises:
        TypeError: an id or a name is not a non-empty str, or a capacity is not an int.
        ValueError: a capacity is negative.
    """
    regs = _check_registrations(registrations)
    _check_processes(processes)
    room = {name: cap for name, cap in processes.items() if cap > 0}
    if not regs or not room:
        return {}
    total = sum(room.values())
    names = sorted(room)
    if total >= len(regs) and all(room[n] >= len(regs) for n in names):
        # Nobody can fill up: every registration simply goes to its first choice.
        return {reg: _first_choice(reg, names) for reg in regs}
    pairs = sorted(((weight(reg, name), reg, name) for reg in regs for name in names), reverse=True)
    placed: dict[str, str] = {}
    goal = min(total, len(regs))
    for _, reg, name in pairs:
        if reg in placed or room[name] == 0:
            continue
        placed[reg] = name
        room[name] -= 1
        if len(placed) == goal:
            break
    return placed
