"""RFC 3339 timestamps compared as instants (HTTP_API 2.6 ``started_after/before``).

``occurred_at`` (and so ``started_at``) is stored verbatim, with any offset and any
number of fractional digits, so text order is not time order. :func:`instant_key`
turns a timestamp into a key that orders exactly like the instants: the UTC second,
then the fractional digits (trailing zeros dropped; digit strings of a fraction compare
like the fractions). A leap second ``:60`` sorts after every instant of ``:59`` and
before the next minute.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from decisiongraph.errors import InvalidArgument

__all__ = ["InstantKey", "instant_key", "text_bounds"]

#: (UTC datetime of the second, fractional digits without trailing zeros)
InstantKey = tuple[datetime, str]

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)
_LEAP_FRACTION = "9" * 30


def instant_key(text: str) -> InstantKey:
    """The instant key of an RFC 3339 date-time; InvalidArgument if it is not one."""
    match = _RFC3339.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidArgument(f"Not an RFC 3339 date-time with Z or an offset: {text!r}")
    year, month, day, hour, minute, second = (int(match[i]) for i in range(1, 7))
    fraction = (match[7] or "").rstrip("0")
    leap = second == 60
    try:
        moment = datetime(year, month, day, hour, minute, 59 if leap else second, tzinfo=UTC)
    except ValueError as exc:
        raise InvalidArgument(f"Not a valid date-time: {text!r}") from exc
    if match[9]:
        offset = timedelta(hours=int(match[10]), minutes=int(match[11]))
        if offset >= timedelta(hours=24) or int(match[11]) > 59:
            raise InvalidArgument(f"Invalid UTC offset in {text!r}")
        moment = moment - offset if match[9] == "+" else moment + offset
    if leap:
        fraction = _LEAP_FRACTION + fraction
    return moment, fraction


def text_bounds(
    after: InstantKey | None, before: InstantKey | None
) -> tuple[str | None, str | None]:
    """Conservative text bounds ``(lower, upper)`` for stored timestamps: every value
    whose instant is ``>= after`` has text ``>= lower``, and every value whose instant is
    ``< before`` has text ``< upper`` (a local date is within a day of the UTC one).
    The exact instant check still runs on the rows the bounds let through."""
    lower = None if after is None else _shifted_date(after[0].date(), -1)
    upper = None if before is None else _shifted_date(before[0].date(), 2)
    return lower, upper


def _shifted_date(day: date, days: int) -> str | None:
    """``day + days`` as ``YYYY-MM-DD``; None (no bound) beyond the calendar's range."""
    try:
        shifted = day + timedelta(days=days)
    except OverflowError:
        return None
    return shifted.isoformat()
