"""``decisiongraph replay``: rebuild a tenant's live projections from its log and print
the new digests (spec 9, 13.5).

The rebuild is the projector's versioned one: the new version is built beside the live
one (which keeps serving reads, and keeps following new events), then swapped in
atomically with its cursor, so no reader ever sees a partly built projection. The event
log is only read.
"""

from __future__ import annotations

from decisiongraph.cli.options import (
    DEFAULT_DATABASE_URL,
    DEFAULT_TENANT,
    DbOption,
    JsonOption,
    TenantOption,
)
from decisiongraph.cli.output import exit_on_domain_error, write_json, write_stdout
from decisiongraph.cli.project import BatchSizeOption
from decisiongraph.cli.stores import opened_store
from decisiongraph.projections.digests import Digests
from decisiongraph.projections.runner import DEFAULT_BATCH_SIZE, Projector

__all__ = ["format_digests", "replay_command"]


def format_digests(digests: Digests) -> str:
    """The spec 9 text: a heading, then ``  <key>: <digest>`` in sorted key order."""
    lines = ["Projection digests after replay:"]
    lines += [f"  {key}: {value}" for key, value in sorted(digests.as_dict().items())]
    return "\n".join(lines) + "\n"


def replay_command(
    as_json: JsonOption = False,
    batch_size: BatchSizeOption = DEFAULT_BATCH_SIZE,
    db: DbOption = DEFAULT_DATABASE_URL,
    tenant: TenantOption = DEFAULT_TENANT,
) -> None:
    """Rebuild the tenant's live projections from its log and print their digests.

    The new version is built beside the live one and switched in atomically (readers
    never see a partial state); the event log is never modified. With --json, prints one
    object with the keys context_graph, trace_summary, precedent_index, full_projection.
    """
    with exit_on_domain_error(), opened_store(db) as store:
        projector = Projector(store, batch_size=batch_size)
        projector.rebuild(tenant)
        digests = projector.digests(tenant)
    if as_json:
        write_json(digests.as_dict())
    else:
        write_stdout(format_digests(digests))
