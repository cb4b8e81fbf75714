"""Error envelopes become the library's exception classes, with the HTTP status, the
request id and the API code attached; transport failures are ``Unavailable``."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable

import httpx
import pytest

from decisiongraph import ActorRef, EntityRef, SourceRef
from decisiongraph.api import errors as api_errors
from decisiongraph.client import LIBRARY_CODE_BY_API_CODE, Client
from decisiongraph.client._errors import library_code_for
from decisiongraph.errors import (
    DecisionGraphError,
    Forbidden,
    InternalError,
    InvalidArgument,
    NotFound,
    Unauthorized,
    Unavailable,
    error_class_for_code,
)
from tests.client.conftest import Service

SOURCE = SourceRef("agent-svc", "crm")
AGENT = ActorRef("agent", "a1")
REQUEST_ID = re.compile(r"[0-9a-f]{32}")


def _raised(call: Callable[..., object], *args: object) -> DecisionGraphError:
    with pytest.raises(DecisionGraphError) as caught:
        call(*args)
    return caught.value


def _http(error: DecisionGraphError) -> tuple[object, object, object]:
    return (
        getattr(error, "status", "unset"),
        getattr(error, "api_code", "unset"),
        getattr(error, "request_id", "unset"),
    )


def test_the_code_table_is_the_services() -> None:
    assert set(LIBRARY_CODE_BY_API_CODE) == set(api_errors.API_CODES)
    for api_code, library_code in LIBRARY_CODE_BY_API_CODE.items():
        assert api_errors.library_code_for(api_code) == library_code
        assert api_errors.api_code_for(library_code) == api_code
        assert error_class_for_code(library_code) is not DecisionGraphError
    assert library_code_for("no_such_code") == api_errors.library_code_for("no_such_code")


def test_envelopes_become_library_errors(service: Service) -> None:
    with service.client("reader") as reader:
        denied = _raised(reader.start_trace, "wf", "T", EntityRef("a", "b"), SOURCE, AGENT)
        assert isinstance(denied, Forbidden)
        assert denied.code == "DG_ERR_FORBIDDEN"
        assert denied.details == {"required_permission": "events:write"}
        status, api_code, request_id = _http(denied)
        assert (status, api_code) == (403, "forbidden")
        assert isinstance(request_id, str)
        assert REQUEST_ID.fullmatch(request_id)
        missing = _raised(reader.get_trace, "missing")
        assert isinstance(missing, NotFound)
        assert _http(missing)[:2] == (404, "not_found")
        assert _http(missing)[2] != request_id  # one id per request
        bad_limit = _raised(reader.find_precedents, None, None, None, None, None, 0)
        assert isinstance(bad_limit, InvalidArgument)
        first = bad_limit.details["errors"][0]
        assert (first["location"], first["path"]) == ("query", "limit")
        assert _http(bad_limit)[:2] == (400, "invalid_argument")


def test_keys_and_tenants_are_checked(service: Service) -> None:
    with Client(service.base_url, "dg_not_a_key", tenant=service.tenant) as stranger:
        error = _raised(stranger.get_projection_health)
        assert isinstance(error, Unauthorized)
        assert _http(error)[:2] == (401, "unauthorized")
    elsewhere = service.key("reader", ["somewhere-else"])
    with Client(service.base_url, elsewhere, tenant=service.tenant) as wrong_tenant:
        error = _raised(wrong_tenant.get_projection_health)
        assert isinstance(error, Forbidden)
        assert error.details["tenant_id"] == service.tenant
    several = service.key("reader", [service.tenant, "somewhere-else"])
    with Client(service.base_url, several) as no_tenant:
        assert _http(_raised(no_tenant.get_projection_health))[:2] == (400, "invalid_argument")
    with Client(service.base_url, several, tenant=service.tenant) as chosen:
        assert chosen.get_projection_health().tenant_id == service.tenant
        assert chosen.tenant == service.tenant


def test_no_response_is_unavailable() -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with Client(f"http://127.0.0.1:{port}", "dg_key", timeout=2) as client:
        error = _raised(client.get_trace_events, "t")
    assert isinstance(error, Unavailable)
    assert error.details == {"reason": "transport"}
    status, api_code, request_id = _http(error)
    assert (status, api_code) == (None, None)
    assert isinstance(request_id, str)
    assert REQUEST_ID.fullmatch(request_id)


@pytest.mark.parametrize(
    ("status", "expected"),
    [(502, Unavailable), (404, NotFound), (500, InternalError), (418, InternalError)],
)
def test_a_response_without_an_envelope_is_judged_by_its_status(
    status: int, expected: type[DecisionGraphError]
) -> None:
    """A proxy in front of the service answers with its own page."""

    def proxy(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text="<html>bad gateway</html>")

    with httpx.Client(transport=httpx.MockTransport(proxy)) as http:
        with Client("http://proxy.invalid", "dg_key", http_client=http) as client:
            error = _raised(client.get_trace_events, "t")
            assert type(error) is expected
            assert _http(error)[:2] == (status, None)
        assert not http.is_closed  # a client passed in is left open
