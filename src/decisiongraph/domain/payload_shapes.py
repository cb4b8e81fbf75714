"""Runtime payload shape rules per event type (spec section 2).

A rule list is checked in order; the first failure raises ``SchemaViolation`` naming the
JSON path. "str" means present, a string and non-empty; "obj" a JSON object (whose own
rules follow); "list" a JSON array (possibly empty). Unknown extra keys are allowed.
"""

from __future__ import annotations

from typing import Any

from decisiongraph.domain.event_types import (
    EVENT_TYPE_ACTION_COMMITTED,
    EVENT_TYPE_ACTION_PROPOSED,
    EVENT_TYPE_APPROVAL_RECORDED,
    EVENT_TYPE_ENTITY_OBSERVED,
    EVENT_TYPE_EXCEPTION_REQUESTED,
    EVENT_TYPE_INPUT_OBSERVED,
    EVENT_TYPE_POLICY_EVALUATED,
    EVENT_TYPE_PRECEDENT_CITED,
    EVENT_TYPE_TRACE_FINISHED,
    EVENT_TYPE_TRACE_STARTED,
)
from decisiongraph.errors import SchemaViolation

__all__ = ["PAYLOAD_RULES", "check_payload_shape"]

# A rule is (key, kind) or (key, "obj", nested rules).
Rule = tuple[Any, ...]

_ENTITY = (("entity_type", "str"), ("entity_id", "str"))
_POLICY = (("policy_id", "str"), ("policy_version", "str"))

PAYLOAD_RULES: dict[str, tuple[Rule, ...]] = {
    EVENT_TYPE_TRACE_STARTED: (
        ("workflow", "str"),
        ("title", "str"),
        ("primary_entity", "obj", _ENTITY),
    ),
    EVENT_TYPE_INPUT_OBSERVED: (
        ("input_id", "str"),
        ("source", "obj", (("system", "str"), ("object_type", "str"), ("object_id", "str"))),
        ("facts", "list"),
    ),
    EVENT_TYPE_ENTITY_OBSERVED: (
        ("entity", "obj", _ENTITY),
        ("role", "str"),
        ("facts", "list"),
    ),
    EVENT_TYPE_POLICY_EVALUATED: (
        ("policy", "obj", _POLICY),
        ("inputs", "list"),
        ("decision", "str"),
    ),
    EVENT_TYPE_EXCEPTION_REQUESTED: (
        ("exception_id", "str"),
        ("policy", "obj", _POLICY),
        ("reason", "str"),
    ),
    EVENT_TYPE_APPROVAL_RECORDED: (
        ("approval_id", "str"),
        ("subject", "obj", (("subject_type", "str"), ("subject_id", "str"))),
        ("approver", "obj", (("actor_type", "str"), ("actor_id", "str"))),
        ("decision", "str"),
    ),
    EVENT_TYPE_PRECEDENT_CITED: (("cited_trace_id", "str"), ("reason", "str")),
    EVENT_TYPE_ACTION_PROPOSED: (
        ("action_id", "str"),
        ("action_type", "str"),
        ("target_entity", "obj", _ENTITY),
        ("target_system", "str"),
        ("changes", "list"),
    ),
    EVENT_TYPE_ACTION_COMMITTED: (("action_id", "str"), ("status", "str")),
    EVENT_TYPE_TRACE_FINISHED: (("outcome", "str"),),
}

_EXPECTED = {
    "str": "a non-empty string",
    "obj": "an object",
    "list": "an array",
}


def _fail(event_type: str, path: str, kind: str, present: bool) -> SchemaViolation:
    what = _EXPECTED[kind]
    problem = f"must be {what}" if present else f"is required ({what})"
    return SchemaViolation(
        f"{event_type} payload: {path} {problem}",
        {"errors": [{"path": path, "message": problem}]},
    )


def _check(event_type: str, obj: dict[str, Any], rules: tuple[Rule, ...], path: str) -> None:
    for rule in rules:
        key, kind = rule[0], rule[1]
        key_path = f"{path}.{key}"
        if key not in obj:
            raise _fail(event_type, key_path, kind, present=False)
        value = obj[key]
        if kind == "str":
            if not isinstance(value, str) or not value:
                raise _fail(event_type, key_path, kind, present=True)
        elif kind == "list":
            if not isinstance(value, list | tuple):
                raise _fail(event_type, key_path, kind, present=True)
        else:
            if not isinstance(value, dict):
                raise _fail(event_type, key_path, kind, present=True)
            _check(event_type, value, rule[2], key_path)


def check_payload_shape(event_type: str, payload: Any) -> None:
    """Raise ``SchemaViolation`` unless ``payload`` has the shape ``event_type`` needs.

    Checks, in order: the type is one of the ten, the payload is an object, then the
    type's rules.
    """
    rules = PAYLOAD_RULES.get(event_type)
    if rules is None:
        raise SchemaViolation(
            f"Unknown event_type: {event_type!r}",
            {"errors": [{"path": "$.event_type", "message": "unknown event type"}]},
        )
    if not isinstance(payload, dict):
        raise SchemaViolation(
            "Payload must be a dict",
            {"errors": [{"path": "$.payload", "message": "must be an object"}]},
        )
    _check(event_type, payload, rules, "$.payload")
