"""The area bar of the officials' page: the breadcrumb (district › street › community › grid › micro-grid) and the
areas one level down, each a link that rescopes the page (``/?area=KIND:ID``). Pure components."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from dash import dcc, html

from dashboard import i18n
from geo.areas import Area

from .components import attrs
from .ids import Areas

MAX_CHILD_LINKS = 60  # a district has 40 streets; a community rarely more than 30 grids


def area_title(path: Sequence[Area], sep: str = " › ") -> str:
    """``街道 › 社区`` — the names from the street down to the area (the district's name only for the district
    itself: under a district the street's name is what people say)."""
    shown = path[1:] if len(path) > 1 and path[0].kind == "district" else path
    return sep.join(a.name for a in shown)


def unknown_area_notice(bad_area: str, lang: str) -> html.Div:
    """Says the URL's area was not found and the page shows everything."""
    return html.Div(i18n.t("area.unknown", lang, area=bad_area), id=Areas.NOTICE, className="os-notice", role="status")


def area_bar(
    path: Sequence[Area],
    children: Sequence[Area],
    lang: str,
    href_of: Callable[[str], str],
    bad_area: str = "",
) -> html.Nav:
    """Breadcrumb ``path`` (root first; the last is the current area) and links to ``children``.

    ``href_of(ref)`` is the URL that shows area ``ref`` ("" ref: the root). Every link carries
    ``data-area`` (the ref) so tests and tools find it without parsing names."""
    crumbs: list[Any] = []
    for i, area in enumerate(path):
        if i:
            crumbs.append(html.Span("›", className="os-crumbs__sep", **attrs({"aria-hidden": "true"})))
        kind = html.Span(i18n.t(f"area.kind.{area.kind}", lang), className="os-crumbs__kind")
        if i == len(path) - 1:
            crumbs.append(
                html.Span(
                    [kind, area.name],
                    className="os-crumbs__here",
                    **attrs({"aria-current": "page", "data-area": area.ref}),
                )
            )
        else:
            link = dcc.Link([kind, area.name], href=href_of(area.ref if i else ""), className="os-crumbs__link")
            crumbs.append(html.Span(link, **attrs({"data-area": area.ref})))
    below: list[Any] = []
    if children:
        shown = children[:MAX_CHILD_LINKS]
        below = [
            html.Span(i18n.t("area.children", lang), className="os-crumbs__kind"),
            *(
                html.Span(
                    dcc.Link(a.name, href=href_of(a.ref), className="os-chip"),
                    **attrs({"data-area": a.ref}),
                )
                for a in shown
            ),
        ]
        if len(children) > len(shown):
            below.append(html.Span(f"+{len(children) - len(shown)}", className="os-crumbs__more"))
    return html.Nav(
        [
            html.Div(crumbs, id=Areas.CRUMBS, className="os-crumbs"),
            html.Div(below, id=Areas.CHILDREN, className="os-crumbs__children"),
            unknown_area_notice(bad_area, lang) if bad_area else None,
        ],
        id=Areas.BAR,
        className="os-areabar",
        **attrs({"aria-label": i18n.t("area.nav", lang)}),
    )
