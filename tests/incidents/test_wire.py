"""The wire contract: bad messages are rejected with a reason naming the field; valid ones normalised."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pytest

from incidents import wire
from incidents.model import CATEGORIES, Priority, Status
from incidents.timeutil import format_ts, local_midnight, parse_ts
from incidents.wire import WireError, WireMessage, parse_message
from tests.support.paths import FIELD_CASES

NOW = 1714525200.0  # 2024-05-01T09:00:00+08:00
SCHEMA_PATH = Path(wire.__file__).parent / "schema" / "incident.schema.json"


def base(**kw: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": "GD-0001",
        "status": "reported",
        "ts": "2024-05-01T08:30:00+08:00",
        "lon": 120.155,
        "lat": 30.274,
        "category": "environment",
    }
    d.update(kw)
    return {k: v for k, v in d.items() if v is not ...}


def js(**kw: Any) -> str:
    return json.dumps(base(**kw), ensure_ascii=False)


# (case name, raw message, substring the reason must contain)
BAD: list[tuple[str, str | bytes, str]] = [
    ("not json", "hello", "JSON"),
    ("truncated json", '{"id": "a", "status": ', "invalid JSON"),
    ("empty", "", "empty"),
    ("array", "[1, 2]", "array"),
    ("string", '"x"', "object"),
    ("number", "42", "object"),
    ("invalid utf-8", b'{"id": "\xff\xfe", "status": "reported", "ts": 1714525200}', "UTF-8"),
    ("too large", js(description="x" * 70000), "too large"),
    ("deep nesting", '{"title": ' + "[" * 20000 + "]" * 20000 + "}", "nested"),
    ("huge array", '{"id":"a","status":"reported","ts":1714525200,"title":[' + "1," * 20000 + "1]}", "title"),
    ("object value", js(source={"a": 1}), "source"),
    ("duplicate key", '{"id":"a","id":"b","status":"reported","ts":1714525200}', "duplicate key 'id'"),
    ("missing id", js(id=...), "id"),
    ("missing status", js(status=...), "status"),
    ("missing ts", js(ts=...), "ts"),
    ("null id", js(id=None), "id"),
    ("id wrong type", js(id=123), "'id'"),
    ("id empty", js(id=""), "id"),
    ("id too long", js(id="a" * 65), "'id': too long"),
    ("id control char", js(id="GD\n1"), "'id'"),
    ("id trailing newline", js(id="GD1\n"), "'id'"),
    ("id space", js(id="GD 1"), "'id'"),
    ("unknown status", js(status="done"), "'status'"),
    ("status wrong type", js(status=1), "'status'"),
    ("NaN literal", '{"id":"a","status":"reported","ts":NaN}', "NaN"),
    ("Infinity literal", '{"id":"a","status":"reported","ts":1714525200,"lon":Infinity,"lat":1}', "Infinity"),
    ("-Infinity literal", '{"id":"a","status":"reported","ts":-Infinity}', "Infinity"),
    ("lon out of range", js(lon=181.0), "'lon'"),
    ("lat out of range", js(lat=-90.5), "'lat'"),
    ("lon without lat", js(lat=...), "'lat'"),
    ("lat without lon", js(lon=...), "'lon'"),
    ("lon as string", js(lon="120.1"), "'lon'"),
    ("bool as number", js(lat=True), "'lat': expected a number, got boolean"),
    ("unknown field", js(severity="high"), "severity"),
    ("unknown crs", js(crs="epsg3857"), "'crs'"),
    ("crs without coordinates", js(crs="gcj02", lon=..., lat=...), "'crs'"),
    ("naive iso ts", js(ts="2024-05-01T08:30:00"), "'ts'"),
    ("date-only ts", js(ts="2024-05-01"), "'ts'"),
    ("garbage ts", js(ts="yesterday"), "'ts'"),
    ("bool ts", js(ts=True), "'ts'"),
    ("far future ts", js(ts=NOW + 2 * 86400), "in the future (allowed skew 10 min)"),
    ("ms epoch ts", js(ts=NOW * 1000), "milliseconds"),
    ("ts before 2000", js(ts="1999-12-31T23:59:59Z"), "2000"),
    ("negative epoch ts", js(ts=-5), "'ts'"),
    ("bad priority", js(priority="critical"), "'priority'"),
    ("rating out of range", js(status="closed", rating=6), "'rating'"),
    ("rating zero", js(status="closed", rating=0), "'rating'"),
    ("rating float", js(status="closed", rating=4.5), "'rating'"),
    ("rating bool", js(status="closed", rating=True), "'rating'"),
    ("rating with wrong status", js(status="resolved", rating=5), "'rating'"),
    ("bad category", js(category="噪音"), "'category'"),
    ("category wrong type", js(category=3), "'category'"),
    ("title too long", js(title="标" * 201), "'title'"),
    ("title control char", js(title="a\x07b"), "'title'"),
    ("title newline", js(title="a\nb"), "'title'"),
    ("description NUL", js(description="a\x00b"), "'description'"),
    ("assignee wrong type", js(assignee=42), "'assignee'"),
    ("grid_id too long", js(grid_id="g" * 65), "'grid_id'"),
    ("reopened negative", js(reopened=-1), "'reopened'"),
    ("reopened string", js(reopened="1"), "'reopened'"),
    ("due naive", js(due="2024-05-02T08:00:00"), "'due'"),
    ("due far future", js(due=NOW + 500 * 86400), "'due'"),
]


def test_bad_table_is_broad() -> None:
    assert len(BAD) >= 25
    assert len({name for name, _, _ in BAD}) == len(BAD)


@pytest.mark.parametrize(("name", "raw", "needle"), BAD, ids=[b[0] for b in BAD])
def test_malformed_messages_are_rejected_with_a_specific_reason(name: str, raw: str | bytes, needle: str) -> None:
    with pytest.raises(WireError) as ei:
        parse_message(raw, now=NOW)
    assert needle in ei.value.reason, ei.value.reason
    assert str(ei.value) == ei.value.reason


def test_wire_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_message("[]", now=NOW)


def test_valid_minimal_and_full_message() -> None:
    m = parse_message(js(), now=NOW)
    assert isinstance(m, WireMessage)
    assert m == {
        "id": "GD-0001",
        "status": "reported",
        "ts": NOW - 1800,
        "lon": 120.155,
        "lat": 30.274,
        "category": "environment",
    }
    assert m.id == "GD-0001" and m.status is Status.REPORTED and m.ts == NOW - 1800
    assert m.get("title") is None  # absent = keep

    full = js(
        status="closed",
        title="楼道堆放杂物",
        description="3号楼2单元\n楼道内堆放纸箱",
        priority="high",
        source="居民随手拍",
        assignee="M0012",
        grid_id="G03",
        due="2024-05-03T08:30:00+08:00",
        rating=5,
        reopened=2,
    )
    m = parse_message(full.encode("utf-8"), now=NOW)
    assert m["title"] == "楼道堆放杂物"
    assert m["priority"] == "high" and m["rating"] == 5 and m["reopened"] == 2
    assert m["due"] == NOW - 1800 + 2 * 86400
    assert set(m) <= set(wire.OUTPUT_FIELDS)


def test_partial_update_keeps_only_present_fields() -> None:
    m = parse_message('{"id":"GD-0001","status":"accepted","ts":1714525000,"assignee":"M7"}', now=NOW)
    assert m == {"id": "GD-0001", "status": "accepted", "ts": 1714525000.0, "assignee": "M7"}
    # null on an optional field = absent
    m = parse_message('{"id":"GD-0001","status":"accepted","ts":1714525000,"title":null,"lon":null,"lat":null}')
    assert set(m) == {"id", "status", "ts"}


def test_zh_category_label_is_normalised_to_code() -> None:
    for code, label in CATEGORIES.items():
        assert parse_message(js(category=label), now=NOW)["category"] == code
        assert parse_message(js(category=code), now=NOW)["category"] == code


def test_epoch_ts_and_iso_variants() -> None:
    assert parse_message(js(ts=1714525000), now=NOW)["ts"] == 1714525000.0
    assert parse_message(js(ts=1714525000.25), now=NOW)["ts"] == 1714525000.25
    assert parse_message(js(ts="2024-05-01T00:56:40Z"), now=NOW)["ts"] == 1714525000.0
    assert parse_message(js(ts="2024-05-01T08:56:40.5+08:00"), now=NOW)["ts"] == 1714525000.5
    # up to ten minutes ahead is tolerated (clock skew), not more (test_future_ts_is_rejected_…)
    assert parse_message(js(ts=NOW + 600), now=NOW)["ts"] == NOW + 600


def test_reopened_bool_and_int() -> None:
    assert parse_message(js(reopened=True), now=NOW)["reopened"] == 1
    assert parse_message(js(reopened=False), now=NOW)["reopened"] == 0
    assert parse_message(js(reopened=3), now=NOW)["reopened"] == 3


def test_cjk_id_and_integer_coordinates() -> None:
    m = parse_message(js(id="工单:2024.05-001", lon=120, lat=30), now=NOW)
    assert m["id"] == "工单:2024.05-001"
    assert isinstance(m["lon"], float) and m["lon"] == 120.0


def test_gcj02_is_converted_to_wgs84() -> None:
    wlon, wlat = 120.155, 30.274
    glon, glat = wire.wgs84_to_gcj02_scalar(wlon, wlat)
    # the GCJ-02 offset in Hangzhou is several hundred metres
    assert abs(glon - wlon) > 0.003 and abs(glat - wlat) > 0.001
    m = parse_message(js(lon=glon, lat=glat, crs="gcj02"), now=NOW)
    assert "crs" not in m
    assert math.isclose(m["lon"], wlon, abs_tol=1e-7) and math.isclose(m["lat"], wlat, abs_tol=1e-7)
    # explicit wgs84 and outside China: unchanged
    assert parse_message(js(crs="wgs84"), now=NOW)["lon"] == 120.155
    assert parse_message(js(lon=2.35, lat=48.85, crs="gcj02"), now=NOW)["lon"] == 2.35


def test_gcj02_agrees_with_geo_helper_when_present() -> None:
    gcj = pytest.importorskip("geo.gcj02")
    import numpy as np

    lon = np.array([120.155, 121.47, 119.9])
    lat = np.array([30.274, 31.23, 29.1])
    glon, glat = gcj.wgs84_to_gcj02(lon, lat)
    for i in range(3):
        assert wire.wgs84_to_gcj02_scalar(lon[i], lat[i]) == pytest.approx((glon[i], glat[i]), abs=1e-9)
    wlon, wlat = gcj.gcj02_to_wgs84(glon, glat)
    for i in range(3):
        assert wire.gcj02_to_wgs84_scalar(glon[i], glat[i]) == pytest.approx((wlon[i], wlat[i]), abs=2e-6)


def test_to_json_round_trips_and_is_compact_utf8() -> None:
    m = parse_message(js(title="垃圾桶满溢", crs="gcj02"), now=NOW)
    s = m.to_json()
    assert "垃圾桶满溢" in s and " " not in s
    assert json.loads(s) == dict(m)
    # the normalised JSON is itself a valid wire message and normalises to itself
    assert parse_message(s, now=NOW) == m


# (case name, raw JSON text, substrings the reason must contain): text that cannot be stored anywhere.
UNSTORABLE_TEXT: list[tuple[str, str, tuple[str, ...]]] = [
    ("lone high surrogate", js(title="楼道\ud83d"), ("'title'", "U+D83D", "lone surrogate", "character 2")),
    ("lone low surrogate", js(description="ok\ude00"), ("'description'", "U+DE00", "lone surrogate")),
    ("surrogate in id", js(id="GD-\ud83d"), ("'id'", "U+D83D")),
    ("surrogate in a key", js(**{"ti\ud83dtle": "x"}), ("field name", "U+D83D")),
    ("U+FFFE", js(assignee="m\ufffe"), ("'assignee'", "U+FFFE", "noncharacter")),
    ("U+FFFF", js(source="\uffff"), ("'source'", "U+FFFF", "noncharacter")),
    ("U+FDD0", js(title="a\ufdd0"), ("'title'", "U+FDD0", "noncharacter")),
    ("U+10FFFF", js(title="a\U0010ffff"), ("'title'", "U+10FFFF", "noncharacter")),
    ("U+1FFFE", js(title="a\U0001fffe"), ("'title'", "U+1FFFE", "noncharacter")),
    ("nested value", js(source={"inner": ["ok", "\ud83d"]}), ("'source.inner[1]'", "U+D83D")),
    ("nested key", js(source={"k\ufffe": 1}), ("field name", "U+FFFE")),
]


@pytest.mark.parametrize(("name", "text", "needles"), UNSTORABLE_TEXT, ids=[u[0] for u in UNSTORABLE_TEXT])
def test_unstorable_text_is_rejected_naming_field_and_code_point(
    name: str, text: str, needles: tuple[str, ...]
) -> None:
    # json.dumps escapes the code point the way a JS/Java publisher sends it (\ud83d): valid JSON, bad text.
    raw = json.dumps(json.loads(text.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass")))
    assert "\\u" in raw
    for form in (raw, raw.encode("ascii"), json.loads(raw)):
        with pytest.raises(WireError) as ei:
            if isinstance(form, dict):
                wire.parse_object(form, now=NOW)
            else:
                parse_message(form, now=NOW)
        for needle in needles:
            assert needle in ei.value.reason, ei.value.reason
        ei.value.reason.encode("utf-8")  # the reason itself is storable


def test_lone_surrogate_in_a_str_message_names_the_field() -> None:
    """A ``str`` holding the surrogate itself (not the JSON escape) is reported the same way."""
    with pytest.raises(WireError, match=r"'title': U\+D83D \(lone surrogate\)"):
        parse_message(js(title="x\ud83d"), now=NOW)


def test_surrogate_pairs_and_astral_text_are_fine() -> None:
    m = parse_message(json.dumps(base(title="好评 😀 \U00020000"), ensure_ascii=True), now=NOW)
    assert m["title"] == "好评 😀 \U00020000"
    m.to_json().encode("utf-8")


def test_future_ts_is_rejected_beyond_the_allowed_skew() -> None:
    ahead = NOW + 23 * 3600
    with pytest.raises(WireError) as ei:
        parse_message(js(ts=ahead), now=NOW)
    assert ei.value.reason == ("field 'ts': ts 2024-05-02T08:00:00+08:00 is 23.0 h in the future (allowed skew 10 min)")
    assert parse_message(js(ts=NOW + 599), now=NOW).ts == NOW + 599  # within the default 10 minutes
    with pytest.raises(WireError, match=r"is 10\.1 min in the future \(allowed skew 10 min\)"):
        parse_message(js(ts=NOW + 606), now=NOW)
    # the limit is the caller's: parsing stays pure
    assert parse_message(js(ts=ahead), now=NOW, max_future_s=86400).ts == ahead
    with pytest.raises(WireError, match=r"allowed skew 30 s"):
        parse_message(js(ts=NOW + 31), now=NOW, max_future_s=30)
    # due is a deadline, not a clock reading: up to 400 days ahead
    assert parse_message(js(due=NOW + 300 * 86400), now=NOW)["due"] == NOW + 300 * 86400


def test_default_now_is_wall_clock() -> None:
    parse_message(js(ts=time.time() + 60))
    with pytest.raises(WireError, match="'ts'"):
        parse_message(js(ts=time.time() + 3600))


def test_bom_and_whitespace_tolerated() -> None:
    raw = ("\ufeff  " + js() + "\n").encode("utf-8")
    assert parse_message(raw, now=NOW)["id"] == "GD-0001"


def test_parse_object_rejects_non_dict() -> None:
    with pytest.raises(WireError, match="object"):
        wire.parse_object([1, 2], now=NOW)


# --- timeutil


def test_format_and_parse_ts() -> None:
    assert format_ts(NOW) == "2024-05-01T09:00:00+08:00"
    assert parse_ts(format_ts(NOW)) == NOW
    assert parse_ts("2024-05-01T01:00:00Z") == NOW
    assert parse_ts(NOW) == NOW
    for bad in ("2024-05-01T09:00:00", "nope", True, float("nan")):
        with pytest.raises(ValueError):
            parse_ts(bad)


def test_local_midnight_is_shanghai() -> None:
    # 2024-05-01T00:00:00+08:00 == 2024-04-30T16:00:00Z
    assert local_midnight(NOW) == parse_ts("2024-05-01T00:00:00+08:00")
    assert local_midnight(parse_ts("2024-05-01T23:59:59+08:00")) == parse_ts("2024-05-01T00:00:00+08:00")
    assert local_midnight(parse_ts("2024-05-02T00:00:00+08:00")) == parse_ts("2024-05-02T00:00:00+08:00")


# --- the shipped JSON Schema must not drift from the parser


def test_schema_matches_parser() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    props = schema["properties"]
    assert tuple(props) == wire.FIELDS
    assert tuple(schema["required"]) == wire.REQUIRED

    def enum(name: str) -> set[Any]:
        return {v for v in props[name]["enum"] if v is not None}

    assert enum("status") == set(wire.STATUSES) == {s.value for s in Status}
    assert enum("priority") == set(wire.PRIORITIES) == {p.value for p in Priority}
    assert enum("category") == set(CATEGORIES) | set(CATEGORIES.values())
    assert enum("crs") == set(wire.CRS_VALUES)
    assert props["id"]["pattern"] == wire.ID_PATTERN
    assert props["id"]["maxLength"] == wire.ID_MAX
    for name, (max_len, _) in wire.STRING_FIELDS.items():
        assert props[name]["maxLength"] == max_len, name
    assert (props["rating"]["minimum"], props["rating"]["maximum"]) == (1, 5)
    assert props["lon"]["minimum"] == -180 and props["lat"]["maximum"] == 90
    assert schema["$defs"]["time"]["anyOf"][1]["minimum"] == wire.TS_MIN
    assert schema["dependentRequired"] == {"lon": ["lat"], "lat": ["lon"]}
    # every enum value the schema lists is accepted by the parser, and every example parses
    for v in enum("category"):
        parse_message(js(category=v), now=NOW)
    for v in enum("priority"):
        parse_message(js(priority=v), now=NOW)
    for ex in schema["examples"]:
        parse_message(json.dumps(ex), now=NOW + 86400)


def test_schema_validates_examples_and_rejects_bad_ones_if_jsonschema_installed() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid(base())
    assert validator.is_valid(base(category="环境卫生", rating=None))
    for bad in (
        base(lat=...),
        base(extra=1),
        base(status="done"),
        base(status="resolved", rating=4),
        base(id=""),
    ):
        assert not validator.is_valid(bad), bad


def test_parse_speed_smoke() -> None:
    raw = js(title="垃圾桶满溢", source="网格员巡查", priority="normal", assignee="M0012").encode()
    n = 5000
    t0 = time.perf_counter()
    for _ in range(n):
        parse_message(raw, now=NOW)
    per = (time.perf_counter() - t0) / n
    print(f"parse_message: {per * 1e6:.1f} µs/message")


@pytest.mark.parametrize("text", ["[object Object]", "[object Object]\n", b"[object Array]"])
def test_a_javascript_object_sent_without_json_stringify_is_named(text: str | bytes) -> None:
    with pytest.raises(wire.WireError, match=r"JavaScript's default text for an object.*JSON\.stringify"):
        wire.parse_message(text)


def test_field_case_js_object_object() -> None:
    """../shared/field-cases/js-object-object.txt: a Node.js publisher that forgot JSON.stringify."""
    case = FIELD_CASES / "js-object-object.txt"
    if not case.exists():
        pytest.skip(f"{case} missing (the shared folder beside the checkout)")
    with pytest.raises(wire.WireError, match="not JSON: the publisher sent the object itself"):
        wire.parse_message(case.read_bytes())
