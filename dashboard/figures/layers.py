"""The static 一张图 layers as Plotly trace dicts for the officials' map (console toggles, wall, PNG).

Pure: no Dash, no Redis. One function per layer, one entry point: ``layer_traces(layers, key, lang, ...)`` returns
``list[dict]`` (``scattermap`` / ``choroplethmap`` trace dicts) to append after the incident map's fixed traces
(``incident_map.N_TRACES``); ``place_name_layers(...)`` returns ``layout.map.layers`` symbol layers.

Every trace carries ``legendgroup`` = the layer key, ``legendgrouptitle`` (the layer's name), ``name`` (its class),
``meta = {"layer": key, "class": ..., "features": n}`` and a stable ``uid`` (``layer-<key>-<class>``). Point traces
carry ``customdata`` = the feature ids. Personal data in hover text is always masked (``geo.privacy``).

Offline: markers stay ``circle`` (no sprite); place names are MapLibre symbol layers whose glyphs MapLibre draws
locally (TinySDF) because ``incident_map.map_style`` has no ``glyphs`` URL — nothing is fetched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
import shapely

from dashboard import i18n
from dashboard.figures.incident_map import COORD_DECIMALS, FONT_FAMILY, THEMES, Theme, compact_geojson, label_points
from geo.columns import point_columns, shared_strings
from geo.privacy import mask_name, mask_phone, snap_positions
from geo.validate import BASIC_UNIT_KINDS, FORCE_KINDS

LayerKey = Literal[
    "grid_types", "micro_grids", "party_orgs", "zones", "members", "households", "forces", "basic_units", "place_names"
]
LAYER_KEYS: Final[tuple[LayerKey, ...]] = (
    "grid_types",
    "micro_grids",
    "party_orgs",
    "zones",
    "members",
    "households",
    "forces",
    "basic_units",
    "place_names",
)
_M_PER_DEG: Final = 111_320.0
OUTLINE_TOLERANCE_M: Final = 3.0  # outline simplification: below a pixel at the zooms the layers are shown at

DEDICATED_KINDS: Final = ("industrial_park", "market", "rental_housing", "office_building", "school")
PARTY_LEVELS: Final = ("street_committee", "community_org", "grid_branch", "party_group")
PARTY_LEVEL_SIZE: Final = {"street_committee": 22, "community_org": 16, "grid_branch": 11, "party_group": 7}
COMMUNITY_LABEL_ZOOM: Final = (0.0, 14.5)  # (minzoom, maxzoom) of community names
# With several streets (a district) street names come first, and community names from the zoom at which a typical
# (median) community is this wide on screen — at a district's zoom 1,000 community names would be a heap.
COMMUNITY_NAME_PX: Final = 90.0
GRID_LABEL_ZOOM: Final = (14.5, 16.5)  # grid names once grids are large enough on screen to hold them
MICRO_GRID_LABEL_ZOOM: Final = (16.5, 24.0)  # micro-grid names closer still (a grid holds about four)
# Micro-grid names come with an area of at most this many micro-grids (a community, a grid): a page framed on a
# street is not zoomed that close, and its 600 names would be ~90 KB on every load.
MAX_MICRO_GRID_LABELS: Final = 200

# Class colours per theme: (wall = bright on dark navy, console = deeper on light grey).
# (wall, console). On the dark wall the people and party layers are pale tints: the saturated colours belong to
# the incident states (yellow reported, orange dispatched, blue accepted, red overdue …), which must read first.
_PALETTE: Final[dict[str, tuple[str, str]]] = {
    "comprehensive": ("rgba(200,215,235,0.55)", "rgba(60,75,95,0.55)"),
    "industrial_park": ("#ffa94d", "#d9480f"),
    "market": ("#ff6b9a", "#c2255c"),
    "rental_housing": ("#ffe066", "#b08900"),
    "office_building": ("#66d9e8", "#0c8599"),
    "school": ("#8ce99a", "#2b8a3e"),
    "dedicated_other": ("#e599f7", "#862e9c"),
    "micro": ("rgba(120,180,255,0.45)", "rgba(40,60,90,0.4)"),
    "street_committee": ("#fff0f6", "#c92a2a"),
    "community_org": ("#fcc2d7", "#e8590c"),
    "grid_branch": ("#eebefa", "#d4a500"),
    "party_group": ("#d0bfff", "#b08900"),
    "zones": ("#ff6b6b", "#e03131"),
    "网格长": ("#ffd6e7", "#e03131"),
    "网格员": ("#d0ebff", "#1c7ed6"),
    "党小组长": ("#ffe8cc", "#e8590c"),
    "党员": ("#e5dbff", "#7048e8"),
    "志愿者": ("#c3fae8", "#0ca678"),
    "role_other": ("#dee2e6", "#495057"),
    "off_duty": ("rgba(160,170,185,0.7)", "rgba(110,120,135,0.7)"),
    "covered": ("rgba(150,200,255,0.5)", "rgba(70,110,160,0.45)"),
    "uncovered": ("#ff2d2d", "#e03131"),
    "guidance": ("#ff4d4f", "#c92a2a"),
    "self_run": ("#4dabf7", "#1c7ed6"),
    "vanguard": ("#ffa94d", "#e8590c"),
    "enforcement": ("#748ffc", "#3b5bdb"),
    "co_building": ("#63e6be", "#0ca678"),
    "social": ("#f783ac", "#d6336c"),
    "unknown": ("#ced4da", "#868e96"),
    "rental_house": ("#ffd43b", "#d4a500"),
    "shop_street": ("#da77f2", "#9c36b5"),
    "street_label": ("#ffe8a3", "#5c3d00"),
    "community_label": ("#ffffff", "#1d2b3a"),
    "grid_label": ("#b8d4ff", "#364fc7"),
}


def color(cls: str, theme: Theme = "console") -> str:
    """The CSS colour of a layer class (a grid type/kind, party level, role, force kind, …) in ``theme``."""
    pair = _PALETTE.get(cls, _PALETTE["unknown"])
    return pair[0] if theme == "wall" else pair[1]


# ---- area scope -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AreaScope:
    """The ids in scope at each level (a feature is in scope when its most specific non-empty id is).

    ``None`` at a level = every id; an empty set = none (a grid area holds no community).
    """

    communities: frozenset[str] | None = None
    grids: frozenset[str] | None = None
    micro_grids: frozenset[str] | None = None

    @classmethod
    def from_tree(cls, tree: Any, ref: str, layers: Any) -> AreaScope:
        """The scope of area ``ref`` of ``tree`` (``geo.areas.AreaTree``) over ``layers``; ``AreaError`` for a
        bad ref. The tree's root gives the unrestricted scope."""
        area = tree.get(ref)
        if area.ref == tree.root:
            return cls()
        from geo.areas import AREA_KINDS, AreaKind

        def ids(frame: pd.DataFrame, column: str, kind: AreaKind) -> frozenset[str]:
            if AREA_KINDS.index(kind) < AREA_KINDS.index(area.kind):
                return frozenset()
            col = frame[column].astype(str)
            return frozenset(col[tree.within(col, kind, ref)])

        return cls(
            ids(layers.communities, "community_id", "community"),
            ids(layers.grids, "grid_id", "grid"),
            ids(layers.micro_grids, "micro_grid_id", "micro_grid"),
        )

    @classmethod
    def union(cls, scopes: Iterable[AreaScope]) -> AreaScope:
        """The scope of several areas together (a confined actor's): at each level the union of their ids, every id
        when one of them has every id."""

        def level(values: list[frozenset[str] | None]) -> frozenset[str] | None:
            if any(v is None for v in values):
                return None
            return frozenset().union(*[v for v in values if v is not None])

        given = list(scopes)
        if not given:
            return cls(frozenset(), frozenset(), frozenset())
        return cls(
            level([s.communities for s in given]),
            level([s.grids for s in given]),
            level([s.micro_grids for s in given]),
        )


AreaArg = AreaScope | tuple[Any, str] | None  # a scope, or (AreaTree, "KIND:ID"), or None = everything


def _scope(layers: Any, area: AreaArg) -> AreaScope | None:
    if area is None or isinstance(area, AreaScope):
        return area
    tree, ref = area
    scope = AreaScope.from_tree(tree, ref, layers)
    return None if scope == AreaScope() else scope


def rows_in_scope(frame: pd.DataFrame, scope: AreaScope | None) -> pd.DataFrame:
    """The rows of a layer (members, households …) inside ``scope`` (all for None)."""
    return _in_scope(frame, scope)


def _in_scope(frame: pd.DataFrame, scope: AreaScope | None) -> pd.DataFrame:
    """Rows whose most specific non-empty area id (micro-grid, then grid, then community) is in scope."""
    if scope is None or len(frame) == 0:
        return frame
    keep = np.zeros(len(frame), dtype=bool)
    decided = np.zeros(len(frame), dtype=bool)
    for column, allowed in (
        ("micro_grid_id", scope.micro_grids),
        ("grid_id", scope.grids),
        ("community_id", scope.communities),
    ):
        if column not in frame.columns:
            continue
        col = frame[column].fillna("").astype(str)
        here = (col != "").to_numpy() & ~decided
        ok = np.ones(len(frame), dtype=bool) if allowed is None else col.isin(allowed).to_numpy()
        keep |= here & ok
        decided |= here
    return frame[keep]


# ---- shared helpers -------------------------------------------------------------------------------------


def _col(df: pd.DataFrame, name: str, default: str = "") -> pd.Series:
    if name in df.columns:
        return df[name].fillna(default).astype(str)
    return pd.Series([default] * len(df), index=df.index, dtype=object)


def _lonlat(frame: Any) -> tuple[list[float], list[float]]:
    """Point coordinates, degrees rounded to ``COORD_DECIMALS``: of the geometry, or of the ``lon``/``lat`` columns
    of a layer kept as columns (``geo.columns.point_columns``); empty points left out either way."""
    if "geometry" not in frame.columns and "lon" in frame.columns:
        xy = np.column_stack([frame["lon"].to_numpy(dtype=float), frame["lat"].to_numpy(dtype=float)])
        xy = xy[np.isfinite(xy).all(axis=1)]
    else:
        xy = shapely.get_coordinates(np.asarray(frame.geometry.values, dtype=object))
    xy = np.round(xy, COORD_DECIMALS)
    return xy[:, 0].tolist(), xy[:, 1].tolist()


def outline_coords(
    geoms: Sequence[Any] | np.ndarray, tolerance_m: float = OUTLINE_TOLERANCE_M
) -> tuple[list[float | None], list[float | None]]:
    """Polygon boundaries as one ``mode="lines"`` path: (lon, lat) lists (degrees, rounded to ``COORD_DECIMALS``)
    with ``None`` between rings. Simplified by ``tolerance_m`` metres (topology kept), vectorised (shapely)."""
    g = np.asarray(geoms, dtype=object)
    if len(g) == 0:
        return [], []
    if tolerance_m > 0:
        g = shapely.simplify(g, tolerance_m / _M_PER_DEG, preserve_topology=True)
    rings = shapely.get_parts(shapely.boundary(g))
    xy, idx = shapely.get_coordinates(rings, return_index=True)
    xy = np.round(xy, COORD_DECIMALS)
    breaks = np.flatnonzero(np.diff(idx)) + 1  # first vertex of every ring but the first
    out: np.ndarray = np.insert(np.asarray(xy, dtype=object), breaks, np.array([None, None], dtype=object), axis=0)
    return out[:, 0].tolist(), out[:, 1].tolist()


_UNSAFE_UID: Final = re.compile(r"[^\w-]")


def _legend(key: str, lang: str) -> dict[str, Any]:
    return {"legendgroup": key, "legendgrouptitle": {"text": i18n.t(f"layer.{key}", lang)}}


def _trace(
    key: str,
    cls: str,
    name: str,
    lang: str,
    *,
    features: int,
    showlegend: bool = True,
    **kw: Any,
) -> dict[str, Any]:
    tr: dict[str, Any] = {
        "type": "scattermap",
        # Plotly builds CSS selectors from uids ('.cb' + uid): ':' or '.' there breaks every later re-plot
        "uid": _UNSAFE_UID.sub("-", f"layer-{key}-{cls}"),
        "name": name,
        **_legend(key, lang),
        "showlegend": showlegend,
        "meta": {"layer": key, "class": cls, "features": features},
    }
    tr.update(kw)
    if "hovertext" in tr:
        tr.setdefault("hovertemplate", "%{hovertext}<extra></extra>")
        tr.setdefault("hoverinfo", None)
    else:
        tr.setdefault("hoverinfo", "skip")
    return tr


def _points_trace(
    key: str,
    cls: str,
    name: str,
    lang: str,
    frame: Any,
    ids: pd.Series,
    hover: Iterable[str] | None,
    marker: Mapping[str, Any],
    *,
    at_label_points: bool = False,
    showlegend: bool = True,
) -> dict[str, Any]:
    lon, lat = label_points(frame) if at_label_points else _lonlat(frame)
    kw: dict[str, Any] = {"lon": lon, "lat": lat, "mode": "markers", "marker": dict(marker)}
    kw["customdata"] = ids.astype(str).tolist()
    if hover is not None:
        kw["hovertext"] = list(hover)
    return _trace(key, cls, name, lang, features=len(lon), showlegend=showlegend, **kw)


def _lines_trace(key: str, cls: str, name: str, lang: str, frame: Any, line: Mapping[str, Any]) -> dict[str, Any]:
    lon, lat = outline_coords(frame.geometry.values)
    return _trace(key, cls, name, lang, features=len(frame), lon=lon, lat=lat, mode="lines", line=dict(line))


def _masked(series: pd.Series, fn: Any) -> pd.Series:
    return series.fillna("").astype(str).map(lambda v: fn(v) if v else "")


def _label(prefix: str, code: str, lang: str) -> str:
    key = f"{prefix}.{code}"
    return i18n.t(key, lang) if key in i18n.STRINGS["zh"] else code


# ---- the layers -----------------------------------------------------------------------------------------


def grid_type_traces(layers: Any, lang: str, theme: Theme, scope: AreaScope | None) -> list[dict[str, Any]]:
    """Grid outlines, one lines trace per grid type (comprehensive; dedicated per ``dedicated_kind``), each with a
    hover point per grid (name, type, party branch). The fill stays the incident map's status choropleth."""
    key = "grid_types"
    grids = _in_scope(layers.grids, scope)
    orgs = layers.party_orgs
    branch = dict(zip(orgs["org_id"].astype(str), orgs["name"].astype(str), strict=True))
    gtype = _col(grids, "grid_type", "comprehensive")
    kind = _col(grids, "dedicated_kind")
    cls = np.where(gtype == "dedicated", "dedicated:" + kind.where(kind.isin(DEDICATED_KINDS), "other"), gtype)
    cls_s = pd.Series(cls, index=grids.index)
    out: list[dict[str, Any]] = []
    classes = ["comprehensive"] + [f"dedicated:{k}" for k in (*DEDICATED_KINDS, "other")]
    classes += sorted({str(c) for c in cls_s} - set(classes))
    for c in classes:
        sub = grids[cls_s == c]
        if len(sub) == 0:
            continue
        if c.startswith("dedicated:"):
            k = c.split(":", 1)[1]
            name = _label("dedicated_kind", k, lang)
            colour = color(k if k in DEDICATED_KINDS else "dedicated_other", theme)
            width = 2.2
        else:
            name = _label("grid_type", c, lang)
            colour, width = color("comprehensive", theme), 0.8
        type_text = _label("grid_type", str(_col(sub, "grid_type", "comprehensive").iloc[0]), lang)
        hover = (
            "<b>"
            + _col(sub, "name")
            + "</b><br>"
            + type_text
            + ("" if not c.startswith("dedicated:") else " · " + name)
            + "<br>"
            + i18n.t("hover.branch", lang)
            + ": "
            + _col(sub, "branch_id").map(lambda b: branch.get(b, b or "—"))
        )
        out.append(_lines_trace(key, c, name, lang, sub, {"color": colour, "width": width}))
        out.append(
            _points_trace(
                key, c + ":label", name, lang, sub, sub["grid_id"], hover,
                {"size": 6, "color": colour, "opacity": 0.5}, at_label_points=True, showlegend=False,
            )
        )  # fmt: skip
    return out


def household_counts(layers: Any) -> pd.Series:
    """Households per member_id (int), only members that exist."""
    hh = layers.households
    mid = _col(hh, "member_id")
    counts = mid[mid.isin(layers.members["member_id"].astype(str))].value_counts()
    return counts.astype(int)


def micro_grid_coverage(layers: Any) -> pd.DataFrame:
    """Per micro_grid_id: ``households``, ``covered`` (member_id set and existing), ``share`` (0..1, NaN when no
    household)."""
    hh = layers.households
    covered = _col(hh, "member_id").isin(layers.members["member_id"].astype(str))
    g = pd.DataFrame({"m": _col(hh, "micro_grid_id").to_numpy(), "c": covered.to_numpy()}).groupby("m")["c"]
    out = pd.DataFrame({"households": g.size(), "covered": g.sum().astype(int)})
    out["share"] = out["covered"] / out["households"]
    return out


def micro_grid_traces(layers: Any, lang: str, theme: Theme, scope: AreaScope | None) -> list[dict[str, Any]]:
    """Micro-grid outlines + a label point per micro-grid: name, masked leader (``leader_id`` when the column
    exists) and the household coverage (联系户 with a member / all)."""
    key = "micro_grids"
    mg = _in_scope(layers.micro_grids, scope)
    name = i18n.t("layer.micro_grids", lang)
    members = layers.members
    leader_names = dict(zip(members["member_id"].astype(str), members["name"].astype(str), strict=True))
    hover = "<b>" + _col(mg, "name") + "</b>"
    if "leader_id" in mg.columns:
        leader = _col(mg, "leader_id").map(lambda m: mask_name(leader_names[m]) if m in leader_names else "")
        hover = hover + "<br>" + i18n.t("hover.leader", lang) + ": " + leader.where(leader != "", "—")
    cov = micro_grid_coverage(layers).reindex(_col(mg, "micro_grid_id").to_numpy())
    pct = (cov["share"] * 100).round(0)
    cov_text = (
        cov["covered"].fillna(0).astype(int).astype(str)
        + "/"
        + cov["households"].fillna(0).astype(int).astype(str)
        + pct.map(lambda v: "" if pd.isna(v) else f" ({v:.0f}%)")
    )
    hover = hover + "<br>" + i18n.t("hover.coverage", lang) + ": " + cov_text.to_numpy()
    return [
        _lines_trace(key, "outline", name, lang, mg, {"color": color("micro", theme), "width": 0.7}),
        _points_trace(
            key, "label", name, lang, mg, mg["micro_grid_id"], hover,
            {"size": 5, "color": color("micro", theme), "opacity": 0.6}, at_label_points=True, showlegend=False,
        ),
    ]  # fmt: skip


def party_org_traces(layers: Any, lang: str, theme: Theme, scope: AreaScope | None) -> list[dict[str, Any]]:
    """Party organisations, one trace per ``level`` (street committee → party group), sizes descending by level;
    hover: name, level, parent's name. The street committee has no area: it shows only without an area."""
    key = "party_orgs"
    allorgs = layers.party_orgs
    orgs = _in_scope(allorgs, scope)
    if scope is not None:  # rows with no area id at all (the street committee) are out of any area
        orgs = orgs[(_col(orgs, "community_id") != "") | (_col(orgs, "grid_id") != "")]
    parent_names = dict(zip(allorgs["org_id"].astype(str), allorgs["name"].astype(str), strict=True))
    level = _col(orgs, "level")
    out = []
    for lv in [*PARTY_LEVELS, *sorted(set(level) - set(PARTY_LEVELS))]:
        sub = orgs[level == lv]
        if len(sub) == 0:
            continue
        label = _label("party_level", lv, lang)
        parent = _col(sub, "parent_id").map(lambda p: parent_names.get(p, ""))
        hover = "<b>" + _col(sub, "name") + "</b><br>" + label
        hover = hover + parent.map(lambda p: "" if not p else "<br>" + i18n.t("hover.parent", lang) + ": " + p)
        out.append(
            _points_trace(
                key, lv, label, lang, sub, sub["org_id"], hover,
                {"size": PARTY_LEVEL_SIZE.get(lv, 6), "color": color(lv, theme), "opacity": 0.9},
            )
        )  # fmt: skip
    return out


def zone_traces(layers: Any, lang: str, theme: Theme, scope: AreaScope | None) -> list[dict[str, Any]]:
    """党小组责任田: one translucent ``choroplethmap`` (constant colour) with the party group's name on hover."""
    key = "zones"
    zones = _in_scope(layers.responsibility_zones, scope)
    orgs = layers.party_orgs
    group_names = dict(zip(orgs["org_id"].astype(str), orgs["name"].astype(str), strict=True))
    group = _col(zones, "party_group_id").map(lambda g: group_names.get(g, g))
    gj = compact_geojson(zones, "zone_id", tolerance_m=OUTLINE_TOLERANCE_M)
    c = color("zones", theme)
    name = i18n.t("layer.zones", lang)
    return [
        {
            "type": "choroplethmap",
            "uid": "layer-zones-zone",
            "name": name,
            **_legend(key, lang),
            "showlegend": True,
            "meta": {"layer": key, "class": "zone", "features": len(zones)},
            "geojson": gj,
            "locations": _col(zones, "zone_id").tolist(),
            "z": [1] * len(zones),
            "zmin": 0,
            "zmax": 1,
            "colorscale": [[0, c], [1, c]],
            "showscale": False,
            "marker": {"opacity": 0.18 if theme == "wall" else 0.14, "line": {"width": 1, "color": c}},
            "hovertext": ("<b>" + _col(zones, "name") + "</b><br>" + group).tolist(),
            "hovertemplate": "%{hovertext}<extra></extra>",
            "below": "",
        }
    ]


def member_traces(
    layers: Any, lang: str, theme: Theme, scope: AreaScope | None, *, wall: bool = False
) -> list[dict[str, Any]]:
    """Party members, one trace per role (``members.role``, zh) for those on duty, plus one grey hollow-looking
    "off duty" trace (console only: ``wall=True`` leaves off-duty members out). Hover: masked name, role, on duty,
    households looked after."""
    key = "members"
    mem = _in_scope(layers.members, scope)
    on = mem["on_duty"].fillna(False).astype(bool) if "on_duty" in mem.columns else pd.Series(True, index=mem.index)
    counts = household_counts(layers)
    role = _col(mem, "role")
    hh = _col(mem, "member_id").map(counts).fillna(0).astype(int).astype(str)
    duty = on.map({True: i18n.t("hover.on_duty", lang), False: i18n.t("hover.off_duty", lang)})
    hover = (
        "<b>"
        + _masked(mem["name"], mask_name)
        + "</b> · "
        + role.map(lambda r: i18n.role_label(r, lang))
        + "<br>"
        + duty
        + " · "
        + i18n.t("hover.households", lang)
        + " "
        + hh
    )
    size = THEMES[theme].member_size + 2
    out = []
    for r in [*i18n.ROLES_ZH, *sorted(set(role) - set(i18n.ROLES_ZH))]:
        sel = (role == r) & on
        if not sel.any():
            continue
        out.append(
            _points_trace(
                key, f"role:{r}", i18n.role_label(r, lang), lang, mem[sel], mem.loc[sel, "member_id"],
                hover[sel], {"size": size, "color": color(r if r in i18n.ROLES_ZH else "role_other", theme),
                             "opacity": 0.85},
            )
        )  # fmt: skip
    if not wall and (~on).any():
        off = ~on
        out.append(
            _points_trace(
                key, "off_duty", i18n.t("layer.off_duty", lang), lang, mem[off], mem.loc[off, "member_id"],
                hover[off], {"size": size, "color": color("off_duty", theme), "opacity": 0.45},
            )
        )  # fmt: skip
    return [_on_the_wall(t) for t in out] if wall else out


def _on_the_wall(trace: dict[str, Any]) -> dict[str, Any]:
    """A members trace as a wall shows it: positions snapped to ~100 m cells, one point per occupied cell
    (``geo.privacy.snap_positions``), no names, no ids, no hover — the wall is read from across a room by anyone
    who walks past it."""
    x, y = snap_positions(np.asarray(trace["lon"], dtype=float), np.asarray(trace["lat"], dtype=float))
    cells = pd.DataFrame({"lon": np.round(x, 6), "lat": np.round(y, 6)}).drop_duplicates()
    out = {k: v for k, v in trace.items() if k not in ("hovertext", "hovertemplate", "customdata")}
    out.update(lon=cells["lon"].tolist(), lat=cells["lat"].tolist(), hoverinfo="skip")
    out["meta"] = {**trace.get("meta", {}), "features": len(cells)}
    return out


# What household_traces shows of a household only when it is uncovered (hover and id); a covered one is a dot.
HOUSEHOLD_SHOWN_IF_UNCOVERED: Final = ("household_id", "head_name", "phone")


def served_layers(layers: Any) -> Any:
    """The layers as a server keeps them (``geo.model.GeoLayers`` in, a new one out; the input is not changed):
    a covered household's id, head name and phone are never shown (``household_traces``: a dot) and are dropped;
    the households, members and party organisations as columns with ``lon``/``lat`` (``point_columns``: plain
    DataFrames, no shapely Points — the server draws, counts and measures distances to them from coordinates);
    the strings of the big point and polygon layers shared (``shared_strings``). At city scale (300,000
    households, 100,000 members) this is ~240 MB of the server's memory. Covered = ``member_id`` names a member."""
    from dataclasses import replace

    hh = layers.households
    covered = _col(hh, "member_id").isin(layers.members["member_id"].astype(str)).to_numpy()
    if covered.any():
        hh = hh.assign(**{c: hh[c].mask(covered, "") for c in HOUSEHOLD_SHOWN_IF_UNCOVERED if c in hh.columns})
    return replace(
        layers,
        households=point_columns(hh),
        members=point_columns(layers.members),
        micro_grids=shared_strings(layers.micro_grids),
        party_orgs=point_columns(layers.party_orgs),
        responsibility_zones=shared_strings(layers.responsibility_zones),
        basic_units=shared_strings(layers.basic_units),
    )


def household_traces(layers: Any, lang: str, theme: Theme, scope: AreaScope | None) -> list[dict[str, Any]]:
    """联系户 coverage: covered households as small hoverless dots (no ids: the bulk of the layer), uncovered ones
    (no or a dangling ``member_id``) as large red dots on top with hover (masked head name and phone, "no member")
    and ids. The coverage share per micro-grid is in the micro-grid layer's label hover."""
    key = "households"
    hh = _in_scope(layers.households, scope)
    members = layers.members
    member_names = dict(zip(members["member_id"].astype(str), members["name"].astype(str), strict=True))
    mid = _col(hh, "member_id")
    covered = mid.isin(member_names.keys())
    contact = mid.map(lambda m: mask_name(member_names[m]) if m in member_names else "")
    hover = (
        "<b>"
        + _masked(hh["head_name"], mask_name)
        + "</b> "
        + _masked(hh["phone"], mask_phone)
        + "<br>"
        + contact.map(
            lambda c: i18n.t("hover.contact", lang) + ": " + c if c else "⚠ " + i18n.t("hover.no_member", lang)
        )
    )
    out = []
    if covered.any():  # the bulk: position only (15,000 hover texts would be ~1 MB of the page)
        lon, lat = _lonlat(hh[covered])
        out.append(
            _trace(
                key, "covered", i18n.t("layer.covered", lang), lang, features=len(lon), lon=lon, lat=lat,
                mode="markers", marker={"size": 3, "color": color("covered", theme)},
            )
        )  # fmt: skip
    if (~covered).any():
        sel = ~covered
        out.append(
            _points_trace(
                key, "uncovered", i18n.t("layer.uncovered", lang), lang, hh[sel], hh.loc[sel, "household_id"],
                hover[sel], {"size": 9, "color": color("uncovered", theme), "opacity": 0.95},
            )
        )  # fmt: skip
    return out


def force_traces(layers: Any, lang: str, theme: Theme, scope: AreaScope | None) -> list[dict[str, Any]]:
    """Volunteer teams and co-building units together, one trace per ``force_kind`` (six kinds, then "unknown"
    for "" or a missing column). Hover: name, kind, team size and focus or unit resources."""
    key = "forces"
    frames = []
    for source, attr, id_col in (("volunteer_teams", "volunteer_teams", "team_id"), ("units", "units", "unit_id")):
        f = getattr(layers, attr, None)
        if f is None or len(f) == 0:
            continue
        f = _in_scope(f, scope)
        src = i18n.t(f"force_source.{source}", lang)
        if source == "volunteer_teams":
            detail = (
                i18n.t("hover.size", lang)
                + " "
                + _col(f, "size")
                + " · "
                + i18n.t("hover.focus", lang)
                + " "
                + _col(f, "focus")
            )
        else:
            detail = i18n.t("hover.resources", lang) + " " + _col(f, "resources").str.replace(",", "、")
        kind = _col(f, "force_kind")
        kind = kind.where(kind.isin(FORCE_KINDS), "unknown")
        frames.append(
            pd.DataFrame(
                {
                    "id": _col(f, id_col).to_numpy(),
                    "kind": kind.to_numpy(),
                    "head": ("<b>" + _col(f, "name") + "</b><br>" + src).to_numpy(),
                    "detail": detail.to_numpy(),
                    "geometry": f.geometry.to_numpy(),
                }
            )
        )
    if not frames:
        return []
    df = pd.concat(frames, ignore_index=True)
    out = []
    for k in (*FORCE_KINDS, "unknown"):
        sub = df[df["kind"] == k]
        if len(sub) == 0:
            continue
        label = _label("force_kind", k, lang)
        hover = sub["head"] + " · " + label + "<br>" + sub["detail"]
        out.append(
            _points_trace(
                key, k, label, lang, sub, sub["id"], hover, {"size": 12, "color": color(k, theme), "opacity": 0.9}
            )
        )
    return out


def basic_unit_traces(layers: Any, lang: str, theme: Theme, scope: AreaScope | None) -> list[dict[str, Any]]:
    """基本单元 (``layers.basic_units``; no trace when it is empty or the model has no such layer): rental houses
    (masked keeper and phone, tenants) and shop streets (masked keeper and phone, shops), one trace per ``kind``."""
    key = "basic_units"
    bu = getattr(layers, "basic_units", None)
    if bu is None or len(bu) == 0:
        return []
    bu = _in_scope(bu, scope)
    kind = _col(bu, "kind")
    keeper = _masked(_col(bu, "keeper_name"), mask_name)
    phone = _masked(_col(bu, "phone"), mask_phone)
    head = "<b>" + _col(bu, "name") + "</b><br>" + i18n.t("hover.keeper", lang) + ": " + keeper + " " + phone
    out = []
    for k in [*BASIC_UNIT_KINDS, *sorted(set(kind) - set(BASIC_UNIT_KINDS))]:
        sel = kind == k
        if not sel.any():
            continue
        count_col, label_key = ("shops", "hover.shops") if k == "shop_street" else ("tenants", "hover.tenants")
        hover = head[sel] + "<br>" + i18n.t(label_key, lang) + " " + _col(bu[sel], count_col, "—")
        label = _label("basic_unit", k, lang)
        out.append(
            _points_trace(
                key, k, label, lang, bu[sel], _col(bu[sel], "basic_unit_id"), hover,
                {"size": 9, "color": color(k if k in BASIC_UNIT_KINDS else "unknown", theme), "opacity": 0.9},
            )
        )  # fmt: skip
    return out


def _name_points(frame: Any, id_col: str, decimals: int = COORD_DECIMALS) -> dict[str, Any]:
    lon, lat = label_points(frame)
    ids = _col(frame, id_col).tolist()
    names = _col(frame, "name").tolist()
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": i,
                "properties": {"name": n},
                "geometry": {"type": "Point", "coordinates": [x, y]},
            }
            for i, n, x, y in zip(ids, names, lon, lat, strict=True)
        ],
    }


def community_label_zoom(communities: Any) -> float:
    """The zoom from which a typical (median-width) community of ``communities`` (EPSG:4326) is
    ``COMMUNITY_NAME_PX`` wide on screen (Web-Mercator, 512 px tiles as MapLibre's), at most half a level below
    the end of ``COMMUNITY_LABEL_ZOOM``; 0 for no communities."""
    if len(communities) == 0:
        return 0.0
    b = communities.geometry.bounds
    dx = max(float((b["maxx"] - b["minx"]).median()), 1e-9) / 360.0
    zoom = float(np.log2(COMMUNITY_NAME_PX / 512.0 / dx))
    return round(min(max(zoom, 0.0), COMMUNITY_LABEL_ZOOM[1] - 0.5), 2)


def place_name_layers(layers: Any, lang: str, theme: Theme = "console", area: AreaArg = None) -> list[dict[str, Any]]:
    """``layout.map.layers`` symbol layers: street names at a district's zoom (a data set with several streets,
    shown whole: up to ``community_label_zoom``), community names at low zoom (``COMMUNITY_LABEL_ZOOM``; from
    ``community_label_zoom`` on in a district), grid names closer in (``GRID_LABEL_ZOOM``), micro-grid names
    closest (``MICRO_GRID_LABEL_ZOOM``; in an area of at most ``MAX_MICRO_GRID_LABELS`` micro-grids, else grid
    names stay). Text comes from each
    GeoJSON feature's ``name`` (``{name}`` token); MapLibre draws the glyphs locally (no ``glyphs`` URL in
    ``incident_map.map_style``). Names are of places, never persons; ``lang`` does not change them (the data holds
    zh names). Plotly exposes no text halo: the colours contrast with the theme's background (light on the wall,
    dark on the console); ``incident_map.text_halo`` is the halo screen code paints on them."""
    del lang
    scope = _scope(layers, area)
    comms = _in_scope(layers.communities, scope)
    grids = _in_scope(layers.grids, scope)
    micro = _in_scope(layers.micro_grids, scope)
    if len(micro) > MAX_MICRO_GRID_LABELS:
        micro = micro.iloc[:0]
    grid_zoom = GRID_LABEL_ZOOM if len(micro) else (GRID_LABEL_ZOOM[0], MICRO_GRID_LABEL_ZOOM[1])
    streets = layers.street if scope is None and len(layers.street) > 1 else layers.street.iloc[:0]
    split = community_label_zoom(comms) if len(streets) else COMMUNITY_LABEL_ZOOM[0]
    out = []
    for name, frame, id_col, (z0, z1), size, cls in (
        ("place_names:streets", streets, "street_id", (0.0, split), 17, "street_label"),
        ("place_names:communities", comms, "community_id", (split, COMMUNITY_LABEL_ZOOM[1]), 15, "community_label"),
        ("place_names:grids", grids, "grid_id", grid_zoom, 12, "grid_label"),
        ("place_names:micro_grids", micro, "micro_grid_id", MICRO_GRID_LABEL_ZOOM, 11, "grid_label"),
    ):
        if len(frame) == 0:
            continue
        out.append(
            {
                "name": name,
                "sourcetype": "geojson",
                "source": _name_points(frame, id_col),
                "type": "symbol",
                "minzoom": z0,
                "maxzoom": z1,
                "symbol": {
                    "text": "{name}",
                    "textfont": {
                        "family": FONT_FAMILY.split(",")[0].strip('"'),
                        "size": size,
                        "color": color(cls, theme),
                    },
                    "textposition": "middle center",
                    "placement": "point",
                    "icon": "",
                },
                "below": "",
                "visible": True,
            }
        )
    return out


def place_name_traces(layers: Any, lang: str, theme: Theme, scope: AreaScope | None) -> list[dict[str, Any]]:
    """A hover/legend handle for the place names (the text itself is ``place_name_layers``): invisible markers at
    each community's label point, so toggling ``legendgroup="place_names"`` finds the layer like any other."""
    comms = _in_scope(layers.communities, scope)
    lon, lat = label_points(comms)
    return [
        _trace(
            "place_names", "communities", i18n.t("layer.place_names", lang), lang, features=len(comms),
            lon=lon, lat=lat, mode="markers", marker={"size": 1, "opacity": 0},
            customdata=_col(comms, "community_id").tolist(), hovertext=("<b>" + _col(comms, "name") + "</b>").tolist(),
        )
    ]  # fmt: skip


_BUILDERS: Final = {
    "grid_types": grid_type_traces,
    "micro_grids": micro_grid_traces,
    "party_orgs": party_org_traces,
    "zones": zone_traces,
    "households": household_traces,
    "forces": force_traces,
    "basic_units": basic_unit_traces,
    "place_names": place_name_traces,
}


def layer_traces(
    layers: Any,
    key: str,
    lang: str = "zh",
    *,
    theme: Theme = "console",
    area: AreaArg = None,
    wall: bool = False,
) -> list[dict[str, Any]]:
    """The Plotly trace dicts of layer ``key`` (one of ``LAYER_KEYS``) over ``layers`` (``geo.model.GeoLayers``,
    duck-typed; an optional ``basic_units`` layer is used when present).

    ``area``: ``AreaScope``, ``(AreaTree, "KIND:ID")`` or None (everything). ``wall=True``: the wall's variant
    (off-duty members left out). Coordinates are EPSG:4326 degrees rounded to ``COORD_DECIMALS``. Raises
    ``KeyError`` for an unknown key, ``geo.areas.AreaError`` for a bad area ref.
    """
    if key not in LAYER_KEYS:
        raise KeyError(key)
    lang = i18n.norm_lang(lang)
    scope = _scope(layers, area)
    if key == "members":
        return member_traces(layers, lang, theme, scope, wall=wall)
    return _BUILDERS[key](layers, lang, theme, scope)
