"""The audit log of the HTTP service (HTTP_API 5): ``dg_audit_log``.

Invariants:

* entries are only inserted, never changed or deleted (database triggers refuse UPDATE
  and DELETE); ``audit_id`` strictly increases in insertion order;
* an admin change writes its entry with :func:`insert_entry` inside the change's own
  transaction, so there is never a change without its entry; refusals and denials,
  which change nothing, are recorded on their own (:meth:`AuditLog.record`,
  :meth:`AuditLog.record_refusal`, :meth:`AuditLog.record_tenant_denied`);
* ``details`` never hold secrets: callers pass ids, roles, modes and error codes only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

from decisiongraph.domain.clock import now_rfc3339
from decisiongraph.errors import DecisionGraphError, Forbidden, NotFound, StorageError
from decisiongraph.projections.tables import Sql
from decisiongraph.service.auth import Principal
from decisiongraph.store.base import SqlEventStore

__all__ = [
    "ACTIONS",
    "OUTCOMES",
    "Action",
    "AuditEntry",
    "AuditLog",
    "Outcome",
    "insert_entry",
]

Action = Literal[
    "replay.plan",
    "replay.start",
    "replay.cancel",
    "account.create",
    "key.create",
    "key.revoke",
    "account.disable",
    "replay.list",
    "replay.get",
    "account.list",
    "audit.list",
    "tenant.denied",
]
Outcome = Literal["succeeded", "denied", "rejected"]
#: The actions of HTTP_API 5, in the spec's order.
ACTIONS: Final[tuple[str, ...]] = get_args(Action)
#: ``denied``: 403, or 404 for an id outside the caller's tenant or scope; ``rejected``:
#: authenticated but refused otherwise (400, 409, 422).
OUTCOMES: Final[tuple[str, ...]] = get_args(Outcome)

_COLUMNS = (
    "audit_id, at, tenant_id, account_id, request_id, action, target, reason, outcome, "
    "client_address, details"
)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the audit log; :meth:`to_dict` is the AuditEntry of HTTP_API 6.8."""

    audit_id: int
    at: str
    tenant_id: str
    account_id: str | None
    request_id: str | None
    action: str
    target: str | None
    reason: str | None
    outcome: str
    client_address: str | None
    details: dict[str, Any] = field(hash=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "audit_id": self.audit_id,
            "at": self.at,
            "tenant_id": self.tenant_id,
            "account_id": self.account_id,
            "request_id": self.request_id,
            "action": self.action,
            "target": self.target,
            "reason": self.reason,
            "outcome": self.outcome,
            "client_address": self.client_address,
            "details": dict(self.details),
        }


def insert_entry(
    sql: Sql,
    *,
    tenant_id: str,
    action: Action,
    outcome: Outcome,
    account_id: str | None = None,
    request_id: str | None = None,
    target: str | None = None,
    reason: str | None = None,
    client_address: str | None = None,
    details: Mapping[str, Any] | None = None,
    at: str | None = None,
) -> int:
    """Insert one entry through ``sql`` (inside the caller's transaction, never
    committing); return its ``audit_id``. ``at`` defaults to the current time."""
    if action not in ACTIONS or outcome not in OUTCOMES:
        raise ValueError(f"Unknown audit action or outcome: {action!r}, {outcome!r}")
    row = sql.one(
        f"INSERT INTO dg_audit_log ({_COLUMNS.removeprefix('audit_id, ')}) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING audit_id",
        (
            at or now_rfc3339(),
            tenant_id,
            account_id,
            request_id,
            action,
            target,
            reason,
            outcome,
            client_address,
            json.dumps(dict(details or {}), sort_keys=True, separators=(",", ":")),
        ),
    )
    if row is None:  # RETURNING yields the inserted row; anything else is a driver fault
        raise StorageError("The audit entry was not inserted")
    return int(row[0])


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    (audit_id, at, tenant_id, account_id, request_id, action, target, reason, outcome,
     client_address, details) = row  # fmt: skip
    return AuditEntry(
        int(audit_id), at, tenant_id, account_id, request_id, action, target, reason, outcome,
        client_address, json.loads(details),
    )  # fmt: skip


class AuditLog:
    """Records and reads audit entries of one store, each write in its own transaction."""

    def __init__(self, store: SqlEventStore) -> None:
        self._store = store

    def record(
        self,
        *,
        tenant_id: str,
        action: Action,
        outcome: Outcome,
        account_id: str | None = None,
        request_id: str | None = None,
        target: str | None = None,
        reason: str | None = None,
        client_address: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> int:
        """Insert one entry in a transaction of its own; return its ``audit_id``."""
        with self._store.transaction() as conn:
            return insert_entry(
                Sql(conn, self._store.dialect),
                tenant_id=tenant_id,
                action=action,
                outcome=outcome,
                account_id=account_id,
                request_id=request_id,
                target=target,
                reason=reason,
                client_address=client_address,
                details=details,
            )

    def record_refusal(
        self,
        action: Action,
        error: DecisionGraphError,
        *,
        tenant_id: str,
        account_id: str | None = None,
        request_id: str | None = None,
        target: str | None = None,
        client_address: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> int:
        """Record a refused admin action: ``denied`` for Forbidden and NotFound (an id
        outside the caller's tenant or scope), else ``rejected``; the error's code (and
        ``details.reason``, if any) go into ``details``."""
        extra: dict[str, Any] = {"error_code": error.code}
        if "reason" in error.details:
            extra["reason"] = error.details["reason"]
        return self.record(
            tenant_id=tenant_id,
            action=action,
            outcome="denied" if isinstance(error, Forbidden | NotFound) else "rejected",
            account_id=account_id,
            request_id=request_id,
            target=target,
            client_address=client_address,
            details={**(details or {}), **extra},
        )

    def record_tenant_denied(
        self,
        principal: Principal,
        tenant: str,
        route_template: str,
        request_id: str | None,
        client_address: str | None,
    ) -> int:
        """Record a key used with a tenant it is not bound to: the entry belongs to the
        refused ``tenant`` (so that tenant's admins see the attempt) and names the route
        template, not the concrete path (which may hold ids of that tenant)."""
        return self.record(
            tenant_id=tenant,
            action="tenant.denied",
            outcome="denied",
            account_id=principal.account_id,
            request_id=request_id,
            target=route_template,
            client_address=client_address,
            details={"key_id": principal.key_id},
        )

    def list_entries(
        self,
        tenant_id: str,
        *,
        include_all_tenants: bool = False,
        before_audit_id: int | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Entries of ``tenant_id`` (plus those recorded under ``*`` when
        ``include_all_tenants``), newest first, below ``before_audit_id`` if given."""
        tenants = [tenant_id, "*"] if include_all_tenants else [tenant_id]
        marks = ", ".join("%s" for _ in tenants)
        params: list[Any] = list(tenants)
        below = ""
        if before_audit_id is not None:
            below = " AND audit_id < %s"
            params.append(before_audit_id)
        params.append(limit)
        with self._store.read_snapshot() as conn:
            rows = Sql(conn, self._store.dialect).all(
                f"SELECT {_COLUMNS} FROM dg_audit_log WHERE tenant_id IN ({marks}){below} "
                "ORDER BY audit_id DESC LIMIT %s",
                params,
            )
        return [_entry(row) for row in rows]
