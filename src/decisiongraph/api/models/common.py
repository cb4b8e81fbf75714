"""Models shared by every route: the error envelope and the list wrappers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from decisiongraph.api.errors import API_CODES

__all__ = ["ErrorBody", "ErrorEnvelope", "Strict"]

ErrorCode = Literal[API_CODES]  # type: ignore[valid-type]


class Strict(BaseModel):
    """Base of request models: unknown members are refused (422)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ErrorBody(BaseModel):
    code: ErrorCode = Field(description="Stable error code (HTTP_API 1.5); branch on it.")
    message: str = Field(description="What went wrong and what to do; may change.")
    details: dict[str, Any] = Field(description="Machine-readable facts; always an object.")


class ErrorEnvelope(BaseModel):
    """Every error response of every route."""

    error: ErrorBody
    request_id: str
