"""The work list's URL handling (dashboard.work_table): controls ↔ query parameters, other parameters kept,
bad values left to the notice, sort ↔ DataTable, KPI tiles toggling, paging; and the one status rule the map
shares (incidents.worklist.status_mask in dashboard.frames.map_incidents)."""

from __future__ import annotations

from urllib.parse import parse_qs

import pandas as pd

from dashboard.work_table import (
    WINDOW_RANGE,
    Controls,
    active_tile,
    carry_filters,
    controls_of,
    filter_params,
    kpi_params,
    merged_search,
    page_count,
    page_with,
    sort_by_of,
    sort_of,
)
from incidents.worklist import DEFAULT_SORT, status_mask
from tests.incidents.test_worklist import row


def q(search: str) -> dict[str, list[str]]:
    return parse_qs(search.lstrip("?"))


def test_controls_write_parameters_and_read_them_back() -> None:
    c = Controls.of(" 井盖  松动 ", ["overdue", "open"], ["fire"], None, ["P001", "none"], "6h", "", "", "-priority")
    params = c.params()
    assert params == {
        "q": "井盖 松动",
        "status": "overdue,open",
        "category": "fire",
        "assignee": "P001,none",
        "window": "6h",
        "sort": "-priority",
    }
    assert controls_of(merged_search("", params)) == c


def test_a_custom_range_is_beijing_time_and_shown_as_the_input_takes_it() -> None:
    c = Controls.of(window=WINDOW_RANGE, since="2026-11-30T08:00", until="2026-11-30T18:30")
    assert c.params() == {"since": "2026-11-30T08:00+08:00", "until": "2026-11-30T18:30+08:00"}
    back = controls_of("?since=2026-11-30T00:00:00Z&until=2026-11-30T18:30%2B08:00")
    assert (back.window, back.since, back.until) == (WINDOW_RANGE, "2026-11-30T08:00", "2026-11-30T18:30")
    assert controls_of("?since=2026-11-30T08:00 08:00").since == "2026-11-30T08:00"  # a '+' lost in the URL
    assert Controls.of(window="6h", since="2026-11-30T08:00").params() == {"window": "6h"}  # the window wins


def test_other_parameters_are_kept_and_drill_downs_carry_the_filter() -> None:
    search = merged_search("?area=community:C03&lang=en&status=open", {"q": "x", "priority": "urgent"})
    assert q(search) == {"area": ["community:C03"], "lang": ["en"], "q": ["x"], "priority": ["urgent"]}
    assert search.startswith("?area=community:C03&lang=en&")
    assert merged_search("?q=x", {}) == ""
    assert q(carry_filters("?area=street:S01&status=overdue&sort=id", "?area=community:C03")) == {
        "area": ["community:C03"],
        "status": ["overdue"],
        "sort": ["id"],
    }


def test_values_no_option_offers_stay_in_the_url_not_in_the_controls() -> None:
    c = controls_of("?status=bogus,overdue&category=nope&priority=urgent,x&window=2d&sort=zzz")
    assert (c.status, c.category, c.priority, c.window) == (("overdue",), (), ("urgent",), "")
    assert filter_params("?status=bogus,overdue&window=2d")["status"] == "bogus,overdue"


def test_sort_follows_the_table_header() -> None:
    assert sort_by_of(DEFAULT_SORT) == [{"column_id": "reported", "direction": "desc"}]
    assert sort_by_of("priority") == [{"column_id": "priority", "direction": "asc"}]
    assert sort_of([{"column_id": "deadline", "direction": "asc"}]) == "deadline"
    assert sort_of([{"column_id": "updated", "direction": "desc"}]) == "-ts"
    assert sort_of([{"column_id": "title", "direction": "asc"}], "-id") == "-id"  # titles do not sort
    assert sort_of([], "-id") == DEFAULT_SORT


def test_a_kpi_tile_shows_its_own_list_and_a_second_click_clears_it() -> None:
    assert kpi_params("overdue", "?area=x&q=abc&category=fire&sort=id") == {"status": "overdue", "sort": "id"}
    assert active_tile("?status=overdue&sort=id") == "overdue"
    assert kpi_params("overdue", "?status=overdue&sort=id") == {"sort": "id"}
    assert kpi_params("today_reported", "?status=overdue") == {"window": "today"}
    assert kpi_params("rework_rate", "") == {"status": "reworked"}
    assert active_tile("?status=overdue&category=fire") is None


def test_pages() -> None:
    rows = pd.DataFrame({"id": [f"I{i}" for i in range(60)]})
    assert page_with(rows, "I0", 25) == 0 and page_with(rows, "I59", 25) == 2 and page_with(rows, "X", 25) is None
    assert page_count(0) == 1 and page_count(60, 25) == 3 and page_count(50, 25) == 2


def test_the_map_and_the_list_share_the_status_rule() -> None:
    df = pd.DataFrame(
        [
            row("a", overdue=True),
            row("b", "dispatched", priority="urgent"),
            row("c", "resolved", reopened=1),
            row("d", "cancelled"),
        ]
    )
    assert df.loc[status_mask(df, ("overdue",)), "id"].tolist() == ["a"]
    assert df.loc[status_mask(df, ("urgent", "cancelled")), "id"].tolist() == ["b", "d"]
    assert df.loc[status_mask(df, ("open",)), "id"].tolist() == ["a", "b"]
    assert df.loc[status_mask(df, ("reworked", "reported")), "id"].tolist() == ["a", "c"]
    assert status_mask(df, ()).all()
