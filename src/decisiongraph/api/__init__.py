"""HTTP delivery (HTTP_API.md): FastAPI app, routes, error envelope, OpenAPI.

Thin by rule: handlers parse the request and call the service and query layers; no SQL
and no business rules live here. Build the app with :func:`create_app`.
"""

from decisiongraph.api.app import create_app

__all__ = ["create_app"]
