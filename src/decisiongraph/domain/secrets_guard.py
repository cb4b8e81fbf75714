"""The secret guard: refuse events that carry credentials (spec 1.3 as changed by 12.1).

It matches real credential *shapes* (AWS key ids, GitHub/Slack/OpenAI-style tokens, PEM
private-key headers, bearer tokens, secret assignments), so ordinary words such as
``task-1``, ``Asia`` or ``risk-score`` pass. The rule names below appear in error
messages and details; the matched text never does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

__all__ = ["SECRET_RULES", "find_secret", "match_secret_rule", "may_hold_secret"]

#: (rule name, pattern), sorted by name: when several rules match, the first is named.
SECRET_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    sorted(
        (name, re.compile(pattern))
        for name, pattern in {
            "api_key_header": r"(?i)api-key\s*:\s*\S",
            "aws_access_key_id": r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])",
            "bearer_token": r"(?i)(?<![A-Za-z0-9])bearer\s+[A-Za-z0-9._~+/-]{16,}=*",
            "github_token": r"(?<![A-Za-z0-9])gh[pousr]_[A-Za-z0-9_]{20,}",
            "openai_style_key": r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{20,}",
            "pem_private_key": r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY",
            "secret_assignment": (r"(?i)(?:password|passwd|secret|token|api_key|apikey)\s*=\s*\S"),
            "slack_token": r"(?<![A-Za-z0-9])xox[abpr]-[A-Za-z0-9-]{10,}",
        }.items()
    )
)

# Necessary conditions of the rules: a literal every match of a rule contains
# (case-sensitive where the rule is). One regex search for the case-sensitive ones and
# ``in`` checks on the lower-cased text for the others are far cheaper than the rules'
# regexes, which then run only on text that passes.
_CASED_LITERALS = re.compile(r"AKIA|ASIA|sk-|-----BEGIN |xox[abpr]-|gh[pousr]_")
_ASSIGNMENT_KEYWORDS = ("password", "passwd", "secret", "token", "api_key", "apikey")


def may_hold_secret(text: str) -> bool:
    """False when no rule can match ``text`` (a necessary-condition prefilter)."""
    if _CASED_LITERALS.search(text) is not None:  # aws, github, openai, pem, slack
        return True
    lowered = text.lower()
    if "bearer" in lowered or "api-key" in lowered:  # bearer_token, api_key_header
        return True
    if "=" in text:  # secret_assignment
        for keyword in _ASSIGNMENT_KEYWORDS:
            if keyword in lowered:
                return True
    return False


def match_secret_rule(text: str) -> str | None:
    """Return the name of the first rule (in sorted order) matching ``text``, or None."""
    if not may_hold_secret(text):
        return None
    for name, pattern in SECRET_RULES:
        if pattern.search(text) is not None:
            return name
    return None  # pragma: no cover - the combined pattern matched, so one rule does


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Yield (path, string) for every string in dict values and list items."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def find_secret(value: Any, path: str) -> tuple[str, str] | None:
    """Return ``(rule, json_path)`` of the first credential found in ``value``, or None.

    Dict keys are not scanned (spec 1.3); every string value and list item is.
    """
    for string_path, text in _strings(value, path):
        rule = match_secret_rule(text)
        if rule is not None:
            return rule, string_path
    return None
