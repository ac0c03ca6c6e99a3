"""The work list's callbacks over HTTP in one process: the real app (gate, Dash callbacks posted to
``/_dash-update-component``) on a started Runtime over the real test Redis, asked as an official, a viewer and an
official confined to one community (the in-process pattern of test_detail).

- every filter in the page URL (search by id, by title words and by grid name; each status and view; category;
  priority; assignee; time window; since/until; sort) gives exactly the first page of what
  ``dashboard.worklist.work_list`` selects, the count of all of them, and export links with the same filter;
- a KPI tile click writes its filter into the URL (超期 → ``status=overdue``) and a second click clears it; a
  control's change writes the URL and keeps ``area=``/``lang=``; the URL sets the controls;
- bad parameters give a notice naming each, and the rest still applies;
- paging, and a selection on another page jumps there and highlights its row;
- a viewer sees assignees masked; a confined official sees only its community's incidents, whatever the URL asks;
- a picked row selects the incident and gives the map its position; one outside the actor's areas gives nothing.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest

from dashboard.callbacks.worklist import CONTROL_INPUTS
from dashboard.layouts.ids import Console, WorkList, kpi_tile_id
from dashboard.layouts.root import PAGE_RENDERED, URL
from dashboard.runtime import Runtime
from dashboard.work_table import KPI_TILES, PAGE_SIZE
from dashboard.worklist import work_list
from incidents.publish import publish
from incidents.worklist import WorkFilter
from tests.support.inprocess import Client, InProcess, in_process
from tests.support.wait import wait_for

N = 60
CONTROLS = list(CONTROL_INPUTS)


@dataclass
class World:
    runtime: Runtime
    client: Client
    cookies: dict[str, str]
    keys: dict[str, str]  # callback output keys: "table", "sync", "pick"
    tag: str
    ids: list[str]
    member: str
    member_name: str
    community: str  # the confined official's
    grid_name: str  # of incident 5

    def post(self, who: str, body: Any) -> Any:
        headers = {"Content-Type": "application/json", "Cookie": self.cookies[who], "Origin": self.client.base}
        resp = self.client.post("/_dash-update-component", content=json.dumps(body), headers=headers)
        assert resp.status_code == 200, resp.text
        return resp.json()["response"]

    def expected(self, params: dict[str, str], scope: tuple[str, ...] = ()) -> list[str]:
        now = time.time()
        tree = self.runtime.geo.areas
        flt = WorkFilter.from_params(params, areas=tree, now=now)
        view = self.runtime.situation.view(now)
        rows = work_list(view.incidents, flt, now=now, tree=tree, directory=self.runtime.directory, scope=scope)
        return rows["id"].astype(str).tolist()


def _outputs(key: str) -> list[dict[str, str]]:
    parts = key.strip(".").split("...") if key.startswith("..") else [key]
    out = []
    for part in parts:  # "id.prop" or, for an allow_duplicate output, "id.prop@hash"
        cid, prop = part.rsplit(".", 1)
        out.append({"id": cid, "property": prop})
    return out


@pytest.fixture(scope="module")
def world(redis_url: str) -> Iterator[World]:
    with in_process(redis_url, "worklist") as served:
        yield _seeded(served)


def _seeded(served: InProcess) -> World:
    runtime, app = served.runtime, served.app
    grids = runtime.layers.grids
    community = str(grids["community_id"].iloc[0])
    access = runtime.access
    cookies = {}
    for name, role, areas in (
        ("wang", "official", ()),
        ("li", "viewer", ()),
        ("zhou", "official", (f"community:{community}",)),
    ):
        access.accounts.add(name, role, "password-" + name, areas)
        cookies[name] = f"{access.session_cookie}={access.sessions.create(name).sid}"
    m = runtime.layers.members
    member = m.iloc[0]
    tag = uuid.uuid4().hex[:6].upper()
    now = time.time()
    ids = []
    points = grids.geometry.representative_point()
    for i in range(N):
        age = (2 * 86400 if i < 20 else 3 * 3600 if i < 40 else 600) + i
        status = "cancelled" if i % 10 == 9 else "dispatched" if i % 5 == 1 else "reported"
        msg: dict[str, Any] = {
            "id": f"WH{tag}-{i:02d}",
            "status": status,
            "ts": datetime.fromtimestamp(now - age, UTC).isoformat(),
            "lon": float(points.iloc[i].x),
            "lat": float(points.iloc[i].y),
            "category": ("environment", "dispute", "fire")[i % 3],
            "priority": ("low", "normal", "high", "urgent")[i % 4],
            "title": f"井盖松动 {tag}" if i == 7 else f"楼道堆物 {i}",
        }
        if status == "dispatched":
            msg["assignee"] = str(member["member_id"])
        if i == 11:
            msg["reopened"] = 1
        assert publish(runtime.redis, runtime.keys, msg, source="test").applied
        ids.append(msg["id"])
    wait_for(lambda: all(runtime.situation.get(i) for i in ids), 15, message="the seeded incidents applied")
    keys = {
        "table": next(k for k in app.callback_map if f"{WorkList.TABLE}.data" in k),
        "sync": next(k for k in app.callback_map if f"{WorkList.SEARCH}.value" in k),
        "pick": next(k for k in app.callback_map if f"{WorkList.FLY}.data" in k),
    }
    return World(
        runtime,
        served.client,
        cookies,
        keys,
        tag,
        ids,
        str(member["member_id"]),
        str(member["name"]),
        community,
        runtime.geo.areas.get(f"grid:{grids['grid_id'].iloc[5]}").name,
    )


def table(
    world: World, who: str, search: str, page: int = 0, selected: str | None = None, lang: str = "zh"
) -> dict[str, Any]:
    """The show_table callback's answer, as the URL changed (or the selection, with ``selected``; or the page)."""
    trigger = (
        f"{Console.STORE_SELECTED}.data"
        if selected
        else f"{WorkList.TABLE}.page_current"
        if page
        else f"{WorkList.QUERY}.data"
    )
    body = {
        "output": world.keys["table"],
        "outputs": _outputs(world.keys["table"]),
        "inputs": [
            {"id": WorkList.QUERY, "property": "data", "value": search},
            {"id": WorkList.TABLE, "property": "page_current", "value": page},
            {"id": Console.STORE_SELECTED, "property": "data", "value": selected},
            {"id": WorkList.TICK, "property": "n_intervals", "value": None},
        ],
        "state": [
            {"id": PAGE_RENDERED, "property": "data", "value": {"lang": lang}},
            {"id": WorkList.BUILT, "property": "data", "value": None},
        ],
        "changedPropIds": [trigger],
    }
    answer: dict[str, Any] = world.post(who, body)
    return answer


def ids_of(answer: dict[str, Any]) -> list[str]:
    return [row["id"] for row in answer[WorkList.TABLE]["data"]]


def sync(world: World, search: str, trigger: str | None, value: Any = None, values: list[Any] | None = None) -> Any:
    """The sync_filters callback's answer for ``trigger`` changed to ``value`` (controls otherwise empty)."""
    controls = list(values or ["", [], [], [], [], None, "", ""])
    if trigger in CONTROLS:
        controls[CONTROLS.index(trigger)] = value
    inputs: list[dict[str, Any]] = [{"id": WorkList.QUERY, "property": "data", "value": search}]
    props = ["value"] * len(CONTROLS)
    inputs += [{"id": c, "property": p, "value": v} for c, p, v in zip(CONTROLS, props, controls, strict=True)]
    inputs += [
        {"id": WorkList.TABLE, "property": "sort_by", "value": [{"column_id": "reported", "direction": "desc"}]},
        {"id": WorkList.RESET, "property": "n_clicks", "value": 1 if trigger == WorkList.RESET else 0},
    ]
    inputs += [
        {"id": t, "property": "n_clicks", "value": 1 if trigger == t else 0}
        for t in (kpi_tile_id(k, "console") for k in KPI_TILES)
    ]
    prop = "data" if trigger == WorkList.QUERY else "value" if trigger in CONTROLS else "n_clicks"
    inputs.append({"id": WorkList.TOGGLE, "property": "n_clicks", "value": 1 if trigger == WorkList.TOGGLE else 0})
    body = {
        "output": world.keys["sync"],
        "outputs": _outputs(world.keys["sync"]),
        "inputs": inputs,
        "state": [
            {"id": WorkList.ASSIGNEE, "property": "options", "value": []},
            {"id": PAGE_RENDERED, "property": "data", "value": {"lang": "zh"}},
            {"id": WorkList.ROOT, "property": "className", "value": "os-work"},
        ],
        "changedPropIds": [f"{trigger}.{prop}"] if trigger else [],  # none: a page's first call
    }
    return world.post("wang", body)


def _q(world: World) -> str:
    return f"q=WH{world.tag}"


FILTERS: list[dict[str, str]] = [
    {"status": "overdue"},
    {"status": "open"},
    {"status": "urgent"},
    {"status": "cancelled"},
    {"status": "reworked"},
    {"status": "dispatched,cancelled"},
    {"category": "fire"},
    {"category": "dispute,environment"},
    {"priority": "urgent"},
    {"priority": "low,high"},
    {"assignee": "none"},
    {"window": "1h"},
    {"window": "6h"},
    {"window": "24h"},
    {"window": "today"},
    {"since": "-4h"},
    {"until": "-1h"},
    {"sort": "priority"},
    {"sort": "-id"},
    {"sort": "deadline"},
    {"status": "open", "category": "fire", "priority": "urgent,high"},
]


@pytest.mark.parametrize("params", FILTERS, ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()))
def test_each_filter_shows_what_select_keeps(world: World, params: dict[str, str]) -> None:
    search = "?" + _q(world) + "".join(f"&{k}={v}" for k, v in params.items())
    answer = table(world, "wang", search)
    want = world.expected({"q": f"WH{world.tag}", **params})
    assert ids_of(answer) == want[:PAGE_SIZE]
    assert answer[WorkList.COUNT]["children"].startswith(f"共 {len(want):,} 条")
    assert answer[WorkList.NOTICE]["hidden"] is True
    href = answer[WorkList.EXPORT_CSV]["href"]
    assert href.startswith("/api/incidents.csv?")
    exported = parse_qs(href.split("?", 1)[1])
    for k, v in params.items():
        if k not in ("since", "until"):  # relative times are exported as the moment they stand for
            assert exported[k] == [v], (k, href)
    assert answer[WorkList.EXPORT_XLSX]["href"] == href.replace(".csv?", ".xlsx?")


def test_search_by_id_title_words_and_grid_name(world: World) -> None:
    assert ids_of(table(world, "wang", f"?q={world.ids[33]}")) == [world.ids[33]]
    assert ids_of(table(world, "wang", f"?q=井盖松动 {world.tag}")) == [world.ids[7]]
    by_grid = ids_of(table(world, "wang", f"?q={world.grid_name}&category=dispute"))
    assert by_grid == world.expected({"q": world.grid_name, "category": "dispute"})[:PAGE_SIZE]
    assert world.ids[5] in world.expected({"q": world.grid_name})


def test_kpi_tile_writes_its_filter_and_a_second_click_clears_it(world: World) -> None:
    answer = sync(world, "?area=&lang=zh", kpi_tile_id("overdue", "console"))
    search = answer[URL]["search"] if URL in answer else None
    assert search is not None and parse_qs(search.lstrip("?")).get("status") == ["overdue"], answer
    assert "lang=zh" in search
    assert answer[Console.KPIS]["className"] == "os-kpis os-kpis--filter-overdue"
    assert answer[WorkList.STATUS]["value"] == ["overdue"]  # the control shows it
    assert answer[WorkList.ROOT]["className"] == "os-work os-work--open"  # and the list opens
    again = sync(world, search, kpi_tile_id("overdue", "console"))
    assert "status" not in parse_qs(again[URL]["search"].lstrip("?"))
    today = sync(world, "?status=overdue", kpi_tile_id("today_reported", "console"))
    assert parse_qs(today[URL]["search"].lstrip("?")) == {"window": ["today"]}  # the tile's own list
    ids = ids_of(table(world, "wang", "?status=overdue&" + _q(world)))
    assert ids == world.expected({"status": "overdue", "q": f"WH{world.tag}"})[:PAGE_SIZE]


def test_a_control_writes_the_url_and_the_url_sets_the_controls(world: World) -> None:
    answer = sync(world, "?area=community:X&lang=en", WorkList.CATEGORY, ["fire", "dispute"])
    search = answer[URL]["search"]
    assert parse_qs(search.lstrip("?")) == {"area": ["community:X"], "lang": ["en"], "category": ["fire,dispute"]}
    back = sync(world, "?q=abc&status=overdue,bogus&window=6h&since=2026-11-30T08:00%2B08:00", WorkList.QUERY)
    assert URL not in back  # reading the URL never writes it
    assert back[WorkList.SEARCH]["value"] == "abc"
    assert back[WorkList.STATUS]["value"] == ["overdue"]  # 'bogus' is no option: left to the notice
    assert back[WorkList.WINDOW]["value"] == "6h"
    shown = ["", [], ["fire", "dispute"], [], [], None, "", ""]
    echo = sync(world, search, WorkList.CATEGORY, ["fire", "dispute"], values=shown)
    assert URL not in echo  # the controls showing the URL: nothing to write
    reset = sync(world, "?area=community:X&q=abc&status=open&sort=id", WorkList.RESET)
    assert parse_qs(reset[URL]["search"].lstrip("?")) == {"area": ["community:X"], "sort": ["id"]}


def test_bad_parameters_are_named_and_the_rest_applies(world: World) -> None:
    answer = table(world, "wang", f"?{_q(world)}&status=bogus&window=2d&since=yesterday&category=fire")
    notice = answer[WorkList.NOTICE]
    assert notice["hidden"] is False
    for word in ("status", "bogus", "window", "2d", "since", "yesterday"):
        assert word in notice["children"], notice["children"]
    assert ids_of(answer) == world.expected({"q": f"WH{world.tag}", "category": "fire"})[:PAGE_SIZE]


def test_paging_and_a_selection_on_another_page(world: World) -> None:
    want = world.expected({"q": f"WH{world.tag}"})
    assert len(want) == N
    second = table(world, "wang", "?" + _q(world), page=1)
    assert ids_of(second) == want[PAGE_SIZE : 2 * PAGE_SIZE]
    assert second[WorkList.TABLE]["page_count"] == 3
    target = want[-1]
    jumped = table(world, "wang", "?" + _q(world), page=0, selected=target)
    assert jumped[WorkList.TABLE]["page_current"] == 2 and ids_of(jumped) == want[2 * PAGE_SIZE :]
    row = ids_of(jumped).index(target)
    styles = jumped[WorkList.TABLE]["style_data_conditional"]
    assert any(s["if"].get("row_index") == row for s in styles)


def test_a_viewer_sees_masked_names_and_a_confined_official_its_community_only(world: World) -> None:
    search = f"?{_q(world)}&assignee={world.member}"
    official = table(world, "wang", search)[WorkList.TABLE]["data"]
    viewer = table(world, "li", search)[WorkList.TABLE]["data"]
    assert official and official[0]["assignee"].startswith(world.member_name)
    assert viewer and world.member_name not in viewer[0]["assignee"] and "*" in viewer[0]["assignee"]
    scope = (f"community:{world.community}",)
    confined = table(world, "zhou", "?" + _q(world))
    want = world.expected({"q": f"WH{world.tag}"}, scope=scope)
    assert 0 < len(want) < N and ids_of(confined) == want[:PAGE_SIZE]
    other = next(c for c in world.runtime.layers.communities["community_id"].astype(str) if c != world.community)
    elsewhere = table(world, "zhou", f"?{_q(world)}&area=community:{other}")  # not its area: its own instead
    assert ids_of(elsewhere) == want[:PAGE_SIZE]


def test_a_picked_row_selects_and_flies_only_inside_the_actors_areas(world: World) -> None:
    def pick(who: str, incident_id: str) -> Any:
        body = {
            "output": world.keys["pick"],
            "outputs": _outputs(world.keys["pick"]),
            "inputs": [{"id": WorkList.TABLE, "property": "active_cell",
                        "value": {"row": 0, "column": 1, "column_id": "title", "row_id": incident_id}}],
            "state": [{"id": WorkList.TABLE, "property": "data", "value": [{"id": incident_id}]}],
            "changedPropIds": [f"{WorkList.TABLE}.active_cell"],
        }  # fmt: skip
        headers = {"Content-Type": "application/json", "Cookie": world.cookies[who], "Origin": world.client.base}
        return world.client.post("/_dash-update-component", content=json.dumps(body), headers=headers)

    inside = world.expected({"q": f"WH{world.tag}"}, scope=(f"community:{world.community}",))[0]
    outside = next(i for i in world.ids if i not in world.expected({}, scope=(f"community:{world.community}",)))
    got = pick("zhou", inside).json()["response"]
    assert got[Console.STORE_SELECTED]["data"] == inside
    incident = world.runtime.situation.get(inside)
    assert incident is not None
    fly = got[WorkList.FLY]["data"]
    assert abs(fly["lon"] - incident.lon) < 0.01 and abs(fly["lat"] - incident.lat) < 0.01 and fly["id"] == inside
    refused = pick("zhou", outside)
    assert refused.status_code == 204 or refused.json()["response"] == {}  # no selection, no position


def test_sorting_by_a_header_writes_sort_and_a_cleared_sort_is_the_default_order(world: World) -> None:
    def sort_click(search: str, sort_by: list[dict[str, str]]) -> Any:
        shown: list[Any] = ["x", [], [], [], [], None, "", ""]  # the controls show the URL's q=x
        body_inputs: list[dict[str, Any]] = [{"id": WorkList.QUERY, "property": "data", "value": search}]
        body_inputs += [{"id": c, "property": "value", "value": v} for c, v in zip(CONTROLS, shown, strict=True)]
        body_inputs += [
            {"id": WorkList.TABLE, "property": "sort_by", "value": sort_by},
            {"id": WorkList.RESET, "property": "n_clicks", "value": 0},
        ]
        body_inputs += [{"id": kpi_tile_id(k, "console"), "property": "n_clicks", "value": 0} for k in KPI_TILES]
        body_inputs.append({"id": WorkList.TOGGLE, "property": "n_clicks", "value": 0})
        body = {
            "output": world.keys["sync"],
            "outputs": _outputs(world.keys["sync"]),
            "inputs": body_inputs,
            "state": [
                {"id": WorkList.ASSIGNEE, "property": "options", "value": []},
                {"id": PAGE_RENDERED, "property": "data", "value": {"lang": "zh"}},
                {"id": WorkList.ROOT, "property": "className", "value": "os-work"},
            ],
            "changedPropIds": [f"{WorkList.TABLE}.sort_by"],
        }
        return world.post("wang", body)

    by_deadline = sort_click("?q=x", [{"column_id": "deadline", "direction": "asc"}])
    assert parse_qs(by_deadline[URL]["search"].lstrip("?")) == {"q": ["x"], "sort": ["deadline"]}
    cleared = sort_click("?q=x&sort=deadline", [])
    assert parse_qs(cleared[URL]["search"].lstrip("?")) == {"q": ["x"]}
    assert cleared[WorkList.TABLE]["sort_by"] == [{"column_id": "reported", "direction": "desc"}]
    answer = table(world, "wang", f"?{_q(world)}&sort=deadline")
    assert ids_of(answer) == world.expected({"q": f"WH{world.tag}", "sort": "deadline"})[:PAGE_SIZE]


def test_the_toggle_opens_and_shuts_the_table_and_a_shared_filter_opens_it(world: World) -> None:
    assert sync(world, "", WorkList.TOGGLE)[WorkList.ROOT]["className"] == "os-work os-work--open"
    first = sync(world, "?status=overdue", None)  # the first call of a page opened with a filter
    assert first[WorkList.ROOT]["className"] == "os-work os-work--open"
    assert WorkList.ROOT not in sync(world, "", None)  # no filter: left as it is


def test_the_table_speaks_the_pages_language(world: World) -> None:
    answer = table(world, "wang", f"?q={world.ids[2]}", lang="en")
    (row,) = answer[WorkList.TABLE]["data"]
    assert (row["category"], row["priority"], row["status"]) == ("Fire safety", "High", "Reported"), row
    assert answer[WorkList.COUNT]["children"] == "1 in all"
    assert answer[WorkList.EXPORT_CSV]["href"] == f"/api/incidents.csv?q={world.ids[2]}&lang=en"


def test_the_export_links_download_the_list_on_the_screen(world: World) -> None:
    answer = table(world, "wang", f"?{_q(world)}&status=overdue&sort=id")
    href = answer[WorkList.EXPORT_CSV]["href"]
    headers = {"Cookie": world.cookies["wang"]}
    got = world.client.get(href, headers=headers)
    assert got.status_code == 200, got.content[:200]
    lines = got.content.decode("utf-8-sig").splitlines()
    ids = [line.split(",", 1)[0] for line in lines[1:]]
    assert ids == world.expected({"q": f"WH{world.tag}", "status": "overdue", "sort": "id"})
    assert ids[:PAGE_SIZE] == ids_of(answer)
    xlsx = world.client.get(answer[WorkList.EXPORT_XLSX]["href"], headers=headers)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_a_past_page_lists_the_situation_as_it_was_and_exports_it(world: World) -> None:
    """``at=`` (the scrubber's moment): the table and its export list the rebuilt situation of that moment."""
    iid = f"WH{world.tag}-PAST"
    point = world.runtime.layers.grids.geometry.representative_point().iloc[3]
    now = time.time()
    first = {"id": iid, "status": "reported", "ts": now - 900, "lon": float(point.x), "lat": float(point.y),
             "category": "environment", "title": f"过去 {world.tag}"}  # fmt: skip
    assert publish(world.runtime.redis, world.runtime.keys, first, source="test").applied
    later = {"id": iid, "status": "dispatched", "ts": now - 300, "assignee": world.member}
    assert publish(world.runtime.redis, world.runtime.keys, later, source="test").applied
    wait_for(lambda: (inc := world.runtime.situation.get(iid)) is not None and inc.status == "dispatched", 10)
    moment = datetime.fromtimestamp(now - 600, UTC).astimezone().isoformat(timespec="seconds")
    search = "?" + urlencode({"q": f"过去 {world.tag}", "at": moment})
    answer = table(world, "wang", search)
    (row,) = answer[WorkList.TABLE]["data"]
    assert row["id"] == iid and row["status"] == "待派单", row  # as it was 10 minutes ago, not 已派单
    assert ids_of(table(world, "wang", "?" + urlencode({"q": f"过去 {world.tag}"})))  # and now: dispatched
    assert (
        table(world, "wang", "?" + urlencode({"q": f"过去 {world.tag}"}))[WorkList.TABLE]["data"][0]["status"]
        == "已派单"
    )
    href = answer[WorkList.EXPORT_CSV]["href"]
    assert "at=" in href
    got = world.client.get(href, headers={"Cookie": world.cookies["wang"]})
    assert got.status_code == 200, got.content[:300]
    lines = got.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 2 and lines[1].startswith(iid) and ",待派单," in lines[1]
    bad = world.client.get("/api/incidents.csv?at=yesterday-ish", headers={"Cookie": world.cookies["wang"]})
    assert bad.status_code == 422 and "at:" in bad.text
