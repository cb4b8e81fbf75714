"""Opaque, tamper-checked page cursors (HTTP_API 1.7, 2.10).

A cursor is ``base64url(JSON {"r": route, "p": position, "m": mac})`` without padding,
where ``mac`` is an HMAC-SHA256 (truncated to 128 bits) over the route, the position and
the *binding*: the tenant and the filters the cursor belongs to (never ``limit``). The
binding is not stored in the cursor, so a cursor replayed with another tenant, node,
direction or filter fails the check exactly like an edited one: both are
``DG_ERR_INVALID_ARGUMENT``. Cursors do not expire; they stay valid as long as the
secret does, so every process serving a deployment must use the same secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from typing import Any

from decisiongraph.errors import InvalidArgument

__all__ = ["CursorCodec"]

_MAC_BYTES = 16
_MAX_TOKEN_CHARS = 4096


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(padded.encode("ascii"))


class CursorCodec:
    """Encodes and checks opaque cursors with a secret key.

    ``secret`` may be bytes or text; ``CursorCodec.ephemeral()`` makes one with a random
    key (cursors then die with the process: fine for tests and embedded use).
    """

    def __init__(self, secret: bytes | str) -> None:
        key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
        if len(key) < 16:
            raise InvalidArgument("The cursor secret must be at least 16 bytes long")
        self._key = key

    @classmethod
    def ephemeral(cls) -> CursorCodec:
        return cls(os.urandom(32))

    def _mac(self, route: str, binding: Mapping[str, Any], position: Mapping[str, Any]) -> str:
        message = _canonical({"b": binding, "p": position, "r": route})
        digest = hmac.new(self._key, message, hashlib.sha256).digest()[:_MAC_BYTES]
        return _b64encode(digest)

    def encode(self, route: str, binding: Mapping[str, Any], position: Mapping[str, Any]) -> str:
        """The cursor of ``position`` on ``route``, bound to ``binding``."""
        token = {"m": self._mac(route, binding, position), "p": dict(position), "r": route}
        return _b64encode(_canonical(token))

    def decode(self, route: str, binding: Mapping[str, Any], cursor: str) -> dict[str, Any]:
        """The position of ``cursor``; InvalidArgument if it is malformed, was edited,
        or belongs to another route, tenant or filter set."""
        if not isinstance(cursor, str) or not cursor or len(cursor) > _MAX_TOKEN_CHARS:
            raise _invalid("malformed")
        try:
            token = json.loads(_b64decode(cursor).decode("utf-8"))
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise _invalid("malformed") from exc
        if (
            not isinstance(token, dict)
            or set(token) != {"m", "p", "r"}
            or not isinstance(token["p"], dict)
            or not isinstance(token["m"], str)
            or token["r"] != route
        ):
            raise _invalid("malformed or for another route")
        expected = self._mac(route, binding, token["p"])
        if not hmac.compare_digest(expected, token["m"]):
            raise _invalid("does not belong to this request (tenant, filters) or was altered")
        position: dict[str, Any] = token["p"]
        return position


def _invalid(reason: str) -> InvalidArgument:
    return InvalidArgument(
        f"Invalid cursor: {reason}; restart from the first page",
        {"errors": [{"location": "query", "path": "cursor", "message": reason}]},
    )
