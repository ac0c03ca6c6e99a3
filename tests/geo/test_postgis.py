"""PostGIS through the config: a table (SRID 4549, Chinese column names) and a query, read back and checked.

Runs against ``ONESCREEN_TEST_PG`` (default: the machine's PostgreSQL, database ``test``). CI installs PostGIS
(.ci/run) and sets ``ONESCREEN_REQUIRE_POSTGIS=1``, so there a missing database fails instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from geo.report import validate
from geo.sources import load_config, load_layers

PG_URL = os.environ.get("ONESCREEN_TEST_PG", "postgresql://root@127.0.0.1:5432/test")
REQUIRED = os.environ.get("ONESCREEN_REQUIRE_POSTGIS") == "1"


@pytest.fixture
def pg_schema() -> Iterator[tuple[object, str]]:
    psycopg = pytest.importorskip("psycopg")
    try:
        conn = psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if REQUIRED:
            raise
        pytest.skip(f"no PostgreSQL at {PG_URL}: {exc}")
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except psycopg.Error as exc:
        conn.close()
        if REQUIRED:
            raise
        pytest.skip(f"PostGIS not installed ({exc}); apt-get install postgresql-15-postgis-3")
    schema = f"onescreen_test_{uuid.uuid4().hex[:8]}"
    conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield conn, schema
    finally:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
        conn.close()


def test_postgis_table_and_query_through_the_config(
    pg_schema: tuple[object, str], tmp_path: Path, small_frames: dict[str, gpd.GeoDataFrame]
) -> None:
    conn, schema = pg_schema
    grids = small_frames["grids"]
    members = small_frames["members"].head(50)
    gk = grids.to_crs(4549)
    conn.execute(  # type: ignore[attr-defined]
        f'CREATE TABLE {schema}.wangge (gid serial PRIMARY KEY, "网格编号" text, "网格名称" text, '
        f'"所属社区" text, geom geometry(MultiPolygon, 4549))'
    )
    conn.execute(  # type: ignore[attr-defined]
        f"CREATE TABLE {schema}.dangyuan (member_id text, name text, grid_id text, geom geometry(Point, 4326))"
    )
    with conn.cursor() as cur:  # type: ignore[attr-defined]
        cur.executemany(
            f'INSERT INTO {schema}.wangge ("网格编号", "网格名称", "所属社区", geom) '
            "VALUES (%s, %s, %s, ST_Multi(ST_GeomFromWKB(%s, 4549)))",
            [
                (gid, name, cid, shapely.to_wkb(g))
                for gid, name, cid, g in zip(gk["grid_id"], gk["name"], gk["community_id"], gk.geometry, strict=True)
            ],
        )
        cur.executemany(
            f"INSERT INTO {schema}.dangyuan VALUES (%s, %s, %s, ST_GeomFromWKB(%s, 4326))",
            [
                (mid, name, gid, shapely.to_wkb(g))
                for mid, name, gid, g in zip(
                    members["member_id"], members["name"], members["grid_id"], members.geometry, strict=True
                )
            ],
        )
    config = tmp_path / "onescreen.toml"
    config.write_text(
        f"""
[layers.grids]
source = "{PG_URL}"
table = "{schema}.wangge"
[layers.grids.columns]
"网格编号" = "grid_id"
"网格名称" = "name"

[layers.members]
source = "{PG_URL}"
query = "SELECT member_id, name, grid_id, geom FROM {schema}.dangyuan WHERE member_id <> ''"
""",
        encoding="utf-8",
    )
    report = validate(load_config(config))
    assert report.ok, report.to_text()
    assert any(p.kind == "reprojected" and "4549" in p.message for p in report.problems)
    assert all("table " + schema in p.file or "query" in p.file for p in report.problems if p.file)

    layers = load_layers(config_path=config)
    assert layers.grids["grid_id"].tolist() == grids["grid_id"].tolist()
    assert layers.grids["name"].tolist() == grids["name"].tolist()
    assert layers.grids["community_id"].tolist() == grids["community_id"].tolist()  # 所属社区 mapped by alias
    assert shapely.hausdorff_distance(grids.geometry.to_numpy(), layers.grids.geometry.to_numpy()).max() < 1e-6
    assert layers.members["member_id"].tolist() == members["member_id"].tolist()
    assert layers.members.crs.to_epsg() == 4326


def test_postgis_errors_name_the_source_without_the_password(pg_schema: tuple[object, str], tmp_path: Path) -> None:
    _, schema = pg_schema
    url = PG_URL.replace("root@", "root:s3cret@") if "@" in PG_URL else PG_URL
    config = tmp_path / "onescreen.toml"
    config.write_text(f'[layers.grids]\nsource = "{url}"\ntable = "{schema}.nope"\n', encoding="utf-8")
    report = validate(load_config(config))
    (p,) = report.errors
    assert p.kind == "unreadable" and f"{schema}.nope" in p.message and "s3cret" not in report.to_text()
