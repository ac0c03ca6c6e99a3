"""The 一张图 layers on the officials' page in a real headless Chromium: each layer toggles from its checklist
option, and what the browser's map holds is exactly the data's features for the area — counted straight from the
layer frames (``test_layers_figures._expected``), not through the server's area machinery."""

from __future__ import annotations

from typing import Any

import pytest

from dashboard.figures.incident_map import TRACE_MEMBERS
from dashboard.figures.layers import LAYER_KEYS
from dashboard.layouts.console import DEFAULT_LAYERS
from dashboard.layouts.ids import Console, Wall
from tests.dashboard.test_console import MAP_JS, UI_WAIT_MS, layer_option, layers
from tests.dashboard.test_layers_figures import _check_counts, _expected
from tests.support.browser import wait_until_live
from tests.support.server import LiveServer

pytestmark = pytest.mark.browser

LAYER_TRACES_JS = f"""() => {{
    const gd = {MAP_JS};
    return gd.data.filter((d) => d.meta && d.meta.layer).map((d) => ({{
        meta: d.meta, mode: d.mode, visible: d.visible, lon: d.lon || [], customdata: d.customdata || [],
        locations: d.locations || [], geojson: d.geojson || {{features: []}},
    }}));
}}"""
LABELS = {
    "grid_types": "网格类型",
    "micro_grids": "微网格",
    "party_orgs": "党组织",
    "zones": "党小组责任田",
    "members": "党员",
    "households": "联系户",
    "forces": "治理力量",
    "basic_units": "基本单元",
    "place_names": "地名",
}


def state(page: Any, key: str) -> str:
    """``on`` (all its traces visible), ``off`` (all hidden) or ``absent`` for layer ``key`` on the map."""
    return str(
        page.evaluate(
            f"""(key) => {{
                const t = ({LAYER_TRACES_JS})().filter((d) => d.meta.layer === key);
                if (!t.length) return 'absent';
                if (t.every((d) => d.visible !== false)) return 'on';
                return t.every((d) => d.visible === false) ? 'off' : 'mixed';
            }}""",
            key,
        )
    )


@pytest.mark.parametrize("area", [None, "first-community"])
def test_each_layer_toggles_and_draws_the_areas_features(live_server: LiveServer, page: Any, area: str | None) -> None:
    ref = None if area is None else f"community:{sorted(layers().communities['community_id'])[0]}"
    page.goto(live_server.url + "/" + (f"?area={ref}" if ref else ""))
    wait_until_live(page)
    assert sorted(LABELS) == sorted(LAYER_KEYS)
    for key in LAYER_KEYS:
        assert state(page, key) == ("on" if key in DEFAULT_LAYERS else "absent"), key
        if key not in DEFAULT_LAYERS:
            layer_option(page, LABELS[key]).click()
            page.wait_for_function(
                f"(key) => ({LAYER_TRACES_JS})().some((d) => d.meta.layer === key && d.visible !== false)",
                arg=key,
                timeout=UI_WAIT_MS,
            )
    grouped: dict[str, list[dict[str, Any]]] = {k: [] for k in LAYER_KEYS}
    for trace in page.evaluate(LAYER_TRACES_JS):
        grouped[trace["meta"]["layer"]].append(trace)
    _check_counts(layers(), grouped, _expected(layers(), ref))

    # Off and on again: the layer hides, comes back, and is not loaded twice.
    n = len(page.evaluate(LAYER_TRACES_JS))
    for key in ("households", "members"):
        layer_option(page, LABELS[key]).click()
        page.wait_for_function(
            f"(key) => ({LAYER_TRACES_JS})().filter((d) => d.meta.layer === key).every((d) => d.visible === false)",
            arg=key,
            timeout=UI_WAIT_MS,
        )
        layer_option(page, LABELS[key]).click()
        page.wait_for_function(
            f"(key) => ({LAYER_TRACES_JS})().filter((d) => d.meta.layer === key).every((d) => d.visible !== false)",
            arg=key,
            timeout=UI_WAIT_MS,
        )
    assert len(page.evaluate(LAYER_TRACES_JS)) == n
    # Every layer has a legend entry, with the count of its features in the area.
    assert page.evaluate(f"() => {MAP_JS}._fullLayout.showlegend") is True
    assert page.locator(f"#{Console.MAP} .legend .groups").count() >= len(LAYER_KEYS)


def test_the_wall_carries_its_configured_layers_with_on_duty_members_only(live_server: LiveServer, page: Any) -> None:
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(live_server.url + "/wall")
    wait_until_live(page)
    gd = f"document.querySelector('#{Wall.MAP} .js-plotly-plot')"
    traces = page.evaluate(LAYER_TRACES_JS.replace(MAP_JS, gd))
    assert {t["meta"]["layer"] for t in traces} == {"place_names", "party_orgs", "members"}  # ONESCREEN_WALL_LAYERS
    members = [t for t in traces if t["meta"]["layer"] == "members"]
    on_duty = int(layers().members["on_duty"].astype(bool).sum())
    # no ids on a wall; one dot per occupied ~100 m cell (geo.privacy.snap_positions): fewer dots than members
    assert sum(len(t["customdata"]) for t in members) == 0
    assert 0 < sum(len(t["lon"]) for t in members) < on_duty
    assert "off_duty" not in {t["meta"]["class"] for t in members}
    assert page.evaluate(f"() => {gd}.data[{TRACE_MEMBERS}].visible") is False  # the one-colour dots give way
    names = page.evaluate(f"() => {gd}.layout.map.layers.filter((l) => l.type === 'symbol').length")
    assert names == 2  # community names, then grid names closer in
