"""``onescreen.toml``: which file/table each layer comes from and how its columns map to ours (the model and its
checks; reading the file is ``geo.sources.load_config``).

```toml
[street]
name = "示例街道"                 # shown when no street layer is given

[defaults]                       # for every layer that does not say otherwise
assume_crs = "EPSG:4549"         # used only where a file has no CRS
encoding = "GB18030"             # Shapefile text encoding (detected when absent)
crs_hint = "gcj02"               # GCJ-02 (Amap/Tencent/DataV) or "bd09" (Baidu Map): converted to WGS-84
towgs84 = "15.8,-154.4,-82.3"    # Beijing 1954 / Xi'an 1980: the local 3- or 7-parameter transformation to WGS 84

[validate]                       # report tolerances
overlap_m2 = 1.0                 # sibling overlaps above this are reported
gap_m2 = 10.0                    # gaps against the parent (or holes between siblings) above this
outside_m2 = 10.0                # a child's area outside its parent above this
sliver_width_m = 0.5             # --fix: gaps/overlaps narrower than this are snapped away

[layers.grids]                   # the only required layer
source = "export/网格.shp"        # relative to this file: .gpkg .geojson .json .shp .zip .fgb, or postgresql://…
layer = "grids"                  # layer in a GeoPackage, member of a zip (optional)
[layers.grids.columns]           # the file's name = ours
"网格编号" = "grid_id"
"网格名称" = "name"
"所属社区" = "community_id"       # ids, or names (resolved by name when unique)

[layers.members]
source = "postgresql://gis@db.example/grid"
table = "public.party_members"   # or: query = "SELECT … FROM …"
geometry_column = "geom"         # default: found in geometry_columns
```
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geo.crs import CRS_HINTS, WGS84, parse_crs, with_towgs84
from geo.problems import ConfigError
from geo.validate import LAYER_NAMES, LAYER_SPECS

__all__ = ["Config", "ConfigError", "LayerSource", "Tolerances", "config_from_dict", "missing_required"]

REQUIRED_LAYERS: tuple[str, ...] = ("grids",)
FILE_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".zip", ".fgb")
_LAYER_KEYS = {
    "source",
    "layer",
    "table",
    "query",
    "geometry_column",
    "encoding",
    "assume_crs",
    "crs_hint",
    "towgs84",
    "columns",
}
_DEFAULT_KEYS = {"encoding", "assume_crs", "crs_hint", "towgs84"}
# Layer names people write, besides ours.
_LAYER_ALIASES = {
    "micro-grids": "micro_grids",
    "teams": "volunteer_teams",
    "zones": "responsibility_zones",
    "basic-units": "basic_units",
}


@dataclass(frozen=True)
class Tolerances:
    """Thresholds of the validation report (``[validate]`` in onescreen.toml): areas in m², widths in metres,
    measured in the data's UTM zone (``geo.model.utm_crs_for``)."""

    overlap_m2: float = 1.0
    gap_m2: float = 10.0
    outside_m2: float = 10.0
    sliver_width_m: float = 0.5


@dataclass(frozen=True)
class LayerSource:
    """Where one of our layers comes from."""

    layer: str  # ours: grids, communities …
    source: str  # absolute path, or a postgresql:// URL
    source_layer: str | None = None  # layer in a GeoPackage / member of a zip
    table: str | None = None
    query: str | None = None
    geometry_column: str | None = None
    encoding: str | None = None
    assume_crs: str | None = None
    crs_hint: str | None = None
    towgs84: str | None = None  # the local datum transformation, "dx,dy,dz[,rx,ry,rz,ds]" (geo.crs.with_towgs84)
    columns: dict[str, str] = field(default_factory=dict)  # theirs → ours

    @property
    def is_postgis(self) -> bool:
        """Whether ``source`` is a ``postgresql://`` / ``postgres://`` / ``postgresql+driver://`` URL."""
        return self.source.startswith(("postgresql:", "postgres:", "postgresql+"))

    @property
    def label(self) -> str:
        """The file (and layer/table) for messages; a database password is never shown."""
        if self.is_postgis:
            url = re.sub(r"//([^:@/]*):[^@/]*@", r"//\1:***@", self.source)
            return f"{url} {'table ' + self.table if self.table else 'query'}"
        return f"{self.source}, layer {self.source_layer!r}" if self.source_layer else self.source


@dataclass(frozen=True)
class Config:
    """A checked onescreen.toml (or one made for a bare data path): our layer name → ``LayerSource``."""

    path: Path | None  # None for a config made from a bare data path
    layers: dict[str, LayerSource]
    street_name: str = ""
    tolerances: Tolerances = Tolerances()
    origin: str = ""  # the data path a config was made for

    @property
    def label(self) -> str:
        """The config file or data path, for messages (else the sources' labels)."""
        if self.path or self.origin:
            return str(self.path or self.origin)
        return ", ".join(sorted({s.label for s in self.layers.values()}))


def _resolve(base: Path, source: str) -> str:
    if source.startswith(("postgresql:", "postgres:", "postgresql+")):
        return source
    p = Path(source).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def config_from_dict(
    data: dict[str, Any],
    base: Path,
    path: Path | None = None,
    *,
    encoding: str | None = None,
    assume_crs: str | None = None,
    crs_hint: str | None = None,
    require: bool = True,
    origin: str = "",
) -> Config:
    """A ``Config`` from onescreen.toml's parsed contents (format: the module doc). ``base``: the folder relative
    sources are resolved against; ``path``: the file, for messages; the keyword options override the file as in
    ``geo.sources.load_config``; ``require``: whether ``grids`` must be configured; ``origin``: the data path a
    config was made for. Raises one ``ConfigError`` listing every problem (unknown sections/keys/layers/columns,
    missing sources, bad CRS/encoding/crs_hint, files that do not exist or are of an unsupported type)."""
    errors: list[str] = []
    unknown_top = set(data) - {"layers", "defaults", "street", "validate"}
    if unknown_top:
        errors.append(f"unknown sections {sorted(unknown_top)} (known: layers, defaults, street, validate)")
    defaults = dict(data.get("defaults", {}))
    if set(defaults) - _DEFAULT_KEYS:
        errors.append(f"[defaults]: unknown keys {sorted(set(defaults) - _DEFAULT_KEYS)}")
    try:
        tolerances = Tolerances(**{k: float(v) for k, v in data.get("validate", {}).items()})
    except (TypeError, ValueError) as exc:
        errors.append(f"[validate]: {exc}")
        tolerances = Tolerances()
    layers: dict[str, LayerSource] = {}
    for raw_name, spec in dict(data.get("layers", {})).items():
        name = _LAYER_ALIASES.get(raw_name, raw_name)
        if name not in LAYER_SPECS:
            errors.append(f"[layers.{raw_name}]: unknown layer (known: {', '.join(LAYER_NAMES)})")
            continue
        if not isinstance(spec, dict):
            errors.append(f"[layers.{raw_name}]: must be a table with source = …")
            continue
        if set(spec) - _LAYER_KEYS:
            errors.append(f"[layers.{raw_name}]: unknown keys {sorted(set(spec) - _LAYER_KEYS)}")
        if not spec.get("source"):
            errors.append(f"[layers.{raw_name}]: source = … is missing")
            continue
        merged = {**defaults, **spec}
        if encoding:
            merged["encoding"] = encoding
        if assume_crs and not merged.get("assume_crs"):
            merged["assume_crs"] = assume_crs
        if crs_hint:
            merged["crs_hint"] = crs_hint
        src = LayerSource(
            layer=name,
            source=_resolve(base, str(spec["source"])),
            source_layer=spec.get("layer"),
            table=spec.get("table"),
            query=spec.get("query"),
            geometry_column=spec.get("geometry_column"),
            encoding=merged.get("encoding"),
            assume_crs=merged.get("assume_crs"),
            crs_hint=merged.get("crs_hint"),
            towgs84=str(merged["towgs84"]) if merged.get("towgs84") else None,
            columns={str(k): str(v) for k, v in dict(spec.get("columns", {})).items()},
        )
        errors += _check_layer(raw_name, src)
        layers[name] = src
    if require and (message := missing_required(layers)):
        errors.append(message)
    if errors:
        raise ConfigError(str(path or base), errors)
    return Config(path, layers, str(data.get("street", {}).get("name", "")), tolerances, origin)


def missing_required(layers: dict[str, Any]) -> str | None:
    """The message for a data set without the layers the dashboard cannot run without (None if complete)."""
    missing = [n for n in REQUIRED_LAYERS if n not in layers]
    if not missing:
        return None
    return (
        f"required layer {', '.join(missing)} not configured: add [layers.grids] with source = … "
        f"(every other layer is optional: {', '.join(n for n in LAYER_NAMES if n not in REQUIRED_LAYERS)})"
    )


def _check_layer(raw_name: str, src: LayerSource) -> list[str]:
    errors = []
    known = LAYER_SPECS[src.layer].columns
    for theirs, ours in src.columns.items():
        if ours not in known:
            errors.append(f"[layers.{raw_name}.columns]: {theirs!r} maps to unknown column {ours!r} (known: {known})")
    if src.crs_hint not in (None, *CRS_HINTS):
        errors.append(f"[layers.{raw_name}]: crs_hint must be one of {CRS_HINTS}, not {src.crs_hint!r}")
    try:
        parse_crs(src.assume_crs)
    except ValueError as exc:
        errors.append(f"[layers.{raw_name}]: assume_crs: {exc}")
    if src.towgs84:
        try:
            with_towgs84(WGS84, src.towgs84)
        except ValueError as exc:
            errors.append(f"[layers.{raw_name}]: {exc}")
    if src.encoding:
        try:
            codecs.lookup(src.encoding)
        except LookupError:
            errors.append(f"[layers.{raw_name}]: unknown encoding {src.encoding!r}")
    if src.is_postgis and not (src.table or src.query):
        errors.append(f"[layers.{raw_name}]: a postgresql:// source needs table = … or query = …")
    if not src.is_postgis:
        if not Path(src.source).exists():
            errors.append(f"[layers.{raw_name}]: {src.source} does not exist")
        elif Path(src.source).suffix.lower() not in FILE_SUFFIXES and not Path(src.source).is_dir():
            errors.append(f"[layers.{raw_name}]: {src.source}: unsupported file type (use {', '.join(FILE_SUFFIXES)})")
    return errors
