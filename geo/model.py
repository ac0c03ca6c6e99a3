"""The static geo layers as the program uses them: ``GeoLayers``, every layer complete and valid, EPSG:4326.

Pure: ``GeoLayers.from_frames`` normalises (``geo.normalise``), puts frames in EPSG:4326 (``geo.crs``), checks
the contract (``geo.validate``) and builds; reading is ``geo.sources`` (through ``geo.io``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields

import geopandas as gpd
from pyproj import CRS

from geo.crs import to_wgs84
from geo.normalise import empty_layer, normalise_layer
from geo.problems import GeoValidationError, Problem
from geo.validate import LAYER_NAMES, LAYER_SPECS, validate_layer, validate_links

__all__ = ["LAYER_NAMES", "GeoLayers", "utm_crs_for"]


@dataclass(frozen=True, eq=False)  # eq=False: hash by identity, so instances can key caches
class GeoLayers:
    """Every layer of docs/ARCHITECTURE.md as an EPSG:4326 GeoDataFrame, plus a metric CRS for distances."""

    street: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    micro_grids: gpd.GeoDataFrame
    members: gpd.GeoDataFrame
    households: gpd.GeoDataFrame
    volunteer_teams: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    party_orgs: gpd.GeoDataFrame
    responsibility_zones: gpd.GeoDataFrame
    basic_units: gpd.GeoDataFrame  # optional in the data: empty when not given
    metric_crs: CRS

    def layer(self, name: str) -> gpd.GeoDataFrame:
        """The layer called ``name`` (one of ``LAYER_NAMES``); ``KeyError`` for any other name."""
        if name not in LAYER_NAMES:
            raise KeyError(name)
        frame: gpd.GeoDataFrame = getattr(self, name)
        return frame

    @classmethod
    def from_frames(
        cls,
        frames: Mapping[str, gpd.GeoDataFrame],
        source: str = "<memory>",
        origins: Mapping[str, str] | None = None,
        problems: Iterable[Problem] = (),
    ) -> GeoLayers:
        """Normalise, reproject and validate frames (e.g. ``geo.synthetic.build()``, or what a reader made).

        ``frames``: layer name → GeoDataFrame with a CRS; ``origins`` names the file/layer each came from, for
        messages; ``problems`` are what was found before (reading), kept in the error. Every layer of
        ``LAYER_NAMES`` is required (a layer with an error in ``problems`` is not reported missing again) except
        the optional ones (``LayerSpec.optional``: ``basic_units``), which are empty when absent.
        Raises one ``GeoValidationError`` listing every problem (missing layers/columns/CRS, empty, invalid or
        wrong-type geometry, missing/duplicate ids, dangling references) when any is an error.
        """
        found = list(problems)
        where = dict(origins or {})
        reported = {p.layer for p in found if p.is_error}
        out: dict[str, gpd.GeoDataFrame] = {}
        for name in LAYER_NAMES:
            if name not in frames and LAYER_SPECS[name].optional and name not in reported:
                out[name] = empty_layer(name)
                found.append(Problem(name, "", f"optional layer not in {source}: empty", "optional_layer", "info",
                                     source))  # fmt: skip
                continue
            if name not in frames:
                if name not in reported:
                    found.append(Problem(name, "", f"layer missing in {source}", "missing_layer", file=source))
                continue
            file = where.get(name, source)
            frame, more = normalise_layer(name, frames[name], file)
            wgs, crs_problems = to_wgs84(frame, name, file)
            found += more + crs_problems
            found += validate_layer(name, frame if wgs is None else wgs, file)
            if wgs is not None:
                out[name] = wgs
        found += validate_links(out, where)
        if any(p.is_error for p in found) or len(out) != len(LAYER_NAMES):
            raise GeoValidationError(source, found)
        return cls(**out, metric_crs=utm_crs_for(out["street"]))


def utm_crs_for(gdf: gpd.GeoDataFrame) -> CRS:
    """The UTM zone (WGS 84, EPSG:326zz north / 327zz south) of the layer's bounding-box centre: zone =
    ⌊(lon + 180) / 6⌋ + 1. Metres with < 0.1 % scale error near the zone's centre (EPSG:32651 for Hangzhou).
    ``gdf`` in EPSG:4326; its bounds must be finite."""
    minx, miny, maxx, maxy = gdf.total_bounds
    lon, lat = (minx + maxx) / 2, (miny + maxy) / 2
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + int((lon + 180) // 6) % 60 + 1)


assert {f.name for f in fields(GeoLayers)} == {*LAYER_NAMES, "metric_crs"}
