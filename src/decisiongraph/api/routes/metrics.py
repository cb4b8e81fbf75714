"""``GET /metrics`` (HTTP_API 2.1, 1.1): the Prometheus text of this server.

Not enveloped. Anonymous by default (steps 2-6 of 1.6 skipped, like the probes); with
``metrics_require_auth`` it needs a key of an ``admin``-role account and no tenant
header (the scrape is not about one tenant), and only then are tenant ids used as
labels. The authentication runs in the handler because the operation's declaration is
shared by every app while the requirement is a per-app setting.
"""

from __future__ import annotations

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from decisiongraph.api.metrics import Metrics
from decisiongraph.api.operations import Call, Operation
from decisiongraph.errors import Forbidden
from decisiongraph.service.auth import Principal

__all__ = ["OPERATIONS"]

#: The account role a scrape needs when ``metrics_require_auth`` is set.
REQUIRED_ROLE = "admin"


def _authorise(call: Call) -> None:
    principal: Principal = call.state.authenticator.authenticate(
        call.request.headers.get("authorization")
    )
    if principal.role != REQUIRED_ROLE:
        raise Forbidden(
            "Scraping /metrics needs a key of an admin-role account",
            {"required_role": REQUIRED_ROLE},
        )


def _scrape(call: Call) -> bytes:
    # Blocking (key lookup, lag read from the database): runs in the threadpool.
    if call.state.settings.metrics_require_auth:
        _authorise(call)
    metrics: Metrics = call.state.extras["metrics"]
    return metrics.exposition()


async def metrics_text(call: Call) -> Response:
    """Requests by route template and status, appends by outcome, refusals, lag."""
    body = await run_in_threadpool(_scrape, call)
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)


OPERATIONS = [
    Operation(
        operation_id="getMetrics",
        method="GET",
        path="/metrics",
        summary="Prometheus metrics (text format)",
        handler=metrics_text,
        tenant_scoped=False,
        error_statuses=(401, 403),
        description=(
            "Prometheus text exposition format 0.0.4. Anonymous unless the server sets "
            "`metrics_require_auth` (env `DG_METRICS_REQUIRE_AUTH`); then an admin-role "
            "key is required (no `X-Tenant-Id`) and tenant ids appear as labels. "
            "Metrics: `dg_http_requests_total{route,method,status}`, "
            "`dg_http_request_duration_seconds{route,method}`, "
            "`dg_appends_total{outcome,code}` (outcome `new`, `reused`, `rejected`), "
            "`dg_auth_failures_total{route}`, `dg_rate_limited_total{route}`, "
            "`dg_projection_lag_events_{max,sum}{projection}` and "
            "`dg_projection_lag_seconds_{max,sum}{projection}` (per tenant with "
            "authentication: `dg_projection_lag_events{tenant,projection}`), `dg_tenants`, "
            "`dg_projection_health_up`."
        ),
    ),
]
