-- Indexes of the query layer.

-- The breadth-first search (spec 6.7) reads each frontier node's edges in edge_id order
-- and stops early, so a node with many edges (a policy, an entity or an actor shared by
-- many traces) costs a bounded index range, not a sort of all its edges. (Edge pages use
-- idx_cg_edges_from/_to, in log_seq order.) Without these, a database without planner
-- statistics may walk the whole primary key in edge_id order instead.
CREATE INDEX idx_cg_edges_from_edge ON dg_cg_edges (tenant_id, version, from_node_id, edge_id);
CREATE INDEX idx_cg_edges_to_edge ON dg_cg_edges (tenant_id, version, to_node_id, edge_id);

-- Precedent search (spec 6.8) probes "does this trace have a row of this policy?" per
-- finished trace, newest first: the key answers it without reading the table rows.
CREATE INDEX idx_precedent_policy_trace
    ON dg_precedent_index (tenant_id, version, policy_id, trace_id, policy_version);

-- Finished traces of an entity type (and id), newest first: the precedent search's
-- entity filters (spec 6.8) walk these in order instead of sorting every match.
CREATE INDEX idx_trace_summary_entity_type_finished
    ON dg_trace_summary (tenant_id, version, primary_entity_type, last_log_seq)
    WHERE outcome IS NOT NULL;
CREATE INDEX idx_trace_summary_entity_finished
    ON dg_trace_summary (tenant_id, version, primary_entity_type, primary_entity_id, last_log_seq)
    WHERE outcome IS NOT NULL;
