-- Event log of DecisionGraph (SQLite). Multi-tenant: every row carries tenant_id and
-- every identity is scoped by it (spec 13). The log is append-only: triggers refuse
-- UPDATE and DELETE.

CREATE TABLE dg_tenants (
    tenant_id        TEXT PRIMARY KEY,
    last_log_seq     INTEGER NOT NULL,
    last_recorded_at TEXT NOT NULL
);

CREATE TABLE dg_event_log (
    tenant_id          TEXT NOT NULL,
    log_seq            INTEGER NOT NULL,
    event_id           TEXT NOT NULL,
    trace_id           TEXT NOT NULL,
    trace_seq          INTEGER NOT NULL,
    event_type         TEXT NOT NULL,
    occurred_at        TEXT NOT NULL,
    recorded_at        TEXT NOT NULL,
    producer_id        TEXT NOT NULL,
    system             TEXT NOT NULL,
    subsystem          TEXT NULL,
    actor_type         TEXT NOT NULL,
    actor_id           TEXT NOT NULL,
    correlation_id     TEXT NULL,
    causation_event_id TEXT NULL,
    idempotency_key    TEXT NOT NULL,
    schema_version     INTEGER NOT NULL,
    payload_json       TEXT NOT NULL,
    payload_hash       TEXT NOT NULL,
    tags_json          TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (tenant_id, log_seq)
);

CREATE UNIQUE INDEX idx_event_log_event_id ON dg_event_log (tenant_id, event_id);
CREATE UNIQUE INDEX idx_event_log_trace_seq ON dg_event_log (tenant_id, trace_id, trace_seq);
CREATE UNIQUE INDEX idx_event_log_idempotency
    ON dg_event_log (tenant_id, producer_id, idempotency_key);
CREATE UNIQUE INDEX idx_event_log_trace_finished
    ON dg_event_log (tenant_id, trace_id) WHERE event_type = 'TraceFinished';
CREATE INDEX idx_event_log_event_type ON dg_event_log (tenant_id, event_type, log_seq);
CREATE INDEX idx_event_log_correlation_id
    ON dg_event_log (tenant_id, correlation_id) WHERE correlation_id IS NOT NULL;

CREATE TRIGGER dg_block_events_after_finish
BEFORE INSERT ON dg_event_log
WHEN NEW.event_type != 'TraceFinished' AND EXISTS (
    SELECT 1 FROM dg_event_log
    WHERE tenant_id = NEW.tenant_id AND trace_id = NEW.trace_id
      AND event_type = 'TraceFinished'
)
BEGIN
    SELECT RAISE(ABORT, 'trace_finished');
END;

CREATE TRIGGER dg_event_log_no_update BEFORE UPDATE ON dg_event_log
BEGIN
    SELECT RAISE(ABORT, 'dg_event_log is append-only');
END;

CREATE TRIGGER dg_event_log_no_delete BEFORE DELETE ON dg_event_log
BEGIN
    SELECT RAISE(ABORT, 'dg_event_log is append-only');
END;
