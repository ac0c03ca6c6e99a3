"""Users' column names → ours: the config's explicit mapping first, then common (Chinese) field names.

Explicit mappings always win. A column of ours that is still missing is looked for among usual names, in order:
exact, then case-insensitive, then a name cut mid-character by a Shapefile's 10-byte limit (``网格名\\ufffd`` →
``网格名称``). Values are normalised: ids and references become strings (``1`` not ``1.0``), missing text "".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from geo.text import REPLACEMENT
from geo.validate import LAYER_SPECS

# The word a layer's own fields start with in Chinese exports (网格编号, 社区名称 …).
_PREFIX = {
    "street": ("街道",),
    "communities": ("社区", "村社", "村"),
    "grids": ("网格",),
    "micro_grids": ("微网格",),
    "members": ("党员", "人员"),
    "households": ("户", "联系户"),
    "volunteer_teams": ("队伍", "志愿队"),
    "units": ("单位",),
    "party_orgs": ("组织", "党组织"),
    "responsibility_zones": ("责任田", "责任区"),
    "basic_units": ("基本单元", "单元"),
}
_OWN_ID = ("{p}编号", "{p}编码", "{p}代码", "{p}ID", "{p}id")
_GENERIC_ID = ("编号", "编码", "代码", "id", "ID", "Id", "OBJECTID", "FID", "code", "BH", "BM")
_OWN_NAME = ("{p}名称", "{p}名")
_GENERIC_NAME = ("名称", "name", "NAME", "Name", "MC")
_REFERENCES: dict[str, tuple[str, ...]] = {
    "street_id": ("所属街道", "街道编号", "街道编码", "街道名称", "街道"),
    "community_id": ("所属社区", "社区编号", "社区编码", "社区代码", "社区ID", "社区名称", "所属村社", "社区"),
    "grid_id": ("所属网格", "网格编号", "网格编码", "网格代码", "网格ID", "网格名称", "网格"),
    "micro_grid_id": ("所属微网格", "微网格编号", "微网格编码", "微网格名称", "微网格"),
    "member_id": ("联系党员", "联户党员", "党员编号", "联系人编号"),
    "branch_id": ("所属支部", "党支部", "支部编号"),
    "party_group_id": ("所属党小组", "党小组", "党小组编号"),
    "team_id": ("所属队伍", "志愿队", "队伍编号"),
    "parent_id": ("上级组织", "上级编号", "上级", "parent"),
    "phone": ("联系电话", "电话", "手机号码", "手机号", "手机", "tel", "phone"),
    "role": ("角色", "职务", "身份"),
    "skills": ("技能", "特长"),
    "on_duty": ("是否在岗", "在岗"),
    "size": ("人数", "家庭人数", "人口", "规模"),
    "kind": ("类型", "类别", "性质"),
    "grid_type": ("网格类型", "类型"),
    "dedicated_kind": ("专属网格类型", "专属类型"),
    "focus": ("服务方向", "服务领域", "领域"),
    "resources": ("可用资源", "资源"),
    "level": ("层级", "级别"),
    "head_name": ("户主姓名", "户主", "姓名"),
    # 微网格长: a member id (or a member's name: resolved to the id when unique, as every reference)
    "leader_id": ("微网格长编号", "微网格长ID", "微网格长", "网格长编号", "负责人编号"),
    "force_kind": ("力量类型", "力量类别", "力量分类", "组团力量", "力量"),
    "keeper_name": ("房东姓名", "房东", "街长姓名", "街长", "负责人姓名", "负责人"),
    "tenants": ("租户数", "租客数", "房客数", "承租人数", "租户人数"),
    "shops": ("商铺数", "店铺数", "商户数", "商家数"),
}
_PERSON_NAME = ("党员姓名", "姓名")


def aliases(layer: str, column: str) -> tuple[str, ...]:
    """Usual names of our ``column`` in ``layer``'s exports, most specific first."""
    spec = LAYER_SPECS[layer]
    prefixes = _PREFIX.get(layer, ())
    if column == spec.id_column:
        return tuple(a.format(p=p) for p in prefixes for a in _OWN_ID) + _GENERIC_ID
    if column == "name":
        own = tuple(a.format(p=p) for p in prefixes for a in _OWN_NAME)
        return (_PERSON_NAME if layer == "members" else ()) + own + _GENERIC_NAME
    return _REFERENCES.get(column, ())


def column_mapping(layer: str, columns: list[str], explicit: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """``{theirs: ours}`` for ``layer`` given the file's ``columns``, and the explicit mappings whose column is not
    in the file. ``explicit`` (the config's ``{theirs: ours}``) wins; each of our columns still missing takes the
    first free column matching ``aliases`` exactly, then case-insensitively, then as a name cut mid-character."""
    present = [c for c in columns if c != "geometry"]
    mapping = {theirs: ours for theirs, ours in explicit.items() if theirs in present}
    missing = [theirs for theirs in explicit if theirs not in present]
    spec = LAYER_SPECS[layer]
    for ours in spec.columns:
        if ours in mapping.values() or (ours in present and ours not in mapping):
            continue
        free = [c for c in present if c not in mapping]
        found = _find(aliases(layer, ours), free)
        if found is not None:
            mapping[found] = ours
    return mapping, missing


def _find(names: tuple[str, ...], free: list[str]) -> str | None:
    for name in names:
        if name in free:
            return name
    folded = {c.casefold(): c for c in free}
    for name in names:
        if name.casefold() in folded:
            return folded[name.casefold()]
    for col in free:  # a field name cut mid-character: 网格名\ufffd
        stem = col.split(REPLACEMENT, 1)[0]
        if REPLACEMENT in col and len(stem) >= 2 and any(n.startswith(stem) for n in names):
            return col
    return None


def as_text(values: pd.Series) -> pd.Series:
    """Strings for ids and text, same index: integral floats without ``.0`` (a float column of ids, as GDAL reads
    numeric DBF fields, gives ``"12"`` not ``"12.0"``), NaN/None → "", other values ``str`` and stripped."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype(str)
    if pd.api.types.is_float_dtype(values):
        arr = values.to_numpy(dtype=float)
        finite = np.isfinite(arr)
        if np.all(np.mod(arr[finite], 1) == 0):
            out = pd.Series([str(int(v)) if f else "" for v, f in zip(arr, finite, strict=True)], index=values.index)
            return out
    return values.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip())


# 六边形治理组团's six forces: 指导/指导力量/指导类 … → our codes (geo.validate.FORCE_KINDS).
_FORCES = {"指导": "guidance", "自转": "self_run", "先锋": "vanguard", "执法": "enforcement", "共建": "co_building",
           "社会": "social"}  # fmt: skip
_FORCE_VALUES: dict[str, object] = {"共建单位": "co_building", "社会组织": "social"}
_FORCE_VALUES.update((f"{zh}{tail}", code) for zh, code in _FORCES.items() for tail in ("", "力量", "类", "型"))
# Chinese values of coded columns → our codes (anything else is kept as it is).
VALUES: dict[str, dict[str, object]] = {
    "grid_type": {"综合网格": "comprehensive", "综合": "comprehensive", "专属网格": "dedicated", "专属": "dedicated"},
    "kind": {"社区": "community", "城市社区": "community", "村": "village", "行政村": "village",
             "出租房": "rental_house", "出租屋": "rental_house", "出租房屋": "rental_house",
             "商业街": "shop_street", "红街": "shop_street", "商业街区": "shop_street"},
    "force_kind": _FORCE_VALUES,
    "on_duty": {"是": True, "否": False, "在岗": True, "不在岗": False, "1": True, "0": False, "true": True,
                "false": False, "True": True, "False": False, "Y": True, "N": False},
}  # fmt: skip


def coded(column: str, values: pd.Series) -> pd.Series:
    """Translate the usual Chinese values of ``column`` (是/否, 综合网格 …) to ours."""
    table = VALUES.get(column)
    if table is None:
        return values
    return values.map(lambda v: table.get(str(v).strip(), v) if isinstance(v, str) else v)


def shared_strings(frame: Any) -> Any:
    """``frame`` (a (Geo)DataFrame) rebuilt with every text column's equal values sharing one ``str`` object, made
    anew — so every string the reader made is freed, not only the duplicates (they were interleaved in the
    allocator's pools with the rest). Same values (missing ones as they were), dtypes, index, geometry and CRS; a
    column whose values cannot be hashed is kept as it is. A city's 300,000 households name 100,000 members,
    50,000 micro-grids and 10,000 grids: one object per distinct value, not per row."""
    cols: dict[str, Any] = {}
    geometry = getattr(frame, "_geometry_column_name", None)
    for name in frame.columns:
        col = frame[name]
        text = isinstance(col.dtype, pd.StringDtype) or col.dtype == object
        if name == geometry or not text:
            cols[name] = col.array
            continue
        try:
            codes, uniques = pd.factorize(col, use_na_sentinel=True)
        except TypeError:  # lists, dicts …
            cols[name] = col.array
            continue
        fresh = np.array([(u + "\0")[:-1] if isinstance(u, str) else u for u in uniques] + [None], dtype=object)
        values = fresh.take(codes)
        missing = codes < 0
        if missing.any():
            values[missing] = col.to_numpy(dtype=object)[missing]
        cols[name] = pd.array(values, dtype=col.dtype) if isinstance(col.dtype, pd.StringDtype) else values
    out = pd.DataFrame(cols, index=frame.index)
    if geometry is None:
        return out
    import geopandas as gpd

    return gpd.GeoDataFrame(out, geometry=geometry, crs=frame.crs)


def point_lonlat(frame: Any) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(lon, lat) float64 degrees of every row of a point layer, NaN for an empty point: of its geometry, or of
    its ``lon``/``lat`` columns when it is kept as columns (``point_columns``)."""
    if "geometry" not in frame.columns and {"lon", "lat"} <= set(frame.columns):
        return frame["lon"].to_numpy(dtype=float), frame["lat"].to_numpy(dtype=float)
    import shapely

    geoms = np.asarray(frame.geometry.values, dtype=object)
    return shapely.get_x(geoms), shapely.get_y(geoms)


def point_columns(frame: Any) -> pd.DataFrame:
    """A point layer (GeoDataFrame, EPSG:4326) as a plain DataFrame: its other columns (``shared_strings``) and
    ``lon``/``lat`` (float64 degrees, NaN for an empty geometry) instead of shapely Points, same index. A city's
    300,000 households as Points are ~70 MB of a server; as two float columns 5 MB. ``ValueError`` when ``frame``
    has non-point geometry or already has a ``lon``/``lat`` column."""
    import shapely

    geometry = frame._geometry_column_name
    if {"lon", "lat"} & set(frame.columns):
        raise ValueError("point_columns: the layer already has a lon/lat column")
    geoms = np.asarray(frame.geometry.values, dtype=object)
    kinds = shapely.get_type_id(geoms)
    if np.any((kinds != 0) & ~shapely.is_empty(geoms) & ~shapely.is_missing(geoms)):
        raise ValueError("point_columns: the layer has geometries other than points")
    lon, lat = shapely.get_x(geoms), shapely.get_y(geoms)
    out: pd.DataFrame = shared_strings(pd.DataFrame(frame.drop(columns=geometry)))
    return out.assign(lon=lon, lat=lat)
