from __future__ import annotations

import math

import pytest

from incidents.model import Incident, Priority, Status
from incidents.sla import SlaPolicy

T0 = 1714525200.0
MIN = 60.0
H = 3600.0


def inc(
    *steps: tuple[str, float],
    category: str = "environment",
    priority: Priority = Priority.NORMAL,
    due: float | None = None,
) -> Incident:
    history = [(s, T0 + dt) for s, dt in steps] or [("reported", T0)]
    return Incident(
        id="X1",
        status=Status(history[-1][0]),
        ts=history[-1][1],
        lon=120.1,
        lat=30.2,
        category=category,
        created_ts=history[0][1],
        priority=priority,
        due=due,
        history=history,
    )


def test_default_deadlines_per_category_and_priority() -> None:
    sla = SlaPolicy()
    assert sla.accept_due(inc()) == T0 + 30 * MIN
    assert sla.accept_due(inc(category="fire")) == T0 + 5 * MIN
    assert sla.accept_due(inc(priority=Priority.URGENT)) == T0 + 10 * MIN
    assert sla.accept_due(inc(category="fire", priority=Priority.URGENT)) == T0 + 5 * MIN
    assert sla.resolve_due(inc()) == T0 + 48 * H
    assert sla.resolve_due(inc(category="fire")) == T0 + 2 * H
    assert sla.resolve_due(inc(category="safety_hazard")) == T0 + 24 * H
    assert sla.resolve_due(inc(category="dispute")) == T0 + 72 * H
    assert sla.resolve_due(inc(category="unknown_code")) == T0 + 72 * H
    assert sla.resolve_due(inc(priority=Priority.URGENT)) == T0 + 24 * H
    assert sla.resolve_due(inc(priority=Priority.HIGH)) == T0 + 36 * H


def test_explicit_due_wins() -> None:
    sla = SlaPolicy()
    i = inc(("reported", 0), ("dispatched", 60), ("accepted", 120), due=T0 + 5 * H)
    assert sla.resolve_due(i) == T0 + 5 * H
    assert not sla.is_overdue(i, T0 + 5 * H)
    assert sla.is_overdue(i, T0 + 5 * H + 1)


def test_unaccepted_becomes_overdue_at_accept_deadline() -> None:
    sla = SlaPolicy()
    reported = inc(("reported", 0))
    assert not sla.is_overdue(reported, T0 + 30 * MIN)
    assert sla.is_overdue(reported, T0 + 30 * MIN + 1)
    dispatched = inc(("reported", 0), ("dispatched", 5 * MIN))
    assert sla.is_overdue(dispatched, T0 + 31 * MIN)
    # accepted in time: only the resolve deadline applies
    accepted = inc(("reported", 0), ("dispatched", 5 * MIN), ("accepted", 20 * MIN))
    assert not sla.is_overdue(accepted, T0 + 47 * H)
    assert sla.is_overdue(accepted, T0 + 48 * H + 1)
    assert sla.overdue_at(accepted) == T0 + 48 * H
    # transferred back to dispatched after acceptance: the accept SLA was met
    transferred = inc(("reported", 0), ("accepted", 10 * MIN), ("dispatched", 2 * H))
    assert not sla.is_overdue(transferred, T0 + 3 * H)


def test_done_and_cancelled_never_overdue() -> None:
    sla = SlaPolicy()
    for last in ("resolved", "closed", "cancelled"):
        i = inc(("reported", 0), (last, 100 * H))
        assert not sla.is_overdue(i, T0 + 1000 * H)
        assert sla.overdue_at(i) == math.inf


def test_overdue_multiple() -> None:
    sla = SlaPolicy()
    i = inc(("reported", 0))
    assert sla.overdue_multiple(i, T0 + 10 * MIN) == 0.0
    assert sla.overdue_multiple(i, T0 + 60 * MIN) == pytest.approx(1.0)  # 30 min late on a 30 min limit
    assert sla.overdue_multiple(i, T0 + 90 * MIN) == pytest.approx(2.0)
    acc = inc(("reported", 0), ("accepted", 10 * MIN))
    assert sla.overdue_multiple(acc, T0 + 72 * H) == pytest.approx(0.5)  # 24 h late on 48 h
    late = inc(("reported", 0), ("accepted", 10 * MIN), ("resolved", 96 * H))
    assert sla.overdue_multiple(late, T0 + 500 * H) == pytest.approx(1.0)  # measured at resolution


def test_on_time() -> None:
    sla = SlaPolicy()
    assert sla.on_time(inc(("reported", 0), ("accepted", 60), ("resolved", 47 * H))) is True
    assert sla.on_time(inc(("reported", 0), ("accepted", 60), ("resolved", 49 * H))) is False
    assert sla.on_time(inc(("reported", 0), ("accepted", 60), ("resolved", 2 * H), ("closed", 60 * H))) is True
    assert sla.on_time(inc(("reported", 0), ("accepted", 60))) is None
    assert sla.on_time(inc(("reported", 0), ("cancelled", 60))) is None
    # closed without a recorded resolution: closing time counts
    assert sla.on_time(inc(("reported", 0), ("closed", 50 * H))) is False


def test_rework_restarts_the_clock() -> None:
    sla = SlaPolicy()
    i = inc(
        ("reported", 0),
        ("dispatched", 5 * MIN),
        ("accepted", 10 * MIN),
        ("resolved", 40 * H),
        ("dispatched", 60 * H),  # 返工
    )
    assert sla.cycle_start(i) == T0 + 60 * H
    assert sla.accept_due(i) == T0 + 60 * H + 30 * MIN
    assert sla.resolve_due(i) == T0 + 108 * H
    assert not sla.is_overdue(i, T0 + 60 * H + 29 * MIN)
    assert sla.is_overdue(i, T0 + 60 * H + 31 * MIN)  # not yet accepted in the new cycle


def test_from_dict_overlays_defaults_and_validates() -> None:
    sla = SlaPolicy.from_dict({"accept_minutes": {"default": 20}, "resolve_hours": {"environment": 12}})
    assert sla.accept_due(inc()) == T0 + 20 * MIN
    assert sla.accept_due(inc(category="fire")) == T0 + 5 * MIN  # default kept
    assert sla.resolve_due(inc()) == T0 + 12 * H
    assert SlaPolicy.from_dict(None) == SlaPolicy()
    assert SlaPolicy.from_dict(sla.to_dict()) == sla
    with pytest.raises(ValueError, match="unknown"):
        SlaPolicy.from_dict({"accept": {}})
    with pytest.raises(ValueError, match="positive"):
        SlaPolicy.from_dict({"resolve_hours": {"fire": -1}})
    with pytest.raises(ValueError, match="default"):
        SlaPolicy(accept_minutes={"fire": 5})
    d = SlaPolicy().describe()
    assert d["fire"] == {"accept_min": 5.0, "resolve_h": 2.0}
