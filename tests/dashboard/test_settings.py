"""Every documented environment variable is a Settings field, and each is honoured."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from dashboard.settings import Settings, SettingsError
from tests.support.paths import REPO
from tests.support.server import spawn_server

# A valid value other than the default for each variable, and what the field must then hold.
SAMPLES: dict[str, tuple[str, Any]] = {
    "REDIS_URL": ("redis://10.0.0.9:6380/3", "redis://10.0.0.9:6380/3"),
    "ONESCREEN_PREFIX": ("street7", "street7"),
    "ONESCREEN_DATA": ("/srv/grid.gpkg", Path("/srv/grid.gpkg")),
    "ONESCREEN_CONFIG": ("/srv/onescreen.toml", Path("/srv/onescreen.toml")),
    "ONESCREEN_HOST": ("0.0.0.0", "0.0.0.0"),
    "ONESCREEN_PORT": ("9001", 9001),
    "ONESCREEN_LANG": ("en", "en"),
    "ONESCREEN_TICK_MS": ("150", 150),
    "ONESCREEN_STATE_DIR": ("/var/lib/onescreen", Path("/var/lib/onescreen")),
    "ONESCREEN_SLA": ("/srv/sla.json", Path("/srv/sla.json")),
    "ONESCREEN_WALL_MEMBERS": ("off", False),
    "ONESCREEN_WALL_PULSE": ("0", False),
    "ONESCREEN_MAX_FUTURE_S": ("120", 120.0),
    "ONESCREEN_RETENTION_DAYS": ("2.5", 2.5),
    "ONESCREEN_WS_PER_CLIENT": ("8", 8),
    "ONESCREEN_TILES": ("http://tiles.intra/{z}/{x}/{y}.png", "http://tiles.intra/{z}/{x}/{y}.png"),
    "ONESCREEN_TILES_CRS": ("gcj02", "gcj02"),
    "ONESCREEN_WALL_LAYERS": ("zones, forces", ("zones", "forces")),
    "ONESCREEN_SESSION_IDLE_S": ("600", 600),
    "ONESCREEN_SESSION_MAX_S": ("3600", 3600),
    "ONESCREEN_LOGIN_ATTEMPTS": ("3", 3),
    "ONESCREEN_LOGIN_WINDOW_S": ("60", 60),
    "ONESCREEN_SSO_HEADER": ("X-Forwarded-User", "X-Forwarded-User"),
    "ONESCREEN_TRUSTED_PROXIES": ("10.0.0.1, 192.168.8.0/24", ("10.0.0.1/32", "192.168.8.0/24")),
    "ONESCREEN_SECRET": ("a-long-random-string", SecretStr("a-long-random-string")),
    "ONESCREEN_SOURCE_CRS": ("amap-picker=gcj02,*=BD09", {"amap-picker": "gcj02", "*": "bd09"}),
    "ONESCREEN_KEY_RATE": ("100", 100),
    "ONESCREEN_KEY_RATE_WINDOW_S": ("10", 10),
    "ONESCREEN_ALLOWED_HOSTS": ("Yiping.Street.gov.cn, *.intra", ("yiping.street.gov.cn", "*.intra")),
    "ONESCREEN_OPEN311_PUBLIC": ("1", True),
    "ONESCREEN_BRIEFING_WARM": ("0", False),
    "ONESCREEN_BRIEFING_QUEUE": ("2", 2),
    "ONESCREEN_BRIEFING_TIMEOUT_S": ("12.5", 12.5),
    "ONESCREEN_LOG_FORMAT": ("json", "json"),
    "ONESCREEN_METRICS_PUBLIC": ("127.0.0.1, 10.8.0.0/16", ("127.0.0.1/32", "10.8.0.0/16")),
}


def documented() -> set[str]:
    section = (REPO / "README.md").read_text(encoding="utf-8").split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`((?:ONESCREEN_[A-Z0-9_]+)|REDIS_URL)`", section))


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in Settings.env_names().values():
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_every_field_is_documented_and_every_documented_variable_is_a_field() -> None:
    assert set(Settings.env_names().values()) == documented() == set(SAMPLES)


@pytest.mark.parametrize("variable", sorted(SAMPLES))
def test_each_variable_is_honoured(variable: str, clean_env: pytest.MonkeyPatch) -> None:
    value, expected = SAMPLES[variable]
    field = next(f for f, env in Settings.env_names().items() if env == variable)
    default = getattr(Settings.from_env(), field)
    assert default != expected, "the sample must differ from the default"
    clean_env.setenv(variable, value)
    assert getattr(Settings.from_env(), field) == expected


def test_cli_options_override_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("ONESCREEN_PORT", "9001")
    assert Settings.from_env(port=9002, host=None).port == 9002


def test_shell_variables_named_like_fields_are_not_read(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("LANG", "C.UTF-8")
    clean_env.setenv("PORT", "1")
    clean_env.setenv("HOST", "example")
    s = Settings.from_env()
    assert (s.lang, s.port, s.host) == ("zh", 8050, "127.0.0.1")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ONESCREEN_PORT", "70000"),
        ("ONESCREEN_PORT", "http"),
        ("ONESCREEN_LANG", "fr"),
        ("ONESCREEN_TICK_MS", "5"),
        ("ONESCREEN_PREFIX", "two words"),
        ("ONESCREEN_WALL_PULSE", "sometimes"),
        ("ONESCREEN_RETENTION_DAYS", "0"),
        ("ONESCREEN_TILES", "http://tiles.intra/{z}/{x}.png"),
        ("ONESCREEN_TILES", "tiles/{z}/{x}/{y}.png"),
        ("ONESCREEN_TILES_CRS", "bd09"),
        ("ONESCREEN_WALL_LAYERS", "members,roads"),
        ("ONESCREEN_TRUSTED_PROXIES", "10.0.0.1,proxy.intra"),
        ("ONESCREEN_SSO_HEADER", "X User"),
        ("ONESCREEN_SESSION_IDLE_S", "5"),
        ("ONESCREEN_LOG_FORMAT", "xml"),
        ("ONESCREEN_METRICS_PUBLIC", "prometheus.intra"),
    ],
)
def test_a_bad_value_names_its_variable(variable: str, value: str, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env()


def test_the_server_honours_the_wall_switches(redis_url: str, tmp_path: Path) -> None:
    """ONESCREEN_WALL_PULSE=0 and ONESCREEN_WALL_MEMBERS=off reach the wall a browser loads."""
    env = {"ONESCREEN_WALL_PULSE": "0", "ONESCREEN_WALL_MEMBERS": "off"}
    with spawn_server(redis_url, tmp_path, env=env) as server:
        req = urllib.request.Request(server.url + "/_dash-layout", headers={"Referer": server.url + "/wall"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read().decode()
    layout = json.loads(text)
    assert '"os-wall"' in text and "os-pulse" not in text
    wall_map = _find(layout, "wall-map")
    assert wall_map is not None and wall_map["props"]["figure"]["data"][1]["visible"] is False


def _find(node: Any, component_id: str) -> Any:
    if isinstance(node, dict):
        if node.get("props", {}).get("id") == component_id:
            return node
        for v in node.values():
            found = _find(v, component_id)
            if found is not None:
                return found
    elif isinstance(node, list):
        for v in node:
            found = _find(v, component_id)
            if found is not None:
                return found
    return None
