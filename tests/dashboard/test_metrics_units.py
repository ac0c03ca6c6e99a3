"""Pure parts of the operations features: the anonymous-scrape address rule, one registry per Runtime, and the JSON
log formatter."""

from __future__ import annotations

import io
import ipaddress
import json
import logging

from dashboard.access.gate import address_in
from dashboard.logs import json_formatter
from dashboard.metrics import Metrics
from dashboard.settings import Settings


def test_address_rule_of_metrics_public() -> None:
    nets = tuple(
        ipaddress.ip_network(n) for n in Settings.from_env(metrics_public="127.0.0.1,10.8.0.0/16").metrics_public
    )
    assert address_in("127.0.0.1", nets)
    assert address_in("10.8.3.4", nets)
    assert address_in("::ffff:10.8.3.4", nets)  # an IPv4 client on a dual-stack socket
    assert not address_in("10.9.0.1", nets)
    assert not address_in("::1", nets)
    assert not address_in("", nets)
    assert not address_in("unix-socket", nets)
    assert not address_in("127.0.0.1", ())


def test_two_runtimes_in_one_process_keep_their_own_series() -> None:
    a, b = Metrics(), Metrics()  # the client's global registry would refuse the second set of names
    a.ingest.outcome("http", "accepted", 3)
    a.computed("wall", 0.02)
    b.ingest.outcome("http", "accepted", 1)
    get = "onescreen_messages_total", {"via": "http", "outcome": "accepted"}
    assert a.registry.get_sample_value(*get) == 3
    assert b.registry.get_sample_value(*get) == 1
    assert a.registry.get_sample_value("onescreen_frame_compute_seconds_count", {"screen": "wall"}) == 1
    assert b"onescreen_frame_compute_seconds_bucket" in a.exposition()
    assert b"process_cpu_seconds_total" in a.exposition()


def test_json_log_lines_carry_the_fields() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(json_formatter())
    logger = logging.getLogger("onescreen-test-json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("rejected message for incident %s: %s", "A-1", "bad", extra={"incident_id": "A-1"})
    finally:
        logger.removeHandler(handler)
    record = json.loads(out.getvalue())
    assert record["incident_id"] == "A-1" and record["level"] == "WARNING" and record["logger"] == "onescreen-test-json"
    assert record["message"] == "rejected message for incident A-1: bad" and record["time"]
