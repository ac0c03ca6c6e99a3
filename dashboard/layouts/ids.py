"""Every component id, per screen. Callbacks import these; nobody types an id string twice."""

from __future__ import annotations

from typing import Final


class Wall:
    """The big screen ``/wall``."""

    ROOT: Final = "wall-root"
    STAGE: Final = "wall-stage"
    TITLE: Final = "wall-title"
    CLOCK: Final = "wall-clock"  # filled client-side by assets/wall.js (Asia/Shanghai), no callback
    MAP: Final = "wall-map"
    MAP_EDIT: Final = "wall-map-edit"  # dcc.Store: live map edits, applied in place by assets/onescreen.js
    KPIS: Final = "wall-kpis"
    FEED: Final = "wall-feed"  # children: list of feed items (components.feed_items)
    TREND: Final = "wall-trend"  # dcc.Graph, 24 h trend
    CATEGORY: Final = "wall-category"  # dcc.Graph, open by category
    BANNER: Final = "wall-feed-lost"  # "feed lost" banner; toggle its `className` / `hidden`
    STATUS_DOT: Final = "wall-status-dot"  # connection indicator in the header
    UPDATED: Final = "wall-updated"  # "last update" time text


class Console:
    """The officials' page ``/``."""

    ROOT: Final = "console-root"
    TITLE: Final = "console-title"
    CLOCK: Final = "console-clock"
    MAP: Final = "console-map"
    KPIS: Final = "console-kpis"
    LAYERS: Final = "console-layers"  # dcc.Checklist of layer keys (LAYER_* below)
    STATUS_FILTER: Final = "console-status-filter"  # dcc.Dropdown multi, status values
    COMMUNITY_FILTER: Final = "console-community-filter"  # dcc.Dropdown multi, community ids
    LANG: Final = "console-lang"  # dcc.RadioItems "zh"/"en"
    BANNER: Final = "console-feed-lost"
    STATUS_DOT: Final = "console-status-dot"
    DETAIL: Final = "console-detail"  # container; children = incident_detail(...)
    DETAIL_TITLE: Final = "console-detail-title"
    DETAIL_BODY: Final = "console-detail-body"
    DETAIL_CLOSE: Final = "console-detail-close"
    DETAIL_RESULT: Final = "console-detail-result"  # outcome of the last action (inside the detail panel)
    DETAIL_COUNTDOWN: Final = "console-detail-countdown"  # the SLA deadline's live countdown (onescreen.js ticks it)
    DETAIL_ASSIGNEE: Final = "console-detail-assignee"  # 承办人: masked name and role
    ON_DUTY: Final = "console-on-duty"  # 在岗值守: the current area's on-duty members by role, with their workload
    ON_DUTY_SHOWN: Final = "console-on-duty-shown"  # dcc.Store: a key of what the on-duty panel shows
    STORE_SELECTED: Final = "console-selected"  # selected incident id (str | None)
    FUNNEL: Final = "console-funnel"  # today's loop: children = components.funnel_stages
    LAYER_STACK: Final = "console-layer-stack"  # dcc.Store: figures.layer_stack.Stack of the map on the page
    MAP_VIEW: Final = "console-map-view"  # dcc.Store {"center": {lon, lat}, "zoom"}: the view after a pan or zoom


class WorkList:
    """The work list (工单列表) on the officials' page: toolbar, table and their stores (callbacks.worklist)."""

    ROOT: Final = "work-root"  # className "os-work os-work--open" while the table is shown
    QUERY: Final = "work-query"  # dcc.Store: the page URL's query, mirrored (the wall has no work list to fire)
    TOGGLE: Final = "work-toggle"  # html.Button: show / hide the table (the toolbar stays)
    SEARCH: Final = "work-search"  # dcc.Input: q (id, title, address or grid name)
    STATUS: Final = "work-status"  # dcc.Dropdown multi: statuses and views (open, overdue, urgent, ...)
    CATEGORY: Final = "work-category"  # dcc.Dropdown multi: category keys
    PRIORITY: Final = "work-priority"  # dcc.Dropdown multi: low/normal/high/urgent
    ASSIGNEE: Final = "work-assignee"  # dcc.Dropdown multi, searchable: member ids, "none"
    WINDOW: Final = "work-window"  # dcc.Dropdown: 1h/6h/24h/today, "range" shows SINCE/UNTIL
    SINCE: Final = "work-since"  # dcc.Input datetime-local (Beijing time)
    UNTIL: Final = "work-until"  # dcc.Input datetime-local (Beijing time)
    RANGE: Final = "work-range"  # the container of SINCE/UNTIL (hidden unless window is "range")
    RESET: Final = "work-reset"  # html.Button: every filter cleared
    COUNT: Final = "work-count"  # "共 1,234 条"
    NOTICE: Final = "work-notice"  # the URL's bad parameters (WorkFilterError), hidden when none
    EXPORT_CSV: Final = "work-export-csv"  # html.A to /api/incidents.csv?<the filter>
    EXPORT_XLSX: Final = "work-export-xlsx"  # html.A to /api/incidents.xlsx?<the filter>
    TABLE: Final = "work-table"  # dash_table.DataTable, server-side paging and sorting; row ids = incident ids
    TICK: Final = "work-tick"  # dcc.Interval: the table follows the situation
    BUILT: Final = "work-built"  # dcc.Store {"version", "at", "key"}: what the table on screen was built from
    FLY: Final = "work-fly"  # dcc.Store {"id", "lon", "lat", "zoom"}: a row picked, the map flies there (onescreen.js)
    FLOWN: Final = "work-flown"  # dcc.Store: the clientside flight's answer (nothing reads it)


class Tour:
    """A touring wall's extras (``/wall?tour=…``), beside the wall page."""

    STORE: Final = "wall-tour"  # dcc.Store {"next": {area: search}, "first": search}
    TICK: Final = "wall-tour-tick"  # dcc.Interval, one tick per dwell


class Replay:
    """Time on screen: the officials' scrubber (``layouts.replay.replay_bar``) and a past page's badge."""

    BAR: Final = "replay-bar"
    BADGE: Final = "replay-badge"  # "历史回放 …" (hidden on the live page)
    NOTICE: Final = "replay-notice"  # the URL's ``at`` was no time or in the future
    SLIDER: Final = "replay-slider"  # dcc.Slider over the log's reach, epoch seconds (max: now)
    CLOCK: Final = "replay-clock"  # the slider's moment, Asia/Shanghai
    PLAY: Final = "replay-play"  # play / pause at 60×
    LIVE: Final = "replay-live"  # back to live
    AT: Final = "replay-at"  # dcc.Store: the moment shown (epoch seconds) or None (live)
    PLAYING: Final = "replay-playing"  # dcc.Store: bool
    PLAY_LABELS: Final = "replay-play-labels"  # dcc.Store {"play", "pause"}: the play button's two labels
    TICK: Final = "replay-tick"  # dcc.Interval: one second of play = one minute of situation
    REACH_TICK: Final = "replay-reach-tick"  # dcc.Interval: the slider's reach follows the clock
    SHOWN: Final = "replay-shown"  # dcc.Store {"at", "token", "approximate"}: the moment the page shows
    WALL_BADGE: Final = "replay-wall-badge"  # a past wall's badge (or notice)


class Areas:
    """The area bar (breadcrumb and the areas below) on the officials' page."""

    BAR: Final = "area-bar"
    CRUMBS: Final = "area-crumbs"  # the breadcrumb; the current area is the [aria-current=page] item
    CHILDREN: Final = "area-children"  # links to the areas one level down
    NOTICE: Final = "area-notice"  # "no such area" when the URL named an unknown one


# Layer toggle values (console checklist): the grid fill and the incidents, then the 一张图 layers
# (figures.layers.LAYER_KEYS); incident statuses use the Status values themselves.
LAYER_GRIDS: Final = "grids"
LAYER_MICRO_GRIDS: Final = "micro_grids"
LAYER_MEMBERS: Final = "members"
LAYER_INCIDENTS: Final = "incidents"
CONSOLE_LAYERS: Final = (
    LAYER_GRIDS,
    LAYER_INCIDENTS,
    "grid_types",
    LAYER_MICRO_GRIDS,
    "party_orgs",
    "zones",
    LAYER_MEMBERS,
    "households",
    "forces",
    "basic_units",
    "place_names",
)


# Pattern-matching ids of the detail panel's buttons (one per suggested member / per allowed status change).
DISPATCH_BTN: Final = "dispatch-btn"
ACTION_BTN: Final = "incident-action-btn"
RATE_BTN: Final = "incident-rate-btn"
ESCALATE_BTN: Final = "incident-escalate-btn"


def dispatch_button_id(member_id: str) -> dict[str, str]:
    """``{"type": "dispatch-btn", "member": id}``: the 派单 button of one suggested member."""
    return {"type": DISPATCH_BTN, "member": member_id}


def action_button_id(status: str) -> dict[str, str]:
    """``{"type": "incident-action-btn", "status": s}``: 接单 / 办结 / 取消 / 返工 (the status it moves to)."""
    return {"type": ACTION_BTN, "status": status}


def rate_button_id(rating: int) -> dict[str, str]:
    """``{"type": "incident-rate-btn", "rating": "1".."5"}``: 评单 with that rating (closes the incident)."""
    return {"type": RATE_BTN, "rating": str(rating)}


def escalate_button_id() -> dict[str, str]:
    """``{"type": "incident-escalate-btn", "flag": "on"}``: 催办 (sets the incident's ``escalated`` flag)."""
    return {"type": ESCALATE_BTN, "flag": "on"}


def kpi_value_id(key: str, screen: str = "wall") -> str:
    """Id of a KPI tile's value span, e.g. ``wall-kpi-open-value``."""
    return f"{screen}-kpi-{key}-value"


def kpi_tile_id(key: str, screen: str = "wall") -> str:
    """Id of a KPI tile (its className carries the severity)."""
    return f"{screen}-kpi-{key}"


def all_ids(cls: type) -> list[str]:
    """Every id constant (UPPER_CASE str attribute) of an id namespace class."""
    return [v for k, v in vars(cls).items() if k.isupper() and isinstance(v, str)]


class Briefing:
    """The 简报 button on the officials' page (``layouts.briefing_menu``): a native disclosure menu."""

    MENU: Final = "briefing-menu"  # html.Details: open/closed is the browser's
    BUTTON: Final = "briefing-button"  # its html.Summary
    SIZE: Final = "briefing-size"  # dcc.RadioItems: "1920x1080" / "3840x2160" / "a4pdf"
    WATERMARK: Final = "briefing-watermark"  # dcc.Checklist ["1"] when on
    DOWNLOAD: Final = "briefing-download"  # html.A download: href built by callbacks.briefing
