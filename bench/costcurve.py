"""The cost curve (family ``costcurve``): how our server's costs grow from the demo street to the city.

For each size — the committed demo data, data sets generated at in-between sizes (``geo.synthetic.generate`` with
``grids``/``members``, city proportions: 10 members and 1 open incident per grid) and the city set — one child
process (``bench.cityrender``, hard deadline) seeds a day of history plus the open incidents, serves the data,
loads the district wall cold and with scripts cached, runs a live phase on it and connects ``TABS`` more pages.
Rows per size: first render (scripts cached; cold in the note), server RSS with the pages connected, server CPU
per change and bytes per pushed update, each with the demo's value as its baseline (ratio = growth). The city
rows carry the budgets (≤ 3 s / ≤ 6 s cold; ≤ 600 MB with 20 pages). ``--quick``: the two smallest sizes only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.cityrender import CITY_OPEN, CityRender, run_isolated
from bench.env import BENCH_DIR, CITY_SEED, BenchEnv, city_path, demo_path
from bench.report import Measurement, failed, ratio

FAMILY = "cost curve"
MEMBERS_PER_GRID = 10  # the city's proportion (100,000 members, 10,000 grids)
IN_BETWEEN = (1_000, 2_500, 5_000)  # grids
CITY_GRIDS = 10_000
DEMO_GRIDS = 150
TABS = 20
LIVE_EVENTS = 60  # 6 s at 10 changes/s


@dataclass(frozen=True)
class Size:
    name: str
    grids: int
    open_n: int
    data: Path


def curve_path(grids: int) -> Path:
    """A data set of ``grids`` grids (city proportions), generated once into .onescreen/bench/curve-<grids>."""
    from geo.synthetic import GPKG_NAME, generate

    out = BENCH_DIR / f"curve-{grids}"
    path = out / GPKG_NAME
    if not path.exists():
        print(f"  generating a {grids:,}-grid data set into {out} (once) …", flush=True)
        generate(out, seed=CITY_SEED, scale="city", grids=grids, members=grids * MEMBERS_PER_GRID, progress=False)
    return path


def sizes(quick: bool) -> list[Size]:
    """demo → the in-between sizes → city (quick: demo and the smallest in-between size)."""
    between = IN_BETWEEN[:1] if quick else IN_BETWEEN
    out = [Size("demo", DEMO_GRIDS, DEMO_GRIDS, demo_path())]
    out += [Size(f"{g:,} grids", g, g, curve_path(g)) for g in between]
    if not quick:
        out.append(Size("city", CITY_GRIDS, CITY_OPEN, city_path()))
    return out


def rows(size: Size, run: CityRender, demo: CityRender | None, tabs: int) -> list[Measurement]:
    """Four rows for one size, the demo's values as baselines (ratio = how many times the demo's cost)."""
    city = size.name == "city"
    where = (
        f"({size.name}, {size.open_n:,} open)"
        if size.name.endswith("grids")
        else f"({size.name}: {size.grids:,} grids, {size.open_n:,} open)"
    )
    err = run.error
    base = demo if demo is not None and demo is not run else None

    def row(name: str, value: float | None, unit: str, demo_value: float | None, **kw: object) -> Measurement:
        return Measurement(
            FAMILY,
            f"{name} {where}",
            value,
            unit,
            baseline=demo_value if base is not None else None,
            baseline_name="demo" if base is not None else "",
            ratio=ratio(value, demo_value) if base is not None else None,
            error=err if value is None else "",
            **kw,  # type: ignore[arg-type]
        )

    render_ok = run.warm_ms is not None and run.warm_ms <= 3000 and (run.cold_ms or 1e9) <= 6000
    rss = run.rss_tabs_mb if run.rss_tabs_mb is not None else run.rss_mb
    return [
        row(
            "/wall first render, scripts cached",
            run.warm_ms,
            "ms",
            base.warm_ms if base else None,
            budget="≤ 3,000 ms (cold ≤ 6,000 ms)" if city else "",
            passed=render_ok if city else None,
            note=f"cold {run.cold_ms or 0:,.0f} ms; server start → healthy {run.server_start_s or 0:.1f} s",
        ),
        row(
            f"server RSS, {run.tabs} pages connected",
            rss,
            "MB",
            (base.rss_tabs_mb or base.rss_mb) if base else None,
            budget=f"≤ 600 MB with {tabs} pages" if city else "",
            passed=(rss is not None and rss <= 600 and run.tabs >= tabs) if city else None,
            note=f"after the first render alone {run.rss_mb or 0:,.0f} MB",
        ),
        row(
            "server CPU per change (above idle)",
            run.cpu_ms_per_event,
            "ms",
            base.cpu_ms_per_event if base else None,
            note=f"{LIVE_EVENTS} changes at 10/s, one wall open",
        ),
        row(
            "bytes per pushed update, median",
            run.update_bytes,
            "B",
            base.update_bytes if base else None,
            note=f"{run.updates} updates pushed",
        ),
    ]


def run(env: BenchEnv) -> list[Measurement]:
    out: list[Measurement] = []
    demo: CityRender | None = None
    try:
        todo = sizes(env.quick)
    except Exception as exc:
        return [failed(FAMILY, "data sets", exc)]
    for size in todo:
        try:
            got = run_isolated(
                env, "ours", render_timeout_s=60, hard_timeout_s=300, data=size.data, open_n=size.open_n,
                live=LIVE_EVENTS, tabs=TABS,
            )  # fmt: skip
        except Exception as exc:
            out.append(failed(FAMILY, size.name, exc))
            continue
        if size.name == "demo":
            demo = got
        out += rows(size, got, demo, TABS)
    return out
