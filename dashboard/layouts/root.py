"""The app shell: URL, the page container, the language store and the live-push stores. Pages render into PAGE."""

from __future__ import annotations

from typing import Any, Final

from dash import dcc, html

from dashboard.page_request import screen_of_path as screen_of_path  # re-exported: callbacks route by it

URL: Final = "url"
PAGE: Final = "page"
ROOT_LANG: Final = "root-lang"  # the UI language of this browser tab ("zh" | "en")
PAGE_RENDERED: Final = "page-rendered"  # PageRequest.as_store() of the page in PAGE (None: empty shell)
# What the live push needs to know of this tab; each change reaches the server through a WebSocket callback.
LIVE_TOKEN: Final = "live-token"  # token of the frame the page in PAGE was rendered with
LIVE_FILTERS: Final = "live-filters"  # {"statuses": [...], "communities": [...]} of the console
LIVE_DRAWN: Final = "live-drawn"  # {"n", "t"}: the map's plotly_afterplot count (assets/onescreen.js)


def root_layout(
    lang: str, page: Any = None, rendered_for: dict[str, Any] | None = None, token: str | None = None
) -> html.Div:
    """The shell; with ``page`` (rendered from frame ``token``) the first paint needs no routing round trip."""
    return html.Div(
        [
            dcc.Location(id=URL, refresh=False),
            dcc.Store(id=ROOT_LANG, data=lang, storage_type="session"),
            dcc.Store(id=PAGE_RENDERED, data=rendered_for),
            dcc.Store(id=LIVE_TOKEN, data=token),
            dcc.Store(id=LIVE_FILTERS, data=None),
            dcc.Store(id=LIVE_DRAWN, data={"n": 0, "t": 0}),
            html.Div(page, id=PAGE, className="os-page"),
        ]
    )
