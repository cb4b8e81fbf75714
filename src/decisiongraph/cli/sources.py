"""Reading the input of ``decisiongraph import``: a golden fixture file (an object with an
``events`` list), a JSON array of envelopes, or NDJSON (one envelope a line).

JSON is parsed with the stdlib ``json`` module only, so integers of any size stay exact
(orjson would turn those beyond 64 bits into floats). Parsing is strict: a duplicate
object key or a ``NaN``/``Infinity`` literal makes the input invalid. The whole input is
parsed before anything is appended, so a syntactically broken file imports nothing.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from decisiongraph.errors import InvalidArgument

__all__ = ["STDIN_PATH", "ImportSource", "parse_source", "read_source"]

#: The PATH that reads standard input.
STDIN_PATH = "-"


@dataclass(frozen=True, slots=True)
class ImportSource:
    """The records of an input, in file order, and where each came from.

    ``lines`` holds the 1-based line of each record for NDJSON, else None.
    """

    name: str
    format: str
    records: list[Any]
    lines: list[int] | None = None

    def location(self, index: int) -> str:
        """``line N`` for an NDJSON record, else an empty string."""
        return f"line {self.lines[index]}" if self.lines is not None else ""


class _StrictJSONError(ValueError):
    """Valid JSON syntax that DecisionGraph refuses (duplicate key, NaN, Infinity)."""


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _StrictJSONError(f"duplicate object key {key!r}")
        obj[key] = value
    return obj


def _refuse_constant(name: str) -> Any:
    raise _StrictJSONError(f"{name} is not allowed (not standard JSON)")


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object_without_duplicates, parse_constant=_refuse_constant
)


def _loads(text: str, name: str, line: int | None = None) -> Any:
    """Parse one JSON document strictly; any failure is an InvalidArgument naming where."""
    where = f"{name} line {line}" if line is not None else name
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        position = (
            f"column {exc.colno}" if line is not None else f"line {exc.lineno} column {exc.colno}"
        )
        raise InvalidArgument(f"Invalid JSON in {where}, {position}: {exc.msg}") from None
    except RecursionError:
        raise InvalidArgument(f"Invalid JSON in {where}: nested too deeply") from None
    except ValueError as exc:  # _StrictJSONError, or an integer too long to convert
        raise InvalidArgument(f"Invalid JSON in {where}: {exc}") from None


def _starts_a_stream(line: str) -> bool:
    """True if ``line`` holds one complete JSON value by itself (NDJSON's first line)."""
    try:
        _DECODER.decode(line)
    except json.JSONDecodeError:
        return False
    except (ValueError, RecursionError):
        return True  # complete but refused: reported with its line when parsed
    return True


def parse_source(data: bytes, name: str) -> ImportSource:
    """Detect the format of ``data`` (UTF-8, optional BOM) and return its records."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidArgument(
            f"{name} is not UTF-8 text: {exc.reason} at byte {exc.start}"
        ) from None
    stripped = text.lstrip()
    if not stripped:
        return ImportSource(name, "ndjson", [], [])  # an empty NDJSON stream
    if stripped[0] == "[":
        return ImportSource(name, "array", list(_loads(text, name)))
    # Split on "\n" only: JSON strings may hold raw U+2028 and other "line breaks".
    lines = [
        (number, line) for number, line in enumerate(text.split("\n"), start=1) if line.strip()
    ]
    if len(lines) > 1 and _starts_a_stream(lines[0][1]):
        records = [_loads(line, name, number) for number, line in lines]
        return ImportSource(name, "ndjson", records, [number for number, _ in lines])
    document = _loads(text, name)
    if isinstance(document, dict) and "events" in document:
        events = document["events"]
        if not isinstance(events, list):
            raise InvalidArgument(f"{name}: 'events' must be a JSON array of envelopes")
        return ImportSource(name, "fixture", events)
    if isinstance(document, dict):
        return ImportSource(name, "envelope", [document])
    raise InvalidArgument(
        f"{name} holds no envelopes: expected a fixture object with an 'events' array, "
        "a JSON array of envelopes, or NDJSON (one envelope per line)"
    )


def read_source(path: str, stdin: BinaryIO | None = None) -> ImportSource:
    """Read and parse ``path`` (``-`` for standard input)."""
    if path == STDIN_PATH:
        stream = stdin if stdin is not None else sys.stdin.buffer
        return parse_source(stream.read(), "<stdin>")
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidArgument(f"Cannot read {path!r}: {exc.strerror or exc}") from None
    return parse_source(data, path)
