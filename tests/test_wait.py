"""``tests.support.wait``: the one way tests wait, and how it explains a failure."""

from __future__ import annotations

import itertools
import time

import pytest

from tests.support.wait import WaitTimeout, seconds_until, wait_for


def test_returns_the_first_truthy_value() -> None:
    calls = itertools.count()
    assert wait_for(lambda: next(calls) >= 3 and "done", timeout=2, poll=0.001) == "done"


def test_a_timeout_names_the_condition_by_its_source_and_shows_the_last_value() -> None:
    box = {"n": 0}
    started = time.monotonic()
    with pytest.raises(WaitTimeout) as failed:
        wait_for(lambda: box["n"] > 5, timeout=0.2, poll=0.01)
    assert 0.2 <= time.monotonic() - started < 2
    text = str(failed.value)
    assert 'box["n"] > 5' in text and "within 0.2 s" in text and "last: False" in text
    assert isinstance(failed.value, AssertionError)  # pytest shows it as a failed assertion


def test_a_callable_message_is_asked_only_on_failure() -> None:
    asked: list[int] = []

    def message() -> str:
        asked.append(1)
        return "the server's log: boom"

    assert wait_for(lambda: 1, timeout=1, message=message) == 1 and not asked
    with pytest.raises(WaitTimeout, match="the server's log: boom not met within"):
        wait_for(lambda: 0, timeout=0.05, poll=0.01, message=message)
    assert asked == [1]


def test_ignored_exceptions_count_as_not_yet_others_propagate() -> None:
    tries = itertools.count()

    def flaky() -> bool:
        if next(tries) < 3:
            raise ConnectionRefusedError("not listening yet")
        return True

    assert wait_for(flaky, timeout=2, poll=0.001, ignore=(OSError,)) is True

    def refused() -> bool:
        raise ConnectionRefusedError("not listening")

    with pytest.raises(WaitTimeout, match="ConnectionRefusedError"):  # the last ignored exception is shown
        wait_for(refused, timeout=0.05, poll=0.01, ignore=(OSError,))
    with pytest.raises(ZeroDivisionError):
        wait_for(lambda: 1 / 0, timeout=1, ignore=(OSError,))


def test_abort_ends_the_wait_at_once_with_its_reason() -> None:
    started = time.monotonic()
    with pytest.raises(WaitTimeout, match="gave up waiting for server up: the process exited with 1"):
        wait_for(lambda: False, timeout=30, message="server up", abort=lambda: "the process exited with 1")
    assert time.monotonic() - started < 1


def test_seconds_until_measures_how_long_it_took() -> None:
    ready_at = time.monotonic() + 0.1
    took = seconds_until(lambda: time.monotonic() >= ready_at, timeout=2)
    assert 0.09 <= took < 1
