"""The example of ``docs/reference/PYTHON_SDK.md`` runs as documented against a server."""

from __future__ import annotations

import re
from pathlib import Path

from tests.client.conftest import Service

PAGE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "PYTHON_SDK.md"
_EXAMPLE = re.compile(r"<!-- sdk-example -->\n```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def test_the_documented_example_runs(service: Service) -> None:
    match = _EXAMPLE.search(PAGE.read_text(encoding="utf-8"))
    assert match is not None, "the marked example is missing from PYTHON_SDK.md"
    code = match.group(1)
    assert 'tenant="acme"' in code
    # The page's tenant is this test's own tenant, so nothing else is in it.
    program = code.replace('tenant="acme"', f"tenant={service.tenant!r}")
    namespace = {"API": service.base_url, "TOKEN": service.key("writer")}
    exec(compile(program, str(PAGE), "exec"), namespace)  # our own documentation
    assert isinstance(namespace["trace"], str)
