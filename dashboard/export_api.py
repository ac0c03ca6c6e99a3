"""``GET /api/incidents.csv`` and ``GET /api/incidents.xlsx``: the work list as the officials' table shows it.

The query takes the work list's own parameters (``incidents.worklist``: ``q``, ``status``, ``category``,
``priority``, ``area``, ``assignee``, ``window``, ``since``, ``until``, ``sort``) plus ``lang`` (``zh`` default:
Chinese headers and labels) and ``at`` (a past moment, as ``?at=`` on the page: the list as it was then, rebuilt
from the log like the page's), and the rows are ``dashboard.worklist.records`` — the table's very values — of what the
caller may see (its areas), masked unless its role may see personal data. A signed-in official or a ``read`` API
key (``access.machine``) may call it.

Files: CSV is UTF-8 with a byte-order mark (so Excel on a Chinese Windows opens it as UTF-8, not GBK), RFC 4180;
Excel via openpyxl's write-only workbook: the list on the first sheet (frozen header row, filter buttons, column
widths), a second sheet "说明" with the filter, the time it was made, the row count, whether personal data is masked
and the time zone. Times are ``YYYY-MM-DD HH:MM`` Beijing time; the time columns say so in their header.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Final
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from dashboard import i18n
from dashboard.access.actor import actor_of
from dashboard.access.scope import masked, may_see, scopes
from dashboard.page_request import parse_page_at
from dashboard.runtime import Runtime
from dashboard.worklist import COLUMN_KEYS, TIME_ZONE_NOTE, headers, records, work_list
from geo.areas import AreaError
from incidents.model import CATEGORIES
from incidents.timeutil import SHANGHAI
from incidents.worklist import WorkFilter, WorkFilterError

log = logging.getLogger(__name__)

CSV_TYPE: Final = "text/csv; charset=utf-8"
XLSX_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Column widths in the workbook (characters), by column key; others 12.
WIDTHS: Final = {"id": 16, "title": 36, "community": 14, "grid": 22, "micro_grid": 26, "assignee": 18}
WIDE_TIME: Final = 17


def csv_bytes(head: Sequence[str], rows: Sequence[dict[str, str]]) -> bytes:
    """RFC 4180 CSV of ``rows`` (``COLUMN_KEYS`` order) under ``head``, UTF-8 with a byte-order mark."""
    buf = io.StringIO(newline="")
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow(head)
    out.writerows([r[k] for k in COLUMN_KEYS] for r in rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def xlsx_bytes(
    head: Sequence[str], rows: Sequence[dict[str, str]], about: Sequence[tuple[str, str]], lang: str
) -> bytes:
    """An .xlsx workbook: the list (sheet 1, header row frozen, auto filter) and ``about`` (sheet 2: label,
    value pairs)."""
    zh = i18n.norm_lang(lang) == "zh"
    book = Workbook(write_only=True)
    sheet = book.create_sheet("工单" if zh else "Incidents")
    for i, key in enumerate(COLUMN_KEYS, start=1):
        width = WIDE_TIME if key in ("reported", "deadline", "updated") else WIDTHS.get(key, 12)
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(head))}{len(rows) + 1}"
    bold = Font(bold=True)
    header_cells = []
    for text in head:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    for r in rows:
        sheet.append([r[k] for k in COLUMN_KEYS])
    notes = book.create_sheet("说明" if zh else "About")
    notes.column_dimensions["A"].width = 14
    notes.column_dimensions["B"].width = 80
    for label, value in about:
        notes.append([label, value])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _about(
    flt: WorkFilter, count: int, made: float, hidden: bool, lang: str, area_name: str, at: float | None = None
) -> list[tuple[str, str]]:
    zh = i18n.norm_lang(lang) == "zh"
    query = "&".join(f"{k}={v}" for k, v in flt.to_params().items()) or ("（无）" if zh else "(none)")
    stamp = datetime.fromtimestamp(made, SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    moment = datetime.fromtimestamp(at, SHANGHAI).strftime("%Y-%m-%d %H:%M:%S") if at is not None else ""
    if zh:
        return [
            ("区域", area_name),
            *([("时点", moment + "（历史回放：当时的工单）")] if moment else []),
            ("筛选条件", query),
            ("导出时间", stamp + "（北京时间）"),
            ("条数", str(count)),
            ("个人信息", "已脱敏" if hidden else "未脱敏（内部使用，注意保密）"),
            ("时区", TIME_ZONE_NOTE["zh"]),
        ]
    return [
        ("Area", area_name),
        *([("As of", moment + " (replay: the list as it was then)")] if moment else []),
        ("Filter", query),
        ("Exported", stamp + " (Beijing time)"),
        ("Rows", str(count)),
        ("Personal data", "masked" if hidden else "NOT masked (internal use only)"),
        ("Time zone", TIME_ZONE_NOTE["en"]),
    ]


def content_disposition(stem: str, ext: str, made: float) -> str:
    """``attachment`` with an ASCII file name and the UTF-8 one (RFC 6266 / RFC 5987), e.g.
    ``工单_霞庭村_20261130-0900.csv``."""
    stamp = datetime.fromtimestamp(made, SHANGHAI).strftime("%Y%m%d-%H%M")
    utf8 = f"{stem}_{stamp}.{ext}"
    return f"attachment; filename=\"incidents_{stamp}.{ext}\"; filename*=UTF-8''{quote(utf8)}"


def build_export_router(runtime: Runtime) -> APIRouter:
    """The two export routes (module doc): 422 with every bad parameter listed, 403 for an area outside the
    caller's areas."""
    router = APIRouter()

    def export(request: Request, ext: str) -> Response:
        actor = actor_of(request)
        tree = runtime.geo.areas
        now = time.time()
        params = {k: request.query_params.getlist(k) for k in request.query_params}
        lang = i18n.norm_lang((params.pop("lang", None) or [runtime.settings.lang])[-1])
        at_text = (params.pop("at", None) or [""])[-1]
        if at_text:  # the list as it was (a past page's table): the replay's rebuild, windows ending then
            at, why = parse_page_at(at_text, now)
            if at is None:
                raise HTTPException(status_code=422, detail=[f"at: {at_text!r} is {why} (ISO 8601, epoch or -2h)"])
            view, _ = runtime.replay.view_at(at)
            now = at
        else:
            view = runtime.situation.view(now)
        known = set(CATEGORIES) | set(view.incidents["category"].astype(str).unique())
        try:
            flt = WorkFilter.from_params(params, areas=tree, categories=known, now=now)
        except WorkFilterError as exc:
            raise HTTPException(status_code=422, detail=exc.problems) from exc
        if flt.area and not may_see(actor, tree, flt.area):
            raise HTTPException(status_code=403, detail=f"area {flt.area!r} is outside your areas")
        hidden = masked(actor)
        confined = scopes(actor, tree)
        try:
            rows = work_list(
                view.incidents, flt, now=now, tree=tree, directory=runtime.directory, scope=confined, masked=hidden
            )
        except AreaError as exc:  # pragma: no cover - from_params checked the area
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        table = records(rows, runtime.directory, lang=lang, masked=hidden)
        head = headers(lang, with_zone=True)
        area_ref = flt.area or (confined[0] if len(confined) == 1 else tree.root)
        area_name = tree.areas[area_ref].name if area_ref in tree.areas else runtime.street_name
        if ext == "csv":
            body, media = csv_bytes(head, table), CSV_TYPE
        else:
            about = _about(flt, len(table), time.time(), hidden, lang, area_name, now if at_text else None)
            body, media = xlsx_bytes(head, table, about, lang), XLSX_TYPE
        log.info(
            "export %s by %s: %d rows, %s, filter %s",
            ext,
            actor.label(),
            len(table),
            "masked" if hidden else "unmasked",
            flt.to_params(),
        )
        stem = ("工单_" if lang == "zh" else "incidents_") + area_name
        headers_out = {
            "Content-Disposition": content_disposition(stem, ext, now),
            "Cache-Control": "no-store",
            "X-Total-Count": str(len(table)),
        }
        return Response(body, media_type=media, headers=headers_out)

    @router.get("/api/incidents.csv", response_class=Response)
    def incidents_csv(request: Request) -> Response:
        """The filtered work list as CSV (module doc)."""
        return export(request, "csv")

    @router.get("/api/incidents.xlsx", response_class=Response)
    def incidents_xlsx(request: Request) -> Response:
        """The filtered work list as an Excel workbook (module doc)."""
        return export(request, "xlsx")

    return router
