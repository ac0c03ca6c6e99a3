"""The role → permission rules, in one place. ``can(actor, action)``; everything else asks it.

| action     | meaning                                                      | who                              |
|------------|--------------------------------------------------------------|----------------------------------|
| ``view``     | see the screens and read the API (masked unless ``unmasked``) | every user, every wall link     |
| ``console``  | use the officials' page (not only walls)                     | every user                       |
| ``act``      | change incidents (accept, resolve, close …)                  | official, dispatcher, admin      |
| ``dispatch`` | assign incidents to members or units                         | dispatcher, admin                |
| ``unmasked`` | see personal data (names, phone numbers) unmasked            | official, dispatcher, admin      |
| ``admin``    | manage accounts, wall links and keys                         | admin                            |

Areas are not decided here: an actor's ``areas`` confine every action to those areas (the area scoping part).
"""

from __future__ import annotations

from typing import Final, Literal, get_args

from dashboard.access.actor import Actor, Role

Action = Literal["view", "console", "act", "dispatch", "unmasked", "admin"]
ACTIONS: Final[tuple[Action, ...]] = get_args(Action)

_BY_ROLE: Final[dict[Role, frozenset[Action]]] = {
    "viewer": frozenset({"view", "console"}),
    "official": frozenset({"view", "console", "act", "unmasked"}),
    "dispatcher": frozenset({"view", "console", "act", "dispatch", "unmasked"}),
    "admin": frozenset(ACTIONS),
}
_WALL: Final[frozenset[Action]] = frozenset({"view"})


def can(actor: Actor, action: Action) -> bool:
    """Whether ``actor`` may do ``action`` at all (before areas). Anonymous: nothing; a wall link: ``view``
    (masked, walls only); a user: its role's actions; an API key: decided by the API-key part (nothing yet)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r} (one of {', '.join(ACTIONS)})")
    if actor.kind == "user" and actor.role is not None:
        return action in _BY_ROLE[actor.role]
    if actor.kind == "wall":
        return action in _WALL
    return False
