"""Feed faults against a redis-server each test starts (and may cut off): the pub/sub subscriber cut off by
``client-output-buffer-limit`` and healed from the log, and the feed's area check (swapped lat/lon, a point
outside every grid). The wall-level faults (Redis killed mid-stream, a server restarted, 10,000 bad messages)
are in ``tests/dashboard/test_wall_faults.py``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import redis

from incidents import store
from incidents.area import AreaGuard
from incidents.feed import Feed
from incidents.keys import Keys
from incidents.publish import publish, publish_many
from incidents.redis_server import EmbeddedRedis
from incidents.situation import Situation
from incidents.store import Outcome
from tests.incidents.test_feed import no_grid, raw, wire
from tests.support.wait import seconds_until

REPO = Path(__file__).resolve().parents[2]
T0 = time.time() - 2 * 3600  # every ts in these tests stays in the past (the wire allows 10 min ahead)


def big(iid: str, ts: float, text_chars: int = 3900) -> dict[str, Any]:
    """A valid first message of ~12 KB (3 bytes per CJK character in the description)."""
    return wire(iid, ts, description="堆" * text_chars)


def state_ids(r: redis.Redis, keys: Keys) -> set[str]:
    ids: Any = r.hkeys(keys.state)
    return {i.decode() if isinstance(i, bytes) else str(i) for i in ids}


@pytest.mark.slow
def test_subscriber_cut_off_by_the_output_buffer_limit_is_detected_and_healed_from_the_log(
    redis_server_factory: Callable[..., EmbeddedRedis],
) -> None:
    server = redis_server_factory("cutoff")
    admin = server.client()
    # Tiny pub/sub output buffer: a subscriber that is 64 KB behind is disconnected at once.
    admin.config_set("client-output-buffer-limit", "pubsub 64kb 32kb 1")
    keys = Keys("cutoff")
    sit = Situation(no_grid)
    feed = Feed(server.url, keys, sit, name="cutoff").start()
    producer = server.client()
    done = threading.Event()
    try:
        seconds_until(lambda: feed.health().connected, timeout=5.0)
        durable: list[str] = []
        bare: list[str] = []
        started = time.monotonic()
        first_drop: list[float] = []

        def watch() -> None:  # when the first drop shows in health (10 ms resolution)
            while not done.is_set() and not first_drop:
                if feed.health().ingress_drops:
                    first_drop.append(time.monotonic())
                done.wait(0.01)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        for burst in range(6):
            # Durable (state + log; nothing on the channel) and bare PUBLISH, interleaved, ~12 KB each, as fast
            # as Redis takes them: the bare ones far faster than one Python subscriber can parse and apply.
            batch = [big(f"d{burst}-{i}", T0 + burst * 1000 + i) for i in range(250)]
            results = publish_many(producer, keys, batch, source="cutoff-test")
            assert all(res.applied for res in results)
            durable += [m["id"] for m in batch]
            pipe = producer.pipeline(transaction=False)
            for i in range(500):
                msg = big(f"b{burst}-{i}", T0 + burst * 1000 + 300 + i)
                pipe.publish(keys.channel, raw(msg))
                bare.append(msg["id"])
            pipe.execute()
        burst_s = time.monotonic() - started
        # Detected: the ingress counts the drop and says why; Redis logs that it closed the client.
        seconds_until(lambda: bool(first_drop), timeout=5.0)
        detected_s = first_drop[0] - started
        redis_log = server.log_path.read_text(errors="replace")
        assert "output buffer limits" in redis_log, redis_log[-2000:]
        # Healed from the log: every durably published incident reaches the situation.
        seconds_until(lambda: all(sit.get(i) is not None for i in durable), timeout=30.0)
        heal_s = time.monotonic() - first_drop[0]
        seconds_until(lambda: feed.health().connected, timeout=5.0)
        h = feed.health()
        assert h.follower_connected and h.ingress_connected
        # Bare PUBLISH is at-most-once: what Redis dropped with the cut-off is simply not there (never half).
        # The ingress may still be finishing a batch it read before the cut-off: wait until Redis, the situation
        # and its counter agree (this process's ingress applied exactly the bare ones that arrived; durable ones
        # never reach it).
        stored: set[str] = set()
        bare_in: list[str] = []

        def settled() -> bool:
            nonlocal stored, bare_in
            stored = state_ids(admin, keys)
            bare_in = [i for i in bare if i in stored]
            return len(sit) == len(stored) and feed.health().accepted == len(bare_in)

        seconds_until(settled, timeout=10.0, poll=0.1)
        lost = len(bare) - len(bare_in)
        assert set(durable) <= stored
        assert stored == set(durable) | set(bare_in)
        assert lost > 0, "the cut-off dropped no bare message: the burst did not overflow the buffer"
        assert store.read_stats(admin, keys)["accepted"] == len(stored)
        readme = (REPO / "README.md").read_text(encoding="utf-8")
        assert "at-most-once" in readme and "durable path" in readme
        print(
            f"\ncut-off: {h.ingress_drops} drop(s), first seen {detected_s:.2f} s into a {burst_s:.2f} s burst "
            f"of {len(durable) + len(bare)} x 12 KB; all {len(durable)} durable in the situation "
            f"{heal_s:.2f} s after the first drop; "
            f"bare: {len(bare_in)}/{len(bare)} arrived, {lost} lost (at-most-once); last error: {h.last_error}"
        )
    finally:
        done.set()
        feed.stop()
        producer.close()
        admin.close()


def in_box(lon: np.ndarray, lat: np.ndarray) -> pd.DataFrame:
    """A locator with one grid, the box lon 10..11, lat 50..51 (both below 90: a swap stays in range)."""
    inside = (lon >= 10) & (lon <= 11) & (lat >= 50) & (lat <= 51)
    grid = np.where(inside, "G1", "")
    return pd.DataFrame({"micro_grid_id": grid, "grid_id": grid, "community_id": grid})


def test_area_guard_rejects_swapped_and_outside_points_with_a_reason(
    redis_server_factory: Callable[..., EmbeddedRedis],
) -> None:
    server = redis_server_factory("area")
    r = server.client()
    keys = Keys("area")
    sit = Situation(in_box)
    guard = AreaGuard.of((10.0, 50.0, 12.0, 51.0), in_box, margin_deg=0.01)
    feed = Feed(server.url, keys, sit, area=guard).start()
    try:
        seconds_until(lambda: feed.health().connected, timeout=5.0)
        r.publish(keys.channel, raw(wire("ok", lon=10.5, lat=50.5)))
        r.publish(keys.channel, raw(wire("swapped", lon=50.5, lat=10.5)))
        r.publish(keys.channel, raw(wire("far", lon=120.2, lat=30.3)))
        r.publish(keys.channel, raw(wire("gap", lon=11.5, lat=50.5)))  # inside the bounds, in no grid
        r.publish(keys.channel, raw(wire("ok", T0 + 1, "dispatched")))  # no coordinates: nothing to check
        r.publish(keys.channel, raw(wire("ok", T0 + 2, "accepted", lon=50.5, lat=10.5)))  # a swapped move
        # A durable publish outside the grids (the durable path decides for itself, here without a guard): the
        # feed sees it only through the log, so there is no second verdict on it.
        assert publish(r, keys, wire("durable-gap", lon=11.5, lat=50.6)).applied
        seconds_until(lambda: feed.health().rejected == 4 and sit.get("durable-gap") is not None, timeout=3.0)
        seconds_until(lambda: (inc := sit.get("ok")) is not None and inc.status == "dispatched", timeout=3.0)
        reasons = {
            json.loads(d.raw)["id"] + ":" + str(json.loads(d.raw).get("status")): d.reason
            for d in store.recent_dead_letters(r, keys)
        }
        assert reasons["swapped:reported"].startswith("lat/lon swapped?")
        assert reasons["ok:accepted"].startswith("lat/lon swapped?")
        assert "outside the area" in reasons["far:reported"]
        assert reasons["gap:reported"].endswith("is outside every grid")
        assert state_ids(r, keys) == {"ok", "durable-gap"}
        h = feed.health()
        assert (h.accepted, h.rejected, h.duplicates) == (2, 4, 0)
        # The same guard without a locator only checks the bounds.
        assert AreaGuard.of((10, 50, 12, 51)).check([]) == []
    finally:
        feed.stop()
        r.close()


def test_publish_many_outcomes_count_once(redis_server_factory: Callable[..., EmbeddedRedis]) -> None:
    """What the fault producers rely on: a retried chunk comes back DUPLICATE for what already landed."""
    server = redis_server_factory("retry")
    r: redis.Redis = server.client()
    keys = Keys("retry")
    msgs = [wire(f"r{i}", T0 + i) for i in range(10)]
    assert [x.outcome for x in publish_many(r, keys, msgs[:5])] == [Outcome.APPLIED] * 5
    assert [x.outcome for x in publish_many(r, keys, msgs)] == [Outcome.DUPLICATE] * 5 + [Outcome.APPLIED] * 5
    assert r.xlen(keys.log) == 10
    r.close()
