"""A "user export" sample made from our data set, the way street offices' files really look — for the example
config (``examples/onescreen.toml``), tests and demos. Nothing binary is committed: run
``python -m geo.user_export examples/user_export``.

* ``网格.zip``  grids, a zipped Shapefile in CGCS2000 / 3-degree Gauss-Krüger CM 120E (EPSG:4549), text in GBK
  *without* a ``.cpg`` (and no language byte in the .dbf), Chinese field names, communities referenced by name;
* ``社区.geojson``  communities in GCJ-02 (an Amap/DataV export), Chinese field names;
* ``党员.gpkg``  party members (layer ``党员``), Chinese field names and values (是/否 on duty).
"""

from __future__ import annotations

import argparse
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

from geo.gcj02 import wgs84_to_gcj02
from geo.model import GeoLayers

GRID_COLUMNS = {"grid_id": "网格编号", "name": "网格名称", "grid_type": "网格类型", "community": "所属社区"}
COMMUNITY_COLUMNS = {"community_id": "社区编号", "name": "社区名称", "kind": "社区类型"}
MEMBER_COLUMNS = {"member_id": "党员编号", "name": "姓名", "phone": "联系电话", "role": "角色", "grid_id": "所属网格",
                  "on_duty": "是否在岗", "skills": "技能"}  # fmt: skip
GRID_TYPE_ZH = {"comprehensive": "综合网格", "dedicated": "专属网格"}
KIND_ZH = {"community": "社区", "village": "村"}


def _to_gcj02(geoms: np.ndarray) -> np.ndarray:
    def shift(xy: np.ndarray) -> np.ndarray:
        x, y = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return np.asarray(shapely.transform(geoms, shift), dtype=object)


def write_gbk_shapefile_zip(frame: gpd.GeoDataFrame, zip_path: Path, stem: str) -> Path:
    """``frame`` as a zipped GBK Shapefile without ``.cpg`` and with a zero language byte (as many tools write)."""
    with tempfile.TemporaryDirectory() as tmp:
        shp = Path(tmp) / f"{stem}.shp"
        pyogrio.write_dataframe(frame, shp, encoding="GBK")
        shp.with_suffix(".cpg").unlink(missing_ok=True)
        dbf = shp.with_suffix(".dbf")
        data = bytearray(dbf.read_bytes())
        data[29] = 0  # no language driver id: readers must guess
        dbf.write_bytes(bytes(data))
        with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
            for part in sorted(Path(tmp).iterdir()):
                zf.write(part, part.name)
    return zip_path


def write_user_export(layers: GeoLayers, out_dir: str | Path) -> Path:
    """Write the three sample files of the module doc into ``out_dir`` (created; files replaced) and return it.
    Raises what pyogrio raises for an unwritable folder."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    comm = layers.communities
    names = dict(zip(comm["community_id"], comm["name"], strict=True))
    g = layers.grids
    grids = gpd.GeoDataFrame(
        {
            GRID_COLUMNS["grid_id"]: g["grid_id"],
            GRID_COLUMNS["name"]: g["name"],
            GRID_COLUMNS["grid_type"]: g["grid_type"].map(GRID_TYPE_ZH),
            GRID_COLUMNS["community"]: g["community_id"].map(names),
        },
        geometry=g.geometry.values,
        crs=4326,
    ).to_crs(4549)
    write_gbk_shapefile_zip(grids, out / "网格.zip", "网格")
    communities = gpd.GeoDataFrame(
        {
            COMMUNITY_COLUMNS["community_id"]: comm["community_id"],
            COMMUNITY_COLUMNS["name"]: comm["name"],
            COMMUNITY_COLUMNS["kind"]: comm["kind"].map(KIND_ZH),
        },
        geometry=_to_gcj02(np.asarray(comm.geometry.values, dtype=object)),
        crs=4326,
    )
    pyogrio.write_dataframe(communities, out / "社区.geojson", driver="GeoJSON")
    m = layers.members
    members = gpd.GeoDataFrame(
        {
            **{MEMBER_COLUMNS[c]: m[c] for c in ("member_id", "name", "phone", "role", "grid_id", "skills")},
            MEMBER_COLUMNS["on_duty"]: np.where(m["on_duty"], "是", "否"),
        },
        geometry=m.geometry.values,
        crs=4326,
    )
    target = out / "党员.gpkg"
    target.unlink(missing_ok=True)
    pyogrio.write_dataframe(members, target, layer="党员", driver="GPKG")
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m geo.user_export OUT [--data GPKG]``: the sample from the demo data (or ``--data``). Returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="output folder (examples/onescreen.toml expects examples/user_export)")
    parser.add_argument("--data", type=Path, help="source GeoPackage (default: the demo data)")
    args = parser.parse_args(argv)
    from geo.sources import read_layers
    from onescreen_data import demo_data_path

    source = args.data or demo_data_path()
    print(f"wrote {write_user_export(read_layers(source), args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
