"""Tenant ids: 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit."""

from __future__ import annotations

from typing import Any

import pytest

from decisiongraph.domain.tenant import DEFAULT_TENANT, validate_tenant_id
from decisiongraph.errors import DecisionGraphError
from tests.contract.spec_tables import INVALID_ARGUMENT


@pytest.mark.parametrize("tenant", ["default", "a", "0", "Z", "x" * 64, "a.b_c-d", "T-1.2_3"])
def test_valid_tenant_ids_are_returned_unchanged(tenant: str) -> None:
    assert validate_tenant_id(tenant) == tenant


@pytest.mark.parametrize(
    "tenant",
    ["", "*", "a b", "x" * 65, "-a", ".a", "_a", "é", "a/b", "a:b", "a\x00", "a\n", None, 1],
    ids=repr,
)
def test_invalid_tenant_ids_are_invalid_arguments(tenant: Any) -> None:
    with pytest.raises(DecisionGraphError) as caught:
        validate_tenant_id(tenant)
    assert caught.value.code == INVALID_ARGUMENT


def test_the_default_tenant_is_default() -> None:
    assert DEFAULT_TENANT == "default"
    assert validate_tenant_id(DEFAULT_TENANT) == "default"
