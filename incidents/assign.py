"""Assignment help (派单建议): who should take an incident — the nearest fitting members on duty.

Pure domain logic over the geo layers (no Redis, no Dash). Ranking rules:

1. **Eligible**: on duty (``on_duty``), and fitting the incident's category (``CATEGORY_NEEDS``): a role in
   the category's roles (if it names any) *and* at least one of its skills (if it names any). A category
   without needs (环境卫生, 其他 …) takes any member on duty.
2. **Not the busy first** (workload): a member with ``BUSY_OPEN_TASKS`` (5) or more open incidents assigned
   (``workload``: reported/dispatched/accepted with them as assignee) comes after every member with fewer,
3. then **own grid first** (属地管理): members of the incident's grid come before everyone else,
4. then **by distance plus a workload penalty**: straight-line metres in the layers' metric CRS (UTM) plus
   ``PENALTY_M_PER_TASK`` (300 m) per open task — a member 300 m farther but with one task fewer ranks equal —
   ties by member order.

Each ``Suggestion`` carries the distance in metres, the member's open tasks, the role, the member's skills,
which of them matched, and whether the member is in the incident's grid. Names are returned as stored; screens
mask them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from geo.index import SpatialIndex
from geo.layers import GeoLayers
from incidents.model import OPEN_STATUS_VALUES

GRID_ROLES: Final = frozenset({"网格长", "网格员"})
BUSY_OPEN_TASKS: Final = 5  # this many open tasks or more: after every less busy member
PENALTY_M_PER_TASK: Final = 300.0  # metres added to the distance per open task


def workload(incidents: pd.DataFrame) -> dict[str, int]:
    """Open incidents per assignee: ``{member_id: n}`` over rows of an incidents table (``status`` and
    ``assignee`` columns; rows with another status or no assignee do not count). Empty for an empty table."""
    if not len(incidents) or "assignee" not in incidents or "status" not in incidents:
        return {}
    rows = incidents[incidents["status"].astype(str).isin(OPEN_STATUS_VALUES)]
    who = rows["assignee"].fillna("").astype(str)
    counts = who[who != ""].value_counts()
    return {str(k): int(v) for k, v in counts.items()}


@dataclass(frozen=True, slots=True)
class Need:
    """Who fits a category: any of ``roles`` (empty = any role) and any of ``skills`` (empty = no skill)."""

    roles: frozenset[str] = frozenset()
    skills: frozenset[str] = frozenset()


# Category code → who fits. Skills and roles are the members layer's zh values (geo.synthetic.SKILLS/ROLES).
CATEGORY_NEEDS: Final[Mapping[str, Need]] = {
    "fire": Need(skills=frozenset({"消防"})),
    "safety_hazard": Need(skills=frozenset({"消防", "电工"})),
    "dispute": Need(skills=frozenset({"调解", "法律咨询"})),
    "rental_housing": Need(roles=GRID_ROLES),
    "elderly_care": Need(skills=frozenset({"医疗护理", "心理疏导"})),
    "infrastructure": Need(skills=frozenset({"电工", "水暖"})),
    "public_service": Need(roles=GRID_ROLES | {"党小组长"}),
    "traffic": Need(roles=GRID_ROLES | {"志愿者"}),
    "environment": Need(),
    "other": Need(),
}


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One candidate for an incident: the member, the skills it matched, same grid or not, distance in metres."""

    member_id: str
    name: str
    role: str
    grid_id: str
    skills: tuple[str, ...]
    matched_skills: tuple[str, ...]
    same_grid: bool
    distance_m: float
    open_tasks: int = 0


def _skills(value: object) -> tuple[str, ...]:
    if not isinstance(value, str):
        return ()
    return tuple(s.strip() for s in value.replace("，", ",").replace("、", ",").split(",") if s.strip())


class Assigner:
    """Suggestions for incidents, over one set of layers (build once; ``suggest`` is ~1 ms at 100k members)."""

    def __init__(self, layers: GeoLayers, index: SpatialIndex | None = None) -> None:
        self._index = index or SpatialIndex(layers)
        m = layers.members
        self._ids = m["member_id"].astype(str).to_numpy(dtype=object)
        self._names = m["name"].astype(str).to_numpy(dtype=object)
        self._roles = m["role"].astype(str).to_numpy(dtype=object)
        self._grids = m["grid_id"].fillna("").astype(str).to_numpy(dtype=object)
        self._skills = [_skills(s) for s in m["skills"].fillna("").tolist()] if "skills" in m else [()] * len(m)
        on_duty = m["on_duty"].to_numpy(dtype=bool) if "on_duty" in m else np.ones(len(m), dtype=bool)
        self._on_duty: npt.NDArray[np.bool_] = on_duty
        self._xy = self._index.members_xy
        self._mask_cache: dict[str, npt.NDArray[np.bool_]] = {}

    def _eligible(self, category: str) -> npt.NDArray[np.bool_]:
        mask = self._mask_cache.get(category)
        if mask is None:
            need = CATEGORY_NEEDS.get(category, Need())
            mask = self._on_duty.copy()
            if need.roles:
                mask &= np.isin(self._roles, list(need.roles))
            if need.skills:
                mask &= np.fromiter((bool(need.skills.intersection(s)) for s in self._skills), bool, len(mask))
            self._mask_cache[category] = mask
        return mask

    def suggest(
        self,
        lon: float,
        lat: float,
        category: str,
        grid_id: str = "",
        *,
        n: int = 5,
        exclude: Iterable[str] = (),
        workload: Mapping[str, int] | None = None,
    ) -> list[Suggestion]:
        """The ``n`` best members for an incident at (lon, lat) in ``grid_id`` (see the module's rules);
        ``workload``: open tasks per member id (``workload()``; absent members have none)."""
        if n <= 0 or not len(self._ids):
            return []
        mask = self._eligible(category).copy()
        skip = set(exclude)
        if skip:
            mask &= ~np.isin(self._ids, list(skip))
        cand = np.flatnonzero(mask)
        if not cand.size:
            return []
        q = self._index.to_metric([lon], [lat])[0]
        if not np.isfinite(q).all():
            return []
        d = np.hypot(self._xy[cand, 0] - q[0], self._xy[cand, 1] - q[1])
        same = (self._grids[cand] == grid_id) if grid_id else np.zeros(cand.size, dtype=bool)
        load = workload or {}
        tasks = np.fromiter((int(load.get(str(m), 0)) for m in self._ids[cand]), np.int64, cand.size)
        score = d + PENALTY_M_PER_TASK * tasks
        busy = tasks >= BUSY_OPEN_TASKS
        order = np.lexsort((cand, score, ~same, busy))[:n]  # not busy, own grid, distance + penalty, member order
        need = CATEGORY_NEEDS.get(category, Need())
        out: list[Suggestion] = []
        for k in order:
            j = int(cand[k])
            skills = self._skills[j]
            out.append(
                Suggestion(
                    member_id=str(self._ids[j]),
                    name=str(self._names[j]),
                    role=str(self._roles[j]),
                    grid_id=str(self._grids[j]),
                    skills=skills,
                    matched_skills=tuple(s for s in skills if s in need.skills),
                    same_grid=bool(same[k]),
                    distance_m=float(d[k]),
                    open_tasks=int(tasks[k]),
                )
            )
        return out
