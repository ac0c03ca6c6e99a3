"""The work-list filter model (incidents.worklist): parsing, each filter, search, sort, paging."""

from __future__ import annotations

from urllib.parse import parse_qs

import numpy as np
import pandas as pd
import pytest

from geo.areas import Area, AreaTree
from incidents.situation import COLUMNS
from incidents.timeutil import parse_ts
from incidents.worklist import KPI_FILTERS, Names, WorkFilter, WorkFilterError, page, select, sort_rows

NOW = parse_ts("2026-11-30T15:00:00+08:00")
H = 3600.0


def row(id: str, status: str = "reported", **kw: object) -> dict[str, object]:
    base: dict[str, object] = {c: None for c in COLUMNS}
    base.update(
        id=id,
        status=status,
        lon=120.0,
        lat=30.0,
        category="environment",
        category_label="环境卫生",
        priority="normal",
        grid_id="G1",
        micro_grid_id="G1-m1",
        community_id="C01",
        created_ts=NOW - H,
        ts=NOW - H,
        overdue=False,
        urgent=False,
        title="",
        assignee="",
        source="app",
        reopened=0,
        escalated=False,
        rating=np.nan,
        overdue_at=np.nan,
        resolve_due=np.nan,
    )
    base.update(kw)
    return base


@pytest.fixture()
def table() -> pd.DataFrame:
    return pd.DataFrame(
        [
            row("SIM-00001", title="38号楼 楼道堆物", created_ts=NOW - 0.5 * H, overdue_at=NOW + H),
            row("SIM-00002", "dispatched", overdue=True, assignee="P001015", overdue_at=NOW - H,
                created_ts=NOW - 5 * H),
            row("SIM-00003", "accepted", priority="urgent", urgent=True, category="fire", grid_id="G2",
                micro_grid_id="G2-m1", community_id="C02", created_ts=NOW - 20 * H, overdue_at=NOW + 2 * H),
            row("SIM-00004", "closed", reopened=1, created_ts=NOW - 30 * H, title="路灯不亮"),
            row("SIM-00005", "cancelled", created_ts=NOW - 2 * H, escalated=False),
            row("SIM-00006", "resolved", escalated=True, priority="high", created_ts=NOW - 10 * H,
                description="12号楼3单元附近：路面塌陷，联系电话13912345678"),
        ],
        columns=list(COLUMNS),
    )  # fmt: skip


@pytest.fixture()
def tree() -> AreaTree:
    areas = {
        "district:D": Area("district", "D", "全区", None, (0, 0, 1, 1)),
        "street:S1": Area("street", "S1", "一街道", "district:D", (0, 0, 1, 1)),
        "community:C01": Area("community", "C01", "东社区", "street:S1", (0, 0, 1, 1)),
        "community:C02": Area("community", "C02", "西社区", "street:S1", (0, 0, 1, 1)),
    }
    return AreaTree(
        areas=areas,
        root="district:D",
        children={"district:D": ("street:S1",), "street:S1": ("community:C01", "community:C02")},
        street_communities={"S1": ("C01", "C02")},
        parent_of={k: a.parent for k, a in areas.items()},
    )


NAMES = Names(
    grids={"G1": "东一网格", "G2": "西二网格"}, micro_grids={"G2-m1": "桂花苑微网格"}, communities={"C01": "东社区"}
)


def ids(rows: pd.DataFrame) -> list[str]:
    return rows["id"].tolist()


def pick(table: pd.DataFrame, query: str, tree: AreaTree | None = None) -> list[str]:
    flt = WorkFilter.from_params(parse_qs(query), areas=tree, now=NOW)
    return ids(select(table, flt, now=NOW, areas=tree, names=NAMES))


def test_no_filter_keeps_everything_newest_first(table: pd.DataFrame) -> None:
    assert pick(table, "") == ["SIM-00001", "SIM-00005", "SIM-00002", "SIM-00006", "SIM-00003", "SIM-00004"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=overdue", ["SIM-00002"]),
        ("status=urgent", ["SIM-00003"]),
        ("status=cancelled", ["SIM-00005"]),
        ("status=open", ["SIM-00001", "SIM-00002", "SIM-00003"]),
        ("status=reworked", ["SIM-00004"]),
        ("status=escalated", ["SIM-00006"]),
        ("status=overdue,cancelled", ["SIM-00005", "SIM-00002"]),
        ("status=overdue&status=urgent", ["SIM-00002", "SIM-00003"]),
        ("category=fire", ["SIM-00003"]),
        ("priority=high,urgent", ["SIM-00006", "SIM-00003"]),
        ("assignee=P001015", ["SIM-00002"]),
        ("window=1h", ["SIM-00001"]),
        ("window=6h", ["SIM-00001", "SIM-00005", "SIM-00002"]),
        ("window=24h&status=open", ["SIM-00001", "SIM-00002", "SIM-00003"]),
        ("window=today", ["SIM-00001", "SIM-00005", "SIM-00002", "SIM-00006"]),  # today began 15 h ago
        # '+08:00' as a browser sends it unencoded arrives as ' 08:00': still that moment
        ("since=2026-11-30T12:00+08:00", ["SIM-00001", "SIM-00005"]),
        ("since=2026-11-30T12:00%2B08:00&until=2026-11-30T14:00", ["SIM-00005"]),
        ("since=2026-11-30", ["SIM-00001", "SIM-00005", "SIM-00002", "SIM-00006"]),
        ("since=-3h", ["SIM-00001", "SIM-00005"]),
        ("q=38号楼", ["SIM-00001"]),
        ("q=12号楼", ["SIM-00006"]),  # an address written in the description
        ("q=sim-00004", ["SIM-00004"]),
        ("q=桂花苑", ["SIM-00003"]),  # a micro-grid's name
        ("q=西二", ["SIM-00003"]),  # a grid's name
        ("q=东社区 路灯", ["SIM-00004"]),  # every word, anywhere
        ("sort=priority", ["SIM-00001", "SIM-00005", "SIM-00002", "SIM-00004", "SIM-00006", "SIM-00003"]),
        ("sort=-priority&status=open", ["SIM-00003", "SIM-00001", "SIM-00002"]),
        ("sort=deadline&status=open", ["SIM-00002", "SIM-00001", "SIM-00003"]),
        ("sort=id", ["SIM-00001", "SIM-00002", "SIM-00003", "SIM-00004", "SIM-00005", "SIM-00006"]),
    ],
)
def test_each_filter(table: pd.DataFrame, query: str, expected: list[str]) -> None:
    assert pick(table, query) == expected


def test_area_filter(table: pd.DataFrame, tree: AreaTree) -> None:
    assert pick(table, "area=community:C02", tree) == ["SIM-00003"]
    assert len(pick(table, "area=street:S1", tree)) == 6
    assert len(pick(table, "area=district:D", tree)) == 6  # the root: everything
    assert WorkFilter.from_params({"area": "district:D"}, areas=tree).area == ""


def test_unassigned(table: pd.DataFrame) -> None:
    assert "SIM-00002" not in pick(table, "assignee=none") and len(pick(table, "assignee=none")) == 5


def test_every_problem_reported_at_once(tree: AreaTree) -> None:
    with pytest.raises(WorkFilterError) as err:
        WorkFilter.from_params(
            parse_qs("status=late&priority=max&window=2h&since=yesterday&sort=colour&area=community:C99"),
            areas=tree,
            categories=["fire"],
            now=NOW,
        )
    text = str(err.value)
    for name in ("status: 'late'", "priority: 'max'", "window: '2h'", "since:", "sort: 'colour'", "area:"):
        assert name in text
    assert len(err.value.problems) == 6


def test_unknown_category_refused_when_categories_known() -> None:
    with pytest.raises(WorkFilterError, match="category: 'ufo'"):
        WorkFilter.from_params({"category": "ufo"}, categories=["fire", "environment"])


def test_params_round_trip(tree: AreaTree) -> None:
    query = (
        "q=38号楼, 东&status=overdue,urgent&category=fire&priority=urgent&area=community:C02&assignee=P1,none"
        "&window=6h&since=2026-11-29T08:00%2B08:00&until=2026-11-30&sort=-deadline"
    )
    flt = WorkFilter.from_params(parse_qs(query), areas=tree, now=NOW)
    assert flt.q == "38号楼, 东"  # commas are text in a search
    again = WorkFilter.from_params(flt.to_params(), areas=tree, now=NOW)
    assert again == flt
    assert WorkFilter().to_params() == {} and WorkFilter().is_empty


def test_kpi_tiles_select_their_list(table: pd.DataFrame) -> None:
    overdue = WorkFilter().with_params(KPI_FILTERS["overdue"])
    assert ids(select(table, overdue, now=NOW)) == ["SIM-00002"]
    today = WorkFilter().with_params(KPI_FILTERS["today_reported"])
    assert len(select(table, today, now=NOW)) == 4


def test_paging(table: pd.DataFrame) -> None:
    rows = sort_rows(table, "id")
    assert ids(page(rows, 0, 4)) == ["SIM-00001", "SIM-00002", "SIM-00003", "SIM-00004"]
    assert ids(page(rows, 1, 4)) == ["SIM-00005", "SIM-00006"]
    assert ids(page(rows, 9, 4)) == ["SIM-00005", "SIM-00006"]  # past the end: the last page


def test_empty_table() -> None:
    empty = pd.DataFrame(columns=list(COLUMNS))
    assert len(select(empty, WorkFilter(statuses=("open",), q="x"), now=NOW)) == 0


def test_a_masked_search_cannot_confirm_a_number_it_may_not_see(table: pd.DataFrame) -> None:
    flt = WorkFilter(q="13912345678")
    assert ids(select(table, flt, now=NOW)) == ["SIM-00006"]
    assert ids(select(table, flt, now=NOW, masked=True)) == []
    assert ids(select(table, WorkFilter(q="139****5678"), now=NOW, masked=True)) == ["SIM-00006"]  # as shown
    assert ids(select(table, WorkFilter(q="路面塌陷"), now=NOW, masked=True)) == ["SIM-00006"]
