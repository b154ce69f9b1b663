"""``python -m slack_rtm`` runs the ``slack-rtm`` command."""

from slack_rtm.cli import main

raise SystemExit(main())
