# ruff: noqa: S105 -- error code names such as TOKEN_REVOKED are not passwords
"""Slack error codes for ``rtm.connect`` (PROTOCOL.md §1), the history methods (§8), and which
of them are worth retrying.

The set is open: Slack adds codes, and an unknown code is still a valid error. These constants
exist so that user code can compare against a name rather than a string it might misspell.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ACCESSLIMITED",
    "ACCESS_DENIED",
    "ACCOUNT_INACTIVE",
    "ALL_CODES",
    "CHANNEL_NOT_FOUND",
    "DEPRECATED_ENDPOINT",
    "EKM_ACCESS_DENIED",
    "ENTERPRISE_IS_RESTRICTED",
    "FATAL_CODES",
    "FATAL_ERROR",
    "INTERNAL_ERROR",
    "INVALID_ARGUMENTS",
    "INVALID_ARG_NAME",
    "INVALID_ARRAY_ARG",
    "INVALID_AUTH",
    "INVALID_CHARSET",
    "INVALID_CURSOR",
    "INVALID_FORM_DATA",
    "INVALID_JSON",
    "INVALID_POST_TYPE",
    "IS_BOT",
    "JSON_NOT_OBJECT",
    "METHOD_DEPRECATED",
    "MIGRATION_IN_PROGRESS",
    "MISSING_POST_TYPE",
    "MISSING_SCOPE",
    "NOT_ALLOWED_TOKEN_TYPE",
    "NOT_AUTHED",
    "NOT_IN_CHANNEL",
    "NO_PERMISSION",
    "ORG_LOGIN_REQUIRED",
    "RATELIMITED",
    "REQUEST_TIMEOUT",
    "SERVICE_UNAVAILABLE",
    "TEAM_ADDED_TO_ORG",
    "TEAM_DISABLED",
    "THREAD_NOT_FOUND",
    "TOKEN_EXPIRED",
    "TOKEN_REVOKED",
    "TRANSIENT_CODES",
    "TWO_FACTOR_SETUP_REQUIRED",
    "UNKNOWN_METHOD",
    "UPGRADE_REQUIRED",
    "USER_REMOVED_FROM_TEAM",
    "is_fatal",
    "is_transient",
]

# The OpenAPI enum of the rtm.connect error schema.
NOT_AUTHED: Final = "not_authed"
INVALID_AUTH: Final = "invalid_auth"
ACCOUNT_INACTIVE: Final = "account_inactive"
TOKEN_REVOKED: Final = "token_revoked"
NO_PERMISSION: Final = "no_permission"
INVALID_ARG_NAME: Final = "invalid_arg_name"
INVALID_ARRAY_ARG: Final = "invalid_array_arg"
INVALID_CHARSET: Final = "invalid_charset"
INVALID_FORM_DATA: Final = "invalid_form_data"
INVALID_POST_TYPE: Final = "invalid_post_type"
MISSING_POST_TYPE: Final = "missing_post_type"
TEAM_ADDED_TO_ORG: Final = "team_added_to_org"
INVALID_JSON: Final = "invalid_json"
JSON_NOT_OBJECT: Final = "json_not_object"
REQUEST_TIMEOUT: Final = "request_timeout"
UPGRADE_REQUIRED: Final = "upgrade_required"
FATAL_ERROR: Final = "fatal_error"
# Documented elsewhere for rtm.connect and the Web API at large.
ACCESS_DENIED: Final = "access_denied"
ACCESSLIMITED: Final = "accesslimited"
DEPRECATED_ENDPOINT: Final = "deprecated_endpoint"
EKM_ACCESS_DENIED: Final = "ekm_access_denied"
ENTERPRISE_IS_RESTRICTED: Final = "enterprise_is_restricted"
IS_BOT: Final = "is_bot"
METHOD_DEPRECATED: Final = "method_deprecated"
MIGRATION_IN_PROGRESS: Final = "migration_in_progress"
MISSING_SCOPE: Final = "missing_scope"
NOT_ALLOWED_TOKEN_TYPE: Final = "not_allowed_token_type"
ORG_LOGIN_REQUIRED: Final = "org_login_required"
RATELIMITED: Final = "ratelimited"
SERVICE_UNAVAILABLE: Final = "service_unavailable"
TOKEN_EXPIRED: Final = "token_expired"
TWO_FACTOR_SETUP_REQUIRED: Final = "two_factor_setup_required"
UNKNOWN_METHOD: Final = "unknown_method"
INTERNAL_ERROR: Final = "internal_error"
INVALID_ARGUMENTS: Final = "invalid_arguments"
# Account-state codes that Slack's clients treat as fatal.
USER_REMOVED_FROM_TEAM: Final = "user_removed_from_team"
TEAM_DISABLED: Final = "team_disabled"
# The history methods (conversations.history / replies / info, users.conversations): request
# errors, neither fatal nor transient (the token is fine; the arguments are not).
CHANNEL_NOT_FOUND: Final = "channel_not_found"
NOT_IN_CHANNEL: Final = "not_in_channel"
INVALID_CURSOR: Final = "invalid_cursor"
THREAD_NOT_FOUND: Final = "thread_not_found"

ALL_CODES: Final[frozenset[str]] = frozenset({
    NOT_AUTHED,
    INVALID_AUTH,
    ACCOUNT_INACTIVE,
    TOKEN_REVOKED,
    NO_PERMISSION,
    INVALID_ARG_NAME,
    INVALID_ARRAY_ARG,
    INVALID_CHARSET,
    INVALID_FORM_DATA,
    INVALID_POST_TYPE,
    MISSING_POST_TYPE,
    TEAM_ADDED_TO_ORG,
    INVALID_JSON,
    JSON_NOT_OBJECT,
    REQUEST_TIMEOUT,
    UPGRADE_REQUIRED,
    FATAL_ERROR,
    ACCESS_DENIED,
    ACCESSLIMITED,
    DEPRECATED_ENDPOINT,
    EKM_ACCESS_DENIED,
    ENTERPRISE_IS_RESTRICTED,
    IS_BOT,
    METHOD_DEPRECATED,
    MIGRATION_IN_PROGRESS,
    MISSING_SCOPE,
    NOT_ALLOWED_TOKEN_TYPE,
    ORG_LOGIN_REQUIRED,
    RATELIMITED,
    SERVICE_UNAVAILABLE,
    TOKEN_EXPIRED,
    TWO_FACTOR_SETUP_REQUIRED,
    UNKNOWN_METHOD,
    INTERNAL_ERROR,
    INVALID_ARGUMENTS,
    USER_REMOVED_FROM_TEAM,
    TEAM_DISABLED,
    CHANNEL_NOT_FOUND,
    NOT_IN_CHANNEL,
    INVALID_CURSOR,
    THREAD_NOT_FOUND,
})
"""Every code named in the protocol reference."""

FATAL_CODES: Final[frozenset[str]] = frozenset({
    NOT_AUTHED,
    INVALID_AUTH,
    ACCOUNT_INACTIVE,
    TOKEN_REVOKED,
    TOKEN_EXPIRED,
    NOT_ALLOWED_TOKEN_TYPE,
    MISSING_SCOPE,
    NO_PERMISSION,
    USER_REMOVED_FROM_TEAM,
    TEAM_DISABLED,
})
"""Never worth retrying: the token or the account must change first."""

TRANSIENT_CODES: Final[frozenset[str]] = frozenset({
    MIGRATION_IN_PROGRESS,
    SERVICE_UNAVAILABLE,
    INTERNAL_ERROR,
    FATAL_ERROR,
    REQUEST_TIMEOUT,
    RATELIMITED,
})
"""Worth retrying with backoff (``ratelimited`` only after ``Retry-After``)."""


def is_fatal(code: str) -> bool:
    """True when an ``rtm.connect`` error code means retrying can never help."""
    return code in FATAL_CODES


def is_transient(code: str) -> bool:
    """True when an ``rtm.connect`` error code is worth retrying with backoff.

    Codes that are neither fatal nor transient (``invalid_arguments``, unknown codes, ...) are
    request errors: retrying the same request gives the same answer, so they are not retried.
    """
    return code in TRANSIENT_CODES
