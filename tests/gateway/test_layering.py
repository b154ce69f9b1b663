"""STYLE §14: the gateway stands on the library, not inside it. Importing and using the client
(asyncio, sync, Socket Mode, the emulator, the CLI's other commands) never imports the gateway,
nats or prometheus_client, so users who only want the client need neither."""

from __future__ import annotations

import subprocess
import sys

_PROBE = r"""
import sys
import slack_rtm
from slack_rtm import RtmClient, SocketModeClient, WebApi, AsyncWebApi  # noqa: F401
from slack_rtm.sync import RtmClient as SyncRtm, SocketModeClient as SyncSm  # noqa: F401
import slack_rtm.cursors, slack_rtm.emulator.server, slack_rtm.cli  # noqa: F401, E401
from slack_rtm.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
bad = sorted(m for m in sys.modules
             if m.split(".")[0] in ("nats", "prometheus_client", "cryptography")
             or m.startswith("slack_rtm.gateway"))
print("BAD:" + ",".join(bad))
"""


def test_the_client_never_imports_the_gateway_or_its_dependencies() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip().splitlines()[-1] == "BAD:", out.stdout[-300:]


def test_the_probe_would_see_a_gateway_import() -> None:
    probe = _PROBE.replace("import sys\n", "import sys\nimport slack_rtm.gateway.process\n", 1)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60, check=True)
    found = out.stdout.strip().splitlines()[-1].removeprefix("BAD:").split(",")
    assert "nats" in found
    assert "slack_rtm.gateway.process" in found
