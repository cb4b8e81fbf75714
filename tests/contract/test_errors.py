"""The error tree (spec 4.4): exactly the nine DG_ERR_* codes, one class per code,
``str`` and ``repr`` forms, and pickling."""

from __future__ import annotations

import pickle

import pytest

from decisiongraph import DecisionGraphError as PublicDecisionGraphError
from decisiongraph.errors import (
    ERROR_CODES,
    DecisionGraphError,
    FloatFoundError,
    SchemaViolation,
    error_class_for_code,
    make_error,
)
from tests.contract.spec_tables import SCHEMA_VIOLATION, SPEC_ERROR_CODES


def test_error_codes_are_exactly_the_nine_spec_codes() -> None:
    assert len(ERROR_CODES) == 9
    assert len(set(ERROR_CODES)) == 9
    assert set(ERROR_CODES) == set(SPEC_ERROR_CODES)


def test_each_code_maps_to_its_own_subclass() -> None:
    classes = [error_class_for_code(code) for code in ERROR_CODES]
    assert len(set(classes)) == 9
    for code, cls in zip(ERROR_CODES, classes, strict=True):
        assert issubclass(cls, DecisionGraphError)
        assert cls is not DecisionGraphError
        error = make_error(code, "message")
        assert type(error) is cls
        assert error.code == code


def test_an_unknown_code_maps_to_the_base_class() -> None:
    assert error_class_for_code("DG_ERR_NOPE") is DecisionGraphError
    assert type(make_error("DG_ERR_NOPE", "m")) is DecisionGraphError


def test_the_public_package_exports_the_same_base_error() -> None:
    assert PublicDecisionGraphError is DecisionGraphError


@pytest.mark.parametrize("code", SPEC_ERROR_CODES)
def test_str_is_code_colon_message_and_repr_is_the_reference_form(code: str) -> None:
    for error in (DecisionGraphError(code, 'it\'s "bad"'), make_error(code, 'it\'s "bad"')):
        assert str(error) == f'{code}: it\'s "bad"'
        assert repr(error) == f"DecisionGraphError('{code}', 'it\\'s \"bad\"')"
        assert repr(error) == f"DecisionGraphError({code!r}, {error.message!r})"
        assert error.message == 'it\'s "bad"'


@pytest.mark.parametrize("code", SPEC_ERROR_CODES)
def test_errors_survive_a_pickle_round_trip(code: str) -> None:
    for error in (
        make_error(code, "message", {"index": 3, "mismatches": ["payload"]}),
        DecisionGraphError(code, "message", {"k": "v"}),
    ):
        copy = pickle.loads(pickle.dumps(error))
        # A base-class error may come back as its code's subclass; never the reverse.
        assert isinstance(copy, type(error))
        assert type(copy) is error_class_for_code(code)
        assert copy.code == error.code
        assert copy.message == error.message
        assert copy.details == error.details
        assert str(copy) == str(error)


def test_float_found_error_is_a_schema_violation() -> None:
    error = FloatFoundError("Float found at $.x")
    assert isinstance(error, SchemaViolation)
    assert error.code == SCHEMA_VIOLATION
    assert str(error) == f"{SCHEMA_VIOLATION}: Float found at $.x"
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, SchemaViolation)
    assert copy.code == SCHEMA_VIOLATION


def test_with_details_keeps_the_class_and_merges_details() -> None:
    error = make_error("DG_ERR_CONFLICT", "m", {"reason": "trace_finished"})
    extended = error.with_details(index=2)
    assert type(extended) is type(error)
    assert extended.details == {"reason": "trace_finished", "index": 2}
    assert error.details == {"reason": "trace_finished"}
