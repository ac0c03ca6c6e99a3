"""UI strings (zh-CN default, English switch), value formatting and Asia/Shanghai time for the screens.

Pure: no Dash. ``t(key, lang)`` looks up ``STRINGS[lang][key]``; both languages carry the same keys
(tested). Status / grid-state / category / role / layer labels have helpers so callers never build keys.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final, Literal, SupportsFloat, SupportsIndex

from incidents.model import CATEGORIES
from incidents.timeutil import SHANGHAI

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
DEFAULT_LANG: Lang = "zh"


CATEGORY_EN: dict[str, str] = {
    "environment": "Sanitation",
    "dispute": "Dispute",
    "safety_hazard": "Safety hazard",
    "public_service": "Public service",
    "rental_housing": "Rental housing",
    "fire": "Fire safety",
    "traffic": "Traffic",
    "infrastructure": "Infrastructure",
    "elderly_care": "Elderly care",
    "other": "Other",
}

# Member roles are stored in zh in the data (ARCHITECTURE.md `members.role`).
ROLES_ZH: tuple[str, ...] = ("网格长", "网格员", "党小组长", "党员", "志愿者")
ROLE_EN: dict[str, str] = {
    "网格长": "Grid chief",
    "网格员": "Grid worker",
    "党小组长": "Party group leader",
    "党员": "Party member",
    "志愿者": "Volunteer",
}

_ZH: dict[str, str] = {
    # titles
    "app.title": "一屏知全域",
    "login.title": "登录",
    "login.name": "账号",
    "login.password": "密码",
    "login.submit": "登录",
    "login.failed": "账号或密码不正确，或账号已停用。",
    "login.limited": "尝试次数过多，请 {s} 秒后再试。",
    "login.origin": "请求来源不符，已拒绝。",
    "login.switch": "English",
    "login.logout": "退出登录",
    "app.subtitle": "基层治理“一张图”指挥中心",
    "street.placeholder": "××街道",
    "wall.title": "{street} · 一屏知全域",
    "console.title": "{street} · 治理工作台",
    "briefing.title": "{street}基层治理态势简报",
    "briefing.title_at": "{street}态势回溯 · {time}",
    "briefing.generated": "生成时间 {time}（北京时间）",
    "briefing.top_overdue": "超期事件（重点督办）",
    "briefing.by_category": "事件分类",
    "briefing.trend": "近24小时上报趋势",
    "briefing.none": "暂无",
    "briefing.watermark": "内部资料",
    "briefing.button": "简报",
    "briefing.size": "尺寸",
    "briefing.watermark_option": "加“内部资料”水印",
    "briefing.download": "下载简报",
    # KPIs
    "kpi.today_reported": "今日上报",
    "kpi.open": "办理中",
    "kpi.overdue": "超期",
    "kpi.on_time_rate": "按期办结率",
    "kpi.mean_accept_min": "平均响应时长",
    "kpi.mean_resolve_min": "平均办结时长",
    "kpi.rework": "返工",
    "kpi.satisfaction": "满意度",
    "kpi.median_accept_min": "响应时长中位数",
    "kpi.median_resolve_min": "办结时长中位数",
    "kpi.rework_rate": "返工率",
    "kpi.satisfied_share": "满意率",
    "kpi.window.24h": "近24小时",
    "kpi.window.today": "今日",
    "kpi.by_category": "分类统计",
    "kpi.by_community": "社区统计",
    "kpi.trend_24h": "24小时趋势",
    "unit.items": "件",
    "unit.minutes": "分钟",
    "unit.hours": "小时",
    "unit.percent": "%",
    "unit.score": "分",
    "trend.reported": "上报",
    "trend.resolved": "办结",
    # statuses
    "status.reported": "待派单",
    "status.dispatched": "已派单",
    "status.accepted": "已接单",
    "status.resolved": "已办结",
    "status.closed": "已评价",
    "status.cancelled": "已撤销",
    # grid states
    "grid_state.overdue": "超期",
    "grid_state.unassigned": "待派单",
    "grid_state.in_progress": "处置中",
    "grid_state.clear": "正常",
    "legend.grid_states": "网格状态",
    "legend.incidents": "事件状态",
    "legend.overdue": "超期事件",
    "legend.open_counts": "未办结数",
    "legend.urgent": "紧急事件",
    "legend.members": "在岗党员",
    # layers
    "layer.grids": "网格",
    "layer.micro_grids": "微网格",
    "layer.members": "党员",
    "layer.households": "联系户",
    "layer.volunteer_teams": "志愿队伍",
    "layer.units": "共建单位",
    "layer.responsibility_zones": "党小组责任田",
    "layer.incidents": "事件",
    # console
    "console.layers": "图层",
    "console.filter_community": "社区",
    "area.nav": "区域",
    "funnel.title": "今日闭环",
    "funnel.reported": "群众点单",
    "funnel.dispatched": "社区派单",
    "funnel.accepted": "党员接单",
    "funnel.resolved": "办结",
    "funnel.rated": "街道评单",
    "funnel.median": "中位 {value}{unit}",
    "area.children": "下级",
    "area.unknown": "未找到区域“{area}”，显示全部",
    "area.click_hint": "点击网格逐级下钻",
    "replay.title": "时间轴",
    "replay.badge": "历史回放 {time}",
    "replay.approx": "（部分为近似）",
    "replay.live": "回到实时",
    "replay.play": "播放 60×",
    "replay.pause": "暂停",
    "replay.now": "实时",
    "replay.no_actions": "历史回放中不可操作，回到实时后处置。",
    "replay.bad_at.invalid": "“{at}”不是有效时间，显示实时态势",
    "replay.bad_at.future": "“{at}”在未来，显示实时态势",
    "replay.reach": "可回放自 {time}",
    "area.kind.district": "区",
    "area.kind.street": "街道",
    "area.kind.community": "村社",
    "area.kind.grid": "网格",
    "area.kind.micro_grid": "微网格",
    "console.filter_status": "事件状态",
    "console.all": "全部",
    "console.language": "语言",
    "console.detail": "事件详情",
    "console.detail_hint": "点击地图上的事件查看详情",
    "console.timeline": "办理时间线",
    "console.grid": "所属网格",
    "console.community": "所属社区",
    "console.micro_grid": "微网格",
    "console.category": "类别",
    "console.priority": "优先级",
    "console.assignee": "承办人",
    "console.nearest_members": "就近在岗党员",
    "console.distance_m": "{d} 米",
    "console.no_members": "附近暂无在岗党员",
    "console.created": "上报时间",
    "console.due": "办理时限",
    "console.suggestions": "派单建议（本网格优先）",
    "console.own_grid": "本网格",
    "console.no_suggestions": "暂无合适的在岗人员",
    "console.actions": "办理操作",
    "console.escalated": "已升级督办",
    "console.reopened": "返工 {n} 次",
    "action.dispatch": "派单",
    "action.accepted": "接单",
    "action.resolved": "办结",
    "action.cancelled": "取消",
    "action.done_dispatched": "已派单给 {name}（{role}）",
    "action.done_status": "已更新为「{status}」",
    "action.rejected": "操作被拒绝：{reason}",
    "action.not_applied": "未生效：该事件已有更新的状态",
    "action.failed": "操作失败：{reason}",
    "action.outside": "操作被拒绝：该事件不在您的管辖区域内",
    "action.not_allowed": "操作被拒绝：您的角色不能执行此操作",
    # priorities
    "priority.low": "低",
    "priority.normal": "一般",
    "priority.high": "高",
    "priority.urgent": "紧急",
    # feed / connection
    "feed.title": "实时事件",
    "feed.empty": "暂无事件",
    "feed.lost": "数据连接中断，正在重连…",
    "feed.stale": "数据已 {s} 秒未更新",
    "feed.overdue_tag": "超期",
    "feed.urgent_tag": "紧急",
    "clock.label": "北京时间",
    "lang.zh": "中文",
    "lang.en": "EN",
    "na": "—",
}

_EN: dict[str, str] = {
    "app.title": "OneScreen",
    "login.title": "Sign in",
    "login.name": "Account",
    "login.password": "Password",
    "login.submit": "Sign in",
    "login.failed": "Wrong account or password, or the account is disabled.",
    "login.limited": "Too many attempts: try again in {s} s.",
    "login.origin": "Refused: the request came from another site.",
    "login.switch": "中文",
    "login.logout": "Sign out",
    "app.subtitle": "Grid governance command centre",
    "street.placeholder": "XX Street",
    "wall.title": "{street} · OneScreen",
    "console.title": "{street} · Governance console",
    "briefing.title": "{street} — Governance situation briefing",
    "briefing.title_at": "{street} — Situation as of {time}",
    "briefing.generated": "Generated {time} (Beijing time)",
    "briefing.top_overdue": "Overdue incidents (escalated)",
    "briefing.by_category": "By category",
    "briefing.trend": "Reported, last 24 h",
    "briefing.none": "None",
    "briefing.watermark": "INTERNAL",
    "briefing.button": "Briefing",
    "briefing.size": "Size",
    "briefing.watermark_option": "“INTERNAL” watermark",
    "briefing.download": "Download briefing",
    "kpi.today_reported": "Reported today",
    "kpi.open": "Open",
    "kpi.overdue": "Overdue",
    "kpi.on_time_rate": "On-time resolution",
    "kpi.mean_accept_min": "Mean time to accept",
    "kpi.mean_resolve_min": "Mean time to resolve",
    "kpi.rework": "Rework",
    "kpi.satisfaction": "Satisfaction",
    "kpi.median_accept_min": "Median time to accept",
    "kpi.median_resolve_min": "Median time to resolve",
    "kpi.rework_rate": "Rework rate",
    "kpi.satisfied_share": "Satisfied (≥ 4)",
    "kpi.window.24h": "last 24 h",
    "kpi.window.today": "today",
    "kpi.by_category": "By category",
    "kpi.by_community": "By community",
    "kpi.trend_24h": "24 h trend",
    "unit.items": "",
    "unit.minutes": "min",
    "unit.hours": "h",
    "unit.percent": "%",
    "unit.score": "/5",
    "trend.reported": "Reported",
    "trend.resolved": "Resolved",
    "status.reported": "Reported",
    "status.dispatched": "Dispatched",
    "status.accepted": "Accepted",
    "status.resolved": "Resolved",
    "status.closed": "Closed",
    "status.cancelled": "Cancelled",
    "grid_state.overdue": "Overdue",
    "grid_state.unassigned": "Unassigned",
    "grid_state.in_progress": "In progress",
    "grid_state.clear": "Clear",
    "legend.grid_states": "Grid state",
    "legend.incidents": "Incidents",
    "legend.overdue": "Overdue",
    "legend.open_counts": "Open incidents",
    "legend.urgent": "Urgent",
    "legend.members": "Members on duty",
    "layer.grids": "Grids",
    "layer.micro_grids": "Micro-grids",
    "layer.members": "Party members",
    "layer.households": "Contact households",
    "layer.volunteer_teams": "Volunteer teams",
    "layer.units": "Co-building units",
    "layer.responsibility_zones": "Party-group zones",
    "layer.incidents": "Incidents",
    "console.layers": "Layers",
    "console.filter_community": "Community",
    "area.nav": "Area",
    "funnel.title": "Today's loop",
    "funnel.reported": "Reported",
    "funnel.dispatched": "Dispatched",
    "funnel.accepted": "Accepted",
    "funnel.resolved": "Resolved",
    "funnel.rated": "Rated",
    "funnel.median": "median {value} {unit}",
    "area.children": "Below",
    "area.unknown": "No area '{area}' here; showing everything",
    "area.click_hint": "Click a grid to drill down",
    "replay.title": "Timeline",
    "replay.badge": "Replay {time}",
    "replay.approx": " (partly approximate)",
    "replay.live": "Back to live",
    "replay.play": "Play 60×",
    "replay.pause": "Pause",
    "replay.now": "Live",
    "replay.no_actions": "No actions in a replay: go back to live to act.",
    "replay.bad_at.invalid": "'{at}' is not a time; showing the live situation",
    "replay.bad_at.future": "'{at}' is in the future; showing the live situation",
    "replay.reach": "Replay from {time}",
    "area.kind.district": "District",
    "area.kind.street": "Street",
    "area.kind.community": "Community",
    "area.kind.grid": "Grid",
    "area.kind.micro_grid": "Micro-grid",
    "console.filter_status": "Status",
    "console.all": "All",
    "console.language": "Language",
    "console.detail": "Incident detail",
    "console.detail_hint": "Click an incident on the map for details",
    "console.timeline": "Timeline",
    "console.grid": "Grid",
    "console.community": "Community",
    "console.micro_grid": "Micro-grid",
    "console.category": "Category",
    "console.priority": "Priority",
    "console.assignee": "Assignee",
    "console.nearest_members": "Nearest members on duty",
    "console.distance_m": "{d} m",
    "console.no_members": "No member on duty nearby",
    "console.created": "Reported at",
    "console.due": "Due",
    "console.suggestions": "Dispatch suggestions (own grid first)",
    "console.own_grid": "own grid",
    "console.no_suggestions": "No fitting member on duty",
    "console.actions": "Actions",
    "console.escalated": "Escalated",
    "console.reopened": "Reworked {n}×",
    "action.dispatch": "Dispatch",
    "action.accepted": "Accept",
    "action.resolved": "Resolve",
    "action.cancelled": "Cancel",
    "action.done_dispatched": "Dispatched to {name} ({role})",
    "action.done_status": "Now {status}",
    "action.rejected": "Rejected: {reason}",
    "action.not_applied": "Not applied: the incident has a newer state",
    "action.failed": "Failed: {reason}",
    "action.outside": "Refused: this incident is outside your areas",
    "action.not_allowed": "Refused: your role may not do this",
    "priority.low": "Low",
    "priority.normal": "Normal",
    "priority.high": "High",
    "priority.urgent": "Urgent",
    "feed.title": "Live incidents",
    "feed.empty": "No incidents",
    "feed.lost": "Data feed lost, reconnecting…",
    "feed.stale": "No update for {s} s",
    "feed.overdue_tag": "Overdue",
    "feed.urgent_tag": "Urgent",
    "clock.label": "Beijing time",
    "lang.zh": "中文",
    "lang.en": "EN",
    "na": "—",
}

for _code, _label in CATEGORIES.items():
    _ZH[f"category.{_code}"] = _label
    _EN[f"category.{_code}"] = CATEGORY_EN.get(_code, _code.replace("_", " ").capitalize())
for _role in ROLES_ZH:
    _ZH[f"role.{_role}"] = _role
    _EN[f"role.{_role}"] = ROLE_EN[_role]

# The static map layers (dashboard/figures/layers.py): layer names, classes and hover labels, key → (zh, en).
LAYER_STRINGS: dict[str, tuple[str, str]] = {
    "layer.grid_types": ("网格类型", "Grids by type"),
    "layer.party_orgs": ("党组织", "Party organisations"),
    "layer.zones": ("党小组责任田", "Party-group zones"),
    "layer.forces": ("治理力量", "Governance forces"),
    "layer.basic_units": ("基本单元", "Basic units"),
    "layer.place_names": ("地名", "Place names"),
    "layer.counts_scope": ("数量：所选区域", "Counts: selected area"),
    "grid_type.comprehensive": ("综合网格", "Comprehensive grid"),
    "grid_type.dedicated": ("专属网格", "Dedicated grid"),
    "dedicated_kind.industrial_park": ("产业园专属网格", "Industrial park"),
    "dedicated_kind.market": ("市场专属网格", "Market"),
    "dedicated_kind.rental_housing": ("出租房专属网格", "Rental housing"),
    "dedicated_kind.office_building": ("楼宇专属网格", "Office building"),
    "dedicated_kind.school": ("校园专属网格", "School"),
    "dedicated_kind.other": ("其他专属网格", "Other dedicated"),
    "party_level.street_committee": ("街道党工委", "Street Party Working Committee"),
    "party_level.community_org": ("村社党组织", "Community Party organisation"),
    "party_level.grid_branch": ("网格党支部", "Grid Party branch"),
    "party_level.party_group": ("党小组", "Party group"),
    "force_kind.guidance": ("指导力量", "Guidance"),
    "force_kind.self_run": ("自转力量", "Self-run"),
    "force_kind.vanguard": ("先锋力量", "Vanguard"),
    "force_kind.enforcement": ("执法力量", "Enforcement"),
    "force_kind.co_building": ("共建力量", "Co-building"),
    "force_kind.social": ("社会力量", "Social"),
    "force_kind.unknown": ("未分类力量", "Unclassified"),
    "force_source.volunteer_teams": ("志愿队伍", "Volunteer team"),
    "force_source.units": ("共建单位", "Co-building unit"),
    "basic_unit.rental_house": ("出租房", "Rental house"),
    "basic_unit.shop_street": ("商业街", "Shop street"),
    "layer.off_duty": ("不在岗", "Off duty"),
    "layer.covered": ("已联系户", "Covered households"),
    "layer.uncovered": ("未落实联系户", "Uncovered households"),
    "layer.coverage": ("微网格联系户覆盖率", "Coverage per micro-grid"),
    "hover.branch": ("党支部", "Party branch"),
    "hover.parent": ("上级", "Parent"),
    "hover.leader": ("微网格长", "Micro-grid leader"),
    "hover.on_duty": ("在岗", "On duty"),
    "hover.off_duty": ("不在岗", "Off duty"),
    "hover.households": ("联系户", "Households"),
    "hover.coverage": ("联系户覆盖", "Household coverage"),
    "hover.no_member": ("未落实联系党员", "No member assigned"),
    "hover.contact": ("联系党员", "Contact member"),
    "hover.size": ("人数", "Size"),
    "hover.focus": ("服务方向", "Focus"),
    "hover.resources": ("资源", "Resources"),
    "hover.keeper": ("负责人", "Keeper"),
    "hover.phone": ("电话", "Phone"),
    "hover.tenants": ("租户", "Tenants"),
    "hover.shops": ("商铺", "Shops"),
    "hover.none": ("无", "none"),
}
for _key, (_zh_text, _en_text) in LAYER_STRINGS.items():
    _ZH.setdefault(_key, _zh_text)
    _EN.setdefault(_key, _en_text)

STRINGS: dict[str, dict[str, str]] = {"zh": _ZH, "en": _EN}


def norm_lang(lang: str | None) -> Lang:
    """'en', 'en-US', 'EN' → 'en'; anything else → 'zh'."""
    return "en" if lang and str(lang).lower().startswith("en") else "zh"


def t(key: str, lang: str | None = DEFAULT_LANG, **fmt: object) -> str:
    """The UI string for ``key`` (falls back to zh, then to the key; an empty string is a translation, e.g. the
    English count unit); ``fmt`` fills ``{placeholders}``."""
    text = STRINGS[norm_lang(lang)].get(key)
    if text is None:
        text = _ZH.get(key, key)
    return text.format(**fmt) if fmt else text


def status_label(status: object, lang: str | None = DEFAULT_LANG) -> str:
    """The label of an incident status in ``lang``."""
    return t(f"status.{status}", lang)


def grid_state_label(state: object, lang: str | None = DEFAULT_LANG) -> str:
    """The label of a grid state in ``lang``."""
    return t(f"grid_state.{state}", lang)


def category_label(code: object, lang: str | None = DEFAULT_LANG) -> str:
    """Category code (or zh label) → label in ``lang``."""
    code = str(code)
    if f"category.{code}" not in _ZH:  # a zh label → code
        code = next((c for c, label in CATEGORIES.items() if label == code), code)
    key = f"category.{code}"
    return t(key, lang) if key in _ZH else code


def role_label(role: object, lang: str | None = DEFAULT_LANG) -> str:
    """The label of a member role in ``lang``; an unknown role as given."""
    key = f"role.{role}"
    return t(key, lang) if key in _ZH else str(role)


_ACTOR_KINDS: Final = {"user": ("账号", "account"), "key": ("接口", "API key"), "wall": ("大屏", "wall")}
_ACTOR_WORDS: Final = {"publisher": ("外部系统", "external system"), "anonymous": ("匿名", "anonymous")}


def actor_label(actor: object, lang: str | None = DEFAULT_LANG) -> str:
    """Who made a change, for people: ``user:wang`` → ``账号 wang`` / ``account wang``, ``key:erp`` → ``接口 erp``,
    ``publisher`` → ``外部系统``; anything else as given ("" for none)."""
    text = str(actor or "")
    zh = norm_lang(lang) == "zh"
    kind, sep, name = text.partition(":")
    if sep and kind in _ACTOR_KINDS:
        return f"{_ACTOR_KINDS[kind][0 if zh else 1]} {name}"
    if text in _ACTOR_WORDS:
        return _ACTOR_WORDS[text][0 if zh else 1]
    return text


def layer_label(layer: str, lang: str | None = DEFAULT_LANG) -> str:
    """The label of a console map layer in ``lang``."""
    return t(f"layer.{layer}", lang)


# ---- time (Asia/Shanghai) ---------------------------------------------------------------------------


def to_shanghai(ts: float) -> datetime:
    """Aware datetime of ``ts`` (epoch seconds) in Asia/Shanghai."""
    return datetime.fromtimestamp(float(ts), tz=UTC).astimezone(SHANGHAI)


def fmt_time(ts: float | None, fmt: str = "%H:%M:%S") -> str:
    """Epoch seconds → Asia/Shanghai wall time (``—`` for None/NaN)."""
    if ts is None or (isinstance(ts, float) and math.isnan(ts)):
        return "—"
    return to_shanghai(ts).strftime(fmt)


def fmt_hhmm_many(ts: Iterable[float]) -> list[str]:
    """``fmt_time(v, "%H:%M")`` of many epoch seconds (``—`` for NaN), each distinct minute formatted once: a
    console frame labels 10,000 markers, from a few hundred distinct minutes."""
    memo: dict[int, str] = {}
    out: list[str] = []
    for v in ts:
        if v != v:  # NaN
            out.append("—")
            continue
        minute = int(v // 60)
        text = memo.get(minute)
        if text is None:
            text = memo[minute] = fmt_time(minute * 60.0, "%H:%M")
        out.append(text)
    return out


def fmt_datetime(ts: float | None, lang: str | None = DEFAULT_LANG) -> str:
    """Full timestamp: ``2025年5月1日 14:03`` (zh) / ``2025-05-01 14:03`` (en)."""
    if ts is None or (isinstance(ts, float) and math.isnan(ts)):
        return "—"
    d = to_shanghai(ts)
    if norm_lang(lang) == "zh":
        return f"{d.year}年{d.month}月{d.day}日 {d:%H:%M}"
    return f"{d:%Y-%m-%d %H:%M}"


def fmt_age(seconds: float, lang: str | None = DEFAULT_LANG) -> str:
    """A duration as a short age: ``3分钟前`` / ``3 min ago``."""
    s = max(0, int(seconds))
    zh = norm_lang(lang) == "zh"
    if s < 60:
        return "刚刚" if zh else "just now"
    if s < 3600:
        return f"{s // 60}分钟前" if zh else f"{s // 60} min ago"
    if s < 86400:
        return f"{s // 3600}小时前" if zh else f"{s // 3600} h ago"
    return f"{s // 86400}天前" if zh else f"{s // 86400} d ago"


# ---- privacy ----------------------------------------------------------------------------------------


def mask_name(name: object) -> str:
    """张小明 → 张*明 (``geo.privacy.mask_name``: every screen and export masks the same way)."""
    from geo.privacy import mask_name as _mask

    return "" if name is None else _mask(str(name).strip())


def mask_phone(phone: object) -> str:
    """13812341234 → 138****1234 (``geo.privacy.mask_phone``)."""
    from geo.privacy import mask_phone as _mask

    return "" if phone is None else _mask(str(phone))


# ---- numbers ----------------------------------------------------------------------------------------


def is_missing(v: object) -> bool:
    """``None`` or NaN; any other value (numeric or not) is present."""
    if v is None:
        return True
    try:
        return math.isnan(_float(v))
    except (TypeError, ValueError):
        return False


def _float(v: object) -> float:
    """``float(v)``, typed for an ``object``: ``TypeError``/``ValueError`` as ``float`` raises them."""
    if isinstance(v, SupportsFloat | SupportsIndex | str | bytes):
        return float(v)
    raise TypeError(f"float() argument must be a string or a real number, not {type(v).__name__!r}")


def fmt_count(v: object) -> str:
    """A count rounded with thousands separators, ``1,234``; — if missing."""
    return "—" if is_missing(v) else f"{round(_float(v)):,}"


def fmt_percent(v: object, digits: int = 1) -> str:
    """A fraction 0–1 (or an already-percent value > 1) → ``96.5``; the unit is added by the caller."""
    if is_missing(v):
        return "—"
    x = _float(v)
    x = x * 100 if x <= 1.0 else x
    return f"{x:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{x:.0f}"


def fmt_minutes(v: object, lang: str | None = DEFAULT_LANG) -> tuple[str, str]:
    """Minutes → (value, unit): below 100 min in minutes, else hours with one decimal."""
    if is_missing(v):
        return "—", ""
    m = _float(v)
    if m < 100:
        return (f"{m:.1f}" if m < 10 else f"{m:.0f}"), t("unit.minutes", lang)
    return f"{m / 60:.1f}", t("unit.hours", lang)


# --- the incident detail (描述, 地址, SLA countdown, 评单/返工/催办) and the on-duty panel (在岗值守): new keys only
_ZH.update(
    {
        "console.description": "描述",
        "console.source": "来源",
        "console.address": "地址",
        "console.overdue_multiple": "超时倍数",
        "console.rating": "评价",
        "console.time_left": "剩余 {t}",
        "console.time_over": "已超时 {t}",
        "console.days": "{d}天",
        "console.open_tasks": "在办 {n}",
        "console.on_duty": "在岗值守",
        "console.no_on_duty": "本区域暂无在岗人员",
        "action.rework": "返工",
        "action.escalate": "催办",
        "action.rate": "评单",
        "action.rate_n": "评单：{n} 星",
        "action.done_rated": "已评单：{n} 星",
        "action.done_rework": "已返工（第 {n} 次）",
        "action.done_escalated": "已催办",
    }
)
_EN.update(
    {
        "console.description": "Description",
        "console.source": "Source",
        "console.address": "Address",
        "console.overdue_multiple": "Overdue ×SLA",
        "console.rating": "Rating",
        "console.time_left": "{t} left",
        "console.time_over": "{t} overdue",
        "console.days": "{d}d",
        "console.open_tasks": "{n} open",
        "console.on_duty": "On duty",
        "console.no_on_duty": "Nobody on duty in this area",
        "action.rework": "Rework",
        "action.escalate": "Escalate",
        "action.rate": "Close with rating",
        "action.rate_n": "Close with {n} stars",
        "action.done_rated": "Closed, rated {n} stars",
        "action.done_rework": "Sent back for rework (#{n})",
        "action.done_escalated": "Escalated",
    }
)
_ZH.update({"action.not_now": "操作被拒绝：事件当前状态不能执行此操作"})
_EN.update({"action.not_now": "Refused: not possible in the incident's current status"})

# --- the work list (工单列表) on the officials' page: new keys only
_ZH.update(
    {
        "work.title": "工单列表",
        "work.search": "搜索编号、标题、地址或网格",
        "work.status": "状态",
        "work.category": "类别",
        "work.priority": "紧急程度",
        "work.assignee": "承办人",
        "work.unassigned": "未指派",
        "work.time": "上报时间",
        "work.window.1h": "近 1 小时",
        "work.window.6h": "近 6 小时",
        "work.window.24h": "近 24 小时",
        "work.window.today": "今日",
        "work.window.range": "自定义时段",
        "work.since": "起",
        "work.until": "止",
        "work.reset": "重置",
        "work.count": "共 {n} 条",
        "work.export_csv": "导出 CSV",
        "work.export_xlsx": "导出 Excel",
        "work.bad_params": "筛选条件有误，已忽略：{problems}",
        "work.empty": "没有符合条件的事件",
        "work.view.open": "待办",
        "work.view.overdue": "超期",
        "work.view.urgent": "紧急",
        "work.view.reworked": "返工",
        "work.view.escalated": "催办",
        "work.view.cancelled": "已取消",
        "work.kpi_hint": "点击筛选工单列表",
        "work.toggle": "展开 / 收起工单列表",
    }
)
_EN.update(
    {
        "work.title": "Work list",
        "work.search": "Search id, title, address or grid",
        "work.status": "Status",
        "work.category": "Category",
        "work.priority": "Priority",
        "work.assignee": "Assignee",
        "work.unassigned": "Unassigned",
        "work.time": "Reported",
        "work.window.1h": "Last hour",
        "work.window.6h": "Last 6 hours",
        "work.window.24h": "Last 24 hours",
        "work.window.today": "Today",
        "work.window.range": "Custom range",
        "work.since": "From",
        "work.until": "To",
        "work.reset": "Reset",
        "work.count": "{n} in all",
        "work.export_csv": "Export CSV",
        "work.export_xlsx": "Export Excel",
        "work.bad_params": "Some filters were wrong and are ignored: {problems}",
        "work.empty": "No incident matches",
        "work.view.open": "Open",
        "work.view.overdue": "Overdue",
        "work.view.urgent": "Urgent",
        "work.view.reworked": "Reworked",
        "work.view.escalated": "Escalated",
        "work.view.cancelled": "Cancelled",
        "work.kpi_hint": "Click to filter the work list",
        "work.toggle": "Show / hide the work list",
    }
)
