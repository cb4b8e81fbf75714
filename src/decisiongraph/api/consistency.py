"""Read consistency over HTTP (HTTP_API 1.8): the three query parameters of every
projection-backed route, their translation into :class:`~decisiongraph.query.ReadOptions`,
and the ``X-DG-Projection-Log-Seq`` header of the answer.

Invariants:

* ``consistency`` is ``strict`` (default) or ``eventual``; ``min_log_seq`` is an integer
  >= 0; ``wait_ms`` is 0..10000 (default 0). Giving ``min_log_seq`` or ``wait_ms`` (any
  value, 0 included) together with ``consistency=eventual`` is 400 with the query
  parameter error shape, naming the offending parameter.
* Every 2xx of a projection-backed route carries ``X-DG-Projection-Log-Seq``: the
  ``projection_log_seq`` of the query result that answered (the smaller cursor when two
  projections are read). The 409 gets the same header from the operation wrapper
  (``Operation.projection_backed``), from the error's ``details.projection_log_seq``.

The wait itself happens inside the query layer, which polls without holding a database
connection; the handler runs in the request's worker thread, so waiting blocks no event
loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from decisiongraph.api.operations import Call, Result
from decisiongraph.api.params import Param, query_error
from decisiongraph.query import ReadOptions
from decisiongraph.query.consistency import CONSISTENCY_MODES, MAX_WAIT_MS

__all__ = [
    "CONSISTENCY_PARAMS",
    "PROJECTION_LOG_SEQ_HEADER",
    "projected_result",
    "read_options",
]

PROJECTION_LOG_SEQ_HEADER = "X-DG-Projection-Log-Seq"

CONSISTENCY_PARAMS: tuple[Param, ...] = (
    Param(
        "consistency",
        choices=CONSISTENCY_MODES,
        default="strict",
        description=(
            "`strict`: answer only once every read projection has reached the required "
            "position (else 409 `projection_out_of_date`); `eventual`: the current "
            "projection state at once, never 409."
        ),
    ),
    Param(
        "min_log_seq",
        kind="int",
        minimum=0,
        description=(
            "Strict only: the position every read projection must have reached "
            "(default: the tenant tail at request start). Read-your-writes: the "
            "`log_seq` an append returned."
        ),
    ),
    Param(
        "wait_ms",
        kind="int",
        minimum=0,
        maximum=MAX_WAIT_MS,
        default=0,
        description=(
            "Strict only: how long the server may wait for the projector before "
            "answering 409 `projection_out_of_date`."
        ),
    ),
)

_STRICT_ONLY = ("min_log_seq", "wait_ms")


def _given(query: Mapping[str, str], name: str) -> bool:
    # An empty optional parameter is the same as omitting it (HTTP_API 1.3).
    return bool(query.get(name))


def read_options(call: Call) -> ReadOptions:
    """The :class:`ReadOptions` of the request's (already parsed) 1.8 parameters."""
    params = call.params
    if params["consistency"] == "eventual":
        for name in _STRICT_ONLY:
            if _given(call.request.query_params, name):
                raise query_error(name, "applies to consistency=strict only; drop it or use strict")
        return ReadOptions("eventual")
    return ReadOptions("strict", params["min_log_seq"], params["wait_ms"])


class _Projected(Protocol):
    @property
    def projection_log_seq(self) -> int: ...


def projected_result(data: Any, answered: _Projected, status: int = 200) -> Result:
    """A success of a projection-backed route, with ``X-DG-Projection-Log-Seq`` taken
    from the query result that answered."""
    headers = {PROJECTION_LOG_SEQ_HEADER: str(answered.projection_log_seq)}
    return Result(data, status, headers)
