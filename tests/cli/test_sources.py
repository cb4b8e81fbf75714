"""Format detection and strict parsing of ``import`` inputs (no store involved)."""

from __future__ import annotations

import io
import json

import pytest

from decisiongraph.cli.sources import parse_source, read_source
from decisiongraph.errors import InvalidArgument


def test_a_json_array() -> None:
    source = parse_source(b'  [{"a": 1}, {"b": 2}]', "x")

    assert (source.format, source.records, source.lines) == ("array", [{"a": 1}, {"b": 2}], None)


def test_a_fixture_object_on_one_line_or_many() -> None:
    document = {"scenario": "s", "events": [{"a": 1}]}
    for text in (json.dumps(document), json.dumps(document, indent=2)):
        source = parse_source(text.encode(), "x")
        assert (source.format, source.records) == ("fixture", [{"a": 1}])


def test_ndjson_skips_blank_lines_and_remembers_line_numbers() -> None:
    source = parse_source(b'{"a": 1}\n\n{"b": 2}\r\n  \n{"c": 3}', "x")

    assert source.format == "ndjson"
    assert source.records == [{"a": 1}, {"b": 2}, {"c": 3}]
    assert source.lines == [1, 3, 5]
    assert source.location(2) == "line 5"


def test_ndjson_splits_on_newline_only_not_on_unicode_line_separators() -> None:
    text = '{"t": "a\u2028b\u0085c"}\n{"t": "d"}\n'

    source = parse_source(text.encode(), "x")

    assert source.records == [{"t": "a\u2028b\u0085c"}, {"t": "d"}]


def test_a_single_envelope_object() -> None:
    source = parse_source(b'{"event_id": "e"}\n', "x")

    assert (source.format, source.records) == ("envelope", [{"event_id": "e"}])


def test_big_integers_stay_exact_and_a_bom_is_accepted() -> None:
    source = parse_source(b'\xef\xbb\xbf[{"n": 1180591620717411303424}]', "x")

    assert source.records == [{"n": 2**70}]


def test_empty_input_is_an_empty_stream() -> None:
    assert parse_source(b" \n\n", "x").records == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'[{"a": {"b": 1, "b": 2}}]', "Invalid JSON in x: duplicate object key 'b'"),
        (b'[{"a": Infinity}]', "Invalid JSON in x: Infinity is not allowed"),
        (b'{"a": 1}\n{"a": NaN}\n', "Invalid JSON in x line 2: NaN is not allowed"),
        (b'{"a": 1}\n{"a": \n', "Invalid JSON in x line 2, column 7: Expecting value"),
        (b"[1, 2", "Invalid JSON in x, line 1 column 6: Expecting ',' delimiter"),
        (b"\xff[]", "x is not UTF-8 text"),
        (b"[" * 100_000, "nested too deeply"),
        (b"17", "x holds no envelopes"),
    ],
)
def test_invalid_inputs(data: bytes, message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_source(data, "x")

    assert message in caught.value.message


def test_reading_stdin_and_a_missing_file() -> None:
    source = read_source("-", io.BytesIO(b'[{"a": 1}]'))
    assert (source.name, source.records) == ("<stdin>", [{"a": 1}])

    with pytest.raises(InvalidArgument, match=r"Cannot read '/nonexistent/x\.json'"):
        read_source("/nonexistent/x.json")
