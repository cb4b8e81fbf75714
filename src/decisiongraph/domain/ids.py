"""Identifier helpers: uuid4 strings as the reference API generates them."""

from __future__ import annotations

import uuid

__all__ = ["generate_event_id", "generate_id", "generate_trace_id", "is_valid_uuid"]


def generate_id() -> str:
    """A new lowercase, hyphenated uuid4 string."""
    return str(uuid.uuid4())


def generate_event_id() -> str:
    """A new event id (uuid4)."""
    return generate_id()


def generate_trace_id() -> str:
    """A new trace id (uuid4)."""
    return generate_id()


def is_valid_uuid(value: str) -> bool:
    """True if ``value`` parses as a UUID."""
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True
