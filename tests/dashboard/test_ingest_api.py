"""HTTP ingest on a real server process and a real Redis: POST /api/incidents (the wire over HTTP, with its size
limit and dead letters) and Open311 GeoReport v2 (services, a form-encoded POST as a real Open311 client sends
it, requests.json/.xml with the status mapping), and 503 when Redis is gone."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from incidents.model import CATEGORIES
from incidents.open311 import parse_requests_xml, parse_services_xml
from incidents.redis_server import EmbeddedRedis
from tests.support.paths import FIELD_CASES, read_shared
from tests.support.server import LiveServer, spawn_server
from tests.support.wait import wait_for

PERSONAL = ("王小明", "Wang", "13912345678", "wang@example.com", "device-42", "acct-7")


def call(
    url: str, data: bytes | Iterator[bytes] | None = None, *, method: str | None = None, ctype: str = "", **hdr: str
) -> tuple[int, bytes, str]:
    headers = {"Content-Type": ctype} if ctype else {}
    headers.update(hdr)
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read(), resp.headers.get("content-type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("content-type", "")


def post_json(url: str, doc: Any) -> tuple[int, Any]:
    status, body, _ = call(url, json.dumps(doc, ensure_ascii=False).encode(), ctype="application/json")
    return status, json.loads(body)


def get_json(url: str) -> tuple[int, Any]:
    status, body, _ = call(url)
    return status, json.loads(body)


def message(incident_id: str, status: str = "reported", ts: float | None = None, **extra: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {"id": incident_id, "status": status, "ts": time.time() if ts is None else ts}
    if status == "reported":
        msg.update(lon=120.29, lat=30.31, category="环境卫生", title="垃圾桶满溢")
    msg.update(extra)
    return msg


def dead_letters(server: LiveServer) -> list[dict[str, str]]:
    entries: Any = server.client.xrange(server.keys.deadletter)
    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]


def situation_count(server: LiveServer) -> int:
    return int(get_json(f"{server.url}/healthz")[1]["situation"]["incidents"])


# --------------------------------------------------------------------------------------------- POST /api/incidents


def test_post_incident_is_stored_and_reaches_the_situation(live_server: LiveServer) -> None:
    url = live_server.url
    before = situation_count(live_server)
    msg = message("HTTP-1", priority="high")
    status, body = post_json(f"{url}/api/incidents", msg)
    assert status == 202, body
    assert body["id"] == "HTTP-1" and body["outcome"] == "applied" and body["log_id"]
    status, stored = get_json(f"{url}/api/incidents/HTTP-1")
    assert status == 200
    assert (stored["status"], stored["category"], stored["priority"]) == ("reported", "environment", "high")
    assert wait_for(lambda: situation_count(live_server) >= before + 1)
    # the same message again: a duplicate, nothing changes
    status, body = post_json(f"{url}/api/incidents", msg)
    assert status == 200 and body == {"id": "HTTP-1", "outcome": "duplicate", "log_id": None}
    # the log holds exactly one entry for it
    entries: Any = live_server.client.xrange(live_server.keys.log)
    assert sum(1 for _, f in entries if f[b"id"] == b"HTTP-1") == 1


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "invalid JSON"),
        (b'{"id":"HTTP-X","status":"exploded","ts":1764120600}', "field 'status'"),
        (b'{"id":"HTTP-X","status":"reported","ts":1764120600,"lon":200,"lat":30,"category":"fire"}', "'lon'"),
        (b"[1,2]", "must be a JSON object"),
        (b'{"id":"HTTP-X","status":"reported","ts":"2026-11-26 09:30"}', "no UTC offset"),
        (b'{"id":"HTTP-X","status":"reported","ts":1764120600,"lon":120.29,"lat":30.31}', ""),  # no category
        # a string cut mid-emoji by a JS/Java publisher: not storable, a 422 naming field and code point (not 500)
        (
            b'{"id":"HTTP-X","status":"reported","ts":1764120600,"lon":120.29,"lat":30.31,"category":"fire",'
            b'"title":"\\ud83d"}',
            "field 'title': U+D83D (lone surrogate)",
        ),
        (b'{"id":"HTTP-X","status":"reported","ts":4102444800,"lon":120.29,"lat":30.31,"category":"fire"}', "future"),
    ],
)
def test_post_invalid_is_422_with_the_wire_reason_and_dead_lettered(
    live_server: LiveServer, raw: bytes, reason: str
) -> None:
    n = len(dead_letters(live_server))
    status, body, ctype = call(f"{live_server.url}/api/incidents", raw, ctype="application/json")
    assert status == 422 and ctype.startswith("application/json")
    detail = json.loads(body)["detail"]
    assert reason in detail and detail
    letters = dead_letters(live_server)
    assert len(letters) == n + 1
    assert letters[-1]["source"] == "http" and letters[-1]["reason"] == detail
    assert letters[-1]["raw"] == raw.decode()


def test_post_over_64_kib_is_413_by_content_length_and_by_bytes(live_server: LiveServer) -> None:
    url = f"{live_server.url}/api/incidents"
    big = json.dumps(message("HTTP-BIG", description="x" * 70_000)).encode()
    status, body, ctype = call(url, big, ctype="application/json")
    assert status == 413 and ctype.startswith("application/json")
    assert "65536" in json.loads(body)["detail"]

    # no Content-Length (chunked): refused once more than 64 KiB arrived
    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 8192):
            yield big[i : i + 8192]

    status, body, _ = call(url, chunks(), ctype="application/json", **{"Transfer-Encoding": "chunked"})
    assert status == 413 and "body too large" in json.loads(body)["detail"]
    # exactly 64 KiB is still a message (here an invalid one: a 422, not a 413)
    pad = b'{"id":"HTTP-PAD","status":"reported","ts":1764120600,"title":"'
    exact = pad + b"a" * (65536 - len(pad) - 2) + b'"}'
    assert len(exact) == 65536
    assert call(url, exact, ctype="application/json")[0] == 422
    assert get_json(f"{live_server.url}/api/incidents/HTTP-BIG")[0] == 404


def test_batch_gives_each_message_its_own_result(live_server: LiveServer) -> None:
    t = time.time()
    batch = (
        "[" + json.dumps(message("HTTP-B1", ts=t), ensure_ascii=False) + ","
        ' {"id":"HTTP-B2","status":"reported","ts":1,"ts":2},'  # duplicate key: the wire rejects it
         + json.dumps(message("HTTP-B1", ts=t), ensure_ascii=False) + ', "a string" ]'
    ).encode()
    status, body, _ = call(f"{live_server.url}/api/incidents/batch", batch, ctype="application/json")
    assert status == 200
    doc = json.loads(body)
    outcomes = [(r["id"], r["outcome"]) for r in doc["results"]]
    assert outcomes == [("HTTP-B1", "applied"), ("", "error"), ("HTTP-B1", "duplicate"), ("", "error")]
    assert "duplicate key 'ts'" in doc["results"][1]["reason"]
    assert "JSON object" in doc["results"][3]["reason"]
    assert doc["counts"] == {"applied": 1, "duplicate": 1, "stale": 0, "error": 2}
    assert call(f"{live_server.url}/api/incidents/batch", b'{"id":1}', ctype="application/json")[0] == 422


# --------------------------------------------------------------------------------------------- Open311


def test_services_json_and_xml_list_our_categories(live_server: LiveServer) -> None:
    status, services = get_json(f"{live_server.url}/open311/v2/services.json")
    assert status == 200
    assert [(s["service_code"], s["service_name"]) for s in services] == list(CATEGORIES.items())
    assert all(s["metadata"] is False and s["type"] == "realtime" for s in services)
    assert services[5]["description"] == "Fire safety (消防)"
    status, body, ctype = call(f"{live_server.url}/open311/v2/services.xml")
    assert status == 200 and ctype.startswith("text/xml")
    assert [s.service_code for s in parse_services_xml(body)] == list(CATEGORIES)
    assert call(f"{live_server.url}/open311/v2/services.csv")[0] == 404


def open311_form(**extra: str) -> bytes:
    """What a real Open311 client POSTs: application/x-www-form-urlencoded, with the resident's contact fields."""
    fields = {
        "api_key": "key-1",
        "service_code": "Illegal_Dumping",
        "lat": "30.31",
        "long": "120.29",
        "address_string": "澜湾街道幸福里3幢",
        "description": "楼下堆了很多建筑垃圾\n已经三天了",
        "first_name": "小明",
        "last_name": "王",
        "phone": "13912345678",
        "email": "wang@example.com",
        "device_id": "device-42",
        "account_id": "acct-7",
        "media_url": "https://example.com/p/1.jpg",
        "attribute[size]": "large",
        **extra,
    }
    return urllib.parse.urlencode(fields).encode()


FORM = "application/x-www-form-urlencoded"


def test_open311_post_stores_the_incident_without_personal_data(live_server: LiveServer) -> None:
    url = live_server.url
    status, body, ctype = call(f"{url}/open311/v2/requests.json", open311_form(), ctype=FORM)
    assert status == 200, body  # the spec's swagger: 200 (clients generated from it treat 201 as unexpected)
    assert ctype == "application/json; charset=utf-8"
    [reply] = json.loads(body)
    rid = reply["service_request_id"]
    assert rid.startswith("O311-") and len(rid) == 37 and reply["service_notice"] and reply["account_id"] is None

    status, stored = get_json(f"{url}/api/incidents/{rid}")
    assert status == 200
    assert (stored["status"], stored["category"], stored["source"]) == ("reported", "environment", "open311")
    assert (stored["lon"], stored["lat"]) == (120.29, 30.31)
    assert stored["title"] == "楼下堆了很多建筑垃圾"
    assert "Address: 澜湾街道幸福里3幢" in stored["description"]
    assert "Media: https://example.com/p/1.jpg" in stored["description"]
    # no personal field anywhere in Redis: state, log, broadcast copies
    raw_state = live_server.client.hget(live_server.keys.state, rid)
    entries: Any = live_server.client.xrange(live_server.keys.log)
    log_text = b"".join(f[b"data"] for _, f in entries if f[b"id"] == rid.encode())
    for secret in PERSONAL:
        assert secret.encode() not in raw_state  # type: ignore[operator]
        assert secret.encode() not in log_text
    assert "小明" not in json.dumps(stored, ensure_ascii=False)

    # XML answer for the XML path
    status, body, ctype = call(f"{url}/open311/v2/requests.xml", open311_form(service_code="fire"), ctype=FORM)
    assert status == 200 and ctype == "text/xml; charset=utf-8"
    root = ET.fromstring(body)
    xml_id = root.findtext("request/service_request_id")
    assert xml_id and get_json(f"{url}/api/incidents/{xml_id}")[1]["category"] == "fire"


def test_open311_post_with_every_parameter_in_the_query_string(live_server: LiveServer, tmp_path: Path) -> None:
    """../shared/field-cases/open311-post-query-string.sh, run as it is against the server: the request created."""
    script = FIELD_CASES / "open311-post-query-string.sh"
    # the script's own way: its API_KEY goes into the query as Open311's api_key (an ingest key of the server)
    env = {**os.environ, "BASE": live_server.url, "API_KEY": live_server.creds.ingest_key}
    out = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=30).stdout
    assert out.startswith("HTTP/1.1 200"), out
    [reply] = json.loads(out.split("\n\n", 1)[1])  # text mode: CR LF read as LF
    status, stored = get_json(f"{live_server.url}/api/incidents/{reply['service_request_id']}")
    assert status == 200
    assert (stored["category"], stored["lon"], stored["lat"]) == ("environment", 120.30161, 30.29268)
    assert stored["title"] == "路边垃圾未清运"


def test_a_grid_id_that_disagrees_with_the_point_is_flagged_on_healthz(live_server: LiveServer) -> None:
    """gcj02-unflagged.json's point lies in G0070 as sent; a message that also says grid_id G0002 is flagged."""
    case = json.loads(read_shared(FIELD_CASES / "gcj02-unflagged.json"))
    doc = {**case, "id": "F-GRID-1", "ts": time.time(), "grid_id": "G0002"}
    assert post_json(f"{live_server.url}/api/incidents", doc)[0] == 202

    def flagged() -> Any:
        return get_json(f"{live_server.url}/healthz")[1]["situation"]["grid_conflicts"].get("F-GRID-1")

    assert wait_for(flagged, message="grid conflict on /healthz") == ["G0002", "G0070"]


def test_open311_requests_list_shows_it_open_then_closed(live_server: LiveServer) -> None:
    url = live_server.url
    status, body, _ = call(f"{url}/open311/v2/requests.json", open311_form(description="路灯不亮"), ctype=FORM)
    assert status == 200
    rid = json.loads(body)[0]["service_request_id"]

    status, rows = get_json(f"{url}/open311/v2/requests.json?service_request_id={rid}")
    assert status == 200 and len(rows) == 1
    row = rows[0]
    assert row["service_request_id"] == rid and row["status"] == "open"
    assert (row["service_code"], row["service_name"]) == ("environment", "环境卫生")
    assert row["status_notes"] == "已上报 reported"
    assert row["requested_datetime"].endswith("+08:00") and row["address_id"] is None
    assert (row["address"], row["media_url"]) == ("澜湾街道幸福里3幢", "https://example.com/p/1.jpg")
    assert (row["lat"], row["long"]) == (30.31, 120.29)
    # the server's situation located it: the grid answers as agency_responsible
    wait_for(lambda: get_json(f"{url}/open311/v2/requests/{rid}.json")[1][0]["agency_responsible"])

    status, body, ctype = call(f"{url}/open311/v2/requests.xml?status=open&service_code=environment")
    assert status == 200 and ctype.startswith("text/xml")
    listed = {r.service_request_id: r for r in parse_requests_xml(body)}
    assert listed[rid].status == "open" and listed[rid].description == "路灯不亮\n\nAttribute size: large"
    assert (listed[rid].address, listed[rid].media_url) == ("澜湾街道幸福里3幢", "https://example.com/p/1.jpg")

    # through the lifecycle to closed, by the wire over HTTP
    t = time.time()
    for i, step in enumerate(("dispatched", "accepted", "resolved", "closed")):
        extra = {"rating": 5} if step == "closed" else {}
        status, res = post_json(f"{url}/api/incidents", message(rid, step, ts=t + 1 + i, **extra))
        assert status == 202, res
    _, rows = get_json(f"{url}/open311/v2/requests/{rid}.json")
    assert rows[0]["status"] == "closed" and rows[0]["status_notes"] == "已评价关闭 closed"
    _, body, _ = call(f"{url}/open311/v2/requests/{rid}.xml")
    assert parse_requests_xml(body)[0].status == "closed"
    _, closed = get_json(f"{url}/open311/v2/requests.json?status=closed")
    _, still_open = get_json(f"{url}/open311/v2/requests.json?status=open")
    assert rid in {r["service_request_id"] for r in closed}
    assert rid not in {r["service_request_id"] for r in still_open}


def test_open311_errors_follow_the_spec(live_server: LiveServer) -> None:
    url = live_server.url
    n = len(dead_letters(live_server))
    status, body, _ = call(f"{url}/open311/v2/requests.json", open311_form(service_code=""), ctype=FORM)
    assert status == 400
    assert json.loads(body) == [{"code": 400, "description": "service_code is required"}]
    letters = dead_letters(live_server)
    assert len(letters) == n + 1 and letters[-1]["source"] == "open311"
    for secret in PERSONAL:  # a rejected post is dead-lettered without the personal fields
        assert secret not in letters[-1]["raw"]

    status, body, ctype = call(f"{url}/open311/v2/requests.xml", open311_form(lat="0", long="0"), ctype=FORM)
    assert status == 400 and ctype.startswith("text/xml")
    err = ET.fromstring(body)
    assert err.tag == "errors" and err.findtext("error/code") == "400"
    assert err.findtext("error/description") == "lat/long 0,0 is not a location"

    status, body, _ = call(f"{url}/open311/v2/requests.json", b"<request/>", ctype="text/xml")
    assert status == 400 and json.loads(body)[0]["code"] == 400  # the spec's errors are 400/404
    status, body, _ = call(f"{url}/open311/v2/requests/NOPE-1.json")
    assert status == 404 and json.loads(body)[0]["code"] == 404
    status, body, _ = call(f"{url}/open311/v2/requests.json?status=pending")
    assert status == 400 and "open or closed" in json.loads(body)[0]["description"]
    big = open311_form(description="长" * 30_000)
    status, body, _ = call(f"{url}/open311/v2/requests.json", big, ctype=FORM)
    assert status == 400 and json.loads(body)[0]["description"].startswith("body too large")

    # a description cut mid-emoji (JSON body): 400 with the wire's reason, not a 500
    cut = b'{"service_code":"fire","lat":"30.31","long":"120.29","description":"\xe7\x81\xab\\ud83d"}'
    status, body, _ = call(f"{url}/open311/v2/requests.json", cut, ctype="application/json")
    assert status == 400, body
    assert "U+D83D (lone surrogate)" in json.loads(body)[0]["description"]


# --------------------------------------------------------------------------------------------- Redis gone


def test_503_when_redis_is_unavailable(tmp_path: Path) -> None:
    redis_server = EmbeddedRedis(tmp_path / "redis").start()
    try:
        with spawn_server(redis_server.url, tmp_path) as server:
            assert post_json(f"{server.url}/api/incidents", message("DOWN-1"))[0] == 202
            redis_server.kill()
            status, body = post_json(f"{server.url}/api/incidents", message("DOWN-2"))
            assert status == 503 and "Redis unavailable" in body["detail"]
            status, body, _ = call(f"{server.url}/open311/v2/requests.json", open311_form(), ctype=FORM)
            assert status == 503 and json.loads(body)[0]["code"] == 503
            status, body, _ = call(f"{server.url}/open311/v2/requests.json")
            assert status == 503
    finally:
        redis_server.kill()


def test_http_ingest_refuses_points_outside_the_area(live_server: LiveServer) -> None:
    """The durable path applies the same area check as the feed: swapped lat/lon, or outside every grid."""
    swapped = {
        "id": "AREA-1",
        "status": "reported",
        "ts": time.time(),
        "lon": 30.31,
        "lat": 120.29,
        "category": "environment",
    }
    status, body = post_json(f"{live_server.url}/api/incidents", swapped)
    assert status == 422 and "lat" in body["detail"]
    far = {**swapped, "id": "AREA-2", "lon": 121.5, "lat": 31.2}  # Shanghai: outside the street
    status, body = post_json(f"{live_server.url}/api/incidents", far)
    assert status == 422 and "outside the area" in body["detail"]
    assert live_server.client.hget(live_server.keys.state, "AREA-2") is None
