"""The real-time session without I/O: typed events, the session core, its states and limits.

- :mod:`slack_rtm.session.events` — ``decode_frame`` and the typed events.
- :mod:`slack_rtm.session.core` — :class:`~slack_rtm.session.core.SessionCore`, the I/O-free
  session logic driven by :mod:`slack_rtm.aio` (and the sync twin).
- :mod:`slack_rtm.session.sends` — frame ids, queued and pending sends, reply deadlines.
- :mod:`slack_rtm.session.config` — :class:`~slack_rtm.session.config.SessionConfig`.
- :mod:`slack_rtm.session.actions` — what the core asks its driver to do.
- :mod:`slack_rtm.session.state` — the states and their legal transitions.
- :mod:`slack_rtm.session.limits` — frame size, text length and write-rate limits.
"""
