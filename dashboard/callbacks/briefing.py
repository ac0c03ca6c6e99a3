"""The 简报 menu's link (``layouts.briefing_menu``): follows the page's URL (area, moment), size and watermark."""

from __future__ import annotations

from dash import Dash, Input, Output

from dashboard.layouts.briefing_menu import briefing_href
from dashboard.layouts.ids import Briefing
from dashboard.layouts.root import ROOT_LANG, URL


def register(app: Dash) -> None:
    """Register the link's callback (a read: the officials' page's ``console`` right, like its other callbacks)."""

    @app.callback(
        Output(Briefing.DOWNLOAD, "href"),
        Input(URL, "search"),
        Input(Briefing.SIZE, "value"),
        Input(Briefing.WATERMARK, "value"),
        Input(ROOT_LANG, "data"),
    )
    def download_href(search: str | None, size: str | None, watermark: list[str] | None, lang: str | None) -> str:
        return briefing_href(search, size, bool(watermark), lang or "zh")
