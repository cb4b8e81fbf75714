"""Per-database service secrets (table ``dg_service_secrets``).

:func:`cursor_secret` returns the HMAC key of the opaque page cursors. It is created
on first use (64 random hex characters) with an insert that ignores a concurrent
creator, then read back, so every process of one database agrees on the same key and
cursors stay valid across restarts (HTTP_API 1.7). ``DG_CURSOR_SECRET`` overrides it.
"""

from __future__ import annotations

import secrets

from decisiongraph.domain.clock import now_rfc3339
from decisiongraph.projections.tables import Sql
from decisiongraph.store.base import SqlEventStore

__all__ = ["cursor_secret"]

_CURSOR_SECRET = "cursor_hmac_key"


def cursor_secret(store: SqlEventStore) -> str:
    """The database's cursor key, created by the first process that asks."""
    with store.transaction() as conn:
        sql = Sql(conn, store.dialect)
        sql.execute(
            "INSERT INTO dg_service_secrets (name, value, created_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (name) DO NOTHING",
            (_CURSOR_SECRET, secrets.token_hex(32), now_rfc3339()),
        )
        row = sql.one("SELECT value FROM dg_service_secrets WHERE name = %s", (_CURSOR_SECRET,))
    assert row is not None  # inserted above or by a concurrent creator
    return str(row[0])
