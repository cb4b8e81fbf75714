-- Service accounts, their API keys and the audit log of the HTTP service (HTTP_API 2.14,
-- 3, 5). Ids and text compare in code-point order (COLLATE "C"). Timestamps are text in
-- the store's format (YYYY-MM-DDTHH:MM:SS.ffffffZ), so they compare in time order as
-- strings. JSON columns hold compact JSON text.

CREATE TABLE dg_service_accounts (
    account_id  TEXT COLLATE "C" PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL UNIQUE,
    role        TEXT COLLATE "C" NOT NULL CHECK (role IN ('reader', 'writer', 'admin')),
    tenants     TEXT NOT NULL,
    permissions TEXT NULL,
    rate_limits TEXT NULL,
    status      TEXT COLLATE "C" NOT NULL DEFAULT 'active'
                CHECK (status IN ('active', 'disabled')),
    created_at  TEXT COLLATE "C" NOT NULL,
    created_by  TEXT COLLATE "C" NULL,
    disabled_at TEXT COLLATE "C" NULL
);
-- The listing order of GET /admin/service-accounts.
CREATE INDEX idx_service_accounts_created ON dg_service_accounts (created_at, account_id);

-- Only the SHA-256 (hex) of a key's secret is stored; the secret itself never is.
CREATE TABLE dg_api_keys (
    key_id        TEXT COLLATE "C" PRIMARY KEY,
    account_id    TEXT COLLATE "C" NOT NULL REFERENCES dg_service_accounts (account_id),
    secret_sha256 TEXT COLLATE "C" NOT NULL,
    created_at    TEXT COLLATE "C" NOT NULL,
    created_by    TEXT COLLATE "C" NULL,
    expires_at    TEXT COLLATE "C" NULL,
    last_used_at  TEXT COLLATE "C" NULL,
    revoked_at    TEXT COLLATE "C" NULL
);
CREATE INDEX idx_api_keys_account ON dg_api_keys (account_id, created_at, key_id);

-- An identity column never reuses a value, so audit ids strictly increase in insertion
-- order.
CREATE TABLE dg_audit_log (
    audit_id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             TEXT COLLATE "C" NOT NULL,
    tenant_id      TEXT COLLATE "C" NOT NULL,
    account_id     TEXT COLLATE "C" NULL,
    request_id     TEXT COLLATE "C" NULL,
    action         TEXT COLLATE "C" NOT NULL,
    target         TEXT COLLATE "C" NULL,
    reason         TEXT NULL,
    outcome        TEXT COLLATE "C" NOT NULL
                   CHECK (outcome IN ('succeeded', 'denied', 'rejected')),
    client_address TEXT COLLATE "C" NULL,
    details        TEXT NOT NULL DEFAULT '{}'
);
-- A tenant's entries, newest first (GET /admin/audit).
CREATE INDEX idx_audit_log_tenant ON dg_audit_log (tenant_id, audit_id);

CREATE FUNCTION dg_audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'dg_audit_log is append-only';
END;
$$;

CREATE TRIGGER dg_audit_log_append_only
BEFORE UPDATE OR DELETE OR TRUNCATE ON dg_audit_log
FOR EACH STATEMENT EXECUTE FUNCTION dg_audit_log_append_only();
