"""Situations to measure against: the simulator's backfill written through the durable path into a bench key
prefix (so a spawned server rebuilds the same picture), read back into a ``Situation``; and live changes."""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import Any

import numpy as np
import redis

from bench.env import member_points
from geo.index import SpatialIndex
from geo.layers import GeoLayers
from incidents.keys import Keys
from incidents.model import OPEN_STATUS_VALUES, Incident, Priority, Status
from incidents.publish import publish_many
from incidents.simulator import Simulator
from incidents.situation import Situation
from incidents.store import load_state

OPEN = tuple(Status(v) for v in OPEN_STATUS_VALUES)  # lifecycle order: seeded runs repeat
NEXT: dict[Status, Status] = {
    Status.REPORTED: Status.DISPATCHED,
    Status.DISPATCHED: Status.ACCEPTED,
    Status.ACCEPTED: Status.RESOLVED,
}
TITLES = ("楼道堆放杂物", "邻里噪音纠纷", "电动车楼道充电", "路灯不亮", "非机动车乱停放")
CATEGORIES = ("environment", "dispute", "safety_hazard", "infrastructure", "traffic")


def simulator_messages(
    lay: GeoLayers, *, hours: float = 24.0, per_hour: float = 12.0, seed: int = 20261126, now: float | None = None
) -> list[dict[str, Any]]:
    """The simulator's history of the past ``hours`` (wire dicts, ts order) — the demo's situation."""
    sim = Simulator(
        points=member_points(lay),
        seed=seed,
        backfill_per_hour=per_hour,
        assignees=lay.members["member_id"].tolist(),
        id_prefix="BSIM",
    )
    return sim.backfill(hours, now=time.time() if now is None else now, publish=False)


def seed_redis(client: redis.Redis, keys: Keys, messages: list[dict[str, Any]]) -> int:
    """Write the messages through the durable path; returns how many were applied."""
    return sum(r.applied for r in publish_many(client, keys, messages, source="bench", chunk=1000))


def situation_from_redis(
    client: redis.Redis, keys: Keys, lay: GeoLayers, index: SpatialIndex | None = None
) -> Situation:
    situation = Situation((index or SpatialIndex(lay)).locate)
    situation.replace_all(load_state(client, keys))
    return situation


def open_ids(situation: Situation) -> list[str]:
    df = situation.view().incidents
    return df.loc[df["status"].astype(str).isin([str(s) for s in OPEN]), "id"].astype(str).tolist()


def new_incident(points: np.ndarray, rng: np.random.Generator, now: float, tag: str = "") -> Incident:
    i = int(rng.integers(0, len(points)))
    c = int(rng.integers(0, len(CATEGORIES)))
    return Incident(
        id=f"BNEW-{tag}{uuid.uuid4().hex[:10]}",
        status=Status.REPORTED,
        ts=now,
        lon=round(float(points[i, 0]), 6),
        lat=round(float(points[i, 1]), 6),
        category=CATEGORIES[c],
        created_ts=now,
        title=f"{TITLES[c]}{uuid.uuid4().hex[:4]}",
        priority=Priority.NORMAL,
        source="bench",
        history=[(str(Status.REPORTED), now)],
    )


def open_incidents(
    points: np.ndarray, n: int, rng: np.random.Generator, now: float, within_s: float = 3 * 3600.0
) -> list[Incident]:
    """``n`` open incidents reported in the last ``within_s`` (30 % reported, 30 % dispatched, 40 % accepted)."""
    out = []
    for k in range(n):
        created = now - float(rng.uniform(60.0, within_s))
        inc = new_incident(points, rng, created, tag=f"{k}-")
        for _ in range(int(rng.choice(3, p=[0.3, 0.3, 0.4]))):
            inc = advance(inc, inc.ts + float(rng.uniform(30.0, 600.0)))
        out.append(inc)
    return out


def incident_messages(incidents: list[Incident]) -> list[dict[str, Any]]:
    """Wire messages that recreate the incidents: the first report, then one message per later status."""
    out: list[dict[str, Any]] = []
    for inc in incidents:
        out.append(
            {
                "id": inc.id,
                "status": "reported",
                "ts": inc.created_ts,
                "lon": inc.lon,
                "lat": inc.lat,
                "category": inc.category,
                "title": inc.title,
                "priority": str(inc.priority),
                "source": inc.source,
            }
        )
        out += [{"id": inc.id, "status": st, "ts": t} for st, t in inc.history[1:]]
    return out


def advance(inc: Incident, now: float) -> Incident:
    """The incident's next lifecycle step (reported → dispatched → accepted → resolved)."""
    nxt = NEXT.get(Status(inc.status), Status.DISPATCHED)
    ts = max(now, inc.ts + 0.001)
    return dataclasses.replace(inc, status=nxt, ts=ts, history=[*inc.history, (str(nxt), ts)])


def tick_changes(
    situation: Situation, points: np.ndarray, rng: np.random.Generator, *, new: int = 2, moves: int = 3
) -> list[Incident]:
    """A few changes as one tick brings them: ``new`` fresh reports and ``moves`` open incidents moving on."""
    now = time.time()
    out = [new_incident(points, rng, now) for _ in range(new)]
    candidates = open_ids(situation)
    if candidates:
        for j in rng.choice(len(candidates), size=min(moves, len(candidates)), replace=False).tolist():
            inc = situation.get(candidates[j])
            if inc is not None:
                out.append(advance(inc, now))
    return out
