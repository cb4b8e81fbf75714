"""DecisionGraph: an append-only, multi-tenant decision audit trail for AI agents.

The public surface grows issue by issue; see ``docs/reference/STORE_CONTRACT.md``.
"""

from decisiongraph.client import Client
from decisiongraph.domain.envelope import ActorRef, SourceRef
from decisiongraph.domain.event_types import (
    ALL_EVENT_TYPES,
    EVENT_TYPE_ACTION_COMMITTED,
    EVENT_TYPE_ACTION_PROPOSED,
    EVENT_TYPE_APPROVAL_RECORDED,
    EVENT_TYPE_ENTITY_OBSERVED,
    EVENT_TYPE_EXCEPTION_REQUESTED,
    EVENT_TYPE_INPUT_OBSERVED,
    EVENT_TYPE_POLICY_EVALUATED,
    EVENT_TYPE_PRECEDENT_CITED,
    EVENT_TYPE_TRACE_FINISHED,
    EVENT_TYPE_TRACE_STARTED,
)
from decisiongraph.domain.values import (
    ApprovalSubject,
    Change,
    EntityRef,
    EvidenceRef,
    Fact,
    PolicyRef,
    SourceObjectRef,
    Value,
    Violation,
)
from decisiongraph.errors import DecisionGraphError
from decisiongraph.service.facade import DecisionGraph

__version__ = "0.1.0"

__all__ = [  # noqa: RUF022 - spec section 9 freezes this order
    "__version__",
    "DecisionGraph",
    "DecisionGraphError",
    "EVENT_TYPE_TRACE_STARTED",
    "EVENT_TYPE_INPUT_OBSERVED",
    "EVENT_TYPE_ENTITY_OBSERVED",
    "EVENT_TYPE_POLICY_EVALUATED",
    "EVENT_TYPE_EXCEPTION_REQUESTED",
    "EVENT_TYPE_APPROVAL_RECORDED",
    "EVENT_TYPE_PRECEDENT_CITED",
    "EVENT_TYPE_ACTION_PROPOSED",
    "EVENT_TYPE_ACTION_COMMITTED",
    "EVENT_TYPE_TRACE_FINISHED",
    "ALL_EVENT_TYPES",
    # Value objects of the façade (spec 2), after the frozen names.
    "ActorRef",
    "ApprovalSubject",
    "Change",
    "EntityRef",
    "EvidenceRef",
    "Fact",
    "PolicyRef",
    "SourceObjectRef",
    "SourceRef",
    "Value",
    "Violation",
    # The HTTP client with the façade's methods (HTTP_API 8).
    "Client",
]
