"""Officials' actions on an incident — 派单 / 接单 / 办结 / 取消 — written like every other change.

Each action is one wire message through ``incidents.publish.publish`` (validate → atomic apply → PUBLISH), so it
obeys the same lifecycle rules (an illegal transition raises ``WireError`` with the script's reason) and reaches
every screen through the normal feed. Pure helpers decide what to offer for a status.
"""

from __future__ import annotations

import math
import time
from typing import Any

import redis

from incidents.keys import Keys
from incidents.model import Incident, Status, allowed_next, is_transition_allowed
from incidents.publish import publish
from incidents.store import ApplyResult

# Status changes offered as plain buttons (dispatching goes through the suggestions, with an assignee).
BUTTON_STATUSES: tuple[Status, ...] = (Status.ACCEPTED, Status.RESOLVED, Status.CANCELLED)
SOURCE = "console"


def offered_actions(status: Status | str) -> list[Status]:
    """The button actions legal from ``status`` (接单/办结/取消), in lifecycle order."""
    nxt = allowed_next(status)
    return [s for s in BUTTON_STATUSES if s in nxt]


def can_dispatch(status: Status | str) -> bool:
    """Whether 派单 is legal from ``status``: a first dispatch, a re-dispatch (改派) or a rework (返工)."""
    return is_transition_allowed(status, Status.DISPATCHED)


def action_message(
    incident: Incident, status: Status | str, *, assignee: str | None = None, now: float | None = None
) -> dict[str, Any]:
    """The wire message for an action: ``ts`` is now, but always after the stored ts (ms resolution)."""
    now = time.time() if now is None else now
    ts = max(now, math.floor(incident.ts * 1000 + 1) / 1000)
    msg: dict[str, Any] = {"id": incident.id, "status": str(Status(status)), "ts": round(ts, 3)}
    if assignee:
        msg["assignee"] = assignee
    return msg


def apply_action(
    r: redis.Redis,
    keys: Keys,
    incident: Incident,
    status: Status | str,
    *,
    assignee: str | None = None,
    now: float | None = None,
    actor: str = "",
    client: str = "",
) -> tuple[dict[str, Any], ApplyResult]:
    """Publish the action durably, recorded as ``actor``'s (an ``Actor.label()``) from ``client`` (an address).
    Returns (message, result); raises ``WireError`` if it is rejected."""
    msg = action_message(incident, status, assignee=assignee, now=now)
    return msg, publish(r, keys, msg, source=SOURCE, actor=actor, client=client)
