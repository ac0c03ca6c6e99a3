"""How often one tab is pushed to (``LivePage``), on a controlled clock: at most one push per
``MIN_PUSH_INTERVAL_S`` while changes stream in; the first change after a quiet spell, and a new page context,
go at once; the heartbeat rides along with a push."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from dashboard.callbacks import live
from dashboard.figures.sample import sample_base
from dashboard.frames import Frame, ScreenContext, screen_frame
from dashboard.push import Step, step
from incidents.situation import Situation
from tests.dashboard.test_map_edits import sample_locator
from tests.incidents.test_situation import NOW, mk

BASE = sample_base()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Socket:
    """What ``LivePage`` uses of Dash's WebSocket callback object: the outbound queue."""

    is_shutdown = False
    _renderer_id = "test"

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def _get_outbound_queue(self) -> Socket:
        return self

    @property
    def sync_q(self) -> Socket:
        return self

    def put_nowait(self, text: str) -> None:
        self.sent.append(json.loads(text)["payload"])


class Hub:
    """``FrameHub.step`` without the hub: the plain function."""

    async def step(self, holding: Any, frame: Frame, map_ok: bool) -> Step:
        return step(holding, frame, map_ok=map_ok)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(live.time, "monotonic", c)
    return c


def frames(ctx: ScreenContext, n: int) -> list[Frame]:
    situation = Situation(sample_locator, boot_id="t")
    out: list[Frame] = []
    for k in range(n):
        situation.apply(mk(f"I{k}", ("reported", -60 + k), lon=120.0 + k / 1000))
        prev = out[-1] if out else None
        out.append(screen_frame(situation.view(NOW), BASE, ctx, seq=k, boot_id="t", previous=prev))
    return out


def test_a_stream_of_changes_reaches_a_tab_at_most_once_per_interval(clock: Clock) -> None:
    wall = ScreenContext.of("wall", "zh")
    f = frames(wall, 4)
    ws = Socket()
    page = live.LivePage(Hub(), live.Tab(), ws, "zh")  # type: ignore[arg-type]

    asyncio.run(page._push(f[0]))  # nothing held: everything, at once
    first = len(ws.sent)
    assert first > 0 and page.holding is not None and page.holding.frame is f[0]

    clock.now += 0.1
    page.tab.drawn += 1  # the map was drawn: only the interval holds the next push back
    asyncio.run(page._push(f[1]))
    assert len(ws.sent) == first and page.holding.frame is f[0]
    assert page.push_due == pytest.approx(1000.0 + live.MIN_PUSH_INTERVAL_S)
    page.last_beat = clock.now  # (no heartbeat due) the loop sleeps until the held push is due
    assert page._timeout() == pytest.approx(live.MIN_PUSH_INTERVAL_S - 0.1)

    clock.now += 0.1
    asyncio.run(page._push(f[2]))  # still within the interval: held, the newest frame will go
    assert len(ws.sent) == first

    clock.now = 1000.0 + live.MIN_PUSH_INTERVAL_S
    asyncio.run(page._push(f[2]))  # due: one push carries both changes
    assert len(ws.sent) > first and page.holding.frame is f[2] and page.push_due is None
    feed = [p for p in ws.sent[first:] if p["componentId"] == live.PAGE_IDS["wall"].feed]
    assert len(feed) == 1

    clock.now += 10.0  # a quiet spell: the next change goes at once
    page.tab.drawn += 1
    before = len(ws.sent)
    asyncio.run(page._push(f[3]))
    assert len(ws.sent) > before and page.holding.frame is f[3]


def test_a_new_page_context_is_not_held_back(clock: Clock) -> None:
    console = ScreenContext.of("console", "zh")
    filtered = ScreenContext.of("console", "zh", statuses=["reported"])
    ws = Socket()
    page = live.LivePage(Hub(), live.Tab(), ws, "zh")  # type: ignore[arg-type]
    asyncio.run(page._push(frames(console, 1)[0]))
    sent = len(ws.sent)
    clock.now += 0.05  # the official just changed a filter
    page.tab.drawn += 1
    asyncio.run(page._push(frames(filtered, 1)[0]))
    assert len(ws.sent) > sent and page.push_due is None
