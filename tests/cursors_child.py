"""A writer process for the crash test in test_cursors.py: ``python cursors_child.py PATH SCOPE``.

Saves batch after batch into the SQLite cursor store at PATH: batch ``i`` sets every one of
``CHANNELS`` channels to ``batch_ts(i)``. After each save has returned (committed) it prints
``i`` and flushes, so whatever the parent reads was committed. Stops on its own after
``MAX_BATCHES`` (the parent kills it long before).
"""

from __future__ import annotations

import asyncio
import sys

from slack_rtm.cursors import SQLiteCursorStore

CHANNELS = [f"C{n:03d}" for n in range(50)]
MAX_BATCHES = 20_000


def batch_ts(i: int) -> str:
    """The ts every channel holds after batch ``i``."""
    return f"{1_700_000_000 + i}.{i % 1_000_000:06d}"


async def main(path: str, scope: str) -> None:
    store = SQLiteCursorStore(path)
    try:
        for i in range(1, MAX_BATCHES + 1):
            await store.save(scope, dict.fromkeys(CHANNELS, batch_ts(i)))
            sys.stdout.write(f"{i}\n")
            sys.stdout.flush()
    finally:
        await store.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
