"""``decisiongraph dump-trace TRACE_ID``: print one trace's events as JSON (spec section 9)."""

from __future__ import annotations

from typing import Annotated

import typer

from decisiongraph.cli.options import DEFAULT_DATABASE_URL, DEFAULT_TENANT, DbOption, TenantOption
from decisiongraph.cli.output import exit_on_domain_error, write_stdout
from decisiongraph.cli.stores import opened_store
from decisiongraph.cli.trace_format import dump_trace_json
from decisiongraph.errors import NotFound

__all__ = ["IncludePayloadOption", "dump_trace_command"]

IncludePayloadOption = Annotated[
    bool,
    typer.Option(
        "--include-payload",
        help="Also print source, actor, correlation and causation ids, idempotency key, "
        "schema version, payload, payload hash and tags.",
    ),
]


def dump_trace_command(
    trace_id: Annotated[str, typer.Argument(metavar="TRACE_ID", show_default=False)],
    include_payload: IncludePayloadOption = False,
    db: DbOption = DEFAULT_DATABASE_URL,
    tenant: TenantOption = DEFAULT_TENANT,
) -> None:
    """Print a trace's events in trace_seq order as a JSON array (byte-identical on reruns).

    Default fields: log_seq, event_id, trace_id, trace_seq, event_type, occurred_at,
    recorded_at. A trace with no events in the tenant is an error (exit 1).
    """
    with exit_on_domain_error(), opened_store(db) as store:
        events = store.get_trace_events(tenant, trace_id)
        if not events:
            raise NotFound(f"Trace {trace_id!r} not found in tenant {tenant!r}")
    write_stdout(dump_trace_json(events, include_payload=include_payload) + "\n")
