"""``slack-rtm gateway``: RTM sessions held by a cluster of processes on NATS JetStream.

A room above :mod:`slack_rtm.aio` (STYLE §14): it uses the public :class:`~slack_rtm.RtmClient`
the way a user would, and the client never imports it. Needs the ``gateway`` extra
(``pip install 'slack-rtm[gateway]'``: nats-py, prometheus-client, cryptography).

- :mod:`.contract` — the wire contract (subjects, headers, payloads, KV records, lease timings):
  the one home of what other programs code against; ``docs/gateway.md`` mirrors it.
- :mod:`.config` — :class:`~slack_rtm.gateway.config.GatewayConfig`, one process's settings.
- :mod:`.natsd` — run a local ``nats-server`` (tests, benchmarks, demos).
- :mod:`.secrets` — :class:`~slack_rtm.gateway.secrets.GatewayKey`, AES-GCM sealing of the
  tokens and cookies stored in KV.
- :mod:`.kv` — :func:`~slack_rtm.gateway.kv.connect` (NATS, credentials kept out of logs) and
  :func:`~slack_rtm.gateway.kv.open_buckets` (the four KV buckets, created when missing).
- :mod:`.registry` — :class:`~slack_rtm.gateway.registry.Registry`, the registered logins.
- :mod:`.cursor_store` — :class:`~slack_rtm.gateway.cursor_store.KvCursorStore`, the cursor
  store's NATS KV home.
- :mod:`.publisher` — :class:`~slack_rtm.gateway.publisher.EventPublisher`: events into
  JetStream, pipelined, every acknowledgement checked.
- :mod:`.bridge` — :class:`~slack_rtm.gateway.bridge.SessionBridge`: one held session, its
  events to the publisher, its sends served by NATS request-reply.
- :mod:`.client` — :class:`~slack_rtm.gateway.client.GatewayClient`: the consumer API (events
  from the stream, sends through the gateway).
- :mod:`.placement` — :func:`~slack_rtm.gateway.placement.place`: rendezvous hashing with
  capacity (pure).
- :mod:`.leases` — the lease protocol over KV: process leases, assignments, fencing.
- :mod:`.process` — :class:`~slack_rtm.gateway.process.Gateway` and
  :func:`~slack_rtm.gateway.process.serve`: one gateway process.
"""

from __future__ import annotations

from slack_rtm.lazy import lazy_exports

__all__ = [
    "EventPublisher",
    "GatewayClient",
    "GatewayEvent",
    "NoHolderError",
    "SessionBridge",
    "SessionStartError",
]

_HOMES = {
    "EventPublisher": ".publisher",
    "GatewayClient": ".client",
    "GatewayEvent": ".client",
    "NoHolderError": ".client",
    "SessionBridge": ".bridge",
    "SessionStartError": ".bridge",
}

__getattr__, __dir__ = lazy_exports(__name__, _HOMES, __all__)
