"""Prometheus metrics of one app (HTTP_API 2.1): requests, appends, refusals, lag.

Invariants:

* every app has its own :class:`~prometheus_client.CollectorRegistry` (never the
  global one), so several apps can live in one process (tests);
* request metrics are labelled by route TEMPLATE (``/api/v1/traces/{trace_id}``),
  ``unmatched`` for unknown paths, never by the raw path; methods outside the HTTP
  vocabulary become ``other``; labels never hold secrets, payload values or ids
  chosen by clients;
* tenant ids appear as labels only when ``per_tenant`` (``metrics_require_auth``):
  otherwise projection lag is aggregated (max and sum over tenants) and appends are
  not split by tenant, so an anonymous scrape never reveals a tenant id;
* projection lag is computed at scrape time from
  :func:`~decisiongraph.query.get_projection_health`, so it is never stale;
* under ``serve --workers N`` (``PROMETHEUS_MULTIPROC_DIR`` set before the workers
  import prometheus_client) counters and histograms are summed over the workers.

The request middleware is a pure ASGI middleware whose per-request work is two
dictionary lookups and two increments (label children are cached).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from decisiongraph.errors import DecisionGraphError
from decisiongraph.projections.engine import PROJECTION_NAMES
from decisiongraph.query.health import get_projection_health
from decisiongraph.store.base import SqlEventStore
from decisiongraph.store.observer import AppendRecord, ReadRecord, StoreObserver

if TYPE_CHECKING:
    from decisiongraph.api.state import AppState

__all__ = ["Metrics"]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# The store reports "appended"; the metric speaks of new events, as the contract does.
_OUTCOMES = {"appended": "new", "reused": "reused", "rejected": "rejected"}
# A request's label children: its counter, its histogram, its refusal counter if any.
_RequestChildren = tuple[Counter, Histogram, Counter | None]


class Metrics:
    """The metrics of one app. ``per_tenant``: label appends and lag by tenant."""

    def __init__(self, *, per_tenant: bool = False) -> None:
        self.per_tenant = per_tenant
        self.registry = CollectorRegistry()
        # Values live in files shared by the workers when prometheus_client was
        # imported with PROMETHEUS_MULTIPROC_DIR set (serve --workers N).
        self.multiprocess = values.ValueClass is not values.MutexValue
        r = self.registry
        self.requests = Counter(
            "dg_http_requests", "HTTP requests by route template, method and status.",
            ["route", "method", "status"], registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "dg_http_request_duration_seconds", "Time to the end of the response body.",
            ["route", "method"], buckets=_BUCKETS, registry=r,
        )  # fmt: skip
        self.auth_failures = Counter(
            "dg_auth_failures", "Requests answered 401 (failed authentication).", ["route"],
            registry=r,
        )  # fmt: skip
        self.rate_limited = Counter(
            "dg_rate_limited", "Requests answered 429 (rate limit, stream cap, auth throttle).",
            ["route"], registry=r,
        )  # fmt: skip
        append_labels = ["tenant", "outcome", "code"] if per_tenant else ["outcome", "code"]
        self.appends = Counter(
            "dg_appends", "Appended events by outcome (new, reused, rejected by DG_ERR code).",
            append_labels, registry=r,
        )  # fmt: skip
        self._lag = _LagCollector(per_tenant)
        self.registry.register(self._lag)
        self._request_children: dict[tuple[str, str, int], _RequestChildren] = {}
        self._append_children: dict[tuple[str, ...], Counter] = {}

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one finished request (the app's ``RequestMiddleware`` calls it)."""
        key = (route, method, status)
        children = self._request_children.get(key)
        if children is None:
            refusal = None
            if status == 401:
                refusal = self.auth_failures.labels(route)
            elif status == 429:
                refusal = self.rate_limited.labels(route)
            children = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route, method),
                refusal,
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        if children[2] is not None:
            children[2].inc()

    def observe_append(self, record: AppendRecord) -> None:
        """Count one append outcome reported by the store."""
        outcome = _OUTCOMES.get(record.outcome, "rejected")
        code = record.code or ""
        key = (record.tenant_id, outcome, code) if self.per_tenant else (outcome, code)
        child = self._append_children.get(key)
        if child is None:
            child = self.appends.labels(*key)
            self._append_children[key] = child
        child.inc()

    @contextlib.contextmanager
    def serving(self, state: AppState) -> Iterator[None]:
        """For the app's lifetime: publish ``self`` in ``state.extras["metrics"]``, count
        the store's appends (chained before any observer it already has) and read lag
        from it. The store's previous observer is restored afterwards."""
        store = state.store
        previous = store.observer
        store.observer = _AppendObserver(self, previous)
        state.extras["metrics"] = self
        self._lag.store = store
        try:
            yield
        finally:
            self._lag.store = None
            store.observer = previous

    def exposition(self) -> bytes:
        """The Prometheus text of every metric (blocking: lag reads the database)."""
        if not self.multiprocess:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(self._lag)
        return generate_latest(registry)


class _AppendObserver:
    """A :class:`StoreObserver` counting appends, then forwarding to the previous one."""

    def __init__(self, metrics: Metrics, inner: StoreObserver) -> None:
        self._metrics = metrics
        self._inner = inner

    def on_append(self, record: AppendRecord) -> None:
        self._metrics.observe_append(record)
        self._inner.on_append(record)

    def on_read(self, record: ReadRecord) -> None:
        self._inner.on_read(record)


class _LagCollector:
    """Projection lag, read from the database when the registry is collected."""

    def __init__(self, per_tenant: bool) -> None:
        self.per_tenant = per_tenant
        self.store: SqlEventStore | None = None

    def describe(self) -> Iterable[Metric]:
        # Names only: registering must not read the database.
        return list(self._families())

    def _families(self) -> Iterator[GaugeMetricFamily]:
        if self.per_tenant:
            labels = ["tenant", "projection"]
            yield GaugeMetricFamily(
                "dg_projection_lag_events", "Events after the cursor.", labels=labels
            )
            yield GaugeMetricFamily(
                "dg_projection_lag_seconds", "Age of the oldest unprojected event.", labels=labels
            )
        else:
            for stat in ("max", "sum"):
                yield GaugeMetricFamily(
                    f"dg_projection_lag_events_{stat}",
                    f"Events after the cursor, {stat} over tenants.",
                    labels=["projection"],
                )
                yield GaugeMetricFamily(
                    f"dg_projection_lag_seconds_{stat}",
                    f"Age of the oldest unprojected event, {stat} over tenants.",
                    labels=["projection"],
                )
        yield GaugeMetricFamily("dg_tenants", "Tenants with events.")
        yield GaugeMetricFamily("dg_projection_health_up", "1 if lag could be read, else 0.")

    def collect(self) -> Iterable[Metric]:
        store = self.store
        if store is None:
            return []
        try:
            healths = [get_projection_health(store, t) for t in store.list_tenants()]
        except DecisionGraphError:
            up = GaugeMetricFamily("dg_projection_health_up", "1 if lag could be read, else 0.")
            up.add_metric([], 0)
            return [up]
        families = {f.name: f for f in self._families()}
        for name in PROJECTION_NAMES:
            rows = [(h.tenant_id, h.projection(name)) for h in healths]
            if self.per_tenant:
                for tenant, status in rows:
                    families["dg_projection_lag_events"].add_metric(
                        [tenant, name], status.lag_events
                    )
                    families["dg_projection_lag_seconds"].add_metric(
                        [tenant, name], status.lag_seconds
                    )
                continue
            events = [s.lag_events for _, s in rows]
            seconds = [s.lag_seconds for _, s in rows]
            families["dg_projection_lag_events_max"].add_metric([name], max(events, default=0))
            families["dg_projection_lag_events_sum"].add_metric([name], sum(events))
            families["dg_projection_lag_seconds_max"].add_metric([name], max(seconds, default=0))
            families["dg_projection_lag_seconds_sum"].add_metric([name], sum(seconds))
        families["dg_tenants"].add_metric([], len(healths))
        families["dg_projection_health_up"].add_metric([], 1)
        return list(families.values())
