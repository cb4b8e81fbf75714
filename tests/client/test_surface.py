"""The client's public surface: the façade's methods with the façade's signatures."""

from __future__ import annotations

import inspect

import decisiongraph
from decisiongraph import Client, DecisionGraph

FACADE_METHODS = (
    "append_event", "start_trace", "finish_trace", "observe_input", "observe_entity",
    "evaluate_policy", "request_exception", "record_approval", "cite_precedent",
    "propose_action", "commit_action", "get_trace_events", "get_trace_summary", "get_trace",
    "get_context_subgraph", "list_node_edges", "find_precedents", "get_projection_health",
    "is_trace_finished",
)  # fmt: skip


def _shape(function: object) -> list[tuple[str, object, object]]:
    """Parameter names, kinds and defaults (annotations are strings of each module)."""
    parameters = inspect.signature(function).parameters.values()  # type: ignore[arg-type]
    return [(p.name, p.kind, p.default) for p in parameters]


def test_the_facade_methods_have_the_facades_signatures() -> None:
    for name in FACADE_METHODS:
        assert _shape(getattr(Client, name)) == _shape(getattr(DecisionGraph, name)), name
        facade_return = inspect.signature(getattr(DecisionGraph, name)).return_annotation
        assert inspect.signature(getattr(Client, name)).return_annotation == facade_return, name


def test_client_is_exported() -> None:
    assert decisiongraph.Client is Client
    assert "Client" in decisiongraph.__all__
    assert decisiongraph.__all__[:3] == ["__version__", "DecisionGraph", "DecisionGraphError"]
