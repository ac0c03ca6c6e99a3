"""The incident map shared by the wall, the officials' console and (via briefing.py) the PNG.

Pure Plotly: no Dash, no Redis. Geometry is built once per data set (``MapBase``); live updates only touch
the values computed by ``grid_fill_z`` and ``incident_trace_updates`` — the same functions the full build
uses, so a Patch and a rebuild cannot drift. Callbacks patch traces by the index constants below.

Offline: ``layout.map.style`` is always a style dict with a single background layer (no sources, no glyphs,
no sprite) and marker symbols stay ``circle`` (other symbols need a sprite). The one text trace (a district's open
counts) has its glyphs drawn by MapLibre itself (TinySDF: no ``glyphs`` URL, nothing fetched).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import shapely

from dashboard import i18n
from geo.gcj02 import wgs84_to_gcj02
from geo.privacy import plotly_text, snap_positions
from incidents.model import GRID_STATE_RANK, OPEN_STATUS_VALUES, GridState, Status

Theme = Literal["wall", "console"]

# ---- fixed trace order (callbacks patch by index) -----------------------------------------------------
TRACE_GRIDS = 0  # Choroplethmap, z = grid state rank 0..3
TRACE_MEMBERS = 1  # Scattermap, party members (hoverless)
MAP_STATUSES: tuple[Status, ...] = (
    Status.REPORTED,
    Status.DISPATCHED,
    Status.ACCEPTED,
    Status.RESOLVED,
    Status.CLOSED,
)
TRACE_STATUS: dict[str, int] = {str(s): 2 + i for i, s in enumerate(MAP_STATUSES)}
TRACE_REPORTED = TRACE_STATUS["reported"]  # 2
TRACE_DISPATCHED = TRACE_STATUS["dispatched"]  # 3
TRACE_ACCEPTED = TRACE_STATUS["accepted"]  # 4
TRACE_RESOLVED = TRACE_STATUS["resolved"]  # 5
TRACE_CLOSED = TRACE_STATUS["closed"]  # 6
TRACE_OVERDUE_HALO = 7  # translucent red disk over open overdue incidents (scattermap has no outline)
TRACE_URGENT = 8  # urgent open incidents; the client-side pulse hook restyles this trace only
TRACE_AREA_COUNTS = 9  # a district overview's open count per community, as text under its name (else empty)
N_TRACES = 10
INCIDENT_TRACES: tuple[int, ...] = (*TRACE_STATUS.values(), TRACE_OVERDUE_HALO, TRACE_URGENT)
# layout.map.layers index of the micro-grid outline layer (the console's map, when MapBase has micro-grids)
LAYER_MICRO_GRIDS = 0

CONSOLE_MAP_VIEWPORT = (840, 600)  # the officials' map box at 1600×900 (px): an area is framed for it
WALL_MAP_VIEWPORT = (1232, 816)  # the wall's map box on the 1920×1080 stage (px); the browser refits to its real box
MEMBERS_CLUSTER_ABOVE = 10_000  # members on the map beyond which they are clustered
# A district overview draws its communities up to this many (each with its open count); beyond, its streets: a
# thousand counts on one screen are noise, forty are a picture.
OVERVIEW_MAX_AREAS = 300
# A drilled-in map carries the grids within its area's box grown by this share of its size on every side (the
# neighbours the framed view shows around it; a pan further out shows the area alone — drill up for more).
FOCUS_PAD = 0.6
COORD_DECIMALS = 5  # ~1 m; keeps GeoJSON and marker payloads small
WALL_MIN_FONT_PX = 18  # the wall's smallest text on the 1920×1080 stage (design px; scaled with the stage)

# ---- colours ------------------------------------------------------------------------------------------
# Grid fill by GridState rank 0..3: clear green, in progress blue, unassigned orange, overdue red.
GRID_STATE_ORDER: tuple[GridState, ...] = tuple(sorted(GRID_STATE_RANK, key=GRID_STATE_RANK.__getitem__))
GRID_STATE_COLORS: dict[str, str] = {
    "clear": "#2f9e5f",
    "in_progress": "#2f7fd8",
    "unassigned": "#f08c00",
    "overdue": "#e03131",
}
# Incident markers (bright, colour-blind-aware: Okabe-Ito-like hues + luminance steps, grey for closed).
STATUS_COLORS: dict[str, str] = {
    "reported": "#ffd43b",
    "dispatched": "#ff8a3d",
    "accepted": "#4dabf7",
    "resolved": "#38d9a9",
    "closed": "#adb5bd",
    "cancelled": "#6c757d",
}
# Deeper variants of the same hues for the light console background.
STATUS_COLORS_LIGHT: dict[str, str] = {
    "reported": "#d4a500",
    "dispatched": "#e8590c",
    "accepted": "#1c7ed6",
    "resolved": "#0ca678",
    "closed": "#6c757d",
    "cancelled": "#495057",
}
OVERDUE_COLOR = "#ff2d2d"
URGENT_COLOR = "#ff4dd2"
MEMBER_COLOR = "#c8a2ff"
MEMBER_COLOR_LIGHT = "#7048e8"

FONT_FAMILY = (
    '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", '
    '"WenQuanYi Micro Hei", sans-serif'
)


@dataclass(frozen=True, slots=True)
class ThemeSpec:
    """Colours (CSS) and marker sizes (px) of one screen theme."""

    background: str
    grid_line: str
    grid_opacity: float
    micro_line: str
    legend_bg: str
    legend_border: str
    text: str
    marker_size: int
    halo_size: int
    urgent_size: int
    member_size: int
    hover_bg: str
    status_colors: dict[str, str]
    member_color: str
    area_line: str  # the boundary of the area in focus


THEMES: dict[str, ThemeSpec] = {
    "wall": ThemeSpec(
        background="#071427",
        grid_line="rgba(120,180,255,0.55)",
        grid_opacity=0.42,
        micro_line="rgba(120,180,255,0.25)",
        legend_bg="rgba(6,18,38,0.78)",
        legend_border="rgba(90,160,255,0.45)",
        text="#d6e6ff",
        marker_size=11,
        halo_size=26,
        urgent_size=16,
        member_size=4,
        hover_bg="#0d2344",
        status_colors=STATUS_COLORS,
        member_color=MEMBER_COLOR,
        area_line="#ffd166",
    ),
    "console": ThemeSpec(
        background="#eef2f6",
        grid_line="rgba(40,60,90,0.55)",
        grid_opacity=0.3,
        micro_line="rgba(40,60,90,0.28)",
        legend_bg="rgba(255,255,255,0.9)",
        legend_border="rgba(40,60,90,0.25)",
        text="#1d2b3a",
        marker_size=10,
        halo_size=24,
        urgent_size=15,
        member_size=4,
        hover_bg="#ffffff",
        status_colors=STATUS_COLORS_LIGHT,
        member_color=MEMBER_COLOR_LIGHT,
        area_line="#d9480f",
    ),
}


def map_style(theme: Theme = "wall", tiles: str | None = None) -> dict[str, Any]:
    """Offline MapLibre style: one background layer, no glyphs/sprite, nothing fetched.

    ``tiles``: an XYZ raster URL template (``ONESCREEN_TILES``) drawn over the background, under every layer —
    the only thing a map then fetches, from where the operator pointed it.

    ``sources`` holds one empty inline GeoJSON source rather than ``{}``: an empty object is pruned on a later
    ``Plotly.react``, MapLibre then rejects the style ("missing required property sources"), Plotly rejects the
    redraw with "Map error." and dcc.Graph's update queue stays broken — the map would freeze.
    """
    sources: dict[str, Any] = {
        "onescreen-empty": {"type": "geojson", "data": {"type": "FeatureCollection", "features": []}}
    }
    layers: list[dict[str, Any]] = [
        {"id": "onescreen-background", "type": "background", "paint": {"background-color": THEMES[theme].background}}
    ]
    if tiles:
        sources["onescreen-tiles"] = {"type": "raster", "tiles": [tiles], "tileSize": 256, "maxzoom": 18}
        # dimmed on the dark wall so the response colours stay what one sees first
        opacity = 0.45 if theme == "wall" else 0.8
        layers.append(
            {
                "id": "onescreen-tiles",
                "type": "raster",
                "source": "onescreen-tiles",
                "paint": {"raster-opacity": opacity},
            }
        )
    return {"version": 8, "name": f"onescreen-{theme}", "sources": sources, "layers": layers}


def text_halo(theme: Theme = "wall") -> dict[str, Any]:
    """MapLibre paint properties that give map text (place names, a district's open counts) a halo in the theme's
    background colour. Plotly's symbol attributes have no halo: ``assets/onescreen.js`` sets these on the drawn
    layers (``layout.meta.text_halo``). Halos are part of the locally drawn SDF glyphs: nothing is fetched."""
    return {"text-halo-color": THEMES[theme].background, "text-halo-width": 1.8, "text-halo-blur": 0.4}


def grid_colorscale() -> list[list[Any]]:
    """Discrete 4-step colour scale for z in 0..3 (zmin=0, zmax=3)."""
    scale: list[list[Any]] = []
    for i, state in enumerate(GRID_STATE_ORDER):
        c = GRID_STATE_COLORS[str(state)]
        scale += [[i / 4, c], [(i + 1) / 4, c]]
    return scale


# ---- geometry ---------------------------------------------------------------------------------------


def compact_geojson(
    gdf: Any,
    id_col: str,
    *,
    decimals: int = COORD_DECIMALS,
    properties: Sequence[str] = (),
    tolerance_m: float = 2.0,
) -> dict[str, Any]:
    """GeoDataFrame → FeatureCollection (``feature.id = gdf[id_col]``), coverage-simplified, rounded.

    Thin wrapper over ``geo.display.to_geojson`` with the map's default precision (5 decimals ≈ 1 m).
    """
    from geo.display import to_geojson

    return to_geojson(gdf, id_col, tolerance_m=tolerance_m, decimals=decimals, properties=properties)


def packed_geojson(geojson: Mapping[str, Any]) -> dict[str, Any]:
    """``geojson`` (a FeatureCollection) with each ring's positions as one (n, 2) float64 array instead of n
    ``[lon, lat]`` lists — for the areas a map base holds for the process's life: a city's 10,000 grids and the
    overview's communities as Python lists were ~35 MB of the server, as arrays ~7 MB. Serialises the same (Plotly's
    and Dash's JSON encoders write an array as a list). New feature and geometry dicts; properties shared."""

    def pack(c: Any) -> Any:
        if isinstance(c, list) and c and isinstance(c[0], list) and c[0] and isinstance(c[0][0], (int, float)):
            return np.asarray(c, dtype=float)  # a ring: positions
        return [pack(x) for x in c] if isinstance(c, list) else c

    features = [
        {**f, "geometry": {**f["geometry"], "coordinates": pack(f["geometry"]["coordinates"])}}
        if f.get("geometry")
        else f
        for f in geojson["features"]
    ]
    return {**geojson, "features": features}


def _iter_lonlat(geojson: Mapping[str, Any]) -> Iterable[tuple[float, float]]:
    def walk(c: Any) -> Iterable[tuple[float, float]]:
        if isinstance(c, np.ndarray):  # a packed ring (packed_geojson)
            yield from ((float(x), float(y)) for x, y in c[:, :2])
        elif len(c) and isinstance(c[0], (int, float)):
            yield float(c[0]), float(c[1])
        else:
            for sub in c:
                yield from walk(sub)

    for f in geojson.get("features", []):
        yield from walk(f["geometry"]["coordinates"])


def geojson_bounds(geojson: Mapping[str, Any]) -> tuple[float, float, float, float]:
    """(min_lon, min_lat, max_lon, max_lat) of every coordinate."""
    pts = np.array(list(_iter_lonlat(geojson)), dtype=float)
    if pts.size == 0:
        return (120.15, 30.25, 120.2, 30.3)  # Hangzhou: harmless default for an empty data set
    return (
        float(pts[:, 0].min()),
        float(pts[:, 1].min()),
        float(pts[:, 0].max()),
        float(pts[:, 1].max()),
    )


def fit_view(
    bounds: tuple[float, float, float, float], viewport: tuple[int, int] = WALL_MAP_VIEWPORT, padding: float = 0.92
) -> tuple[dict[str, float], float]:
    """Centre and Web-Mercator zoom that fit ``bounds`` into a ``viewport`` (px) with some padding."""
    min_lon, min_lat, max_lon, max_lat = bounds
    center = {"lon": (min_lon + max_lon) / 2, "lat": (min_lat + max_lat) / 2}

    def merc_y(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    dx = max(max_lon - min_lon, 1e-6) / 360.0
    dy = max(merc_y(max_lat) - merc_y(min_lat), 1e-8) / (2 * math.pi)
    w, h = viewport[0] * padding, viewport[1] * padding
    zoom = min(math.log2(w / 512 / dx), math.log2(h / 512 / dy))  # MapLibre tiles are 512 px
    return center, round(max(1.0, min(zoom, 18.0)), 2)


@dataclass(slots=True)
class MapBase:
    """Static map inputs, built once per data set (geometry is sent to the browser once)."""

    geojson: dict[str, Any]
    grid_ids: list[str]
    center: dict[str, float]
    zoom: float
    bounds: tuple[float, float, float, float]
    grid_names: list[str] | None = None
    members: pd.DataFrame | None = None  # lon, lat, role, member_id (names never shown on the map)
    micro_geojson: dict[str, Any] | None = None
    community_geojson: dict[str, Any] | None = None  # thicker outlines in the PNG briefing
    uirevision: str = field(default="")
    grid_name_by_id: dict[str, str] = field(default_factory=dict)  # derived: for feed rows and hover text
    # "grid": the choropleth's areas are grids; "community" or "street": a district's overview, its areas coloured by
    # their worst open state (``SituationView.community_states``, rolled up to streets by ``rollup``), grids drawn
    # when one drills in
    level: str = "grid"
    rollup: dict[str, str] | None = None  # a street overview: community id → street id
    tiles: str | None = None  # basemap XYZ template (settings.tiles); None: no basemap
    display_crs: str = "wgs84"  # "gcj02": geometry here is shifted to GCJ-02 tiles, markers must be too
    # an overview's label point (lon, lat lists) per area in ``grid_ids`` order: where its open count is written
    label_points: tuple[list[float], list[float]] = field(default_factory=lambda: ([], []))
    # (n, 4) min lon, min lat, max lon, max lat of each feature of ``geojson`` (its order): a drilled-in map carries
    # only the features near its area (``geojson_near``); None: always all of them
    feature_bounds: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.grid_names is not None and not self.grid_name_by_id:
            self.grid_name_by_id = dict(zip(self.grid_ids, self.grid_names, strict=True))
        if not self.uirevision:
            digest = hashlib.sha1("|".join(self.grid_ids).encode()).hexdigest()[:10]
            self.uirevision = f"map-{digest}"

    @classmethod
    def from_geojson(
        cls,
        geojson: dict[str, Any],
        *,
        grid_names: Sequence[str] | None = None,
        members: pd.DataFrame | None = None,
        micro_geojson: dict[str, Any] | None = None,
        community_geojson: dict[str, Any] | None = None,
        viewport: tuple[int, int] = WALL_MAP_VIEWPORT,
    ) -> MapBase:
        """From a FeatureCollection whose ``feature.id`` is the grid_id."""
        ids = [str(f["id"]) for f in geojson["features"]]
        bounds = geojson_bounds(geojson)
        center, zoom = fit_view(bounds, viewport)
        return cls(
            geojson=geojson,
            grid_ids=ids,
            center=center,
            zoom=zoom,
            bounds=bounds,
            grid_names=list(grid_names) if grid_names is not None else None,
            members=_compact_members(members),
            micro_geojson=micro_geojson,
            community_geojson=community_geojson,
        )

    @classmethod
    def from_layers(
        cls, layers: Any, *, viewport: tuple[int, int] = WALL_MAP_VIEWPORT, micro_grids: bool = True
    ) -> MapBase:
        """From ``geo.layers.GeoLayers`` (duck-typed: grids, micro_grids, communities, members). ``micro_grids=False``:
        no ``micro_geojson`` (the screens draw micro-grids as a layer of ``figures.layers``; at city scale the
        50,000 polygons held as Python lists were ~105 MB of the server)."""
        return cls.from_geodataframes(
            layers.grids,
            members=getattr(layers, "members", None),
            micro_grids=getattr(layers, "micro_grids", None) if micro_grids else None,
            communities=getattr(layers, "communities", None),
            viewport=viewport,
        )

    def geojson_near(self, bbox: tuple[float, float, float, float], pad: float = FOCUS_PAD) -> dict[str, Any]:
        """The features of ``geojson`` whose bounds meet ``bbox`` (min lon, min lat, max lon, max lat) grown by
        ``pad`` of its size on every side — what a map framed on that area can show (level of detail: one street's
        250 grids, not the district's 10,000). All of them without ``feature_bounds``. The feature dicts are
        shared with ``geojson`` (read-only)."""
        fb = self.feature_bounds
        if fb is None or len(fb) != len(self.geojson["features"]):
            return self.geojson
        w, h = bbox[2] - bbox[0], bbox[3] - bbox[1]
        x0, y0, x1, y1 = bbox[0] - pad * w, bbox[1] - pad * h, bbox[2] + pad * w, bbox[3] + pad * h
        near = (fb[:, 0] <= x1) & (fb[:, 2] >= x0) & (fb[:, 1] <= y1) & (fb[:, 3] >= y0)
        features = self.geojson["features"]
        return {"type": "FeatureCollection", "features": [features[i] for i in np.flatnonzero(near)]}

    def overview(self, communities: Any, streets: Any = None) -> MapBase:
        """The district overview of this base: the same members and view, the ``communities`` (GeoDataFrame
        with community_id, street_id, name) as the choropleth's areas — or, when there are more than
        ``OVERVIEW_MAX_AREAS`` of them and ``streets`` (GeoDataFrame with street_id, name) is given, the streets.
        Feed rows still name grids."""
        by_street = streets is not None and len(communities) > OVERVIEW_MAX_AREAS
        areas, id_col = (streets, "street_id") if by_street else (communities, "community_id")
        gj = packed_geojson(compact_geojson(areas, id_col))
        rollup = (
            dict(zip(communities["community_id"].astype(str), communities["street_id"].astype(str), strict=True))
            if by_street
            else None
        )
        return MapBase(
            geojson=gj,
            grid_ids=[str(f["id"]) for f in gj["features"]],
            center=self.center,
            zoom=self.zoom,
            bounds=self.bounds,
            grid_names=[str(n) for n in areas["name"]],
            members=self.members,
            community_geojson=self.community_geojson,
            uirevision=self.uirevision + "-overview",
            grid_name_by_id=self.grid_name_by_id,
            level="street" if by_street else "community",
            rollup=rollup,
            tiles=self.tiles,
            display_crs=self.display_crs,
            label_points=label_points(areas),
        )

    @classmethod
    def from_geodataframes(
        cls,
        grids: Any,
        *,
        members: pd.DataFrame | None = None,
        micro_grids: Any = None,
        communities: Any = None,
        viewport: tuple[int, int] = WALL_MAP_VIEWPORT,
    ) -> MapBase:
        """From the demo layers (``grids`` with grid_id/name; optional micro_grids, communities, members)."""
        gj = packed_geojson(compact_geojson(grids, "grid_id"))
        names = [str(n) for n in grids["name"]] if "name" in grids.columns else None
        micro = packed_geojson(compact_geojson(micro_grids, "micro_grid_id")) if micro_grids is not None else None
        comm = packed_geojson(compact_geojson(communities, "community_id")) if communities is not None else None
        base = cls.from_geojson(
            gj,
            grid_names=names,
            members=members,
            micro_geojson=micro,
            community_geojson=comm,
            viewport=viewport,
        )
        base.feature_bounds = shapely.bounds(np.asarray(grids.geometry.values, dtype=object))
        return base


def label_points(gdf: Any) -> tuple[list[float], list[float]]:
    """A label point per polygon of ``gdf`` (GeoDataFrame): (lon list, lat list), degrees rounded to
    ``COORD_DECIMALS``. ``shapely.point_on_surface``: always inside the polygon, unlike a centroid."""
    pts = shapely.point_on_surface(np.asarray(gdf.geometry.values, dtype=object))
    xy = np.round(shapely.get_coordinates(pts), COORD_DECIMALS)
    return xy[:, 0].tolist(), xy[:, 1].tolist()


def area_count_text(counts: Sequence[int]) -> list[str]:
    """The text of the open-count labels: the count, or nothing for an area with none open (a map of zeros hides
    the few that matter)."""
    return [str(n) if n else "" for n in counts]


def _compact_members(members: pd.DataFrame | None) -> pd.DataFrame | None:
    """Keep only what the map needs: lon, lat, role, member_id (and on_duty if present); drop geometry."""
    if members is None:
        return None
    df = members
    if "lon" not in df.columns and "geometry" in df.columns:
        df = df.assign(lon=df.geometry.x, lat=df.geometry.y)
    cols = [c for c in ("member_id", "lon", "lat", "role", "on_duty") if c in df.columns]
    out = pd.DataFrame(df[cols]).reset_index(drop=True)
    out["lon"] = out["lon"].astype(float).round(COORD_DECIMALS)
    out["lat"] = out["lat"].astype(float).round(COORD_DECIMALS)
    return out


# ---- values (shared by the full build and the live Patch) ---------------------------------------------


def grid_fill_z(grid_ids: Sequence[str], grid_states: Mapping[str, Any]) -> list[int]:
    """GridState rank (0 clear … 3 overdue) per grid id, in ``grid_ids`` order; unknown → 0."""
    out = []
    for gid in grid_ids:
        s = grid_states.get(gid)
        try:
            out.append(GRID_STATE_RANK[GridState(str(s))] if s is not None else 0)
        except ValueError:
            out.append(0)
    return out


# Hover texts by their parts, per language (``_hovertext``); emptied past this many (a day's incidents fit).
HOVER_MEMO_MAX = 200_000
_HOVER_MEMO: dict[str, dict[tuple[str, ...], str]] = {}


def _texts(df: pd.DataFrame, name: str, default: str = "") -> list[str]:
    """Column ``name`` as strings (missing values and a missing column: ``default``)."""
    if name in df.columns:
        return df[name].fillna(default).astype(str).tolist()
    return [default] * len(df)


def _escaped(values: list[str]) -> list[str]:
    """``plotly_text`` of each value; most need nothing, so only those with ``& < >`` are rewritten."""
    return [plotly_text(v) if ("&" in v or "<" in v or ">" in v) else v for v in values]


def _labels(values: list[str], label: Callable[[str], str]) -> list[str]:
    """``label`` of each value, computed once per distinct value (a few statuses or categories over 10,000 rows)."""
    memo = {v: label(v) for v in set(values)}
    return [memo[v] for v in values]


def _hovertext(df: pd.DataFrame, lang: str) -> list[str]:
    """``<b>title</b><br>status · category<br>grid · HH:MM`` per row (masked: no names).

    Plain lists, not pandas string arithmetic: a console frame at city load builds 10,000 of these every tick, on
    the frame hub's thread (a pandas version took ~0.4 s of each console frame; this takes a few ms)."""
    if lang == "zh" and "category_label" in df.columns:
        cat = _texts(df, "category_label")
    else:
        cat = _labels(_texts(df, "category"), lambda c: i18n.category_label(c, lang))
    title = _escaped([t[:40] if t else c for t, c in zip(_texts(df, "title"), cat, strict=True)])
    status = _labels(_texts(df, "status"), lambda s: i18n.status_label(s, lang))
    ts = df["ts"].to_numpy(dtype=float, na_value=np.nan) if "ts" in df.columns else np.full(len(df), np.nan)
    hhmm = i18n.fmt_hhmm_many(ts)
    overdue_tag = " ⚠" + i18n.t("feed.overdue_tag", lang)
    if "overdue" in df.columns:
        tags = [overdue_tag if o else "" for o in df["overdue"].fillna(False).astype(bool).tolist()]
    else:
        tags = [""] * len(df)
    grid, ids = _escaped(_texts(df, "grid_id")), _escaped(_texts(df, "id"))
    # The same text object as last frame for an unchanged marker: the frame hub keys markers by their drawn values
    # (``list_edits.point_keys``) and compares them with the previous frame's, and an old string hashes and
    # compares at once (its hash is kept; equal objects are found by identity).
    memo = _HOVER_MEMO.setdefault(lang, {})
    if len(memo) > HOVER_MEMO_MAX:
        memo.clear()
    out = []
    for row in zip(title, tags, status, cat, grid, hhmm, ids, strict=True):
        text = memo.get(row)
        if text is None:
            t, g, s, c, gr, hm, i = row
            text = memo[row] = f"<b>{t}</b>{g}<br>{s} · {c}<br>{gr} · {hm}  #{i}"
        out.append(text)
    return out


def incident_trace_updates(
    incidents: pd.DataFrame | None, lang: str = "zh", *, hover: bool = True
) -> dict[int, dict[str, list[Any]]]:
    """Per incident-trace index: ``{"lon", "lat", "customdata" (incident ids), "hovertext"}``.

    Every index in ``INCIDENT_TRACES`` is present (empty lists when nothing matches) so a Patch can
    overwrite each trace wholesale. Cancelled incidents are not drawn. Halo/urgent cover open incidents only.
    ``hover=False`` (the wall has no hover) leaves ``hovertext`` out, roughly halving a live patch.
    """
    lang = i18n.norm_lang(lang)
    keys = ("lon", "lat", "customdata", "hovertext") if hover else ("lon", "lat", "customdata")
    out: dict[int, dict[str, list[Any]]] = {i: {k: [] for k in keys} for i in INCIDENT_TRACES}
    if incidents is None or len(incidents) == 0:
        return out
    df = incidents[incidents["lon"].notna() & incidents["lat"].notna()]
    # Every column once for all the rows, then each trace takes its rows (a halo or the urgent ring repeats rows
    # of the status traces: their texts are not built twice).
    columns: dict[str, np.ndarray] = {
        "lon": df["lon"].to_numpy(dtype=float).round(COORD_DECIMALS),
        "lat": df["lat"].to_numpy(dtype=float).round(COORD_DECIMALS),
        "customdata": np.asarray(df["id"].astype(str).tolist(), dtype=object),
    }
    if hover:
        columns["hovertext"] = np.asarray(_hovertext(df, lang), dtype=object)

    def points(rows: np.ndarray) -> dict[str, list[Any]]:
        return {k: columns[k][rows].tolist() for k in keys}

    status = df["status"].astype(str).to_numpy()
    for s, idx in TRACE_STATUS.items():
        out[idx] = points(status == s)
    is_open = np.isin(status, list(OPEN_STATUS_VALUES))
    if "overdue" in df.columns:
        out[TRACE_OVERDUE_HALO] = points(is_open & df["overdue"].fillna(False).astype(bool).to_numpy())
    urgent = (
        df["urgent"].fillna(False).astype(bool)
        if "urgent" in df.columns
        else (df["priority"].astype(str) == "urgent" if "priority" in df.columns else None)
    )
    if urgent is not None:
        out[TRACE_URGENT] = points(is_open & urgent.to_numpy(dtype=bool))
    return out


def member_points(
    members: pd.DataFrame | None, on_duty_only: bool = False, snapped: bool = False
) -> dict[str, list[Any]]:
    """lon/lat of the members layer (no names, no hover). ``snapped``: each position moved to its ~100 m cell's
    centre (``geo.privacy.snap_positions``), one point per occupied cell — what a wall shows."""
    if members is None or len(members) == 0:
        return {"lon": [], "lat": []}
    df = members
    if on_duty_only and "on_duty" in df.columns:
        df = df[df["on_duty"].fillna(False).astype(bool)]
    if snapped:
        x, y = snap_positions(df["lon"].to_numpy(dtype=float), df["lat"].to_numpy(dtype=float))
        cells = pd.DataFrame({"lon": np.round(x, COORD_DECIMALS), "lat": np.round(y, COORD_DECIMALS)}).drop_duplicates()
        return {"lon": cells["lon"].tolist(), "lat": cells["lat"].tolist()}
    return {"lon": df["lon"].tolist(), "lat": df["lat"].tolist()}


# ---- figure -------------------------------------------------------------------------------------------


def build_incident_map(
    base: MapBase,
    grid_z: Sequence[int],
    trace_updates: Mapping[int, Mapping[str, Any]],
    *,
    theme: Theme = "wall",
    lang: str = "zh",
    show_members: bool = True,
    show_micro_grids: bool = False,
    show_legend: bool | None = None,
    hover: bool | None = None,
    frame_token: str | None = None,
    area_counts: Sequence[int] = (),
    focus: tuple[float, float, float, float] | None = None,
    focus_key: str = "",
    outline: Mapping[str, Any] | None = None,
    member_ids: frozenset[str] | None = None,
) -> go.Figure:
    """The full map figure (geometry + current values). Trace order = the TRACE_* constants.

    ``member_ids``: the members that may be drawn (a confined actor's areas'); None: all. On the wall members are
    on duty only and snapped (``member_points``).

    ``focus``: the bbox (min lon, min lat, max lon, max lat) to frame instead of the whole data set (an area's;
    also in ``layout.meta.bounds`` for clients that fit it to their own viewport), ``focus_key`` naming it (the
    view's ``uirevision`` changes with it, so a drill-down moves the map and live updates keep the view);
    ``outline``: a GeoJSON line geometry drawn over the grids (the area's boundary).

    ``show_legend`` defaults to off (both screens draw an HTML legend: layouts.components.map_legend);
    ``hover`` defaults to the theme: off on the wall (display only), on in the console. ``frame_token``: the
    frame the values come from, in ``layout.meta.frame_token`` (live map edits name the frame they apply to).
    ``area_counts``: open incidents per area of an overview base (``Frame.area_counts``), written under each area's
    name; ignored for a base without ``label_points``.
    """
    lang = i18n.norm_lang(lang)
    th = THEMES[theme]
    legend_on = bool(show_legend)
    hover_on = (theme == "console") if hover is None else hover
    hovertemplate = "%{hovertext}<extra></extra>" if hover_on else None

    if focus is not None and base.display_crs == "gcj02":  # areas are WGS-84; the map is drawn shifted
        (x0, x1), (y0, y1) = wgs84_to_gcj02([focus[0], focus[2]], [focus[1], focus[3]])
        focus = (float(x0), float(y0), float(x1), float(y1))
    fig = go.Figure()
    fig.add_trace(
        go.Choroplethmap(
            geojson=base.geojson if focus is None else base.geojson_near(focus),
            locations=base.grid_ids,
            z=list(grid_z),
            zmin=0,
            zmax=3,
            colorscale=grid_colorscale(),
            showscale=False,
            marker={"opacity": th.grid_opacity, "line": {"width": 0.8, "color": th.grid_line}},
            text=base.grid_names if hover_on else None,
            hovertemplate="%{text}<extra></extra>" if hover_on and base.grid_names else None,
            hoverinfo=None if hover_on and base.grid_names else "skip",
            name=i18n.t("layer.grids", lang),
            showlegend=False,
        )
    )
    # sent once; the console toggles `visible` only. The wall: on-duty members only, snapped (no doorway, no id)
    members = base.members
    if member_ids is not None and members is not None and "member_id" in members.columns:
        members = members[members["member_id"].astype(str).isin(member_ids)]
    # a hidden trace carries no points: nothing shows it again (the layers' own members layer replaces it), and a
    # district's 100,000 invisible dots were 1–2 MB of every page load
    mp = member_points(members if show_members else None, on_duty_only=theme == "wall", snapped=theme == "wall")
    # A city has ~100,000 members: drawn one by one they stall a wall for seconds on every redraw. Past a
    # street's worth, MapLibre clusters them (counts at low zoom, points when zoomed in).
    clustered = len(mp["lon"]) > MEMBERS_CLUSTER_ABOVE
    fig.add_trace(
        go.Scattermap(
            lon=mp["lon"],
            lat=mp["lat"],
            mode="markers",
            marker={"size": th.member_size, "color": th.member_color, "opacity": 0.75},
            cluster={
                "enabled": True,
                "maxzoom": 15,
                "color": th.member_color,
                "opacity": 0.55,
                "size": [10, 16, 22],
                "step": [50, 500],
            }
            if clustered
            else None,
            hoverinfo="skip",
            name=i18n.t("legend.members", lang),
            showlegend=legend_on and bool(mp["lon"]),
            visible=show_members,
        )
    )
    for s, idx in TRACE_STATUS.items():
        u = trace_updates.get(idx, {})
        fig.add_trace(
            go.Scattermap(
                lon=u.get("lon", []),
                lat=u.get("lat", []),
                customdata=u.get("customdata", []),
                hovertext=u.get("hovertext", []) if hover_on else None,
                hovertemplate=hovertemplate,
                hoverinfo=None if hover_on else "skip",
                mode="markers",
                marker={"size": th.marker_size, "color": th.status_colors[s], "opacity": 0.95},
                name=i18n.status_label(s, lang),
                legendgroup=s,
                showlegend=legend_on,
            )
        )
    u = trace_updates.get(TRACE_OVERDUE_HALO, {})
    fig.add_trace(
        go.Scattermap(
            lon=u.get("lon", []),
            lat=u.get("lat", []),
            customdata=u.get("customdata", []),
            mode="markers",
            marker={"size": th.halo_size, "color": OVERDUE_COLOR, "opacity": 0.38},
            hoverinfo="skip",
            name=i18n.t("legend.overdue", lang),
            showlegend=legend_on,
        )
    )
    u = trace_updates.get(TRACE_URGENT, {})
    fig.add_trace(
        go.Scattermap(
            lon=u.get("lon", []),
            lat=u.get("lat", []),
            customdata=u.get("customdata", []),
            hovertext=u.get("hovertext", []) if hover_on else None,
            hovertemplate=hovertemplate,
            hoverinfo=None if hover_on else "skip",
            mode="markers",
            marker={"size": th.urgent_size, "color": URGENT_COLOR, "opacity": 0.9},
            name=i18n.t("legend.urgent", lang),
            showlegend=legend_on,
            meta={"pulse": True},  # hook: assets/pulse.js animates traces whose meta.pulse is true
        )
    )
    lon, lat = base.label_points
    # ≥ WALL_MIN_FONT_PX on both: the officials' page also goes up on a wall at 1080p; bold digits read at a glance
    count_size = 22 if theme == "wall" else WALL_MIN_FONT_PX
    counts = list(area_counts) if len(area_counts) == len(lon) else [0] * len(lon)
    fig.add_trace(
        go.Scattermap(
            lon=list(lon),
            lat=list(lat),
            mode="markers+text",
            text=area_count_text(counts),
            # under the area's name (place names: "middle center" at the same point); bold, in the focus colour
            textposition="bottom center",
            textfont={"size": count_size, "color": th.area_line, "weight": "bold"},
            # an invisible marker: plotly.js offsets "bottom" text by the marker's size (with mode "text" alone it
            # computes NaN and MapLibre rejects the whole text layer)
            marker={"size": count_size, "opacity": 0},
            hoverinfo="skip",
            name=i18n.t("legend.open_counts", lang),
            showlegend=False,
            meta={"counts": True},  # assets/onescreen.js: a halo, never hidden by a name (text-allow-overlap)
        )
    )

    layers: list[dict[str, Any]] = []
    # Only on request: the console draws micro-grids as a layer of figures.layers (outlines, names, leaders) and
    # the wall never shows them — ~180 KB of GeoJSON on the demo that every page load would parse.
    if base.micro_geojson is not None and show_micro_grids:
        layers.append(
            {
                "sourcetype": "geojson",
                "source": base.micro_geojson,
                "type": "line",
                "color": th.micro_line,
                "line": {"width": 0.6},
                "below": "traces",
                "visible": show_micro_grids,
                "name": "micro_grids",
            }
        )
    if outline is not None:
        layers.append(
            {
                "sourcetype": "geojson",
                "source": {"type": "Feature", "properties": {}, "geometry": dict(outline)},
                "type": "line",
                "color": th.area_line,
                "line": {"width": 3},
                "name": "area",
            }
        )
    viewport = WALL_MAP_VIEWPORT if theme == "wall" else CONSOLE_MAP_VIEWPORT
    center, zoom = (base.center, base.zoom) if focus is None else fit_view(focus, viewport)
    base_font = WALL_MIN_FONT_PX if theme == "wall" else 14
    uirevision = f"{base.uirevision}:{focus_key}" if focus_key else base.uirevision
    fig.update_layout(
        map={
            "style": map_style(theme, base.tiles),
            "center": center,
            "zoom": zoom,
            "layers": layers,
            "uirevision": uirevision,
        },
        uirevision=uirevision,
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        paper_bgcolor=th.background,
        plot_bgcolor=th.background,
        font={"family": FONT_FAMILY, "color": th.text, "size": base_font},
        showlegend=legend_on,
        legend={
            "bgcolor": th.legend_bg,
            "bordercolor": th.legend_border,
            "borderwidth": 1,
            "x": 0.01,
            "y": 0.01,
            "xanchor": "left",
            "yanchor": "bottom",
            "itemsizing": "constant",
            # the wall's legend inherits the figure's font, which assets/onescreen.js scales with the stage
            "font": {"color": th.text} if theme == "wall" else {"size": 13, "color": th.text},
            "title": {"text": i18n.t("legend.incidents", lang)},
        },
        hoverlabel={"bgcolor": th.hover_bg, "font": {"family": FONT_FAMILY, "size": 13}},
        clickmode="event",
        dragmode="pan",
        # read by assets/onescreen.js to scale a wall beyond 1920×1080 (zoom + log2(scale), sizes × scale)
        meta={
            "base_zoom": zoom,
            # the area the wall frames in its own map box, client-side: [west, south, east, north] (as drawn)
            "bounds": [round(float(v), 6) for v in (focus or base.bounds)],
            "base_font_size": base_font,
            "marker_sizes": {
                str(i): fig.data[i].marker.size for i in (TRACE_MEMBERS, *INCIDENT_TRACES, TRACE_AREA_COUNTS)
            },
            "text_sizes": {str(TRACE_AREA_COUNTS): count_size},  # scaled with the stage like the markers
            # read by assets/onescreen.js to apply live map edits in place (see push.map_edit)
            "frame_token": frame_token,
            "grid_colors": [GRID_STATE_COLORS[str(s)] for s in GRID_STATE_ORDER],  # by rank, = grid_colorscale()
            "text_halo": text_halo(theme),  # assets/onescreen.js paints it on the map's text
        },
    )
    return fig
