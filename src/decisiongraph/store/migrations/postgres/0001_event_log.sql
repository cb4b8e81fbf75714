-- Event log of DecisionGraph (PostgreSQL). Multi-tenant: every row carries tenant_id
-- and every identity is scoped by it (spec 13). Ids and text compare in code-point
-- order (COLLATE "C", spec 14.1). The log is append-only: triggers refuse UPDATE,
-- DELETE and TRUNCATE.

CREATE TABLE dg_tenants (
    tenant_id        TEXT COLLATE "C" PRIMARY KEY,
    last_log_seq     BIGINT NOT NULL,
    last_recorded_at TEXT COLLATE "C" NOT NULL
);

CREATE TABLE dg_event_log (
    tenant_id          TEXT COLLATE "C" NOT NULL,
    log_seq            BIGINT NOT NULL,
    event_id           TEXT COLLATE "C" NOT NULL,
    trace_id           TEXT COLLATE "C" NOT NULL,
    trace_seq          BIGINT NOT NULL,
    event_type         TEXT COLLATE "C" NOT NULL,
    occurred_at        TEXT COLLATE "C" NOT NULL,
    recorded_at        TEXT COLLATE "C" NOT NULL,
    producer_id        TEXT COLLATE "C" NOT NULL,
    system             TEXT COLLATE "C" NOT NULL,
    subsystem          TEXT COLLATE "C" NULL,
    actor_type         TEXT COLLATE "C" NOT NULL,
    actor_id           TEXT COLLATE "C" NOT NULL,
    correlation_id     TEXT COLLATE "C" NULL,
    causation_event_id TEXT COLLATE "C" NULL,
    idempotency_key    TEXT COLLATE "C" NOT NULL,
    schema_version     BIGINT NOT NULL,
    payload_json       TEXT NOT NULL,
    payload_hash       TEXT COLLATE "C" NOT NULL,
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

-- The finished-trace lock: appends check it under the tenant lock, once per batch;
-- this trigger is the database's own guard against any other writer.
CREATE FUNCTION dg_block_events_after_finish() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.event_type <> 'TraceFinished' AND EXISTS (
        SELECT 1 FROM dg_event_log
        WHERE tenant_id = NEW.tenant_id AND trace_id = NEW.trace_id
          AND event_type = 'TraceFinished'
    ) THEN
        RAISE EXCEPTION 'trace_finished';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER dg_block_events_after_finish
BEFORE INSERT ON dg_event_log
FOR EACH ROW EXECUTE FUNCTION dg_block_events_after_finish();

CREATE FUNCTION dg_event_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'dg_event_log is append-only';
END;
$$;

CREATE TRIGGER dg_event_log_append_only
BEFORE UPDATE OR DELETE OR TRUNCATE ON dg_event_log
FOR EACH STATEMENT EXECUTE FUNCTION dg_event_log_append_only();
