"""``GET /metrics`` on a real server process and a real Redis: who may scrape it, that the message counters move by
exactly what was sent (over HTTP and bare on the wire channel, good and bad), that frame computations are timed,
that no incident text ever shows; the JSON logs (``ONESCREEN_LOG_FORMAT=json``) name the incident on every line
about one; and the Grafana dashboard in docs/ asks only for series the server exposes."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.auth import anonymous_opener, api_key
from tests.support.dash_ws import FakeTab
from tests.support.paths import FIELD_CASES, REPO, read_shared
from tests.support.server import LiveServer, spawn_server
from tests.support.wait import wait_for

DASHBOARD = REPO / "docs" / "grafana-onescreen.json"
TITLE = "王小明家门口垃圾 13912345678"  # a name and a phone number: must never reach /metrics
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server logging JSON (the log file is its stdout/stderr)."""
    with spawn_server(redis_url, tmp_path_factory.mktemp("metrics"), env={"ONESCREEN_LOG_FORMAT": "json"}) as s:
        yield s


@pytest.fixture(scope="module")
def read_key(server: LiveServer) -> str:
    return api_key(server.client, server.keys, "e2e-prometheus", "read")


def scrape(server: LiveServer, key: str) -> str:
    req = urllib.request.Request(f"{server.url}/metrics", headers={"Authorization": f"Bearer {key}"})
    with anonymous_opener().open(req, timeout=10) as resp:
        assert resp.status == 200
        assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
        return str(resp.read().decode())


def samples(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def post(server: LiveServer, doc: dict[str, Any]) -> int:
    body = json.dumps(doc, ensure_ascii=False).encode()
    req = urllib.request.Request(
        f"{server.url}/api/incidents", body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # the registered opener adds the ingest key
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def open311(server: LiveServer, **fields: str) -> int:
    form = {
        "lat": "30.31",
        "long": "120.29",
        "description": TITLE,
        "first_name": "小明",
        "last_name": "王",
        "phone": "13912345678",
        **fields,
    }
    req = urllib.request.Request(
        f"{server.url}/open311/v2/requests.json",
        urllib.parse.urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # the registered opener adds the ingest key
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def first(incident_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": incident_id,
        "status": "reported",
        "ts": time.time(),
        "lon": 120.29,
        "lat": 30.31,
        "category": "环境卫生",
        "title": TITLE,
        **extra,
    }


def test_anonymous_scrape_is_refused(server: LiveServer) -> None:
    try:
        anonymous_opener().open(f"{server.url}/metrics", timeout=10)
    except urllib.error.HTTPError as exc:
        assert exc.code == 401
    else:
        raise AssertionError("anonymous GET /metrics answered")


def test_an_ingest_key_may_not_scrape(server: LiveServer) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        scrape(server, server.creds.ingest_key)
    assert caught.value.code == 403


def test_counters_move_by_exactly_what_was_sent(server: LiveServer, read_key: str) -> None:
    before = samples(scrape(server, read_key))
    # over HTTP: two new incidents, one duplicate, three rejected for three different reasons
    good = [first("MET-1"), first("MET-2", priority="high")]
    assert [post(server, m) for m in good] == [202, 202]
    assert post(server, good[0]) == 200  # the same message again: a duplicate
    bad = [
        first("MET-3", colour="red"),  # unknown field
        {**first("MET-4"), "status": "lost"},  # invalid value
        {"id": "MET-5", "status": "reported", "ts": time.time()},  # a first message without a place
    ]
    assert [post(server, m) for m in bad] == [422, 422, 422]
    # Open311, as a real client posts a resident's report (name and phone included): one good, one unknown service
    assert open311(server, service_code="Illegal_Dumping") == 200
    assert open311(server, service_code="No_Such_Service") == 404
    # bare on the wire channel (the feed's ingress): one good, two bad
    channel = server.keys.channel
    server.client.publish(channel, json.dumps(first("MET-6"), ensure_ascii=False))
    server.client.publish(channel, b"{not json")
    server.client.publish(channel, json.dumps({**first("MET-7"), "lon": 116.39, "lat": 39.91}))  # far away

    def moved() -> Samples | None:
        now = samples(scrape(server, read_key))

        def grown(outcome: str) -> float:
            name = "onescreen_messages_total"
            return value(now, name, via="pubsub", outcome=outcome) - value(before, name, via="pubsub", outcome=outcome)

        applied = value(now, "onescreen_feed_applied_entries_total") - value(
            before, "onescreen_feed_applied_entries_total"
        )  # the log follower applies the accepted ones a moment after the ingress counts them
        return now if grown("rejected") >= 2 and grown("accepted") >= 1 and applied >= 3 else None

    after = wait_for(moved, timeout=10, message="the feed's ingress to count the bare messages and apply the log")

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    total, reasons = "onescreen_messages_total", "onescreen_messages_rejected_total"
    assert delta(total, via="http", outcome="accepted") == 2
    assert delta(total, via="http", outcome="duplicate") == 1
    assert delta(total, via="http", outcome="rejected") == 3
    assert delta(total, via="open311", outcome="accepted") == 1
    assert delta(total, via="open311", outcome="rejected") == 1
    assert delta(reasons, via="open311", reason="invalid_field") == 1
    assert delta(total, via="pubsub", outcome="accepted") == 1
    assert delta(total, via="pubsub", outcome="rejected") == 2
    assert delta(reasons, via="http", reason="unknown_field") == 1
    assert delta(reasons, via="http", reason="invalid_field") == 1
    assert delta(reasons, via="http", reason="missing_field") == 1
    assert delta(reasons, via="pubsub", reason="not_json") == 1
    assert delta(reasons, via="pubsub", reason="outside_area") == 1
    # the accepted ones reached this process's Situation through the log; Redis was asked for it
    assert delta("onescreen_feed_applied_entries_total") >= 3
    assert delta("onescreen_redis_round_trips_total", command="PIPELINE") >= 5
    assert value(after, "onescreen_redis_round_trips_total", command="XREAD") > 0


def test_frames_are_timed_and_the_process_is_described(server: LiveServer, read_key: str) -> None:
    # a wall's page load (its layout, as the browser asks for it) computes the wall's frame
    req = urllib.request.Request(f"{server.url}/_dash-layout", headers={"Referer": f"{server.url}/wall"})
    with urllib.request.urlopen(req, timeout=30) as resp:  # the registered opener presents the admin session
        assert resp.status == 200
    found = samples(scrape(server, read_key))
    assert value(found, "onescreen_frame_compute_seconds_count", screen="wall") >= 1
    assert value(found, "onescreen_frame_compute_seconds_sum", screen="wall") > 0
    assert value(found, "process_resident_memory_bytes") > 10e6
    assert value(found, "onescreen_incidents") >= 0
    assert ("onescreen_feed_backlog_entries", ()) in found


def test_live_pages_push_latency_and_bytes(server: LiveServer, read_key: str) -> None:
    """A tab (a WebSocket client speaking as the page) counts as a wall page while its push loop runs; an event
    reaching it is measured from Redis to the push, with the push's bytes."""

    def now() -> Samples:
        return samples(scrape(server, read_key))

    before = now()
    tab = FakeTab(server.url, "/wall")
    try:
        wait_for(lambda: value(now(), "onescreen_pages", screen="wall") == 1, timeout=15, message="the tab's push loop")
        assert value(now(), "onescreen_websocket_connections") == 1
        wait_for(lambda: tab.props, timeout=15, message="the tab's first push")  # the mark the latency starts after
        assert post(server, first("MET-LIVE-1")) == 202

        def pushed() -> Samples | None:
            found = now()
            got = value(found, "onescreen_push_latency_seconds_count")
            return found if got > value(before, "onescreen_push_latency_seconds_count") else None

        found = wait_for(pushed, timeout=15, message="a push carrying the new incident")
        latency = value(found, "onescreen_push_latency_seconds_sum") - value(
            before, "onescreen_push_latency_seconds_sum"
        )
        assert 0 < latency < 10
        assert value(found, "onescreen_push_bytes_count") > value(before, "onescreen_push_bytes_count")
        assert value(found, "onescreen_push_bytes_sum") > value(before, "onescreen_push_bytes_sum")
    finally:
        tab.close()
    wait_for(lambda: value(now(), "onescreen_pages", screen="wall") == 0, timeout=15, message="the loop to end")
    wait_for(lambda: value(now(), "onescreen_websocket_connections") == 0, message="the connection to close")


def test_metrics_public_networks_scrape_without_a_credential(redis_url: str, tmp_path: Any) -> None:
    """``ONESCREEN_METRICS_PUBLIC=127.0.0.1``: a Prometheus on the same machine scrapes anonymously, and nothing else
    opens (the address rule itself: ``test_metrics_units.py``)."""
    with spawn_server(redis_url, tmp_path, env={"ONESCREEN_METRICS_PUBLIC": "127.0.0.1"}) as open_server:
        with anonymous_opener().open(f"{open_server.url}/metrics", timeout=10) as resp:
            assert resp.status == 200
            assert b"onescreen_messages_total" in resp.read()
        # only /metrics: every other route still needs a credential
        with pytest.raises(urllib.error.HTTPError) as caught:
            anonymous_opener().open(f"{open_server.url}/api/summary", timeout=10)
        assert caught.value.code == 401


def test_no_incident_text_or_id_is_ever_exposed(server: LiveServer, read_key: str) -> None:
    assert post(server, first("MET-PRIVATE-1")) == 202
    text = scrape(server, read_key)
    for secret in (TITLE, "王小明", "13912345678", "MET-PRIVATE-1", "MET-"):
        assert secret not in text
    # label values are bounded sets: no free text at all
    values = {v for (_, labels) in samples(text) for _, v in labels}
    assert all(re.fullmatch(r"[A-Za-z0-9_+.\-]+", v) for v in values), values


def test_json_logs_name_the_incident(server: LiveServer) -> None:
    """A rejected message and an accepted one with a warning (its grid_id disagrees with its point) each leave a
    JSON line carrying ``incident_id``."""
    case = json.loads(read_shared(FIELD_CASES / "gcj02-unflagged.json"))  # its point lies in G0070
    assert post(server, {**case, "id": "LOG-GRID-1", "ts": time.time(), "grid_id": "G0002"}) == 202
    server.client.publish(server.keys.channel, json.dumps(first("LOG-BAD-1", colour="red")))

    def lines() -> list[dict[str, Any]]:
        out = []
        for line in server.log().splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def about(incident_id: str) -> list[dict[str, Any]]:
        return [r for r in lines() if r.get("incident_id") == incident_id]

    grid = wait_for(lambda: about("LOG-GRID-1"), timeout=10, message=lambda: f"grid line; log:\n{server.log()[-2000:]}")
    assert grid[0]["level"] == "WARNING" and "G0002" in grid[0]["message"] and grid[0]["time"]
    bad = wait_for(lambda: about("LOG-BAD-1"), timeout=10, message="rejected line")
    assert bad[0]["logger"] == "incidents.feed" and bad[0]["reason"] == "unknown_field" and bad[0]["via"] == "pubsub"
    # an HTTP rejection too
    assert post(server, first("LOG-BAD-2", colour="red")) == 422
    http = wait_for(lambda: about("LOG-BAD-2"), message="HTTP rejection line")
    assert http[0]["via"] == "http" and http[0]["reason"] == "unknown_field"
    # every line of the server is JSON (uvicorn's too); the banner is plain stdout
    records = lines()
    assert records and all({"time", "level", "logger", "message"} <= set(r) for r in records)


def exposed_names(text: str) -> set[str]:
    """Every series name the exposition offers, the suffixes PromQL may use included."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(s.name for s in family.samples)
        if family.type == "histogram":
            names.update(family.name + suffix for suffix in ("_bucket", "_sum", "_count"))
        elif family.type == "counter":
            names.add(family.name + "_total")
    return names


PROMQL_WORDS = {
    "sum", "rate", "irate", "increase", "by", "without", "histogram_quantile", "max", "min", "avg", "count", "le",
    "on", "ignoring", "group_left", "or", "and", "unless", "clamp_min", "topk", "deriv", "delta", "vector", "offset",
}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """The series an expression reads: identifiers not inside {...} label matchers, [...] ranges or strings, and
    not functions, keywords or label names after by/without."""
    stripped = re.sub(r'"[^"]*"', "", expr)
    stripped = re.sub(r"\{[^}]*\}", "", stripped)
    stripped = re.sub(r"\[[^\]]*\]", "", stripped)
    stripped = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", stripped)
    stripped = re.sub(r"\$\{?\w+\}?", "", stripped)  # Grafana variables ($__rate_interval)
    words = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", stripped))
    return {w for w in words if w not in PROMQL_WORDS and not re.fullmatch(r"\d+|e\d*", w)}


def targets(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for panel in dashboard["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            for target in inner.get("targets", []):
                yield inner.get("title", "?"), target["expr"]


def test_the_grafana_dashboard_reads_only_exposed_series(server: LiveServer, read_key: str) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    exposed = exposed_names(scrape(server, read_key))
    checked = 0
    for title, expr in targets(dashboard):
        used = metric_names(expr)
        assert used, f"{title}: no series in {expr!r}"
        assert used <= exposed, f"{title}: {sorted(used - exposed)} not exposed by the server ({expr})"
        checked += 1
    assert checked >= 10
    groups = " ".join(expr for _, expr in targets(dashboard))
    for needed in (
        "onescreen_messages_total",
        "onescreen_messages_rejected_total",
        "onescreen_feed_lag_seconds",
        "onescreen_frame_compute_seconds_bucket",
        "onescreen_push_latency_seconds_bucket",
        "onescreen_push_bytes_bucket",
        "onescreen_pages",
        "onescreen_redis_round_trips_total",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
    ):
        assert needed in groups, f"no panel reads {needed}"
