"""Properties of canonical JSON, the payload hash and the digest encoder (spec 3.1-3.4).

The implementation delegates to the stdlib ``json`` module. These properties check that
assumption against an independent encoder written from spec 3.1 (and 3.4 for the digest
encoder) character by character, and check round trips, key-order independence and the
float rule with its JSON path.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from decisiongraph.domain.canonical import (
    canonicalize_json,
    compute_payload_hash,
    digest_json,
    encode_canonical,
    encode_canonical_plain,
    parsed_payload_hash,
)
from decisiongraph.errors import FloatFoundError
from tests.property.profiles import property_settings

# --------------------------------------------------------------------------- strategies

#: Characters the escaping rules of spec 3.1 / 3.4 treat specially, plus a few that must
#: stay raw (DEL, U+2028/9, noncharacters, non-BMP) and order-sensitive ones for keys.
_SPECIAL_CHARS = [chr(c) for c in range(0x20)] + [
    '"',
    "\\",
    "/",
    "\x7f",
    "\x80",
    "\xa0",
    "é",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\uffff",
    "\U0001f600",
    "\U00010000",
    "\U0010ffff",
    "Z",
    "a",
    "_",
]

#: Any code point except lone surrogates (they have no UTF-8 encoding; spec 14.7).
_chars = st.one_of(st.characters(codec="utf-8"), st.sampled_from(_SPECIAL_CHARS))
json_text = st.text(alphabet=_chars, max_size=12)

#: Integers of every size the stdlib can write and read back (Python refuses integer
#: <-> str conversions beyond 4300 digits by default; see the report of this suite).
_HUGE = [2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 2**70, -(2**70), 10**4299]
json_ints = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**256), max_value=2**256),
    st.sampled_from(_HUGE),
)

json_scalars = st.one_of(st.none(), st.booleans(), json_ints, json_text)


def _extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(json_text, children, max_size=4),
    )


#: Float-free JSON-like values: what a payload may hold.
json_values: st.SearchStrategy[Any] = st.recursive(json_scalars, _extend, max_leaves=20)
json_objects: st.SearchStrategy[dict[str, Any]] = st.dictionaries(
    json_text, json_values, max_size=6
)

_floats = st.one_of(st.floats(), st.sampled_from([0.0, -0.0, 3.0, float("nan"), float("inf")]))


@st.composite
def value_with_one_float(draw: st.DrawFn, depth: int = 0) -> tuple[Any, str]:
    """A JSON-like value holding exactly one float, and the JSON path of that float
    relative to the value (``""`` when the value itself is the float)."""
    shape = draw(st.sampled_from(["float", "list", "dict"])) if depth < 4 else "float"
    if shape == "float":
        return draw(_floats), ""
    inner, inner_path = draw(value_with_one_float(depth + 1))
    if shape == "list":
        before = draw(st.lists(json_values, max_size=2))
        after = draw(st.lists(json_values, max_size=2))
        return [*before, inner, *after], f"[{len(before)}]{inner_path}"
    others = draw(st.dictionaries(json_text, json_values, max_size=3))
    key = draw(json_text.filter(lambda k: k not in others))
    items = list(others.items())
    items.insert(draw(st.integers(0, len(items))), (key, inner))
    return dict(items), f".{key}{inner_path}"


# ------------------------------------------------------------- independent encoders

_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_SHORT_ESCAPES |= {"\b": "\\b", "\f": "\\f"}


def _escape_char(ch: str, *, ascii_only: bool) -> str:
    short = _SHORT_ESCAPES.get(ch)
    if short is not None:
        return short
    code = ord(ch)
    if code < 0x20:
        return f"\\u{code:04x}"
    if not ascii_only or 0x20 <= code < 0x7F:
        return ch
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # a UTF-16 surrogate pair, lowercase hex (spec 3.4)
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def _code_points(key: str) -> list[int]:
    return [ord(ch) for ch in key]


def reference_encode(value: Any, *, ascii_only: bool = False) -> str:
    """Spec 3.1 written out literally (``ascii_only``: the digest encoder of 3.4).

    Keys sorted by code point at every depth, no whitespace, ``true``/``false``/``null``,
    integers in plain decimal, strings raw except ``\\"`` ``\\\\`` and the short forms
    ``\\n \\r \\t \\b \\f``; other C0 controls as lowercase ``\\u00xx``.
    """
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + "".join(_escape_char(ch, ascii_only=ascii_only) for ch in value) + '"'
    if isinstance(value, list):
        return "[" + ",".join(reference_encode(v, ascii_only=ascii_only) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=_code_points)
        return (
            "{"
            + ",".join(
                reference_encode(k, ascii_only=ascii_only)
                + ":"
                + reference_encode(value[k], ascii_only=ascii_only)
                for k in keys
            )
            + "}"
        )
    raise TypeError(f"not a JSON-like value: {value!r}")


def strictly_equal(a: Any, b: Any) -> bool:
    """Equality that also tells ``True`` from ``1`` (Python's ``==`` does not)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(strictly_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(strictly_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def shuffled(value: Any, rnd: random.Random) -> Any:
    """A deep copy of ``value`` with every dict rebuilt in a random insertion order."""
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {k: shuffled(v, rnd) for k, v in items}
    if isinstance(value, list):
        return [shuffled(v, rnd) for v in value]
    return value


# ---------------------------------------------------------------------- properties


@property_settings(300)
@given(json_values)
@example({})
@example({"b": [1, True, None], "a": "é\n"})
@example({"\ud7ff": 1, "\ue000": 2, "\U00010000": 3, "\uffff": 4})  # code point, not UTF-16
@example(['\x00\x1f\x7f\u2028\u2029\U0001f600\b\f\n\r\t"\\/'])
@example(2**70)
def test_canonical_json_matches_stdlib_and_spec_encoder(value: Any) -> None:
    canonical = canonicalize_json(value)
    stdlib = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical == stdlib.encode("utf-8")
    assert canonical == reference_encode(value).encode("utf-8")
    assert strictly_equal(json.loads(canonical), value)


def test_spec_hash_vectors() -> None:
    assert compute_payload_hash({}) == (
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    )
    vector = {"b": [1, True, None], "a": "é\n"}
    assert canonicalize_json(vector) == '{"a":"é\\n","b":[1,true,null]}'.encode()
    assert compute_payload_hash(vector) == (
        "sha256:c3776cc80f24ededc0136463edae45d4fb8385b2d325b266abeeb567e481fa7a"
    )


@property_settings(200)
@given(json_objects)
def test_payload_hash_is_sha256_of_reference_encoding(payload: dict[str, Any]) -> None:
    digest = hashlib.sha256(reference_encode(payload).encode("utf-8")).hexdigest()
    payload_hash = compute_payload_hash(payload)
    assert payload_hash == f"sha256:{digest}"
    assert len(payload_hash) == 71


@property_settings(200)
@given(json_values, st.randoms(use_true_random=False))
def test_key_order_does_not_matter(value: Any, rnd: random.Random) -> None:
    reordered = shuffled(value, rnd)
    assert canonicalize_json(reordered) == canonicalize_json(value)
    assert digest_json(reordered) == digest_json(value)
    if isinstance(value, dict):
        assert compute_payload_hash(reordered) == compute_payload_hash(value)


@property_settings(300)
@given(value_with_one_float())
@example((1.0, ""))
@example(({"items": [1, 2, 0.0]}, ".items[2]"))
@example(({"a": {"b.c": [None, float("nan")]}}, ".a.b.c[1]"))
def test_any_float_is_rejected_with_its_path(case: tuple[Any, str]) -> None:
    value, relative_path = case
    path = "$" + relative_path
    for encode in (canonicalize_json, compute_payload_hash):
        with pytest.raises(FloatFoundError) as info:
            encode(value)
        error = info.value
        assert error.code == "DG_ERR_SCHEMA_VIOLATION"
        assert error.details["path"] == path
        assert path in error.message
        assert str(error).startswith("DG_ERR_SCHEMA_VIOLATION: ")


@property_settings(300)
@given(json_values)
@example(["\x7f\u2028é\U0001f600\x00"])
@example({"\U0010ffff": "\ud7ff"})
def test_digest_json_is_ascii_and_round_trips(value: Any) -> None:
    text = digest_json(value)
    assert text.isascii()
    assert text == json.dumps(value, sort_keys=True, separators=(",", ":"))
    assert text == reference_encode(value, ascii_only=True)
    assert strictly_equal(json.loads(text), value)


@property_settings(300)
@given(json_values)
@example({"b": [1, True, None], "a": "é\n", "c": -(2**63), "d": 2**64, "e": -(2**70)})
@example({"\ud7ff": 1, "\ue000": 2, "\U00010000": 3, "\uffff": 4})
@example(['\x00\x1f\x7f\u2028\u2029\U0001f600\b\f\n\r\t"\\/'])
def test_fast_canonical_encoder_writes_the_same_bytes(value: Any) -> None:
    # encode_canonical_plain (orjson, with a stdlib fallback) is what the append
    # pipeline hashes: it must equal the stdlib canonical encoding byte for byte.
    assert encode_canonical_plain(value) == encode_canonical(value)


@property_settings(200)
@given(json_values)
def test_parsed_payload_hash_equals_the_reference_hash(value: Any) -> None:
    assert parsed_payload_hash(value) == compute_payload_hash(value)


def test_parsed_payload_hash_raises_like_the_reference_on_floats() -> None:
    payload = {"a": [1, {"b": 2.5}]}
    with pytest.raises(FloatFoundError) as raised:
        parsed_payload_hash(payload)
    with pytest.raises(FloatFoundError) as reference:
        compute_payload_hash(payload)
    assert (raised.value.message, raised.value.details) == (
        reference.value.message,
        reference.value.details,
    )


def test_fast_canonical_encoder_hands_non_plain_values_to_the_stdlib() -> None:
    class Text(str):
        pass

    nested: Any = 1
    for _ in range(300):  # deeper than orjson's recursion limit
        nested = [nested]
    for value in ({"k": Text("v")}, {"k": True, "n": 2**100}, nested):
        expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert encode_canonical_plain(value) == expected.encode("utf-8")
