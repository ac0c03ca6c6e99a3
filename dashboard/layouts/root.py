"""The app shell: URL, the page container, and the app-wide language store. Pages render into PAGE."""

from __future__ import annotations

from typing import Any, Final

from dash import dcc, html

URL: Final = "url"
PAGE: Final = "page"
ROOT_LANG: Final = "root-lang"  # the UI language of this browser tab ("zh" | "en")
PAGE_RENDERED: Final = "page-rendered"  # {"path", "lang"} the page in PAGE was rendered for (None: empty shell)


def root_layout(lang: str, page: Any = None, rendered_for: dict[str, str] | None = None) -> html.Div:
    """The shell; with ``page`` the first paint needs no routing round trip."""
    return html.Div(
        [
            dcc.Location(id=URL, refresh=False),
            dcc.Store(id=ROOT_LANG, data=lang, storage_type="session"),
            dcc.Store(id=PAGE_RENDERED, data=rendered_for),
            html.Div(page, id=PAGE, className="os-page"),
        ]
    )
