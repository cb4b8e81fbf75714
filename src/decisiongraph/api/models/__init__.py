"""Pydantic v2 models of the contract's objects (HTTP_API 6), used for the OpenAPI
document and for step 9 shape checks of non-event bodies. Event envelopes are checked
by the domain's strict type check instead (the same code as the CLI import), and
responses are rendered from the library's objects; tests compare both to these
models."""
