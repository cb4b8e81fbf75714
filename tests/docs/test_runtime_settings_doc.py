"""The configuration table of ``docs/operations/API_RUNTIME.md`` matches
``ServiceSettings``: one row per field, in field order, with the field's environment
variable and default. A new setting without a row, or a changed default, fails here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from decisiongraph.service.settings import ServiceSettings
from tests.docs.markdown import DOCS

RUNTIME = DOCS / "operations" / "API_RUNTIME.md"
_ROW = re.compile(r"^\| `([a-z_]+)` \| `(DG_[A-Z_]+)` \| (.+?) \| (.+) \|$", re.MULTILINE)


def _section(title: str) -> str:
    text = RUNTIME.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end]


def documented_settings() -> dict[str, tuple[str, str, str]]:
    """``{setting: (env var, default cell, meaning)}`` of the configuration table."""
    rows = _ROW.findall(_section("Configuration"))
    table = {name: (env, default, meaning) for name, env, default, meaning in rows}
    assert len(table) == len(rows), "a setting has two rows"
    return table


def rendered_default(value: Any) -> str:
    """A default as the table shows it."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`"


def test_every_setting_has_a_row_in_field_order() -> None:
    assert list(documented_settings()) == list(ServiceSettings.model_fields)


@pytest.mark.parametrize("name", list(ServiceSettings.model_fields))
def test_row_names_the_env_var_and_the_default(name: str) -> None:
    env, default, meaning = documented_settings()[name]
    assert env == f"DG_{name.upper()}"
    assert default == rendered_default(ServiceSettings.model_fields[name].default)
    assert meaning.strip()


def test_env_var_sets_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    """The documented variables are the ones pydantic-settings reads."""
    monkeypatch.setenv("DG_POOL_SIZE", "3")
    monkeypatch.setenv("DG_METRICS_REQUIRE_AUTH", "true")
    monkeypatch.setenv("DG_STREAM_POLL_S", "0.25")
    settings = ServiceSettings()
    assert (settings.pool_size, settings.metrics_require_auth, settings.stream_poll_s) == (
        3,
        True,
        0.25,
    )


def test_serve_options_table_matches_the_defaults() -> None:
    """The options table of Start-up shows the settings' defaults for serve's options."""
    options = _section("Start-up")
    fields = ServiceSettings.model_fields
    for option, name in (("--db URL", "database_url"), ("--host H", "host"), ("--port P", "port")):
        row = f"| `{option}` | `DG_{name.upper()}` | {rendered_default(fields[name].default)} |"
        assert row in options, row
