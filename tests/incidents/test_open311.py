"""Open311 GeoReport v2: the real city responses in ../shared/realdata/open311 (SOURCES.md lists their quirks)
parsed to specific values, ``to_wire`` with its reasons, and the serving side (services, POST mapping without
personal data, status mapping, query filters, XML that our own parser reads back)."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import pytest

from incidents import open311_server as o3
from incidents.model import CATEGORIES, Incident, Status
from incidents.open311 import (
    Open311Error,
    Open311FormatError,
    Open311Request,
    category_for,
    convert_all,
    parse_requests_json,
    parse_requests_xml,
    parse_services_json,
    parse_services_xml,
    to_wire,
    wire_id,
)
from incidents.wire import parse_object
from tests.support.paths import OPEN311

REAL = OPEN311
real = pytest.mark.skipif(not REAL.is_dir(), reason=f"{REAL} missing (CI has shared/ beside the clone)")
NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC).timestamp()
LA = ZoneInfo("America/Los_Angeles")


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def read(name: str) -> bytes:
    return (REAL / name).read_bytes()


# --------------------------------------------------------------------------------------------- real samples


@real
def test_bloomington_21_requests_with_null_and_zero_coordinates() -> None:
    reqs = parse_requests_json(read("bloomington_requests.json"))
    assert len(reqs) == 21
    by_id = {r.service_request_id: r for r in reqs}
    assert Counter(r.status for r in reqs) == {"open": 18, "closed": 3}
    nulls = [r.service_request_id for r in reqs if r.lat is None and r.long is None]
    zeros = [r.service_request_id for r in reqs if r.lat == 0 and r.long == 0]
    assert nulls == ["4fbd40b2b1fe2c4b02000001", "4fbcd880b1fe2c9612000000"]
    assert len(zeros) == 6 and "4fbd2b76b1fe2c195f000000" in zeros
    # zipcode: null and "" are both missing; a real one stays a string
    assert Counter(r.zipcode for r in reqs) == {None: 16, "47401": 5}
    assert by_id["4fbd14bbb1fe2c5214000000"].description is None  # "" in the file
    assert by_id["4fbd12bcb1fe2c1c7d000001"].media_url.endswith("/media.jpg")  # type: ignore[union-attr]
    assert all(r.status_notes is None and not r.naive_times and not r.problems for r in reqs)
    first = by_id["4fbd40b2b1fe2c4b02000001"]
    assert first.requested_datetime == datetime(2012, 5, 23, 15, 55, 28, tzinfo=timezone(timedelta(hours=-4)))
    assert first.description is not None and first.description.startswith("I'm not sure if this intersection")

    report = convert_all(reqs, now=NOW)
    assert len(report.messages) == 13
    assert Counter(reason for _, reason in report.unusable) == {
        "no location (lat/long missing)": 2,
        "no location (lat/long 0,0 is a placeholder)": 6,
    }
    assert {i for i, _ in report.unusable} == set(nulls) | set(zeros)
    assert Counter(m["status"] for m in report.messages) == {"reported": 10, "resolved": 3}
    assert Counter(m["category"] for m in report.messages) == {
        "environment": 5,
        "traffic": 4,
        "infrastructure": 3,
        "public_service": 1,
    }
    graffiti = next(m for m in report.messages if m["id"] == "O311-4fbd3beeb1fe2c9f5c000001")
    assert graffiti == {
        "id": "O311-4fbd3beeb1fe2c9f5c000001",
        "status": "reported",
        "ts": ts("2012-05-23T15:35:10-04:00"),  # updated_datetime wins over requested
        "lon": -86.485448337464,
        "lat": 39.146551871103,
        "category": "environment",
        "title": "Graffiti on mailboxes",
        "description": "Graffiti on mailboxes\n\n"
        "Open311 4fbd3beeb1fe2c9f5c000001: Graffiti (4e090d24992b941e78000027)\n"
        "Address: 2303-2559 S Olcott Blvd\nAgency: Police Department",
        "source": "open311",
    }
    # every message passes the wire contract; the CRLF description is normalised
    for m in report.messages:
        assert parse_object(m, now=NOW)["id"] == m["id"]
        assert "\r" not in m["description"]


@real
def test_san_francisco_56_requests_naive_local_times_capitalised_status_xsi_nil() -> None:
    raw = read("san_francisco_requests.xml")
    reqs = parse_requests_xml(raw, tz=LA)
    assert len(reqs) == 56
    assert Counter(r.status for r in reqs) == {"open": 52, "closed": 4}  # "Open"/"Closed" in the file
    assert all(r.naive_times and not r.problems for r in reqs)
    first = reqs[0]
    assert first.service_request_id == "1129806" and first.service_code == "280"
    # "2012-05-22 23:57:23.97" is San Francisco time (PDT, -07:00)
    assert first.requested_datetime == datetime(2012, 5, 22, 23, 57, 23, 970000, tzinfo=LA)
    assert first.requested_datetime.timestamp() == ts("2012-05-23T06:57:23.970+00:00")
    assert first.updated_datetime is None  # xsi:nil="true"
    assert first.description is None and first.status_notes is None and first.agency_responsible is None
    assert first.address == "SAN FRANCISCO , CA"
    assert sum(r.updated_datetime is not None for r in reqs) == 4
    assert sum(r.expected_datetime is None for r in reqs) == 16
    assert Counter(r.zipcode for r in reqs)[None] == 24 and Counter(r.zipcode for r in reqs)["0"] == 9
    zeros = [r.service_request_id for r in reqs if r.lat == 0.0 and r.long == 0.0]
    assert zeros == ["1129806", "1129805", "1129796", "1129783", "1129770", "1129763", "1129726", "1129704", "1129685"]

    report = convert_all(reqs, now=NOW)
    assert len(report.messages) == 47
    assert report.unusable == [(i, "no location (lat/long 0,0 is a placeholder)") for i in zeros]
    assert Counter(m["status"] for m in report.messages) == {"reported": 43, "resolved": 4}
    assert Counter(m["category"] for m in report.messages) == {
        "environment": 24,
        "infrastructure": 12,
        "other": 8,
        "traffic": 3,
    }
    closed = next(m for m in report.messages if m["id"] == "O311-1129755")
    assert closed["status"] == "resolved"  # the city's closed = done; our closed is the street's 评单
    assert closed["ts"] == datetime(2012, 5, 22, 22, 27, 21, 237000, tzinfo=LA).timestamp()
    dumping = next(m for m in report.messages if m["id"] == "O311-1129792")
    assert dumping["category"] == "environment" and dumping["title"] == "Illegal_Dumping"
    assert (dumping["lon"], dumping["lat"]) == (-122.404434, 37.77944)
    assert "due" not in dumping  # its expected_datetime is xsi:nil

    # without a zone the default is UTC: seven hours earlier than the San Francisco reading
    utc_first = parse_requests_xml(raw)[0]
    assert utc_first.requested_datetime is not None
    assert first.requested_datetime.timestamp() - utc_first.requested_datetime.timestamp() == 7 * 3600


@real
def test_chicago_no_description_and_status_notes_on_one_record() -> None:
    reqs = parse_requests_json(read("service_requests.json"))
    assert [r.service_request_id for r in reqs] == ["14-01100669", "14-01100627"]
    assert [r.status_notes for r in reqs] == [None, "Locked"]
    assert [r.description for r in reqs] == [None, None]
    msgs = [to_wire(r, now=NOW) for r in reqs]
    assert [m.reason for m in msgs] == ["", ""]
    light, building = (m.message for m in msgs)
    assert light is not None and building is not None
    assert (light["id"], light["category"], light["title"]) == ("O311-14-01100669", "infrastructure", "Alley Light Out")
    assert light["ts"] == ts("2014-07-12T11:08:21-05:00")
    assert (building["category"], building["title"]) == ("safety_hazard", "Building Violation")
    assert "Status notes: Locked" in building["description"]


@real
def test_toronto_long_before_lat_empty_updated_alphanumeric_code() -> None:
    reqs = parse_requests_xml(read("requests_many.xml"))
    assert len(reqs) == 2
    r = reqs[0]
    assert (r.service_request_id, r.service_code, r.address_id) == ("101005420892", "CSROWR-12", "13459430")
    assert (r.lat, r.long) == (43.691104288, -79.272306875)
    assert r.updated_datetime is None and r.description is None and r.zipcode is None and r.media_url is None
    assert r.status_notes == "In progress - The request has been scheduled."
    msg = to_wire(r, now=NOW).message
    assert msg is not None
    assert msg["ts"] == ts("2018-07-30T00:01:00-04:00")  # no updated_datetime: requested
    assert msg["due"] == ts("2018-08-03T00:01:00-04:00")  # expected_datetime
    assert (msg["category"], msg["title"], msg["status"]) == ("infrastructure", "Road - Pot hole", "reported")
    assert (msg["lon"], msg["lat"]) == (-79.272306875, 43.691104288)


@real
def test_service_lists_bloomington_san_francisco_giessen() -> None:
    bl = parse_services_json(read("bloomington_services.json"))
    assert len(bl) == 46
    assert sum(s.metadata for s in bl) == 11
    assert bl[1].service_code == "4e090d24992b941e78000027" and bl[1].service_name == "Graffiti" and bl[1].metadata
    assert Counter(s.group for s in bl)["Streets, Parking & Traffic"] == 14
    assert all(s.type == "realtime" and s.keywords == () for s in bl)

    sf = parse_services_xml(read("san_francisco_services.xml"))
    assert len(sf) == 38 and not any(s.metadata for s in sf)
    assert (sf[0].service_code, sf[0].service_name, sf[0].group) == ("001", "Cans_Left_Out_24x7", "Litter Receptacles")
    assert Counter(s.group for s in sf)["Graffiti"] == 8
    assert Counter(category_for(s.service_code, s.service_name) for s in sf) == {
        "environment": 17,
        "infrastructure": 13,
        None: 6,
        "traffic": 2,
    }

    gi = parse_services_xml(read("services_giessen.xml"))  # root <services is_array="true">
    assert [s.service_code for s in gi] == ["015", "010", "013", "012", "011", "016", "017", "014"]
    assert gi[3].service_name == "Verkehrsschild beschädigt" and gi[3].keywords == ("graffiti", "paintings")
    assert gi[0].description is None and gi[0].keywords == () and gi[0].group is None
    assert [category_for(s.service_code, s.service_name) for s in gi] == [
        "infrastructure",  # Abwasser und Wasser
        "traffic",  # Ampel defekt
        "infrastructure",  # Laterne defekt
        "infrastructure",  # Verkehrsschild beschädigt
        "infrastructure",  # Straßen- und Gehwegschäden
        "traffic",  # Schrottautos und -Fahrräder
        "environment",  # Wilde Müllkippe, Sperrmüll
        "environment",  # Grünflächen und Spielplätze
    ]


# --------------------------------------------------------------------------------------------- reading: edges


def test_error_responses_and_non_responses_raise() -> None:
    with pytest.raises(Open311Error) as err:
        parse_requests_json(b'[{"code":403,"description":"Invalid api_key"}]')
    assert (err.value.code, err.value.description) == (403, "Invalid api_key")
    with pytest.raises(Open311Error) as err:
        parse_requests_xml(b"<errors><error><code>404</code><description>none</description></error></errors>")
    assert err.value.code == 404
    for bad in (b"not json", b'{"a": 1}', b"[1, 2]", b'"x"'):
        with pytest.raises(Open311FormatError):
            parse_requests_json(bad)
    with pytest.raises(Open311FormatError):
        parse_requests_xml(b"<services/>")
    with pytest.raises(Open311FormatError, match="DOCTYPE"):
        parse_requests_xml(b'<!DOCTYPE x [<!ENTITY a "aaaa">]><service_requests>&a;</service_requests>')
    with pytest.raises(Open311FormatError):
        parse_requests_xml(b"<service_requests><request>")
    # a wrapped JSON response and namespaced XML are read
    wrapped = parse_requests_json(b'{"service_requests": [{"service_request_id": 7, "status": "OPEN"}]}')
    assert (wrapped[0].service_request_id, wrapped[0].status) == ("7", "open")
    ns = b'<o:service_requests xmlns:o="urn:x"><o:request><o:service_request_id>9</o:service_request_id>'
    assert parse_requests_xml(ns + b"</o:request></o:service_requests>")[0].service_request_id == "9"


def test_unreadable_values_are_problems_not_crashes() -> None:
    [r] = parse_requests_json(
        b'[{"service_request_id":"x","status":"open","lat":"north","long":"NaN",'
        b'"requested_datetime":"yesterday","zipcode":47401}]'
    )
    assert r.lat is None and r.long is None and r.requested_datetime is None and r.zipcode == "47401"
    assert r.problems == (
        "requested_datetime: not an ISO 8601 date-time: 'yesterday'",
        "lat: not a number: 'north'",
        "long: not finite",
    )
    assert to_wire(r, now=NOW).reason == "no requested_datetime or updated_datetime"


def request(**kw: object) -> Open311Request:
    base: dict[str, object] = {
        "service_request_id": "A1",
        "status": "open",
        "requested_datetime": datetime(2026, 11, 26, 8, 0, tzinfo=UTC),
        "lat": 30.31,
        "long": 120.29,
        "service_name": "Noise complaint",
    }
    base.update(kw)
    return Open311Request(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"service_request_id": None}, "no service_request_id"),
        ({"status": None}, "no status"),
        ({"lat": None}, "no location (lat/long missing)"),
        ({"lat": 0.0, "long": 0.0}, "no location (lat/long 0,0 is a placeholder)"),
        ({"lat": 95.0}, "field 'lat': 95.0 out of range -90..90"),
        ({"requested_datetime": datetime(2027, 1, 1, tzinfo=UTC)}, "in the future (allowed skew 10 min)"),
        ({"requested_datetime": datetime(1999, 1, 1, tzinfo=UTC)}, "before 2000-01-01"),
    ],
)
def test_to_wire_says_why_a_request_is_unusable(kw: dict[str, object], reason: str) -> None:
    message, why = to_wire(request(**kw), now=NOW)
    assert message is None and reason in why


def test_to_wire_maps_statuses_ids_titles_and_drops_a_silly_due() -> None:
    msg = to_wire(request(status="in_progress", description="\n  吵闹\x0b到深夜\r\n第二行"), now=NOW).message
    assert msg is not None
    assert (msg["status"], msg["category"], msg["title"]) == ("accepted", "dispute", "吵闹 到深夜")
    assert msg["description"].startswith("吵闹 到深夜\n第二行\n\nOpen311 A1: Noise complaint")
    assert to_wire(request(status="Closed".lower()), now=NOW).message["status"] == "resolved"  # type: ignore[index]
    far_due = to_wire(request(expected_datetime=datetime(2030, 1, 1, tzinfo=UTC)), now=NOW).message
    assert far_due is not None and "due" not in far_due
    assert wire_id("a b/c#1") == "O311-a_b_c_1"
    long_id = wire_id("x" * 100)
    assert len(long_id) == 5 + 24 and parse_object({"id": long_id, "status": "reported", "ts": NOW})
    assert to_wire(request(), now=NOW, id_prefix="SF-").message["id"] == "SF-A1"  # type: ignore[index]


def test_category_aliases() -> None:
    assert category_for("environment") == "environment"
    assert category_for("环境卫生") == "environment"
    assert category_for("Fire safety") == "fire"
    assert category_for("Sidewalk_Cleaning") == "environment"  # cleaning before sidewalk
    assert category_for("Potholes, Other Street Repair") == "infrastructure"
    assert category_for("Traffic Signals") == "traffic"  # "signal", not "sign"
    assert category_for("Sign - Bent") == "infrastructure"
    assert category_for("Fire Hazards") == "fire"
    assert category_for("Unsafe Structures") == "safety_hazard"
    assert category_for("Noise") == "dispute"
    assert category_for("楼道堆放垃圾") == "environment"
    assert category_for("4e090d24992b941e78000027", "Graffiti") == "environment"  # the code says nothing
    assert category_for("SFHA - Routine - Priority") is None
    assert category_for("Designated area") is None  # "sign" only as a whole word
    assert category_for(None, "") is None


# --------------------------------------------------------------------------------------------- serving


def test_services_list_our_categories_with_english() -> None:
    svc = o3.services()
    assert [s["service_code"] for s in svc] == list(CATEGORIES)
    env = svc[0]
    assert env == {
        "service_code": "environment",
        "service_name": "环境卫生",
        "description": "Sanitation (环境卫生)",
        "metadata": False,
        "type": "realtime",
        "keywords": "litter, garbage, graffiti, dumping",
        "group": "城市管理 City management",
    }
    # our own reader reads our own list back
    back = parse_services_xml(o3.to_xml("services", "service", svc))
    assert [(s.service_code, s.service_name, s.metadata) for s in back] == [
        (code, label, False) for code, label in CATEGORIES.items()
    ]
    assert back[0].keywords == ("litter", "garbage", "graffiti", "dumping")


FORM = (
    b"api_key=k&jurisdiction_id=zj&service_code=Graffiti&lat=30.31&long=120.29"
    b"&address_string=%E6%BE%9C%E6%B9%BE%E8%A1%97%E9%81%93+1%E5%8F%B7&email=zhang%40example.com"
    b"&first_name=%E4%B8%89%E6%98%8E&last_name=%E5%BC%A0&phone=13812341234&device_id=dev-1&account_id=acc-9"
    b"&description=%E5%A2%99%E4%B8%8A%E6%B6%82%E9%B8%A6%0A%E5%BE%88%E5%A4%A7"
    b"&media_url=https%3A%2F%2Fexample.com%2Fa.jpg&attribute%5Bsize%5D=large&attribute%5Btags%5D%5B%5D=wall"
)


def form_fields(body: bytes) -> o3.Fields:
    """A form body as the web layer hands it over (``dashboard.http_body`` reads the HTTP side)."""
    return parse_qsl(body.decode("utf-8"), keep_blank_values=True)


def test_post_form_maps_to_a_wire_message_without_personal_data() -> None:
    fields = form_fields(FORM)
    msg = o3.post_to_wire(fields, now=NOW, request_id="O311-test")
    assert msg == {
        "id": "O311-test",
        "status": "reported",
        "ts": NOW,
        "lon": 120.29,
        "lat": 30.31,
        "category": "environment",
        "title": "墙上涂鸦",
        "description": "墙上涂鸦\n很大\n\nAddress: 澜湾街道 1号\nMedia: https://example.com/a.jpg\n"
        "Attribute size: large\nAttribute tags: wall",
        "source": "open311",
    }
    text = json.dumps(msg, ensure_ascii=False)
    for secret in ("zhang@", "三明", "张", "13812341234", "dev-1", "acc-9"):
        assert secret not in text
    assert parse_object(msg, now=NOW)["category"] == "environment"
    redacted = json.loads(o3.redact(fields))
    assert redacted["personal_fields_dropped"] == [
        "account_id",
        "device_id",
        "email",
        "first_name",
        "last_name",
        "phone",
    ]
    for secret in ("zhang@", "三明", "13812341234", "dev-1", "acc-9", "api_key"):
        assert secret not in o3.redact(fields)
    assert o3.new_request_id().startswith("O311-") and len(o3.new_request_id()) == 37


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ("lat=30&long=120", "service_code is required"),
        ("service_code=fire", "a location is required: lat and long, address_string or address_id"),
        ("service_code=fire&address_string=x", "cannot be placed here (no place names loaded): send lat/long"),
        ("service_code=fire&lat=30", "lat and long must be sent together"),
        ("service_code=fire&lat=30&long=120&media_url=file:///etc/passwd", "media_url must be an http(s) URL"),
        ("service_code=fire&lat=north&long=120", "lat is not a number"),
        ("service_code=fire&lat=30&long=200", "long '200' is out of range"),
        ("service_code=fire&lat=30&long=nan", "out of range"),
        ("service_code=fire&lat=0&long=0.0", "lat/long 0,0 is not a location"),
    ],
)
def test_post_errors_are_400_with_a_reason(form: str, reason: str) -> None:
    with pytest.raises(Open311Error) as err:
        o3.post_to_wire(form_fields(form.encode()), now=NOW)
    assert err.value.code == 400 and reason in err.value.description


def test_post_unknown_service_code_is_404_as_the_spec_says() -> None:
    with pytest.raises(Open311Error) as err:
        o3.post_to_wire(form_fields(b"service_code=XYZ-9&lat=30.3&long=120.2"), now=NOW)
    assert (err.value.code, err.value.description) == (404, "service_code 'XYZ-9' not found (GET services)")
    assert (
        o3.post_to_wire(form_fields(b"service_code=%E6%B6%88%E9%98%B2&lat=30&long=120"), now=NOW)["category"] == "fire"
    )  # zh label
    assert o3.post_to_wire(form_fields(b"service_code=Pot+hole&lat=30&long=120"), now=NOW)["category"] == (
        "infrastructure"
    )  # another system's name, by keyword


def test_post_description_over_4000_characters_is_400() -> None:
    ok = o3.post_to_wire(
        [("service_code", "fire"), ("lat", "30"), ("long", "120"), ("description", "火" * 4000)], now=NOW
    )
    assert len(ok["description"]) == 4000
    with pytest.raises(Open311Error) as err:
        o3.post_to_wire(
            [("service_code", "fire"), ("lat", "30"), ("long", "120"), ("description", "火" * 4001)], now=NOW
        )
    assert (err.value.code, err.value.description) == (400, "description is 4001 characters; at most 4000")


def incident(iid: str, status: Status, created: float, category: str = "environment", **kw: object) -> Incident:
    base: dict[str, object] = {
        "id": iid,
        "status": status,
        "ts": created + 60,
        "lon": 120.29,
        "lat": 30.31,
        "category": category,
        "created_ts": created,
        "title": "垃圾桶满溢",
    }
    base.update(kw)
    return Incident(**base)  # type: ignore[arg-type]


def test_incident_to_request_and_status_mapping() -> None:
    expected = {
        Status.REPORTED: "open",
        Status.DISPATCHED: "open",
        Status.ACCEPTED: "open",
        Status.RESOLVED: "closed",
        Status.CLOSED: "closed",
        Status.CANCELLED: "closed",
    }
    for status, o311 in expected.items():
        assert o3.open311_status(status) == o311
    inc = incident("E-1", Status.DISPATCHED, NOW - 3600, description="东门口", reopened=1, due=NOW + 7200)
    row = o3.incident_to_request(inc, grid_id="G-03")
    assert row == {
        "service_request_id": "E-1",
        "status": "open",
        "status_notes": "已派单 dispatched；返工 1 次 reworked",
        "service_name": "环境卫生",
        "service_code": "environment",
        "description": "垃圾桶满溢\n东门口",
        "agency_responsible": "G-03",
        "service_notice": None,
        "requested_datetime": "2026-11-26T16:30:00+08:00",
        "updated_datetime": "2026-11-26T16:31:00+08:00",
        "expected_datetime": "2026-11-26T19:30:00+08:00",
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": 30.31,
        "long": 120.29,
        "media_url": None,
    }


def test_query_defaults_filters_and_errors() -> None:
    q = o3.parse_query({}, now=NOW)
    assert (q.start, q.end, q.page_size, q.page) == (NOW - 90 * 86400, math.inf, 1000, 1)
    q = o3.parse_query({"start_date": "2026-11-01", "end_date": "2026-11-26T00:00:00Z"}, now=NOW)
    assert q.start == ts("2026-11-01T00:00:00+08:00") and q.end == ts("2026-11-26T00:00:00+00:00")
    assert o3.parse_query({"end_date": "2026-11-26T00:00:00+08:00"}, now=NOW).start == ts("2026-08-28T00:00:00+08:00")
    assert o3.parse_query({"start_date": "2020-01-01T00:00:00+08:00"}, now=NOW).end == ts("2020-03-31T00:00:00+08:00")
    assert o3.parse_query({"service_code": "环境卫生,fire", "status": "Open"}, now=NOW).categories == frozenset(
        {"environment", "fire"}
    )
    for params, reason in [
        ({"status": "pending"}, "status must be open or closed"),
        ({"start_date": "soon"}, "start_date is not an ISO 8601"),
        ({"start_date": "2026-01-01", "end_date": "2026-06-01"}, "may not span more than 90 days"),
        ({"start_date": "2026-06-01", "end_date": "2026-05-01"}, "end_date is before start_date"),
        ({"page_size": "5000"}, "page_size must be 1..1000"),
        ({"page": "x"}, "page must be an integer"),
    ]:
        with pytest.raises(Open311Error) as err:
            o3.parse_query(params, now=NOW)
        assert err.value.code == 400 and reason in err.value.description

    incs = [
        incident("A", Status.REPORTED, NOW - 100),
        incident("B", Status.CLOSED, NOW - 50, category="fire"),
        incident("C", Status.CANCELLED, NOW - 200 * 86400),  # older than the 90-day window
        incident("D", Status.ACCEPTED, NOW - 10, category="fire"),
    ]
    ids = [i.id for i in o3.select(incs, o3.parse_query({}, now=NOW))]
    assert ids == ["D", "B", "A"]  # newest first, C outside the window
    assert [i.id for i in o3.select(incs, o3.parse_query({"status": "closed"}, now=NOW))] == ["B"]
    assert [i.id for i in o3.select(incs, o3.parse_query({"service_code": "fire", "status": "open"}, now=NOW))] == ["D"]
    q = o3.parse_query({"service_request_id": "C, A,Z", "status": "closed"}, now=NOW)
    assert [i.id for i in o3.select(incs, q)] == ["C", "A"]  # ids override every other filter
    q = o3.parse_query({"page_size": "2", "page": "2"}, now=NOW)
    assert [i.id for i in o3.select(incs, q)] == ["A"]


def test_our_xml_escapes_and_reads_back_with_our_parser() -> None:
    inc = incident("E-2", Status.RESOLVED, NOW - 60, title='<b>&"引号"</b>', description="")
    xml = o3.to_xml("service_requests", "request", [o3.incident_to_request(inc)])
    assert b"&lt;b&gt;&amp;" in xml and xml.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<service_requests>')
    assert b"expected_datetime" not in xml  # null datetime: left out, not an empty element
    assert b"<address_id />" in xml  # a null string: empty, as the spec's examples
    [back] = parse_requests_xml(xml)
    assert back.description == '<b>&"引号"</b>' and back.status == "closed"
    assert back.requested_datetime == datetime.fromtimestamp(NOW - 60, UTC).replace(microsecond=0)
    assert back.address_id is None and back.lat == 30.31 and back.long == 120.29
    msg = to_wire(back, now=NOW).message
    assert msg is not None and (msg["id"], msg["status"], msg["category"]) == ("O311-E-2", "resolved", "environment")


def test_description_is_at_most_4000_characters_with_the_title_prepended() -> None:
    inc = incident("E-3", Status.REPORTED, NOW - 60, title="标题不在描述里", description="长" * 3999)
    row = o3.incident_to_request(inc)
    assert len(row["description"]) == 4000 and row["description"].startswith("标题不在描述里\n长")
    assert row["description"].endswith("…")
    # a clipped title (200 chars with …) is the description's first line: not prepended again
    first = "字" * 300
    inc = incident("E-4", Status.REPORTED, NOW - 60, title=first[:199] + "…", description=first + "\n第二行")
    assert o3.incident_to_request(inc)["description"] == first + "\n第二行"


def test_address_and_media_come_back_from_the_description_lines() -> None:
    msg = o3.post_to_wire(form_fields(FORM), now=NOW, request_id="O311-x")
    inc = incident("O311-x", Status.REPORTED, NOW - 60, title=msg["title"], description=msg["description"])
    row = o3.incident_to_request(inc)
    assert (row["address"], row["address_id"], row["media_url"]) == ("澜湾街道 1号", None, "https://example.com/a.jpg")
    assert row["description"] == "墙上涂鸦\n很大\n\nAttribute size: large\nAttribute tags: wall"
    # a description that is only the notes; a user's own "Address:" in the first paragraph stays text
    body, found = o3.split_notes("Address: 门口\n\nAddress ID: BU0001\nMedia: http://m/1.jpg")
    assert (body, found) == ("Address: 门口", {"address_id": "BU0001", "media_url": "http://m/1.jpg"})


def test_empty_page_parameters_mean_absent() -> None:
    q = o3.parse_query({"page": "", "page_size": " ", "start_date": "", "status": "", "service_code": ""}, now=NOW)
    assert (q.page, q.page_size, q.statuses, q.categories) == (1, 1000, None, None)


def test_service_definition_and_discovery_documents() -> None:
    assert o3.service_definition("fire") == {"service_code": "fire", "attributes": []}
    with pytest.raises(Open311Error) as err:
        o3.service_definition("消防")  # only the codes GET services lists
    assert err.value.code == 404
    xml = o3.to_xml_document("service_definition", o3.service_definition("fire"))
    assert xml == (
        b'<?xml version="1.0" encoding="utf-8"?>\n'
        b"<service_definition><service_code>fire</service_code><attributes /></service_definition>"
    )
    doc = o3.discovery("http://h:1/open311/v2", "2026-11-26T09:30:00+08:00")
    assert doc["endpoints"][0]["formats"] == ["text/xml", "application/json"]
    root = ET.fromstring(o3.to_xml_document("discovery", doc))
    assert [f.text for f in root.iterfind("endpoints/endpoint/formats/format")] == ["text/xml", "application/json"]
    assert root.findtext("endpoints/endpoint/specification") == "http://wiki.open311.org/GeoReport_v2"
    assert [c.tag for c in root] == ["changeset", "contact", "key_service", "endpoints"]
