"""Open311 GeoReport v2 conformance on a real server (``onescreen serve``) and a real Redis: every response format
checked against the spec's rules (http://wiki.open311.org/GeoReport_v2, its Service Discovery page, and the
open311/schema-validation swagger and JSON schemas): content types with ``charset=utf-8``, the XML declaration,
required fields and their types, element order, W3C datetimes, the 4,000-character description, null datetimes
left out of XML, discovery, the service definition, POST (200; by lat/long, address_string, address_id) and the
Open311 errors (400/404/405 in the format the path asks for) — then the PyPI ``georeport`` client, used as an app
would, through services, a definition, POST and GET in JSON and XML.

The server's access gate wants a credential on every route: these clients present the test admin's session
(``tests.support.auth``); ``georeport`` goes through a signing reverse proxy (``tests.support.signing_proxy``).
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests
import xmltodict
from georeport import GeoReport

from incidents.model import CATEGORIES
from tests.support.server import LiveServer
from tests.support.signing_proxy import signing_proxy

JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"
XML_DECL = b'<?xml version="1.0" encoding="utf-8"?>'
# W3C NOTE-datetime, "complete date plus hours, minutes and seconds" (fraction allowed), zone required by the spec
W3C = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
SERVICE_FIELDS = ("service_code", "service_name", "description", "metadata", "type", "keywords", "group")
REQUEST_FIELDS = (
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
)
DATETIMES = ("requested_datetime", "updated_datetime", "expected_datetime")
POST_FIELDS = ("service_request_id", "service_notice", "account_id")
# The spec's example POST (its fields, in its order), made ours: a resident's request with contact fields.
SPEC_POST = {
    "api_key": "xyz",
    "jurisdiction_id": "lanwan.gov.cn",
    "service_code": "infrastructure",
    "lat": "30.31",
    "long": "120.29",
    "address_string": "澜湾街道 幸福里3幢",
    "email": "smit333@example.com",
    "device_id": "tt222111",
    "account_id": "123456",
    "first_name": "john",
    "last_name": "smith",
    "phone": "111111111",
    "description": "A large sinkhole is destroying the street\n路面塌陷",
    "media_url": "http://example.com/requests/media/638344.jpg",
}
FORM = "application/x-www-form-urlencoded; charset=utf-8"


class Answer:
    """One HTTP answer: status, content type, raw body."""

    def __init__(self, status: int, ctype: str, body: bytes, headers: Any) -> None:
        self.status, self.ctype, self.body, self.headers = status, ctype, body, headers

    def json(self) -> Any:
        assert self.ctype == JSON_TYPE, self.ctype
        return json.loads(self.body.decode("utf-8"))

    def xml(self) -> ET.Element:
        assert self.ctype == XML_TYPE, self.ctype
        assert self.body.startswith(XML_DECL), self.body[:60]
        self.body.decode("utf-8")
        return ET.fromstring(self.body)


def call(url: str, data: bytes | None = None, *, method: str | None = None, ctype: str = "") -> Answer:
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": ctype} if ctype else {})
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return Answer(resp.status, resp.headers.get("content-type", ""), resp.read(), resp.headers)
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.headers.get("content-type", ""), exc.read(), exc.headers)


def post(base: str, fmt: str, fields: dict[str, str]) -> Answer:
    return call(f"{base}/open311/v2/requests.{fmt}", urllib.parse.urlencode(fields).encode(), ctype=FORM)


def w3c(value: str) -> datetime:
    assert W3C.match(value), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def children(el: ET.Element) -> list[str]:
    return [c.tag for c in el]


def in_spec_order(tags: list[str], order: tuple[str, ...]) -> bool:
    """Every tag is one of ``order``'s, once, in that order (optional ones may be left out)."""
    positions = [order.index(t) for t in tags if t in order]
    return len(positions) == len(tags) and positions == sorted(set(positions))


def assert_error(answer: Answer, fmt: str, code: int) -> str:
    """The spec's error format (a list of ``code`` + ``description``) with HTTP status ``code``; the description."""
    assert answer.status == code, (answer.status, answer.body[:200])
    if fmt == "xml":
        root = answer.xml()
        assert root.tag == "errors" and children(root) == ["error"]
        assert children(root[0]) == ["code", "description"]
        assert root.findtext("error/code") == str(code)
        text = root.findtext("error/description") or ""
    else:
        doc = answer.json()
        assert isinstance(doc, list) and len(doc) == 1 and set(doc[0]) == {"code", "description"}
        assert doc[0]["code"] == code and isinstance(doc[0]["code"], int)
        text = doc[0]["description"]
    assert isinstance(text, str) and text
    return text


@pytest.fixture(scope="module")
def base(live_server: LiveServer) -> Iterator[str]:
    yield live_server.url


# --------------------------------------------------------------------------------------------- discovery


@pytest.mark.parametrize("path", ["/open311/discovery", "/open311/v2/discovery"])
def test_discovery_in_both_formats_as_the_spec_requires(base: str, path: str) -> None:
    doc = call(f"{base}{path}.json").json()
    root = call(f"{base}{path}.xml").xml()
    assert set(doc) == {"changeset", "contact", "key_service", "endpoints"}
    assert root.tag == "discovery" and children(root) == ["changeset", "contact", "key_service", "endpoints"]
    assert doc["contact"].strip() and doc["key_service"].strip() and doc["contact"] == root.findtext("contact")
    assert w3c(doc["changeset"]).timestamp() <= time.time()
    [endpoint] = doc["endpoints"]
    [xml_endpoint] = root.findall("endpoints/endpoint")
    assert children(xml_endpoint) == ["specification", "url", "changeset", "type", "formats"]
    assert endpoint["specification"] == xml_endpoint.findtext("specification") == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["type"] in ("production", "test") and w3c(endpoint["changeset"]).timestamp() <= time.time()
    assert "text/xml" in endpoint["formats"] and "application/json" in endpoint["formats"]  # v2 must support XML
    assert [f.text for f in xml_endpoint.iterfind("formats/format")] == endpoint["formats"]
    assert endpoint["url"] == xml_endpoint.findtext("url") == f"{base}/open311/v2"
    # a discovery-driven client finds the endpoint from here
    assert call(endpoint["url"] + "/services.xml").status == 200


# --------------------------------------------------------------------------------------------- services


def test_services_and_every_service_definition(base: str) -> None:
    services = call(f"{base}/open311/v2/services.json").json()
    root = call(f"{base}/open311/v2/services.xml").xml()
    assert root.tag == "services" and set(children(root)) == {"service"}
    assert len(services) == len(root) == len(CATEGORIES)
    for svc, el in zip(services, root, strict=True):
        assert in_spec_order(children(el), SERVICE_FIELDS) and list(svc) == children(el)
        assert isinstance(svc["service_code"], str) and isinstance(svc["service_name"], str)
        assert svc["metadata"] is False and el.findtext("metadata") == "false"
        assert svc["type"] == el.findtext("type") == "realtime"
        assert all(el.findtext(k) == svc[k] for k in ("service_code", "service_name", "description", "keywords"))
        code = svc["service_code"]
        definition = call(f"{base}/open311/v2/services/{code}.json").json()
        assert definition == {"service_code": code, "attributes": []}
        xml_def = call(f"{base}/open311/v2/services/{code}.xml").xml()
        assert xml_def.tag == "service_definition" and children(xml_def) == ["service_code", "attributes"]
        assert xml_def.findtext("service_code") == code and len(xml_def.find("attributes")) == 0  # type: ignore[arg-type]
    for fmt in ("json", "xml"):
        assert "not found" in assert_error(call(f"{base}/open311/v2/services/nope.{fmt}"), fmt, 404)
        head = call(f"{base}/open311/v2/services.{fmt}", method="HEAD")
        assert (head.status, head.ctype, head.body) == (200, JSON_TYPE if fmt == "json" else XML_TYPE, b"")


# --------------------------------------------------------------------------------------------- POST and GET


def check_request_lists(base: str, query: str) -> list[dict[str, Any]]:
    """``GET requests`` in both formats, each checked against the spec's rules; the JSON rows."""
    rows = call(f"{base}/open311/v2/requests.json?{query}").json()
    root = call(f"{base}/open311/v2/requests.xml?{query}").xml()
    assert isinstance(rows, list) and root.tag == "service_requests" and len(root) == len(rows)
    for row, el in zip(rows, root, strict=True):
        check_request(row, el)
    return rows


def check_request(row: dict[str, Any], el: ET.Element) -> None:
    assert el.tag == "request" and list(row) == list(REQUEST_FIELDS)
    assert in_spec_order(children(el), REQUEST_FIELDS)
    for name in ("service_request_id", "status", "service_code", "requested_datetime"):  # required
        assert isinstance(row[name], str) and row[name] and el.findtext(name) == row[name]
    assert row["status"] in ("open", "closed")
    for name in REQUEST_FIELDS:
        value = row[name]
        if name in DATETIMES:
            if value is None:
                assert el.find(name) is None  # never an empty element where a date is expected
            else:
                w3c(value)
                assert el.findtext(name) == value
        elif name in ("lat", "long"):
            assert isinstance(value, float) and float(el.findtext(name) or "nan") == value
        else:
            assert value is None or isinstance(value, str)
            assert (el.findtext(name) or None) == value
    assert row["description"] is None or len(row["description"]) <= 4000
    assert row["media_url"] is None or row["media_url"].startswith(("http://", "https://"))


def test_post_as_the_spec_example_then_get_it_in_both_formats(base: str, live_server: LiveServer) -> None:
    ids = []
    for fmt in ("json", "xml"):
        answer = post(base, fmt, SPEC_POST)
        assert answer.status == 200, answer.body  # the swagger's 200
        if fmt == "json":
            [reply] = answer.json()
            assert list(reply) == list(POST_FIELDS) and "token" not in reply
            assert reply["account_id"] is None and isinstance(reply["service_notice"], str)
            ids.append(reply["service_request_id"])
        else:
            root = answer.xml()
            assert root.tag == "service_requests" and children(root) == ["request"]
            assert children(root[0]) == list(POST_FIELDS)
            ids.append(root.findtext("request/service_request_id"))
    assert all(isinstance(i, str) and i.startswith("O311-") for i in ids)

    rows = check_request_lists(base, "service_request_id=" + ",".join(ids))
    assert [r["service_request_id"] for r in rows] == ids
    for row in rows:
        assert (row["status"], row["service_code"], row["lat"], row["long"]) == (
            "open",
            "infrastructure",
            30.31,
            120.29,
        )
        assert row["address"] == SPEC_POST["address_string"] and row["media_url"] == SPEC_POST["media_url"]
        assert row["description"] == SPEC_POST["description"]
        stored = json.dumps(row, ensure_ascii=False)
        assert not any(SPEC_POST[k] in stored for k in ("email", "first_name", "phone", "device_id", "account_id"))
    for fmt in ("json", "xml"):
        for resource in ("requests", "request"):  # the spec's path, and the swagger definition's
            one = call(f"{base}/open311/v2/{resource}/{ids[0]}.{fmt}")
            if fmt == "json":
                [row] = one.json()
                assert row == rows[0]
            else:
                [el] = one.xml()
                check_request(rows[0], el)


def test_post_located_by_address_string_or_address_id(base: str) -> None:
    by_string = {**SPEC_POST, "lat": "", "long": "", "address_string": "澜湾街道霞庭村第1网格 3幢门口"}
    by_id = {k: v for k, v in SPEC_POST.items() if k not in ("lat", "long", "address_string")} | {
        "address_id": "BU0001"
    }
    placed = []
    for fields in (by_string, by_id):
        answer = post(base, "json", fields)
        assert answer.status == 200, answer.body
        placed.append(answer.json()[0]["service_request_id"])
    rows = check_request_lists(base, "service_request_id=" + ",".join(placed))
    assert rows[0]["address"] == "澜湾街道霞庭村第1网格 3幢门口" and rows[1]["address_id"] == "BU0001"
    assert "Location: grid 霞庭村第1网格 (G0003), from address_string" in rows[0]["description"]
    assert "Location: basic unit 霞庭村1号出租房 (BU0001), from address_id" in rows[1]["description"]
    for fmt in ("json", "xml"):
        nowhere = {**by_string, "address_string": "人民路88号"}
        assert "names no grid" in assert_error(post(base, fmt, nowhere), fmt, 400)
        assert "dispatched by grid" in assert_error(
            post(base, fmt, {**by_string, "address_string": "霞庭村"}), fmt, 400
        )


def test_description_is_at_most_4000_characters_and_null_dates_are_left_out_of_xml(
    base: str, live_server: LiveServer
) -> None:
    """A title not repeated in a full-length description used to make 4,201 characters (the schema's maxLength)."""
    msg = {
        "id": "CONF-LONG-1",
        "status": "reported",
        "ts": time.time(),
        "lon": 120.29,
        "lat": 30.31,
        "category": "fire",
        "title": "标" * 200,
        "description": "描" * 4000,
    }
    req = urllib.request.Request(
        f"{base}/api/incidents", json.dumps(msg).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 202
    [row] = check_request_lists(base, "service_request_id=CONF-LONG-1")
    assert len(row["description"]) == 4000 and row["description"].startswith("标" * 200 + "\n描")
    assert row["expected_datetime"] is None  # no due: null in JSON, absent in XML (checked by check_request)
    # the whole default list passes too, with empty page parameters meaning "absent"
    assert check_request_lists(base, "page=&page_size=&status=&service_code=")


# --------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_errors_in_the_spec_format_by_path_suffix(base: str, fmt: str) -> None:
    v2 = f"{base}/open311/v2"
    for path in (f"tokens/123456.{fmt}", f"nope.{fmt}", f"requests/NOPE-1.{fmt}", f"a/b/c.{fmt}", f"services/x.{fmt}"):
        assert_error(call(f"{v2}/{path}"), fmt, 404)
    assert_error(call(f"{base}/open311/v3/services.{fmt}"), fmt, 404)
    answer = call(f"{v2}/requests.{fmt}", method="DELETE")
    assert_error(answer, fmt, 405)
    assert answer.headers["Allow"] == "GET, HEAD, POST"
    assert_error(call(f"{v2}/services.{fmt}", b"", method="POST", ctype=FORM), fmt, 405)
    assert "not found" in assert_error(post(base, fmt, {**SPEC_POST, "service_code": "XYZ-9"}), fmt, 404)
    assert "service_code is required" in assert_error(post(base, fmt, {**SPEC_POST, "service_code": ""}), fmt, 400)
    assert "open or closed" in assert_error(call(f"{v2}/requests.{fmt}?status=pending"), fmt, 400)
    bad_type = call(f"{v2}/requests.{fmt}", b"<request/>", ctype="text/xml")
    assert "unsupported content type" in assert_error(bad_type, fmt, 400)
    long_text = {**SPEC_POST, "description": "长" * 4001}
    assert "at most 4000" in assert_error(post(base, fmt, long_text), fmt, 400)
    huge = {**SPEC_POST, "description": "长" * 30_000}
    assert "body too large" in assert_error(post(base, fmt, huge), fmt, 400)
    # no path under /open311/ is ever the dashboard's HTML page
    assert call(f"{base}/open311/").ctype == JSON_TYPE


# --------------------------------------------------------------------------------------------- a real client


def listed(data: Any) -> list[dict[str, Any]]:
    """xmltodict reads one repeated element as a dict, several as a list (how ``georeport`` returns XML)."""
    return data if isinstance(data, list) else [data]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_pypi_georeport_client_works_first_time(live_server: LiveServer, fmt: str) -> None:
    with signing_proxy(live_server.url) as proxy:
        client = GeoReport(f"{proxy}/open311/v2", jurisdiction="lanwan.gov.cn", output_format=fmt)
        services = listed(client.get_service_list())
        assert [s["service_code"] for s in services] == list(CATEGORIES)
        assert {str(s["metadata"]).lower() for s in services} == {"false"}
        definition = client.get_service_definition("fire")
        assert definition["service_code"] == "fire" and not definition["attributes"]

        # georeport does not POST (its README says so): the POST as the spec writes it, with the same HTTP library
        fields = {**SPEC_POST, "api_key": live_server.creds.ingest_key}  # the spec's way: the key in the form
        fields.update(service_code="environment", description=f"georeport {fmt}\n垃圾满溢")
        answer = requests.post(f"{proxy}/open311/v2/requests.{fmt}", data=fields, timeout=15)
        assert answer.status_code == 200 and answer.headers["content-type"] == (
            JSON_TYPE if fmt == "json" else XML_TYPE
        )
        created = answer.json()[0] if fmt == "json" else xmltodict.parse(answer.content)["service_requests"]["request"]
        rid = created["service_request_id"]

        one = client.get_service_request(rid)
        assert (one["service_request_id"], one["status"], one["service_code"]) == (rid, "open", "environment")
        assert one["description"] == f"georeport {fmt}\n垃圾满溢" and one["media_url"] == SPEC_POST["media_url"]
        w3c(one["requested_datetime"])
        found = listed(client.get_service_requests(service_request_id=rid))
        assert [r["service_request_id"] for r in found] == [rid]
        recent = listed(client.get_service_requests(status="open", service_code="environment"))
        assert rid in {r["service_request_id"] for r in recent}
        with pytest.raises(requests.HTTPError) as err:  # an unknown code is a 404 the client can see
            client.get_service_definition("nope")
        assert err.value.response is not None and err.value.response.status_code == 404
