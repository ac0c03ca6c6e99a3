"""The frame hub: one frame per screen context, shared; shared steps; the PNG drawn from the same frame."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from dashboard.figures.incident_map import INCIDENT_TRACES, TRACE_RESOLVED
from dashboard.figures.sample import sample_base
from dashboard.frame_hub import FrameHub
from dashboard.frames import Frame, ScreenContext
from dashboard.push import Holding, step
from dashboard.snapshot_cli import briefing_from_frame
from incidents.situation import Situation
from tests.incidents.test_situation import NOW, H, fake_locator, mk
from tests.support.wait import wait_for

WALL = ScreenContext.of("wall", "zh")


@pytest.fixture
def situation() -> Situation:
    return Situation(fake_locator, boot_id="hubtest")


@pytest.fixture
def hub(situation: Situation) -> Iterator[FrameHub]:
    h = FrameHub(situation, sample_base(), boot_id="hubtest", tick_s=0.02, idle_s=0.05, clock=lambda: NOW)
    yield h.start()
    h.stop()


def drawn_ids(frame: Frame) -> set[str]:
    return {i for idx in INCIDENT_TRACES for i in frame.traces[idx]["customdata"]}


def test_every_watcher_of_a_context_gets_the_same_frame_computed_once(situation: Situation, hub: FrameHub) -> None:
    calls = [0] * 50
    lock = threading.Lock()

    def listener(n: int) -> None:
        with lock:
            calls[n] += 1

    unwatch = [hub.watch(WALL, lambda n=n: listener(n)) for n in range(50)]  # type: ignore[misc]
    wait_for(lambda: hub.latest(WALL) is not None)
    computed = hub.computed
    situation.apply(mk("A", ("reported", -60)))
    wait_for(lambda: "A" in drawn_ids(hub.latest(WALL) or hub.frame(WALL)))
    wait_for(lambda: min(calls) >= 1)
    # One computation of the wall's frame per change (plus idle re-evaluations), not one per watcher.
    assert hub.computed - computed < 10
    assert hub.frame(WALL) is hub.latest(WALL)
    for u in unwatch:
        u()


def test_an_unchanged_picture_wakes_nobody(situation: Situation, hub: FrameHub) -> None:
    situation.apply(mk("B", ("reported", -60)))
    woken = []
    unwatch = hub.watch(WALL, lambda: woken.append(time.monotonic()))
    wait_for(lambda: hub.latest(WALL) is not None and "B" in drawn_ids(hub.frame(WALL)))
    settled = len(woken)
    before = hub.computed
    wait_for(lambda: hub.computed >= before + 5)  # the clock ran on: the hub re-evaluated five times
    assert len(woken) == settled
    unwatch()


def test_contexts_nobody_uses_are_forgotten(situation: Situation) -> None:
    h = FrameHub(situation, sample_base(), boot_id="t", tick_s=0.02, idle_s=0.02, keep_s=0.1, clock=lambda: NOW)
    h.start()
    try:
        h.frame(ScreenContext.of("console", "en"))
        assert ScreenContext.of("console", "en") in h.contexts()
        wait_for(lambda: h.contexts() == [])
    finally:
        h.stop()


def test_a_step_is_computed_once_and_shared(situation: Situation, hub: FrameHub) -> None:
    situation.apply(mk("C", ("reported", -60)))
    first = hub.frame(WALL)
    holding = Holding.rendered(first)
    situation.apply(mk("D", ("dispatched", -30)))
    wait_for(lambda: hub.latest(WALL) is not first)
    frame = hub.frame(WALL)

    async def fifty() -> list[object]:
        return list(await asyncio.gather(*(hub.step(holding, frame, True) for _ in range(50))))

    # A thread of its own: Playwright's sync API may have left an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        steps = pool.submit(asyncio.run, fifty()).result(60)
    assert all(s is steps[0] for s in steps)
    # ... and is the plain function's result: the map gains D, nothing is re-sent wholesale.
    plain = step(holding, frame)
    assert [(c, p) for c, p, _ in plain.props] == [(c, p) for c, p, _ in steps[0].props]  # type: ignore[attr-defined]
    assert drawn_ids(frame) == {"C", "D"}


def test_the_briefing_png_draws_what_the_wall_draws(situation: Situation, hub: FrameHub) -> None:
    """Resolved three days ago: off the wall, and so off the PNG (they once drew 0 and 13)."""
    for n in range(13):
        situation.apply(mk(f"OLD{n}", ("reported", -74 * H), ("resolved", -72 * H)))
    situation.apply(mk("OPEN", ("reported", -60)))
    situation.apply(mk("DONE", ("reported", -2000), ("resolved", -600)))
    wall = hub.frame(WALL)
    brief = hub.frame(ScreenContext.of("briefing", "zh"))
    assert drawn_ids(wall) == drawn_ids(brief) == {"OPEN", "DONE"}
    assert wall.grid_z == brief.grid_z
    fig = briefing_from_frame(hub.base, brief, street_name="翠苑街道", now=NOW)
    markers = [tr for tr in fig.data if tr.type == "scatter" and tr.mode == "markers" and tr.marker.symbol is None]
    assert sum(len(tr.x) for tr in markers) == 2 == sum(len(wall.traces[i]["lon"]) for i in INCIDENT_TRACES[:5])
    assert len(wall.traces[TRACE_RESOLVED]["lon"]) == 1


def test_the_frames_kept_by_token_stay_within_a_row_budget(
    situation: Situation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """City frames are megabytes each: past ``ROWS_KEPT`` incident rows the oldest frames (and the cached steps that
    hold them) are forgotten, never a context's current frame."""
    import dashboard.frame_hub as fh

    for n in range(5):
        situation.apply(mk(f"R{n}", ("reported", -600 + n)))
    monkeypatch.setattr(fh, "ROWS_KEPT", 12)  # 5 rows a frame: two frames and a bit
    h = FrameHub(situation, sample_base(), boot_id="rows", tick_s=0.01, idle_s=0.01, clock=lambda: NOW)
    tokens = [h.frame(WALL).token]
    for n in range(6):
        situation.apply(mk(f"R{n % 5}", ("reported", -600 + n % 5), ("dispatched", -300 + n)))
        h._publish(WALL, situation.view(NOW))
        tokens.append(h.frame(WALL).token)
    assert len(set(tokens)) == len(tokens)  # each change a new frame
    kept = [t for t in tokens if h.by_token(t) is not None]
    assert tokens[-1] in kept and h.by_token(tokens[-1]) is h.latest(WALL)
    assert 1 <= len(kept) <= 3 and kept == tokens[-len(kept) :]  # the newest ones
    assert h.by_token(tokens[0]) is None and h.rendered_holding(tokens[0]) is None
    assert h._rows_kept == sum(len(f.incidents) for f in h._tokens.values())
