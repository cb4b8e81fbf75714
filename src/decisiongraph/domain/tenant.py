"""Tenant ids (HTTP_API 1.2): ``^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$``; ``*`` is reserved."""

from __future__ import annotations

import re

from decisiongraph.errors import InvalidArgument

__all__ = ["DEFAULT_TENANT", "TENANT_ID_PATTERN", "validate_tenant_id"]

DEFAULT_TENANT = "default"
TENANT_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)


def validate_tenant_id(tenant_id: str) -> str:
    """Return ``tenant_id`` if valid, else raise InvalidArgument saying what is allowed."""
    if not isinstance(tenant_id, str) or TENANT_ID_PATTERN.fullmatch(tenant_id) is None:
        raise InvalidArgument(
            f"Invalid tenant id {tenant_id!r}: use 1-64 characters from A-Z a-z 0-9 . _ -, "
            "starting with a letter or digit",
            {"errors": [{"location": "tenant", "path": "tenant_id", "message": "invalid"}]},
        )
    return tenant_id
