"""The chaos soak (see ``soak.py``): a short run in the normal test suite, a long one on demand.

``SLACK_RTM_SOAK_SECONDS`` sets the length of the chaos (default 3 s here, then a quiet second;
``make soak`` uses minutes), ``SLACK_RTM_SOAK_SEED`` replays a run, ``SLACK_RTM_SOAK_REPORT``
writes the report as JSON.
"""

from __future__ import annotations

import json
import os

import pytest

from .soak import run_soak

SECONDS = float(os.environ.get("SLACK_RTM_SOAK_SECONDS", "3"))
SEED = os.environ.get("SLACK_RTM_SOAK_SEED")


@pytest.mark.timeout(SECONDS + 90)
async def test_chaos_soak() -> None:
    report = await run_soak(SECONDS, seed=None if SEED is None else int(SEED))
    summary = json.dumps(report.as_dict(), indent=2)
    print(summary)  # shown with -s, and in the failure output
    path = os.environ.get("SLACK_RTM_SOAK_REPORT")
    if path:
        with open(path, "w") as out:
            out.write(summary + "\n")
    assert report.problems == [], f"seed {report.seed}: {summary}"
    # The run really exercised something.
    assert sum(report.faults.values()) >= max(1, int(SECONDS / 2))
    assert report.acked > 0
    assert report.events_required > 0
    assert report.events_delivered > 0
