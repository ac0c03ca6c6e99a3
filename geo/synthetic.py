"""Deterministic synthetic demo data: one fictional street east of Hangzhou (or a whole city at ``city`` scale).

``generate(out_dir, seed=..., scale="demo")`` writes ``onescreen_demo.gpkg`` with the layers and columns of
docs/ARCHITECTURE.md. Geometry is built in UTM (metres) and converted to EPSG:4326 at the end; every random draw
comes from one ``numpy.random.Generator(seed)`` in a fixed order, so the same seed gives identical data.
All names and phone numbers are fictional.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyogrio
import shapely
from tqdm import tqdm

from geo import _names
from geo._tiling import Floats, Geoms, Ints, node_layers, ragged_rank, sample_points, tile
from geo.validate import BASIC_UNIT_KINDS, FORCE_KINDS, LAYER_NAMES

DEFAULT_SEED = 20261126
GPKG_NAME = "onescreen_demo.gpkg"
DEMO_CENTER = (120.29, 30.31)
REQUIRED_BOX = (120.27, 30.30, 120.31, 30.32)  # the demo street must contain this box
DEMO_LIMITS = (120.25, 30.28, 120.33, 30.34)  # ... and stay inside this one
DEMO_STREET_NAME = "澜湾街道"

ROLES = ("网格长", "网格员", "党小组长", "党员", "志愿者")
SKILLS = ("电工", "水暖", "法律咨询", "医疗护理", "心理疏导", "消防", "调解", "驾驶", "外语", "计算机")
DEDICATED_KINDS = ("industrial_park", "office_building", "market", "rental_housing")
_DEDICATED_P = (0.3, 0.25, 0.2, 0.25)
_DEDICATED_RADIUS_M = (330.0, 90.0, 120.0, 200.0)  # blob radius at demo density
_DEDICATED_SUFFIX = ("产业园", "大厦", "农贸市场", "出租房集中区")
TEAM_FOCUS = ("平安巡防", "环境整治", "助老帮扶", "文明劝导", "应急救援", "法律援助", "医疗义诊", "邻里调解")
UNIT_KINDS = ("company", "agency", "school", "hospital")
_UNIT_P = (0.45, 0.2, 0.2, 0.15)
_UNIT_SUFFIX: dict[str, tuple[str, ...]] = {
    "company": ("科技有限公司", "智能制造有限公司", "物流有限公司", "农商银行支行", "建设集团"),
    "agency": ("派出所", "市场监管所", "税务分局", "供电所", "消防救援站"),
    "school": ("小学", "中学", "幼儿园", "职业技术学校"),
    "hospital": ("社区卫生服务中心", "人民医院分院", "中医门诊部"),
}
_UNIT_RESOURCES: dict[str, tuple[str, ...]] = {
    "company": ("应急物资", "车辆", "场地", "志愿者", "资金", "专业技术"),
    "agency": ("执法力量", "应急物资", "政策咨询", "车辆"),
    "school": ("场地", "避难场所", "志愿者", "文体设施"),
    "hospital": ("医护人员", "急救设备", "健康讲座", "药品"),
}
# 微网格长: chosen among the party members living in the micro-grid, 网格员 first, then 党小组长, 党员, 网格长
# (volunteers are not party members: never). Indexed like ROLES; lower is preferred, -1 never.
_LEADER_PRIORITY = np.array([3, 0, 1, 2, -1])
UNIT_FORCE_KIND = "co_building"  # 共建单位 are the co-building force
# 基本单元: rental houses crowd into rental-housing grids and villages; shop streets into markets and comprehensive
# grids. (tenants, shops) ranges, [low, high).
_RENTAL_TENANTS = (2, 41)
_STREET_SHOPS = (12, 121)
# role → (on-duty probability, 联系户 weight, probability of joining a volunteer team)
_NODE_TOL = 5e-9  # degrees (~0.5 mm): above the 1e-9° vertex grid, far below any real feature
_ROLE_DUTY = np.array([0.85, 0.85, 0.75, 0.68, 0.65])
_ROLE_HOUSEHOLD_W = np.array([0.5, 1.5, 1.2, 1.0, 0.0])
_ROLE_TEAM_P = np.array([0.05, 0.1, 0.2, 0.12, 0.85])

LAYER_ORDER = LAYER_NAMES  # every layer, parents before children


@dataclass(frozen=True)
class Scale:
    """How much to generate. ``demo`` is the committed set; ``city`` is the benchmark scale."""

    name: str = "demo"
    streets: int = 1
    communities: int = 15
    comprehensive_grids: int = 120
    dedicated_grids: int = 30
    micro_grids_per_grid: float = 4.0
    members: int = 3000
    households: int = 15000
    volunteer_teams: int = 20
    units: int = 40
    rental_houses: int = 300  # 基本单元: 出租房
    shop_streets: int = 15  # 基本单元: 商业街/红街

    @property
    def grids(self) -> int:
        """Comprehensive plus dedicated grids."""
        return self.comprehensive_grids + self.dedicated_grids


SCALES: dict[str, Scale] = {
    "demo": Scale(),
    "city": Scale(
        name="city",
        streets=40,
        communities=1000,
        comprehensive_grids=8000,
        dedicated_grids=2000,
        micro_grids_per_grid=5.0,
        members=100_000,
        households=300_000,
        volunteer_teams=1000,
        units=2000,
        rental_houses=20_000,
        shop_streets=1000,
    ),
}


def resolve_scale(scale: Scale | str = "demo", *, grids: int | None = None, members: int | None = None) -> Scale:
    """A preset (by name) or a Scale, optionally resized to ``grids`` total grids / ``members`` party members.

    Resizing by grids keeps the demo proportions: 20 % dedicated, ~10 grids per community, ~25 communities
    per street, 20 members per grid unless ``members`` is given, 5 联系户 per member, 2 rental houses per grid and
    a shop street per 10 grids.
    """
    base = SCALES[scale] if isinstance(scale, str) else scale
    if grids is not None:
        if grids < 2:
            raise ValueError("need at least 2 grids")
        communities = max(1, round(grids / 10))
        base = dataclasses.replace(
            base,
            name="custom",
            streets=max(1, round(communities / 25)),
            communities=communities,
            dedicated_grids=round(grids * 0.2),
            comprehensive_grids=grids - round(grids * 0.2),
            members=members if members is not None else grids * 20,
            volunteer_teams=max(1, round(communities * 4 / 3)),
            units=max(1, round(communities * 8 / 3)),
            rental_houses=2 * grids,
            shop_streets=max(1, round(grids / 10)),
        )
    if members is not None:
        base = dataclasses.replace(base, name="custom", members=members, households=members * 5)
    return base


def generate(
    out_dir: str | Path,
    seed: int = DEFAULT_SEED,
    scale: Scale | str = "demo",
    *,
    grids: int | None = None,
    members: int | None = None,
    progress: bool = True,
) -> Path:
    """Write ``<out_dir>/onescreen_demo.gpkg`` (replacing it) and return its path.

    Meant to back ``onescreen generate-data --out DIR --seed N [--scale demo|city] [--grids N --members N]``.
    """
    sc = resolve_scale(scale, grids=grids, members=members)
    with _progress(progress, sc) as step:
        layers = build(seed, sc, step=step)
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        path = out / GPKG_NAME
        path.unlink(missing_ok=True)
        write_gpkg(layers, path)
        step("written")
    return path


def write_gpkg(layers: dict[str, gpd.GeoDataFrame], path: Path) -> None:
    """Write the layers with a fixed GeoPackage timestamp so identical data gives an identical file."""
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2026-01-01T00:00:00.000Z"})
    try:
        for name in LAYER_ORDER:
            pyogrio.write_dataframe(layers[name], path, layer=name, driver="GPKG")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})


Step = Callable[[str], None]


@contextmanager
def _progress(enabled: bool, sc: Scale) -> Iterator[Step]:
    bar = tqdm(total=len(_STEPS) + 1, desc=f"generate {sc.name}", file=sys.stderr, disable=not enabled, unit="step")

    def step(label: str) -> None:
        bar.set_postfix_str(label)
        bar.update(1)

    try:
        yield step
    finally:
        bar.close()


_STEPS = ("outline", "communities", "grids", "micro-grids", "zones", "members", "households", "teams+units",
          "leaders+basic units")  # fmt: skip


def build(
    seed: int = DEFAULT_SEED, scale: Scale | str = "demo", *, step: Step | None = None
) -> dict[str, gpd.GeoDataFrame]:
    """All layers as EPSG:4326 GeoDataFrames, keyed by layer name (nothing written)."""
    return _Builder(seed, SCALES[scale] if isinstance(scale, str) else scale, step or (lambda _s: None)).run()


def _allocate(total: int, weights: Floats, minimum: int) -> Ints:
    """Split ``total`` into integers proportional to ``weights``, each at least ``minimum`` (largest remainder)."""
    n = len(weights)
    rest = total - minimum * n
    if rest < 0:
        raise ValueError(f"cannot give {n} parents {minimum} children each from {total}")
    share = weights / weights.sum() * rest
    out = np.floor(share).astype(np.int64)
    out[np.argsort(-(share - out), kind="stable")[: rest - int(out.sum())]] += 1
    return np.asarray(out + minimum, dtype=np.int64)


def _outline(rng: np.random.Generator, inner: tuple[float, float], outer: tuple[float, float]) -> shapely.Polygon:
    """Irregular star-shaped outline (lon/lat) around DEMO_CENTER: contains the ``inner`` half-size box and
    stays inside the ``outer`` one."""
    k = 144
    th = np.linspace(0, 2 * np.pi, k, endpoint=False)
    c, s = np.cos(th), np.sin(th)

    def reach(hx: float, hy: float) -> Floats:
        return np.minimum(hx / np.maximum(np.abs(c), 1e-12), hy / np.maximum(np.abs(s), 1e-12))

    noise: Floats = np.zeros(k)
    for j in range(1, 7):  # a few low harmonics: a smooth, irregular radius
        noise = noise + rng.normal() / j * np.cos(j * th + rng.uniform(0, 2 * np.pi))
    noise = (noise - noise.min()) / (noise.max() - noise.min())
    d_in, d_out = reach(*inner), reach(*outer)
    r = d_in + (d_out - d_in) * (0.3 + 0.6 * noise) * rng.uniform(0.93, 1.0, k)
    return shapely.Polygon(np.column_stack([DEMO_CENTER[0] + r * c, DEMO_CENTER[1] + r * s]))


def _join(parts: Sequence[str], keys: npt.NDArray[np.int64], k: npt.NDArray[np.int64]) -> list[str]:
    """Comma-join the first ``k[i]`` entries of ``parts[keys[i]]`` (keys: one random permutation per row)."""
    arr = np.asarray(parts)
    return [",".join(arr[row[:n]]) for row, n in zip(keys, k.tolist(), strict=True)]


def _ids(prefix: str, n: int, width: int) -> list[str]:
    w = max(width, len(str(n)))
    return [f"{prefix}{i:0{w}d}" for i in range(1, n + 1)]


class _Builder:
    """One generation run; methods run in a fixed order so the random stream is reproducible."""

    def __init__(self, seed: int, sc: Scale, step: Step) -> None:
        self.rng = np.random.default_rng(seed)
        self.sc = sc
        self.step = step
        # Tiling runs in a local equirectangular plane (metres). It is affine in lon/lat, so straight edges
        # stay straight and shared vertices stay shared when converted back (a UTM round trip bends edges
        # by micrometres and made a few polygons self-intersect at city scale).
        self._lon0, self._lat0 = DEMO_CENTER
        self._kx = 111_320.0 * np.cos(np.radians(self._lat0))
        self._ky = 110_574.0

    # -- geometry helpers -------------------------------------------------
    def to_metric(self, geom: shapely.Geometry) -> shapely.Geometry:
        return shapely.transform(
            geom, lambda ll: np.column_stack([(ll[:, 0] - self._lon0) * self._kx, (ll[:, 1] - self._lat0) * self._ky])
        )

    def to_ll(self, geoms: Geoms) -> Geoms:
        """Metric → lon/lat, snapped to a 1e-9° (~0.1 mm) grid so that near-identical vertices computed
        independently by neighbouring cells become one vertex."""

        def conv(xy: Floats) -> Floats:
            return np.column_stack([xy[:, 0] / self._kx + self._lon0, xy[:, 1] / self._ky + self._lat0])

        # set_precision (unlike plain rounding) repairs sub-grid self-intersections it would create.
        return np.asarray(shapely.set_precision(shapely.transform(geoms, conv), 1e-9))

    def gdf(self, data: Mapping[str, object], geoms: Geoms) -> gpd.GeoDataFrame:
        return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms), crs="EPSG:4326")

    # -- pipeline -----------------------------------------------------------
    def run(self) -> dict[str, gpd.GeoDataFrame]:
        rng, sc = self.rng, self.sc
        if sc.grids < sc.communities or sc.communities < sc.streets:
            raise ValueError("need streets <= communities <= grids")
        f = float(np.sqrt(max(1.0, sc.grids / 250)))  # grow the area with the grid count beyond demo size
        outline = _outline(rng, (0.0205 * f, 0.0105 * f), (0.039 * f, 0.029 * f))
        region = self.to_metric(outline)
        streets = (
            np.array([region], dtype=object)
            if sc.streets == 1
            else tile(np.array([region], dtype=object), np.array([sc.streets]), rng)[0]
        )
        self.step("outline")

        comm, c_street = tile(streets, _allocate(sc.communities, shapely.area(streets), 1), rng)
        self.step("communities")

        grid_n = _allocate(sc.grids, shapely.area(comm), 2 if sc.grids >= 2 * sc.communities else 1)
        ded_n = self._dedicated_per_community(grid_n)
        kinds = rng.choice(len(DEDICATED_KINDS), sc.dedicated_grids, p=_DEDICATED_P)
        mean_r = np.sqrt(shapely.area(region) / sc.grids / 2e5)  # keep blob size proportional to grid size
        radius = np.asarray(_DEDICATED_RADIUS_M)[kinds] * rng.uniform(0.8, 1.2, len(kinds)) * mean_r
        slot_owner = np.repeat(np.arange(len(comm)), grid_n)
        dedicated = ragged_rank(slot_owner) < ded_n[slot_owner]
        blob = np.full(sc.grids, np.nan)
        blob[dedicated] = radius
        grids, g_comm = tile(comm, grid_n, rng, blob_radius=blob)
        g_kind = np.full(sc.grids, -1)
        g_kind[dedicated] = kinds
        self.step("grids")

        micro_total = max(round(sc.grids * sc.micro_grids_per_grid), sc.grids)
        micro_n = _allocate(micro_total, np.sqrt(shapely.area(grids)), 2 if micro_total >= 2 * sc.grids else 1)
        micro, m_grid = tile(grids, micro_n, rng)
        m_order, m_group, n_groups = self._party_groups(grids, micro, m_grid, micro_n)
        micro, m_grid, m_group = micro[m_order], m_grid[m_order], m_group[m_order]
        self.step("micro-grids")

        # From here on everything is lon/lat. Node every layer against the micro-grid vertices so each
        # layer is an exact, edge-matched coverage.
        streets, comm, grids, micro = (self.to_ll(g) for g in (streets, comm, grids, micro))
        micro, streets, comm, grids = node_layers([micro, streets, comm, grids], micro, _NODE_TOL)
        zones, z_grid, z_group, z_mstart, z_mcount = self._zones(micro, m_grid, m_group)
        (zones,) = node_layers([zones], micro, _NODE_TOL)
        self.step("zones")

        out: dict[str, gpd.GeoDataFrame] = {}
        names = self._admin_layers(
            out, streets, comm, c_street, grids, g_comm, g_kind, micro, m_grid, zones, z_grid, z_group
        )
        members = self._members(out, names, grids, g_comm, g_kind, micro, m_grid, micro_n, n_groups, z_mstart, z_mcount)
        self.step("members")
        self._households(out, members, micro, micro_n)
        self.step("households")
        self._teams_units(out, members, comm, grids, g_comm, g_kind, names)
        self.step("teams+units")
        # Draws for what came later (leaders, force kinds, basic units) follow every earlier one: the layers
        # above are the same as before those existed.
        self._leaders_forces(out, members)
        self._basic_units(out, grids, g_comm, g_kind)
        self.step("leaders+basic units")
        return {name: out[name] for name in LAYER_ORDER}

    def _dedicated_per_community(self, grid_n: Ints) -> Ints:
        """Dedicated grids per community: random-weighted, always leaving a comprehensive grid."""
        room = grid_n - 1
        d = self.sc.dedicated_grids
        if d > room.sum():
            raise ValueError("too many dedicated grids for the number of grids")
        ded = np.minimum(_allocate(d, grid_n * self.rng.uniform(0.3, 1.7, len(grid_n)), 0), room)
        while ded.sum() < d:  # hand the clipped remainder to communities with room, biggest first
            free = np.flatnonzero(ded < room)
            take = free[np.argsort(-(room[free] - ded[free]), kind="stable")][: d - int(ded.sum())]
            ded[take] += 1
        return ded

    def _party_groups(self, grids: Geoms, micro: Geoms, m_grid: Ints, micro_n: Ints) -> tuple[Ints, Ints, Ints]:
        """2–4 party groups per grid, each owning a contiguous run of micro-grids (sorted by angle around the
        grid). Returns the micro-grid order (grid, group, angle), the group of each micro-grid, groups per grid."""
        rng = self.rng
        n_groups = np.minimum(rng.integers(2, 5, len(grids)), micro_n)
        offset = rng.integers(0, 1 << 30, len(grids)) % micro_n
        centre = shapely.get_coordinates(shapely.point_on_surface(grids))[m_grid]
        mc = shapely.get_coordinates(shapely.point_on_surface(micro))
        angle = np.arctan2(mc[:, 1] - centre[:, 1], mc[:, 0] - centre[:, 0])
        order = np.lexsort((angle, m_grid))
        rank = np.empty(len(micro), dtype=np.int64)
        rank[order] = ragged_rank(m_grid[order])
        group = self._group_of(rank, m_grid, offset, n_groups, micro_n)
        # A wedge of micro-grids can be non-contiguous; retry those grids with another rotation / fewer groups.
        bad = self._multipart_grids(micro, m_grid, group)
        for g in bad.tolist():
            sel = m_grid == g
            for ng in range(int(n_groups[g]), 0, -1):
                ok = False
                for off in range(int(micro_n[g])):
                    cand = ((rank[sel] + off) % micro_n[g]) * ng // micro_n[g]
                    if not self._multipart_grids(micro[sel], np.zeros(int(sel.sum()), dtype=np.int64), cand).size:
                        group[sel], n_groups[g], ok = cand, ng, True
                        break
                if ok:
                    break
        walk = (rank + offset[m_grid]) % micro_n[m_grid]
        return np.lexsort((walk, group, m_grid)), group, n_groups

    @staticmethod
    def _group_of(rank: Ints, m_grid: Ints, offset: Ints, n_groups: Ints, micro_n: Ints) -> Ints:
        return ((rank + offset[m_grid]) % micro_n[m_grid]) * n_groups[m_grid] // micro_n[m_grid]

    @staticmethod
    def _union_by(micro: Geoms, key: Ints) -> tuple[Geoms, Ints]:
        """Coverage union of micro-grids per (sorted-unique) key, vectorised via a padded 2-D array."""
        keys, inv = np.unique(key, return_inverse=True)
        order = np.argsort(inv, kind="stable")
        pos = ragged_rank(inv[order])
        table = np.full((len(keys), int(pos.max()) + 1), None, dtype=object)
        table[inv[order], pos] = micro[order]
        return np.asarray(shapely.union_all(table, axis=1)), keys

    def _multipart_grids(self, micro: Geoms, m_grid: Ints, group: Ints) -> Ints:
        unions, keys = self._union_by(micro, m_grid * 16 + group)
        return np.unique(keys[shapely.get_type_id(unions) != 3] // 16)

    def _zones(self, micro: Geoms, m_grid: Ints, m_group: Ints) -> tuple[Geoms, Ints, Ints, Ints, Ints]:
        key = m_grid * 16 + m_group
        zones, keys = self._union_by(micro, key)
        if (shapely.get_type_id(zones) != 3).any():
            raise RuntimeError("a responsibility zone is not a single polygon")
        start = np.searchsorted(key, keys)  # micro-grids are sorted by (grid, group)
        count = np.bincount(np.searchsorted(keys, key), minlength=len(keys))
        return zones, keys // 16, keys % 16, start, count

    # -- attribute layers ---------------------------------------------------------------
    def _admin_layers(
        self,
        out: dict[str, gpd.GeoDataFrame],
        streets: Geoms,
        comm: Geoms,
        c_street: Ints,
        grids: Geoms,
        g_comm: Ints,
        g_kind: Ints,
        micro: Geoms,
        m_grid: Ints,
        zones: Geoms,
        z_grid: Ints,
        z_group: Ints,
    ) -> dict[str, list[str]]:
        rng = self.rng
        s_names = [DEMO_STREET_NAME] + [
            f"{p}街道" for p in _names.place_names(rng, len(streets) - 1, frozenset({"澜湾"}))
        ]
        s_ids = _ids("ST", len(streets), 2)
        out["street"] = self.gdf({"street_id": s_ids, "name": s_names}, streets)

        # Villages lie towards the rural edge: the communities farthest from the centre of their street.
        cc = shapely.get_coordinates(shapely.centroid(comm))
        sc_xy = shapely.get_coordinates(shapely.centroid(streets))[c_street]
        dist = np.hypot(*(cc - sc_xy).T) / np.sqrt(shapely.area(streets))[c_street]
        village = dist > np.quantile(dist, 0.6) if len(comm) > 2 else np.zeros(len(comm), dtype=bool)
        base = _names.place_names(rng, len(comm))
        c_names = [b + ("村" if v else "社区") for b, v in zip(base, village.tolist(), strict=True)]
        c_ids = _ids("C", len(comm), 3)
        out["communities"] = self.gdf(
            {
                "community_id": c_ids,
                "name": c_names,
                "kind": np.where(village, "village", "community"),
                "street_id": np.asarray(s_ids)[c_street],
            },
            comm,
        )

        g_ids = _ids("G", len(grids), 4)
        b_ids = ["B" + g[1:] for g in g_ids]
        ded_prefix = _names.place_names(rng, int((g_kind >= 0).sum()))
        g_names: list[str] = []
        n_comp = np.zeros(len(comm), dtype=np.int64)
        d_i = 0
        for c, k in zip(g_comm.tolist(), g_kind.tolist(), strict=True):
            if k < 0:
                n_comp[c] += 1
                g_names.append(f"{c_names[c]}第{n_comp[c]}网格")
            else:
                g_names.append(f"{ded_prefix[d_i]}{_DEDICATED_SUFFIX[k]}专属网格")
                d_i += 1
        out["grids"] = self.gdf(
            {
                "grid_id": g_ids,
                "name": g_names,
                "grid_type": np.where(g_kind < 0, "comprehensive", "dedicated"),
                "dedicated_kind": np.where(g_kind < 0, "", np.asarray(DEDICATED_KINDS)[np.maximum(g_kind, 0)]),
                "community_id": np.asarray(c_ids)[g_comm],
                "branch_id": b_ids,
            },
            grids,
        )

        m_ids = _ids("M", len(micro), 5)
        m_no = ragged_rank(m_grid) + 1
        out["micro_grids"] = self.gdf(
            {
                "micro_grid_id": m_ids,
                "name": [f"{g_names[g]}{k}号微网格" for g, k in zip(m_grid.tolist(), m_no.tolist(), strict=True)],
                "grid_id": np.asarray(g_ids)[m_grid],
                "community_id": np.asarray(c_ids)[g_comm[m_grid]],
                "leader_id": "",  # chosen with the members (``_leaders_forces``)
            },
            micro,
        )

        pg_ids = [f"{b_ids[g]}-{k + 1}" for g, k in zip(z_grid.tolist(), z_group.tolist(), strict=True)]
        out["responsibility_zones"] = self.gdf(
            {
                "zone_id": ["Z" + p[1:] for p in pg_ids],
                "name": [
                    f"{g_names[g]}第{k + 1}党小组责任田" for g, k in zip(z_grid.tolist(), z_group.tolist(), strict=True)
                ],
                "party_group_id": pg_ids,
                "grid_id": np.asarray(g_ids)[z_grid],
            },
            zones,
        )

        # Four-level party organisation; seats at a point inside each area.
        o_street = [f"PW{s[2:]}" for s in s_ids]
        o_comm = ["P" + c for c in c_ids]
        seat = shapely.point_on_surface
        rows = {
            "org_id": o_street + o_comm + b_ids + pg_ids,
            "name": [f"{n}党工委" for n in s_names]
            + [n + ("党总支" if v else "党委") for n, v in zip(c_names, village.tolist(), strict=True)]
            + [f"{n}党支部" for n in g_names]
            + [f"{g_names[g]}党支部第{k + 1}党小组" for g, k in zip(z_grid.tolist(), z_group.tolist(), strict=True)],
            "level": ["street_committee"] * len(s_ids)
            + ["community_org"] * len(c_ids)
            + ["grid_branch"] * len(g_ids)
            + ["party_group"] * len(pg_ids),
            "parent_id": [""] * len(s_ids)
            + list(np.asarray(o_street)[c_street])
            + list(np.asarray(o_comm)[g_comm])
            + list(np.asarray(b_ids)[z_grid]),
            "community_id": [""] * len(s_ids)
            + c_ids
            + list(np.asarray(c_ids)[g_comm])
            + list(np.asarray(c_ids)[g_comm[z_grid]]),
            "grid_id": [""] * (len(s_ids) + len(c_ids)) + g_ids + list(np.asarray(g_ids)[z_grid]),
        }
        geoms = np.concatenate([seat(streets), seat(comm), seat(grids), seat(zones)])
        out["party_orgs"] = self.gdf(rows, geoms)
        return {
            "streets": s_ids,
            "communities": c_ids,
            "community_names": base,
            "grids": g_ids,
            "branches": b_ids,
            "micro": m_ids,
            "groups": pg_ids,
        }

    def _members(
        self,
        out: dict[str, gpd.GeoDataFrame],
        names: dict[str, list[str]],
        grids: Geoms,
        g_comm: Ints,
        g_kind: Ints,
        micro: Geoms,
        m_grid: Ints,
        micro_n: Ints,
        n_groups: Ints,
        z_mstart: Ints,
        z_mcount: Ints,
    ) -> pd.DataFrame:
        rng, sc = self.rng, self.sc
        n_grid = len(grids)
        # One 网格长 per grid, 1–3 网格员 (1 in a dedicated grid), one 党小组长 per party group, the rest
        # mostly 党员 with some 志愿者.
        n_wy = np.where(g_kind < 0, rng.choice([1, 2, 3], n_grid, p=[0.3, 0.5, 0.2]), 1)
        required = 1 + n_wy + n_groups
        if sc.members < required.sum():
            raise ValueError(f"{sc.members} members cannot staff {n_grid} grids (need {int(required.sum())})")
        weight = np.sqrt(shapely.area(grids))
        count = required + rng.multinomial(sc.members - int(required.sum()), weight / weight.sum())
        mg = np.repeat(np.arange(n_grid), count)
        r = ragged_rank(mg)
        u = rng.random((len(mg), 4))
        role = np.select(
            [r == 0, r <= n_wy[mg], r <= n_wy[mg] + n_groups[mg], u[:, 0] < 0.13],
            [0, 1, 2, 4],
            3,
        )
        group = np.where(role == 2, r - n_wy[mg] - 1, np.floor(u[:, 1] * n_groups[mg]).astype(np.int64))
        zone_first = np.r_[0, np.cumsum(n_groups)[:-1]]
        z = zone_first[mg] + group
        grid_mstart = np.r_[0, np.cumsum(micro_n)[:-1]]
        m_of = np.where(
            role == 4,
            grid_mstart[mg] + np.floor(u[:, 2] * micro_n[mg]).astype(np.int64),
            z_mstart[z] + np.floor(u[:, 2] * z_mcount[z]).astype(np.int64),
        )
        xy = np.empty((len(mg), 2))
        order = np.argsort(m_of, kind="stable")
        xy[order] = sample_points(micro, np.bincount(m_of, minlength=len(micro)), rng)[0]

        k = rng.choice(4, len(mg), p=[0.35, 0.4, 0.18, 0.07])
        perm = np.argsort(rng.random((len(mg), len(SKILLS))), axis=1)
        on_duty = rng.random(len(mg)) < _ROLE_DUTY[role]
        frame = pd.DataFrame(
            {
                "member_id": _ids("P", len(mg), 6),
                "name": _names.person_names(rng, len(mg)),
                "phone": _names.phones(rng, len(mg)),
                "role": np.asarray(ROLES)[role],
                "branch_id": np.asarray(names["branches"])[mg],
                "party_group_id": np.where(role == 4, "", np.asarray(names["groups"])[z]),
                "grid_id": np.asarray(names["grids"])[mg],
                "micro_grid_id": np.asarray(names["micro"])[m_of],
                "skills": _join(SKILLS, perm, k),
                "on_duty": on_duty,
                "team_id": "",
            }
        )
        frame["_xy_x"], frame["_xy_y"] = xy[:, 0], xy[:, 1]
        frame["_grid"], frame["_micro"], frame["_role"], frame["_comm"] = mg, m_of, role, g_comm[mg]
        return frame

    def _households(self, out: dict[str, gpd.GeoDataFrame], members: pd.DataFrame, micro: Geoms, micro_n: Ints) -> None:
        rng, n = self.rng, self.sc.households
        w = _ROLE_HOUSEHOLD_W[members["_role"].to_numpy()]
        who = rng.choice(len(members), n, p=w / w.sum())
        grid = members["_grid"].to_numpy()[who]
        grid_mstart = np.r_[0, np.cumsum(micro_n)[:-1]]
        u = rng.random((n, 2))
        hm = np.where(
            u[:, 0] < 0.75,
            members["_micro"].to_numpy()[who],
            grid_mstart[grid] + np.floor(u[:, 1] * micro_n[grid]).astype(np.int64),
        )
        order = np.argsort(hm, kind="stable")  # households numbered micro-grid by micro-grid
        who, hm = who[order], hm[order]
        xy = sample_points(micro, np.bincount(hm, minlength=len(micro)), rng)[0]
        micro_ids = out["micro_grids"]["micro_grid_id"].to_numpy()
        out["households"] = self.gdf(
            {
                "household_id": _ids("H", n, 6),
                "head_name": _names.person_names(rng, n),
                "phone": _names.phones(rng, n),
                "size": rng.choice(np.arange(1, 7), n, p=[0.12, 0.28, 0.3, 0.18, 0.08, 0.04]),
                "member_id": members["member_id"].to_numpy()[who],
                "micro_grid_id": micro_ids[hm],
                "grid_id": out["micro_grids"]["grid_id"].to_numpy()[hm],
            },
            shapely.points(xy),
        )

    def _teams_units(
        self,
        out: dict[str, gpd.GeoDataFrame],
        members: pd.DataFrame,
        comm: Geoms,
        grids: Geoms,
        g_comm: Ints,
        g_kind: Ints,
        names: dict[str, list[str]],
    ) -> None:
        rng, sc = self.rng, self.sc
        c_ids = np.asarray(names["communities"])
        area = shapely.area(comm)
        t_comm = np.sort(rng.choice(len(comm), sc.volunteer_teams, p=area / area.sum()))
        focus = rng.integers(0, len(TEAM_FOCUS), len(t_comm))
        t_names: list[str] = []
        seen: set[str] = set()
        for c, fo in zip(t_comm.tolist(), focus.tolist(), strict=True):
            name = f"{names['community_names'][c]}{TEAM_FOCUS[fo]}志愿服务队"
            i = 2
            while name in seen:  # a second team with the same focus in one community
                name = f"{names['community_names'][c]}{TEAM_FOCUS[fo]}志愿服务{i}队"
                i += 1
            seen.add(name)
            t_names.append(name)
        t_ids = np.asarray(_ids("T", len(t_comm), 3))
        t_count = np.bincount(t_comm, minlength=len(comm))
        t_start = np.r_[0, np.cumsum(t_count)[:-1]]
        mc = members["_comm"].to_numpy()
        u = rng.random((len(members), 2))
        joins = (t_count[mc] > 0) & (u[:, 0] < _ROLE_TEAM_P[members["_role"].to_numpy()])
        team = t_start[mc] + np.floor(u[:, 1] * np.maximum(t_count[mc], 1)).astype(np.int64)
        members["team_id"] = np.where(joins, t_ids[np.minimum(team, len(t_ids) - 1)], "")
        linked = np.bincount(team[joins], minlength=len(t_ids))
        t_xy = sample_points(comm, t_count, rng)[0]
        out["volunteer_teams"] = self.gdf(
            {
                "team_id": t_ids,
                "name": t_names,
                "community_id": c_ids[t_comm],
                "focus": np.asarray(TEAM_FOCUS)[focus],
                "size": linked + rng.integers(5, 40, len(t_ids)),
                "force_kind": "",  # drawn last (``_leaders_forces``)
            },
            shapely.points(t_xy),
        )

        xy = members[["_xy_x", "_xy_y"]].to_numpy()
        out["members"] = self.gdf(
            {c: members[c].to_numpy() for c in members.columns if not c.startswith("_")}, shapely.points(xy)
        )

        # 共建单位: companies mostly sit in industrial-park / office-building grids.
        kind = rng.choice(len(UNIT_KINDS), sc.units, p=_UNIT_P)
        biz_grids = np.flatnonzero((g_kind == 0) | (g_kind == 1))
        in_biz = (kind == 0) & (rng.random(sc.units) < 0.7) & (len(biz_grids) > 0)
        u_grid = (
            biz_grids[rng.integers(0, max(len(biz_grids), 1), sc.units) % max(len(biz_grids), 1)]
            if len(biz_grids)
            else np.zeros(sc.units, dtype=np.int64)
        )
        u_comm = np.where(in_biz, g_comm[u_grid], rng.choice(len(comm), sc.units, p=area / area.sum()))
        target = np.where(in_biz, grids[u_grid], comm[u_comm])
        u_xy = sample_points(target, np.ones(sc.units, dtype=np.int64), rng)[0]
        prefix = _names.place_names(rng, sc.units)
        pick = rng.integers(0, 1 << 30, sc.units).tolist()
        suffix = [
            _UNIT_SUFFIX[UNIT_KINDS[k]][x % len(_UNIT_SUFFIX[UNIT_KINDS[k]])]
            for k, x in zip(kind.tolist(), pick, strict=True)
        ]
        n_res = rng.integers(2, 4, sc.units)
        res_perm = np.argsort(rng.random((sc.units, 6)), axis=1)
        resources = []
        for k, row, nr in zip(kind.tolist(), res_perm, n_res.tolist(), strict=True):
            opts = _UNIT_RESOURCES[UNIT_KINDS[k]]
            resources.append(",".join([opts[i] for i in row if i < len(opts)][:nr]))
        out["units"] = self.gdf(
            {
                "unit_id": _ids("U", sc.units, 3),
                "name": [p + s for p, s in zip(prefix, suffix, strict=True)],
                "kind": np.asarray(UNIT_KINDS)[kind],
                "community_id": c_ids[u_comm],
                "resources": resources,
                "force_kind": UNIT_FORCE_KIND,
            },
            shapely.points(u_xy),
        )

    def _leaders_forces(self, out: dict[str, gpd.GeoDataFrame], members: pd.DataFrame) -> None:
        """Each micro-grid's leader (微网格长, ``leader_id``): a party member living in it, by ``_LEADER_PRIORITY``
        then at random; "" where none lives there. Volunteer teams spread evenly over the six force kinds."""
        rng = self.rng
        role = members["_role"].to_numpy()
        cand = np.flatnonzero(_LEADER_PRIORITY[role] >= 0)
        micro = members["_micro"].to_numpy()[cand]
        order = np.lexsort((rng.random(len(cand)), _LEADER_PRIORITY[role[cand]], micro))
        first = order[np.r_[True, micro[order][1:] != micro[order][:-1]]] if len(order) else order
        leader = np.full(len(out["micro_grids"]), "", dtype=object)
        leader[micro[first]] = members["member_id"].to_numpy()[cand[first]]
        out["micro_grids"]["leader_id"] = leader
        teams = out["volunteer_teams"]
        teams["force_kind"] = np.asarray(FORCE_KINDS)[rng.permutation(np.arange(len(teams)) % len(FORCE_KINDS))]

    def _basic_units(self, out: dict[str, gpd.GeoDataFrame], grids: Geoms, g_comm: Ints, g_kind: Ints) -> None:
        """基本单元 as points inside their grid: rental houses (a landlord and their tenants) and shop streets
        (a street head and the shops), numbered grid by grid."""
        rng, sc = self.rng, self.sc
        n_r, n_s = sc.rental_houses, sc.shop_streets
        village = (out["communities"]["kind"].to_numpy() == "village")[g_comm]
        size = np.sqrt(shapely.area(grids))
        w_rent = size * np.where(g_kind == DEDICATED_KINDS.index("rental_housing"), 8.0, 1.0) * np.where(village, 2, 1)
        w_shop = size * np.where(g_kind == DEDICATED_KINDS.index("market"), 6.0, np.where(g_kind < 0, 1.0, 0.2))
        grid = np.r_[
            rng.choice(len(grids), n_r, p=w_rent / w_rent.sum()), rng.choice(len(grids), n_s, p=w_shop / w_shop.sum())
        ]
        kind = np.r_[np.zeros(n_r, dtype=np.int64), np.ones(n_s, dtype=np.int64)]
        order = np.lexsort((kind, grid))
        grid, kind = grid[order], kind[order]
        xy = sample_points(grids, np.bincount(grid, minlength=len(grids)), rng)[0]  # sorted by grid, as ``grid``
        n = n_r + n_s
        shop = kind == 1
        comm = g_comm[grid]
        by_comm = np.lexsort((kind, comm))
        number = np.empty(n, dtype=np.int64)  # a rental house's number in its community (shop streets: unused)
        number[by_comm] = ragged_rank(comm[by_comm] * 2 + kind[by_comm]) + 1
        c_names = out["communities"]["name"].to_numpy()
        streets = _names.place_names(rng, n_s)
        suffix = np.where(rng.random(n_s) < 0.4, "红街", "商业街")
        s_names = iter([f"{p}{s}" for p, s in zip(streets, suffix.tolist(), strict=True)])
        names = [
            next(s_names) if s else f"{c_names[c]}{k}号出租房"
            for s, c, k in zip(shop.tolist(), comm.tolist(), number.tolist(), strict=True)
        ]
        tenants = rng.integers(*_RENTAL_TENANTS, n)
        shops = rng.integers(*_STREET_SHOPS, n)
        out["basic_units"] = self.gdf(
            {
                "basic_unit_id": _ids("BU", n, 4),
                "name": names,
                "kind": np.asarray(BASIC_UNIT_KINDS)[kind],
                "community_id": out["communities"]["community_id"].to_numpy()[comm],
                "grid_id": out["grids"]["grid_id"].to_numpy()[grid],
                "keeper_name": _names.person_names(rng, n),
                "phone": _names.phones(rng, n),
                "tenants": np.where(shop, 0, tenants),
                "shops": np.where(shop, shops, 0),
            },
            shapely.points(xy),
        )
