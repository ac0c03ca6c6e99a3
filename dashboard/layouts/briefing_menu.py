"""The officials' page's 简报 button: a small menu (size, watermark) and a download link for the page's area and
moment (the URL's ``area=`` and ``at=``), built by ``callbacks.briefing`` with ``briefing_href``.

The menu is a native ``<details>`` disclosure (no script to open it); the link is a plain ``<a download>`` to
``GET /api/briefing.png|.pdf`` (``dashboard.briefing_api``), so the browser downloads what the route answers,
named by its ``Content-Disposition``.
"""

from __future__ import annotations

from enum import Enum
from typing import Final
from urllib.parse import parse_qs, urlencode

from dash import dcc, html

from dashboard import i18n
from incidents.timeutil import format_ts

from .ids import Briefing


class Unset(Enum):
    """No moment given (``briefing_href`` then keeps the URL's ``at=``)."""

    UNSET = "unset"


UNSET: Final = Unset.UNSET

SIZE_CHOICES: tuple[tuple[str, str], ...] = (
    ("1920x1080", "1920×1080"),
    ("3840x2160", "3840×2160"),
    ("a4pdf", "A4 PDF"),
)


def briefing_href(
    search: str | None, choice: str | None, watermark: bool, lang: str, *, shown: float | Unset | None = UNSET
) -> str:
    """The briefing URL for the page's query string ``search`` (``?area=…&at=…``): ``choice`` one of
    ``SIZE_CHOICES`` (``a4pdf``: the A4 PDF), ``watermark`` on or off, in ``lang``. ``shown``: the moment the page
    shows (epoch s; None = live), which wins over the URL's ``at=`` — a playing scrubber rewrites the address bar
    without telling the page's ``dcc.Location``. Pure."""
    query = parse_qs((search or "").lstrip("?"))
    params: dict[str, str] = {}
    for key in ("area", "at"):
        value = (query.get(key) or [""])[0].strip()
        if value:
            params[key] = value
    if not isinstance(shown, Unset):
        params.pop("at", None)
        if shown is not None:
            params["at"] = format_ts(shown)
    path = "/api/briefing.png"
    if choice == "a4pdf":
        path = "/api/briefing.pdf"
        params["size"] = "a4"
    else:
        params["size"] = choice if choice in dict(SIZE_CHOICES) else SIZE_CHOICES[0][0]
    if watermark:
        params["watermark"] = "1"
    params["lang"] = i18n.norm_lang(lang)
    return f"{path}?{urlencode(params)}"


def briefing_menu(lang: str = "zh", search: str | None = None) -> html.Details:
    """The 简报 button and its menu; the link starts as ``briefing_href(search, …)`` with the defaults."""
    lang = i18n.norm_lang(lang)
    return html.Details(
        id=Briefing.MENU,
        className="os-briefing",
        children=[
            html.Summary(i18n.t("briefing.button", lang), id=Briefing.BUTTON, className="os-briefing__button"),
            html.Div(
                className="os-briefing__menu",
                children=[
                    html.Div(i18n.t("briefing.size", lang), className="os-briefing__label"),
                    dcc.RadioItems(
                        id=Briefing.SIZE,
                        options=[{"label": label, "value": value} for value, label in SIZE_CHOICES],
                        value=SIZE_CHOICES[0][0],
                        className="os-briefing__sizes",
                        labelClassName="os-briefing__option",
                    ),
                    dcc.Checklist(
                        id=Briefing.WATERMARK,
                        options=[{"label": i18n.t("briefing.watermark_option", lang), "value": "1"}],
                        value=[],
                        className="os-briefing__watermark",
                        labelClassName="os-briefing__option",
                    ),
                    html.A(
                        i18n.t("briefing.download", lang),
                        id=Briefing.DOWNLOAD,
                        href=briefing_href(search, SIZE_CHOICES[0][0], False, lang),
                        download="",
                        className="os-briefing__download",
                    ),
                ],
            ),
        ],
    )
