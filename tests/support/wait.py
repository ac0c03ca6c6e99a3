"""The one way tests wait: poll a condition until it holds, and fail saying what was awaited and what was seen.

After dash's ``dash.testing.wait.until(wait_cond, timeout, poll, msg)``: never a bare sleep, one vocabulary for
the unit, browser and fault tests (and the bench's server start-up).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
Message = str | Callable[[], str]


class WaitTimeout(AssertionError):
    """A condition did not hold in time (or its wait was aborted); the message says which and what was seen."""


def _describe(condition: Callable[[], object], message: Message | None) -> str:
    """``message`` (called now, if callable); else the condition's own ``message``; else its source line."""
    if message is None:
        message = getattr(condition, "message", None)
    if callable(message):
        return str(message())
    if message:
        return message
    try:
        source = inspect.getsource(condition).strip()
    except (OSError, TypeError):
        source = getattr(condition, "__qualname__", repr(condition))
    return f"condition `{source[:300]}`"


def wait_for(
    condition: Callable[[], T | None],
    timeout: float = 5.0,
    poll: float = 0.05,
    message: Message | None = None,
    *,
    ignore: tuple[type[BaseException], ...] = (),
    abort: Callable[[], str | None] | None = None,
) -> T:
    """Call ``condition()`` every ``poll`` seconds until its value is truthy, and return that value.

    ``timeout``, ``poll``: seconds. ``message``: what is awaited, for the failure (a callable is called only
    then, so it can show a log or the current state); by default the condition's ``message`` attribute or its
    source. ``ignore``: exceptions that count as "not yet" (e.g. ``OSError`` while a server is not listening).
    ``abort``: called before each try; a non-empty string ends the wait at once with that reason (a server
    process that exited will never answer).

    Raises ``WaitTimeout`` (an ``AssertionError``) after ``timeout`` with the description and the last value
    or ignored exception, or when ``abort`` gives a reason.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        if abort is not None and (reason := abort()):
            raise WaitTimeout(f"gave up waiting for {_describe(condition, message)}: {reason}")
        try:
            value = condition()
        except ignore as exc:
            last = exc
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"{_describe(condition, message)} not met within {timeout:g} s (last: {last!r})")
        time.sleep(poll)


def seconds_until(
    condition: Callable[[], object], timeout: float = 5.0, poll: float = 0.01, message: Message | None = None
) -> float:
    """``wait_for`` that returns how long the condition took to hold, in seconds (for latency assertions)."""
    start = time.monotonic()
    wait_for(condition, timeout, poll, message)
    return time.monotonic() - start
