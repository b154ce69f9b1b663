"""Every emulator control is reachable everywhere (HTTP, thread, .aio) and documented."""

from __future__ import annotations

import inspect
import re

import slack_rtm.emulator as package
from slack_rtm.emulator import AsyncControls, Emulator, EmulatorThread, control, pytest_plugin

_NOT_CONTROLS = {
    "check_connect_rate", "close_connection", "deliver_to_channel", "issue_url",
    "make_message_event", "next_ts", "open_connection", "record_connect_call", "record_frame",
    "redeem_ticket", "send_presence_state", "take_forced_connect_failure", "take_write",
    "start", "stop", "start_in_thread", "state",
    "browser_state", "browser_user", "connection_ready", "forget_connection", "record_message",
    "reconnect_held", "record_upgrade", "redeem_resume", "resume_state", "session_for_token",
    "take_refusal", "upgrade_held",
    "close_socket_mode_connection", "hello_socket_mode", "issue_socket_mode_url",
    "open_socket_mode_connection", "post_allowed", "record_socket_mode_ack",
    "redeem_socket_mode_ticket", "socket_mode_event", "socket_mode_state", "firehose_ack",
}  # fmt: skip


def _controls() -> set[str]:
    return {
        name
        for name, value in inspect.getmembers(Emulator)
        if not name.startswith("_") and callable(value) and name not in _NOT_CONTROLS
    }


def test_every_control_has_a_route_and_twins() -> None:
    controls = _controls()
    assert {"expire_next_urls", "set_pong", "firehose", "clear_received"} <= controls
    assert controls <= control.ACTIONS
    assert set(control.ALIASES.values()) <= controls
    for name in controls:
        assert callable(getattr(EmulatorThread, name)), name
        assert inspect.iscoroutinefunction(getattr(AsyncControls, name)), name


def _names(doc: str | None) -> set[str]:
    assert doc
    return {m.group(1) for m in re.finditer(r"``([a-z_]+)(?:\(|``)", doc)}


def test_package_docstring_lists_every_control() -> None:
    doc = package.__doc__
    assert doc
    named = _names(doc[doc.index("Controls of") : doc.index("Modules:")])
    assert _controls() <= named
    emu = Emulator()  # not started: attributes set in __init__ count too
    for name in named - {"rtm", "auth"}:  # every name given is a real Emulator attribute
        assert hasattr(emu, name), name


def test_plugin_docstring_lists_every_control_of_the_fixture() -> None:
    named = _names(pytest_plugin.__doc__)
    assert _controls() <= named
    for name in named - {"pytest11", "slack_emulator", "write_rate"}:
        assert hasattr(EmulatorThread, name), name


def test_control_docstring_lists_every_route() -> None:
    doc = control.__doc__
    assert doc
    routes = set(re.findall(r"/_emulator/([a-z_]+)", doc))
    aliases = set(re.findall(r"\(([a-z_]+)\)", doc))
    assert routes | aliases >= control.ACTIONS
