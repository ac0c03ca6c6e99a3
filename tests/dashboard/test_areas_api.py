"""``GET /api/areas`` and ``GET /api/summary`` of a real server, with incidents through a real Redis: the numbers
of an area are what a count over the stored state gives for it."""

from __future__ import annotations

import json
import time
import uuid
from functools import cache
from typing import Any

from dashboard.settings import DEFAULT_DATA
from geo.index import SpatialIndex
from geo.layers import read_layers
from incidents.model import OPEN_STATUS_VALUES as OPEN
from incidents.publish import publish
from incidents.store import load_state
from tests.dashboard.test_api import get_json
from tests.support.server import LiveServer
from tests.support.wait import wait_for


@cache
def grid_points() -> list[tuple[str, str, float, float]]:
    """(community_id, grid_id, lon, lat) of a point inside each demo grid."""
    grids = read_layers(DEFAULT_DATA).grids
    pts = grids.geometry.representative_point()
    return list(zip(grids["community_id"], grids["grid_id"], pts.x, pts.y, strict=True))


def report(server: LiveServer, point: tuple[str, str, float, float], status: str = "reported") -> str:
    iid = f"A-{uuid.uuid4().hex[:10]}"
    msg: dict[str, Any] = {"id": iid, "status": status, "ts": time.time(), "lon": point[2], "lat": point[3]}
    msg |= {"category": "environment", "title": "楼道堆物", "source": "test"}
    if status != "reported":
        msg["assignee"] = "P000001"
    result = publish(server.client, server.keys, msg, source="test")
    assert result.applied, result
    return iid


def test_areas_lists_every_level_parents_first(live_server: LiveServer) -> None:
    code, body = get_json(live_server.url + "/api/areas")
    assert code == 200
    layers = read_layers(DEFAULT_DATA)
    assert body["root"] == f"street:{layers.street['street_id'].iloc[0]}"
    kinds = [a["kind"] for a in body["areas"]]
    assert kinds.count("community") == len(layers.communities)
    assert kinds.count("grid") == len(layers.grids) and kinds.count("micro_grid") == len(layers.micro_grids)
    seen: set[str] = set()
    for area in body["areas"]:
        assert area["parent"] is None or area["parent"] in seen
        assert len(area["bbox"]) == 4
        seen.add(area["ref"])


def test_a_community_summary_counts_what_redis_holds_for_it(live_server: LiveServer) -> None:
    points = grid_points()
    here = points[0]
    elsewhere = next(p for p in points if p[0] != here[0])
    ids = [report(live_server, here) for _ in range(3)] + [report(live_server, here, "dispatched")]
    ids += [report(live_server, elsewhere) for _ in range(2)]
    wait_for(lambda: get_json(live_server.url + "/api/incidents/" + ids[-1])[0] == 200)

    def summary() -> dict[str, Any]:
        code, body = get_json(f"{live_server.url}/api/summary?area=community:{here[0]}")
        assert code == 200, body
        return dict(body)

    wait_for(lambda: summary()["kpis"]["today_reported"] >= 4)
    body = summary()
    # the count over Redis: every open incident the module's server holds, placed by the same spatial index
    stored = [i for i in load_state(live_server.client, live_server.keys) if i.status in OPEN]
    located = _index().locate([i.lon for i in stored], [i.lat for i in stored])["community_id"]
    assert body["kpis"]["open"] == int((located == here[0]).sum()) >= 4
    assert body["area"]["ref"] == f"community:{here[0]}"
    assert [a["kind"] for a in body["path"]] == ["street", "community"]
    assert body["funnel"]["stages"]["reported"] >= 4 and body["funnel"]["stages"]["dispatched"] >= 1
    assert set(body["funnel"]["median_minutes"]) == {
        "reported→dispatched",
        "dispatched→accepted",
        "accepted→resolved",
        "resolved→rated",
    }
    layers = read_layers(DEFAULT_DATA)
    assert body["layers"]["grids"] == int((layers.grids["community_id"] == here[0]).sum())
    whole = get_json(live_server.url + "/api/summary")[1]
    assert whole["kpis"]["open"] >= body["kpis"]["open"] + 2  # the two elsewhere count for the street only
    assert json.dumps(body, ensure_ascii=False)  # plain JSON for other tools


@cache
def _index() -> SpatialIndex:
    return SpatialIndex(read_layers(DEFAULT_DATA))


def test_a_bad_area_is_refused_with_its_reason(live_server: LiveServer) -> None:
    code, body = get_json(live_server.url + "/api/summary?area=village:C001")
    assert code == 422 and "unknown kind 'village'" in body["detail"]
    code, body = get_json(live_server.url + "/api/summary?area=community:NOPE")
    assert code == 404 and "no such area" in body["detail"]
