"""The work list as people read it: the officials' table and the CSV/Excel exports, one set of columns.

``work_list`` runs ``incidents.worklist.select`` over what the actor may see (its areas), and ``records`` turns
the rows into display values — names not ids, labels in the page's language, times in Beijing time, assignees and
free text masked unless the actor's role shows personal data. The table on the page and the exported files are
built from the same ``records``, so an export is the table on the screen. No Dash, no Redis.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from dashboard import i18n
from geo.areas import AreaTree
from geo.privacy import scrub_text
from incidents.worklist import Names, WorkFilter, select

# (key, zh header, en header): the table's and the exports' columns, in order.
COLUMNS: Final[tuple[tuple[str, str, str], ...]] = (
    ("id", "编号", "ID"),
    ("title", "标题", "Title"),
    ("category", "类别", "Category"),
    ("priority", "紧急程度", "Priority"),
    ("status", "状态", "Status"),
    ("overdue", "超期", "Overdue"),
    ("community", "社区", "Community"),
    ("grid", "网格", "Grid"),
    ("micro_grid", "微网格", "Micro-grid"),
    ("assignee", "承办人", "Assignee"),
    ("reported", "上报时间", "Reported"),
    ("deadline", "办理时限", "Deadline"),
    ("updated", "最后更新", "Last change"),
    ("source", "来源", "Source"),
    ("rating", "评价", "Rating"),
    ("reopened", "返工次数", "Reworked"),
)
COLUMN_KEYS: Final = tuple(k for k, _, _ in COLUMNS)
TIME_ZONE_NOTE: Final = {"zh": "时间均为北京时间（UTC+8）", "en": "All times are Beijing time (UTC+8)"}
PRIORITY_LABELS: Final = {
    "zh": {"low": "低", "normal": "一般", "high": "高", "urgent": "紧急"},
    "en": {"low": "Low", "normal": "Normal", "high": "High", "urgent": "Urgent"},
}


TIME_KEYS: Final = frozenset({"reported", "deadline", "updated"})
ZONE_SUFFIX: Final = {"zh": "（北京时间）", "en": " (UTC+8)"}


def headers(lang: str = "zh", *, with_zone: bool = False) -> list[str]:
    """The column headers in ``lang`` (``COLUMNS`` order); ``with_zone``: the time columns name their time zone
    (``上报时间（北京时间）``), as a file read elsewhere must say."""
    lang = i18n.norm_lang(lang)
    suffix = ZONE_SUFFIX[lang] if with_zone else ""
    return [(zh if lang == "zh" else en) + (suffix if k in TIME_KEYS else "") for k, zh, en in COLUMNS]


@dataclass(frozen=True)
class Directory:
    """Who and where, by id: area names (``Names``) and members' names and roles (``members``: ``member_id``,
    ``name``, ``role`` columns of the data set's members layer)."""

    names: Names
    member_names: Mapping[str, str]
    member_roles: Mapping[str, str]

    @classmethod
    def of(cls, tree: AreaTree, members: pd.DataFrame) -> Directory:
        """From the data set's area tree and members layer."""
        by_kind: dict[str, dict[str, str]] = {"grid": {}, "micro_grid": {}, "community": {}}
        for area in tree.areas.values():
            if area.kind in by_kind:
                by_kind[area.kind][area.id] = area.name
        ids = members["member_id"].astype(str).to_numpy() if "member_id" in members else np.array([], dtype=str)
        names = members["name"].astype(str).to_numpy() if "name" in members else np.array([""] * len(ids))
        roles = members["role"].astype(str).to_numpy() if "role" in members else np.array([""] * len(ids))
        return cls(
            Names(grids=by_kind["grid"], micro_grids=by_kind["micro_grid"], communities=by_kind["community"]),
            dict(zip(ids, names, strict=True)),
            dict(zip(ids, roles, strict=True)),
        )


def work_list(
    incidents: pd.DataFrame,
    flt: WorkFilter,
    *,
    now: float,
    tree: AreaTree,
    directory: Directory,
    scope: tuple[str, ...] = (),
    masked: bool = False,
) -> pd.DataFrame:
    """The rows of ``incidents`` (``SituationView.incidents``) inside ``scope`` (an actor's areas; empty:
    everything) that ``flt`` selects, in its order; ``masked``: the search sees free text as a masked actor
    does. ``AreaError`` for an area filter the data set lacks."""
    if scope:
        incidents = incidents.loc[tree.mask_any(incidents, scope)]
    return select(incidents, flt, now=now, areas=tree, names=directory.names, masked=masked)


def records(rows: pd.DataFrame, directory: Directory, *, lang: str = "zh", masked: bool = True) -> list[dict[str, str]]:
    """One dict per row, keys ``COLUMN_KEYS``, every value display text: labels in ``lang``, names not ids,
    times ``YYYY-MM-DD HH:MM`` Beijing time, "" when missing. ``masked``: assignee names masked (张*明) and
    phone/ID numbers in titles scrubbed (``geo.privacy.scrub_text``)."""
    lang = i18n.norm_lang(lang)
    names = directory.names
    priorities = PRIORITY_LABELS[lang]
    yes = "是" if lang == "zh" else "yes"
    out: list[dict[str, str]] = []
    for r in rows.to_dict("records"):
        assignee = str(r.get("assignee") or "")
        who = directory.member_names.get(assignee)
        if who is not None:
            role = i18n.role_label(directory.member_roles.get(assignee, ""), lang)
            shown = (i18n.mask_name(who) if masked else who) + (f"（{role}）" if role and lang == "zh" else "")
            shown += f" ({role})" if role and lang != "zh" else ""
        else:
            shown = assignee  # a unit or an outside system's id: shown as given
        title = str(r.get("title") or "")
        rating = r.get("rating")
        status = str(r.get("status") or "")
        deadline = r.get("overdue_at") if status in ("reported", "dispatched", "accepted") else r.get("resolve_due")
        out.append(
            {
                "id": str(r.get("id") or ""),
                "title": scrub_text(title) if masked else title,
                "category": i18n.category_label(r.get("category"), lang),
                "priority": priorities.get(str(r.get("priority") or ""), str(r.get("priority") or "")),
                "status": i18n.status_label(status, lang) if status else "",
                "overdue": yes if bool(r.get("overdue")) else "",
                "community": names.communities.get(str(r.get("community_id") or ""), str(r.get("community_id") or "")),
                "grid": names.grids.get(str(r.get("grid_id") or ""), str(r.get("grid_id") or "")),
                "micro_grid": names.micro_grids.get(
                    str(r.get("micro_grid_id") or ""), str(r.get("micro_grid_id") or "")
                ),
                "assignee": shown,
                "reported": _time(r.get("created_ts")),
                "deadline": _time(deadline),
                "updated": _time(r.get("ts")),
                "source": str(r.get("source") or ""),
                "rating": "" if i18n.is_missing(rating) else str(int(float(str(rating)))),
                "reopened": str(int(r.get("reopened") or 0)) if r.get("reopened") else "",
            }
        )
    return out


def _time(ts: object) -> str:
    if i18n.is_missing(ts):
        return ""
    return i18n.to_shanghai(float(str(ts))).strftime("%Y-%m-%d %H:%M")
