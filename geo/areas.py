"""The command levels as areas: district → street → community → grid → micro-grid, one tree per data set.

Pure (no Dash, no Redis). Three-level command (区 → 街道 → 村社) plus the grid levels below: a data set with one
street has that street as its root; with several (the city-scale data set has 40) a district area named
``district:all`` is their parent. An area is referred to as ``KIND:ID`` (``community:C003``, ``grid:G0042``), in
URLs (``/?area=community:C003``, ``/wall?scope=street:ST02``) and in ``GET /api/summary?area=``.

``AreaTree.mask(frame, ref)`` selects the rows of an incidents frame (columns ``community_id``, ``grid_id``,
``micro_grid_id`` as the situation assigns them) that lie in an area: vectorised, one ``isin`` per call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal, get_args

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.geometry

AreaKind = Literal["district", "street", "community", "grid", "micro_grid"]
AREA_KINDS: Final[tuple[AreaKind, ...]] = get_args(AreaKind)
DISTRICT_ID: Final = "all"
# (layer attribute of GeoLayers, id column, parent kind, parent id column) per level below the district
_LEVELS: Final[tuple[tuple[AreaKind, str, str, AreaKind | None, str | None], ...]] = (
    ("street", "street", "street_id", None, None),
    ("community", "communities", "community_id", "street", "street_id"),
    ("grid", "grids", "grid_id", "community", "community_id"),
    ("micro_grid", "micro_grids", "micro_grid_id", "grid", "grid_id"),
)
# the incidents column that places a row at each level (streets and the district go through communities)
_INCIDENT_COLUMN: Final[dict[AreaKind, str]] = {
    "community": "community_id",
    "grid": "grid_id",
    "micro_grid": "micro_grid_id",
}


Box = tuple[float, float, float, float]


class AreaError(ValueError):
    """An area reference that is malformed: not ``KIND:ID`` with a known kind."""


class UnknownAreaError(AreaError):
    """A well-formed area reference that names no area of the data set."""


@dataclass(frozen=True, slots=True)
class Area:
    """One area. ``bbox``: (min lon, min lat, max lon, max lat), EPSG:4326 degrees."""

    kind: AreaKind
    id: str
    name: str
    parent: str | None  # the parent's ref, None for the root
    bbox: Box

    @property
    def ref(self) -> str:
        """``KIND:ID``."""
        return f"{self.kind}:{self.id}"

    def as_json(self) -> dict[str, object]:
        """The shape of ``GET /api/areas`` rows."""
        return {
            "ref": self.ref,
            "kind": self.kind,
            "id": self.id,
            "name": self.name,
            "parent": self.parent,
            "bbox": [round(v, 6) for v in self.bbox],
        }


def place_ref(micro_grid_id: str = "", grid_id: str = "", community_id: str = "") -> str:
    """The most specific area ref of a place (an incident's micro-grid, grid, community as located); "" for none."""
    for kind, ident in (("micro_grid", micro_grid_id), ("grid", grid_id), ("community", community_id)):
        if ident and ident not in ("nan", "None"):
            return f"{kind}:{ident}"
    return ""


def parse_ref(ref: str) -> tuple[AreaKind, str]:
    """``"community:C003"`` → ``("community", "C003")``; ``AreaError`` naming what is wrong otherwise."""
    kind, sep, ident = ref.partition(":")
    if not sep or not ident:
        raise AreaError(f"area {ref!r}: expected KIND:ID, e.g. community:C003")
    if kind not in AREA_KINDS:
        raise AreaError(f"area {ref!r}: unknown kind {kind!r} (one of {', '.join(AREA_KINDS)})")
    return kind, ident


@dataclass(frozen=True)
class AreaTree:
    """Every area of a data set, by ref, with each area's children in id order."""

    areas: Mapping[str, Area]
    root: str
    children: Mapping[str, tuple[str, ...]] = field(repr=False)
    # the communities of each street (a street's or the district's incidents are those of its communities)
    street_communities: Mapping[str, tuple[str, ...]] = field(repr=False)
    parent_of: Mapping[str, str | None] = field(repr=False, default_factory=dict)  # ref → parent ref

    def get(self, ref: str) -> Area:
        """The area ``ref`` names; ``AreaError`` when it is malformed or unknown."""
        parse_ref(ref)
        area = self.areas.get(ref)
        if area is None:
            raise UnknownAreaError(f"area {ref!r}: no such area in this data set")
        return area

    def path(self, ref: str) -> list[Area]:
        """Root first, down to ``ref`` (the breadcrumb)."""
        out = [self.get(ref)]
        while out[-1].parent is not None:
            out.append(self.areas[out[-1].parent])
        return out[::-1]

    def step_toward(self, current: str, target: str) -> str:
        """One drill-down step from area ``current`` toward area ``target`` (e.g. the grid clicked on the map):
        ``target``'s ancestor one level below ``current``; when ``target`` lies outside ``current``, its ancestor
        at ``current``'s level (the neighbour clicked). ``target`` itself when it is that deep or shallower.
        ``AreaError`` for unknown refs."""
        chain = [a.ref for a in self.path(target)]
        if current in chain:
            return chain[min(chain.index(current) + 1, len(chain) - 1)]
        depth = len(self.path(current)) - 1
        return chain[min(depth, len(chain) - 1)]

    def contains(self, scope: str, ref: str) -> bool:
        """Whether area ``ref`` ("" = the whole data set) lies inside area ``scope`` ("" or the root: everything).

        The one containment rule of access control (an account's or wall link's areas, ``inside``): a ref that is
        malformed or unknown lies inside nothing but the whole data set, and an unknown ``scope`` contains nothing
        (an account confined to an area the data set no longer has sees nothing, never everything)."""
        if not scope or scope == self.root:
            return True
        if not ref:
            return False
        try:
            return scope in [a.ref for a in self.path(ref)]
        except AreaError:
            return False

    def inside(self, ref: str, scopes: Iterable[str]) -> bool:
        """Whether area ``ref`` lies inside any of ``scopes`` (a union); no scopes = unconfined: True."""
        found = False
        for scope in scopes:
            found = True
            if self.contains(scope, ref):
                return True
        return not found

    def normalise(self, scopes: Iterable[str]) -> tuple[str, ...]:
        """``scopes`` as a confinement: sorted, duplicates and areas inside another one dropped; ``()`` (nothing
        confined) when one is the root or "". Unknown refs are kept: they contain nothing (``contains``)."""
        given = sorted(set(scopes))
        if any(not s or s == self.root for s in given):
            return ()
        return tuple(s for s in given if not any(o != s and self.contains(o, s) for o in given))

    def mask_any(self, incidents: pd.DataFrame, scopes: Iterable[str]) -> np.ndarray:
        """``mask`` of the union of ``scopes`` (all rows when none; an unknown ref adds no row)."""
        refs = list(scopes)
        if not refs:
            return np.ones(len(incidents), dtype=bool)
        out = np.zeros(len(incidents), dtype=bool)
        for ref in refs:
            if ref in self.areas:
                out |= self.mask(incidents, ref)
        return out

    def mask(self, incidents: pd.DataFrame, ref: str) -> np.ndarray:
        """Boolean array over ``incidents``' rows: those in area ``ref`` (all rows for the root)."""
        area = self.get(ref)
        if area.ref == self.root:
            return np.ones(len(incidents), dtype=bool)
        if area.kind == "street":
            ids: Iterable[str] = self.street_communities.get(area.id, ())
            column = "community_id"
        else:
            ids, column = (area.id,), _INCIDENT_COLUMN[area.kind]
        return np.asarray(incidents[column].astype(str).isin(list(ids)).to_numpy(), dtype=bool)

    def within(self, ids: pd.Series, kind: AreaKind, ref: str) -> np.ndarray:
        """Boolean array over ``ids`` (ids of areas of ``kind``, e.g. a layer's ``grid_id`` column): those inside
        area ``ref``. Areas of ``kind`` must be at or below ``ref``'s level; ``ValueError`` otherwise."""
        area = self.get(ref)
        if area.ref == self.root:
            return np.ones(len(ids), dtype=bool)
        if AREA_KINDS.index(kind) < AREA_KINDS.index(area.kind):
            raise ValueError(f"{kind} ids cannot be placed inside a {area.kind}")
        refs = (kind + ":") + ids.astype(str)
        for _ in range(AREA_KINDS.index(kind) - AREA_KINDS.index(area.kind)):
            refs = refs.map(self.parent_of)
        return np.asarray((refs == area.ref).to_numpy(), dtype=bool)

    def as_json(self) -> list[dict[str, object]]:
        """Every area, parents before children (``GET /api/areas``)."""
        order: list[str] = []
        stack = [self.root]
        while stack:
            ref = stack.pop()
            order.append(ref)
            stack.extend(reversed(self.children.get(ref, ())))
        return [self.areas[r].as_json() for r in order]


_LAYER_OF_KIND: Final[dict[AreaKind, tuple[str, str]]] = {kind: (attr, col) for kind, attr, col, _, _ in _LEVELS}


def area_outline(layers: object, ref: str, tolerance_deg: float = 1e-5) -> dict[str, object] | None:
    """GeoJSON geometry (EPSG:4326, simplified by ``tolerance_deg`` ≈ 1 m) of the boundary of area ``ref`` of
    ``layers`` (a ``geo.model.GeoLayers``), for outlining it on a map; None for the district (every street) and
    for a ref with no row. ``AreaError`` for a malformed ref."""
    kind, ident = parse_ref(ref)
    if kind == "district":
        return None
    attr, col = _LAYER_OF_KIND[kind]
    frame = getattr(layers, attr)
    rows = frame[frame[col].astype(str) == ident]
    if len(rows) == 0:
        return None
    boundary = shapely.simplify(shapely.boundary(shapely.union_all(rows.geometry.to_numpy())), tolerance_deg)
    out: dict[str, object] = shapely.geometry.mapping(boundary)
    return out


def _boxes(frame: gpd.GeoDataFrame) -> list[Box]:
    """Each row's (min lon, min lat, max lon, max lat), vectorised."""
    b = np.asarray(frame.geometry.bounds.to_numpy(), dtype=float)
    return [(float(r[0]), float(r[1]), float(r[2]), float(r[3])) for r in b]


def build_area_tree(layers: object, district_name: str = "全区") -> AreaTree:
    """The tree of ``layers`` (a ``geo.model.GeoLayers``: street, communities, grids, micro_grids with their
    id, ``name`` and parent columns). One street: it is the root; several: ``district:all`` above them."""
    areas: dict[str, Area] = {}
    children: dict[str, list[str]] = {}
    streets = layers.street  # type: ignore[attr-defined]
    several = len(streets) > 1
    if several:
        x0, y0, x1, y1 = (float(v) for v in streets.total_bounds)
        areas[f"district:{DISTRICT_ID}"] = Area("district", DISTRICT_ID, district_name, None, (x0, y0, x1, y1))
    for kind, attr, id_col, parent_kind, parent_col in _LEVELS:
        frame = getattr(layers, attr)
        ids = frame[id_col].astype(str).to_numpy()
        names = frame["name"].astype(str).to_numpy() if "name" in frame else ids
        if parent_col is None:
            parents = np.full(len(ids), f"district:{DISTRICT_ID}" if several else None, dtype=object)
        else:
            parents = np.char.add(f"{parent_kind}:", frame[parent_col].astype(str).to_numpy().astype(str))
        for ident, name, parent, bbox in zip(ids, names, parents, _boxes(frame), strict=True):
            ref = f"{kind}:{ident}"
            areas[ref] = Area(kind, str(ident), str(name), None if parent is None else str(parent), bbox)
            if parent is not None:
                children.setdefault(str(parent), []).append(ref)
    root = f"district:{DISTRICT_ID}" if several else f"street:{streets['street_id'].astype(str).iloc[0]}"
    comms = layers.communities  # type: ignore[attr-defined]
    by_street: dict[str, list[str]] = {}
    for cid, sid in zip(comms["community_id"].astype(str), comms["street_id"].astype(str), strict=True):
        by_street.setdefault(sid, []).append(cid)
    return AreaTree(
        areas=areas,
        root=root,
        children={k: tuple(sorted(v)) for k, v in children.items()},
        street_communities={k: tuple(v) for k, v in by_street.items()},
        parent_of={ref: a.parent for ref, a in areas.items()},
    )


# Where each feature layer is placed in the tree: its most specific area column.
LAYER_PLACES: Final[dict[str, tuple[str, AreaKind]]] = {
    "micro_grids": ("grid_id", "grid"),
    "grids": ("community_id", "community"),
    "members": ("micro_grid_id", "micro_grid"),
    "households": ("micro_grid_id", "micro_grid"),
    "party_orgs": ("community_id", "community"),
    "responsibility_zones": ("grid_id", "grid"),
    "volunteer_teams": ("community_id", "community"),
    "units": ("community_id", "community"),
    "basic_units": ("grid_id", "grid"),
    "communities": ("community_id", "community"),
}


def layer_counts(tree: AreaTree, layers: object, ref: str) -> dict[str, int | None]:
    """How many features of each layer of ``LAYER_PLACES`` lie in area ``ref``; None for a layer placed only at a
    coarser level than the area (volunteer teams belong to communities: there is no count per grid)."""
    area = tree.get(ref)
    out: dict[str, int | None] = {}
    for name, (column, kind) in LAYER_PLACES.items():
        frame = getattr(layers, name)
        if AREA_KINDS.index(kind) < AREA_KINDS.index(area.kind):
            out[name] = None
            continue
        # party organisations above the communities (the street committee) carry no community: "" matches no area
        out[name] = int(tree.within(frame[column].fillna(""), kind, ref).sum())
    return out
