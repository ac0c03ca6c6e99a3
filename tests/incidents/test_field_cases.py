"""The wire's field cases (../shared/field-cases: gcj02-unflagged.json, js-object-object.txt) and more of each kind:
other coordinate systems on the wire, a grid_id that disagrees with the point, dead-letter reasons that name the
sender's mistake. Expected values asserted."""

from __future__ import annotations

import base64
import gzip
import json
import pickle
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import redis
from pyproj import Geod

from dashboard.settings import Settings, SettingsError
from geo.bd09 import bd09_to_wgs84, wgs84_to_bd09
from geo.gcj02 import gcj02_to_wgs84
from geo.index import SpatialIndex
from geo.layers import read_layers
from incidents import store
from incidents.feed import Feed
from incidents.keys import Keys
from incidents.publish import publish
from incidents.situation import Situation
from incidents.timeutil import parse_ts
from incidents.wire import WireError, parse_message
from tests.support.paths import DEMO_GPKG, FIELD_CASES, read_shared
from tests.support.wait import wait_for

NOW = parse_ts("2026-11-30T12:00:00+08:00")  # after the cases' ts
UNFLAGGED = FIELD_CASES / "gcj02-unflagged.json"
JS_OBJECT = FIELD_CASES / "js-object-object.txt"


def _case(raw: Any) -> Any:
    return read_shared(raw) if isinstance(raw, Path) else raw


@pytest.fixture(scope="module")
def index() -> SpatialIndex:
    return SpatialIndex(read_layers(DEMO_GPKG))


def _grid(index: SpatialIndex, lon: float, lat: float) -> str:
    return str(index.locate(np.array([lon]), np.array([lat]))["grid_id"].iloc[0])


# ------------------------------------------------------------------------------------ 1. coordinate systems on the wire


def test_unflagged_gcj02_lands_where_it_was_picked_with_a_per_source_default(index: SpatialIndex) -> None:
    """field-cases/gcj02-unflagged.json: declared once for the publisher (ONESCREEN_SOURCE_CRS), not per message."""
    raw = read_shared(UNFLAGGED)
    case = json.loads(raw)
    as_sent = parse_message(raw, now=NOW)
    assert (as_sent["lon"], as_sent["lat"]) == (case["lon"], case["lat"])  # without a declaration: as sent
    msg = parse_message(raw, now=NOW, source_crs={"*": "gcj02"})
    want = gcj02_to_wgs84(case["lon"], case["lat"])
    assert abs(msg["lon"] - float(want[0])) < 1e-8 and abs(msg["lat"] - float(want[1])) < 1e-8
    moved = Geod(ellps="WGS84").inv(case["lon"], case["lat"], msg["lon"], msg["lat"])[2]
    assert 450 < moved < 600
    assert _grid(index, case["lon"], case["lat"]) == "G0070"  # where it would have landed
    assert _grid(index, msg["lon"], msg["lat"]) == "G0002"  # where it was picked


def test_source_defaults_explicit_crs_and_bd09() -> None:
    lon, lat = 120.31240, 30.29536
    base: dict[str, Any] = {"id": "B-1", "status": "reported", "ts": NOW - 60, "lon": lon, "lat": lat}
    base["category"] = "fire"
    by_source = {"baidu-app": "bd09", "*": "gcj02"}
    msg = parse_message(json.dumps({**base, "source": "baidu-app"}), now=NOW, source_crs=by_source)
    want = bd09_to_wgs84(lon, lat)
    assert abs(msg["lon"] - float(want[0])) < 1e-8 and abs(msg["lat"] - float(want[1])) < 1e-8
    explicit = parse_message(json.dumps({**base, "source": "baidu-app", "crs": "wgs84"}), now=NOW, source_crs=by_source)
    assert explicit["lon"] == lon  # the message's own crs wins
    status_only = {"id": "B-1", "status": "dispatched", "ts": NOW, "source": "baidu-app"}
    assert "lon" not in parse_message(json.dumps(status_only), now=NOW, source_crs=by_source)
    flagged = parse_message(json.dumps({**base, "crs": "bd09"}), now=NOW)
    assert abs(flagged["lon"] - float(want[0])) < 1e-8
    back = wgs84_to_bd09(flagged["lon"], flagged["lat"])
    assert abs(float(back[0]) - lon) < 1e-9 and abs(float(back[1]) - lat) < 1e-9
    with pytest.raises(WireError, match="'bd09' given without lon/lat"):
        parse_message(json.dumps({**status_only, "crs": "bd09"}), now=NOW)


def test_the_setting_and_the_durable_path(r: redis.Redis, keys: Keys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONESCREEN_SOURCE_CRS", "amap-picker=GCJ02, *=bd09")
    assert Settings.from_env().source_crs == {"amap-picker": "gcj02", "*": "bd09"}
    monkeypatch.setenv("ONESCREEN_SOURCE_CRS", "amap-picker=mars")
    with pytest.raises(SettingsError, match=r"(?i)unknown crs .*known: wgs84, gcj02, bd09"):
        Settings.from_env()
    case = json.loads(read_shared(UNFLAGGED))
    publish(r, keys, {**case, "ts": NOW - 60}, now=NOW, source_crs={"*": "gcj02"})
    stored = store.get_incident(r, keys, case["id"])
    assert stored is not None
    assert abs(stored.lon - float(gcj02_to_wgs84(case["lon"], case["lat"])[0])) < 1e-8


def test_a_grid_id_that_disagrees_with_its_point_is_flagged(index: SpatialIndex) -> None:
    case = json.loads(read_shared(UNFLAGGED))
    s = Situation(index.locate, clock=lambda: NOW)
    from incidents.model import Incident, Status

    def inc(iid: str, grid_id: str) -> Incident:
        t = NOW - 60
        return Incident(id=iid, status=Status.REPORTED, ts=t, lon=case["lon"], lat=case["lat"], category="environment",
                        created_ts=t, grid_id=grid_id, history=[("reported", t)])  # fmt: skip

    s.apply_many([inc("agrees", "G0070"), inc("disagrees", "G0002"), inc("none", "")])
    assert s.grid_conflicts() == {"disagrees": ("G0002", "G0070")}
    assert s.location("disagrees")[1] == "G0002"  # type: ignore[index]  # the given grid counts: flagged, kept


# ------------------------------------------------------------------------------------ 6. reasons that name the cause


def _reason(raw: Any) -> str:
    with pytest.raises(WireError) as ei:
        parse_message(raw, now=NOW)
    return ei.value.reason


GOOD = {"id": "R-1", "status": "reported", "ts": NOW - 60, "lon": 120.3, "lat": 30.29, "category": "fire"}
GOOD_JSON = json.dumps(GOOD)

REASONS: list[tuple[str, Any, str]] = [
    (
        "js [object Object]",
        JS_OBJECT,
        "JavaScript's default text for an object",
    ),
    ("js object literal", "{id: 'R-1', status: 'reported'}", "JavaScript object literal (unquoted keys"),
    ("python dict repr", str(GOOD), "Python dict's repr (single quotes"),
    ("python literals", GOOD_JSON[:-1] + ', "escalated": True}', "Python's True where JSON has true"),
    ("python bytes repr", repr(GOOD_JSON.encode()), "Python bytes repr"),
    ("python OrderedDict", "OrderedDict([('id', 'R-1')])", "a Python repr (OrderedDict"),
    ("python pickle", pickle.dumps(GOOD), "a Python pickle"),
    ("ruby hash inspect", '{"id"=>"R-1", "status"=>"reported"}', "Ruby's Hash#inspect"),
    ("php print_r", "Array\n(\n    [id] => R-1\n)\n", "PHP's print_r"),
    ("php serialize", 'a:1:{s:2:"id";s:3:"R-1";}', "PHP's serialize()"),
    ("go map", "map[id:R-1 status:reported]", "Go's fmt printing of a map"),
    ("java toString", "Incident{id='R-1', status=reported}", "Java/Kotlin toString()"),
    ("java identity", "com.example.grid.Incident@1b6d3586", "Java/Kotlin toString()"),
    ("dotnet", "System.Collections.Generic.Dictionary`2[System.String,System.Object]", ".NET object's default"),
    ("java serialization", b"\xac\xed\x00\x05sr\x00\x08Incident", "Java serialization stream"),
    ("gzip", gzip.compress(GOOD_JSON.encode()), "gzip-compressed"),
    ("zlib", zlib.compress(GOOD_JSON.encode()), "zlib-compressed"),
    ("utf-16 bom", GOOD_JSON.encode("utf-16"), "UTF-16 LE text"),
    ("utf-16 no bom", GOOD_JSON.encode("utf-16-le"), "UTF-16 text"),
    ("gbk", GOOD_JSON[:-1].encode() + ', "title": "楼道堆放杂物"}'.encode("gbk"), "encoded as GBK/GB18030, not UTF-8"),
    ("msgpack", b"\x86\xa2id\xa3R-1", "MessagePack"),
    ("base64 json", base64.b64encode(GOOD_JSON.encode()).decode(), "base64-encoded JSON"),
    ("double encoded", json.dumps(GOOD_JSON), "serialised twice"),
    ("array of messages", json.dumps([GOOD, GOOD]), "an array of 2 objects: publish one message per incident"),
    ("ndjson", GOOD_JSON + "\n" + GOOD_JSON, "more than one JSON value"),
    ("cut off", GOOD_JSON[:40], "the message was cut off"),
    ("form encoded", "id=R-1&status=reported&lon=120.3", "form-encoded"),
    ("xml", "<service_requests><request/></service_requests>", "XML/HTML, not JSON"),
    ("epoch ms", json.dumps({**GOOD, "ts": (NOW - 60) * 1000}), "epoch milliseconds"),
    ("epoch ns", json.dumps({**GOOD, "ts": (NOW - 60) * 1e9}), "epoch nanoseconds"),
    ("epoch as text", json.dumps({**GOOD, "ts": str(int(NOW - 60))}), "an epoch number as text"),
    ("slash date", json.dumps({**GOOD, "ts": "2026/11/30 09:00:00"}), "'/' date separators"),
    ("web mercator", json.dumps({**GOOD, "lon": 13393000.5, "lat": 3539000.2}), "Web Mercator (EPSG:3857)"),
    ("gauss-kruger", json.dumps({**GOOD, "lon": 40500123.0, "lat": 3350123.0}), "zone number 40 in front"),
    ("degrees e7", json.dumps({**GOOD, "lon": 1203000000, "lat": 302900000}), "1203000000 / 10,000,000 = 120.3"),
    ("quoted number", json.dumps({**GOOD, "lon": "120.3"}), "a number in quotes: send 120.3 without quotes"),
    ("dms text", json.dumps({**GOOD, "lon": "120°18'05\"E"}), "degrees-minutes-seconds"),
    ("field aliases", json.dumps({**GOOD, "lng": 120.3, "latitude": 30.29}), "did you mean 'lat' for 'latitude'"),
    ("status vocabulary", json.dumps({**GOOD, "status": "done"}), "('done' is 'resolved' here)"),
    ("swapped", json.dumps({**GOOD, "lon": 30.29, "lat": 120.3}), "lat/lon swapped?"),
]


@pytest.mark.parametrize(("name", "raw", "needle"), REASONS, ids=[r[0] for r in REASONS])
def test_dead_letter_reasons_name_the_sender_mistake(name: str, raw: Any, needle: str) -> None:
    assert needle in _reason(_case(raw))


def test_the_js_case_is_not_called_an_array() -> None:
    reason = _reason(read_shared(JS_OBJECT))
    assert "array" not in reason and "JSON.stringify(object)" in reason


def test_the_feed_applies_the_per_source_default_to_a_bare_publish(r: redis.Redis, keys: Keys, redis_url: str) -> None:
    """The case as its publisher sends it: a bare PUBLISH on the channel, without crs; the server declared it."""
    situation = Situation(lambda lon, lat: no_grid(len(lon)), clock=lambda: NOW)
    feed = Feed(redis_url, keys, situation, source_crs={"*": "gcj02"}, clock=lambda: NOW).start()
    try:
        wait_for(lambda: feed.health().connected, message="feed connected")
        r.publish(keys.channel, read_shared(UNFLAGGED))
        inc = wait_for(lambda: situation.get("F-GCJ-1"), message="the case in the situation")
    finally:
        feed.stop()
    case = json.loads(read_shared(UNFLAGGED))
    want = gcj02_to_wgs84(case["lon"], case["lat"])
    assert abs(inc.lon - float(want[0])) < 1e-8 and abs(inc.lat - float(want[1])) < 1e-8


def no_grid(n: int) -> pd.DataFrame:
    return pd.DataFrame({"micro_grid_id": [""] * n, "grid_id": [""] * n, "community_id": [""] * n})
