"""Executable documentation: the marked steps of a Markdown page, parsed into requests.

A step is an HTML comment ``<!-- walkthrough: NAME [STATUS] -->`` followed by a fenced
command block and the fenced block of its documented output. Command blocks hold
either one ``decisiongraph`` command, a Python program, or one ``curl`` command in the
small dialect the docs use: ``-s``, ``-i``, ``-N``, ``-X METHOD``, ``-H 'Name: value'``
and ``--data-binary @- <<'JSON'`` followed by the body and a ``JSON`` line, optionally
piped into ``python3 -m json.tool``. ``$API`` and ``$TOKEN`` stand for the server's URL
and the key. Anything else in a curl command is an error, so a documented command the
test cannot run faithfully fails instead of being skipped.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CurlRequest", "Step", "documented_pairs", "parse_curl", "read_steps"]

DOCS = Path(__file__).resolve().parents[2] / "docs"

_MARKER = re.compile(r"<!-- walkthrough: ([a-z0-9-]+)(?: (\d{3}))? -->")
_FENCE = re.compile(r"^```([a-z]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
# A JSON member with a complete scalar value ("…" marks a value cut in the docs).
_PAIR = re.compile(r'"([A-Za-z_]+)":\s*("(?:[^"\\…]|\\.)*"|-?\d+(?:\.\d+)?|true|false|null)')
_KEY = re.compile(r'"([A-Za-z_]+)":')


@dataclass(frozen=True)
class Step:
    """One documented step: its command block and its output block."""

    name: str
    status: int | None
    language: str
    command: str
    output_language: str
    output: str


@dataclass
class CurlRequest:
    """What a documented curl command sends."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    show_headers: bool = False
    stream: bool = False


def read_steps(page: Path) -> list[Step]:
    """The page's steps in document order."""
    text = page.read_text(encoding="utf-8")
    steps = []
    for marker in _MARKER.finditer(text):
        blocks = _FENCE.finditer(text, marker.end())
        command, output = next(blocks), next(blocks)
        assert text[marker.end() : command.start()].strip() == "", marker.group(0)
        status = int(marker.group(2)) if marker.group(2) else None
        steps.append(
            Step(
                marker.group(1),
                status,
                command.group(1),
                command.group(2),
                output.group(1),
                output.group(2),
            )
        )
    return steps


def fenced_blocks(page: Path) -> list[tuple[str, str]]:
    """Every fenced block of the page: ``(language, text)``."""
    text = page.read_text(encoding="utf-8")
    return [(m.group(1), m.group(2)) for m in _FENCE.finditer(text)]


def _split_heredoc(command: str) -> tuple[str, bytes | None]:
    lines = command.splitlines()
    for index, line in enumerate(lines):
        if "<<'JSON'" in line:
            end = lines.index("JSON", index + 1)
            body = "\n".join(lines[index + 1 : end]) + "\n"
            json.loads(body)  # a documented body must be valid JSON
            return "\n".join(lines[: index + 1]), body.encode("utf-8")
    return command, None


def parse_curl(command: str, api: str, token: str) -> CurlRequest:
    """The request of a documented curl command, ``$API``/``$TOKEN`` substituted."""
    text, body = _split_heredoc(command)
    text = text.replace("\\\n", " ").replace("$API", api).replace("$TOKEN", token)
    words = shlex.split(text)
    if "|" in words:
        assert words[words.index("|") :] == ["|", "python3", "-m", "json.tool"], words
        words = words[: words.index("|")]
    assert words[0] == "curl", words
    request = CurlRequest("GET", "", body=body)
    args = iter(words[1:])
    for word in args:
        if word.startswith("<<"):
            continue
        if word in ("-X", "-H", "--data-binary"):
            value = next(args)
            if word == "-X":
                request.method = value
            elif word == "-H":
                name, _, header = value.partition(":")
                request.headers[name.strip()] = header.strip()
            else:
                assert value == "@-", "bodies come from a heredoc"
                assert body is not None, "--data-binary @- without a heredoc"
        elif re.fullmatch(r"-[siN]+", word):
            request.show_headers |= "i" in word
            request.stream |= "N" in word
        else:
            assert not word.startswith("-"), f"unsupported curl option {word}"
            assert request.url == "", f"two URLs in {words}"
            request.url = word
    if body is not None and request.method == "GET":
        request.method = "POST"  # curl's default with a body
    return request


def documented_pairs(output: str) -> tuple[set[str], list[tuple[str, Any]]]:
    """The member names shown in a documented JSON output (cut or not), and the
    ``(name, value)`` pairs whose scalar value is shown whole."""
    keys = set(_KEY.findall(output))
    pairs = [(name, json.loads(value)) for name, value in _PAIR.findall(output)]
    return keys, pairs


def json_members(document: Any) -> tuple[set[str], list[tuple[str, Any]]]:
    """Every member name in ``document`` and every ``(name, scalar value)`` pair."""
    keys: set[str] = set()
    pairs: list[tuple[str, Any]] = []
    pending = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            for name, value in node.items():
                keys.add(name)
                if isinstance(value, dict | list):
                    pending.append(value)
                else:
                    pairs.append((name, value))
        elif isinstance(node, list):
            pending.extend(node)
    return keys, pairs
