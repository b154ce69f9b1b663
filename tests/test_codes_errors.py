import slack_rtm
from slack_rtm import codes, errors


def test_fatal_and_transient_are_disjoint_and_documented() -> None:
    assert not codes.FATAL_CODES & codes.TRANSIENT_CODES
    assert codes.FATAL_CODES <= codes.ALL_CODES
    assert codes.TRANSIENT_CODES <= codes.ALL_CODES
    assert codes.is_fatal(codes.INVALID_AUTH)
    assert not codes.is_fatal("some_future_code")
    assert codes.is_transient(codes.MIGRATION_IN_PROGRESS)
    assert not codes.is_transient(codes.INVALID_ARGUMENTS)


def test_every_exception_has_one_root() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.SlackRtmError), name


def test_public_all_is_importable_and_sorted() -> None:
    for name in slack_rtm.__all__:
        assert hasattr(slack_rtm, name), name
    assert len(set(slack_rtm.__all__)) == len(slack_rtm.__all__)


def test_rate_limited_error_shape() -> None:
    exc = errors.RateLimitedError(
        "rate limited", status_code=429, headers={}, body="{}", result=None, retry_after=3.0
    )
    assert isinstance(exc, errors.ApiError)
    assert exc.retry_after == 3.0
    assert exc.error == "ratelimited"
    assert exc.transient
    assert not exc.fatal
    assert "429" in repr(exc)


def test_send_error_message() -> None:
    e = errors.SendError(2, "message text is missing", reply_to=4)
    assert "code 2" in str(e)
    assert e.reply_to == 4
    assert "refused" in str(errors.SendError(None, "x"))


def test_exports_are_lazy_and_unknown_names_fail() -> None:
    import pytest

    import slack_rtm.emulator

    assert "RtmClient" in dir(slack_rtm)
    assert "EmulatorThread" in dir(slack_rtm.emulator)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        slack_rtm.Nope  # noqa: B018
    with pytest.raises(AttributeError):
        slack_rtm.emulator.Nope  # noqa: B018
