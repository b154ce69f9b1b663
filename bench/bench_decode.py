"""Micro-benchmark of the frame decoder: per-event cost of ``decode_frame`` against the yardsticks.

Run: ``.venv/bin/python bench/bench_decode.py`` (``--quick`` for a smoke run, ``--json PATH`` to
also write the figures). In one process, interleaved round by round so that ratios hold on a
noisy machine, it times:

1. on ~300-byte ``message`` frames and on a mixed stream (messages, typing, presence, reactions,
   replies, pongs, unknown types):
   - **bare typed**: ``msgspec.json.Decoder(BareMessage)`` — one flat struct, default options:
     the yardstick the decoder is measured against (target: ``decode_frame`` >= 0.8x its speed);
   - **bare typed gc=False**: the same with ``gc=False`` structs (what ``decode_frame`` uses);
   - **decode_frame**: the SDK's decoder (tagged union, frame kept for a lazy ``.raw``);
   - **json.loads**: the stdlib, to dicts; **orjson.loads** when installed.
2. the ways of keeping the frame for a lazy ``.raw`` that were considered, on messages:
   a private ``__slots__`` slot (chosen; also shown without ``decode_frame``'s argument check, to
   compare like with like), a declared ``_frame`` struct field (as fast, but the frame would be
   encoded, compared and shown in reprs), ``dict=True`` structs, a wrapper object, and decoding
   ``.raw`` eagerly (what laziness saves).

Speed ratios are ``yardstick ns / candidate ns``: above 1.0 is faster than the yardstick.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Union

import msgspec
from msgspec.structs import force_setattr

from slack_rtm.session.events import WIRE_EVENTS, Message, decode_frame

try:
    import orjson
except ImportError:  # a bench-only extra
    orjson = None

# --- frames -------------------------------------------------------------------------------------

_WORDS = "deploy build the review merge ship it please ticket logs latency broken fixed green tomorrow standup coffee release notes check who owns this alert again thanks".split()  # noqa: E501, SIM905


def message_frames(n: int) -> list[bytes]:
    """``n`` distinct realistic ``message`` frames (~300 bytes), like the emulator's firehose."""
    frames = []
    for i in range(n):
        words = [_WORDS[(i * 7 + k * 3) % len(_WORDS)] for k in range(4 + i % 8)]
        text = (" ".join(words).capitalize() + "!").encode()
        sec, us = divmod(1_700_000_000_000_000 + i, 1_000_000)
        frames.append(
            b'{"type":"message","channel":"C%08d","user":"U%08d","text":"%s",'
            b'"ts":"%d.%06d","event_ts":"%d.%06d","team":"T024BE7LD",'
            b'"client_msg_id":"%08x-0000-4000-8000-%012x","suppress_notification":false,'
            b'"source_team":"T024BE7LD","user_team":"T024BE7LD"}'
            % (i % 50, i % 200, text, sec, us, sec, us, i, i)
        )
    return frames


_OTHERS = [
    b'{"type":"user_typing","channel":"C0000000001","user":"U0000000002"}',
    b'{"type":"presence_change","user":"U0000000002","presence":"away"}',
    b'{"type":"presence_change","users":["U0000000002","U0000000003"],"presence":"active"}',
    b'{"type":"reaction_added","user":"U407ABLLW","reaction":"grinning","item_user":"U407ABLLW",'
    b'"item":{"type":"message","channel":"D3ZEQULHZ","ts":"1485975421.000002"},'
    b'"event_ts":"1485975426.875724","ts":"1485975426.000003"}',
    b'{"ok":true,"reply_to":17,"ts":"1355517523.000005","text":"Hello world"}',
    b'{"type":"pong","reply_to":18,"time":1403299273342}',
    b'{"type":"member_joined_channel","user":"W123ABC456","channel":"C123ABC456",'
    b'"channel_type":"C","team":"T123ABC456","inviter":"U123456789"}',
    b'{"type":"dnd_updated_user","user":"U1","dnd_status":{"dnd_enabled":false}}',
    b'{"type":"desktop_notification","title":"t","subtitle":"s","msg":"1.2","content":"hi"}',
]


def mixed_frames(n: int) -> list[bytes]:
    """A stream of ``n`` frames: 3 in 4 are messages, the rest the other kinds in turn."""
    messages = message_frames(n)
    return [messages[i] if i % 4 else _OTHERS[(i // 4) % len(_OTHERS)] for i in range(n)]


# --- candidates ---------------------------------------------------------------------------------


def _bare_message(gc_enabled: bool) -> type[msgspec.Struct]:
    # Message's fields, flat, with ``type`` as a plain field: one typed pass, nothing else.
    fields: list[tuple[str, Any, Any]] = [("type", str | None, None)]
    fields += [(f.name, f.type, f.default) for f in msgspec.structs.fields(Message)]
    options: dict[str, Any] = {"frozen": True, "kw_only": True}
    if not gc_enabled:
        options["gc"] = False
    return msgspec.defstruct("BareMessage", fields, **options)


def _variant_union(base: type[msgspec.Struct], **options: Any) -> Any:
    # The same tagged union as decode_frame's, rebuilt over another base class.
    members = []
    for cls in WIRE_EVENTS:
        fields = [(f.name, f.type, f.default) for f in msgspec.structs.fields(cls)]
        tag = vars(cls)["type"]
        members.append(
            msgspec.defstruct(
                cls.__name__, fields, bases=(base,), tag_field="type", tag=tag, **options
            )
        )
    return Union.__getitem__(tuple(members))


class _FieldBase(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    _frame: Any = None


class _DictBase(msgspec.Struct, frozen=True, kw_only=True, dict=True):
    pass


class _PlainBase(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    pass


class _Framed:
    # The wrapper option: the typed struct and the frame side by side.
    __slots__ = ("event", "frame")

    def __init__(self, event: Any, frame: bytes) -> None:
        self.event = event
        self.frame = frame


def _keeping(decode: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def run(frame: bytes) -> Any:
        event = decode(frame)
        force_setattr(event, "_frame", frame)
        return event

    return run


def candidates() -> dict[str, Callable[[bytes], Any]]:
    """name -> decode function for the main table."""
    out: dict[str, Callable[[bytes], Any]] = {
        "bare typed (yardstick)": msgspec.json.Decoder(_bare_message(True)).decode,
        "bare typed gc=False": msgspec.json.Decoder(_bare_message(False)).decode,
        "decode_frame": decode_frame,
        "json.loads": json.loads,
    }
    if orjson is not None:
        out["orjson.loads"] = orjson.loads
    return out


def raw_options() -> dict[str, Callable[[bytes], Any]]:
    """name -> decode function for the ways of keeping the frame for ``.raw``."""
    plain = msgspec.json.Decoder(_variant_union(_PlainBase)).decode
    generic = msgspec.json.Decoder().decode
    union_only = msgspec.json.Decoder(Union.__getitem__(WIRE_EVENTS)).decode

    def wrapper(frame: bytes) -> Any:
        return _Framed(plain(frame), frame)

    def eager(frame: bytes) -> Any:
        event = plain(frame)
        return event, generic(frame)

    return {
        "bare typed (yardstick)": msgspec.json.Decoder(_bare_message(True)).decode,
        "union only, frame dropped": union_only,
        "__slots__ slot (chosen)": decode_frame,
        "__slots__ slot, no arg check": _keeping(union_only),
        "declared _frame field": _keeping(msgspec.json.Decoder(_variant_union(_FieldBase)).decode),
        "dict=True struct": _keeping(msgspec.json.Decoder(_variant_union(_DictBase)).decode),
        "wrapper object": wrapper,
        "eager .raw (2 passes)": eager,
    }


# --- timing -------------------------------------------------------------------------------------


def _loop(decode: Callable[[bytes], Any], frames: Sequence[bytes]) -> float:
    start = time.perf_counter()
    for frame in frames:
        decode(frame)
    return time.perf_counter() - start


def measure(
    funcs: dict[str, Callable[[bytes], Any]], frames: Sequence[bytes], rounds: int
) -> dict[str, list[float]]:
    """ns/event of each function, one figure per round; functions interleaved in every round."""
    for decode in funcs.values():  # warm-up, and a check that every candidate works
        for frame in frames[:100]:
            decode(frame)
    per_round: dict[str, list[float]] = {name: [] for name in funcs}
    names = list(funcs)
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]  # rotate to spread drift
        for name in order:
            per_round[name].append(_loop(funcs[name], frames) / len(frames) * 1e9)
    return per_round


def table(title: str, results: dict[str, list[float]], yardstick: str) -> list[dict[str, Any]]:
    """Print one table; returns its rows.

    Two ratios, both ``yardstick ns / candidate ns``: from the best rounds (robust to other
    processes adding time), and the median of the per-round ratios (candidates run back to back
    within a round, so a slow phase of the machine hits both sides of each pair).
    """
    base = results[yardstick]
    print(f"\n{title}")
    print(
        f"{'decoder':<28} {'ns/event':>9} {'best':>7} {'events/s (best)':>16} "
        f"{'speed vs bare: best':>20} {'paired':>7}"
    )
    rows = []
    for name, figures in results.items():
        best = min(figures)
        paired = statistics.median(b / f for b, f in zip(base, figures, strict=True))
        row = {
            "decoder": name,
            "ns_per_event_median": round(statistics.median(figures), 1),
            "ns_per_event_best": round(best, 1),
            "events_per_s_best": round(1e9 / best),
            "speed_vs_bare_best": round(min(base) / best, 3),
            "speed_vs_bare_paired": round(paired, 3),
        }
        rows.append(row)
        print(
            f"{name:<28} {statistics.median(figures):>9.0f} {best:>7.0f} {1e9 / best:>16,.0f} "
            f"{min(base) / best:>19.2f}x {paired:>6.2f}x"
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="frames per round")
    parser.add_argument("--rounds", type=int, default=25, help="rounds")
    parser.add_argument("--quick", action="store_true", help="a few hundred frames, 3 rounds")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.rounds = 500, 3
    if args.events < 100 or args.rounds < 1:
        parser.error("--events must be >= 100 and --rounds >= 1")

    messages = message_frames(args.events)
    mixed = mixed_frames(args.events)
    size = statistics.mean(len(f) for f in messages)
    if not isinstance(decode_frame(messages[0]), Message) or any(
        decode_frame(f).type == "malformed" for f in mixed
    ):
        raise SystemExit("bench_decode: a benchmark frame did not decode")
    print(
        f"bench_decode: Python {sys.version.split()[0]}, msgspec {msgspec.__version__}, "
        f"{args.events} frames x {args.rounds} rounds; message frames {size:.0f} bytes, "
        f"{len(WIRE_EVENTS)} typed event types; GC enabled as in production"
    )
    gc.collect()
    report: dict[str, Any] = {}
    funcs = candidates()
    report["messages"] = table(
        "message frames", measure(funcs, messages, args.rounds), "bare typed (yardstick)"
    )
    report["mixed"] = table(
        "mixed stream (3/4 messages)", measure(funcs, mixed, args.rounds), "bare typed (yardstick)"
    )
    report["raw_options"] = table(
        "keeping the frame for a lazy .raw (message frames)",
        measure(raw_options(), messages, args.rounds),
        "bare typed (yardstick)",
    )
    frame_ratio = next(r for r in report["messages"] if r["decoder"] == "decode_frame")
    print(
        f"\ndecode_frame on messages: {frame_ratio['speed_vs_bare_best']:.2f}x (best rounds), "
        f"{frame_ratio['speed_vs_bare_paired']:.2f}x (paired) the bare typed decode "
        "(target >= 0.80x)"
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(report, out, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
