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

-- The first half of every append, in one round trip: take the tenant's write lock
-- (creating its row on first use), then read what the batch's checks need. Each
-- statement of a VOLATILE plpgsql function takes a fresh snapshot, so the reads after
-- the lock see every append committed before it was granted.
-- Rows: kind 0 = tenant (num = last_log_seq, label = last_recorded_at);
--       kind 1 = trace (label = trace_id, num = max trace_seq, flag = finished);
--       kind 2 = stored event id (label); kind 3 = stored event with a requested
--       (producer_id, idempotency_key), in the e_* columns.
CREATE FUNCTION dg_begin_append(
    p_tenant TEXT, p_producers TEXT[], p_keys TEXT[], p_traces TEXT[], p_event_ids TEXT[]
) RETURNS TABLE (
    kind SMALLINT, num BIGINT, flag BOOLEAN, label TEXT,
    e_tenant_id TEXT, e_log_seq BIGINT, e_event_id TEXT, e_trace_id TEXT,
    e_trace_seq BIGINT, e_event_type TEXT, e_occurred_at TEXT, e_recorded_at TEXT,
    e_producer_id TEXT, e_system TEXT, e_subsystem TEXT, e_actor_type TEXT,
    e_actor_id TEXT, e_correlation_id TEXT, e_causation_event_id TEXT,
    e_idempotency_key TEXT, e_schema_version BIGINT, e_payload_json TEXT,
    e_payload_hash TEXT, e_tags_json TEXT
)
LANGUAGE plpgsql VOLATILE
-- Each lookup is a per-key LATERAL probe shaped after its unique index. The store
-- ANALYZEs the log while it is young (PostgresEventStore._refresh_statistics), which
-- also discards plans cached while the statistics still said "empty".
AS $$
DECLARE
    v_tail BIGINT;
    v_recorded TEXT;
BEGIN
    SELECT t.last_log_seq, t.last_recorded_at INTO v_tail, v_recorded
    FROM dg_tenants t WHERE t.tenant_id = p_tenant FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO dg_tenants (tenant_id, last_log_seq, last_recorded_at)
        VALUES (p_tenant, 0, '') ON CONFLICT (tenant_id) DO NOTHING;
        SELECT t.last_log_seq, t.last_recorded_at INTO v_tail, v_recorded
        FROM dg_tenants t WHERE t.tenant_id = p_tenant FOR UPDATE;
    END IF;
    RETURN QUERY SELECT 0::SMALLINT, v_tail, NULL::BOOLEAN, v_recorded,
        NULL, NULL::BIGINT, NULL, NULL, NULL::BIGINT, NULL, NULL, NULL, NULL, NULL,
        NULL, NULL, NULL, NULL, NULL, NULL, NULL::BIGINT, NULL, NULL, NULL;
    -- A trace is finished exactly when its last event is TraceFinished (nothing can be
    -- appended after one), so one backward index probe gives both facts.
    RETURN QUERY SELECT 1::SMALLINT, h.trace_seq, COALESCE(h.event_type = 'TraceFinished', FALSE),
        t.id,
        NULL, NULL::BIGINT, NULL, NULL, NULL::BIGINT, NULL, NULL, NULL, NULL, NULL,
        NULL, NULL, NULL, NULL, NULL, NULL, NULL::BIGINT, NULL, NULL, NULL
    FROM unnest(p_traces) AS t(id)
    LEFT JOIN LATERAL (
        SELECT e.trace_seq, e.event_type FROM dg_event_log e
        WHERE e.tenant_id = p_tenant AND e.trace_id = t.id COLLATE "C"
        ORDER BY e.trace_seq DESC LIMIT 1
    ) AS h ON TRUE;
    RETURN QUERY SELECT 2::SMALLINT, NULL::BIGINT, NULL::BOOLEAN, d.event_id,
        NULL, NULL::BIGINT, NULL, NULL, NULL::BIGINT, NULL, NULL, NULL, NULL, NULL,
        NULL, NULL, NULL, NULL, NULL, NULL, NULL::BIGINT, NULL, NULL, NULL
    FROM unnest(p_event_ids) AS i(id)
    CROSS JOIN LATERAL (
        SELECT e.event_id::TEXT FROM dg_event_log e
        WHERE e.tenant_id = p_tenant AND e.event_id = i.id COLLATE "C" LIMIT 1
    ) AS d;
    RETURN QUERY SELECT 3::SMALLINT, NULL::BIGINT, NULL::BOOLEAN, NULL::TEXT,
        d.tenant_id::TEXT, d.log_seq, d.event_id::TEXT, d.trace_id::TEXT, d.trace_seq,
        d.event_type::TEXT, d.occurred_at::TEXT, d.recorded_at::TEXT, d.producer_id::TEXT,
        d.system::TEXT, d.subsystem::TEXT, d.actor_type::TEXT, d.actor_id::TEXT,
        d.correlation_id::TEXT, d.causation_event_id::TEXT, d.idempotency_key::TEXT,
        d.schema_version, d.payload_json, d.payload_hash::TEXT, d.tags_json
    FROM unnest(p_producers, p_keys) AS k(producer_id, idempotency_key)
    CROSS JOIN LATERAL (
        SELECT e.* FROM dg_event_log e
        WHERE e.tenant_id = p_tenant
          AND e.producer_id = k.producer_id COLLATE "C"
          AND e.idempotency_key = k.idempotency_key COLLATE "C"
        LIMIT 1
    ) AS d;
END;
$$;

-- dg_begin_append for one event (most appends): scalar parameters and one compact row
-- (the tail, the trace's last trace_seq and event type, whether the event id is taken,
-- and the log_seq of an event already holding the idempotency key, if any).
CREATE FUNCTION dg_begin_append_one(
    p_tenant TEXT, p_producer TEXT, p_key TEXT, p_trace TEXT, p_event_id TEXT
) RETURNS TABLE (
    tail BIGINT, last_recorded_at TEXT, trace_last_seq BIGINT, trace_last_type TEXT,
    event_id_taken BOOLEAN, reuse_log_seq BIGINT
)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_tail BIGINT;
    v_recorded TEXT;
    v_seq BIGINT;
    v_type TEXT;
    v_reuse BIGINT;
BEGIN
    SELECT t.last_log_seq, t.last_recorded_at INTO v_tail, v_recorded
    FROM dg_tenants t WHERE t.tenant_id = p_tenant FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO dg_tenants (tenant_id, last_log_seq, last_recorded_at)
        VALUES (p_tenant, 0, '') ON CONFLICT (tenant_id) DO NOTHING;
        SELECT t.last_log_seq, t.last_recorded_at INTO v_tail, v_recorded
        FROM dg_tenants t WHERE t.tenant_id = p_tenant FOR UPDATE;
    END IF;
    SELECT e.trace_seq, e.event_type INTO v_seq, v_type FROM dg_event_log e
    WHERE e.tenant_id = p_tenant AND e.trace_id = p_trace
    ORDER BY e.trace_seq DESC LIMIT 1;
    SELECT e.log_seq INTO v_reuse FROM dg_event_log e
    WHERE e.tenant_id = p_tenant AND e.producer_id = p_producer AND e.idempotency_key = p_key;
    RETURN QUERY SELECT v_tail, v_recorded, v_seq, v_type,
        EXISTS (SELECT 1 FROM dg_event_log e
                WHERE e.tenant_id = p_tenant AND e.event_id = p_event_id),
        v_reuse;
END;
$$;

-- The finished-trace lock is checked by every append, once per batch, inside its
-- transaction and under the tenant lock, so no concurrent append can slip past it.
-- No row trigger repeats that check: it would cost a function call and an index probe
-- per inserted row (the reference's trigger, spec section 8). The partial unique index
-- idx_event_log_trace_finished still refuses a second TraceFinished at the database.

CREATE FUNCTION dg_event_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'dg_event_log is append-only';
END;
$$;

CREATE TRIGGER dg_event_log_append_only
BEFORE UPDATE OR DELETE OR TRUNCATE ON dg_event_log
FOR EACH STATEMENT EXECUTE FUNCTION dg_event_log_append_only();
