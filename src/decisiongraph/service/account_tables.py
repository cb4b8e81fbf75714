"""The service-account tables (``dg_service_accounts``, ``dg_api_keys``): their records
(:class:`ServiceAccount`, :class:`ApiKey`) and their SQL, for both dialects.

Every function takes a :class:`~decisiongraph.projections.tables.Sql` whose connection is
already inside a transaction (or is the authenticator's one-statement read connection)
and never commits. Rules about what may be written live in
:mod:`decisiongraph.service.accounts`; this module only stores and reads. A key's secret
hash is written here and read back only by :func:`select_credentials`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from decisiongraph.domain.clock import now_rfc3339
from decisiongraph.projections.tables import Sql
from decisiongraph.service.permissions import effective_permissions, ordered

__all__ = [
    "ApiKey",
    "ServiceAccount",
    "count_active_keys",
    "disable_account",
    "insert_account",
    "insert_key",
    "revoke_key",
    "select_account",
    "select_accounts",
    "select_credentials",
    "select_key",
    "touch_key",
]

_ACCOUNT_COLUMNS = (
    "account_id, name, role, tenants, permissions, rate_limits, status, created_at, "
    "created_by, disabled_at"
)
# The secret's hash is deliberately not among them.
_KEY_COLUMNS = "key_id, account_id, created_at, created_by, expires_at, last_used_at, revoked_at"
# The authenticator's lookup: both tables by primary key, one statement.
_CREDENTIALS = (
    "SELECT k.secret_sha256, k.expires_at, k.revoked_at, k.last_used_at, a.account_id, "
    "a.name, a.role, a.tenants, a.permissions, a.rate_limits, a.status "
    "FROM dg_api_keys k JOIN dg_service_accounts a ON a.account_id = k.account_id "
    "WHERE k.key_id = %s"
)


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key as stored (never its secret), plus ``token`` on creation results only."""

    key_id: str
    account_id: str
    created_at: str
    created_by: str | None
    expires_at: str | None
    last_used_at: str | None
    revoked_at: str | None
    token: str | None = field(default=None, repr=False)

    @property
    def prefix(self) -> str:
        """``dg_<key_id>``: names the key; not a usable credential."""
        return f"dg_{self.key_id}"

    def status_at(self, now: str) -> str:
        """``revoked``, else ``expired`` (``expires_at`` reached at ``now``), else
        ``active``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    @property
    def status(self) -> str:
        """The status right now."""
        return self.status_at(now_rfc3339())

    def to_dict(self, now: str | None = None) -> dict[str, Any]:
        """The ApiKey object of HTTP_API 6.8 (with ``token`` only if this is a creation
        result); the status is computed at ``now`` (default: the current time)."""
        data: dict[str, Any] = {
            "key_id": self.key_id,
            "account_id": self.account_id,
            "prefix": self.prefix,
            "status": self.status_at(now or now_rfc3339()),
            "created_at": self.created_at,
            "created_by": self.created_by,
            "expires_at": self.expires_at,
            "last_used_at": self.last_used_at,
            "revoked_at": self.revoked_at,
        }
        if self.token is not None:
            data["token"] = self.token
        return data


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """A service account with its keys (by ``created_at``, ``key_id``)."""

    account_id: str
    name: str
    role: str
    tenants: tuple[str, ...]
    permissions: tuple[str, ...] | None
    rate_limits: dict[str, int] | None = field(hash=False)
    status: str
    created_at: str
    created_by: str | None
    disabled_at: str | None
    keys: tuple[ApiKey, ...] = ()

    @property
    def effective_permissions(self) -> list[str]:
        """The role's permissions, narrowed by the explicit list, in the spec's order."""
        return ordered(effective_permissions(self.role, self.permissions))

    def to_dict(self, now: str | None = None) -> dict[str, Any]:
        """The ServiceAccount object of HTTP_API 6.8 (key statuses computed at ``now``)."""
        moment = now or now_rfc3339()
        return {
            "account_id": self.account_id,
            "name": self.name,
            "role": self.role,
            "tenants": list(self.tenants),
            "permissions": None if self.permissions is None else list(self.permissions),
            "effective_permissions": self.effective_permissions,
            "rate_limits": None if self.rate_limits is None else dict(self.rate_limits),
            "status": self.status,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "disabled_at": self.disabled_at,
            "keys": [key.to_dict(moment) for key in self.keys],
        }


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


def _key(row: Sequence[Any]) -> ApiKey:
    key_id, account_id, created_at, created_by, expires_at, last_used_at, revoked_at = row
    return ApiKey(key_id, account_id, created_at, created_by, expires_at, last_used_at, revoked_at)


def _account(row: Sequence[Any], keys: Sequence[ApiKey]) -> ServiceAccount:
    (account_id, name, role, tenants, permissions, rate_limits, status, created_at,
     created_by, disabled_at) = row  # fmt: skip
    return ServiceAccount(
        account_id=account_id,
        name=name,
        role=role,
        tenants=tuple(json.loads(tenants)),
        permissions=None if permissions is None else tuple(json.loads(permissions)),
        rate_limits=None if rate_limits is None else json.loads(rate_limits),
        status=status,
        created_at=created_at,
        created_by=created_by,
        disabled_at=disabled_at,
        keys=tuple(keys),
    )


def _accounts_filter(role: str | None, status: str | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if role is not None:
        clauses.append("role = %s")
        params.append(role)
    if status is not None:
        clauses.append("status = %s")
        params.append(status)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def insert_account(sql: Sql, account: ServiceAccount) -> bool:
    """Insert ``account`` (not its keys); False, inserting nothing, if its name is taken.

    ``ON CONFLICT (name) DO NOTHING`` rather than a prior SELECT: a concurrent insert of
    the same name waits for the first and then reports the conflict, instead of failing
    on the unique index as a storage error.
    """
    cursor = sql.execute(
        f"INSERT INTO dg_service_accounts ({_ACCOUNT_COLUMNS}) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING",
        (
            account.account_id,
            account.name,
            account.role,
            _json(list(account.tenants)),
            _json(None if account.permissions is None else list(account.permissions)),
            _json(account.rate_limits),
            account.status,
            account.created_at,
            account.created_by,
            account.disabled_at,
        ),
    )
    return bool(cursor.rowcount == 1)


def insert_key(sql: Sql, key: ApiKey, secret_sha256: str) -> None:
    """Insert ``key`` with its secret's hash (``key.token`` is never stored)."""
    sql.execute(
        f"INSERT INTO dg_api_keys ({_KEY_COLUMNS}, secret_sha256) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (key.key_id, key.account_id, key.created_at, key.created_by, key.expires_at,
         key.last_used_at, key.revoked_at, secret_sha256),
    )  # fmt: skip


def _select_keys(sql: Sql, where: str, params: Sequence[Any]) -> dict[str, list[ApiKey]]:
    """Keys by account id, each list by ``created_at`` then ``key_id``."""
    keys: dict[str, list[ApiKey]] = {}
    for row in sql.all(
        f"SELECT {_KEY_COLUMNS} FROM dg_api_keys{where} ORDER BY account_id, created_at, key_id",
        params,
    ):
        keys.setdefault(row[1], []).append(_key(row))
    return keys


def select_account(sql: Sql, account_id: str, *, for_update: bool = False) -> ServiceAccount | None:
    """One account with its keys, or None. ``for_update`` locks its row until the
    transaction ends on PostgreSQL (SQLite write transactions are serialised anyway),
    so checks made on it (key limit, status) still hold when the transaction writes."""
    lock = " FOR UPDATE" if for_update and sql.dialect == "postgres" else ""
    row = sql.one(
        f"SELECT {_ACCOUNT_COLUMNS} FROM dg_service_accounts WHERE account_id = %s{lock}",
        (account_id,),
    )
    if row is None:
        return None
    keys = _select_keys(sql, " WHERE account_id = %s", (account_id,))
    return _account(row, keys.get(account_id, ()))


def select_accounts(sql: Sql, *, role: str | None, status: str | None) -> list[ServiceAccount]:
    """Accounts (with their keys) matching the filters, by ``created_at`` then
    ``account_id``; two statements, so call it inside one snapshot."""
    where, params = _accounts_filter(role, status)
    rows = sql.all(
        f"SELECT {_ACCOUNT_COLUMNS} FROM dg_service_accounts{where} "
        "ORDER BY created_at, account_id",
        params,
    )
    keys = _select_keys(
        sql, f" WHERE account_id IN (SELECT account_id FROM dg_service_accounts{where})", params
    )
    return [_account(row, keys.get(row[0], ())) for row in rows]


def select_key(sql: Sql, account_id: str, key_id: str) -> ApiKey | None:
    """One key of ``account_id`` (None if unknown or another account's)."""
    row = sql.one(
        f"SELECT {_KEY_COLUMNS} FROM dg_api_keys WHERE key_id = %s AND account_id = %s",
        (key_id, account_id),
    )
    return None if row is None else _key(row)


def count_active_keys(sql: Sql, account_id: str, now: str) -> int:
    """Keys of ``account_id`` neither revoked nor expired at ``now``."""
    row = sql.one(
        "SELECT COUNT(*) FROM dg_api_keys WHERE account_id = %s AND revoked_at IS NULL "
        "AND (expires_at IS NULL OR expires_at > %s)",
        (account_id, now),
    )
    return int(row[0]) if row else 0


def revoke_key(sql: Sql, key_id: str, at: str) -> None:
    """Mark a key revoked at ``at`` (a revoked key keeps its first ``revoked_at``)."""
    sql.execute(
        "UPDATE dg_api_keys SET revoked_at = %s WHERE key_id = %s AND revoked_at IS NULL",
        (at, key_id),
    )


def disable_account(sql: Sql, account_id: str, at: str) -> None:
    """Disable an account and revoke its keys still unrevoked, both at ``at``."""
    sql.execute(
        "UPDATE dg_service_accounts SET status = 'disabled', disabled_at = %s "
        "WHERE account_id = %s AND status = 'active'",
        (at, account_id),
    )
    sql.execute(
        "UPDATE dg_api_keys SET revoked_at = %s WHERE account_id = %s AND revoked_at IS NULL",
        (at, account_id),
    )


def select_credentials(sql: Sql, key_id: str) -> tuple[Any, ...] | None:
    """``(secret_sha256, expires_at, revoked_at, last_used_at, account_id, name, role,
    tenants, permissions, rate_limits, status)`` of a key and its account, or None."""
    return sql.one(_CREDENTIALS, (key_id,))


def touch_key(sql: Sql, key_id: str, at: str, cutoff: str) -> None:
    """Set ``last_used_at`` to ``at`` unless it is already at or after ``cutoff``; the
    guard makes concurrent processes write it at most once per interval."""
    sql.execute(
        "UPDATE dg_api_keys SET last_used_at = %s "
        "WHERE key_id = %s AND (last_used_at IS NULL OR last_used_at < %s)",
        (at, key_id, cutoff),
    )
