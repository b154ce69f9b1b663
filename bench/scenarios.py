"""The runner's side of each scenario: start the processes, drive them, collect the figures.

Every function returns plain JSON-ready dicts with a ``status``: ``"ok"`` (numbers present),
``"na"`` (the code or a package is missing: ``reason``), ``"crashed"`` (the client died
mid-run, as slack_sdk rtm_v2 does: ``received``, ``error``) or ``"error"`` (``error``).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from procs import Child, ChildError, ServerProc

__all__ = ["density", "ingest_once", "reconnect", "send", "socket_mode_ingest_once"]


async def ingest_once(server: ServerProc, client: str, n: int, timeout: float) -> dict[str, Any]:
    """One ingest run of ``client``: it connects, the server streams ``n`` events at it."""
    child = await Child.start(
        "ingest.py", "--client", client, "--n", str(n), "--api", server.api_url,
        "--token", server.bot_token, "--timeout", str(timeout), name=f"ingest {client}",
    )
    fire: asyncio.Future[dict[str, Any]] | None = None
    try:
        first = await child.next_event(60.0)
        if first["event"] == "na":
            return {"status": "na", "reason": first.get("reason", "")}
        if first["event"] != "ready":
            return {"status": "error", "error": first.get("message", str(first))}
        fire = asyncio.ensure_future(
            server.call("firehose", timeout=timeout + 30, n=n, user_id=server.bot_user_id)
        )
        res = await child.next_event(timeout + 15.0)
        while res["event"] == "ready":  # a client that reconnected by itself (rtm_v2 does)
            res = await child.next_event(timeout + 15.0)
        if res["event"] != "result":
            return {"status": "error", "error": res.get("message", str(res))}
        out: dict[str, Any] = {"status": "crashed" if res.get("crashed") else "ok", "n": n}
        for key in ("events", "seconds", "cpu_seconds", "received", "error",
                    "voluntary_switches", "involuntary_switches", "calib_cpu_seconds"):
            if key in res:
                out[key] = res[key]
        if "events" in res and res["seconds"] > 0:
            out["events_per_s"] = res["events"] / res["seconds"]
            out["cpu_us_per_event"] = res["cpu_seconds"] / res["events"] * 1e6
        await child.finish()
        try:
            sent = await asyncio.wait_for(fire, 15.0)
            out["server_cpu_seconds"] = sent.get("cpu_seconds")
            out["server_seconds"] = sent.get("seconds")
        except (ChildError, asyncio.TimeoutError):
            pass
        return out
    except ChildError as exc:
        return {"status": "error", "error": str(exc)}
    finally:
        await child.finish(timeout=2.0)
        if fire is not None and not fire.done():
            fire.cancel()


async def socket_mode_ingest_once(server: ServerProc, client: str, n: int,
                                  timeout: float) -> dict[str, Any]:
    """One Socket Mode ingest run of ``client``: once its socket is the only one open, the
    server fires ``n`` envelopes at it; every one must come back acked."""
    child = await Child.start(
        "ingest_socket_mode.py", "--client", client, "--n", str(n), "--api", server.api_url,
        "--app-token", str(server.info["app_token"]), "--token", server.bot_token,
        "--timeout", str(timeout), name=f"socket mode ingest {client}",
    )
    fire: asyncio.Future[dict[str, Any]] | None = None
    try:
        first = await child.next_event(60.0)
        if first["event"] == "na":
            return {"status": "na", "reason": first.get("reason", "")}
        if first["event"] != "ready":
            return {"status": "error", "error": first.get("message", str(first))}
        acks_before = (await server.call("sm_acks", n=0))["count"]
        await server.call("sm_wait", n=1, timeout=15.0)  # the previous run's socket is gone
        fire = asyncio.ensure_future(server.call("sm_firehose", timeout=timeout + 30, n=n))
        res = await child.next_event(timeout + 15.0)
        if res["event"] != "result":
            return {"status": "error", "error": res.get("message", str(res))}
        out: dict[str, Any] = {"status": "ok", "n": n}
        for key in ("events", "seconds", "cpu_seconds", "voluntary_switches",
                    "involuntary_switches", "calib_cpu_seconds"):
            if key in res:
                out[key] = res[key]
        if res["seconds"] > 0:
            out["events_per_s"] = res["events"] / res["seconds"]
            out["cpu_us_per_event"] = res["cpu_seconds"] / res["events"] * 1e6
        try:
            acked = await server.call("sm_acks", n=acks_before + n, timeout=15.0)
            out["acked"] = acked["count"] - acks_before
        except ChildError as exc:
            out.update(status="error", error=f"not every envelope was acked: {exc}")
        await child.finish()
        try:
            sent = await asyncio.wait_for(fire, 15.0)
            out["server_cpu_seconds"] = sent.get("cpu_seconds")
            out["server_seconds"] = sent.get("seconds")
        except (ChildError, asyncio.TimeoutError):
            pass
        return out
    except ChildError as exc:
        return {"status": "error", "error": str(exc)}
    finally:
        await child.finish(timeout=2.0)
        if fire is not None and not fire.done():
            fire.cancel()


async def density(kind: str, sessions: int, idle: float, timeout: float,
                  keepalive: tuple[float, float] | None = None,
                  wheel: bool = True) -> dict[str, Any]:
    """``sessions`` idle sessions of ``kind`` in one process, against a fresh server;
    ``keepalive`` is our clients' ``(ping_interval, ping_timeout)`` (None: their defaults);
    ``wheel`` False gives each of them a precise timer of its own."""
    server = await ServerProc.start()
    try:
        extra = [] if keepalive is None else ["--ping-interval", str(keepalive[0]),
                                              "--ping-timeout", str(keepalive[1])]
        if not wheel:
            extra.append("--no-wheel")
        child = await Child.start(
            "density.py", "--kind", kind, "--sessions", str(sessions), "--api", server.api_url,
            "--token", server.bot_token, "--idle", str(idle), *extra,
            name=f"density {kind} {sessions}",
        )
        try:
            first = await child.next_event(timeout)
            if first["event"] == "na":
                return {"status": "na", "reason": first.get("reason", "")}
            if first["event"] != "result":
                return {"status": "error", "error": first.get("message", str(first))}
            state = await server.call("state")
            out = {k: v for k, v in first.items() if k != "event"}
            out["status"] = "ok"
            out["server_connections"] = state["connection_count"]
            if state["connection_count"] < out["sessions"]:
                out["status"] = "error"
                out["error"] = (
                    f"the server saw {state['connection_count']} of {out['sessions']} "
                    "connections"
                )
            return out
        finally:
            await child.finish(timeout=30.0)
    except ChildError as exc:
        return {"status": "error", "error": str(exc)}
    finally:
        await server.stop()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


async def _trial(
    server: ServerProc, child: Child, how: str, start_seq: int, count: int, interval: float
) -> dict[str, Any]:
    """Stream ``count`` numbered events; cut the session part-way (``how``); time to hello."""
    stream = asyncio.ensure_future(
        server.call("stream", count=count, interval=interval, start_seq=start_seq,
                    user_id=server.bot_user_id)
    )
    await asyncio.sleep(count * interval / 3)
    if how == "drop":
        cut = await server.call("drop", abrupt=True, user_id=server.bot_user_id)
    else:
        cut = await server.call("goodbye", close_after=1.0)
    hello = await child.next_event(15.0)
    if hello.get("event") != "hello":
        raise ChildError(f"expected hello, got {hello}")
    streamed = await stream
    await asyncio.sleep(0.3)  # the tail of the stream, and the old socket's close
    return {
        "how": how,
        "seqs": (start_seq, start_seq + count),
        "unreached": streamed["unreached"],
        "to_hello_ms": (hello["t"] - cut["t"]) * 1000,
    }


async def reconnect(drops: int, goodbyes: int, count: int, timeout: float) -> dict[str, Any]:
    """Our asyncio client: abrupt drops and goodbyes while events stream; time and losses."""
    server = await ServerProc.start()
    try:
        child = await Child.start(
            "reconnect.py", "--api", server.api_url, "--token", server.bot_token,
            name="reconnect",
        )
        try:
            first = await child.next_event(30.0)
            while first["event"] == "hello":  # the first session's
                first = await child.next_event(30.0)
            if first["event"] == "na":
                return {"status": "na", "reason": first.get("reason", "")}
            if first["event"] != "ready":
                return {"status": "error", "error": first.get("message", str(first))}
            trials = []
            seq = 0
            hello_at = time.monotonic()
            for how in ["goodbye"] * goodbyes + ["drop"] * drops:
                if how == "drop":
                    # Cut a session that has been up a while: the client resets its backoff
                    # after a healthy session and reconnects at once (a session cut young
                    # waits for its backoff, which is another measurement).
                    await asyncio.sleep(max(0.0, hello_at + SETTLE - time.monotonic()))
                trials.append(await _trial(server, child, how, seq, count, 0.002))
                hello_at = time.monotonic()
                seq += count
            await child.send(cmd="report")
            report = await child.next_event(timeout)
            if report.get("event") != "report":
                raise ChildError(f"expected report, got {report}")
            return _losses(trials, report["seqs"])
        finally:
            await child.finish(timeout=10.0)
    except ChildError as exc:
        return {"status": "error", "error": str(exc)}
    finally:
        await server.stop()


#: How long a session is up before a drop trial cuts it (the client's default
#: ``healthy_after`` is 5 s).
SETTLE = 5.5


def _losses(trials: list[dict[str, Any]], received: list[int]) -> dict[str, Any]:
    got: dict[int, int] = {}
    for s in received:
        got[s] = got.get(s, 0) + 1
    out: dict[str, Any] = {"status": "ok"}
    for how in ("drop", "goodbye"):
        mine = [t for t in trials if t["how"] == how]
        if not mine:
            continue
        lost = gap = dup = sent = 0
        for t in mine:
            unreached = set(t["unreached"])
            for s in range(*t["seqs"]):
                if s in unreached:
                    gap += 1
                    continue
                sent += 1
                if s not in got:
                    lost += 1
                elif got[s] > 1:
                    dup += got[s] - 1
        ms = [t["to_hello_ms"] for t in mine]
        out[how] = {
            "trials": len(mine),
            "to_hello_ms_median": statistics.median(ms),
            "to_hello_ms_max": max(ms),
            "events_sent": sent,
            "events_lost": lost,
            "events_while_disconnected": gap,
            "duplicates_delivered": dup,
        }
    return out


#: the round trip the send target compares to: a bare picows JSON ping -> pong
ECHO = "picows_ping"
#: the like-for-like round trip: a bare picows client sending the same ``message`` frame
BARE_MESSAGE = "picows_message"
_SEND_PAIRS = (ECHO, "ours_message", BARE_MESSAGE, "ours_ping")


async def send(kinds: list[str], rounds: int, sequential: int, pipelined: int,
               timeout: float) -> dict[str, dict[str, Any]]:
    """Acked round trips of each kind (our send_message, our ping, bare picows ping/message),
    interleaved over ``rounds`` against one server whose write limit is off; medians."""
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    # Each compared pair runs back to back, in turn first and second (forward, then backward):
    # the machine's speed drifts, and a fixed order would lean every ratio the same way.
    order = [k for k in _SEND_PAIRS if k in kinds] + [k for k in kinds if k not in _SEND_PAIRS]
    server = await ServerProc.start("--write-rate", "none")
    try:
        for rnd in range(rounds):
            for kind in order if rnd % 2 == 0 else order[::-1]:
                runs[kind].append(await _send_once(server, kind, sequential, pipelined, timeout))
    finally:
        await server.stop()
    out: dict[str, dict[str, Any]] = {}
    for kind, rs in runs.items():
        ok = [r for r in rs if r["status"] == "ok"]
        if not ok:
            out[kind] = rs[0]
            continue
        summary: dict[str, Any] = {"status": "ok", "runs": len(rs), "ok_runs": len(ok),
                                   "rtt_us_p50_by_round": [r.get("rtt_us_p50") for r in rs]}
        for key in ("rtt_us_p50", "rtt_us_p99", "acked_per_s", "round_trips", "pipelined"):
            values = [r[key] for r in ok if key in r]
            if values:
                summary[key] = statistics.median(values)
        for key, base in (("p50_ratio_vs_echo", ECHO), ("p50_ratio_vs_message", BARE_MESSAGE)):
            ratios = [r["rtt_us_p50"] / b["rtt_us_p50"]
                      for r, b in zip(rs, runs.get(base, []), strict=False)
                      if r["status"] == "ok" and b["status"] == "ok"]
            if ratios:
                summary[key] = statistics.median(ratios)
        out[kind] = summary
    return out


async def _send_once(server: ServerProc, kind: str, sequential: int, pipelined: int,
                     timeout: float) -> dict[str, Any]:
    child = await Child.start(
        "send.py", "--kind", kind, "--api", server.api_url, "--token", server.bot_token,
        "--channel", str(server.info["general_channel_id"]), "--sequential",
        str(sequential), "--pipelined", str(pipelined), name=f"send {kind}",
    )
    try:
        res = await child.next_event(timeout)
        if res["event"] == "na":
            return {"status": "na", "reason": res.get("reason", "")}
        if res["event"] != "result":
            return {"status": "error", "error": res.get("message", str(res))}
        rtts = [float(x) for x in res["rtts"]]
        out: dict[str, Any] = {
            "status": "ok",
            "round_trips": len(rtts),
            "rtt_us_p50": _percentile(rtts, 50) * 1e6,
            "rtt_us_p99": _percentile(rtts, 99) * 1e6,
        }
        if res.get("pipelined_seconds"):
            out["pipelined"] = res["pipelined"]
            out["acked_per_s"] = res["pipelined"] / res["pipelined_seconds"]
        return out
    except ChildError as exc:
        return {"status": "error", "error": str(exc)}
    finally:
        await child.finish(timeout=10.0)
