"""Tables copied from the spec (REFERENCE_SEMANTICS.md), shared by the contract and
domain suites. They are written out by hand on purpose: the tests must not derive
their expectations from the implementation's own tables."""

from __future__ import annotations

from typing import Literal

Kind = Literal["str", "obj", "list"]

#: Spec section 2: the runtime-required payload keys of each event type, as
#: (path inside the payload, kind). "str" is req-str (present, a str, non-empty),
#: "obj" is req-obj (a dict), "list" is req-list (a list, possibly empty).
REQUIRED_PAYLOAD_KEYS: dict[str, tuple[tuple[tuple[str, ...], Kind], ...]] = {
    "TraceStarted": (
        (("workflow",), "str"),
        (("title",), "str"),
        (("primary_entity",), "obj"),
        (("primary_entity", "entity_type"), "str"),
        (("primary_entity", "entity_id"), "str"),
    ),
    "InputObserved": (
        (("input_id",), "str"),
        (("source",), "obj"),
        (("source", "system"), "str"),
        (("source", "object_type"), "str"),
        (("source", "object_id"), "str"),
        (("facts",), "list"),
    ),
    "EntityObserved": (
        (("entity",), "obj"),
        (("entity", "entity_type"), "str"),
        (("entity", "entity_id"), "str"),
        (("role",), "str"),
        (("facts",), "list"),
    ),
    "PolicyEvaluated": (
        (("policy",), "obj"),
        (("policy", "policy_id"), "str"),
        (("policy", "policy_version"), "str"),
        (("inputs",), "list"),
        (("decision",), "str"),
    ),
    "ExceptionRequested": (
        (("exception_id",), "str"),
        (("policy",), "obj"),
        (("policy", "policy_id"), "str"),
        (("policy", "policy_version"), "str"),
        (("reason",), "str"),
    ),
    "ApprovalRecorded": (
        (("approval_id",), "str"),
        (("subject",), "obj"),
        (("subject", "subject_type"), "str"),
        (("subject", "subject_id"), "str"),
        (("approver",), "obj"),
        (("approver", "actor_type"), "str"),
        (("approver", "actor_id"), "str"),
        (("decision",), "str"),
    ),
    "PrecedentCited": (
        (("cited_trace_id",), "str"),
        (("reason",), "str"),
    ),
    "ActionProposed": (
        (("action_id",), "str"),
        (("action_type",), "str"),
        (("target_entity",), "obj"),
        (("target_entity", "entity_type"), "str"),
        (("target_entity", "entity_id"), "str"),
        (("target_system",), "str"),
        (("changes",), "list"),
    ),
    "ActionCommitted": (
        (("action_id",), "str"),
        (("status",), "str"),
    ),
    "TraceFinished": ((("outcome",), "str"),),
}

EVENT_TYPES: tuple[str, ...] = tuple(REQUIRED_PAYLOAD_KEYS)

#: Spec section 12.1: values the secret guard must reject (the listed examples, one per
#: listed shape and prefix, and the key names "in any case").
SECRET_REJECT_EXAMPLES: tuple[str, ...] = (
    "AKIAIOSFODNN7EXAMPLE",
    "ASIAIOSFODNN7EXAMPLE",
    "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "gho_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "ghu_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "ghs_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "ghr_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "xoxb-123456789012-abcdefghijkl",
    "xoxa-123456789012-abcdefghijkl",
    "xoxp-123456789012-abcdefghijkl",
    "xoxr-123456789012-abcdefghijkl",
    "sk-abcdefghijklmnopqrstuvwxyz012345",
    "-----BEGIN PRIVATE KEY-----",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----BEGIN EC PRIVATE KEY-----",
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
    "password=hunter2",
    "passwd=hunter2",
    "secret=s3cr3t",
    "client_secret=abc",
    "token=abc123",
    "api_key=abc123",
    "apikey=abc123",
    "PASSWORD=hunter2",
    "Api_Key=abc123",
    "api-key: abc123",
)

#: Spec section 12.1: ordinary words the guard must accept.
SECRET_ACCEPT_EXAMPLES: tuple[str, ...] = ("task-1", "Asia", "ask-me", "risk-score")

#: Spec section 3.2: dealdesk payload hashes for trace_seq 0..8.
DEALDESK_PAYLOAD_HASHES: tuple[str, ...] = tuple(
    "sha256:" + h
    for h in (
        "05bdd600ea34428f6df95fa5c35f06fae382a84da0269a7d65968d88ff8de642",
        "e7bb4afb1af148de320292348d946788146c34955feb3c3320c00a528967f054",
        "3d0687c448a2dfdd75972f3b9b8371b9f6da81ef60229c24e1fceac958a3bcde",
        "03a1c7eb0ab8ad8141d9d3080651ddb7792489b4c04cf5be3617ee8c5cfcb9a7",
        "8af64323793aff810a8020d7cae1dd8569bc197370579ee008c1ddcc5d65f393",
        "5f63aece5e17dc99dbaf062034dc81f092934102c69a455eb5e1ad90f885d06f",
        "23f817377cd590af400c82227cd44ee1bfc6df47f4fe56cc7b9b7f0ae583fd17",
        "40a77e3a43cafd529ebf212125d9a175903dbbd8bbcecc55494237988ac777ef",
        "4d5981377d04c293171dec95408bc25a892bc98b479c70fd91f3761227f6b2e4",
    )
)

#: Spec section 4.4: the nine library error codes.
SPEC_ERROR_CODES: tuple[str, ...] = (
    "DG_ERR_INVALID_ARGUMENT",
    "DG_ERR_SCHEMA_VIOLATION",
    "DG_ERR_PII_POLICY_VIOLATION",
    "DG_ERR_IDEMPOTENCY_CONFLICT",
    "DG_ERR_EVENT_SEQUENCE_INVALID",
    "DG_ERR_CONFLICT",
    "DG_ERR_NOT_FOUND",
    "DG_ERR_PROJECTION_OUT_OF_DATE",
    "DG_ERR_STORAGE",
)

INVALID_ARGUMENT = "DG_ERR_INVALID_ARGUMENT"
SCHEMA_VIOLATION = "DG_ERR_SCHEMA_VIOLATION"
PII_POLICY_VIOLATION = "DG_ERR_PII_POLICY_VIOLATION"
IDEMPOTENCY_CONFLICT = "DG_ERR_IDEMPOTENCY_CONFLICT"
EVENT_SEQUENCE_INVALID = "DG_ERR_EVENT_SEQUENCE_INVALID"
CONFLICT = "DG_ERR_CONFLICT"
NOT_FOUND = "DG_ERR_NOT_FOUND"
STORAGE = "DG_ERR_STORAGE"
