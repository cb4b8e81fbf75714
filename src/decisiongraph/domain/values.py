"""Value objects of event payloads (spec 2): frozen dataclasses the library façade turns
into payload JSON with :func:`dataclasses.asdict` (every field present, None as null).

``SourceRef`` and ``ActorRef`` (envelope metadata) live in
:mod:`decisiongraph.domain.envelope`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ApprovalSubject",
    "Change",
    "EntityRef",
    "EvidenceRef",
    "Fact",
    "PolicyRef",
    "SourceObjectRef",
    "Value",
    "Violation",
]


@dataclass(frozen=True, slots=True)
class EntityRef:
    """A business entity: ``entity_type``, ``entity_id`` and optionally its ``system``."""

    entity_type: str
    entity_id: str
    system: str | None = None


@dataclass(frozen=True, slots=True)
class Value:
    """A typed value, always written as a string (``type`` is one of string, int, bool,
    decimal, date, datetime, json), e.g. ``Value("decimal", "123.45")``."""

    type: str
    value: str


@dataclass(frozen=True, slots=True)
class Fact:
    """An observed fact: ``key``, its :class:`Value` and when it held (``as_of``)."""

    key: str
    value: Value
    as_of: str | None = None


@dataclass(frozen=True, slots=True)
class SourceObjectRef:
    """The record an input or a piece of evidence comes from."""

    system: str
    object_type: str
    object_id: str
    locator: str | None = None


@dataclass(frozen=True, slots=True)
class EvidenceRef:
    """Evidence for an exception or approval; the excerpt must already be redacted."""

    source: SourceObjectRef
    locator: str
    excerpt_redacted: str | None = None


@dataclass(frozen=True, slots=True)
class PolicyRef:
    """A policy at a version."""

    policy_id: str
    policy_version: str


@dataclass(frozen=True, slots=True)
class Violation:
    """A policy violation; ``details`` maps strings to strings."""

    code: str
    message: str | None = None
    details: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """A change an action makes at ``path`` (``old_value`` None for a new value)."""

    path: str
    old_value: Value | None
    new_value: Value


@dataclass(frozen=True, slots=True)
class ApprovalSubject:
    """What an approval is about: ``subject_type`` is ``exception`` or ``action``."""

    subject_type: str
    subject_id: str
