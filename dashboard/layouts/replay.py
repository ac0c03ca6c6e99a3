"""Time on screen: the officials' scrubber bar and a past wall's badge (``?at=``). Filled and driven by
``callbacks.replay``; the play clock runs in the browser (one second = one minute of situation)."""

from __future__ import annotations

from typing import Any, Final

from dash import dcc, html

from dashboard import i18n

from .ids import Replay

STEP_S: Final = 60  # the slider moves by whole minutes
PLAY_SPEED: Final = 60  # situation seconds per real second
MARK_EVERY_S: Final = 3 * 3600  # a tick label every 3 hours (Asia/Shanghai)


def badge_text(at: float, lang: str, approximate: int = 0) -> str:
    """``历史回放 2026年11月30日 14:00`` / ``Replay 2026-11-30 14:00`` (+ "partly approximate" when the log no
    longer reaches some incidents' state at ``at``)."""
    text = i18n.t("replay.badge", lang, time=i18n.fmt_datetime(at, lang))
    return text + (i18n.t("replay.approx", lang) if approximate else "")


def bad_at_text(bad_at: str, reason: str, lang: str) -> str:
    """The notice for a URL ``at`` that is no time (``invalid``) or in the future (``future``)."""
    return i18n.t(f"replay.bad_at.{reason or 'invalid'}", lang, at=bad_at)


def slider_marks(start: float, end: float) -> dict[int, str]:
    """Tick labels ``HH:MM`` (Asia/Shanghai) on the whole ``MARK_EVERY_S`` between ``start`` and ``end``."""
    first = int(start // MARK_EVERY_S + 1) * MARK_EVERY_S
    return {t: i18n.fmt_time(t, "%H:%M") for t in range(first, int(end), MARK_EVERY_S)}


def replay_bar(
    lang: str,
    *,
    at: float | None = None,
    approximate: int = 0,
    bad_at: str = "",
    bad_at_reason: str = "",
) -> html.Section:
    """The scrubber section of the officials' page: badge, slider (its reach filled by a callback), clock, play /
    pause and back to live. ``at``: the past moment the page shows (None: live)."""
    history = at is not None
    value = int(at) if at is not None else 0
    return html.Section(
        id=Replay.BAR,
        className="os-replay" + (" is-history" if history else ""),
        children=[
            html.Span(i18n.t("replay.title", lang), className="os-replay__title"),
            html.Span(
                badge_text(at, lang, approximate) if at is not None else "",
                id=Replay.BADGE,
                className="os-replay__badge",
                hidden=not history,
            ),
            html.Button(
                i18n.t("replay.play", lang), id=Replay.PLAY, n_clicks=0, className="os-replay__button", type="button"
            ),
            html.Div(
                dcc.Slider(
                    id=Replay.SLIDER,
                    min=value - STEP_S if history else 0,
                    max=value if history else STEP_S,
                    step=STEP_S,
                    value=value if history else None,
                    marks=None,
                    updatemode="mouseup",
                    included=True,
                    allow_direct_input=False,
                ),
                className="os-replay__slider",
            ),
            html.Span(
                i18n.fmt_time(at, "%m-%d %H:%M") if at is not None else i18n.t("replay.now", lang),
                id=Replay.CLOCK,
                className="os-replay__clock",
            ),
            html.Button(
                i18n.t("replay.live", lang),
                id=Replay.LIVE,
                n_clicks=0,
                className="os-replay__button os-replay__live",
                type="button",
                disabled=not history,
            ),
            html.Span(
                bad_at_text(bad_at, bad_at_reason, lang) if bad_at else "",
                id=Replay.NOTICE,
                className="os-replay__notice",
                hidden=not bad_at,
                role="alert",
            ),
            dcc.Store(id=Replay.AT, data=at),
            dcc.Store(id=Replay.PLAYING, data=False),
            dcc.Store(
                id=Replay.PLAY_LABELS,
                data={
                    "play": i18n.t("replay.play", lang),
                    "pause": i18n.t("replay.pause", lang),
                    "live": i18n.t("replay.now", lang),
                },
            ),
            dcc.Store(id=Replay.SHOWN, data={"at": at}),
            dcc.Interval(id=Replay.TICK, interval=1000, disabled=True),
            dcc.Interval(id=Replay.REACH_TICK, interval=60_000),
        ],
    )


def wall_badge(lang: str, *, at: float | None = None, approximate: int = 0, bad_at: str = "", reason: str = "") -> Any:
    """A past wall's badge (``?at=``) or the notice for a bad ``at``; None for a live wall without one."""
    if at is not None:
        return html.Div(badge_text(at, lang, approximate), id=Replay.WALL_BADGE, className="os-replay-wall is-history")
    if bad_at:
        return html.Div(
            bad_at_text(bad_at, reason, lang), id=Replay.WALL_BADGE, className="os-replay-wall", role="alert"
        )
    return None
