"""Open311 POSTs located by address: ``address_id`` / ``address_string`` placed against the demo data's own names
and ids (grids, micro-grids, basic units, units; communities and the street to narrow), and the clear 400s when
an address cannot be placed. The placed point is checked with the spatial index: it lies in the named grid."""

from __future__ import annotations

import pytest

from geo.index import SpatialIndex
from geo.layers import GeoLayers, read_layers
from incidents import open311_server as o3
from incidents.open311 import Open311Error
from incidents.open311_places import Gazetteer, Place
from tests.support.paths import DEMO_GPKG

NOW = 1_780_000_000.0


@pytest.fixture(scope="module")
def layers() -> GeoLayers:
    return read_layers(DEMO_GPKG)


@pytest.fixture(scope="module")
def places(layers: GeoLayers) -> Gazetteer:
    return Gazetteer.from_layers(layers)


def located(layers: GeoLayers, lon: float, lat: float) -> dict[str, str]:
    row = SpatialIndex(layers).locate([lon], [lat]).iloc[0]
    return {str(k): str(v) for k, v in row.items()}


def test_every_placing_layer_is_in_the_gazetteer(places: Gazetteer, layers: GeoLayers) -> None:
    kinds = {p.kind for p in places.places}
    assert kinds == {"street", "community", "grid", "micro_grid", "basic_unit", "unit"}
    assert sum(p.kind == "grid" for p in places.places) == len(layers.grids)
    grid = next(p for p in places.places if p.ref == "grid:G0003")
    assert grid.name == "霞庭村第1网格" and grid.within == {"grid:G0003", "community:C001", "street:ST01"}


@pytest.mark.parametrize(
    ("address_id", "address_string", "ref"),
    [
        ("G0003", "", "grid:G0003"),
        ("grid:g0003", "", "grid:G0003"),  # an area ref, any case
        ("BU0001", "", "basic_unit:BU0001"),
        ("M00001", "", "micro_grid:M00001"),
        ("", "霞庭村第1网格", "grid:G0003"),
        ("", "浙江省 澜湾街道 霞庭村第1网格 3幢门口", "grid:G0003"),  # broader names agree, extra words ignored
        ("", "霞庭村1号出租房", "basic_unit:BU0001"),  # the village's name inside it does not count
        ("", "明湾产业园专属网格1号微网格东侧", "micro_grid:M00001"),
        ("", "霞庭村 霞庭村1号出租房", "basic_unit:BU0001"),
        ("NOPE", "霞庭村第1网格", "grid:G0003"),  # an unknown id, a good string: the string places it
    ],
)
def test_addresses_are_placed_inside_the_named_place(
    places: Gazetteer, layers: GeoLayers, address_id: str, address_string: str, ref: str
) -> None:
    placement = places.place(address_id, address_string)
    assert placement.place.ref == ref
    where = located(layers, placement.place.lon, placement.place.lat)
    kind, ident = ref.split(":")
    if kind in ("grid", "micro_grid"):
        assert where[f"{kind}_id"] == ident
    else:  # a basic unit: its point lies in the grid the data gives it
        row = layers.basic_units.set_index("basic_unit_id").loc[ident]
        assert where["grid_id"] == row["grid_id"]


@pytest.mark.parametrize(
    ("address_id", "address_string", "reason"),
    [
        ("", "", "a location is required: lat and long, address_string or address_id"),
        ("", "人民路88号", "address_string '人民路88号' names no grid, micro-grid, basic unit or unit of this street"),
        ("X9", "", "address_id 'X9' is not the id of a basic unit, unit, micro-grid or grid of this street"),
        ("", "霞庭村", "names only the community 霞庭村 (C001): requests are dispatched by grid"),
        ("C001", "", "address_id 'C001' names only the community 霞庭村 (C001)"),
        ("", "澜湾街道", "names only the street 澜湾街道 (ST01)"),
        ("", "塘埠社区霞庭村第1网格", "grid 霞庭村第1网格 (G0003) does not lie in community 塘埠社区 (C003)"),
        (
            "",
            "霞庭村第1网格和霞庭村第2网格之间",
            "names several places: grid 霞庭村第1网格 (G0003), grid 霞庭村第2网格",
        ),
    ],
)
def test_addresses_that_cannot_be_placed_say_why(
    places: Gazetteer, address_id: str, address_string: str, reason: str
) -> None:
    with pytest.raises(Open311Error) as err:
        places.place(address_id, address_string)
    assert err.value.code == 400 and reason in err.value.description


def test_both_reasons_when_neither_places_it(places: Gazetteer) -> None:
    with pytest.raises(Open311Error) as err:
        places.place("X9", "人民路88号")
    assert err.value.description.startswith("address_id 'X9' is not the id") and "; address_string '人民路88号'" in (
        err.value.description
    )


def test_shared_names_are_told_apart_by_a_broader_name() -> None:
    """Real data (realdata/zj_grids/xihe_grid.geojson) has four grids all called 西河社区网格: name is no key."""
    grids = [
        Place("grid", f"G{i}", "西河网格", 122.0 + i / 100, 30.0, frozenset({f"grid:G{i}", f"community:C{i % 2}"}))
        for i in range(4)
    ]
    communities = [Place("community", f"C{i}", f"社区{i}", 122.0, 30.0, frozenset({f"community:C{i}"})) for i in (0, 1)]
    gaz = Gazetteer([*grids, *communities])
    with pytest.raises(Open311Error) as err:
        gaz.place("", "西河网格")
    assert "names several places: grid 西河网格 (G0), grid 西河网格 (G1), grid 西河网格 (G2), grid 西河网格 (G3)" in (
        err.value.description
    )
    with pytest.raises(Open311Error):
        gaz.place("", "社区1 西河网格")  # still two: G1 and G3
    gaz = Gazetteer([*grids[:2], *communities])
    assert gaz.place("", "社区1西河网格").place.id == "G1"


def test_a_post_by_address_becomes_a_wire_message_at_the_place(places: Gazetteer) -> None:
    fields = [("service_code", "fire"), ("address_string", "霞庭村1号出租房"), ("description", "楼道堆物")]
    msg = o3.post_to_wire(fields, now=NOW, request_id="O311-a", places=places)
    bu = next(p for p in places.places if p.ref == "basic_unit:BU0001")
    assert (msg["lon"], msg["lat"], msg["category"]) == (bu.lon, bu.lat, "fire")
    assert msg["description"] == (
        "楼道堆物\n\nAddress: 霞庭村1号出租房\nLocation: basic unit 霞庭村1号出租房 (BU0001), from address_string"
    )
    msg = o3.post_to_wire([("service_code", "fire"), ("address_id", "G0003")], now=NOW, places=places)
    assert msg["description"] == "Address ID: G0003\nLocation: grid 霞庭村第1网格 (G0003), from address_id"
    # lat/long win over an address (kept as text)
    msg = o3.post_to_wire(
        [("service_code", "fire"), ("lat", "30.3"), ("long", "120.3"), ("address_string", "霞庭村第1网格")],
        now=NOW,
        places=places,
    )
    assert (msg["lon"], msg["lat"]) == (120.3, 30.3) and "Location:" not in msg["description"]


def test_points_know_the_grid_they_lie_in(places: Gazetteer, layers: GeoLayers) -> None:
    """Co-building units carry only their community: the micro-grid and grid come from where their point lies, so
    a grid name beside a unit's name narrows instead of contradicting."""
    unit = next(p for p in places.places if p.ref == "unit:U001")
    where = located(layers, unit.lon, unit.lat)
    assert {f"grid:{where['grid_id']}", f"micro_grid:{where['micro_grid_id']}"} <= unit.within
    grid_name = layers.grids.set_index("grid_id").loc[where["grid_id"], "name"]
    assert places.place("", f"{grid_name} {unit.name}").place.ref == "unit:U001"
    assert places.place("", "泉源产业园专属网格 霞庭村1号出租房").place.ref == "basic_unit:BU0001"  # in G0002
    with pytest.raises(Open311Error, match="does not lie in grid 霞庭村第1网格"):
        places.place("", "霞庭村第1网格 霞庭村1号出租房")
