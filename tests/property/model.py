"""A pure-Python model of the stateful append pipeline, and random operation sequences.

:class:`AppendModel` implements spec 4.1 steps 8-10 (idempotent reuse, the finished-trace
lock, trace_seq rules) and the duplicate ``event_id`` rule of 13.3 for one tenant, written
from the spec and independent of ``decisiongraph.store``. Envelopes that fail a stateless
check (4.1 steps 1-7, 14.6, 14.7) are generated on purpose, one defect each, and carry the
code they must fail with.

:func:`op_sequences` and :func:`batch_scenarios` generate operations over a few traces,
producers, idempotency keys and event ids: next events, wrong trace_seq, finishing,
appending after the finish, exact and "moved" retries, retries with a changed payload or
metadata, duplicate event ids, TraceStarted at seq != 0, other types at seq 0 and
stateless-invalid envelopes. Ids repeat across examples on purpose: every example runs in
a fresh tenant of a shared store, so a leak between tenants (spec 13.1, 13.3) fails.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from decisiongraph.domain.envelope import ActorRef, EventEnvelope, SourceRef, StoredEvent
from decisiongraph.errors import DecisionGraphError
from decisiongraph.store.base import BatchOutcome, SqlEventStore
from tests.helpers import MINIMAL_PAYLOADS

__all__ = [
    "AppendModel",
    "Observed",
    "Op",
    "append_one",
    "batch_scenarios",
    "event_fields",
    "fresh_tenant",
    "observe",
    "op_sequences",
]

INVALID_ARGUMENT = "DG_ERR_INVALID_ARGUMENT"
SCHEMA_VIOLATION = "DG_ERR_SCHEMA_VIOLATION"
PII_POLICY_VIOLATION = "DG_ERR_PII_POLICY_VIOLATION"
IDEMPOTENCY_CONFLICT = "DG_ERR_IDEMPOTENCY_CONFLICT"
EVENT_SEQUENCE_INVALID = "DG_ERR_EVENT_SEQUENCE_INVALID"
CONFLICT = "DG_ERR_CONFLICT"

TRACE_STARTED = "TraceStarted"
TRACE_FINISHED = "TraceFinished"
MIDDLE_TYPES = tuple(t for t in MINIMAL_PAYLOADS if t not in (TRACE_STARTED, TRACE_FINISHED))

TRACE_IDS = ("tr-a", "tr-b", "Tr-é")
PRODUCERS = ("prod-1", "prod-2")
SHARED_KEYS = ("key-0", "key-1")
OCCURRED_AT = ("2025-12-31T12:00:00Z", "2026-01-01T08:30:00.123456+02:00")

#: ``(status, value)``: ``("appended", log_seq)``, ``("reused", log_seq)`` or
#: ``("error", code)``, plus the returned event's fields for accepted appends.
Outcome = tuple[str, int | str]
Observed = tuple[Outcome, dict[str, Any] | None]


def fresh_tenant() -> str:
    """A tenant id no other example uses: an empty log in a shared store (spec 13.1)."""
    return f"prop-{uuid.uuid4().hex}"


# ------------------------------------------------------------------------------ model


def canonical_text(payload: dict[str, Any]) -> str:
    """Spec 3.1, computed here without the package."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def model_payload_hash(payload: dict[str, Any]) -> str:
    """Spec 3.2, computed here without the package."""
    return "sha256:" + hashlib.sha256(canonical_text(payload).encode("utf-8")).hexdigest()


#: The envelope fields compared for an idempotent reuse (spec 4.1 step 8), in order.
REUSE_FIELDS = (
    "trace_id",
    "event_type",
    "source",
    "actor",
    "correlation_id",
    "causation_event_id",
    "schema_version",
    "tags",
)


@dataclass(frozen=True)
class Op:
    """One append: what kind of operation produced it, the envelope, and the code of its
    stateless defect (None when the envelope passes every stateless check)."""

    kind: str
    envelope: EventEnvelope
    stateless_code: str | None = None


@dataclass
class AppendModel:
    """One tenant's log, as spec 4.1 steps 8-11 and 13.3 say it evolves."""

    log: list[dict[str, Any]] = field(default_factory=list)
    by_key: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    last_seq: dict[str, int] = field(default_factory=dict)
    finished: set[str] = field(default_factory=set)
    event_ids: set[str] = field(default_factory=set)

    def expected_seq(self, trace_id: str) -> int:
        last = self.last_seq.get(trace_id)
        return 0 if last is None else last + 1

    def apply(self, op: Op) -> Observed:
        """The outcome of appending ``op``; accepted events join the model's log."""
        if op.stateless_code is not None:
            return ("error", op.stateless_code), None
        env = op.envelope
        payload_hash = model_payload_hash(env.payload)
        # Step 8: idempotency lookup, scoped by (producer, key); reuse wins (14.4).
        stored = self.by_key.get((env.source.producer_id, env.idempotency_key))
        if stored is not None:
            if stored["payload_hash"] != payload_hash:
                return ("error", IDEMPOTENCY_CONFLICT), None
            new = env.to_dict()
            if any(stored[name] != new[name] for name in REUSE_FIELDS):
                return ("error", IDEMPOTENCY_CONFLICT), None
            return ("reused", stored["log_seq"]), stored
        # Step 9: the finished-trace lock.
        if env.trace_id in self.finished:
            return ("error", CONFLICT), None
        # Step 10: sequencing.
        if env.trace_seq != self.expected_seq(env.trace_id):
            return ("error", EVENT_SEQUENCE_INVALID), None
        if env.event_type == TRACE_STARTED and env.trace_seq != 0:
            return ("error", EVENT_SEQUENCE_INVALID), None
        if env.event_type != TRACE_STARTED and env.trace_seq == 0:
            return ("error", EVENT_SEQUENCE_INVALID), None
        # 13.3: a duplicate event_id (not a reuse) is a conflict, after sequencing.
        if env.event_id in self.event_ids:
            return ("error", CONFLICT), None
        # Step 11: insert with the next gap-free log_seq.
        event = {
            **env.to_dict(),
            "payload": canonical_text(env.payload),
            "log_seq": len(self.log) + 1,
            "payload_hash": payload_hash,
        }
        self.log.append(event)
        self.by_key[(env.source.producer_id, env.idempotency_key)] = event
        self.last_seq[env.trace_id] = env.trace_seq
        self.event_ids.add(env.event_id)
        if env.event_type == TRACE_FINISHED:
            self.finished.add(env.trace_id)
        return ("appended", event["log_seq"]), event


# ---------------------------------------------------------------- store observation


def event_fields(event: StoredEvent) -> dict[str, Any]:
    """Every stored field except ``tenant_id`` and ``recorded_at`` (which differ between
    tenants and runs by design), with the payload as canonical JSON text so that ``1``
    and ``true`` (equal in Python) stay different."""
    data = event.to_dict()
    del data["tenant_id"], data["recorded_at"]
    data["payload"] = canonical_text(event.payload)
    return data


def observe(result: BatchOutcome) -> Observed:
    """A store outcome in the model's terms."""
    if isinstance(result, DecisionGraphError):
        return ("error", result.code), None
    status = "reused" if result.reused else "appended"
    return (status, result.event.log_seq), event_fields(result.event)


def append_one(store: SqlEventStore, tenant_id: str, envelope: EventEnvelope) -> BatchOutcome:
    """``store.append``, with a DecisionGraphError returned instead of raised."""
    try:
        return store.append(tenant_id, envelope)
    except DecisionGraphError as error:
        return error


# -------------------------------------------------------------------------- strategies

_SAFE_TEXT = st.text(
    # No "=" or ":" and at most 12 characters: nothing can look like a credential
    # (spec 12.1), and no U+0000 or surrogate (14.7).
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00=:"),
    max_size=12,
)
_NOTE_VALUES = st.one_of(
    st.sampled_from([0, 1, True, False, None, 2**70, -(2**64), "é\u2028\U0001f600"]),
    _SAFE_TEXT,
)

#: Single stateless defects and the code each must fail with.
_DEFECTS = (
    "float",
    "empty_key",
    "long_key",
    "unknown_type",
    "missing_field",
    "nul_in_tag",
    "surrogate_in_payload",
    "secret_in_tag",
    "bad_occurred_at",
)

#: Operations an all-valid batch draws from (retries then target stored events).
_VALID_KINDS = ("next", "next", "next", "finish", "retry_exact", "retry_moved")

_KINDS = (
    *["next"] * 6,
    "finish",
    "finish",
    "wrong_seq",
    "after_finish",
    "start_nonzero",
    "nonstart_zero",
    "dup_event_id",
    "retry_exact",
    "retry_moved",
    "retry_payload",
    "retry_metadata",
    "other_producer",
    "invalid",
)


class _Gen:
    """Generation state: the model (to aim operations) and a counter for fresh ids."""

    def __init__(self) -> None:
        self.model = AppendModel()
        self.ops: list[Op] = []
        self.accepted: list[Op] = []
        self.counter = 0
        #: Draw only operations that are accepted or reused (an all-valid batch).
        self.valid_only = False

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"


def _payload(draw: st.DrawFn, event_type: str) -> dict[str, Any]:
    payload = dict(MINIMAL_PAYLOADS[event_type])
    if draw(st.booleans()):
        payload["note"] = draw(_NOTE_VALUES)
    return payload


def _envelope(
    draw: st.DrawFn, gen: _Gen, trace_id: str, trace_seq: int, event_type: str
) -> EventEnvelope:
    shared_key = not gen.valid_only and draw(st.integers(0, 5)) == 0
    key = draw(st.sampled_from(SHARED_KEYS)) if shared_key else gen.fresh("key")
    return EventEnvelope(
        event_id=gen.fresh("ev"),
        trace_id=trace_id,
        trace_seq=trace_seq,
        event_type=event_type,
        occurred_at=draw(st.sampled_from(OCCURRED_AT)),
        source=SourceRef(
            producer_id=draw(st.sampled_from(PRODUCERS)),
            system="sys",
            subsystem=draw(st.sampled_from([None, "sub"])),
        ),
        actor=ActorRef(actor_type="agent", actor_id=draw(st.sampled_from(["ag-1", "ag-2"]))),
        idempotency_key=key,
        payload=_payload(draw, event_type),
        correlation_id=draw(st.sampled_from([None, "corr-1"])),
        causation_event_id=None,
        schema_version=1,
        tags=tuple(draw(st.lists(st.sampled_from(["a", "b", "é"]), max_size=2))),
    )


def _with_defect(draw: st.DrawFn, env: EventEnvelope) -> Op:
    defect = draw(st.sampled_from(_DEFECTS))
    replace = dataclasses.replace
    if defect == "float":
        bad = replace(env, payload={**env.payload, "amount": draw(st.floats())})
        return Op("invalid:float", bad, SCHEMA_VIOLATION)
    if defect == "empty_key":
        return Op("invalid:empty_key", replace(env, idempotency_key=""), INVALID_ARGUMENT)
    if defect == "long_key":
        # 201 UTF-8 bytes: one over the limit (spec 1.3).
        return Op(
            "invalid:long_key", replace(env, idempotency_key="é" * 100 + "k"), INVALID_ARGUMENT
        )
    if defect == "unknown_type":
        return Op("invalid:unknown_type", replace(env, event_type="Bogus"), SCHEMA_VIOLATION)
    if defect == "missing_field":
        payload = {k: v for k, v in env.payload.items() if k != next(iter(env.payload))}
        return Op("invalid:missing_field", replace(env, payload=payload), SCHEMA_VIOLATION)
    if defect == "nul_in_tag":
        return Op("invalid:nul_in_tag", replace(env, tags=(*env.tags, "a\x00b")), INVALID_ARGUMENT)
    if defect == "surrogate_in_payload":
        bad = replace(env, payload={**env.payload, "note": "x\udc00"})
        return Op("invalid:surrogate_in_payload", bad, INVALID_ARGUMENT)
    if defect == "secret_in_tag":
        bad = replace(env, tags=(*env.tags, "AKIAIOSFODNN7EXAMPLE"))
        return Op("invalid:secret_in_tag", bad, PII_POLICY_VIOLATION)
    bad = replace(env, occurred_at="2025-12-31 12:00:00")
    return Op("invalid:bad_occurred_at", bad, SCHEMA_VIOLATION)


def _changed_metadata(draw: st.DrawFn, env: EventEnvelope) -> EventEnvelope:
    replace = dataclasses.replace
    change = draw(
        st.sampled_from(
            [
                "trace_id",
                "tags_added",
                "tags_reversed",
                "correlation_id",
                "causation_event_id",
                "schema_version",
                "actor_id",
                "actor_type",
                "system",
                "subsystem",
            ]
        )
    )
    if change == "trace_id":
        other = [t for t in TRACE_IDS if t != env.trace_id]
        return replace(env, trace_id=draw(st.sampled_from(other)))
    if change == "tags_reversed" and len(set(env.tags)) > 1:
        return replace(env, tags=tuple(reversed(env.tags)))
    if change in ("tags_added", "tags_reversed"):
        return replace(env, tags=(*env.tags, "z"))
    if change == "correlation_id":
        return replace(env, correlation_id="corr-2" if env.correlation_id else "corr-new")
    if change == "causation_event_id":
        return replace(env, causation_event_id="cause-1")
    if change == "schema_version":
        return replace(env, schema_version=env.schema_version + 1)
    if change == "actor_id":
        return replace(env, actor=ActorRef(env.actor.actor_type, env.actor.actor_id + "-x"))
    if change == "actor_type":
        return replace(env, actor=ActorRef("person", env.actor.actor_id))
    source = env.source
    if change == "system":
        return replace(env, source=SourceRef(source.producer_id, "sys-2", source.subsystem))
    subsystem = None if source.subsystem else "sub-2"
    return replace(env, source=SourceRef(source.producer_id, source.system, subsystem))


def _changed_payload(draw: st.DrawFn, env: EventEnvelope) -> tuple[str, EventEnvelope]:
    """A retry's payload: reordered (same hash: a reuse), or changed (a conflict)."""
    payload = env.payload
    how = draw(st.sampled_from(["reordered", "added", "bool_for_int", "note"]))
    if how == "reordered":
        return "retry_payload:reordered", dataclasses.replace(
            env, payload=dict(reversed(list(payload.items())))
        )
    if how == "bool_for_int" and type(payload.get("note")) in (bool, int):
        # 1 == True in Python, but canonical JSON tells them apart.
        note = payload["note"]
        swapped = int(note) if isinstance(note, bool) else note != 0
        return "retry_payload:bool_for_int", dataclasses.replace(
            env, payload={**payload, "note": swapped}
        )
    if how == "note":
        value = draw(_NOTE_VALUES)
        return "retry_payload:note", dataclasses.replace(env, payload={**payload, "note": value})
    return "retry_payload:added", dataclasses.replace(env, payload={**payload, "extra": "x"})


def _draw_op(draw: st.DrawFn, gen: _Gen) -> Op:
    model = gen.model
    kind = draw(st.sampled_from(_VALID_KINDS if gen.valid_only else _KINDS))
    if gen.valid_only and kind.startswith("retry_") and not gen.accepted:
        kind = "next"
    open_traces = [t for t in TRACE_IDS if t in model.last_seq and t not in model.finished]
    unfinished = [t for t in TRACE_IDS if t not in model.finished]
    if kind == "finish" and open_traces:
        trace_id = draw(st.sampled_from(open_traces))
    elif gen.valid_only and kind == "finish":
        kind, trace_id = "next", draw(st.sampled_from(unfinished or ["tr-fresh"]))
    elif gen.valid_only:
        trace_id = draw(st.sampled_from(unfinished or ["tr-fresh"]))
    else:
        trace_id = draw(st.sampled_from(TRACE_IDS))
    expected = model.expected_seq(trace_id)
    middle = draw(st.sampled_from(MIDDLE_TYPES))
    # Retries mostly target stored events (reuse and conflicts), sometimes anything.
    if gen.accepted and (gen.valid_only or draw(st.integers(0, 3)) > 0):
        clean = gen.accepted
    else:
        clean = [op for op in gen.ops if op.stateless_code is None]

    if kind == "retry_exact" and gen.ops:
        earlier = draw(st.sampled_from(clean or gen.ops))
        return Op("retry_exact", earlier.envelope, earlier.stateless_code)
    if kind.startswith("retry_") and kind != "retry_exact" and clean:
        env = draw(st.sampled_from(clean)).envelope
        if kind == "retry_payload":
            label, changed = _changed_payload(draw, env)
            return Op(label, changed)
        if kind == "retry_metadata":
            return Op("retry_metadata", _changed_metadata(draw, env))
        # retry_moved: trace_seq, event_id and occurred_at are not compared (4.1 step 8),
        # so this is still a reuse even when they collide with other events (14.4).
        stored_ids = [e["event_id"] for e in model.log]
        event_id = draw(st.sampled_from(stored_ids)) if stored_ids else gen.fresh("ev")
        moved = dataclasses.replace(
            env,
            event_id=event_id,
            trace_seq=draw(st.integers(0, 4)),
            occurred_at=draw(st.sampled_from(OCCURRED_AT)),
        )
        return Op("retry_moved", moved)
    if kind == "other_producer" and clean:
        env = draw(st.sampled_from(clean)).envelope
        other = next(p for p in PRODUCERS if p != env.source.producer_id)
        source = SourceRef(other, env.source.system, env.source.subsystem)
        return Op("other_producer", dataclasses.replace(env, source=source))
    if kind == "finish":
        return Op("finish", _envelope(draw, gen, trace_id, expected, TRACE_FINISHED))
    if kind == "wrong_seq":
        seq = draw(st.sampled_from([s for s in range(expected + 3) if s != expected]))
        event_type = TRACE_STARTED if seq == 0 else middle
        return Op("wrong_seq", _envelope(draw, gen, trace_id, seq, event_type))
    if kind == "after_finish" and model.finished:
        done = draw(st.sampled_from(sorted(model.finished)))
        seq = model.expected_seq(done)
        return Op("after_finish", _envelope(draw, gen, done, seq, middle))
    if kind == "start_nonzero":
        seq = max(expected, 1)
        return Op("start_nonzero", _envelope(draw, gen, trace_id, seq, TRACE_STARTED))
    if kind == "nonstart_zero":
        event_type = draw(st.sampled_from([*MIDDLE_TYPES, TRACE_FINISHED]))
        return Op("nonstart_zero", _envelope(draw, gen, trace_id, 0, event_type))
    event_type = TRACE_STARTED if expected == 0 else middle
    env = _envelope(draw, gen, trace_id, expected, event_type)
    if kind == "dup_event_id" and model.log:
        taken = draw(st.sampled_from([e["event_id"] for e in model.log]))
        return Op("dup_event_id", dataclasses.replace(env, event_id=taken))
    if kind == "invalid":
        return _with_defect(draw, env)
    return Op("next", env)


def _draw_ops(draw: st.DrawFn, gen: _Gen, min_ops: int, max_ops: int) -> list[Op]:
    ops: list[Op] = []
    for _ in range(draw(st.integers(min_ops, max_ops))):
        op = _draw_op(draw, gen)
        (status, _), _ = gen.model.apply(op)
        gen.ops.append(op)
        if status == "appended":
            gen.accepted.append(op)
        ops.append(op)
    return ops


@st.composite
def op_sequences(draw: st.DrawFn, max_ops: int) -> list[Op]:
    """1..``max_ops`` operations, each aimed at the state the earlier ones leave."""
    return _draw_ops(draw, _Gen(), 1, max_ops)


@st.composite
def batch_scenarios(draw: st.DrawFn, max_prefix: int, max_batch: int) -> tuple[list[Op], list[Op]]:
    """Operations appended one by one first (the stored state), then a batch; half of
    the batches hold only events that are accepted or reused, so that the atomic mode
    also commits."""
    gen = _Gen()
    prefix = _draw_ops(draw, gen, 0, max_prefix)
    gen.valid_only = draw(st.booleans())
    batch = _draw_ops(draw, gen, 1, max_batch)
    return prefix, batch


def envelopes(ops: Sequence[Op]) -> list[EventEnvelope]:
    """The envelopes of ``ops``, in order."""
    return [op.envelope for op in ops]
