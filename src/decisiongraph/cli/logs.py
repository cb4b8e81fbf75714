"""Logging for the command line: warnings and errors of the libraries underneath (such as
the PostgreSQL pool's connection retries) go to stderr, each distinct message once."""

from __future__ import annotations

import logging
import sys

__all__ = ["configure_logging"]


class _FirstOccurrence(logging.Filter):
    """Let each distinct (logger, message) through once: retry loops stay readable."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[tuple[str, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.getMessage())
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


def configure_logging(level: int = logging.WARNING) -> None:
    """Send log records of ``level`` and above to stderr, unless logging is configured."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_FirstOccurrence())
    root.addHandler(handler)
    root.setLevel(level)
