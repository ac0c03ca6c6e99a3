from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import plotly
import plotly.graph_objects as go
import pytest
from dash import dcc, html
from dash.development.base_component import Component

from dashboard.figures import incident_map as im
from dashboard.figures.sample import (
    sample_base,
    sample_grid_states,
    sample_incidents,
    sample_kpis,
    sample_members,
)
from dashboard.layouts import components as c
from dashboard.layouts import ids
from dashboard.layouts.console import console_layout
from dashboard.layouts.wall import wall_layout, wall_side_figures, wall_side_parts

NOW = 1_750_000_000.0
ASSETS = Path(__file__).resolve().parents[2] / "dashboard" / "assets"


def walk(node: Any) -> Iterator[Component]:
    if isinstance(node, Component):
        yield node
        children = getattr(node, "children", None)
        yield from walk(children)
    elif isinstance(node, (list, tuple)):
        for n in node:
            yield from walk(n)


def ids_in(tree: Any) -> set[str]:
    return set(by_ids(tree))


def by_ids(tree: Any) -> dict[str, Any]:
    return {getattr(n, "id"): n for n in walk(tree) if isinstance(getattr(n, "id", None), str)}  # noqa: B009


@pytest.fixture(scope="module")
def inputs() -> dict[str, Any]:
    base = sample_base()
    inc = sample_incidents(now=NOW)
    gs = sample_grid_states(inc, base.grid_ids)
    z = im.grid_fill_z(base.grid_ids, gs)
    ups = im.incident_trace_updates(inc)
    return {
        "inc": inc,
        "kpis": sample_kpis(inc),
        "wall_fig": im.build_incident_map(base, z, ups, theme="wall"),
        "console_fig": im.build_incident_map(base, z, ups, theme="console"),
    }


def test_wall_layout_has_every_wall_id(inputs: dict[str, Any]) -> None:
    tree = wall_layout(
        street_name="翠苑街道",
        figure=inputs["wall_fig"],
        kpis=inputs["kpis"],
        feed=inputs["inc"].head(10),
        now=NOW,
    )
    found = ids_in(tree)
    assert set(ids.all_ids(ids.Wall)) <= found
    for key in ("today_reported", "open", "overdue", "on_time_rate", "mean_accept_min"):
        assert ids.kpi_value_id(key) in found and ids.kpi_tile_id(key) in found
    by_id = by_ids(tree)
    assert "翠苑街道" in by_id[ids.Wall.TITLE].children
    assert by_id[ids.Wall.BANNER].hidden is True
    assert by_id[ids.Wall.BANNER].children[1].children == "数据连接中断，正在重连…"
    graph: Any = by_id[ids.Wall.MAP]
    assert isinstance(graph, dcc.Graph)
    cfg = by_id[ids.Wall.MAP].config
    assert cfg["displayModeBar"] is False and cfg["responsive"] is True
    assert len(by_id[ids.Wall.FEED].children) == 10
    json.dumps(tree.to_plotly_json(), cls=plotly.utils.PlotlyJSONEncoder)  # serialisable


def test_wall_layout_renders_without_inputs() -> None:
    tree = wall_layout()
    assert set(ids.all_ids(ids.Wall)) <= ids_in(tree)
    by_id = by_ids(tree)
    assert by_id[ids.kpi_value_id("open")].children == "—"


def test_console_layout_has_every_console_id(inputs: dict[str, Any]) -> None:
    tree = console_layout(
        street_name="翠苑街道",
        figure=inputs["console_fig"],
        kpis=inputs["kpis"],
        communities={"C1": "翠苑一区", "C2": "翠苑二区"},
    )
    found = ids_in(tree)
    on_selection = {  # incident_detail
        ids.Console.DETAIL_TITLE,
        ids.Console.DETAIL_BODY,
        ids.Console.DETAIL_RESULT,
        ids.Console.DETAIL_COUNTDOWN,
        ids.Console.DETAIL_ASSIGNEE,
    }
    missing = set(ids.all_ids(ids.Console)) - found - on_selection
    assert not missing
    by_id = by_ids(tree)
    assert [o["value"] for o in by_id[ids.Console.LAYERS].options] == list(ids.CONSOLE_LAYERS)
    assert [o["label"] for o in by_id[ids.Console.STATUS_FILTER].options][:2] == ["待派单", "已派单"]
    assert by_id[ids.Console.COMMUNITY_FILTER].options[0] == {"label": "翠苑一区", "value": "C1"}
    assert by_id[ids.Console.LANG].value == "zh"


def test_console_english() -> None:
    tree = console_layout(lang="en")
    by_id = by_ids(tree)
    assert by_id[ids.Console.STATUS_FILTER].options[0]["label"] == "Reported"
    assert by_id[ids.Console.LANG].value == "en"


def test_incident_detail_structure_and_masking(inputs: dict[str, Any]) -> None:
    row = inputs["inc"].iloc[0].to_dict()
    near = sample_members().head(7).assign(distance_m=[10.0, 20, 30, 40, 50, 60, 70], grid_id="G001")
    children = c.incident_detail(
        row,
        history=[("reported", NOW - 600), ("dispatched", NOW - 300)],
        nearest=near,
        now=NOW,
    )
    tree = html.Div(children)
    found = ids_in(tree)
    assert {ids.Console.DETAIL_TITLE, ids.Console.DETAIL_BODY} <= found
    text = json.dumps(tree.to_plotly_json(), cls=plotly.utils.PlotlyJSONEncoder, ensure_ascii=False)
    assert "张*明" in text and "张小明" not in text and "13812341234" not in text
    members = [n for n in walk(tree) if getattr(n, "className", "") == "os-members__item"]
    assert len(members) == 5
    steps = [n for n in walk(tree) if str(getattr(n, "className", "")).startswith("os-timeline__step")]
    assert len(steps) == 2
    assert "10 米" in text
    hint = c.incident_detail(None)
    assert hint[0].children == "点击地图上的事件查看详情"


def test_feed_items_and_empty() -> None:
    inc = sample_incidents(n=5, now=NOW)
    items = c.feed_items(inc, n=3)
    assert len(items) == 3 and all(isinstance(i, html.Li) for i in items)
    assert c.feed_items(inc.iloc[0:0])[0].children == "暂无事件"


def test_assets_are_offline() -> None:
    files = list(ASSETS.iterdir())
    assert {p.suffix for p in files} >= {".css", ".js"}
    for p in files:
        text = p.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text and "@import" not in text, p
        assert "@font-face" not in text, p


def test_a_live_chart_update_carries_the_numbers_a_page_render_draws(inputs: dict[str, Any]) -> None:
    # the push sends plain figure JSON (wall_side_parts), the page renders Plotly figures: the same bars and labels
    k = inputs["kpis"]
    for now in (1_764_480_000.0, 1_764_480_000.0 + 5 * 3600):  # the hour labels move with the clock
        figures = wall_side_figures(k, "zh", now)
        parts = wall_side_parts(k, "zh", now)
        for fig, (data, xaxis) in zip(figures, parts, strict=True):
            drawn = fig.to_plotly_json()
            assert [(d["x"], d["y"]) for d in drawn["data"]] == [(list(d["x"]), list(d["y"])) for d in data]
            for key, value in xaxis.items():
                assert list(drawn["layout"]["xaxis"][key]) == list(value)
            go.Figure(data)  # valid Plotly as it is
    assert wall_side_parts(k, "zh", 1_764_480_000.0)[0][1] != wall_side_parts(k, "zh", 1_764_480_000.0 + 3600)[0][1]
