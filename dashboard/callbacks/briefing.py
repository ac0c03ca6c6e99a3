"""The 简报 menu's link (``layouts.briefing_menu``): follows the page's area (URL), the moment it shows (the
scrubber's ``Replay.AT``: while playing the address bar moves without the page's ``dcc.Location`` knowing), size and
watermark."""

from __future__ import annotations

from dash import Dash, Input, Output

from dashboard.layouts.briefing_menu import briefing_href
from dashboard.layouts.ids import Briefing, Replay
from dashboard.layouts.root import ROOT_LANG, URL


def register(app: Dash) -> None:
    """Register the link's callback (a read: the officials' page's ``console`` right, like its other callbacks)."""

    @app.callback(
        Output(Briefing.DOWNLOAD, "href"),
        Input(URL, "search"),
        Input(Briefing.SIZE, "value"),
        Input(Briefing.WATERMARK, "value"),
        Input(ROOT_LANG, "data"),
        Input(Replay.AT, "data"),
    )
    def download_href(
        search: str | None, size: str | None, watermark: list[str] | None, lang: str | None, at: object
    ) -> str:
        shown = float(at) if isinstance(at, int | float) and not isinstance(at, bool) else None
        return briefing_href(search, size, bool(watermark), lang or "zh", shown=shown)
