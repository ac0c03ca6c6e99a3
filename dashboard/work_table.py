"""The work list on the officials' page as the browser holds it: the page URL's filter parameters ↔ the toolbar's
controls ↔ the table's sort, pages and KPI tiles. Pure (no Dash, no Redis); the filter itself is
``incidents.worklist.WorkFilter`` (its module doc lists the URL parameters).

The URL is the one state: the toolbar writes the filter parameters into the page URL's query (``merged_search``
keeps ``area=``, ``lang=`` and anything else), the table and the controls are read back from it
(``filter_of``, ``controls_of``), so a reload or a shared link shows the same list. ``area`` is the page's
drill-down area (``dashboard.page_request``), never a toolbar control.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from urllib.parse import parse_qs, parse_qsl, urlencode

import pandas as pd

from geo.areas import AreaTree
from incidents.model import CATEGORIES
from incidents.timeutil import SHANGHAI
from incidents.worklist import (
    DEFAULT_SORT,
    KPI_FILTERS,
    PRIORITY_VALUES,
    STATUS_VALUES,
    STATUS_VIEWS,
    WINDOWS_S,
    WorkFilter,
    WorkFilterError,
)

# The parameters the toolbar and the table own (``area`` belongs to the page: the drill-down).
FILTER_PARAMS: Final = ("q", "status", "category", "priority", "assignee", "window", "since", "until", "sort")
WINDOW_RANGE: Final = "range"  # the time control's "custom range": since/until inputs, no ``window`` parameter
PAGE_SIZE: Final = 25
# Table column → ``incidents.worklist.SORT_KEYS`` key; the other columns do not sort.
COLUMN_SORT: Final[dict[str, str]] = {
    "id": "id",
    "category": "category",
    "priority": "priority",
    "status": "status",
    "grid": "grid",
    "reported": "created_ts",
    "deadline": "deadline",
    "updated": "ts",
}
SORT_COLUMN: Final = {v: k for k, v in COLUMN_SORT.items()}
# The officials' page's KPI tiles that select a list (BRIEFING_KPIS ∩ KPI_FILTERS), in display order.
KPI_TILES: Final = ("today_reported", "open", "overdue", "rework_rate")
# What a KPI tile's filter replaces: a tile shows its own list (the one its number counts), whatever was chosen.
_KPI_CLEARS: Final = ("q", "status", "category", "priority", "assignee", "window", "since", "until")
_LOCAL_FMT: Final = "%Y-%m-%dT%H:%M"  # <input type="datetime-local"> value


@dataclass(frozen=True)
class Controls:
    """The toolbar's values: ``q`` text; ``status``/``category``/``priority``/``assignee`` lists of parameter
    values; ``window`` ``""``/``1h``/``6h``/``24h``/``today``/``range``; ``since``/``until`` datetime-local text
    (``YYYY-MM-DDTHH:MM``, Beijing time; other text as the URL gave it); ``sort`` a ``sort`` parameter."""

    q: str = ""
    status: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    priority: tuple[str, ...] = ()
    assignee: tuple[str, ...] = ()
    window: str = ""
    since: str = ""
    until: str = ""
    sort: str = DEFAULT_SORT
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        q: object = "",
        status: object = None,
        category: object = None,
        priority: object = None,
        assignee: object = None,
        window: object = "",
        since: object = "",
        until: object = "",
        sort: object = DEFAULT_SORT,
    ) -> Controls:
        """From the controls' raw values as Dash sends them (None for empty, lists for multi-selects)."""
        return cls(
            q=" ".join(str(q or "").split()),
            status=_items(status),
            category=_items(category),
            priority=_items(priority),
            assignee=_items(assignee),
            window=str(window or ""),
            since=str(since or "").strip(),
            until=str(until or "").strip(),
            sort=str(sort or DEFAULT_SORT),
        )

    def params(self) -> dict[str, str]:
        """The filter parameters these controls ask for (the URL's; empty ones left out, the default sort too).
        Since/until only with the custom range; a datetime-local value gets Beijing's offset."""
        out: dict[str, str] = {}
        if self.q:
            out["q"] = self.q
        for name in ("status", "category", "priority", "assignee"):
            values: tuple[str, ...] = getattr(self, name)
            if values:
                out[name] = ",".join(values)
        if self.window and self.window != WINDOW_RANGE:
            out["window"] = self.window
        if self.window == WINDOW_RANGE or not self.window:
            for name in ("since", "until"):
                text: str = getattr(self, name)
                if text:
                    out[name] = _with_offset(text)
        if self.sort and self.sort != DEFAULT_SORT:
            out["sort"] = self.sort
        return out


def _items(value: object) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    items = [value] if isinstance(value, str) else list(value) if isinstance(value, Iterable) else [value]
    return tuple(dict.fromkeys(str(v).strip() for v in items if str(v).strip()))


def _with_offset(text: str) -> str:
    try:
        moment = datetime.strptime(text, _LOCAL_FMT)
    except ValueError:
        return text  # not an input's value: the URL's own text, checked by WorkFilter.from_params
    return moment.replace(tzinfo=SHANGHAI).isoformat(timespec="minutes")


def _local(text: str) -> str:
    """A since/until parameter as a datetime-local value (Beijing time); text it cannot read as it is."""
    try:
        moment = datetime.fromisoformat(text.replace(" ", "+") if "T" in text and " " in text else text)
    except ValueError:
        return text
    if moment.tzinfo is not None:
        moment = moment.astimezone(SHANGHAI)
    return moment.strftime(_LOCAL_FMT)


def query_params(search: str | None) -> dict[str, list[str]]:
    """``parse_qs`` of a URL's query (``?`` optional), blank values kept."""
    return parse_qs((search or "").lstrip("?"), keep_blank_values=True)


def filter_params(search: str | None) -> dict[str, str]:
    """The work-list parameters of a page URL's query (last value of each; ``area`` not among them)."""
    params = query_params(search)
    return {k: ",".join(v) if k != "q" else v[-1] for k, v in params.items() if k in FILTER_PARAMS and v}


def controls_of(search: str | None) -> Controls:
    """The toolbar's values for a page URL's query. Values no option offers are left out (a dropdown would drop
    them itself and so rewrite the URL: the bad parameter stays in the URL and its notice on the page)."""
    p = filter_params(search)
    since, until = _local(p.get("since", "")), _local(p.get("until", ""))
    window = p.get("window", "")
    window = window if window in WINDOWS_S else ""
    if not window and (since or until):
        window = WINDOW_RANGE

    def known(name: str, allowed: Iterable[str]) -> list[str]:
        return [v for v in p.get(name, "").split(",") if v in allowed]

    return Controls.of(
        q=p.get("q", ""),
        status=known("status", STATUS_VALUES + STATUS_VIEWS),
        category=known("category", CATEGORIES),
        priority=known("priority", PRIORITY_VALUES),
        assignee=p.get("assignee", "").split(","),
        window=window,
        since=since,
        until=until,
        sort=p.get("sort", "") or DEFAULT_SORT,
    )


def merged_search(search: str | None, params: Mapping[str, str]) -> str:
    """The query string (``?…``, or "" when empty) of ``search`` with its work-list parameters replaced by
    ``params``; every other parameter (``area``, ``lang``, …) kept, in its place."""
    kept = [(k, v) for k, v in parse_qsl((search or "").lstrip("?"), keep_blank_values=True) if k not in FILTER_PARAMS]
    items = kept + [(k, params[k]) for k in FILTER_PARAMS if params.get(k)]
    return ("?" + urlencode(items, safe=":,")) if items else ""


def carry_filters(old_search: str | None, new_search: str) -> str:
    """``new_search`` (a drill-down's ``?area=…``) keeping the work-list parameters of ``old_search``: the list
    stays filtered as the page moves to another area."""
    return merged_search(new_search, filter_params(old_search))


def filter_of(
    search: str | None,
    *,
    area: str,
    tree: AreaTree,
    categories: Iterable[str] | None,
    now: float,
) -> tuple[WorkFilter, list[str]]:
    """The filter a page URL's query asks for, on the page's ``area`` (already checked), and the problems
    (``WorkFilterError.problems``) of the parameters left out because they were malformed — the rest applies."""
    params: dict[str, str] = filter_params(search)
    problems: list[str] = []
    for _ in range(len(FILTER_PARAMS) + 1):
        try:
            flt = WorkFilter.from_params(params, areas=tree, categories=categories, now=now)
        except WorkFilterError as exc:
            problems.extend(exc.problems)
            bad = {p.split(":", 1)[0].strip() for p in exc.problems}
            bad = bad & set(params) or set(params)  # a problem naming no parameter: give up on all
            params = {k: v for k, v in params.items() if k not in bad}
            continue
        return WorkFilter(**{**_fields(flt), "area": area}), problems
    return WorkFilter(area=area), problems


def _fields(flt: WorkFilter) -> dict[str, Any]:
    return {name: getattr(flt, name) for name in WorkFilter.__dataclass_fields__}


def sort_by_of(sort: str) -> list[dict[str, str]]:
    """DataTable ``sort_by`` showing a ``sort`` parameter (``-created_ts`` → reported, descending)."""
    column = SORT_COLUMN.get(sort.lstrip("-"))
    if column is None:
        return []
    return [{"column_id": column, "direction": "desc" if sort.startswith("-") else "asc"}]


def sort_of(sort_by: Sequence[Mapping[str, Any]] | None, current: str = DEFAULT_SORT) -> str:
    """The ``sort`` parameter of a DataTable ``sort_by`` (the first column); a column that does not sort keeps
    ``current``; none (the third click on a header) is the default order."""
    if not sort_by:
        return DEFAULT_SORT
    first = sort_by[0]
    key = COLUMN_SORT.get(str(first.get("column_id")))
    if key is None:
        return current
    return ("-" if first.get("direction") == "desc" else "") + key


def kpi_params(tile: str, search: str | None) -> dict[str, str]:
    """The filter parameters after a click on KPI ``tile``: the tile's list (``KPI_FILTERS``), or — when the
    list shows it already — no filter (a second click clears it). The sort is kept."""
    current = filter_params(search)
    wanted = dict(KPI_FILTERS.get(tile, {}))
    kept = {k: v for k, v in current.items() if k not in _KPI_CLEARS}
    if active_tile(search) == tile:
        return kept
    return {**kept, **wanted}


def active_tile(search: str | None) -> str | None:
    """The KPI tile whose list the URL's filter is (exactly its parameters), or None."""
    current = {k: v for k, v in filter_params(search).items() if k != "sort" and v}
    for tile in KPI_TILES:
        if current == KPI_FILTERS[tile]:
            return tile
    return None


def page_with(rows: pd.DataFrame, incident_id: str, size: int = PAGE_SIZE) -> int | None:
    """The page (0-based) of ``rows`` holding ``incident_id``, None when it is not in them."""
    if not len(rows):
        return None
    hits = (rows["id"].astype(str) == incident_id).to_numpy().nonzero()[0]
    return int(hits[0]) // max(1, size) if len(hits) else None


def page_count(total: int, size: int = PAGE_SIZE) -> int:
    """Pages of ``size`` rows for ``total`` rows (at least one)."""
    return max(1, -(-total // max(1, size)))
