"""Service accounts and their API keys (HTTP_API 2.14, 3.2, 6.8).

Invariants:

* an account's ``name`` is unique (1..100 characters); its ``tenants`` are valid tenant
  ids or exactly ``["*"]``; explicit ``permissions`` are a non-empty subset of the role's
  set (:func:`~decisiongraph.service.permissions.effective_permissions`);
* a key's secret leaves this module once, as ``token`` of the :class:`ApiKey` returned by
  :meth:`Accounts.create_account` or :meth:`Accounts.create_key`; only its SHA-256 is
  stored, and the key's ``status`` is computed when it is read;
* an account has at most ``max_active_keys`` (default 5) keys that are neither revoked
  nor expired; a disabled account gets no new key; accounts are never deleted, and
  disabling one also revokes its keys;
* every change and its audit entry are written in ONE transaction (no entry, no change).
  Refusals are not audited here: whoever turns them into a response records them
  (:meth:`~decisiongraph.service.audit.AuditLog.record_refusal`), once.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from decisiongraph.domain.clock import format_rfc3339, from_rfc3339, is_rfc3339, now_rfc3339
from decisiongraph.domain.tenant import TENANT_ID_PATTERN
from decisiongraph.domain.validation import is_storable_text
from decisiongraph.errors import Conflict, InvalidArgument, NotFound
from decisiongraph.projections.tables import Sql
from decisiongraph.service import account_tables as tables
from decisiongraph.service.account_tables import ApiKey, ServiceAccount
from decisiongraph.service.audit import Action, insert_entry
from decisiongraph.service.auth import ALL_TENANTS, hash_secret, issue_credentials
from decisiongraph.service.permissions import ROLES, effective_permissions, ordered
from decisiongraph.store.base import SqlEventStore

__all__ = [
    "ACCOUNT_STATUSES",
    "DEFAULT_MAX_ACTIVE_KEYS",
    "RATE_LIMIT_SCOPES",
    "Accounts",
    "ApiKey",
    "ServiceAccount",
    "audit_tenant_for",
]

#: Active keys an account may hold (HTTP_API 2.14: "beyond 5 active keys", configurable).
DEFAULT_MAX_ACTIVE_KEYS: Final = 5
#: Account statuses (HTTP_API 6.8).
ACCOUNT_STATUSES: Final = ("active", "disabled")
#: Scopes an account's ``rate_limits`` may override (HTTP_API 4), per minute.
RATE_LIMIT_SCOPES: Final = ("read", "write", "admin", "stream")
_MAX_NAME_LENGTH = 100
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"

Via = Literal["api", "cli"]


def _invalid(path: str, message: str, location: str = "body") -> InvalidArgument:
    return InvalidArgument(
        message, {"errors": [{"location": location, "path": path, "message": message}]}
    )


def audit_tenant_for(tenants: Sequence[str]) -> str:
    """The audit ``tenant_id`` of a change made without a request tenant (the CLI): the
    account's tenant if it has exactly one, else ``*`` (HTTP_API 5)."""
    return tenants[0] if len(tenants) == 1 else ALL_TENANTS


# ------------------------------------------------------------------ validation


def _check_name(name: object) -> str:
    if (
        not isinstance(name, str)
        or not 1 <= len(name) <= _MAX_NAME_LENGTH
        or not is_storable_text(name)
    ):
        raise _invalid("$.name", f"name must be 1 to {_MAX_NAME_LENGTH} characters")
    return name


def _check_tenants(tenants: object) -> tuple[str, ...]:
    """Sorted, duplicate-free tenant ids, or ``("*",)``."""
    if isinstance(tenants, str) or not isinstance(tenants, Sequence) or not tenants:
        raise _invalid("$.tenants", "tenants must be a non-empty list of tenant ids, or ['*']")
    if list(tenants) == [ALL_TENANTS]:
        return (ALL_TENANTS,)
    for index, tenant in enumerate(tenants):
        if not isinstance(tenant, str) or TENANT_ID_PATTERN.fullmatch(tenant) is None:
            raise _invalid(
                f"$.tenants[{index}]",
                f"Invalid tenant id {tenant!r}: use 1-64 characters from A-Z a-z 0-9 . _ -, "
                "starting with a letter or digit ('*' only alone, for all tenants)",
            )
    return tuple(sorted(set(tenants)))


def _check_rate_limits(limits: object) -> dict[str, int] | None:
    if limits is None:
        return None
    if not isinstance(limits, Mapping):
        raise _invalid("$.rate_limits", "rate_limits must be an object")
    for scope, value in limits.items():
        if scope not in RATE_LIMIT_SCOPES:
            raise _invalid(
                f"$.rate_limits.{scope}",
                f"Unknown rate-limit scope {scope!r}: use {', '.join(RATE_LIMIT_SCOPES)}",
            )
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise _invalid(f"$.rate_limits.{scope}", "a rate limit is an integer >= 1 per minute")
    return {scope: limits[scope] for scope in RATE_LIMIT_SCOPES if scope in limits} or None


def _check_expiry(value: object, now: str, path: str) -> str | None:
    """``None``, or a future RFC 3339 time in the store's format."""
    if value is None:
        return None
    if not isinstance(value, str) or not is_rfc3339(value):
        raise _invalid(path, "expires_at must be an RFC 3339 timestamp")
    try:
        normalized = format_rfc3339(from_rfc3339(value))
    except ValueError:  # a leap second: valid RFC 3339, not a storable instant
        raise _invalid(path, "expires_at must be an RFC 3339 timestamp") from None
    if normalized <= now:
        raise _invalid(path, "expires_at must be in the future")
    return normalized


def _check_filter(name: str, value: str | None, allowed: Sequence[str]) -> None:
    if value is not None and value not in allowed:
        raise _invalid(name, f"{name} must be one of {', '.join(allowed)}", location="query")


def _new_account_id() -> str:
    return "sa_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))


@dataclass(frozen=True, slots=True)
class _Context:
    """Who made a change and from where: the audit entry's columns besides the change."""

    actor: str | None
    via: Via
    tenant_id: str | None
    request_id: str | None
    client_address: str | None


class Accounts:
    """Service accounts and keys stored in ``store`` (the tables of migration 0004).

    The acting account (``created_by`` and the like) is None for the CLI. ``tenant_id``
    is the request tenant the audit entry belongs to; None derives it from the account
    (:func:`audit_tenant_for`), as the CLI does.
    """

    def __init__(
        self, store: SqlEventStore, *, max_active_keys: int = DEFAULT_MAX_ACTIVE_KEYS
    ) -> None:
        self._store = store
        self._max_active_keys = max_active_keys

    def _sql(self, conn: Any) -> Sql:
        return Sql(conn, self._store.dialect)

    def _audit(
        self,
        sql: Sql,
        context: _Context,
        action: Action,
        *,
        tenants: Sequence[str],
        target: str,
        at: str,
        details: Mapping[str, Any],
    ) -> None:
        insert_entry(
            sql,
            tenant_id=context.tenant_id or audit_tenant_for(tenants),
            action=action,
            outcome="succeeded",
            account_id=context.actor,
            request_id=context.request_id,
            target=target,
            client_address=context.client_address,
            details={**details, "via": context.via},
            at=at,
        )

    # ------------------------------------------------------------------ reads

    def list_accounts(
        self, role: str | None = None, status: str | None = None
    ) -> list[ServiceAccount]:
        """Accounts (with their keys) matching the filters, by ``created_at`` then
        ``account_id``."""
        _check_filter("role", role, ROLES)
        _check_filter("status", status, ACCOUNT_STATUSES)
        with self._store.read_snapshot() as conn:
            return tables.select_accounts(self._sql(conn), role=role, status=status)

    def get_account(self, account_id: str) -> ServiceAccount:
        """One account with its keys; NotFound (``resource: service_account``) if unknown."""
        with self._store.read_snapshot() as conn:
            return self._load(self._sql(conn), account_id)

    def _load(self, sql: Sql, account_id: str, *, for_update: bool = False) -> ServiceAccount:
        account = tables.select_account(sql, account_id, for_update=for_update)
        if account is None:
            raise NotFound(
                f"Service account {account_id!r} not found", {"resource": "service_account"}
            )
        return account

    # ------------------------------------------------------------------ changes

    def create_account(
        self,
        name: str,
        role: str,
        tenants: Sequence[str],
        *,
        permissions: Sequence[str] | None = None,
        rate_limits: Mapping[str, int] | None = None,
        key_expires_at: str | None = None,
        created_by: str | None = None,
        via: Via = "api",
        tenant_id: str | None = None,
        request_id: str | None = None,
        client_address: str | None = None,
    ) -> tuple[ServiceAccount, ApiKey]:
        """Create an account and its first key; return both, the key with its ``token``.

        The account, the key and the ``account.create`` entry are one transaction.
        Conflict ``name_taken`` if the name is in use; InvalidArgument (``details.errors``
        naming the body member) for any invalid argument.
        """
        now = now_rfc3339()
        name = _check_name(name)
        granted = effective_permissions(role, permissions)
        explicit = None if permissions is None else tuple(ordered(granted))
        bound = _check_tenants(tenants)
        limits = _check_rate_limits(rate_limits)
        expires_at = _check_expiry(key_expires_at, now, "$.key_expires_at")
        account = ServiceAccount(
            _new_account_id(), name, role, bound, explicit, limits, "active", now, created_by, None
        )
        credentials = issue_credentials()
        key = ApiKey(
            credentials.key_id, account.account_id, now, created_by, expires_at, None, None
        )
        context = _Context(created_by, via, tenant_id, request_id, client_address)
        with self._store.transaction() as conn:
            sql = self._sql(conn)
            if not tables.insert_account(sql, account):
                raise Conflict(
                    f"A service account named {name!r} already exists", {"reason": "name_taken"}
                )
            tables.insert_key(sql, key, hash_secret(credentials.secret))
            self._audit(
                sql,
                context,
                "account.create",
                tenants=bound,
                target=account.account_id,
                at=now,
                details={
                    "name": name,
                    "role": role,
                    "tenants": list(bound),
                    "permissions": None if explicit is None else list(explicit),
                    "key_id": key.key_id,
                },
            )
        return replace(account, keys=(key,)), replace(key, token=credentials.token)

    def create_key(
        self,
        account_id: str,
        expires_at: str | None = None,
        *,
        created_by: str | None = None,
        via: Via = "api",
        tenant_id: str | None = None,
        request_id: str | None = None,
        client_address: str | None = None,
    ) -> ApiKey:
        """A new key of ``account_id`` (with its ``token``); existing keys stay valid.

        NotFound for an unknown account; Conflict ``account_disabled``, or ``key_limit``
        when the account already has ``max_active_keys`` active keys.
        """
        now = now_rfc3339()
        expiry = _check_expiry(expires_at, now, "$.expires_at")
        credentials = issue_credentials()
        key = ApiKey(credentials.key_id, account_id, now, created_by, expiry, None, None)
        context = _Context(created_by, via, tenant_id, request_id, client_address)
        with self._store.transaction() as conn:
            sql = self._sql(conn)
            # Locked: two concurrent rotations cannot both pass the limit check.
            account = self._load(sql, account_id, for_update=True)
            if account.status != "active":
                raise Conflict(
                    f"Service account {account_id!r} is disabled", {"reason": "account_disabled"}
                )
            if tables.count_active_keys(sql, account_id, now) >= self._max_active_keys:
                raise Conflict(
                    f"Service account {account_id!r} already has {self._max_active_keys} "
                    "active keys: revoke one first",
                    {"reason": "key_limit", "limit": self._max_active_keys},
                )
            tables.insert_key(sql, key, hash_secret(credentials.secret))
            self._audit(
                sql,
                context,
                "key.create",
                tenants=account.tenants,
                target=key.key_id,
                at=now,
                details={"account_id": account_id, "expires_at": expiry},
            )
        return replace(key, token=credentials.token)

    def revoke_key(
        self,
        account_id: str,
        key_id: str,
        *,
        revoked_by: str | None = None,
        acting_key_id: str | None = None,
        via: Via = "api",
        tenant_id: str | None = None,
        request_id: str | None = None,
        client_address: str | None = None,
    ) -> ApiKey:
        """Revoke a key of ``account_id``; a revoked key is returned unchanged.

        NotFound (``resource: api_key``) for a key unknown or of another account;
        Conflict ``self_lockout`` for ``acting_key_id``, the key of the request.
        """
        now = now_rfc3339()
        context = _Context(revoked_by, via, tenant_id, request_id, client_address)
        with self._store.transaction() as conn:
            sql = self._sql(conn)
            account = self._load(sql, account_id, for_update=True)
            key = tables.select_key(sql, account_id, key_id)
            if key is None:
                raise NotFound(f"API key {key_id!r} not found", {"resource": "api_key"})
            if key_id == acting_key_id:
                raise Conflict(
                    "Refusing to revoke the key that authenticates this request",
                    {"reason": "self_lockout"},
                )
            already = key.revoked_at is not None
            if not already:
                tables.revoke_key(sql, key_id, now)
                key = replace(key, revoked_at=now)
            self._audit(
                sql,
                context,
                "key.revoke",
                tenants=account.tenants,
                target=key_id,
                at=now,
                details={"account_id": account_id, "already_revoked": already},
            )
        return key

    def disable_account(
        self,
        account_id: str,
        *,
        disabled_by: str | None = None,
        via: Via = "api",
        tenant_id: str | None = None,
        request_id: str | None = None,
        client_address: str | None = None,
    ) -> ServiceAccount:
        """Disable ``account_id`` and revoke its keys; idempotent (a disabled account is
        returned unchanged). NotFound if unknown; Conflict ``self_lockout`` when
        ``disabled_by`` is the account itself."""
        now = now_rfc3339()
        context = _Context(disabled_by, via, tenant_id, request_id, client_address)
        with self._store.transaction() as conn:
            sql = self._sql(conn)
            account = self._load(sql, account_id, for_update=True)
            if disabled_by == account_id:
                raise Conflict(
                    "Refusing to disable the account that authenticates this request",
                    {"reason": "self_lockout"},
                )
            already = account.status == "disabled"
            revoked = [k.key_id for k in account.keys if k.revoked_at is None]
            if not already:
                tables.disable_account(sql, account_id, now)
            self._audit(
                sql,
                context,
                "account.disable",
                tenants=account.tenants,
                target=account_id,
                at=now,
                details={"already_disabled": already, "revoked_key_ids": revoked},
            )
            return self._load(sql, account_id)
