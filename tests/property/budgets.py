"""Example budgets of the store properties, per backend.

PostgreSQL round trips cost the most, so it gets fewer and shorter sequences; the whole
directory stays well under a minute on the 2-core CI machine.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["BATCH_BUDGETS", "SEQUENCE_BUDGETS", "Budget"]


class Budget(NamedTuple):
    max_examples: int
    max_ops: int
    max_prefix: int = 0


SEQUENCE_BUDGETS = {
    "sqlite-memory": Budget(max_examples=200, max_ops=14),
    "sqlite-file": Budget(max_examples=60, max_ops=12),
    "postgres": Budget(max_examples=25, max_ops=10),
}

BATCH_BUDGETS = {
    "sqlite-memory": Budget(max_examples=150, max_ops=12, max_prefix=4),
    "sqlite-file": Budget(max_examples=60, max_ops=10, max_prefix=4),
    "postgres": Budget(max_examples=25, max_ops=8, max_prefix=3),
}
