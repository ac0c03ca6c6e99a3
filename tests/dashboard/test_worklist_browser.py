"""The work list (工单列表) on the officials' page in a real headless Chromium, against a real server and Redis.

60 incidents are published with a raw redis-py client (three report times, three categories, four priorities,
some dispatched to a member, some cancelled). Each filter is operated through its widget, as an official would;
the table's ids must be the first page of what ``dashboard.worklist.work_list`` selects for that filter over the
same Redis state (a Situation rebuilt here from the state hash), and the page URL must carry the filter. The KPI
tile 超期 filters the list, a URL with parameters opens filtered, a row click opens the detail and flies the map,
a map click highlights the row, and paging walks past 50 rows.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from dashboard.figures.incident_map import INCIDENT_TRACES
from dashboard.layouts.ids import Console, WorkList, kpi_tile_id
from dashboard.runtime import Runtime, build_runtime
from dashboard.settings import Settings
from dashboard.work_table import PAGE_SIZE
from dashboard.worklist import work_list
from incidents.store import load_state
from incidents.worklist import WorkFilter
from tests.dashboard.test_console import choose, clear
from tests.dashboard.test_dispatch import MAP_JS, grid_point
from tests.dashboard.test_hardening import CSP_WATCH
from tests.support.browser import MAP_IDLE_JS, click_map_until, wait_until_live
from tests.support.server import LiveServer

pytestmark = pytest.mark.browser

WAIT_MS = 15_000  # a filter round trip (URL → callback → table); a wait, not a speed assertion
N = 60
GRID0 = 60  # the demo data's grids GRID0 … GRID0 + N - 1 hold the seeded incidents
CATEGORIES = ("environment", "dispute", "fire")
PRIORITIES = ("low", "normal", "high", "urgent")
IDS_JS = f"""() => Array.from(document.querySelectorAll('#{WorkList.TABLE} td[data-dash-column="id"]'))
    .map((td) => td.innerText.trim())"""
WAIT_IDS_JS = f"(want) => JSON.stringify(({IDS_JS})()) === JSON.stringify(want)"


@dataclass
class Seeded:
    tag: str
    ids: list[str]
    title_word: str  # in exactly one title
    member: str  # the assignee of the dispatched ones
    runtime: Runtime  # not started: its Situation is rebuilt from the server's Redis state on demand

    def expected(self, server: LiveServer, **params: str) -> list[str]:
        """Every id ``work_list`` selects for ``params`` over the server's current state, in order."""
        self.runtime.situation.replace_all(load_state(server.client, server.keys))
        now = time.time()
        tree = self.runtime.geo.areas
        flt = WorkFilter.from_params(params, areas=tree, now=now)
        view = self.runtime.situation.view(now)
        rows = work_list(view.incidents, flt, now=now, tree=tree, directory=self.runtime.directory)
        return rows["id"].astype(str).tolist()


@pytest.fixture(scope="module")
def seeded(live_server: LiveServer) -> Iterator[Seeded]:
    tag = uuid.uuid4().hex[:6].upper()
    settings = Settings.from_env(redis_url=live_server.redis_url, redis_prefix=live_server.keys.prefix)
    runtime = build_runtime(settings, live_server.redis_url)
    members = runtime.layers.members
    member = str(members["member_id"].iloc[0])
    now = time.time()
    ids = []
    for i in range(N):
        _, lon, lat = grid_point(GRID0 + i)  # one grid each: markers never overlap
        age = (2 * 86400 if i < 20 else 3 * 3600 if i < 40 else 600) + i  # distinct report times
        status = "cancelled" if i % 10 == 9 else "dispatched" if i % 5 == 1 else "reported"
        msg: dict[str, Any] = {
            "id": f"WL{tag}-{i:02d}",
            "status": status,
            "ts": datetime.fromtimestamp(now - age, UTC).isoformat(),
            "lon": lon,
            "lat": lat,
            "category": CATEGORIES[i % 3],
            "priority": PRIORITIES[i % 4],
            "title": f"井盖松动{tag}" if i == 7 else f"楼道堆物 {i}",
        }
        if status == "dispatched":
            msg["assignee"] = member
        assert live_server.client.publish(live_server.keys.channel, json.dumps(msg, ensure_ascii=False)) >= 1
        ids.append(msg["id"])
    deadline = time.monotonic() + 20
    while len([i for i in load_state(live_server.client, live_server.keys) if i.id.startswith(f"WL{tag}")]) < N:
        assert time.monotonic() < deadline, "the seeded incidents never all reached Redis"
        live_server.client.ping()  # the server's feed applies them; poll the state (no sleep)
    yield Seeded(tag, ids, f"井盖松动{tag}", member, runtime)


@pytest.fixture
def page(console_page: Any, seeded: Seeded) -> Any:
    log: list[str] = []
    console_page._wl_log = log

    def on_request(req: Any) -> None:
        if "_dash-update-component" in req.url and req.post_data:
            body = json.loads(req.post_data)
            if "work-table.data" in body.get("output", ""):
                vals = [i.get("value") for i in body.get("inputs", [])]
                log.append(f"REQ {time.time():.2f} {body.get('changedPropIds')} {vals[:2]}")

    def on_response(resp: Any) -> None:
        if "_dash-update-component" in resp.url:
            try:
                body = json.loads(resp.request.post_data)
            except Exception:
                return
            if "work-table.data" in body.get("output", ""):
                log.append(f"RESP {time.time():.2f} {resp.status} {body.get('changedPropIds')}")

    console_page.on("request", on_request)
    console_page.on("response", on_response)
    shut = console_page.locator(f"#{WorkList.ROOT}:not(.os-work--open)")
    shut.wait_for(state="attached", timeout=WAIT_MS)  # a page without a filter: the toolbar only
    console_page.locator(f"#{WorkList.TOGGLE}").click()
    console_page.locator(f"#{WorkList.ROOT}.os-work--open").wait_for(state="attached", timeout=WAIT_MS)
    console_page.wait_for_function(f"() => ({IDS_JS})().length > 0", timeout=WAIT_MS)
    return console_page


def table_ids(page: Any) -> list[str]:
    return list(page.evaluate(IDS_JS))


def wait_ids(page: Any, want: list[str]) -> None:
    try:
        page.wait_for_function(WAIT_IDS_JS, arg=want, timeout=WAIT_MS)
    except Exception as exc:
        said = page.inner_text(f"#{WorkList.COUNT}") + " " + page.inner_text(f"#{WorkList.NOTICE}")
        log = "\n".join(getattr(page, "_wl_log", [])[-30:])
        raise AssertionError(f"table shows {table_ids(page)}, want {want}; URL {page.url}; {said}\n{log}") from exc


def url_params(page: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def wait_url(page: Any, name: str, value: str | None) -> None:
    """Until the page URL's ``name`` parameter is ``value`` (None: absent)."""
    page.wait_for_function(
        "(a) => new URLSearchParams(location.search).get(a[0]) === a[1]", arg=[name, value], timeout=WAIT_MS
    )


def search(page: Any, text: str) -> None:
    box = page.locator(f"#{WorkList.SEARCH}")
    box.fill(text)
    box.press("Enter")
    wait_url(page, "q", text)


def reset(page: Any) -> None:
    page.locator(f"#{WorkList.RESET}").click()
    for name in ("q", "status", "category", "priority", "assignee", "window"):
        wait_url(page, name, None)


# ---- tests --------------------------------------------------------------------------------------------


def test_search_by_id_and_by_title_words(live_server: LiveServer, seeded: Seeded, page: Any) -> None:
    search(page, seeded.ids[12])
    wait_ids(page, [seeded.ids[12]])
    wait_url(page, "q", seeded.ids[12])
    search(page, seeded.title_word)
    wait_ids(page, [seeded.ids[7]])
    assert seeded.expected(live_server, q=seeded.title_word) == [seeded.ids[7]]
    count = page.inner_text(f"#{WorkList.COUNT}")
    assert "共 1 条" in count, count


def test_each_filter_narrows_as_select_says(live_server: LiveServer, seeded: Seeded, page: Any) -> None:
    search(page, f"WL{seeded.tag}")  # only this module's incidents, whatever else the server holds
    wait_ids(page, seeded.expected(live_server, q=f"WL{seeded.tag}")[:PAGE_SIZE])
    base = {"q": f"WL{seeded.tag}"}

    choose(page, WorkList.STATUS, "超期", "超期")
    want = seeded.expected(live_server, **base, status="overdue")
    assert want and len(want) < N
    wait_ids(page, want[:PAGE_SIZE])
    wait_url(page, "status", "overdue")
    clear(page, WorkList.STATUS)

    choose(page, WorkList.STATUS, "已取消", "已取消")
    want = seeded.expected(live_server, **base, status="cancelled")
    assert len(want) == N // 10
    wait_ids(page, want[:PAGE_SIZE])
    clear(page, WorkList.STATUS)

    choose(page, WorkList.CATEGORY, "消防", "消防")
    want = seeded.expected(live_server, **base, category="fire")
    assert len(want) == N // 3
    wait_ids(page, want[:PAGE_SIZE])
    wait_url(page, "category", "fire")
    clear(page, WorkList.CATEGORY)

    choose(page, WorkList.PRIORITY, "紧急", "紧急")
    want = seeded.expected(live_server, **base, priority="urgent")
    assert len(want) == N // 4
    wait_ids(page, want[:PAGE_SIZE])
    clear(page, WorkList.PRIORITY)

    choose(page, WorkList.ASSIGNEE, "未指派", "未指派")
    want = seeded.expected(live_server, **base, assignee="none")
    wait_ids(page, want[:PAGE_SIZE])
    wait_url(page, "assignee", "none")
    clear(page, WorkList.ASSIGNEE)

    choose(page, WorkList.WINDOW, "6", "近 6 小时")
    want = seeded.expected(live_server, **base, window="6h")
    assert len(want) == 40
    wait_ids(page, want[:PAGE_SIZE])
    wait_url(page, "window", "6h")

    choose(page, WorkList.WINDOW, "自定义", "自定义时段")
    page.locator(f"#{WorkList.RANGE}").wait_for(state="visible", timeout=WAIT_MS)
    since = datetime.fromtimestamp(time.time() - 3600, UTC).astimezone()
    local = since.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")
    page.locator(f"#{WorkList.SINCE}").fill(local)
    page.locator(f"#{WorkList.SINCE}").press("Enter")
    wait_url(page, "since", local + "+08:00")
    want = seeded.expected(live_server, **base, since=local + "+08:00")
    assert len(want) == 20
    wait_ids(page, want[:PAGE_SIZE])
    reset(page)


def test_kpi_tile_overdue_filters_the_list(live_server: LiveServer, seeded: Seeded, page: Any) -> None:
    tile = page.locator("#" + kpi_tile_id("overdue", "console"))
    assert tile.evaluate("(el) => getComputedStyle(el).cursor") == "pointer"
    tile.click()
    wait_url(page, "status", "overdue")
    want = seeded.expected(live_server, status="overdue")
    wait_ids(page, want[:PAGE_SIZE])
    page.wait_for_selector(f"#{Console.KPIS}.os-kpis--filter-overdue", timeout=WAIT_MS)
    page.wait_for_function(  # the status control shows it too
        f"() => document.getElementById('{WorkList.STATUS}').innerText.includes('超期')", timeout=WAIT_MS
    )
    page.wait_for_function(  # the map shows the overdue ones only (the list's status filter drives its markers)
        f"""(want) => {{ const gd = {MAP_JS}; const ids = [];
            for (const i of {list(INCIDENT_TRACES)}) ids.push(...((gd && gd.data[i] && gd.data[i].customdata) || []));
            return ids.length > 0 && ids.every((id) => want.includes(id)); }}""",
        arg=want,
        timeout=WAIT_MS,
    )
    tile.click()  # again: the filter is cleared
    wait_url(page, "status", None)
    wait_ids(page, seeded.expected(live_server)[:PAGE_SIZE])


def test_a_url_with_filters_opens_filtered_and_a_bad_one_says_so(
    live_server: LiveServer, seeded: Seeded, browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    p = context.new_page()
    p.add_init_script(f"({CSP_WATCH})()")
    try:
        p.goto(live_server.url + f"/?q=WL{seeded.tag}&category=dispute&priority=high")
        wait_until_live(p)
        p.locator(f"#{WorkList.ROOT}.os-work--open").wait_for(state="attached", timeout=WAIT_MS)  # a shared list
        wait_ids(p, seeded.expected(live_server, q=f"WL{seeded.tag}", category="dispute", priority="high"))
        assert "矛盾纠纷" in p.inner_text(f"#{WorkList.CATEGORY}")
        p.goto(live_server.url + f"/?q=WL{seeded.tag}&status=bogus&window=2d")
        wait_until_live(p)
        notice = p.locator(f"#{WorkList.NOTICE}")
        notice.wait_for(state="visible", timeout=WAIT_MS)
        text = notice.inner_text()
        assert "status" in text and "bogus" in text and "window" in text, text
        wait_ids(p, seeded.expected(live_server, q=f"WL{seeded.tag}")[:PAGE_SIZE])  # the rest still applies
        p.locator(f'#{WorkList.TABLE} th[data-dash-column="priority"] .column-header--sort').click()  # sorts
        wait_url(p, "sort", "priority")
        wait_ids(p, seeded.expected(live_server, q=f"WL{seeded.tag}", sort="priority")[:PAGE_SIZE])
        assert p.evaluate("() => window.__csp") == []  # the table runs under the CSP (no eval, no inline)
    finally:
        context.close()


def test_row_click_opens_the_detail_and_flies_the_map(live_server: LiveServer, seeded: Seeded, page: Any) -> None:
    search(page, seeded.ids[45])
    wait_ids(page, [seeded.ids[45]])
    page.wait_for_function(MAP_IDLE_JS, arg="#" + Console.MAP, timeout=WAIT_MS)
    before = page.evaluate(f"() => {MAP_JS}._fullLayout.map._subplot.map.getCenter().toArray()")
    page.locator(f'#{WorkList.TABLE} td[data-dash-column="title"]').first.click()
    page.wait_for_function(
        "(t) => (document.getElementById('console-detail-title') || {innerText: ''}).innerText.includes(t)",
        arg="楼道堆物 45",
        timeout=WAIT_MS,
    )
    _, lon, lat = grid_point(GRID0 + 45)
    page.wait_for_function(
        f"""(a) => {{ const m = {MAP_JS}._fullLayout.map._subplot.map; const c = m.getCenter();
            return !m.isMoving() && Math.abs(c.lng - a[0]) < 1e-4 && Math.abs(c.lat - a[1]) < 1e-4; }}""",
        arg=[lon, lat],
        timeout=WAIT_MS,
    )
    assert before != [lon, lat]
    # the view is the page's own now: a live update does not move it back (the layout holds it)
    page.wait_for_function(
        f"(a) => {{ const c = {MAP_JS}.layout.map.center; return Math.abs(c.lon - a[0]) < 1e-4; }}",
        arg=[lon, lat],
        timeout=WAIT_MS,
    )


def test_map_click_highlights_the_row_and_paging_walks_the_list(
    live_server: LiveServer, seeded: Seeded, page: Any
) -> None:
    search(page, f"WL{seeded.tag}")
    want = seeded.expected(live_server, q=f"WL{seeded.tag}")
    wait_ids(page, want[:PAGE_SIZE])
    # paging: 60 rows, 25 a page
    page.locator(f"#{WorkList.TABLE} .next-page").click()
    wait_ids(page, want[PAGE_SIZE : 2 * PAGE_SIZE])
    page.locator(f"#{WorkList.TABLE} .next-page").click()
    wait_ids(page, want[2 * PAGE_SIZE :])
    page.locator(f"#{WorkList.TABLE} .first-page").click()
    wait_ids(page, want[:PAGE_SIZE])
    # a map click on an incident of the third page: the table jumps there and highlights its row
    target = want[-1]
    i = seeded.ids.index(target)
    _, lon, lat = grid_point(GRID0 + i)
    done = "(id) => (document.getElementById('console-detail-title') || {innerText: ''}).innerText.length > 0"
    click_map_until(page, Console.MAP, lon, lat, done, target, WAIT_MS)
    wait_ids(page, want[2 * PAGE_SIZE :])
    page.wait_for_function(
        f"""(id) => {{ const td = Array.from(document.querySelectorAll('#{WorkList.TABLE} td[data-dash-column="id"]'))
            .find((el) => el.innerText.trim() === id);
            return !!td && getComputedStyle(td).backgroundColor === 'rgb(208, 235, 255)'; }}""",
        arg=target,
        timeout=WAIT_MS,
    )
