"""Time on screen: ``?at=`` on the officials' page and the wall, and the officials' scrubber — what the page shows
for a moment equals ``situation_at`` for that moment (the rebuild ``snapshot --at`` runs), over HTTP and in a real
headless Chromium against a real server process and a real Redis.

The expected picture is worked out here from Redis with ``situation_at`` (cold: the whole log read), not taken
from the server: KPI tiles (``kpi_tiles`` of the view's KPIs), the incidents on the map (``map_incidents``) and
the grid fill (the view's grid states).
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
import redis

from dashboard.callbacks.pages import same_page_but_moment
from dashboard.figures.incident_map import INCIDENT_TRACES, TRACE_GRIDS, MapBase
from dashboard.figures.kpi import BRIEFING_KPIS, WALL_KPIS, kpi_tiles
from dashboard.frames import ScreenContext, map_incidents
from dashboard.layouts.ids import Briefing, Replay
from dashboard.page_request import at_param, page_request
from dashboard.runtime import Geo, load_geo, load_sla
from dashboard.settings import Settings
from incidents.keys import Keys
from incidents.model import GRID_STATE_RANK, GridState
from incidents.publish import publish
from incidents.situation import FUNNEL_STAGES
from incidents.timetravel import situation_at
from tests.support.browser import wait_until_live
from tests.support.server import LiveServer

H = 3600.0
UI_WAIT_MS = 20_000  # a scrub round trip or a page load: a wait, not a speed assertion


# ---- pure: the URL's at= ------------------------------------------------------------------------------------


@cache
def geo() -> Geo:
    return load_geo(Settings.from_env())


def test_page_request_reads_at_absolute_relative_and_bad() -> None:
    tree = geo().areas
    now = 1_796_100_000.0
    req = page_request("/", "?at=2026-11-30T14:00+08:00", default_lang="zh", areas=tree, now=now)
    assert req.at == 1_796_018_400.0 and not req.bad_at
    # the + of a typed offset arrives as a space; naive times are Beijing time; relative to now, whole seconds
    assert page_request("/", "?at=2026-11-30T14:00%2008:00", default_lang="zh", areas=tree, now=now).at == req.at
    assert page_request("/", "?at=2026-11-30T14:00", default_lang="zh", areas=tree, now=now).at == req.at
    assert page_request("/wall", "?at=-2h", default_lang="zh", areas=tree, now=now + 0.7).at == now - 2 * H
    bad = page_request("/", "?at=yesterday", default_lang="zh", areas=tree, now=now)
    assert (bad.at, bad.bad_at, bad.bad_at_reason) == (None, "yesterday", "invalid")
    future = page_request("/", "?at=" + at_param(now + H), default_lang="zh", areas=tree, now=now)
    assert future.at is None and future.bad_at_reason == "future"
    # links keep the moment; a moved scrubber is the same page at another moment
    community = next(ref for ref in tree.areas if ref.startswith("community:"))
    assert "at=2026-11-30T14:00:00%2B08:00" in req.search_for(community)
    moved = page_request("/", "?at=-1h", default_lang="zh", areas=tree, now=now)
    assert same_page_but_moment(req.as_store(), moved.as_store())
    assert not same_page_but_moment(req.as_store(), page_request("/", "?area=" + community, default_lang="zh",
                                                                  areas=tree, now=now).as_store())  # fmt: skip


# ---- data and the expected picture -----------------------------------------------------------------------------


def _points(n: int) -> list[tuple[float, float]]:
    grids = geo().layers.grids
    pts = grids.geometry.representative_point()
    step = max(1, len(pts) // n)
    return [(round(float(pts.iloc[i].x), 6), round(float(pts.iloc[i].y), 6)) for i in range(0, step * n, step)]


@pytest.fixture(scope="module")
def history(live_server: LiveServer) -> float:
    """A few incidents over the last three hours on the module's server; returns their start (epoch seconds)."""
    now = time.time()
    t0 = float(int(now - 3 * H) // 60 * 60)
    (a, b, c, d) = _points(4)
    for m in (
        {"id": "R1", "status": "reported", "ts": t0, "lon": a[0], "lat": a[1], "category": "environment"},
        {"id": "R1", "status": "dispatched", "ts": t0 + 600, "assignee": "P000001"},
        {"id": "R1", "status": "accepted", "ts": t0 + 900},
        {"id": "R1", "status": "resolved", "ts": t0 + 2 * H},
        {"id": "R2", "status": "reported", "ts": t0 + 1800, "lon": b[0], "lat": b[1], "category": "fire"},
        {"id": "R3", "status": "reported", "ts": t0 + H, "lon": c[0], "lat": c[1], "category": "dispute"},
        {"id": "R3", "status": "cancelled", "ts": t0 + 1.5 * H},
        {"id": "R4", "status": "reported", "ts": now - 300, "lon": d[0], "lat": d[1], "category": "traffic"},
    ):
        assert publish(live_server.client, live_server.keys, m).applied
    return t0


def expected(server: LiveServer, at: float, screen: str = "console") -> dict[str, Any]:
    """What a page of ``screen`` shows for the moment ``at``, from ``situation_at`` (the cold rebuild)."""
    g = geo()
    view, _ = situation_at(server.client, server.keys, at, g.index.locate, load_sla(Settings.from_env()))
    keys = BRIEFING_KPIS if screen == "console" else WALL_KPIS
    ids = sorted(str(i) for i in map_incidents(view, ScreenContext.of(screen, "zh"))["id"])
    z = {g_id: GRID_STATE_RANK[GridState(str(s))] for g_id, s in view.grid_states.items()}
    return {
        "k": {t.key: t.value for t in kpi_tiles(view.kpis, keys, "zh")},
        "ids": ids,
        "z": {k: v for k, v in z.items() if v > 0},
        "funnel": {stage: str(view.funnel_for(None).today.get(stage, 0)) for stage in FUNNEL_STAGES},
    }


# ---- HTTP: the layout of a past page --------------------------------------------------------------------------


def _layout(server: LiveServer, page: str) -> Any:
    req = urllib.request.Request(server.url + "/_dash-layout", headers={"Referer": server.url + page})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def _by_id(node: Any, found: dict[str, Any]) -> dict[str, Any]:
    if isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and isinstance(props.get("id"), str):
            found[props["id"]] = props
        for v in node.values():
            _by_id(v, found)
    elif isinstance(node, list):
        for v in node:
            _by_id(v, found)
    return found


def _text(node: Any) -> str:
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "".join(_text(n) for n in node)
    if isinstance(node, dict):
        return _text(node.get("props", {}).get("children"))
    return "" if node is None else str(node)


def test_a_past_page_over_http_shows_the_rebuilt_kpis_map_and_badge(live_server: LiveServer, history: float) -> None:
    at = history + 45 * 60  # R1 accepted, R2 reported (and overdue: a fire not accepted in 5 min)
    want = expected(live_server, at)
    props = _by_id(_layout(live_server, "/?at=" + urllib.parse.quote(at_param(at))), {})
    got = {k: _text(props[f"console-kpi-{k}-value"]["children"]) for k in want["k"]}
    assert got == want["k"]
    fig = props["console-map"]["figure"]
    ids = sorted({c for i in INCIDENT_TRACES for c in (fig["data"][i].get("customdata") or [])})  # overlays repeat
    assert ids == want["ids"] == ["R1", "R2"]
    grid = fig["data"][TRACE_GRIDS]
    assert {loc: z for loc, z in zip(grid["locations"], grid["z"], strict=True) if z} == want["z"]
    funnel = {
        item["props"]["data-stage"]: _text(item["props"]["children"][1])
        for item in props["console-funnel"]["children"]
        if isinstance(item, dict) and "data-stage" in item.get("props", {})
    }
    assert funnel == want["funnel"]  # today's loop as it was
    assert "历史回放" in _text(props[Replay.BADGE]["children"]) and not props[Replay.BADGE].get("hidden")
    assert props[Replay.AT]["data"] == at
    assert not props[Replay.LIVE].get("disabled")

    # relative, on the wall: its KPIs of that moment and its badge
    wall = _by_id(_layout(live_server, "/wall?at=-150m"), {})
    assert "历史回放" in _text(wall[Replay.WALL_BADGE]["children"])

    # no time, or the future: the live page with a notice, never an error page
    for page in ("/?at=yesterday", "/wall?at=-2h", "/?at=" + urllib.parse.quote(at_param(at))):
        with urllib.request.urlopen(live_server.url + page, timeout=30) as resp:
            assert resp.status == 200 and b"<html" in resp.read().lower(), page
    for bad, words in (("yesterday", "不是有效时间"), (at_param(time.time() + 2 * H), "在未来")):
        live = _by_id(_layout(live_server, "/?at=" + urllib.parse.quote(bad)), {})
        assert words in _text(live[Replay.NOTICE]["children"]) and not live[Replay.NOTICE].get("hidden")
        assert live[Replay.BADGE].get("hidden") and live[Replay.AT]["data"] is None
        wall_bad = _by_id(_layout(live_server, "/wall?at=" + urllib.parse.quote(bad)), {})
        assert words in _text(wall_bad[Replay.WALL_BADGE]["children"])


# ---- Chromium ----------------------------------------------------------------------------------------------

PAGE_STATE_JS = """(screen) => {
    const gd = document.querySelector('#' + screen + '-map .js-plotly-plot');
    if (!gd || !gd.data) return null;
    const ids = [];
    for (const i of __TRACES__) ((gd.data[i] && gd.data[i].customdata) || []).forEach((c) => ids.push(String(c)));
    const z = {};
    const g = gd.data[__GRIDS__];
    (g.locations || []).forEach((loc, j) => { if (g.z[j] > 0) z[loc] = g.z[j]; });
    const k = {};
    document.querySelectorAll('[id^=' + screen + '-kpi-][id$=-value]').forEach((e) => {
        k[e.id.slice(screen.length + 5, -6)] = e.innerText.trim(); });
    const at = new URLSearchParams(location.search).get('at');
    return {ids: Array.from(new Set(ids)).sort(), z: z, k: k, at: at};
}""".replace("__TRACES__", json.dumps(list(INCIDENT_TRACES))).replace("__GRIDS__", str(TRACE_GRIDS))

SAME_JS = """(a) => { const s = (__STATE__)(a.screen); if (!s) return false;
    const eq = (x, y) => JSON.stringify(x) === JSON.stringify(y);
    const sorted = (o) => Object.keys(o).sort().reduce((r, k) => { r[k] = o[k]; return r; }, {});
    return eq(s.ids, a.want.ids) && eq(sorted(s.z), sorted(a.want.z))
        && eq(sorted(s.k), sorted(a.want.k)); }""".replace("__STATE__", PAGE_STATE_JS)
# The page's map shows incident ``id`` (argument).
SHOWS_JS = "(id) => { const s = (__STATE__)('console'); return !!s && s.ids.includes(id); }".replace(
    "__STATE__", PAGE_STATE_JS
)


def wait_same(page: Any, want: dict[str, Any], screen: str = "console") -> None:
    """Until the page's map and KPI tiles show exactly ``want`` (``expected``); the difference when they do not."""
    try:
        page.wait_for_function(SAME_JS, arg={"screen": screen, "want": want}, timeout=UI_WAIT_MS)
    except Exception as exc:
        got = page.evaluate(PAGE_STATE_JS, screen)
        raise AssertionError(f"page {page.url} shows {got}, situation_at gives {want}") from exc


# The page's URL says the moment ``t`` (argument, epoch seconds).
URL_AT_JS = (
    "(t) => { const a = new URLSearchParams(location.search).get('at'); return !!a && Date.parse(a) / 1000 === t; }"
)


def url_at(page: Any) -> float:
    """The moment in the page's URL (``at=``)."""
    values = urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query).get("at") or []
    assert values, f"no at= in {page.url}"
    return float(int(__import__("datetime").datetime.fromisoformat(values[-1]).timestamp()))


def wait_url_at(page: Any, present: bool = True) -> None:
    js = "(p) => new URLSearchParams(location.search).has('at') === p"
    page.wait_for_function(js, arg=present, timeout=UI_WAIT_MS)


@pytest.fixture
def console(browser: Any, live_server: LiveServer, history: float) -> Iterator[Any]:
    """The officials' page, live, after the history was published."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    p = context.new_page()
    p.goto(live_server.url + "/")
    wait_until_live(p)
    yield p
    context.close()


# The 简报 link's at= (epoch s; NaN without one).
LINK_AT_JS = (
    f"Date.parse(new URLSearchParams((document.getElementById('{Briefing.DOWNLOAD}').getAttribute('href') || '')"
    ".split('?')[1]).get('at')) / 1000"
)


@pytest.mark.browser
def test_scrubbing_shows_situation_at_for_that_moment(console: Any, live_server: LiveServer, history: float) -> None:
    page = console
    slider = page.locator(f"#{Replay.SLIDER} [role=slider]")
    # the reach: its left end is the oldest moment the log holds exactly (the history's first report)
    page.wait_for_function(
        "(a) => { const s = document.querySelector(a.sel); return !!s && +s.getAttribute('aria-valuemin') === a.min; }",
        arg={"sel": f"#{Replay.SLIDER} [role=slider]", "min": int(history)},
        timeout=UI_WAIT_MS,
    )
    assert page.locator(f"#{Replay.BADGE}").is_hidden()
    # while the thumb is dragged (the mouse still down) the page follows it: it shows the moment under the thumb
    thumb = slider.bounding_box()
    box = page.locator(f"#{Replay.SLIDER} .dash-slider-track").bounding_box()
    page.mouse.move(thumb["x"] + thumb["width"] / 2, thumb["y"] + thumb["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, thumb["y"] + thumb["height"] / 2, steps=12)
    page.wait_for_selector(f"#{Replay.BADGE}", state="visible", timeout=UI_WAIT_MS)
    under = float(slider.get_attribute("aria-valuenow") or 0)
    assert history < under < time.time() - H
    wait_same(page, expected(live_server, under))
    page.mouse.up()
    page.wait_for_function(URL_AT_JS, arg=under, timeout=UI_WAIT_MS)  # the release commits it to the URL
    # Home: the left end
    slider.focus()
    page.keyboard.press("Home")
    wait_url_at(page)
    assert url_at(page) == history
    wait_same(page, expected(live_server, history))
    assert "历史回放" in page.inner_text(f"#{Replay.BADGE}")
    # a press on the track a third of the way along (the thumb jumps there, as when dragged and let go): whatever
    # minute it lands on, the page shows that moment
    before = page.evaluate("() => new URLSearchParams(location.search).get('at')")
    box = page.locator(f"#{Replay.SLIDER} .dash-slider-track").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.35, box["y"] + box["height"] / 2)
    page.wait_for_function(
        "(t) => new URLSearchParams(location.search).get('at') !== t", arg=before, timeout=UI_WAIT_MS
    )
    moment = url_at(page)
    assert history < moment < time.time() - H
    wait_same(page, expected(live_server, moment))
    # the 简报 button briefs the moment shown
    page.wait_for_function(
        "(a) => { const l = document.getElementById('briefing-download');"
        " const at = l && new URL(l.href).searchParams.get('at'); return !!at && Date.parse(at) / 1000 === a; }",
        arg=moment,
        timeout=UI_WAIT_MS,
    )
    # a reload reproduces it (the moment lives in the URL)
    page.reload()
    wait_until_live(page)
    wait_same(page, expected(live_server, moment))
    assert url_at(page) == moment
    # a drag of the thumb with the mouse, two thirds of the way along: the page shows the moment it was let go at
    before = page.evaluate("() => new URLSearchParams(location.search).get('at')")
    thumb = slider.bounding_box()
    box = page.locator(f"#{Replay.SLIDER} .dash-slider-track").bounding_box()
    page.mouse.move(thumb["x"] + thumb["width"] / 2, thumb["y"] + thumb["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.65, thumb["y"] + thumb["height"] / 2, steps=10)
    page.mouse.up()
    page.wait_for_function(
        "(t) => new URLSearchParams(location.search).get('at') !== t", arg=before, timeout=UI_WAIT_MS
    )
    dragged = url_at(page)
    assert moment < dragged < time.time()
    wait_same(page, expected(live_server, dragged))
    moment = dragged
    # play at 60×: one minute of situation per second, the clock follows; pause; the page shows where it stopped
    page.click(f"#{Replay.PLAY}")
    page.wait_for_function(
        "(t) => { const a = new URLSearchParams(location.search).get('at'); return !!a && Date.parse(a) / 1000 >= t; }",
        arg=moment + 180,
        timeout=UI_WAIT_MS,
    )
    assert page.inner_text(f"#{Replay.PLAY}") == "暂停"
    # the 简报 link follows the moment played (the address bar moves behind dcc.Location's back while playing)
    page.wait_for_function(f"(t) => {LINK_AT_JS} >= t", arg=moment + 180, timeout=UI_WAIT_MS)
    page.click(f"#{Replay.PLAY}")
    page.wait_for_function(f"() => document.getElementById('{Replay.PLAY}').innerText.trim() === '播放 60×'")
    stopped = url_at(page)
    assert stopped >= moment + 180
    page.wait_for_function(f"(t) => {LINK_AT_JS} === t", arg=stopped, timeout=UI_WAIT_MS)
    wait_same(page, expected(live_server, stopped))
    clock = time.strftime("%H:%M", time.gmtime(stopped + 8 * 3600))
    page.wait_for_function(f"() => document.getElementById('{Replay.CLOCK}').innerText.endsWith('{clock}')")
    # back to live: no at=, no badge, the current picture
    page.click(f"#{Replay.LIVE}")
    wait_url_at(page, present=False)
    page.wait_for_selector(f"#{Replay.BADGE}", state="hidden", timeout=UI_WAIT_MS)
    assert "R4" in expected(live_server, time.time())["ids"]
    page.wait_for_function(SHOWS_JS, arg="R4", timeout=UI_WAIT_MS)


@pytest.mark.browser
def test_a_past_page_is_not_overwritten_by_live_pushes_and_offers_no_actions(
    browser: Any, live_server: LiveServer, history: float
) -> None:
    at = history + 45 * 60
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    try:
        past = context.new_page()
        past.goto(live_server.url + "/?at=" + urllib.parse.quote(at_param(at)))
        wait_until_live(past)
        want = expected(live_server, at)
        wait_same(past, want)
        # a new incident now: a live page gets it pushed, the past page stays as it was
        x, y = _points(5)[-1]
        msg = {"id": "R9", "status": "reported", "ts": time.time(), "lon": x, "lat": y, "category": "fire"}
        assert publish(live_server.client, live_server.keys, msg).applied
        live = context.new_page()
        live.goto(live_server.url + "/")
        wait_until_live(live)
        live.wait_for_function(SHOWS_JS, arg="R9", timeout=UI_WAIT_MS)
        past.wait_for_function("() => !!document.querySelector('.os-live-dot.is-live')")
        assert past.evaluate(PAGE_STATE_JS, "console")["ids"] == want["ids"]
        wait_same(past, want)
        # the detail of a past moment: as it was, and no action offered
        past.evaluate("() => window.dash_clientside.set_props('console-selected', {data: 'R1'})")
        past.wait_for_function(
            "() => document.getElementById('console-detail').innerText.includes('历史回放中不可操作')"
        )
        assert past.locator("#console-detail [id*='-btn']").count() == 0
    finally:
        context.close()


@pytest.mark.browser
def test_at_on_the_wall_shows_that_moment(page: Any, live_server: LiveServer, history: float) -> None:
    at = history + 2.5 * H
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(live_server.url + "/wall?at=" + urllib.parse.quote(at_param(at)))
    wait_until_live(page)
    wait_same(page, expected(live_server, at, "wall"), screen="wall")
    assert "历史回放" in page.inner_text(f"#{Replay.WALL_BADGE}")


def test_the_replay_frees_its_timeline_when_idle(r: redis.Redis, keys: Keys) -> None:
    """``dashboard.replay.Replay``: a past frame equals ``screen_frame`` over ``situation_at``'s view, and the
    timeline is dropped after ``idle_s`` without use."""
    from dashboard.frames import screen_frame
    from dashboard.replay import Replay
    from tests.support.wait import wait_for

    g = geo()
    (a,) = _points(1)
    t0 = time.time() - H
    assert publish(r, keys, {"id": "Q1", "status": "reported", "ts": t0, "lon": a[0], "lat": a[1],
                             "category": "fire"}).applied  # fmt: skip
    base = MapBase.from_layers(g.layers)
    sla = load_sla(Settings.from_env())
    replay = Replay(lambda: r, keys, g.index.locate, sla, base_for=lambda _c: base, areas=g.areas, boot_id="t",
                    idle_s=0.5)  # fmt: skip
    ctx = ScreenContext.of("console", "zh")
    frame, rebuild = replay.frame(ctx, t0 + 60)
    view, cold = situation_at(r, keys, t0 + 60, g.index.locate, sla)
    want = screen_frame(view, base, ctx, areas=g.areas)
    assert frame.kpis == want.kpis and frame.grid_z == want.grid_z and frame.traces == want.traces
    assert (rebuild.from_log, rebuild.approximate) == (cold.from_log, cold.approximate) == (1, 0)
    assert replay.warm
    wait_for(lambda: not replay.warm, 10, message="the idle timeline dropped")
    assert replay.view_at(t0 - 60)[1].incidents == [] and replay.warm  # read again on the next use
