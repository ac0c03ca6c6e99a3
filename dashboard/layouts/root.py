"""The app shell: URL, the page container, and the app-wide language store. Pages render into PAGE."""

from __future__ import annotations

from typing import Final

from dash import dcc, html

URL: Final = "url"
PAGE: Final = "page"
ROOT_LANG: Final = "root-lang"  # the UI language of this browser tab ("zh" | "en")


def root_layout(lang: str) -> html.Div:
    return html.Div(
        [
            dcc.Location(id=URL, refresh=False),
            dcc.Store(id=ROOT_LANG, data=lang, storage_type="session"),
            html.Div(id=PAGE, className="os-page"),
        ]
    )
