"""Other Open311 servers' vocabularies: ../shared/field-cases/open311-uk-statuses.xml (FixMyStreet-style statuses)
and more of them; an unknown status kept, not dropped."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from incidents.model import Status
from incidents.open311 import Open311Request, convert_all, map_status, parse_requests_xml, to_wire
from incidents.open311_server import post_to_wire, with_query
from incidents.timeutil import parse_ts
from tests.support.paths import FIELD_CASES

NOW = parse_ts("2026-11-30T12:00:00+08:00")


def test_fixmystreet_statuses_all_become_incidents() -> None:
    """field-cases/open311-uk-statuses.xml: 5 of 5 usable, each mapped to our lifecycle, the original kept."""
    requests = parse_requests_xml((FIELD_CASES / "open311-uk-statuses.xml").read_bytes())
    report = convert_all(requests, now=NOW)
    assert report.unusable == []
    assert [(m["id"], m["status"]) for m in report.messages] == [
        ("O311-9101", "reported"),
        ("O311-9102", "accepted"),
        ("O311-9103", "accepted"),
        ("O311-9104", "resolved"),
        ("O311-9105", "cancelled"),
    ]
    assert "Open311 status: not_councils_responsibility" in report.messages[4]["description"]
    assert "Open311 status" not in report.messages[0]["description"]  # "open" says nothing more than ours


@pytest.mark.parametrize(
    ("theirs", "ours"),
    [
        ("Action Scheduled", Status.ACCEPTED),  # FixMyStreet's label, as some servers send it
        ("IN-PROGRESS", Status.ACCEPTED),
        ("fixed - council", Status.RESOLVED),
        ("unable to fix", Status.CANCELLED),
        ("internal referral", Status.DISPATCHED),
        ("reopened", Status.DISPATCHED),
        ("archived", Status.RESOLVED),  # SeeClickFix
        ("pending", Status.REPORTED),
    ],
)
def test_status_vocabularies_of_servers_in_use(theirs: str, ours: Status) -> None:
    assert map_status(theirs) == (ours, True)


def test_an_unknown_status_is_kept_open_with_the_original() -> None:
    req = Open311Request(
        service_request_id="X1",
        status="awaiting_parts",
        requested_datetime=datetime(2026, 11, 26, 8, 0, tzinfo=UTC),
        lat=30.31,
        long=120.29,
        service_name="Streetlight",
    )
    msg, why = to_wire(req, now=NOW)
    assert msg is not None and why == ""
    assert msg["status"] == "reported"
    assert "Open311 status: awaiting_parts (unknown here: kept as reported)" in msg["description"]


def test_post_parameters_in_the_query_string_are_honoured() -> None:
    """field-cases/open311-post-query-string.sh: every parameter in the URL, an empty body (the pure part; the
    HTTP one is tests/dashboard/test_ingest_api.py)."""
    query = [("jurisdiction_id", "demo"), ("api_key", "k"), ("service_code", "environment"), ("lat", "30.29268"),
             ("long", "120.30161"), ("description", "路边垃圾未清运")]  # fmt: skip
    msg = post_to_wire(with_query([], query), now=NOW)
    assert (msg["category"], msg["lat"], msg["lon"], msg["title"]) == (
        "environment",
        30.29268,
        120.30161,
        "路边垃圾未清运",
    )
    body_wins = post_to_wire(with_query([("service_code", "fire")], query), now=NOW)
    assert body_wins["category"] == "fire"
