"""Hypothesis settings of the property tests.

Two profiles are registered (not loaded globally, so other test directories keep their
own settings):

* ``decisiongraph-ci`` (used when ``CI=true``): derandomized, so every CI run checks the
  same examples and a red build is reproducible; no example database is written;
* ``decisiongraph-dev`` (otherwise): random exploration with the local example database,
  so a failure found once is replayed first on the next run.

Both disable the deadline: the store tests do real I/O, and timing is not a property
under test. ``DG_PROPERTY_SCALE`` multiplies every example budget for a deeper local run
(e.g. ``DG_PROPERTY_SCALE=20``).
"""

from __future__ import annotations

import os

from hypothesis import settings

__all__ = ["CI", "PROFILE", "property_settings"]

CI = os.environ.get("CI") == "true"

settings.register_profile(
    "decisiongraph-ci", deadline=None, derandomize=True, database=None, print_blob=True
)
settings.register_profile("decisiongraph-dev", deadline=None)

PROFILE = settings.get_profile("decisiongraph-ci" if CI else "decisiongraph-dev")


def property_settings(max_examples: int) -> settings:
    """The profile with an example budget (scaled by ``DG_PROPERTY_SCALE``)."""
    scale = float(os.environ.get("DG_PROPERTY_SCALE", "1"))
    return settings(PROFILE, max_examples=max(1, round(max_examples * scale)))
