"""Coordinate reference systems of users' files: to EPSG:4326, GCJ-02 when declared, and clear advice when unknown.

Any CRS pyproj knows is reprojected (CGCS2000 / Beijing 1954 / Xi'an 1980 Gauss-Krüger, UTM, a custom Lambert in a
``.prj``). A layer without a CRS is an error naming the file, with ``--assume-crs`` (``assume_crs`` in the config)
as the way out and a guess from the coordinates' range. GCJ-02 ("Mars coordinates" of Amap/Tencent/DataV exports)
and BD-09 (Baidu Map's, ``geo.bd09``) are not CRSs pyproj knows: declare them (``crs_hint = "gcj02"`` /
``"bd09"``) and the coordinates are shifted to WGS-84. Exports of Chinese map services carry fingerprints of their
coordinate system (``datum_fingerprint``): a layer read without a hint that carries one is a warning naming it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.crs import BoundCRS
from pyproj.crs.coordinate_operation import ToWGS84Transformation
from pyproj.exceptions import CRSError
from pyproj.transformer import AreaOfInterest

from geo.bd09 import bd09_to_wgs84
from geo.gcj02 import gcj02_to_wgs84
from geo.problems import Problem

WGS84 = CRS.from_epsg(4326)
CRS_HINTS = ("gcj02", "bd09", "wgs84")
# What each hint is, for messages.
HINT_NAMES = {"gcj02": "GCJ-02 (Amap/Tencent/DataV)", "bd09": "BD-09 (Baidu Map)", "wgs84": "WGS-84"}


def parse_crs(text: str | int | None) -> CRS | None:
    """``"EPSG:4549"``, ``4549``, a PROJ string or WKT → CRS (``ValueError`` with the text if unknown)."""
    if text is None or text == "":
        return None
    try:
        return CRS.from_user_input(int(text) if isinstance(text, str) and text.isdigit() else text)
    except CRSError as exc:
        raise ValueError(f"unknown CRS {text!r}: {exc}") from exc


def describe(crs: CRS) -> str:
    """``EPSG:4549 (CGCS2000 / 3-degree Gauss-Kruger CM 120E)``, or the CRS's name when it has no EPSG code
    (matched with ≥ 70 % confidence)."""
    epsg = crs.to_epsg(min_confidence=70)
    return f"EPSG:{epsg} ({crs.name})" if epsg else crs.name


def guess_crs(bounds: np.ndarray) -> str:
    """A likely CRS for coordinates with these bounds, in words (for the missing-CRS message); "" if none.

    ``bounds``: ``(minx, miny, maxx, maxy)`` in the file's unknown units. Degrees when inside ±180/±90. Else, for
    metres with a northing in China (2e5…6.5e6 m), the easting's leading digits as a Gauss-Krüger zone number
    (the Chinese convention of prefixing the false easting with the zone): zones 25–45 are 3-degree zones,
    EPSG:4513–4533 (CGCS2000) / EPSG:2401–2421 (Beijing 1954); zones 13–23 are 6-degree zones, EPSG:4491–4501
    (CGCS2000), all from the EPSG registry; x of 1.1–1.56e7 m may also be Web Mercator (EPSG:3857) or Baidu's
    BD-09MC. Eastings below 1e6 m carry no zone: a central-meridian CRS or UTM.
    """
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    if not np.isfinite([minx, miny, maxx, maxy]).all():
        return ""
    if -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90:
        return "the coordinates look like degrees: EPSG:4326 (or declare crs_hint = 'gcj02' for Amap exports)"
    if 2e5 <= miny <= 6.5e6:  # a northing in China
        zone = int(minx // 1e6)
        if 25 <= zone <= 45 and int(maxx // 1e6) == zone:
            return (
                f"the eastings carry zone number {zone}: 3-degree Gauss-Krüger zone {zone}, "
                f"EPSG:{4513 + zone - 25} (CGCS2000) or EPSG:{2401 + zone - 25} (Beijing 1954)"
            )
        mercator = (
            "; or, with x 1.1–1.56e7 m, Web Mercator (EPSG:3857) — Baidu's own Mercator (BD-09MC) is not a CRS: "
            "export degrees from Baidu and set crs_hint = 'bd09'"
            if 1.1e7 <= minx <= maxx <= 1.56e7
            else ""
        )
        if 13 <= zone <= 23 and int(maxx // 1e6) == zone:
            return (
                f"the eastings carry zone number {zone}: 6-degree Gauss-Krüger, EPSG:{4491 + zone - 13} (CGCS2000)"
                + mercator
            )
        if 0 <= minx <= maxx <= 1e6:
            return (
                "metres without a zone number: a Gauss-Krüger central meridian or UTM zone, e.g. EPSG:4549 "
                "(CGCS2000 CM 120E), EPSG:4550 (CM 123E) or EPSG:32651 (UTM 51N)"
            )
    return ""


def to_wgs84(
    gdf: gpd.GeoDataFrame,
    layer: str,
    file: str,
    assume_crs: str | None = None,
    crs_hint: str | None = None,
    towgs84: str | None = None,
) -> tuple[gpd.GeoDataFrame | None, list[Problem]]:
    """The frame in EPSG:4326 (``None`` when its CRS is unknown or implausible), and what was done or found.

    ``assume_crs`` (any ``parse_crs`` input) is used only when the frame has no CRS (note ``crs_assumed``); no CRS
    at all is a ``missing_crs`` error with a ``guess_crs`` hint; a geographic CRS whose bounds exceed ±180/±90 is a
    ``crs_mismatch`` error; any other CRS is reprojected with pyproj (note ``reprojected``); ``crs_hint="gcj02"``
    / ``"bd09"`` then shifts every vertex GCJ-02 / BD-09 → WGS-84 (``geo.gcj02``, ``geo.bd09``).
    ``layer``/``file`` name the source in problems.
    Raises ``ValueError`` for an unknown ``crs_hint`` or ``assume_crs``.
    """
    problems: list[Problem] = []
    crs = gdf.crs
    if crs is None and assume_crs and (assumed := parse_crs(assume_crs)) is not None:
        crs = assumed
        note = f"no CRS in the file; assumed {describe(assumed)}"
        problems.append(Problem(layer, "", note, "crs_assumed", "info", file))
    if crs is None:
        hint = guess_crs(gdf.total_bounds) if len(gdf) else ""
        problems.append(
            Problem(
                layer,
                "",
                f"missing CRS: {file} has no CRS (no .prj, no crs member, no SRID): pass --assume-crs EPSG:XXXX "
                f"(assume_crs in onescreen.toml){'; ' + hint if hint else ''}",
                "missing_crs",
                "error",
                file,
            )
        )
        return None, problems
    crs = CRS(crs)
    out = gdf.set_crs(crs, allow_override=True)
    if crs.is_geographic and len(gdf):
        minx, miny, maxx, maxy = gdf.total_bounds
        if np.isfinite([minx, maxx]).all() and (abs(minx) > 180 or abs(maxx) > 180 or abs(miny) > 90 or abs(maxy) > 90):
            hint = guess_crs(gdf.total_bounds)
            problems.append(
                Problem(
                    layer,
                    "",
                    f"{file} declares {describe(crs)} but its coordinates are not degrees "
                    f"({minx:.0f}…{maxx:.0f}, {miny:.0f}…{maxy:.0f}){'; ' + hint if hint else ''}",
                    "crs_mismatch",
                    "error",
                    file,
                )
            )
            return None, problems
    if towgs84:
        crs = with_towgs84(crs, towgs84)
        note = f"the local transformation towgs84 = {towgs84!r} given for {describe(crs.source_crs or crs)}"
        problems.append(Problem(layer, "", note, "towgs84", "info", file))
    if not crs.equals(WGS84, ignore_axis_order=True):
        out, how = _reproject(out, crs)
        problems.append(Problem(layer, "", f"reprojected from {describe(crs)} to EPSG:4326 ({how.text})", "reprojected",
                                "info", file))  # fmt: skip
        if how.ballpark and how.datum not in NEGLIGIBLE_DATUMS:
            problems.append(Problem(layer, "", ballpark_message(how.datum, layer), "datum_ballpark", "warning", file))
    else:
        out = out.set_crs(WGS84, allow_override=True)
    if crs_hint == "gcj02":
        out = out.set_geometry(from_gcj02(np.asarray(out.geometry.values, dtype=object)), crs=WGS84)
        problems.append(Problem(layer, "", "GCJ-02 coordinates converted to WGS-84", "gcj02_converted", "info", file))
    elif crs_hint == "bd09":
        out = out.set_geometry(from_bd09(np.asarray(out.geometry.values, dtype=object)), crs=WGS84)
        problems.append(Problem(layer, "", "BD-09 coordinates converted to WGS-84", "bd09_converted", "info", file))
    elif crs_hint not in (None, "", "wgs84"):
        raise ValueError(f"crs_hint must be one of {CRS_HINTS}, not {crs_hint!r}")
    return out, problems


# Datums PROJ's ballpark (null) transformation to WGS 84 is good for at the metre level: CGCS2000 and the
# WGS 84/ITRF realisations agree within centimetres to decimetres.
NEGLIGIBLE_DATUMS = {"China 2000", "China Geodetic Coordinate System 2000", "World Geodetic System 1984"}


@dataclass(frozen=True)
class Reprojection:
    """How a layer was reprojected: PROJ's operation in words, whether it was the ballpark fallback, the datum."""

    text: str
    ballpark: bool
    datum: str


def ballpark_message(datum: str, layer: str) -> str:
    """The ``datum_ballpark`` warning: accuracy and the way to give the local parameters."""
    return (
        f"PROJ knows no transformation from {datum} to WGS 84 here and used its ballpark offset (accuracy unknown: "
        f"typically 30–100 m for Beijing 1954 / Xi'an 1980 in eastern China); give the local parameters from your "
        f'surveying bureau as towgs84 = "dx,dy,dz,rx,ry,rz,ds" for {layer} in onescreen.toml (or reproject the data '
        "to CGCS2000, EPSG:4490/4549, with them)"
    )


def with_towgs84(crs: CRS, params: str) -> CRS:
    """``crs`` bound to WGS 84 by the given 3- or 7-parameter Helmert transformation (``+towgs84`` convention:
    dx dy dz in metres, rx ry rz in arc-seconds, ds in ppm). Raises ``ValueError`` for anything but 3 or 7
    numbers."""
    values = [float(v) for v in params.replace(" ", "").split(",") if v]
    if len(values) not in (3, 7):
        raise ValueError(f"towgs84 needs 3 or 7 numbers (dx,dy,dz[,rx,ry,rz,ds]), not {params!r}")
    if crs.is_bound:
        crs = crs.source_crs or crs
    geodetic = crs.geodetic_crs or crs
    return BoundCRS(source_crs=crs, target_crs=WGS84, transformation=ToWGS84Transformation(geodetic, *values))


def _reproject(gdf: gpd.GeoDataFrame, crs: CRS) -> tuple[gpd.GeoDataFrame, Reprojection]:
    """``gdf`` (in ``crs``) in EPSG:4326 with the transformation PROJ finds best *for the data's area* (a
    datum's transformations are each valid in one region), and which one it was."""
    datum = (crs.source_crs if crs.is_bound and crs.source_crs else crs).geodetic_crs
    datum_name = datum.datum.name if datum is not None and datum.datum is not None else crs.name
    rough = Transformer.from_crs(crs, WGS84, always_xy=True)
    area = None
    if len(gdf) and np.isfinite(gdf.total_bounds).all():
        xs, ys = rough.transform(gdf.total_bounds[[0, 2, 0, 2]], gdf.total_bounds[[1, 1, 3, 3]])
        if np.isfinite(xs).all() and np.isfinite(ys).all():
            area = AreaOfInterest(float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys)))
    best = Transformer.from_crs(crs, WGS84, always_xy=True, area_of_interest=area)
    moved = shifted(np.asarray(gdf.geometry.values, dtype=object), best.transform)
    out = gdf.set_geometry(gpd.GeoSeries(moved, index=gdf.index, crs=WGS84), crs=WGS84)
    steps = [s for s in best.description.split(" + ") if not s.startswith(("axis order", "Inverse of"))]
    accuracy = f", accuracy {best.accuracy:g} m" if best.accuracy and best.accuracy > 0 else ""
    text = "; ".join(steps) + accuracy if steps else "a conversion"
    return out, Reprojection(text, "ballpark" in best.description.lower(), datum_name)


def shifted(geoms: np.ndarray, fn: Callable[[Any, Any], tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Every vertex of ``geoms`` (shape (n,) of shapely geometries) moved by ``fn(lon, lat) -> (lon, lat)``
    (vectorised over all vertices at once)."""

    def move(xy: np.ndarray) -> np.ndarray:
        x, y = fn(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return np.asarray(shapely.transform(geoms, move), dtype=object)


def from_gcj02(geoms: np.ndarray) -> np.ndarray:
    """GCJ-02 → WGS-84 for every vertex (vectorised)."""
    return shifted(geoms, gcj02_to_wgs84)


def from_bd09(geoms: np.ndarray) -> np.ndarray:
    """BD-09 → WGS-84 for every vertex (vectorised)."""
    return shifted(geoms, bd09_to_wgs84)


# Words in a file name that say which coordinates it holds (lower-cased; the Chinese as people name files).
_NAME_TOKENS: tuple[tuple[str, str], ...] = (
    (r"bd-?09|baidu|百度", "bd09"),
    (r"gcj-?02|amap|gaode|autonavi|高德|火星|tencent|腾讯|datav", "gcj02"),
)
# DataV.GeoAtlas (Aliyun's boundary service, GCJ-02) writes these properties on every feature.
_DATAV_COLUMNS = {"adcode", "level", "parent"}
_DATAV_ANY = {"centroid", "center", "childrenNum", "acroutes", "subFeatureIndex"}
# A column some exports keep the coordinate type in (Baidu's APIs call it coordtype: bd09ll, gcj02ll, wgs84ll).
COORD_COLUMNS = ("coordtype", "coord_type", "coordsys", "coord_sys", "坐标系")


def datum_fingerprint(file: str, columns: list[str], values: dict[str, list[Any]]) -> tuple[str, str] | None:
    """A Chinese map service's fingerprint of its coordinate system, if the layer carries one: ``(hint, why)``
    with ``hint`` ``"gcj02"`` or ``"bd09"`` and ``why`` in words; ``None`` without one.

    Checked (strongest first): a coordinate-type column (``coordtype`` … = ``bd09ll``/``gcj02``); DataV.GeoAtlas'
    property set (``adcode``, ``level``, ``parent`` and one of ``centroid``/``center``/``childrenNum``/
    ``acroutes``: its boundaries are GCJ-02); the file name (``网格_bd09.geojson``, ``…_gaode.shp``).
    ``columns``: the layer's column names; ``values``: up to a few values of the coordinate-type columns."""
    for col in COORD_COLUMNS:
        for v in values.get(col, []):
            text = str(v).strip().lower()
            if text.startswith(("bd09", "bd-09", "baidu")):
                return "bd09", f"its {col} column says {v!r}"
            if text.startswith(("gcj02", "gcj-02", "gcj")):
                return "gcj02", f"its {col} column says {v!r}"
    if set(columns) >= _DATAV_COLUMNS and _DATAV_ANY & set(columns):
        return "gcj02", "its properties (adcode, level, parent, centroid …) are DataV.GeoAtlas', which is GCJ-02"
    name = file.replace("\\", "/").rsplit("/", 1)[-1].lower()
    for pattern, hint in _NAME_TOKENS:
        if m := re.search(pattern, name):
            return hint, f"its file name says {m.group(0)!r}"
    return None
