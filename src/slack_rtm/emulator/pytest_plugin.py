"""pytest plugin (entry point ``pytest11``): the ``slack_emulator`` fixture.

Installing slack-rtm registers it; any test can then ask for a running emulator::

    def test_bot_replies(slack_emulator):
        url = slack_emulator.api_url          # point your client here
        token = slack_emulator.bot_token
        ...
        frame = slack_emulator.wait_for_frame(lambda f: f.data and f.data.get("type") == "message")

The fixture yields a started :class:`~slack_rtm.emulator.EmulatorThread` (fresh for each test,
stopped afterwards) whose controls are blocking calls, so it works in sync tests and in async
tests alike:

- read: ``api_url``, ``base_url``, ``control_url``, ``port``, ``bot_token``, ``bot_user_id``,
  ``user_tokens``, ``team_id``, ``general_channel_id``, ``workspace``, ``received``,
  ``connection_count``, ``connect_calls``, ``connect_log``, ``issued_urls``, ``upgrades``,
  ``resumes``, ``app_token``, ``app_id``, ``socket_mode_connections``,
  ``socket_mode_connection_ids``, ``socket_mode_envelopes``, ``socket_mode_acks``,
  ``socket_mode_unacked``, ``token_overlaps``,
  ``live_sockets_by_token()``, ``state()``;
- act: ``post_message``, ``inject_event``, ``set_presence``, ``send_goodbye``,
  ``start_migration``, ``drop_connections``, ``set_pong``, ``fail_next_connects``,
  ``rate_limit_next_connects``, ``expire_next_urls``, ``set_connect_rate_limit``,
  ``set_token_error``, ``clear_received``, ``prepare_firehose``, ``firehose``,
  ``firehose_payloads``, ``browser_session``, ``refuse_next_sockets``, ``set_reconnect_urls``,
  ``expire_reconnect_urls``, ``post_messages``, ``set_history_rate_limit``,
  ``rate_limit_next_history_calls``, ``hold_reconnects``, ``drop_and_hold``,
  ``send_slash_command``, ``send_interaction``, ``socket_mode_disconnect``,
  ``enable_socket_mode``, ``set_post_rate_limit``, ``prepare_socket_mode_firehose``,
  ``socket_mode_firehose``;
- wait: ``wait_for_frame``, ``wait_connections``, ``wait_socket_mode_connections``,
  ``wait_socket_mode_acks``.

Async tests whose client shares the test's event loop should await the ``.aio`` twins (same
names, every control above) when they wait (``await slack_emulator.aio.wait_for_frame(...)``),
so that the loop keeps running meanwhile. The emulator itself is ``slack_emulator.emulator``.
To pass options (e.g. ``write_rate=None``), mark the test::

    @pytest.mark.slack_emulator(write_rate=None, connect_rate_limit=2)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from slack_rtm.emulator.thread import EmulatorThread

__all__ = ["pytest_configure", "slack_emulator"]


def pytest_configure(config: pytest.Config) -> None:
    """Declare the ``slack_emulator`` marker (its keyword arguments are Emulator options)."""
    config.addinivalue_line(
        "markers", "slack_emulator(**options): options for the slack_emulator fixture's Emulator"
    )


@pytest.fixture
def slack_emulator(request: pytest.FixtureRequest) -> Iterator[EmulatorThread]:
    """A running Slack RTM emulator on 127.0.0.1 (a free port), fresh for each test."""
    # Imported here, not at module level: pytest loads this plugin before coverage starts.
    from slack_rtm.emulator.thread import EmulatorThread

    marker = request.node.get_closest_marker("slack_emulator")
    options: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    emu = EmulatorThread(**options).start()
    try:
        yield emu
    finally:
        emu.stop()
