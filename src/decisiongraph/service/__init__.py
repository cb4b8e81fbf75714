"""Application layer shared by the HTTP API, the CLI and the library façade."""

from decisiongraph.service.facade import DecisionGraph

__all__ = ["DecisionGraph"]
