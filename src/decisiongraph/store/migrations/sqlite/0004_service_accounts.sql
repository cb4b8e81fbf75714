-- Service accounts, their API keys and the audit log of the HTTP service (HTTP_API 2.14,
-- 3, 5). Timestamps are text in the store's format (YYYY-MM-DDTHH:MM:SS.ffffffZ), so
-- they compare in time order as strings. JSON columns hold compact JSON text.

CREATE TABLE dg_service_accounts (
    account_id  TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('reader', 'writer', 'admin')),
    tenants     TEXT NOT NULL,
    permissions TEXT NULL,
    rate_limits TEXT NULL,
    status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at  TEXT NOT NULL,
    created_by  TEXT NULL,
    disabled_at TEXT NULL
);
-- The listing order of GET /admin/service-accounts.
CREATE INDEX idx_service_accounts_created ON dg_service_accounts (created_at, account_id);

-- Only the SHA-256 (hex) of a key's secret is stored; the secret itself never is.
CREATE TABLE dg_api_keys (
    key_id        TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES dg_service_accounts (account_id),
    secret_sha256 TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    created_by    TEXT NULL,
    expires_at    TEXT NULL,
    last_used_at  TEXT NULL,
    revoked_at    TEXT NULL
);
CREATE INDEX idx_api_keys_account ON dg_api_keys (account_id, created_at, key_id);

-- AUTOINCREMENT: audit ids are never reused, so they strictly increase in insertion order.
CREATE TABLE dg_audit_log (
    audit_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at             TEXT NOT NULL,
    tenant_id      TEXT NOT NULL,
    account_id     TEXT NULL,
    request_id     TEXT NULL,
    action         TEXT NOT NULL,
    target         TEXT NULL,
    reason         TEXT NULL,
    outcome        TEXT NOT NULL CHECK (outcome IN ('succeeded', 'denied', 'rejected')),
    client_address TEXT NULL,
    details        TEXT NOT NULL DEFAULT '{}'
);
-- A tenant's entries, newest first (GET /admin/audit).
CREATE INDEX idx_audit_log_tenant ON dg_audit_log (tenant_id, audit_id);

CREATE TRIGGER dg_audit_log_no_update BEFORE UPDATE ON dg_audit_log
BEGIN
    SELECT RAISE(ABORT, 'dg_audit_log is append-only');
END;

CREATE TRIGGER dg_audit_log_no_delete BEFORE DELETE ON dg_audit_log
BEGIN
    SELECT RAISE(ABORT, 'dg_audit_log is append-only');
END;
