-- Secrets the service generates once per database and shares between its processes:
-- the HMAC key of opaque page cursors (HTTP_API 1.7: cursors do not expire, so the key
-- must survive restarts and be the same in every server process of a deployment).
CREATE TABLE dg_service_secrets (
    name       TEXT COLLATE "C" PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at TEXT NOT NULL
);
