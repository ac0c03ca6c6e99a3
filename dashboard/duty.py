"""Who is on duty (在岗值守) in an area, with their workload. Pure: no Dash, no Redis.

``on_duty_members(members, tree, area, scope, load)``: the members layer's rows that are on duty (``on_duty``) and
placed inside ``area`` (their micro-grid, ``geo.areas.AreaTree.within``; "" = the whole data set) and inside the
union of ``scope`` (a confined actor's areas; ``()`` = no confinement), each with ``open_tasks`` — the open
incidents assigned to them (``incidents.assign.workload``) — busiest first, then by member id. Columns:
member_id, name, phone, role, grid_id, open_tasks. Masking is the screen's business (``layouts.components``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from geo.areas import AreaTree

COLUMNS = ("member_id", "name", "phone", "role", "grid_id", "open_tasks")


def on_duty_members(
    members: pd.DataFrame,
    tree: AreaTree,
    area: str = "",
    scope: Iterable[str] = (),
    load: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """The on-duty members of ``area`` within ``scope`` with their open tasks (see the module doc); an empty
    frame with ``COLUMNS`` when there are none. ``AreaError`` for an unknown ``area``."""
    keep = (
        members["on_duty"].to_numpy(dtype=bool, copy=True)
        if "on_duty" in members
        else np.ones(len(members), dtype=bool)
    )
    micro = members["micro_grid_id"].fillna("").astype(str) if "micro_grid_id" in members else None
    if micro is not None:
        if area:
            keep &= tree.within(micro, "micro_grid", area)
        refs = list(scope)
        if refs:
            inside = np.zeros(len(members), dtype=bool)
            for ref in refs:
                if ref in tree.areas:
                    inside |= tree.within(micro, "micro_grid", ref)
            keep &= inside
    rows = members.loc[keep]
    out = pd.DataFrame(
        {
            "member_id": rows["member_id"].astype(str).to_numpy(),
            "name": rows["name"].astype(str).to_numpy(),
            "phone": (
                rows["phone"].fillna("").astype(str) if "phone" in rows else pd.Series([""] * len(rows))
            ).to_numpy(),
            "role": rows["role"].astype(str).to_numpy(),
            "grid_id": rows["grid_id"].fillna("").astype(str).to_numpy(),
        }
    )
    tasks = load or {}
    out["open_tasks"] = [int(tasks.get(m, 0)) for m in out["member_id"]]
    return out.sort_values(["open_tasks", "member_id"], ascending=[False, True], kind="stable").reset_index(drop=True)
