"""Authentication and authorisation of HTTP requests (HTTP_API 3).

Invariants:

* a credential is ``dg_<key_id>_<secret>``: ``key_id`` 16 characters ``[a-z0-9]``,
  ``secret`` 43 base64url characters (32 random bytes); only the SHA-256 (hex) of the
  secret is ever stored;
* :meth:`Authenticator.authenticate` answers every bad credential (malformed, unknown,
  wrong secret, revoked, expired, disabled account) with the same :class:`Unauthorized`
  message, compares hashes in constant time, and runs a dummy comparison for unknown
  key ids, so neither the answer nor its timing tells which check failed;
* the key is looked up on every request (no cache of its validity), so a revocation or a
  disabled account takes effect for the next request on every server process;
* ``last_used_at`` is written at most once a minute per key;
* :func:`resolve_tenant` follows the table of HTTP_API 3.3 and :func:`require_permission`
  the permissions of 3.1.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Final

from decisiongraph.domain.clock import format_rfc3339, utc_now
from decisiongraph.domain.tenant import TENANT_ID_PATTERN
from decisiongraph.errors import DecisionGraphError, Forbidden, InvalidArgument, Unauthorized
from decisiongraph.projections.tables import Sql
from decisiongraph.service import account_tables
from decisiongraph.service.permissions import effective_permissions
from decisiongraph.store.base import SqlEventStore

__all__ = [
    "ALL_TENANTS",
    "LAST_USED_INTERVAL_S",
    "TENANT_HEADER",
    "Authenticator",
    "Credentials",
    "Principal",
    "hash_secret",
    "is_well_formed_credential",
    "issue_credentials",
    "require_permission",
    "resolve_tenant",
]

#: The tenant binding that means "every tenant".
ALL_TENANTS: Final = "*"
#: The request header naming the request tenant.
TENANT_HEADER: Final = "X-Tenant-Id"

_KEY_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_KEY_ID_LENGTH = 16
# The prefix, the key id and the secret: the secret may contain "_", the key id may not,
# so matching the whole token is the same as splitting it at its first two underscores.
_TOKEN = re.compile(r"dg_([a-z0-9]{16})_([A-Za-z0-9_-]{43})", re.ASCII)
_UNAUTHORIZED = (
    "Invalid API key: send 'Authorization: Bearer dg_<key_id>_<secret>' with an active key"
)
_MISSING = "Authentication required: send 'Authorization: Bearer dg_<key_id>_<secret>'"
# Compared against when the key id is unknown, so that case costs what a mismatch costs.
_DUMMY_HASH = hashlib.sha256(b"decisiongraph: no such key").hexdigest()
#: ``last_used_at`` is written at most this often per key.
LAST_USED_INTERVAL_S: Final = 60.0

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Credentials:
    """A newly issued key: its id, its secret and the complete token (shown once)."""

    key_id: str
    secret: str = field(repr=False)
    token: str = field(repr=False)


def hash_secret(secret: str) -> str:
    """SHA-256 (lowercase hex) of a key secret: the only form in which it is stored."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def issue_credentials() -> Credentials:
    """A fresh random key id and secret (``secrets``: a CSPRNG) and their token."""
    key_id = "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(_KEY_ID_LENGTH))
    secret = secrets.token_urlsafe(32)  # 32 bytes -> 43 base64url characters, no padding
    return Credentials(key_id, secret, f"dg_{key_id}_{secret}")


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: an account, the key it used and what it may do.

    ``tenants`` holds tenant ids, or exactly ``{"*"}`` for an account bound to every
    tenant; ``permissions`` are the effective ones (HTTP_API 3.1).
    """

    account_id: str
    key_id: str
    name: str
    role: str
    tenants: frozenset[str]
    permissions: frozenset[str]
    rate_limits: dict[str, int] | None = field(default=None, hash=False)

    def has(self, permission: str) -> bool:
        """True if the account holds ``permission`` (on every tenant it is bound to)."""
        return permission in self.permissions

    @property
    def all_tenants(self) -> bool:
        """True if the account is bound to ``*`` (every tenant)."""
        return ALL_TENANTS in self.tenants


def _tenant_error(message: str) -> InvalidArgument:
    return InvalidArgument(
        message,
        {"errors": [{"location": "header", "path": TENANT_HEADER, "message": message}]},
    )


def resolve_tenant(principal: Principal, header_value: str | None) -> str:
    """The request tenant of HTTP_API 3.3, from the key's binding and ``X-Tenant-Id``.

    A header that is not a tenant id (empty or ``*`` included) is InvalidArgument, so is
    a missing header unless the key is bound to exactly one tenant; a tenant the key is
    not bound to is Forbidden with ``details.tenant_id`` (the caller audits it).
    """
    if header_value is None:
        if not principal.all_tenants and len(principal.tenants) == 1:
            (only,) = principal.tenants
            return only
        raise _tenant_error(
            f"The {TENANT_HEADER} header is required: this API key is bound to more than one tenant"
        )
    if TENANT_ID_PATTERN.fullmatch(header_value) is None:
        raise _tenant_error(
            f"Invalid {TENANT_HEADER} header: use 1-64 characters from A-Z a-z 0-9 . _ -, "
            "starting with a letter or digit"
        )
    if principal.all_tenants or header_value in principal.tenants:
        return header_value
    raise Forbidden(
        f"This API key is not bound to tenant {header_value!r}", {"tenant_id": header_value}
    )


def require_permission(principal: Principal, permission: str) -> None:
    """Raise Forbidden (``details.required_permission``) unless ``principal`` holds
    ``permission``."""
    if not principal.has(permission):
        raise Forbidden(
            f"This API key lacks the {permission!r} permission",
            {"required_permission": permission},
        )


def _bearer_token(header: str | None) -> str:
    """The credential of an ``Authorization: Bearer <token>`` header (scheme
    case-insensitive, RFC 7235)."""
    if header is None or not header.strip():
        raise Unauthorized(_MISSING)
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized(_UNAUTHORIZED)
    return token.strip()


def is_well_formed_credential(authorization_header: str | None) -> bool:
    """True if the header has the shape of a key (``Bearer dg_<key_id>_<secret>``),
    without looking it up: lets the API skip reading the body of a request that can
    only get a 401."""
    try:
        return _TOKEN.fullmatch(_bearer_token(authorization_header)) is not None
    except Unauthorized:
        return False


@lru_cache(maxsize=4096)
def _grants(
    role: str, tenants_json: str, permissions_json: str | None
) -> tuple[frozenset[str], frozenset[str]]:
    """Tenants and effective permissions of an account row; cached by the row's text, so
    a request parses no JSON for an account seen before (a changed row is a new entry)."""
    tenants = frozenset(json.loads(tenants_json))
    explicit = None if permissions_json is None else json.loads(permissions_json)
    return tenants, effective_permissions(role, explicit)


@lru_cache(maxsize=4096)
def _limits(rate_limits_json: str) -> tuple[tuple[str, int], ...]:
    return tuple(json.loads(rate_limits_json).items())


class Authenticator:
    """Turns an ``Authorization`` header into a :class:`Principal` (HTTP_API 3.2).

    One instance serves every request of a process (thread-safe). Each call runs one
    indexed query (the key joined with its account, by primary keys); at most once a
    minute per key it also writes ``last_used_at``.
    """

    def __init__(
        self, store: SqlEventStore, *, last_used_interval_s: float = LAST_USED_INTERVAL_S
    ) -> None:
        self._store = store
        self._interval_s = last_used_interval_s
        self._interval = timedelta(seconds=last_used_interval_s)
        # key_id -> time.monotonic() of this process's last last_used_at write: requests
        # racing on one key in this process write once, not once each.
        self._written: dict[str, float] = {}
        self._lock = threading.Lock()

    def authenticate(self, authorization_header: str | None) -> Principal:
        """The principal of a valid key; Unauthorized (one message) for anything else."""
        match = _TOKEN.fullmatch(_bearer_token(authorization_header))
        if match is None:
            raise Unauthorized(_UNAUTHORIZED)
        key_id, secret = match.groups()
        with self._store.single_read() as conn:
            row = account_tables.select_credentials(Sql(conn, self._store.dialect), key_id)
        presented = hash_secret(secret)
        if row is None:
            hmac.compare_digest(presented, _DUMMY_HASH)
            raise Unauthorized(_UNAUTHORIZED)
        (stored, expires_at, revoked_at, last_used_at, account_id, name, role, tenants_json,
         permissions_json, rate_limits_json, status) = row  # fmt: skip
        now = utc_now()
        now_text = format_rfc3339(now)
        # Evaluate every condition (no short circuit before the comparison) and answer
        # them all alike: the response never says which one failed.
        matches = hmac.compare_digest(presented, stored)
        usable = (
            revoked_at is None
            and (expires_at is None or expires_at > now_text)
            and status == "active"
        )
        if not (matches and usable):
            raise Unauthorized(_UNAUTHORIZED)
        try:
            tenants, permissions = _grants(role, tenants_json, permissions_json)
            limits = None if rate_limits_json is None else dict(_limits(rate_limits_json))
        except (ValueError, TypeError, DecisionGraphError):
            _log.error("Service account %s has an unreadable row; refusing its keys", account_id)
            raise Unauthorized(_UNAUTHORIZED) from None
        self._note_use(key_id, last_used_at, now_text, format_rfc3339(now - self._interval))
        return Principal(account_id, key_id, name, role, tenants, permissions, limits)

    def _note_use(self, key_id: str, last_used_at: str | None, now: str, cutoff: str) -> None:
        """Write ``last_used_at`` unless it was written within the interval (by any
        process, as read with the key, or by this one, as remembered)."""
        if last_used_at is not None and last_used_at >= cutoff:
            return
        tick = time.monotonic()
        with self._lock:
            previous = self._written.get(key_id)
            if previous is not None and tick - previous < self._interval_s:
                return
            self._written[key_id] = tick
            if len(self._written) > 4096:
                self._forget_before(tick - self._interval_s)
        try:
            with self._store.transaction() as conn:
                account_tables.touch_key(Sql(conn, self._store.dialect), key_id, now, cutoff)
        except DecisionGraphError as error:
            # Bookkeeping must not fail an authenticated request; the next one retries.
            _log.warning("Could not record last_used_at of key %s: %s", key_id, error)
            with self._lock:
                self._written.pop(key_id, None)

    def _forget_before(self, tick: float) -> None:
        """Drop remembered writes older than ``tick`` (called with the lock held)."""
        for key_id in [k for k, t in self._written.items() if t < tick]:
            del self._written[key_id]
