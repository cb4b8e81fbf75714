"""The pre-store half of the append pipeline (spec 14.7, 14.6, then 4.1 steps 1-6).

:func:`prepare_event` runs every check that needs no stored state, in the spec's order,
so the first failing step decides the error code:

0. U+0000 or a lone surrogate in any envelope string (keys included): INVALID_ARGUMENT
1. ``occurred_at`` not RFC 3339: SCHEMA_VIOLATION
2. idempotency key empty, with U+0000 or over 200 UTF-8 bytes: INVALID_ARGUMENT
3. payload not JSON-serialisable: INVALID_ARGUMENT
4. unknown type, payload not an object, required key missing or empty: SCHEMA_VIOLATION
5. secret guard over payload and metadata: PII_POLICY_VIOLATION
6. a float in the payload: SCHEMA_VIOLATION

It returns a :class:`PreparedEvent` holding the hash and the storage serialisations, so
the store only adds the stateful checks (reuse, finished lock, sequencing, ids).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any

from decisiongraph.domain.canonical import (
    encode_canonical_plain,
    find_float_path,
    payload_hash_of_canonical,
    storage_payload_json,
    storage_tags_json,
)
from decisiongraph.domain.clock import is_rfc3339
from decisiongraph.domain.envelope import EventEnvelope
from decisiongraph.domain.payload_shapes import check_payload_shape
from decisiongraph.domain.secrets_guard import find_secret, match_secret_rule, may_hold_secret
from decisiongraph.errors import (
    FloatFoundError,
    InvalidArgument,
    PiiPolicyViolation,
    SchemaViolation,
)

__all__ = [
    "INT64_MAX",
    "MAX_IDEMPOTENCY_KEY_BYTES",
    "PreparedEvent",
    "is_storable_text",
    "prepare_event",
]

MAX_IDEMPOTENCY_KEY_BYTES = 200
INT64_MAX = 2**63 - 1

_SURROGATE = re.compile("[\ud800-\udfff]")
# U+0000 is refused in every string, so it can separate strings joined for one search:
# a count of separators above the number of joins reveals a U+0000 inside a string.
_SEPARATOR = "\x00"

# Flags collected by the one fast walk over the payload.
_NUL = 1
_UNSAFE = 2
_FLOAT = 4
_SECRET = 8


@dataclass(frozen=True, slots=True)
class PreparedEvent:
    """An envelope that passed every stateless check, with its storage forms."""

    envelope: EventEnvelope
    payload_hash: str
    #: The stored payload text of spec 3.3 (sorted keys, default separators).
    payload_json: str
    tags_json: str


def is_storable_text(text: str) -> bool:
    """True if ``text`` can be stored as database text (no U+0000, no lone surrogate)."""
    return not _bad_string(text)


def _bad_string(text: str) -> bool:
    """True if ``text`` holds U+0000 or a lone surrogate (no UTF-8 encoding)."""
    if "\x00" in text:
        return True
    return not text.isascii() and _SURROGATE.search(text) is not None


def _walk(value: Any, strings: list[str]) -> int:
    """One pass over a payload: collect every string value into ``strings`` and return
    the flags of the problems seen on the way (bad keys, unsafe types, floats).

    Hot path of every append: string values are handled inline, without a call.
    """
    flags = 0
    if isinstance(value, dict):
        items: Any = value.values()
        for key in value:
            if not isinstance(key, str):
                flags |= _UNSAFE
            elif "\x00" in key or (not key.isascii() and _SURROGATE.search(key)):
                flags |= _NUL
    elif isinstance(value, list | tuple):
        items = value
    elif isinstance(value, str):
        strings.append(value)
        return 0
    elif value is None or value is True or value is False:
        return 0
    elif isinstance(value, int):
        return _UNSAFE if _too_long_for_json(value) else 0
    elif isinstance(value, float):
        return _FLOAT
    else:
        return _UNSAFE
    for item in items:
        if isinstance(item, str):
            strings.append(item)
        elif item is None or item is True or item is False:
            continue
        else:
            flags |= _walk(item, strings)
    return flags


def _too_long_for_json(value: int) -> bool:
    """True if ``json.dumps`` refuses ``value``: Python limits int-to-text conversion to
    ``sys.get_int_max_str_digits()`` digits (4300 by default), so such an integer is
    not JSON-serialisable (spec 1.3, INVALID_ARGUMENT)."""
    limit = sys.get_int_max_str_digits()
    # 3.32 bits per decimal digit: below this bound the text always fits.
    if not limit or value.bit_length() < limit * 3:
        return False
    try:
        str(value)
    except ValueError:
        return True
    return False


def _scan(value: Any) -> int:
    """All problem flags of a payload, including bad strings and credential shapes."""
    strings: list[str] = []
    flags = _walk(value, strings)
    if not strings:
        return flags
    # U+0000 cannot be part of a valid string, so it safely separates them: one
    # search over the joined text replaces a search per string.
    joined = _SEPARATOR.join(strings)
    if joined.count(_SEPARATOR) != len(strings) - 1 or (
        not joined.isascii() and _SURROGATE.search(joined) is not None
    ):
        flags |= _NUL
    if may_hold_secret(joined):
        flags |= _SECRET
    return flags


def _find_path(value: Any, path: str, predicate: Any) -> str | None:
    """Depth-first path of the first node (or dict key) satisfying ``predicate``."""
    if isinstance(value, dict):
        for key, item in value.items():
            item_path = f"{path}.{key}"
            if predicate(key, is_key=True):
                return item_path
            found = _find_path(item, item_path, predicate)
            if found is not None:
                return found
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _find_path(item, f"{path}[{index}]", predicate)
            if found is not None:
                return found
        return None
    return path if predicate(value, is_key=False) else None


def _is_bad_string(value: Any, *, is_key: bool) -> bool:
    return isinstance(value, str) and _bad_string(value)


def _is_unsafe(value: Any, *, is_key: bool) -> bool:
    if is_key:
        return not isinstance(value, str)
    if isinstance(value, int) and not isinstance(value, bool):
        return _too_long_for_json(value)
    return not (value is None or isinstance(value, str | bool | float))


def _metadata_strings(env: EventEnvelope) -> list[tuple[str, str | None]]:
    """(path, value) of the envelope strings outside the payload, in scan order."""
    fields: list[tuple[str, str | None]] = [
        ("$.event_id", env.event_id),
        ("$.trace_id", env.trace_id),
        ("$.event_type", env.event_type),
        ("$.occurred_at", env.occurred_at),
        ("$.source.producer_id", env.source.producer_id),
        ("$.source.system", env.source.system),
        ("$.source.subsystem", env.source.subsystem),
        ("$.actor.actor_type", env.actor.actor_type),
        ("$.actor.actor_id", env.actor.actor_id),
        ("$.idempotency_key", env.idempotency_key),
        ("$.correlation_id", env.correlation_id),
        ("$.causation_event_id", env.causation_event_id),
    ]
    fields.extend((f"$.tags[{i}]", tag) for i, tag in enumerate(env.tags))
    return fields


# Fields the secret guard covers besides the payload (spec 1.3): not event_id,
# trace_id, event_type or occurred_at.
_GUARDED_METADATA = frozenset(
    {
        "$.source.producer_id",
        "$.source.system",
        "$.source.subsystem",
        "$.actor.actor_type",
        "$.actor.actor_id",
        "$.idempotency_key",
        "$.correlation_id",
        "$.causation_event_id",
    }
)


def _invalid_string(path: str) -> InvalidArgument:
    return InvalidArgument(
        f"{path} contains U+0000 or a lone surrogate, which cannot be stored",
        {"errors": [{"path": path, "message": "U+0000 or lone surrogate"}]},
    )


def prepare_event(env: EventEnvelope) -> PreparedEvent:
    """Run the stateless append checks on ``env`` and compute its storage forms.

    Raises the :mod:`decisiongraph.errors` class of the first failing step.
    """
    payload = env.payload
    try:
        flags = _scan(payload)
    except RecursionError:
        # A payload that contains itself, or nests deeper than json.dumps can follow.
        raise InvalidArgument(
            "Payload is not JSON-serialisable: it is circular or nested too deeply",
            {"errors": [{"path": "$.payload", "message": "circular or too deep"}]},
        ) from None
    source, actor = env.source, env.actor
    # The guarded metadata (spec 1.3) joined once, for one secret prefilter.
    guarded = [
        text
        for text in (
            source.producer_id,
            source.system,
            source.subsystem,
            actor.actor_type,
            actor.actor_id,
            env.idempotency_key,
            env.correlation_id,
            env.causation_event_id,
            *env.tags,
        )
        if text is not None
    ]
    guarded_text = _SEPARATOR.join(guarded)

    # 0. U+0000 and lone surrogates, everywhere (14.7).
    if (
        guarded_text.count(_SEPARATOR) != len(guarded) - 1
        or (not guarded_text.isascii() and _SURROGATE.search(guarded_text) is not None)
        or _bad_string(f"{env.event_id}{env.trace_id}{env.event_type}{env.occurred_at}")
    ):
        for path, text in _metadata_strings(env):
            if text is not None and _bad_string(text):
                raise _invalid_string(path)
    if flags & _NUL:
        found = _find_path(payload, "$.payload", _is_bad_string)
        raise _invalid_string(found or "$.payload")

    # 1. occurred_at (14.6).
    if not is_rfc3339(env.occurred_at):
        raise SchemaViolation(
            "occurred_at must be an RFC 3339 date-time with Z or an offset, "
            f"e.g. 2025-12-31T12:00:00Z (got {env.occurred_at!r})",
            {"errors": [{"path": "$.occurred_at", "message": "not RFC 3339"}]},
        )

    # 2. idempotency key (1.3).
    key = env.idempotency_key
    if not key:
        raise InvalidArgument(
            "idempotency_key must not be empty",
            {"errors": [{"path": "$.idempotency_key", "message": "empty"}]},
        )
    key_bytes = len(key.encode("utf-8"))
    if key_bytes > MAX_IDEMPOTENCY_KEY_BYTES:
        raise InvalidArgument(
            f"idempotency_key is {key_bytes} bytes in UTF-8; "
            f"at most {MAX_IDEMPOTENCY_KEY_BYTES} are allowed",
            {"errors": [{"path": "$.idempotency_key", "message": "too long"}]},
        )
    if not -INT64_MAX - 1 <= env.schema_version <= INT64_MAX:
        raise InvalidArgument(
            "schema_version must fit in a signed 64-bit integer",
            {"errors": [{"path": "$.schema_version", "message": "out of range"}]},
        )

    # 3. JSON-safety of the payload (1.3).
    if flags & _UNSAFE:
        found = _find_path(payload, "$.payload", _is_unsafe)
        raise InvalidArgument(
            f"Payload is not JSON-serialisable at {found}",
            {"errors": [{"path": found, "message": "not JSON-serialisable"}]},
        )

    # 4. event type and payload shape (2).
    check_payload_shape(env.event_type, payload)

    # 5. secret guard (12.1).
    if may_hold_secret(guarded_text):
        for path, text in _metadata_strings(env):
            scanned = path in _GUARDED_METADATA or path.startswith("$.tags[")
            rule = match_secret_rule(text) if scanned and text is not None else None
            if rule is not None:
                raise _secret_error(rule, path)
    if flags & _SECRET:
        hit = find_secret(payload, "$.payload")
        if hit is not None:
            raise _secret_error(*hit)

    # 6. floats, then the hash (3.1, 3.2).
    if flags & _FLOAT:
        float_path = find_float_path(payload, "$.payload")
        raise FloatFoundError(
            f"Float found at {float_path}: write decimals as strings",
            {"errors": [{"path": float_path, "message": "float not allowed"}]},
        )
    try:
        # The walk above proved the payload plain JSON: the fast canonical encoder
        # applies to the hash; the stored text keeps the stdlib's spec 3.3 form.
        canonical = encode_canonical_plain(payload)
        payload_json = storage_payload_json(payload)
    except RecursionError:
        # Nested deeper than the encoders can follow (the walk, one frame per level,
        # got through): refused here, never later in the database write.
        raise InvalidArgument(
            "Payload is not JSON-serialisable: it is nested too deeply",
            {"errors": [{"path": "$.payload", "message": "nested too deeply"}]},
        ) from None
    return PreparedEvent(
        envelope=env,
        payload_hash=payload_hash_of_canonical(canonical),
        payload_json=payload_json,
        tags_json=storage_tags_json(env.tags),
    )


def _secret_error(rule: str, path: str) -> PiiPolicyViolation:
    return PiiPolicyViolation(
        f"{path} looks like a credential (rule {rule}); remove secrets from events",
        {"path": path, "pattern": rule},
    )
