"""Roles and permissions of the HTTP service (HTTP_API 3.1).

Invariants:

* every permission belongs to the admin role; ``reader`` ⊂ ``writer`` ⊂ ``admin``;
* an account's effective permissions are its role's set, or an explicit list that can
  only narrow it (a non-empty subset); they apply equally to every tenant it is bound to;
* permission lists leave this module in :data:`ALL_PERMISSIONS` order, so every response
  and stored row lists them the same way whatever order a caller gave.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from decisiongraph.errors import InvalidArgument

__all__ = [
    "ACCOUNTS_MANAGE",
    "ALL_PERMISSIONS",
    "AUDIT_READ",
    "EVENTS_STREAM",
    "EVENTS_WRITE",
    "GRAPH_READ",
    "HEALTH_READ",
    "PRECEDENTS_READ",
    "REPLAY_CATCH_UP",
    "REPLAY_REBUILD",
    "ROLES",
    "ROLE_PERMISSIONS",
    "TRACES_READ",
    "effective_permissions",
    "ordered",
    "role_permissions",
]

EVENTS_WRITE: Final = "events:write"
TRACES_READ: Final = "traces:read"
GRAPH_READ: Final = "graph:read"
PRECEDENTS_READ: Final = "precedents:read"
HEALTH_READ: Final = "health:read"
EVENTS_STREAM: Final = "events:stream"
REPLAY_CATCH_UP: Final = "replay:catch_up"
REPLAY_REBUILD: Final = "replay:rebuild"
ACCOUNTS_MANAGE: Final = "accounts:manage"
AUDIT_READ: Final = "audit:read"

#: Every permission, in the order of the table of HTTP_API 3.1.
ALL_PERMISSIONS: tuple[str, ...] = (
    EVENTS_WRITE,
    TRACES_READ,
    GRAPH_READ,
    PRECEDENTS_READ,
    HEALTH_READ,
    EVENTS_STREAM,
    REPLAY_CATCH_UP,
    REPLAY_REBUILD,
    ACCOUNTS_MANAGE,
    AUDIT_READ,
)

_READER = frozenset({TRACES_READ, GRAPH_READ, PRECEDENTS_READ, HEALTH_READ, EVENTS_STREAM})
_WRITER = _READER | {EVENTS_WRITE}

#: The permission set of each role.
ROLE_PERMISSIONS: Mapping[str, frozenset[str]] = {
    "reader": _READER,
    "writer": _WRITER,
    "admin": frozenset(ALL_PERMISSIONS),
}
#: The roles, least privileged first.
ROLES: tuple[str, ...] = tuple(ROLE_PERMISSIONS)

_RANK = {name: index for index, name in enumerate(ALL_PERMISSIONS)}


def _invalid(path: str, message: str) -> InvalidArgument:
    return InvalidArgument(
        message, {"errors": [{"location": "body", "path": path, "message": message}]}
    )


def ordered(permissions: Iterable[str]) -> list[str]:
    """``permissions`` without duplicates, in :data:`ALL_PERMISSIONS` order.

    Every item must be a known permission (callers validate first).
    """
    return sorted(set(permissions), key=_RANK.__getitem__)


def role_permissions(role: str) -> frozenset[str]:
    """The permission set of ``role``; InvalidArgument for an unknown role."""
    try:
        return ROLE_PERMISSIONS[role]
    except (KeyError, TypeError):
        raise _invalid("$.role", f"Unknown role {role!r}: use one of {', '.join(ROLES)}") from None


def effective_permissions(role: str, explicit: Iterable[str] | None = None) -> frozenset[str]:
    """The permissions an account of ``role`` holds given its ``explicit`` list.

    ``None`` means the role's full set. An explicit list must be a non-empty subset of
    the role's set (duplicates are harmless); anything else is InvalidArgument, so an
    explicit list can never widen what the role grants.
    """
    granted = role_permissions(role)
    if explicit is None:
        return granted
    if isinstance(explicit, str):  # a lone string would iterate as characters
        raise _invalid("$.permissions", "permissions must be a list of permission names")
    chosen = list(explicit)
    if not chosen:
        raise _invalid(
            "$.permissions",
            "permissions must not be empty: omit it to grant the role's permissions",
        )
    unknown = [p for p in chosen if not isinstance(p, str) or p not in _RANK]
    if unknown:
        raise _invalid(
            "$.permissions",
            f"Unknown permission(s) {', '.join(map(repr, unknown))}: "
            f"use names from {', '.join(ALL_PERMISSIONS)}",
        )
    beyond = [p for p in ordered(chosen) if p not in granted]
    if beyond:
        raise _invalid(
            "$.permissions",
            f"The {role} role does not grant {', '.join(beyond)}: explicit permissions can "
            "only narrow the role's set",
        )
    return frozenset(chosen)
