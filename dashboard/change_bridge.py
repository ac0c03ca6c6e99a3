"""Bridge the Situation's thread-side change signal to asyncio.

One watcher thread per process waits on `Situation.wait_for_change` and wakes every subscribed event loop, so the
WebSocket push loops never park a worker thread each (the default executor has only a handful on a 2-core box).
"""

from __future__ import annotations

import asyncio
import threading

from incidents.situation import Situation


class ChangeBridge:
    def __init__(self, situation: Situation) -> None:
        self._situation = situation
        self._lock = threading.Lock()
        self._subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="change-bridge", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def subscribe(self) -> asyncio.Event:
        """An event set whenever the situation changes; call from the subscribing coroutine."""
        self.start()
        event = asyncio.Event()
        with self._lock:
            self._subscribers.add((asyncio.get_running_loop(), event))
        return event

    def unsubscribe(self, event: asyncio.Event) -> None:
        with self._lock:
            self._subscribers = {s for s in self._subscribers if s[1] is not event}

    def _watch(self) -> None:
        version = self._situation.version
        while not self._stop.is_set():
            if not self._situation.wait_for_change(version, 1.0):
                continue
            version = self._situation.version
            with self._lock:
                subscribers = list(self._subscribers)
            for loop, event in subscribers:
                if not loop.is_closed():
                    loop.call_soon_threadsafe(event.set)
