"""Summaries, the printed tables, and the targets (PASS / MISS; a MISS never fails the run).

The ratios of the ingest table are the median of per-round ratios: in each round every client
ran once, back to back, so a noisy neighbour slows a round, not one client.
"""

from __future__ import annotations

import statistics
from typing import Any

__all__ = ["KIB", "ingest_ratio", "render", "summarize_ingest", "targets"]

KIB = 1024
YARDSTICK = "picows_msgspec"


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize_ingest(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per client: medians of events/s and CPU µs/event, and the median per-round ratios."""
    base = runs.get(YARDSTICK, [])
    v2 = runs.get("slack_sdk_v2_raised", [])
    out: dict[str, dict[str, Any]] = {}
    for client, rs in runs.items():
        ok = [r for r in rs if r["status"] == "ok"]
        summary: dict[str, Any] = {"runs": len(rs), "ok_runs": len(ok)}
        if ok:
            summary["events_per_s"] = _median([r["events_per_s"] for r in ok])
            summary["cpu_us_per_event"] = _median([r["cpu_us_per_event"] for r in ok])
            # Noise only ever adds CPU time: the best round is the closest to the intrinsic cost.
            summary["cpu_us_per_event_best"] = min(r["cpu_us_per_event"] for r in ok)
            base_ok = [b["cpu_us_per_event"] for b in base if b["status"] == "ok"]
            if base_ok:
                summary["best_cpu_ratio_vs_yardstick"] = (
                    min(base_ok) / summary["cpu_us_per_event_best"])
            for key, ref in (("vs_yardstick", base), ("vs_rtm_v2", v2)):
                pairs = [(r, b) for r, b in zip(rs, ref, strict=False)
                         if r["status"] == "ok" and b["status"] == "ok"]
                if pairs:
                    summary["wall_ratio_" + key] = _median(
                        [r["events_per_s"] / b["events_per_s"] for r, b in pairs])
                    summary["cpu_ratio_" + key] = _median(
                        [b["cpu_us_per_event"] / r["cpu_us_per_event"] for r, b in pairs])
                    summary["cpu_bound_" + key] = all(
                        _cpu_bound(r) and _cpu_bound(b) for r, b in pairs)
                    calibrated = [
                        (b["cpu_us_per_event"] / b["calib_cpu_seconds"])
                        / (r["cpu_us_per_event"] / r["calib_cpu_seconds"])
                        for r, b in pairs
                        if r.get("calib_cpu_seconds") and b.get("calib_cpu_seconds")
                    ]
                    if calibrated:
                        summary["cal_ratio_" + key] = _median(calibrated)
            busy = [
                r["server_cpu_seconds"] / r["server_seconds"]
                for r in ok
                if r.get("server_cpu_seconds") is not None and r.get("server_seconds")
            ]
            if busy:
                summary["server_busy"] = _median(busy)
        crashed = [r for r in rs if r["status"] == "crashed"]
        if crashed:
            summary["crashed"] = len(crashed)
            summary["received_before_crash"] = _median([float(r["received"]) for r in crashed])
            summary["sent_before_crash"] = _median([float(r.get("n", 0)) for r in crashed])
            summary["crash_error"] = crashed[0].get("error", "")
        others = [r for r in rs if r["status"] in ("na", "error")]
        if others and not ok and not crashed:
            summary["status"] = others[0]["status"]
            summary["reason"] = others[0].get("reason") or others[0].get("error", "")
        elif ok:
            summary["status"] = "ok"
        elif crashed:
            summary["status"] = "crashed"
        out[client] = summary
    return out


def _cpu_bound(run: dict[str, Any]) -> bool:
    """Whether a run's client never waited for data: under 1 voluntary context switch per
    100 events (it then ran flat out, and its CPU µs/event is its speed on a free core)."""
    switches = run.get("voluntary_switches")
    return switches is not None and switches < run["events"] / 100


def ingest_ratio(s: dict[str, Any], ref: str) -> tuple[float | None, str]:
    """The throughput ratio a target is judged on, and on what basis.

    On a shared machine, wall-clock events/s swing with whatever else runs; a client that never
    waits for data runs at 1 / (CPU µs/event) on a free core, so when both sides of a pair were
    CPU-bound the ratio of CPU costs is the steadier figure, and steadier still with each run's
    cost divided by its process's calibration loop (``ingest.calibrate``: the machine's speed
    at that moment). Otherwise the wall-clock ratio.
    """
    if s.get("cpu_bound_" + ref):
        if s.get("cal_ratio_" + ref) is not None:
            return s["cal_ratio_" + ref], "calibrated CPU"
        if s.get("cpu_ratio_" + ref) is not None:
            return s["cpu_ratio_" + ref], "CPU"
    return s.get("wall_ratio_" + ref), "wall"


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    for r in rows:
        cells = [
            c.ljust(w) if i == 0 or headers[i] == "note" else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        lines.append(" | ".join(cells).rstrip())
    return "\n".join(lines)


def _short(status: str | None) -> str:
    return {"na": "n/a", "crashed": "crashed"}.get(status or "", "ERROR")


def _note(s: dict[str, Any]) -> str:
    if s.get("status") == "crashed":
        return (f"{s.get('crash_error', '')}: {s.get('received_before_crash', 0):,.0f} of "
                f"{s.get('sent_before_crash', 0):,.0f} back-to-back events delivered")
    return str(s.get("reason") or s.get("error") or "")[:140]


def render(result: dict[str, Any], labels: dict[str, str]) -> str:
    """The tables printed at the end of a run (a row that has no numbers says why in "note")."""
    parts: list[str] = []
    ingest = result.get("ingest", {}).get("summary")
    if ingest:
        rows = []
        for client, s in ingest.items():
            label = labels.get(client, client)
            if s.get("status") == "ok":
                rows.append([
                    label,
                    _fmt(s.get("events_per_s"), ",.0f"),
                    _fmt(s.get("cpu_us_per_event"), ".2f"),
                    _fmt(s.get("cpu_us_per_event_best"), ".2f"),
                    _fmt(s.get("wall_ratio_vs_yardstick"), ".2f") + "x",
                    _fmt(s.get("cpu_ratio_vs_yardstick"), ".2f") + "x",
                    _fmt(s.get("cal_ratio_vs_yardstick"), ".2f") + "x",
                    _fmt(s.get("best_cpu_ratio_vs_yardstick"), ".2f") + "x",
                    _fmt(s.get("server_busy"), ".0%"),
                    "" if s.get("cpu_bound_vs_yardstick") else "waited for data",
                ])
            else:
                rows.append([label, _short(s.get("status")), "-", "-", "-", "-", "-", "-", "-",
                             _note(s)])
        cfg = result["ingest"]["config"]
        parts.append(
            f"INGEST  (N={cfg['n']:,} events of ~300 B per run, {cfg['rounds']} interleaved "
            f"round(s), medians; ratios to bare picows+msgspec: medians of per-round ratios "
            f"by events/s, by CPU cost, and by CPU cost over each run's calibration loop, and the "
            f"ratio of the best rounds' CPU costs)\n"
            + _table(["client", "events/s", "CPU us/event", "best", "ratio (wall)",
                      "ratio (CPU)", "ratio (calibrated)", "ratio (best CPU)", "server busy",
                      "note"], rows)
        )
    dens = result.get("density")
    if dens:
        rows = []
        for r in dens:
            name = f"{r['kind']} x {r['requested']:,}"
            if r.get("ping_interval") is not None:
                name += f" ping {r['ping_interval']:g}+{r['ping_timeout']:g}"
            if r.get("wheel") is False:
                name += " no wheel"
            if r["status"] != "ok":
                rows.append([name, _short(r["status"]), "-", "-", "-", "-", _note(r)])
                continue
            rows.append([
                name,
                f"{r['rss_per_session'] / KIB:.1f}",
                f"{r['threads_after']} ({r['threads_per_session']:.4f})",
                f"{r['idle_cpu_percent']:.1f}%",
                f"{r['connect_seconds']:.1f}",
                f"{r['rss_after'] / KIB / KIB:.0f}",
                r.get("stopped", ""),
            ])
        parts.append("DENSITY  (idle connected sessions in one process)\n" + _table(
            ["sessions", "KiB RSS/session", "threads (per session)", "idle CPU",
             "connect s", "RSS MiB", "note"], rows))
    rec = result.get("reconnect")
    if rec:
        if rec["status"] != "ok":
            parts.append(f"RECONNECT  {_short(rec['status'])}: {_note(rec)}")
        else:
            rows = []
            for how in ("drop", "goodbye"):
                s = rec.get(how)
                if s:
                    rows.append([
                        "abrupt drop" if how == "drop" else "goodbye",
                        str(s["trials"]),
                        f"{s['to_hello_ms_median']:.1f}",
                        f"{s['to_hello_ms_max']:.1f}",
                        str(s["events_sent"]),
                        str(s["events_lost"]),
                        str(s["events_while_disconnected"]),
                        str(s["duplicates_delivered"]),
                    ])
            parts.append("RECONNECT  (slack_rtm asyncio; numbered events stream throughout)\n"
                         + _table(["cut", "trials", "ms to hello (median)", "max ms",
                                   "events sent", "lost", "sent while no socket",
                                   "duplicates"], rows))
    snd = result.get("send")
    if snd:
        rows = []
        for kind, r in snd.items():
            label = labels.get(kind, kind)
            if r["status"] != "ok":
                rows.append([label, _short(r["status"]), "-", "-", "-", "-", _note(r)])
                continue
            rows.append([
                label,
                f"{r['rtt_us_p50']:.0f}",
                f"{r['rtt_us_p99']:.0f}",
                _fmt(r.get("p50_ratio_vs_echo"), ".2f") + "x",
                _fmt(r.get("p50_ratio_vs_message"), ".2f") + "x",
                _fmt(r.get("acked_per_s"), ",.0f"),
                "",
            ])
        parts.append("SEND  (emulator write limit off; medians over the rounds, ratios per "
                     "round; pipelined: all sent at once, timed to the last reply)\n" + _table(
            ["round trip", "p50 us", "p99 us", "p50 vs ping->pong", "p50 vs message->ack",
             "acked/s pipelined", "note"], rows))
    tg = result.get("targets")
    if tg:
        rows = [[t["name"], t["measured"], t["verdict"]] for t in tg]
        parts.append("TARGETS\n" + _table(["target", "measured", "verdict"], rows))
    return "\n\n".join(parts)


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def targets(result: dict[str, Any]) -> list[dict[str, str]]:
    """Each target of issue 6 with what this run measured and PASS / MISS / n/a."""
    out: list[dict[str, str]] = []

    def add(name: str, measured: str, ok: bool | None) -> None:
        out.append({"name": name, "measured": measured, "verdict": _verdict(ok)})

    ingest = result.get("ingest", {}).get("summary", {})
    for client in ("ours_iter", "ours_handler"):
        s = ingest.get(client)
        if s is None:
            continue
        r, basis = ingest_ratio(s, "vs_yardstick")
        wall = s.get("wall_ratio_vs_yardstick")
        cpu = s.get("cpu_ratio_vs_yardstick")
        best = s.get("best_cpu_ratio_vs_yardstick")
        add(f"{client}: ingest >= 0.70x bare picows+msgspec",
            "-" if r is None else
            f"{r:.2f}x by {basis} (CPU {_fmt(cpu, '.2f')}x, wall {_fmt(wall, '.2f')}x, best "
            f"rounds {_fmt(best, '.2f')}x)",
            None if r is None else r >= 0.70)
        r2, basis2 = ingest_ratio(s, "vs_rtm_v2")
        wall2 = s.get("wall_ratio_vs_rtm_v2")
        # What the yardstick itself reached against rtm_v2 in this run: the issue's reference
        # figures put it at ~22x (so 0.70x of it is ~15x); where it is lower, 15x asks more.
        yard2 = ingest.get(YARDSTICK, {}).get("wall_ratio_vs_rtm_v2")
        add(f"{client}: ingest >= 15x slack_sdk rtm_v2 (limit raised)",
            "-" if r2 is None else f"{r2:.1f}x by {basis2} (wall {_fmt(wall2, '.1f')}x; "
            f"bare picows+msgspec {_fmt(yard2, '.1f')}x)",
            None if r2 is None else r2 >= 15)
    base, catch = ingest.get("ours_iter"), ingest.get("ours_catchup")
    if base is not None and catch is not None:
        r_base, basis = ingest_ratio(base, "vs_yardstick")
        r_catch, _ = ingest_ratio(catch, "vs_yardstick")
        ratio = None if r_base is None or r_catch is None else r_catch / r_base
        add("ingest with catch_up=True >= 0.95x without (async for, same run)",
            "-" if ratio is None else f"{ratio:.3f}x by {basis} (each vs bare picows+msgspec)",
            None if ratio is None else ratio >= 0.95)
    dens = [d for d in result.get("density", []) if d["kind"] == "ours"]
    if dens:
        d = max(dens, key=lambda x: x.get("requested", x["sessions"]))
        if d["status"] == "ok":
            kib = d["rss_per_session"] / KIB
            at = f"at {d['sessions']:,}"
            if d["sessions"] < d.get("requested", d["sessions"]):
                at += f" (of {d['requested']:,} asked: {d['stopped']})"
            add(f"<= 16 KiB RSS per idle session {at}", f"{kib:.1f} KiB", kib <= 16)
            extra = d["threads_after"] - d["threads_before"]
            add(f"0 threads per idle session {at}", f"{extra} extra threads in all",
                extra == 0)
        else:
            add("<= 16 KiB RSS and 0 threads per idle session", d["status"], None)
    rec = result.get("reconnect")
    if rec:
        drop, bye = rec.get("drop"), rec.get("goodbye")
        add("reconnect after abrupt drop <= 50 ms median to hello",
            "-" if not drop else f"{drop['to_hello_ms_median']:.1f} ms",
            None if not drop else drop["to_hello_ms_median"] <= 50)
        add("0 events lost across goodbye",
            "-" if not bye else f"{bye['events_lost']} lost of {bye['events_sent']}",
            None if not bye else bye["events_lost"] == 0)
    snd = result.get("send", {})
    ours, echo = snd.get("ours_message"), snd.get("picows_ping")
    if ours and echo:
        ratio = ours.get("p50_ratio_vs_echo")
        if ours["status"] == "ok" and echo["status"] == "ok" and ratio is not None:
            add("acked send RTT <= 1.2x bare picows echo RTT (p50)",
                f"{ratio:.2f}x ({ours['rtt_us_p50']:.0f} vs {echo['rtt_us_p50']:.0f} us)",
                ratio <= 1.2)
        else:
            add("acked send RTT <= 1.2x bare picows echo RTT (p50)", "-", None)
    return out
