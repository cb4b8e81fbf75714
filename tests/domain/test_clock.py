"""Timestamps (spec 1.2, 1.4, 14.6): the RFC 3339 check and the store clock format."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from decisiongraph.domain.clock import format_rfc3339, from_rfc3339, is_rfc3339, now_rfc3339

ACCEPTED = [
    "2025-12-31T12:00:00Z",
    "2025-12-31T12:00:00.1Z",
    "2025-12-31T12:00:00.123456Z",
    "2025-12-31T12:00:00.123456789012Z",
    "2025-12-31T12:00:00+00:00",
    "2025-12-31T12:00:00-00:00",
    "2025-12-31T12:00:00+05:30",
    "2025-12-31T12:00:00.5-08:00",
    "2025-12-31T12:00:00+23:59",
    "2025-12-31t12:00:00z",
    "2024-02-29T00:00:00Z",
    "2000-02-29T00:00:00Z",
    "2016-12-31T23:59:60Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
]

REJECTED = [
    "",
    "2025-12-31",
    "12:00:00Z",
    "2025-12-31T12:00:00",
    "2025-12-31T12:00:00.123",
    "2025-12-31 12:00:00Z",
    "2025-12-31T12:00Z",
    "2025-12-31T12Z",
    "2025-12-31T12:00:00.Z",
    "2025-12-31T12:00:00,5Z",
    "2025-12-31T12:00:00+0100",
    "2025-12-31T12:00:00+01",
    "2025-12-31T12:00:00+24:00",
    "2025-12-31T12:00:00+01:60",
    "2025-12-31T12:00:00 Z",
    "2025-02-29T00:00:00Z",
    "1900-02-29T00:00:00Z",
    "2025-04-31T00:00:00Z",
    "2025-00-10T00:00:00Z",
    "2025-13-10T00:00:00Z",
    "2025-12-00T00:00:00Z",
    "2025-12-32T00:00:00Z",
    "2025-12-31T24:00:00Z",
    "2025-12-31T12:60:00Z",
    "2025-12-31T12:00:61Z",
    "+2025-12-31T12:00:00Z",
    "12025-12-31T12:00:00Z",
    "20251231T120000Z",
    "2025-12-31T12:00:00Z\n",
    " 2025-12-31T12:00:00Z",
    "2025-12-31T12:00:00ZZ",
    "2025-12-31T12:00:00UTC",
    "\uff12\uff10\uff12\uff15-12-31T12:00:00Z",
    "2025-12-31T12:00:00\u0665Z",
    "1735646400",
    "now",
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_rfc3339_date_times_are_accepted(text: str) -> None:
    assert is_rfc3339(text)


@pytest.mark.parametrize("text", REJECTED)
def test_anything_else_is_rejected(text: str) -> None:
    assert not is_rfc3339(text)


def test_now_has_the_store_format_in_utc() -> None:
    before = datetime.now(UTC)
    text = now_rfc3339()
    after = datetime.now(UTC)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z", text)
    assert before - timedelta(seconds=1) <= from_rfc3339(text) <= after + timedelta(seconds=1)


def test_format_always_writes_six_fraction_digits_in_utc() -> None:
    assert format_rfc3339(datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)) == (
        "2025-01-02T03:04:05.000000Z"
    )
    plus_two = timezone(timedelta(hours=2))
    assert format_rfc3339(datetime(2025, 1, 2, 1, 4, 5, 7, tzinfo=plus_two)) == (
        "2025-01-01T23:04:05.000007Z"
    )
    assert format_rfc3339(datetime(2025, 1, 2, 3, 4, 5, 120000)) == "2025-01-02T03:04:05.120000Z"


def test_from_rfc3339_turns_z_into_utc_converts_offsets_and_takes_naive_as_utc() -> None:
    assert from_rfc3339("2025-12-31T12:00:00Z") == datetime(2025, 12, 31, 12, tzinfo=UTC)
    assert from_rfc3339("2025-12-31T12:00:00+02:00") == datetime(2025, 12, 31, 10, tzinfo=UTC)
    naive = from_rfc3339("2025-12-31T12:00:00")
    assert naive == datetime(2025, 12, 31, 12, tzinfo=UTC)
    assert naive.tzinfo is not None
