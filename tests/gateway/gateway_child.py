"""A gateway process for the cluster tests: ``python gateway_child.py '<json settings>'``.

The JSON object holds :class:`~slack_rtm.gateway.config.GatewayConfig`'s fields (``key`` in
base64, ``lease`` as an object of :class:`~slack_rtm.gateway.contract.LeaseTimings`' fields);
the process runs :func:`slack_rtm.gateway.process.serve` and exits with its code. Logs go to
stderr (INFO).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import sys

from slack_rtm.gateway.config import GatewayConfig
from slack_rtm.gateway.contract import LeaseTimings
from slack_rtm.gateway.process import serve


def main(argv: list[str]) -> int:
    settings = json.loads(argv[1])
    settings["key"] = base64.b64decode(settings["key"])
    if "lease" in settings:
        settings["lease"] = LeaseTimings(**settings["lease"])
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    return asyncio.run(serve(GatewayConfig(**settings)))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
