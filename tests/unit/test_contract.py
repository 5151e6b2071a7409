"""The contract check itself must be able to fail (it guards every simulator in the suite)."""

from __future__ import annotations

import pytest

from pcsim.contract import Contract
from tests.conftest import REFERENCE

pytestmark = pytest.mark.skipif(not REFERENCE.exists(), reason="../shared/reference absent")

SUB = "/v1.0/ingestion/products/p/submissions/1"


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract(REFERENCE)


def test_a_conforming_submission_passes(contract: Contract) -> None:
    body = b'{"resourceType": "Submission", "id": "1", "state": "Published", "substate": "InStore"}'
    assert contract.problems("GET", SUB, 200, body) == []


def test_a_wrong_enum_value_is_caught(contract: Contract) -> None:
    body = b'{"resourceType": "Submission", "id": "1", "state": "Live"}'
    assert any("state" in p for p in contract.problems("GET", SUB, 200, body))


def test_an_undocumented_operation_is_caught(contract: Contract) -> None:
    assert contract.problems("GET", "/v1.0/ingestion/products/p/nothing", 200, b"{}")


def test_error_bodies_and_other_surfaces_are_allowed(contract: Contract) -> None:
    assert contract.problems("GET", SUB, 404, b'"not found"') == []
    assert contract.problems("GET", SUB, 500, b"") == []
    assert contract.problems("GET", "/_admin/health", 200, b"{}") == []


def test_live_statuses_are_allowed_and_still_checked(contract: Contract) -> None:
    create = "/v1.0/ingestion/products/p/submissions"
    good = (
        b'{"resourceType": "Submission", "id": "1", "state": "InProgress", "substate": "InDraft"}'
    )
    assert contract.problems("POST", create, 202, good) == []
    bad = b'{"resourceType": "Submission", "id": "1", "state": "Live"}'
    assert contract.problems("POST", create, 202, bad)
    assert contract.problems("POST", create, 203, good)  # not live either
