-- Indexes of the query layer (spec 6.7). The breadth-first search reads each frontier
-- node's edges in edge_id order and stops after max_edges + 1 of them, so a node with
-- many edges (a shared policy or entity) costs a bounded index range, not a sort of all
-- its edges. (The edge pages use idx_cg_edges_from/_to: log_seq, edge_id order.)

CREATE INDEX idx_cg_edges_from_edge ON dg_cg_edges (tenant_id, version, from_node_id, edge_id);
CREATE INDEX idx_cg_edges_to_edge ON dg_cg_edges (tenant_id, version, to_node_id, edge_id);
