"""Canonical JSON, payload hashing and the digest encoder (spec sections 3.1-3.4).

Two encoders exist on purpose and must never be swapped:

* the *payload* encoder (:func:`canonicalize_json`) writes raw UTF-8
  (``ensure_ascii=False``) and is what ``payload_hash`` is computed over;
* the *digest* encoder (:func:`digest_json`) ASCII-escapes (``ensure_ascii=True``) and is
  what projection digests are computed over.

Both are the stdlib ``json`` module with the spec's exact settings, so integers of any
size are written exactly. Floats are refused before encoding (:class:`FloatFoundError`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import orjson

from decisiongraph.errors import FloatFoundError

__all__ = [
    "FloatFoundError",
    "canonicalize_json",
    "compute_payload_hash",
    "digest_json",
    "encode_canonical",
    "encode_canonical_plain",
    "find_float_path",
    "parsed_payload_hash",
    "payload_hash_of_canonical",
    "sha256_hex",
    "sha256_prefixed",
    "storage_payload_json",
    "storage_tags_json",
]


def _dataclass_as_dict(value: Any) -> Any:
    """``default`` hook: dataclasses anywhere in a payload are encoded as objects."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_CANONICAL_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_dataclass_as_dict
)
_DIGEST_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
_STORAGE_PAYLOAD_ENCODER = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, default=_dataclass_as_dict
)
_STORAGE_TAGS_ENCODER = json.JSONEncoder(ensure_ascii=False)


def _plain(value: Any) -> Any:
    """Turn dataclass instances into dicts (tuples are encoded as lists by json)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def find_float_path(value: Any, path: str = "$") -> str | None:
    """Return the JSON path of the first float in ``value`` (depth-first), or None."""
    if isinstance(value, float):
        return path
    if isinstance(value, dict):
        for key, item in value.items():
            found = find_float_path(item, f"{path}.{key}")
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = find_float_path(item, f"{path}[{index}]")
            if found is not None:
                return found
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        return find_float_path(dataclasses.asdict(value), path)
    return None


def canonicalize_json(value: Any) -> bytes:
    """Return the canonical UTF-8 JSON bytes of ``value`` (spec 3.1).

    Raises :class:`FloatFoundError` (``DG_ERR_SCHEMA_VIOLATION``) naming the path of the
    first float found.
    """
    value = _plain(value)
    float_path = find_float_path(value)
    if float_path is not None:
        raise FloatFoundError(
            f"Float found at {float_path}: write decimals as strings",
            {"path": float_path},
        )
    return encode_canonical(value)


def encode_canonical(value: Any) -> bytes:
    """Canonical UTF-8 JSON bytes of a value already known to hold no float."""
    return _CANONICAL_ENCODER.encode(value).encode("utf-8")


# orjson writes exactly the canonical form (sorted keys in code-point order, ","/":"
# separators, raw UTF-8, the same escapes) for plain JSON values. Everything else is
# handed back to the stdlib encoder: subclasses, dataclasses and datetimes are passed
# through to ``default``, which refuses them, and orjson itself refuses integers beyond
# 64 bits, lone surrogates and deep nesting. Both raise TypeError.
_ORJSON_PLAIN = orjson.OPT_SORT_KEYS | (
    orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _not_plain(value: Any) -> Any:
    raise TypeError(type(value).__name__)


def encode_canonical_plain(value: Any) -> bytes:
    """:func:`encode_canonical` of a value made only of dict (str keys), list, tuple,
    str, int, bool and None, as the append pipeline has checked: the same bytes, about
    ten times faster for the common payload (a property test proves the equality)."""
    try:
        return orjson.dumps(value, default=_not_plain, option=_ORJSON_PLAIN)
    except TypeError:
        return _CANONICAL_ENCODER.encode(value).encode("utf-8")


def sha256_hex(data: bytes | str) -> str:
    """Lowercase hex SHA-256 of ``data`` (str is UTF-8 encoded)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def sha256_prefixed(data: bytes | str) -> str:
    """``"sha256:" + sha256_hex(data)``."""
    return "sha256:" + sha256_hex(data)


def payload_hash_of_canonical(canonical: bytes) -> str:
    """The payload hash of already canonicalised bytes."""
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def compute_payload_hash(payload: Any) -> str:
    """``payload_hash`` of spec 3.2: ``sha256:`` + hex of the canonical payload JSON."""
    return payload_hash_of_canonical(canonicalize_json(payload))


def _plain_without_float(value: Any) -> bool:
    """True if ``value`` is made only of dict, list, tuple, str, int, bool and None (no
    float, nothing else); no paths are built, so this is cheap."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif not (item is None or isinstance(item, str | int)):  # floats, and the rest
            return False
    return True


def parsed_payload_hash(payload: Any) -> str:
    """:func:`compute_payload_hash`, exactly (the same hash, the same
    :class:`FloatFoundError`), through the fast canonical encoder when the payload is
    plain JSON without floats, as every payload parsed from stored text is. The
    projector checks every stored event's hash with it (spec 6.2 step 1)."""
    if not _plain_without_float(payload):
        return compute_payload_hash(payload)  # the exact slow path; floats raise here
    return payload_hash_of_canonical(encode_canonical_plain(payload))


def digest_json(value: Any) -> str:
    """The projection-digest encoding of spec 3.4 (sorted keys, compact, ASCII-escaped)."""
    return _DIGEST_ENCODER.encode(value)


def storage_payload_json(payload: Any) -> str:
    """``payload_json`` as stored (spec 3.3): sorted keys, default separators, raw UTF-8."""
    return _STORAGE_PAYLOAD_ENCODER.encode(payload)  # dataclasses: the default hook


def storage_tags_json(tags: list[str] | tuple[str, ...]) -> str:
    """``tags_json`` as stored (spec 3.3): order kept, default separators, raw UTF-8."""
    if not tags:
        return "[]"  # the common case, without an encoder call
    return _STORAGE_TAGS_ENCODER.encode(list(tags))
