"""Argument checks shared by the emulator's public calls (``ValueError`` naming the argument)."""

from __future__ import annotations

__all__ = ["check_count", "check_number"]


def check_number(name: str, value: object, *, minimum: float = 0.0, optional: bool = False) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is a number >= ``minimum``
    (or ``None`` when ``optional``)."""
    if optional and value is None:
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= minimum:
        raise ValueError(f"{name} must be a number >= {minimum}")


def check_count(name: str, value: object, minimum: int = 0) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is an int >= ``minimum``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}")
