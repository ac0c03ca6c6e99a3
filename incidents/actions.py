"""Officials' actions on an incident — 派单 / 接单 / 办结 / 取消 / 评单 / 返工 / 催办 — written like every other change.

Each action is one wire message through ``incidents.publish.publish`` (validate → atomic apply → PUBLISH), so it
obeys the same lifecycle rules (an illegal transition raises ``WireError`` with the script's reason) and reaches
every screen through the normal feed. Pure helpers decide what to offer for a status.

评单 is ``closed`` with a ``rating`` (1-5); 返工 is ``dispatched`` from resolved/closed (the merge counts it in
``reopened``); 催办 sets the wire's ``escalated`` flag without changing the status (dispatched or accepted work).
"""

from __future__ import annotations

import math
import time
from typing import Any

import redis

from incidents.keys import Keys
from incidents.model import REWORK_FROM, Incident, Status, allowed_next, is_transition_allowed
from incidents.publish import publish
from incidents.store import ApplyResult

# Status changes offered as plain buttons (dispatching goes through the suggestions, with an assignee).
BUTTON_STATUSES: tuple[Status, ...] = (Status.ACCEPTED, Status.RESOLVED, Status.CANCELLED)
SOURCE = "console"


def offered_actions(status: Status | str) -> list[Status]:
    """The button actions legal from ``status`` (接单/办结/取消), in lifecycle order."""
    nxt = allowed_next(status)
    return [s for s in BUTTON_STATUSES if s in nxt]


def can_rate(status: Status | str) -> bool:
    """Whether 评单 (close with a rating) is legal from ``status``: only a resolved incident."""
    return Status(status) != Status.CLOSED and is_transition_allowed(status, Status.CLOSED)


def can_rework(status: Status | str) -> bool:
    """Whether 返工 (send finished work back: dispatched again) is legal from ``status``."""
    return Status(status) in REWORK_FROM and is_transition_allowed(status, Status.DISPATCHED)


ESCALATE_FROM: frozenset[Status] = frozenset({Status.DISPATCHED, Status.ACCEPTED})


def can_escalate(incident: Incident) -> bool:
    """Whether 催办 is offered: work someone holds (``ESCALATE_FROM``: dispatched or accepted — a reported incident
    has nobody to press yet: dispatch it) that is not escalated yet."""
    return incident.status in ESCALATE_FROM and not incident.escalated


def can_dispatch(status: Status | str) -> bool:
    """Whether 派单 is legal from ``status``: a first dispatch, a re-dispatch (改派) or a rework (返工)."""
    return is_transition_allowed(status, Status.DISPATCHED)


def action_message(
    incident: Incident,
    status: Status | str,
    *,
    assignee: str | None = None,
    now: float | None = None,
    rating: int | None = None,
    escalated: bool | None = None,
) -> dict[str, Any]:
    """The wire message for an action: ``ts`` is now, but always after the stored ts (ms resolution);
    ``rating`` (1-5, with ``closed``) and ``escalated`` go along when given."""
    now = time.time() if now is None else now
    ts = max(now, math.floor(incident.ts * 1000 + 1) / 1000)
    msg: dict[str, Any] = {"id": incident.id, "status": str(Status(status)), "ts": round(ts, 3)}
    if assignee:
        msg["assignee"] = assignee
    if rating is not None:
        msg["rating"] = int(rating)
    if escalated is not None:
        msg["escalated"] = bool(escalated)
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
    rating: int | None = None,
    escalated: bool | None = None,
) -> tuple[dict[str, Any], ApplyResult]:
    """Publish the action durably, recorded as ``actor``'s (an ``Actor.label()``) from ``client`` (an address).
    Returns (message, result); raises ``WireError`` if it is rejected (e.g. a rating outside 1-5)."""
    msg = action_message(incident, status, assignee=assignee, now=now, rating=rating, escalated=escalated)
    return msg, publish(r, keys, msg, source=SOURCE, actor=actor, client=client)
