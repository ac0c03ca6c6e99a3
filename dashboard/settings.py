"""One typed Settings, read once from the environment (pydantic-settings) plus CLI overrides, passed in everywhere.

Every field names its environment variable in ``validation_alias``; the README's configuration table lists the
same names (tests/dashboard/test_settings.py checks both ways and that each variable is honoured).
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from onescreen_data import demo_data_path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = demo_data_path()  # installed with the package (onescreen_data), found without a checkout


class SettingsError(ValueError):
    """An environment variable or option has a value we cannot use (the message names it)."""


def _env(name: str) -> Any:
    return AliasChoices(name)


class Settings(BaseSettings):
    """Everything a server process needs to know. Immutable; build with ``Settings.from_env(**overrides)``."""

    # Fields are read by their alias only: a field name like ``lang`` must never pick up the shell's ``LANG``.
    model_config = SettingsConfigDict(frozen=True, extra="ignore", env_ignore_empty=True)

    redis_url: str | None = Field(None, validation_alias=_env("REDIS_URL"))
    """Redis to use; unset → ``demo`` starts an embedded redis-server."""
    redis_prefix: str = Field("onescreen", validation_alias=_env("ONESCREEN_PREFIX"))
    """Prefix of every Redis key and channel."""
    data_path: Path = Field(DEFAULT_DATA, validation_alias=_env("ONESCREEN_DATA"))
    """GeoPackage with the layers."""
    config_path: Path | None = Field(None, validation_alias=_env("ONESCREEN_CONFIG"))
    """``onescreen.toml`` mapping the user's own data (wins over ``data_path``)."""
    host: str = Field("127.0.0.1", validation_alias=_env("ONESCREEN_HOST"))
    port: int = Field(8050, gt=0, lt=65536, validation_alias=_env("ONESCREEN_PORT"))
    lang: Literal["zh", "en"] = Field("zh", validation_alias=_env("ONESCREEN_LANG"))
    """Default UI language."""
    tick_ms: int = Field(200, ge=20, le=5000, validation_alias=_env("ONESCREEN_TICK_MS"))
    """Live-push coalescing period: at most one frame per screen context per tick (milliseconds)."""
    state_dir: Path = Field(REPO_ROOT / ".onescreen", validation_alias=_env("ONESCREEN_STATE_DIR"))
    """Embedded Redis data."""
    sla_path: Path | None = Field(None, validation_alias=_env("ONESCREEN_SLA"))
    """JSON file overriding SLA deadlines per category."""
    tiles: str | None = Field(None, validation_alias=_env("ONESCREEN_TILES"))
    """Optional basemap: an XYZ raster tile URL template with ``{z}``, ``{x}``, ``{y}`` (an intranet tile server,
    天地图 with its ``tk`` key). Unset (the default): no basemap, nothing fetched from anywhere."""
    tiles_crs: Literal["wgs84", "gcj02"] = Field("wgs84", validation_alias=_env("ONESCREEN_TILES_CRS"))
    """The coordinate system of those tiles: ``wgs84`` (天地图, OSM-style servers) or ``gcj02`` (tiles made for
    Amap/Tencent); with ``gcj02`` every layer and marker is drawn shifted to match them."""
    wall_layers: Annotated[tuple[str, ...], NoDecode] = Field(
        ("place_names", "party_orgs", "members"), validation_alias=_env("ONESCREEN_WALL_LAYERS")
    )
    """The 一张图 layers on the wall, comma-separated (``grid_types``, ``micro_grids``, ``party_orgs``, ``zones``,
    ``members`` — on duty only, by role —, ``households``, ``forces``, ``basic_units``, ``place_names``);
    ``none``: none."""
    show_members_on_wall: bool = Field(True, validation_alias=_env("ONESCREEN_WALL_MEMBERS"))
    """Party members layer on the wall (``1``/``0``, ``on``/``off``, ``true``/``false``, ``yes``/``no``)."""
    wall_pulse: bool = Field(True, validation_alias=_env("ONESCREEN_WALL_PULSE"))
    """Urgent incidents pulse on the wall (a repaint every 0.7 s)."""
    max_future_s: float = Field(600.0, ge=0, validation_alias=_env("ONESCREEN_MAX_FUTURE_S"))
    """A message whose ``ts`` is further ahead of this server's clock is rejected (seconds)."""
    source_crs: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, validation_alias=_env("ONESCREEN_SOURCE_CRS")
    )
    """The coordinate system of publishers that never send ``crs``, by the ``source`` their messages carry:
    ``amap-picker=gcj02,baidu-app=bd09``; ``*=gcj02`` for every other message without ``crs`` (only when all
    publishers pick on one kind of map). A message's own ``crs`` always wins. Default: none (WGS-84)."""
    retention_days: float = Field(7.0, gt=0, validation_alias=_env("ONESCREEN_RETENTION_DAYS"))
    """Closed and cancelled incidents leave the in-memory situation this long after their last change (days);
    Redis and time travel keep them."""
    ws_per_client: int = Field(64, ge=1, validation_alias=_env("ONESCREEN_WS_PER_CLIENT"))
    """Open WebSocket connections allowed per client address."""
    log_format: Literal["text", "json"] = Field("text", validation_alias=_env("ONESCREEN_LOG_FORMAT"))
    """``text`` (the default: one readable line per record, for a console) or ``json`` (one JSON object per line,
    for a log shipper: ``time``, ``level``, ``logger``, ``message`` and the record's fields, ``incident_id`` on every
    line about an incident)."""
    metrics_public: Annotated[tuple[str, ...], NoDecode] = Field((), validation_alias=_env("ONESCREEN_METRICS_PUBLIC"))
    """Comma-separated addresses or CIDRs that may scrape ``/metrics`` without a credential (e.g. ``127.0.0.1`` for
    a Prometheus on the same machine, or the monitoring network). Empty (the default): ``/metrics`` needs a ``read``
    API key or a user who may open the officials' page, like every other route."""

    # Access (dashboard.access; README "Access")
    session_idle_s: int = Field(1800, ge=30, validation_alias=_env("ONESCREEN_SESSION_IDLE_S"))
    """A login session ends after this long without a request (seconds)."""
    session_max_s: int = Field(43200, ge=60, validation_alias=_env("ONESCREEN_SESSION_MAX_S"))
    """A login session ends this long after the login, in use or not (seconds)."""
    login_attempts: int = Field(5, ge=1, validation_alias=_env("ONESCREEN_LOGIN_ATTEMPTS"))
    """Failed logins allowed per (account name, client address) within ``login_window_s``; then HTTP 429."""
    login_window_s: int = Field(300, ge=1, validation_alias=_env("ONESCREEN_LOGIN_WINDOW_S"))
    """The window of ``login_attempts`` (seconds)."""
    sso_header: str | None = Field(None, validation_alias=_env("ONESCREEN_SSO_HEADER"))
    """Single sign-on: the header a trusted reverse proxy puts the signed-in account name in (e.g.
    ``X-Forwarded-User``); believed only from ``trusted_proxies``. Unset: no SSO."""
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = Field(
        (), validation_alias=_env("ONESCREEN_TRUSTED_PROXIES")
    )
    """Comma-separated addresses or CIDRs of reverse proxies whose ``X-Forwarded-For``/``-Proto`` and SSO header
    are believed. Empty (the default): none — every peer is the client itself."""
    secret: SecretStr | None = Field(None, validation_alias=_env("ONESCREEN_SECRET"))
    """Key signing wall links. Unset: generated once and kept in Redis (never printed)."""
    key_rate: int = Field(3000, ge=1, validation_alias=_env("ONESCREEN_KEY_RATE"))
    """Requests per API key per ``key_rate_window_s`` (a batch counts its items); then HTTP 429 + Retry-After."""
    key_rate_window_s: int = Field(60, ge=1, validation_alias=_env("ONESCREEN_KEY_RATE_WINDOW_S"))
    """The window of ``key_rate`` (seconds)."""
    open311_public: bool = Field(False, validation_alias=_env("ONESCREEN_OPEN311_PUBLIC"))
    """Open311 reads (``GET``/``HEAD`` under ``/open311/v2/``: discovery, services, requests) without a credential,
    as GeoReport v2 intends, masked and scrubbed like any anonymous output. Off (the default): reads need a login, an
    SSO header or a ``read`` API key like every other route. POST always needs an ``ingest`` key (``api_key``)."""
    briefing_warm: bool = Field(True, validation_alias=_env("ONESCREEN_BRIEFING_WARM"))
    """Open the briefing exporter's browser when the server starts (in the background: startup does not wait), so
    the first ``/api/briefing.png`` is warm. Off: it opens on the first briefing asked for."""
    briefing_queue: int = Field(4, ge=0, le=64, validation_alias=_env("ONESCREEN_BRIEFING_QUEUE"))
    """Briefings that may wait behind the one being drawn; more get ``503`` with ``Retry-After`` at once."""
    briefing_timeout_s: float = Field(30.0, gt=0, validation_alias=_env("ONESCREEN_BRIEFING_TIMEOUT_S"))
    """Seconds one briefing render may take; then ``503`` and the exporter's browser is replaced."""
    allowed_hosts: Annotated[tuple[str, ...], NoDecode] = Field((), validation_alias=_env("ONESCREEN_ALLOWED_HOSTS"))
    """Comma-separated host names a request's ``Host`` may carry (port ignored; ``*.example.org`` allowed), on
    top of the loopback names and the served host (``dashboard.access.headers.host_allow_list``). Anything else
    (DNS rebinding) is refused with 400, WebSockets too."""

    @field_validator("trusted_proxies", "metrics_public", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        items = [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value)
        out = []
        for item in (i for i in items if i):
            try:
                out.append(str(ipaddress.ip_network(item, strict=False)))
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or CIDR") from None
        return tuple(out)

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: Any) -> Any:
        items = [v.strip().lower() for v in value.split(",")] if isinstance(value, str) else list(value)
        for item in items:
            if item and not re.fullmatch(r"(\*\.)?[a-z0-9.:\[\]_-]+", item):
                raise ValueError(f"{item!r} is not a host name")
        return tuple(i for i in items if i)

    @field_validator("sso_header")
    @classmethod
    def _header_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9-]+", value):
            raise ValueError("must be an HTTP header name (letters, digits, '-')")
        return value

    @field_validator("redis_prefix")
    @classmethod
    def _prefix_is_a_word(cls, value: str) -> str:
        if not value or any(c.isspace() for c in value):
            raise ValueError("must be a non-empty word without whitespace")
        return value

    @field_validator("wall_layers", mode="before")
    @classmethod
    def _layer_list(cls, value: Any) -> Any:
        from dashboard.figures.layers import LAYER_KEYS

        items = [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value)
        items = [v for v in items if v and v != "none"]
        unknown = [v for v in items if v not in LAYER_KEYS]
        if unknown:
            raise ValueError(f"unknown layers {', '.join(unknown)} (known: {', '.join(LAYER_KEYS)})")
        return tuple(items)

    @field_validator("source_crs", mode="before")
    @classmethod
    def _source_crs(cls, value: Any) -> Any:
        from incidents.wire import CRS_VALUES

        if isinstance(value, str):
            pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
            if any(len(p) != 2 or not p[0].strip() for p in pairs):
                raise ValueError("must be source=crs pairs, comma-separated (amap-picker=gcj02,*=bd09)")
            value = {k.strip(): v.strip().lower() for k, v in pairs}
        bad = {k: v for k, v in dict(value).items() if v not in CRS_VALUES}
        if bad:
            raise ValueError(f"unknown CRS {bad} (known: {', '.join(CRS_VALUES)})")
        return dict(value)

    @field_validator("tiles")
    @classmethod
    def _tiles_is_a_template(cls, value: str | None) -> str | None:
        if value is None:
            return None
        missing = [t for t in ("{z}", "{x}", "{y}") if t not in value]
        if missing or not value.startswith(("http://", "https://", "/")):
            raise ValueError(
                "must be an XYZ tile URL template (http(s)://… or /…) with {z}, {x} and {y}"
                + (f"; missing {', '.join(missing)}" if missing else "")
            )
        return value

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """The environment, then explicit overrides (CLI options; ``None`` = not given). Raises ``SettingsError``
        naming each variable that is wrong."""
        unknown = set(overrides) - set(cls.model_fields)
        if unknown:
            raise SettingsError(f"unknown settings: {sorted(unknown)}")
        try:
            return cls(**_by_alias({k: v for k, v in overrides.items() if v is not None}))
        except ValidationError as exc:
            raise SettingsError(_explain(exc)) from None

    @classmethod
    def env_names(cls) -> dict[str, str]:
        """Field name → its environment variable."""
        out: dict[str, str] = {}
        for name, info in cls.model_fields.items():
            alias = info.validation_alias
            first = alias.choices[0] if isinstance(alias, AliasChoices) else None
            out[name] = first if isinstance(first, str) else name.upper()
        return out


def _by_alias(values: dict[str, Any]) -> dict[str, Any]:
    names = Settings.env_names()
    return {names.get(k, k): v for k, v in values.items()}


def _explain(exc: ValidationError) -> str:
    names = Settings.env_names()
    parts = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "?"
        var = next((env for f, env in names.items() if field in (f, env)), field)
        parts.append(f"{var} {err['msg'].lower()} (got {err.get('input')!r})")
    return "; ".join(parts)
