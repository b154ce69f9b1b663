"""The Socket Mode ingest scenario's summary, table and target (beside the RTM ingest's).

The figures are :func:`report.summarize_ingest`'s, computed with the bare picows + msgspec loop
that acks each envelope as the yardstick and slack_sdk's aiohttp ``SocketModeClient`` in the
place of rtm_v2: ``*_vs_yardstick`` compares with the bare loop, ``*_vs_slack_sdk`` with
slack_sdk.
"""

from __future__ import annotations

from typing import Any

import report

__all__ = ["render", "summarize", "targets"]

_AS = {"bare": report.YARDSTICK, "slack_sdk": "slack_sdk_v2_raised"}


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per client: medians and per-round ratios to the bare loop and to slack_sdk."""
    renamed = {_AS.get(c, c): rs for c, rs in runs.items()}
    summary = report.summarize_ingest(renamed)
    back = {v: k for k, v in _AS.items()}
    return {
        back.get(client, client): {k.replace("_vs_rtm_v2", "_vs_slack_sdk"): v
                                   for k, v in s.items()}
        for client, s in summary.items()
    }


def render(result: dict[str, Any], labels: dict[str, str]) -> str:
    """The SOCKET MODE INGEST table, or "" when the scenario did not run."""
    sm = result.get("socket_mode_ingest")
    if not sm:
        return ""
    rows = []
    for client, s in sm["summary"].items():
        label = labels.get(client, client)
        if s.get("status") == "ok":
            rows.append([
                label,
                report._fmt(s.get("events_per_s"), ",.0f"),
                report._fmt(s.get("cpu_us_per_event"), ".2f"),
                report._fmt(s.get("wall_ratio_vs_yardstick"), ".2f") + "x",
                report._fmt(s.get("cpu_ratio_vs_yardstick"), ".2f") + "x",
                report._fmt(s.get("cal_ratio_vs_yardstick"), ".2f") + "x",
                report._fmt(s.get("wall_ratio_vs_slack_sdk"), ".1f") + "x",
                report._fmt(s.get("server_busy"), ".0%"),
                "",
            ])
        else:
            rows.append([label, report._short(s.get("status")), "-", "-", "-", "-", "-", "-",
                         report._note(s)])
    cfg = sm["config"]
    return (
        f"SOCKET MODE INGEST  (N={cfg['n']:,} events_api envelopes of ~700 B per run, every "
        f"one acked (a run missing an ack is an error); {cfg['rounds']} interleaved round(s), "
        f"medians; ratios to the bare picows + "
        f"msgspec loop that acks each envelope, and to slack_sdk's aiohttp client)\n"
        + report._table(["client", "envelopes/s", "CPU us/envelope", "ratio (wall)",
                         "ratio (CPU)", "ratio (calibrated)", "x slack_sdk (wall)",
                         "server busy", "note"], rows)
    )


def targets(result: dict[str, Any]) -> list[dict[str, str]]:
    """Issue 14's target: ours >= 0.7x the bare acking loop (and the multiple of slack_sdk)."""
    s = result.get("socket_mode_ingest", {}).get("summary", {}).get("ours")
    if s is None:
        return []
    name = "Socket Mode ours: ingest >= 0.70x bare picows+msgspec acking loop"
    if s.get("status") != "ok":
        return [{"name": name, "measured": report._note(s) or str(s.get("status")),
                 "verdict": "n/a"}]
    r, basis = report.ingest_ratio(s, "vs_yardstick")
    sdk = s.get("wall_ratio_vs_slack_sdk")
    measured = "-" if r is None else (
        f"{r:.2f}x by {basis}; {report._fmt(sdk, '.1f')}x slack_sdk aiohttp (wall)")
    return [{"name": name, "measured": measured,
             "verdict": "n/a" if r is None else ("PASS" if r >= 0.70 else "MISS")}]
