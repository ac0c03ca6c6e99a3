"""The loading pipeline: what to read (a config) → read (``geo.io``) → normalise, complete, validate → layers.

One pipeline, two strictnesses:

* ``load_layers(data_path, config_path)`` — the one function servers call. A complete GeoPackage (every layer,
  like the demo data) is read strictly, as ``read_layers``; anything else (``onescreen.toml``, a folder, one
  file) is completed by ``geo.dataset`` (only ``grids`` required; defaults for missing layers/columns).
* ``read_layers(path)`` — strict: every layer and column of docs/ARCHITECTURE.md must be there, except the optional
  ones (``geo.validate.LayerSpec``: ``basic_units``, a micro-grid's ``leader_id``, ``force_kind``).
* ``build_dataset(config)`` — read + complete, every problem collected (the validation report starts here).

Both raise one ``GeoValidationError`` listing every error; reading, normalising (``geo.normalise``) and checking
(``geo.validate``) are the same code on both paths.
"""

from __future__ import annotations

import logging
from pathlib import Path

from tqdm import tqdm

from geo.config import Config, ConfigError, config_from_dict, missing_required
from geo.dataset import DataSet, complete
from geo.io import LoadedLayer, discover, list_layers, read_source, read_toml
from geo.model import GeoLayers
from geo.problems import GeoValidationError, Problem
from geo.validate import LAYER_NAMES, REQUIRED_LAYER_NAMES

log = logging.getLogger(__name__)

__all__ = [
    "ConfigError",
    "build_dataset",
    "config_for_path",
    "load_config",
    "load_layers",
    "read_all",
    "read_layers",
    "resolve_config",
    "servable",
    "serve_check",
]


def load_config(
    path: str | Path, *, encoding: str | None = None, assume_crs: str | None = None, crs_hint: str | None = None
) -> Config:
    """Read and check ``onescreen.toml`` (format: ``geo.config``); the keyword arguments (CLI options) override
    the file's settings (``assume_crs`` only fills in where a layer has none). Source paths are relative to the
    file. Raises ``FileNotFoundError``, or one ``ConfigError`` listing every problem of the file."""
    path = Path(path)
    data = read_toml(path)
    return config_from_dict(data, path.parent, path, encoding=encoding, assume_crs=assume_crs, crs_hint=crs_hint)


def config_for_path(
    path: str | Path,
    *,
    layer: str | None = None,
    encoding: str | None = None,
    assume_crs: str | None = None,
    crs_hint: str | None = None,
) -> Config:
    """A config for a bare data path: a GeoPackage or folder whose layers/files carry our layer names, or one
    file (read as ``layer``, default ``grids``; in a GeoPackage: its only layer, or the one called ``layer``).
    Raises ``FileNotFoundError``, ``ConfigError`` (nothing to read), pyogrio's ``DataSourceError`` (not a file
    GDAL can open)."""
    src = Path(path).expanduser()
    if not src.exists():
        raise FileNotFoundError(src)
    src = src.resolve()
    if src.is_dir():
        layers = discover(src)
        if not layers:
            raise ConfigError(str(src), [f"no file named after a layer ({', '.join(LAYER_NAMES)}) in this folder"])
    elif src.suffix.lower() == ".gpkg":
        layers = discover(src) if layer is None else {}
        if not layers:
            available = list_layers(src)
            if len(available) != 1 and layer not in available:
                raise ConfigError(str(src), [f"no layer named after ours ({', '.join(LAYER_NAMES)}); has {available}"])
            layers = {layer or "grids": {"source": str(src), "layer": layer or available[0]}}
    else:
        layers = {layer or "grids": {"source": str(src)}}
    return config_from_dict(
        {"layers": layers},
        src.parent,
        None,
        encoding=encoding,
        assume_crs=assume_crs,
        crs_hint=crs_hint,
        require=False,
        origin=str(path),
    )


def resolve_config(
    data_path: str | Path | None = None,
    config_path: str | Path | None = None,
    *,
    encoding: str | None = None,
    assume_crs: str | None = None,
    crs_hint: str | None = None,
    layer: str | None = None,
) -> Config:
    """The config for a config file (``*.toml``: ``load_config``), or for a bare data path (GeoPackage, folder,
    one file: ``config_for_path``); ``config_path`` wins. ``ValueError`` when neither is given."""
    target = config_path or data_path
    if target is None:
        raise ValueError("give a data path or a config file")
    if Path(target).suffix.lower() == ".toml":
        return load_config(target, encoding=encoding, assume_crs=assume_crs, crs_hint=crs_hint)
    return config_for_path(target, layer=layer, encoding=encoding, assume_crs=assume_crs, crs_hint=crs_hint)


def read_all(config: Config, progress: bool = False) -> dict[str, LoadedLayer]:
    """Every configured layer as read (``geo.io.read_source``), in config order; a progress bar on stderr when
    ``progress``. Never raises for bad data (see ``LoadedLayer``)."""
    items = tqdm(config.layers.items(), desc="reading", unit="layer", disable=not progress, leave=False)
    return {name: read_source(src) for name, src in items}


def build_dataset(config: Config, progress: bool = False) -> DataSet:
    """Read every configured layer and complete the set (``geo.dataset.complete``); every problem collected in
    ``DataSet.problems``, none raised."""
    return complete(config, read_all(config, progress))


def read_layers(path: str | Path) -> GeoLayers:
    """Strictly read a GeoPackage (one layer per name) or a folder of per-layer files (``grids.geojson``,
    ``grids.shp`` …): every layer and column of docs/ARCHITECTURE.md is required, nothing is derived (optional
    layers and columns, ``geo.validate.LayerSpec``, are empty / "" when absent).

    Layers are put in EPSG:4326 on read; a layer without a CRS is an error. Raises ``FileNotFoundError``, or one
    ``GeoValidationError`` listing every problem (missing layers/columns/CRS, empty/invalid/wrong-type geometry,
    missing/duplicate ids, dangling references).
    """
    src = Path(path)
    if not src.exists():
        raise FileNotFoundError(src)
    config = config_from_dict({"layers": discover(src.resolve())}, src.parent, require=False, origin=str(src))
    loaded = read_all(config)
    frames = {name: layer.frame for name, layer in loaded.items() if layer.frame is not None}
    problems = [p for layer in loaded.values() for p in layer.problems]
    origins = {name: layer.file for name, layer in loaded.items()}
    return GeoLayers.from_frames(frames, str(src), origins, problems)


def _is_complete_gpkg(path: Path) -> bool:
    return path.suffix.lower() == ".gpkg" and set(list_layers(path)) >= set(REQUIRED_LAYER_NAMES)


def load_layers(
    data_path: str | Path | None = None,
    config_path: str | Path | None = None,
    *,
    encoding: str | None = None,
    assume_crs: str | None = None,
) -> GeoLayers:
    """The one way servers get their layers: ``config_path`` (onescreen.toml) if given, else ``data_path``.

    A complete GeoPackage (every layer, like the demo data) is read strictly (``read_layers``); anything else is
    read and completed (``build_dataset``: only ``grids`` required, defaults for missing layers/columns).
    Warnings are logged. Raises ``GeoValidationError`` with every error, ``ConfigError`` for a bad config or no
    ``grids``, ``FileNotFoundError``.
    """
    if config_path is None and data_path is not None:
        path = Path(data_path)
        if not path.exists():
            raise FileNotFoundError(path)
        if _is_complete_gpkg(path):
            return read_layers(path)
    config = resolve_config(data_path, config_path, encoding=encoding, assume_crs=assume_crs)
    if message := missing_required(config.layers):
        raise ConfigError(config.label, [message])
    dataset = build_dataset(config)
    if dataset.errors:
        raise GeoValidationError(config.label, dataset.problems)
    for p in dataset.problems:
        if p.severity == "warning":
            log.warning("%s [%s]", p, p.file)
    return servable(dataset)


def servable(dataset: DataSet) -> GeoLayers:
    """The layers a server runs on, from a complete data set without errors: the strict contract check of
    ``GeoLayers.from_frames``. ``validate`` runs this same function (``serve_check``), so `validate` and `serve`
    always agree. Raises ``GeoValidationError``."""
    return GeoLayers.from_frames(dataset.frames, dataset.config.label, dataset.files)


def serve_check(dataset: DataSet) -> list[Problem]:
    """What ``servable`` would refuse that the data set's own problems do not already say (``[]`` when it
    serves, or when the data set already has errors: those are the cause)."""
    if dataset.errors:
        return []
    try:
        servable(dataset)
    except GeoValidationError as exc:
        known = {(p.layer, p.feature_id, p.kind) for p in dataset.problems}
        return [p for p in exc.problems if p.is_error and (p.layer, p.feature_id, p.kind) not in known]
    return []
