"""Private PostGIS reader behind ``geo.io``: ``geopandas.read_postgis`` through SQLAlchemy + psycopg 3."""

from __future__ import annotations

from typing import Any

import geopandas as gpd

_SCHEMES = ("postgresql://", "postgres://")


def read_postgis(url: str, table: str | None, query: str | None, geometry_column: str | None) -> gpd.GeoDataFrame:
    """A table (``schema.table``, every column) or a query as a GeoDataFrame; the SRID gives the CRS (0 → none).

    The geometry column is ``geometry_column``, else the table's entry in ``geometry_columns``, else the query's
    first column of type ``geometry``; ``ValueError`` when there is none. Connection and SQL errors are
    SQLAlchemy's/psycopg's. The geometry column is named ``geometry`` in the result.
    """
    from sqlalchemy import create_engine, text

    for scheme in _SCHEMES:
        if url.startswith(scheme):
            url = "postgresql+psycopg://" + url.removeprefix(scheme)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if table:
                sql = f"SELECT * FROM {_quote(conn, table)}"
                geom_col = geometry_column or _geometry_column_of_table(conn, table)
            else:
                sql = str(query)
                geom_col = geometry_column or _geometry_column_of_query(conn, sql)
            if not geom_col:
                raise ValueError("no geometry column found: set geometry_column = …")
            gdf = gpd.read_postgis(text(sql), conn, geom_col=str(geom_col))
    finally:
        engine.dispose()
    return gdf.rename_geometry("geometry") if gdf.geometry.name != "geometry" else gdf


def _quote(conn: Any, name: str) -> str:
    prep = conn.dialect.identifier_preparer
    return ".".join(prep.quote(part) for part in name.split("."))


def _geometry_column_of_table(conn: Any, table: str) -> str | None:
    from sqlalchemy import text

    schema, _, name = table.rpartition(".")
    found = conn.execute(
        text(
            "SELECT f_geometry_column FROM geometry_columns WHERE f_table_name = :t "
            "AND f_table_schema = COALESCE(NULLIF(:s, ''), current_schema()) LIMIT 1"
        ),
        {"t": name, "s": schema},
    ).scalar()
    return None if found is None else str(found)


def _geometry_column_of_query(conn: Any, sql: str) -> str | None:
    from sqlalchemy import text

    oid = conn.execute(text("SELECT oid FROM pg_type WHERE typname = 'geometry'")).scalar()
    result = conn.execute(text(f"SELECT * FROM ({sql}) AS q LIMIT 0"))
    for col in result.cursor.description:
        if col.type_code == oid:
            return str(col.name)
    return None
