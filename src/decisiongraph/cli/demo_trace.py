"""The built-in demo decision trace: a refund above the auto-approval limit, approved by
exception and issued. Every id, key and timestamp is fixed, so importing it again reuses
every event instead of adding new ones."""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["DEMO_TENANT", "DEMO_TRACE_ID", "demo_records"]

DEMO_TENANT = "demo"
DEMO_TRACE_ID = "0d1f6c52-3a8e-4b7f-9c21-5e6a7b8c9d01"

_PRODUCER = {"producer_id": "refund-agent-service", "system": "refunds", "subsystem": None}
_AGENT = {"actor_type": "agent", "actor_id": "refund-agent-v2"}
_APPROVER = {"actor_type": "person", "actor_id": "maria.keller"}
_POLICY = {"policy_id": "refund-auto-approval", "policy_version": "2026.1"}
_REFUND = "RR-2026-0412"
_ORDER = "ORD-58213"
_EXCEPTION_ID = f"exc:{_REFUND}"
_ACTION_ID = f"act:refund:{_REFUND}"


def _value(kind: str, value: str) -> dict[str, str]:
    return {"type": kind, "value": value}


def _fact(key: str, kind: str, value: str, as_of: str | None) -> dict[str, Any]:
    return {"key": key, "value": _value(kind, value), "as_of": as_of}


#: (event_type, idempotency key, actor, payload) in trace_seq order.
_STEPS: tuple[tuple[str, str, dict[str, str], dict[str, Any]], ...] = (
    (
        "TraceStarted",
        f"start:refund:{_REFUND}",
        _AGENT,
        {
            "workflow": "refund_approval",
            "title": f"Refund of EUR 1250.00 for order {_ORDER}",
            "primary_entity": {
                "entity_type": "refund_request",
                "entity_id": _REFUND,
                "system": "billing",
            },
            "context": {"channel": "email", "currency": "EUR", "amount": "1250.00"},
        },
    ),
    (
        "EntityObserved",
        "entity:customer:CUS-10442",
        _AGENT,
        {
            "entity": {"entity_type": "customer", "entity_id": "CUS-10442", "system": "crm"},
            "role": "related",
            "facts": [
                _fact("tenure_months", "int", "38", "2026-03-02T09:14:00Z"),
                _fact("refunds_last_12_months", "int", "1", "2026-03-02T09:14:00Z"),
                _fact("lifetime_value", "decimal", "18420.50", "2026-03-02T09:14:00Z"),
            ],
        },
    ),
    (
        "InputObserved",
        f"input:order:{_ORDER}",
        _AGENT,
        {
            "input_id": f"input:order:{_ORDER}",
            "source": {"system": "billing", "object_type": "order", "object_id": _ORDER},
            "facts": [
                _fact("order_total", "decimal", "1250.00", "2026-03-02T09:14:05Z"),
                _fact("carrier_status", "string", "lost_in_transit", "2026-03-02T09:14:05Z"),
            ],
        },
    ),
    (
        "PolicyEvaluated",
        f"policy:refund-auto-approval@2026.1:{_REFUND}",
        _AGENT,
        {
            "policy": _POLICY,
            "inputs": [f"input:order:{_ORDER}"],
            "decision": "require_exception",
            "violations": [
                {
                    "code": "amount_over_auto_limit",
                    "message": "Refund of 1250.00 EUR exceeds the 500.00 EUR auto-approval limit",
                    "details": {"limit": "500.00", "amount": "1250.00"},
                }
            ],
            "explanation": {"summary": "Refunds above 500.00 EUR need a human approval."},
        },
    ),
    (
        "ExceptionRequested",
        f"exception:{_REFUND}",
        _AGENT,
        {
            "exception_id": _EXCEPTION_ID,
            "policy": _POLICY,
            "reason": "Long-standing customer; parcel lost in transit and carrier claim opened.",
            "evidence": [
                {
                    "source": {
                        "system": "carrier",
                        "object_type": "claim",
                        "object_id": "CLM-99120",
                        "locator": None,
                    },
                    "locator": "claims/CLM-99120",
                    "excerpt_redacted": "Parcel reported lost at the regional hub.",
                }
            ],
        },
    ),
    (
        "ApprovalRecorded",
        f"approval:{_EXCEPTION_ID}",
        _APPROVER,
        {
            "approval_id": f"appr:{_REFUND}",
            "subject": {"subject_type": "exception", "subject_id": _EXCEPTION_ID},
            "approver": _APPROVER,
            "decision": "approved",
            "reason": "Carrier claim verified; customer in good standing.",
        },
    ),
    (
        "ActionProposed",
        f"propose:{_ACTION_ID}",
        _AGENT,
        {
            "action_id": _ACTION_ID,
            "action_type": "issue_refund",
            "target_entity": {"entity_type": "order", "entity_id": _ORDER, "system": "billing"},
            "target_system": "billing",
            "changes": [
                {
                    "path": "refund.amount",
                    "old_value": None,
                    "new_value": _value("decimal", "1250.00"),
                },
                {
                    "path": "order.status",
                    "old_value": _value("string", "delivered"),
                    "new_value": _value("string", "refunded"),
                },
            ],
        },
    ),
    (
        "ActionCommitted",
        f"commit:{_ACTION_ID}",
        _AGENT,
        {
            "action_id": _ACTION_ID,
            "status": "success",
            "external_reference": "billing:refund:RF-448812",
            "error": None,
        },
    ),
    (
        "TraceFinished",
        f"finish:refund:{_REFUND}",
        _AGENT,
        {"outcome": "success", "summary": "Refund approved by exception and issued."},
    ),
)


def demo_records() -> list[dict[str, Any]]:
    """The demo trace as envelope JSON objects, in trace_seq order (fresh copies)."""
    records: list[dict[str, Any]] = []
    for seq, (event_type, key, actor, payload) in enumerate(_STEPS):
        records.append(
            {
                "event_id": f"6b2e9f40-1c7d-4a58-b3e6-0f9a8d7c6b{seq:02d}",
                "trace_id": DEMO_TRACE_ID,
                "trace_seq": seq,
                "event_type": event_type,
                "occurred_at": f"2026-03-02T09:{14 + seq:02d}:00Z",
                "source": dict(_PRODUCER),
                "actor": dict(actor),
                "correlation_id": "ticket:ZD-88120",
                "causation_event_id": None,
                "idempotency_key": key,
                "schema_version": 1,
                "payload": copy.deepcopy(payload),
                "tags": ["demo", "refunds"],
            }
        )
    return records
