from __future__ import annotations

import pytest

from dashboard import i18n
from dashboard.layouts import components
from incidents.model import CATEGORIES, GRID_STATE_RANK, STATUS_ORDER


def test_zh_and_en_have_the_same_keys() -> None:
    assert set(i18n.STRINGS["zh"]) == set(i18n.STRINGS["en"])
    assert all(v != "" or k.startswith("unit.") for k, v in i18n.STRINGS["zh"].items())


def test_default_is_zh_and_english_switch() -> None:
    assert i18n.t("app.title") == "一屏知全域"
    assert i18n.t("kpi.on_time_rate") == "按期办结率"
    assert i18n.t("kpi.on_time_rate", "en") == "On-time resolution"
    assert i18n.t("feed.lost") == "数据连接中断，正在重连…"
    assert i18n.t("wall.title", street="翠苑街道").startswith("翠苑街道")
    assert i18n.t("no.such.key") == "no.such.key"
    assert i18n.norm_lang("en-US") == "en" and i18n.norm_lang(None) == "zh"


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_every_domain_value_has_a_label(lang: str) -> None:
    for s in STATUS_ORDER:
        assert not i18n.status_label(s, lang).startswith("status.")
    for g in GRID_STATE_RANK:
        assert not i18n.grid_state_label(g, lang).startswith("grid_state.")
    for code, zh in CATEGORIES.items():
        assert i18n.category_label(code, lang)
        assert i18n.category_label(zh, lang) == i18n.category_label(code, lang)
    for role in i18n.ROLES_ZH:
        assert i18n.role_label(role, lang)
    for layer in ("grids", "micro_grids", "members", "households", "volunteer_teams", "units"):
        assert not i18n.layer_label(layer, lang).startswith("layer.")


def test_zh_labels() -> None:
    assert [i18n.status_label(s) for s in STATUS_ORDER] == [
        "待派单",
        "已派单",
        "已接单",
        "已办结",
        "已评价",
        "已撤销",
    ]
    assert i18n.grid_state_label("overdue") == "超期"
    assert i18n.layer_label("responsibility_zones") == "党小组责任田"
    assert i18n.category_label("fire", "en") == "Fire safety"


def test_time_is_shanghai() -> None:
    ts = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
    assert i18n.fmt_time(ts) == "06:13:20"
    assert i18n.fmt_datetime(ts) == "2023年11月15日 06:13"
    assert i18n.fmt_datetime(ts, "en") == "2023-11-15 06:13"
    assert i18n.fmt_time(None) == "—"


def test_masking_and_numbers() -> None:
    assert i18n.mask_name("张小明") == "张*明"
    assert i18n.mask_name("张三") == "张*"
    assert i18n.mask_phone("13812341234") == "138****1234"
    assert i18n.fmt_percent(0.953) == "95.3"
    assert i18n.fmt_percent(None) == "—"
    assert i18n.fmt_count(12345) == "12,345"
    assert i18n.fmt_minutes(6.44) == ("6.4", "分钟")
    assert i18n.fmt_minutes(150, "en") == ("2.5", "h")


def test_history_actors_read_as_people_say_them() -> None:
    assert i18n.actor_label("user:wang") == "账号 wang" and i18n.actor_label("user:wang", "en") == "account wang"
    assert i18n.actor_label("key:erp") == "接口 erp" and i18n.actor_label("publisher") == "外部系统"
    assert i18n.actor_label("") == "" and i18n.actor_label("12345热线") == "12345热线"
    detail = components.incident_detail(
        {"id": "X", "status": "accepted", "ts": 2.0, "created_ts": 1.0},
        history=[("reported", 1.0, "publisher"), ("dispatched", 2.0, "user:wang")],
        now=3.0,
    )
    text = str(detail)
    assert "账号 wang" in text and "外部系统" in text and "user:wang" not in text
