"""Canonical payload JSON, payload hash and the digest encoder (spec 3.1-3.4): exact
test vectors, written out by hand."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import pytest

from decisiongraph.domain.canonical import (
    canonicalize_json,
    compute_payload_hash,
    digest_json,
    sha256_prefixed,
    storage_payload_json,
    storage_tags_json,
)
from decisiongraph.errors import DecisionGraphError, FloatFoundError
from tests.conftest import load_golden
from tests.contract.spec_tables import DEALDESK_PAYLOAD_HASHES, SCHEMA_VIOLATION


def _text(value: Any) -> str:
    return canonicalize_json(value).decode("utf-8")


def test_empty_object_vector() -> None:
    assert canonicalize_json({}) == b"{}"
    assert compute_payload_hash({}) == (
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    )


def test_spec_vector_with_raw_non_ascii_and_a_newline_escape() -> None:
    payload = {"b": [1, True, None], "a": "é\n"}
    assert canonicalize_json(payload) == '{"a":"é\\n","b":[1,true,null]}'.encode()
    assert "é".encode() in canonicalize_json(payload)
    assert compute_payload_hash(payload) == (
        "sha256:c3776cc80f24ededc0136463edae45d4fb8385b2d325b266abeeb567e481fa7a"
    )


def test_dealdesk_trace_started_vector() -> None:
    payload = load_golden("dealdesk")["events"][0]["payload"]
    assert _text(payload) == (
        '{"primary_entity":{"entity_id":"sf:opp:789","entity_type":"opportunity",'
        '"system":"salesforce"},"title":"Healthcare customer discount approval",'
        '"workflow":"deal_approval"}'
    )
    assert compute_payload_hash(payload) == DEALDESK_PAYLOAD_HASHES[0]


def test_every_dealdesk_payload_hash_matches_the_spec() -> None:
    payloads = [e["payload"] for e in load_golden("dealdesk")["events"]]
    assert tuple(compute_payload_hash(p) for p in payloads) == DEALDESK_PAYLOAD_HASHES


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("\n", "\\n"),
        ("\r", "\\r"),
        ("\t", "\\t"),
        ("\b", "\\b"),
        ("\f", "\\f"),
        ('"', '\\"'),
        ("\\", "\\\\"),
        ("\x00", "\\u0000"),
        ("\x01", "\\u0001"),
        ("\x0b", "\\u000b"),
        ("\x0e", "\\u000e"),
        ("\x1b", "\\u001b"),
        ("\x1f", "\\u001f"),
        ("\x7f", "\x7f"),
        ("\u2028", "\u2028"),
        ("\u2029", "\u2029"),
        ("/", "/"),
        ("é", "é"),
        ("\u00a0", "\u00a0"),
        ("\uffff", "\uffff"),
        ("😀", "😀"),
        ("\U0010ffff", "\U0010ffff"),
        (" ", " "),
    ],
    ids=lambda v: f"U+{ord(v[0]):04X}" if isinstance(v, str) and v else repr(v),
)
def test_string_escapes_follow_the_spec(text: str, encoded: str) -> None:
    assert _text({"k": text}) == f'{{"k":"{encoded}"}}'
    assert _text([text]) == f'["{encoded}"]'


def test_keys_are_sorted_by_code_point_at_every_depth() -> None:
    keys = ["b", "B", "a", "é", "\uffff", "😀", "_", "A", "aa", "a b", ""]
    expected_order = ["", "A", "B", "_", "a", "a b", "aa", "b", "é", "\uffff", "😀"]
    assert sorted(keys) == expected_order
    obj = {k: i for i, k in enumerate(keys)}
    nested = {"z": [obj, {"y": obj}], "m": obj}
    inner = (
        "{"
        + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{obj[k]}" for k in expected_order)
        + "}"
    )
    assert _text(obj) == inner
    assert _text(nested) == f'{{"m":{inner},"z":[{inner},{{"y":{inner}}}]}}'


def test_code_point_order_differs_from_utf16_order() -> None:
    # U+1F600 sorts after U+FFFF by code point; in UTF-16 order it would sort first.
    assert _text({"😀": 1, "\uffff": 2}) == '{"\uffff":2,"😀":1}'


def test_literals_integers_and_no_whitespace() -> None:
    value: dict[str, Any] = {
        "t": True,
        "f": False,
        "n": None,
        "i": -12,
        "z": 0,
        "l": [],
        "o": {},
        "s": "",
    }
    assert _text(value) == '{"f":false,"i":-12,"l":[],"n":null,"o":{},"s":"","t":true,"z":0}'


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (2**70, "1180591620717411303424"),
        (-(2**70), "-1180591620717411303424"),
        (2**64 + 1, "18446744073709551617"),
        (10**40, "1" + "0" * 40),
    ],
)
def test_big_integers_are_written_exactly(value: int, written: str) -> None:
    assert _text({"n": value}) == f'{{"n":{written}}}'
    assert compute_payload_hash({"n": value}) == sha256_prefixed(f'{{"n":{written}}}')


def test_the_hash_is_sha256_of_the_utf8_canonical_bytes() -> None:
    payload = {"x": "é😀\u2028", "a": [1, {"c": None, "b": False}]}
    canonical = '{"a":[1,{"b":false,"c":null}],"x":"é😀\u2028"}'
    assert canonicalize_json(payload) == canonical.encode("utf-8")
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert compute_payload_hash(payload) == f"sha256:{digest}"
    assert len(compute_payload_hash(payload)) == 71


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({"x": 0.0}, "$.x"),
        ({"x": 3.0}, "$.x"),
        ({"x": -0.0}, "$.x"),
        ({"x": float("nan")}, "$.x"),
        ({"x": float("inf")}, "$.x"),
        ({"items": [1, 2, 0.5]}, "$.items[2]"),
        ({"a": {"b": [{"c": 1.5}]}}, "$.a.b[0].c"),
        ({"m": [[1], [2, [0.0]]]}, "$.m[1][1][0]"),
        ([0.0], "$[0]"),
    ],
)
def test_any_float_fails_with_a_schema_violation_naming_its_path(value: Any, path: str) -> None:
    with pytest.raises(FloatFoundError) as caught:
        canonicalize_json(value)
    error = caught.value
    assert isinstance(error, DecisionGraphError)
    assert error.code == SCHEMA_VIOLATION
    assert path in error.message
    with pytest.raises(FloatFoundError):
        compute_payload_hash(value)


def test_booleans_are_not_floats_and_tuples_are_lists() -> None:
    assert _text({"t": (1, True, (False,))}) == '{"t":[1,true,[false]]}'


@dataclasses.dataclass(frozen=True)
class _Ref:
    entity_type: str
    entity_id: str
    system: str | None = None


def test_a_dataclass_is_encoded_as_an_object_with_every_field() -> None:
    assert _text(_Ref("account", "a-1")) == (
        '{"entity_id":"a-1","entity_type":"account","system":null}'
    )


def test_a_dataclass_nested_in_a_dict_is_encoded_as_an_object_too() -> None:
    assert _text({"e": _Ref("account", "a-1", "crm")}) == (
        '{"e":{"entity_id":"a-1","entity_type":"account","system":"crm"}}'
    )


def test_digest_json_is_ascii_escaped_with_surrogate_pairs() -> None:
    value = {"é": "😀", "k": "\x7f\u2028\n", "a": [1, None, True]}
    text = digest_json(value)
    assert text == ('{"a":[1,null,true],"k":"\\u007f\\u2028\\n","\\u00e9":"\\ud83d\\ude00"}')
    assert text.isascii()


def test_digest_json_dealdesk_summary_example() -> None:
    row = {
        "trace_id": "dddddddd-dddd-dddd-dddd-dddddddddddd",
        "workflow": "deal_approval",
        "title": "Healthcare customer discount approval",
        "primary_entity_type": "opportunity",
        "primary_entity_id": "sf:opp:789",
        "outcome": "success",
        "started_at": "2025-12-31T12:00:00Z",
        "finished_at": "2025-12-31T12:06:01Z",
        "event_count": 2,
        "last_log_seq": 9,
    }
    assert digest_json([row]) == (
        '[{"event_count":2,"finished_at":"2025-12-31T12:06:01Z","last_log_seq":9,'
        '"outcome":"success","primary_entity_id":"sf:opp:789",'
        '"primary_entity_type":"opportunity","started_at":"2025-12-31T12:00:00Z",'
        '"title":"Healthcare customer discount approval",'
        '"trace_id":"dddddddd-dddd-dddd-dddd-dddddddddddd","workflow":"deal_approval"}]'
    )


def test_empty_projection_digest_vectors() -> None:
    graph = sha256_prefixed(digest_json({"nodes": [], "edges": []}))
    empty = sha256_prefixed(digest_json([]))
    assert digest_json({"nodes": [], "edges": []}) == '{"edges":[],"nodes":[]}'
    assert graph == "sha256:57501e5c6808b3e14852a4ea21dc7873abf9409032a06f9b740c973e83f62cf7"
    assert empty == "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"
    assert sha256_prefixed(f"{graph}:{empty}:{empty}") == (
        "sha256:841804c04c283692e5a12d6303d274a8c10f5430b19c7cb7f2587e9297d37dde"
    )


def test_storage_payload_json_uses_default_separators_sorted_keys_and_raw_utf8() -> None:
    assert storage_payload_json({"b": [1, 2], "a": {"d": "é", "c": None}}) == (
        '{"a": {"c": null, "d": "é"}, "b": [1, 2]}'
    )


def test_storage_tags_json_keeps_order_and_raw_utf8() -> None:
    assert storage_tags_json(("z", "a", "é")) == '["z", "a", "é"]'
    assert storage_tags_json(()) == "[]"
