"""Who a request acts as: one typed value every later check (policy, area scoping, audit) reads."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Final, Literal, get_args

Role = Literal["viewer", "official", "dispatcher", "admin"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)
ActorKind = Literal["user", "wall", "key", "anonymous"]
KeyScope = Literal["ingest", "read"]
KEY_SCOPES: Final[tuple[KeyScope, ...]] = get_args(KeyScope)


@dataclass(frozen=True, slots=True)
class Actor:
    """A principal. ``kind``: ``user`` (login session or SSO), ``wall`` (a wall link), ``key`` (an API key),
    ``anonymous``. ``name``: the account, wall link or key name ("" when anonymous). ``role``: the account's role
    (a wall acts as a ``viewer``; anonymous has none). ``areas``: ``geo.areas`` refs it is confined to (empty: the
    whole data set). ``via``: how it was recognised (``session``, ``sso``, ``wall-link``, ``api-key``; "" for
    anonymous). ``scope``: an API key's scope (``ingest`` or ``read``; None for every other kind)."""

    kind: ActorKind
    name: str = ""
    role: Role | None = None
    areas: tuple[str, ...] = ()
    via: str = ""
    scope: KeyScope | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.kind == "anonymous"

    def label(self) -> str:
        """``user:alice`` / ``wall:lobby`` / ``anonymous``: how logs and the audit name it."""
        return "anonymous" if self.is_anonymous else f"{self.kind}:{self.name}"


ANONYMOUS: Final = Actor("anonymous")
SCOPE_KEY: Final = "onescreen.actor"  # where the gate puts the Actor in the ASGI scope


def actor_of(scope: object) -> Actor:
    """The ``Actor`` the gate attached to an ASGI scope (a ``Request``/``WebSocket`` or the scope dict);
    ``ANONYMOUS`` when none was."""
    raw = getattr(scope, "scope", scope)
    found = raw.get(SCOPE_KEY) if isinstance(raw, dict) else None
    return found if isinstance(found, Actor) else ANONYMOUS


# Who the code running now acts for, and from which client address: set by the gate for every request and
# WebSocket (a context variable, so Dash callbacks — HTTP, WebSocket, in a worker thread — read their own).
_CURRENT: ContextVar[tuple[Actor, str]] = ContextVar("onescreen_actor", default=(ANONYMOUS, ""))


def bind(actor: Actor, client: str) -> None:
    """Make ``actor`` (from ``client``, an address) the current one for this request's context (the gate)."""
    _CURRENT.set((actor, client))


def current_actor() -> Actor:
    """The actor of the request being served (``ANONYMOUS`` outside one)."""
    return _CURRENT.get()[0]


def current_client() -> str:
    """The client address of the request being served ("" outside one)."""
    return _CURRENT.get()[1]
