import subprocess
import sys

from slack_rtm.cli import main


def test_no_command_prints_help_and_fails(capsys: object) -> None:
    assert main([]) == 2


def test_version_via_python_m() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "slack_rtm", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert out.stdout.startswith("slack-rtm ")


def test_every_command_has_help_with_examples() -> None:
    from slack_rtm.cli import _COMMANDS

    for command in ("", *_COMMANDS):
        args = [sys.executable, "-m", "slack_rtm", *([command] if command else []), "--help"]
        out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=30)
        assert "examples:" in out.stdout, command
