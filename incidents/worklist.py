"""The work list (工单列表): which incidents a filter selects, in which order. Pure (pandas/numpy; no Dash, no Redis).

One filter model for the officials' table, its URL, ``GET /api/incidents.csv|.xlsx`` and the KPI tiles that act as
filters, so the exported list is the table on the screen. A ``WorkFilter`` is parsed from URL query parameters
(``WorkFilter.from_params``) and written back (``to_params``); ``select`` applies it to the rows of a
``SituationView.incidents`` table (every open incident, and ended ones for ``situation.RETENTION_S`` after their last
change).

Query parameters (every one optional; a list is comma-separated or repeated):

- ``q``: words found (case-insensitively, each anywhere) in the id, the title, the description (where residents
  and Open311 clients write the address: ``38号楼``), the grid, micro-grid or community name; for a caller whose
  role masks personal data the title and description are searched as they are shown to it (phone and ID numbers
  masked), so a search cannot confirm a number it may not see;
- ``status``: lifecycle statuses (``reported``, ``dispatched``, ``accepted``, ``resolved``, ``closed``,
  ``cancelled``) and the views ``open`` (待办: reported/dispatched/accepted), ``overdue`` (超期: open past its
  SLA deadline), ``urgent`` (紧急: priority urgent), ``reworked`` (返工: reopened at least once),
  ``escalated`` (催办); several are a union;
- ``category``: category keys; ``priority``: ``low``/``normal``/``high``/``urgent``;
- ``area``: a ``geo.areas`` ref (``community:C03``); the root or none is everything;
- ``assignee``: member ids (``P001015``), ``none`` for unassigned;
- ``window``: ``1h`` / ``6h`` / ``24h`` (reported in the last hours) or ``today`` (since 00:00 Asia/Shanghai);
  ``since`` / ``until``: reported at or after / before a moment (ISO 8601, ``2026-11-30T00:00+08:00``; no offset
  means Beijing time; a bare date is its midnight; epoch seconds; or relative ``-2h``). Time filters are on the
  report time (``created_ts``), as 数字城管 counts cases by 立案 time;
- ``sort``: a ``SORT_KEYS`` key, ``-`` before it for descending (default ``-created_ts``: newest first).

Bad values are collected and raised together (``WorkFilterError``), each naming the parameter and the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any, Final

import numpy as np
import pandas as pd

from geo.areas import AreaError, AreaTree
from geo.privacy import scrub_text
from incidents.model import OPEN_STATUS_VALUES, STATUS_ORDER, Priority
from incidents.timetravel import parse_at
from incidents.timeutil import SHANGHAI, local_midnight

VIEW_OPEN: Final = "open"
VIEW_OVERDUE: Final = "overdue"
VIEW_URGENT: Final = "urgent"
VIEW_REWORKED: Final = "reworked"
VIEW_ESCALATED: Final = "escalated"
STATUS_VIEWS: Final = (VIEW_OPEN, VIEW_OVERDUE, VIEW_URGENT, VIEW_REWORKED, VIEW_ESCALATED)
STATUS_VALUES: Final = tuple(s.value for s in STATUS_ORDER)
PRIORITY_VALUES: Final = tuple(p.value for p in Priority)
PRIORITY_RANK: Final = {"low": 0, "normal": 1, "high": 2, "urgent": 3}
UNASSIGNED: Final = "none"
WINDOWS_S: Final[dict[str, float | None]] = {"1h": 3600.0, "6h": 6 * 3600.0, "24h": 86400.0, "today": None}
SORT_KEYS: Final = ("created_ts", "ts", "deadline", "priority", "status", "id", "category", "grid")
DEFAULT_SORT: Final = "-created_ts"
MAX_QUERY: Final = 100  # characters of search text kept
# The KPI tiles that select a list (click 超期 → the overdue incidents): tile key → filter parameters.
KPI_FILTERS: Final[dict[str, dict[str, str]]] = {
    "today_reported": {"window": "today"},
    "open": {"status": VIEW_OPEN},
    "overdue": {"status": VIEW_OVERDUE},
    "rework": {"status": VIEW_REWORKED},
    "rework_rate": {"status": VIEW_REWORKED},
}
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class WorkFilterError(ValueError):
    """One or more query parameters are malformed; ``problems`` lists each (``"status: 'x' is not …"``)."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class Names:
    """Area names by id, for search and display: ``grids``/``micro_grids``/``communities`` map ids to names."""

    grids: Mapping[str, str] = field(default_factory=dict)
    micro_grids: Mapping[str, str] = field(default_factory=dict)
    communities: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WorkFilter:
    """One work-list selection (see the module doc for each parameter). Hashable; empty fields select all."""

    q: str = ""
    statuses: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    area: str = ""
    assignees: tuple[str, ...] = ()
    window: str = ""
    since: float | None = None
    until: float | None = None
    sort: str = DEFAULT_SORT

    @classmethod
    def from_params(
        cls,
        params: Mapping[str, str | Sequence[str] | None],
        *,
        areas: AreaTree | None = None,
        categories: Iterable[str] | None = None,
        now: float | None = None,
    ) -> WorkFilter:
        """The filter a query asks for (``params``: ``parse_qs`` output or plain strings; unknown names are
        ignored). ``areas``: check ``area`` against the data set; ``categories``: the known category keys (None:
        any). ``WorkFilterError`` listing every malformed value."""
        problems: list[str] = []

        def values(name: str) -> tuple[str, ...]:
            raw = params.get(name)
            items = [raw] if isinstance(raw, str) else list(raw or ())
            out = [v.strip() for item in items for v in str(item).split(",") if v.strip()]
            return tuple(dict.fromkeys(out))

        def one(name: str) -> str:
            got = values(name)
            return got[-1] if got else ""

        def known(name: str, got: tuple[str, ...], allowed: Iterable[str]) -> tuple[str, ...]:
            allowed = tuple(allowed)
            for v in got:
                if v not in allowed:
                    problems.append(f"{name}: {v!r} is not one of {', '.join(allowed)}")
            return tuple(v for v in got if v in allowed)

        statuses = known("status", values("status"), STATUS_VALUES + STATUS_VIEWS)
        cats = values("category")
        if categories is not None:
            cats = known("category", cats, sorted(set(categories)))
        priorities = known("priority", values("priority"), PRIORITY_VALUES)
        area = one("area")
        if area and areas is not None:
            try:
                area = areas.get(area).ref
            except AreaError as exc:
                problems.append(f"area: {exc}")
                area = ""
            if area == areas.root:
                area = ""
        window = one("window")
        if window and window not in WINDOWS_S:
            problems.append(f"window: {window!r} is not one of {', '.join(WINDOWS_S)}")
            window = ""
        since = _moment("since", one("since"), now, problems)
        until = _moment("until", one("until"), now, problems)
        if since is not None and until is not None and until <= since:
            problems.append(f"until: {one('until')!r} is not after since {one('since')!r}")
        sort = one("sort") or DEFAULT_SORT
        if sort.lstrip("-") not in SORT_KEYS:
            problems.append(f"sort: {sort!r} is not one of {', '.join(SORT_KEYS)} (- before it: descending)")
            sort = DEFAULT_SORT
        if problems:
            raise WorkFilterError(problems)
        return cls(
            q=_text(params.get("q"))[:MAX_QUERY],
            statuses=statuses,
            categories=cats,
            priorities=priorities,
            area=area,
            assignees=values("assignee"),
            window=window,
            since=since,
            until=until,
            sort=sort,
        )

    def to_params(self) -> dict[str, str]:
        """The query parameters of this filter (only those that select something; the default sort left out),
        ``from_params(to_params())`` gives it back. Times as ISO 8601 in Beijing time."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            name = {"statuses": "status", "categories": "category", "priorities": "priority"}.get(f.name, f.name)
            name = "assignee" if f.name == "assignees" else name
            if value in ("", (), None) or (f.name == "sort" and value == DEFAULT_SORT):
                continue
            if isinstance(value, tuple):
                out[name] = ",".join(value)
            elif isinstance(value, float):
                out[name] = datetime.fromtimestamp(value, SHANGHAI).isoformat(timespec="minutes")
            else:
                out[name] = str(value)
        return out

    def with_params(self, params: Mapping[str, str]) -> WorkFilter:
        """This filter with ``params`` (already valid ``to_params`` values) replacing the same parameters."""
        return WorkFilter.from_params({**self.to_params(), **params})

    def bounds(self, now: float) -> tuple[float | None, float | None]:
        """``[since, until)`` of the report time this filter keeps (epoch seconds; None: open-ended): the
        window's and the explicit bounds, whichever is narrower."""
        lo = self.since
        if self.window:
            span = WINDOWS_S[self.window]
            start = local_midnight(now) if span is None else now - span
            lo = start if lo is None else max(lo, start)
        return lo, self.until

    @property
    def is_empty(self) -> bool:
        """Whether this filter keeps every row (sort aside)."""
        return self.to_params().keys() <= {"sort"}


def _text(raw: str | Sequence[str] | None) -> str:
    """The last value of a free-text parameter, whitespace collapsed (commas are text here, not separators)."""
    items = [raw] if isinstance(raw, str) else list(raw or ())
    return " ".join(str(items[-1]).split()) if items else ""


def _moment(name: str, text: str, now: float | None, problems: list[str]) -> float | None:
    if not text:
        return None
    try:
        if _DATE_RE.match(text):
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), SHANGHAI).timestamp()
        return parse_at(text, now)
    except ValueError as exc:
        problems.append(f"{name}: {exc}")
        return None


def select(
    incidents: pd.DataFrame,
    flt: WorkFilter,
    *,
    now: float,
    areas: AreaTree | None = None,
    names: Names | None = None,
    masked: bool = False,
) -> pd.DataFrame:
    """The rows of ``incidents`` (``SituationView.incidents`` columns) that ``flt`` keeps, sorted by its ``sort``
    (ties: newest report first, then id). ``areas`` is needed for an ``area`` filter (``AreaError`` for a ref it
    lacks), ``names`` for searching and sorting by area names; ``masked``: search the free text as a masked
    caller sees it (``geo.privacy.scrub_text``). Vectorised: ~10 ms for 10,000 rows."""
    n = len(incidents)
    keep = np.ones(n, dtype=bool)
    if n == 0:
        return incidents
    names = names or Names()
    status = incidents["status"].astype(str)
    if flt.statuses:
        any_of = np.zeros(n, dtype=bool)
        for s in flt.statuses:
            any_of |= _status_mask(incidents, status, s)
        keep &= any_of
    if flt.categories:
        keep &= incidents["category"].astype(str).isin(flt.categories).to_numpy()
    if flt.priorities:
        keep &= incidents["priority"].astype(str).isin(flt.priorities).to_numpy()
    if flt.area:
        if areas is None:
            raise ValueError("an area filter needs the area tree")
        keep &= areas.mask(incidents, flt.area)
    if flt.assignees:
        assignee = incidents["assignee"].fillna("").astype(str)
        wanted = [a for a in flt.assignees if a != UNASSIGNED]
        hit = assignee.isin(wanted).to_numpy()
        if UNASSIGNED in flt.assignees:
            hit = hit | (assignee == "").to_numpy()
        keep &= hit
    lo, hi = flt.bounds(now)
    created = incidents["created_ts"].to_numpy(dtype=float)
    if lo is not None:
        keep &= created >= lo
    if hi is not None:
        keep &= created < hi
    if flt.q:
        keep &= _search(incidents, flt.q, names, masked=masked)
    rows = incidents.loc[keep]
    return sort_rows(rows, flt.sort, names)


def _status_mask(incidents: pd.DataFrame, status: pd.Series, s: str) -> np.ndarray:
    if s == VIEW_OPEN:
        return status.isin(OPEN_STATUS_VALUES).to_numpy()
    if s == VIEW_OVERDUE:
        return incidents["overdue"].fillna(False).astype(bool).to_numpy()
    if s == VIEW_URGENT:
        return (incidents["priority"].astype(str) == Priority.URGENT.value).to_numpy()
    if s == VIEW_REWORKED:
        return (incidents["reopened"].fillna(0).astype(int) > 0).to_numpy()
    if s == VIEW_ESCALATED:
        return incidents["escalated"].fillna(False).astype(bool).to_numpy()
    return (status == s).to_numpy()


def _search(incidents: pd.DataFrame, q: str, names: Names, *, masked: bool = False) -> np.ndarray:
    """Rows where every word of ``q`` is found in the id, title, description or area names (case-insensitive,
    literal); the free text scrubbed first when ``masked``."""
    text = incidents["title"].fillna("").astype(str)
    if "description" in incidents:
        text = text + "\n" + incidents["description"].fillna("").astype(str)
    if masked:
        text = text.map(scrub_text)  # cached per text: a repeated search costs a dictionary lookup per row
    haystack = (
        incidents["id"].astype(str)
        + "\n"
        + text
        + "\n"
        + incidents["grid_id"].astype(str).map(names.grids).fillna("")
        + "\n"
        + incidents["micro_grid_id"].astype(str).map(names.micro_grids).fillna("")
        + "\n"
        + incidents["community_id"].astype(str).map(names.communities).fillna("")
    ).str.casefold()
    keep = np.ones(len(incidents), dtype=bool)
    for word in q.casefold().split():
        keep &= haystack.str.contains(word, regex=False).to_numpy()
    return keep


def sort_rows(rows: pd.DataFrame, sort: str, names: Names | None = None) -> pd.DataFrame:
    """``rows`` ordered by ``sort`` (a ``SORT_KEYS`` key, ``-`` for descending; ``deadline``: the SLA deadline of
    open incidents, ``overdue_at``, missing last), ties broken by newest report then id."""
    key = sort.lstrip("-")
    descending = sort.startswith("-")
    names = names or Names()
    primary: Any
    if key == "priority":
        primary = rows["priority"].astype(str).map(PRIORITY_RANK).fillna(-1)
    elif key == "status":
        primary = rows["status"].astype(str).map({s: i for i, s in enumerate(STATUS_VALUES)}).fillna(-1)
    elif key == "deadline":
        primary = rows["overdue_at"].astype(float)
    elif key == "grid":
        primary = rows["grid_id"].astype(str).map(names.grids).fillna(rows["grid_id"].astype(str))
    else:
        primary = rows[key]
    frame = pd.DataFrame(
        {"k": primary.to_numpy(), "c": -rows["created_ts"].to_numpy(dtype=float), "i": rows["id"].astype(str)},
        index=rows.index,
    )
    order = frame.sort_values(["k", "c", "i"], ascending=[not descending, True, True], na_position="last").index
    return rows.loc[order]


def page(rows: pd.DataFrame, number: int, size: int) -> pd.DataFrame:
    """Page ``number`` (0-based; clamped to the last page) of ``size`` rows."""
    size = max(1, size)
    last = max(0, (len(rows) - 1) // size)
    start = min(max(0, number), last) * size
    return rows.iloc[start : start + size]


def status_mask(incidents: pd.DataFrame, statuses: Sequence[str]) -> np.ndarray:
    """Rows of ``incidents`` in any of ``statuses`` (lifecycle statuses and the views of the module doc: the
    ``status`` parameter's union); all rows for none. Shared with the map's status filter (``dashboard.frames``),
    so 超期 picked in the work list shows the same incidents on the map."""
    n = len(incidents)
    if not statuses or n == 0:
        return np.ones(n, dtype=bool)
    status = incidents["status"].astype(str)
    any_of = np.zeros(n, dtype=bool)
    for s in statuses:
        any_of |= _status_mask(incidents, status, s)
    return any_of
