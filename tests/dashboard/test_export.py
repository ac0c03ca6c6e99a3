"""``GET /api/incidents.csv|.xlsx`` of a real server over a real Redis: the filtered work list, masked by role,
confined to the caller's areas, for a signed-in user or a ``read`` key — and nobody else."""

from __future__ import annotations

import csv
import io
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import pytest
from openpyxl import load_workbook

from dashboard.access.accounts import AccountStore
from dashboard.access.sessions import SessionStore
from dashboard.settings import DEFAULT_DATA
from geo.layers import read_layers
from incidents.publish import publish
from incidents.timeutil import SHANGHAI
from tests.support.auth import anonymous_opener, api_key
from tests.support.server import LiveServer, spawn_server
from tests.support.wait import wait_for

DAY = 86400.0
PHONE = "13812345678"


@cache
def places() -> list[tuple[str, str, float, float]]:
    """(community_id, grid_id, lon, lat) of a point inside each demo grid, one per community first."""
    grids = read_layers(DEFAULT_DATA).grids.drop_duplicates("community_id")
    pts = grids.geometry.representative_point()
    return list(zip(grids["community_id"], grids["grid_id"], pts.x, pts.y, strict=True))


@cache
def member() -> tuple[str, str]:
    m = read_layers(DEFAULT_DATA).members.iloc[0]
    return str(m["member_id"]), str(m["name"])


@dataclass
class World:
    server: LiveServer
    tag: str  # in every test incident's title: the search that selects exactly them
    ids: dict[str, str]  # role in the test → incident id
    cookies: dict[str, str]  # account → Cookie header
    here: str  # the community most incidents are in
    read_key: str
    ingest_key: str

    def get(self, path: str, who: str = "wang", headers: dict[str, str] | None = None) -> tuple[int, bytes, Any]:
        hdrs = {"Cookie": self.cookies[who]} if who in self.cookies else {}
        req = urllib.request.Request(self.server.url + path, headers={**hdrs, **(headers or {})})
        try:
            with anonymous_opener().open(req, timeout=30) as resp:
                return resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), exc.headers


@pytest.fixture(scope="module")
def world(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with spawn_server(redis_url, tmp_path_factory.mktemp("export")) as server:
        tag = "导出" + uuid.uuid4().hex[:6]
        (c1, _, lon1, lat1), (_, _, lon2, lat2) = places()[:2]
        who, _ = member()
        now = time.time()
        specs: dict[str, dict[str, Any]] = {
            "overdue": {"status": "reported", "ts": now - 3 * DAY, "lon": lon1, "lat": lat1},
            "urgent": {"status": "dispatched", "priority": "urgent", "assignee": who, "lon": lon1, "lat": lat1},
            "fire": {
                "status": "accepted",
                "category": "fire",
                "assignee": who,
                "lon": lon1,
                "lat": lat1,
                "description": "38号楼2单元附近：楼道冒烟",
            },
            "cancelled": {"status": "cancelled", "lon": lon1, "lat": lat1},
            "elsewhere": {"status": "reported", "lon": lon2, "lat": lat2},
        }
        ids: dict[str, str] = {}
        for role, spec in specs.items():
            iid = f"EX-{role}-{uuid.uuid4().hex[:6]}"
            msg = {"id": iid, "ts": now, "category": "environment", "source": "12345",
                   "title": f"{tag} {role} 联系电话{PHONE}", **spec}  # fmt: skip
            assert publish(server.client, server.keys, msg, source="test").applied
            ids[role] = iid
        accounts = AccountStore(server.client, server.keys)
        sessions = SessionStore(server.client, server.keys, idle_s=3600, max_s=86400)
        cookies = {}
        for name, role, areas in (
            ("wang", "official", ()),
            ("li", "viewer", ()),
            ("zhou", "official", (f"community:{c1}",)),
        ):
            accounts.add(name, role, "password-" + name, areas)
            cookies[name] = f"{server.creds.session_cookie}={sessions.create(name).sid}"
        w = World(
            server,
            tag,
            ids,
            cookies,
            c1,
            api_key(server.client, server.keys, "erp-read", "read"),
            server.creds.ingest_key,
        )
        wait_for(lambda: len(rows_of(w, q(w))) == len(specs), 30, message="the test incidents in the list")
        yield w


def parse_csv(body: bytes) -> list[dict[str, str]]:
    assert body.startswith("\ufeff".encode()), "UTF-8 with a byte-order mark, for Excel"
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def rows_of(world: World, query: str, who: str = "wang") -> list[dict[str, str]]:
    code, body, _ = world.get("/api/incidents.csv" + query, who)
    assert code == 200, body[:300]
    return parse_csv(body)


def ids_of(rows: list[dict[str, str]]) -> set[str]:
    return {r["编号"] for r in rows}


def q(world: World, **params: str) -> str:
    return "?" + urllib.parse.urlencode({"q": world.tag, **params})


def test_each_filter_selects_its_incidents(world: World) -> None:
    ids = world.ids
    expect = {
        "status=overdue": {ids["overdue"]},
        "status=urgent": {ids["urgent"]},
        "status=cancelled": {ids["cancelled"]},
        "status=open": {ids["overdue"], ids["urgent"], ids["fire"], ids["elsewhere"]},
        "category=fire": {ids["fire"]},
        "priority=urgent": {ids["urgent"]},
        f"assignee={member()[0]}": {ids["urgent"], ids["fire"]},
        f"area=community:{world.here}": {ids[k] for k in ("overdue", "urgent", "fire", "cancelled")},
        "since=-1h": {ids[k] for k in ("urgent", "fire", "cancelled", "elsewhere")},  # the overdue one is 3 d old
        "window=24h&status=open": {ids[k] for k in ("urgent", "fire", "elsewhere")},
    }
    for query, wanted in expect.items():
        params = dict(urllib.parse.parse_qsl(query))
        assert ids_of(rows_of(world, q(world, **params))) == wanted, query
    # the issue's own form: an ISO moment with its offset, its '+' percent-encoded or (typed by hand) not
    yesterday = datetime.fromtimestamp(time.time() - DAY, SHANGHAI).isoformat(timespec="minutes")
    assert ids_of(rows_of(world, q(world, since=yesterday, status="reported"))) == {ids["elsewhere"]}
    raw = q(world, status="reported") + "&since=" + yesterday  # '+08:00' arrives as ' 08:00'
    assert ids_of(rows_of(world, raw)) == {ids["elsewhere"]}


def test_search_by_id_title_and_address(world: World) -> None:
    assert ids_of(rows_of(world, "?" + urllib.parse.urlencode({"q": world.ids["fire"].lower()}))) == {world.ids["fire"]}
    assert ids_of(rows_of(world, q(world) + "+cancelled")) == {world.ids["cancelled"]}  # every word
    assert ids_of(rows_of(world, q(world) + "+" + urllib.parse.quote("38号楼"))) == {world.ids["fire"]}  # an address


def test_csv_headers_labels_and_time_zone(world: World) -> None:
    code, body, headers = world.get("/api/incidents.csv" + q(world, status="urgent"))
    assert code == 200 and headers["Content-Type"].startswith("text/csv")
    assert "attachment" in headers["Content-Disposition"] and "filename*=UTF-8''" in headers["Content-Disposition"]
    (row,) = parse_csv(body)
    assert "上报时间（北京时间）" in row and "办理时限（北京时间）" in row
    assert row["紧急程度"] == "紧急" and row["状态"] == "已派单" and row["类别"] == "环境卫生"
    assert row["社区"] and not row["社区"].startswith("C"), "the community by name"
    reported = time.strptime(row["上报时间（北京时间）"], "%Y-%m-%d %H:%M")
    assert abs(time.mktime(reported) - time.mktime(time.gmtime(time.time() + 8 * 3600))) < 3600
    assert headers["X-Total-Count"] == "1"


def test_english_headers(world: World) -> None:
    (row,) = rows_of(world, q(world, status="urgent", lang="en"))
    assert row["Priority"] == "Urgent" and "Reported (UTC+8)" in row


def test_masked_for_a_viewer_not_for_an_official(world: World) -> None:
    _, name = member()
    (official,) = rows_of(world, q(world, status="urgent"))
    assert PHONE in official["标题"] and official["承办人"].startswith(name)
    (viewer,) = rows_of(world, q(world, status="urgent"), who="li")
    assert PHONE not in viewer["标题"] and "138****5678" in viewer["标题"]
    assert name not in viewer["承办人"] and viewer["承办人"].startswith(name[0] + "*")


def test_a_confined_official_gets_only_their_area(world: World) -> None:
    got = ids_of(rows_of(world, q(world), who="zhou"))
    assert got == {world.ids[k] for k in ("overdue", "urgent", "fire", "cancelled")}
    other = places()[1][0]
    code, body, _ = world.get("/api/incidents.csv" + q(world, area=f"community:{other}"), "zhou")
    assert code == 403 and b"outside your areas" in body


def test_xlsx_is_the_csv(world: World) -> None:
    code, body, headers = world.get("/api/incidents.xlsx" + q(world))
    assert code == 200 and headers["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(body), read_only=True)
    sheet, about = book.worksheets
    table = [[c if c is not None else "" for c in r] for r in sheet.iter_rows(values_only=True)]
    csv_rows = list(csv.reader(io.StringIO(rows_of_raw(world, q(world)))))
    assert table == csv_rows and len(table) == 1 + len(world.ids)
    notes = {r[0]: r[1] for r in about.iter_rows(values_only=True)}
    assert (
        notes["条数"] == str(len(world.ids)) and "北京时间" in notes["时区"] and notes["个人信息"].startswith("未脱敏")
    )


def rows_of_raw(world: World, query: str) -> str:
    code, body, _ = world.get("/api/incidents.csv" + query)
    assert code == 200
    return body.decode("utf-8-sig")


def test_bad_parameters_are_listed(world: World) -> None:
    code, body, _ = world.get("/api/incidents.csv?status=late&window=2h&area=community:NOPE&category=ufo")
    assert code == 422
    text = body.decode()
    for part in ("status: 'late'", "window: '2h'", "area:", "category: 'ufo'"):
        assert part in text, text


def test_who_may_export(world: World) -> None:
    path = "/api/incidents.csv" + q(world)
    code, body, _ = world.get(path, who="nobody")
    assert code == 401
    code, body, _ = world.get(path, who="nobody", headers={"Authorization": f"Bearer {world.read_key}"})
    assert code == 200 and ids_of(parse_csv(body)) == set(world.ids.values())
    assert "138****5678" in body.decode("utf-8-sig"), "a key gets personal data masked"
    code, _, _ = world.get(path, who="nobody", headers={"Authorization": f"Bearer {world.ingest_key}"})
    assert code == 403
