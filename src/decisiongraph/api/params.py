"""Query parameters, declared once: parsed strictly by the route wrapper and described
in the OpenAPI document from the same declaration (HTTP_API 1.3).

Rules: unknown parameters are 400; a single-valued parameter given twice is 400;
booleans are ``true``/``false``, integers plain decimal, timestamps RFC 3339 with ``Z``
or an offset; an empty optional single-valued parameter is the same as omitting it.
*List* parameters accept repeated keys, comma-separated values, or both (merged,
duplicates dropped, first occurrence order kept); an empty element is 400.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import QueryParams

from decisiongraph.domain.clock import is_rfc3339
from decisiongraph.errors import InvalidArgument

__all__ = ["Param", "parse_query", "query_error"]

_DECIMAL = re.compile(r"-?[0-9]+", re.ASCII)
# Beyond this many digits an "integer" parameter is certainly out of range; refusing
# early keeps int() of hostile input cheap.
_MAX_DIGITS = 30


def query_error(name: str, message: str, *, location: str = "query") -> InvalidArgument:
    """The 400 for a bad parameter: ``details.errors = [{location, path, message}]``."""
    return InvalidArgument(
        f"{name}: {message}",
        {"errors": [{"location": location, "path": name, "message": message}]},
    )


@dataclass(frozen=True, slots=True)
class Param:
    """One query parameter.

    ``kind``: ``str``, ``int``, ``bool``, ``timestamp`` (RFC 3339) or ``list`` (of
    strings). ``choices`` restricts values (each element for lists); ``minimum`` /
    ``maximum`` bound integers. ``default`` is returned when the parameter is absent
    or empty.
    """

    name: str
    kind: str = "str"
    description: str = ""
    default: Any = None
    required: bool = False
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] | None = None
    example: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def parse(self, values: Sequence[str]) -> Any:
        """The typed value of the parameter from all its occurrences."""
        if self.kind == "list":
            return self._parse_list(values)
        if len(values) > 1:
            raise query_error(self.name, "given more than once; it takes one value")
        text = values[0] if values else ""
        if text == "":
            if self.required:
                raise query_error(self.name, "is required")
            return self.default
        if self.kind == "int":
            return self._parse_int(text)
        if self.kind == "bool":
            if text not in ("true", "false"):
                raise query_error(self.name, "must be true or false")
            return text == "true"
        if self.kind == "timestamp" and not is_rfc3339(text):
            raise query_error(self.name, "must be an RFC 3339 timestamp with Z or an offset")
        self._check_choice(text)
        return text

    def _parse_int(self, text: str) -> int:
        if len(text) > _MAX_DIGITS or _DECIMAL.fullmatch(text) is None:
            raise query_error(self.name, "must be a decimal integer")
        value = int(text)
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            raise query_error(self.name, f"must be between {self.minimum} and {self.maximum}")
        return value

    def _parse_list(self, values: Sequence[str]) -> tuple[str, ...] | None:
        items: dict[str, None] = {}
        for value in values:
            for element in value.split(","):
                if element == "":
                    raise query_error(self.name, "has an empty element")
                self._check_choice(element)
                items[element] = None
        if not items:
            if self.required:
                raise query_error(self.name, "is required")
            return self.default  # type: ignore[no-any-return]
        return tuple(items)

    def _check_choice(self, value: str) -> None:
        if self.choices is not None and value not in self.choices:
            raise query_error(self.name, f"unknown value {value!r}; one of {list(self.choices)}")

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI parameter object of this declaration."""
        schema: dict[str, Any]
        if self.kind == "list":
            item: dict[str, Any] = {"type": "string"}
            if self.choices:
                item["enum"] = list(self.choices)
            schema = {"type": "array", "items": item}
        elif self.kind == "int":
            schema = {"type": "integer"}
            if self.minimum is not None:
                schema["minimum"] = self.minimum
            if self.maximum is not None:
                schema["maximum"] = self.maximum
        elif self.kind == "bool":
            schema = {"type": "boolean"}
        else:
            schema = {"type": "string"}
            if self.kind == "timestamp":
                schema["format"] = "date-time"
            if self.choices:
                schema["enum"] = list(self.choices)
        if self.default is not None:
            schema["default"] = list(self.default) if self.kind == "list" else self.default
        doc: dict[str, Any] = {
            "name": self.name,
            "in": "query",
            "required": self.required,
            "schema": schema,
            "description": self.description,
        }
        if self.kind == "list":
            doc["style"] = "form"
            doc["explode"] = True
        if self.example is not None:
            doc["example"] = self.example
        doc.update(self.extra)
        return doc


def parse_query(query: QueryParams, params: Sequence[Param]) -> dict[str, Any]:
    """Parse ``query`` against the route's declarations (unknown names are 400)."""
    known = {p.name for p in params}
    for name in query:
        if name not in known:
            raise query_error(name, "unknown query parameter")
    return {p.name: p.parse(query.getlist(p.name)) for p in params}
