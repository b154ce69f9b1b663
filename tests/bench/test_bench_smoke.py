"""The benchmark suite still runs: ``bench/run.py --quick`` in a subprocess, every scenario once.

This checks that each scenario RUNS and produces numbers, not how fast anything is. A scenario
may report "n/a" only for a reason this test can confirm: a package that is really not
installed here, or client code that really does not exist yet.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "bench" / "run.py"


def _built(module: str, name: str) -> bool:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return False
    return hasattr(mod, name)


def _na_is_true(reason: str) -> bool:
    """Whether an "n/a" reason holds in this environment (so it is not hiding a failure)."""
    if reason.startswith("not installed: "):
        return importlib.util.find_spec(reason.removeprefix("not installed: ")) is None
    if reason == "not built: slack_rtm.aio.RtmClient":
        return not any(_built(m, "RtmClient")
                       for m in ("slack_rtm", "slack_rtm.aio", "slack_rtm.aio.client"))
    if reason == "not built: slack_rtm.sync.RtmClient":
        return not _built("slack_rtm.sync", "RtmClient")
    if reason == "not built: slack_rtm.SocketModeClient":
        return not any(_built(m, "SocketModeClient") for m in ("slack_rtm", "slack_rtm.aio"))
    return False


def _check(name: str, r: dict[str, Any], numbers: tuple[str, ...]) -> None:
    status = r.get("status")
    if status == "na":
        assert _na_is_true(r.get("reason", "")), f"{name}: n/a for a false reason: {r}"
        return
    assert status == "ok", f"{name}: {r}"
    for key in numbers:
        assert isinstance(r.get(key), (int, float)), f"{name}: {key} missing in {r}"
        assert r[key] >= 0, f"{name}: {key} negative in {r}"


@pytest.mark.timeout(120)
def test_quick_run_produces_numbers_for_every_scenario(tmp_path: Path) -> None:
    out = tmp_path / "smoke.json"
    proc = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=110,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert "INGEST" in proc.stdout
    assert "TARGETS" in proc.stdout

    summary = result["ingest"]["summary"]
    assert summary["picows_msgspec"]["status"] == "ok"
    for client, s in summary.items():
        if client == "slack_sdk_v2" and s.get("status") == "crashed":
            assert s["received_before_crash"] >= 0
            continue
        _check(f"ingest {client}", s, ("events_per_s", "cpu_us_per_event"))
        if s["status"] == "ok":
            assert s["events_per_s"] > 0

    sm = result["socket_mode_ingest"]["summary"]
    assert set(sm) == {"bare", "ours", "slack_sdk"}
    assert sm["bare"]["status"] == "ok"
    for client, s in sm.items():
        _check(f"socket mode ingest {client}", s, ("events_per_s", "cpu_us_per_event"))
    for r in result["socket_mode_ingest"]["runs"]["bare"]:
        assert r["acked"] == r["n"]  # every envelope acked, none twice
    assert "SOCKET MODE INGEST" in proc.stdout
    assert any(t["name"].startswith("Socket Mode ours") for t in result["targets"])

    kinds = {(d["kind"], d["sessions"]) for d in result["density"]}
    assert {"ours", "picows"} <= {k for k, _ in kinds}
    for d in result["density"]:
        _check(f"density {d['kind']}", d, ("rss_per_session", "threads_after",
                                           "idle_cpu_percent"))
        if d["status"] == "ok":
            assert d["server_connections"] >= d["sessions"]

    rec = result["reconnect"]
    _check("reconnect", rec, ())
    if rec["status"] == "ok":
        for how in ("drop", "goodbye"):
            assert rec[how]["trials"] >= 1
            assert rec[how]["to_hello_ms_median"] > 0
            assert rec[how]["events_sent"] > 0

    for kind, r in result["send"].items():
        _check(f"send {kind}", r, ("rtt_us_p50", "rtt_us_p99", "acked_per_s"))
    assert result["send"]["picows_ping"]["status"] == "ok"

    broker = result["gateway_broker"]
    _check("gateway_broker firehose", broker["firehose"],
           ("ours_events_per_s", "bare_events_per_s", "ratio"))
    assert broker["firehose"]["failed"] == 0
    _check("gateway_broker latency", broker["latency"], ("added_ms_p50", "added_ms_p99"))
    _check("gateway_broker send", broker["send"],
           ("broker_rtt_us_p50", "direct_rtt_us_p50", "ratio"))
    assert "GATEWAY BROKER" in proc.stdout

    failover = result["gateway_failover"]
    _check("gateway_failover failover", failover["failover"], ("victim_sessions",))
    assert failover["failover"]["held_again_s"]["count"] == failover["failover"]["victim_sessions"]
    assert failover["failover"]["messages"]["lost"] == 0
    assert failover["failover"]["victim_overlaps"] == 0
    _check("gateway_failover drain", failover["drain"], ("drain_s", "sessions"))
    assert failover["drain"]["exit_code"] == 0
    assert failover["drain"]["messages"]["lost"] == 0
    assert failover["drain"]["messages"]["duplicated"] == 0
    assert "GATEWAY FAILOVER" in proc.stdout

    for t in result["targets"]:
        assert t["verdict"] in ("PASS", "MISS", "n/a")
    if summary.get("slack_sdk_v2_raised", {}).get("status") == "ok":
        # The 15x lines show what the yardstick itself reached against rtm_v2 in the run.
        v2_lines = [t["measured"] for t in result["targets"] if "rtm_v2" in t["name"]]
        assert v2_lines
        assert all(re.search(r"bare picows\+msgspec \d+\.\dx", m) for m in v2_lines), v2_lines


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("script", "rows"), [
    ("bench_decode.py", ("ns/event",)),
    ("bench_delivery.py", ("ns/event", "async for", "handler", "catch-up tracking adds")),
    ("bench_send_pair.py", ("bare ping", "bare message", "ours message", "ours ping")),
    ("bench_resume_catchup.py", ("median to hello", "rtm.connect calls during",
                                 "lost 0, duplicates 0")),
])
def test_micro_benchmarks_run(script: str, rows: tuple[str, ...]) -> None:
    """The micro-benchmarks reach into the decoder, the delivery loops and the send path: they
    must keep up."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--quick"],
        capture_output=True, text=True, cwd=ROOT / "bench", timeout=50,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for row in rows:
        assert row in proc.stdout, proc.stdout
