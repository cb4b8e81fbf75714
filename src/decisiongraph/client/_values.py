"""Value objects and mappings as the façade accepts them, turned into payload JSON and
envelope parts exactly as ``decisiongraph.service.facade`` does (a copy: the client may
not import the service layer)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from decisiongraph.domain.envelope import ActorRef, SourceRef
from decisiongraph.domain.values import EntityRef

__all__ = ["ActorLike", "SourceLike", "as_actor", "as_source", "entity_json", "plain"]

SourceLike = SourceRef | Mapping[str, Any]
ActorLike = ActorRef | Mapping[str, Any]


def plain(value: Any) -> Any:
    """Payload JSON of a value object (``dataclasses.asdict``), a mapping or a list."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def as_source(value: SourceLike) -> SourceRef:
    if isinstance(value, SourceRef):
        return value
    return SourceRef(value["producer_id"], value["system"], value.get("subsystem"))


def as_actor(value: ActorLike) -> ActorRef:
    if isinstance(value, ActorRef):
        return value
    return ActorRef(value["actor_type"], value["actor_id"])


def entity_json(value: EntityRef | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(value, EntityRef):
        return dataclasses.asdict(value)
    return {
        "entity_type": value["entity_type"],
        "entity_id": value["entity_id"],
        "system": value.get("system"),
    }
