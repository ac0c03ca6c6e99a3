"""What an actor may see: its areas (``Actor.areas``) and whether personal data is masked for it.

Areas: an account or link confined to areas sees — and acts on — only what lies inside them, a union when it has
several. The containment rule is ``geo.areas.AreaTree.contains``/``inside`` (the gate's ``within`` is the same
function); here it is applied to requests (``confine``: the page asked for, or the actor's own areas when it asked
for something outside), to incidents (``may_see_incident``: the micro-grid, grid or community the incident lies in)
and to area refs (``may_see``).

Masking: ``masked(actor, screen)`` — the wall is always masked; elsewhere personal data is shown only to actors
``policy.can(actor, "unmasked")`` (officials, dispatchers, admins; not viewers, wall links, API keys, anonymous).
What masking does to text is ``geo.privacy``'s business.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from dashboard.access.actor import Actor
from dashboard.access.policy import can
from dashboard.page_request import PageRequest
from geo.areas import AreaTree, place_ref
from incidents.model import Incident

if TYPE_CHECKING:
    from dashboard.runtime import Runtime


NOWHERE = "nowhere:-"  # a scope no area lies in (``AreaTree.contains`` is False for it): an empty page


def masked(actor: Actor, screen: str = "console") -> bool:
    """Whether ``actor`` gets personal data masked on ``screen`` (``wall``: always)."""
    return screen == "wall" or not can(actor, "unmasked")


def scopes(actor: Actor, tree: AreaTree) -> tuple[str, ...]:
    """The areas ``actor`` is confined to, normalised (``AreaTree.normalise``); ``()``: the whole data set."""
    return tree.normalise(actor.areas)


def may_see(actor: Actor, tree: AreaTree, ref: str) -> bool:
    """Whether area ``ref`` ("" = the whole data set) lies inside ``actor``'s areas."""
    return tree.inside(ref, actor.areas)


def confine(req: PageRequest, actor: Actor, tree: AreaTree) -> PageRequest:
    """``req`` as ``actor`` may see it: masked or not, confined to its areas. A page asking for an area outside
    them (or for the whole data set) shows the actor's area instead — its only one, or with several the whole map
    limited to their union (``PageRequest.scope``); a tour keeps the areas inside them."""
    if actor.is_anonymous:  # the gate lets nobody anonymous this far: should it happen, show nothing
        return replace(req, area="", tour=(), masked=True, scope=(NOWHERE,))
    hidden = masked(actor, req.screen)
    confined = scopes(actor, tree)
    if not confined:
        return replace(req, masked=hidden, scope=())
    area = req.area
    if not tree.inside(area, confined):
        area = confined[0] if len(confined) == 1 and confined[0] in tree.areas else ""
    if area == tree.root:
        area = ""
    tour = tuple(ref for ref in req.tour if tree.inside(ref, confined))
    return replace(req, area=area, tour=tour, masked=hidden, scope=confined)


def incident_place(runtime: Runtime, incident: Incident) -> str:
    """The most specific area ref an incident lies in: as this process's situation placed it, else located now
    from its position; "" outside every area."""
    loc = runtime.situation.location(incident.id)
    if loc is not None:
        return place_ref(*loc)
    found = runtime.index.locate([incident.lon], [incident.lat])
    return place_ref(*(str(found[c].iloc[0]) for c in ("micro_grid_id", "grid_id", "community_id")))


def may_see_incident(actor: Actor, runtime: Runtime, incident: Incident) -> bool:
    """Whether ``incident`` lies inside ``actor``'s areas (always, for an unconfined actor)."""
    if not actor.areas:
        return True
    return runtime.geo.areas.inside(incident_place(runtime, incident), actor.areas)
