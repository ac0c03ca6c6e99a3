"""The role → permission rules, in one place. ``can(actor, action)``; everything else asks it.

| action     | meaning                                                      | who                              |
|------------|--------------------------------------------------------------|----------------------------------|
| ``view``     | see the screens and read the API (masked unless ``unmasked``) | every user, every wall link     |
| ``console``  | use the officials' page (not only walls)                     | every user                       |
| ``act``      | change incidents (accept, resolve, cancel, 评单, 返工 …)      | official, dispatcher, admin      |
| ``dispatch`` | assign incidents to members or units; 催办 (escalate)         | dispatcher, admin                |
| ``unmasked`` | see personal data (names, phone numbers) unmasked            | official, dispatcher, admin      |
| ``admin``    | manage accounts, wall links and keys                         | admin                            |
| ``read``     | read the machine API (summary, areas, incidents, Open311, PNG) | every user, ``read`` API keys  |
| ``ingest``   | post incidents (``/api/incidents[/batch]``, Open311 POST)    | ``ingest`` API keys only         |

Ingest is for machines: a login session (any role, admin too) cannot post to the ingest routes — officials change
incidents through the console's callbacks, other systems with an API key. So the ingest routes never act on a
cookie (no cross-site request can reach them) and every machine write names its key. An API key reaches nothing
but its scope's routes (``dashboard.access.machine``): no screens, no callbacks, never unmasked data.

Areas are not decided here: an actor's ``areas`` confine every action to those areas (the area scoping part).
"""

from __future__ import annotations

from typing import Final, Literal, get_args

from dashboard.access.actor import Actor, KeyScope, Role

Action = Literal["view", "console", "act", "dispatch", "unmasked", "admin", "read", "ingest"]
ACTIONS: Final[tuple[Action, ...]] = get_args(Action)

_BY_ROLE: Final[dict[Role, frozenset[Action]]] = {
    "viewer": frozenset({"view", "console", "read"}),
    "official": frozenset({"view", "console", "act", "unmasked", "read"}),
    "dispatcher": frozenset({"view", "console", "act", "dispatch", "unmasked", "read"}),
    "admin": frozenset(ACTIONS) - {"ingest"},
}
_WALL: Final[frozenset[Action]] = frozenset({"view"})
_KEY: Final[dict[KeyScope, frozenset[Action]]] = {"ingest": frozenset({"ingest"}), "read": frozenset({"read"})}


def can(actor: Actor, action: Action) -> bool:
    """Whether ``actor`` may do ``action`` at all (before areas). Anonymous: nothing; a wall link: ``view``
    (masked, walls only); a user: its role's actions (never ``ingest``); an API key: its scope's one action."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r} (one of {', '.join(ACTIONS)})")
    if actor.kind == "user" and actor.role is not None:
        return action in _BY_ROLE[actor.role]
    if actor.kind == "wall":
        return action in _WALL
    if actor.kind == "key" and actor.scope is not None:
        return action in _KEY[actor.scope]
    return False
