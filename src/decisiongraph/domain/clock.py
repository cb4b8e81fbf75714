"""Timestamps: the store's RFC 3339 clock format and the ``occurred_at`` syntax check."""

from __future__ import annotations

import re
from datetime import UTC, datetime

__all__ = ["format_rfc3339", "from_rfc3339", "is_rfc3339", "now_rfc3339", "utc_now"]

# RFC 3339 date-time: full-date "T" full-time, with "Z" or a numeric offset and any
# number of fractional digits (spec 14.6). "t"/"z" lower case are allowed by RFC 3339.
_RFC3339 = re.compile(
    r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]"
    r"([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?"
    r"([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)",
    re.ASCII,
)


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def format_rfc3339(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC (always six fractional digits)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def now_rfc3339() -> str:
    """The current UTC time in the store's format (used for ``recorded_at``)."""
    return format_rfc3339(utc_now())


def from_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 string to an aware UTC datetime (naive values are taken as UTC)."""
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def is_rfc3339(text: str) -> bool:
    """True if ``text`` is an RFC 3339 date-time with ``Z`` or a numeric offset.

    The calendar date must exist (2025-02-30 is refused); a leap second (``:60``) is
    accepted as RFC 3339 allows it.
    """
    if _RFC3339.fullmatch(text) is None:
        return False
    try:
        datetime(int(text[0:4]), int(text[5:7]), int(text[8:10]))
    except ValueError:
        return False
    return True
