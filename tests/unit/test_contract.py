"""The contract check itself must be able to fail (it guards every in-process simulator)."""

from __future__ import annotations

import pytest

from tests import contract

pytestmark = pytest.mark.skipif(contract.spec() is None, reason="../shared/reference absent")

SUB = "/v1.0/ingestion/products/p/submissions/1"


def test_a_conforming_submission_passes() -> None:
    body = b'{"resourceType": "Submission", "id": "1", "state": "Published", "substate": "InStore"}'
    assert contract.problems("GET", SUB, 200, body) == []


def test_a_wrong_enum_value_is_caught() -> None:
    body = b'{"resourceType": "Submission", "id": "1", "state": "Live"}'
    assert any("state" in p for p in contract.problems("GET", SUB, 200, body))


def test_an_undocumented_operation_is_caught() -> None:
    assert contract.problems("GET", "/v1.0/ingestion/products/p/nothing", 200, b"{}")


def test_error_bodies_and_other_surfaces_are_allowed() -> None:
    assert contract.problems("GET", SUB, 404, b'"not found"') == []
    assert contract.problems("GET", SUB, 500, b"") == []
    assert contract.problems("GET", "/_admin/health", 200, b"{}") == []
