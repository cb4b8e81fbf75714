"""The secret guard's rules (spec 1.3 as changed by 12.1)."""

from __future__ import annotations

from typing import Any

import pytest

from decisiongraph.domain.secrets_guard import SECRET_RULES, find_secret, match_secret_rule
from tests.contract.spec_tables import SECRET_ACCEPT_EXAMPLES, SECRET_REJECT_EXAMPLES

#: Must-reject examples of 12.1 with the rule the recommended patterns name for them.
RULE_TABLE = [
    ("AKIAIOSFODNN7EXAMPLE", "aws_access_key_id"),
    ("ASIAIOSFODNN7EXAMPLE", "aws_access_key_id"),
    ("ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "github_token"),
    ("ghr_abcdefghij0123456789", "github_token"),
    ("xoxb-123456789012-abcdefghijkl", "slack_token"),
    ("xoxr-1234567890", "slack_token"),
    ("sk-abcdefghijklmnopqrstuvwxyz012345", "openai_style_key"),
    ("-----BEGIN PRIVATE KEY-----", "pem_private_key"),
    ("-----BEGIN RSA PRIVATE KEY-----", "pem_private_key"),
    ("-----BEGIN EC PRIVATE KEY-----", "pem_private_key"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----", "pem_private_key"),
    ("-----BEGIN ENCRYPTED PRIVATE KEY-----", "pem_private_key"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", "bearer_token"),
    ("bearer abcdefghijklmnop", "bearer_token"),
    ("password=hunter2", "secret_assignment"),
    ("client_secret=abc", "secret_assignment"),
    ("PassWord = x", "secret_assignment"),
    ("TOKEN=abc", "secret_assignment"),
    ("apikey=1", "secret_assignment"),
    ("api-key: abc123", "api_key_header"),
    ("API-KEY:x", "api_key_header"),
]


@pytest.mark.parametrize(("text", "rule"), RULE_TABLE)
def test_credential_shapes_match_their_rule(text: str, rule: str) -> None:
    assert match_secret_rule(text) == rule
    assert match_secret_rule(f"prefix {text} suffix") == rule


@pytest.mark.parametrize("text", SECRET_REJECT_EXAMPLES)
def test_every_listed_credential_shape_is_caught(text: str) -> None:
    assert match_secret_rule(text) is not None


ORDINARY = [
    *SECRET_ACCEPT_EXAMPLES,
    "Asia/Tokyo",
    "ASIA-PACIFIC region",
    "akia",
    "desk-12345678901234567890123",
    "risk-assessment-2025-q4-final-version",
    "task-1234567890123456789012345",
    "sk-1",
    "ghp_short",
    "xoxb-short",
    "-----BEGIN CERTIFICATE-----",
    "-----BEGIN PUBLIC KEY-----",
    "the token is in the vault",
    "passwords must be rotated",
    "reset password",
    "secret santa",
    "Bearer",
    "api-key",
    "AKIAIOSFODNN7EXAMPL",
    "",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_not_a_secret(text: str) -> None:
    assert match_secret_rule(text) is None


def test_the_first_rule_in_sorted_order_is_named() -> None:
    names = [name for name, _ in SECRET_RULES]
    assert names == sorted(names)
    assert match_secret_rule("password=AKIAIOSFODNN7EXAMPLE") == "aws_access_key_id"


def test_find_secret_walks_dict_values_and_list_items_with_json_paths() -> None:
    value: dict[str, Any] = {
        "fine": "task-1",
        "outer": {"inner": ["ok", {"deep": "sk-abcdefghijklmnopqrstuvwxyz012345"}]},
    }
    assert find_secret(value, "$.payload") == (
        "openai_style_key",
        "$.payload.outer.inner[1].deep",
    )
    assert find_secret(["a", "b", "password=x"], "$.tags") == ("secret_assignment", "$.tags[2]")


def test_find_secret_ignores_dict_keys_and_non_strings() -> None:
    value = {
        "AKIAIOSFODNN7EXAMPLE": {"password=hunter2": [1, None, True, 2**70]},
        "sk-abcdefghijklmnopqrstuvwxyz012345": "Asia",
    }
    assert find_secret(value, "$.payload") is None


def test_find_secret_reports_the_first_string_in_document_order() -> None:
    value = {"a": "password=1", "b": "AKIAIOSFODNN7EXAMPLE"}
    assert find_secret(value, "$") == ("secret_assignment", "$.a")
