-- Projection tables (spec 6, 8, 13.6). Every row carries tenant_id and the projection
-- version it belongs to: a rebuild writes a new version beside the live one and
-- switches the live pointer in dg_projection_meta in one transaction, so readers never
-- see a partly built projection.

CREATE TABLE dg_projection_meta (
    tenant_id              TEXT NOT NULL,
    projection_name        TEXT NOT NULL,
    live_version           INTEGER NOT NULL DEFAULT 1,
    last_processed_log_seq INTEGER NOT NULL DEFAULT 0,
    updated_at             TEXT NOT NULL,
    build_version          INTEGER NULL,
    build_log_seq          INTEGER NULL,
    build_run_id           TEXT NULL,
    status                 TEXT NOT NULL DEFAULT 'ok',
    PRIMARY KEY (tenant_id, projection_name)
);

CREATE TABLE dg_projection_failures (
    failure_id      INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       TEXT NOT NULL,
    projection_name TEXT NOT NULL,
    log_seq         INTEGER NOT NULL,
    event_id        TEXT NOT NULL,
    code            TEXT NOT NULL,
    message         TEXT NOT NULL,
    at              TEXT NOT NULL,
    resolved_at     TEXT NULL
);
CREATE INDEX idx_projection_failures_open
    ON dg_projection_failures (tenant_id, projection_name) WHERE resolved_at IS NULL;

CREATE TABLE dg_cg_nodes (
    tenant_id     TEXT NOT NULL,
    version       INTEGER NOT NULL,
    node_id       TEXT NOT NULL,
    node_type     TEXT NOT NULL,
    trace_id      TEXT NOT NULL,
    log_seq       INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    metadata_json TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant_id, version, node_id)
);
CREATE INDEX idx_cg_nodes_trace_id ON dg_cg_nodes (tenant_id, version, trace_id);
CREATE INDEX idx_cg_nodes_type ON dg_cg_nodes (tenant_id, version, node_type);

CREATE TABLE dg_cg_edges (
    tenant_id     TEXT NOT NULL,
    version       INTEGER NOT NULL,
    edge_id       TEXT NOT NULL,
    edge_type     TEXT NOT NULL,
    from_node_id  TEXT NOT NULL,
    to_node_id    TEXT NOT NULL,
    trace_id      TEXT NOT NULL,
    log_seq       INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    metadata_json TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant_id, version, edge_id),
    FOREIGN KEY (tenant_id, version, from_node_id)
        REFERENCES dg_cg_nodes (tenant_id, version, node_id),
    FOREIGN KEY (tenant_id, version, to_node_id)
        REFERENCES dg_cg_nodes (tenant_id, version, node_id)
);
CREATE INDEX idx_cg_edges_from ON dg_cg_edges (tenant_id, version, from_node_id, log_seq, edge_id);
CREATE INDEX idx_cg_edges_to ON dg_cg_edges (tenant_id, version, to_node_id, log_seq, edge_id);
CREATE INDEX idx_cg_edges_trace_id ON dg_cg_edges (tenant_id, version, trace_id);
CREATE INDEX idx_cg_edges_type ON dg_cg_edges (tenant_id, version, edge_type);

CREATE TABLE dg_trace_summary (
    tenant_id           TEXT NOT NULL,
    version             INTEGER NOT NULL,
    trace_id            TEXT NOT NULL,
    workflow            TEXT NOT NULL,
    title               TEXT NOT NULL,
    primary_entity_type TEXT NULL,
    primary_entity_id   TEXT NULL,
    outcome             TEXT NULL,
    started_at          TEXT NOT NULL,
    finished_at         TEXT NULL,
    event_count         INTEGER NOT NULL DEFAULT 0,
    last_log_seq        INTEGER NOT NULL,
    started_log_seq     INTEGER NOT NULL,
    event_total         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, version, trace_id)
);
CREATE INDEX idx_trace_summary_started ON dg_trace_summary (tenant_id, version, started_log_seq);
CREATE INDEX idx_trace_summary_finished
    ON dg_trace_summary (tenant_id, version, last_log_seq) WHERE outcome IS NOT NULL;
CREATE INDEX idx_trace_summary_workflow ON dg_trace_summary (tenant_id, version, workflow);
CREATE INDEX idx_trace_summary_outcome ON dg_trace_summary (tenant_id, version, outcome);
CREATE INDEX idx_trace_summary_entity
    ON dg_trace_summary (tenant_id, version, primary_entity_type, primary_entity_id);

CREATE TABLE dg_policy_eval_index (
    tenant_id      TEXT NOT NULL,
    version        INTEGER NOT NULL,
    index_id       TEXT NOT NULL,
    trace_id       TEXT NOT NULL,
    policy_id      TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    log_seq        INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, version, index_id),
    FOREIGN KEY (tenant_id, version, trace_id)
        REFERENCES dg_trace_summary (tenant_id, version, trace_id)
);
CREATE INDEX idx_policy_eval_policy ON dg_policy_eval_index (tenant_id, version, policy_id, policy_version);
CREATE INDEX idx_policy_eval_trace_id ON dg_policy_eval_index (tenant_id, version, trace_id);

CREATE TABLE dg_precedent_index (
    tenant_id             TEXT NOT NULL,
    version               INTEGER NOT NULL,
    source_event_id       TEXT NOT NULL,
    log_seq               INTEGER NOT NULL,
    trace_id              TEXT NOT NULL,
    policy_id             TEXT NOT NULL,
    policy_version        TEXT NOT NULL,
    exception_id          TEXT NULL,
    primary_entity_type   TEXT NULL,
    primary_entity_system TEXT NULL,
    primary_entity_id     TEXT NULL,
    PRIMARY KEY (tenant_id, version, source_event_id)
);
CREATE INDEX idx_precedent_policy ON dg_precedent_index (tenant_id, version, policy_id, policy_version);
CREATE INDEX idx_precedent_trace ON dg_precedent_index (tenant_id, version, trace_id);
CREATE INDEX idx_precedent_exception ON dg_precedent_index (tenant_id, version, exception_id);
CREATE INDEX idx_precedent_entity ON dg_precedent_index
    (tenant_id, version, primary_entity_type, primary_entity_system, primary_entity_id);
CREATE INDEX idx_precedent_log_seq ON dg_precedent_index (tenant_id, version, log_seq);
