"""One typed Settings, built once (from the environment plus CLI overrides) and passed into create_app."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from onescreen_data import demo_data_path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = demo_data_path()  # installed with the package (onescreen_data), found without a checkout


def _flag(text: str) -> bool:
    return text.strip().lower() not in ("0", "false", "no", "off")


class SettingsError(ValueError):
    """An environment variable or option has a value we cannot use."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a server process needs to know. Environment variable in brackets."""

    redis_url: str | None = None  # REDIS_URL; None → `demo` starts an embedded redis-server
    redis_prefix: str = "onescreen"  # ONESCREEN_PREFIX: prefix of every Redis key and channel
    data_path: Path = DEFAULT_DATA  # ONESCREEN_DATA: GeoPackage with the layers
    config_path: Path | None = None  # ONESCREEN_CONFIG: onescreen.toml mapping the user's own data (wins over data)
    host: str = "127.0.0.1"  # ONESCREEN_HOST
    port: int = 8050  # ONESCREEN_PORT
    lang: str = "zh"  # ONESCREEN_LANG: default UI language (zh | en)
    tick_ms: int = 200  # ONESCREEN_TICK_MS: live push coalescing period
    state_dir: Path = REPO_ROOT / ".onescreen"  # ONESCREEN_STATE_DIR: embedded Redis data, caches
    sla_path: Path | None = None  # ONESCREEN_SLA: JSON file overriding SLA deadlines
    show_members_on_wall: bool = True  # ONESCREEN_WALL_MEMBERS
    wall_pulse: bool = True  # ONESCREEN_WALL_PULSE: urgent incidents pulse on the wall (a repaint every 0.7 s)

    def __post_init__(self) -> None:
        problems = []
        if self.lang not in ("zh", "en"):
            problems.append(f"ONESCREEN_LANG must be zh or en, not {self.lang!r}")
        if not 20 <= self.tick_ms <= 5000:
            problems.append(f"ONESCREEN_TICK_MS must be between 20 and 5000, not {self.tick_ms}")
        if not 0 < self.port < 65536:
            problems.append(f"ONESCREEN_PORT must be a TCP port, not {self.port}")
        if not self.redis_prefix or any(c.isspace() for c in self.redis_prefix):
            problems.append(f"ONESCREEN_PREFIX must be a non-empty word, not {self.redis_prefix!r}")
        if problems:
            raise SettingsError("; ".join(problems))

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Read the environment, then apply explicit overrides (CLI options); None overrides are ignored."""
        env = dict(os.environ) if env is None else env
        values: dict[str, Any] = {}
        try:
            if env.get("REDIS_URL"):
                values["redis_url"] = env["REDIS_URL"]
            if env.get("ONESCREEN_PREFIX"):
                values["redis_prefix"] = env["ONESCREEN_PREFIX"]
            if env.get("ONESCREEN_DATA"):
                values["data_path"] = Path(env["ONESCREEN_DATA"])
            if env.get("ONESCREEN_CONFIG"):
                values["config_path"] = Path(env["ONESCREEN_CONFIG"])
            if env.get("ONESCREEN_HOST"):
                values["host"] = env["ONESCREEN_HOST"]
            if env.get("ONESCREEN_PORT"):
                values["port"] = int(env["ONESCREEN_PORT"])
            if env.get("ONESCREEN_LANG"):
                values["lang"] = env["ONESCREEN_LANG"]
            if env.get("ONESCREEN_TICK_MS"):
                values["tick_ms"] = int(env["ONESCREEN_TICK_MS"])
            if env.get("ONESCREEN_STATE_DIR"):
                values["state_dir"] = Path(env["ONESCREEN_STATE_DIR"])
            if env.get("ONESCREEN_SLA"):
                values["sla_path"] = Path(env["ONESCREEN_SLA"])
            if env.get("ONESCREEN_WALL_MEMBERS"):
                values["show_members_on_wall"] = env["ONESCREEN_WALL_MEMBERS"].lower() not in (
                    "0",
                    "false",
                    "no",
                )
        except ValueError as exc:
            raise SettingsError(f"bad environment value: {exc}") from exc
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise SettingsError(f"unknown settings: {sorted(unknown)}")
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)
